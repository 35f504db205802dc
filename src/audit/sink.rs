//! Where events go: JSON lines to a file (appended) or to stdout, apart from the diagnostic
//! logs (stderr), in the form log shippers (Fluent Bit, Vector) pick up. A call hands its event
//! to a bounded queue and goes on; a thread of its own writes what is queued every 10 ms, in
//! one write, so writing never slows a call (nor does waking the writer). An event that cannot be queued (the queue full) or written (the file
//! gone) is counted (`ec2.audit.dropped`) and logged, never lost silently; and the sink says
//! whether it is writing (`writable`), so `--audit-required` can refuse a change before any
//! EC2 call when its event could not be written. With OTLP on, the writer also emits each
//! event as a log record (`otlp`).

use super::event::Event;
use crate::telemetry::metrics::instruments;
use opentelemetry::KeyValue;
use opentelemetry_sdk::logs::SdkLogger;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    writer: Writer,
}

/// The writer thread: it ends once every `Sink` is gone and the queue is written.
#[derive(Debug, Clone, Default)]
pub struct Writer(Arc<Mutex<Option<std::thread::JoinHandle<()>>>>);

impl Writer {
    /// Waits (at most `limit`) for the writer to write what is queued and end: at exit, once
    /// the server (and every `Sink` in it) is gone.
    pub async fn finish(self, limit: Duration) {
        let Some(thread) = self.0.lock().expect("audit writer lock").take() else {
            return;
        };
        let joined = tokio::task::spawn_blocking(move || thread.join());
        if tokio::time::timeout(limit, joined).await.is_err() {
            tracing::error!("the audit writer did not finish within {limit:?}: events may be lost");
        }
    }
}

