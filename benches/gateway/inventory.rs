//! P9: the instance inventory. A thousand watchers on 10,000 instances against EC2's calls,
//! the time from a state change made through the gateway to the event at its watcher, and a
//! 100,000-instance DescribeInstancesStream from the view against the SDK's paginator on the
//! stand-in, with the gateway's memory holding those 100,000 instances.

use crate::support::{self, GatewayProcess, QUOTA_LIFTED, percentile};
use ec2_grpc::pb;
use ec2_grpc::pb::ec2_service_client::Ec2ServiceClient;
use ec2_standin::Standin;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;
use tonic::Streaming;
use tonic::transport::Channel;

/// Watchers of P9a.
const WATCHERS: usize = 1000;
/// Instances of P9a.
const INSTANCES: usize = 10_000;
/// The view's full list period in P9a (seconds).
const RESYNC_SECONDS: u64 = 10;
/// State changes timed in P9a (StopInstances' request bucket holds 50).
const CHANGES: usize = 50;
/// Instances of P9b.
const BIG_VIEW: usize = 100_000;

/// Runs P9a and P9b.
pub async fn run() -> Value {
    let watchers = watchers().await;
    let big = big_view().await;
    json!({ "watchers": watchers, "big_view": big })
}

fn filter(name: &str, value: &str) -> pb::Filter {
    pb::Filter {
        name: name.into(),
        values: vec![value.into()],
    }
}

/// Reads `watch` until its initial list is complete.
async fn until_listed(watch: &mut Streaming<pb::WatchInstancesResponse>) {
    while let Some(m) = watch.message().await.expect("watch") {
        if m.r#type() == pb::WatchEventType::InitialListComplete {
            return;
        }
    }
    panic!("the watch ended before its initial list was complete");
}

/// The gateway's flags for P9: the inventory on, the caller quota lifted (one process is the
/// thousand watchers), room for thousands of streams.
fn flags(resync: u64) -> Vec<String> {
    let mut flags: Vec<String> = QUOTA_LIFTED.iter().map(|f| f.to_string()).collect();
    flags.extend(
        [
            "--inventory-resync-seconds",
            &resync.to_string(),
            "--inventory-refresh-ms",
            "500",
            "--max-concurrent-calls",
            "100000",
        ]
        .map(str::to_owned),
    );
    flags
}

