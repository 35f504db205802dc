//! Authentication and authorization, as one tower layer in front of the services it guards.
//!
//! When a tokens file, a JWKS or a client CA is configured, every call of a guarded service
//! must carry credentials (the server guards `Ec2Service`, and reflection when configured to;
//! never health): `authorization: Bearer
//! <token>` with a static token of the tokens file or a JWT signed by a key of the JWKS, or a
//! client certificate verified against the CA bundle (mTLS); else UNAUTHENTICATED (without
//! saying which part was wrong). A bearer credential, when sent, must be valid even over mTLS.
//! When a roles file is configured too, the principal must hold the RPC's permission, else
//! PERMISSION_DENIED naming the permission. The principal travels in the request's
//! extensions: the per-caller quota and the log line use it. So does the principal's tag
//! scope, if the roles file gives it one: the RPCs enforce it (see `scope`).

pub mod jwks;
pub mod jwt;
pub mod mtls;
pub mod remote_jwks;
pub mod roles;
pub mod scope;
pub mod targets;
pub mod tokens;

use crate::error::Error;
use jwt::{JwtRules, JwtVerifier};
use roles::RolesFile;
use scope::TagScope;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokens::TokenStore;
use tonic::transport::server::TcpConnectInfo;
use tower::{Layer, Service};

/// Who is calling, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal(pub String);

/// How the caller authenticated, for the audit trail (in the response's extensions, with the
/// `Principal`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authentication {
    /// `token`, `jwt` or `mtls`.
    pub method: &'static str,
    /// A JWT's issuer.
    pub issuer: Option<String>,
    /// A JWT's subject, or the client certificate's identity.
    pub subject: Option<String>,
}

impl Principal {
    /// How quotas and log lines name this caller.
    pub fn caller_name(&self) -> String {
        format!("principal:{}", self.0)
    }
}

/// Who is calling: the authenticated principal, else the peer address and port. The one
/// definition the quotas and the log line share.
pub fn caller_of<B>(request: &http::Request<B>) -> String {
    if let Some(principal) = request.extensions().get::<Principal>() {
        return principal.caller_name();
    }
    request
        .extensions()
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .map_or_else(|| "unknown".to_owned(), |a| a.to_string())
}

/// How callers authenticate, as configured: the files and URL `AuthPolicy::load` reads.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Static bearer tokens (`NAME TOKEN` lines).
    pub tokens_file: Option<PathBuf>,
    /// A JWKS file for JWTs.
    pub jwks_file: Option<PathBuf>,
    /// A JWKS URL for JWTs (when there is no file).
    pub jwks_url: Option<String>,
    /// How often the JWKS URL is fetched again.
    pub jwks_refresh: Duration,
    /// What a JWT must satisfy.
    pub jwt_rules: JwtRules,
    /// Whether a verified client certificate authenticates its identity (mTLS configured).
    pub client_certificates: bool,
    /// The roles file (grants and tag scopes).
    pub roles_file: Option<PathBuf>,
    /// Whether server reflection needs credentials too (health never does: probes call it).
    pub reflection_requires_credentials: bool,
}

impl Settings {
    /// Whether any authentication method is configured.
    pub fn configured(&self) -> bool {
        self.tokens_file.is_some()
            || self.jwks_file.is_some()
            || self.jwks_url.is_some()
            || self.client_certificates
    }
}

/// The authentication and authorization in force.
#[derive(Debug, Clone, Default)]
pub struct AuthPolicy {
    /// Known static bearer tokens, if configured.
    pub tokens: Option<Arc<TokenStore>>,
    /// The JWT verifier, if configured.
    pub jwt: Option<Arc<JwtVerifier>>,
    /// Whether a verified client certificate authenticates its identity (mTLS configured).
    pub client_certificates: bool,
    /// Roles, grants and scopes, kept current; `None`: every authenticated principal may call
    /// every RPC, everywhere.
    pub authorization: Option<Arc<RolesFile>>,
}

/// The bearer credential of `headers`, if any.
fn bearer(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    Some(value.strip_prefix("Bearer ")?.trim().to_owned())
}

impl AuthPolicy {
    /// Reads what `settings` names (and keeps the files current); `None` when no
    /// authentication is configured. A JWKS URL is fetched here: the service does not start
    /// without its keys.
    pub async fn load(settings: &Settings) -> Result<Option<AuthPolicy>, String> {
        if !settings.configured() {
            return Ok(None);
        }
        let tokens = match &settings.tokens_file {
            Some(path) => {
                let tokens = tokens::load(path)?;
                tokens.watch();
                Some(tokens)
            }
            None => None,
        };
        let rules = settings.jwt_rules.clone();
        let jwt = match (&settings.jwks_file, &settings.jwks_url) {
            (Some(path), _) => Some(Arc::new(JwtVerifier::load(path, rules)?)),
            (None, Some(url)) => Some(Arc::new(
                JwtVerifier::fetch(url, settings.jwks_refresh, rules).await?,
            )),
            (None, None) => None,
        };
        let authorization = match &settings.roles_file {
            Some(path) => {
                let roles = roles::load(path)?;
                roles.watch();
                Some(roles)
            }
            None => None,
        };
        Ok(Some(AuthPolicy {
            tokens,
            jwt,
            client_certificates: settings.client_certificates,
            authorization,
        }))
    }

