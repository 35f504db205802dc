//! A network interface's whole life through the gateway: create, attach to an instance,
//! detach, delete against moto, each read back with aws-sdk-ec2 directly (DryRun acts on
//! nothing; EC2's refusals arrive mapped; bad input makes no EC2 call); a cleanup of 30 tagged
//! `available` interfaces against moto; and, on the stand-in, the refusal to delete an
//! attached interface, inside a cleanup that goes on within EC2's budget.

use crate::describe::launch;
use crate::support::{self, Moto};
use ec2_grpc::pb;
use tonic::Code;
use tonic_types::StatusExt;

/// The interface's status and attachment id as EC2 has them, read directly.
async fn direct(sdk: &aws_sdk_ec2::Client, id: &str) -> (String, Option<String>) {
    let out = sdk
        .describe_network_interfaces()
        .network_interface_ids(id)
        .send()
        .await
        .expect("direct describe");
    let eni = &out.network_interfaces()[0];
    (
        eni.status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        eni.attachment()
            .and_then(|a| a.attachment_id())
            .map(str::to_owned),
    )
}

#[tokio::test]
async fn create_attach_detach_delete_with_dry_runs_refusals_and_validation() {
    let moto = Moto::start().await;
    let (sdk, _) = moto.sdk();
    let image = moto.image_id().await;
    let instance = launch(&sdk, &image, 1, "eni").await.remove(0);
    let subnet = sdk
        .describe_instances()
        .instance_ids(&instance)
        .send()
        .await
        .expect("describe")
        .reservations()[0]
        .instances()[0]
        .subnet_id()
        .expect("subnet")
        .to_owned();
    let (ec2, calls) = moto.sdk();
    let gateway = support::Gateway::start(ec2).await;
    let mut client = gateway.client.clone();

    let eni = client
        .create_network_interface(pb::CreateNetworkInterfaceRequest {
            subnet_id: subnet,
            description: "lifecycle".into(),
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner()
        .network_interface
        .expect("the interface")
        .network_interface_id;
    assert_eq!(direct(&sdk, &eni).await, ("available".into(), None));

    // Attach: a dry run attaches nothing; then the attachment EC2 reports is the one answered.
    let attach = |dry_run: bool| pb::AttachNetworkInterfaceRequest {
        network_interface_id: eni.clone(),
        instance_id: instance.clone(),
        device_index: Some(1),
        dry_run,
        ..Default::default()
    };
    let dry = client
        .attach_network_interface(attach(true))
        .await
        .expect("dry run")
        .into_inner();
    assert!(dry.dry_run_succeeded && dry.attachment_id.is_empty());
    assert_eq!(direct(&sdk, &eni).await, ("available".into(), None));
    let attached = client
        .attach_network_interface(attach(false))
        .await
        .expect("attach")
        .into_inner();
    assert!(attached.attachment_id.starts_with("eni-attach-"));
    assert_eq!(
        direct(&sdk, &eni).await,
        ("in-use".into(), Some(attached.attachment_id.clone()))
    );

    // Detach (dry run first), then delete (dry run first): read back directly each time.
    let detach = |dry_run: bool| pb::DetachNetworkInterfaceRequest {
        attachment_id: attached.attachment_id.clone(),
        dry_run,
        ..Default::default()
    };
    let dry = client
        .detach_network_interface(detach(true))
        .await
        .expect("dry run");
    assert!(dry.into_inner().dry_run_succeeded);
    assert_eq!(direct(&sdk, &eni).await.0, "in-use");
    client
        .detach_network_interface(detach(false))
        .await
        .expect("detach");
    assert_eq!(direct(&sdk, &eni).await, ("available".into(), None));
    let delete = |dry_run: bool| pb::DeleteNetworkInterfaceRequest {
        network_interface_id: eni.clone(),
        dry_run,
        ..Default::default()
    };
    let dry = client
        .delete_network_interface(delete(true))
        .await
        .expect("dry run");
    assert!(dry.into_inner().dry_run_succeeded);
    assert_eq!(direct(&sdk, &eni).await.0, "available");
    client
        .delete_network_interface(delete(false))
        .await
        .expect("delete");
    let gone = sdk
        .describe_network_interfaces()
        .network_interface_ids(&eni)
        .send()
        .await;
    assert!(gone.is_err(), "deleted: EC2 no longer knows it");

    // EC2's refusals, mapped: deleting it again is NOT_FOUND with EC2's code.
    let again = client
        .delete_network_interface(delete(false))
        .await
        .expect_err("already deleted");
    assert_eq!(again.code(), Code::NotFound, "{again:?}");
    let info = again.get_details_error_info().expect("ErrorInfo");
    assert_eq!(
        info.metadata["aws_code"],
        "InvalidNetworkInterfaceID.NotFound"
    );

    // Bad input: refused naming each field, with no EC2 call.
    let before = calls.total();
    let bad = client
        .attach_network_interface(pb::AttachNetworkInterfaceRequest {
            network_interface_id: "i-123".into(),
            ..Default::default()
        })
        .await
        .expect_err("invalid");
    assert_eq!(bad.code(), Code::InvalidArgument);
    let fields: Vec<String> = bad
        .get_details_bad_request()
        .expect("BadRequest")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(
        fields,
        ["network_interface_id", "instance_id", "device_index"]
    );
    let bad = client
        .detach_network_interface(pb::DetachNetworkInterfaceRequest::default())
        .await
        .expect_err("no attachment id");
    assert_eq!(
        bad.get_details_bad_request()
            .expect("BadRequest")
            .field_violations[0]
            .field,
        "attachment_id"
    );
    assert_eq!(calls.total(), before, "nothing reached EC2");
    println!(
        "interface lifecycle: created, attached, detached, deleted; dry runs acted on nothing"
    );
}

/// Reads a cleanup stream to its end: the deletions, then the summary.
async fn cleanup(
    client: &mut ec2_grpc::pb::ec2_service_client::Ec2ServiceClient<tonic::transport::Channel>,
    request: pb::DeleteNetworkInterfacesRequest,
) -> (
    Vec<pb::NetworkInterfaceDeletion>,
    Option<pb::NetworkInterfaceDeletionSummary>,
    Option<pb::NetworkInterfaceSelectionPreview>,
) {
    use pb::delete_network_interfaces_response::Event;
    let mut stream = client
        .delete_network_interfaces(request)
        .await
        .expect("cleanup")
        .into_inner();
    let (mut deletions, mut summary, mut preview) = (Vec::new(), None, None);
    while let Some(message) = stream.message().await.expect("cleanup stream") {
        match message.event.expect("an event") {
            Event::Deletion(d) => deletions.push(d),
            Event::Summary(s) => summary = Some(s),
            Event::Preview(p) => preview = Some(p),
        }
    }
    (deletions, summary, preview)
}

fn selection(filters: Vec<pb::Filter>, ids: Vec<String>) -> Option<pb::NetworkInterfaceSelection> {
    Some(pb::NetworkInterfaceSelection {
        network_interface_ids: ids,
        filters,
        ..Default::default()
    })
}

#[tokio::test]
async fn a_cleanup_deletes_exactly_the_selected_available_interfaces() {
    use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
    let moto = Moto::start().await;
    let (sdk, _) = moto.sdk();
    let image = moto.image_id().await;
    let instance = launch(&sdk, &image, 1, "eni").await.remove(0);
    let subnets = sdk.describe_subnets().send().await.expect("subnets");
    let subnet = subnets.subnets()[0].subnet_id().expect("subnet").to_owned();
    let create = |tagged: bool| {
        let mut call = sdk.create_network_interface().subnet_id(&subnet);
        if tagged {
            call = call.tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::NetworkInterface)
                    .tags(Tag::builder().key("cleanup").value("yes").build())
                    .build(),
            );
        }
        async move {
            call.send()
                .await
                .expect("direct ENI")
                .network_interface()
                .and_then(|n| n.network_interface_id())
                .expect("id")
                .to_owned()
        }
    };
    let mut doomed = Vec::new();
    for _ in 0..30 {
        doomed.push(create(true).await);
    }
    let mut kept = Vec::new();
    for _ in 0..5 {
        kept.push(create(false).await);
    }
    for device_index in 1..=2 {
        let attached = create(true).await;
        sdk.attach_network_interface()
            .network_interface_id(&attached)
            .instance_id(&instance)
            .device_index(device_index)
            .send()
            .await
            .expect("attach directly");
        kept.push(attached);
    }
    let (ec2, calls) = moto.sdk();
    let gateway = support::Gateway::start(ec2).await;
    let mut client = gateway.client.clone();
    let filters = vec![
        pb::Filter {
            name: "status".into(),
            values: vec!["available".into()],
        },
        pb::Filter {
            name: "tag:cleanup".into(),
            values: vec!["yes".into()],
        },
    ];

    // Preview: the count and a sample, nothing deleted.
    let (deletions, summary, preview) = cleanup(
        &mut client,
        pb::DeleteNetworkInterfacesRequest {
            selection: selection(filters.clone(), Vec::new()),
            preview: true,
            ..Default::default()
        },
    )
    .await;
    let preview = preview.expect("a preview");
    assert_eq!((preview.matched, preview.sample.len()), (30, 20));
    assert!(deletions.is_empty() && summary.is_none());
    assert_eq!(calls.count("DeleteNetworkInterface"), 0);

    // The cleanup: one EC2 call per interface, each reported, then the summary.
    let (deletions, summary, _) = cleanup(
        &mut client,
        pb::DeleteNetworkInterfacesRequest {
            selection: selection(filters, Vec::new()),
            ..Default::default()
        },
    )
    .await;
    let summary = summary.expect("a summary");
    assert_eq!(
        (summary.matched, summary.deleted, summary.failed),
        (30, 30, 0)
    );
    let mut reported: Vec<String> = deletions
        .iter()
        .filter(|d| d.deleted)
        .map(|d| d.network_interface_id.clone())
        .collect();
    reported.sort();
    doomed.sort();
    assert_eq!(reported, doomed);
    assert_eq!(calls.count("DeleteNetworkInterface"), 30);
    let left = sdk
        .describe_network_interfaces()
        .send()
        .await
        .expect("direct describe");
    let left: Vec<&str> = left
        .network_interfaces()
        .iter()
        .filter_map(|n| n.network_interface_id())
        .collect();
    assert!(doomed.iter().all(|id| !left.contains(&id.as_str())));
    assert!(
        kept.iter().all(|id| left.contains(&id.as_str())),
        "untagged and attached stay"
    );

    // A selection with neither ids nor filters is refused, naming the field.
    let refused = client
        .delete_network_interfaces(pb::DeleteNetworkInterfacesRequest::default())
        .await
        .expect_err("an empty selection");
    assert_eq!(
        refused
            .get_details_bad_request()
            .expect("BadRequest")
            .field_violations[0]
            .field,
        "selection"
    );
    println!(
        "cleanup: matched {}, deleted {}, failed {}; {} untagged or attached interfaces left alone",
        summary.matched,
        summary.deleted,
        summary.failed,
        kept.len()
    );
}

