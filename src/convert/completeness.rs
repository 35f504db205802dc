//! Drift guard: every member aws-sdk-ec2 knows of each EC2 shape has a field of the same name
//! in the `ec2.v1` message, and no field is invented (beyond the gateway's documented extras).
//! When the SDK grows a member, these tests fail until the contract and the conversion carry
//! it, so no field is ever dropped silently.

use crate::pb;
use aws_sdk_ec2::operation::{
    attach_network_interface::{AttachNetworkInterfaceInput, AttachNetworkInterfaceOutput},
    create_network_interface::{CreateNetworkInterfaceInput, CreateNetworkInterfaceOutput},
    delete_network_interface::{DeleteNetworkInterfaceInput, DeleteNetworkInterfaceOutput},
    describe_instances::DescribeInstancesInput,
    describe_instances::DescribeInstancesOutput,
    describe_network_interfaces::{
        DescribeNetworkInterfacesInput, DescribeNetworkInterfacesOutput,
    },
    detach_network_interface::{DetachNetworkInterfaceInput, DetachNetworkInterfaceOutput},
    run_instances::{RunInstancesInput, RunInstancesOutput},
};
use aws_sdk_ec2::types;
use prost::Message;

/// The top-level member names in an SDK shape's `Debug` output, which lists every member, set
/// or not.
fn sdk_members(debug: &str) -> Vec<String> {
    let body = &debug[debug.find('{').expect("a struct") + 1..];
    let mut members = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in body.char_indices() {
        match c {
            '{' | '(' | '[' => depth += 1,
            '}' | ')' | ']' => depth -= 1,
            ':' if depth == 0 => {
                let name = body[start..i].trim().trim_start_matches(',').trim();
                // `_request_id` and the like are SDK bookkeeping, not EC2 members.
                if !name.starts_with('_') {
                    members.push(name.trim_start_matches("r#").to_owned());
                }
            }
            ',' if depth == 0 => start = i + 1,
            _ => {}
        }
    }
    members.sort();
    members
}

/// The fields every RPC request has beyond EC2's members: where the call goes.
const TARGET_FIELDS: [&str; 2] = ["account", "region"];

/// The field names of message `ec2.v1.<name>` in the compiled contract, less `extras` (and
/// less the target fields of a request).
fn proto_fields(name: &str, extras: &[&str]) -> Vec<String> {
    let set = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).expect("fds");
    let mut fields: Vec<String> = set
        .file
        .iter()
        .filter(|f| f.package() == "ec2.v1")
        .flat_map(|f| &f.message_type)
        .find(|m| m.name() == name)
        .unwrap_or_else(|| panic!("ec2.v1.{name} is missing"))
        .field
        .iter()
        .map(|f| f.name().to_owned())
        .filter(|f| !extras.contains(&f.as_str()))
        .filter(|f| !(name.ends_with("Request") && TARGET_FIELDS.contains(&f.as_str())))
        .collect();
    fields.sort();
    fields
}

/// Asserts that the SDK value's members and the message's fields are the same names.
pub(super) fn assert_same(sdk_debug: String, message: &str, extras: &[&str]) {
    assert_eq!(
        sdk_members(&sdk_debug),
        proto_fields(message, extras),
        "EC2 members vs ec2.v1.{message} fields"
    );
}

/// Shapes whose protobuf message carries the SDK shape's own name.
macro_rules! assert_complete {
    ($($shape:ident),+ $(,)?) => {$(
        assert_same(format!("{:?}", types::$shape::builder().build()), stringify!($shape), &[]);
    )+};
}

#[test]
fn response_shapes_are_complete() {
    assert_complete!(
        Reservation,
        Instance,
        InstanceBlockDeviceMapping,
        EbsInstanceBlockDevice,
        OperatorResponse,
        IamInstanceProfile,
        ElasticGpuAssociation,
        ElasticInferenceAcceleratorAssociation,
        InstanceNetworkInterface,
        InstanceNetworkInterfaceAssociation,
        InstanceNetworkInterfaceAttachment,
        InstanceAttachmentEnaSrdSpecification,
        InstanceAttachmentEnaSrdUdpSpecification,
        InstanceIpv6Address,
        InstancePrivateIpAddress,
        InstanceIpv4Prefix,
        InstanceIpv6Prefix,
        ConnectionTrackingSpecificationResponse,
        StateReason,
        CpuOptions,
        CapacityReservationSpecificationResponse,
        CapacityReservationTargetResponse,
        HibernationOptions,
        LicenseConfiguration,
        InstanceMetadataOptionsResponse,
        EnclaveOptions,
        PrivateDnsNameOptionsResponse,
        InstanceMaintenanceOptions,
        InstanceNetworkPerformanceOptions,
        InstanceSecondaryInterface,
        InstanceSecondaryInterfaceAttachment,
        InstanceSecondaryInterfacePrivateIpAddress,
        InstanceState,
        ProductCode,
        Placement,
        Monitoring,
        Tag,
        GroupIdentifier,
        Filter,
        NetworkInterface,
        NetworkInterfaceAssociation,
        NetworkInterfaceAttachment,
        AttachmentEnaSrdSpecification,
        AttachmentEnaSrdUdpSpecification,
        ConnectionTrackingConfiguration,
        NetworkInterfaceIpv6Address,
        PublicIpDnsNameOptions,
        NetworkInterfacePrivateIpAddress,
        Ipv4PrefixSpecification,
        Ipv6PrefixSpecification,
    );
}

