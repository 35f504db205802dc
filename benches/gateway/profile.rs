//! Where a call's CPU goes (issue 20): the gateway's release binary under valgrind's callgrind
//! serving DescribeInstances one at a time (1 instance, as P1). Counting starts after a warm-up
//! (`callgrind_control --zero`) and ends after the measured calls (`--dump`), so start-up is
//! left out. Instructions are exact and repeat run to run, unlike time on a shared machine.
//! Each function's own instructions (not its callees') are summed into the steps of a call by
//! where the function comes from, and divided by the calls. Kernel time (syscalls) is not
//! counted by callgrind; P1b's CPU time includes it. Under valgrind the CPU's SHA extensions
//! are not offered, so SigV4's SHA-256 runs its portable code and counts more than natively.

use crate::support::{self, GatewayProcess, LIFTED};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tokio::process::Command;

const WARM_UP: usize = 100;
const CALLS: usize = 500;
const OUT: &str = "target/bench/callgrind.out";

/// The steps of a call, and the function-name prefixes whose own instructions count in each
/// (the first step that matches wins, so the specific ones come first).
const STEPS: &[(&str, &[&str])] = &[
    (
        "observe layer (span, metric, log line fields)",
        &["ec2_grpc::telemetry::rpc"],
    ),
    ("call scope (deadline, attempts)", &["ec2_grpc::call"]),
    ("auth", &["ec2_grpc::auth"]),
    ("caller quota", &["ec2_grpc::protection::caller_quota"]),
    ("shedding", &["ec2_grpc::protection::shed"]),
    (
        "EC2 budget",
        &[
            "ec2_grpc::protection::budget",
            "ec2_grpc::protection::stats",
        ],
    ),
    (
        "coalescing and merge window",
        &["ec2_grpc::ec2::coalesce", "ec2_grpc::ec2::batch"],
    ),
    ("validation", &["ec2_grpc::validate"]),
    ("conversion (SDK -> protobuf)", &["ec2_grpc::convert"]),
    ("gateway, other", &["ec2_grpc::", "ec2_grpc["]),
    (
        "tracing: spans, log line formatting and writing",
        &["tracing", "<tracing"],
    ),
    (
        "OpenTelemetry metrics",
        &["opentelemetry", "<opentelemetry"],
    ),
    (
        "SDK: XML decoding",
        &[
            "aws_smithy_xml",
            "xmlparser",
            "<xmlparser",
            "<aws_smithy_xml",
        ],
    ),
    (
        "SDK: request, SigV4 signing (SHA-256, HMAC), retries, HTTP/1 client",
        &[
            "aws_",
            "<aws_",
            "hyper_util",
            "<hyper_util",
            "sha2",
            "<sha2",
            "hmac",
            "<hmac",
            "hex",
            "<hex",
        ],
    ),
    ("protobuf encoding and decoding", &["prost", "<prost"]),
    (
        "gRPC and HTTP/2 server (tonic, tower, h2, hyper)",
        &[
            "tonic", "<tonic", "tower", "<tower", "h2::", "<h2::", "hyper", "<hyper", "http",
            "<http",
        ],
    ),
    (
        "tokio runtime (tasks, timers, I/O)",
        &["tokio", "<tokio", "mio", "<mio"],
    ),
    (
        "allocation",
        &[
            "malloc",
            "free",
            "realloc",
            "calloc",
            "_int_",
            "__libc_malloc",
            "__libc_free",
            "cfree",
            "alloc::",
            "<alloc::",
        ],
    ),
    (
        "copying and comparing (memcpy, memcmp)",
        &["__mem", "mem", "__strlen", "strlen"],
    ),
    (
        "hashing",
        &[
            "hashbrown",
            "<hashbrown",
            "core::hash",
            "<core::hash",
            "std::hash",
            "foldhash",
            "ahash",
        ],
    ),
    ("formatting", &["core::fmt", "<core::fmt", "alloc::fmt"]),
];

/// The step a function's own instructions count in.
fn step_of(function: &str) -> &'static str {
    STEPS
        .iter()
        .find(|(_, prefixes)| prefixes.iter().any(|p| function.starts_with(p)))
        .map_or("other (std, core, libc)", |(step, _)| step)
}

