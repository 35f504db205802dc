//! The instance inventory: WatchInstances, WaitInstances and `max_staleness` reads, against
//! the project's stand-in (with EC2's pending -> running, stopping -> stopped transitions, and
//! changes made behind the gateway's back) and, for filter fidelity, against moto.

use crate::support::{self, Moto};
use aws_sdk_ec2::types::{
    Filter as SdkFilter, InstanceType, ResourceType, Tag as SdkTag, TagSpecification,
};
use ec2_grpc::inventory::InventorySettings;
use ec2_grpc::inventory::filter::SUPPORTED;
use ec2_grpc::pb;
use ec2_grpc::pb::ec2_service_client::Ec2ServiceClient;
use ec2_grpc::protection::Limits;
use ec2_standin::Standin;
use ec2_standin::model::{LaunchSpec, State};
use futures_util::StreamExt;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;
use tokio::time::timeout;
use tonic::transport::Channel;
use tonic::{Code, Streaming};
use tonic_types::StatusExt;

/// The inventory as a test drives it: quick lists and refreshes.
fn settings(resync: Duration, history: usize) -> InventorySettings {
    InventorySettings {
        resync,
        refresh: Duration::from_millis(100),
        history,
        ..InventorySettings::default()
    }
}

/// Limits roomy enough for thousands of open streams from one caller.
fn roomy() -> Limits {
    Limits {
        caller_rate: 100_000.0,
        caller_burst: 100_000.0,
        max_concurrent_calls: 8192,
    }
}

/// One watch event, as the assertions read it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Event {
    kind: pb::WatchEventType,
    id: String,
    state: String,
    revision: String,
}

impl From<pb::WatchInstancesResponse> for Event {
    fn from(m: pb::WatchInstancesResponse) -> Event {
        let kind = m.r#type();
        let instance = m.instance.unwrap_or_default();
        Event {
            kind,
            state: instance.state.map(|s| s.name).unwrap_or_default(),
            id: instance.instance_id,
            revision: m.revision,
        }
    }
}

/// The next event of `watch` that is not a bookmark (within 30 s).
async fn next_event(watch: &mut Streaming<pb::WatchInstancesResponse>) -> Event {
    loop {
        let message = timeout(Duration::from_secs(30), watch.message())
            .await
            .expect("an event within 30 s")
            .expect("the watch goes on")
            .expect("the watch goes on");
        let event = Event::from(message);
        if event.kind != pb::WatchEventType::Bookmark {
            return event;
        }
    }
}

/// Reads `watch` until an event satisfies `wanted`; returns every event read, that one last.
async fn events_until(
    watch: &mut Streaming<pb::WatchInstancesResponse>,
    wanted: impl Fn(&Event) -> bool,
) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        let event = next_event(watch).await;
        let done = wanted(&event);
        seen.push(event);
        if done {
            return seen;
        }
    }
}

/// Starts a watch.
async fn watch(
    client: &mut Ec2ServiceClient<Channel>,
    request: pb::WatchInstancesRequest,
) -> Streaming<pb::WatchInstancesResponse> {
    client
        .watch_instances(request)
        .await
        .expect("watch starts")
        .into_inner()
}

/// The initial list of a watch: the ids sent as ADDED, and the revision of the list.
async fn initial_list(watch: &mut Streaming<pb::WatchInstancesResponse>) -> (Vec<String>, String) {
    let events = events_until(watch, |e| e.kind == pb::WatchEventType::InitialListComplete).await;
    let (complete, added) = events.split_last().expect("the list complete marker");
    assert!(added.iter().all(|e| e.kind == pb::WatchEventType::Added));
    (
        added.iter().map(|e| e.id.clone()).collect(),
        complete.revision.clone(),
    )
}

