//! The one error type of the service and the single mapping from EC2 error codes to gRPC
//! status codes (the README's error table is this file in prose).
//!
//! Every status carries `google.rpc.ErrorInfo` (reason, domain, and metadata with the AWS error
//! code and request id); requests rejected before any EC2 call carry `google.rpc.BadRequest`
//! field violations; answers where retrying later helps carry `google.rpc.RetryInfo`.

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::operation::RequestId;
use std::collections::HashMap;
use std::time::Duration;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// `ErrorInfo.domain` of every error this service returns.
pub const ERROR_DOMAIN: &str = "ec2-grpc";

/// How long a caller should wait before retrying a throttled or unavailable EC2 call.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Everything that can go wrong in a call, before it becomes a `tonic::Status`. `Clone`, so
/// one coalesced EC2 answer can be handed to every caller that shared it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The request was rejected before any EC2 call; each violation names its field.
    #[error("invalid request: {}", describe_violations(.0))]
    InvalidArgument(Vec<FieldViolation>),

    /// EC2 answered with an error document.
    #[error("EC2 {code}: {message}")]
    Ec2 {
        /// The EC2 error code, for example `InvalidInstanceID.NotFound`.
        code: String,
        /// EC2's human-readable message.
        message: String,
        /// The AWS request id, for support cases and for matching CloudTrail entries.
        request_id: Option<String>,
        /// The HTTP status of EC2's answer.
        http_status: Option<u16>,
    },

    /// The EC2 call (all its attempts) did not finish in time.
    #[error("the EC2 call timed out: {0}")]
    Timeout(String),

    /// EC2 could not be reached (connection refused, reset, DNS, TLS).
    #[error("EC2 could not be reached: {0}")]
    Unreachable(String),

    /// EC2 answered something that is not an EC2 response (for example an HTML error page).
    #[error("EC2 answered something that is not an EC2 response (HTTP {http_status:?}): {detail}")]
    UnreadableResponse {
        /// The HTTP status of the answer, when there was one.
        http_status: Option<u16>,
        /// What went wrong reading it.
        detail: String,
    },

    /// The EC2 budget has no slot for this call before its deadline.
    #[error(
        "the EC2 budget for {action} has no room before this call's deadline; retry in {retry_after:?}"
    )]
    BudgetExhausted {
        /// The EC2 action.
        action: String,
        /// When the budget has a slot.
        retry_after: Duration,
    },

    /// The caller used up its own quota of calls.
    #[error("this caller's quota of calls is used up; retry in {retry_after:?}")]
    CallerQuotaExceeded {
        /// When the caller has a call again.
        retry_after: Duration,
    },

    /// No credentials, or credentials of no known principal (which, is not said).
    #[error("missing or invalid credentials")]
    Unauthenticated,

    /// The principal lacks the permission the call needs.
    #[error("{principal} lacks the permission {permission}")]
    PermissionDenied {
        /// Who called.
        principal: String,
        /// The permission the call needs (the RPC's name).
        permission: String,
    },

    /// A principal limited to resources with one tag reached for others (see `auth::scope`).
    #[error("{principal} may only reach resources tagged {tag}: {what}")]
    OutOfScope {
        /// Who called.
        principal: String,
        /// The scope's tag, `key=value`.
        tag: String,
        /// What reached outside it: the ids without the tag, or the field.
        what: String,
    },

    /// The service is at its concurrency limit.
    #[error("the service is at its concurrency limit; retry shortly or on another replica")]
    Overloaded,

    /// A bug or an impossible state inside the service.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// One field violation: the request was rejected because of `field`.
    pub fn invalid_field(field: &str, description: impl Into<String>) -> Self {
        Error::InvalidArgument(vec![FieldViolation::new(field, description)])
    }

    /// True when EC2 said `DryRunOperation`: the dry run found the call permitted, which the
    /// RPCs report as success.
    pub fn is_dry_run_success(&self) -> bool {
        matches!(self, Error::Ec2 { code, .. } if code == "DryRunOperation")
    }
}

