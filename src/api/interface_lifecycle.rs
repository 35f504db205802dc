//! The rest of a network interface's life: AttachNetworkInterface, DetachNetworkInterface and
//! DeleteNetworkInterface, every EC2 member passed through.
//!
//! A scoped caller may only attach its own interface to its own instance, and detach or
//! delete its own interfaces: the gateway describes them first (only for scoped callers) and
//! refuses, naming the ids, before EC2 is asked to act.

use super::network_interfaces::check_scope as check_interfaces;
use super::{check_scope as check_instances, unless_dry_run};
use crate::auth::scope::TagScope;
use crate::convert::{instance, network_interface, request};
use crate::ec2::{DescribePage, Ec2};
use crate::error::Error;
use crate::inventory::Inventory;
use crate::{pb, validate};
use aws_sdk_ec2::types::Filter;

/// EC2 `AttachNetworkInterface`. The inventory, if on, refreshes the instance.
pub async fn attach_network_interface(
    ec2: &Ec2,
    inventory: Option<&Inventory>,
    request: pb::AttachNetworkInterfaceRequest,
    scope: Option<&TagScope>,
) -> Result<pb::AttachNetworkInterfaceResponse, Error> {
    validate::attach_network_interface(&request)?;
    noted(&[&request.network_interface_id, &request.instance_id]);
    if scope.is_some() {
        let interfaces = interfaces(ec2, by_id(&request.network_interface_id)).await?;
        check_interfaces(scope, &interfaces)?;
        let page = DescribePage {
            ids: vec![request.instance_id.clone()],
            ..DescribePage::default()
        };
        let output = ec2.describe_instances(page).await?;
        let reservations: Vec<pb::Reservation> = output
            .reservations
            .into_iter()
            .flatten()
            .map(instance::reservation)
            .collect();
        check_instances(scope, &reservations)?;
    }
    let result = request::attach_network_interface(ec2.client.attach_network_interface(), &request)
        .send()
        .await
        .map(|output| pb::AttachNetworkInterfaceResponse {
            attachment_id: output.attachment_id().unwrap_or_default().to_owned(),
            network_card_index: output.network_card_index(),
            dry_run_succeeded: false,
        })
        .map_err(Error::from);
    if let (Ok(_), Some(inventory)) = (&result, inventory) {
        inventory.acted_on(std::slice::from_ref(&request.instance_id));
    }
    unless_dry_run(result, || pb::AttachNetworkInterfaceResponse {
        dry_run_succeeded: true,
        ..Default::default()
    })
}

/// EC2 `DetachNetworkInterface`.
pub async fn detach_network_interface(
    ec2: &Ec2,
    request: pb::DetachNetworkInterfaceRequest,
    scope: Option<&TagScope>,
) -> Result<pb::DetachNetworkInterfaceResponse, Error> {
    validate::detach_network_interface(&request)?;
    noted(&[&request.attachment_id]);
    if scope.is_some() {
        let attached = DescribePage {
            filters: vec![
                Filter::builder()
                    .name("attachment.attachment-id")
                    .values(&request.attachment_id)
                    .build(),
            ],
            ..DescribePage::default()
        };
        check_interfaces(scope, &interfaces(ec2, attached).await?)?;
    }
    let result = ec2
        .client
        .detach_network_interface()
        .dry_run(request.dry_run)
        .attachment_id(&request.attachment_id)
        .set_force(request.force)
        .send()
        .await
        .map(|_| pb::DetachNetworkInterfaceResponse::default())
        .map_err(Error::from);
    unless_dry_run(result, || pb::DetachNetworkInterfaceResponse {
        dry_run_succeeded: true,
    })
}

/// EC2 `DeleteNetworkInterface`.
pub async fn delete_network_interface(
    ec2: &Ec2,
    request: pb::DeleteNetworkInterfaceRequest,
    scope: Option<&TagScope>,
) -> Result<pb::DeleteNetworkInterfaceResponse, Error> {
    validate::delete_network_interface(&request)?;
    noted(&[&request.network_interface_id]);
    if scope.is_some() {
        let interfaces = interfaces(ec2, by_id(&request.network_interface_id)).await?;
        check_interfaces(scope, &interfaces)?;
    }
    let result = ec2
        .client
        .delete_network_interface()
        .dry_run(request.dry_run)
        .network_interface_id(&request.network_interface_id)
        .send()
        .await
        .map(|_| pb::DeleteNetworkInterfaceResponse::default())
        .map_err(Error::from);
    unless_dry_run(result, || pb::DeleteNetworkInterfaceResponse {
        dry_run_succeeded: true,
    })
}

/// The describe of one interface by id.
fn by_id(network_interface_id: &str) -> DescribePage {
    DescribePage {
        ids: vec![network_interface_id.to_owned()],
        ..DescribePage::default()
    }
}

/// The interfaces `page` describes (for the scope check).
async fn interfaces(ec2: &Ec2, page: DescribePage) -> Result<Vec<pb::NetworkInterface>, Error> {
    let output = ec2.describe_network_interfaces(page).await?;
    Ok(output
        .network_interfaces
        .into_iter()
        .flatten()
        .map(network_interface::network_interface)
        .collect())
}

/// Names the resources acted on in the call's audit record, when it is audited.
fn noted(ids: &[&String]) {
    if let Some(notes) = crate::call::Call::notes() {
        let ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        notes.resources(&ids);
    }
}
