//! Conversions between aws-sdk-ec2 types and the `ec2.v1` protobuf messages: one function per
//! EC2 shape, named after the shape, so a reader finds each by name.
//!
//! Responses (EC2 -> protobuf) carry every member the SDK knows, taking the SDK's values by
//! value so its strings move instead of being copied; EC2 enumerations become their wire
//! strings, so values AWS adds later pass through unchanged. Requests (protobuf -> EC2)
//! are built from already-validated messages.

pub mod common;
pub mod instance;
pub mod lookup_shapes;
pub mod network_interface;
pub mod request;

#[cfg(test)]
mod completeness;

use aws_sdk_ec2::primitives::DateTime;

/// An optional EC2 string ("" when EC2 omitted it), moved rather than copied: a page of
/// instances holds thousands of strings.
fn text(value: Option<String>) -> String {
    value.unwrap_or_default()
}

/// An optional EC2 enumeration as its wire string ("" when EC2 omitted it).
fn enum_text<T: AsRef<str>>(value: Option<T>) -> String {
    value.map(|v| v.as_ref().to_owned()).unwrap_or_default()
}

/// An optional list of EC2 shapes, each converted by `convert`.
pub(crate) fn list<T, U>(values: Option<Vec<T>>, convert: fn(T) -> U) -> Vec<U> {
    values.into_iter().flatten().map(convert).collect()
}

/// An EC2 timestamp as a `google.protobuf.Timestamp`.
pub(crate) fn timestamp(value: Option<DateTime>) -> Option<prost_types::Timestamp> {
    value.map(|t| prost_types::Timestamp {
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

/// A protobuf list of messages as an optional SDK list, each converted by `convert`.
fn map_list<T, U>(values: &[T], convert: fn(&T) -> U) -> Option<Vec<U>> {
    (!values.is_empty()).then(|| values.iter().map(convert).collect())
}

/// A wire string as an SDK enumeration: empty means "not given"; an unknown value passes
/// through to EC2, which judges it.
fn wire<E: for<'a> From<&'a str>>(value: &str) -> Option<E> {
    (!value.is_empty()).then(|| E::from(value))
}

/// A `google.protobuf.Timestamp` as an EC2 timestamp.
fn date_time(value: &prost_types::Timestamp) -> DateTime {
    // Normalised protobuf timestamps have nanos in 0..1e9; anything else is clamped to 0.
    DateTime::from_secs_and_nanos(value.seconds, u32::try_from(value.nanos).unwrap_or(0))
}
