//! Shapes shared by several operations: tags, security group references, filters.

use super::{non_empty, non_empty_list, text};
use crate::pb;
use aws_sdk_ec2::types;

/// EC2 `Tag` -> `ec2.v1.Tag`.
pub fn tag(v: types::Tag) -> pb::Tag {
    pb::Tag {
        key: text(v.key),
        value: text(v.value),
    }
}

/// EC2 `GroupIdentifier` -> `ec2.v1.GroupIdentifier`.
pub fn group_identifier(v: types::GroupIdentifier) -> pb::GroupIdentifier {
    pb::GroupIdentifier {
        group_id: text(v.group_id),
        group_name: text(v.group_name),
    }
}

/// `ec2.v1.Filter` -> EC2 `Filter` (request direction).
pub fn filter(v: &pb::Filter) -> types::Filter {
    types::Filter::builder()
        .set_name(non_empty(&v.name))
        .set_values(non_empty_list(&v.values))
        .build()
}

/// `ec2.v1.Filter` list -> the optional EC2 filter list of a describe request.
pub fn filters(v: &[pb::Filter]) -> Option<Vec<types::Filter>> {
    (!v.is_empty()).then(|| v.iter().map(filter).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_keep_names_and_values_and_empty_means_none() {
        let converted = filters(&[pb::Filter {
            name: "tag:team".into(),
            values: vec!["a".into(), "b".into()],
        }])
        .expect("filters");
        assert_eq!(converted[0].name(), Some("tag:team"));
        assert_eq!(converted[0].values(), ["a", "b"]);
        assert!(filters(&[]).is_none());
    }
}
