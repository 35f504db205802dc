//! `Reservation`, `Instance` and every shape nested in them, as DescribeInstances and
//! RunInstances return them. Each function copies every member aws-sdk-ec2 knows (the tests in
//! `completeness.rs` fail when the SDK grows one this file lacks).

use super::common::{group_identifier, tag};
use super::{enum_text, list, text, timestamp};
use crate::pb;
use aws_sdk_ec2::operation::run_instances::RunInstancesOutput;
use aws_sdk_ec2::types;

/// EC2 `RunInstances` output (the launch's reservation) -> `ec2.v1.RunInstancesResponse`.
pub fn run_instances_output(v: RunInstancesOutput) -> pb::RunInstancesResponse {
    pb::RunInstancesResponse {
        reservation_id: text(v.reservation_id),
        owner_id: text(v.owner_id),
        requester_id: text(v.requester_id),
        groups: list(v.groups, group_identifier),
        instances: list(v.instances, instance),
        dry_run_succeeded: false,
    }
}

/// EC2 `Reservation` -> `ec2.v1.Reservation`.
pub fn reservation(v: types::Reservation) -> pb::Reservation {
    pb::Reservation {
        reservation_id: text(v.reservation_id),
        owner_id: text(v.owner_id),
        requester_id: text(v.requester_id),
        groups: list(v.groups, group_identifier),
        instances: list(v.instances, instance),
    }
}

/// EC2 `Instance` -> `ec2.v1.Instance`.
pub fn instance(v: types::Instance) -> pb::Instance {
    pb::Instance {
        instance_id: text(v.instance_id),
        image_id: text(v.image_id),
        state: v.state.map(instance_state),
        private_dns_name: text(v.private_dns_name),
        public_dns_name: text(v.public_dns_name),
        state_transition_reason: text(v.state_transition_reason),
        key_name: text(v.key_name),
        ami_launch_index: v.ami_launch_index,
        product_codes: list(v.product_codes, product_code),
        instance_type: enum_text(v.instance_type),
        launch_time: timestamp(v.launch_time),
        placement: v.placement.map(placement),
        kernel_id: text(v.kernel_id),
        ramdisk_id: text(v.ramdisk_id),
        platform: enum_text(v.platform),
        monitoring: v.monitoring.map(monitoring),
        subnet_id: text(v.subnet_id),
        vpc_id: text(v.vpc_id),
        private_ip_address: text(v.private_ip_address),
        public_ip_address: text(v.public_ip_address),
        architecture: enum_text(v.architecture),
        block_device_mappings: list(v.block_device_mappings, instance_block_device_mapping),
        client_token: text(v.client_token),
        ebs_optimized: v.ebs_optimized,
        ena_support: v.ena_support,
        hypervisor: enum_text(v.hypervisor),
        iam_instance_profile: v.iam_instance_profile.map(iam_instance_profile),
        instance_lifecycle: enum_text(v.instance_lifecycle),
        elastic_gpu_associations: list(v.elastic_gpu_associations, elastic_gpu_association),
        elastic_inference_accelerator_associations: list(
            v.elastic_inference_accelerator_associations,
            elastic_inference_accelerator_association,
        ),
        network_interfaces: list(v.network_interfaces, instance_network_interface),
        outpost_arn: text(v.outpost_arn),
        root_device_name: text(v.root_device_name),
        root_device_type: enum_text(v.root_device_type),
        security_groups: list(v.security_groups, group_identifier),
        source_dest_check: v.source_dest_check,
        spot_instance_request_id: text(v.spot_instance_request_id),
        sriov_net_support: text(v.sriov_net_support),
        state_reason: v.state_reason.map(state_reason),
        tags: list(v.tags, tag),
        virtualization_type: enum_text(v.virtualization_type),
        cpu_options: v.cpu_options.map(cpu_options),
        capacity_block_id: text(v.capacity_block_id),
        capacity_reservation_id: text(v.capacity_reservation_id),
        capacity_reservation_specification: v
            .capacity_reservation_specification
            .map(capacity_reservation_specification_response),
        hibernation_options: v.hibernation_options.map(hibernation_options),
        licenses: list(v.licenses, license_configuration),
        metadata_options: v.metadata_options.map(instance_metadata_options_response),
        enclave_options: v.enclave_options.map(enclave_options),
        boot_mode: enum_text(v.boot_mode),
        platform_details: text(v.platform_details),
        usage_operation: text(v.usage_operation),
        usage_operation_update_time: timestamp(v.usage_operation_update_time),
        private_dns_name_options: v
            .private_dns_name_options
            .map(private_dns_name_options_response),
        ipv6_address: text(v.ipv6_address),
        tpm_support: text(v.tpm_support),
        maintenance_options: v.maintenance_options.map(instance_maintenance_options),
        current_instance_boot_mode: enum_text(v.current_instance_boot_mode),
        network_performance_options: v
            .network_performance_options
            .map(instance_network_performance_options),
        operator: v.operator.map(operator_response),
        secondary_interfaces: list(v.secondary_interfaces, instance_secondary_interface),
    }
}

