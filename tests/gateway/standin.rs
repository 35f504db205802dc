//! Against the project's own EC2 stand-in (`tools/ec2-standin`): what moto cannot serve.
//! Scale (100,000 instances, 2,500-instance actions), faults (503s, a reset after the request
//! was applied, a failure at page K), EC2's throttling, idempotent client tokens,
//! Monitor/UnmonitorInstances and paged network interfaces.

use crate::support::{self, sdk};
use aws_sdk_ec2::error::ProvideErrorMetadata;
use ec2_grpc::pb;
use ec2_standin::Standin;
use ec2_standin::faults::Fault;
use std::collections::HashSet;
use tokio::time::Instant;
use tonic::Code;
use tonic_types::StatusExt;

#[tokio::test]
async fn the_sdk_pages_through_100k_instances_retries_503s_and_reads_ec2_errors() {
    let standin = Standin::builder()
        .seed(100_000, 0)
        .start()
        .await
        .expect("stand-in");
    let (ec2, calls) = sdk(&standin.endpoint());

    // The SDK's own paginator walks all 100,000 instances, 1000 per page, each once.
    let started = Instant::now();
    let mut pages = ec2
        .describe_instances()
        .max_results(1000)
        .into_paginator()
        .send();
    let mut seen = HashSet::new();
    while let Some(page) = pages.next().await {
        for reservation in page.expect("page").reservations() {
            for instance in reservation.instances() {
                assert!(seen.insert(instance.instance_id().expect("id").to_owned()));
            }
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(seen.len(), 100_000);
    assert_eq!(standin.counters("DescribeInstances").calls, 100);
    assert_eq!(
        standin.counters("DescribeInstances").throttled,
        0,
        "100 calls fit the burst"
    );
    println!(
        "aws-sdk-ec2 (debug build) paged 100,000 stand-in instances in {elapsed:.2?} \
         ({:.0} instances/s, SDK parsing included)",
        100_000.0 / elapsed.as_secs_f64()
    );

    // Two 503s, then success: the SDK's standard retry rides over them.
    standin.fault("DescribeInstances", Fault::unavailable(), 2);
    let before = calls.count("DescribeInstances");
    let page = ec2
        .describe_instances()
        .max_results(5)
        .send()
        .await
        .expect("third attempt succeeds");
    assert_eq!(
        page.reservations()
            .iter()
            .flat_map(|r| r.instances())
            .count(),
        5
    );
    assert_eq!(calls.count("DescribeInstances") - before, 3);

    // EC2's error codes reach the SDK as EC2's.
    let err = ec2
        .describe_instances()
        .instance_ids("i-0000000000000dead")
        .send()
        .await
        .expect_err("unknown id");
    assert_eq!(err.code(), Some("InvalidInstanceID.NotFound"));
    let err = ec2
        .describe_instances()
        .max_results(2)
        .send()
        .await
        .expect_err("max 2");
    assert_eq!(err.code(), Some("InvalidParameterValue"));
}

#[tokio::test]
async fn throttling_answers_request_limit_exceeded_like_ec2() {
    let standin = Standin::builder()
        .request_rate("DescribeInstances", 3.0, 0.001)
        .seed(10, 0)
        .start()
        .await
        .expect("stand-in");
    let (ec2, _) = sdk(&standin.endpoint());
    // Through the gateway: the SDK retries the throttled call, then the gateway answers
    // UNAVAILABLE with RetryInfo and EC2's code.
    let gateway = support::Gateway::start(ec2).await;
    let mut client = gateway.client.clone();
    for _ in 0..3 {
        client
            .describe_instances(pb::DescribeInstancesRequest {
                max_results: Some(5),
                ..Default::default()
            })
            .await
            .expect("within the burst");
    }
    let status = client
        .describe_instances(pb::DescribeInstancesRequest {
            max_results: Some(5),
            ..Default::default()
        })
        .await
        .expect_err("bucket empty");
    assert_eq!(status.code(), Code::Unavailable);
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.metadata["aws_code"], "RequestLimitExceeded");
    assert!(status.get_details_retry_info().is_some());
    let counters = standin.counters("DescribeInstances");
    assert_eq!(
        (counters.calls, counters.throttled),
        (6, 3),
        "3 admitted, 3 attempts throttled"
    );
}

#[tokio::test]
async fn a_reset_after_the_launch_was_applied_still_launches_exactly_once() {
    let standin = Standin::builder().start().await.expect("stand-in");
    standin.fault("RunInstances", Fault::ResetAfterApply, 1);
    let gateway = support::Gateway::start(sdk(&standin.endpoint()).0).await;
    let mut client = gateway.client.clone();

    // No client_token from the caller: the gateway makes one, and the SDK's retry after the
    // reset sends the same token, so EC2 answers the first launch instead of a second one.
    let launched = client
        .run_instances(pb::RunInstancesRequest {
            image_id: "ami-0fedcba9876543210".into(),
            ..Default::default()
        })
        .await
        .expect("the retry succeeds")
        .into_inner();
    assert_eq!(launched.instances.len(), 1);
    let counters = standin.counters("RunInstances");
    assert_eq!(
        (counters.calls, counters.faulted),
        (2, 1),
        "one reset, one retry"
    );
    assert_eq!(
        standin.with_account(|a| a.instances.len()),
        1,
        "exactly 1 instance"
    );

    // The caller's own token makes its own retries safe too; other parameters with the same
    // token are refused.
    let request = pb::RunInstancesRequest {
        image_id: "ami-0fedcba9876543210".into(),
        client_token: "caller-token-1".into(),
        ..Default::default()
    };
    let first = client
        .run_instances(request.clone())
        .await
        .expect("launch")
        .into_inner();
    let again = client
        .run_instances(request.clone())
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first.reservation_id, again.reservation_id);
    assert_eq!(standin.with_account(|a| a.instances.len()), 2);
    let status = client
        .run_instances(pb::RunInstancesRequest {
            instance_type: "m7g.large".into(),
            ..request
        })
        .await
        .expect_err("same token, other parameters");
    assert_eq!(status.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn actions_on_2500_instances_run_in_3_batches_and_monitoring_reports_new_states() {
    let standin = Standin::builder()
        .seed(2_500, 0)
        .start()
        .await
        .expect("stand-in");
    let gateway = support::Gateway::start(sdk(&standin.endpoint()).0).await;
    let mut client = gateway.client.clone();
    let everything = Some(pb::InstanceSelection {
        all_instances: true,
        ..Default::default()
    });

    let mut stream = client
        .monitor_instances(pb::MonitorInstancesRequest {
            selection: everything.clone(),
            ..Default::default()
        })
        .await
        .expect("monitor")
        .into_inner();
    let mut sizes = Vec::new();
    let mut reported = HashSet::new();
    let mut summary = None;
    while let Some(message) = stream.message().await.expect("message") {
        match message.event {
            Some(pb::monitor_instances_response::Event::Batch(batch)) => {
                assert!(batch.failure.is_none(), "{:?}", batch.failure);
                sizes.push(batch.instance_monitorings.len());
                for m in batch.instance_monitorings {
                    assert_eq!(m.monitoring.expect("monitoring").state, "pending");
                    assert!(reported.insert(m.instance_id), "reported once");
                }
            }
            Some(pb::monitor_instances_response::Event::Summary(s)) => summary = Some(s),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(sizes, [1000, 1000, 500]);
    assert_eq!(reported.len(), 2_500);
    let summary = summary.expect("summary");
    assert_eq!(
        (
            summary.matched,
            summary.acted,
            summary.failed,
            summary.batches
        ),
        (2500, 2500, 0, 3)
    );
    assert_eq!(standin.counters("MonitorInstances").calls, 3);
    assert!(standin.with_account(|a| a.instances.iter().all(|i| i.monitoring == "enabled")));

    let mut stream = client
        .unmonitor_instances(pb::UnmonitorInstancesRequest {
            selection: everything,
            ..Default::default()
        })
        .await
        .expect("unmonitor")
        .into_inner();
    let mut states = HashSet::new();
    while let Some(message) = stream.message().await.expect("message") {
        if let Some(pb::unmonitor_instances_response::Event::Batch(batch)) = message.event {
            states.extend(
                batch
                    .instance_monitorings
                    .into_iter()
                    .filter_map(|m| m.monitoring)
                    .map(|m| m.state),
            );
        }
    }
    assert_eq!(states, HashSet::from(["disabling".to_owned()]));
    assert!(standin.with_account(|a| a.instances.iter().all(|i| i.monitoring == "disabled")));
}

#[tokio::test]
async fn a_failure_at_page_k_ends_the_stream_with_a_token_that_resumes() {
    let standin = Standin::builder()
        .seed(30, 12)
        .start()
        .await
        .expect("stand-in");
    let gateway = support::Gateway::start(sdk(&standin.endpoint()).0).await;
    let mut client = gateway.client.clone();
    // Page 2 fails on every SDK attempt.
    for _ in 0..3 {
        standin.fault_at_page("DescribeInstances", 2, Fault::internal_error());
    }
    let request = pb::DescribeInstancesStreamRequest {
        max_results: Some(10),
        ..Default::default()
    };
    let mut stream = client
        .describe_instances_stream(request.clone())
        .await
        .expect("stream")
        .into_inner();
    let first = stream.message().await.expect("page 1").expect("a message");
    let status = stream.message().await.expect_err("page 2 fails");
    assert_eq!(status.code(), Code::Unavailable);
    let mut ids: Vec<String> = first
        .reservations
        .iter()
        .flat_map(|r| r.instances.iter().map(|i| i.instance_id.clone()))
        .collect();
    // Resume after the last message received: the rest arrives, nothing twice.
    let mut resumed = client
        .describe_instances_stream(pb::DescribeInstancesStreamRequest {
            next_token: first.next_token.clone(),
            ..request
        })
        .await
        .expect("resume")
        .into_inner();
    while let Some(message) = resumed.message().await.expect("message") {
        ids.extend(
            message
                .reservations
                .iter()
                .flat_map(|r| r.instances.iter().map(|i| i.instance_id.clone())),
        );
    }
    assert_eq!(ids.len(), 30);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 30);

    // Network interfaces page too (moto never pages them): 30 attached + 12 free in 5s.
    let mut stream = client
        .describe_network_interfaces_stream(pb::DescribeNetworkInterfacesStreamRequest {
            max_results: Some(5),
            ..Default::default()
        })
        .await
        .expect("eni stream")
        .into_inner();
    let mut enis = HashSet::new();
    let mut messages = 0;
    while let Some(message) = stream.message().await.expect("message") {
        messages += 1;
        enis.extend(
            message
                .network_interfaces
                .into_iter()
                .map(|n| n.network_interface_id),
        );
    }
    assert_eq!((enis.len(), messages), (42, 9));
}
