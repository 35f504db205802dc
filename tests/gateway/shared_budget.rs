//! The EC2 budget shared by replicas through Redis, against a real `redis-server` per test
//! (started on a free loopback port, killed, restarted, paused) and the project's stand-in,
//! which throttles like EC2: the script's arithmetic, 3 gateway processes sharing one budget
//! under 10x load (describes; launches with request and instance buckets together), Redis
//! killed and restarted mid-run, Redis hung. Assertions are counts, modes and codes.

use crate::support::{GatewayProcess, Redis, channel};
use ec2_grpc::pb;
use ec2_grpc::pb::ec2_service_client::Ec2ServiceClient;
use ec2_grpc::protection::budget::Rate;
use ec2_grpc::protection::budget::script::{Ask, BudgetKeys, BudgetScript};
use ec2_standin::Standin;
use std::time::Duration;
use tokio::time::Instant;
use tonic::{Code, Request};

const HORIZON: Duration = Duration::from_millis(100);

/// One reservation of the script against `redis`.
async fn reserve(
    redis: &Redis,
    keys: &BudgetKeys,
    action: &str,
    ask: Ask,
) -> ec2_grpc::protection::budget::script::Reservation {
    let mut connection = redis.connection().await;
    BudgetScript::default()
        .reserve(&mut connection, keys, action, &ask)
        .await
        .expect("the script runs")
}

/// The request bucket's tokens as Redis keeps them.
async fn tokens(redis: &Redis, key: &str) -> f64 {
    let mut connection = redis.connection().await;
    let value: String = redis::cmd("HGET")
        .arg(key)
        .arg("t")
        .query_async(&mut connection)
        .await
        .expect("the bucket exists");
    value.parse().expect("a number")
}

fn ask(capacity: f64, refill: f64, wanted: u32) -> Ask {
    Ask {
        requests: Rate::new(capacity, refill),
        instances: None,
        wanted,
        most_wait: None,
        horizon: HORIZON,
    }
}

#[tokio::test]
async fn the_script_grants_the_burst_then_queues_slots_at_the_refill() {
    let redis = Redis::start().await;
    let keys = BudgetKeys::new("test:burst");
    // A burst of 10: nine calls pass at once, and the tenth keeps the replicas' skew in hand
    // (50 ms of the refill: 70 ms at 1 per second, with the 0.02 tokens always kept).
    for _ in 0..9 {
        let granted = reserve(&redis, &keys, "DescribeInstances", ask(10.0, 1.0, 1)).await;
        assert_eq!((granted.granted, granted.wait), (1, Duration::ZERO));
    }
    let last = reserve(&redis, &keys, "DescribeInstances", ask(10.0, 1.0, 1)).await;
    assert_eq!(last.granted, 1);
    assert!(
        last.wait > Duration::ZERO && last.wait <= Duration::from_millis(75),
        "{:?}",
        last.wait
    );
    // The 11th is a reserved slot about a second away (the refill is 1 per second)...
    let queued = reserve(&redis, &keys, "DescribeInstances", ask(10.0, 1.0, 1)).await;
    assert_eq!(queued.granted, 1);
    assert!(
        queued.wait > Duration::from_millis(900) && queued.wait <= Duration::from_millis(1075),
        "{:?}",
        queued.wait
    );
    // ... and one whose deadline cannot wait two seconds is refused, taking nothing.
    let before = tokens(&redis, &keys.requests("DescribeInstances")).await;
    let refused = reserve(
        &redis,
        &keys,
        "DescribeInstances",
        Ask {
            most_wait: Some(Duration::from_millis(500)),
            ..ask(10.0, 1.0, 1)
        },
    )
    .await;
    assert_eq!(refused.granted, 0);
    assert!(
        refused.wait > Duration::from_millis(1500),
        "{:?}",
        refused.wait
    );
    let after = tokens(&redis, &keys.requests("DescribeInstances")).await;
    assert!(
        after >= before,
        "a refusal takes nothing: {before} -> {after}"
    );
    println!(
        "script: a burst of 10: 9 at once, the 10th after {:?}, the 11th queued {:?}, a \
         refusal took nothing",
        last.wait, queued.wait
    );
}

