//! P9 events (issue 28's P9b): EC2's events into the view. 1,000 watchers on 10,000 stand-in
//! instances, the view's full list 10 minutes away; an instance stopped behind the gateway's
//! back, then its state-change event sent to the queue (moto's SQS), timed to the watcher's
//! MODIFIED: one at a time (each its own debounce window), then a burst of 100 at once,
//! counting the EC2 DescribeInstances calls each costs.

use crate::support::{GatewayProcess, MotoServer, QUOTA_LIFTED, percentile};
use ec2_grpc::pb;
use ec2_grpc::pb::ec2_service_client::Ec2ServiceClient;
use ec2_standin::Standin;
use ec2_standin::model::State;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;
use tonic::Streaming;
use tonic::transport::Channel;

/// Watchers, each of one instance.
const WATCHERS: usize = 1000;
/// Instances in the stand-in.
const INSTANCES: usize = 10_000;
/// Events timed one at a time.
const ONE_BY_ONE: usize = 100;
/// Events of the burst.
const BURST: usize = 100;
/// The gateway's debounce window (its default).
const DEBOUNCE_MS: u64 = 250;

/// The SQS client of moto.
async fn sqs(endpoint: &str) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "testing", "testing", None, None, "bench",
        ))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// A state-change event of `id`, as EventBridge delivers it.
fn event(id: &str) -> String {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "123456789012",
        "time": "2026-12-05T10:00:00Z",
        "region": "us-east-1",
        "resources": [format!("arn:aws:ec2:us-east-1:123456789012:instance/{id}")],
        "detail": { "instance-id": id, "state": "stopped" },
    })
    .to_string()
}

/// Stops instance number `n` in the stand-in, behind the gateway's back.
fn stop_behind(standin: &Standin, n: usize) {
    standin.with_account_mut(|account| account.instances[n].state = State::Stopped);
}

/// Reads `watch` until a MODIFIED.
async fn until_modified(watch: &mut Streaming<pb::WatchInstancesResponse>) {
    while let Some(m) = watch.message().await.expect("watch") {
        if m.r#type() == pb::WatchEventType::Modified {
            return;
        }
    }
    panic!("the watch ended");
}

/// Runs the scenario.
pub async fn run() -> Value {
    let standin = Standin::builder()
        .seed(INSTANCES, 0)
        .start()
        .await
        .expect("stand-in");
    let moto = MotoServer::start().await;
    let sqs = sqs(&moto.endpoint).await;
    let queue = sqs
        .create_queue()
        .queue_name("ec2-events")
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("queue url");
    let mut args: Vec<String> = QUOTA_LIFTED.iter().map(|f| f.to_string()).collect();
    args.extend(
        [
            "--inventory-resync-seconds",
            "600",
            "--inventory-events-queue-url",
            &queue,
            "--inventory-events-debounce-ms",
            &DEBOUNCE_MS.to_string(),
            "--max-concurrent-calls",
            "100000",
        ]
        .map(str::to_owned),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let gateway = GatewayProcess::start_with_env(
        &standin.endpoint(),
        &args,
        &[("AWS_ENDPOINT_URL_SQS", moto.endpoint.as_str())],
        "p9-events",
    )
    .await;
    let ids: Vec<String> =
        standin.with_account(|a| a.instances.iter().map(|i| i.id.clone()).collect());
    let mut clients: Vec<Ec2ServiceClient<Channel>> = Vec::new();
    for _ in 0..8 {
        clients.push(gateway.client().await);
    }
    let mut watches = Vec::with_capacity(WATCHERS);
    for (n, id) in ids.iter().take(WATCHERS).enumerate() {
        let mut watch = clients[n % clients.len()]
            .clone()
            .watch_instances(pb::WatchInstancesRequest {
                instance_ids: vec![id.clone()],
                ..Default::default()
            })
            .await
            .expect("watch")
            .into_inner();
        while let Some(m) = watch.message().await.expect("watch") {
            if m.r#type() == pb::WatchEventType::InitialListComplete {
                break;
            }
        }
        watches.push(watch);
    }

    // One at a time: each event its own window.
    let before = standin.counters("DescribeInstances").calls;
    let mut latencies_ms = Vec::with_capacity(ONE_BY_ONE);
    for n in 0..ONE_BY_ONE {
        stop_behind(&standin, n);
        let started = Instant::now();
        sqs.send_message()
            .queue_url(&queue)
            .message_body(event(&ids[n]))
            .send()
            .await
            .expect("send the event");
        until_modified(&mut watches[n]).await;
        latencies_ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let one_by_one_calls = standin.counters("DescribeInstances").calls - before;

    // A burst: 100 events sent at once (ten batches of ten), every watcher timed.
    let burst: Vec<usize> = (ONE_BY_ONE..ONE_BY_ONE + BURST).collect();
    let before = standin.counters("DescribeInstances").calls;
    for &n in &burst {
        stop_behind(&standin, n);
    }
    let started = Instant::now();
    for chunk in burst.chunks(10) {
        let entries = chunk
            .iter()
            .map(|&n| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(n.to_string())
                    .message_body(event(&ids[n]))
                    .build()
                    .expect("entry")
            })
            .collect();
        sqs.send_message_batch()
            .queue_url(&queue)
            .set_entries(Some(entries))
            .send()
            .await
            .expect("send the events");
    }
    let mut burst_ms = Vec::with_capacity(BURST);
    for &n in &burst {
        until_modified(&mut watches[n]).await;
        burst_ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let burst_calls = standin.counters("DescribeInstances").calls - before;
    json!({
        "watchers": WATCHERS,
        "instances": INSTANCES,
        "debounce_ms": DEBOUNCE_MS,
        "one_by_one": ONE_BY_ONE,
        "event_p50_ms": percentile(&latencies_ms, 50.0),
        "event_p99_ms": percentile(&latencies_ms, 99.0),
        "one_by_one_describe_calls": one_by_one_calls,
        "burst": BURST,
        "burst_p50_ms": percentile(&burst_ms, 50.0),
        "burst_p99_ms": percentile(&burst_ms, 99.0),
        "burst_describe_calls": burst_calls,
        "rss_mib": gateway.rss_mib(),
    })
}
