//! The EC2 actions: each applies a parsed query to the account and answers EC2's XML, or an
//! EC2 error (code, message, HTTP status) with EC2's own wording.

mod describe;

use crate::model::{Account, Instance, LaunchSpec, PUBLIC_IMAGE_PARAMETERS, State};
use crate::query::Query;
use crate::xml;
use describe::{describe_instances, describe_network_interfaces};
use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// An EC2 error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ec2Error {
    /// HTTP status (400 for client errors, 412 for DryRunOperation, 503 for throttling).
    pub status: u16,
    /// EC2 error code.
    pub code: String,
    /// EC2's message.
    pub message: String,
}

impl Ec2Error {
    /// A 400 with `code`.
    pub fn client(code: &str, message: impl Into<String>) -> Ec2Error {
        Ec2Error {
            status: 400,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// A 400 `InvalidParameterValue`.
    fn invalid(message: impl Into<String>) -> Ec2Error {
        Ec2Error::client("InvalidParameterValue", message)
    }

    /// The 503 EC2 answers when a bucket is empty.
    pub fn throttled() -> Ec2Error {
        Ec2Error {
            status: 503,
            code: "RequestLimitExceeded".to_owned(),
            message: "Request limit exceeded.".to_owned(),
        }
    }

    /// The 412 EC2 answers a permitted dry run with.
    fn dry_run() -> Ec2Error {
        Ec2Error {
            status: 412,
            code: "DryRunOperation".to_owned(),
            message: "Request would have succeeded, but DryRun flag is set.".to_owned(),
        }
    }
}

/// The actions the stand-in serves.
pub const ACTIONS: [&str; 11] = [
    "DescribeInstances",
    "DescribeNetworkInterfaces",
    "RunInstances",
    "CreateNetworkInterface",
    "StartInstances",
    "StopInstances",
    "RebootInstances",
    "TerminateInstances",
    "MonitorInstances",
    "UnmonitorInstances",
    "CreateTags",
];

/// Remembered client tokens: (action, token) -> (request fingerprint, the id it created).
pub type Tokens = HashMap<(String, String), (String, String)>;

/// The 1-based page number a describe's `NextToken` names (1 without a token).
pub fn page_number(query: &Query) -> usize {
    query
        .get("NextToken")
        .and_then(parse_token)
        .map_or(1, |(page, _)| page)
}

/// A page token: `p<page>.<index of the next candidate>`.
pub(super) fn parse_token(token: &str) -> Option<(usize, usize)> {
    let (page, index) = token.strip_prefix('p')?.split_once('.')?;
    Some((page.parse().ok()?, index.parse().ok()?))
}

/// The throttling key of a call: describes without filters, ids or paging use EC2's smaller
/// "unfiltered and unpaginated" bucket.
pub fn bucket_key(query: &Query) -> String {
    let describe = query.action.starts_with("Describe");
    let unpaginated = describe
        && query.get("MaxResults").is_none()
        && query.get("Filter.1.Name").is_none()
        && query.get("InstanceId.1").is_none()
        && query.get("NetworkInterfaceId.1").is_none();
    if unpaginated {
        format!("{}#unpaginated", query.action)
    } else {
        query.action.clone()
    }
}

/// How many instances a call launches, starts, stops or terminates (the instance buckets).
pub fn instance_count(query: &Query) -> usize {
    match query.action.as_str() {
        "RunInstances" => query
            .get("MaxCount")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1),
        "StartInstances" | "StopInstances" | "TerminateInstances" => query.list("InstanceId").len(),
        _ => 0,
    }
}

/// Applies `query`; answers the body of the success document.
pub fn apply(
    account: &mut Account,
    tokens: &mut Tokens,
    query: &Query,
) -> Result<String, Ec2Error> {
    let dry_run = query.flag("DryRun");
    match query.action.as_str() {
        "DescribeInstances" => describe_instances(account, query, dry_run),
        "DescribeNetworkInterfaces" => describe_network_interfaces(account, query, dry_run),
        "RunInstances" => run_instances(account, tokens, query, dry_run),
        "CreateNetworkInterface" => create_network_interface(account, tokens, query, dry_run),
        "StartInstances" | "StopInstances" | "TerminateInstances" => {
            change_states(account, query, dry_run)
        }
        "RebootInstances" => {
            instances_in(account, query, &[State::Terminated], "rebooted")?;
            guard_dry_run(dry_run)?;
            Ok("<return>true</return>".to_owned())
        }
        "MonitorInstances" | "UnmonitorInstances" => monitor(account, query, dry_run),
        "CreateTags" => create_tags(account, query, dry_run),
        "AttachNetworkInterface" => attach_network_interface(account, query, dry_run),
        "DetachNetworkInterface" => detach_network_interface(account, query, dry_run),
        "DeleteNetworkInterface" => delete_network_interface(account, query, dry_run),
        other => Err(Ec2Error::client(
            "InvalidAction",
            format!("The action {other} is not valid for this web service."),
        )),
    }
}

pub(super) fn guard_dry_run(dry_run: bool) -> Result<(), Ec2Error> {
    if dry_run {
        Err(Ec2Error::dry_run())
    } else {
        Ok(())
    }
}

/// The indexes of `ids` (in order, once each); NotFound names every unknown id, as EC2 does.
pub(super) fn lookup(
    index: &HashMap<String, usize>,
    ids: &[String],
    prefix: &str,
    kind: &str,
) -> Result<Vec<usize>, Ec2Error> {
    if let Some(bad) = ids.iter().find(|id| !id.starts_with(prefix)) {
        return Err(Ec2Error::client(
            &format!("Invalid{kind}ID.Malformed"),
            format!("Invalid id: \"{bad}\""),
        ));
    }
    let missing: Vec<&str> = ids
        .iter()
        .filter(|id| !index.contains_key(*id))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        let label = if kind == "Instance" {
            "instance"
        } else {
            "network interface"
        };
        let message = match missing.as_slice() {
            [one] => format!("The {label} ID '{one}' does not exist"),
            many => format!("The {label} IDs '{}' do not exist", many.join(", ")),
        };
        return Err(Ec2Error::client(
            &format!("Invalid{kind}ID.NotFound"),
            message,
        ));
    }
    let mut seen = HashSet::new();
    Ok(ids
        .iter()
        .filter(|id| seen.insert(*id))
        .map(|id| index[id])
        .collect())
}

