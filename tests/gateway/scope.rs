//! Tag scopes on the real binary against moto: a principal limited to `team=a` sees only its
//! instances and network interfaces, acts only on them, tags what it creates, and is refused
//! (naming the ids) when it reaches for others', before anything is acted on; an edit of the
//! roles file takes effect without a restart.

use crate::auth::bearer;
use crate::describe::launch;
use crate::support::{self, GatewayProcess, Moto};
use aws_sdk_ec2::types::Filter;
use ec2_grpc::pb;
use ec2_grpc::pb::ec2_service_client::Ec2ServiceClient;
use std::collections::BTreeSet;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

const SCOPED_TOKEN: &str = "team-a-token-5b0e2f7c9d14a386";
const ADMIN_TOKEN: &str = "platform-token-e41c07d9a2b3f658";

/// The ids of a describe's instances.
fn instance_ids(reservations: &[pb::Reservation]) -> BTreeSet<String> {
    reservations
        .iter()
        .flat_map(|r| &r.instances)
        .map(|i| i.instance_id.clone())
        .collect()
}

/// Every instance id a streamed describe answers as `token`.
async fn streamed_ids(client: &mut Ec2ServiceClient<Channel>, token: &str) -> BTreeSet<String> {
    let request = pb::DescribeInstancesStreamRequest {
        max_results: Some(5),
        ..Default::default()
    };
    let mut stream = client
        .describe_instances_stream(bearer(request, token))
        .await
        .expect("stream")
        .into_inner();
    let mut ids = BTreeSet::new();
    while let Some(message) = stream.message().await.expect("message") {
        ids.extend(instance_ids(&message.reservations));
    }
    ids
}

