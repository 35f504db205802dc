//! The instance collection against moto: select by ids or filters (with `limit` and
//! `page_size`), preview, dry run, then start, stop, reboot, terminate and tag; batches and
//! per-batch failures. (Monitor/Unmonitor succeed only on the project's stand-in: moto answers
//! them with HTTP 500, which here shows failed batches being reported, not hidden.)

use crate::describe::launch;
use crate::support::{self, Moto};
use aws_sdk_ec2::types::Filter;
use ec2_grpc::pb;
use std::collections::HashSet;
use tonic::Code;
use tonic_types::StatusExt;

/// A selection by `tag:team`.
fn team(name: &str) -> Option<pb::InstanceSelection> {
    Some(pb::InstanceSelection {
        filters: vec![pb::Filter {
            name: "tag:team".into(),
            values: vec![name.into()],
        }],
        ..Default::default()
    })
}

/// The state name of each instance of a team, read directly with the SDK.
async fn states(sdk: &aws_sdk_ec2::Client, team: &str) -> Vec<(String, String)> {
    let out = sdk
        .describe_instances()
        .filters(Filter::builder().name("tag:team").values(team).build())
        .send()
        .await
        .expect("direct describe");
    let mut states: Vec<_> = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .map(|i| {
            let id = i.instance_id().unwrap_or_default().to_owned();
            let state = i
                .state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_owned());
            (id, state.unwrap_or_default())
        })
        .collect();
    states.sort();
    states
}

/// Every event of an action stream.
async fn events<T>(mut stream: tonic::Streaming<T>) -> Vec<T> {
    let mut all = Vec::new();
    while let Some(event) = stream.message().await.expect("event") {
        all.push(event);
    }
    all
}

#[tokio::test]
async fn stop_by_filter_preview_terminate_refuse_empty_and_limit() {
    let moto = Moto::start().await;
    let (sdk, _) = moto.sdk();
    let image = moto.image_id().await;
    let team_a = launch(&sdk, &image, 4, "a").await;
    let team_b = launch(&sdk, &image, 2, "b").await;
    let gateway = support::Gateway::start(moto.sdk().0).await;
    let mut client = gateway.client.clone();

    // StopInstances on tag:team=a stops exactly those 4.
    let stream = client
        .stop_instances(pb::StopInstancesRequest {
            selection: team("a"),
            ..Default::default()
        })
        .await
        .expect("stop")
        .into_inner();
    let stopped = events(stream).await;
    use pb::stop_instances_response::Event;
    let Some(Event::Batch(batch)) = &stopped[0].event else {
        panic!("first message is a batch: {stopped:?}");
    };
    let mut changed: Vec<_> = batch
        .state_changes
        .iter()
        .map(|c| c.instance_id.clone())
        .collect();
    changed.sort();
    let mut expected = team_a.clone();
    expected.sort();
    assert_eq!(changed, expected);
    for change in &batch.state_changes {
        let previous = change.previous_state.as_ref().expect("previous");
        let current = change.current_state.as_ref().expect("current");
        assert_eq!(
            (previous.code, previous.name.as_str()),
            (Some(16), "running")
        );
        assert!(["stopping", "stopped"].contains(&current.name.as_str()));
    }
    let Some(Event::Summary(summary)) = &stopped[1].event else {
        panic!("last message is the summary: {stopped:?}");
    };
    assert_eq!(
        (
            summary.matched,
            summary.acted,
            summary.failed,
            summary.batches
        ),
        (4, 4, 0, 1)
    );
    assert!(states(&sdk, "a").await.iter().all(|(_, s)| s == "stopped"));
    assert!(states(&sdk, "b").await.iter().all(|(_, s)| s == "running"));

    // TerminateInstances with preview on team=b changes nothing and reports 2.
    let preview = events(
        client
            .terminate_instances(pb::TerminateInstancesRequest {
                selection: team("b"),
                preview: true,
                ..Default::default()
            })
            .await
            .expect("preview")
            .into_inner(),
    )
    .await;
    assert_eq!(preview.len(), 1);
    let Some(pb::terminate_instances_response::Event::Preview(p)) = &preview[0].event else {
        panic!("a preview: {preview:?}");
    };
    assert_eq!(p.matched, 2);
    let sampled: HashSet<_> = p.sample.iter().map(|s| s.instance_id.clone()).collect();
    assert_eq!(sampled, team_b.iter().cloned().collect());
    assert!(
        p.sample
            .iter()
            .all(|s| s.state.as_ref().map(|s| s.name.as_str()) == Some("running"))
    );
    assert!(states(&sdk, "b").await.iter().all(|(_, s)| s == "running"));

    // An empty selection is refused, naming the field, before anything is described.
    let status = client
        .stop_instances(pb::StopInstancesRequest::default())
        .await
        .expect_err("empty selection");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status
            .get_details_bad_request()
            .expect("BadRequest")
            .field_violations[0]
            .field,
        "selection"
    );

    // limit: 3 acts on exactly 3.
    let started = events(
        client
            .start_instances(pb::StartInstancesRequest {
                selection: Some(pb::InstanceSelection {
                    limit: Some(3),
                    ..team("a").expect("selection")
                }),
                ..Default::default()
            })
            .await
            .expect("start")
            .into_inner(),
    )
    .await;
    let Some(pb::start_instances_response::Event::Summary(summary)) =
        &started.last().expect("events").event
    else {
        panic!("summary last: {started:?}");
    };
    assert_eq!((summary.matched, summary.acted), (3, 3));
    let running = states(&sdk, "a").await;
    assert_eq!(running.iter().filter(|(_, s)| s == "running").count(), 3);
}

