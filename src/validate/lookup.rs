//! The checks of a lookup request, one call per field (src/api/lookups/table.rs, generated,
//! makes them), collecting every violation before any EC2 call.

use super::{MAX_IDS, Violations, check_duration, check_filters, check_limit};
use crate::error::Error;
use crate::pb;
use std::ops::RangeInclusive;

/// The violations found so far in one lookup request.
#[derive(Default)]
pub struct Checks(Violations);

impl Checks {
    /// A list of ids or names: at most `max` (EC2's limit for the member), none empty, each
    /// starting with `prefix` (when there is one).
    pub fn ids(&mut self, field: &str, ids: &[String], prefix: &str, max: usize) {
        super::check_ids(&mut self.0, field, ids, max.min(MAX_IDS), prefix);
    }

    /// One id, optional: empty, or starting with `prefix`.
    pub fn id(&mut self, field: &str, id: &str, prefix: &str) {
        self.0
            .check(id.is_empty() || id.starts_with(prefix), field, || {
                format!("must be an id starting with {prefix}, got {id:?}")
            });
    }

    /// Members EC2 takes one of at most (`fields`: each name, and whether it is set).
    pub fn at_most_one(&mut self, fields: &[(&str, bool)]) {
        let set: Vec<&str> = fields
            .iter()
            .filter(|(_, set)| *set)
            .map(|(f, _)| *f)
            .collect();
        if set.len() > 1 {
            let named = set.join(" and ");
            self.0
                .check(false, set[1], || format!("give one of {named}, not both"));
        }
    }

    /// EC2's page size for the action, which it refuses alongside ids.
    pub fn max_results(
        &mut self,
        max_results: Option<i32>,
        range: RangeInclusive<i32>,
        by_ids: bool,
        ids_field: &str,
    ) {
        let Some(max) = max_results else {
            return;
        };
        let v = &mut self.0;
        v.check(range.contains(&max), "max_results", || {
            format!(
                "must be between {} and {}, got {max}",
                range.start(),
                range.end()
            )
        });
        v.check(!by_ids, "max_results", || {
            format!("cannot be combined with {ids_field}: EC2 pages only describes without ids")
        });
    }

    /// EC2 filters: each named, with 1 to 200 values; at most 50.
    pub fn filters(&mut self, filters: &[pb::Filter]) {
        check_filters(&mut self.0, "filters", filters);
    }

    /// A duration that must not be negative.
    pub fn duration(&mut self, field: &str, duration: Option<&prost_types::Duration>) {
        check_duration(&mut self.0, field, duration);
    }

    /// A stream's total limit: at least 1 when set.
    pub fn limit(&mut self, limit: Option<i32>) {
        check_limit(&mut self.0, limit);
    }

    /// INVALID_ARGUMENT with every violation, or Ok.
    pub fn finish(self) -> Result<(), Error> {
        self.0.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;
    use tonic_types::StatusExt;

    #[test]
    fn every_bad_field_is_named() {
        let mut checks = Checks::default();
        checks.ids(
            "image_ids",
            &["ami-1".into(), "".into(), "sg-1".into()],
            "ami-",
            1000,
        );
        checks.ids("instance_types", &vec!["t3.micro".into(); 101], "", 100);
        checks.id("launch_template_id", "template", "lt-");
        checks.at_most_one(&[("launch_template_id", true), ("launch_template_name", true)]);
        checks.max_results(Some(2), 5..=1000, true, "image_ids");
        checks.filters(&[pb::Filter {
            name: String::new(),
            values: vec!["x".into()],
        }]);
        let status = tonic::Status::from(checks.finish().unwrap_err());
        assert_eq!(status.code(), Code::InvalidArgument);
        let fields: Vec<String> = status
            .get_details_bad_request()
            .expect("bad request")
            .field_violations
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            [
                "image_ids[1]",
                "image_ids[2]",
                "instance_types",
                "launch_template_id",
                "launch_template_name",
                "max_results",
                "max_results",
                "filters[0].name"
            ]
        );
        assert!(Checks::default().finish().is_ok());
    }
}
