//! Conversions between aws-sdk-ec2 types and the `ec2.v1` protobuf messages: one function per
//! EC2 shape, named after the shape, so a reader finds each by name.
//!
//! Responses (EC2 -> protobuf) copy every member the SDK knows; EC2 enumerations become their
//! wire strings, so values AWS adds later pass through unchanged. Requests (protobuf -> EC2)
//! are built from already-validated messages.

pub mod common;
pub mod instance;

use aws_sdk_ec2::primitives::DateTime;

/// An optional EC2 string or enumeration as its wire string ("" when EC2 omitted it).
fn text<T: AsRef<str>>(value: &Option<T>) -> String {
    value
        .as_ref()
        .map(|v| v.as_ref().to_owned())
        .unwrap_or_default()
}

/// An optional list of EC2 shapes, each converted by `convert`.
fn list<T, U>(values: &Option<Vec<T>>, convert: fn(&T) -> U) -> Vec<U> {
    values.iter().flatten().map(convert).collect()
}

/// An EC2 timestamp as a `google.protobuf.Timestamp`.
fn timestamp(value: &Option<DateTime>) -> Option<prost_types::Timestamp> {
    value.as_ref().map(|t| prost_types::Timestamp {
        seconds: t.secs(),
        // Always below 1e9, so it fits an i32.
        nanos: t.subsec_nanos() as i32,
    })
}

/// A protobuf string as an optional SDK string: empty means "not given".
pub(crate) fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

/// A protobuf list as an optional SDK list: empty means "not given".
pub(crate) fn non_empty_list<T: Clone>(values: &[T]) -> Option<Vec<T>> {
    (!values.is_empty()).then(|| values.to_vec())
}
