// The gateway's rich errors as one typed error.
//
// Every error the gateway sends is a gRPC status with `google.rpc.ErrorInfo` (domain "ec2-grpc",
// a reason from `ec2.v1.ErrorReason`, metadata such as `aws_code` and `request_id`), and where
// it helps `google.rpc.BadRequest` (the fields a request got wrong) and `google.rpc.RetryInfo`
// (when to try again). `GatewayError.from` reads them off a failed call so callers compare
// `error.reason` with the generated enum rather than parsing strings.

import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorReason } from "./gen/ec2/v1/error_reason_pb.js";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  RetryInfoSchema,
} from "./gen/google/rpc/error_details_pb.js";

/** The `ErrorInfo.domain` of every error the gateway itself describes. */
export const DOMAIN = "ec2-grpc";

/** One field a request got wrong (`google.rpc.BadRequest.FieldViolation`). */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

/**
 * A failed call to the gateway, with the details the gateway attached to it. `reason` is
 * `ErrorReason.UNSPECIFIED` when the status carries no ErrorInfo from the gateway (a transport
 * failure before the gateway answered, for example).
 */
export class GatewayError extends Error {
  override readonly name = "GatewayError";

  constructor(
    /** The gRPC status code. */
    readonly code: Code,
    /** The status message, as the gateway wrote it. */
    readonly rawMessage: string,
    /** Why, as the contract's enum. */
    readonly reason: ErrorReason,
    /** ErrorInfo's metadata: `aws_code`, `request_id`, `permission`, `scope`, ... */
    readonly metadata: Readonly<Record<string, string>>,
    /** The fields a rejected request got wrong (INVALID_ARGUMENT). */
    readonly violations: readonly FieldViolation[],
    /** How long to wait before trying again, when the gateway says a retry may succeed. */
    readonly retryDelayMs: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(`${Code[code]}: ${rawMessage}`, options);
  }

  /** The reason as the gateway sent it in `ErrorInfo.reason` ("EC2_NOT_FOUND"). */
  get reasonName(): string {
    return ErrorReason[this.reason] ?? "UNSPECIFIED";
  }

  /** EC2's own error code ("InvalidInstanceID.NotFound"), when EC2 refused the call. */
  get awsCode(): string | undefined {
    return this.metadata["aws_code"];
  }

  /** EC2's request id, for AWS support, when EC2 answered. */
  get requestId(): string | undefined {
    return this.metadata["request_id"];
  }

  /** Reads anything a call threw (a ConnectError, or any other error) into a GatewayError. */
  static from(thrown: unknown): GatewayError {
    if (thrown instanceof GatewayError) {
      return thrown;
    }
    const error = ConnectError.from(thrown);
    let reason = ErrorReason.UNSPECIFIED;
    const metadata: Record<string, string> = {};
    for (const info of error.findDetails(ErrorInfoSchema)) {
      if (info.domain === DOMAIN) {
        reason = reasonOf(info.reason);
        Object.assign(metadata, info.metadata);
      }
    }
    const violations = error
      .findDetails(BadRequestSchema)
      .flatMap((bad) => bad.fieldViolations)
      .map(({ field, description }) => ({ field, description }));
    const [retry] = error.findDetails(RetryInfoSchema);
    const delay = retry?.retryDelay;
    const retryDelayMs =
      delay === undefined ? undefined : Number(delay.seconds) * 1000 + delay.nanos / 1e6;
    return new GatewayError(error.code, error.rawMessage, reason, metadata, violations, retryDelayMs, {
      cause: thrown,
    });
  }
}

/**
 * The enum value of a sent reason (protoc-gen-es drops the values' `ERROR_REASON_` prefix, so
 * the names are what the gateway sends); UNSPECIFIED for one this kit does not know yet.
 */
function reasonOf(name: string): ErrorReason {
  const value = (ErrorReason as unknown as Record<string, ErrorReason | undefined>)[name];
  return value ?? ErrorReason.UNSPECIFIED;
}
