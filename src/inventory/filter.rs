//! EC2's DescribeInstances filters, evaluated on the view: which instances a watch, a wait or
//! a view read selects.
//!
//! EC2's rules: values of one filter are OR-ed, filters are AND-ed, names and values are
//! case-sensitive, and a value may use the wildcards `*` (any run of characters, none
//! included) and `?` (exactly one), with `\` escaping the next character. Only the names in
//! `SUPPORTED` are evaluated here: each one is checked against moto's DescribeInstances
//! (`tests/gateway/inventory.rs`), so a name moto does not evaluate (instance-state-code,
//! reservation-id, ...) is left to EC2. A watch or wait using another name is
//! INVALID_ARGUMENT listing them; a `max_staleness` read using one is answered by EC2.

use super::view::{Entry, View};
use crate::auth::scope::TagScope;
use crate::error::Error;
use crate::pb;
use std::collections::BTreeSet;
use std::ops::Bound;
use std::sync::Arc;

/// The filter names the view evaluates (`tag:KEY` stands for every tag key).
pub const SUPPORTED: &[&str] = &[
    "architecture",
    "availability-zone",
    "image-id",
    "instance-id",
    "instance-state-name",
    "instance-type",
    "key-name",
    "private-ip-address",
    "subnet-id",
    "tag:KEY",
    "tag-key",
    "tag-value",
    "vpc-id",
];

/// What a filter looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Architecture,
    AvailabilityZone,
    ImageId,
    InstanceId,
    StateName,
    InstanceType,
    KeyName,
    PrivateIp,
    SubnetId,
    /// `tag:KEY`: the value of tag KEY.
    Tag(String),
    TagKey,
    TagValue,
    VpcId,
}

impl Field {
    /// The field a filter name names, if the view evaluates it.
    fn of(name: &str) -> Option<Field> {
        Some(match name {
            "architecture" => Field::Architecture,
            "availability-zone" => Field::AvailabilityZone,
            "image-id" => Field::ImageId,
            "instance-id" => Field::InstanceId,
            "instance-state-name" => Field::StateName,
            "instance-type" => Field::InstanceType,
            "key-name" => Field::KeyName,
            "private-ip-address" => Field::PrivateIp,
            "subnet-id" => Field::SubnetId,
            "tag-key" => Field::TagKey,
            "tag-value" => Field::TagValue,
            "vpc-id" => Field::VpcId,
            _ => match name.strip_prefix("tag:") {
                Some(key) if !key.is_empty() => Field::Tag(key.to_owned()),
                _ => return None,
            },
        })
    }

    /// Whether any of the entry's values for this field matches any of `patterns`.
    fn matches(&self, entry: &Entry, patterns: &[Pattern]) -> bool {
        let i = entry.facts();
        let any = |value: &str| patterns.iter().any(|p| p.matches(value));
        match self {
            Field::Architecture => any(&i.architecture),
            Field::AvailabilityZone => any(&i.availability_zone),
            Field::ImageId => any(&i.image_id),
            Field::InstanceId => any(&i.instance_id),
            Field::StateName => any(&i.state.name),
            Field::InstanceType => any(&i.instance_type),
            Field::KeyName => any(&i.key_name),
            Field::PrivateIp => any(&i.private_ip_address),
            Field::SubnetId => any(&i.subnet_id),
            Field::Tag(key) => i.tags.iter().any(|t| t.key == *key && any(&t.value)),
            Field::TagKey => i.tags.iter().any(|t| any(&t.key)),
            Field::TagValue => i.tags.iter().any(|t| any(&t.value)),
            Field::VpcId => any(&i.vpc_id),
        }
    }
}

/// One piece of a filter value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// `*`: any run of characters.
    Any,
    /// `?`: one character.
    One,
    /// A character that must be there (`\*` is a literal `*`).
    Char(char),
}

/// A filter value with EC2's wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// No wildcard (escapes resolved): the value must equal it. Most filter values are ids,
    /// states and tag values; comparing them is the hot path of every watch.
    Exact(String),
    /// With `*` or `?`.
    Glob(Vec<Piece>),
}

