//! P8: the EC2 budget shared through Redis. Three gateway replicas share one budget in a
//! `redis-server` on loopback, in front of a stand-in enforcing EC2's DescribeInstances
//! bucket, under 10x its refill spread over the three (P4's load): throttles at EC2, goodput,
//! and Redis round trips per EC2 call. Then the price of the shared budget per call: one
//! caller's describes, one after another with the budget not binding, through a replica with
//! the in-process budget and through one with the shared budget (a Redis round trip each).

use crate::protection::{Overload, P4_SECONDS, describe_bucket, goodput_of, overload};
use crate::support::{
    GatewayProcess, LIFTED, QUOTA_LIFTED, RedisServer, percentile, sequential, unthrottled_standin,
};
use ec2_grpc::pb;
use ec2_standin::Standin;
use serde_json::{Value, json};

const REPLICAS: usize = 3;
/// Describes timed per budget for the added latency.
const LATENCY_CALLS: usize = 2000;

/// The flags of a replica sharing the budget in `redis` under `key`.
fn shared(redis: &RedisServer, key: &str) -> Vec<String> {
    [
        "--ec2-budget-redis-url",
        &redis.url,
        "--ec2-budget-key",
        key,
        "--metrics-listen",
        "127.0.0.1:0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// P8: three replicas at 10x the refill, then the added p50 of the shared budget.
pub async fn run() -> Value {
    let redis = RedisServer::start().await;

    let standin = Standin::builder()
        .seed(200, 0)
        .start()
        .await
        .expect("stand-in");
    let mut flags = shared(&redis, "bench:load");
    flags.extend(QUOTA_LIFTED.iter().map(|s| s.to_string()));
    let args: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut replicas = Vec::new();
    let mut clients = Vec::new();
    for n in 0..REPLICAS {
        let replica = GatewayProcess::start(&standin.endpoint(), &args, &format!("p8-{n}")).await;
        clients.push(replica.client().await);
        replicas.push(replica);
    }
    let (capacity, refill) = describe_bucket();
    let offered = 10.0 * refill;
    let seen = overload(&clients, offered).await;
    let goodput = goodput_of(&seen);
    let counters = standin.counters("DescribeInstances");
    let mut round_trips = 0.0;
    let mut shared_mode = 0.0;
    for replica in &replicas {
        round_trips += replica
            .metric("ec2_budget_redis_calls_total", "outcome=\"ok\"")
            .await;
        shared_mode += replica.metric("ec2_budget_shared", "").await;
    }
    let Overload {
        calls,
        served,
        refused,
        codes,
        ..
    } = seen;
    eprintln!(
        "p8: {REPLICAS} replicas, {calls} calls at {offered}/s: {served} served, {refused} refused \
         {codes:?}; EC2 saw {} calls, throttled {}; goodput {goodput:.1}/s of a {refill}/s \
         refill; {round_trips} Redis round trips",
        counters.calls, counters.throttled
    );
    drop(replicas);

    let (in_process, shared_budget) = added_latency(&redis).await;
    let (p50_local, p50_shared) = (
        percentile(&in_process, 50.0),
        percentile(&shared_budget, 50.0),
    );
    eprintln!(
        "p8: p50 {p50_local:.0} µs with the in-process budget, {p50_shared:.0} µs with the \
         shared one"
    );
    json!({
        "replicas": REPLICAS,
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
        "redis_round_trips": round_trips,
        "replicas_in_shared_mode": shared_mode,
        "latency_calls": LATENCY_CALLS,
        "p50_in_process_us": p50_local,
        "p50_shared_us": p50_shared,
        "p99_in_process_us": percentile(&in_process, 99.0),
        "p99_shared_us": percentile(&shared_budget, 99.0),
    })
}

/// Latencies (µs) of sequential describes through a gateway with the in-process budget and
/// through one with the shared budget, both with DescribeInstances' bucket lifted so that it
/// never binds (the shared one still asks Redis on every call: a full bucket grants no lease).
async fn added_latency(redis: &RedisServer) -> (Vec<f64>, Vec<f64>) {
    let standin = unthrottled_standin(50).await;
    let local = GatewayProcess::start(&standin.endpoint(), LIFTED, "p8-in-process").await;
    let mut flags = shared(redis, "bench:latency");
    flags.extend(LIFTED.iter().map(|s| s.to_string()));
    let args: Vec<&str> = flags.iter().map(String::as_str).collect();
    let shared = GatewayProcess::start(&standin.endpoint(), &args, "p8-shared").await;
    let request = pb::DescribeInstancesRequest {
        max_results: Some(5),
        ..Default::default()
    };
    let mut times = Vec::new();
    for gateway in [&local, &shared] {
        let client = gateway.client().await;
        times.push(
            sequential(LATENCY_CALLS, || {
                let mut client = client.clone();
                let request = request.clone();
                async move {
                    client
                        .describe_instances(request)
                        .await
                        .expect("a describe");
                }
            })
            .await,
        );
    }
    let shared_times = times.pop().expect("shared");
    let local_times = times.pop().expect("in-process");
    (local_times, shared_times)
}
