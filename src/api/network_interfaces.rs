//! Network interface RPCs: CreateNetworkInterface, DescribeNetworkInterfaces and its streamed
//! form.

use super::stream::{self, Describe, MessageStream, Page};
use super::{client_token, scoped_filters, unless_dry_run};
use crate::auth::scope::TagScope;
use crate::convert::{network_interface, non_empty, request};
use crate::ec2::{DescribePage, Ec2};
use crate::error::Error;
use crate::{pb, validate};

/// EC2 `CreateNetworkInterface`, every parameter passed through; the client token is the
/// caller's or one made for this call. A scoped caller's interface gets its tag.
pub async fn create_network_interface(
    ec2: &Ec2,
    mut request: pb::CreateNetworkInterfaceRequest,
    scope: Option<&TagScope>,
) -> Result<pb::CreateNetworkInterfaceResponse, Error> {
    validate::create_network_interface(&request)?;
    if let Some(scope) = scope {
        scope.tag_on_creation(&mut request.tag_specifications, "network-interface")?;
    }
    let result = request::create_network_interface(ec2.client.create_network_interface(), &request)
        .client_token(client_token(&request.client_token))
        .send()
        .await
        .inspect(|output| {
            let created = output
                .network_interface()
                .and_then(|n| n.network_interface_id());
            if let (Some(id), Some(notes)) = (created, crate::call::Call::notes()) {
                notes.resources(&[id.to_owned()]);
            }
        })
        .map(|output| pb::CreateNetworkInterfaceResponse {
            network_interface: output
                .network_interface
                .map(network_interface::network_interface),
            client_token: output.client_token.unwrap_or_default(),
            dry_run_succeeded: false,
        })
        .map_err(Error::from);
    unless_dry_run(result, || pb::CreateNetworkInterfaceResponse {
        dry_run_succeeded: true,
        ..Default::default()
    })
}

/// EC2 `DescribeNetworkInterfaces`: one page, ids, filters and DryRun passed through; a
/// scoped caller's describe only sees its scope.
pub async fn describe_network_interfaces(
    ec2: &Ec2,
    request: pb::DescribeNetworkInterfacesRequest,
    scope: Option<&TagScope>,
) -> Result<pb::DescribeNetworkInterfacesResponse, Error> {
    validate::describe_network_interfaces(&request)?;
    let page = DescribePage {
        filters: scoped_filters(&request.network_interface_ids, &request.filters, scope),
        ids: request.network_interface_ids,
        max_results: request.max_results,
        next_token: non_empty(&request.next_token),
        include_managed_resources: request.include_managed_resources,
        dry_run: request.dry_run,
    };
    let result = ec2.describe_network_interfaces(page).await.map(|output| {
        pb::DescribeNetworkInterfacesResponse {
            network_interfaces: output
                .network_interfaces
                .into_iter()
                .flatten()
                .map(network_interface::network_interface)
                .collect(),
            next_token: output.next_token.unwrap_or_default(),
            dry_run_succeeded: false,
        }
    });
    let result = result.and_then(|response| {
        check_scope(scope, &response.network_interfaces)?;
        Ok(response)
    });
    unless_dry_run(result, || pb::DescribeNetworkInterfacesResponse {
        dry_run_succeeded: true,
        ..Default::default()
    })
}

/// `DescribeNetworkInterfacesStream`: every page of EC2 `DescribeNetworkInterfaces`, streamed.
pub fn describe_network_interfaces_stream(
    ec2: &Ec2,
    request: pb::DescribeNetworkInterfacesStreamRequest,
    scope: Option<TagScope>,
) -> Result<MessageStream<pb::DescribeNetworkInterfacesStreamResponse>, Error> {
    validate::describe_network_interfaces_stream(&request)?;
    // The token binds to what selects the items, not to how they are paged.
    let selection = pb::DescribeNetworkInterfacesStreamRequest {
        next_token: String::new(),
        max_results: None,
        limit: None,
        ..request.clone()
    };
    let scope_tag = scope.as_ref().map(TagScope::tag);
    let (start, limit) = stream::start(
        stream::fingerprint(&selection, scope_tag.as_deref()),
        !request.network_interface_ids.is_empty(),
        request.max_results,
        &request.next_token,
        request.limit,
    )?;
    let describe = NetworkInterfaces {
        ec2: ec2.clone(),
        template: DescribePage {
            filters: scoped_filters(
                &request.network_interface_ids,
                &request.filters,
                scope.as_ref(),
            ),
            ids: request.network_interface_ids,
            include_managed_resources: request.include_managed_resources,
            dry_run: request.dry_run,
            ..DescribePage::default()
        },
        scope,
    };
    Ok(stream::stream(describe, start, limit))
}

/// DescribeNetworkInterfaces as a streamed describe. Resolving a cleanup's selection pages
/// through it too.
pub(super) struct NetworkInterfaces {
    /// The EC2 seam.
    ec2: Ec2,
    /// What every page asks for; `fetch` adds the page size and token.
    template: DescribePage,
    /// The caller's tag scope: every interface of every page must carry its tag.
    scope: Option<TagScope>,
}

impl NetworkInterfaces {
    /// Describes `ids` and/or `filters` (no managed resources, no dry run), within `scope`.
    pub(super) fn new(
        ec2: &Ec2,
        ids: Vec<String>,
        filters: &[pb::Filter],
        scope: Option<TagScope>,
    ) -> Self {
        NetworkInterfaces {
            ec2: ec2.clone(),
            template: DescribePage {
                filters: scoped_filters(&ids, filters, scope.as_ref()),
                ids,
                ..DescribePage::default()
            },
            scope,
        }
    }
}

/// PERMISSION_DENIED naming every described interface outside `scope`.
pub(super) fn check_scope(
    scope: Option<&TagScope>,
    interfaces: &[pb::NetworkInterface],
) -> Result<(), Error> {
    let Some(scope) = scope else {
        return Ok(());
    };
    scope.check(
        interfaces
            .iter()
            .map(|n| (n.network_interface_id.as_str(), n.tag_set.as_slice())),
    )
}

impl Describe for NetworkInterfaces {
    type Item = pb::NetworkInterface;
    type Message = pb::DescribeNetworkInterfacesStreamResponse;

    async fn fetch(
        &self,
        token: Option<String>,
        page_size: Option<i32>,
    ) -> Result<Page<pb::NetworkInterface>, Error> {
        let page = DescribePage {
            max_results: page_size,
            next_token: token,
            ..self.template.clone()
        };
        let output = self.ec2.describe_network_interfaces(page).await?;
        let items: Vec<_> = output
            .network_interfaces
            .into_iter()
            .flatten()
            .map(network_interface::network_interface)
            .collect();
        check_scope(self.scope.as_ref(), &items)?;
        Ok(Page {
            items,
            next_token: output.next_token,
        })
    }

    fn message(&self, items: Vec<pb::NetworkInterface>, next_token: String) -> Self::Message {
        pb::DescribeNetworkInterfacesStreamResponse {
            network_interfaces: items,
            next_token,
            dry_run_succeeded: false,
        }
    }

    fn dry_run_succeeded(&self) -> Self::Message {
        pb::DescribeNetworkInterfacesStreamResponse {
            dry_run_succeeded: true,
            ..Default::default()
        }
    }
}
