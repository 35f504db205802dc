//! The lookup RPCs (proto/lookups.toml) on the real binary: fidelity with boto3 on moto (a
//! Python client the project does not ship, through grpcurl), `max_staleness` answered from
//! memory, validation, DryRun, EC2's errors, roles and tag scopes, `resolve:ssm:` image ids on
//! the stand-in, and the status waiters' one DescribeInstanceStatus per interval. EC2 calls
//! are counted by a proxy in front of the endpoint.

use crate::auth::bearer;
use crate::counting_proxy::CountingProxy;
use crate::support::{self, GatewayProcess, Moto};
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use ec2_grpc::pb;
use ec2_grpc::pb::ec2_service_client::Ec2ServiceClient;
use ec2_standin::Standin;
use std::collections::BTreeSet;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

const READER_TOKEN: &str = "lookup-reader-token-7c41d09e2f";
const SCOPED_TOKEN: &str = "lookup-blue-token-90be13a6d4";
const LAUNCHER_TOKEN: &str = "lookup-launcher-token-1f5a8e27c3";

/// The binary in front of `proxy`, with the inventory's status rounds every 2 s (and its
/// full list rare, so it counts little).
async fn gateway(
    proxy: &CountingProxy,
    args: &[&str],
) -> (GatewayProcess, Ec2ServiceClient<Channel>) {
    let process = GatewayProcess::start_with(&proxy.endpoint, args, &[]).await;
    let client = Ec2ServiceClient::new(support::channel(process.addr).await);
    (process, client)
}

/// `key=value` as a tag specification of `resource`.
fn tagged(resource: ResourceType, key: &str, value: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .tags(Tag::builder().key(key).value(value).build())
        .build()
}

#[tokio::test]
async fn every_lookup_answers_what_boto3_reads_from_moto() {
    let moto = Moto::start().await;
    let process = GatewayProcess::start(&moto.endpoint).await;
    let script = support::tool("tests/polyglot/lookups_fidelity.py");
    let output = tokio::process::Command::new(support::tool(".venv/bin/python"))
        .arg(&script)
        .arg(&moto.endpoint)
        .arg(process.addr.to_string())
        .output()
        .await
        .expect("run the fidelity script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "fidelity failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("fidelity: 11 lookups"),
        "every lookup compared:\n{stdout}"
    );
}

#[tokio::test]
async fn max_staleness_answers_100_lookups_with_one_ec2_call_and_says_how_old() {
    let moto = Moto::start().await;
    let proxy = CountingProxy::start(&moto.endpoint, None).await;
    let (_process, mut client) = gateway(&proxy, &[]).await;
    let arm64 = pb::DescribeInstanceTypesRequest {
        filters: vec![
            pb::Filter {
                name: "processor-info.supported-architecture".into(),
                values: vec!["arm64".into()],
            },
            pb::Filter {
                name: "vcpu-info.default-vcpus".into(),
                values: vec!["4".into()],
            },
        ],
        max_staleness: Some(prost_types::Duration {
            seconds: 300,
            nanos: 0,
        }),
        ..Default::default()
    };
    let mut answers = Vec::new();
    for _ in 0..100 {
        let answer = client
            .describe_instance_types(arm64.clone())
            .await
            .expect("describe instance types")
            .into_inner();
        answers.push(answer);
    }
    assert_eq!(
        proxy.count("DescribeInstanceTypes"),
        1,
        "100 lookups, 1 EC2 call"
    );
    assert!(answers[0].staleness.is_none(), "the first came from EC2");
    assert!(answers[1..].iter().all(|a| a.staleness.is_some()));
    assert!(!answers[0].instance_types.is_empty());
    assert!(
        answers
            .iter()
            .all(|a| a.instance_types == answers[0].instance_types)
    );
    let types: BTreeSet<&str> = answers[0]
        .instance_types
        .iter()
        .map(|t| t.instance_type.as_str())
        .collect();
    assert!(answers[0].instance_types.iter().all(|t| {
        t.v_cpu_info.as_ref().and_then(|v| v.default_v_cpus) == Some(4)
            && t.processor_info
                .as_ref()
                .is_some_and(|p| p.supported_architectures.contains(&"arm64".to_owned()))
    }));
    println!("lookups: 100 DescribeInstanceTypes -> 1 EC2 call; 4 vCPUs arm64: {types:?}");

    // Without max_staleness, EC2 answers (and refreshes what is kept).
    let fresh = pb::DescribeInstanceTypesRequest {
        max_staleness: None,
        ..arm64.clone()
    };
    let answer = client
        .describe_instance_types(fresh)
        .await
        .expect("fresh")
        .into_inner();
    assert!(answer.staleness.is_none());
    assert_eq!(proxy.count("DescribeInstanceTypes"), 2);
}

