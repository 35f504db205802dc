//! Request direction: `ec2.v1` messages -> aws-sdk-ec2 inputs, for RunInstances and
//! CreateNetworkInterface and every structure they take. One function per EC2 shape; the
//! operation functions fill a fluent builder with every parameter of the request.
//!
//! Empty strings and lists mean "not given" and are left unset, so EC2 applies its defaults.
//! Values that need the gateway's judgement (client tokens, user data encoding, counts) are
//! set by the RPC after these functions.

use super::{date_time, map_list, non_empty, non_empty_list, wire};
use crate::pb;
use aws_sdk_ec2::operation::attach_network_interface::builders::AttachNetworkInterfaceFluentBuilder;
use aws_sdk_ec2::operation::create_network_interface::builders::CreateNetworkInterfaceFluentBuilder;
use aws_sdk_ec2::operation::run_instances::builders::RunInstancesFluentBuilder;
use aws_sdk_ec2::types;

/// Every parameter of `RunInstancesRequest` but `user_data`, `client_token`, `min_count` and
/// `max_count`, which the RPC sets. Elastic GPU and Elastic Inference specifications are
/// deprecated by EC2 but still passed through, so EC2 itself answers for them.
#[allow(deprecated)]
pub fn run_instances(
    builder: RunInstancesFluentBuilder,
    request: &pb::RunInstancesRequest,
) -> RunInstancesFluentBuilder {
    builder
        .set_block_device_mappings(map_list(
            &request.block_device_mappings,
            block_device_mapping,
        ))
        .set_image_id(non_empty(&request.image_id))
        .set_instance_type(wire(&request.instance_type))
        .set_ipv6_address_count(request.ipv6_address_count)
        .set_ipv6_addresses(map_list(&request.ipv6_addresses, instance_ipv6_address))
        .set_kernel_id(non_empty(&request.kernel_id))
        .set_key_name(non_empty(&request.key_name))
        .set_monitoring(
            request
                .monitoring
                .as_ref()
                .map(run_instances_monitoring_enabled),
        )
        .set_placement(request.placement.as_ref().map(placement))
        .set_ramdisk_id(non_empty(&request.ramdisk_id))
        .set_security_group_ids(non_empty_list(&request.security_group_ids))
        .set_security_groups(non_empty_list(&request.security_groups))
        .set_subnet_id(non_empty(&request.subnet_id))
        .set_elastic_gpu_specification(map_list(
            &request.elastic_gpu_specification,
            elastic_gpu_specification,
        ))
        .set_elastic_inference_accelerators(map_list(
            &request.elastic_inference_accelerators,
            elastic_inference_accelerator,
        ))
        .set_tag_specifications(map_list(&request.tag_specifications, tag_specification))
        .set_launch_template(
            request
                .launch_template
                .as_ref()
                .map(launch_template_specification),
        )
        .set_instance_market_options(
            request
                .instance_market_options
                .as_ref()
                .map(instance_market_options_request),
        )
        .set_credit_specification(
            request
                .credit_specification
                .as_ref()
                .map(credit_specification_request),
        )
        .set_cpu_options(request.cpu_options.as_ref().map(cpu_options_request))
        .set_capacity_reservation_specification(
            request
                .capacity_reservation_specification
                .as_ref()
                .map(capacity_reservation_specification),
        )
        .set_hibernation_options(
            request
                .hibernation_options
                .as_ref()
                .map(hibernation_options_request),
        )
        .set_license_specifications(map_list(
            &request.license_specifications,
            license_configuration_request,
        ))
        .set_metadata_options(
            request
                .metadata_options
                .as_ref()
                .map(instance_metadata_options_request),
        )
        .set_enclave_options(
            request
                .enclave_options
                .as_ref()
                .map(enclave_options_request),
        )
        .set_private_dns_name_options(
            request
                .private_dns_name_options
                .as_ref()
                .map(private_dns_name_options_request),
        )
        .set_maintenance_options(
            request
                .maintenance_options
                .as_ref()
                .map(instance_maintenance_options_request),
        )
        .set_disable_api_stop(request.disable_api_stop)
        .set_enable_primary_ipv6(request.enable_primary_ipv6)
        .set_network_performance_options(
            request
                .network_performance_options
                .as_ref()
                .map(instance_network_performance_options_request),
        )
        .set_operator(request.operator.as_ref().map(operator_request))
        .set_secondary_interfaces(map_list(
            &request.secondary_interfaces,
            instance_secondary_interface_specification_request,
        ))
        .set_disable_api_termination(request.disable_api_termination)
        .set_instance_initiated_shutdown_behavior(wire(
            &request.instance_initiated_shutdown_behavior,
        ))
        .set_private_ip_address(non_empty(&request.private_ip_address))
        .set_additional_info(non_empty(&request.additional_info))
        .set_network_interfaces(map_list(
            &request.network_interfaces,
            instance_network_interface_specification,
        ))
        .set_iam_instance_profile(
            request
                .iam_instance_profile
                .as_ref()
                .map(iam_instance_profile_specification),
        )
        .set_ebs_optimized(request.ebs_optimized)
        .dry_run(request.dry_run)
}

