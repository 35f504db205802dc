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

    /// A watch resumed from a revision this replica no longer keeps, or never issued (another
    /// replica's, or one from before a restart): the client must list again.
    #[error(
        "revision {revision} cannot be resumed on this replica ({detail}): watch again without a revision"
    )]
    RevisionExpired {
        /// The revision sent.
        revision: String,
        /// Why: older than the history kept, or not this replica's.
        detail: String,
    },

    /// A waited-for instance reached a state from which the wait's target cannot be reached.
    #[error("instance {instance_id} is {state}: it can no longer become {target}")]
    WaitTargetUnreachable {
        /// The instance.
        instance_id: String,
        /// Its state.
        state: String,
        /// What the wait waited for.
        target: String,
    },

    /// The caller's deadline passed before the waited-for instances were all there.
    #[error("{not_ready} of the selected instances are not {target} by the deadline")]
    WaitDeadlineExceeded {
        /// How many were not at the target.
        not_ready: usize,
        /// What the wait waited for.
        target: String,
    },

    /// A read from the view needs it fresher than it is (EC2 unreachable or throttled, say).
    #[error("the instance view is {age:?} old, older than max_staleness {max:?}")]
    ViewStale {
        /// How old the view is.
        age: std::time::Duration,
        /// How old the caller accepts.
        max: std::time::Duration,
    },

    /// A watch or wait was open when the replica began shutting down.
    #[error(
        "this replica is shutting down: watch or wait again (on another replica, a watch lists again)"
    )]
    ShuttingDown,

    /// With `--audit-required`, a change refused because its audit event cannot be written.
    #[error(
        "the audit trail cannot be written, and this gateway requires it for changes: nothing was done"
    )]
    AuditUnavailable,

    /// An RPC served from the instance view while the inventory is off.
    #[error(
        "the instance inventory is off for this target (--inventory-resync-seconds 0, or `inventory = false` in the accounts file)"
    )]
    InventoryOff,

    /// The caller's roles do not grant the account or region the call names.
    #[error("{principal} may not reach account {account} in {region}: its roles grant {granted}")]
    TargetNotGranted {
        /// Who called.
        principal: String,
        /// The account named (its alias).
        account: String,
        /// The region named.
        region: String,
        /// What the roles grant, for the message.
        granted: String,
    },

    /// STS did not let the gateway assume the target account's role.
    #[error("cannot assume {role_arn} for account {account}: {}{message}", code.as_ref().map(|c| format!("STS {c}: ")).unwrap_or_default())]
    AssumeRoleFailed {
        /// The account (its alias).
        account: String,
        /// The role that could not be assumed.
        role_arn: String,
        /// STS's error code, when STS answered.
        code: Option<String>,
        /// STS's message, or why STS was not reached.
        message: String,
        /// STS's request id, for CloudTrail and support cases.
        request_id: Option<String>,
        /// True when retrying later can help (STS throttled, failed or was not reached);
        /// false when STS refused (the trust policy, the external id).
        unavailable: bool,
    },

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

/// Every `ErrorInfo.reason` the service sends: the contract's closed set
/// (`proto/ec2/v1/error_reason.proto`, which documents each), with its gRPC code and whether
/// retrying later can help (the README's error table).
pub use crate::pb::ErrorReason as Reason;

