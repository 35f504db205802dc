//! What is audited, at what level: Kubernetes' audit policy, simplified. Levels: `none`,
//! `metadata` (who, what, which resources, the outcome, the EC2 calls) and `request` (and the
//! request's parameters, secrets left out). Rules match by RPC and by caller (globs with `*`),
//! and the first rule that matches decides; without a match, the default: every change at
//! `request`, no reads. A TOML file (`--audit-policy-file`), read again when it changes:
//!
//! ```toml
//! [[rules]]                        # the platform team's reads too
//! principals = ["platform-*"]
//! level = "metadata"
//!
//! [[rules]]                        # health-checking bots: nothing
//! principals = ["prober"]
//! level = "none"
//!
//! [[rules]]
//! rpcs = ["DescribeInstances"]
//! level = "metadata"
//! ```

use serde::Deserialize;

/// How much of a call its event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// No event.
    None,
    /// Who, what, which resources, the outcome, the EC2 calls and their request ids.
    Metadata,
    /// And the request's parameters (never `user_data`).
    Request,
}

impl Level {
    /// The level's name in events and files.
    pub fn name(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Metadata => "metadata",
            Level::Request => "request",
        }
    }
}

/// The RPCs that change something at EC2 in one answer.
pub const UNARY_CHANGES: &[&str] = &[
    "RunInstances",
    "CreateNetworkInterface",
    "AttachNetworkInterface",
    "DetachNetworkInterface",
    "DeleteNetworkInterface",
];

/// The changes that stream their steps (the collection's batches, the cleanup's deletions):
/// each step gets an event of its own.
pub const STREAMED_CHANGES: &[&str] = &[
    "StartInstances",
    "StopInstances",
    "RebootInstances",
    "TerminateInstances",
    "MonitorInstances",
    "UnmonitorInstances",
    "CreateTags",
    "DeleteNetworkInterfaces",
];

/// Whether `rpc` changes something at EC2 (the others read).
pub fn is_change(rpc: &str) -> bool {
    UNARY_CHANGES.contains(&rpc) || STREAMED_CHANGES.contains(&rpc)
}

/// One rule: the calls it matches (every RPC or caller when a list is absent) and their level.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// RPC names, `*` globs allowed.
    #[serde(default)]
    pub rpcs: Option<Vec<String>>,
    /// Principals, `*` globs allowed (an unauthenticated call has none: only rules without
    /// `principals` match it).
    #[serde(default)]
    pub principals: Option<Vec<String>>,
    /// The level of the calls it matches.
    pub level: Level,
}

/// The rules in force.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// First match wins.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

impl Policy {
    /// A policy file's text; its rules come before the default.
    pub fn parse(text: &str) -> Result<Policy, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The level of a call of `rpc` by `principal`.
    pub fn level(&self, rpc: &str, principal: &str) -> Level {
        self.rules
            .iter()
            .find(|r| matches(&r.rpcs, rpc) && matches(&r.principals, principal))
            .map_or(default_level(rpc), |r| r.level)
    }

    /// The level of every call of `rpc`, whoever calls, when the rules say it without the
    /// caller (the first rule matching `rpc` names no principals, or none matches): the audit
    /// layer then knows before authentication that a call needs no record at all.
    pub fn level_for_anyone(&self, rpc: &str) -> Option<Level> {
        match self.rules.iter().find(|r| matches(&r.rpcs, rpc)) {
            None => Some(default_level(rpc)),
            Some(rule) if rule.principals.is_none() => Some(rule.level),
            Some(_) => None,
        }
    }
}

/// The level without a rule: changes at `request`, reads not at all.
fn default_level(rpc: &str) -> Level {
    if is_change(rpc) {
        Level::Request
    } else {
        Level::None
    }
}

/// Whether `value` is one of `globs` (absent: any value).
fn matches(globs: &Option<Vec<String>>, value: &str) -> bool {
    globs
        .as_ref()
        .is_none_or(|globs| globs.iter().any(|g| glob(g, value)))
}

/// Whether `value` matches `pattern`, where `*` is any run of characters.
fn glob(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == value,
        Some((head, tail)) => {
            value.starts_with(head)
                && (head.len()..=value.len())
                    .filter(|&i| value.is_char_boundary(i))
                    .any(|i| glob(tail, &value[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_rule_decides_else_changes_at_request_and_no_reads() {
        let policy = Policy::parse(
            "[[rules]]\nprincipals = [\"prober\"]\nlevel = \"none\"\n\n\
             [[rules]]\nrpcs = [\"Describe*\"]\nprincipals = [\"platform-*\"]\nlevel = \"metadata\"\n",
        )
        .unwrap();
        assert_eq!(policy.level("StopInstances", "prober"), Level::None);
        assert_eq!(policy.level("StopInstances", "ci"), Level::Request);
        assert_eq!(
            policy.level("DescribeInstances", "platform-ops"),
            Level::Metadata
        );
        assert_eq!(policy.level("DescribeInstances", "ci"), Level::None);
        assert_eq!(Policy::default().level("RunInstances", "x"), Level::Request);
        assert!(Policy::parse("[[rules]]\nlevel = \"loud\"\n").is_err());
    }

    #[test]
    fn a_level_is_known_before_authentication_only_when_no_caller_can_change_it() {
        let default = Policy::default();
        assert_eq!(
            default.level_for_anyone("DescribeImages"),
            Some(Level::None)
        );
        assert_eq!(
            default.level_for_anyone("StopInstances"),
            Some(Level::Request)
        );
        let policy = Policy::parse(
            "[[rules]]\nrpcs = [\"Describe*\"]\nprincipals = [\"platform-*\"]\nlevel = \"metadata\"\n\n\
             [[rules]]\nrpcs = [\"WatchInstances\"]\nlevel = \"metadata\"\n",
        )
        .unwrap();
        assert_eq!(policy.level_for_anyone("DescribeInstances"), None);
        assert_eq!(
            policy.level_for_anyone("WatchInstances"),
            Some(Level::Metadata)
        );
        assert_eq!(policy.level_for_anyone("WaitInstances"), Some(Level::None));
    }
}