/// EC2 `InstanceBlockDeviceMapping` -> `ec2.v1.InstanceBlockDeviceMapping`.
pub fn instance_block_device_mapping(
    v: types::InstanceBlockDeviceMapping,
) -> pb::InstanceBlockDeviceMapping {
    pb::InstanceBlockDeviceMapping {
        device_name: text(v.device_name),
        ebs: v.ebs.map(ebs_instance_block_device),
    }
}

/// EC2 `EbsInstanceBlockDevice` -> `ec2.v1.EbsInstanceBlockDevice`.
pub fn ebs_instance_block_device(v: types::EbsInstanceBlockDevice) -> pb::EbsInstanceBlockDevice {
    pb::EbsInstanceBlockDevice {
        attach_time: timestamp(v.attach_time),
        delete_on_termination: v.delete_on_termination,
        status: enum_text(v.status),
        volume_id: text(v.volume_id),
        associated_resource: text(v.associated_resource),
        volume_owner_id: text(v.volume_owner_id),
        operator: v.operator.map(operator_response),
        ebs_card_index: v.ebs_card_index,
    }
}

/// EC2 `OperatorResponse` -> `ec2.v1.OperatorResponse`.
pub fn operator_response(v: types::OperatorResponse) -> pb::OperatorResponse {
    pb::OperatorResponse {
        managed: v.managed,
        principal: text(v.principal),
        hidden_by_default: v.hidden_by_default,
    }
}

/// EC2 `IamInstanceProfile` -> `ec2.v1.IamInstanceProfile`.
pub fn iam_instance_profile(v: types::IamInstanceProfile) -> pb::IamInstanceProfile {
    pb::IamInstanceProfile {
        arn: text(v.arn),
        id: text(v.id),
    }
}

/// EC2 `ElasticGpuAssociation` -> `ec2.v1.ElasticGpuAssociation`.
pub fn elastic_gpu_association(v: types::ElasticGpuAssociation) -> pb::ElasticGpuAssociation {
    pb::ElasticGpuAssociation {
        elastic_gpu_id: text(v.elastic_gpu_id),
        elastic_gpu_association_id: text(v.elastic_gpu_association_id),
        elastic_gpu_association_state: text(v.elastic_gpu_association_state),
        elastic_gpu_association_time: text(v.elastic_gpu_association_time),
    }
}

/// EC2 `ElasticInferenceAcceleratorAssociation` -> `ec2.v1.ElasticInferenceAcceleratorAssociation`.
pub fn elastic_inference_accelerator_association(
    v: types::ElasticInferenceAcceleratorAssociation,
) -> pb::ElasticInferenceAcceleratorAssociation {
    pb::ElasticInferenceAcceleratorAssociation {
        elastic_inference_accelerator_arn: text(v.elastic_inference_accelerator_arn),
        elastic_inference_accelerator_association_id: text(
            v.elastic_inference_accelerator_association_id,
        ),
        elastic_inference_accelerator_association_state: text(
            v.elastic_inference_accelerator_association_state,
        ),
        elastic_inference_accelerator_association_time: timestamp(
            v.elastic_inference_accelerator_association_time,
        ),
    }
}

