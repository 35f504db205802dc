//! Authentication and authorization, as one tower layer in front of the service.
//!
//! When a tokens file or a JWKS is configured, every call but health and reflection must carry
//! `authorization: Bearer <token>`: a static token of the tokens file, or a JWT signed by a key
//! of the JWKS; else UNAUTHENTICATED (without saying which part was wrong). When a roles file is configured too, the principal must hold the
//! RPC's permission, else PERMISSION_DENIED naming the permission. The principal travels in
//! the request's extensions: the per-caller quota and the log line use it.

pub mod jwt;
pub mod roles;
pub mod tokens;
pub mod watched;

use crate::error::Error;
use crate::protection::caller_quota::is_infrastructure;
use crate::protection::refuse;
use jwt::JwtVerifier;
use roles::Authorization;
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
#[derive(Debug, Clone)]
pub struct Auth {
    /// Known static bearer tokens, if configured.
    pub tokens: Option<Arc<TokenStore>>,
    /// The JWT verifier, if configured.
    pub jwt: Option<Arc<JwtVerifier>>,
    /// Roles and grants; `None`: every authenticated principal may call every RPC.
    pub authorization: Option<Arc<Authorization>>,
}

impl Auth {
    /// The principal of `headers`' bearer token, or UNAUTHENTICATED.
    fn authenticate(&self, headers: &http::HeaderMap) -> Result<Principal, Error> {
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(Error::Unauthenticated)?;
        let token = token.trim();
        let known = self.tokens.as_ref().and_then(|t| t.get().principal(token));
        known
            .or_else(|| self.jwt.as_ref().and_then(|j| j.principal(token)))
            .map(Principal)
            .ok_or(Error::Unauthenticated)
    }

    /// PERMISSION_DENIED unless `principal` may call `rpc`.
    fn authorize(&self, principal: &Principal, rpc: &str) -> Result<(), Error> {
        match &self.authorization {
            Some(authz) if !authz.permits(&principal.0, rpc) => Err(Error::PermissionDenied {
                principal: principal.0.clone(),
                permission: rpc.to_owned(),
            }),
            _ => Ok(()),
        }
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
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        if let Some(auth) = &self.auth
            && !is_infrastructure(request.uri().path())
        {
            let rpc = request
                .uri()
                .path()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            let checked = auth
                .authenticate(request.headers())
                .and_then(|principal| auth.authorize(&principal, &rpc).map(|()| principal));
            match checked {
                Ok(principal) => {
                    request.extensions_mut().insert(principal.clone());
                    let response = self.inner.call(request);
                    // Handed out too, for the log line of the layer outside.
                    return Box::pin(async move {
                        let mut response = response.await?;
                        response.extensions_mut().insert(principal);
                        Ok(response)
                    });
                }
                Err(refused) => return refuse(refused),
            }
        }
        Box::pin(self.inner.call(request))
    }
}
