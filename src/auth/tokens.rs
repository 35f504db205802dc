//! Bearer tokens from a file (a Kubernetes Secret mount): one `NAME TOKEN` per line, `#`
//! comments. Only SHA-256 digests are kept in memory, compared in constant time; the file is
//! read again when it changes (Secret updates), checked every few seconds.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use subtle::ConstantTimeEq;

/// How often the file is checked for changes.
const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// A token's digest and whose it is.
#[derive(Debug, Clone)]
struct Entry {
    principal: String,
    digest: [u8; 32],
}

/// The tokens in force.
#[derive(Debug)]
pub struct TokenStore {
    path: PathBuf,
    entries: RwLock<Vec<Entry>>,
    modified: RwLock<Option<SystemTime>>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Parses the file's text; a malformed line is an error naming it (never echoing a token).
fn parse(text: &str) -> Result<Vec<Entry>, String> {
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
    Ok(entries)
}

impl TokenStore {
    /// Loads `path`; a missing or malformed file is an error (the service must not start
    /// open when it was meant to be closed).
    pub fn load(path: &Path) -> Result<Arc<TokenStore>, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the tokens file {}: {e}", path.display()))?;
        let entries = parse(&text).map_err(|e| format!("tokens file {}: {e}", path.display()))?;
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        Ok(Arc::new(TokenStore {
            path: path.to_owned(),
            entries: RwLock::new(entries),
            modified: RwLock::new(modified),
        }))
    }

    /// The principal whose token this is. Every entry is compared, in constant time.
    pub fn principal(&self, token: &str) -> Option<String> {
        let offered = digest(token);
        let entries = self.entries.read().expect("tokens lock");
        let mut found = None;
        for entry in entries.iter() {
            if bool::from(entry.digest.ct_eq(&offered)) {
                found = Some(entry.principal.clone());
            }
        }
        found
    }

    /// Reads the file again if it changed; keeps the tokens in force when the new file is
    /// unreadable or malformed (and says so).
    pub fn reload_if_changed(&self) {
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        if modified == *self.modified.read().expect("tokens lock") {
            return;
        }
        match std::fs::read_to_string(&self.path)
            .map_err(|e| e.to_string())
            .and_then(|t| parse(&t))
        {
            Ok(entries) => {
                let count = entries.len();
                *self.entries.write().expect("tokens lock") = entries;
                *self.modified.write().expect("tokens lock") = modified;
                tracing::info!("tokens file reloaded: {count} tokens");
            }
            Err(e) => tracing::warn!(
                "tokens file changed but cannot be used ({e}); keeping the previous tokens"
            ),
        }
    }

    /// Checks the file for changes every few seconds, for as long as the process runs.
    pub fn watch(self: &Arc<Self>) {
        let store = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(RELOAD_EVERY);
            loop {
                every.tick().await;
                store.reload_if_changed();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_map_to_principals_and_bad_lines_are_refused() {
        let entries =
            parse("# ops\nci-bot  s3cr3t-token-0123456789\n\nreader tok-abcdefghijklmnop\n")
                .unwrap();
        let store = TokenStore {
            path: PathBuf::new(),
            entries: RwLock::new(entries),
            modified: RwLock::new(None),
        };
        assert_eq!(
            store.principal("s3cr3t-token-0123456789").as_deref(),
            Some("ci-bot")
        );
        assert_eq!(
            store.principal("tok-abcdefghijklmnop").as_deref(),
            Some("reader")
        );
        assert_eq!(store.principal("nope"), None);
        let err = parse("ci-bot short\n").unwrap_err();
        assert!(err.contains("line 1") && !err.contains("short"), "{err}");
    }
}
