//! EC2's events into the view, end to end on moto: an SQS queue with an EventBridge rule
//! delivering EC2's events to it (`scripts/ec2_events.py` plays EC2 and AWS Health,
//! putting events on the bus as they would), the binary reading the queue with its full list
//! set to 10 minutes, and EC2 calls counted by a proxy in front of moto's EC2.

use crate::counting_proxy::CountingProxy;
use crate::support::{self, GatewayProcess, Moto};
use ec2_grpc::pb;
use ec2_grpc::pb::ec2_service_client::Ec2ServiceClient;
use std::time::Duration;
use tokio::time::timeout;
use tonic::Streaming;

/// Runs the EC2 side's script with `args`; returns what it printed.
async fn ec2_side(moto: &Moto, args: &[&str]) -> String {
    let output = tokio::process::Command::new(support::tool(".venv/bin/python"))
        .arg(support::tool("scripts/ec2_events.py"))
        .arg(&moto.endpoint)
        .args(args)
        .output()
        .await
        .expect("run ec2_events.py");
    assert!(
        output.status.success(),
        "ec2_events.py {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The binary in front of `proxy` (EC2) reading `queue` on moto's SQS, its full list every
/// 10 minutes.
async fn gateway(moto: &Moto, proxy: &CountingProxy, queue: &str) -> GatewayProcess {
    GatewayProcess::start_with(
        &proxy.endpoint,
        &[
            "--inventory-resync-seconds",
            "600",
            "--inventory-events-queue-url",
            queue,
            "--metrics-listen",
            "127.0.0.1:0",
        ],
        &[("AWS_ENDPOINT_URL_SQS", moto.endpoint.as_str())],
    )
    .await
}

/// Watches `id` and reads its initial list.
async fn watch(process: &GatewayProcess, id: &str) -> Streaming<pb::WatchInstancesResponse> {
    let mut client = Ec2ServiceClient::new(support::channel(process.addr).await);
    let mut watch = client
        .watch_instances(pb::WatchInstancesRequest {
            instance_ids: vec![id.to_owned()],
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();
    next(&mut watch, pb::WatchEventType::InitialListComplete).await;
    watch
}

/// The next message of `kind` (bookmarks skipped; another kind fails the test).
async fn next(
    watch: &mut Streaming<pb::WatchInstancesResponse>,
    kind: pb::WatchEventType,
) -> pb::WatchInstancesResponse {
    loop {
        let message = timeout(Duration::from_secs(30), watch.message())
            .await
            .expect("a message within 30 s")
            .expect("the watch goes on")
            .expect("the watch goes on");
        match message.r#type() {
            pb::WatchEventType::Bookmark => continue,
            pb::WatchEventType::Added if kind != pb::WatchEventType::Added => continue,
            found => {
                assert_eq!(found, kind, "{message:?}");
                return message;
            }
        }
    }
}

/// The state a watch message shows.
fn state(message: &pb::WatchInstancesResponse) -> String {
    let instance = message.instance.as_ref().expect("an instance");
    instance.state.as_ref().expect("a state").name.clone()
}

/// DescribeInstances calls by the `instance-id` filter, and any without it (a full list).
fn describes(proxy: &CountingProxy) -> (usize, usize) {
    let forms = proxy.forms("DescribeInstances");
    let by_id = forms
        .iter()
        .filter(|f| f.get("Filter.1.Name").is_some_and(|n| n == "instance-id"))
        .count();
    (by_id, forms.len() - by_id)
}

#[tokio::test]
async fn a_stop_behind_the_gateways_back_reaches_watchers_through_its_event() {
    let moto = Moto::start().await;
    let (sdk, _) = moto.sdk();
    let image = moto.image_id().await;
    let id = crate::describe::launch(&sdk, &image, 1, "events")
        .await
        .remove(0);
    let queue = ec2_side(&moto, &["setup", "ec2-events"]).await;
    let proxy = CountingProxy::start(&moto.endpoint, None).await;
    let process = gateway(&moto, &proxy, &queue).await;
    let mut watching = watch(&process, &id).await;
    let (by_id_before, lists) = describes(&proxy);
    assert_eq!(lists, 1, "the first full list only");

    // Stopped behind the gateway's back (boto3's way to moto), then EC2's event.
    sdk.stop_instances()
        .instance_ids(&id)
        .send()
        .await
        .expect("stop directly");
    ec2_side(&moto, &["put", "state-change", &id, "stopped"]).await;
    let changed = next(&mut watching, pb::WatchEventType::Modified).await;
    assert_eq!(state(&changed), "stopped");
    let (by_id, lists) = describes(&proxy);
    assert_eq!(
        by_id - by_id_before,
        1,
        "one DescribeInstances by id for the event"
    );
    assert_eq!(lists, 1, "no full list: the next is 10 minutes away");

    // A stale event (EC2 said `running` before it stopped) and a redelivery change nothing:
    // the view asks EC2, which says stopped.
    ec2_side(&moto, &["put", "state-change", &id, "running"]).await;
    ec2_side(&moto, &["put", "state-change", &id, "running"]).await;
    // Events are handled in order of arrival: a spot warning after them proves they were.
    ec2_side(&moto, &["put", "spot", &id, "hibernate"]).await;
    let advisory = next(&mut watching, pb::WatchEventType::Advisory).await;
    assert_eq!(
        state(&advisory),
        "stopped",
        "the stale event left the view at stopped"
    );
    let said = advisory.advisory.expect("the advisory");
    assert_eq!(said.kind(), pb::AdvisoryKind::SpotInterruption);
    assert_eq!(
        (said.instance_id.as_str(), said.action.as_str()),
        (id.as_str(), "hibernate")
    );
    let issued = said.issued.expect("issued").seconds;
    assert_eq!(said.not_before.expect("when").seconds, issued + 120);

    // A scheduled change from AWS Health, with its window; WaitInstances says it too.
    ec2_side(&moto, &["put", "scheduled", &id]).await;
    let scheduled = next(&mut watching, pb::WatchEventType::Advisory).await;
    let change = scheduled.advisory.expect("the advisory");
    assert_eq!(change.kind(), pb::AdvisoryKind::ScheduledChange);
    assert_eq!(
        change.action,
        "AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED"
    );
    let window = change.not_after.expect("end").seconds - change.not_before.expect("start").seconds;
    assert_eq!(window, 7200);
    let mut client = Ec2ServiceClient::new(support::channel(process.addr).await);
    let mut waiting = client
        .wait_instances(pb::WaitInstancesRequest {
            instance_ids: vec![id.clone()],
            target: pb::WaitTarget::Terminated as i32,
            ..Default::default()
        })
        .await
        .expect("wait")
        .into_inner();
    let progress = waiting
        .message()
        .await
        .expect("progress")
        .expect("progress");
    let kinds: Vec<pb::AdvisoryKind> = progress.advisories.iter().map(|a| a.kind()).collect();
    assert_eq!(
        kinds,
        [
            pb::AdvisoryKind::SpotInterruption,
            pb::AdvisoryKind::ScheduledChange
        ],
        "why the instance may go away"
    );
    let (by_id_after, lists) = describes(&proxy);
    assert_eq!(lists, 1);
    println!(
        "events: 5 events -> {} DescribeInstances by id, no full list",
        by_id_after - by_id_before
    );
    assert_eq!(
        process
            .metric_with("ec2_inventory_event_messages_total", "state_change")
            .await,
        Some(3.0)
    );
    // Deleted once handled: the last window's delete follows its advisory.
    let deleted = timeout(Duration::from_secs(30), async {
        while process.metric("ec2_inventory_event_deleted_total").await != Some(5.0) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(deleted.is_ok(), "all 5 messages deleted");
}

#[tokio::test]
async fn garbage_is_counted_and_deleted_and_the_next_event_still_handled() {
    let moto = Moto::start().await;
    let (sdk, _) = moto.sdk();
    let image = moto.image_id().await;
    let id = crate::describe::launch(&sdk, &image, 1, "garbage")
        .await
        .remove(0);
    let queue = ec2_side(&moto, &["setup", "ec2-garbage"]).await;
    ec2_side(&moto, &["garbage", &queue, "100"]).await;
    let proxy = CountingProxy::start(&moto.endpoint, None).await;
    let process = gateway(&moto, &proxy, &queue).await;
    let mut watching = watch(&process, &id).await;
    sdk.terminate_instances()
        .instance_ids(&id)
        .send()
        .await
        .expect("terminate directly");
    ec2_side(&moto, &["put", "state-change", &id, "shutting-down"]).await;
    let changed = next(&mut watching, pb::WatchEventType::Modified).await;
    assert_eq!(state(&changed), "terminated");
    assert_eq!(
        process
            .metric_with("ec2_inventory_event_messages_total", "malformed")
            .await,
        Some(100.0)
    );
    assert_eq!(
        ec2_side(&moto, &["depth", &queue]).await,
        "0",
        "all deleted"
    );
}

#[tokio::test]
async fn with_sqs_unreachable_the_view_keeps_its_lists_and_health_serves() {
    let moto = Moto::start().await;
    let (sdk, _) = moto.sdk();
    let image = moto.image_id().await;
    let id = crate::describe::launch(&sdk, &image, 1, "no-sqs")
        .await
        .remove(0);
    let closed = support::free_port().await;
    let process = GatewayProcess::start_with(
        &moto.endpoint,
        &[
            "--inventory-resync-seconds",
            "1",
            "--inventory-events-queue-url",
            &format!("http://127.0.0.1:{closed}/123456789012/gone"),
            "--metrics-listen",
            "127.0.0.1:0",
        ],
        &[(
            "AWS_ENDPOINT_URL_SQS",
            &format!("http://127.0.0.1:{closed}"),
        )],
    )
    .await;
    let mut watching = watch(&process, &id).await;
    sdk.stop_instances()
        .instance_ids(&id)
        .send()
        .await
        .expect("stop directly");
    let changed = next(&mut watching, pb::WatchEventType::Modified).await;
    assert_eq!(state(&changed), "stopped", "the full list still covers");
    let health = support::grpcurl(&[
        "-plaintext",
        &process.addr.to_string(),
        "grpc.health.v1.Health/Check",
    ])
    .await;
    assert!(health.contains("SERVING"), "{health}");
    // The receive fails after the SDK's own retries; then it is counted.
    let counted = timeout(Duration::from_secs(60), async {
        loop {
            let failures = process
                .metric_with("ec2_inventory_event_failures_total", "receive")
                .await;
            if failures.is_some_and(|n| n >= 1.0) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(
        counted.is_ok(),
        "no receive failure counted: {:?}",
        process.logs
    );
}

#[tokio::test]
async fn three_replicas_sharing_redis_all_hear_the_event_one_of_them_received() {
    let moto = Moto::start().await;
    let (sdk, _) = moto.sdk();
    let image = moto.image_id().await;
    let id = crate::describe::launch(&sdk, &image, 1, "replicas")
        .await
        .remove(0);
    let queue = ec2_side(&moto, &["setup", "ec2-replicas"]).await;
    let redis = support::Redis::start().await;
    let proxy = CountingProxy::start(&moto.endpoint, None).await;
    let url = redis.url();
    let mut replicas = Vec::new();
    for _ in 0..3 {
        let process = GatewayProcess::start_with(
            &proxy.endpoint,
            &[
                "--inventory-resync-seconds",
                "600",
                "--inventory-events-queue-url",
                &queue,
                "--ec2-budget-redis-url",
                &url,
            ],
            &[("AWS_ENDPOINT_URL_SQS", moto.endpoint.as_str())],
        )
        .await;
        replicas.push(process);
    }
    let mut watches = Vec::new();
    for process in &replicas {
        watches.push(watch(process, &id).await);
    }
    let (by_id_before, _) = describes(&proxy);
    sdk.stop_instances()
        .instance_ids(&id)
        .send()
        .await
        .expect("stop directly");
    ec2_side(&moto, &["put", "state-change", &id, "stopped"]).await;
    ec2_side(&moto, &["put", "rebalance", &id]).await;
    for watching in &mut watches {
        let changed = next(watching, pb::WatchEventType::Modified).await;
        assert_eq!(state(&changed), "stopped");
        let advisory = next(watching, pb::WatchEventType::Advisory).await;
        assert_eq!(
            advisory.advisory.expect("advisory").kind(),
            pb::AdvisoryKind::RebalanceRecommendation
        );
    }
    let (by_id, lists) = describes(&proxy);
    assert_eq!(lists, 3, "each replica's first full list, no other");
    assert!(
        (1..=2).contains(&(by_id - by_id_before)),
        "the replica that received an event describes; the others are told: {} calls",
        by_id - by_id_before
    );
}