#[tokio::test]
async fn leases_come_from_a_drawn_bucket_only_and_may_be_partial() {
    let redis = Redis::start().await;
    let keys = BudgetKeys::new("test:lease");
    let action = "DescribeInstances";
    // A full bucket grants no lease: slots taken from it and spent late could outrun EC2's
    // bucket, which stops filling at its capacity.
    let full = reserve(&redis, &keys, action, ask(100.0, 20.0, 4)).await;
    assert_eq!(full.granted, 1);
    // Drawn down to about half: a lease of 4 slots, all ready now.
    for _ in 0..49 {
        reserve(&redis, &keys, action, ask(100.0, 20.0, 1)).await;
    }
    let lease = reserve(&redis, &keys, action, ask(100.0, 20.0, 4)).await;
    assert_eq!(lease.granted, 4);
    assert_eq!(lease.slot(3), Duration::ZERO);
    // Drawn down to about 2.5 tokens: only the slots within the horizon (100 ms, 2 more at
    // 20 per second) are leased: a partial grant.
    for _ in 0..(50 - 4 - 2) {
        reserve(&redis, &keys, action, ask(100.0, 20.0, 1)).await;
    }
    let left = tokens(&redis, &keys.requests(action)).await;
    let partial = reserve(&redis, &keys, action, ask(100.0, 20.0, 10)).await;
    let expected = (left - 1.02 + 20.0 * 0.1).floor() as u32; // 1.02 tokens kept in hand
    assert!(
        partial.granted >= expected && partial.granted <= expected + 1 && partial.granted < 10,
        "{} tokens left: granted {} (expected about {expected})",
        left,
        partial.granted
    );
    assert!(partial.slot(partial.granted - 1) <= HORIZON + Duration::from_millis(5));
    println!(
        "script: a full bucket leased 1, a half-full one 4, one with {left:.1} tokens {} of 10",
        partial.granted
    );
}

#[tokio::test]
async fn requests_and_instances_are_taken_together_or_not_at_all() {
    let redis = Redis::start().await;
    let keys = BudgetKeys::new("test:instances");
    let launch = |instances: usize, most_wait: Option<Duration>| Ask {
        requests: Rate::new(5.0, 2.0),
        instances: Some((Rate::new(1000.0, 2.0), instances)),
        wanted: 4,
        most_wait,
        horizon: HORIZON,
    };
    let first = reserve(&redis, &keys, "RunInstances", launch(600, None)).await;
    assert_eq!(
        (first.granted, first.wait),
        (1, Duration::ZERO),
        "no lease with instances"
    );
    let requests_before = tokens(&redis, &keys.requests("RunInstances")).await;
    let instances_before = tokens(&redis, &keys.instances("RunInstances")).await;
    // 600 more instances need 200 more tokens: 100 s at 2 per second.
    let refused = reserve(
        &redis,
        &keys,
        "RunInstances",
        launch(600, Some(Duration::from_secs(5))),
    )
    .await;
    assert_eq!(refused.granted, 0);
    assert!(refused.wait > Duration::from_secs(90), "{:?}", refused.wait);
    assert!(tokens(&redis, &keys.requests("RunInstances")).await >= requests_before);
    assert!(tokens(&redis, &keys.instances("RunInstances")).await >= instances_before);
    // Without a deadline, both are taken: the instance bucket goes below zero (queued).
    let queued = reserve(&redis, &keys, "RunInstances", launch(600, None)).await;
    assert_eq!(queued.granted, 1);
    assert!(tokens(&redis, &keys.instances("RunInstances")).await < 0.0);
}

