//! CPU time, read from `/proc/<pid>/stat` (user + system), and the helper processes the
//! harness runs of its own binary so that what they use is theirs alone: the bare gRPC echo
//! server (P1b's floor), aws-sdk-ec2 calling DescribeInstances one call after another (P1b's
//! SDK share) and the SDK's direct paginator (P2's CPU per instance). In the harness process
//! the stand-in and the load generators would be counted with them.

use crate::support;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;
use tokio_stream::wrappers::TcpListenerStream;

/// The argument that makes the harness binary serve echo instead of benchmarking.
const SERVE_ECHO: &str = "--serve-echo";
/// The argument that makes the harness binary page DescribeInstances once and report.
const PAGINATE: &str = "--paginate";
/// The argument that makes the harness binary call DescribeInstances N times and report.
const DESCRIBE: &str = "--describe";
/// Set in every helper's environment: a helper that does not know its mode stops rather than
/// running the benchmarks (and starting helpers of its own).
const HELPER_ENV: &str = "EC2_GRPC_BENCH_HELPER";

/// CPU time (user + system) process `pid` has used, seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    // The fields after the command's closing parenthesis; utime and stime are the 14th and
    // 15th of the whole line, in clock ticks.
    let after = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    ticks / clock_ticks_per_second()
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// When the harness was started as one of its helpers, runs it (never returns for the echo
/// server; prints its report and answers true for the paginator).
pub async fn run_helper(args: &[String]) -> bool {
    if args.iter().any(|a| a == SERVE_ECHO) {
        serve_echo().await;
    }
    if let Some(i) = args.iter().position(|a| a == PAGINATE) {
        let endpoint = args.get(i + 1).expect("--paginate ENDPOINT PAGE");
        let page: i32 = args
            .get(i + 2)
            .and_then(|p| p.parse().ok())
            .expect("a page size");
        println!("{}", paginate(endpoint, page).await);
        return true;
    }
    if let Some(i) = args.iter().position(|a| a == DESCRIBE) {
        let endpoint = args.get(i + 1).expect("--describe ENDPOINT CALLS");
        let calls: usize = args
            .get(i + 2)
            .and_then(|n| n.parse().ok())
            .expect("a call count");
        println!("{}", describe(endpoint, calls).await);
        return true;
    }
    // A helper must never run the benchmarks itself (it would start helpers of its own).
    assert!(
        std::env::var_os(HELPER_ENV).is_none(),
        "unknown helper mode: {args:?}"
    );
    false
}

/// Calls DescribeInstances `calls` times, one after another (after a tenth as many to warm
/// up), and reports this process's CPU time for the measured calls.
async fn describe(endpoint: &str, calls: usize) -> Value {
    let sdk = support::sdk(endpoint);
    for _ in 0..calls / 10 {
        sdk.describe_instances().send().await.expect("describe");
    }
    let cpu_before = cpu_seconds(std::process::id());
    for _ in 0..calls {
        sdk.describe_instances().send().await.expect("describe");
    }
    json!({"calls": calls, "cpu_seconds": cpu_seconds(std::process::id()) - cpu_before})
}

/// A bare tonic server answering health checks: one gRPC hop and nothing else. Prints its
/// address, then serves until killed.
async fn serve_echo() -> ! {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    println!("{}", listener.local_addr().expect("addr"));
    let (_reporter, health) = tonic_health::server::health_reporter();
    tonic::transport::Server::builder()
        .add_service(health)
        .serve_with_incoming(TcpListenerStream::new(listener))
        .await
        .expect("the echo server");
    unreachable!("the echo server serves until killed")
}

/// Pages every instance with aws-sdk-ec2's paginator, as a service calling EC2 directly would,
/// and reports how many, how long, and this process's CPU time for it.
async fn paginate(endpoint: &str, page: i32) -> Value {
    let sdk = support::sdk(endpoint);
    let cpu_before = cpu_seconds(std::process::id());
    let started = Instant::now();
    let instances = support::paginate(&sdk, page, |_| {}).await;
    json!({
        "instances": instances,
        "seconds": started.elapsed().as_secs_f64(),
        "cpu_seconds": cpu_seconds(std::process::id()) - cpu_before,
    })
}

/// The echo server, in a process of its own.
pub struct EchoProcess {
    child: Child,
    /// Where it serves.
    pub addr: SocketAddr,
}

impl EchoProcess {
    /// Starts the harness binary as the echo server and reads its address.
    pub async fn start() -> EchoProcess {
        let mut child = Command::new(std::env::current_exe().expect("the harness binary"))
            .arg(SERVE_ECHO)
            .env(HELPER_ENV, "1")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the echo server");
        let stdout = child.stdout.take().expect("its stdout");
        let line = BufReader::new(stdout)
            .lines()
            .next_line()
            .await
            .expect("read");
        let addr = line
            .and_then(|l| l.parse().ok())
            .expect("the echo server's address");
        EchoProcess { child, addr }
    }

    /// CPU time it has used so far, seconds.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.child.id().expect("the echo server is running"))
    }
}

/// Runs the harness binary as a helper with `args` and reads its report.
async fn helper(args: &[&str]) -> Value {
    let output = Command::new(std::env::current_exe().expect("the harness binary"))
        .args(args)
        .env(HELPER_ENV, "1")
        .output()
        .await
        .expect("run the helper");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the helper's report")
}

/// CPU microseconds per DescribeInstances call of aws-sdk-ec2 in a process of its own, over
/// `calls` calls one after another: the client side of the gateway's own EC2 call.
pub async fn sdk_cpu_per_call(endpoint: &str, calls: usize) -> f64 {
    let report = helper(&[DESCRIBE, endpoint, &calls.to_string()]).await;
    report["cpu_seconds"].as_f64().expect("cpu seconds") * 1e6 / calls as f64
}

/// The direct paginator over `endpoint`'s instances, in a process of its own: (instances,
/// seconds, CPU seconds).
pub async fn paginate_in_a_process(endpoint: &str, page: i32) -> (usize, f64, f64) {
    let report = helper(&[PAGINATE, endpoint, &page.to_string()]).await;
    (
        report["instances"].as_u64().expect("instances") as usize,
        report["seconds"].as_f64().expect("seconds"),
        report["cpu_seconds"].as_f64().expect("cpu seconds"),
    )
}
