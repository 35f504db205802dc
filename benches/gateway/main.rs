//! The benchmark harness: the gateway against the direct SDK, boto3 and the AWS CLI, all on
//! loopback on this machine in one run, against the project's EC2 stand-in (in this process)
//! and the gateway's release binary (a child process, so its memory is its own).
//!
//! Run through `bash scripts/bench.sh`, which installs the Python clients and writes
//! BENCHMARKS.md from the results:
//!
//! ```text
//! cargo bench --bench gateway -- [--out FILE] [--only p1,p2,...] [--soak [--soak-secs N]]
//! ```
//!
//! P1 added latency (`latency`), P2 streaming (`streaming`), P3 Python clients (`clients`),
//! P4-P6 the protection under load (`protection`), P7 soak (`soak`, only with `--soak`), P8 the
//! EC2 budget shared by three replicas through Redis (`shared_budget`), P9 the instance
//! inventory: watchers, event latency, reads from the view (`inventory`), P10 targets: a call
//! to another account against a home call, memory per account (`targets`); `profile`, where a
//! call's CPU goes (callgrind). P1b (CPU per call) is measured with P1, P2's CPU per instance
//! with P2, P6's CPU with P6.
//! Timings live here and in BENCHMARKS.md, never in tests.

mod audit;
mod clients;
mod cpu;
mod events;
mod inventory;
mod latency;
mod profile;
mod protection;
mod shared_budget;
mod soak;
mod streaming;
mod support;
mod targets;

use serde_json::{Value, json};

/// The value after `flag` in the arguments.
fn value_of(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}

/// What the machine is, for the report.
fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_default();
    let run = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    json!({
        "date": run("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map_or(0, usize::from),
        "memory_gib": memory_kib / 1024.0 / 1024.0,
        "rustc": run("rustc", &["--version"]),
        "commit": run("git", &["rev-parse", "--short", "HEAD"]),
        "notes": [
            "Everything runs on loopback on this one machine: the stand-in and the Rust clients in the harness process, the gateway's release binary in its own process; they share the cores.",
            "P1-P3 lift the gateway's DescribeInstances budget and per-caller quota (flags in benches/gateway/support.rs) to measure its cost; P4-P6 and P8 run with EC2's buckets enforced by the stand-in and by the gateway's budget (P8's through a redis-server on loopback).",
            "The gateway logs one line per call at its default level (info), to a file.",
        ],
    })
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if cpu::run_helper(&args).await {
        return;
    }
    let out = value_of(&args, "--out").unwrap_or_else(|| "target/bench/results.json".into());
    let only = value_of(&args, "--only");
    let wanted = |scenario: &str| {
        only.as_deref()
            .is_none_or(|list| list.split(',').any(|s| s == scenario))
    };
    std::fs::create_dir_all("target/bench").expect("target/bench");
    let mut results = json!({
        "meta": machine(),
        "findings": [],
        "p7": null,
        "p8": null,
        "p9": null,
        "p10": null,
        "profile": null,
    });
    if wanted("p1") {
        results["p1"] = latency::run().await;
    }
    if wanted("p2") {
        results["p2"] = streaming::run().await;
    }
    if wanted("p3") {
        results["p3"] = clients::run().await;
    }
    if wanted("p4") {
        results["p4"] = protection::throttle_compliance().await;
    }
    if wanted("p5") {
        results["p5"] = protection::coalescing().await;
    }
    if wanted("p6") {
        use protection::Reads;
        results["p6"] = protection::polling_fleet(10.0, Reads::Fresh).await;
        // The same fleet reading the instance view (answers up to 30 s old, what a 10 s resync keeps).
        results["p6_view"] =
            protection::polling_fleet(10.0, Reads::StaleOk(std::time::Duration::from_secs(30)))
                .await;
        // The same fleet at a rate two cores can carry with the load generator beside it.
        results["p6_scaled"] = protection::polling_fleet(4.0, Reads::Fresh).await;
    }
    if wanted("profile") {
        results["profile"] = profile::run().await;
    }
    if wanted("p8") {
        results["p8"] = shared_budget::run().await;
    }
    if wanted("p9") {
        results["p9"] = inventory::run().await;
    }
    if wanted("p10") {
        results["p10"] = targets::run().await;
    }
    if wanted("p9_events") {
        results["p9_events"] = events::run().await;
    }
    if wanted("p11") {
        results["p11"] = audit::run().await;
    }
    if args.iter().any(|a| a == "--soak") {
        let seconds = value_of(&args, "--soak-secs").map_or(600, |s| {
            s.parse().expect("--soak-secs is a whole number of seconds")
        });
        results["p7"] = soak::run(seconds).await;
    }
    // Findings are written by hand from the figures (benches/findings.json), kept with them.
    if let Ok(text) = std::fs::read_to_string("benches/findings.json") {
        results["findings"] = serde_json::from_str(&text).expect("benches/findings.json is JSON");
    }
    let text = serde_json::to_string_pretty(&results).expect("results as JSON");
    std::fs::write(&out, text).expect("write the results");
    eprintln!("bench: results in {out}");
}