#[tokio::test]
async fn ids_batches_dry_runs_tags_page_size_and_failed_batches() {
    let moto = Moto::start().await;
    let (sdk, _) = moto.sdk();
    let image = moto.image_id().await;
    let mut fleet = Vec::new();
    for _ in 0..12 {
        fleet.extend(launch(&sdk, &image, 1, "fleet").await);
    }
    let (ec2, calls) = moto.sdk();
    let gateway =
        support::Gateway::serve(ec2_grpc::api::Gateway::new(ec2).with_batch_size(5)).await;
    let mut client = gateway.client.clone();

    // By ids, in batches of 5: 12 instances -> 3 batches, each instance reported once.
    let rebooted = events(
        client
            .reboot_instances(pb::RebootInstancesRequest {
                selection: Some(pb::InstanceSelection {
                    instance_ids: fleet.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .expect("reboot")
            .into_inner(),
    )
    .await;
    let mut reported = Vec::new();
    let mut sizes = Vec::new();
    for event in &rebooted {
        if let Some(pb::reboot_instances_response::Event::Batch(b)) = &event.event {
            assert!(b.failure.is_none(), "{b:?}");
            sizes.push(b.instance_ids.len());
            reported.extend(b.instance_ids.clone());
        }
    }
    assert_eq!(sizes, [5, 5, 2]);
    reported.sort();
    let mut expected = fleet.clone();
    expected.sort();
    assert_eq!(reported, expected);
    assert_eq!(calls.count("RebootInstances"), 3);

    // page_size 5 while resolving a filter: 12 single-instance reservations take 3 pages.
    let before = calls.count("DescribeInstances");
    let preview = events(
        client
            .stop_instances(pb::StopInstancesRequest {
                selection: Some(pb::InstanceSelection {
                    page_size: Some(5),
                    ..team("fleet").expect("selection")
                }),
                preview: true,
                ..Default::default()
            })
            .await
            .expect("preview")
            .into_inner(),
    )
    .await;
    assert_eq!(calls.count("DescribeInstances") - before, 3);
    let Some(pb::stop_instances_response::Event::Preview(p)) = &preview[0].event else {
        panic!("preview: {preview:?}");
    };
    assert_eq!((p.matched, p.sample.len()), (12, 12));

    // A dry run: every batch says it would have succeeded, nothing stops.
    let dry = events(
        client
            .stop_instances(pb::StopInstancesRequest {
                selection: team("fleet"),
                dry_run: true,
                ..Default::default()
            })
            .await
            .expect("dry run")
            .into_inner(),
    )
    .await;
    let dry_batches: Vec<_> = dry
        .iter()
        .filter_map(|e| match &e.event {
            Some(pb::stop_instances_response::Event::Batch(b)) => Some(b),
            _ => None,
        })
        .collect();
    assert_eq!(dry_batches.len(), 3);
    assert!(
        dry_batches
            .iter()
            .all(|b| b.dry_run_succeeded && b.failure.is_none())
    );
    assert!(
        states(&sdk, "fleet")
            .await
            .iter()
            .all(|(_, s)| s == "running")
    );

    // CreateTags on a selection and on a resource id of another kind (a network interface).
    let subnets = sdk.describe_subnets().send().await.expect("subnets");
    let eni = sdk
        .create_network_interface()
        .subnet_id(subnets.subnets()[0].subnet_id().expect("subnet"))
        .send()
        .await
        .expect("eni");
    let eni_id = eni
        .network_interface()
        .and_then(|n| n.network_interface_id())
        .expect("eni id")
        .to_owned();
    let tagged = events(
        client
            .create_tags(pb::CreateTagsRequest {
                selection: Some(pb::InstanceSelection {
                    instance_ids: fleet[..2].to_vec(),
                    ..Default::default()
                }),
                resource_ids: vec![eni_id.clone()],
                tags: vec![pb::Tag {
                    key: "owner".into(),
                    value: "gateway".into(),
                }],
                ..Default::default()
            })
            .await
            .expect("tags")
            .into_inner(),
    )
    .await;
    let Some(pb::create_tags_response::Event::Summary(summary)) =
        &tagged.last().expect("events").event
    else {
        panic!("summary: {tagged:?}");
    };
    assert_eq!((summary.matched, summary.acted), (3, 3));
    let owned = sdk
        .describe_tags()
        .filters(Filter::builder().name("key").values("owner").build())
        .send()
        .await
        .expect("tags");
    let mut owners: Vec<_> = owned
        .tags()
        .iter()
        .map(|t| t.resource_id().unwrap_or_default().to_owned())
        .collect();
    owners.sort();
    let mut expected = vec![fleet[0].clone(), fleet[1].clone(), eni_id];
    expected.sort();
    assert_eq!(owners, expected);

    // Terminate by ids, 2 of them: EC2's state changes come back.
    let terminated = events(
        client
            .terminate_instances(pb::TerminateInstancesRequest {
                selection: Some(pb::InstanceSelection {
                    instance_ids: fleet[..2].to_vec(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .expect("terminate")
            .into_inner(),
    )
    .await;
    let Some(pb::terminate_instances_response::Event::Batch(batch)) = &terminated[0].event else {
        panic!("batch: {terminated:?}");
    };
    assert!(batch.state_changes.iter().all(|c| {
        c.current_state
            .as_ref()
            .is_some_and(|s| s.name == "shutting-down" || s.name == "terminated")
    }));

    // Monitor fails on moto (HTTP 500): every batch reports its failure, none is hidden, and
    // the summary counts them.
    let monitored = events(
        client
            .monitor_instances(pb::MonitorInstancesRequest {
                selection: Some(pb::InstanceSelection {
                    instance_ids: fleet[2..9].to_vec(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .expect("monitor stream")
            .into_inner(),
    )
    .await;
    let failures: Vec<_> = monitored
        .iter()
        .filter_map(|e| match &e.event {
            Some(pb::monitor_instances_response::Event::Batch(b)) => b.failure.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(failures.len(), 2, "7 ids in batches of 5: 2 failed batches");
    assert!(failures.iter().all(|f| f.code == Code::Unavailable as i32));
    let Some(pb::monitor_instances_response::Event::Summary(summary)) =
        &monitored.last().expect("events").event
    else {
        panic!("summary: {monitored:?}");
    };
    assert_eq!((summary.matched, summary.acted, summary.failed), (7, 0, 7));

    // An unknown id fails the call before anything is acted on.
    let status = client
        .stop_instances(pb::StopInstancesRequest {
            selection: Some(pb::InstanceSelection {
                instance_ids: vec![fleet[5].clone(), "i-0123456789abcdef0".into()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect_err("unknown id");
    assert_eq!(status.code(), Code::NotFound);
    assert!(
        states(&sdk, "fleet")
            .await
            .iter()
            .any(|(id, s)| id == &fleet[5] && s == "running")
    );
}