fn filter(name: &str, values: &[&str]) -> pb::Filter {
    pb::Filter {
        name: name.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

fn by_ids(ids: &[String]) -> Option<pb::InstanceSelection> {
    Some(pb::InstanceSelection {
        instance_ids: ids.to_vec(),
        ..Default::default()
    })
}

/// Stops `ids` through the gateway, reading the action stream to its end.
async fn stop(client: &mut Ec2ServiceClient<Channel>, ids: &[String]) {
    let mut stream = client
        .stop_instances(pb::StopInstancesRequest {
            selection: by_ids(ids),
            ..Default::default()
        })
        .await
        .expect("stop")
        .into_inner();
    while stream.message().await.expect("stop stream").is_some() {}
}

/// The stand-in's instance ids, in launch order.
fn standin_ids(standin: &Standin) -> Vec<String> {
    standin.with_account(|a| a.instances.iter().map(|i| i.id.clone()).collect())
}

/// The stand-in with `instances` seeded (never throttling; pending, stopping and
/// shutting-down lasting `transition`) and the gateway over it with the inventory on.
struct Fixture {
    standin: Standin,
    /// Kept alive for the test: dropping it shuts the gateway down.
    gateway: support::Gateway,
    client: Ec2ServiceClient<Channel>,
    /// The stand-in's instance ids, in launch order.
    ids: Vec<String>,
}

async fn fixture(
    instances: usize,
    transition: Duration,
    resync: Duration,
    history: usize,
) -> Fixture {
    let standin = Standin::builder()
        .without_throttling()
        .transition(transition)
        .seed(instances, 0)
        .start()
        .await
        .expect("stand-in");
    let gateway =
        support::inventory_gateway(&standin.endpoint(), settings(resync, history), roomy()).await;
    let client = gateway.client.clone();
    let ids = standin_ids(&standin);
    Fixture {
        standin,
        gateway,
        client,
        ids,
    }
}

#[tokio::test]
async fn a_watch_sees_changes_made_through_the_gateway_and_behind_its_back() {
    let Fixture {
        standin,
        gateway: _gateway,
        mut client,
        ids,
    } = fixture(
        12,
        Duration::from_millis(300),
        Duration::from_secs(1),
        10_000,
    )
    .await;

    let mut all = watch(&mut client, pb::WatchInstancesRequest::default()).await;
    let mut running = watch(
        &mut client,
        pb::WatchInstancesRequest {
            filters: vec![filter("instance-state-name", &["running"])],
            ..Default::default()
        },
    )
    .await;
    let (listed, _) = initial_list(&mut all).await;
    assert_eq!(listed.iter().collect::<BTreeSet<_>>(), ids.iter().collect());
    let (listed_running, _) = initial_list(&mut running).await;
    assert_eq!(listed_running.len(), 12);

    // Through the gateway: stopping -> stopped, seen at once (targeted refresh), and the
    // instance leaves the `running` watcher's filter: DELETED there.
    let target = ids[3].clone();
    stop(&mut client, std::slice::from_ref(&target)).await;
    let seen = events_until(&mut all, |e| e.id == target && e.state == "stopped").await;
    let states: Vec<&str> = seen
        .iter()
        .filter(|e| e.id == target)
        .map(|e| e.state.as_str())
        .collect();
    assert_eq!(states, ["stopping", "stopped"], "{seen:?}");
    assert!(seen.iter().all(|e| e.kind == pb::WatchEventType::Modified));
    let left = next_event(&mut running).await;
    assert_eq!(
        (left.kind, left.id.as_str()),
        (pb::WatchEventType::Deleted, target.as_str())
    );

    // Through the gateway: a launch is ADDED pending at once, then MODIFIED running.
    let launched = client
        .run_instances(pb::RunInstancesRequest {
            image_id: "ami-0fedcba9876543210".into(),
            ..Default::default()
        })
        .await
        .expect("launch")
        .into_inner()
        .instances[0]
        .instance_id
        .clone();
    let launch = events_until(&mut all, |e| e.id == launched && e.state == "running").await;
    let first = launch.first().expect("events");
    assert_eq!(
        (first.kind, first.id.as_str(), first.state.as_str()),
        (pb::WatchEventType::Added, launched.as_str(), "pending"),
        "{launch:?}"
    );
    assert!(
        launch[1..]
            .iter()
            .all(|e| e.id == launched && e.kind == pb::WatchEventType::Modified)
    );
    let joined = next_event(&mut running).await;
    assert_eq!(
        (joined.kind, joined.id.as_str()),
        (pb::WatchEventType::Added, launched.as_str())
    );

    // Behind the gateway's back: a tag changed, an instance gone, one launched elsewhere.
    // The next full list (every second here) finds all three.
    let (tagged, gone) = (ids[5].clone(), ids[7].clone());
    let elsewhere = standin.with_account_mut(|account| {
        let index = account.instance_index[&tagged];
        account.instances[index]
            .tags
            .push(("changed".into(), "behind-the-back".into()));
        assert!(account.remove_instance(&gone));
        let reservation = account.launch(
            &LaunchSpec {
                image_id: "ami-0123".into(),
                ..LaunchSpec::default()
            },
            1,
            "2026-12-01T00:00:00.000Z",
        );
        let index = account.instances.len() - 1;
        assert_eq!(account.instances[index].reservation_id, reservation);
        account.instances[index].state = State::Running;
        account.instances[index].id.clone()
    });
    let mut pending: HashMap<String, pb::WatchEventType> = [
        (tagged.clone(), pb::WatchEventType::Modified),
        (gone.clone(), pb::WatchEventType::Deleted),
        (elsewhere.clone(), pb::WatchEventType::Added),
    ]
    .into();
    while !pending.is_empty() {
        let event = next_event(&mut all).await;
        let expected = pending.remove(&event.id);
        assert_eq!(expected, Some(event.kind), "unexpected {event:?}");
    }
    println!(
        "watch: stop seen as stopping -> stopped, launch as pending -> running, and 3 changes \
         made behind the gateway's back after a resync; EC2 DescribeInstances calls: {}",
        standin.counters("DescribeInstances").calls
    );
}

#[tokio::test]
async fn resuming_replays_each_change_once_and_an_expired_revision_means_list_again() {
    let Fixture {
        standin: _standin,
        gateway: _gateway,
        mut client,
        ids,
    } = fixture(8, Duration::ZERO, Duration::from_secs(3600), 6).await;

    // A watch that stays, and one that stops reading after the initial list.
    let mut steady = watch(&mut client, pb::WatchInstancesRequest::default()).await;
    let (_, listed_at) = initial_list(&mut steady).await;
    let dropped = {
        let mut w = watch(&mut client, pb::WatchInstancesRequest::default()).await;
        initial_list(&mut w).await.1
    };
    assert_eq!(dropped, listed_at, "nothing changed between the two lists");

    // Two changes: the stand-in settles at once, so each stop is one change (stopped).
    stop(&mut client, &ids[..2]).await;
    let live = vec![next_event(&mut steady).await, next_event(&mut steady).await];
    assert!(live.iter().all(|e| e.state == "stopped"), "{live:?}");

    // Resuming from the list's revision replays exactly what the steady watch saw: no
    // initial list, nothing twice, nothing missed.
    let mut resumed = watch(
        &mut client,
        pb::WatchInstancesRequest {
            revision: dropped.clone(),
            ..Default::default()
        },
    )
    .await;
    let replayed = vec![
        next_event(&mut resumed).await,
        next_event(&mut resumed).await,
    ];
    assert_eq!(replayed, live);
    let revisions: BTreeSet<&str> = replayed.iter().map(|e| e.revision.as_str()).collect();
    assert_eq!(revisions.len(), 2);

    // The history keeps 6 changes: 8 more (4 stops, 4 starts) push the list's revision out
    // of it, while the steady watch, reading along, keeps up.
    stop(&mut client, &ids[2..6]).await;
    for _ in 0..4 {
        assert_eq!(next_event(&mut steady).await.state, "stopped");
    }
    let mut started = client
        .start_instances(pb::StartInstancesRequest {
            selection: by_ids(&ids[2..6]),
            ..Default::default()
        })
        .await
        .expect("start")
        .into_inner();
    while started.message().await.expect("start stream").is_some() {}
    for _ in 0..4 {
        assert_eq!(next_event(&mut steady).await.state, "running");
    }
    let expired = client
        .watch_instances(pb::WatchInstancesRequest {
            revision: dropped,
            ..Default::default()
        })
        .await
        .expect("the stream starts")
        .into_inner()
        .message()
        .await
        .expect_err("the revision is no longer kept");
    assert_eq!(expired.code(), Code::OutOfRange, "{expired:?}");
    let info = expired.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "REVISION_EXPIRED");
    // A revision from another replica (another epoch) is refused the same way; a string that
    // is no revision is INVALID_ARGUMENT naming the field.
    let foreign = client
        .watch_instances(pb::WatchInstancesRequest {
            revision: "00000000.1".into(),
            ..Default::default()
        })
        .await;
    let foreign = match foreign {
        Err(status) => status,
        Ok(stream) => stream.into_inner().message().await.expect_err("refused"),
    };
    assert_eq!(foreign.code(), Code::OutOfRange, "{foreign:?}");
    let bad = client
        .watch_instances(pb::WatchInstancesRequest {
            revision: "yesterday".into(),
            ..Default::default()
        })
        .await
        .expect_err("not a revision");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(
        bad.get_details_bad_request()
            .expect("BadRequest")
            .field_violations[0]
            .field,
        "revision"
    );
    // DryRun: EC2 checks the gateway's DescribeInstances permission; one message.
    let mut dry = watch(
        &mut client,
        pb::WatchInstancesRequest {
            dry_run: true,
            ..Default::default()
        },
    )
    .await;
    let answer = dry.message().await.expect("dry run").expect("one message");
    assert!(answer.dry_run_succeeded && answer.instance.is_none());
    assert!(dry.message().await.expect("end").is_none());
    let unsupported = client
        .watch_instances(pb::WatchInstancesRequest {
            filters: vec![filter("dns-name", &["x"])],
            ..Default::default()
        })
        .await
        .expect_err("a filter the view does not evaluate");
    assert_eq!(unsupported.code(), Code::InvalidArgument);
    assert!(unsupported.message().contains("instance-state-name"));
}

/// Waits for `target` on `ids` and returns the stream's outcome: the progress messages, or
/// the error status.
async fn wait(
    client: &mut Ec2ServiceClient<Channel>,
    ids: &[String],
    target: pb::WaitTarget,
    deadline: Option<Duration>,
) -> Result<Vec<pb::WaitInstancesResponse>, tonic::Status> {
    let mut request = tonic::Request::new(pb::WaitInstancesRequest {
        instance_ids: ids.to_vec(),
        target: target as i32,
        ..Default::default()
    });
    if let Some(deadline) = deadline {
        request.set_timeout(deadline);
    }
    let mut stream = client.wait_instances(request).await?.into_inner();
    let mut progress = Vec::new();
    while let Some(message) = stream.message().await? {
        progress.push(message);
    }
    Ok(progress)
}

#[tokio::test]
async fn waits_end_when_instances_get_there_fail_when_they_cannot_and_stop_at_the_deadline() {
    let Fixture {
        standin,
        gateway: _gateway,
        mut client,
        ids,
    } = fixture(4, Duration::from_secs(1), Duration::from_secs(1), 10_000).await;

    // running: a launch of 3 is pending, then running; the stream ends OK with `done`.
    let launched: Vec<String> = client
        .run_instances(pb::RunInstancesRequest {
            image_id: "ami-0fedcba9876543210".into(),
            min_count: Some(3),
            ..Default::default()
        })
        .await
        .expect("launch")
        .into_inner()
        .instances
        .into_iter()
        .map(|i| i.instance_id)
        .collect();
    let progress = wait(&mut client, &launched, pb::WaitTarget::Running, None)
        .await
        .expect("running");
    let first = progress.first().expect("progress");
    assert_eq!((first.selected, first.ready), (3, 0), "{first:?}");
    assert_eq!(first.not_ready.len(), 3);
    let last = progress.last().expect("progress");
    assert!(
        last.done && last.ready == 3 && last.not_ready.is_empty(),
        "{last:?}"
    );

    // stopped: a stop takes a second (stopping), then the wait ends.
    stop(&mut client, &ids[..2]).await;
    let progress = wait(&mut client, &ids[..2], pb::WaitTarget::Stopped, None)
        .await
        .expect("stopped");
    assert!(progress.last().expect("progress").done);

    // running on an instance that is stopping: it can no longer get there. (The wait starts
    // once the view shows it stopping: a wait that starts first sees it running, and done.)
    let mut watching = watch(
        &mut client,
        pb::WatchInstancesRequest {
            instance_ids: ids[2..3].to_vec(),
            ..Default::default()
        },
    )
    .await;
    initial_list(&mut watching).await;
    stop(&mut client, &ids[2..3]).await;
    assert_eq!(next_event(&mut watching).await.state, "stopping");
    let failed = wait(&mut client, &ids[2..3], pb::WaitTarget::Running, None)
        .await
        .expect_err("stopping cannot become running");
    assert_eq!(failed.code(), Code::FailedPrecondition, "{failed:?}");
    let info = failed.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "WAIT_TARGET_UNREACHABLE");
    assert_eq!(info.metadata["instance_id"], ids[2]);
    assert_eq!(info.metadata["state"], "stopping");

    // terminated: through the gateway.
    let mut terminating = client
        .terminate_instances(pb::TerminateInstancesRequest {
            selection: by_ids(&launched[..1]),
            ..Default::default()
        })
        .await
        .expect("terminate")
        .into_inner();
    while terminating.message().await.expect("terminate").is_some() {}
    let progress = wait(
        &mut client,
        &launched[..1],
        pb::WaitTarget::Terminated,
        None,
    )
    .await
    .expect("terminated");
    assert!(progress.last().expect("progress").done);

    // exists: an instance launched behind the gateway's back shows up at the next list.
    let elsewhere = standin.with_account_mut(|account| {
        account.launch(
            &LaunchSpec {
                image_id: "ami-0123".into(),
                ..LaunchSpec::default()
            },
            1,
            "2026-12-01T00:00:00.000Z",
        );
        account.instances.last().expect("launched").id.clone()
    });
    let progress = wait(&mut client, &[elsewhere], pb::WaitTarget::Exists, None)
        .await
        .expect("exists");
    assert!(progress.last().expect("progress").done);

    // The deadline: ids[3] is running and nothing stops it.
    let late = wait(
        &mut client,
        &ids[3..4],
        pb::WaitTarget::Stopped,
        Some(Duration::from_secs(2)),
    )
    .await
    .expect_err("never stopped");
    assert_eq!(late.code(), Code::DeadlineExceeded, "{late:?}");

    // DryRun: one message, nothing waited for.
    let dry = client
        .wait_instances(pb::WaitInstancesRequest {
            instance_ids: ids[3..4].to_vec(),
            target: pb::WaitTarget::Stopped as i32,
            dry_run: true,
            ..Default::default()
        })
        .await
        .expect("dry run")
        .into_inner();
    let answers: Vec<_> = dry.collect::<Vec<_>>().await;
    assert_eq!(answers.len(), 1);
    assert!(
        answers[0]
            .as_ref()
            .expect("dry run answer")
            .dry_run_succeeded
    );

    // No target: INVALID_ARGUMENT naming the field.
    let untargeted = wait(&mut client, &ids[3..4], pb::WaitTarget::Unspecified, None)
        .await
        .expect_err("no target");
    assert_eq!(untargeted.code(), Code::InvalidArgument);
    assert_eq!(
        untargeted
            .get_details_bad_request()
            .expect("BadRequest")
            .field_violations[0]
            .field,
        "target"
    );
}