    /// The principal of the call's credentials: its bearer token or JWT when it sent one, else
    /// its client certificate's identity; else UNAUTHENTICATED.
    async fn authenticate(
        &self,
        bearer: Option<String>,
        certified: Option<Principal>,
    ) -> Result<(Principal, Authentication), Error> {
        let Some(token) = bearer else {
            let principal = certified.ok_or(Error::Unauthenticated)?;
            let how = Authentication {
                method: "mtls",
                issuer: None,
                subject: Some(principal.0.clone()),
            };
            return Ok((principal, how));
        };
        if let Some(name) = self.tokens.as_ref().and_then(|t| t.get().principal(&token)) {
            let how = Authentication {
                method: "token",
                ..Authentication::default()
            };
            return Ok((Principal(name), how));
        }
        let identity = match &self.jwt {
            Some(jwt) => jwt.identity(&token).await,
            None => None,
        }
        .ok_or(Error::Unauthenticated)?;
        let how = Authentication {
            method: "jwt",
            issuer: identity.issuer,
            subject: identity.subject,
        };
        Ok((Principal(identity.principal), how))
    }

    /// PERMISSION_DENIED unless `principal` may call `rpc`; else the tag it is limited to, if
    /// any, and the targets it may reach (all read from one look at the roles in force).
    fn authorize(&self, principal: &Principal, rpc: &str) -> Result<Granted, Error> {
        let Some(roles) = &self.authorization else {
            return Ok(Granted::default());
        };
        let roles = roles.get();
        if !roles.permits(&principal.0, rpc) {
            return Err(Error::PermissionDenied {
                principal: principal.0.clone(),
                permission: rpc.to_owned(),
            });
        }
        Ok(Granted {
            scope: roles.scope(&principal.0).cloned(),
            targets: Some(roles.targets(&principal.0)),
        })
    }
}

/// What the roles in force grant a principal for one call.
#[derive(Debug, Default)]
struct Granted {
    /// The tag it is limited to, if any.
    scope: Option<TagScope>,
    /// The accounts and regions it may reach; `None`: no roles file, every target.
    targets: Option<targets::TargetGrant>,
}

/// Tower layer enforcing an `AuthPolicy` on every call of the service it wraps.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    policy: Option<AuthPolicy>,
}