fn describe_violations(violations: &[FieldViolation]) -> String {
    let parts: Vec<String> = violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect();
    parts.join("; ")
}

impl<E> From<SdkError<E, HttpResponse>> for Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn from(err: SdkError<E, HttpResponse>) -> Self {
        // The gateway's own HTTP layer (budget, deadline) fails attempts with an `Error`.
        if let Some(own) = own_error(&err) {
            return own;
        }
        let http_status = err.raw_response().map(|r| r.status().as_u16());
        match &err {
            SdkError::TimeoutError(_) => Error::Timeout(DisplayErrorContext(&err).to_string()),
            SdkError::DispatchFailure(failure) if failure.is_timeout() => {
                Error::Timeout(DisplayErrorContext(&err).to_string())
            }
            SdkError::DispatchFailure(failure) if failure.is_io() => {
                Error::Unreachable(DisplayErrorContext(&err).to_string())
            }
            SdkError::ConstructionFailure(_) | SdkError::DispatchFailure(_) => {
                Error::Internal(DisplayErrorContext(&err).to_string())
            }
            SdkError::ResponseError(_) => Error::UnreadableResponse {
                http_status,
                detail: DisplayErrorContext(&err).to_string(),
            },
            SdkError::ServiceError(_) => match err.code() {
                Some(code) => Error::Ec2 {
                    code: code.to_owned(),
                    message: err.message().unwrap_or_default().to_owned(),
                    request_id: err.request_id().map(str::to_owned),
                    http_status,
                },
                None => Error::UnreadableResponse {
                    http_status,
                    detail: DisplayErrorContext(&err).to_string(),
                },
            },
            _ => Error::Internal(DisplayErrorContext(&err).to_string()),
        }
    }
}

