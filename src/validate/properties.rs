//! Property tests: arbitrary requests never panic the validator, and whatever it lets through
//! keeps EC2's rules, so invalid input never reaches EC2.

use super::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Cases per property (CI runs them all; the count is printed).
const CASES: u32 = 10_000;

/// `CASES` cases, and no failure files written into the source tree.
fn config() -> Config {
    Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    }
}

fn filters() -> impl Strategy<Value = Vec<pb::Filter>> {
    prop::collection::vec(
        (".{0,12}", prop::collection::vec(".{0,8}", 0..4))
            .prop_map(|(name, values)| pb::Filter { name, values }),
        0..4,
    )
}

fn describe() -> impl Strategy<Value = pb::DescribeInstancesRequest> {
    (
        prop::collection::vec("(i-[0-9a-f]{8,17})|.{0,6}", 0..4),
        filters(),
        prop::option::of(-10i32..1100),
        ".{0,10}",
        any::<bool>(),
    )
        .prop_map(
            |(instance_ids, filters, max_results, next_token, dry_run)| {
                pb::DescribeInstancesRequest {
                    instance_ids,
                    filters,
                    max_results,
                    next_token,
                    dry_run,
                    include_managed_resources: None,
                    max_staleness: None,
                    ..Default::default()
                }
            },
        )
}

fn launch() -> impl Strategy<Value = pb::RunInstancesRequest> {
    (
        ".{0,8}",
        prop::option::of(-3i32..5),
        prop::option::of(-3i32..5),
        ".{0,70}",
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(
            |(image_id, min_count, max_count, client_token, user_data)| pb::RunInstancesRequest {
                image_id,
                min_count,
                max_count,
                client_token,
                user_data,
                ..Default::default()
            },
        )
}

#[test]
fn arbitrary_describes_never_panic_and_what_passes_keeps_ec2_rules() {
    let mut runner = TestRunner::new(config());
    runner
        .run(&describe(), |r| {
            if describe_instances(&r).is_ok() {
                prop_assert!(r.max_results.is_none_or(|m| MAX_RESULTS_RANGE.contains(&m)));
                prop_assert!(r.max_results.is_none() || r.instance_ids.is_empty());
                prop_assert!(r.instance_ids.iter().all(|id| !id.trim().is_empty()));
                prop_assert!(
                    r.filters
                        .iter()
                        .all(|f| !f.name.is_empty() && !f.values.is_empty())
                );
            }
            Ok(())
        })
        .expect("property holds");
    println!("proptest: {CASES} arbitrary DescribeInstances requests validated");
}

#[test]
fn arbitrary_launches_never_panic_and_what_passes_keeps_ec2_rules() {
    let mut runner = TestRunner::new(config());
    runner
        .run(&launch(), |r| {
            if run_instances(&r).is_ok() {
                let min = r.min_count.unwrap_or(1);
                prop_assert!(min >= 1 && min <= r.max_count.unwrap_or(min));
                prop_assert!(r.client_token.is_ascii() && r.client_token.len() <= 64);
                prop_assert!(!r.image_id.is_empty());
            }
            Ok(())
        })
        .expect("property holds");
    println!("proptest: {CASES} arbitrary RunInstances requests validated");
}
