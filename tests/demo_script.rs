//! `scripts/demo.sh`, run as a newcomer runs it, on free ports and with the binary these tests
//! built (`EC2_GRPC_BIN`; CI runs the script's own build): a port already taken is named, with
//! its variable, before anything starts; `--once` and Ctrl-C leave nothing running and say
//! what they stopped; and every grpcurl example of the README, pasted as the README prints it
//! while the demo runs, answers what the README shows.
//!
//! One test, its parts in turn (each run of the demo writes `.demo/`), in a test binary of its
//! own: cargo runs test binaries one after another, so the demo's processes never share the
//! machine with the gateway tests that count EC2 throttles against a clock.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The project venv's Python (`scripts/setup-tools.sh` makes it); fails loudly when missing.
fn venv_python() -> PathBuf {
    let path = root().join(".venv/bin/python");
    assert!(
        path.exists(),
        "{} is missing: run `bash scripts/setup-tools.sh` (the README's test command runs it)",
        path.display()
    );
    path
}

/// A free port on loopback (bound, read, released).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// `bash scripts/demo.sh ARGS` as a terminal starts it: SIGINT is reset to its default first
/// (a test runner started in the background passes it on ignored, and bash cannot trap a
/// signal ignored when it starts).
fn demo(moto_port: u16, gateway_port: u16, args: &[&str]) -> Demo {
    let child = Command::new(venv_python())
        .arg("-c")
        .arg(
            "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); \
             os.execvp('bash', ['bash', 'scripts/demo.sh'] + sys.argv[1:])",
        )
        .args(args)
        .current_dir(root())
        .env("MOTO_PORT", moto_port.to_string())
        .env("GATEWAY_PORT", gateway_port.to_string())
        .env("EC2_GRPC_BIN", env!("CARGO_BIN_EXE_ec2-grpc"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start scripts/demo.sh");
    Demo(child)
}

/// A demo started by a test. Dropped while it still runs (an assertion failed), it gets
/// SIGTERM, so its trap stops moto and the gateway (a SIGKILL would leave them running).
struct Demo(Child);

impl std::ops::Deref for Demo {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Demo {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let (Ok(None), Some(pid)) = (self.0.try_wait(), self.0.id()) {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    }
}

/// The demo's stderr lines as they come (its stdout is drained, kept for failures).
fn lines_of(
    child: &mut Child,
) -> (
    mpsc::UnboundedReceiver<String>,
    tokio::task::JoinHandle<String>,
) {
    let (send, receive) = mpsc::unbounded_channel();
    let stderr = child.stderr.take().expect("stderr");
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            println!("demo: {line}");
            let _ = send.send(line);
        }
    });
    let mut stdout = child.stdout.take().expect("stdout");
    let drained = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text).await;
        text
    });
    (receive, drained)
}

/// Stderr lines until one contains `wanted` (`None`, or the demo's stderr ends: every line
/// left): all of them.
async fn until(lines: &mut mpsc::UnboundedReceiver<String>, wanted: Option<&str>) -> Vec<String> {
    let mut seen = Vec::new();
    let deadline = Duration::from_secs(600);
    while let Ok(Some(line)) = tokio::time::timeout(deadline, lines.recv()).await {
        let done = wanted.is_some_and(|w| line.contains(w));
        seen.push(line);
        if done {
            break;
        }
    }
    seen
}

/// The pids the demo said it started (`... is up on 127.0.0.1:PORT (pid N)`).
fn started_pids(lines: &[String]) -> Vec<u32> {
    lines
        .iter()
        .filter(|l| l.contains(" is up on 127.0.0.1:"))
        .filter_map(|l| l.rsplit("(pid ").next()?.trim_end_matches(')').parse().ok())
        .collect()
}

/// Nothing the demo started is left: its pids are gone and its ports refuse connections.
fn nothing_left(pids: &[u32], ports: [u16; 2]) {
    assert_eq!(pids.len(), 2, "moto and the gateway were started: {pids:?}");
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} is still there"
        );
    }
    for port in ports {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "something still listens on {port}"
        );
    }
}

/// One grpcurl example of the README: its line, the command as printed, and what the README
/// shows it answers (the session's transcript, or the `-> ...` of the comment above it).
#[derive(Debug)]
struct Example {
    line: usize,
    command: String,
    shown: Shown,
}

#[derive(Debug)]
enum Shown {
    /// Nothing said: it succeeds with a non-empty answer (not `{}`).
    Answer,
    /// `# ... -> A ... B`: the answer has A, then B (a `Code: ...` is a gRPC error).
    Fragments(Vec<String>),
    /// A `$ command` of a transcript block, and the lines under it.
    Transcript(Vec<String>),
}

