//! EC2's XML answers, written straight into a `String` (no DOM): fast enough that the stand-in
//! is never what a benchmark measures.

use crate::model::{DEFAULT_GROUP, Instance, NetworkInterface, OWNER_ID, State};
use std::fmt::Write;

/// EC2's XML namespace (API version 2016-11-15, the one aws-sdk-ec2 speaks).
const NAMESPACE: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

/// Text escaped for XML element content.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A success document: `<{action}Response>` with the request id and `body`.
pub fn response(action: &str, request_id: &str, body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"{NAMESPACE}\">\
         <requestId>{request_id}</requestId>{body}</{action}Response>"
    )
}

/// An EC2 error document.
pub fn error(code: &str, message: &str, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code>\
         <Message>{}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>",
        escape(code),
        escape(message)
    )
}

/// `<item><key/><value/></item>`s.
fn tag_set(out: &mut String, tags: &[(String, String)]) {
    out.push_str("<tagSet>");
    for (key, value) in tags {
        let _ = write!(
            out,
            "<item><key>{}</key><value>{}</value></item>",
            escape(key),
            escape(value)
        );
    }
    out.push_str("</tagSet>");
}

/// An `instanceState`-shaped element named `name`.
pub fn state(out: &mut String, name: &str, state: State) {
    let _ = write!(
        out,
        "<{name}><code>{}</code><name>{}</name></{name}>",
        state.code(),
        state.name()
    );
}

/// One instance as an `<item>` of an `instancesSet`.
pub fn instance(out: &mut String, i: &Instance) {
    let _ = write!(
        out,
        "<item><instanceId>{id}</instanceId><imageId>{image}</imageId>",
        id = i.id,
        image = escape(&i.image_id)
    );
    state(out, "instanceState", i.state);
    let dns = format!("ip-{}.ec2.internal", i.private_ip.replace('.', "-"));
    let _ = write!(
        out,
        "<privateDnsName>{dns}</privateDnsName><dnsName/><reason/>\
         <amiLaunchIndex>{index}</amiLaunchIndex><productCodes/>\
         <instanceType>{itype}</instanceType><launchTime>{launched}</launchTime>\
         <placement><availabilityZone>{zone}</availabilityZone><groupName/>\
         <tenancy>default</tenancy></placement>\
         <monitoring><state>{monitoring}</state></monitoring>\
         <subnetId>{subnet}</subnetId><vpcId>{vpc}</vpcId>\
         <privateIpAddress>{ip}</privateIpAddress><sourceDestCheck>true</sourceDestCheck>\
         <groupSet><item><groupId>{gid}</groupId><groupName>{gname}</groupName></item></groupSet>\
         <architecture>x86_64</architecture><rootDeviceType>ebs</rootDeviceType>\
         <rootDeviceName>/dev/xvda</rootDeviceName>\
         <blockDeviceMapping><item><deviceName>/dev/xvda</deviceName><ebs>\
         <volumeId>{volume}</volumeId><status>attached</status>\
         <attachTime>{launched}</attachTime><deleteOnTermination>true</deleteOnTermination>\
         </ebs></item></blockDeviceMapping>\
         <virtualizationType>hvm</virtualizationType><clientToken>{token}</clientToken>",
        index = i.launch_index,
        itype = escape(&i.instance_type),
        launched = i.launch_time,
        zone = i.zone,
        monitoring = i.monitoring,
        subnet = i.subnet_id,
        vpc = i.vpc_id,
        ip = i.private_ip,
        gid = DEFAULT_GROUP.0,
        gname = DEFAULT_GROUP.1,
        volume = i.volume_id,
        token = escape(&i.client_token),
    );
    tag_set(out, &i.tags);
    let _ = write!(
        out,
        "<hypervisor>xen</hypervisor><networkInterfaceSet><item>\
         <networkInterfaceId>{eni}</networkInterfaceId><subnetId>{subnet}</subnetId>\
         <vpcId>{vpc}</vpcId><ownerId>{OWNER_ID}</ownerId><status>in-use</status>\
         <privateIpAddress>{ip}</privateIpAddress><sourceDestCheck>true</sourceDestCheck>\
         <attachment><attachmentId>eni-attach-{suffix}</attachmentId><deviceIndex>0</deviceIndex>\
         <status>attached</status><attachTime>{launched}</attachTime>\
         <deleteOnTermination>true</deleteOnTermination></attachment>\
         <privateIpAddressesSet><item><privateIpAddress>{ip}</privateIpAddress>\
         <primary>true</primary></item></privateIpAddressesSet></item></networkInterfaceSet>\
         <ebsOptimized>false</ebsOptimized><enaSupport>true</enaSupport>\
         <cpuOptions><coreCount>1</coreCount><threadsPerCore>2</threadsPerCore></cpuOptions>\
         <hibernationOptions><configured>false</configured></hibernationOptions>\
         <metadataOptions><state>applied</state><httpTokens>required</httpTokens>\
         <httpPutResponseHopLimit>2</httpPutResponseHopLimit><httpEndpoint>enabled</httpEndpoint>\
         </metadataOptions><enclaveOptions><enabled>false</enabled></enclaveOptions>\
         <bootMode>uefi-preferred</bootMode><platformDetails>Linux/UNIX</platformDetails>\
         <maintenanceOptions><autoRecovery>default</autoRecovery></maintenanceOptions></item>",
        eni = i.eni_id,
        subnet = i.subnet_id,
        vpc = i.vpc_id,
        ip = i.private_ip,
        suffix = &i.eni_id[4..],
        launched = i.launch_time,
    );
}

