"""Retrying the calls the gateway says are worth retrying, after the delay it says.

The gateway answers UNAVAILABLE (EC2 throttled, its EC2 budget is spent, it is overloaded) and
RESOURCE_EXHAUSTED (the caller's quota) with `google.rpc.RetryInfo`. `call_with_retry` waits
that long and tries again, up to `attempts` times; any other failure, or one without RetryInfo,
is raised at once as a GatewayError.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

import grpc

from ec2_grpc.errors import GatewayError

T = TypeVar("T")

#: The codes the gateway sends RetryInfo with, for calls that did not happen.
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})


def call_with_retry(
    call: Callable[[], T],
    *,
    attempts: int = 5,
    max_delay: float = 20.0,
    on_retry: Callable[[GatewayError, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Calls `call()`; retries after RetryInfo's delay (plus up to 10 % jitter, at most
    `max_delay` seconds) while the answer is UNAVAILABLE or RESOURCE_EXHAUSTED with RetryInfo.

    `on_retry(error, seconds)` is told of each retry before the wait. Raises GatewayError for
    the last failure, or for any failure that is not retryable.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except grpc.RpcError as raw:
            error = GatewayError.of(raw)
            if attempt == attempts or error.code not in RETRYABLE or error.retry_delay is None:
                raise error from raw
            seconds = min(error.retry_delay.total_seconds() * (1 + random.random() / 10), max_delay)
            if on_retry is not None:
                on_retry(error, seconds)
            sleep(seconds)
    raise AssertionError("unreachable: the last attempt returns or raises")