#[tokio::test]
async fn lookups_validate_before_ec2_answer_dry_runs_stream_and_carry_ec2_errors() {
    let moto = Moto::start().await;
    let proxy = CountingProxy::start(&moto.endpoint, None).await;
    let (_process, mut client) = gateway(&proxy, &[]).await;

    // Bad fields: every one named, no EC2 call.
    let bad = pb::DescribeImagesRequest {
        image_ids: vec!["ami-1".into(), "sg-1".into()],
        max_results: Some(2),
        filters: vec![pb::Filter {
            name: String::new(),
            values: vec!["x".into()],
        }],
        ..Default::default()
    };
    let refused = client.describe_images(bad).await.expect_err("invalid");
    assert_eq!(refused.code(), Code::InvalidArgument);
    let fields: Vec<String> = refused
        .get_details_bad_request()
        .expect("BadRequest")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(
        fields,
        [
            "image_ids[1]",
            "max_results",
            "max_results",
            "filters[0].name"
        ]
    );
    assert_eq!(proxy.total(), 0, "no EC2 call for a bad request");

    // DryRun: EC2's DryRunOperation is the RPC's dry_run_succeeded.
    let dry = client
        .describe_subnets(pb::DescribeSubnetsRequest {
            dry_run: true,
            ..Default::default()
        })
        .await
        .expect("dry run")
        .into_inner();
    assert!(dry.dry_run_succeeded && dry.subnets.is_empty());

    // EC2's own error, with its code and request id.
    let missing = client
        .describe_security_groups(pb::DescribeSecurityGroupsRequest {
            group_ids: vec!["sg-0123456789abcdef0".into()],
            ..Default::default()
        })
        .await
        .expect_err("no such group");
    let info = missing.get_details_error_info().expect("ErrorInfo");
    assert_eq!(
        info.metadata["aws_code"], "InvalidGroup.NotFound",
        "{missing:?}"
    );
    assert!(info.metadata.contains_key("request_id"), "{info:?}");

    // A stream pages through EC2 and stops at its limit.
    let mut stream = client
        .describe_instance_types_stream(pb::DescribeInstanceTypesStreamRequest {
            max_results: Some(5),
            limit: Some(12),
            ..Default::default()
        })
        .await
        .expect("stream")
        .into_inner();
    let mut streamed = Vec::new();
    while let Some(message) = stream.message().await.expect("message") {
        streamed.extend(message.instance_types);
    }
    assert_eq!(streamed.len(), 12);
    // Pages of at most 5 (moto answers them whole, ignoring MaxResults): never more than the
    // three pages 12 items need.
    let pages = proxy.count("DescribeInstanceTypes");
    assert!((1..=3).contains(&pages), "{pages} pages");
}

