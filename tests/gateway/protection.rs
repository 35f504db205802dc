//! Protecting the AWS account, against the stand-in (it throttles like EC2 and counts calls):
//! the EC2 budget under 10x load, safe retries of launches, coalescing of describes, and
//! per-caller fairness. Assertions are counts and codes, never timings.

use crate::support::{self, protected_gateway};
use ec2_grpc::ec2::batch;
use ec2_grpc::pb;
use ec2_grpc::protection::Limits;
use ec2_grpc::protection::budget::Rate;
use ec2_standin::Standin;
use ec2_standin::faults::Fault;
use std::time::Duration;
use tonic::{Code, Request};
use tonic_types::StatusExt;

/// A DescribeInstances request that no other request coalesces with (its own filter value).
fn distinct_describe(i: usize) -> pb::DescribeInstancesRequest {
    pb::DescribeInstancesRequest {
        filters: vec![pb::Filter {
            name: "tag:Name".into(),
            values: vec![format!("seed-{i}")],
        }],
        max_results: Some(5),
        ..Default::default()
    }
}

/// Limits that let one test client make many calls at once.
fn generous() -> Limits {
    Limits {
        caller_rate: 100_000.0,
        caller_burst: 100_000.0,
        max_concurrent_calls: 5_000,
    }
}

#[tokio::test]
async fn ten_times_the_refill_is_never_throttled_by_ec2() {
    // EC2's DescribeInstances bucket, scaled down: 10 calls burst, 5 per second.
    let standin = Standin::builder()
        .request_rate("DescribeInstances", 10.0, 5.0)
        .seed(200, 0)
        .start()
        .await
        .expect("stand-in");
    let rates = [(
        "DescribeInstances".to_owned(),
        Rate {
            capacity: 10.0,
            refill_per_sec: 5.0,
        },
    )];
    let gateway = protected_gateway(&standin.endpoint(), &rates, None, generous()).await;

    // 10x the refill: 50 calls a second for 2 seconds, each with a 1 s deadline.
    let mut calls = Vec::new();
    for i in 0..100 {
        let mut client = gateway.client.clone();
        calls.push(tokio::spawn(async move {
            let mut request = Request::new(distinct_describe(i));
            request.set_timeout(Duration::from_secs(1));
            client.describe_instances(request).await
        }));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (mut served, mut refused) = (0, 0);
    for call in calls {
        match call.await.expect("task") {
            Ok(_) => served += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                let info = status.get_details_error_info().expect("ErrorInfo");
                assert_eq!(info.reason, "EC2_BUDGET_EXHAUSTED");
                assert!(
                    status.get_details_retry_info().is_some(),
                    "says when to come back"
                );
                refused += 1;
            }
        }
    }
    let counters = standin.counters("DescribeInstances");
    println!(
        "100 calls offered at 10x the refill: {served} served, {refused} refused fast with \
         RetryInfo; the stand-in saw {} calls and throttled {}",
        counters.calls, counters.throttled
    );
    assert_eq!(counters.throttled, 0, "the budget never lets EC2 throttle");
    assert_eq!(counters.calls, served, "refused calls never reached EC2");
    assert!(served >= 10, "at least the burst is served");
    assert!(refused > 0, "10x the refill cannot all be served");
    assert!(gateway.gateway.stats().budget_refusals >= refused);
}

#[tokio::test]
async fn throttles_from_other_traffic_are_counted_and_retried() {
    // Other tools drain the account's bucket: EC2 throttles the gateway's calls although its
    // own budget (EC2's defaults) has room. The SDK retries, and the counters show it.
    let standin = Standin::builder()
        .request_rate("DescribeInstances", 2.0, 0.5)
        .seed(20, 0)
        .start()
        .await
        .expect("stand-in");
    let gateway = protected_gateway(&standin.endpoint(), &[], None, generous()).await;
    let mut client = gateway.client.clone();
    for i in 0..4 {
        let _ = client.describe_instances(distinct_describe(i)).await;
    }
    let stats = gateway.gateway.stats();
    let counters = standin.counters("DescribeInstances");
    println!(
        "other traffic: {} throttles seen, {} retries",
        stats.ec2_throttles, stats.ec2_retries
    );
    assert!(counters.throttled >= 1);
    assert_eq!(
        stats.ec2_throttles, counters.throttled,
        "every throttle is counted"
    );
    assert!(stats.ec2_retries >= 1, "throttled calls are retried");
    assert_eq!(stats.ec2_attempts, counters.calls);
}

