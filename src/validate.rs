//! Checks made on requests before any EC2 call, so bad input costs no EC2 budget and gets an
//! INVALID_ARGUMENT naming the field (a `google.rpc.BadRequest` violation per problem).

use crate::error::Error;
use crate::pb;
use tonic_types::FieldViolation;

/// EC2's page-size range for describe calls.
pub const MAX_RESULTS_RANGE: std::ops::RangeInclusive<i32> = 5..=1000;
/// EC2 accepts at most this many ids in one describe call.
pub const MAX_IDS: usize = 1000;

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
    v.check(ids.len() <= MAX_IDS, ids_field, || {
        format!("at most {MAX_IDS} ids per call, got {}", ids.len())
    });
    if let Some(i) = ids.iter().position(|id| id.trim().is_empty()) {
        v.check(false, &format!("{ids_field}[{i}]"), || {
            "must not be empty".into()
        });
    }
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
    for (i, filter) in filters.iter().enumerate() {
        v.check(
            !filter.name.is_empty(),
            &format!("filters[{i}].name"),
            || "must name an EC2 filter, for example instance-state-name".into(),
        );
        v.check(
            !filter.values.is_empty(),
            &format!("filters[{i}].values"),
            || format!("filter {:?} needs at least one value", filter.name),
        );
    }
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