impl Reason {
    /// The reason as `ErrorInfo.reason` spells it: the contract's name without its prefix.
    pub fn as_str(self) -> &'static str {
        let name = self.as_str_name();
        name.strip_prefix("ERROR_REASON_").unwrap_or(name)
    }

    /// The gRPC code answered for this reason.
    pub fn code(self) -> Code {
        match self {
            Reason::InvalidRequest | Reason::Ec2InvalidParameter => Code::InvalidArgument,
            Reason::Ec2UnauthorizedOperation
            | Reason::MissingPermission
            | Reason::OutOfScope
            | Reason::TargetNotGranted
            | Reason::AssumeRoleFailed
            // AuthFailure means EC2 rejected the gateway's own AWS credentials, not the
            // caller's: UNAUTHENTICATED would tell the caller to fix credentials it does not
            // hold.
            | Reason::Ec2AuthFailure => Code::PermissionDenied,
            Reason::Ec2Throttled
            | Reason::Ec2Unavailable
            | Reason::Ec2Unreachable
            | Reason::Ec2BudgetExhausted
            | Reason::Overloaded => Code::Unavailable,
            Reason::Ec2IdempotentParameterMismatch => Code::AlreadyExists,
            Reason::Ec2IncorrectState | Reason::Ec2Error => Code::FailedPrecondition,
            Reason::Ec2InsufficientCapacity | Reason::CallerQuotaExceeded => {
                Code::ResourceExhausted
            }
            Reason::Ec2NotFound => Code::NotFound,
            Reason::Ec2Timeout => Code::DeadlineExceeded,
            Reason::Unauthenticated => Code::Unauthenticated,
            Reason::Ec2UnreadableResponse | Reason::Internal | Reason::Unspecified => {
                Code::Internal
            }
            // As etcd answers a watch from a compacted revision.
            Reason::RevisionExpired => Code::OutOfRange,
            Reason::WaitTargetUnreachable | Reason::InventoryOff => Code::FailedPrecondition,
            Reason::WaitDeadlineExceeded => Code::DeadlineExceeded,
            Reason::ViewStale | Reason::ShuttingDown | Reason::AuditUnavailable => {
                Code::Unavailable
            }
        }
    }

    /// Whether retrying the same call later can succeed.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Reason::Ec2Throttled
                | Reason::Ec2InsufficientCapacity
                | Reason::Ec2Unavailable
                | Reason::Ec2Timeout
                | Reason::Ec2Unreachable
                | Reason::Ec2BudgetExhausted
                | Reason::CallerQuotaExceeded
                | Reason::Overloaded
                | Reason::ViewStale
                | Reason::ShuttingDown
                | Reason::AuditUnavailable
        )
    }

    /// The reason of an EC2 error code: the single EC2-error-code mapping. Unknown codes fall
    /// back on the HTTP status class.
    pub fn of_ec2_code(code: &str, http_status: Option<u16>) -> Reason {
        match code {
            "UnauthorizedOperation" => Reason::Ec2UnauthorizedOperation,
            "AuthFailure" => Reason::Ec2AuthFailure,
            "RequestLimitExceeded" | "Throttling" | "ThrottlingException" => Reason::Ec2Throttled,
            "IdempotentParameterMismatch" => Reason::Ec2IdempotentParameterMismatch,
            // An attached interface cannot be deleted: a state, not a bad parameter.
            "IncorrectInstanceState" | "IncorrectState" | "InvalidNetworkInterface.InUse" => {
                Reason::Ec2IncorrectState
            }
            "InsufficientInstanceCapacity"
            | "InsufficientCapacity"
            | "InsufficientHostCapacity"
            | "InsufficientReservedInstanceCapacity"
            | "InstanceLimitExceeded"
            | "VcpuLimitExceeded"
            | "MaxSpotInstanceCountExceeded" => Reason::Ec2InsufficientCapacity,
            "InternalError" | "InternalFailure" | "ServiceUnavailable" | "Unavailable" => {
                Reason::Ec2Unavailable
            }
            "InvalidParameterValue"
            | "InvalidParameterCombination"
            | "InvalidParameter"
            | "MissingParameter"
            | "UnknownParameter"
            | "InvalidFilter"
            | "ValidationError" => Reason::Ec2InvalidParameter,
            _ if code.ends_with(".NotFound") => Reason::Ec2NotFound,
            _ if code.ends_with(".Malformed") || code.starts_with("Invalid") => {
                Reason::Ec2InvalidParameter
            }
            _ if http_status.is_some_and(|s| s >= 500) => Reason::Ec2Unavailable,
            _ => Reason::Ec2Error,
        }
    }
}

impl Error {
    /// Why the call failed, as `ErrorInfo.reason` says it.
    pub fn reason(&self) -> Reason {
        match self {
            Error::InvalidArgument(_) => Reason::InvalidRequest,
            Error::Ec2 {
                code, http_status, ..
            } => Reason::of_ec2_code(code, *http_status),
            Error::Timeout(_) => Reason::Ec2Timeout,
            Error::Unreachable(_) => Reason::Ec2Unreachable,
            Error::UnreadableResponse { .. } => Reason::Ec2UnreadableResponse,
            Error::BudgetExhausted { .. } => Reason::Ec2BudgetExhausted,
            Error::CallerQuotaExceeded { .. } => Reason::CallerQuotaExceeded,
            Error::Overloaded => Reason::Overloaded,
            Error::Unauthenticated => Reason::Unauthenticated,
            Error::PermissionDenied { .. } => Reason::MissingPermission,
            Error::OutOfScope { .. } => Reason::OutOfScope,
            Error::RevisionExpired { .. } => Reason::RevisionExpired,
            Error::WaitTargetUnreachable { .. } => Reason::WaitTargetUnreachable,
            Error::WaitDeadlineExceeded { .. } => Reason::WaitDeadlineExceeded,
            Error::ViewStale { .. } => Reason::ViewStale,
            Error::InventoryOff => Reason::InventoryOff,
            Error::ShuttingDown => Reason::ShuttingDown,
            Error::AuditUnavailable => Reason::AuditUnavailable,
            Error::TargetNotGranted { .. } => Reason::TargetNotGranted,
            Error::AssumeRoleFailed { .. } => Reason::AssumeRoleFailed,
            Error::Internal(_) => Reason::Internal,
        }
    }

    /// The unreadable answer's HTTP status, when it was a server error (5xx).
    fn unreadable_5xx(&self) -> bool {
        matches!(self, Error::UnreadableResponse { http_status: Some(s), .. } if *s >= 500)
    }