#[tokio::test]
async fn readers_look_up_others_are_refused_and_scopes_see_their_own() {
    let moto = Moto::start().await;
    let (sdk, _) = moto.sdk();
    let vpc = sdk
        .create_vpc()
        .cidr_block("10.42.0.0/16")
        .send()
        .await
        .expect("vpc")
        .vpc
        .and_then(|v| v.vpc_id)
        .expect("vpc id");
    let mut subnets = Vec::new();
    let mut groups = Vec::new();
    for (n, team) in ["blue", "red"].into_iter().enumerate() {
        let subnet = sdk
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("10.42.{n}.0/24"))
            .tag_specifications(tagged(ResourceType::Subnet, "team", team))
            .send()
            .await
            .expect("subnet");
        subnets.push(subnet.subnet.and_then(|s| s.subnet_id).expect("subnet id"));
        let group = sdk
            .create_security_group()
            .vpc_id(&vpc)
            .group_name(format!("{team}-web"))
            .description(format!("{team} web"))
            .tag_specifications(tagged(ResourceType::SecurityGroup, "team", team))
            .send()
            .await
            .expect("security group");
        groups.push(group.group_id.expect("group id"));
    }
    let proxy = CountingProxy::start(&moto.endpoint, None).await;
    let auth = support::AuthFiles::write(
        "lookups",
        &format!("reader {READER_TOKEN}\nblue {SCOPED_TOKEN}\nlauncher {LAUNCHER_TOKEN}\n"),
        "[roles]\nlaunch-only = [\"RunInstances\"]\n\n[grants]\nreader = [\"reader\"]\nblue = [\"reader\"]\nlauncher = [\"launch-only\"]\n\n[scopes]\nblue = { key = \"team\", value = \"blue\" }\n",
    );
    let (_process, mut client) = gateway(&proxy, &auth.args()).await;
    let in_vpc = vec![pb::Filter {
        name: "vpc-id".into(),
        values: vec![vpc.clone()],
    }];
    let subnet_ids = |answer: pb::DescribeSubnetsResponse| -> Vec<String> {
        answer.subnets.into_iter().map(|s| s.subnet_id).collect()
    };
    let of_vpc = pb::DescribeSubnetsRequest {
        filters: in_vpc.clone(),
        ..Default::default()
    };

    // A reader sees both teams' subnets; the blue scope only its own, by filters.
    let all = client
        .describe_subnets(bearer(of_vpc.clone(), READER_TOKEN))
        .await
        .expect("reader")
        .into_inner();
    assert_eq!(subnet_ids(all).len(), 2);
    let blue = client
        .describe_subnets(bearer(of_vpc.clone(), SCOPED_TOKEN))
        .await
        .expect("scoped")
        .into_inner();
    assert_eq!(subnet_ids(blue), [subnets[0].clone()]);
    let groups_seen = client
        .describe_security_groups(bearer(
            pb::DescribeSecurityGroupsRequest {
                filters: in_vpc.clone(),
                ..Default::default()
            },
            SCOPED_TOKEN,
        ))
        .await
        .expect("scoped groups")
        .into_inner();
    let seen: Vec<&str> = groups_seen
        .security_groups
        .iter()
        .map(|g| g.group_id.as_str())
        .collect();
    assert_eq!(
        seen,
        [groups[0].as_str()],
        "not the red group, nor the VPC's default"
    );

    // By id, another team's subnet is refused, naming it.
    let refused = client
        .describe_subnets(bearer(
            pb::DescribeSubnetsRequest {
                subnet_ids: subnets.clone(),
                ..Default::default()
            },
            SCOPED_TOKEN,
        ))
        .await
        .expect_err("red subnet");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(refused.message().contains(&subnets[1]), "{refused:?}");
    assert!(!refused.message().contains(&subnets[0]), "{refused:?}");

    // Instance types are no account's resources: the scoped reader sees them; public images
    // are everyone's.
    let types = client
        .describe_instance_types(bearer(
            pb::DescribeInstanceTypesRequest {
                instance_types: vec!["t3.micro".into()],
                ..Default::default()
            },
            SCOPED_TOKEN,
        ))
        .await
        .expect("types")
        .into_inner();
    assert_eq!(types.instance_types.len(), 1);
    let public = client
        .describe_images(bearer(
            pb::DescribeImagesRequest {
                owners: vec!["amazon".into()],
                filters: vec![pb::Filter {
                    name: "name".into(),
                    values: vec!["al2023-ami-*".into()],
                }],
                ..Default::default()
            },
            SCOPED_TOKEN,
        ))
        .await
        .expect("public images")
        .into_inner();
    assert!(!public.images.is_empty() && public.images.iter().all(|i| i.public == Some(true)));

    // A scoped status lookup names its instances (they are checked against the scope).
    let unnamed = client
        .describe_instance_status(bearer(
            pb::DescribeInstanceStatusRequest::default(),
            SCOPED_TOKEN,
        ))
        .await
        .expect_err("unnamed instances");
    assert_eq!(unnamed.code(), Code::PermissionDenied);
    assert!(unnamed.message().contains("instance_ids"), "{unnamed:?}");

    // A caller without the reader role is refused before any EC2 call.
    let before = proxy.total();
    let denied = client
        .describe_subnets(bearer(of_vpc, LAUNCHER_TOKEN))
        .await
        .expect_err("not a reader");
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(proxy.total(), before, "no EC2 call for a refused caller");
}