/// The client token of a creating call, checked against what it created before: `Ok(Some(id))`
/// to answer that again, `Ok(None)` to create.
fn remembered(tokens: &Tokens, query: &Query) -> Result<Option<String>, Ec2Error> {
    let Some(token) = query.get("ClientToken") else {
        return Ok(None);
    };
    if token.len() > 64 {
        return Err(Ec2Error::invalid(
            "The client token must be at most 64 characters.",
        ));
    }
    match tokens.get(&(query.action.clone(), token.to_owned())) {
        Some((fingerprint, id)) if *fingerprint == query.fingerprint() => Ok(Some(id.clone())),
        Some(_) => Err(Ec2Error::client(
            "IdempotentParameterMismatch",
            format!("The client token '{token}' was already used with different parameters."),
        )),
        None => Ok(None),
    }
}

fn remember(tokens: &mut Tokens, query: &Query, id: &str) {
    if let Some(token) = query.get("ClientToken") {
        tokens.insert(
            (query.action.clone(), token.to_owned()),
            (query.fingerprint(), id.to_owned()),
        );
    }
}

/// The AMI an `ImageId` names: itself, or the AMI a `resolve:ssm:` parameter holds, as EC2
/// resolves it at launch; an unknown parameter is EC2's `InvalidParameterValue`.
fn resolve_image(image_id: &str) -> Result<&str, Ec2Error> {
    let Some(parameter) = image_id.strip_prefix("resolve:ssm:") else {
        return Ok(image_id);
    };
    PUBLIC_IMAGE_PARAMETERS
        .iter()
        .find(|(name, _)| *name == parameter)
        .map(|(_, ami)| *ami)
        .ok_or_else(|| {
            Ec2Error::invalid(format!(
                "Invalid value '{image_id}' for ImageId: the SSM parameter {parameter} cannot be resolved"
            ))
        })
}

