//! RunInstances and CreateNetworkInterface through the gateway against moto: what the gateway
//! creates is read back directly with aws-sdk-ec2; DryRun creates nothing; invalid input makes
//! no EC2 call.

use crate::support::{self, Moto};
use aws_sdk_ec2::primitives::Blob;
use base64::Engine;
use ec2_grpc::convert::network_interface::network_interface;
use ec2_grpc::pb;
use tonic::Code;
use tonic_types::StatusExt;

const USER_DATA: &[u8] = b"#!/bin/sh\necho launched through ec2-grpc\n";

/// The default subnet and a fresh security group in its VPC.
async fn subnet_and_group(sdk: &aws_sdk_ec2::Client) -> (String, String) {
    let subnets = sdk.describe_subnets().send().await.expect("subnets");
    let subnet = &subnets.subnets()[0];
    let group = sdk
        .create_security_group()
        .group_name("launch-test")
        .description("launch test")
        .vpc_id(subnet.vpc_id().expect("vpc"))
        .send()
        .await
        .expect("security group");
    (
        subnet.subnet_id().expect("subnet").to_owned(),
        group.group_id().expect("group id").to_owned(),
    )
}

fn tags(team: &str, resource_type: &str) -> pb::TagSpecification {
    pb::TagSpecification {
        resource_type: resource_type.into(),
        tags: vec![pb::Tag {
            key: "team".into(),
            value: team.into(),
        }],
    }
}

