//! The audit event, one JSON line per call: shaped after CloudTrail's record (eventTime,
//! userIdentity, eventName, awsRegion, sourceIPAddress, userAgent, errorCode,
//! requestParameters, requestID, resources, recipientAccountId) and Kubernetes' audit event
//! (auditID, level, user, sourceIPs, responseStatus). Each EC2 call carries AWS's request id:
//! CloudTrail's record of that call has the same `requestID`, which is the join.

use serde::Serialize;

/// One audited call.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The event's id (also in the call's response metadata, `ec2-audit-id`).
    pub audit_id: String,
    /// `metadata` or `request`.
    pub level: &'static str,
    /// `complete`: the call's event, written when it ends; `step`: one step of a streamed
    /// change (a batch of an instance action, one deletion of a cleanup), written when it is
    /// done, with the call's audit id.
    pub stage: &'static str,
    /// The step's number (1, 2, ...), for `step` events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<i64>,
    /// When the call arrived (RFC 3339, UTC).
    pub received_at: String,
    /// When it ended.
    pub completed_at: String,
    /// The RPC, `RunInstances`.
    pub rpc: String,
    /// Who called, and how they authenticated.
    pub identity: Identity,
    /// The caller's address.
    #[serde(rename = "sourceIPAddress")]
    pub source_ip: String,
    /// The caller's `user-agent`.
    pub user_agent: String,
    /// The W3C trace id of the call (joins the gateway's traces).
    pub trace_id: String,
    /// The account and region the call reached (absent: refused before its target).
    pub target: Option<Target>,
    /// Every EC2 call it made, with AWS's request id: CloudTrail's `requestID`.
    pub ec2_calls: Vec<Ec2Call>,
    /// EC2 calls beyond the 10,000 listed.
    #[serde(skip_serializing_if = "is_zero")]
    pub more_ec2_calls: usize,
    /// The resources it acted on (the ids a selection resolved to included).
    pub resources: Vec<String>,
    /// Resources beyond the 10,000 listed.
    #[serde(skip_serializing_if = "is_zero")]
    pub more_resources: usize,
    /// How it ended.
    pub outcome: Outcome,
    /// A permission check only (DryRun).
    pub dry_run: bool,
    /// The request's parameters (`request` level; `userData` never written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<serde_json::Value>,
    /// The request still encoded: the writer thread reads `dry_run` and, at `request` level,
    /// the parameters from it, so the call does not pay for decoding it.
    #[serde(skip)]
    pub encoded_request: Option<EncodedRequest>,
}

/// A call's request as the call noted it.
#[derive(Debug, Clone)]
pub struct EncodedRequest {
    /// The RPC (`RunInstances`): its request message is `ec2.v1.<rpc>Request`.
    pub rpc: String,
    /// The protobuf bytes.
    pub bytes: Vec<u8>,
    /// Whether the parameters are written (`request` level).
    pub parameters: bool,
}

impl Event {
    /// Reads the encoded request (in the writer thread): `dry_run`, and the parameters when
    /// the level writes them.
    pub fn decode_request(&mut self) {
        if let Some(encoded) = self.encoded_request.take() {
            let request = super::params::request(&encoded.rpc, &encoded.bytes);
            self.dry_run = request
                .as_ref()
                .and_then(|r| r.get("dryRun"))
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false);
            self.request = request.filter(|_| encoded.parameters);
        }
    }
}

/// Who called.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// The principal (empty: not authenticated, or no authentication configured).
    pub principal: String,
    /// `token`, `jwt`, `mtls`, or `none`.
    pub method: String,
    /// The JWT's issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The JWT's subject, or the client certificate's identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// The account and region a call reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    /// The account's id, or its alias when the id is unknown.
    pub account: String,
    /// The region.
    pub region: String,
    /// The `SourceIdentity` of the caller's own session there (the account's
    /// `source_identity`): CloudTrail's `userIdentity.sessionContext.sourceIdentity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
}

/// One EC2 HTTP attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ec2Call {
    /// The EC2 action.
    pub action: String,
    /// AWS's request id (`x-amzn-requestid`): CloudTrail's `requestID`.
    #[serde(rename = "requestID")]
    pub request_id: String,
    /// The HTTP status of EC2's answer.
    pub http_status: u16,
}

/// How a call ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// The gRPC code, `OK`, `PERMISSION_DENIED`, ...
    pub code: String,
    /// `ErrorInfo.reason` (the contract's `ErrorReason`), when it failed.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// EC2's error code, when EC2 refused.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub aws_code: String,
    /// The status message, when it failed.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
