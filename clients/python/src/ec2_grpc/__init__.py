"""Python client kit for the ec2-grpc gateway.

The generated contract is in `ec2.v1` (messages in `ec2.v1.*_pb2`, the stub in
`ec2.v1.ec2_service_pb2_grpc`); this package adds what every caller needs around it: a channel
with the caller's token, `GatewayError` for the gateway's rich errors, and `call_with_retry`
for the calls the gateway asks to be retried.
"""

from ec2_grpc.channel import connect
from ec2_grpc.errors import DOMAIN, FieldViolation, GatewayError
from ec2_grpc.retry import RETRYABLE, call_with_retry
from ec2.v1.ec2_service_pb2_grpc import Ec2ServiceStub
from ec2.v1.error_reason_pb2 import ErrorReason

__all__ = [
    "DOMAIN",
    "RETRYABLE",
    "Ec2ServiceStub",
    "ErrorReason",
    "FieldViolation",
    "GatewayError",
    "call_with_retry",
    "connect",
]