fn run_instances(
    account: &mut Account,
    tokens: &mut Tokens,
    query: &Query,
    dry_run: bool,
) -> Result<String, Ec2Error> {
    let image_id = query.get("ImageId").ok_or_else(|| {
        Ec2Error::client(
            "MissingParameter",
            "The request must contain the parameter ImageId",
        )
    })?;
    let count = |name: &str| -> Result<i64, Ec2Error> {
        query.int(name).map_err(Ec2Error::invalid)?.ok_or_else(|| {
            Ec2Error::client(
                "MissingParameter",
                format!("The request must contain the parameter {name}"),
            )
        })
    };
    let image_id = resolve_image(image_id)?;
    let (min, max) = (count("MinCount")?, count("MaxCount")?);
    if min < 1 || max < min {
        return Err(Ec2Error::invalid(format!(
            "Invalid counts: MinCount {min}, MaxCount {max}"
        )));
    }
    let reservation_id = match remembered(tokens, query)? {
        Some(reservation_id) => reservation_id,
        None => {
            guard_dry_run(dry_run)?;
            let spec = LaunchSpec {
                image_id: image_id.to_owned(),
                instance_type: query.get("InstanceType").unwrap_or_default().to_owned(),
                subnet_id: query.get("SubnetId").unwrap_or_default().to_owned(),
                tags: query.tag_specification("instance"),
                monitoring: query.flag("Monitoring.Enabled"),
                client_token: query.get("ClientToken").unwrap_or_default().to_owned(),
            };
            let id = account.launch(&spec, max as usize, &now_iso8601());
            let launched: Vec<usize> = (account.instances.len() - max as usize..)
                .take(max as usize)
                .collect();
            for index in launched {
                account.change_state(index, State::Pending, State::Running);
            }
            remember(tokens, query, &id);
            id
        }
    };
    let launched: Vec<Instance> = account
        .instances
        .iter()
        .filter(|i| i.reservation_id == reservation_id)
        .map(|i| Instance {
            // EC2 answers a launch with its instances pending, whatever they are by now.
            state: if i.state == State::Running {
                State::Pending
            } else {
                i.state
            },
            ..i.clone()
        })
        .collect();
    let mut body = format!(
        "<reservationId>{reservation_id}</reservationId><ownerId>{}</ownerId><groupSet/>\
         <instancesSet>",
        crate::model::OWNER_ID
    );
    for i in &launched {
        xml::instance(&mut body, i);
    }
    body.push_str("</instancesSet>");
    Ok(body)
}

fn create_network_interface(
    account: &mut Account,
    tokens: &mut Tokens,
    query: &Query,
    dry_run: bool,
) -> Result<String, Ec2Error> {
    let subnet_id = query.get("SubnetId").ok_or_else(|| {
        Ec2Error::client(
            "MissingParameter",
            "The request must contain the parameter SubnetId",
        )
    })?;
    let eni_id = match remembered(tokens, query)? {
        Some(id) => id,
        None => {
            guard_dry_run(dry_run)?;
            let secondary = query
                .int("SecondaryPrivateIpAddressCount")
                .map_err(Ec2Error::invalid)?
                .unwrap_or(0)
                .max(0) as usize;
            let id = account.create_eni(
                subnet_id,
                query.get("Description").unwrap_or_default(),
                query.list("SecurityGroupId"),
                secondary,
                query.tag_specification("network-interface"),
            );
            remember(tokens, query, &id);
            id
        }
    };
    let mut body = String::new();
    xml::network_interface(
        &mut body,
        "networkInterface",
        &account.enis[account.eni_index[&eni_id]],
    );
    if let Some(token) = query.get("ClientToken") {
        let _ = write!(body, "<clientToken>{}</clientToken>", xml::escape(token));
    }
    Ok(body)
}

/// The instances a call names, refusing (all or nothing) when one is in a `refused` state.
fn instances_in(
    account: &Account,
    query: &Query,
    refused: &[State],
    verb: &str,
) -> Result<Vec<usize>, Ec2Error> {
    let ids = query.list("InstanceId");
    if ids.is_empty() {
        return Err(Ec2Error::client(
            "MissingParameter",
            "The request must contain the parameter InstanceId",
        ));
    }
    let indexes = lookup(&account.instance_index, &ids, "i-", "Instance")?;
    if let Some(&bad) = indexes
        .iter()
        .find(|&&i| refused.contains(&account.instances[i].state))
    {
        let i = &account.instances[bad];
        return Err(Ec2Error::client(
            "IncorrectInstanceState",
            format!(
                "The instance '{}' is not in a state from which it can be {verb}.",
                i.id
            ),
        ));
    }
    Ok(indexes)
}