#[tokio::test]
async fn throttling_halves_the_refill_for_everyone_and_heartbeats_count_replicas() {
    let redis = Redis::start().await;
    let keys = BudgetKeys::new("test:throttle");
    let script = BudgetScript::default();
    let mut connection = redis.connection().await;
    let rate = Rate::new(100.0, 20.0);
    let refill = script
        .throttled(&mut connection, &keys, "DescribeInstances", rate)
        .await
        .expect("throttled");
    assert!((9.99..10.01).contains(&refill), "{refill}");
    let again = script
        .throttled(&mut connection, &keys, "DescribeInstances", rate)
        .await
        .expect("throttled");
    assert!((4.99..5.01).contains(&again), "{again}");
    // The slots another replica reserves now come at the lowered refill.
    let slot = reserve(&redis, &keys, "DescribeInstances", ask(100.0, 20.0, 1)).await;
    assert!(slot.wait >= Duration::from_millis(150), "{:?}", slot.wait);
    for (n, replica) in ["a", "b", "c", "a"].iter().enumerate() {
        let live = script
            .heartbeat(&mut connection, &keys, replica, Duration::from_secs(5))
            .await
            .expect("heartbeat");
        assert_eq!(live, n.min(2) + 1, "replica {replica}");
    }
}

/// The flags of a replica sharing the budget in `redis`, with EC2's DescribeInstances and
/// RunInstances buckets scaled down as the stand-in enforces them.
fn replica_flags(redis: &Redis) -> Vec<String> {
    [
        "--ec2-budget-redis-url",
        &redis.url(),
        "--ec2-budget-key",
        "123456789012:us-east-1",
        "--ec2-rate",
        "DescribeInstances=10/5",
        "--merge-idle-ms",
        "0",
        "--caller-rate",
        "100000",
        "--caller-burst",
        "100000",
        "--metrics-listen",
        "127.0.0.1:0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Three gateway processes sharing `redis`, in front of `standin`.
async fn three_replicas(standin: &Standin, redis: &Redis) -> Vec<GatewayProcess> {
    let flags = replica_flags(redis);
    let args: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(GatewayProcess::start_with(&standin.endpoint(), &args, &[]).await);
    }
    replicas
}

/// What a load run saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct Outcome {
    /// Answered OK.
    pub served: usize,
    /// UNAVAILABLE (the budget refused it fast).
    pub refused: usize,
    /// DEADLINE_EXCEEDED.
    pub late: usize,
    /// Anything else.
    pub other: usize,
}

/// Offers `per_sec` describes a second for `seconds` in the home region, round-robin over
/// `replicas`, each call with a deadline of `deadline`; counts how they ended.
async fn offer_describes(
    replicas: &[GatewayProcess],
    per_sec: usize,
    seconds: f64,
    deadline: Duration,
) -> Outcome {
    offer_describes_in(replicas, "", per_sec, seconds, deadline).await
}

/// `offer_describes` in `region` (empty: the home region).
pub async fn offer_describes_in(
    replicas: &[GatewayProcess],
    region: &'static str,
    per_sec: usize,
    seconds: f64,
    deadline: Duration,
) -> Outcome {
    let mut clients = Vec::new();
    for replica in replicas {
        clients.push(Ec2ServiceClient::new(channel(replica.addr).await));
    }
    let total = (per_sec as f64 * seconds) as usize;
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / per_sec as f64));
    let mut calls = Vec::new();
    for i in 0..total {
        ticks.tick().await;
        let mut client = clients[i % clients.len()].clone();
        calls.push(tokio::spawn(async move {
            let mut request = Request::new(pb::DescribeInstancesRequest {
                filters: vec![pb::Filter {
                    name: "tag:Name".into(),
                    values: vec![format!("seed-{i}")],
                }],
                max_results: Some(5),
                region: region.into(),
                ..Default::default()
            });
            request.set_timeout(deadline);
            client.describe_instances(request).await
        }));
    }
    let mut outcome = Outcome::default();
    for call in calls {
        match call.await.expect("task") {
            Ok(_) => outcome.served += 1,
            Err(status) if status.code() == Code::Unavailable => outcome.refused += 1,
            Err(status) if status.code() == Code::DeadlineExceeded => outcome.late += 1,
            Err(status) => {
                println!("unexpected: {status:?}");
                outcome.other += 1
            }
        }
    }
    outcome
}

