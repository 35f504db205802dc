//! The gateway as a server: health during shutdown (in-process), and the real binary driven by
//! grpcurl, SIGTERM, bad configuration, and a Python client generated from proto/.

use crate::describe::launch;
use crate::support::{self, GatewayProcess, Moto, grpcurl};
use aws_sdk_ec2::types::Filter as SdkFilter;
use std::time::Duration;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

#[tokio::test]
async fn health_turns_not_serving_as_soon_as_shutdown_starts() {
    let moto = Moto::start().await;
    let (ec2, _) = moto.sdk();
    let mut gateway = support::Gateway::start(ec2).await;
    let mut health = HealthClient::new(support::channel(gateway.addr).await);
    let check = |service: &str| HealthCheckRequest {
        service: service.to_owned(),
    };
    let serving = health
        .check(check("ec2.v1.Ec2Service"))
        .await
        .expect("check");
    assert_eq!(serving.into_inner().status(), ServingStatus::Serving);

    let mut watch = health.watch(check("")).await.expect("watch").into_inner();
    let first: HealthCheckResponse = watch.message().await.expect("watch").expect("status");
    assert_eq!(first.status(), ServingStatus::Serving);

    gateway.shutdown();
    let next = tokio::time::timeout(Duration::from_secs(10), watch.message())
        .await
        .expect("a status update after shutdown starts")
        .expect("watch stream")
        .expect("status");
    assert_eq!(next.status(), ServingStatus::NotServing);
    // The open watch is in flight: the server waits for it up to the 1 s grace, then stops.
    tokio::time::timeout(Duration::from_secs(10), &mut gateway.task)
        .await
        .expect("server stops after the grace period")
        .expect("server task");
}

#[tokio::test]
async fn the_binary_serves_grpcurl_and_exits_cleanly_on_sigterm() {
    let moto = Moto::start().await;
    let (sdk, _) = moto.sdk();
    let ids = launch(&sdk, &moto.image_id().await, 2, "cli").await;
    let process = GatewayProcess::start(&moto.endpoint).await;
    let addr = process.addr.to_string();

    let services = grpcurl(&["-plaintext", &addr, "list"]).await;
    assert!(
        services.lines().any(|l| l == "ec2.v1.Ec2Service"),
        "{services}"
    );
    assert!(
        services.lines().any(|l| l == "grpc.health.v1.Health"),
        "{services}"
    );

    let health = grpcurl(&["-plaintext", &addr, "grpc.health.v1.Health/Check"]).await;
    let health: serde_json::Value = serde_json::from_str(&health).expect("json");
    assert_eq!(health["status"], "SERVING");

    let described = grpcurl(&[
        "-plaintext",
        "-d",
        &format!(r#"{{"instance_ids": ["{}", "{}"]}}"#, ids[0], ids[1]),
        &addr,
        "ec2.v1.Ec2Service/DescribeInstances",
    ])
    .await;
    let described: serde_json::Value = serde_json::from_str(&described).expect("json");
    let mut seen: Vec<String> = described["reservations"][0]["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .map(|i| i["instanceId"].as_str().expect("instanceId").to_owned())
        .collect();
    seen.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(seen, expected);

    // The binary read its endpoint and credentials from the standard AWS variables; the
    // direct SDK read agrees on the state.
    let direct = sdk
        .describe_instances()
        .filters(SdkFilter::builder().name("tag:team").values("cli").build())
        .send()
        .await
        .expect("direct describe");
    assert_eq!(direct.reservations()[0].instances().len(), 2);
    assert_eq!(
        described["reservations"][0]["instances"][0]["state"]["name"],
        "running"
    );

    let status = process.terminate().await;
    assert_eq!(status.code(), Some(0), "SIGTERM is a clean exit");
}

#[tokio::test]
async fn the_binary_refuses_a_non_loopback_address_without_auth() {
    let output = support::binary("http://127.0.0.1:9")
        .args(["--listen", "0.0.0.0:50051"])
        .output()
        .await
        .expect("run ec2-grpc");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:50051"),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-unauthenticated"), "{stderr}");

    let output = support::binary("http://127.0.0.1:9")
        .args(["--listen", "not-an-address"])
        .output()
        .await
        .expect("run ec2-grpc");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--listen"), "{stderr}");
}

#[tokio::test]
async fn python_client_generated_from_proto_agrees_with_boto3() {
    let moto = Moto::start().await;
    let process = GatewayProcess::start(&moto.endpoint).await;
    let output = tokio::process::Command::new(support::tool(".venv/bin/python"))
        .arg(support::tool("tests/polyglot/client.py"))
        .args([
            "--gateway",
            &process.addr.to_string(),
            "--ec2",
            &moto.endpoint,
        ])
        .output()
        .await
        .expect("run the Python client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    // The script asserts >= 95% agreement per shape; these lines are its evidence.
    println!("{stdout}");
    assert!(stdout.contains("agreement: instance:"), "{stdout}");
    assert!(stdout.contains("agreement: network interface:"), "{stdout}");
    assert!(stdout.contains("polyglot: all calls agree"), "{stdout}");
    assert_eq!(process.terminate().await.code(), Some(0));
}
