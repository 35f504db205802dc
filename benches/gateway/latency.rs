//! P1, added latency: a unary DescribeInstances answering 1 instance through the gateway and
//! directly with aws-sdk-ec2, against the same stand-in, beside a bare tonic echo (a health
//! check on a server with no layers) as the floor of one gRPC hop; then calls per second at a
//! few concurrency levels.

use crate::support::{self, GatewayProcess, LIFTED, percentile, thinned};
use ec2_grpc::pb;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_stream::wrappers::TcpListenerStream;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const CALLS: usize = 2_000;
const CONCURRENCY: [usize; 3] = [1, 16, 64];
const THROUGHPUT_FOR: Duration = Duration::from_secs(3);

/// A bare tonic server answering health checks: one gRPC hop and nothing else.
async fn echo_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (_reporter, health) = tonic_health::server::health_reporter();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    addr
}

pub async fn run() -> Value {
    let standin = support::unthrottled_standin(1).await;
    let id = standin.with_account(|a| a.instances[0].id.clone());
    let gateway = GatewayProcess::start(&standin.endpoint(), LIFTED, "p1").await;
    let echo = HealthClient::new(support::channel(echo_server().await).await);
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
            async move {
                let answer = client
                    .describe_instances(pb::DescribeInstancesRequest::default())
                    .await
                    .expect("describe through the gateway")
                    .into_inner();
                assert_eq!(support::instances_in(&answer.reservations), 1);
            }
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

    let echo_latency = support::sequential(CALLS, echo_call.clone()).await;
    let direct_latency = support::sequential(CALLS, direct_call.clone()).await;
    let gateway_latency = support::sequential(CALLS, gateway_call.clone()).await;
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
    for concurrency in CONCURRENCY {
        let echo = support::throughput(concurrency, THROUGHPUT_FOR, echo_call.clone()).await;
        let direct = support::throughput(concurrency, THROUGHPUT_FOR, direct_call.clone()).await;
        let gateway = support::throughput(concurrency, THROUGHPUT_FOR, gateway_call.clone()).await;
        eprintln!(
            "p1: concurrency {concurrency}: echo {echo:.0}/s, direct {direct:.0}/s, gateway {gateway:.0}/s"
        );
        throughput.push(json!({
            "concurrency": concurrency,
            "seconds": THROUGHPUT_FOR.as_secs_f64(),
            "echo": echo, "direct": direct, "gateway": gateway,
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
    })
}