/// The state of each instance, read directly from moto.
async fn states(sdk: &aws_sdk_ec2::Client) -> std::collections::BTreeMap<String, String> {
    let out = sdk
        .describe_instances()
        .send()
        .await
        .expect("direct describe");
    out.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .map(|i| {
            let state = i.state().and_then(|s| s.name()).map(|n| n.as_str());
            (
                i.instance_id().unwrap_or_default().to_owned(),
                state.unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Asserts `status` is the scope refusal naming `outside` and none of `inside`.
fn assert_out_of_scope(status: &Status, outside: &[&str], inside: &[&str]) {
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "OUT_OF_SCOPE");
    assert_eq!(info.metadata["scope"], "team=a");
    for id in outside {
        assert!(status.message().contains(id), "{}", status.message());
    }
    for id in inside {
        assert!(!status.message().contains(id), "{}", status.message());
    }
}

/// Drains an action stream.
async fn drain<T>(mut stream: tonic::Streaming<T>) {
    while stream.message().await.expect("event").is_some() {}
}

#[tokio::test]
async fn a_scoped_principal_sees_and_acts_only_on_its_tagged_resources() {
    let moto = Moto::start().await;
    let (sdk, _) = moto.sdk();
    let image = moto.image_id().await;
    let ours = launch(&sdk, &image, 2, "a").await;
    let theirs = launch(&sdk, &image, 2, "b").await;
    let auth = support::AuthFiles::write(
        "scope",
        &format!("team-a {SCOPED_TOKEN}\nplatform {ADMIN_TOKEN}\n"),
        "[grants]\nteam-a = [\"admin\"]\nplatform = [\"admin\"]\n\n[scopes]\nteam-a = { key = \"team\", value = \"a\" }\n",
    );
    let args = auth.args();
    let process = GatewayProcess::start_with(&moto.endpoint, &args, &[]).await;
    let mut client = Ec2ServiceClient::new(support::channel(process.addr).await);
    let everything = pb::DescribeInstancesRequest::default();

    // Describes by filters (or none) see the scope only; the unscoped admin sees everything.
    let seen = client
        .describe_instances(bearer(everything.clone(), SCOPED_TOKEN))
        .await
        .expect("scoped describe")
        .into_inner();
    let ours_set: BTreeSet<String> = ours.iter().cloned().collect();
    assert_eq!(instance_ids(&seen.reservations), ours_set);
    assert_eq!(streamed_ids(&mut client, SCOPED_TOKEN).await, ours_set);
    let all = client
        .describe_instances(bearer(everything, ADMIN_TOKEN))
        .await
        .expect("admin describe")
        .into_inner();
    assert_eq!(instance_ids(&all.reservations).len(), 4);
    println!("scope: team-a sees {} of 4 instances", ours_set.len());

    // Naming another team's instance by id is refused, naming it.
    let by_id = pb::DescribeInstancesRequest {
        instance_ids: vec![ours[0].clone(), theirs[0].clone()],
        ..Default::default()
    };
    let refused = client
        .describe_instances(bearer(by_id, SCOPED_TOKEN))
        .await
        .expect_err("another team's instance");
    assert_out_of_scope(&refused, &[&theirs[0]], &[&ours[0]]);

    // Stopping every instance stops only the scope's.
    let stop_all = pb::StopInstancesRequest {
        selection: Some(pb::InstanceSelection {
            all_instances: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    let stream = client
        .stop_instances(bearer(stop_all, SCOPED_TOKEN))
        .await
        .expect("stop")
        .into_inner();
    drain(stream).await;
    let after_stop = states(&sdk).await;
    for id in &ours {
        assert_eq!(after_stop[id], "stopped", "{id}");
    }
    for id in &theirs {
        assert_eq!(after_stop[id], "running", "{id}");
    }

    // Terminating ids of both teams is refused as a whole: nothing is terminated.
    let terminate = pb::TerminateInstancesRequest {
        selection: Some(pb::InstanceSelection {
            instance_ids: vec![ours[1].clone(), theirs[1].clone()],
            ..Default::default()
        }),
        ..Default::default()
    };
    let refused = client
        .terminate_instances(bearer(terminate, SCOPED_TOKEN))
        .await
        .expect_err("another team's instance");
    assert_out_of_scope(&refused, &[&theirs[1]], &[&ours[1]]);
    assert_eq!(states(&sdk).await, after_stop, "nothing was acted on");

    // What the scoped principal launches carries its tag; a launch tagged for another team is
    // refused before EC2.
    let launched = client
        .run_instances(bearer(
            pb::RunInstancesRequest {
                image_id: image.clone(),
                ..Default::default()
            },
            SCOPED_TOKEN,
        ))
        .await
        .expect("scoped launch")
        .into_inner();
    let new_id = launched.instances[0].instance_id.clone();
    let direct = sdk
        .describe_instances()
        .filters(Filter::builder().name("tag:team").values("a").build())
        .send()
        .await
        .expect("direct describe");
    let tagged: BTreeSet<String> = direct
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter_map(|i| i.instance_id().map(str::to_owned))
        .collect();
    assert!(tagged.contains(&new_id), "the launch carries team=a");
    let foreign_launch = pb::RunInstancesRequest {
        image_id: image.clone(),
        tag_specifications: vec![pb::TagSpecification {
            resource_type: "instance".into(),
            tags: vec![pb::Tag {
                key: "team".into(),
                value: "b".into(),
            }],
        }],
        ..Default::default()
    };
    let refused = client
        .run_instances(bearer(foreign_launch, SCOPED_TOKEN))
        .await
        .expect_err("a launch for team b");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(
        refused.message().contains("tag_specifications"),
        "{}",
        refused.message()
    );
    assert_eq!(states(&sdk).await.len(), 5, "no instance was launched");

    // Retagging an instance out of the scope, and tagging by resource id, are refused.
    let retag = pb::CreateTagsRequest {
        selection: Some(pb::InstanceSelection {
            instance_ids: vec![ours[0].clone()],
            ..Default::default()
        }),
        tags: vec![pb::Tag {
            key: "team".into(),
            value: "b".into(),
        }],
        ..Default::default()
    };
    let refused = client
        .create_tags(bearer(retag, SCOPED_TOKEN))
        .await
        .expect_err("moving an instance to team b");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let by_resource = pb::CreateTagsRequest {
        resource_ids: vec![theirs[0].clone()],
        tags: vec![pb::Tag {
            key: "env".into(),
            value: "prod".into(),
        }],
        ..Default::default()
    };
    let refused = client
        .create_tags(bearer(by_resource, SCOPED_TOKEN))
        .await
        .expect_err("tagging by resource id");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(
        refused.message().contains("resource_ids"),
        "{}",
        refused.message()
    );
    let team_of_first = sdk
        .describe_tags()
        .filters(
            Filter::builder()
                .name("resource-id")
                .values(&ours[0])
                .build(),
        )
        .send()
        .await
        .expect("tags");
    assert!(
        team_of_first
            .tags()
            .iter()
            .any(|t| t.key() == Some("team") && t.value() == Some("a")),
        "the instance stays in team a"
    );

    // Network interfaces: what it creates carries the tag; it sees only those.
    let subnets = sdk.describe_subnets().send().await.expect("subnets");
    let subnet_id = subnets.subnets()[0].subnet_id().expect("subnet").to_owned();
    let foreign_eni = sdk
        .create_network_interface()
        .subnet_id(&subnet_id)
        .send()
        .await
        .expect("direct ENI");
    let foreign_eni_id = foreign_eni
        .network_interface()
        .and_then(|n| n.network_interface_id())
        .expect("ENI id")
        .to_owned();
    let created = client
        .create_network_interface(bearer(
            pb::CreateNetworkInterfaceRequest {
                subnet_id: subnet_id.clone(),
                description: "scoped".into(),
                ..Default::default()
            },
            SCOPED_TOKEN,
        ))
        .await
        .expect("scoped ENI")
        .into_inner()
        .network_interface
        .expect("interface");
    assert!(
        created
            .tag_set
            .iter()
            .any(|t| t.key == "team" && t.value == "a"),
        "{:?}",
        created.tag_set
    );
    let seen = client
        .describe_network_interfaces(bearer(
            pb::DescribeNetworkInterfacesRequest::default(),
            SCOPED_TOKEN,
        ))
        .await
        .expect("scoped ENI describe")
        .into_inner();
    let seen: Vec<&str> = seen
        .network_interfaces
        .iter()
        .map(|n| n.network_interface_id.as_str())
        .collect();
    assert_eq!(seen, [created.network_interface_id.as_str()]);
    let refused = client
        .describe_network_interfaces(bearer(
            pb::DescribeNetworkInterfacesRequest {
                network_interface_ids: vec![foreign_eni_id.clone()],
                ..Default::default()
            },
            SCOPED_TOKEN,
        ))
        .await
        .expect_err("another's interface");
    assert_out_of_scope(&refused, &[&foreign_eni_id], &[]);

    // A cleanup of every interface, as the scoped principal, selects its own only.
    let mut preview = client
        .delete_network_interfaces(bearer(
            pb::DeleteNetworkInterfacesRequest {
                selection: Some(pb::NetworkInterfaceSelection {
                    all_network_interfaces: true,
                    ..Default::default()
                }),
                preview: true,
                dry_run: false,
                ..Default::default()
            },
            SCOPED_TOKEN,
        ))
        .await
        .expect("scoped cleanup preview")
        .into_inner();
    let Some(pb::delete_network_interfaces_response::Event::Preview(preview)) = preview
        .message()
        .await
        .expect("preview")
        .and_then(|m| m.event)
    else {
        panic!("a preview");
    };
    let sampled: Vec<&str> = preview
        .sample
        .iter()
        .map(|s| s.network_interface_id.as_str())
        .collect();
    assert_eq!(sampled, [created.network_interface_id.as_str()]);

    // It may delete its own interface, not another's (which stays).
    let refused = client
        .delete_network_interface(bearer(
            pb::DeleteNetworkInterfaceRequest {
                network_interface_id: foreign_eni_id.clone(),
                dry_run: false,
                ..Default::default()
            },
            SCOPED_TOKEN,
        ))
        .await
        .expect_err("another's interface");
    assert_out_of_scope(&refused, &[&foreign_eni_id], &[]);
    let still_there = sdk
        .describe_network_interfaces()
        .network_interface_ids(&foreign_eni_id)
        .send()
        .await;
    assert!(still_there.is_ok(), "nothing was deleted");
    client
        .delete_network_interface(bearer(
            pb::DeleteNetworkInterfaceRequest {
                network_interface_id: created.network_interface_id.clone(),
                dry_run: false,
                ..Default::default()
            },
            SCOPED_TOKEN,
        ))
        .await
        .expect("its own interface");

    // The roles file is read again when it changes: team-a, now a reader scoped to team=b,
    // sees team b's instances and may no longer launch.
    std::fs::write(
        &auth.roles,
        "[grants]\nteam-a = [\"reader\"]\nplatform = [\"admin\"]\n\n[scopes]\nteam-a = { key = \"team\", value = \"b\" }\n",
    )
    .expect("new roles file");
    let theirs_set: BTreeSet<String> = theirs.iter().cloned().collect();
    let mut seen_now = BTreeSet::new();
    for _ in 0..100 {
        let answer = client
            .describe_instances(bearer(
                pb::DescribeInstancesRequest::default(),
                SCOPED_TOKEN,
            ))
            .await
            .expect("scoped describe")
            .into_inner();
        seen_now = instance_ids(&answer.reservations);
        if seen_now == theirs_set {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(seen_now, theirs_set, "the changed roles file took effect");
    let launch = pb::RunInstancesRequest {
        image_id: image.clone(),
        ..Default::default()
    };
    let denied = client
        .run_instances(bearer(launch, SCOPED_TOKEN))
        .await
        .expect_err("a reader now");
    let info = denied.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.metadata["permission"], "RunInstances");

    assert_eq!(process.terminate().await.code(), Some(0));
}
