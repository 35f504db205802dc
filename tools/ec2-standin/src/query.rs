//! EC2's query protocol: a form-encoded POST body with `Action`, scalar parameters, and lists
//! flattened as `Name.1`, `Name.2`, ... (nested: `Filter.1.Value.2`).

use std::collections::HashMap;

/// One parsed request.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// The EC2 action, for example `DescribeInstances`.
    pub action: String,
    /// Every parameter but `Action`, by its flattened name.
    params: HashMap<String, String>,
}

/// A describe filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The filter name, for example `tag:team`.
    pub name: String,
    /// Its values (OR-ed).
    pub values: Vec<String>,
}

impl Query {
    /// Parses a form-encoded body.
    pub fn parse(body: &[u8]) -> Query {
        let mut query = Query::default();
        for (key, value) in form_urlencoded::parse(body) {
            if key == "Action" {
                query.action = value.into_owned();
            } else {
                query.params.insert(key.into_owned(), value.into_owned());
            }
        }
        query
    }

    /// A scalar parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// A boolean parameter (`true`); absent is false.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name) == Some("true")
    }

    /// An integer parameter; `Err` names it when it is not a number.
    pub fn int(&self, name: &str) -> Result<Option<i64>, String> {
        self.get(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| format!("Invalid value '{v}' for {name}"))
            })
            .transpose()
    }

    /// A flattened list: `prefix.1`, `prefix.2`, ... in order.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        (1..)
            .map_while(|i| self.get(&format!("{prefix}.{i}")).map(str::to_owned))
            .collect()
    }

    /// `Filter.N.Name` / `Filter.N.Value.M`.
    pub fn filters(&self) -> Vec<Filter> {
        (1..)
            .map_while(|i| {
                let name = self.get(&format!("Filter.{i}.Name"))?;
                Some(Filter {
                    name: name.to_owned(),
                    values: self.list(&format!("Filter.{i}.Value")),
                })
            })
            .collect()
    }

    /// `prefix.N.Key` / `prefix.N.Value` pairs.
    pub fn tags(&self, prefix: &str) -> Vec<(String, String)> {
        (1..)
            .map_while(|i| {
                let key = self.get(&format!("{prefix}.{i}.Key"))?;
                let value = self.get(&format!("{prefix}.{i}.Value")).unwrap_or_default();
                Some((key.to_owned(), value.to_owned()))
            })
            .collect()
    }

    /// The tags of the `TagSpecification.N` whose `ResourceType` is `resource_type`.
    pub fn tag_specification(&self, resource_type: &str) -> Vec<(String, String)> {
        (1..)
            .map_while(|i| {
                let kind = self.get(&format!("TagSpecification.{i}.ResourceType"))?;
                Some(
                    (kind == resource_type)
                        .then(|| self.tags(&format!("TagSpecification.{i}.Tag"))),
                )
            })
            .flatten()
            .flatten()
            .collect()
    }

    /// Every parameter but the client token and dry-run flag, sorted: what idempotency compares.
    pub fn fingerprint(&self) -> String {
        let mut pairs: Vec<_> = self
            .params
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "ClientToken" | "DryRun" | "Version"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        pairs.sort();
        pairs.join("&")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_filters_and_tags_unflatten() {
        let q = Query::parse(
            b"Action=DescribeInstances&InstanceId.1=i-1&InstanceId.2=i-2&Filter.1.Name=tag%3Ateam\
              &Filter.1.Value.1=a&Filter.1.Value.2=b&TagSpecification.1.ResourceType=instance\
              &TagSpecification.1.Tag.1.Key=k&TagSpecification.1.Tag.1.Value=v&MaxResults=5",
        );
        assert_eq!(q.action, "DescribeInstances");
        assert_eq!(q.list("InstanceId"), ["i-1", "i-2"]);
        assert_eq!(
            q.filters(),
            [Filter {
                name: "tag:team".into(),
                values: vec!["a".into(), "b".into()]
            }]
        );
        assert_eq!(q.tag_specification("instance"), [("k".into(), "v".into())]);
        assert_eq!(q.int("MaxResults"), Ok(Some(5)));
    }
}