#[tokio::test]
async fn max_staleness_reads_come_from_the_view_without_an_ec2_call() {
    let Fixture {
        standin,
        gateway: _gateway,
        mut client,
        ..
    } = fixture(2_500, Duration::ZERO, Duration::from_secs(3600), 10_000).await;
    // The first list is in once a watch says so.
    initial_list(&mut watch(&mut client, pb::WatchInstancesRequest::default()).await).await;
    let calls = || standin.counters("DescribeInstances").calls;
    let listed = calls();
    let fresh_enough = Some(prost_types::Duration {
        seconds: 3600,
        nanos: 0,
    });

    // Unary, paged from the view: 3 pages of up to 1000, every instance once, no EC2 call.
    let mut seen = BTreeSet::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = client
            .describe_instances(pb::DescribeInstancesRequest {
                max_results: Some(1000),
                next_token: token,
                max_staleness: fresh_enough,
                ..Default::default()
            })
            .await
            .expect("describe from the view")
            .into_inner();
        assert!(page.staleness.is_some(), "answered by the view");
        pages += 1;
        for reservation in &page.reservations {
            for instance in &reservation.instances {
                assert!(seen.insert(instance.instance_id.clone()));
            }
        }
        token = page.next_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!((pages, seen.len()), (3, 2_500));

    // Filtered, and streamed: the same instances as EC2's answer, still no EC2 call.
    let team3 = client
        .describe_instances(pb::DescribeInstancesRequest {
            filters: vec![filter("tag:team", &["team-3"])],
            max_staleness: fresh_enough,
            ..Default::default()
        })
        .await
        .expect("filtered")
        .into_inner();
    let mut streamed = 0;
    let mut stream = client
        .describe_instances_stream(pb::DescribeInstancesStreamRequest {
            max_staleness: fresh_enough,
            ..Default::default()
        })
        .await
        .expect("stream")
        .into_inner();
    while let Some(message) = stream.message().await.expect("stream") {
        assert!(message.staleness.is_some());
        streamed += message
            .reservations
            .iter()
            .map(|r| r.instances.len())
            .sum::<usize>();
    }
    assert_eq!(streamed, 2_500);
    assert_eq!(calls(), listed, "the view answered every read");

    // The same filter from EC2 (no max_staleness) agrees, and costs a call.
    let direct = client
        .describe_instances(pb::DescribeInstancesRequest {
            filters: vec![filter("tag:team", &["team-3"])],
            ..Default::default()
        })
        .await
        .expect("from EC2")
        .into_inner();
    assert!(direct.staleness.is_none());
    assert_eq!(calls(), listed + 1);
    let ids = |r: &pb::DescribeInstancesResponse| -> BTreeSet<String> {
        r.reservations
            .iter()
            .flat_map(|r| r.instances.iter().map(|i| i.instance_id.clone()))
            .collect()
    };
    assert!(!ids(&team3).is_empty());
    assert_eq!(ids(&team3), ids(&direct));
    // Field for field too, grouped by reservation as EC2 groups them.
    let by_reservation = |r: pb::DescribeInstancesResponse| -> Vec<pb::Reservation> {
        let mut reservations = r.reservations;
        reservations.sort_by(|a, b| a.reservation_id.cmp(&b.reservation_id));
        for reservation in &mut reservations {
            reservation
                .instances
                .sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
        }
        reservations
    };
    assert_eq!(by_reservation(team3), by_reservation(direct));

    // A filter the view does not evaluate goes to EC2.
    client
        .describe_instances(pb::DescribeInstancesRequest {
            filters: vec![filter("dns-name", &["*"])],
            max_staleness: fresh_enough,
            ..Default::default()
        })
        .await
        .expect_err("the stand-in does not know dns-name either");
    assert_eq!(calls(), listed + 2);

    // By ids, the view answers what EC2 answers, field for field: instances of different
    // reservations (sent as the view keeps them, encoded), and instances launched together
    // (decoded and grouped into their reservation, as EC2 groups them).
    let (apart, together): (Vec<String>, Vec<String>) = standin.with_account(|a| {
        let apart = a
            .instances
            .iter()
            .step_by(997)
            .map(|i| i.id.clone())
            .collect();
        // Reservations are contiguous runs of instances: the first run of two or more.
        let shared = a
            .instances
            .windows(2)
            .find(|w| w[0].reservation_id == w[1].reservation_id)
            .map(|w| w[0].reservation_id.clone())
            .unwrap_or_default();
        let together = a
            .instances
            .iter()
            .filter(|i| i.reservation_id == shared)
            .map(|i| i.id.clone())
            .collect();
        (apart, together)
    });
    assert!(
        together.len() > 1,
        "the stand-in launches reservations of several instances"
    );
    for (ids, reservations) in [(apart, 3), (together, 1)] {
        let by_ids = |max_staleness| pb::DescribeInstancesRequest {
            instance_ids: ids.clone(),
            max_staleness,
            ..Default::default()
        };
        let from_view = client
            .describe_instances(by_ids(fresh_enough))
            .await
            .expect("by ids from the view")
            .into_inner();
        assert!(from_view.staleness.is_some());
        assert_eq!(from_view.reservations.len(), reservations);
        let from_ec2 = client
            .describe_instances(by_ids(None))
            .await
            .expect("by ids from EC2")
            .into_inner();
        assert_eq!(by_reservation(from_view), by_reservation(from_ec2));
    }
    assert_eq!(
        calls(),
        listed + 4,
        "the view's answers cost nothing, EC2's one call each"
    );
    println!(
        "max_staleness: 3 unary pages, 1 filtered read and a 2,500-instance stream from the \
         view with 0 EC2 calls; 2 reads without it cost 2"
    );
}

