//! P3, what users would pick: 10,000 instances read end to end by a Python gRPC client through
//! the gateway, by boto3's paginator directly, and by `aws ec2 describe-instances` directly,
//! against the same stand-in. Each client is a fresh process run (`benches/python/clients.py`;
//! the AWS CLI), timed whole, startup included for the CLI.

use crate::support::{self, GatewayProcess, LIFTED};
use serde_json::{Value, json};
use tokio::process::Command;
use tokio::time::Instant;

const INSTANCES: usize = 10_000;
const RUNS: usize = 3;

/// A tool the scenario needs, from the environment `scripts/bench.sh` sets; fails loudly.
fn tool(variable: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        panic!("{variable} is not set: run the benchmarks with `bash scripts/bench.sh`")
    })
}

/// Runs `benches/python/clients.py ARGS` and reads its JSON line.
async fn python_client(args: &[&str]) -> Value {
    let output = Command::new(tool("EC2_GRPC_BENCH_PYTHON"))
        .arg("benches/python/clients.py")
        .args(args)
        .output()
        .await
        .expect("run benches/python/clients.py");
    assert!(
        output.status.success(),
        "clients.py {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).expect("a JSON line");
    assert_eq!(
        answer["instances"].as_u64(),
        Some(INSTANCES as u64),
        "{args:?}"
    );
    answer["runs"].clone()
}

/// Seconds of each run of the AWS CLI reading every instance.
async fn awscli(endpoint: &str) -> Vec<f64> {
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let output = Command::new(tool("EC2_GRPC_BENCH_AWSCLI"))
            .args(["ec2", "describe-instances", "--output", "json"])
            .args(["--page-size", "1000", "--endpoint-url", endpoint])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_PAGER", "")
            .output()
            .await
            .expect("run aws");
        runs.push(started.elapsed().as_secs_f64());
        assert!(
            output.status.success(),
            "aws failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let answer: Value = serde_json::from_slice(&output.stdout).expect("the CLI's JSON");
        let count: usize = answer["Reservations"]
            .as_array()
            .expect("Reservations")
            .iter()
            .map(|r| r["Instances"].as_array().map_or(0, Vec::len))
            .sum();
        assert_eq!(count, INSTANCES, "the CLI read every instance");
    }
    runs
}

pub async fn run() -> Value {
    let standin = support::unthrottled_standin(INSTANCES).await;
    let endpoint = standin.endpoint();
    let gateway = GatewayProcess::start(&endpoint, LIFTED, "p3").await;
    let runs = RUNS.to_string();
    let address = gateway.addr.to_string();
    let grpc = python_client(&["grpc", "--gateway", &address, "--runs", &runs]).await;
    let boto3 = python_client(&["boto3", "--ec2", &endpoint, "--runs", &runs]).await;
    let cli = awscli(&endpoint).await;
    eprintln!("p3: python gRPC {grpc}, boto3 {boto3}, aws cli {cli:?} (seconds per run)");
    json!({
        "instances": INSTANCES,
        "runs": RUNS,
        "grpc_python": grpc,
        "boto3": boto3,
        "awscli": cli,
    })
}