/// EC2 `InstanceNetworkInterface` -> `ec2.v1.InstanceNetworkInterface`.
pub fn instance_network_interface(
    v: types::InstanceNetworkInterface,
) -> pb::InstanceNetworkInterface {
    pb::InstanceNetworkInterface {
        association: v.association.map(instance_network_interface_association),
        attachment: v.attachment.map(instance_network_interface_attachment),
        description: text(v.description),
        groups: list(v.groups, group_identifier),
        ipv6_addresses: list(v.ipv6_addresses, instance_ipv6_address),
        mac_address: text(v.mac_address),
        network_interface_id: text(v.network_interface_id),
        owner_id: text(v.owner_id),
        private_dns_name: text(v.private_dns_name),
        private_ip_address: text(v.private_ip_address),
        private_ip_addresses: list(v.private_ip_addresses, instance_private_ip_address),
        source_dest_check: v.source_dest_check,
        status: enum_text(v.status),
        subnet_id: text(v.subnet_id),
        vpc_id: text(v.vpc_id),
        interface_type: text(v.interface_type),
        ipv4_prefixes: list(v.ipv4_prefixes, instance_ipv4_prefix),
        ipv6_prefixes: list(v.ipv6_prefixes, instance_ipv6_prefix),
        connection_tracking_configuration: v
            .connection_tracking_configuration
            .map(connection_tracking_specification_response),
        operator: v.operator.map(operator_response),
    }
}

/// EC2 `InstanceNetworkInterfaceAssociation` -> `ec2.v1.InstanceNetworkInterfaceAssociation`.
pub fn instance_network_interface_association(
    v: types::InstanceNetworkInterfaceAssociation,
) -> pb::InstanceNetworkInterfaceAssociation {
    pb::InstanceNetworkInterfaceAssociation {
        carrier_ip: text(v.carrier_ip),
        customer_owned_ip: text(v.customer_owned_ip),
        ip_owner_id: text(v.ip_owner_id),
        public_dns_name: text(v.public_dns_name),
        public_ip: text(v.public_ip),
    }
}

/// EC2 `InstanceNetworkInterfaceAttachment` -> `ec2.v1.InstanceNetworkInterfaceAttachment`.
pub fn instance_network_interface_attachment(
    v: types::InstanceNetworkInterfaceAttachment,
) -> pb::InstanceNetworkInterfaceAttachment {
    pb::InstanceNetworkInterfaceAttachment {
        attach_time: timestamp(v.attach_time),
        attachment_id: text(v.attachment_id),
        delete_on_termination: v.delete_on_termination,
        device_index: v.device_index,
        status: enum_text(v.status),
        network_card_index: v.network_card_index,
        ena_srd_specification: v
            .ena_srd_specification
            .map(instance_attachment_ena_srd_specification),
        ena_queue_count: v.ena_queue_count,
    }
}

/// EC2 `InstanceAttachmentEnaSrdSpecification` -> `ec2.v1.InstanceAttachmentEnaSrdSpecification`.
pub fn instance_attachment_ena_srd_specification(
    v: types::InstanceAttachmentEnaSrdSpecification,
) -> pb::InstanceAttachmentEnaSrdSpecification {
    pb::InstanceAttachmentEnaSrdSpecification {
        ena_srd_enabled: v.ena_srd_enabled,
        ena_srd_udp_specification: v
            .ena_srd_udp_specification
            .map(instance_attachment_ena_srd_udp_specification),
    }
}

/// EC2 `InstanceAttachmentEnaSrdUdpSpecification` -> `ec2.v1.InstanceAttachmentEnaSrdUdpSpecification`.
pub fn instance_attachment_ena_srd_udp_specification(
    v: types::InstanceAttachmentEnaSrdUdpSpecification,
) -> pb::InstanceAttachmentEnaSrdUdpSpecification {
    pb::InstanceAttachmentEnaSrdUdpSpecification {
        ena_srd_udp_enabled: v.ena_srd_udp_enabled,
    }
}

/// EC2 `InstanceIpv6Address` -> `ec2.v1.InstanceIpv6Address`.
pub fn instance_ipv6_address(v: types::InstanceIpv6Address) -> pb::InstanceIpv6Address {
    pb::InstanceIpv6Address {
        ipv6_address: text(v.ipv6_address),
        is_primary_ipv6: v.is_primary_ipv6,
    }
}

/// EC2 `InstancePrivateIpAddress` -> `ec2.v1.InstancePrivateIpAddress`.
pub fn instance_private_ip_address(
    v: types::InstancePrivateIpAddress,
) -> pb::InstancePrivateIpAddress {
    pb::InstancePrivateIpAddress {
        association: v.association.map(instance_network_interface_association),
        primary: v.primary,
        private_dns_name: text(v.private_dns_name),
        private_ip_address: text(v.private_ip_address),
    }
}