#[tokio::test]
async fn the_views_filters_select_what_moto_selects() {
    let moto = Moto::start().await;
    let (sdk, _) = moto.sdk();
    let image = moto.image_id().await;
    // A varied population: types, subnets (zones), key names, tags, states.
    let subnets = sdk.describe_subnets().send().await.expect("subnets");
    let subnets: Vec<String> = subnets
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id().map(str::to_owned))
        .take(3)
        .collect();
    let key = sdk
        .create_key_pair()
        .key_name("ops-key")
        .send()
        .await
        .expect("key pair");
    assert_eq!(key.key_name(), Some("ops-key"));
    let mut launched = Vec::new();
    for n in 0..12usize {
        let mut run = sdk
            .run_instances()
            .image_id(&image)
            .min_count(1)
            .max_count(1)
            .instance_type(
                [
                    InstanceType::T3Micro,
                    InstanceType::M5Large,
                    InstanceType::C5Xlarge,
                ][n % 3]
                    .clone(),
            )
            .subnet_id(&subnets[n % subnets.len()])
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Instance)
                    .tags(
                        SdkTag::builder()
                            .key("team")
                            .value(format!("team-{}", n % 4))
                            .build(),
                    )
                    .tags(
                        SdkTag::builder()
                            .key("Name")
                            .value(format!("web-{n}"))
                            .build(),
                    )
                    .build(),
            );
        if n % 2 == 0 {
            run = run.key_name("ops-key");
        }
        let output = run.send().await.expect("launch");
        launched.extend(
            output
                .instances()
                .iter()
                .map(|i| i.instance_id().unwrap().to_owned()),
        );
    }
    sdk.stop_instances()
        .set_instance_ids(Some(launched[..3].to_vec()))
        .send()
        .await
        .expect("stop three");

    let gateway = support::inventory_gateway(
        &moto.endpoint,
        settings(Duration::from_secs(3600), 10_000),
        roomy(),
    )
    .await;
    let mut client = gateway.client.clone();
    initial_list(&mut watch(&mut client, pb::WatchInstancesRequest::default()).await).await;

    // The first instance's own values, so each filter selects something.
    let first = sdk
        .describe_instances()
        .instance_ids(&launched[0])
        .send()
        .await
        .expect("describe");
    let i = &first.reservations()[0].instances()[0];
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "architecture",
            vec![i.architecture().unwrap().as_str().into()],
        ),
        (
            "availability-zone",
            vec![i.placement().unwrap().availability_zone().unwrap().into()],
        ),
        ("image-id", vec![image.clone()]),
        (
            "instance-id",
            vec![launched[1].clone(), launched[4].clone()],
        ),
        (
            "instance-state-name",
            vec!["stopped".into(), "pending".into()],
        ),
        ("instance-type", vec!["m5.large".into()]),
        ("key-name", vec!["ops-key".into()]),
        (
            "private-ip-address",
            vec![i.private_ip_address().unwrap().into()],
        ),
        ("subnet-id", vec![subnets[1].clone()]),
        ("tag:team", vec!["team-1".into(), "team-?".into()]),
        ("tag:Name", vec!["web-1*".into()]),
        ("tag-key", vec!["Na*".into()]),
        ("tag-value", vec!["team-2".into()]),
        ("vpc-id", vec![i.vpc_id().unwrap().into()]),
    ];
    let mut names: BTreeSet<&str> = cases
        .iter()
        .map(|(n, _)| if n.starts_with("tag:") { "tag:KEY" } else { *n })
        .collect();
    names.insert("tag:KEY");
    assert_eq!(
        names,
        SUPPORTED.iter().copied().collect(),
        "every supported filter is checked"
    );
    for (name, values) in &cases {
        let from_moto: BTreeSet<String> = sdk
            .describe_instances()
            .filters(
                SdkFilter::builder()
                    .name(*name)
                    .set_values(Some(values.clone()))
                    .build(),
            )
            .send()
            .await
            .expect("moto describes")
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| i.instance_id().unwrap().to_owned())
            .collect();
        let from_view: BTreeSet<String> = client
            .describe_instances(pb::DescribeInstancesRequest {
                filters: vec![pb::Filter {
                    name: (*name).into(),
                    values: values.clone(),
                }],
                max_staleness: Some(prost_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
                ..Default::default()
            })
            .await
            .expect("the view describes")
            .into_inner()
            .reservations
            .iter()
            .flat_map(|r| &r.instances)
            .map(|i| i.instance_id.clone())
            .collect();
        assert!(
            !from_moto.is_empty(),
            "{name} {values:?} selects nothing in moto"
        );
        assert_eq!(from_view, from_moto, "filter {name} {values:?}");
    }
    println!(
        "the view's {} filters select what moto selects",
        cases.len()
    );
}

