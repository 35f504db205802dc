//! The account protection under load, against a stand-in enforcing EC2's request buckets:
//! P4 throttle compliance (10x a bucket's refill), P5 coalescing (EC2 calls per many identical
//! or single-id describes), P6 a polling fleet (1,000 clients, 10 describes a second each).

use crate::support::{self, GatewayProcess, QUOTA_LIFTED, percentile, thinned};
use ec2_grpc::ec2::batch::DEFAULT_WINDOW;
use ec2_grpc::pb;
use ec2_grpc::pb::ec2_service_client::Ec2ServiceClient;
use ec2_grpc::protection::budget::EC2_REQUEST_RATES;
use ec2_standin::Standin;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::{Instant, MissedTickBehavior};
use tonic::transport::Channel;

/// EC2's DescribeInstances bucket, as the gateway and the stand-in both know it.
pub fn describe_bucket() -> (f64, f64) {
    let (_, rate) = EC2_REQUEST_RATES
        .iter()
        .find(|(action, _)| *action == "DescribeInstances")
        .expect("DescribeInstances has a bucket");
    (rate.capacity, rate.refill_per_sec)
}

/// A describe EC2 must answer on its own (a filter no other call shares).
fn distinct_describe(i: usize) -> pb::DescribeInstancesRequest {
    pb::DescribeInstancesRequest {
        filters: vec![pb::Filter {
            name: "tag:Name".into(),
            values: vec![format!("seed-{}", i % 200)],
        }],
        max_results: Some(5),
        ..Default::default()
    }
}

pub const P4_SECONDS: f64 = 25.0;
/// The first seconds of P4 spend the bucket's burst; goodput is measured after them.
const P4_WARMUP: f64 = 5.0;

/// What clients offering more than a bucket's refill saw.
pub struct Overload {
    /// Calls offered.
    pub calls: usize,
    /// Calls served.
    pub served: usize,
    /// Calls served after the warm-up (the burst spent), before the end.
    pub steady: usize,
    /// Calls refused.
    pub refused: usize,
    /// Refusals by gRPC code.
    pub codes: BTreeMap<String, usize>,
}

/// Offers `offered` distinct describes a second for `P4_SECONDS`, round-robin over `clients`
/// (several replicas in P8), each call with a 1 s deadline, on the harness's own clock (an open
/// loop).
pub async fn overload(clients: &[Ec2ServiceClient<Channel>], offered: f64) -> Overload {
    let calls = (offered * P4_SECONDS) as usize;
    let started = Instant::now();
    let mut every = tokio::time::interval(Duration::from_secs_f64(1.0 / offered));
    let mut running = Vec::with_capacity(calls);
    for i in 0..calls {
        every.tick().await;
        let mut client = clients[i % clients.len()].clone();
        running.push(tokio::spawn(async move {
            let mut request = tonic::Request::new(distinct_describe(i));
            request.set_timeout(Duration::from_secs(1));
            let outcome = client.describe_instances(request).await;
            (started.elapsed().as_secs_f64(), outcome.map(|_| ()))
        }));
    }
    let mut seen = Overload {
        calls,
        served: 0,
        steady: 0,
        refused: 0,
        codes: BTreeMap::new(),
    };
    for call in running {
        let (at, outcome) = call.await.expect("a call");
        match outcome {
            Ok(()) => {
                seen.served += 1;
                if (P4_WARMUP..P4_SECONDS).contains(&at) {
                    seen.steady += 1;
                }
            }
            Err(status) => {
                seen.refused += 1;
                *seen
                    .codes
                    .entry(format!("{:?}", status.code()))
                    .or_insert(0) += 1;
            }
        }
    }
    seen
}

/// Calls a second served after the warm-up.
pub fn goodput_of(seen: &Overload) -> f64 {
    seen.steady as f64 / (P4_SECONDS - P4_WARMUP)
}

/// P4: 10x the refill for `P4_SECONDS`, each call with a 1 s deadline.
pub async fn throttle_compliance() -> Value {
    let standin = Standin::builder()
        .seed(200, 0)
        .start()
        .await
        .expect("stand-in");
    let gateway = GatewayProcess::start(&standin.endpoint(), QUOTA_LIFTED, "p4").await;
    let client = gateway.client().await;
    let (capacity, refill) = describe_bucket();
    let offered = 10.0 * refill;
    let seen = overload(&[client], offered).await;
    let goodput = goodput_of(&seen);
    let Overload {
        calls,
        served,
        refused,
        codes,
        ..
    } = seen;
    let counters = standin.counters("DescribeInstances");
    eprintln!(
        "p4: {calls} calls at {offered}/s: {served} served, {refused} refused {codes:?}; EC2 saw {} calls, throttled {}; goodput {goodput:.1}/s of a {refill}/s refill",
        counters.calls, counters.throttled
    );
    json!({
        "action": "DescribeInstances",
        "capacity": capacity,
        "refill_per_sec": refill,
        "offered_per_sec": offered,
        "calls": calls,
        "seconds": P4_SECONDS,
        "served": served,
        "refused": refused,
        "refused_codes": codes,
        "ec2_calls": counters.calls,
        "throttles_seen_by_ec2": counters.throttled,
        "goodput_per_sec": goodput,
    })
}