/// The gateway's own `Error` in the source chain of `err`, if one is there.
fn own_error(err: &(dyn std::error::Error + 'static)) -> Option<Error> {
    let mut source = err.source();
    while let Some(e) = source {
        if let Some(own) = e.downcast_ref::<Error>() {
            return Some(own.clone());
        }
        source = e.source();
    }
    None
}

/// The single EC2-error-code -> gRPC mapping: the code, the `ErrorInfo.reason`, and whether
/// retrying later can help. Unknown codes fall back on the HTTP status class.
fn classify_ec2_code(code: &str, http_status: Option<u16>) -> (Code, &'static str, bool) {
    match code {
        "UnauthorizedOperation" => (Code::PermissionDenied, "EC2_UNAUTHORIZED_OPERATION", false),
        // AuthFailure means EC2 rejected the gateway's own AWS credentials, not the caller's:
        // UNAUTHENTICATED would tell the caller to fix credentials it does not hold.
        "AuthFailure" => (Code::PermissionDenied, "EC2_AUTH_FAILURE", false),
        "RequestLimitExceeded" | "Throttling" | "ThrottlingException" => {
            (Code::Unavailable, "EC2_THROTTLED", true)
        }
        "IdempotentParameterMismatch" => (
            Code::AlreadyExists,
            "EC2_IDEMPOTENT_PARAMETER_MISMATCH",
            false,
        ),
        "IncorrectInstanceState" | "IncorrectState" => {
            (Code::FailedPrecondition, "EC2_INCORRECT_STATE", false)
        }
        "InsufficientInstanceCapacity"
        | "InsufficientCapacity"
        | "InsufficientHostCapacity"
        | "InsufficientReservedInstanceCapacity"
        | "InstanceLimitExceeded"
        | "VcpuLimitExceeded"
        | "MaxSpotInstanceCountExceeded" => {
            (Code::ResourceExhausted, "EC2_INSUFFICIENT_CAPACITY", true)
        }
        "InternalError" | "InternalFailure" | "ServiceUnavailable" | "Unavailable" => {
            (Code::Unavailable, "EC2_UNAVAILABLE", true)
        }
        "InvalidParameterValue"
        | "InvalidParameterCombination"
        | "InvalidParameter"
        | "MissingParameter"
        | "UnknownParameter"
        | "InvalidFilter"
        | "ValidationError" => (Code::InvalidArgument, "EC2_INVALID_PARAMETER", false),
        _ if code.ends_with(".NotFound") => (Code::NotFound, "EC2_NOT_FOUND", false),
        _ if code.ends_with(".Malformed") => {
            (Code::InvalidArgument, "EC2_INVALID_PARAMETER", false)
        }
        _ if code.starts_with("Invalid") => (Code::InvalidArgument, "EC2_INVALID_PARAMETER", false),
        _ => match http_status {
            Some(s) if s >= 500 => (Code::Unavailable, "EC2_UNAVAILABLE", true),
            _ => (Code::FailedPrecondition, "EC2_ERROR", false),
        },
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Status {
        let message = err.to_string();
        let mut metadata = HashMap::new();
        let (code, reason, retry) = match &err {
            Error::InvalidArgument(violations) => {
                let mut details = ErrorDetails::with_bad_request(violations.clone());
                details.set_error_info("INVALID_REQUEST", ERROR_DOMAIN, metadata);
                return Status::with_error_details(Code::InvalidArgument, message, details);
            }
            Error::Ec2 {
                code,
                request_id,
                http_status,
                ..
            } => {
                metadata.insert("aws_code".to_owned(), code.clone());
                if let Some(id) = request_id {
                    metadata.insert("request_id".to_owned(), id.clone());
                }
                classify_ec2_code(code, *http_status)
            }
            Error::Timeout(_) => (Code::DeadlineExceeded, "EC2_TIMEOUT", true),
            Error::Unreachable(_) => (Code::Unavailable, "EC2_UNREACHABLE", true),
            Error::UnreadableResponse { http_status, .. } => {
                if let Some(status) = http_status {
                    metadata.insert("http_status".to_owned(), status.to_string());
                }
                match http_status {
                    Some(s) if *s >= 500 => (Code::Unavailable, "EC2_UNREADABLE_RESPONSE", true),
                    _ => (Code::Internal, "EC2_UNREADABLE_RESPONSE", false),
                }
            }
            Error::BudgetExhausted {
                action,
                retry_after,
            } => {
                metadata.insert("action".to_owned(), action.clone());
                let mut details =
                    ErrorDetails::with_error_info("EC2_BUDGET_EXHAUSTED", ERROR_DOMAIN, metadata);
                details.set_retry_info(Some(*retry_after));
                return Status::with_error_details(Code::Unavailable, message, details);
            }
            Error::CallerQuotaExceeded { retry_after } => {
                let mut details =
                    ErrorDetails::with_error_info("CALLER_QUOTA_EXCEEDED", ERROR_DOMAIN, metadata);
                details.set_retry_info(Some(*retry_after));
                return Status::with_error_details(Code::ResourceExhausted, message, details);
            }
            Error::Overloaded => (Code::Unavailable, "OVERLOADED", true),
            Error::Unauthenticated => (Code::Unauthenticated, "UNAUTHENTICATED", false),
            Error::PermissionDenied { permission, .. } => {
                metadata.insert("permission".to_owned(), permission.clone());
                (Code::PermissionDenied, "MISSING_PERMISSION", false)
            }
            Error::OutOfScope { tag, .. } => {
                metadata.insert("scope".to_owned(), tag.clone());
                (Code::PermissionDenied, "OUT_OF_SCOPE", false)
            }
            Error::Internal(_) => (Code::Internal, "INTERNAL", false),
        };
        let mut details = ErrorDetails::with_error_info(reason, ERROR_DOMAIN, metadata);
        if retry {
            details.set_retry_info(Some(RETRY_AFTER));
        }
        Status::with_error_details(code, message, details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ec2(code: &str, http_status: u16) -> Status {
        Error::Ec2 {
            code: code.to_owned(),
            message: "m".to_owned(),
            request_id: Some("req-1".to_owned()),
            http_status: Some(http_status),
        }
        .into()
    }

    #[test]
    fn ec2_codes_map_to_the_documented_grpc_codes() {
        let cases = [
            ("InvalidInstanceID.NotFound", 400, Code::NotFound),
            ("InvalidNetworkInterfaceID.NotFound", 400, Code::NotFound),
            ("InvalidParameterValue", 400, Code::InvalidArgument),
            ("InvalidParameterCombination", 400, Code::InvalidArgument),
            ("MissingParameter", 400, Code::InvalidArgument),
            ("InvalidInstanceID.Malformed", 400, Code::InvalidArgument),
            ("UnauthorizedOperation", 403, Code::PermissionDenied),
            ("AuthFailure", 401, Code::PermissionDenied),
            ("RequestLimitExceeded", 503, Code::Unavailable),
            ("IdempotentParameterMismatch", 400, Code::AlreadyExists),
            ("IncorrectInstanceState", 400, Code::FailedPrecondition),
            ("InsufficientInstanceCapacity", 500, Code::ResourceExhausted),
            ("InternalError", 500, Code::Unavailable),
            ("SomethingNew", 503, Code::Unavailable),
            ("SomethingNew", 400, Code::FailedPrecondition),
        ];
        for (aws_code, http, expected) in cases {
            assert_eq!(ec2(aws_code, http).code(), expected, "{aws_code}");
        }
    }

    #[test]
    fn every_ec2_error_carries_error_info_with_the_aws_code_and_request_id() {
        let status = ec2("InvalidInstanceID.NotFound", 400);
        let info = status.get_details_error_info().expect("ErrorInfo");
        assert_eq!(info.reason, "EC2_NOT_FOUND");
        assert_eq!(info.domain, ERROR_DOMAIN);
        assert_eq!(info.metadata["aws_code"], "InvalidInstanceID.NotFound");
        assert_eq!(info.metadata["request_id"], "req-1");
        assert!(status.get_details_retry_info().is_none());
    }

    #[test]
    fn throttling_says_when_to_retry() {
        let status = ec2("RequestLimitExceeded", 503);
        let retry = status.get_details_retry_info().expect("RetryInfo");
        assert_eq!(retry.retry_delay, Some(RETRY_AFTER));
    }

    #[test]
    fn validation_failures_name_the_field() {
        let status: Status = Error::invalid_field("max_results", "must be 5..1000").into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let bad = status.get_details_bad_request().expect("BadRequest");
        assert_eq!(bad.field_violations[0].field, "max_results");
    }

    #[test]
    fn protection_refusals_say_when_to_come_back() {
        let budget: Status = Error::BudgetExhausted {
            action: "RunInstances".into(),
            retry_after: Duration::from_millis(1500),
        }
        .into();
        assert_eq!(budget.code(), Code::Unavailable);
        let retry = budget.get_details_retry_info().expect("RetryInfo");
        assert_eq!(retry.retry_delay, Some(Duration::from_millis(1500)));
        let quota: Status = Error::CallerQuotaExceeded {
            retry_after: Duration::from_millis(20),
        }
        .into();
        assert_eq!(quota.code(), Code::ResourceExhausted);
        assert!(quota.get_details_retry_info().is_some());
        assert_eq!(Status::from(Error::Overloaded).code(), Code::Unavailable);
    }

    #[test]
    fn an_unreadable_5xx_answer_is_unavailable_not_a_panic() {
        let status: Status = Error::UnreadableResponse {
            http_status: Some(500),
            detail: "<html>".to_owned(),
        }
        .into();
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(
            status.get_details_error_info().expect("ErrorInfo").metadata["http_status"],
            "500"
        );
    }
}
