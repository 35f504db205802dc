//! A request's parameters for the `request` level: the protobuf message, decoded with the
//! contract's own descriptors and written as protobuf JSON, with what must never be written
//! left out: `user_data` anywhere in it (a launch's scripts hold secrets). Credentials never
//! reach a message (they travel in headers), so nothing else needs leaving out.

use crate::pb;
use prost_reflect::{DescriptorPool, DynamicMessage, Value};
use std::sync::OnceLock;

/// Fields never written, wherever they are.
pub const REDACTED: &[&str] = &["user_data"];

/// The contract's descriptors.
fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(pb::FILE_DESCRIPTOR_SET).expect("the contract's descriptors")
    })
}

/// The parameters of `method`'s request, encoded as `encoded`; `None` when it does not
/// decode (then the event says nothing of them rather than something wrong).
pub fn request(method: &str, encoded: &[u8]) -> Option<serde_json::Value> {
    let descriptor = pool().get_message_by_name(&format!("ec2.v1.{method}Request"))?;
    let mut message = DynamicMessage::decode(descriptor, encoded).ok()?;
    redact(&mut message);
    serde_json::to_value(&message).ok()
}

/// Clears the redacted fields of `message` and of every message in it.
fn redact(message: &mut DynamicMessage) {
    for name in REDACTED {
        message.clear_field_by_name(name);
    }
    for (_, value) in message.fields_mut() {
        match value {
            Value::Message(inner) => redact(inner),
            Value::List(items) => {
                for item in items {
                    if let Value::Message(inner) = item {
                        redact(inner);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn parameters_are_protobuf_json_without_user_data() {
        let launch = pb::RunInstancesRequest {
            image_id: "ami-1".into(),
            user_data: b"#!/bin/sh\necho secret".to_vec(),
            min_count: Some(2),
            ..Default::default()
        };
        let json = request("RunInstances", &launch.encode_to_vec()).expect("decodes");
        assert_eq!(json["imageId"], "ami-1");
        assert_eq!(json["minCount"], 2);
        assert!(json.get("userData").is_none(), "{json}");
        assert!(!json.to_string().contains("secret"));
        assert!(request("NoSuchRpc", &[]).is_none());
    }
}
