//! One EC2 budget per target, as EC2 throttles per account and region: against the project's
//! stand-in, which keeps EC2's buckets per region (the region of each request's signature), a
//! busy target driven at 10x its refill is refused fast while a quiet target's calls are all
//! served within their deadline, and EC2 throttles neither; in-process (one replica) and
//! through Redis (three replicas). Assertions are counts and codes.

use crate::shared_budget::offer_describes_in;
use crate::support::{AccountsFile, GatewayProcess, Redis};
use ec2_standin::Standin;
use std::time::Duration;

/// The home account in two regions: two targets, no STS.
const TWO_REGIONS: &str = "[home]\nregions = [\"us-east-1\", \"us-west-2\"]\n";

/// The busy target's region, and the quiet one's.
const BUSY: &str = "us-east-1";
const QUIET: &str = "us-west-2";

/// `replicas` gateways in front of `standin` with the two-region accounts file and EC2's
/// DescribeInstances bucket scaled down (`more`: the budget's store).
async fn replicas(
    standin: &Standin,
    accounts: &AccountsFile,
    count: usize,
    more: &[&str],
) -> Vec<GatewayProcess> {
    let mut args = vec![
        "--accounts-file",
        accounts.arg(),
        "--ec2-rate",
        "DescribeInstances=10/5",
        // Headroom under EC2's bucket, as a deployment keeps: the stand-in refills on its own
        // clock, and calls the budget spaced out can reach it closer together on a busy machine.
        "--ec2-budget-share",
        "0.8",
        "--merge-idle-ms",
        "0",
        "--caller-rate",
        "100000",
        "--caller-burst",
        "100000",
    ];
    args.extend_from_slice(more);
    let mut started = Vec::new();
    for _ in 0..count {
        started.push(GatewayProcess::start_with(&standin.endpoint(), &args, &[]).await);
    }
    started
}

/// Drives the busy target at 10x its refill and the quiet one at a third of it, at once, and
/// checks each target's budget on its own.
async fn busy_and_quiet(replicas: &[GatewayProcess], standin: &Standin, label: &str) {
    let busy = offer_describes_in(replicas, BUSY, 50, 3.0, Duration::from_millis(500));
    let quiet = offer_describes_in(replicas, QUIET, 2, 3.0, Duration::from_millis(500));
    let (busy, quiet) = tokio::join!(busy, quiet);
    let on_busy = standin.counters_in(BUSY, "DescribeInstances");
    let on_quiet = standin.counters_in(QUIET, "DescribeInstances");
    println!(
        "{label}: busy {BUSY} {busy:?}, EC2 saw {} throttled {}; quiet {QUIET} {quiet:?}, EC2 saw {} throttled {}",
        on_busy.calls, on_busy.throttled, on_quiet.calls, on_quiet.throttled
    );
    assert_eq!(
        (on_busy.throttled, on_quiet.throttled),
        (0, 0),
        "EC2 throttles neither target"
    );
    assert!(
        busy.refused > 0,
        "the busy target is refused fast: {busy:?}"
    );
    assert_eq!(
        busy.other + busy.late,
        0,
        "refused fast, never late: {busy:?}"
    );
    assert_eq!(
        on_busy.calls as usize, busy.served,
        "refused calls never reached EC2"
    );
    assert_eq!(
        (quiet.served, quiet.refused, quiet.late + quiet.other),
        (6, 0, 0),
        "every quiet call is served within its deadline"
    );
}

#[tokio::test]
async fn a_busy_target_never_slows_a_quiet_one_in_process() {
    let standin = Standin::builder()
        .request_rate("DescribeInstances", 10.0, 5.0)
        .start()
        .await
        .expect("stand-in");
    let accounts = AccountsFile::write("target-budgets-local", TWO_REGIONS);
    let replicas = replicas(&standin, &accounts, 1, &[]).await;
    busy_and_quiet(&replicas, &standin, "in-process").await;
}

#[tokio::test]
async fn a_busy_target_never_slows_a_quiet_one_across_three_replicas_sharing_redis() {
    let standin = Standin::builder()
        .request_rate("DescribeInstances", 10.0, 5.0)
        .start()
        .await
        .expect("stand-in");
    let redis = Redis::start().await;
    let url = redis.url();
    let accounts = AccountsFile::write("target-budgets-redis", TWO_REGIONS);
    let replicas = replicas(&standin, &accounts, 3, &["--ec2-budget-redis-url", &url]).await;
    busy_and_quiet(&replicas, &standin, "3 replicas, Redis").await;
    // One budget per target in Redis, named after the account (unknown here: "default") and
    // the region.
    let mut connection = redis.connection().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut connection)
        .await
        .expect("keys");
    for region in [BUSY, QUIET] {
        assert!(
            keys.iter().any(|k| k.contains(&format!(":{region}}}"))),
            "a budget for {region}: {keys:?}"
        );
    }
}