#[tokio::test]
async fn a_rich_launch_lands_in_ec2_as_asked() {
    let moto = Moto::start().await;
    let (sdk, _) = moto.sdk();
    let (subnet_id, group_id) = subnet_and_group(&sdk).await;
    let (gateway_ec2, _) = moto.sdk();
    let gateway = support::Gateway::start(gateway_ec2).await;
    let mut client = gateway.client.clone();

    let launched = client
        .run_instances(pb::RunInstancesRequest {
            image_id: moto.image_id().await,
            instance_type: "t3.small".into(),
            min_count: Some(2),
            max_count: Some(2),
            subnet_id: subnet_id.clone(),
            security_group_ids: vec![group_id.clone()],
            monitoring: Some(pb::RunInstancesMonitoringEnabled {
                enabled: Some(true),
            }),
            user_data: USER_DATA.to_vec(),
            block_device_mappings: vec![pb::BlockDeviceMapping {
                device_name: "/dev/sda1".into(),
                ebs: Some(pb::EbsBlockDevice {
                    volume_size: Some(30),
                    volume_type: "gp3".into(),
                    delete_on_termination: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            tag_specifications: vec![tags("launch", "instance")],
            metadata_options: Some(pb::InstanceMetadataOptionsRequest {
                http_tokens: "required".into(),
                http_put_response_hop_limit: Some(2),
                ..Default::default()
            }),
            client_token: "launch-token-1".into(),
            ..Default::default()
        })
        .await
        .expect("launch through the gateway")
        .into_inner();
    assert_eq!(launched.instances.len(), 2);
    assert!(!launched.reservation_id.is_empty());
    assert!(!launched.dry_run_succeeded);

    let id = launched.instances[0].instance_id.clone();
    let direct = sdk
        .describe_instances()
        .instance_ids(&id)
        .send()
        .await
        .expect("direct describe");
    let instance = &direct.reservations()[0].instances()[0];
    assert_eq!(instance.subnet_id(), Some(subnet_id.as_str()));
    assert_eq!(
        instance.instance_type().map(|t| t.as_str()),
        Some("t3.small")
    );
    assert_eq!(
        instance.security_groups()[0].group_id(),
        Some(group_id.as_str())
    );
    assert_eq!(
        instance
            .monitoring()
            .and_then(|m| m.state())
            .map(|s| s.as_str()),
        Some("enabled")
    );
    assert_eq!(instance.client_token(), Some("launch-token-1"));
    assert_eq!(
        instance.tags()[0].key().zip(instance.tags()[0].value()),
        Some(("team", "launch"))
    );
    let metadata = instance.metadata_options().expect("metadata options");
    assert_eq!(metadata.http_tokens().map(|t| t.as_str()), Some("required"));
    assert_eq!(metadata.http_put_response_hop_limit(), Some(2));

    // User data went out base64-encoded and reads back as the bytes sent.
    let attribute = sdk
        .describe_instance_attribute()
        .instance_id(&id)
        .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
        .send()
        .await
        .expect("user data");
    let encoded = attribute
        .user_data()
        .and_then(|u| u.value())
        .expect("user data value");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    assert_eq!(Blob::new(decoded), Blob::new(USER_DATA));

    // The EBS mapping: the root volume has the size asked for.
    let volume_id = instance.block_device_mappings()[0]
        .ebs()
        .and_then(|e| e.volume_id())
        .expect("volume");
    let volumes = sdk
        .describe_volumes()
        .volume_ids(volume_id)
        .send()
        .await
        .expect("volumes");
    assert_eq!(volumes.volumes()[0].size(), Some(30));
}

#[tokio::test]
async fn dry_runs_succeed_and_create_nothing() {
    let moto = Moto::start().await;
    let (sdk, _) = moto.sdk();
    let (subnet_id, _) = subnet_and_group(&sdk).await;
    let enis_before = sdk
        .describe_network_interfaces()
        .send()
        .await
        .expect("enis")
        .network_interfaces()
        .len();
    let (gateway_ec2, _) = moto.sdk();
    let gateway = support::Gateway::start(gateway_ec2).await;
    let mut client = gateway.client.clone();

    let launch = client
        .run_instances(pb::RunInstancesRequest {
            image_id: moto.image_id().await,
            dry_run: true,
            ..Default::default()
        })
        .await
        .expect("a permitted dry run is OK")
        .into_inner();
    assert!(launch.dry_run_succeeded);
    assert!(launch.instances.is_empty());
    let reservations = sdk.describe_instances().send().await.expect("describe");
    assert!(
        reservations.reservations().is_empty(),
        "no instance launched"
    );

    let eni = client
        .create_network_interface(pb::CreateNetworkInterfaceRequest {
            subnet_id,
            dry_run: true,
            ..Default::default()
        })
        .await
        .expect("a permitted dry run is OK")
        .into_inner();
    assert!(eni.dry_run_succeeded);
    assert!(eni.network_interface.is_none());
    let enis_after = sdk
        .describe_network_interfaces()
        .send()
        .await
        .expect("enis");
    assert_eq!(enis_after.network_interfaces().len(), enis_before);
}

#[tokio::test]
async fn invalid_requests_are_refused_before_any_ec2_call() {
    let moto = Moto::start().await;
    let (gateway_ec2, calls) = moto.sdk();
    let gateway = support::Gateway::start(gateway_ec2).await;
    let mut client = gateway.client.clone();

    let status = client
        .run_instances(pb::RunInstancesRequest {
            min_count: Some(3),
            max_count: Some(1),
            client_token: "t".repeat(65),
            ..Default::default()
        })
        .await
        .expect_err("invalid launch");
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<_> = status
        .get_details_bad_request()
        .expect("BadRequest")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["image_id", "min_count", "client_token"]);

    let status = client
        .create_network_interface(pb::CreateNetworkInterfaceRequest::default())
        .await
        .expect_err("no subnet");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status
            .get_details_bad_request()
            .expect("BadRequest")
            .field_violations[0]
            .field,
        "subnet_id"
    );

    let status = client
        .describe_network_interfaces(pb::DescribeNetworkInterfacesRequest {
            network_interface_ids: vec!["eni-1".into()],
            max_results: Some(10),
            ..Default::default()
        })
        .await
        .expect_err("ids with max_results");
    assert_eq!(status.code(), Code::InvalidArgument);

    assert_eq!(calls.total(), 0, "no EC2 call for invalid input");
}

#[tokio::test]
async fn a_network_interface_created_through_the_gateway_reads_back_complete() {
    let moto = Moto::start().await;
    let (sdk, _) = moto.sdk();
    let (subnet_id, group_id) = subnet_and_group(&sdk).await;
    let (gateway_ec2, _) = moto.sdk();
    let gateway = support::Gateway::start(gateway_ec2).await;
    let mut client = gateway.client.clone();

    let created = client
        .create_network_interface(pb::CreateNetworkInterfaceRequest {
            subnet_id: subnet_id.clone(),
            description: "made by the gateway".into(),
            groups: vec![group_id.clone()],
            secondary_private_ip_address_count: Some(2),
            tag_specifications: vec![tags("net", "network-interface")],
            ..Default::default()
        })
        .await
        .expect("create through the gateway")
        .into_inner();
    let eni = created.network_interface.expect("network interface");
    assert_eq!(eni.subnet_id, subnet_id);
    assert_eq!(eni.description, "made by the gateway");
    assert_eq!(eni.groups[0].group_id, group_id);
    assert_eq!(eni.private_ip_addresses.len(), 3, "primary + 2 secondary");
    assert_eq!(eni.tag_set[0].key, "team");
    assert!(!created.client_token.is_empty() || eni.network_interface_id.starts_with("eni-"));

    // Described through the gateway, by id and by filter: equal to the SDK's direct read.
    let by_id = client
        .describe_network_interfaces(pb::DescribeNetworkInterfacesRequest {
            network_interface_ids: vec![eni.network_interface_id.clone()],
            ..Default::default()
        })
        .await
        .expect("describe by id")
        .into_inner();
    let direct = sdk
        .describe_network_interfaces()
        .network_interface_ids(&eni.network_interface_id)
        .send()
        .await
        .expect("direct describe");
    let expected: Vec<_> = direct
        .network_interfaces()
        .iter()
        .cloned()
        .map(network_interface)
        .collect();
    assert_eq!(by_id.network_interfaces, expected);
    assert_eq!(by_id.network_interfaces[0].status, "available");

    let by_filter = client
        .describe_network_interfaces(pb::DescribeNetworkInterfacesRequest {
            filters: vec![pb::Filter {
                name: "description".into(),
                values: vec!["made by the gateway".into()],
            }],
            ..Default::default()
        })
        .await
        .expect("describe by filter")
        .into_inner();
    let ids: Vec<_> = by_filter
        .network_interfaces
        .iter()
        .map(|n| n.network_interface_id.as_str())
        .collect();
    assert_eq!(ids, [eni.network_interface_id.as_str()]);

    let status = client
        .describe_network_interfaces(pb::DescribeNetworkInterfacesRequest {
            network_interface_ids: vec!["eni-0123456789abcdef0".into()],
            ..Default::default()
        })
        .await
        .expect_err("unknown eni");
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(
        status.get_details_error_info().expect("ErrorInfo").metadata["aws_code"],
        "InvalidNetworkInterfaceID.NotFound"
    );
}
