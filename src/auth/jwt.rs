//! JWT bearer tokens (RS256 or ES256), verified against the keys of a JWKS file (kept current
//! like the tokens file) or URL (see `remote_jwks`), with expiry, not-before, and the
//! configured issuer and audience checked. The principal is a claim of the token (`sub` unless
//! configured).

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

/// A JWKS document with at least one key.
pub(super) fn parse_jwks(text: &str) -> Result<JwkSet, String> {
    let set: JwkSet = serde_json::from_str(text).map_err(|e| format!("not a JWKS: {e}"))?;
    if set.keys.is_empty() {
        return Err("the JWKS has no keys".into());
    }
    Ok(set)
}

impl JwtVerifier {
    /// Verifies with the keys of the JWKS file at `path`.
    pub fn load(path: &Path, rules: JwtRules) -> Result<JwtVerifier, String> {
        let keys = Watched::load(path, parse_jwks)?;
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

    /// The key `header` names, among the keys in force.
    fn decoding_key(&self, header: &Header) -> Option<DecodingKey> {
        let find = |keys: &JwkSet| {
            let jwk = match &header.kid {
                Some(kid) => keys.find(kid)?,
                None if keys.keys.len() == 1 => &keys.keys[0],
                None => return None,
            };
            DecodingKey::from_jwk(jwk).ok()
        };
        match &self.keys {
            Keys::File(watched) => find(&watched.get()),
            Keys::Url(remote) => find(&remote.get()),
        }
    }

    /// The principal of `token` when it is a valid JWT of a known key; `None` otherwise (the
    /// caller learns nothing of why).
    pub async fn principal(&self, token: &str) -> Option<String> {
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
        claims
            .get(&self.rules.principal_claim)?
            .as_str()
            .map(str::to_owned)
    }
}