/// EC2 `InstanceIpv4Prefix` -> `ec2.v1.InstanceIpv4Prefix`.
pub fn instance_ipv4_prefix(v: types::InstanceIpv4Prefix) -> pb::InstanceIpv4Prefix {
    pb::InstanceIpv4Prefix {
        ipv4_prefix: text(v.ipv4_prefix),
    }
}

/// EC2 `InstanceIpv6Prefix` -> `ec2.v1.InstanceIpv6Prefix`.
pub fn instance_ipv6_prefix(v: types::InstanceIpv6Prefix) -> pb::InstanceIpv6Prefix {
    pb::InstanceIpv6Prefix {
        ipv6_prefix: text(v.ipv6_prefix),
    }
}

/// EC2 `ConnectionTrackingSpecificationResponse` -> `ec2.v1.ConnectionTrackingSpecificationResponse`.
pub fn connection_tracking_specification_response(
    v: types::ConnectionTrackingSpecificationResponse,
) -> pb::ConnectionTrackingSpecificationResponse {
    pb::ConnectionTrackingSpecificationResponse {
        tcp_established_timeout: v.tcp_established_timeout,
        udp_stream_timeout: v.udp_stream_timeout,
        udp_timeout: v.udp_timeout,
    }
}

/// EC2 `StateReason` -> `ec2.v1.StateReason`.
pub fn state_reason(v: types::StateReason) -> pb::StateReason {
    pb::StateReason {
        code: text(v.code),
        message: text(v.message),
    }
}

/// EC2 `CpuOptions` -> `ec2.v1.CpuOptions`.
pub fn cpu_options(v: types::CpuOptions) -> pb::CpuOptions {
    pb::CpuOptions {
        core_count: v.core_count,
        threads_per_core: v.threads_per_core,
        amd_sev_snp: enum_text(v.amd_sev_snp),
        nested_virtualization: enum_text(v.nested_virtualization),
    }
}

/// EC2 `CapacityReservationSpecificationResponse` -> `ec2.v1.CapacityReservationSpecificationResponse`.
pub fn capacity_reservation_specification_response(
    v: types::CapacityReservationSpecificationResponse,
) -> pb::CapacityReservationSpecificationResponse {
    pb::CapacityReservationSpecificationResponse {
        capacity_reservation_preference: enum_text(v.capacity_reservation_preference),
        capacity_reservation_target: v
            .capacity_reservation_target
            .map(capacity_reservation_target_response),
    }
}

/// EC2 `CapacityReservationTargetResponse` -> `ec2.v1.CapacityReservationTargetResponse`.
pub fn capacity_reservation_target_response(
    v: types::CapacityReservationTargetResponse,
) -> pb::CapacityReservationTargetResponse {
    pb::CapacityReservationTargetResponse {
        capacity_reservation_id: text(v.capacity_reservation_id),
        capacity_reservation_resource_group_arn: text(v.capacity_reservation_resource_group_arn),
    }
}

/// EC2 `HibernationOptions` -> `ec2.v1.HibernationOptions`.
pub fn hibernation_options(v: types::HibernationOptions) -> pb::HibernationOptions {
    pb::HibernationOptions {
        configured: v.configured,
    }
}

/// EC2 `LicenseConfiguration` -> `ec2.v1.LicenseConfiguration`.
pub fn license_configuration(v: types::LicenseConfiguration) -> pb::LicenseConfiguration {
    pb::LicenseConfiguration {
        license_configuration_arn: text(v.license_configuration_arn),
    }
}

/// EC2 `InstanceMetadataOptionsResponse` -> `ec2.v1.InstanceMetadataOptionsResponse`.
pub fn instance_metadata_options_response(
    v: types::InstanceMetadataOptionsResponse,
) -> pb::InstanceMetadataOptionsResponse {
    pb::InstanceMetadataOptionsResponse {
        state: enum_text(v.state),
        http_tokens: enum_text(v.http_tokens),
        http_put_response_hop_limit: v.http_put_response_hop_limit,
        http_endpoint: enum_text(v.http_endpoint),
        http_protocol_ipv6: enum_text(v.http_protocol_ipv6),
        instance_metadata_tags: enum_text(v.instance_metadata_tags),
    }
}