    /// The gRPC code answered: the reason's, except that an unreadable server error (5xx) is
    /// UNAVAILABLE (EC2, or something in front of it, is in trouble; retrying can help), and
    /// so is an AssumeRole that STS did not refuse (throttled, failed, not reached).
    pub fn code(&self) -> Code {
        if self.unreadable_5xx() || self.sts_unavailable() {
            return Code::Unavailable;
        }
        self.reason().code()
    }

    /// Whether this is an AssumeRole that failed for a reason retrying can help with.
    fn sts_unavailable(&self) -> bool {
        matches!(
            self,
            Error::AssumeRoleFailed {
                unavailable: true,
                ..
            }
        )
    }

    /// When the caller should retry, if retrying later can help: the budget's and the quota's
    /// own delay, else `RETRY_AFTER` for retryable reasons.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::BudgetExhausted { retry_after, .. }
            | Error::CallerQuotaExceeded { retry_after } => Some(*retry_after),
            _ if self.unreadable_5xx() || self.sts_unavailable() || self.reason().retryable() => {
                Some(RETRY_AFTER)
            }
            _ => None,
        }
    }

    /// `ErrorInfo.metadata`: what the caller needs to act on the error (EC2's code and
    /// request id, the action, the permission, the scope).
    pub fn metadata(&self) -> HashMap<String, String> {
        let mut metadata = HashMap::new();
        match self {
            Error::Ec2 {
                code, request_id, ..
            } => {
                metadata.insert("aws_code".to_owned(), code.clone());
                if let Some(id) = request_id {
                    metadata.insert("request_id".to_owned(), id.clone());
                }
            }
            Error::UnreadableResponse {
                http_status: Some(status),
                ..
            } => {
                metadata.insert("http_status".to_owned(), status.to_string());
            }
            Error::BudgetExhausted { action, .. } => {
                metadata.insert("action".to_owned(), action.clone());
            }
            Error::PermissionDenied { permission, .. } => {
                metadata.insert("permission".to_owned(), permission.clone());
            }
            Error::OutOfScope { tag, .. } => {
                metadata.insert("scope".to_owned(), tag.clone());
            }
            Error::RevisionExpired { revision, .. } => {
                metadata.insert("revision".to_owned(), revision.clone());
            }
            Error::TargetNotGranted {
                account, region, ..
            } => {
                metadata.insert("account".to_owned(), account.clone());
                metadata.insert("region".to_owned(), region.clone());
            }
            Error::AssumeRoleFailed {
                account,
                role_arn,
                code,
                request_id,
                ..
            } => {
                metadata.insert("account".to_owned(), account.clone());
                metadata.insert("role_arn".to_owned(), role_arn.clone());
                if let Some(code) = code {
                    metadata.insert("aws_code".to_owned(), code.clone());
                }
                if let Some(id) = request_id {
                    metadata.insert("request_id".to_owned(), id.clone());
                }
            }
            Error::WaitTargetUnreachable {
                instance_id, state, ..
            } => {
                metadata.insert("instance_id".to_owned(), instance_id.clone());
                metadata.insert("state".to_owned(), state.clone());
            }
            _ => {}
        }
        metadata
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Status {
        let mut details =
            ErrorDetails::with_error_info(err.reason().as_str(), ERROR_DOMAIN, err.metadata());
        if let Error::InvalidArgument(violations) = &err {
            details.set_bad_request(violations.clone());
        }
        if let Some(delay) = err.retry_after() {
            details.set_retry_info(Some(delay));
        }
        Status::with_error_details(err.code(), err.to_string(), details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_of_the_contract_is_sent_as_its_short_name_and_documented() {
        let readme = include_str!("../README.md");
        let mut n = 1;
        while let Ok(reason) = Reason::try_from(n) {
            let short = reason.as_str();
            assert!(!short.starts_with("ERROR_REASON_"), "{short}");
            assert_eq!(
                Reason::from_str_name(&format!("ERROR_REASON_{short}")),
                Some(reason)
            );
            assert!(
                readme.contains(&format!("`{short}`")),
                "README lacks {short}"
            );
            n += 1;
        }
        assert_eq!(Reason::Ec2Throttled.as_str(), "EC2_THROTTLED");
        assert!(n > 20, "the contract lists every reason");
    }

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
            (
                "InvalidNetworkInterface.InUse",
                400,
                Code::FailedPrecondition,
            ),
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

    #[test]
    fn the_unreadable_answer_of_a_client_error_is_internal_and_not_retried() {
        let error = Error::UnreadableResponse {
            http_status: Some(400),
            detail: "<html>".to_owned(),
        };
        assert_eq!(error.code(), Code::Internal);
        assert_eq!(error.retry_after(), None);
        assert_eq!(error.reason().as_str(), "EC2_UNREADABLE_RESPONSE");
    }
}