#[tokio::test]
async fn a_thousand_watchers_and_a_thousand_waiters_cost_ec2_only_the_views_refreshes() {
    let Fixture {
        standin,
        gateway,
        ids,
        ..
    } = fixture(10_000, Duration::ZERO, Duration::from_secs(3600), 10_000).await;
    // HTTP/2 lets one connection carry 256 streams: 2,000 calls over 10 connections.
    let mut clients = Vec::new();
    for _ in 0..10 {
        clients.push(Ec2ServiceClient::new(support::channel(gateway.addr).await));
    }
    let mut first = clients[0].clone();
    initial_list(&mut watch(&mut first, pb::WatchInstancesRequest::default()).await).await;
    let listed = standin.counters("DescribeInstances").calls;
    assert_eq!(listed, 10, "one list: 10 pages of 1000");

    // 1,000 watchers, each of one instance (by the instance-id filter), the first 10 ids
    // watched 100 times each ... and 1,000 waiters for `stopped` on those 10.
    let stopped: Vec<String> = ids[..10].to_vec();
    let mut watchers = Vec::new();
    for n in 0..1000 {
        let mut client = clients[n % 10].clone();
        let id = stopped[n % 10].clone();
        let mut w = watch(
            &mut client,
            pb::WatchInstancesRequest {
                filters: vec![filter("instance-id", &[&id])],
                ..Default::default()
            },
        )
        .await;
        let (listed, _) = initial_list(&mut w).await;
        assert_eq!(listed, std::slice::from_ref(&id));
        watchers.push((id, w));
    }
    let mut waiters = Vec::new();
    for n in 0..1000 {
        let mut client = clients[n % 10].clone();
        let id = stopped[n % 10].clone();
        waiters.push(tokio::spawn(async move {
            wait(&mut client, &[id], pb::WaitTarget::Stopped, None).await
        }));
    }
    let mut stopper = clients[0].clone();
    stop(&mut stopper, &stopped).await;
    for (id, mut w) in watchers {
        let event = next_event(&mut w).await;
        assert_eq!((event.id, event.state.as_str()), (id, "stopped"));
    }
    for waiter in waiters {
        let progress = waiter.await.expect("waiter task").expect("wait ends OK");
        assert!(progress.last().expect("progress").done);
    }
    let calls = standin.counters("DescribeInstances").calls;
    let refreshes = calls - listed;
    assert!(
        (1..=3).contains(&refreshes),
        "the watchers and waiters cost EC2 only the targeted refresh of the 10 stopped \
         instances, got {refreshes} DescribeInstances calls"
    );
    println!(
        "1,000 watchers and 1,000 waiters on 10,000 instances: EC2 saw {listed} list pages and \
         {refreshes} targeted refresh(es) of the 10 stopped instances, nothing else"
    );
}