/// P5: EC2 calls for 1,000 concurrent identical describes, and for 500 concurrent describes of
/// one id each.
pub async fn coalescing() -> Value {
    let standin = Standin::builder()
        .seed(500, 0)
        .start()
        .await
        .expect("stand-in");
    let ids: Vec<String> =
        standin.with_account(|a| a.instances.iter().map(|i| i.id.clone()).collect());
    let gateway = GatewayProcess::start(&standin.endpoint(), QUOTA_LIFTED, "p5").await;
    let client = gateway.client().await;

    let calls_now = || standin.counters("DescribeInstances").calls;
    let before = calls_now();
    let identical: Vec<_> = (0..1000)
        .map(|_| {
            let mut client = client.clone();
            tokio::spawn(async move { client.describe_instances(distinct_describe(7)).await })
        })
        .collect();
    for call in identical {
        call.await.expect("task").expect("an identical describe");
    }
    let identical_calls = calls_now() - before;

    let before = calls_now();
    let single: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let mut client = client.clone();
            tokio::spawn(async move {
                let request = pb::DescribeInstancesRequest {
                    instance_ids: vec![id],
                    ..Default::default()
                };
                client.describe_instances(request).await
            })
        })
        .collect();
    let requests = single.len();
    for call in single {
        call.await.expect("task").expect("a single-id describe");
    }
    let single_calls = calls_now() - before;
    eprintln!(
        "p5: 1000 identical describes -> {identical_calls} EC2 calls; {requests} single-id describes -> {single_calls}"
    );
    json!({
        "identical": {"requests": 1000, "ec2_calls": identical_calls},
        "single_id": {"requests": requests, "ec2_calls": single_calls},
    })
}

const FLEET: usize = 1000;
const P6_SECONDS: f64 = 20.0;

/// How the fleet reads: fresh from EC2 (merged describes), or from the gateway's instance view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// Every describe goes to EC2 (merged with others by id).
    Fresh,
    /// Every describe accepts the view's answer up to this old (`max_staleness`).
    StaleOk(Duration),
}

