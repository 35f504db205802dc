//! JWKS documents: parsing one (from a file or a URL alike) and finding the key a JWT names.
//! Both JWT key sources (`jwt`'s file, `remote_jwks`' URL) use this one module.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Header};

/// A JWKS document with at least one key.
pub fn parse(text: &str) -> Result<JwkSet, String> {
    let set: JwkSet = serde_json::from_str(text).map_err(|e| format!("not a JWKS: {e}"))?;
    if set.keys.is_empty() {
        return Err("the JWKS has no keys".into());
    }
    Ok(set)
}

/// The key of `keys` that `header` names: by key id, or the only key when the token names none.
pub fn decoding_key(keys: &JwkSet, header: &Header) -> Option<DecodingKey> {
    let jwk = match &header.kid {
        Some(kid) => keys.find(kid)?,
        None if keys.keys.len() == 1 => &keys.keys[0],
        None => return None,
    };
    DecodingKey::from_jwk(jwk).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jwks_needs_keys_and_json() {
        assert!(parse("{\"keys\": []}").unwrap_err().contains("no keys"));
        assert!(parse("nope").unwrap_err().contains("not a JWKS"));
    }
}