impl Pattern {
    /// Parses `value`: `*`, `?`, and `\` escaping the character after it.
    pub fn new(value: &str) -> Pattern {
        let mut pieces = Vec::with_capacity(value.len());
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            pieces.push(match c {
                '*' => Piece::Any,
                '?' => Piece::One,
                '\\' => Piece::Char(chars.next().unwrap_or('\\')),
                c => Piece::Char(c),
            });
        }
        let exact: Option<String> = pieces
            .iter()
            .map(|piece| match piece {
                Piece::Char(c) => Some(*c),
                Piece::Any | Piece::One => None,
            })
            .collect();
        match exact {
            Some(exact) => Pattern::Exact(exact),
            None => Pattern::Glob(pieces),
        }
    }

    /// Whether `value` matches: the classic linear glob walk, going back to the last `*`.
    pub fn matches(&self, value: &str) -> bool {
        let pattern = match self {
            Pattern::Exact(exact) => return exact == value,
            Pattern::Glob(pieces) => pieces,
        };
        let text: Vec<char> = value.chars().collect();
        let (mut p, mut t) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match pattern.get(p) {
                Some(Piece::Any) => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(Piece::One) => {
                    p += 1;
                    t += 1;
                }
                Some(Piece::Char(c)) if *c == text[t] => {
                    p += 1;
                    t += 1;
                }
                _ => match star {
                    Some((star_p, star_t)) => {
                        p = star_p + 1;
                        t = star_t + 1;
                        star = Some((star_p, star_t + 1));
                    }
                    None => return false,
                },
            }
        }
        pattern[p..].iter().all(|piece| *piece == Piece::Any)
    }
}

/// One filter, ready to evaluate.
#[derive(Debug, Clone)]
struct Compiled {
    field: Field,
    patterns: Vec<Pattern>,
}

/// Which instances a request selects: its ids (if any), its filters, and the caller's tag
/// scope (if it has one).
#[derive(Debug, Clone, Default)]
pub struct Selector {
    /// The named ids, in id order; `None`: any id.
    ids: Option<BTreeSet<String>>,
    /// Every filter must match.
    filters: Vec<Compiled>,
    /// The caller's scope: only instances with its tag.
    scope: Option<TagScope>,
}