impl Sink {
    /// A sink writing to `destination` from a thread of its own, and emitting each event
    /// through `otlp` when given. A file that cannot be opened is tried again every second;
    /// meanwhile the sink is not `writable`.
    pub fn start(destination: Destination, otlp: Option<SdkLogger>) -> Result<Sink, String> {
        let out = Output::open(&destination)
            .map_err(|e| tracing::error!("{e}: audit events are dropped until it can be written"))
            .ok();
        let (queue, events) = sync_channel::<Event>(QUEUE);
        let writable = Arc::new(AtomicBool::new(out.is_some()));
        let mut writer = Writing {
            destination,
            out,
            health: writable.clone(),
            otlp,
            looked: tokio::time::Instant::now(),
        };
        let thread = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || writer.run(&events))
            .map_err(|e| format!("cannot start the audit writer: {e}"))?;
        Ok(Sink {
            queue,
            writable,
            writer: Writer(Arc::new(Mutex::new(Some(thread)))),
        })
    }

    /// The writer thread, to wait for at exit.
    pub fn writer(&self) -> Writer {
        self.writer.clone()
    }

    /// Queues `event`; a full queue drops it, counted and logged.
    pub fn send(&self, event: Event) {
        match self.queue.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(event)) => {
                dropped(
                    1,
                    "queue_full",
                    &format!("audit event {} dropped", event.audit_id),
                );
            }
            Err(TrySendError::Disconnected(event)) => {
                dropped(
                    1,
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

/// How often the writer looks at its file (rotated away, or writable again).
const PROBE: Duration = Duration::from_secs(1);

/// How long the writer sleeps when it found the queue empty. It never waits blocked on the
/// queue, so a call handing over its event never has to wake it (a futex call and a thread
/// switch per event, on the call's path); the events of a pace are written in one write.
const PACE: Duration = Duration::from_millis(10);

/// Most events written in one write.
const BATCH: usize = 1_000;

/// The writer thread's state.
struct Writing {
    destination: Destination,
    out: Option<Output>,
    health: Arc<AtomicBool>,
    otlp: Option<SdkLogger>,
    /// When the file's identity was last looked at.
    looked: tokio::time::Instant,
}

impl Writing {
    /// Writes what is queued, a batch at a time, until every `Sink` is gone and the queue is
    /// written.
    fn run(&mut self, events: &Receiver<Event>) {
        let mut full = false;
        loop {
            if !full {
                std::thread::sleep(PACE);
            }
            let mut lines = Vec::new();
            let mut count = 0;
            let mut ended = false;
            while count < BATCH {
                match events.try_recv() {
                    Ok(event) => {
                        if self.line(event, &mut lines) {
                            count += 1;
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        ended = true;
                        break;
                    }
                }
            }
            full = count == BATCH;
            self.look();
            if count > 0 {
                self.write(&lines, count);
            }
            if ended {
                return;
            }
        }
    }

    /// Adds `event`'s JSON line to `lines` (and emits it over OTLP when on); false when it
    /// could not be made (counted and logged).
    fn line(&self, mut event: Event, lines: &mut Vec<u8>) -> bool {
        event.decode_request();
        match serde_json::to_vec(&event) {
            Ok(line) => {
                lines.extend_from_slice(&line);
                lines.push(b'\n');
                if let (Some(logger), Ok(json)) = (&self.otlp, serde_json::to_value(&event)) {
                    super::otlp::emit(logger, &event, json);
                }
                true
            }
            Err(e) => {
                dropped(1, "unserializable", &e.to_string());
                false
            }
        }
    }

    /// Once a second at most: a file rotated away or deleted is dropped, so the next write
    /// opens the path again; one that could not be opened is tried again, and the sink says
    /// whether it can write.
    fn look(&mut self) {
        if self.looked.elapsed() < PROBE {
            return;
        }
        self.looked = tokio::time::Instant::now();
        if self.out.as_ref().is_none_or(|o| o.moved(&self.destination)) {
            self.out = Output::open(&self.destination).ok();
        }
        self.health.store(self.out.is_some(), Ordering::Relaxed);
    }

    /// Writes `count` events' `lines` in one write; on failure once more on the path opened
    /// again (it may have been rotated away), then counts and logs them as dropped.
    fn write(&mut self, lines: &[u8], count: usize) {
        let mut written = Err("cannot open the audit log".to_owned());
        for _ in 0..2 {
            if self.out.is_none() {
                self.out = Output::open(&self.destination).ok();
            }
            let Some(output) = self.out.as_mut() else {
                continue;
            };
            written = output.write_lines(lines);
            if written.is_ok() {
                break;
            }
            self.out = None;
        }
        self.health.store(written.is_ok(), Ordering::Relaxed);
        if let Err(e) = written {
            dropped(count as u64, "write", &e);
        }
    }
}

/// The open destination: stdout, or a file with the identity it had when opened.
enum Output {
    Stdout(std::io::Stdout),
    File {
        file: std::fs::File,
        id: Option<(u64, u64)>,
    },
}

impl Output {
    /// Opens `destination` for appending lines.
    fn open(destination: &Destination) -> Result<Output, String> {
        match destination {
            Destination::Stdout => Ok(Output::Stdout(std::io::stdout())),
            Destination::File(path) => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("cannot open the audit log {}: {e}", path.display()))?;
                let id = file.metadata().ok().map(|m| (m.dev(), m.ino()));
                Ok(Output::File { file, id })
            }
        }
    }

    /// Whether the file at `destination`'s path is no longer this one (rotated or deleted).
    fn moved(&self, destination: &Destination) -> bool {
        match (self, destination) {
            (Output::File { id, .. }, Destination::File(path)) => {
                let now = std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
                now.is_none() || now != *id
            }
            _ => false,
        }
    }

    /// Writes whole lines in one write (a line is never split between two writers: the
    /// diagnostic logs go to stderr).
    fn write_lines(&mut self, lines: &[u8]) -> Result<(), String> {
        let result = match self {
            Output::Stdout(out) => {
                let mut out = out.lock();
                out.write_all(lines).and_then(|()| out.flush())
            }
            Output::File { file, .. } => file.write_all(lines),
        };
        result.map_err(|e| e.to_string())
    }
}

/// Counts and logs `count` dropped events.
fn dropped(count: u64, why: &'static str, detail: &str) {
    instruments()
        .audit_dropped
        .add(count, &[KeyValue::new("reason", why)]);
    tracing::error!(
        reason = why,
        count,
        "audit events were not written: {detail}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::event::{Identity, Outcome};

    fn event(id: &str) -> Event {
        Event {
            audit_id: id.into(),
            level: "metadata",
            stage: "complete",
            step: None,
            received_at: String::new(),
            completed_at: String::new(),
            rpc: "StopInstances".into(),
            identity: Identity::default(),
            source_ip: String::new(),
            user_agent: String::new(),
            trace_id: String::new(),
            target: None,
            ec2_calls: Vec::new(),
            more_ec2_calls: 0,
            resources: Vec::new(),
            more_resources: 0,
            outcome: Outcome::default(),
            dry_run: false,
            request: None,
            encoded_request: None,
        }
    }

    /// Waits (up to 10 s) until `path` holds a line with `text`.
    fn until_written(path: &std::path::Path, text: &str) -> bool {
        (0..200).any(|_| {
            let found = std::fs::read_to_string(path).is_ok_and(|t| t.contains(text));
            if !found {
                std::thread::sleep(Duration::from_millis(50));
            }
            found
        })
    }

    #[test]
    fn a_rotated_file_is_opened_again_and_an_unwritable_one_is_not_writable() {
        let dir = std::env::temp_dir().join(format!("ec2-grpc-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.jsonl");
        let sink = Sink::start(Destination::File(path.clone()), None).unwrap();
        sink.send(event("first"));
        assert!(until_written(&path, "\"first\""));
        std::fs::rename(&path, dir.join("audit.jsonl.1")).unwrap();
        // Idle, the writer looks every second: it sees the rename and opens (creates) the path
        // again.
        assert!(until_written(&path, ""), "the path opened again");
        sink.send(event("second"));
        assert!(
            until_written(&path, "\"second\""),
            "written to the new file"
        );
        let rotated = std::fs::read_to_string(dir.join("audit.jsonl.1")).unwrap();
        assert!(!rotated.contains("second"));

        let nowhere =
            Sink::start(Destination::File(dir.join("missing/audit.jsonl")), None).unwrap();
        assert!(!nowhere.writable());
        assert!(sink.writable());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
