//! `NetworkInterface` and every shape nested in it, as CreateNetworkInterface and
//! DescribeNetworkInterfaces return them. Each function copies every member aws-sdk-ec2 knows
//! (the tests in `completeness.rs` fail when the SDK grows one this file lacks).

use super::common::{group_identifier, tag};
use super::instance::operator_response;
use super::{enum_text, list, text, timestamp};
use crate::pb;
use aws_sdk_ec2::types;

/// EC2 `NetworkInterface` -> `ec2.v1.NetworkInterface`.
pub fn network_interface(v: types::NetworkInterface) -> pb::NetworkInterface {
    pb::NetworkInterface {
        association: v.association.map(network_interface_association),
        attachment: v.attachment.map(network_interface_attachment),
        availability_zone: text(v.availability_zone),
        connection_tracking_configuration: v
            .connection_tracking_configuration
            .map(connection_tracking_configuration),
        description: text(v.description),
        groups: list(v.groups, group_identifier),
        interface_type: enum_text(v.interface_type),
        ipv6_addresses: list(v.ipv6_addresses, network_interface_ipv6_address),
        mac_address: text(v.mac_address),
        network_interface_id: text(v.network_interface_id),
        outpost_arn: text(v.outpost_arn),
        owner_id: text(v.owner_id),
        private_dns_name: text(v.private_dns_name),
        public_dns_name: text(v.public_dns_name),
        public_ip_dns_name_options: v.public_ip_dns_name_options.map(public_ip_dns_name_options),
        private_ip_address: text(v.private_ip_address),
        private_ip_addresses: list(v.private_ip_addresses, network_interface_private_ip_address),
        ipv4_prefixes: list(v.ipv4_prefixes, ipv4_prefix_specification),
        ipv6_prefixes: list(v.ipv6_prefixes, ipv6_prefix_specification),
        requester_id: text(v.requester_id),
        requester_managed: v.requester_managed,
        source_dest_check: v.source_dest_check,
        status: enum_text(v.status),
        subnet_id: text(v.subnet_id),
        tag_set: list(v.tag_set, tag),
        vpc_id: text(v.vpc_id),
        deny_all_igw_traffic: v.deny_all_igw_traffic,
        ipv6_native: v.ipv6_native,
        ipv6_address: text(v.ipv6_address),
        operator: v.operator.map(operator_response),
        associated_subnets: v.associated_subnets.unwrap_or_default(),
        availability_zone_id: text(v.availability_zone_id),
    }
}

/// EC2 `NetworkInterfaceAssociation` -> `ec2.v1.NetworkInterfaceAssociation`.
pub fn network_interface_association(
    v: types::NetworkInterfaceAssociation,
) -> pb::NetworkInterfaceAssociation {
    pb::NetworkInterfaceAssociation {
        allocation_id: text(v.allocation_id),
        association_id: text(v.association_id),
        ip_owner_id: text(v.ip_owner_id),
        public_dns_name: text(v.public_dns_name),
        public_ip: text(v.public_ip),
        customer_owned_ip: text(v.customer_owned_ip),
        carrier_ip: text(v.carrier_ip),
    }
}

/// EC2 `NetworkInterfaceAttachment` -> `ec2.v1.NetworkInterfaceAttachment`.
pub fn network_interface_attachment(
    v: types::NetworkInterfaceAttachment,
) -> pb::NetworkInterfaceAttachment {
    pb::NetworkInterfaceAttachment {
        attach_time: timestamp(v.attach_time),
        attachment_id: text(v.attachment_id),
        delete_on_termination: v.delete_on_termination,
        device_index: v.device_index,
        network_card_index: v.network_card_index,
        instance_id: text(v.instance_id),
        instance_owner_id: text(v.instance_owner_id),
        status: enum_text(v.status),
        ena_srd_specification: v
            .ena_srd_specification
            .map(attachment_ena_srd_specification),
        ena_queue_count: v.ena_queue_count,
    }
}

