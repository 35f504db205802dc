//! Audit events as OpenTelemetry log records, for deployments whose logs pipeline is OTLP
//! (the trail is on and an OTLP endpoint is configured: see `telemetry`). A record per event:
//! the event name `ec2_grpc.audit`, the event itself as a structured body (the same fields as
//! the JSON line), a few attributes to index by (audit id, RPC, principal, account, region,
//! code; OpenTelemetry's semantic names where they exist), and the call's trace id, so a
//! backend links the record to the call's trace.
//!
//! The export is in addition to the file or stdout, which stays the record of truth: the
//! SDK's batch processor sends records from a thread of its own and, when its queue is full,
//! drops and reports it in its own diagnostics.

use super::event::Event;
use opentelemetry::logs::{AnyValue, LogRecord, Logger, Severity};
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::{Key, StringValue};
use opentelemetry_sdk::logs::SdkLogger;
use std::time::SystemTime;

/// The records' event name.
pub const EVENT_NAME: &str = "ec2_grpc.audit";

/// Emits `event` (already in JSON, `json`) as a log record through `logger`.
pub fn emit(logger: &SdkLogger, event: &Event, json: serde_json::Value) {
    let mut record = logger.create_log_record();
    record.set_event_name(EVENT_NAME);
    record.set_timestamp(SystemTime::now());
    record.set_observed_timestamp(SystemTime::now());
    record.set_severity_number(Severity::Info);
    record.set_severity_text("INFO");
    record.add_attribute("ec2_grpc.audit.id", event.audit_id.clone());
    record.add_attribute("rpc.method", event.rpc.clone());
    record.add_attribute("enduser.id", event.identity.principal.clone());
    record.add_attribute("rpc.grpc.status_code", event.outcome.code.clone());
    if let Some(target) = &event.target {
        record.add_attribute("cloud.account.id", target.account.clone());
        record.add_attribute("cloud.region", target.region.clone());
    }
    if let Ok(trace) = TraceId::from_hex(&event.trace_id)
        && trace != TraceId::INVALID
    {
        record.set_trace_context(trace, SpanId::INVALID, None);
    }
    record.set_body(any_value(json));
    logger.emit(record);
}

/// A JSON value as OpenTelemetry's `AnyValue` (objects as maps, arrays as lists).
fn any_value(json: serde_json::Value) -> AnyValue {
    use serde_json::Value;
    match json {
        Value::Null => AnyValue::String(StringValue::from("")),
        Value::Bool(b) => AnyValue::Boolean(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => AnyValue::Int(i),
            None => AnyValue::Double(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => AnyValue::String(StringValue::from(s)),
        Value::Array(items) => {
            AnyValue::ListAny(Box::new(items.into_iter().map(any_value).collect()))
        }
        Value::Object(fields) => AnyValue::Map(Box::new(
            fields
                .into_iter()
                .map(|(k, v)| (Key::from(k), any_value(v)))
                .collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_becomes_structured_values() {
        let value = any_value(serde_json::json!({"a": [1, true, "x"], "b": {"c": 1.5}}));
        let AnyValue::Map(map) = value else {
            panic!("a map: {value:?}")
        };
        assert_eq!(
            map.get(&Key::from("a")),
            Some(&AnyValue::ListAny(Box::new(vec![
                AnyValue::Int(1),
                AnyValue::Boolean(true),
                AnyValue::String("x".into())
            ])))
        );
        let Some(AnyValue::Map(b)) = map.get(&Key::from("b")) else {
            panic!("b is a map")
        };
        assert_eq!(b.get(&Key::from("c")), Some(&AnyValue::Double(1.5)));
    }
}
