//! Bearer tokens from a file (a Kubernetes Secret mount): one `NAME TOKEN` per line, `#`
//! comments, tokens of at least 16 characters. Only SHA-256 digests are kept in memory,
//! compared in constant time; the file is read again when it changes.

use crate::watched::Watched;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// A token's digest and whose it is.
#[derive(Debug, Clone)]
struct Entry {
    principal: String,
    digest: [u8; 32],
}

/// The tokens in force.
#[derive(Debug, Clone)]
pub struct Tokens(Vec<Entry>);

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Tokens {
    /// Parses the file's text; a malformed line is an error naming it (never echoing a token).
    pub fn parse(text: &str) -> Result<Tokens, String> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_whitespace().collect::<Vec<_>>().as_slice() {
                [principal, token] if token.len() >= 16 => entries.push(Entry {
                    principal: principal.to_string(),
                    digest: digest(token),
                }),
                _ => {
                    return Err(format!(
                        "line {}: expected `NAME TOKEN` with a token of at least 16 characters",
                        n + 1
                    ));
                }
            }
        }
        Ok(Tokens(entries))
    }

    /// How many tokens there are (what `ec2-grpc check` reports).
    pub fn count(&self) -> usize {
        self.0.len()
    }

    /// The principal whose token this is. Every entry is compared, in constant time.
    pub fn principal(&self, token: &str) -> Option<String> {
        let offered = digest(token);
        let mut found = None;
        for entry in &self.0 {
            if bool::from(entry.digest.ct_eq(&offered)) {
                found = Some(entry.principal.clone());
            }
        }
        found
    }
}

/// The tokens file, kept current.
pub type TokenStore = Watched<Tokens>;

/// Loads the tokens file at `path`.
pub fn load(path: &Path) -> Result<Arc<TokenStore>, String> {
    Watched::load(path, Tokens::parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_map_to_principals_and_bad_lines_are_refused() {
        let tokens = Tokens::parse(
            "# ops\nci-bot  s3cr3t-token-0123456789\n\nreader tok-abcdefghijklmnop\n",
        )
        .unwrap();
        assert_eq!(
            tokens.principal("s3cr3t-token-0123456789").as_deref(),
            Some("ci-bot")
        );
        assert_eq!(
            tokens.principal("tok-abcdefghijklmnop").as_deref(),
            Some("reader")
        );
        assert_eq!(tokens.principal("nope"), None);
        let err = Tokens::parse("ci-bot short\n").unwrap_err();
        assert!(err.contains("line 1") && !err.contains("short"), "{err}");
    }
}
