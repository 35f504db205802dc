"""The gateway's rich errors as one typed exception.

Every error the gateway sends is a gRPC status with `google.rpc.ErrorInfo` (domain "ec2-grpc",
a reason from `ec2.v1.ErrorReason`, metadata such as `aws_code` and `request_id`), and where
it helps `google.rpc.BadRequest` (the fields a request got wrong) and `google.rpc.RetryInfo`
(when to try again). `GatewayError.of` reads them off a failed call so callers compare
`error.reason` with the generated constants rather than parsing strings.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
# googleapis-common-protos ships no type stubs; what is read from these messages is converted
# to typed values below.
from google.rpc import error_details_pb2  # type: ignore[import-untyped]
from grpc_status import rpc_status

from ec2.v1 import error_reason_pb2

#: The `ErrorInfo.domain` of every error the gateway itself describes.
DOMAIN = "ec2-grpc"
_PREFIX = "ERROR_REASON_"


@dataclasses.dataclass(frozen=True)
class FieldViolation:
    """One field a request got wrong (`google.rpc.BadRequest.FieldViolation`)."""

    field: str
    description: str


class GatewayError(Exception):
    """A failed call to the gateway, with the details the gateway attached to it.

    `reason` is `ERROR_REASON_UNSPECIFIED` when the status carries no ErrorInfo from the gateway
    (a transport failure before the gateway answered, for example).
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        reason: error_reason_pb2.ErrorReason.ValueType,
        metadata: Mapping[str, str],
        violations: Sequence[FieldViolation],
        retry_delay: datetime.timedelta | None,
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.reason = reason
        self.metadata = dict(metadata)
        self.violations = list(violations)
        self.retry_delay = retry_delay

    @property
    def reason_name(self) -> str:
        """The reason as the gateway sent it in `ErrorInfo.reason` ("EC2_NOT_FOUND")."""
        return str(error_reason_pb2.ErrorReason.Name(self.reason)).removeprefix(_PREFIX)

    @property
    def aws_code(self) -> str | None:
        """EC2's own error code ("InvalidInstanceID.NotFound"), when EC2 refused the call."""
        return self.metadata.get("aws_code")

    @property
    def request_id(self) -> str | None:
        """EC2's request id, for AWS support, when EC2 answered."""
        return self.metadata.get("request_id")

    @property
    def retryable(self) -> bool:
        """Whether trying the same call again later may succeed (the gateway sent RetryInfo)."""
        return self.retry_delay is not None

    @classmethod
    def of(cls, error: grpc.RpcError) -> GatewayError:
        """Reads a failed call (what a stub raised) into a GatewayError."""
        call = error if isinstance(error, grpc.Call) else None
        code = call.code() if call is not None else grpc.StatusCode.UNKNOWN
        message = (call.details() or "") if call is not None else str(error)
        status = rpc_status.from_call(call) if call is not None else None
        return cls.from_status(code, message, status)

    @classmethod
    def from_status(
        cls, code: grpc.StatusCode, message: str, status: Any
    ) -> GatewayError:
        """Builds the error from a `google.rpc.Status` (None when the call had no details)."""
        reason: error_reason_pb2.ErrorReason.ValueType = error_reason_pb2.ERROR_REASON_UNSPECIFIED
        metadata: dict[str, str] = {}
        violations: list[FieldViolation] = []
        retry_delay: datetime.timedelta | None = None
        for detail in status.details if status is not None else []:
            info = error_details_pb2.ErrorInfo()
            bad_request = error_details_pb2.BadRequest()
            retry = error_details_pb2.RetryInfo()
            if detail.Unpack(info) and info.domain == DOMAIN:
                reason = _reason(str(info.reason))
                metadata.update((str(k), str(v)) for k, v in info.metadata.items())
            elif detail.Unpack(bad_request):
                violations.extend(
                    FieldViolation(str(v.field), str(v.description))
                    for v in bad_request.field_violations
                )
            elif detail.Unpack(retry):
                retry_delay = datetime.timedelta(
                    seconds=int(retry.retry_delay.seconds),
                    microseconds=int(retry.retry_delay.nanos) // 1000,
                )
        return cls(code, message, reason, metadata, violations, retry_delay)


def _reason(name: str) -> error_reason_pb2.ErrorReason.ValueType:
    """The enum value of a sent reason; UNSPECIFIED for one this kit does not know yet."""
    try:
        return error_reason_pb2.ErrorReason.Value(_PREFIX + name)
    except ValueError:
        return error_reason_pb2.ERROR_REASON_UNSPECIFIED
