//! The describes: ids, filters, and paging by resource with `MaxResults` / `NextToken`.

use super::{Ec2Error, guard_dry_run, lookup, parse_token};
use crate::model::{Account, Instance};
use crate::query::Query;
use crate::xml;
use std::fmt::Write;

/// `MaxResults` as EC2 checks it: 5..=1000 and never with ids.
fn max_results(query: &Query, ids: &[String], ids_param: &str) -> Result<Option<usize>, Ec2Error> {
    let Some(max) = query.int("MaxResults").map_err(Ec2Error::invalid)? else {
        return Ok(None);
    };
    if !ids.is_empty() {
        return Err(Ec2Error::client(
            "InvalidParameterCombination",
            format!("The parameter {ids_param} cannot be used with the parameter maxResults"),
        ));
    }
    if !(5..=1000).contains(&max) {
        return Err(Ec2Error::invalid(format!(
            "Value ( {max} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000."
        )));
    }
    Ok(Some(max as usize))
}

/// One page over `candidates` (indexes into the resources): from the token's index, up to
/// `max` matches, and the token of the next match if there is one.
fn page<T>(
    items: &[T],
    candidates: &[usize],
    query: &Query,
    max: Option<usize>,
    matches: impl Fn(&T) -> Result<bool, String>,
) -> Result<(Vec<usize>, Option<String>), Ec2Error> {
    let (page, start) = match query.get("NextToken") {
        Some(token) => parse_token(token)
            .ok_or_else(|| Ec2Error::invalid(format!("Invalid NextToken: {token}")))?,
        None => (1, 0),
    };
    let mut found = Vec::new();
    for (position, &index) in candidates.iter().enumerate().skip(start) {
        if !matches(&items[index]).map_err(Ec2Error::invalid)? {
            continue;
        }
        if max.is_some_and(|max| found.len() == max) {
            return Ok((found, Some(format!("p{}.{position}", page + 1))));
        }
        found.push(index);
    }
    Ok((found, None))
}

pub(super) fn describe_instances(
    account: &Account,
    query: &Query,
    dry_run: bool,
) -> Result<String, Ec2Error> {
    let ids = query.list("InstanceId");
    let max = max_results(query, &ids, "instancesSet")?;
    let candidates = if ids.is_empty() {
        (0..account.instances.len()).collect()
    } else {
        lookup(&account.instance_index, &ids, "i-", "Instance")?
    };
    let filters = query.filters();
    let (found, next) = page(&account.instances, &candidates, query, max, |i| {
        i.matches(&filters)
    })?;
    guard_dry_run(dry_run)?;
    let instances: Vec<&Instance> = found.iter().map(|&i| &account.instances[i]).collect();
    let mut body = String::with_capacity(instances.len() * 3000 + 100);
    xml::reservation_set(&mut body, &instances);
    if let Some(next) = next {
        let _ = write!(body, "<nextToken>{next}</nextToken>");
    }
    Ok(body)
}

pub(super) fn describe_network_interfaces(
    account: &Account,
    query: &Query,
    dry_run: bool,
) -> Result<String, Ec2Error> {
    let ids = query.list("NetworkInterfaceId");
    let max = max_results(query, &ids, "networkInterfaceIdSet")?;
    let candidates = if ids.is_empty() {
        (0..account.enis.len()).collect()
    } else {
        lookup(&account.eni_index, &ids, "eni-", "NetworkInterface")?
    };
    let filters = query.filters();
    let (found, next) = page(&account.enis, &candidates, query, max, |e| {
        e.matches(&filters)
    })?;
    guard_dry_run(dry_run)?;
    let mut body = String::with_capacity(found.len() * 1200 + 100);
    body.push_str("<networkInterfaceSet>");
    for index in found {
        xml::network_interface(&mut body, "item", &account.enis[index]);
    }
    body.push_str("</networkInterfaceSet>");
    if let Some(next) = next {
        let _ = write!(body, "<nextToken>{next}</nextToken>");
    }
    Ok(body)
}