#[tokio::test]
async fn resolve_ssm_image_ids_pass_validation_reach_ec2_unchanged_and_launch() {
    let standin = Standin::builder().start().await.expect("stand-in");
    let proxy = CountingProxy::start(&standin.endpoint(), None).await;
    let (_process, mut client) = gateway(&proxy, &[]).await;
    let alias = "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
    let launched = client
        .run_instances(pb::RunInstancesRequest {
            image_id: alias.into(),
            instance_type: "t3.micro".into(),
            ..Default::default()
        })
        .await
        .expect("launch the latest Amazon Linux 2023")
        .into_inner();
    let sent = proxy.forms("RunInstances");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0]["ImageId"], alias,
        "EC2 resolves the alias, not the gateway"
    );
    assert_eq!(launched.instances[0].image_id, "ami-0a2023a2023a20230");

    // An id that is neither an AMI nor a parameter is refused before EC2.
    let refused = client
        .run_instances(pb::RunInstancesRequest {
            image_id: "amazon-linux".into(),
            ..Default::default()
        })
        .await
        .expect_err("not an image reference");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("image_id"), "{refused:?}");
    assert_eq!(proxy.count("RunInstances"), 1);
}

#[tokio::test]
async fn status_waits_of_200_callers_share_one_describe_instance_status_per_round() {
    let moto = Moto::start().await;
    let (sdk, _) = moto.sdk();
    let image = moto.image_id().await;
    let ids = crate::describe::launch(&sdk, &image, 200, "status").await;
    let stopped = crate::describe::launch(&sdk, &image, 1, "stopped").await;
    sdk.stop_instances()
        .set_instance_ids(Some(stopped.clone()))
        .send()
        .await
        .expect("stop");
    let proxy = CountingProxy::start(&moto.endpoint, None).await;
    let (_process, client) = gateway(
        &proxy,
        &[
            "--inventory-resync-seconds",
            "600",
            "--inventory-status-interval-ms",
            "2000",
            // 200 callers at once are one test client: room for all of them.
            "--caller-burst",
            "1000",
        ],
    )
    .await;
    let waits = ids.iter().map(|id| {
        let mut client = client.clone();
        let request = pb::WaitInstancesRequest {
            instance_ids: vec![id.clone()],
            target: pb::WaitTarget::StatusOk as i32,
            ..Default::default()
        };
        async move {
            let mut stream = client
                .wait_instances(request)
                .await
                .expect("wait")
                .into_inner();
            let mut last = None;
            while let Some(progress) = stream.message().await.expect("progress") {
                last = Some(progress);
            }
            last.expect("a progress").done
        }
    });
    let done = futures_util::future::join_all(waits).await;
    assert!(done.iter().all(|d| *d), "every wait ends done");
    let calls = proxy.count("DescribeInstanceStatus");
    // The first round comes a second after the first waiter; a waiter arriving after it
    // joins the next round: at most two calls for all 200.
    assert!(
        (1..=2).contains(&calls),
        "{calls} DescribeInstanceStatus for 200 waiters"
    );
    println!("lookups: 200 STATUS_OK waits -> {calls} DescribeInstanceStatus");

    // As boto3's waiter, a stopped instance never gets an ok status: the wait ends at the
    // caller's deadline.
    let mut request = tonic::Request::new(pb::WaitInstancesRequest {
        instance_ids: stopped,
        target: pb::WaitTarget::SystemStatusOk as i32,
        ..Default::default()
    });
    request.set_timeout(std::time::Duration::from_secs(3));
    let mut client = client.clone();
    let mut stream = client
        .wait_instances(request)
        .await
        .expect("wait")
        .into_inner();
    let ended = loop {
        match stream.message().await {
            Ok(Some(progress)) => assert!(!progress.done),
            Ok(None) => panic!("a stopped instance's wait cannot end done"),
            Err(status) => break status,
        }
    };
    assert_eq!(ended.code(), Code::DeadlineExceeded, "{ended:?}");
}