/// Every grpcurl example of the README: the lines of its `sh` blocks that run
/// `.venv/bin/grpcurl` (with the `# ... -> SHOWN` comment above, if any), and the `$ ` lines
/// of its `text` transcripts with their output.
fn readme_examples(readme: &str) -> Vec<Example> {
    let mut examples = Vec::new();
    let mut block: Option<&str> = None;
    let mut comment: Option<String> = None;
    let lines: Vec<&str> = readme.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let line = line.trim_end();
        if let Some(fence) = line.strip_prefix("```") {
            block = if block.is_some() { None } else { Some(fence) };
            comment = None;
        } else if block == Some("sh") {
            if let Some(text) = line.strip_prefix('#') {
                comment = Some(text.to_owned());
            } else if line.contains(".venv/bin/grpcurl") {
                let shown = match comment
                    .take()
                    .and_then(|c| c.split_once(" -> ").map(|(_, s)| s.trim().to_owned()))
                {
                    Some(s) => Shown::Fragments(s.split(" ... ").map(str::to_owned).collect()),
                    None => Shown::Answer,
                };
                examples.push(Example {
                    line: i + 1,
                    command: line.to_owned(),
                    shown,
                });
            } else {
                comment = None;
            }
        } else if block == Some("text")
            && let Some(command) = line.strip_prefix("$ ")
            && command.starts_with(".venv/bin/grpcurl")
        {
            let output: Vec<String> = lines[i + 1..]
                .iter()
                .take_while(|l| !l.trim().is_empty() && !l.starts_with("```"))
                .map(|l| l.trim_end().to_owned())
                .collect();
            examples.push(Example {
                line: i + 1,
                command: command.to_owned(),
                shown: Shown::Transcript(output),
            });
        }
    }
    examples
}

