//! P1, added latency: a unary DescribeInstances answering 1 instance through the gateway and
//! directly with aws-sdk-ec2, against the same stand-in, beside a bare tonic echo (a health
//! check on a server with no layers, in a process of its own) as the floor of one gRPC hop;
//! then calls per second at a few concurrency levels. P1b: the CPU time the gateway's process
//! and the echo's spend per call under the same client load.

use crate::cpu::EchoProcess;
use crate::support::{self, GatewayProcess, LIFTED, percentile, thinned};
use ec2_grpc::pb;
use serde_json::{Value, json};
use std::future::Future;
use std::time::Duration;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const CALLS: usize = 2_000;
const CONCURRENCY: [usize; 3] = [1, 16, 64];
const THROUGHPUT_FOR: Duration = Duration::from_secs(3);

/// CPU microseconds per call a process spent while `work` made `calls` calls (what it
/// answers), from its CPU time before and after.
async fn cpu_per_call<Fut: Future<Output = usize>>(cpu: impl Fn() -> f64, work: Fut) -> f64 {
    let before = cpu();
    let calls = work.await;
    (cpu() - before) * 1e6 / calls as f64
}

pub async fn run() -> Value {
    let standin = support::unthrottled_standin(1).await;
    let id = standin.with_account(|a| a.instances[0].id.clone());
    let gateway = GatewayProcess::start(&standin.endpoint(), LIFTED, "p1").await;
    let echo_process = EchoProcess::start().await;
    let echo = HealthClient::new(support::channel(echo_process.addr).await);
    let client = gateway.client().await;
    let sdk = support::sdk(&standin.endpoint());

    let echo_call = {
        let echo = echo.clone();
        move || {
            let mut echo = echo.clone();
            async move {
                echo.check(HealthCheckRequest::default())
                    .await
                    .expect("echo");
            }
        }
    };
    let gateway_call = {
        let client = client.clone();
        move || {
            let mut client = client.clone();
            async move { support::describe_the_one_instance(&mut client).await }
        }
    };
    let by_id_call = {
        let client = client.clone();
        move || {
            let mut client = client.clone();
            let id = id.clone();
            async move {
                let request = pb::DescribeInstancesRequest {
                    instance_ids: vec![id],
                    ..Default::default()
                };
                let answer = client
                    .describe_instances(request)
                    .await
                    .expect("describe by id through the gateway")
                    .into_inner();
                assert_eq!(support::instances_in(&answer.reservations), 1);
            }
        }
    };
    let direct_call = {
        let sdk = sdk.clone();
        move || {
            let sdk = sdk.clone();
            async move {
                let answer = sdk
                    .describe_instances()
                    .send()
                    .await
                    .expect("describe directly");
                assert_eq!(answer.reservations().len(), 1);
            }
        }
    };

    // Each process's CPU over its own sequential run (warm-up calls included in the count).
    let calls_made = CALLS + CALLS / 10;
    let mut echo_latency = Vec::new();
    let echo_cpu_us = cpu_per_call(|| echo_process.cpu_seconds(), async {
        echo_latency = support::sequential(CALLS, echo_call.clone()).await;
        calls_made
    })
    .await;
    let direct_latency = support::sequential(CALLS, direct_call.clone()).await;
    let mut gateway_latency = Vec::new();
    let gateway_cpu_us = cpu_per_call(|| gateway.cpu_seconds(), async {
        gateway_latency = support::sequential(CALLS, gateway_call.clone()).await;
        calls_made
    })
    .await;
    let sdk_cpu_us = crate::cpu::sdk_cpu_per_call(&standin.endpoint(), CALLS).await;
    eprintln!(
        "p1b: CPU per call, one at a time: gateway {gateway_cpu_us:.0} µs, echo {echo_cpu_us:.0} µs ({:.2}x); aws-sdk-ec2 alone {sdk_cpu_us:.0} µs",
        gateway_cpu_us / echo_cpu_us
    );
    let by_id_latency = support::sequential(CALLS / 4, by_id_call).await;
    for (name, l) in [
        ("echo", &echo_latency),
        ("direct", &direct_latency),
        ("gateway", &gateway_latency),
        ("gateway by id", &by_id_latency),
    ] {
        eprintln!(
            "p1: {name}: p50 {:.0} µs, p99 {:.0} µs",
            percentile(l, 50.0),
            percentile(l, 99.0)
        );
    }

    let mut throughput = Vec::new();
    let seconds = THROUGHPUT_FOR.as_secs_f64();
    for concurrency in CONCURRENCY {
        let mut echo = 0.0;
        let echo_cpu = cpu_per_call(|| echo_process.cpu_seconds(), async {
            echo = support::throughput(concurrency, THROUGHPUT_FOR, echo_call.clone()).await;
            (echo * seconds) as usize
        })
        .await;
        let direct = support::throughput(concurrency, THROUGHPUT_FOR, direct_call.clone()).await;
        let mut gateway_rate = 0.0;
        let gateway_cpu = cpu_per_call(|| gateway.cpu_seconds(), async {
            gateway_rate =
                support::throughput(concurrency, THROUGHPUT_FOR, gateway_call.clone()).await;
            (gateway_rate * seconds) as usize
        })
        .await;
        eprintln!(
            "p1: concurrency {concurrency}: echo {echo:.0}/s ({echo_cpu:.0} µs CPU a call), direct {direct:.0}/s, gateway {gateway_rate:.0}/s ({gateway_cpu:.0} µs CPU a call)"
        );
        throughput.push(json!({
            "concurrency": concurrency,
            "seconds": seconds,
            "echo": echo, "direct": direct, "gateway": gateway_rate,
            "cpu_us_per_call": {"echo": echo_cpu, "gateway": gateway_cpu},
        }));
    }
    json!({
        "calls": CALLS,
        "latency_us": {
            "echo": thinned(&echo_latency, 2000),
            "direct": thinned(&direct_latency, 2000),
            "gateway": thinned(&gateway_latency, 2000),
            "gateway_by_id": thinned(&by_id_latency, 2000),
        },
        "throughput": throughput,
        "cpu_us_per_call": {"echo": echo_cpu_us, "gateway": gateway_cpu_us, "sdk": sdk_cpu_us},
    })
}
