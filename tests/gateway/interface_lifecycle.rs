//! A network interface's whole life through the gateway against moto: create, attach to an
//! instance, detach, delete, each read back with aws-sdk-ec2 directly; DryRun acts on
//! nothing; EC2's refusals arrive mapped; bad input makes no EC2 call.

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