/// Every parameter of `AttachNetworkInterfaceRequest`.
pub fn attach_network_interface(
    builder: AttachNetworkInterfaceFluentBuilder,
    request: &pb::AttachNetworkInterfaceRequest,
) -> AttachNetworkInterfaceFluentBuilder {
    builder
        .set_network_card_index(request.network_card_index)
        .set_ena_srd_specification(
            request
                .ena_srd_specification
                .as_ref()
                .map(ena_srd_specification),
        )
        .set_ena_queue_count(request.ena_queue_count)
        .dry_run(request.dry_run)
        .network_interface_id(&request.network_interface_id)
        .instance_id(&request.instance_id)
        .set_device_index(request.device_index)
}

/// `ec2.v1.EnaSrdSpecification` -> EC2 `EnaSrdSpecification`.
pub fn ena_srd_specification(v: &pb::EnaSrdSpecification) -> types::EnaSrdSpecification {
    types::EnaSrdSpecification::builder()
        .set_ena_srd_enabled(v.ena_srd_enabled)
        .set_ena_srd_udp_specification(v.ena_srd_udp_specification.as_ref().map(|udp| {
            types::EnaSrdUdpSpecification::builder()
                .set_ena_srd_udp_enabled(udp.ena_srd_udp_enabled)
                .build()
        }))
        .build()
}

/// Every parameter of `CreateNetworkInterfaceRequest` but `client_token`, which the RPC sets.
pub fn create_network_interface(
    builder: CreateNetworkInterfaceFluentBuilder,
    request: &pb::CreateNetworkInterfaceRequest,
) -> CreateNetworkInterfaceFluentBuilder {
    builder
        .set_ipv4_prefixes(map_list(
            &request.ipv4_prefixes,
            ipv4_prefix_specification_request,
        ))
        .set_ipv4_prefix_count(request.ipv4_prefix_count)
        .set_ipv6_prefixes(map_list(
            &request.ipv6_prefixes,
            ipv6_prefix_specification_request,
        ))
        .set_ipv6_prefix_count(request.ipv6_prefix_count)
        .set_interface_type(wire(&request.interface_type))
        .set_tag_specifications(map_list(&request.tag_specifications, tag_specification))
        .set_enable_primary_ipv6(request.enable_primary_ipv6)
        .set_connection_tracking_specification(
            request
                .connection_tracking_specification
                .as_ref()
                .map(connection_tracking_specification_request),
        )
        .set_operator(request.operator.as_ref().map(operator_request))
        .set_subnet_id(non_empty(&request.subnet_id))
        .set_description(non_empty(&request.description))
        .set_private_ip_address(non_empty(&request.private_ip_address))
        .set_groups(non_empty_list(&request.groups))
        .set_private_ip_addresses(map_list(
            &request.private_ip_addresses,
            private_ip_address_specification,
        ))
        .set_secondary_private_ip_address_count(request.secondary_private_ip_address_count)
        .set_ipv6_addresses(map_list(&request.ipv6_addresses, instance_ipv6_address))
        .set_ipv6_address_count(request.ipv6_address_count)
        .dry_run(request.dry_run)
}

/// `ec2.v1.BlockDeviceMapping` -> EC2 `BlockDeviceMapping`.
pub fn block_device_mapping(v: &pb::BlockDeviceMapping) -> types::BlockDeviceMapping {
    types::BlockDeviceMapping::builder()
        .set_ebs(v.ebs.as_ref().map(ebs_block_device))
        .set_no_device(non_empty(&v.no_device))
        .set_device_name(non_empty(&v.device_name))
        .set_virtual_name(non_empty(&v.virtual_name))
        .build()
}