/// Start, stop, terminate: EC2's state changes, settling after the account's transition time.
fn change_states(account: &mut Account, query: &Query, dry_run: bool) -> Result<String, Ec2Error> {
    let (refused, verb, element): (&[State], _, _) = match query.action.as_str() {
        "StartInstances" => (
            &[State::Terminated, State::ShuttingDown],
            "started",
            "instancesSet",
        ),
        "StopInstances" => (
            &[State::Terminated, State::ShuttingDown],
            "stopped",
            "instancesSet",
        ),
        _ => (&[], "terminated", "instancesSet"),
    };
    let indexes = instances_in(account, query, refused, verb)?;
    guard_dry_run(dry_run)?;
    let mut body = format!("<{element}>");
    for index in indexes {
        let previous = account.instances[index].state;
        let (current, settled) = match (query.action.as_str(), previous) {
            ("StartInstances", State::Stopped | State::Stopping) => {
                (State::Pending, State::Running)
            }
            ("StopInstances", State::Running | State::Pending) => (State::Stopping, State::Stopped),
            ("TerminateInstances", State::Terminated) => (State::Terminated, State::Terminated),
            ("TerminateInstances", _) => (State::ShuttingDown, State::Terminated),
            (_, unchanged) => (unchanged, unchanged),
        };
        account.change_state(index, current, settled);
        let _ = write!(
            body,
            "<item><instanceId>{}</instanceId>",
            account.instances[index].id
        );
        xml::state(&mut body, "currentState", current);
        xml::state(&mut body, "previousState", previous);
        body.push_str("</item>");
    }
    let _ = write!(body, "</{element}>");
    Ok(body)
}

/// Monitor, unmonitor: EC2 answers `pending` / `disabling`; the state settles at once.
fn monitor(account: &mut Account, query: &Query, dry_run: bool) -> Result<String, Ec2Error> {
    let indexes = instances_in(account, query, &[], "monitored")?;
    guard_dry_run(dry_run)?;
    let on = query.action == "MonitorInstances";
    let mut body = "<instancesSet>".to_owned();
    for index in indexes {
        let instance = &mut account.instances[index];
        instance.monitoring = if on { "enabled" } else { "disabled" };
        let _ = write!(
            body,
            "<item><instanceId>{}</instanceId><monitoring><state>{}</state></monitoring></item>",
            instance.id,
            if on { "pending" } else { "disabling" }
        );
    }
    body.push_str("</instancesSet>");
    Ok(body)
}

/// The network interface `NetworkInterfaceId` names.
fn named_eni(account: &Account, query: &Query) -> Result<usize, Ec2Error> {
    let id = query.get("NetworkInterfaceId").ok_or_else(|| {
        Ec2Error::client(
            "MissingParameter",
            "The request must contain the parameter NetworkInterfaceId",
        )
    })?;
    Ok(lookup(
        &account.eni_index,
        &[id.to_owned()],
        "eni-",
        "NetworkInterface",
    )?[0])
}

/// Attaches an available interface to an instance; the attachment id is `eni-attach-` and the
/// interface's own suffix (as the stand-in renders attachments).
fn attach_network_interface(
    account: &mut Account,
    query: &Query,
    dry_run: bool,
) -> Result<String, Ec2Error> {
    let eni = named_eni(account, query)?;
    let instance = query.get("InstanceId").unwrap_or_default().to_owned();
    lookup(
        &account.instance_index,
        std::slice::from_ref(&instance),
        "i-",
        "Instance",
    )?;
    if account.enis[eni].attached_to.is_some() {
        return Err(Ec2Error::client(
            "InvalidParameterValue",
            format!("Interface: {} is already attached", account.enis[eni].id),
        ));
    }
    guard_dry_run(dry_run)?;
    let interface = &mut account.enis[eni];
    interface.attached_to = Some(instance);
    interface.status = "in-use";
    Ok(format!(
        "<attachmentId>{}</attachmentId><networkCardIndex>0</networkCardIndex>",
        interface.attachment_id().unwrap_or_default()
    ))
}

/// Detaches the interface whose attachment is `AttachmentId`.
fn detach_network_interface(
    account: &mut Account,
    query: &Query,
    dry_run: bool,
) -> Result<String, Ec2Error> {
    let attachment = query.get("AttachmentId").unwrap_or_default();
    let eni = attachment
        .strip_prefix("eni-attach-")
        .and_then(|suffix| account.eni_index.get(&format!("eni-{suffix}")).copied())
        .filter(|&i| account.enis[i].attached_to.is_some())
        .ok_or_else(|| {
            Ec2Error::client(
                "InvalidAttachmentID.NotFound",
                format!("The attachment ID '{attachment}' does not exist"),
            )
        })?;
    guard_dry_run(dry_run)?;
    let interface = &mut account.enis[eni];
    interface.attached_to = None;
    interface.status = "available";
    Ok("<return>true</return>".to_owned())
}

/// Deletes a detached interface; an attached one is refused as EC2 refuses it.
fn delete_network_interface(
    account: &mut Account,
    query: &Query,
    dry_run: bool,
) -> Result<String, Ec2Error> {
    let eni = named_eni(account, query)?;
    if account.enis[eni].attached_to.is_some() {
        return Err(Ec2Error::client(
            "InvalidNetworkInterface.InUse",
            format!("Interface: [{}] in use.", account.enis[eni].id),
        ));
    }
    guard_dry_run(dry_run)?;
    let id = account.enis[eni].id.clone();
    account.remove_eni(&id);
    Ok("<return>true</return>".to_owned())
}