#[tokio::test]
async fn an_attached_interface_is_refused_and_the_cleanup_goes_on_within_the_budget() {
    use ec2_grpc::ec2::batch::DEFAULT_WINDOW;
    let standin = ec2_standin::Standin::builder()
        .seed(1, 60)
        .start()
        .await
        .expect("stand-in");
    let (primary, free): (String, Vec<String>) = standin.with_account(|a| {
        let primary = a.instances[0].eni_id.clone();
        let free = a
            .enis
            .iter()
            .filter(|e| e.attached_to.is_none())
            .map(|e| e.id.clone())
            .collect();
        (primary, free)
    });
    assert_eq!(free.len(), 60);
    let gateway = support::protected_gateway(
        &standin.endpoint(),
        &[],
        Some(DEFAULT_WINDOW),
        ec2_grpc::protection::Limits::default(),
    )
    .await;
    let mut client = gateway.client.clone();

    // Deleting an attached interface: EC2's InvalidNetworkInterface.InUse, a state.
    let in_use = client
        .delete_network_interface(pb::DeleteNetworkInterfaceRequest {
            network_interface_id: primary.clone(),
            dry_run: false,
            ..Default::default()
        })
        .await
        .expect_err("attached");
    assert_eq!(in_use.code(), Code::FailedPrecondition, "{in_use:?}");
    let info = in_use.get_details_error_info().expect("ErrorInfo");
    assert_eq!(
        (info.reason.as_str(), info.metadata["aws_code"].as_str()),
        ("EC2_INCORRECT_STATE", "InvalidNetworkInterface.InUse")
    );

    // 60 free interfaces and the attached one: 61 calls against a bucket of 50 + 5/s. The
    // budget paces them (EC2 throttles none), the attached one fails, the others are deleted.
    let mut ids = free.clone();
    ids.insert(30, primary.clone());
    let (deletions, summary, _) = cleanup(
        &mut client,
        pb::DeleteNetworkInterfacesRequest {
            selection: selection(Vec::new(), ids),
            ..Default::default()
        },
    )
    .await;
    let summary = summary.expect("a summary");
    assert_eq!(
        (summary.matched, summary.deleted, summary.failed),
        (61, 60, 1)
    );
    let failed: Vec<&pb::NetworkInterfaceDeletion> =
        deletions.iter().filter(|d| d.failure.is_some()).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].network_interface_id, primary);
    assert_eq!(
        failed[0].failure.as_ref().expect("failure").reason,
        "EC2_INCORRECT_STATE"
    );
    let counters = standin.counters("DeleteNetworkInterface");
    assert_eq!((counters.calls, counters.throttled), (62, 0));
    assert_eq!(
        standin.with_account(|a| a.enis.len()),
        1,
        "only the attached one is left"
    );
    println!(
        "cleanup on the stand-in: 61 selected, 60 deleted, 1 refused (in use); {} EC2 calls, {} throttled",
        counters.calls, counters.throttled
    );
}
