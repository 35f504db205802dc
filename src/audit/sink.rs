//! Where events go: JSON lines to a file (appended) or to stdout, apart from the diagnostic
//! logs (stderr), in the form log shippers (Fluent Bit, Vector) pick up. A call hands its event
//! to a bounded queue and goes on; a thread of its own writes and flushes each line, so writing
//! never slows a call. An event that cannot be queued (the queue full) or written (the file
//! gone) is counted (`ec2.audit.dropped`) and logged, never lost silently; and the sink says
//! whether it is writing (`writable`), so `--audit-required` can refuse a change before any
//! EC2 call when its event could not be written.

use super::event::Event;
use crate::telemetry::metrics::instruments;
use opentelemetry::KeyValue;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};

/// Events waiting to be written, at most.
pub const QUEUE: usize = 10_000;

/// Where the events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Appended to this file (opened again when it was rotated away).
    File(PathBuf),
    /// Standard output.
    Stdout,
}

/// The writer's queue and health.
#[derive(Debug, Clone)]
pub struct Sink {
    queue: SyncSender<Event>,
    writable: Arc<AtomicBool>,
}

impl Sink {
    /// A sink writing to `destination` from a thread of its own. A file that cannot be
    /// opened is tried again at each event; meanwhile the sink is not `writable`.
    pub fn start(destination: Destination) -> Result<Sink, String> {
        let mut out = match open(&destination) {
            Ok(out) => Some(out),
            Err(e) => {
                tracing::error!("{e}: audit events are dropped until it can be written");
                None
            }
        };
        let (queue, events) = sync_channel::<Event>(QUEUE);
        let writable = Arc::new(AtomicBool::new(out.is_some()));
        let health = writable.clone();
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || {
                while let Ok(mut event) = events.recv() {
                    event.decode_request();
                    let line = match serde_json::to_string(&event) {
                        Ok(line) => line,
                        Err(e) => {
                            dropped("unserializable", &e.to_string());
                            continue;
                        }
                    };
                    // Once more after opening the file again: it may have been rotated away.
                    let mut written = Err(String::new());
                    for _ in 0..2 {
                        if out.is_none() {
                            out = open(&destination).ok();
                        }
                        let Some(file) = out.as_mut() else { continue };
                        written = writeln!(file, "{line}")
                            .and_then(|()| file.flush())
                            .map_err(|e| e.to_string());
                        if written.is_ok() {
                            break;
                        }
                        out = None;
                    }
                    health.store(written.is_ok(), Ordering::Relaxed);
                    if let Err(e) = written {
                        let why = if e.is_empty() {
                            "cannot open the audit log"
                        } else {
                            &e
                        };
                        dropped("write", why);
                    }
                }
            })
            .map_err(|e| format!("cannot start the audit writer: {e}"))?;
        Ok(Sink { queue, writable })
    }

    /// Queues `event`; a full queue drops it, counted and logged.
    pub fn send(&self, event: Event) {
        match self.queue.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(event)) => {
                dropped(
                    "queue_full",
                    &format!("audit event {} dropped", event.audit_id),
                );
            }
            Err(TrySendError::Disconnected(event)) => {
                dropped(
                    "writer_gone",
                    &format!("audit event {} dropped", event.audit_id),
                );
            }
        }
    }

    /// Whether the last write succeeded (a change under `--audit-required` needs it).
    pub fn writable(&self) -> bool {
        self.writable.load(Ordering::Relaxed)
    }
}

/// Opens `destination` for appending lines.
fn open(destination: &Destination) -> Result<Box<dyn Write + Send>, String> {
    match destination {
        Destination::Stdout => Ok(Box::new(std::io::stdout())),
        Destination::File(path) => OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(|f| Box::new(f) as Box<dyn Write + Send>)
            .map_err(|e| format!("cannot open the audit log {}: {e}", path.display())),
    }
}

/// Counts and logs a dropped event.
fn dropped(why: &'static str, detail: &str) {
    instruments()
        .audit_dropped
        .add(1, &[KeyValue::new("reason", why)]);
    tracing::error!(reason = why, "an audit event was not written: {detail}");
}