/// `ec2.v1.EbsBlockDevice` -> EC2 `EbsBlockDevice`.
pub fn ebs_block_device(v: &pb::EbsBlockDevice) -> types::EbsBlockDevice {
    types::EbsBlockDevice::builder()
        .set_delete_on_termination(v.delete_on_termination)
        .set_iops(v.iops)
        .set_snapshot_id(non_empty(&v.snapshot_id))
        .set_volume_size(v.volume_size)
        .set_volume_type(wire(&v.volume_type))
        .set_kms_key_id(non_empty(&v.kms_key_id))
        .set_throughput(v.throughput)
        .set_outpost_arn(non_empty(&v.outpost_arn))
        .set_availability_zone(non_empty(&v.availability_zone))
        .set_encrypted(v.encrypted)
        .set_volume_initialization_rate(v.volume_initialization_rate)
        .set_availability_zone_id(non_empty(&v.availability_zone_id))
        .set_ebs_card_index(v.ebs_card_index)
        .build()
}

/// `ec2.v1.InstanceIpv6Address` -> EC2 `InstanceIpv6Address`.
pub fn instance_ipv6_address(v: &pb::InstanceIpv6Address) -> types::InstanceIpv6Address {
    types::InstanceIpv6Address::builder()
        .set_ipv6_address(non_empty(&v.ipv6_address))
        .set_is_primary_ipv6(v.is_primary_ipv6)
        .build()
}

/// `ec2.v1.RunInstancesMonitoringEnabled` -> EC2 `RunInstancesMonitoringEnabled`.
pub fn run_instances_monitoring_enabled(
    v: &pb::RunInstancesMonitoringEnabled,
) -> types::RunInstancesMonitoringEnabled {
    types::RunInstancesMonitoringEnabled::builder()
        .set_enabled(v.enabled)
        .build()
}

/// `ec2.v1.Placement` -> EC2 `Placement`.
pub fn placement(v: &pb::Placement) -> types::Placement {
    types::Placement::builder()
        .set_availability_zone_id(non_empty(&v.availability_zone_id))
        .set_affinity(non_empty(&v.affinity))
        .set_group_name(non_empty(&v.group_name))
        .set_partition_number(v.partition_number)
        .set_host_id(non_empty(&v.host_id))
        .set_tenancy(wire(&v.tenancy))
        .set_spread_domain(non_empty(&v.spread_domain))
        .set_host_resource_group_arn(non_empty(&v.host_resource_group_arn))
        .set_group_id(non_empty(&v.group_id))
        .set_availability_zone(non_empty(&v.availability_zone))
        .build()
}