/// EC2 `EnclaveOptions` -> `ec2.v1.EnclaveOptions`.
pub fn enclave_options(v: types::EnclaveOptions) -> pb::EnclaveOptions {
    pb::EnclaveOptions { enabled: v.enabled }
}

/// EC2 `PrivateDnsNameOptionsResponse` -> `ec2.v1.PrivateDnsNameOptionsResponse`.
pub fn private_dns_name_options_response(
    v: types::PrivateDnsNameOptionsResponse,
) -> pb::PrivateDnsNameOptionsResponse {
    pb::PrivateDnsNameOptionsResponse {
        hostname_type: enum_text(v.hostname_type),
        enable_resource_name_dns_a_record: v.enable_resource_name_dns_a_record,
        enable_resource_name_dns_aaaa_record: v.enable_resource_name_dns_aaaa_record,
    }
}

/// EC2 `InstanceMaintenanceOptions` -> `ec2.v1.InstanceMaintenanceOptions`.
pub fn instance_maintenance_options(
    v: types::InstanceMaintenanceOptions,
) -> pb::InstanceMaintenanceOptions {
    pb::InstanceMaintenanceOptions {
        auto_recovery: enum_text(v.auto_recovery),
        reboot_migration: enum_text(v.reboot_migration),
    }
}

/// EC2 `InstanceNetworkPerformanceOptions` -> `ec2.v1.InstanceNetworkPerformanceOptions`.
pub fn instance_network_performance_options(
    v: types::InstanceNetworkPerformanceOptions,
) -> pb::InstanceNetworkPerformanceOptions {
    pb::InstanceNetworkPerformanceOptions {
        bandwidth_weighting: enum_text(v.bandwidth_weighting),
    }
}

/// EC2 `InstanceSecondaryInterface` -> `ec2.v1.InstanceSecondaryInterface`.
pub fn instance_secondary_interface(
    v: types::InstanceSecondaryInterface,
) -> pb::InstanceSecondaryInterface {
    pb::InstanceSecondaryInterface {
        attachment: v.attachment.map(instance_secondary_interface_attachment),
        mac_address: text(v.mac_address),
        secondary_interface_id: text(v.secondary_interface_id),
        owner_id: text(v.owner_id),
        private_ip_addresses: list(
            v.private_ip_addresses,
            instance_secondary_interface_private_ip_address,
        ),
        source_dest_check: v.source_dest_check,
        status: enum_text(v.status),
        secondary_subnet_id: text(v.secondary_subnet_id),
        secondary_network_id: text(v.secondary_network_id),
        interface_type: enum_text(v.interface_type),
    }
}

/// EC2 `InstanceSecondaryInterfaceAttachment` -> `ec2.v1.InstanceSecondaryInterfaceAttachment`.
pub fn instance_secondary_interface_attachment(
    v: types::InstanceSecondaryInterfaceAttachment,
) -> pb::InstanceSecondaryInterfaceAttachment {
    pb::InstanceSecondaryInterfaceAttachment {
        attach_time: timestamp(v.attach_time),
        attachment_id: text(v.attachment_id),
        delete_on_termination: v.delete_on_termination,
        device_index: v.device_index,
        status: enum_text(v.status),
        network_card_index: v.network_card_index,
    }
}

/// EC2 `InstanceSecondaryInterfacePrivateIpAddress` -> `ec2.v1.InstanceSecondaryInterfacePrivateIpAddress`.
pub fn instance_secondary_interface_private_ip_address(
    v: types::InstanceSecondaryInterfacePrivateIpAddress,
) -> pb::InstanceSecondaryInterfacePrivateIpAddress {
    pb::InstanceSecondaryInterfacePrivateIpAddress {
        private_ip_address: text(v.private_ip_address),
    }
}

/// EC2 `InstanceState` -> `ec2.v1.InstanceState`.
pub fn instance_state(v: types::InstanceState) -> pb::InstanceState {
    pb::InstanceState {
        code: v.code,
        name: enum_text(v.name),
    }
}

/// EC2 `ProductCode` -> `ec2.v1.ProductCode`.
pub fn product_code(v: types::ProductCode) -> pb::ProductCode {
    pb::ProductCode {
        product_code_id: text(v.product_code_id),
        product_code_type: enum_text(v.product_code_type),
    }
}