/// P6: 1,000 clients, each on its own connection, describing its own instance by id
/// `polls_per_sec` times a second (the issue asks for 10), spread evenly; the gateway with its
/// default settings but the concurrency limit, reading fresh or from the instance view.
pub async fn polling_fleet(polls_per_sec: f64, reads: Reads) -> Value {
    let standin = Standin::builder()
        .seed(FLEET, 0)
        .start()
        .await
        .expect("stand-in");
    let ids: Vec<String> =
        standin.with_account(|a| a.instances.iter().map(|i| i.id.clone()).collect());
    let (_, refill) = describe_bucket();

    // One EC2 round trip of a merged describe (the default merge size), directly.
    let sdk = support::sdk(&standin.endpoint());
    let mut round_trips = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        sdk.describe_instances()
            .set_instance_ids(Some(ids[..DEFAULT_WINDOW.max_ids].to_vec()))
            .send()
            .await
            .expect("a direct describe of a merged window of ids");
        round_trips.push(started.elapsed().as_secs_f64() * 1e6);
    }
    let round_trip = percentile(&round_trips, 50.0);
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Default settings but one: calls in flight are the arrival rate times the wait for a
    // window (Little's law: 10,000/s x ~0.1 s), above the default limit of 1024 at once.
    // Stale-ok reads need the view kept (a full list every 10 s); fresh reads run without it.
    let (resync, name) = match reads {
        Reads::Fresh => ("0", "p6"),
        Reads::StaleOk(_) => ("10", "p6_view"),
    };
    let gateway = GatewayProcess::start(
        &standin.endpoint(),
        &[
            "--max-concurrent-calls",
            "4096",
            "--inventory-resync-seconds",
            resync,
        ],
        name,
    )
    .await;
    let max_staleness = match reads {
        Reads::Fresh => None,
        Reads::StaleOk(age) => {
            // Wait for the view's first list, so every read can be served from it.
            let mut client = gateway.client().await;
            let probe = pb::DescribeInstancesRequest {
                max_staleness: Some(prost_types::Duration::try_from(age).expect("an age")),
                ..Default::default()
            };
            let waiting_since = Instant::now();
            while client
                .describe_instances(probe.clone())
                .await
                .map_or(true, |r| r.into_inner().staleness.is_none())
            {
                assert!(
                    waiting_since.elapsed() < Duration::from_secs(30),
                    "the view did not list"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            probe.max_staleness
        }
    };
    let mut clients = Vec::with_capacity(FLEET);
    for _ in 0..FLEET {
        clients.push(gateway.client().await);
    }
    let before = standin.counters("DescribeInstances");
    let cpu_before = gateway.cpu_seconds();
    let period = Duration::from_secs_f64(1.0 / polls_per_sec);
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(P6_SECONDS);
    // Open loop: each client polls on its own clock, whether or not its last answer came back
    // (so the offered load stays 10,000 calls/s however slow the answers are).
    let pollers: Vec<_> = clients
        .into_iter()
        .zip(ids)
        .enumerate()
        .map(|(n, (client, id))| {
            let phase = period.mul_f64(n as f64 / FLEET as f64);
            tokio::spawn(async move {
                let mut every = tokio::time::interval_at(started + phase, period);
                every.set_missed_tick_behavior(MissedTickBehavior::Skip);
                let mut calls = Vec::new();
                loop {
                    every.tick().await;
                    if Instant::now() >= until {
                        break;
                    }
                    let mut client = client.clone();
                    let request = pb::DescribeInstancesRequest {
                        instance_ids: vec![id.clone()],
                        max_staleness,
                        ..Default::default()
                    };
                    calls.push(tokio::spawn(async move {
                        let call_started = Instant::now();
                        match client.describe_instances(request).await {
                            Ok(_) => Ok(call_started.elapsed().as_secs_f64() * 1e6),
                            Err(status) => Err(format!("{:?}", status.code())),
                        }
                    }));
                }
                let mut outcomes = Vec::with_capacity(calls.len());
                for call in calls {
                    outcomes.push(call.await.expect("a poll"));
                }
                outcomes
            })
        })
        .collect();
    let (mut offered, mut latencies, mut codes) = (0, Vec::new(), BTreeMap::new());
    for poller in pollers {
        for outcome in poller.await.expect("a poller") {
            offered += 1;
            match outcome {
                Ok(latency) => latencies.push(latency),
                Err(code) => *codes.entry(code).or_insert(0u64) += 1,
            }
        }
    }
    // Rates over the offering period (the last answers, drained after it, count in it).
    let seconds = P6_SECONDS;
    let cpu_cores = (gateway.cpu_seconds() - cpu_before) / seconds;
    let after = standin.counters("DescribeInstances");
    let (ec2_calls, throttles) = (
        after.calls - before.calls,
        after.throttled - before.throttled,
    );
    let errors: u64 = codes.values().sum();
    let served = latencies.len() as f64 / seconds;
    eprintln!(
        "p6 ({polls_per_sec}/s each): offered {:.0}/s, served {served:.0}/s, errors {codes:?}; p50 {:.1} ms, p99 {:.1} ms; EC2 {:.1} calls/s, {throttles} throttles",
        offered as f64 / seconds,
        percentile(&latencies, 50.0) / 1e3,
        percentile(&latencies, 99.0) / 1e3,
        ec2_calls as f64 / seconds
    );
    eprintln!(
        "p6 ({polls_per_sec}/s each, {reads:?}): gateway CPU {cpu_cores:.2} cores, {:.0} µs a served call",
        cpu_cores * 1e6 / served
    );
    json!({
        "reads": match reads { Reads::Fresh => "fresh", Reads::StaleOk(_) => "max_staleness" },
        "gateway_cpu_cores": cpu_cores,
        "gateway_cpu_us_per_call": cpu_cores * 1e6 / served,
        "clients": FLEET,
        "rate_per_client": polls_per_sec,
        "seconds": seconds,
        "offered_per_sec": offered as f64 / seconds,
        "served_per_sec": served,
        "errors": errors,
        "error_codes": codes,
        "latency_us": thinned(&latencies, 5000),
        "ec2_calls_per_sec": ec2_calls as f64 / seconds,
        "refill_per_sec": refill,
        "throttles": throttles,
        "window_ms": DEFAULT_WINDOW.max_wait.as_secs_f64() * 1e3,
        "ec2_round_trip_us": round_trip,
    })
}