/// Pastes `examples` into one bash (variables set by one line serve the next), from the
/// repository root, against the gateway on `port` and moto on `moto_port` (the README's 50051
/// and 5055); answers each one's exit code and output (an assignment answers the value it
/// assigned).
async fn paste(examples: &[Example], moto_port: u16, port: u16) -> Vec<(i32, String)> {
    let mut script = String::new();
    for (i, example) in examples.iter().enumerate() {
        let command = example
            .command
            .replace("127.0.0.1:50051", "\0gateway\0")
            .replace("127.0.0.1:5055", &format!("127.0.0.1:{moto_port}"))
            .replace("\0gateway\0", &format!("127.0.0.1:{port}"));
        let assigned = command
            .split_once("=$(")
            .map(|(name, _)| name)
            .filter(|name| name.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
        script.push_str(&format!(
            "echo '@@@ {i}'\n{{ {command}\n}} 2>&1\necho \"@@@ $?\"\n"
        ));
        if let Some(name) = assigned {
            script.push_str(&format!("echo \"${name}\"\n"));
        }
    }
    let output = tokio::time::timeout(
        Duration::from_secs(300),
        Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(root())
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("the examples end within 5 minutes")
    .expect("run bash");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut answers = Vec::new();
    for part in text.split("@@@ ").skip(1).collect::<Vec<_>>().chunks(2) {
        let [_, end] = part else { break };
        let (code, after) = end.split_once('\n').unwrap_or((end, ""));
        let printed = part[0].split_once('\n').map_or("", |(_, p)| p);
        // An assignment's value comes after its exit code.
        let answer = if after.trim().is_empty() {
            printed
        } else {
            after
        };
        answers.push((code.trim().parse().unwrap_or(-1), answer.to_owned()));
    }
    answers
}

/// What is wrong with `example`'s answer, if anything.
fn judge(example: &Example, code: i32, answer: &str) -> Option<String> {
    match &example.shown {
        Shown::Answer => {
            let text = answer.trim();
            (code != 0 || text.is_empty() || text == "{}")
                .then(|| format!("exit {code}, an empty answer or an error: {text:?}"))
        }
        Shown::Fragments(fragments) => {
            // Compared without whitespace: grpcurl indents and breaks its JSON.
            let bare = |text: &str| text.split_whitespace().collect::<String>();
            let answer = bare(answer);
            let mut rest = answer.as_str();
            for fragment in fragments.iter().map(|f| bare(f)) {
                match rest.find(fragment.as_str()) {
                    Some(at) => rest = &rest[at + fragment.len()..],
                    None => {
                        return Some(format!(
                            "{fragment:?} not in (after the fragments before it): {answer}"
                        ));
                    }
                }
            }
            let error = fragments.iter().any(|f| f.starts_with("Code: "));
            (error == (code == 0)).then(|| format!("exit {code} for {fragments:?}: {answer}"))
        }
        Shown::Transcript(lines) => {
            let normalized: Vec<String> = answer
                .lines()
                .map(|l| {
                    let l = l.trim_end();
                    match l.find("\"request_id\":\"") {
                        Some(at) => {
                            let rest = &l[at + 14..];
                            let end = rest.find('"').map_or(rest.len(), |e| e);
                            format!("{}\"request_id\":\"...\"{}", &l[..at], &rest[end + 1..])
                        }
                        None => l.to_owned(),
                    }
                })
                .collect();
            (&normalized != lines).then(|| {
                format!(
                    "answered:\n{}\nshown:\n{}",
                    normalized.join("\n"),
                    lines.join("\n")
                )
            })
        }
    }
}

#[tokio::test]
async fn the_demo_names_taken_ports_leaves_nothing_running_and_the_readme_examples_answer_as_shown()
{
    // A port already taken: named with its variable on the first line, nothing started.
    for variable in ["MOTO_PORT", "GATEWAY_PORT"] {
        let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let other = free_port();
        let (moto, gateway) = if variable == "MOTO_PORT" {
            (port, other)
        } else {
            (other, port)
        };
        let mut child = demo(moto, gateway, &["--once"]);
        let (mut lines, _) = lines_of(&mut child);
        let status = child.wait().await.expect("the demo ends");
        let said = until(&mut lines, None).await;
        assert!(!status.success(), "{said:?}");
        let first = said.first().cloned().unwrap_or_default();
        assert!(
            first.contains(&format!("port {port} ({variable}) is already in use")),
            "{first}"
        );
        assert!(
            said.iter()
                .any(|l| l.contains("MOTO_PORT=") && l.contains("GATEWAY_PORT=")),
            "how to pick others: {said:?}"
        );
        assert!(!said.iter().any(|l| l.contains(" is up on ")), "{said:?}");
    }

    // --once: the examples run, then everything it started is stopped.
    let ports = [free_port(), free_port()];
    let mut child = demo(ports[0], ports[1], &["--once"]);
    let (mut lines, _) = lines_of(&mut child);
    let status = child.wait().await.expect("the demo ends");
    let said = until(&mut lines, None).await;
    assert!(status.success(), "{said:?}");
    assert!(
        said.iter()
            .any(|l| l.starts_with("demo: stopped ec2-grpc (pid ")),
        "{said:?}"
    );
    nothing_left(&started_pids(&said), ports);

    // Running: the README's examples, pasted; then Ctrl-C.
    let ports = [free_port(), free_port()];
    let mut child = demo(ports[0], ports[1], &[]);
    let (mut lines, stdout) = lines_of(&mut child);
    let mut said = until(&mut lines, Some("Press Ctrl-C")).await;
    assert!(
        said.last().is_some_and(|l| l.contains("Press Ctrl-C")),
        "{said:?}"
    );
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let examples = readme_examples(&readme);
    // Every grpcurl command of the README is among them, but the one of the mTLS section,
    // which needs a TLS deployment (the demo serves plaintext).
    let commands = readme
        .lines()
        .filter(|l| l.contains("grpcurl -") && !l.contains('`'))
        .filter(|l| !l.starts_with("grpcurl -cacert "))
        .count();
    assert_eq!(
        commands,
        examples.len(),
        "a grpcurl line of the README is not pasted"
    );
    let answers = paste(&examples, ports[0], ports[1]).await;
    assert_eq!(answers.len(), examples.len(), "every example answered");
    let wrong: Vec<String> = examples
        .iter()
        .zip(&answers)
        .filter_map(|(example, (code, answer))| {
            judge(example, *code, answer)
                .map(|why| format!("README.md:{}: {}\n  {why}", example.line, example.command))
        })
        .collect();
    println!(
        "{} README examples pasted, {} as shown",
        examples.len(),
        examples.len() - wrong.len()
    );
    assert!(
        examples.len() >= 40,
        "the README's examples: {}",
        examples.len()
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    let pid = child.id().expect("running").to_string();
    let interrupted = Command::new("kill").args(["-INT", &pid]).status().await;
    assert!(interrupted.expect("kill").success());
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("the demo ends at Ctrl-C")
        .expect("wait");
    said.extend(until(&mut lines, None).await);
    assert!(
        status.success(),
        "{said:?}\n{}",
        stdout.await.unwrap_or_default()
    );
    let pids = started_pids(&said);
    let stopped = format!(
        "demo: stopped ec2-grpc (pid {}) and moto (pid {}); nothing is left running.",
        pids.get(1).copied().unwrap_or_default(),
        pids.first().copied().unwrap_or_default()
    );
    assert!(said.contains(&stopped), "{stopped:?} not in {said:?}");
    nothing_left(&pids, ports);
}
