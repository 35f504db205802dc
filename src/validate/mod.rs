//! Checks made on requests before any EC2 call, so bad input costs no EC2 budget and gets an
//! INVALID_ARGUMENT naming the field (a `google.rpc.BadRequest` violation per problem).

pub mod lookup;

use crate::error::Error;
use crate::pb;
use tonic_types::FieldViolation;

/// EC2's page-size range for describe calls.
pub const MAX_RESULTS_RANGE: std::ops::RangeInclusive<i32> = 5..=1000;
/// EC2 accepts at most this many ids in one describe call.
pub const MAX_IDS: usize = 1000;
/// Most filters in one request.
pub const MAX_FILTERS: usize = 50;
/// Most values in one filter.
pub const MAX_FILTER_VALUES: usize = 200;
/// EC2's limit on a client token.
pub const MAX_CLIENT_TOKEN_CHARS: usize = 64;
/// EC2's limit on user data, before base64 encoding.
pub const MAX_USER_DATA_BYTES: usize = 16 * 1024;

/// Collects violations so one answer reports every problem of a request, not just the first.
#[derive(Default)]
struct Violations(Vec<FieldViolation>);

impl Violations {
    fn check(&mut self, ok: bool, field: &str, description: impl FnOnce() -> String) {
        if !ok {
            self.0.push(FieldViolation::new(field, description()));
        }
    }

    fn into_result(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidArgument(self.0))
        }
    }
}

/// Pagination, ids and filters of a describe request, shared by every describe RPC.
fn check_describe(
    v: &mut Violations,
    ids_field: &str,
    ids: &[String],
    filters: &[pb::Filter],
    max_results: Option<i32>,
) {
    check_ids(v, ids_field, ids, MAX_IDS, "");
    if let Some(max) = max_results {
        v.check(MAX_RESULTS_RANGE.contains(&max), "max_results", || {
            format!("must be between 5 and 1000, got {max}")
        });
        v.check(ids.is_empty(), "max_results", || {
            format!(
                "cannot be combined with {ids_field}: EC2 pages only unfiltered-by-id describes"
            )
        });
    }
    check_filters(v, "filters", filters);
}

/// A list of ids or names: at most `max`, none empty (the first empty one named), each
/// starting with `prefix` (when there is one). Every list of ids a request carries is checked
/// here.
fn check_ids(v: &mut Violations, field: &str, ids: &[String], max: usize, prefix: &str) {
    v.check(ids.len() <= max, field, || {
        format!("at most {max} ids per call, got {}", ids.len())
    });
    if let Some(i) = ids.iter().position(|id| id.trim().is_empty()) {
        v.check(false, &format!("{field}[{i}]"), || {
            "must not be empty".into()
        });
    }
    if let Some((i, id)) = ids
        .iter()
        .enumerate()
        .find(|(_, id)| !id.trim().is_empty() && !id.starts_with(prefix))
    {
        v.check(false, &format!("{field}[{i}]"), || {
            format!("must be an id starting with {prefix}, got {id:?}")
        });
    }
}

/// Every filter has a name and at least one value.
fn check_filters(v: &mut Violations, field: &str, filters: &[pb::Filter]) {
    v.check(filters.len() <= MAX_FILTERS, field, || {
        format!(
            "at most {MAX_FILTERS} filters per request, got {}",
            filters.len()
        )
    });
    for (i, filter) in filters.iter().enumerate() {
        v.check(
            filter.values.len() <= MAX_FILTER_VALUES,
            &format!("{field}[{i}].values"),
            || {
                format!(
                    "at most {MAX_FILTER_VALUES} values per filter, got {}",
                    filter.values.len()
                )
            },
        );
        v.check(
            !filter.name.is_empty(),
            &format!("{field}[{i}].name"),
            || "must name an EC2 filter, for example instance-state-name".into(),
        );
        v.check(
            !filter.values.is_empty(),
            &format!("{field}[{i}].values"),
            || format!("filter {:?} needs at least one value", filter.name),
        );
    }
}

/// An instance selection: ids and/or filters, or the explicit `all_instances` alone. `None`
/// (or an empty selection) is allowed only when `may_be_empty` (CreateTags on resource ids).
fn check_selection(v: &mut Violations, s: Option<&pb::InstanceSelection>, may_be_empty: bool) {
    let empty = pb::InstanceSelection::default();
    let s = s.unwrap_or(&empty);
    check_ids(v, "selection.instance_ids", &s.instance_ids, usize::MAX, "");
    let parts = SelectionParts {
        thing: "instance",
        every: "act on every instance",
        ids_field: "instance_ids",
        ids: &s.instance_ids,
        filters: &s.filters,
        all_field: "all_instances",
        all: s.all_instances,
        limit: s.limit,
        page_size: s.page_size,
    };
    check_selection_parts(v, &parts, may_be_empty);
}

