//! Where events go: JSON lines to a file (appended) or to stdout, apart from the diagnostic
//! logs (stderr), in the form log shippers (Fluent Bit, Vector) pick up. A call hands its event
//! to a bounded queue and goes on; a thread of its own writes what is queued every 10 ms, in
//! one write, so writing never slows a call (nor does waking the writer). An event that cannot
//! be queued (the queue full) or written (the file gone) is counted (`ec2.audit.dropped`) and
//! logged, never lost silently; and the sink says whether it is writing (`writable`), so
//! `--audit-required` can refuse a change before any EC2 call when its event could not be
//! written. With OTLP on, the writer also emits each
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
        let down = Down(writable.clone());
        let thread = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || {
                let _down = down;
                writer.run(&events);
            })
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
                self.write(&lines);
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

    /// Writes `lines` in one write. On a failure, what was written stays and the rest (from
    /// the line cut short, written again whole) is tried once more on the path opened again
    /// (it may have been rotated away); what still is not written is counted and logged.
    fn write(&mut self, lines: &[u8]) {
        let mut rest = lines;
        let mut failure = "cannot open the audit log".to_owned();
        for _ in 0..2 {
            if self.out.is_none() {
                self.out = Output::open(&self.destination)
                    .map_err(|e| failure = e)
                    .ok();
            }
            let Some(output) = self.out.as_mut() else {
                continue;
            };
            match output.write_lines(rest) {
                Ok(()) => {
                    rest = &[];
                    break;
                }
                Err((done, e)) => {
                    rest = unwritten(rest, done);
                    failure = e.to_string();
                    self.out = None;
                }
            }
        }
        self.health.store(rest.is_empty(), Ordering::Relaxed);
        if !rest.is_empty() {
            let lost = rest.iter().filter(|&&b| b == b'\n').count();
            dropped(lost as u64, "write", &failure);
        }
    }
}

/// What is left of `lines` once `done` bytes of it were written: from the first line not
/// written whole (a line cut short is written again whole).
fn unwritten(lines: &[u8], done: usize) -> &[u8] {
    let whole = lines[..done]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |at| at + 1);
    &lines[whole..]
}

/// Marks the sink not writable when the writer thread ends (a panic included), so
/// `--audit-required` refuses changes rather than let their events be dropped.
struct Down(Arc<AtomicBool>);

impl Drop for Down {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
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

    /// Writes whole lines (no other writer shares the destination: the diagnostic logs go to
    /// stderr); on a failure, how many bytes were written before it.
    fn write_lines(&mut self, lines: &[u8]) -> Result<(), (usize, std::io::Error)> {
        match self {
            Output::Stdout(out) => {
                let mut out = out.lock();
                write_counted(&mut out, lines)?;
                out.flush().map_err(|e| (lines.len(), e))
            }
            Output::File { file, .. } => write_counted(file, lines),
        }
    }
}

/// `write_all` that says how far it got when it fails.
fn write_counted(out: &mut impl Write, bytes: &[u8]) -> Result<(), (usize, std::io::Error)> {
    let mut done = 0;
    while done < bytes.len() {
        match out.write(&bytes[done..]) {
            Ok(0) => return Err((done, std::io::ErrorKind::WriteZero.into())),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err((done, e)),
        }
    }
    Ok(())
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

    /// A destination that takes `room` bytes, then fails.
    struct Full {
        room: usize,
        taken: Vec<u8>,
    }

    impl Write for Full {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::other("no space left"));
            }
            let n = bytes.len().min(self.room).min(7);
            self.room -= n;
            self.taken.extend_from_slice(&bytes[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_write_cut_short_leaves_the_lines_not_written_whole_to_write_again() {
        let lines = b"{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n";
        let mut full = Full {
            room: 12,
            taken: Vec::new(),
        };
        let (done, _) = write_counted(&mut full, lines).unwrap_err();
        assert_eq!(done, 12);
        assert_eq!(unwritten(lines, done), b"{\"b\":2}\n{\"c\":3}\n");
        assert_eq!(unwritten(lines, 3), lines);
        assert_eq!(unwritten(lines, lines.len()), b"");
        let mut roomy = Full {
            room: 100,
            taken: Vec::new(),
        };
        assert!(write_counted(&mut roomy, lines).is_ok());
        assert_eq!(roomy.taken, lines);
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
