//! P7, soak (`--soak`, not run by default): mixed steady load for 10 minutes against a
//! stand-in enforcing EC2's buckets, with the gateway's default settings: a polling fleet by
//! id, describes by filter, full streams, network-interface describes. The gateway's RSS is
//! sampled throughout; refusals the protection is meant to give (UNAVAILABLE with RetryInfo,
//! RESOURCE_EXHAUSTED) are expected, anything else is counted as unexpected.

use crate::support::{GatewayProcess, instances_in};
use ec2_grpc::pb;
use ec2_grpc::pb::ec2_service_client::Ec2ServiceClient;
use ec2_standin::Standin;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tonic::Code;
use tonic::transport::Channel;

const POLLERS: usize = 100;

/// Outcomes by gRPC code.
type Outcomes = Arc<Mutex<BTreeMap<String, u64>>>;

fn record(outcomes: &Outcomes, code: Code) {
    *outcomes
        .lock()
        .expect("lock")
        .entry(format!("{code:?}"))
        .or_insert(0) += 1;
}

/// Calls `call` every `period` until `until`, recording each outcome.
fn steady<F, Fut>(
    client: Ec2ServiceClient<Channel>,
    period: Duration,
    until: Instant,
    outcomes: Outcomes,
    call: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(Ec2ServiceClient<Channel>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), tonic::Status>> + Send,
{
    tokio::spawn(async move {
        let mut every = tokio::time::interval(period);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        while Instant::now() < until {
            every.tick().await;
            let code = match call(client.clone()).await {
                Ok(()) => Code::Ok,
                Err(status) => status.code(),
            };
            record(&outcomes, code);
        }
    })
}

pub async fn run(seconds: u64) -> Value {
    let standin = Standin::builder()
        .seed(2000, 50)
        .start()
        .await
        .expect("stand-in");
    let ids: Vec<String> =
        standin.with_account(|a| a.instances.iter().map(|i| i.id.clone()).collect());
    let gateway = GatewayProcess::start(&standin.endpoint(), &[], "p7").await;
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let outcomes: Outcomes = Arc::default();
    let mut load = Vec::new();
    for id in ids.into_iter().take(POLLERS) {
        load.push(steady(
            gateway.client().await,
            Duration::from_millis(100),
            until,
            outcomes.clone(),
            move |mut client| {
                let request = pb::DescribeInstancesRequest {
                    instance_ids: vec![id.clone()],
                    ..Default::default()
                };
                async move { client.describe_instances(request).await.map(|_| ()) }
            },
        ));
    }
    for n in 0..5 {
        load.push(steady(
            gateway.client().await,
            Duration::from_millis(500),
            until,
            outcomes.clone(),
            move |mut client| {
                let request = pb::DescribeInstancesRequest {
                    filters: vec![pb::Filter {
                        name: "tag:Name".into(),
                        values: vec![format!("seed-{n}")],
                    }],
                    ..Default::default()
                };
                async move { client.describe_instances(request).await.map(|_| ()) }
            },
        ));
    }
    load.push(steady(
        gateway.client().await,
        Duration::from_secs(10),
        until,
        outcomes.clone(),
        |mut client| async move {
            let request = pb::DescribeInstancesStreamRequest {
                max_results: Some(1000),
                ..Default::default()
            };
            let mut stream = client
                .describe_instances_stream(request)
                .await?
                .into_inner();
            let mut count = 0;
            while let Some(message) = stream.message().await? {
                count += instances_in(&message.reservations);
            }
            assert_eq!(count, 2000, "a stream reads every instance");
            Ok(())
        },
    ));
    load.push(steady(
        gateway.client().await,
        Duration::from_secs(1),
        until,
        outcomes.clone(),
        |mut client| async move {
            let request = pb::DescribeNetworkInterfacesRequest::default();
            client
                .describe_network_interfaces(request)
                .await
                .map(|_| ())
        },
    ));

    let mut rss = Vec::new();
    while Instant::now() < until {
        rss.push([started.elapsed().as_secs_f64(), gateway.rss_mib()]);
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    for task in load {
        task.await.expect("a load task");
    }
    rss.push([started.elapsed().as_secs_f64(), gateway.rss_mib()]);
    let outcomes = outcomes.lock().expect("lock").clone();
    let calls: u64 = outcomes.values().sum();
    let expected = ["Ok", "Unavailable", "ResourceExhausted"];
    let (expected_errors, unexpected): (BTreeMap<_, _>, BTreeMap<_, _>) = outcomes
        .into_iter()
        .filter(|(code, _)| code != "Ok")
        .partition(|(code, _)| expected.contains(&code.as_str()));
    let unexpected_errors: u64 = unexpected.values().sum();
    eprintln!(
        "p7: {calls} calls in {seconds} s; RSS {:.1} -> {:.1} MiB; expected refusals {expected_errors:?}; unexpected {unexpected:?}",
        rss[0][1],
        rss[rss.len() - 1][1]
    );
    json!({
        "seconds": started.elapsed().as_secs_f64(),
        "rss_mib": rss,
        "calls": calls,
        "expected_errors": expected_errors,
        "unexpected_errors": unexpected_errors,
        "unexpected": unexpected,
    })
}