/// P9a: 1,000 watchers, each of one instance, on 10,000 instances with EC2's throttling; 50
/// stops through the gateway, each timed from the call to its watcher's event (and the stop's
/// own answer, for comparison); EC2's DescribeInstances calls counted over three idle resyncs,
/// then over three resyncs with the stops.
async fn watchers() -> Value {
    let standin = Standin::builder()
        .seed(INSTANCES, 0)
        .transition(Duration::from_secs(2))
        .start()
        .await
        .expect("stand-in");
    let args = flags(RESYNC_SECONDS);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let gateway = GatewayProcess::start(&standin.endpoint(), &args, "p9-watchers").await;
    let ids: Vec<String> =
        standin.with_account(|a| a.instances.iter().map(|i| i.id.clone()).collect());
    // HTTP/2: at most 256 streams per connection; 1,000 watchers over 8 connections.
    let mut clients: Vec<Ec2ServiceClient<Channel>> = Vec::new();
    for _ in 0..8 {
        clients.push(gateway.client().await);
    }
    let open_started = Instant::now();
    let mut watches = Vec::with_capacity(WATCHERS);
    for (n, id) in ids.iter().take(WATCHERS).enumerate() {
        let mut client = clients[n % clients.len()].clone();
        let mut watch = client
            .watch_instances(pb::WatchInstancesRequest {
                filters: vec![filter("instance-id", id)],
                ..Default::default()
            })
            .await
            .expect("watch")
            .into_inner();
        until_listed(&mut watch).await;
        watches.push(watch);
    }
    let opened_in = open_started.elapsed();

    // Idle: the watchers open, nothing changes; EC2 should see the full lists alone.
    let idle_started = Instant::now();
    let idle_before = standin.counters("DescribeInstances").calls;
    tokio::time::sleep(Duration::from_secs(RESYNC_SECONDS * 3)).await;
    let idle_calls = standin.counters("DescribeInstances").calls - idle_before;
    let idle_window = idle_started.elapsed().as_secs_f64();

    let window_started = Instant::now();
    let calls_before = standin.counters("DescribeInstances").calls;
    let mut client = clients[0].clone();
    let mut latencies_ms = Vec::with_capacity(CHANGES);
    let mut answers_ms = Vec::with_capacity(CHANGES);
    for n in 0..CHANGES {
        let id = ids[n].clone();
        let started = Instant::now();
        let mut stop = client
            .stop_instances(pb::StopInstancesRequest {
                selection: Some(pb::InstanceSelection {
                    instance_ids: vec![id.clone()],
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .expect("stop")
            .into_inner();
        while stop.message().await.expect("stop").is_some() {}
        answers_ms.push(started.elapsed().as_secs_f64() * 1e3);
        loop {
            let m = watches[n]
                .message()
                .await
                .expect("watch")
                .expect("the watch goes on");
            if m.r#type() == pb::WatchEventType::Modified {
                break;
            }
        }
        latencies_ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    // Let the window cover whole resync periods, so the list pages are counted fairly.
    let settle = Duration::from_secs(RESYNC_SECONDS * 3).saturating_sub(window_started.elapsed());
    tokio::time::sleep(settle).await;
    let window = window_started.elapsed().as_secs_f64();
    let calls = standin.counters("DescribeInstances").calls - calls_before;
    let throttled = standin.counters("DescribeInstances").throttled;
    let pages_per_list = INSTANCES.div_ceil(1000) as f64;
    let list_calls_per_sec = pages_per_list / RESYNC_SECONDS as f64;
    drop(watches);
    json!({
        "watchers": WATCHERS,
        "instances": INSTANCES,
        "resync_seconds": RESYNC_SECONDS,
        "opened_secs": opened_in.as_secs_f64(),
        "idle_window_secs": idle_window,
        "idle_describe_calls": idle_calls,
        "idle_describe_calls_per_sec": idle_calls as f64 / idle_window,
        "window_secs": window,
        "describe_calls": calls,
        "describe_calls_per_sec": calls as f64 / window,
        "list_calls_per_sec": list_calls_per_sec,
        "throttled": throttled,
        "changes": CHANGES,
        "event_p50_ms": percentile(&latencies_ms, 50.0),
        "event_p99_ms": percentile(&latencies_ms, 99.0),
        "stop_answer_p50_ms": percentile(&answers_ms, 50.0),
        "pollers_equivalent_calls_per_sec": WATCHERS as f64 / 15.0,
        "rss_mib": gateway.rss_mib(),
    })
}

/// P9b: DescribeInstancesStream of 100,000 instances from the view (`max_staleness`) against
/// the SDK's own paginator on the stand-in, and the gateway's memory with them in its view.
async fn big_view() -> Value {
    let standin = support::unthrottled_standin(BIG_VIEW).await;
    let args = flags(3600);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let gateway = GatewayProcess::start(&standin.endpoint(), &args, "p9-view").await;
    let mut client = gateway.client().await;
    // The first list is in once a watch has listed (one instance: cheap).
    let first = standin.with_account(|a| a.instances[0].id.clone());
    let listed_started = Instant::now();
    let mut watch = client
        .watch_instances(pb::WatchInstancesRequest {
            filters: vec![filter("instance-id", &first)],
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();
    until_listed(&mut watch).await;
    let first_list = listed_started.elapsed();
    drop(watch);
    let rss_after_list = gateway.rss_mib();

    let mut view_secs = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let mut stream = client
            .describe_instances_stream(pb::DescribeInstancesStreamRequest {
                max_staleness: Some(prost_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
                ..Default::default()
            })
            .await
            .expect("stream")
            .into_inner();
        let mut count = 0;
        while let Some(m) = stream.message().await.expect("stream") {
            assert!(m.staleness.is_some(), "served by the view");
            count += support::instances_in(&m.reservations);
        }
        assert_eq!(count, BIG_VIEW);
        view_secs.push(started.elapsed().as_secs_f64());
    }
    let sdk = support::sdk(&standin.endpoint());
    let mut sdk_secs = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let mut pages = sdk
            .describe_instances()
            .max_results(1000)
            .into_paginator()
            .send();
        let mut count = 0;
        while let Some(page) = pages.next().await {
            count += page
                .expect("page")
                .reservations()
                .iter()
                .map(|r| r.instances().len())
                .sum::<usize>();
        }
        assert_eq!(count, BIG_VIEW);
        sdk_secs.push(started.elapsed().as_secs_f64());
    }
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    json!({
        "instances": BIG_VIEW,
        "first_list_secs": first_list.as_secs_f64(),
        "view_stream_secs": best(&view_secs),
        "sdk_paginator_secs": best(&sdk_secs),
        "speedup": best(&sdk_secs) / best(&view_secs),
        "rss_mib": rss_after_list,
        "peak_rss_mib": gateway.peak_rss_mib(),
    })
}
