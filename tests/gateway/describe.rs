//! DescribeInstances: instances launched directly with aws-sdk-ec2 in moto, read through the
//! gateway's generated tonic client and compared with the SDK's own read.

use crate::support::{self, Moto};
use aws_sdk_ec2::types::{InstanceType, ResourceType, Tag as SdkTag, TagSpecification};
use ec2_grpc::convert::instance::reservation;
use ec2_grpc::pb;
use tonic::Code;
use tonic_types::StatusExt;

/// Launches `count` instances in one reservation with a `team` tag; returns their ids.
pub async fn launch(
    sdk: &aws_sdk_ec2::Client,
    image_id: &str,
    count: i32,
    team: &str,
) -> Vec<String> {
    let output = sdk
        .run_instances()
        .image_id(image_id)
        .instance_type(InstanceType::T3Micro)
        .min_count(count)
        .max_count(count)
        .monitoring(
            aws_sdk_ec2::types::RunInstancesMonitoringEnabled::builder()
                .enabled(true)
                .build(),
        )
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .tags(SdkTag::builder().key("team").value(team).build())
                .tags(
                    SdkTag::builder()
                        .key("Name")
                        .value(format!("{team}-box"))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("run instances directly");
    output
        .instances()
        .iter()
        .map(|i| i.instance_id().expect("id").to_owned())
        .collect()
}

fn describe(ids: &[String]) -> pb::DescribeInstancesRequest {
    pb::DescribeInstancesRequest {
        instance_ids: ids.to_vec(),
        ..Default::default()
    }
}

pub fn instances(response: &pb::DescribeInstancesResponse) -> Vec<&pb::Instance> {
    response
        .reservations
        .iter()
        .flat_map(|r| &r.instances)
        .collect()
}

#[tokio::test]
async fn describe_instances_returns_what_the_sdk_reads_directly() {
    let moto = Moto::start().await;
    let (sdk, _) = moto.sdk();
    let ids = launch(&sdk, &moto.image_id().await, 3, "core").await;
    let (gateway_ec2, _) = moto.sdk();
    let mut gateway = support::Gateway::start(gateway_ec2).await;

    let through_gateway = gateway
        .client
        .describe_instances(describe(&ids))
        .await
        .expect("describe through the gateway")
        .into_inner();
    let direct = sdk
        .describe_instances()
        .set_instance_ids(Some(ids.clone()))
        .send()
        .await
        .expect("describe directly");

    // Independent field checks against the SDK's own read.
    let sdk_instances: Vec<_> = direct
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .collect();
    let gateway_instances = instances(&through_gateway);
    assert_eq!(gateway_instances.len(), 3);
    for sdk_instance in &sdk_instances {
        let id = sdk_instance.instance_id().expect("id");
        let ours = gateway_instances
            .iter()
            .find(|i| i.instance_id == id)
            .unwrap_or_else(|| panic!("{id} missing from the gateway's answer"));
        assert_eq!(ours.image_id, sdk_instance.image_id().unwrap_or_default());
        assert_eq!(ours.instance_type, "t3.micro");
        assert_eq!(
            ours.state.as_ref().map(|s| s.name.as_str()),
            sdk_instance
                .state()
                .and_then(|s| s.name())
                .map(|n| n.as_str())
        );
        assert_eq!(
            ours.private_ip_address,
            sdk_instance.private_ip_address().unwrap_or_default()
        );
        assert_eq!(ours.subnet_id, sdk_instance.subnet_id().unwrap_or_default());
        assert_eq!(ours.vpc_id, sdk_instance.vpc_id().unwrap_or_default());
        assert_eq!(
            ours.launch_time.as_ref().map(|t| t.seconds),
            sdk_instance.launch_time().map(|t| t.secs())
        );
        assert_eq!(
            ours.monitoring.as_ref().map(|m| m.state.as_str()),
            sdk_instance
                .monitoring()
                .and_then(|m| m.state())
                .map(|s| s.as_str())
        );
        assert_eq!(
            ours.placement
                .as_ref()
                .map(|p| p.availability_zone.as_str()),
            sdk_instance.placement().and_then(|p| p.availability_zone())
        );
        let mut tags: Vec<_> = ours
            .tags
            .iter()
            .map(|t| (t.key.as_str(), t.value.as_str()))
            .collect();
        tags.sort();
        assert_eq!(tags, [("Name", "core-box"), ("team", "core")]);
        assert_eq!(
            ours.network_interfaces.len(),
            sdk_instance.network_interfaces().len()
        );
        assert_eq!(
            ours.block_device_mappings.len(),
            sdk_instance.block_device_mappings().len()
        );
        assert_eq!(
            ours.security_groups.len(),
            sdk_instance.security_groups().len()
        );
    }

    // And every field: the gateway's answer equals the direct read, converted.
    let expected: Vec<pb::Reservation> = direct
        .reservations()
        .iter()
        .cloned()
        .map(reservation)
        .collect();
    assert_eq!(through_gateway.reservations, expected);

    gateway.shutdown();
}

#[tokio::test]
async fn filters_pagination_dry_run_and_errors_pass_through() {
    let moto = Moto::start().await;
    let (sdk, _) = moto.sdk();
    let image = moto.image_id().await;
    // 12 reservations of one instance each; 4 of them tagged team=web.
    let mut all = Vec::new();
    for i in 0..12 {
        let team = if i % 3 == 0 { "web" } else { "batch" };
        all.extend(launch(&sdk, &image, 1, team).await);
    }
    let (gateway_ec2, calls) = moto.sdk();
    let gateway = support::Gateway::start(gateway_ec2).await;
    let mut client = gateway.client.clone();

    // Filters: tag:team=web.
    let web = client
        .describe_instances(pb::DescribeInstancesRequest {
            filters: vec![pb::Filter {
                name: "tag:team".into(),
                values: vec!["web".into()],
            }],
            ..Default::default()
        })
        .await
        .expect("filtered describe")
        .into_inner();
    assert_eq!(instances(&web).len(), 4);
    assert!(
        instances(&web)
            .iter()
            .all(|i| i.tags.iter().any(|t| t.key == "team" && t.value == "web"))
    );

    // Filters with a state: stop one directly, then ask for stopped ones.
    sdk.stop_instances()
        .instance_ids(&all[1])
        .send()
        .await
        .expect("stop directly");
    let stopped = client
        .describe_instances(pb::DescribeInstancesRequest {
            filters: vec![pb::Filter {
                name: "instance-state-name".into(),
                values: vec!["stopped".into()],
            }],
            ..Default::default()
        })
        .await
        .expect("state-filtered describe")
        .into_inner();
    let stopped_ids: Vec<_> = instances(&stopped)
        .iter()
        .map(|i| i.instance_id.clone())
        .collect();
    assert_eq!(stopped_ids, [all[1].clone()]);

    // Pagination: max_results 5 walks all 12 reservations in 3 pages.
    let mut seen = Vec::new();
    let mut next_token = String::new();
    let mut pages = 0;
    loop {
        let page = client
            .describe_instances(pb::DescribeInstancesRequest {
                max_results: Some(5),
                next_token: next_token.clone(),
                ..Default::default()
            })
            .await
            .expect("page")
            .into_inner();
        pages += 1;
        seen.extend(instances(&page).iter().map(|i| i.instance_id.clone()));
        if page.next_token.is_empty() {
            break;
        }
        next_token = page.next_token;
    }
    assert_eq!(pages, 3);
    seen.sort();
    all.sort();
    assert_eq!(seen, all);

    // DryRun: EC2's DryRunOperation is a success that describes nothing.
    let dry = client
        .describe_instances(pb::DescribeInstancesRequest {
            dry_run: true,
            ..Default::default()
        })
        .await
        .expect("dry run is OK")
        .into_inner();
    assert!(dry.dry_run_succeeded);
    assert!(dry.reservations.is_empty());

    // An unknown id: NOT_FOUND with ErrorInfo carrying EC2's code.
    let status = client
        .describe_instances(describe(&["i-0123456789abcdef0".to_owned()]))
        .await
        .expect_err("unknown id");
    assert_eq!(status.code(), Code::NotFound);
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.metadata["aws_code"], "InvalidInstanceID.NotFound");
    assert_eq!(info.domain, "ec2-grpc");

    // A filter moto answers with an HTML 500: UNAVAILABLE, never a panic, and the
    // service keeps serving afterwards.
    let status = client
        .describe_instances(pb::DescribeInstancesRequest {
            filters: vec![pb::Filter {
                name: "no-such-filter".into(),
                values: vec!["x".into()],
            }],
            ..Default::default()
        })
        .await
        .expect_err("moto cannot answer this filter");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.get_details_error_info().is_some());
    assert!(client.describe_instances(describe(&all[..1])).await.is_ok());

    // Invalid input is refused before any EC2 call, naming the field.
    let before = calls.total();
    let status = client
        .describe_instances(pb::DescribeInstancesRequest {
            max_results: Some(2),
            ..Default::default()
        })
        .await
        .expect_err("max_results 2");
    assert_eq!(status.code(), Code::InvalidArgument);
    let bad_request = status.get_details_bad_request().expect("BadRequest");
    assert_eq!(bad_request.field_violations[0].field, "max_results");
    assert_eq!(calls.total(), before, "no EC2 call for invalid input");
}
