//! Tag scopes: a principal limited to the instances and network interfaces carrying one tag
//! (for example `owner=<principal>`), granted in the roles file's `[scopes]` table.
//!
//! A scoped principal's describes and selections by filters only see resources with the tag
//! (the gateway adds it as an EC2 filter); naming a resource without the tag, by id, is
//! PERMISSION_DENIED before anything is acted on; what it launches or creates gets the tag; it
//! may not give the tag another value, nor tag resources by id outside a selection.

use crate::error::Error;
use crate::pb;

/// The tag a scoped principal's resources carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagScope {
    /// Whose scope this is (for error messages).
    pub principal: String,
    /// The tag key, for example `owner`.
    pub key: String,
    /// The tag value, for example the principal's name.
    pub value: String,
}

impl TagScope {
    /// `key=value`, as errors and logs show the scope.
    pub fn tag(&self) -> String {
        format!("{}={}", self.key, self.value)
    }

    /// The EC2 filter matching the scope's resources.
    pub fn filter(&self) -> pb::Filter {
        pb::Filter {
            name: format!("tag:{}", self.key),
            values: vec![self.value.clone()],
        }
    }

    /// Whether `tags` carry the scope's tag.
    pub fn covers(&self, tags: &[pb::Tag]) -> bool {
        tags.iter()
            .any(|t| t.key == self.key && t.value == self.value)
    }

    /// The refusal for reaching outside the scope, `what` saying how.
    fn refusal(&self, what: String) -> Error {
        Error::OutOfScope {
            principal: self.principal.clone(),
            tag: self.tag(),
            what,
        }
    }

    /// PERMISSION_DENIED naming the resources of `found` (id, tags) without the scope's tag.
    pub fn check<'a>(
        &self,
        found: impl IntoIterator<Item = (&'a str, &'a [pb::Tag])>,
    ) -> Result<(), Error> {
        let outside: Vec<&str> = found
            .into_iter()
            .filter(|(_, tags)| !self.covers(tags))
            .map(|(id, _)| id)
            .collect();
        if outside.is_empty() {
            return Ok(());
        }
        Err(self.refusal(format!("not tagged so: {}", outside.join(", "))))
    }

    /// Adds the scope's tag to the tag specification of `resource_type` (making one if there
    /// is none), so what a launch or create makes is inside the scope. A specification giving
    /// the key another value is PERMISSION_DENIED.
    pub fn tag_on_creation(
        &self,
        specifications: &mut Vec<pb::TagSpecification>,
        resource_type: &str,
    ) -> Result<(), Error> {
        self.keep_value(
            specifications.iter().flat_map(|s| &s.tags),
            "tag_specifications",
        )?;
        let scope_tag = pb::Tag {
            key: self.key.clone(),
            value: self.value.clone(),
        };
        match specifications
            .iter_mut()
            .find(|s| s.resource_type == resource_type)
        {
            Some(spec) if self.covers(&spec.tags) => {}
            Some(spec) => spec.tags.push(scope_tag),
            None => specifications.push(pb::TagSpecification {
                resource_type: resource_type.to_owned(),
                tags: vec![scope_tag],
            }),
        }
        Ok(())
    }

    /// PERMISSION_DENIED when `tags` (of `field`) give the scope's key another value: that
    /// would move a resource out of the scope, or into another's.
    pub fn keep_value<'a>(
        &self,
        tags: impl IntoIterator<Item = &'a pb::Tag>,
        field: &str,
    ) -> Result<(), Error> {
        match tags
            .into_iter()
            .find(|t| t.key == self.key && t.value != self.value)
        {
            Some(t) => Err(self.refusal(format!("{field} sets {}={}", t.key, t.value))),
            None => Ok(()),
        }
    }

    /// PERMISSION_DENIED: a lookup whose items cannot be filtered by the scope's tag must name
    /// what they belong to (`field`), so that can be checked against the scope first.
    pub fn refuse_unnamed(&self, field: &str) -> Error {
        self.refusal(format!(
            "{field} must be named, so it can be checked against the scope"
        ))
    }

    /// PERMISSION_DENIED: resources named by id alone (CreateTags' `resource_ids`) are not
    /// checked against the scope, so a scoped principal tags through a selection.
    pub fn refuse_resource_ids(&self) -> Error {
        self.refusal("resource_ids cannot be checked against the scope; use selection".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;
    use tonic_types::StatusExt;

    fn scope() -> TagScope {
        TagScope {
            principal: "team-a".into(),
            key: "owner".into(),
            value: "team-a".into(),
        }
    }

    fn tag(key: &str, value: &str) -> pb::Tag {
        pb::Tag {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn resources_without_the_tag_are_named_in_the_refusal() {
        let mine = [tag("owner", "team-a")];
        let theirs = [tag("owner", "team-b")];
        assert!(scope().check([("i-1", &mine[..])]).is_ok());
        let refused = scope()
            .check([("i-1", &mine[..]), ("i-2", &theirs[..]), ("i-3", &[][..])])
            .expect_err("out of scope");
        let status = tonic::Status::from(refused);
        assert_eq!(status.code(), Code::PermissionDenied);
        assert!(
            status.message().contains("i-2, i-3"),
            "{}",
            status.message()
        );
        assert!(!status.message().contains("i-1"), "{}", status.message());
        let info = status.get_details_error_info().expect("ErrorInfo");
        assert_eq!(info.reason, "OUT_OF_SCOPE");
        assert_eq!(info.metadata["scope"], "owner=team-a");
    }

    #[test]
    fn creations_get_the_tag_and_may_not_change_it() {
        let mut none = Vec::new();
        scope()
            .tag_on_creation(&mut none, "instance")
            .expect("tagged");
        assert_eq!(none[0].resource_type, "instance");
        assert_eq!(none[0].tags, [tag("owner", "team-a")]);

        let mut some = vec![
            pb::TagSpecification {
                resource_type: "volume".into(),
                tags: vec![tag("team", "x")],
            },
            pb::TagSpecification {
                resource_type: "instance".into(),
                tags: vec![tag("Name", "web")],
            },
        ];
        scope()
            .tag_on_creation(&mut some, "instance")
            .expect("tagged");
        assert_eq!(some[0].tags.len(), 1, "other resource types are left alone");
        assert_eq!(some[1].tags, [tag("Name", "web"), tag("owner", "team-a")]);
        scope()
            .tag_on_creation(&mut some, "instance")
            .expect("again");
        assert_eq!(some[1].tags.len(), 2, "never added twice");

        let mut foreign = vec![pb::TagSpecification {
            resource_type: "instance".into(),
            tags: vec![tag("owner", "team-b")],
        }];
        let refused = scope().tag_on_creation(&mut foreign, "instance");
        assert!(matches!(refused, Err(Error::OutOfScope { .. })));
        assert!(
            scope()
                .keep_value(&[tag("owner", "team-a")], "tags")
                .is_ok()
        );
        assert!(scope().keep_value(&[tag("owner", "x")], "tags").is_err());
    }
}
