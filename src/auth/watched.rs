//! A credentials file (a Kubernetes Secret mount) parsed once, and parsed again whenever it
//! changes on disk (checked every few seconds). A change that does not parse keeps what was
//! in force, and says so.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, SystemTime};

/// How often the file is checked for changes.
const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// The parsed content of a file, kept current.
#[derive(Debug)]
pub struct Watched<T> {
    path: PathBuf,
    parse: fn(&str) -> Result<T, String>,
    value: RwLock<T>,
    modified: RwLock<Option<SystemTime>>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl<T: Send + Sync + 'static> Watched<T> {
    /// Reads and parses `path`; unreadable or malformed is an error naming the file (never its
    /// content, which may be secret).
    pub fn load(path: &Path, parse: fn(&str) -> Result<T, String>) -> Result<Arc<Self>, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let value = parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Arc::new(Watched {
            path: path.to_owned(),
            parse,
            value: RwLock::new(value),
            modified: RwLock::new(modified(path)),
        }))
    }

    /// What is in force.
    pub fn get(&self) -> RwLockReadGuard<'_, T> {
        self.value.read().expect("watched-file lock")
    }

    /// Parses the file again if it changed.
    pub fn reload_if_changed(&self) {
        let now = modified(&self.path);
        if now == *self.modified.read().expect("watched-file lock") {
            return;
        }
        let parsed = std::fs::read_to_string(&self.path)
            .map_err(|e| e.to_string())
            .and_then(|text| (self.parse)(&text));
        match parsed {
            Ok(value) => {
                *self.value.write().expect("watched-file lock") = value;
                *self.modified.write().expect("watched-file lock") = now;
                tracing::info!("{} reloaded", self.path.display());
            }
            Err(e) => tracing::warn!(
                "{} changed but cannot be used ({e}); keeping what was in force",
                self.path.display()
            ),
        }
    }

    /// Checks the file for changes every few seconds, for as long as the process runs.
    pub fn watch(self: &Arc<Self>) {
        let watched = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(RELOAD_EVERY);
            loop {
                every.tick().await;
                watched.reload_if_changed();
            }
        });
    }
}