/// What every selection has (an instance action's, a network interface cleanup's).
struct SelectionParts<'a> {
    /// What it selects, singular: `instance`.
    thing: &'a str,
    /// What selecting everything does: `act on every instance`.
    every: &'a str,
    /// `instance_ids`, `network_interface_ids`.
    ids_field: &'a str,
    ids: &'a [String],
    filters: &'a [pb::Filter],
    /// `all_instances`, `all_network_interfaces`.
    all_field: &'a str,
    all: bool,
    limit: Option<i32>,
    page_size: Option<i32>,
}

/// Ids and/or filters, or the explicit opt-in to everything alone (an empty selection only
/// when `may_be_empty`); the filters; `limit` at least 1; `page_size` 5 to 1000, never with
/// ids.
fn check_selection_parts(v: &mut Violations, s: &SelectionParts<'_>, may_be_empty: bool) {
    let (thing, ids_field, all_field) = (s.thing, s.ids_field, s.all_field);
    let criteria = !s.ids.is_empty() || !s.filters.is_empty();
    if !criteria && !s.all {
        v.check(may_be_empty, "selection", || {
            format!(
                "select {thing}s by {ids_field} or filters, or set {all_field} to {} of the \
                 account and region",
                s.every
            )
        });
    }
    v.check(
        !(criteria && s.all),
        &format!("selection.{all_field}"),
        || format!("{all_field} selects every {thing}: drop it, or drop the ids and filters"),
    );
    check_filters(v, "selection.filters", s.filters);
    if let Some(limit) = s.limit {
        v.check(limit >= 1, "selection.limit", || {
            format!("must be at least 1 when set, got {limit}")
        });
    }
    if let Some(size) = s.page_size {
        v.check(
            MAX_RESULTS_RANGE.contains(&size),
            "selection.page_size",
            || format!("must be between 5 and 1000, got {size}"),
        );
        v.check(s.ids.is_empty(), "selection.page_size", || {
            format!("cannot be combined with selection.{ids_field}: EC2 pages only describes without ids")
        });
    }
}

/// Validates the selection of an instance action (start, stop, reboot, terminate, monitor,
/// unmonitor).
pub fn instance_action(selection: Option<&pb::InstanceSelection>) -> Result<(), Error> {
    let mut v = Violations::default();
    check_selection(&mut v, selection, false);
    v.into_result()
}

/// Validates a `CreateTagsRequest`: something to tag (a selection or resource ids) and at least
/// one tag, each with a key.
pub fn create_tags(r: &pb::CreateTagsRequest) -> Result<(), Error> {
    let mut v = Violations::default();
    check_selection(&mut v, r.selection.as_ref(), !r.resource_ids.is_empty());
    check_ids(&mut v, "resource_ids", &r.resource_ids, usize::MAX, "");
    v.check(!r.tags.is_empty(), "tags", || "at least one tag".into());
    if let Some(i) = r.tags.iter().position(|t| t.key.is_empty()) {
        v.check(false, &format!("tags[{i}].key"), || {
            "must not be empty".into()
        });
    }
    v.into_result()
}

/// A stream's total `limit`, when set, is at least 1.
fn check_limit(v: &mut Violations, limit: Option<i32>) {
    if let Some(limit) = limit {
        v.check(limit >= 1, "limit", || {
            format!("must be at least 1 when set, got {limit}")
        });
    }
}

/// A client token EC2 will take: at most 64 ASCII characters.
fn check_client_token(v: &mut Violations, token: &str) {
    v.check(token.is_ascii(), "client_token", || "must be ASCII".into());
    v.check(
        token.len() <= MAX_CLIENT_TOKEN_CHARS,
        "client_token",
        || {
            format!(
                "at most {MAX_CLIENT_TOKEN_CHARS} characters, got {}",
                token.len()
            )
        },
    );
}

/// Validates a `DescribeInstancesRequest`.
pub fn describe_instances(r: &pb::DescribeInstancesRequest) -> Result<(), Error> {
    let mut v = Violations::default();
    check_describe(
        &mut v,
        "instance_ids",
        &r.instance_ids,
        &r.filters,
        r.max_results,
    );
    check_duration(&mut v, "max_staleness", r.max_staleness.as_ref());
    v.into_result()
}