#[tokio::test]
async fn three_replicas_share_one_describe_budget_and_ec2_never_throttles() {
    // EC2's DescribeInstances bucket, scaled down: a burst of 10, 5 per second.
    let standin = Standin::builder()
        .request_rate("DescribeInstances", 10.0, 5.0)
        .seed(50, 0)
        .start()
        .await
        .expect("stand-in");
    let redis = Redis::start().await;
    let replicas = three_replicas(&standin, &redis).await;

    // 10x the refill, spread over the three replicas, for 4 seconds.
    let started = Instant::now();
    let outcome = offer_describes(&replicas, 50, 4.0, Duration::from_secs(1)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let counters = standin.counters("DescribeInstances");
    let allowed = 10.0 + 5.0 * elapsed;
    println!(
        "shared budget, 3 replicas at 10x the refill for {elapsed:.1} s: {} served, {} refused \
         fast, {} late; EC2 saw {} calls, throttled {}; burst + refill x time = {allowed:.0}",
        outcome.served, outcome.refused, outcome.late, counters.calls, counters.throttled
    );
    assert_eq!(
        counters.throttled, 0,
        "the shared budget never lets EC2 throttle"
    );
    assert_eq!(
        outcome.other + outcome.late,
        0,
        "calls are served or refused fast"
    );
    assert_eq!(
        counters.calls as usize, outcome.served,
        "refused calls never reached EC2"
    );
    assert!(
        outcome.served as f64 <= allowed + 1.0,
        "the replicas together stay within one account's budget"
    );
    assert!(
        outcome.served as f64 >= 0.7 * allowed,
        "the budget is spent, not wasted: {} of {allowed:.0}",
        outcome.served
    );
    let mut redis_calls = 0.0;
    for replica in &replicas {
        assert_eq!(
            replica.metric("ec2_budget_shared").await,
            Some(1.0),
            "shared mode"
        );
        redis_calls += replica
            .metric_with("ec2_budget_redis_calls_total", "outcome=\"ok\"")
            .await
            .unwrap_or(0.0);
    }
    println!(
        "shared budget: {redis_calls} Redis round trips for {} EC2 calls",
        counters.calls
    );
    assert!(
        redis_calls < (outcome.served + outcome.refused) as f64,
        "a call refused on an earlier answer (its deadline before the next free slot) costs no \
         round trip"
    );
}

#[tokio::test]
async fn three_replicas_share_the_launch_request_and_instance_buckets() {
    // EC2's RunInstances buckets: 5 calls burst, 2 per second; 1000 instances, 2 per second.
    let standin = Standin::builder()
        .seed(0, 0)
        .start()
        .await
        .expect("stand-in");
    let redis = Redis::start().await;
    let replicas = three_replicas(&standin, &redis).await;
    let mut clients = Vec::new();
    for replica in &replicas {
        clients.push(Ec2ServiceClient::new(channel(replica.addr).await));
    }
    // Launches of 100 instances at 10x the request refill for 3 seconds: the instance bucket
    // (10 launches of 100) binds as much as the request bucket (5 + 2 per second).
    let mut ticks = tokio::time::interval(Duration::from_millis(50));
    let mut calls = Vec::new();
    for i in 0..60 {
        ticks.tick().await;
        let mut client = clients[i % 3].clone();
        calls.push(tokio::spawn(async move {
            let mut request = Request::new(pb::RunInstancesRequest {
                image_id: "ami-0123456789abcdef0".into(),
                min_count: Some(100),
                max_count: Some(100),
                ..Default::default()
            });
            request.set_timeout(Duration::from_secs(1));
            client.run_instances(request).await
        }));
    }
    let (mut served, mut refused) = (0, 0);
    for call in calls {
        match call.await.expect("task") {
            Ok(_) => served += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                refused += 1;
            }
        }
    }
    let counters = standin.counters("RunInstances");
    let launched = standin.with_account(|account| account.instances.len());
    println!(
        "shared budget, 3 replicas launching 100 instances at 10x the refill: {served} served, \
         {refused} refused fast; EC2 saw {} calls, throttled {}; {launched} instances",
        counters.calls, counters.throttled
    );
    assert_eq!(counters.throttled, 0, "neither bucket let EC2 throttle");
    assert!(served >= 5, "at least the request burst");
    assert!(served <= 10, "at most the instance bucket: 1000 instances");
    assert_eq!(launched, served * 100);
}