#[tokio::test]
async fn a_reset_launch_and_a_repeated_token_leave_exactly_one_instance() {
    let standin = Standin::builder().start().await.expect("stand-in");
    standin.fault("RunInstances", Fault::ResetAfterApply, 1);
    let gateway = protected_gateway(&standin.endpoint(), &[], None, Limits::default()).await;
    let mut client = gateway.client.clone();
    let request = pb::RunInstancesRequest {
        image_id: "ami-0fedcba9876543210".into(),
        client_token: "launch-once".into(),
        ..Default::default()
    };
    let first = client
        .run_instances(request.clone())
        .await
        .expect("retried launch");
    // The caller repeats its call (as after a lost answer) with the same token.
    let again = client
        .run_instances(request)
        .await
        .expect("repeated launch");
    assert_eq!(
        first.get_ref().reservation_id,
        again.get_ref().reservation_id
    );
    assert_eq!(
        standin.with_account(|a| a.instances.len()),
        1,
        "exactly 1 instance"
    );
    assert_eq!(
        standin.counters("RunInstances").calls,
        3,
        "reset + SDK retry + repeat"
    );
    assert_eq!(gateway.gateway.stats().ec2_retries, 1);
}

#[tokio::test]
async fn identical_describes_share_calls_and_single_id_describes_merge() {
    let standin = Standin::builder()
        .seed(600, 0)
        .start()
        .await
        .expect("stand-in");
    // A longer idle window than the default 100 ms, so a loaded machine starting 500 calls
    // still lands them in one window; the merging is the same.
    let window = batch::Window {
        idle: Duration::from_millis(400),
        max_wait: Duration::from_millis(400),
        ..batch::DEFAULT_WINDOW
    };
    let gateway = protected_gateway(&standin.endpoint(), &[], Some(window), generous()).await;
    let ids =
        standin.with_account(|a| a.instances.iter().map(|i| i.id.clone()).collect::<Vec<_>>());

    // 1,000 concurrent identical describes: at most 2 EC2 page sequences (here one page each).
    // The first EC2 answer takes 500 ms, so every call arrives while it is in flight.
    standin.fault(
        "DescribeInstances",
        Fault::Latency(Duration::from_millis(500)),
        1,
    );
    let identical = pb::DescribeInstancesRequest {
        filters: vec![pb::Filter {
            name: "tag:team".into(),
            values: vec!["team-1".into()],
        }],
        max_results: Some(1000),
        ..Default::default()
    };
    // Many callers: 8 connections (one connection carries at most 256 calls at once).
    let mut connections = Vec::new();
    for _ in 0..8 {
        connections.push(pb::ec2_service_client::Ec2ServiceClient::new(
            support::channel(gateway.addr).await,
        ));
    }
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let mut client = connections[i % connections.len()].clone();
            let request = identical.clone();
            tokio::spawn(async move { client.describe_instances(request).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("task").expect("describe").into_inner());
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "everyone got the same answer"
    );
    let identical_calls = standin.counters("DescribeInstances").calls;
    println!("1,000 identical concurrent describes cost {identical_calls} EC2 calls");
    assert!(identical_calls <= 2, "{identical_calls} EC2 calls");

    // 500 single-id describes at once: one merged EC2 call, each caller its own instance.
    let before = standin.counters("DescribeInstances").calls;
    let tasks: Vec<_> = ids[..500]
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mut client = connections[i % connections.len()].clone();
            let request = pb::DescribeInstancesRequest {
                instance_ids: vec![id.clone()],
                ..Default::default()
            };
            tokio::spawn(async move { client.describe_instances(request).await })
        })
        .collect();
    for (task, id) in tasks.into_iter().zip(&ids[..500]) {
        let answer = task.await.expect("task").expect("describe").into_inner();
        let got: Vec<_> = answer
            .reservations
            .iter()
            .flat_map(|r| &r.instances)
            .map(|i| &i.instance_id)
            .collect();
        assert_eq!(got, [id], "each caller gets exactly its instance");
    }
    let merged_calls = standin.counters("DescribeInstances").calls - before;
    println!("500 single-id describes cost {merged_calls} EC2 call(s)");
    // The first may go alone (nothing was in flight); the others share one window.
    assert!(merged_calls <= 2, "{merged_calls} EC2 calls");

    // A missing id among them: NOT_FOUND for that caller only, its id named.
    let missing = "i-0000000000000dead".to_owned();
    let mut wanted: Vec<String> = ids[..99].to_vec();
    wanted.push(missing.clone());
    let tasks: Vec<_> = wanted
        .iter()
        .map(|id| {
            let mut client = gateway.client.clone();
            let request = pb::DescribeInstancesRequest {
                instance_ids: vec![id.clone()],
                ..Default::default()
            };
            tokio::spawn(async move { client.describe_instances(request).await })
        })
        .collect();
    for (task, id) in tasks.into_iter().zip(&wanted) {
        match task.await.expect("task") {
            Ok(answer) => assert_ne!(id, &missing, "{answer:?}"),
            Err(status) => {
                assert_eq!(id, &missing);
                assert_eq!(status.code(), Code::NotFound);
                assert!(status.message().contains(&missing), "{}", status.message());
                let info = status.get_details_error_info().expect("ErrorInfo");
                assert_eq!(info.metadata["aws_code"], "InvalidInstanceID.NotFound");
            }
        }
    }
    assert!(gateway.gateway.stats().coalesced_calls >= 998 + 498 + 98);
}

