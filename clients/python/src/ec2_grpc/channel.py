"""A channel to the gateway, with the caller's bearer token on every call when it has one."""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc

from ec2.v1.ec2_service_pb2_grpc import Ec2ServiceStub


def connect(
    target: str,
    *,
    token: str | None = None,
    credentials: grpc.ChannelCredentials | None = None,
) -> tuple[grpc.Channel, Ec2ServiceStub]:
    """Opens a channel to `target` ("host:port") and answers it with an Ec2Service stub.

    With `credentials` (TLS, mTLS) the token rides as call credentials. Without, the channel is
    plaintext (loopback, a sidecar) and the token is added as `authorization: Bearer ...`
    metadata, since gRPC sends call credentials over TLS only. Close the channel when done.
    """
    if credentials is not None:
        if token is not None:
            credentials = grpc.composite_channel_credentials(
                credentials, grpc.access_token_call_credentials(token)
            )
        channel = grpc.secure_channel(target, credentials)
    else:
        channel = grpc.insecure_channel(target)
        if token is not None:
            channel = grpc.intercept_channel(channel, _Bearer(token))
    return channel, Ec2ServiceStub(channel)


class _CallDetails(
    collections.namedtuple(
        "_CallDetails",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,
):
    """The call's details with the token added (grpc's own type cannot be constructed)."""


if TYPE_CHECKING:  # generic in grpc-stubs only
    _UnaryUnary = grpc.UnaryUnaryClientInterceptor[Any, Any]
    _UnaryStream = grpc.UnaryStreamClientInterceptor[Any, Any]
else:
    _UnaryUnary = grpc.UnaryUnaryClientInterceptor
    _UnaryStream = grpc.UnaryStreamClientInterceptor


class _Bearer(_UnaryUnary, _UnaryStream):
    """Adds `authorization: Bearer <token>` to the metadata of every call on the channel."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def _with_token(self, details: grpc.ClientCallDetails) -> _CallDetails:
        return _CallDetails(
            details.method,
            details.timeout,
            [*(details.metadata or []), self._header],
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(
        self, continuation: Callable[[grpc.ClientCallDetails, Any], Any],
        details: grpc.ClientCallDetails, request: Any,
    ) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(
        self, continuation: Callable[[grpc.ClientCallDetails, Any], Any],
        details: grpc.ClientCallDetails, request: Any,
    ) -> Any:
        return continuation(self._with_token(details), request)