/// A duration field (`google.protobuf.Duration`) that must be zero or positive.
fn check_duration(v: &mut Violations, field: &str, d: Option<&prost_types::Duration>) {
    if let Some(d) = d {
        v.check(
            d.seconds >= 0 && (0..1_000_000_000).contains(&d.nanos),
            field,
            || {
                format!(
                    "must be a duration of zero or more, got {}s {}ns",
                    d.seconds, d.nanos
                )
            },
        );
    }
}

/// Validates a `WatchInstancesRequest` (the view checks that it evaluates each filter).
pub fn watch_instances(r: &pb::WatchInstancesRequest) -> Result<(), Error> {
    let mut v = Violations::default();
    check_ids(&mut v, "instance_ids", &r.instance_ids, usize::MAX, "");
    check_filters(&mut v, "filters", &r.filters);
    if let Some(d) = &r.bookmark_interval {
        v.check(
            (1..=3600).contains(&d.seconds) && (0..1_000_000_000).contains(&d.nanos),
            "bookmark_interval",
            || format!("must be 1 s to 1 h, got {}s {}ns", d.seconds, d.nanos),
        );
    }
    v.into_result()
}

/// Validates a `WaitInstancesRequest` (the view checks that it evaluates each filter).
pub fn wait_instances(r: &pb::WaitInstancesRequest) -> Result<(), Error> {
    let mut v = Violations::default();
    check_describe(&mut v, "instance_ids", &r.instance_ids, &r.filters, None);
    v.check(
        !r.instance_ids.is_empty() || !r.filters.is_empty(),
        "instance_ids",
        || "name the instances to wait for by instance_ids or filters".into(),
    );
    let target = pb::WaitTarget::try_from(r.target).unwrap_or_default();
    v.check(target != pb::WaitTarget::Unspecified, "target", || {
        format!(
            "must be WAIT_TARGET_EXISTS, _RUNNING, _STOPPED, _TERMINATED, _STATUS_OK or \
             _SYSTEM_STATUS_OK, got {}",
            r.target
        )
    });
    v.into_result()
}

/// Validates a `DescribeInstancesStreamRequest`.
pub fn describe_instances_stream(r: &pb::DescribeInstancesStreamRequest) -> Result<(), Error> {
    let mut v = Violations::default();
    check_describe(
        &mut v,
        "instance_ids",
        &r.instance_ids,
        &r.filters,
        r.max_results,
    );
    check_limit(&mut v, r.limit);
    check_duration(&mut v, "max_staleness", r.max_staleness.as_ref());
    v.into_result()
}

/// Validates a `DescribeNetworkInterfacesRequest`.
pub fn describe_network_interfaces(r: &pb::DescribeNetworkInterfacesRequest) -> Result<(), Error> {
    let mut v = Violations::default();
    let ids = &r.network_interface_ids;
    check_describe(
        &mut v,
        "network_interface_ids",
        ids,
        &r.filters,
        r.max_results,
    );
    v.into_result()
}

/// Validates a `DescribeNetworkInterfacesStreamRequest`.
pub fn describe_network_interfaces_stream(
    r: &pb::DescribeNetworkInterfacesStreamRequest,
) -> Result<(), Error> {
    let mut v = Violations::default();
    let ids = &r.network_interface_ids;
    check_describe(
        &mut v,
        "network_interface_ids",
        ids,
        &r.filters,
        r.max_results,
    );
    check_limit(&mut v, r.limit);
    v.into_result()
}

/// Validates a `RunInstancesRequest`: an image (or a launch template), sane counts, a client
/// token and user data EC2 will take.
pub fn run_instances(r: &pb::RunInstancesRequest) -> Result<(), Error> {
    let mut v = Violations::default();
    v.check(
        !r.image_id.is_empty() || r.launch_template.is_some(),
        "image_id",
        || "required unless launch_template names the image".into(),
    );
    v.check(is_image_reference(&r.image_id), "image_id", || {
        format!(
            "must be an AMI id (ami-...) or an SSM parameter EC2 resolves \
             (resolve:ssm:/aws/service/..., or resolve:ssm:NAME[:VERSION]), got {:?}",
            r.image_id
        )
    });
    let min = r.min_count.unwrap_or(1);
    let max = r.max_count.unwrap_or(min);
    v.check(min >= 1, "min_count", || {
        format!("must be at least 1, got {min}")
    });
    v.check(max >= 1, "max_count", || {
        format!("must be at least 1, got {max}")
    });
    v.check(min <= max, "min_count", || {
        format!("must not exceed max_count ({min} > {max})")
    });
    check_client_token(&mut v, &r.client_token);
    v.check(
        r.user_data.len() <= MAX_USER_DATA_BYTES,
        "user_data",
        || {
            format!(
                "at most {MAX_USER_DATA_BYTES} bytes before encoding, got {}",
                r.user_data.len()
            )
        },
    );
    v.into_result()
}

