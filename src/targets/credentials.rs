//! Credentials for an account reached through a role: aws-config's `AssumeRoleProvider` (a
//! chain of them for a chain of roles), on the gateway's own credentials and its regional STS
//! endpoint, wrapped so that a refusal becomes the gateway's `AssumeRoleFailed` (STS's code
//! and request id, the role) and every AssumeRole is counted and logged.
//!
//! The provider does not cache: the SDK clients' shared identity cache does, one partition
//! per provider, so the regions of one account share one session and one AssumeRole per
//! session, refreshed before it expires (`IDENTITY_BUFFER`). A refusal is held for a few
//! seconds (`FAILURE_HOLD`), so a refused role is not asked for again on every call.

use super::accounts::Account;
use crate::error::Error;
use crate::telemetry::metrics::instruments;
use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider, future};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::operation::RequestId;
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use opentelemetry::KeyValue;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// How long before an assumed session expires the identity cache assumes the role again, so
/// no call is signed with credentials about to lapse (the cache jitters it by up to half: it
/// renews 2.5 to 5 minutes before the end).
pub const IDENTITY_BUFFER: Duration = Duration::from_secs(5 * 60);

/// The credentials of `account`'s role (chain), assumed with `base`'s credentials at `base`'s
/// STS endpoint. The external id and session length apply to the last role of a chain (the
/// account's own); every hop gets the session name. With `source_identity`, the first hop
/// sets it as the session's `SourceIdentity`, which STS carries through the rest of the
/// chain (see `caller_sessions`).
pub async fn assumed_role(
    base: &SdkConfig,
    account: &Account,
    source_identity: Option<&str>,
) -> SharedCredentialsProvider {
    let last = account.roles.len().saturating_sub(1);
    let mut chain: Option<SharedCredentialsProvider> = None;
    for (hop, arn) in account.roles.iter().enumerate() {
        let hop = Hop {
            role_arn: arn.clone(),
            session_name: account.session_name.clone(),
            external_id: account.external_id.clone().filter(|_| hop == last),
            session_length: account.session_length.filter(|_| hop == last),
        };
        chain = Some(match (chain, source_identity) {
            (None, Some(identity)) => SharedCredentialsProvider::new(SourcedRole {
                sts: aws_sdk_sts::Client::new(base),
                hop,
                source_identity: identity.to_owned(),
            }),
            (None, None) => {
                SharedCredentialsProvider::new(hop.provider().configure(base).build().await)
            }
            (Some(previous), _) => SharedCredentialsProvider::new(
                hop.provider()
                    .configure(base)
                    .build_from_provider(previous)
                    .await,
            ),
        });
    }
    let inner = chain.expect("an account reached through a role has at least one");
    SharedCredentialsProvider::new(AssumedRole {
        inner,
        account: account.alias.clone(),
        role_arn: account.roles[last].clone(),
        failed: Mutex::new(None),
    })
}

/// One role of a chain, as it is assumed.
#[derive(Debug, Clone)]
struct Hop {
    role_arn: String,
    session_name: String,
    external_id: Option<String>,
    session_length: Option<Duration>,
}

impl Hop {
    /// aws-config's provider of this hop (not yet configured).
    fn provider(&self) -> aws_config::sts::AssumeRoleProviderBuilder {
        let mut builder =
            AssumeRoleProvider::builder(&self.role_arn).session_name(&self.session_name);
        if let Some(external_id) = &self.external_id {
            builder = builder.external_id(external_id);
        }
        if let Some(length) = self.session_length {
            builder = builder.session_length(length);
        }
        builder
    }
}

/// A first hop that sets `SourceIdentity`: aws-config's `AssumeRoleProvider` has no such
/// setting, so this calls STS's AssumeRole itself (the rest as the provider does).
#[derive(Debug)]
struct SourcedRole {
    sts: aws_sdk_sts::Client,
    hop: Hop,
    source_identity: String,
}