/// Instances as a `reservationSet`: consecutive instances of one reservation share an item.
pub fn reservation_set(out: &mut String, instances: &[&Instance]) {
    out.push_str("<reservationSet>");
    let mut rest = instances;
    while let Some(first) = rest.first() {
        let run = rest
            .iter()
            .take_while(|i| i.reservation_id == first.reservation_id)
            .count();
        let _ = write!(
            out,
            "<item><reservationId>{}</reservationId><ownerId>{OWNER_ID}</ownerId><groupSet/>\
             <instancesSet>",
            first.reservation_id
        );
        for i in &rest[..run] {
            instance(out, i);
        }
        out.push_str("</instancesSet></item>");
        rest = &rest[run..];
    }
    out.push_str("</reservationSet>");
}

/// One network interface, as the element `name` (`item` or `networkInterface`).
pub fn network_interface(out: &mut String, name: &str, e: &NetworkInterface) {
    let _ = write!(
        out,
        "<{name}><networkInterfaceId>{id}</networkInterfaceId><subnetId>{subnet}</subnetId>\
         <vpcId>{vpc}</vpcId><availabilityZone>{zone}</availabilityZone>\
         <description>{description}</description><ownerId>{OWNER_ID}</ownerId>\
         <requesterManaged>false</requesterManaged><status>{status}</status>\
         <macAddress>{mac}</macAddress><privateIpAddress>{ip}</privateIpAddress>\
         <sourceDestCheck>true</sourceDestCheck><interfaceType>interface</interfaceType><groupSet>",
        id = e.id,
        subnet = e.subnet_id,
        vpc = e.vpc_id,
        zone = e.zone,
        description = escape(&e.description),
        status = e.status,
        mac = e.mac,
        ip = e.private_ips[0],
    );
    for group in &e.groups {
        let name = if group == DEFAULT_GROUP.0 {
            DEFAULT_GROUP.1
        } else {
            ""
        };
        let _ = write!(
            out,
            "<item><groupId>{}</groupId><groupName>{name}</groupName></item>",
            escape(group)
        );
    }
    out.push_str("</groupSet>");
    if let Some(instance) = &e.attached_to {
        let _ = write!(
            out,
            "<attachment><attachmentId>eni-attach-{}</attachmentId><instanceId>{instance}\
             </instanceId><instanceOwnerId>{OWNER_ID}</instanceOwnerId><deviceIndex>0\
             </deviceIndex><status>attached</status><deleteOnTermination>true\
             </deleteOnTermination></attachment>",
            &e.id[4..]
        );
    }
    out.push_str("<privateIpAddressesSet>");
    for (k, ip) in e.private_ips.iter().enumerate() {
        let _ = write!(
            out,
            "<item><privateIpAddress>{ip}</privateIpAddress><primary>{}</primary></item>",
            k == 0
        );
    }
    out.push_str("</privateIpAddressesSet>");
    tag_set(out, &e.tags);
    let _ = write!(out, "</{name}>");
}