/// Tags instances and network interfaces (which must exist); other resource ids are accepted
/// as EC2 would for kinds the stand-in does not model.
fn create_tags(account: &mut Account, query: &Query, dry_run: bool) -> Result<String, Ec2Error> {
    let resources = query.list("ResourceId");
    let tags = query.tags("Tag");
    if resources.is_empty() || tags.is_empty() {
        return Err(Ec2Error::client(
            "MissingParameter",
            "The request must contain the parameters ResourceId and Tag",
        ));
    }
    let instances: Vec<String> = resources
        .iter()
        .filter(|r| r.starts_with("i-"))
        .cloned()
        .collect();
    let enis: Vec<String> = resources
        .iter()
        .filter(|r| r.starts_with("eni-"))
        .cloned()
        .collect();
    let instance_indexes = lookup(&account.instance_index, &instances, "i-", "Instance")?;
    let eni_indexes = lookup(&account.eni_index, &enis, "eni-", "NetworkInterface")?;
    guard_dry_run(dry_run)?;
    let set = |existing: &mut Vec<(String, String)>| {
        for (key, value) in &tags {
            match existing.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value.clone(),
                None => existing.push((key.clone(), value.clone())),
            }
        }
    };
    for index in instance_indexes {
        set(&mut account.instances[index].tags);
    }
    for index in eni_indexes {
        set(&mut account.enis[index].tags);
    }
    Ok("<return>true</return>".to_owned())
}

/// Now in EC2's ISO 8601 form, `YYYY-MM-DDTHH:MM:SS.000Z`.
fn now_iso8601() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(body: &str) -> Query {
        Query::parse(body.as_bytes())
    }

    #[test]
    fn describe_pages_by_instance_with_tokens() {
        let mut account = Account::default();
        account.seed(12, 0);
        let first =
            describe_instances(&account, &q("Action=DescribeInstances&MaxResults=5"), false)
                .expect("page 1");
        assert_eq!(first.matches("<instanceId>").count(), 5);
        assert!(first.contains("<nextToken>p2.5</nextToken>"));
        let last = describe_instances(
            &account,
            &q("Action=DescribeInstances&MaxResults=5&NextToken=p3.10"),
            false,
        )
        .expect("page 3");
        assert_eq!(last.matches("<instanceId>").count(), 2);
        assert!(!last.contains("nextToken"));
    }

    #[test]
    fn ec2_errors_use_ec2_codes() {
        let mut account = Account::default();
        account.seed(1, 0);
        let err = |body: &str| {
            let mut account = Account::default();
            account.seed(1, 0);
            apply(&mut account, &mut Tokens::new(), &q(body)).expect_err("an error")
        };
        assert_eq!(
            err("Action=DescribeInstances&InstanceId.1=i-0000000000000dead").code,
            "InvalidInstanceID.NotFound"
        );
        assert_eq!(
            err("Action=DescribeInstances&InstanceId.1=x").code,
            "InvalidInstanceID.Malformed"
        );
        assert_eq!(
            err("Action=DescribeInstances&MaxResults=2").code,
            "InvalidParameterValue"
        );
        assert_eq!(
            err("Action=DescribeInstances&Filter.1.Name=bogus&Filter.1.Value.1=x").code,
            "InvalidParameterValue"
        );
        assert_eq!(
            err("Action=RunInstances&MinCount=1&MaxCount=1").code,
            "MissingParameter"
        );
        let dry = err("Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&DryRun=true");
        assert_eq!((dry.status, dry.code.as_str()), (412, "DryRunOperation"));
        assert!(now_iso8601().ends_with(".000Z"));
    }

    #[test]
    fn client_tokens_are_idempotent_and_mismatches_refused() {
        let mut account = Account::default();
        let mut tokens = Tokens::new();
        let run = "Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=2&ClientToken=t1";
        let first = apply(&mut account, &mut tokens, &q(run)).expect("launch");
        let again = apply(&mut account, &mut tokens, &q(run)).expect("same token");
        assert_eq!(first, again);
        assert_eq!(account.instances.len(), 2);
        let other = "Action=RunInstances&ImageId=ami-2&MinCount=1&MaxCount=2&ClientToken=t1";
        let mismatch = apply(&mut account, &mut tokens, &q(other)).expect_err("mismatch");
        assert_eq!(mismatch.code, "IdempotentParameterMismatch");
    }
}