impl SourcedRole {
    async fn assume(&self) -> provider::Result {
        let seconds = self
            .hop
            .session_length
            .map(|d| i32::try_from(d.as_secs()).unwrap_or(i32::MAX));
        let assumed = self
            .sts
            .assume_role()
            .role_arn(&self.hop.role_arn)
            .role_session_name(&self.hop.session_name)
            .source_identity(&self.source_identity)
            .set_external_id(self.hop.external_id.clone())
            .set_duration_seconds(seconds)
            .send()
            .await
            .map_err(CredentialsError::provider_error)?;
        let sts = assumed
            .credentials
            .ok_or_else(|| CredentialsError::unhandled("STS answered no credentials"))?;
        let expiry = std::time::SystemTime::try_from(sts.expiration)
            .map_err(|_| CredentialsError::unhandled("STS answered an expiry out of range"))?;
        Ok(aws_credential_types::Credentials::new(
            sts.access_key_id,
            sts.secret_access_key,
            Some(sts.session_token),
            Some(expiry),
            "ec2-grpc-source-identity",
        ))
    }
}

impl ProvideCredentials for SourcedRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.assume())
    }
}

/// How long an AssumeRole that STS refused is answered from memory: the calls to an account
/// whose role STS refuses fail at once instead of each asking STS again (which would spend
/// the home account's STS rate one call at a time until the trust policy is fixed).
pub const FAILURE_HOLD: Duration = Duration::from_secs(10);

/// An account's role, assumed: errors and counts in the gateway's terms.
#[derive(Debug)]
struct AssumedRole {
    inner: SharedCredentialsProvider,
    account: String,
    role_arn: String,
    /// The last failure, and when it happened (see `FAILURE_HOLD`).
    failed: Mutex<Option<(Instant, Error)>>,
}

impl AssumedRole {
    async fn assume(&self) -> provider::Result {
        let held = self.failed.lock().expect("failure lock").clone();
        if let Some((at, failed)) = held
            && at.elapsed() < FAILURE_HOLD
        {
            return Err(CredentialsError::provider_error(failed));
        }
        let assumed = self.inner.provide_credentials().await;
        let outcome = if assumed.is_ok() { "ok" } else { "error" };
        instruments().sts_assume_role.add(
            1,
            &[
                KeyValue::new("cloud.account.alias", self.account.clone()),
                KeyValue::new("outcome", outcome),
            ],
        );
        let mut held = self.failed.lock().expect("failure lock");
        match assumed {
            Ok(credentials) => {
                *held = None;
                Ok(credentials)
            }
            Err(e) => {
                let failed = failure(&self.account, &self.role_arn, &e);
                tracing::warn!(account = %self.account, role = %self.role_arn, "{failed}");
                // A refusal stands until the trust policy changes; a throttle or an unreachable
                // STS is tried again on the next call.
                let refused = matches!(
                    failed,
                    Error::AssumeRoleFailed {
                        unavailable: false,
                        ..
                    }
                );
                *held = refused.then(|| (Instant::now(), failed.clone()));
                Err(CredentialsError::provider_error(failed))
            }
        }
    }
}

impl ProvideCredentials for AssumedRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.assume())
    }
}

/// The gateway's error for a failed AssumeRole: STS's answer (the deepest in the chain, so a
/// chain names the hop that failed) when there is one, else why STS was not reached.
fn failure(account: &str, role_arn: &str, e: &CredentialsError) -> Error {
    let mut refused: Option<&SdkError<AssumeRoleError>> = None;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(sdk) = err.downcast_ref::<SdkError<AssumeRoleError>>() {
            refused = Some(sdk);
        }
        source = err.source();
    }
    let detail = aws_sdk_sts::error::DisplayErrorContext(e).to_string();
    match refused {
        Some(SdkError::ServiceError(context)) => {
            let status = context.raw().status().as_u16();
            let code = refused.and_then(|r| r.code()).map(str::to_owned);
            let throttled = code.as_deref().is_some_and(|c| c.starts_with("Throttl"));
            Error::AssumeRoleFailed {
                account: account.to_owned(),
                role_arn: role_arn.to_owned(),
                message: refused
                    .and_then(|r| r.message())
                    .unwrap_or(&detail)
                    .to_owned(),
                request_id: refused.and_then(|r| r.request_id()).map(str::to_owned),
                code,
                unavailable: throttled || status >= 500,
            }
        }
        // Not answered (unreachable, timed out): retrying later may help.
        _ => Error::AssumeRoleFailed {
            account: account.to_owned(),
            role_arn: role_arn.to_owned(),
            message: detail,
            request_id: None,
            code: None,
            unavailable: true,
        },
    }
}