#[test]
fn request_shapes_are_complete() {
    assert_complete!(
        BlockDeviceMapping,
        EbsBlockDevice,
        RunInstancesMonitoringEnabled,
        ElasticGpuSpecification,
        ElasticInferenceAccelerator,
        TagSpecification,
        LaunchTemplateSpecification,
        InstanceMarketOptionsRequest,
        SpotMarketOptions,
        CreditSpecificationRequest,
        CpuOptionsRequest,
        CapacityReservationSpecification,
        CapacityReservationTarget,
        HibernationOptionsRequest,
        LicenseConfigurationRequest,
        InstanceMetadataOptionsRequest,
        EnclaveOptionsRequest,
        PrivateDnsNameOptionsRequest,
        InstanceMaintenanceOptionsRequest,
        InstanceNetworkPerformanceOptionsRequest,
        OperatorRequest,
        InstanceSecondaryInterfaceSpecificationRequest,
        InstanceSecondaryInterfacePrivateIpAddressRequest,
        InstanceNetworkInterfaceSpecification,
        PrivateIpAddressSpecification,
        Ipv4PrefixSpecificationRequest,
        Ipv6PrefixSpecificationRequest,
        EnaSrdSpecificationRequest,
        EnaSrdUdpSpecificationRequest,
        ConnectionTrackingSpecificationRequest,
        IamInstanceProfileSpecification,
        EnaSrdSpecification,
        EnaSrdUdpSpecification,
    );
}

#[test]
fn operation_requests_and_responses_are_complete() {
    let dry = ["dry_run_succeeded"];
    let input = |debug: Result<String, _>| debug.expect("input builds");
    let debug = |v: &dyn std::fmt::Debug| format!("{v:?}");
    assert_same(
        input(RunInstancesInput::builder().build().map(|i| debug(&i))),
        "RunInstancesRequest",
        &[],
    );
    assert_same(
        debug(&RunInstancesOutput::builder().build()),
        "RunInstancesResponse",
        &dry,
    );
    // The gateway's own fields: whether its instance view may answer, and how old it was.
    assert_same(
        input(DescribeInstancesInput::builder().build().map(|i| debug(&i))),
        "DescribeInstancesRequest",
        &["max_staleness"],
    );
    assert_same(
        debug(&DescribeInstancesOutput::builder().build()),
        "DescribeInstancesResponse",
        &["dry_run_succeeded", "staleness"],
    );
    assert_same(
        input(
            CreateNetworkInterfaceInput::builder()
                .build()
                .map(|i| debug(&i)),
        ),
        "CreateNetworkInterfaceRequest",
        &[],
    );
    assert_same(
        debug(&CreateNetworkInterfaceOutput::builder().build()),
        "CreateNetworkInterfaceResponse",
        &dry,
    );
    assert_same(
        input(
            DescribeNetworkInterfacesInput::builder()
                .build()
                .map(|i| debug(&i)),
        ),
        "DescribeNetworkInterfacesRequest",
        &[],
    );
    assert_same(
        debug(&DescribeNetworkInterfacesOutput::builder().build()),
        "DescribeNetworkInterfacesResponse",
        &dry,
    );
    assert_same(
        input(
            AttachNetworkInterfaceInput::builder()
                .build()
                .map(|i| debug(&i)),
        ),
        "AttachNetworkInterfaceRequest",
        &[],
    );
    assert_same(
        debug(&AttachNetworkInterfaceOutput::builder().build()),
        "AttachNetworkInterfaceResponse",
        &dry,
    );
    assert_same(
        input(
            DetachNetworkInterfaceInput::builder()
                .build()
                .map(|i| debug(&i)),
        ),
        "DetachNetworkInterfaceRequest",
        &[],
    );
    assert_same(
        debug(&DetachNetworkInterfaceOutput::builder().build()),
        "DetachNetworkInterfaceResponse",
        &dry,
    );
    assert_same(
        input(
            DeleteNetworkInterfaceInput::builder()
                .build()
                .map(|i| debug(&i)),
        ),
        "DeleteNetworkInterfaceRequest",
        &[],
    );
    assert_same(
        debug(&DeleteNetworkInterfaceOutput::builder().build()),
        "DeleteNetworkInterfaceResponse",
        &dry,
    );
}
