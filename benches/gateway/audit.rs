//! P11: the audit trail's cost. A change (CreateNetworkInterface in the stand-in, audited at
//! `request` level by default) through a gateway with the trail on and one with it off, in
//! alternating blocks: the added p50. Then a fleet of callers as fast as the machine allows,
//! with reads audited too, counting the events written against the calls served.

use crate::support::{self, GatewayProcess, LIFTED, percentile};
use ec2_grpc::pb;
use ec2_grpc::pb::ec2_service_client::Ec2ServiceClient;
use serde_json::{Value, json};
use std::time::Duration;
use tonic::transport::Channel;

/// Calls per block, and blocks per gateway.
const BLOCK: usize = 500;
const BLOCKS: usize = 4;
/// The fleet: concurrent callers, and for how long.
const FLEET: usize = 64;
const FLEET_FOR: Duration = Duration::from_secs(10);

/// One CreateNetworkInterface in the stand-in's first subnet.
async fn create(client: &mut Ec2ServiceClient<Channel>) {
    client
        .create_network_interface(pb::CreateNetworkInterfaceRequest {
            subnet_id: ec2_standin::model::SUBNETS[0].to_owned(),
            description: "p11".into(),
            ..Default::default()
        })
        .await
        .expect("create a network interface");
}

/// Lines in the trail at `path`.
fn lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// Runs P11.
pub async fn run() -> Value {
    let standin = support::unthrottled_standin(1).await;
    let dir = std::env::temp_dir().join(format!("ec2-grpc-p11-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let trail = dir.join("audit.jsonl");
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        "[[rules]]\nrpcs = [\"DescribeInstances\"]\nlevel = \"request\"\n",
    )
    .expect("policy");
    // The change's own EC2 bucket lifted too (100 burst, 5 a second at EC2): the figure is
    // the gateway's time, not the budget's waits.
    // Both serve metrics (the trail's drops are read from them): the two differ by the trail
    // alone.
    let mut off_args: Vec<&str> = LIFTED.to_vec();
    off_args.extend([
        "--ec2-rate",
        "CreateNetworkInterface=1000000/1000000",
        "--metrics-listen",
        "127.0.0.1:0",
    ]);
    let mut audited_args: Vec<&str> = off_args.clone();
    let trail_arg = trail.to_str().expect("path").to_owned();
    let policy_arg = policy.to_str().expect("path").to_owned();
    audited_args.extend([
        "--audit-log",
        &trail_arg,
        "--audit-policy-file",
        &policy_arg,
    ]);
    let off = GatewayProcess::start(&standin.endpoint(), &off_args, "p11-off").await;
    let on = GatewayProcess::start(&standin.endpoint(), &audited_args, "p11-on").await;
    let mut off_client = off.client().await;
    let mut on_client = on.client().await;
    for _ in 0..BLOCK / 5 {
        create(&mut off_client).await;
        create(&mut on_client).await;
    }
    let (mut off_us, mut on_us) = (Vec::new(), Vec::new());
    for _ in 0..BLOCKS {
        for (client, latencies) in [(&mut off_client, &mut off_us), (&mut on_client, &mut on_us)] {
            for _ in 0..BLOCK {
                let started = tokio::time::Instant::now();
                create(client).await;
                latencies.push(started.elapsed().as_secs_f64() * 1e6);
            }
        }
    }
    // The writer writes every 10 ms: wait for the last changes' events (at most 5 s).
    // The warm-up's and the blocks' changes through the audited gateway.
    let changes = BLOCK / 5 + BLOCKS * BLOCK;
    let mut changes_written = lines(&trail);
    for _ in 0..50 {
        if changes_written >= changes {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        changes_written = lines(&trail);
    }

    // The fleet: reads audited at request level, as fast as the callers go.
    let before = lines(&trail);
    let rate = support::throughput(FLEET, FLEET_FOR, {
        let client = on_client.clone();
        move || {
            let mut client = client.clone();
            async move { support::describe_the_one_instance(&mut client).await }
        }
    })
    .await;
    let served = (rate * FLEET_FOR.as_secs_f64()).round() as usize;
    // The writer drains its queue; then count.
    let mut written = lines(&trail) - before;
    for _ in 0..100 {
        if written >= served {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        written = lines(&trail) - before;
    }
    let dropped = on.metric("ec2_audit_dropped_total", "").await;
    let _ = std::fs::remove_dir_all(&dir);
    let off_p50 = percentile(&off_us, 50.0);
    let on_p50 = percentile(&on_us, 50.0);
    json!({
        "calls_each": BLOCK * BLOCKS,
        "off_p50_us": off_p50,
        "on_p50_us": on_p50,
        "off_p99_us": percentile(&off_us, 99.0),
        "on_p99_us": percentile(&on_us, 99.0),
        "added_ratio": on_p50 / off_p50,
        "changes_written": changes_written,
        "fleet_callers": FLEET,
        "fleet_secs": FLEET_FOR.as_secs_f64(),
        "fleet_rate": rate,
        "fleet_served": served,
        "fleet_written": written,
        "fleet_dropped": dropped,
    })
}