#[tokio::test]
async fn redis_killed_mid_run_falls_back_to_fair_shares_and_comes_back() {
    let standin = Standin::builder()
        .request_rate("DescribeInstances", 10.0, 5.0)
        .seed(50, 0)
        .start()
        .await
        .expect("stand-in");
    let mut redis = Redis::start().await;
    let replicas = three_replicas(&standin, &redis).await;
    for replica in &replicas {
        await_metric(replica, "ec2_budget_shared", 1.0).await;
    }

    let shared_phase = offer_describes(&replicas, 50, 2.0, Duration::from_secs(1)).await;
    redis.kill().await;
    let fallback_phase = offer_describes(&replicas, 50, 3.0, Duration::from_secs(1)).await;
    let throttled = standin.counters("DescribeInstances").throttled;
    for replica in &replicas {
        assert_eq!(
            replica.metric("ec2_budget_shared").await,
            Some(0.0),
            "fallback mode"
        );
        assert!(replica.metric("ec2_budget_fallbacks_total").await >= Some(1.0));
    }
    println!(
        "Redis killed: before, {} served; during, {} served at share / 3 replicas, {} refused \
         fast; EC2 throttled {throttled}",
        shared_phase.served, fallback_phase.served, fallback_phase.refused
    );
    assert_eq!(throttled, 0, "fallback shares never let EC2 throttle");
    assert!(
        fallback_phase.served > 0,
        "calls keep being served without Redis"
    );
    assert_eq!(fallback_phase.late + fallback_phase.other, 0);

    redis.restart().await;
    for replica in &replicas {
        await_metric(replica, "ec2_budget_shared", 1.0).await;
    }
    let back = offer_describes(&replicas, 20, 1.0, Duration::from_secs(1)).await;
    assert!(back.served > 0);
    assert_eq!(standin.counters("DescribeInstances").throttled, 0);
    println!(
        "Redis restarted: every replica back on the shared budget ({} served)",
        back.served
    );
}

#[tokio::test]
async fn a_hung_redis_never_stalls_a_call() {
    let standin = Standin::builder()
        .request_rate("DescribeInstances", 10.0, 5.0)
        .seed(50, 0)
        .start()
        .await
        .expect("stand-in");
    let redis = Redis::start().await;
    let replicas = three_replicas(&standin, &redis).await;
    for replica in &replicas {
        await_metric(replica, "ec2_budget_shared", 1.0).await;
    }
    redis.signal("STOP");
    // Every call has 2 s; with Redis hung, each replica gives up on it after its 50 ms
    // timeout and answers from its fallback share: served, or refused fast, never late.
    let hung = offer_describes(&replicas, 10, 3.0, Duration::from_secs(2)).await;
    for replica in &replicas {
        assert_eq!(
            replica.metric("ec2_budget_shared").await,
            Some(0.0),
            "fallback mode"
        );
    }
    redis.signal("CONT");
    println!(
        "Redis hung: {} served, {} refused fast, {} past their deadline; EC2 throttled {}",
        hung.served,
        hung.refused,
        hung.late,
        standin.counters("DescribeInstances").throttled
    );
    assert_eq!(
        hung.late + hung.other,
        0,
        "no call waited on the hung Redis"
    );
    assert!(hung.served > 0);
    assert_eq!(standin.counters("DescribeInstances").throttled, 0);
}

/// Waits until `replica`'s metric `series` reads `value` (the heartbeat runs every second).
async fn await_metric(replica: &GatewayProcess, series: &str, value: f64) {
    tokio::time::timeout(Duration::from_secs(30), async {
        while replica.metric(series).await != Some(value) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{series} reaches {value}"));
}
