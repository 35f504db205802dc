//! JWT bearer tokens (RS256 or ES256), verified against the keys of a JWKS file (kept current
//! like the tokens file), with expiry, not-before, and the configured issuer and audience
//! checked. The principal is a claim of the token (`sub` unless configured).

use super::watched::Watched;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
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

/// Verifies JWTs.
#[derive(Debug)]
pub struct JwtVerifier {
    keys: Arc<Watched<JwkSet>>,
    rules: JwtRules,
}

fn parse_jwks(text: &str) -> Result<JwkSet, String> {
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
        Ok(JwtVerifier { keys, rules })
    }

    /// The principal of `token` when it is a valid JWT of a known key; `None` otherwise (the
    /// caller learns nothing of why).
    pub fn principal(&self, token: &str) -> Option<String> {
        let header = decode_header(token).ok()?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return None;
        }
        let key = {
            let keys = self.keys.get();
            let jwk = match &header.kid {
                Some(kid) => keys.find(kid)?,
                None if keys.keys.len() == 1 => &keys.keys[0],
                None => return None,
            };
            DecodingKey::from_jwk(jwk).ok()?
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