/// EC2 `AttachmentEnaSrdSpecification` -> `ec2.v1.AttachmentEnaSrdSpecification`.
pub fn attachment_ena_srd_specification(
    v: types::AttachmentEnaSrdSpecification,
) -> pb::AttachmentEnaSrdSpecification {
    pb::AttachmentEnaSrdSpecification {
        ena_srd_enabled: v.ena_srd_enabled,
        ena_srd_udp_specification: v
            .ena_srd_udp_specification
            .map(attachment_ena_srd_udp_specification),
    }
}

/// EC2 `AttachmentEnaSrdUdpSpecification` -> `ec2.v1.AttachmentEnaSrdUdpSpecification`.
pub fn attachment_ena_srd_udp_specification(
    v: types::AttachmentEnaSrdUdpSpecification,
) -> pb::AttachmentEnaSrdUdpSpecification {
    pb::AttachmentEnaSrdUdpSpecification {
        ena_srd_udp_enabled: v.ena_srd_udp_enabled,
    }
}

/// EC2 `ConnectionTrackingConfiguration` -> `ec2.v1.ConnectionTrackingConfiguration`.
pub fn connection_tracking_configuration(
    v: types::ConnectionTrackingConfiguration,
) -> pb::ConnectionTrackingConfiguration {
    pb::ConnectionTrackingConfiguration {
        tcp_established_timeout: v.tcp_established_timeout,
        udp_stream_timeout: v.udp_stream_timeout,
        udp_timeout: v.udp_timeout,
    }
}

/// EC2 `NetworkInterfaceIpv6Address` -> `ec2.v1.NetworkInterfaceIpv6Address`.
pub fn network_interface_ipv6_address(
    v: types::NetworkInterfaceIpv6Address,
) -> pb::NetworkInterfaceIpv6Address {
    pb::NetworkInterfaceIpv6Address {
        ipv6_address: text(v.ipv6_address),
        public_ipv6_dns_name: text(v.public_ipv6_dns_name),
        is_primary_ipv6: v.is_primary_ipv6,
    }
}

/// EC2 `PublicIpDnsNameOptions` -> `ec2.v1.PublicIpDnsNameOptions`.
pub fn public_ip_dns_name_options(v: types::PublicIpDnsNameOptions) -> pb::PublicIpDnsNameOptions {
    pb::PublicIpDnsNameOptions {
        dns_hostname_type: text(v.dns_hostname_type),
        public_ipv4_dns_name: text(v.public_ipv4_dns_name),
        public_ipv6_dns_name: text(v.public_ipv6_dns_name),
        public_dual_stack_dns_name: text(v.public_dual_stack_dns_name),
    }
}

/// EC2 `NetworkInterfacePrivateIpAddress` -> `ec2.v1.NetworkInterfacePrivateIpAddress`.
pub fn network_interface_private_ip_address(
    v: types::NetworkInterfacePrivateIpAddress,
) -> pb::NetworkInterfacePrivateIpAddress {
    pb::NetworkInterfacePrivateIpAddress {
        association: v.association.map(network_interface_association),
        primary: v.primary,
        private_dns_name: text(v.private_dns_name),
        private_ip_address: text(v.private_ip_address),
    }
}

/// EC2 `Ipv4PrefixSpecification` -> `ec2.v1.Ipv4PrefixSpecification`.
pub fn ipv4_prefix_specification(v: types::Ipv4PrefixSpecification) -> pb::Ipv4PrefixSpecification {
    pb::Ipv4PrefixSpecification {
        ipv4_prefix: text(v.ipv4_prefix),
    }
}

/// EC2 `Ipv6PrefixSpecification` -> `ec2.v1.Ipv6PrefixSpecification`.
pub fn ipv6_prefix_specification(v: types::Ipv6PrefixSpecification) -> pb::Ipv6PrefixSpecification {
    pb::Ipv6PrefixSpecification {
        ipv6_prefix: text(v.ipv6_prefix),
    }
}
