// Retrying the calls the gateway says are worth retrying, after the delay it says.
//
// The gateway answers UNAVAILABLE (EC2 throttled, its EC2 budget is spent, it is overloaded) and
// RESOURCE_EXHAUSTED (the caller's quota) with `google.rpc.RetryInfo`. `callWithRetry` waits
// that long and tries again, up to `attempts` times; any other failure, or one without
// RetryInfo, is thrown at once as a GatewayError.

import { Code } from "@connectrpc/connect";
import { setTimeout as sleep } from "node:timers/promises";
import { GatewayError } from "./errors.js";

/** The codes the gateway sends RetryInfo with, for calls that did not happen. */
export const RETRYABLE: ReadonlySet<Code> = new Set([Code.Unavailable, Code.ResourceExhausted]);

/** How `callWithRetry` retries. */
export interface RetryOptions {
  /** Calls in all, the first included (default 5). */
  attempts?: number;
  /** The longest wait, in milliseconds, whatever RetryInfo says (default 20,000). */
  maxDelayMs?: number;
  /** Told of each retry before its wait. */
  onRetry?: (error: GatewayError, delayMs: number) => void;
}

/**
 * Calls `call()`; retries after RetryInfo's delay (plus up to 10 % jitter, at most `maxDelayMs`)
 * while the answer is UNAVAILABLE or RESOURCE_EXHAUSTED with RetryInfo. Throws a GatewayError
 * for the last failure, or for any failure that is not retryable.
 */
export async function callWithRetry<T>(call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 5;
  const maxDelayMs = options.maxDelayMs ?? 20_000;
  if (attempts < 1) {
    throw new RangeError("attempts must be at least 1");
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (thrown) {
      const error = GatewayError.from(thrown);
      if (attempt >= attempts || !RETRYABLE.has(error.code) || error.retryDelayMs === undefined) {
        throw error;
      }
      const delayMs = Math.min(error.retryDelayMs * (1 + Math.random() / 10), maxDelayMs);
      options.onRetry?.(error, delayMs);
      await sleep(delayMs);
    }
  }
}