/// `callgrind_annotate`'s list of functions: (own instructions, function name).
async fn functions(inclusive: bool) -> Vec<(u64, String)> {
    let output = Command::new("callgrind_annotate")
        .args([
            &format!("--inclusive={}", if inclusive { "yes" } else { "no" }),
            "--threshold=100",
            OUT,
        ])
        .output()
        .await
        .expect("callgrind_annotate (valgrind)");
    assert!(
        output.status.success(),
        "callgrind_annotate: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            // "12,345 (1.23%)  file:function [object]"
            let (count, rest) = line.trim_start().split_once(' ')?;
            let count: u64 = count.replace(',', "").parse().ok()?;
            let rest = rest.trim_start();
            let rest = rest
                .strip_prefix('(')
                .and_then(|r| r.split_once(')'))
                .map_or(rest, |(_, r)| r);
            let name = rest.trim();
            let name =
                name.split_once(':').map_or(
                    name,
                    |(file, function)| if file.contains(' ') { name } else { function },
                );
            let name = name
                .rsplit_once(" [")
                .map_or(name, |(function, _)| function);
            Some((count, name.trim().to_owned()))
        })
        .collect()
}

pub async fn run() -> Value {
    let standin = support::unthrottled_standin(1).await;
    let out_flag = format!("--callgrind-out-file={OUT}");
    let _ = std::fs::remove_file(OUT);
    let gateway = GatewayProcess::start_under(
        &["valgrind", "--tool=callgrind", &out_flag, "--dump-instr=no"],
        &standin.endpoint(),
        LIFTED,
        "profile",
    )
    .await;
    let mut client = gateway.client().await;
    let mut call = async || support::describe_the_one_instance(&mut client).await;
    for _ in 0..WARM_UP {
        call().await;
    }
    let pid = gateway.pid().to_string();
    let control = async |flag: &str| {
        let status = Command::new("callgrind_control")
            .args([flag, &pid])
            .status()
            .await;
        assert!(
            status.is_ok_and(|s| s.success()),
            "callgrind_control {flag}"
        );
    };
    control("--zero").await;
    for _ in 0..CALLS {
        call().await;
    }
    control("--dump").await;
    gateway.terminate().await;
    // The dump after the calls is the file with the highest number.
    let dump = std::fs::read_dir("target/bench")
        .expect("target/bench")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("callgrind.out."))
        .max_by_key(|name| name.rsplit('.').next().and_then(|n| n.parse::<u32>().ok()))
        .expect("callgrind wrote its dump");
    std::fs::rename(format!("target/bench/{dump}"), OUT).expect("the dump");

    // The first line is the program's total. Functions that were on a thread's stack when
    // counting started and still are (the thread's entry, tokio's worker loop) are charged
    // the whole count in the dump, as if it were their own: they are left out.
    let mut own = functions(false).await;
    let (total, _) = own.remove(0);
    own.retain(|(count, _)| *count < total / 2);
    let mut steps: BTreeMap<&str, u64> = BTreeMap::new();
    for (count, name) in &own {
        *steps.entry(step_of(name)).or_default() += count;
    }
    let per_call = |count: u64| count as f64 / CALLS as f64;
    let mut breakdown: Vec<_> = steps.into_iter().collect();
    breakdown.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    eprintln!("profile: {:.0} instructions a call", per_call(total));
    for (step, count) in &breakdown {
        eprintln!(
            "profile:   {step}: {:.0} ({:.1} %)",
            per_call(*count),
            *count as f64 * 100.0 / total as f64
        );
    }
    // The gateway's own entry points, with everything they call (inclusive; they nest).
    let inclusive = functions(true).await;
    let gateway_functions: Vec<_> = inclusive
        .iter()
        .skip(1)
        .filter(|(_, name)| name.contains("ec2_grpc::"))
        .take(25)
        .map(|(count, name)| json!({"function": name, "instructions_per_call": per_call(*count)}))
        .collect();
    let top_own: Vec<_> = own
        .iter()
        .take(30)
        .map(|(count, name)| json!({"function": name, "instructions_per_call": per_call(*count), "step": step_of(name)}))
        .collect();
    json!({
        "calls": CALLS,
        "instructions_per_call": per_call(total),
        "steps": breakdown.iter().map(|(step, count)| json!({
            "step": step, "instructions_per_call": per_call(*count), "share": *count as f64 / total as f64,
        })).collect::<Vec<_>>(),
        "top_functions_own": top_own,
        "gateway_functions_inclusive": gateway_functions,
    })
}