/// A required id field: present, and with the prefix EC2 gives such ids (`eni-`, `i-`,
/// `eni-attach-`).
fn check_id(v: &mut Violations, field: &str, id: &str, prefix: &str) {
    v.check(id.starts_with(prefix), field, || {
        if id.is_empty() {
            format!("required: the {prefix}... id")
        } else {
            format!("must be an id starting with {prefix}, got {id:?}")
        }
    });
}

/// What RunInstances' `image_id` may be: empty (a launch template names the image), an AMI
/// id, or `resolve:ssm:` and a parameter, which EC2 resolves to an AMI id at launch (the public
/// `/aws/service/...` aliases, like the latest Amazon Linux).
fn is_image_reference(image_id: &str) -> bool {
    image_id.is_empty()
        || image_id.starts_with("ami-")
        || image_id
            .strip_prefix("resolve:ssm:")
            .is_some_and(|parameter| !parameter.is_empty())
}

/// Validates an `AttachNetworkInterfaceRequest`.
pub fn attach_network_interface(r: &pb::AttachNetworkInterfaceRequest) -> Result<(), Error> {
    let mut v = Violations::default();
    check_id(
        &mut v,
        "network_interface_id",
        &r.network_interface_id,
        "eni-",
    );
    check_id(&mut v, "instance_id", &r.instance_id, "i-");
    match r.device_index {
        None => v.check(false, "device_index", || {
            "required: the device index of the attachment (0 is the primary interface's)".into()
        }),
        Some(index) => v.check(index >= 0, "device_index", || {
            format!("must be 0 or more, got {index}")
        }),
    }
    for (field, value) in [
        ("network_card_index", r.network_card_index),
        ("ena_queue_count", r.ena_queue_count),
    ] {
        if let Some(n) = value {
            v.check(n >= 0, field, || format!("must be 0 or more, got {n}"));
        }
    }
    v.into_result()
}

/// Validates a `DetachNetworkInterfaceRequest`.
pub fn detach_network_interface(r: &pb::DetachNetworkInterfaceRequest) -> Result<(), Error> {
    let mut v = Violations::default();
    check_id(&mut v, "attachment_id", &r.attachment_id, "eni-attach-");
    v.into_result()
}

/// Validates a `DeleteNetworkInterfacesRequest`: ids and/or filters, or the explicit
/// `all_network_interfaces` alone.
pub fn delete_network_interfaces(r: &pb::DeleteNetworkInterfacesRequest) -> Result<(), Error> {
    let mut v = Violations::default();
    let empty = pb::NetworkInterfaceSelection::default();
    let s = r.selection.as_ref().unwrap_or(&empty);
    for (i, id) in s.network_interface_ids.iter().enumerate() {
        let field = format!("selection.network_interface_ids[{i}]");
        check_id(&mut v, &field, id, "eni-");
    }
    let parts = SelectionParts {
        thing: "interface",
        every: "delete every interface",
        ids_field: "network_interface_ids",
        ids: &s.network_interface_ids,
        filters: &s.filters,
        all_field: "all_network_interfaces",
        all: s.all_network_interfaces,
        limit: s.limit,
        page_size: s.page_size,
    };
    check_selection_parts(&mut v, &parts, false);
    v.into_result()
}

/// Validates a `DeleteNetworkInterfaceRequest`.
pub fn delete_network_interface(r: &pb::DeleteNetworkInterfaceRequest) -> Result<(), Error> {
    let mut v = Violations::default();
    check_id(
        &mut v,
        "network_interface_id",
        &r.network_interface_id,
        "eni-",
    );
    v.into_result()
}