/// EC2 `Placement` -> `ec2.v1.Placement`.
pub fn placement(v: types::Placement) -> pb::Placement {
    pb::Placement {
        availability_zone_id: text(v.availability_zone_id),
        affinity: text(v.affinity),
        group_name: text(v.group_name),
        partition_number: v.partition_number,
        host_id: text(v.host_id),
        tenancy: enum_text(v.tenancy),
        spread_domain: text(v.spread_domain),
        host_resource_group_arn: text(v.host_resource_group_arn),
        group_id: text(v.group_id),
        availability_zone: text(v.availability_zone),
    }
}

/// EC2 `Monitoring` -> `ec2.v1.Monitoring`.
pub fn monitoring(v: types::Monitoring) -> pb::Monitoring {
    pb::Monitoring {
        state: enum_text(v.state),
    }
}

/// EC2 `InstanceStateChange` (what start, stop and terminate answer) ->
/// `ec2.v1.InstanceStateChange`.
pub fn instance_state_change(v: types::InstanceStateChange) -> pb::InstanceStateChange {
    pb::InstanceStateChange {
        instance_id: text(v.instance_id),
        current_state: v.current_state.map(instance_state),
        previous_state: v.previous_state.map(instance_state),
    }
}

/// EC2 `InstanceMonitoring` (what monitor and unmonitor answer) -> `ec2.v1.InstanceMonitoring`.
pub fn instance_monitoring(v: types::InstanceMonitoring) -> pb::InstanceMonitoring {
    pb::InstanceMonitoring {
        instance_id: text(v.instance_id),
        monitoring: v.monitoring.map(monitoring),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::primitives::DateTime;

    #[test]
    fn an_instance_converts_field_by_field() {
        let sdk = types::Instance::builder()
            .instance_id("i-0abc")
            .instance_type(types::InstanceType::T3Micro)
            .state(
                types::InstanceState::builder()
                    .code(16)
                    .name(types::InstanceStateName::Running)
                    .build(),
            )
            .launch_time(DateTime::from_secs_and_nanos(1_700_000_000, 5))
            .ebs_optimized(false)
            .tags(types::Tag::builder().key("team").value("core").build())
            .security_groups(
                types::GroupIdentifier::builder()
                    .group_id("sg-1")
                    .group_name("web")
                    .build(),
            )
            .metadata_options(
                types::InstanceMetadataOptionsResponse::builder()
                    .http_tokens(types::HttpTokensState::Required)
                    .http_put_response_hop_limit(2)
                    .build(),
            )
            .block_device_mappings(
                types::InstanceBlockDeviceMapping::builder()
                    .device_name("/dev/xvda")
                    .ebs(
                        types::EbsInstanceBlockDevice::builder()
                            .volume_id("vol-1")
                            .delete_on_termination(true)
                            .build(),
                    )
                    .build(),
            )
            .build();
        let pb = instance(sdk);
        assert_eq!(pb.instance_id, "i-0abc");
        assert_eq!(pb.instance_type, "t3.micro");
        let state = pb.state.expect("state");
        assert_eq!((state.code, state.name.as_str()), (Some(16), "running"));
        let launched = pb.launch_time.expect("launch_time");
        assert_eq!((launched.seconds, launched.nanos), (1_700_000_000, 5));
        // Present-but-false differs from absent.
        assert_eq!(pb.ebs_optimized, Some(false));
        assert_eq!(pb.ena_support, None);
        assert_eq!(pb.tags[0].key, "team");
        assert_eq!(pb.security_groups[0].group_name, "web");
        let metadata = pb.metadata_options.expect("metadata_options");
        assert_eq!(metadata.http_tokens, "required");
        assert_eq!(metadata.http_put_response_hop_limit, Some(2));
        let ebs = pb.block_device_mappings[0].ebs.as_ref().expect("ebs");
        assert_eq!(ebs.volume_id, "vol-1");
        assert_eq!(ebs.delete_on_termination, Some(true));
        assert!(pb.placement.is_none());
    }

    #[test]
    fn an_unknown_enum_value_passes_through() {
        let sdk = types::Instance::builder()
            .instance_type(types::InstanceType::from("z99.metal"))
            .build();
        assert_eq!(instance(sdk).instance_type, "z99.metal");
    }
}
