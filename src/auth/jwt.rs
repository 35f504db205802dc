//! JWT bearer tokens (RS256 or ES256), verified against the keys of a JWKS file (kept current
//! like the tokens file) or URL (see `remote_jwks`), with expiry, not-before, and the
//! configured issuer and audience checked. The principal is a claim of the token (`sub` unless
//! configured).

use super::jwks;
use super::remote_jwks::RemoteJwks;
use crate::watched::Watched;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation, decode, decode_header};
use std::path::Path;
use std::sync::Arc;

/// What a JWT must satisfy.
#[derive(Debug, Clone, Default)]
pub struct JwtRules {
    /// The `iss` the token must carry, when set.
    pub issuer: Option<String>,
    /// The `aud` the token must carry, when set.
    pub audience: Option<String>,
    /// The claim naming the principal.
    pub principal_claim: String,
}

/// Where the verification keys come from.
#[derive(Debug)]
enum Keys {
    File(Arc<Watched<JwkSet>>),
    Url(Arc<RemoteJwks>),
}

/// Verifies JWTs.
#[derive(Debug)]
pub struct JwtVerifier {
    keys: Keys,
    rules: JwtRules,
}

/// Who a valid JWT says the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtIdentity {
    /// The principal claim's value.
    pub principal: String,
    /// `iss`.
    pub issuer: Option<String>,
    /// `sub`.
    pub subject: Option<String>,
}

impl JwtVerifier {
    /// Verifies with the keys of the JWKS file at `path`.
    pub fn load(path: &Path, rules: JwtRules) -> Result<JwtVerifier, String> {
        let keys = Watched::load(path, jwks::parse)?;
        keys.watch();
        Ok(JwtVerifier {
            keys: Keys::File(keys),
            rules,
        })
    }

    /// Verifies with the keys of the JWKS at `url`, fetched again every `refresh` and when a
    /// token names an unknown key.
    pub async fn fetch(
        url: &str,
        refresh: std::time::Duration,
        rules: JwtRules,
    ) -> Result<JwtVerifier, String> {
        let keys = RemoteJwks::load(url).await?;
        keys.watch(refresh);
        Ok(JwtVerifier {
            keys: Keys::Url(keys),
            rules,
        })
    }

    /// How many keys are in force (what `ec2-grpc check` reports).
    pub fn key_count(&self) -> usize {
        match &self.keys {
            Keys::File(watched) => watched.get().keys.len(),
            Keys::Url(remote) => remote.get().keys.len(),
        }
    }

    /// The key `header` names, among the keys in force.
    fn decoding_key(&self, header: &Header) -> Option<DecodingKey> {
        match &self.keys {
            Keys::File(watched) => jwks::decoding_key(&watched.get(), header),
            Keys::Url(remote) => jwks::decoding_key(&remote.get(), header),
        }
    }

    /// The principal of `token` when it is a valid JWT of a known key; `None` otherwise (the
    /// caller learns nothing of why).
    pub async fn principal(&self, token: &str) -> Option<String> {
        self.identity(token)
            .await
            .map(|identity| identity.principal)
    }

    /// `principal`, with the token's issuer and subject (for the audit trail).
    pub async fn identity(&self, token: &str) -> Option<JwtIdentity> {
        let header = decode_header(token).ok()?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return None;
        }
        let key = match (self.decoding_key(&header), &self.keys) {
            (Some(key), _) => key,
            // A key the provider may have published since the last fetch.
            (None, Keys::Url(remote)) => {
                remote.refresh_for_unknown_key().await;
                self.decoding_key(&header)?
            }
            (None, Keys::File(_)) => return None,
        };
        let mut validation = Validation::new(header.alg);
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        if let Some(issuer) = &self.rules.issuer {
            validation.set_issuer(&[issuer]);
        }
        match &self.rules.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        let claims = decode::<serde_json::Map<String, serde_json::Value>>(token, &key, &validation)
            .ok()?
            .claims;
        let text = |claim: &str| {
            claims
                .get(claim)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        Some(JwtIdentity {
            principal: text(&self.rules.principal_claim)?,
            issuer: text("iss"),
            subject: text("sub"),
        })
    }
}