/// Validates a `CreateNetworkInterfaceRequest`: a subnet and a client token EC2 will take.
pub fn create_network_interface(r: &pb::CreateNetworkInterfaceRequest) -> Result<(), Error> {
    let mut v = Violations::default();
    v.check(!r.subnet_id.is_empty(), "subnet_id", || "required".into());
    check_client_token(&mut v, &r.client_token);
    v.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(err: Error) -> Vec<String> {
        match err {
            Error::InvalidArgument(v) => v.into_iter().map(|f| f.field).collect(),
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn a_plain_request_is_valid() {
        let r = pb::DescribeInstancesRequest {
            max_results: Some(5),
            ..Default::default()
        };
        assert!(describe_instances(&r).is_ok());
    }

    #[test]
    fn max_results_outside_ec2_range_names_the_field() {
        for bad in [0, 2, 4, 1001] {
            let r = pb::DescribeInstancesRequest {
                max_results: Some(bad),
                ..Default::default()
            };
            assert_eq!(fields(describe_instances(&r).unwrap_err()), ["max_results"]);
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let r = pb::DescribeInstancesRequest {
            instance_ids: vec!["i-1".into(), "".into()],
            max_results: Some(10),
            filters: vec![pb::Filter {
                name: "".into(),
                values: vec![],
            }],
            ..Default::default()
        };
        assert_eq!(
            fields(describe_instances(&r).unwrap_err()),
            [
                "instance_ids[1]",
                "max_results",
                "filters[0].name",
                "filters[0].values"
            ]
        );
    }

    #[test]
    fn run_instances_needs_an_image_and_sane_counts() {
        let r = pb::RunInstancesRequest {
            min_count: Some(3),
            max_count: Some(2),
            client_token: "x".repeat(65),
            user_data: vec![0; MAX_USER_DATA_BYTES + 1],
            ..Default::default()
        };
        assert_eq!(
            fields(run_instances(&r).unwrap_err()),
            ["image_id", "min_count", "client_token", "user_data"]
        );
        let ok = pb::RunInstancesRequest {
            image_id: "ami-1".into(),
            ..Default::default()
        };
        assert!(run_instances(&ok).is_ok());
        let zero = pb::RunInstancesRequest {
            image_id: "ami-1".into(),
            min_count: Some(0),
            ..Default::default()
        };
        assert_eq!(
            fields(run_instances(&zero).unwrap_err()),
            ["min_count", "max_count"]
        );
    }

    #[test]
    fn create_network_interface_needs_a_subnet() {
        let r = pb::CreateNetworkInterfaceRequest {
            client_token: "é".into(),
            ..Default::default()
        };
        assert_eq!(
            fields(create_network_interface(&r).unwrap_err()),
            ["subnet_id", "client_token"]
        );
    }

    #[test]
    fn stream_limits_are_positive() {
        let r = pb::DescribeNetworkInterfacesStreamRequest {
            limit: Some(0),
            ..Default::default()
        };
        assert_eq!(
            fields(describe_network_interfaces_stream(&r).unwrap_err()),
            ["limit"]
        );
    }

    #[test]
    fn an_empty_selection_is_refused_unless_all_instances_is_explicit() {
        assert_eq!(fields(instance_action(None).unwrap_err()), ["selection"]);
        let all = pb::InstanceSelection {
            all_instances: true,
            ..Default::default()
        };
        assert!(instance_action(Some(&all)).is_ok());
        let mixed = pb::InstanceSelection {
            all_instances: true,
            instance_ids: vec!["i-1".into()],
            page_size: Some(50),
            limit: Some(0),
            ..Default::default()
        };
        assert_eq!(
            fields(instance_action(Some(&mixed)).unwrap_err()),
            [
                "selection.all_instances",
                "selection.limit",
                "selection.page_size"
            ]
        );
    }

    #[test]
    fn create_tags_needs_a_target_and_tags() {
        let r = pb::CreateTagsRequest::default();
        assert_eq!(fields(create_tags(&r).unwrap_err()), ["selection", "tags"]);
        let by_resource = pb::CreateTagsRequest {
            resource_ids: vec!["eni-1".into()],
            tags: vec![pb::Tag {
                key: "k".into(),
                value: "v".into(),
            }],
            ..Default::default()
        };
        assert!(create_tags(&by_resource).is_ok());
    }

    #[test]
    fn filters_and_their_values_are_bounded() {
        let many = pb::DescribeInstancesRequest {
            filters: (0..=MAX_FILTERS)
                .map(|i| pb::Filter {
                    name: format!("tag:k{i}"),
                    values: vec!["v".into()],
                })
                .collect(),
            ..Default::default()
        };
        assert_eq!(fields(describe_instances(&many).unwrap_err()), ["filters"]);
        let wide = pb::DescribeInstancesRequest {
            filters: vec![pb::Filter {
                name: "instance-id".into(),
                values: (0..=MAX_FILTER_VALUES)
                    .map(|i| format!("i-{i:08x}"))
                    .collect(),
            }],
            ..Default::default()
        };
        assert_eq!(
            fields(describe_instances(&wide).unwrap_err()),
            ["filters[0].values"]
        );
    }

    #[test]
    fn too_many_ids_are_refused() {
        let r = pb::DescribeInstancesRequest {
            instance_ids: (0..1001).map(|i| format!("i-{i}")).collect(),
            ..Default::default()
        };
        assert_eq!(
            fields(describe_instances(&r).unwrap_err()),
            ["instance_ids"]
        );
    }
}

#[cfg(test)]
mod properties;
