//! P10, targets: what serving many accounts costs. The added latency of a call to another
//! account (its role assumed once, then cached) against a call to the home account, both
//! answered by the same stand-in; and the gateway's memory with 50 accounts configured
//! against one, then with all 50 built. moto plays STS (the stand-in serves EC2 only).

use crate::support::{self, GatewayProcess, LIFTED, MotoServer, percentile};
use ec2_grpc::pb;
use ec2_grpc::pb::ec2_service_client::Ec2ServiceClient;
use serde_json::{Value, json};
use std::path::PathBuf;
use tonic::transport::Channel;

/// Calls a block; blocks alternate between home and the other account, so drift in the
/// machine's load falls on both alike.
const BLOCK: usize = 500;
const BLOCKS: usize = 4;
/// Accounts configured for the memory comparison.
const ACCOUNTS: usize = 50;
/// Home calls before each memory reading (the gateway warmed up alike).
const WARM_UP: usize = 200;

/// An accounts file with `n` accounts (`acct-0`, ...), each reached through its role, one
/// region each; written under `target/bench`.
fn accounts_file(n: usize) -> PathBuf {
    let mut text = String::from("[home]\nregions = [\"us-east-1\"]\n");
    for i in 0..n {
        text.push_str(&format!(
            "\n[accounts.acct-{i}]\nid = \"{:012}\"\nrole_arn = \"arn:aws:iam::{:012}:role/ec2-grpc\"\nregions = [\"us-east-1\"]\n",
            100_000_000_000u64 + i as u64,
            100_000_000_000u64 + i as u64,
        ));
    }
    let path = PathBuf::from(format!("target/bench/p10-accounts-{n}.toml"));
    std::fs::write(&path, text).expect("the accounts file");
    path
}

/// One DescribeInstances in `account` (empty: home), expecting the stand-in's one instance.
async fn describe_one(client: &mut Ec2ServiceClient<Channel>, account: &str) {
    let answer = client
        .describe_instances(pb::DescribeInstancesRequest {
            account: account.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("describe in {account:?}: {e:?}"))
        .into_inner();
    assert_eq!(support::instances_in(&answer.reservations), 1);
}

/// Latencies of `calls` sequential describes in `account`.
async fn latencies(
    client: &Ec2ServiceClient<Channel>,
    account: &'static str,
    calls: usize,
) -> Vec<f64> {
    support::sequential(calls, || {
        let mut client = client.clone();
        async move { describe_one(&mut client, account).await }
    })
    .await
}

/// A gateway on `endpoint` with `accounts`, STS at `sts`, its metrics served.
async fn gateway(
    endpoint: &str,
    sts: &str,
    accounts: Option<&PathBuf>,
    name: &str,
) -> GatewayProcess {
    let mut args: Vec<&str> = LIFTED.to_vec();
    args.extend(["--metrics-listen", "127.0.0.1:0"]);
    if let Some(path) = accounts {
        args.extend(["--accounts-file", path.to_str().expect("path")]);
    }
    GatewayProcess::start_with_env(endpoint, &args, &[("AWS_ENDPOINT_URL_STS", sts)], name).await
}

pub async fn run() -> Value {
    let standin = support::unthrottled_standin(1).await;
    let sts = MotoServer::start().await;

    // Latency: home and another account, alternating blocks, on one gateway.
    let one_other = accounts_file(1);
    let latency_gateway =
        gateway(&standin.endpoint(), &sts.endpoint, Some(&one_other), "p10").await;
    let client = latency_gateway.client().await;
    let mut first = client.clone();
    describe_one(&mut first, "acct-0").await; // builds the target, assumes its role
    let (mut home, mut other) = (Vec::new(), Vec::new());
    for _ in 0..BLOCKS {
        home.extend(latencies(&client, "", BLOCK).await);
        other.extend(latencies(&client, "acct-0", BLOCK).await);
    }
    let assumed = latency_gateway
        .metric("ec2_sts_assume_role_calls_total", "outcome=\"ok\"")
        .await;
    let (home_p50, other_p50) = (percentile(&home, 50.0), percentile(&other, 50.0));
    eprintln!(
        "p10: p50 home {home_p50:.0} µs, another account {other_p50:.0} µs ({:.3}x); {assumed} AssumeRole for {} calls there",
        other_p50 / home_p50,
        BLOCK * BLOCKS + 1
    );

    // Memory: one target against 50 configured, each warmed up alike; then the 50 built.
    let single = gateway(&standin.endpoint(), &sts.endpoint, None, "p10-one").await;
    let mut client = single.client().await;
    for _ in 0..WARM_UP {
        describe_one(&mut client, "").await;
    }
    let one_rss = single.rss_mib();
    let fifty_file = accounts_file(ACCOUNTS);
    let fifty = gateway(
        &standin.endpoint(),
        &sts.endpoint,
        Some(&fifty_file),
        "p10-fifty",
    )
    .await;
    let mut client = fifty.client().await;
    for _ in 0..WARM_UP {
        describe_one(&mut client, "").await;
    }
    let configured_rss = fifty.rss_mib();
    let aliases: Vec<String> = (0..ACCOUNTS).map(|i| format!("acct-{i}")).collect();
    for alias in &aliases {
        describe_one(&mut client, alias).await;
    }
    let built_rss = fifty.rss_mib();
    eprintln!(
        "p10: RSS one target {one_rss:.1} MiB, {ACCOUNTS} configured {configured_rss:.1} MiB (+{:.1}), {ACCOUNTS} built {built_rss:.1} MiB (+{:.2} MiB a target)",
        configured_rss - one_rss,
        (built_rss - configured_rss) / ACCOUNTS as f64
    );
    json!({
        "calls_each": BLOCK * BLOCKS,
        "home_p50_us": home_p50,
        "home_p99_us": percentile(&home, 99.0),
        "other_p50_us": other_p50,
        "other_p99_us": percentile(&other, 99.0),
        "assume_role_calls": assumed,
        "accounts": ACCOUNTS,
        "one_target_rss_mib": one_rss,
        "configured_rss_mib": configured_rss,
        "built_rss_mib": built_rss,
    })
}
