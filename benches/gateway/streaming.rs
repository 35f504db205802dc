//! P2, streaming: 100,000 instances streamed through the gateway to a Rust client vs the SDK's
//! paginator directly, same stand-in: instances per second, the gateway's peak RSS, and CPU
//! per instance: the gateway's process against the paginator's in a process of its own.

use crate::support::{self, GatewayProcess, LIFTED};
use ec2_grpc::pb;
use serde_json::{Value, json};
use tokio::time::Instant;

const INSTANCES: usize = 100_000;
const PAGE: i32 = 1000;
/// Runs of each, alternating; the median run is reported.
const RUNS: usize = 3;

/// One run: (seconds, instances, progress as [seconds, instances so far]).
type Run = (f64, usize, Vec<[f64; 2]>);

async fn through_gateway(gateway: &GatewayProcess) -> Run {
    let mut client = gateway.client().await;
    let started = Instant::now();
    let request = pb::DescribeInstancesStreamRequest {
        max_results: Some(PAGE),
        ..Default::default()
    };
    let mut stream = client
        .describe_instances_stream(request)
        .await
        .expect("the stream opens")
        .into_inner();
    let (mut count, mut progress) = (0, Vec::new());
    while let Some(message) = stream.message().await.expect("the stream") {
        count += support::instances_in(&message.reservations);
        progress.push([started.elapsed().as_secs_f64(), count as f64]);
    }
    (started.elapsed().as_secs_f64(), count, progress)
}

async fn directly(sdk: &aws_sdk_ec2::Client) -> Run {
    let started = Instant::now();
    let mut progress = Vec::new();
    let count = support::paginate(sdk, PAGE, |count| {
        progress.push([started.elapsed().as_secs_f64(), count as f64]);
    })
    .await;
    (started.elapsed().as_secs_f64(), count, progress)
}

fn median_run(mut runs: Vec<Run>) -> Run {
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    runs.swap_remove(runs.len() / 2)
}

pub async fn run() -> Value {
    let standin = support::unthrottled_standin(INSTANCES).await;
    let gateway = GatewayProcess::start(&standin.endpoint(), LIFTED, "p2").await;
    let start_rss = gateway.rss_mib();
    let sdk = support::sdk(&standin.endpoint());
    let (mut via_gateway, mut direct) = (Vec::new(), Vec::new());
    let (mut gateway_cpu, mut direct_cpu, mut streamed, mut paged) = (0.0, 0.0, 0, 0);
    for _ in 0..RUNS {
        direct.push(directly(&sdk).await);
        let before = gateway.cpu_seconds();
        let run = through_gateway(&gateway).await;
        gateway_cpu += gateway.cpu_seconds() - before;
        streamed += run.1;
        via_gateway.push(run);
        let (instances, _, cpu) =
            crate::cpu::paginate_in_a_process(&standin.endpoint(), PAGE).await;
        direct_cpu += cpu;
        paged += instances;
    }
    let gateway_cpu_us = gateway_cpu * 1e6 / streamed as f64;
    let direct_cpu_us = direct_cpu * 1e6 / paged as f64;
    eprintln!(
        "p2: CPU per instance: gateway {gateway_cpu_us:.2} µs, direct paginator {direct_cpu_us:.2} µs ({:.2}x)",
        gateway_cpu_us / direct_cpu_us
    );
    let peak_rss = gateway.peak_rss_mib();
    let (g, d) = (median_run(via_gateway), median_run(direct));
    assert_eq!(g.1, INSTANCES, "the gateway streamed every instance");
    assert_eq!(d.1, INSTANCES, "the paginator read every instance");
    let (g_rate, d_rate) = (g.1 as f64 / g.0, d.1 as f64 / d.0);
    eprintln!(
        "p2: gateway {g_rate:.0} instances/s, direct {d_rate:.0}/s ({:.2}x); gateway RSS {start_rss:.1} MiB at start, peak {peak_rss:.1} MiB",
        g_rate / d_rate
    );
    json!({
        "instances": INSTANCES,
        "gateway": {
            "seconds": g.0, "instances": g.1, "rate": g_rate,
            "peak_rss_mib": peak_rss, "start_rss_mib": start_rss, "progress": g.2,
        },
        "direct": {"seconds": d.0, "instances": d.1, "rate": d_rate, "progress": d.2},
        "cpu_us_per_instance": {"gateway": gateway_cpu_us, "direct": direct_cpu_us},
    })
}