/// `ec2.v1.ElasticGpuSpecification` -> EC2 `ElasticGpuSpecification`.
pub fn elastic_gpu_specification(
    v: &pb::ElasticGpuSpecification,
) -> types::ElasticGpuSpecification {
    types::ElasticGpuSpecification::builder()
        .set_type(non_empty(&v.r#type))
        .build()
}

/// `ec2.v1.ElasticInferenceAccelerator` -> EC2 `ElasticInferenceAccelerator`.
pub fn elastic_inference_accelerator(
    v: &pb::ElasticInferenceAccelerator,
) -> types::ElasticInferenceAccelerator {
    types::ElasticInferenceAccelerator::builder()
        .set_type(non_empty(&v.r#type))
        .set_count(v.count)
        .build()
}

/// `ec2.v1.TagSpecification` -> EC2 `TagSpecification`.
pub fn tag_specification(v: &pb::TagSpecification) -> types::TagSpecification {
    types::TagSpecification::builder()
        .set_resource_type(wire(&v.resource_type))
        .set_tags(map_list(&v.tags, tag))
        .build()
}

/// `ec2.v1.Tag` -> EC2 `Tag`.
pub fn tag(v: &pb::Tag) -> types::Tag {
    types::Tag::builder()
        .set_key(non_empty(&v.key))
        .set_value(non_empty(&v.value))
        .build()
}

/// `ec2.v1.LaunchTemplateSpecification` -> EC2 `LaunchTemplateSpecification`.
pub fn launch_template_specification(
    v: &pb::LaunchTemplateSpecification,
) -> types::LaunchTemplateSpecification {
    types::LaunchTemplateSpecification::builder()
        .set_launch_template_id(non_empty(&v.launch_template_id))
        .set_launch_template_name(non_empty(&v.launch_template_name))
        .set_version(non_empty(&v.version))
        .build()
}

/// `ec2.v1.InstanceMarketOptionsRequest` -> EC2 `InstanceMarketOptionsRequest`.
pub fn instance_market_options_request(
    v: &pb::InstanceMarketOptionsRequest,
) -> types::InstanceMarketOptionsRequest {
    types::InstanceMarketOptionsRequest::builder()
        .set_market_type(wire(&v.market_type))
        .set_spot_options(v.spot_options.as_ref().map(spot_market_options))
        .build()
}

/// `ec2.v1.SpotMarketOptions` -> EC2 `SpotMarketOptions`.
pub fn spot_market_options(v: &pb::SpotMarketOptions) -> types::SpotMarketOptions {
    types::SpotMarketOptions::builder()
        .set_max_price(non_empty(&v.max_price))
        .set_spot_instance_type(wire(&v.spot_instance_type))
        .set_block_duration_minutes(v.block_duration_minutes)
        .set_valid_until(v.valid_until.as_ref().map(date_time))
        .set_instance_interruption_behavior(wire(&v.instance_interruption_behavior))
        .build()
}

/// `ec2.v1.CreditSpecificationRequest` -> EC2 `CreditSpecificationRequest`.
pub fn credit_specification_request(
    v: &pb::CreditSpecificationRequest,
) -> types::CreditSpecificationRequest {
    types::CreditSpecificationRequest::builder()
        .set_cpu_credits(non_empty(&v.cpu_credits))
        .build()
}

/// `ec2.v1.CpuOptionsRequest` -> EC2 `CpuOptionsRequest`.
pub fn cpu_options_request(v: &pb::CpuOptionsRequest) -> types::CpuOptionsRequest {
    types::CpuOptionsRequest::builder()
        .set_core_count(v.core_count)
        .set_threads_per_core(v.threads_per_core)
        .set_amd_sev_snp(wire(&v.amd_sev_snp))
        .set_nested_virtualization(wire(&v.nested_virtualization))
        .build()
}

/// `ec2.v1.CapacityReservationSpecification` -> EC2 `CapacityReservationSpecification`.
pub fn capacity_reservation_specification(
    v: &pb::CapacityReservationSpecification,
) -> types::CapacityReservationSpecification {
    types::CapacityReservationSpecification::builder()
        .set_capacity_reservation_preference(wire(&v.capacity_reservation_preference))
        .set_capacity_reservation_target(
            v.capacity_reservation_target
                .as_ref()
                .map(capacity_reservation_target),
        )
        .build()
}

/// `ec2.v1.CapacityReservationTarget` -> EC2 `CapacityReservationTarget`.
pub fn capacity_reservation_target(
    v: &pb::CapacityReservationTarget,
) -> types::CapacityReservationTarget {
    types::CapacityReservationTarget::builder()
        .set_capacity_reservation_id(non_empty(&v.capacity_reservation_id))
        .set_capacity_reservation_resource_group_arn(non_empty(
            &v.capacity_reservation_resource_group_arn,
        ))
        .build()
}

/// `ec2.v1.HibernationOptionsRequest` -> EC2 `HibernationOptionsRequest`.
pub fn hibernation_options_request(
    v: &pb::HibernationOptionsRequest,
) -> types::HibernationOptionsRequest {
    types::HibernationOptionsRequest::builder()
        .set_configured(v.configured)
        .build()
}

/// `ec2.v1.LicenseConfigurationRequest` -> EC2 `LicenseConfigurationRequest`.
pub fn license_configuration_request(
    v: &pb::LicenseConfigurationRequest,
) -> types::LicenseConfigurationRequest {
    types::LicenseConfigurationRequest::builder()
        .set_license_configuration_arn(non_empty(&v.license_configuration_arn))
        .build()
}

/// `ec2.v1.InstanceMetadataOptionsRequest` -> EC2 `InstanceMetadataOptionsRequest`.
pub fn instance_metadata_options_request(
    v: &pb::InstanceMetadataOptionsRequest,
) -> types::InstanceMetadataOptionsRequest {
    types::InstanceMetadataOptionsRequest::builder()
        .set_http_tokens(wire(&v.http_tokens))
        .set_http_put_response_hop_limit(v.http_put_response_hop_limit)
        .set_http_endpoint(wire(&v.http_endpoint))
        .set_http_protocol_ipv6(wire(&v.http_protocol_ipv6))
        .set_instance_metadata_tags(wire(&v.instance_metadata_tags))
        .build()
}

/// `ec2.v1.EnclaveOptionsRequest` -> EC2 `EnclaveOptionsRequest`.
pub fn enclave_options_request(v: &pb::EnclaveOptionsRequest) -> types::EnclaveOptionsRequest {
    types::EnclaveOptionsRequest::builder()
        .set_enabled(v.enabled)
        .build()
}

/// `ec2.v1.PrivateDnsNameOptionsRequest` -> EC2 `PrivateDnsNameOptionsRequest`.
pub fn private_dns_name_options_request(
    v: &pb::PrivateDnsNameOptionsRequest,
) -> types::PrivateDnsNameOptionsRequest {
    types::PrivateDnsNameOptionsRequest::builder()
        .set_hostname_type(wire(&v.hostname_type))
        .set_enable_resource_name_dns_a_record(v.enable_resource_name_dns_a_record)
        .set_enable_resource_name_dns_aaaa_record(v.enable_resource_name_dns_aaaa_record)
        .build()
}

/// `ec2.v1.InstanceMaintenanceOptionsRequest` -> EC2 `InstanceMaintenanceOptionsRequest`.
pub fn instance_maintenance_options_request(
    v: &pb::InstanceMaintenanceOptionsRequest,
) -> types::InstanceMaintenanceOptionsRequest {
    types::InstanceMaintenanceOptionsRequest::builder()
        .set_auto_recovery(wire(&v.auto_recovery))
        .build()
}

/// `ec2.v1.InstanceNetworkPerformanceOptionsRequest` -> EC2 `InstanceNetworkPerformanceOptionsRequest`.
pub fn instance_network_performance_options_request(
    v: &pb::InstanceNetworkPerformanceOptionsRequest,
) -> types::InstanceNetworkPerformanceOptionsRequest {
    types::InstanceNetworkPerformanceOptionsRequest::builder()
        .set_bandwidth_weighting(wire(&v.bandwidth_weighting))
        .build()
}

/// `ec2.v1.OperatorRequest` -> EC2 `OperatorRequest`.
pub fn operator_request(v: &pb::OperatorRequest) -> types::OperatorRequest {
    types::OperatorRequest::builder()
        .set_principal(non_empty(&v.principal))
        .build()
}

/// `ec2.v1.InstanceSecondaryInterfaceSpecificationRequest` -> EC2 `InstanceSecondaryInterfaceSpecificationRequest`.
pub fn instance_secondary_interface_specification_request(
    v: &pb::InstanceSecondaryInterfaceSpecificationRequest,
) -> types::InstanceSecondaryInterfaceSpecificationRequest {
    types::InstanceSecondaryInterfaceSpecificationRequest::builder()
        .set_delete_on_termination(v.delete_on_termination)
        .set_device_index(v.device_index)
        .set_private_ip_addresses(map_list(
            &v.private_ip_addresses,
            instance_secondary_interface_private_ip_address_request,
        ))
        .set_private_ip_address_count(v.private_ip_address_count)
        .set_secondary_subnet_id(non_empty(&v.secondary_subnet_id))
        .set_interface_type(wire(&v.interface_type))
        .set_network_card_index(v.network_card_index)
        .build()
}

/// `ec2.v1.InstanceSecondaryInterfacePrivateIpAddressRequest` -> EC2 `InstanceSecondaryInterfacePrivateIpAddressRequest`.
pub fn instance_secondary_interface_private_ip_address_request(
    v: &pb::InstanceSecondaryInterfacePrivateIpAddressRequest,
) -> types::InstanceSecondaryInterfacePrivateIpAddressRequest {
    types::InstanceSecondaryInterfacePrivateIpAddressRequest::builder()
        .set_private_ip_address(non_empty(&v.private_ip_address))
        .build()
}

/// `ec2.v1.InstanceNetworkInterfaceSpecification` -> EC2 `InstanceNetworkInterfaceSpecification`.
pub fn instance_network_interface_specification(
    v: &pb::InstanceNetworkInterfaceSpecification,
) -> types::InstanceNetworkInterfaceSpecification {
    types::InstanceNetworkInterfaceSpecification::builder()
        .set_associate_public_ip_address(v.associate_public_ip_address)
        .set_delete_on_termination(v.delete_on_termination)
        .set_description(non_empty(&v.description))
        .set_device_index(v.device_index)
        .set_groups(non_empty_list(&v.groups))
        .set_ipv6_address_count(v.ipv6_address_count)
        .set_ipv6_addresses(map_list(&v.ipv6_addresses, instance_ipv6_address))
        .set_network_interface_id(non_empty(&v.network_interface_id))
        .set_private_ip_address(non_empty(&v.private_ip_address))
        .set_private_ip_addresses(map_list(
            &v.private_ip_addresses,
            private_ip_address_specification,
        ))
        .set_secondary_private_ip_address_count(v.secondary_private_ip_address_count)
        .set_subnet_id(non_empty(&v.subnet_id))
        .set_associate_carrier_ip_address(v.associate_carrier_ip_address)
        .set_interface_type(non_empty(&v.interface_type))
        .set_network_card_index(v.network_card_index)
        .set_ipv4_prefixes(map_list(
            &v.ipv4_prefixes,
            ipv4_prefix_specification_request,
        ))
        .set_ipv4_prefix_count(v.ipv4_prefix_count)
        .set_ipv6_prefixes(map_list(
            &v.ipv6_prefixes,
            ipv6_prefix_specification_request,
        ))
        .set_ipv6_prefix_count(v.ipv6_prefix_count)
        .set_primary_ipv6(v.primary_ipv6)
        .set_ena_srd_specification(
            v.ena_srd_specification
                .as_ref()
                .map(ena_srd_specification_request),
        )
        .set_connection_tracking_specification(
            v.connection_tracking_specification
                .as_ref()
                .map(connection_tracking_specification_request),
        )
        .set_ena_queue_count(v.ena_queue_count)
        .build()
}

/// `ec2.v1.PrivateIpAddressSpecification` -> EC2 `PrivateIpAddressSpecification`.
pub fn private_ip_address_specification(
    v: &pb::PrivateIpAddressSpecification,
) -> types::PrivateIpAddressSpecification {
    types::PrivateIpAddressSpecification::builder()
        .set_primary(v.primary)
        .set_private_ip_address(non_empty(&v.private_ip_address))
        .build()
}

/// `ec2.v1.Ipv4PrefixSpecificationRequest` -> EC2 `Ipv4PrefixSpecificationRequest`.
pub fn ipv4_prefix_specification_request(
    v: &pb::Ipv4PrefixSpecificationRequest,
) -> types::Ipv4PrefixSpecificationRequest {
    types::Ipv4PrefixSpecificationRequest::builder()
        .set_ipv4_prefix(non_empty(&v.ipv4_prefix))
        .build()
}

/// `ec2.v1.Ipv6PrefixSpecificationRequest` -> EC2 `Ipv6PrefixSpecificationRequest`.
pub fn ipv6_prefix_specification_request(
    v: &pb::Ipv6PrefixSpecificationRequest,
) -> types::Ipv6PrefixSpecificationRequest {
    types::Ipv6PrefixSpecificationRequest::builder()
        .set_ipv6_prefix(non_empty(&v.ipv6_prefix))
        .build()
}

/// `ec2.v1.EnaSrdSpecificationRequest` -> EC2 `EnaSrdSpecificationRequest`.
pub fn ena_srd_specification_request(
    v: &pb::EnaSrdSpecificationRequest,
) -> types::EnaSrdSpecificationRequest {
    types::EnaSrdSpecificationRequest::builder()
        .set_ena_srd_enabled(v.ena_srd_enabled)
        .set_ena_srd_udp_specification(
            v.ena_srd_udp_specification
                .as_ref()
                .map(ena_srd_udp_specification_request),
        )
        .build()
}

/// `ec2.v1.EnaSrdUdpSpecificationRequest` -> EC2 `EnaSrdUdpSpecificationRequest`.
pub fn ena_srd_udp_specification_request(
    v: &pb::EnaSrdUdpSpecificationRequest,
) -> types::EnaSrdUdpSpecificationRequest {
    types::EnaSrdUdpSpecificationRequest::builder()
        .set_ena_srd_udp_enabled(v.ena_srd_udp_enabled)
        .build()
}

/// `ec2.v1.ConnectionTrackingSpecificationRequest` -> EC2 `ConnectionTrackingSpecificationRequest`.
pub fn connection_tracking_specification_request(
    v: &pb::ConnectionTrackingSpecificationRequest,
) -> types::ConnectionTrackingSpecificationRequest {
    types::ConnectionTrackingSpecificationRequest::builder()
        .set_tcp_established_timeout(v.tcp_established_timeout)
        .set_udp_stream_timeout(v.udp_stream_timeout)
        .set_udp_timeout(v.udp_timeout)
        .build()
}

/// `ec2.v1.IamInstanceProfileSpecification` -> EC2 `IamInstanceProfileSpecification`.
pub fn iam_instance_profile_specification(
    v: &pb::IamInstanceProfileSpecification,
) -> types::IamInstanceProfileSpecification {
    types::IamInstanceProfileSpecification::builder()
        .set_arn(non_empty(&v.arn))
        .set_name(non_empty(&v.name))
        .build()
}