#[tokio::test]
async fn a_lone_describe_by_id_is_not_held_for_the_window() {
    let standin = Standin::builder()
        .seed(3, 0)
        .start()
        .await
        .expect("stand-in");
    // A window that would hold a describe for an hour: only going at once can answer.
    let window = batch::Window {
        idle: Duration::from_secs(3600),
        max_wait: Duration::from_secs(3600),
        max_ids: 1000,
    };
    let gateway = protected_gateway(&standin.endpoint(), &[], Some(window), generous()).await;
    let ids =
        standin.with_account(|a| a.instances.iter().map(|i| i.id.clone()).collect::<Vec<_>>());
    for id in &ids {
        let mut client = gateway.client.clone();
        let request = pb::DescribeInstancesRequest {
            instance_ids: vec![id.clone()],
            ..Default::default()
        };
        let answer =
            tokio::time::timeout(Duration::from_secs(60), client.describe_instances(request))
                .await
                .expect("a lone describe by id is answered without waiting for the window")
                .expect("describe")
                .into_inner();
        assert_eq!(answer.reservations[0].instances[0].instance_id, *id);
    }
    assert_eq!(
        standin.counters("DescribeInstances").calls,
        3,
        "one call each"
    );
    assert_eq!(gateway.gateway.stats().coalesced_calls, 0);
}

#[tokio::test]
async fn one_caller_flooding_does_not_stop_another() {
    let standin = Standin::builder()
        .seed(50, 0)
        .start()
        .await
        .expect("stand-in");
    let limits = Limits {
        caller_rate: 10.0,
        caller_burst: 10.0,
        max_concurrent_calls: 1024,
    };
    let gateway = protected_gateway(&standin.endpoint(), &[], None, limits).await;
    // Two callers: two connections.
    let flooder = support::channel(gateway.addr).await;
    let polite = support::channel(gateway.addr).await;

    let flood: Vec<_> = (0..300)
        .map(|i| {
            let mut client = pb::ec2_service_client::Ec2ServiceClient::new(flooder.clone());
            tokio::spawn(async move { client.describe_instances(distinct_describe(i % 50)).await })
        })
        .collect();
    let mut client = pb::ec2_service_client::Ec2ServiceClient::new(polite);
    for i in 0..8 {
        client
            .describe_instances(distinct_describe(i))
            .await
            .expect("the polite caller is served while the other floods");
    }
    let mut exhausted = 0;
    for call in flood {
        if let Err(status) = call.await.expect("task") {
            assert_eq!(status.code(), Code::ResourceExhausted);
            assert!(status.get_details_retry_info().is_some());
            exhausted += 1;
        }
    }
    println!("the flooding caller had {exhausted} of 300 calls refused; the other none of 8");
    assert!(exhausted >= 250, "{exhausted}");
}