impl AuthLayer {
    /// Enforces `policy`; with `None`, lets every call through (no authentication configured).
    pub fn new(policy: Option<AuthPolicy>) -> Self {
        AuthLayer { policy }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Auth<S> {
        Auth {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// The service `AuthLayer` makes: the inner service sees only authorized calls, with their
/// `Principal` (and `TagScope`, if any, and `TargetGrant` under a roles file) in the
/// request's extensions.
#[derive(Debug, Clone)]
pub struct Auth<S> {
    inner: S,
    policy: Option<AuthPolicy>,
}

impl<S, B, R> Service<http::Request<B>> for Auth<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let Some(auth) = self.policy.clone() else {
            return Box::pin(self.inner.call(request));
        };
        let rpc = request
            .uri()
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let bearer = bearer(request.headers());
        let certified = auth
            .client_certificates
            .then(|| mtls::peer_principal(request.extensions()))
            .flatten();
        // The service that was made ready goes into the future; a clone stays for the next call.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let (principal, how) = match auth.authenticate(bearer, certified).await {
                Ok(authenticated) => authenticated,
                Err(refused) => return Ok(tonic::Status::from(refused).into_http()),
            };
            let granted = match auth.authorize(&principal, &rpc) {
                Ok(granted) => granted,
                Err(refused) => {
                    // Refused, but known: the layers outside log and audit who it was.
                    let mut response = tonic::Status::from(refused).into_http();
                    response.extensions_mut().insert(principal);
                    response.extensions_mut().insert(how);
                    return Ok(response);
                }
            };
            if let Some(scope) = granted.scope {
                request.extensions_mut().insert(scope);
            }
            if let Some(targets) = granted.targets {
                request.extensions_mut().insert(targets);
            }
            request.extensions_mut().insert(principal.clone());
            let mut response = inner.call(request).await?;
            // Handed out too, for the log line and the audit of the layers outside.
            response.extensions_mut().insert(principal);
            response.extensions_mut().insert(how);
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::StatusExt;
    use tower::ServiceExt;
    use tower_test::mock;

    const READER_TOKEN: &str = "reader-token-0123456789";
    const SCOPED_TOKEN: &str = "scoped-token-0123456789";

    /// A policy of two tokens (a reader, and an admin scoped to `owner=team-a`) from files
    /// written into a fresh directory.
    async fn policy() -> AuthPolicy {
        let dir = std::env::temp_dir().join(format!("ec2-grpc-auth-layer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let tokens = dir.join("tokens");
        std::fs::write(
            &tokens,
            format!("ro {READER_TOKEN}\nteam-a {SCOPED_TOKEN}\n"),
        )
        .unwrap();
        let roles = dir.join("roles.toml");
        std::fs::write(
            &roles,
            "[grants]\nro = [\"reader\"]\nteam-a = [\"admin\"]\n[scopes]\nteam-a = { key = \"owner\" }\n",
        )
        .unwrap();
        let settings = Settings {
            tokens_file: Some(tokens),
            roles_file: Some(roles),
            ..Settings::default()
        };
        AuthPolicy::load(&settings)
            .await
            .unwrap()
            .expect("configured")
    }

    fn call(rpc: &str, token: Option<&str>) -> http::Request<()> {
        let mut request = http::Request::builder().uri(format!("/ec2.v1.Ec2Service/{rpc}"));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.body(()).unwrap()
    }

    /// The status of a refusal answered by the layer itself.
    fn refusal(response: &http::Response<String>) -> tonic::Status {
        tonic::Status::from_header_map(response.headers()).expect("a refusal")
    }

    /// The layer alone, in front of a mock service: no bearer and a wrong one are
    /// UNAUTHENTICATED, a reader's RunInstances is PERMISSION_DENIED naming the permission,
    /// and none of them reaches the service; a permitted call reaches it with its principal
    /// (and scope), and the principal comes back in the response for the log line.
    #[tokio::test]
    async fn credentials_roles_and_scopes_are_checked_before_the_service() {
        let (service, mut handle) = mock::pair::<http::Request<()>, http::Response<String>>();
        let service = AuthLayer::new(Some(policy().await)).layer(service);

        for token in [None, Some("not-a-known-token-at-all")] {
            let response = service
                .clone()
                .oneshot(call("DescribeInstances", token))
                .await;
            let status = refusal(&response.unwrap());
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "{token:?}");
            assert_eq!(
                status.get_details_error_info().unwrap().reason,
                "UNAUTHENTICATED"
            );
        }
        let response = service
            .clone()
            .oneshot(call("RunInstances", Some(READER_TOKEN)))
            .await;
        let status = refusal(&response.unwrap());
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        let info = status.get_details_error_info().unwrap();
        assert_eq!(
            (info.reason.as_str(), info.metadata["permission"].as_str()),
            ("MISSING_PERMISSION", "RunInstances")
        );

        let permitted = tokio::spawn(
            service
                .clone()
                .oneshot(call("DescribeInstances", Some(READER_TOKEN))),
        );
        let (request, respond) = handle.next_request().await.expect("the permitted call");
        assert_eq!(
            request.extensions().get::<Principal>(),
            Some(&Principal("ro".into()))
        );
        assert!(request.extensions().get::<TagScope>().is_none());
        respond.send_response(http::Response::new("ok".to_owned()));
        let response = permitted.await.unwrap().unwrap();
        assert_eq!(
            response.extensions().get::<Principal>(),
            Some(&Principal("ro".into()))
        );

        let scoped = tokio::spawn(
            service
                .clone()
                .oneshot(call("RunInstances", Some(SCOPED_TOKEN))),
        );
        let (request, respond) = handle.next_request().await.expect("the scoped call");
        let scope = request.extensions().get::<TagScope>().expect("the scope");
        assert_eq!(scope.tag(), "owner=team-a");
        respond.send_response(http::Response::new("ok".to_owned()));
        scoped.await.unwrap().unwrap();

        drop(service);
        assert!(
            handle.next_request().await.is_none(),
            "no refused call reached the service"
        );
    }

    /// A layer without a policy (no authentication configured, or a public service such as
    /// health) lets every call through, credentials or not.
    #[tokio::test]
    async fn without_a_policy_every_call_passes() {
        let (service, mut handle) = mock::pair::<http::Request<()>, http::Response<String>>();
        let service = AuthLayer::new(None).layer(service);
        let call = tokio::spawn(service.oneshot(call("RunInstances", None)));
        let (request, respond) = handle.next_request().await.expect("passed through");
        assert!(request.extensions().get::<Principal>().is_none());
        respond.send_response(http::Response::new("ok".to_owned()));
        assert_eq!(call.await.unwrap().unwrap().into_body(), "ok");
    }
}