const SCOPED_TOKEN: &str = "team-a-watch-token-7c1d9e2b";
const AUDITOR_TOKEN: &str = "auditor-watch-token-4f8a0b6e";

/// The status of a stream that fails at its call or at its first message.
async fn refusal<T: std::fmt::Debug>(
    call: Result<tonic::Response<Streaming<T>>, tonic::Status>,
) -> tonic::Status {
    match call {
        Err(status) => status,
        Ok(stream) => stream
            .into_inner()
            .message()
            .await
            .expect_err("the stream is refused"),
    }
}

#[tokio::test]
async fn the_binary_serves_watches_and_waits_within_roles_and_scopes_and_counts_them() {
    use crate::auth::bearer;
    let standin = Standin::builder()
        .without_throttling()
        .start()
        .await
        .expect("stand-in");
    let launch = |team: &str| {
        standin.with_account_mut(|account| {
            let spec = LaunchSpec {
                image_id: "ami-0123".into(),
                tags: vec![("team".into(), team.into())],
                ..LaunchSpec::default()
            };
            account.launch(&spec, 2, "2026-12-01T00:00:00.000Z");
            let launched = &account.instances[account.instances.len() - 2..];
            launched.iter().map(|i| i.id.clone()).collect::<Vec<_>>()
        })
    };
    let (ours, theirs) = (launch("a"), launch("b"));
    let auth = support::AuthFiles::write(
        "inventory",
        &format!("team-a {SCOPED_TOKEN}\nauditor {AUDITOR_TOKEN}\n"),
        "[roles]\nauditor = [\"DescribeInstances\"]\n[grants]\nteam-a = [\"reader\"]\n\
         auditor = [\"auditor\"]\n[scopes]\nteam-a = { key = \"team\", value = \"a\" }\n",
    );
    let args = [
        &auth.args()[..],
        &[
            "--inventory-resync-seconds",
            "1",
            "--metrics-listen",
            "127.0.0.1:0",
        ],
    ]
    .concat();
    let process = support::GatewayProcess::start_with(&standin.endpoint(), &args, &[]).await;
    let mut client = Ec2ServiceClient::new(support::channel(process.addr).await);

    // A scoped reader watches only its instances, and reads them from the view.
    let mut watching = client
        .watch_instances(bearer(pb::WatchInstancesRequest::default(), SCOPED_TOKEN))
        .await
        .expect("scoped watch")
        .into_inner();
    let (listed, _) = initial_list(&mut watching).await;
    assert_eq!(
        listed.iter().collect::<BTreeSet<_>>(),
        ours.iter().collect::<BTreeSet<_>>()
    );
    let from_view = client
        .describe_instances(bearer(
            pb::DescribeInstancesRequest {
                max_staleness: Some(prost_types::Duration {
                    seconds: 60,
                    nanos: 0,
                }),
                ..Default::default()
            },
            SCOPED_TOKEN,
        ))
        .await
        .expect("scoped view read")
        .into_inner();
    assert!(from_view.staleness.is_some());
    let read: BTreeSet<&str> = from_view
        .reservations
        .iter()
        .flat_map(|r| &r.instances)
        .map(|i| i.instance_id.as_str())
        .collect();
    assert_eq!(read, ours.iter().map(String::as_str).collect());

    // Naming another team's instance is refused, as a describe by id is.
    let waiting_for_theirs = pb::WaitInstancesRequest {
        instance_ids: vec![ours[0].clone(), theirs[0].clone()],
        target: pb::WaitTarget::Exists as i32,
        ..Default::default()
    };
    let refused = refusal(
        client
            .wait_instances(bearer(waiting_for_theirs, SCOPED_TOKEN))
            .await,
    )
    .await;
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert_eq!(
        refused.get_details_error_info().expect("ErrorInfo").reason,
        "OUT_OF_SCOPE"
    );
    assert!(refused.message().contains(&theirs[0]) && !refused.message().contains(&ours[0]));

    // A role without WatchInstances may not watch.
    let denied = refusal(
        client
            .watch_instances(bearer(pb::WatchInstancesRequest::default(), AUDITOR_TOKEN))
            .await,
    )
    .await;
    assert_eq!(denied.code(), Code::PermissionDenied);
    let info = denied.get_details_error_info().expect("ErrorInfo");
    assert_eq!(
        (info.reason.as_str(), info.metadata["permission"].as_str()),
        ("MISSING_PERMISSION", "WatchInstances")
    );

    // grpcurl, as the README shows it: a wait that ends with `done`.
    let address = process.addr.to_string();
    let header = format!("authorization: Bearer {SCOPED_TOKEN}");
    let body = format!(
        "{{\"instance_ids\": [\"{}\"], \"target\": \"WAIT_TARGET_RUNNING\"}}",
        ours[1]
    );
    let output = support::grpcurl(&[
        "-plaintext",
        "-max-time",
        "20",
        "-H",
        &header,
        "-d",
        &body,
        &address,
        "ec2.v1.Ec2Service/WaitInstances",
    ])
    .await;
    assert!(output.contains("\"done\": true"), "{output}");

    // The metrics: the view's size, its changes, its lists, the open watch.
    let metric = |name: &'static str| process.metric(name);
    assert_eq!(metric("ec2_inventory_instances").await, Some(4.0));
    let added = process
        .metric_with("ec2_inventory_events_total", "kind=\"added\"")
        .await;
    assert!(added.is_some_and(|n| n >= 4.0), "{added:?}");
    let lists = process
        .metric_with("ec2_inventory_lists_total", "outcome=\"ok\"")
        .await;
    assert!(lists.is_some_and(|n| n >= 1.0), "{lists:?}");
    assert_eq!(metric("ec2_inventory_watchers").await, Some(1.0));
    assert!(metric("ec2_inventory_list_age_seconds").await.is_some());

    // SIGTERM: the open watch ends at once with UNAVAILABLE (SHUTTING_DOWN), so its client
    // moves to another replica instead of holding this one for the shutdown grace.
    let exited = tokio::spawn(process.terminate());
    let ended = timeout(Duration::from_secs(30), watching.message())
        .await
        .expect("the watch ends")
        .expect_err("ended by the shutdown");
    assert_eq!(ended.code(), Code::Unavailable, "{ended:?}");
    assert_eq!(
        ended.get_details_error_info().expect("ErrorInfo").reason,
        "SHUTTING_DOWN"
    );
    assert!(exited.await.expect("terminate").success());
}