impl Selector {
    /// The selector of `ids` and `filters` within `scope`; INVALID_ARGUMENT naming a filter
    /// the view does not evaluate, with the ones it does.
    pub fn new(
        ids: &[String],
        filters: &[pb::Filter],
        scope: Option<&TagScope>,
    ) -> Result<Selector, Error> {
        let filters = filters
            .iter()
            .enumerate()
            .map(|(n, f)| {
                let field = Field::of(&f.name).ok_or_else(|| {
                    Error::invalid_field(
                        &format!("filters[{n}].name"),
                        format!(
                            "the instance view does not evaluate the filter '{}'; it evaluates: {}",
                            f.name,
                            SUPPORTED.join(", ")
                        ),
                    )
                })?;
                Ok(Compiled {
                    field,
                    patterns: f.values.iter().map(|v| Pattern::new(v)).collect(),
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Selector {
            ids: (!ids.is_empty()).then(|| ids.iter().cloned().collect()),
            filters,
            scope: scope.cloned(),
        })
    }

    /// Whether the view can evaluate every one of `filters`.
    pub fn supports(filters: &[pb::Filter]) -> bool {
        filters.iter().all(|f| Field::of(&f.name).is_some())
    }

    /// The named ids, if the selection names any.
    pub fn ids(&self) -> Option<&BTreeSet<String>> {
        self.ids.as_ref()
    }

    /// The selected instances of `view` in id order, after `after` (from the first when
    /// `None`). A selection by ids looks each one up rather than going through the view, so a
    /// describe of a few ids costs the same in a view of 100 instances or of 100,000.
    pub fn select<'a>(
        &'a self,
        view: &'a View,
        after: Option<&str>,
    ) -> Box<dyn Iterator<Item = &'a Arc<Entry>> + 'a> {
        match &self.ids {
            Some(ids) => {
                let start = after.map_or(Bound::Unbounded, |id| Bound::Excluded(id.to_owned()));
                Box::new(
                    ids.range::<String, _>((start, Bound::Unbounded))
                        .filter_map(|id| view.get(id))
                        .filter(|e| self.matches(e)),
                )
            }
            None => Box::new(view.after(after).filter(|e| self.matches(e))),
        }
    }

    /// PERMISSION_DENIED naming the instances of `ids` that `view` holds outside the
    /// selector's scope: naming another's instance is refused, as a describe by id is, rather
    /// than hidden.
    pub fn check_named(&self, view: &View, ids: &[String]) -> Result<(), Error> {
        let Some(scope) = &self.scope else {
            return Ok(());
        };
        scope.check(
            ids.iter()
                .filter_map(|id| view.get(id))
                .map(|e| (e.id(), e.facts().tags.as_slice())),
        )
    }

    /// Whether `entry` is selected.
    pub fn matches(&self, entry: &Entry) -> bool {
        let instance = entry.facts();
        self.ids
            .as_ref()
            .is_none_or(|ids| ids.contains(&instance.instance_id))
            && self
                .scope
                .as_ref()
                .is_none_or(|scope| scope.covers(&instance.tags))
            && self
                .filters
                .iter()
                .all(|f| f.field.matches(entry, &f.patterns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    fn entry(id: &str, state: &str, tags: &[(&str, &str)]) -> Entry {
        let instance = pb::Instance {
            instance_id: id.into(),
            state: Some(pb::InstanceState {
                code: Some(if state == "running" { 16 } else { 80 }),
                name: state.into(),
            }),
            instance_type: "t3.micro".into(),
            tags: tags
                .iter()
                .map(|(k, v)| pb::Tag {
                    key: (*k).into(),
                    value: (*v).into(),
                })
                .collect(),
            ..Default::default()
        };
        Entry::new(&pb::Reservation::default(), instance)
    }

    fn filter(name: &str, values: &[&str]) -> pb::Filter {
        pb::Filter {
            name: name.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_selection_by_ids_visits_the_named_ids_in_order() {
        let mut view = View::new(100);
        let entries = ["i-1", "i-2", "i-3", "i-4", "i-5"]
            .map(|id| entry(id, if id == "i-4" { "stopped" } else { "running" }, &[]));
        view.apply_list(entries.to_vec(), Instant::now());
        let ids = |s: &Selector, after| -> Vec<String> {
            s.select(&view, after).map(|e| e.id().to_owned()).collect()
        };
        let named = |names: &[&str], filters: &[pb::Filter]| {
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            Selector::new(&names, filters, None).unwrap()
        };
        let by_ids = named(&["i-4", "i-2", "i-9"], &[]);
        assert_eq!(
            ids(&by_ids, None),
            ["i-2", "i-4"],
            "in id order; unknown ids skipped"
        );
        assert_eq!(ids(&by_ids, Some("i-2")), ["i-4"]);
        let running = [filter("instance-state-name", &["running"])];
        assert_eq!(ids(&named(&["i-4", "i-2"], &running), None), ["i-2"]);
        assert_eq!(ids(&named(&[], &running), Some("i-2")), ["i-3", "i-5"]);
    }

    #[test]
    fn wildcards_follow_ec2() {
        let m = |p: &str, v: &str| Pattern::new(p).matches(v);
        assert!(m("web-*", "web-1") && m("web-*", "web-") && !m("web-*", "db-1"));
        assert!(m("*", "") && m("a?c", "abc") && !m("a?c", "ac"));
        assert!(m("*b*d", "abxcd") && !m("*b*d", "abxc"));
        assert!(m(r"a\*", "a*") && !m(r"a\*", "ab") && m(r"a\?", "a?") && m(r"a\\", r"a\"));
        assert!(!m("Web", "web"), "values are case-sensitive");
    }

    #[test]
    fn filters_and_values_combine_like_ec2() {
        let e = entry("i-1", "running", &[("team", "web"), ("Name", "a")]);
        let s = |filters: &[pb::Filter]| Selector::new(&[], filters, None).unwrap().matches(&e);
        assert!(s(&[filter("instance-state-name", &["stopped", "running"])]));
        assert!(!s(&[
            filter("instance-state-name", &["running"]),
            filter("tag:team", &["db"])
        ]));
        assert!(s(&[filter("tag-key", &["Na*"])]) && s(&[filter("tag-value", &["we?"])]));
        assert!(!s(&[filter("tag:owner", &["*"])]), "no such tag");
        let ids = Selector::new(&["i-2".into()], &[], None).unwrap();
        assert!(!ids.matches(&e));
    }

    #[test]
    fn scope_hides_other_instances_and_unknown_filters_are_named() {
        let scope = TagScope {
            principal: "p".into(),
            key: "team".into(),
            value: "db".into(),
        };
        let e = entry("i-1", "running", &[("team", "web")]);
        assert!(!Selector::new(&[], &[], Some(&scope)).unwrap().matches(&e));
        let err = Selector::new(&[], &[filter("dns-name", &["x"])], None).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("filters[0].name") && text.contains("instance-state-name"));
        assert!(!Selector::supports(&[filter("dns-name", &["x"])]));
    }
}
