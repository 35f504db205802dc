//! Authentication and authorization, as one tower layer in front of the service.
//!
//! When a tokens file, a JWKS or a client CA is configured, every call but health (and
//! reflection, unless configured otherwise) must carry credentials: `authorization: Bearer
//! <token>` with a static token of the tokens file or a JWT signed by a key of the JWKS, or a
//! client certificate verified against the CA bundle (mTLS); else UNAUTHENTICATED (without
//! saying which part was wrong). A bearer credential, when sent, must be valid even over mTLS.
//! When a roles file is configured too, the principal must hold the RPC's permission, else
//! PERMISSION_DENIED naming the permission. The principal travels in the request's
//! extensions: the per-caller quota and the log line use it. So does the principal's tag
//! scope, if the roles file gives it one: the RPCs enforce it (see `scope`).

pub mod jwt;
pub mod mtls;
pub mod remote_jwks;
pub mod roles;
pub mod scope;
pub mod tokens;

use crate::error::Error;
use jwt::JwtVerifier;
use roles::RolesFile;
use scope::TagScope;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokens::TokenStore;
use tower::{Layer, Service};

/// Who is calling, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal(pub String);

impl Principal {
    /// How quotas and log lines name this caller.
    pub fn caller_name(&self) -> String {
        format!("principal:{}", self.0)
    }
}

/// The authentication and authorization in force.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    /// Known static bearer tokens, if configured.
    pub tokens: Option<Arc<TokenStore>>,
    /// The JWT verifier, if configured.
    pub jwt: Option<Arc<JwtVerifier>>,
    /// Whether a verified client certificate authenticates its identity (mTLS configured).
    pub client_certificates: bool,
    /// Whether server reflection needs credentials too (health never does: probes call it).
    pub reflection_requires_credentials: bool,
    /// Roles, grants and scopes, kept current; `None`: every authenticated principal may call
    /// every RPC, everywhere.
    pub authorization: Option<Arc<RolesFile>>,
}

/// The bearer credential of `headers`, if any.
fn bearer(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    Some(value.strip_prefix("Bearer ")?.trim().to_owned())
}

impl Auth {
    /// Whether a call to `path` needs no credentials.
    fn is_public(&self, path: &str) -> bool {
        path.starts_with("/grpc.health.")
            || (path.starts_with("/grpc.reflection.") && !self.reflection_requires_credentials)
    }

    /// The principal of the call's credentials: its bearer token or JWT when it sent one, else
    /// its client certificate's identity; else UNAUTHENTICATED.
    async fn authenticate(
        &self,
        bearer: Option<String>,
        certified: Option<Principal>,
    ) -> Result<Principal, Error> {
        let Some(token) = bearer else {
            return certified.ok_or(Error::Unauthenticated);
        };
        if let Some(name) = self.tokens.as_ref().and_then(|t| t.get().principal(&token)) {
            return Ok(Principal(name));
        }
        match &self.jwt {
            Some(jwt) => jwt.principal(&token).await.map(Principal),
            None => None,
        }
        .ok_or(Error::Unauthenticated)
    }

    /// PERMISSION_DENIED unless `principal` may call `rpc`; else the tag it is limited to, if
    /// any (both read from one look at the roles in force).
    fn authorize(&self, principal: &Principal, rpc: &str) -> Result<Option<TagScope>, Error> {
        let Some(roles) = &self.authorization else {
            return Ok(None);
        };
        let roles = roles.get();
        if !roles.permits(&principal.0, rpc) {
            return Err(Error::PermissionDenied {
                principal: principal.0.clone(),
                permission: rpc.to_owned(),
            });
        }
        Ok(roles.scope(&principal.0).cloned())
    }
}

/// Tower layer enforcing `Auth` on every call but health and reflection.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    auth: Option<Auth>,
}

impl AuthLayer {
    /// Enforces `auth`; with `None`, lets every call through (no authentication configured).
    pub fn new(auth: Option<Auth>) -> Self {
        AuthLayer { auth }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Authenticated<S>;

    fn layer(&self, inner: S) -> Authenticated<S> {
        Authenticated {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// The service `AuthLayer` makes.
#[derive(Debug, Clone)]
pub struct Authenticated<S> {
    inner: S,
    auth: Option<Auth>,
}

impl<S, B, R> Service<http::Request<B>> for Authenticated<S>
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
        let Some(auth) = self
            .auth
            .clone()
            .filter(|a| !a.is_public(request.uri().path()))
        else {
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
            let checked = match auth.authenticate(bearer, certified).await {
                Ok(principal) => auth
                    .authorize(&principal, &rpc)
                    .map(|scope| (principal, scope)),
                Err(e) => Err(e),
            };
            let (principal, scope) = match checked {
                Ok(checked) => checked,
                Err(refused) => return Ok(tonic::Status::from(refused).into_http()),
            };
            if let Some(scope) = scope {
                request.extensions_mut().insert(scope);
            }
            request.extensions_mut().insert(principal.clone());
            let mut response = inner.call(request).await?;
            // Handed out too, for the log line of the layer outside.
            response.extensions_mut().insert(principal);
            Ok(response)
        })
    }
}
