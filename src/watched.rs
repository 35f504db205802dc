//! Files (Kubernetes Secret or ConfigMap mounts) parsed once, and parsed again whenever one of
//! them changes on disk (checked every few seconds). A change that does not parse keeps what
//! was in force, says so, and is tried again at the next check (a certificate and its key may
//! land one after the other).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, SystemTime};

/// How often the files are checked for changes.
const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// Makes the value from the files' contents, in the order of their paths.
type Parse<T> = Box<dyn Fn(&[Vec<u8>]) -> Result<T, String> + Send + Sync>;

/// The parsed content of some files, kept current.
pub struct Watched<T> {
    paths: Vec<PathBuf>,
    parse: Parse<T>,
    value: RwLock<T>,
    modified: RwLock<Vec<Option<SystemTime>>>,
}

impl<T> std::fmt::Debug for Watched<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watched")
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

fn modified(paths: &[PathBuf]) -> Vec<Option<SystemTime>> {
    paths
        .iter()
        .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .collect()
}

/// Every file's bytes, or an error naming the file it could not read.
fn read_all(paths: &[PathBuf]) -> Result<Vec<Vec<u8>>, String> {
    paths
        .iter()
        .map(|p| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display())))
        .collect()
}

impl<T: Send + Sync + 'static> Watched<T> {
    /// Reads and parses the text file `path`; unreadable or malformed is an error naming the
    /// file (never its content, which may be secret).
    pub fn load(
        path: &Path,
        parse: impl Fn(&str) -> Result<T, String> + Send + Sync + 'static,
    ) -> Result<Arc<Self>, String> {
        let shown = path.display().to_string();
        Self::load_all(&[path], move |contents| {
            let bytes = contents.first().map(Vec::as_slice).unwrap_or_default();
            let text =
                std::str::from_utf8(bytes).map_err(|_| format!("{shown}: not UTF-8 text"))?;
            parse(text).map_err(|e| format!("{shown}: {e}"))
        })
    }

    /// Reads `paths` and makes the value from their contents (in the same order) with
    /// `parse`, whose errors should name the file at fault, never its content.
    pub fn load_all(
        paths: &[&Path],
        parse: impl Fn(&[Vec<u8>]) -> Result<T, String> + Send + Sync + 'static,
    ) -> Result<Arc<Self>, String> {
        let paths: Vec<PathBuf> = paths.iter().map(|p| p.to_path_buf()).collect();
        let value = parse(&read_all(&paths)?)?;
        Ok(Arc::new(Watched {
            modified: RwLock::new(modified(&paths)),
            paths,
            parse: Box::new(parse),
            value: RwLock::new(value),
        }))
    }

    /// What is in force.
    pub fn get(&self) -> RwLockReadGuard<'_, T> {
        self.value.read().expect("watched-file lock")
    }

    /// Parses the files again if one changed.
    pub fn reload_if_changed(&self) {
        let now = modified(&self.paths);
        if now == *self.modified.read().expect("watched-file lock") {
            return;
        }
        match read_all(&self.paths).and_then(|contents| (self.parse)(&contents)) {
            Ok(value) => {
                *self.value.write().expect("watched-file lock") = value;
                *self.modified.write().expect("watched-file lock") = now;
                tracing::info!("{} reloaded", self.describe());
            }
            Err(e) => tracing::warn!(
                "{} changed but cannot be used ({e}); keeping what was in force",
                self.describe()
            ),
        }
    }

    /// The files, as log lines name them.
    fn describe(&self) -> String {
        let names: Vec<String> = self.paths.iter().map(|p| p.display().to_string()).collect();
        names.join(" and ")
    }

    /// Checks the files for changes every few seconds, for as long as the process runs.
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
