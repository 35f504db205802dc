//! Authorization: per-RPC permissions (the RPC's name, or `*`), grouped in roles, granted to
//! principals. Built-in roles: `reader` (describes, streams, lookups, watches, waits),
//! `operator` (start, stop, reboot, monitor, unmonitor, tags, and what readers may), `admin`
//! (everything). A TOML file
//! may add or redefine roles and grants:
//!
//! ```toml
//! [roles]
//! auditor = ["DescribeInstances", "DescribeInstancesStream"]
//!
//! [grants]
//! ci-bot = ["operator"]
//! inventory = ["reader"]
//! team-a = ["admin"]
//!
//! [scopes]
//! team-a = { key = "owner" }   # value defaults to the principal's name
//!
//! [targets]
//! ci-bot = { accounts = ["dev-*"], regions = ["eu-*"] }
//! ```
//!
//! `[scopes]` limits a principal to the resources carrying one tag (see `scope`); `[targets]`
//! grants accounts and regions (see `targets`; unnamed: the home account only). The file is
//! read again when it changes, like the tokens file.

use super::scope::TagScope;
use super::targets::TargetGrant;
use crate::lookup_catalog::RPCS as LOOKUP_RPCS;
use crate::toml_lines::at_key;
use crate::watched::Watched;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

/// The roles file, kept current: a ConfigMap edit takes effect without a restart.
pub type RolesFile = Watched<Authorization>;

/// Loads the roles file at `path`; errors name the file and what is wrong.
pub fn load(path: &Path) -> Result<Arc<RolesFile>, String> {
    Watched::load(path, Authorization::parse)
}

/// Describes, streams, and the watches and waits served from the instance view; with every
/// lookup RPC (`LOOKUP_RPCS`).
const READER: &[&str] = &[
    "DescribeInstances",
    "DescribeInstancesStream",
    "DescribeNetworkInterfaces",
    "DescribeNetworkInterfacesStream",
    "WatchInstances",
    "WaitInstances",
];
/// The instance actions that do not create or destroy. Attaching, detaching and deleting
/// network interfaces is left out on purpose: it rewires or removes a network path, so it
/// takes `admin` or a role the roles file grants it to.
const OPERATOR: &[&str] = &[
    "StartInstances",
    "StopInstances",
    "RebootInstances",
    "MonitorInstances",
    "UnmonitorInstances",
    "CreateTags",
];

/// The file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    roles: HashMap<String, Vec<String>>,
    #[serde(default)]
    grants: HashMap<String, Vec<String>>,
    #[serde(default)]
    scopes: HashMap<String, ScopeEntry>,
    #[serde(default)]
    targets: HashMap<String, TargetGrant>,
}

/// One `[scopes]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeEntry {
    key: String,
    /// Defaults to the principal's name.
    value: Option<String>,
}

/// Roles and grants in force.
#[derive(Debug, Clone)]
pub struct Authorization {
    roles: HashMap<String, HashSet<String>>,
    grants: HashMap<String, Vec<String>>,
    scopes: HashMap<String, TagScope>,
    targets: HashMap<String, TargetGrant>,
}

impl Authorization {
    /// The built-in roles and the roles, grants and scopes of a roles file's `text`.
    pub fn parse(text: &str) -> Result<Authorization, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<HashSet<_>>();
        let reader: HashSet<String> = set(READER).union(&set(LOOKUP_RPCS)).cloned().collect();
        let mut roles = HashMap::from([
            (
                "operator".to_owned(),
                reader.union(&set(OPERATOR)).cloned().collect(),
            ),
            ("reader".to_owned(), reader),
            ("admin".to_owned(), set(&["*"])),
        ]);
        for (role, permissions) in file.roles {
            roles.insert(role, permissions.into_iter().collect());
        }
        for (principal, granted) in &file.grants {
            if let Some(unknown) = granted.iter().find(|r| !roles.contains_key(*r)) {
                return Err(at_key(
                    text,
                    &["grants", principal],
                    format!("{principal} is granted the unknown role {unknown:?}"),
                ));
            }
        }
        let mut scopes = HashMap::new();
        for (principal, entry) in file.scopes {
            let at = |message: String| at_key(text, &["scopes", &principal], message);
            let key = entry.key.trim();
            if key.is_empty() || key.len() > 128 || key.to_ascii_lowercase().starts_with("aws:") {
                return Err(at(format!(
                    "the scope of {principal} needs a tag key of 1 to 128 characters, not reserved (aws:), got {:?}",
                    entry.key
                )));
            }
            let value = entry.value.unwrap_or_else(|| principal.clone());
            if value.len() > 256 {
                return Err(at(format!(
                    "the scope of {principal} has a tag value over 256 characters"
                )));
            }
            let scope = TagScope {
                principal: principal.clone(),
                key: key.to_owned(),
                value,
            };
            scopes.insert(principal, scope);
        }
        for (principal, grant) in &file.targets {
            let patterns = grant.accounts.iter().chain(&grant.regions);
            if grant.accounts.is_empty() || patterns.clone().any(String::is_empty) {
                return Err(at_key(
                    text,
                    &["targets", principal],
                    format!(
                        "the targets of {principal} need at least one account pattern, and no empty pattern"
                    ),
                ));
            }
        }
        Ok(Authorization {
            roles,
            grants: file.grants,
            scopes,
            targets: file.targets,
        })
    }

    /// What is in force, in a line (what `ec2-grpc check` reports).
    pub fn describe(&self) -> String {
        format!(
            "{} roles, {} principals granted, {} scoped, {} with targets beyond the home account",
            self.roles.len(),
            self.grants.len(),
            self.scopes.len(),
            self.targets.len()
        )
    }

    /// The tag `principal` is limited to, if any.
    pub fn scope(&self, principal: &str) -> Option<&TagScope> {
        self.scopes.get(principal)
    }

    /// The accounts and regions `principal` may reach (unnamed: the home account only).
    pub fn targets(&self, principal: &str) -> TargetGrant {
        self.targets
            .get(principal)
            .cloned()
            .unwrap_or_else(TargetGrant::home_only)
    }

    /// Whether `principal` may call `permission` (an RPC name).
    pub fn permits(&self, principal: &str, permission: &str) -> bool {
        self.grants.get(principal).is_some_and(|granted| {
            granted
                .iter()
                .filter_map(|r| self.roles.get(r))
                .any(|perms| perms.contains("*") || perms.contains(permission))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_their_permissions_only() {
        let authz = Authorization::parse(
            "[roles]\nauditor = [\"DescribeInstances\"]\n[grants]\nbot = [\"operator\"]\nro = [\"reader\"]\nboss = [\"admin\"]\naudit = [\"auditor\"]\n",
        )
        .unwrap();
        assert!(authz.permits("bot", "StopInstances"));
        assert!(authz.permits("bot", "DescribeInstances"));
        assert!(!authz.permits("bot", "RunInstances"));
        assert!(!authz.permits("ro", "RunInstances"));
        assert!(authz.permits("ro", "WatchInstances") && authz.permits("ro", "WaitInstances"));
        // Attaching, detaching and deleting interfaces is not an operator's by default.
        for rpc in [
            "AttachNetworkInterface",
            "DetachNetworkInterface",
            "DeleteNetworkInterface",
            "DeleteNetworkInterfaces",
        ] {
            assert!(
                !authz.permits("bot", rpc) && authz.permits("boss", rpc),
                "{rpc}"
            );
        }
        assert!(authz.permits("boss", "TerminateInstances"));
        assert!(authz.permits("audit", "DescribeInstances"));
        assert!(!authz.permits("nobody", "DescribeInstances"));
        assert_eq!(
            Authorization::parse("[grants]\nok = [\"reader\"]\nx = [\"ghost\"]\n").unwrap_err(),
            "line 3: x is granted the unknown role \"ghost\""
        );
        assert!(authz.scope("bot").is_none());
    }

    #[test]
    fn scopes_name_a_tag_whose_value_defaults_to_the_principal() {
        let authz = Authorization::parse(
            "[grants]\nteam-a = [\"admin\"]\n[scopes]\nteam-a = { key = \"owner\" }\nci = { key = \"team\", value = \"platform\" }\n",
        )
        .unwrap();
        assert_eq!(
            authz.scope("team-a").map(|s| s.tag()),
            Some("owner=team-a".into())
        );
        assert_eq!(
            authz.scope("ci").map(|s| s.tag()),
            Some("team=platform".into())
        );
        assert!(authz.scope("other").is_none());
        assert!(Authorization::parse("[scopes]\nx = { key = \"\" }\n").is_err());
        assert!(Authorization::parse("[scopes]\nx = { key = \"aws:owner\" }\n").is_err());
        assert!(Authorization::parse("[scopes]\nx = { tag = \"owner\" }\n").is_err());
    }

    #[test]
    fn targets_grant_accounts_and_regions_and_default_to_the_home_account() {
        let authz = Authorization::parse(
            "[grants]\nci = [\"reader\"]\n[targets]\nci = { accounts = [\"dev-*\"], regions = [\"eu-*\"] }\nops = { accounts = [\"*\"] }\n",
        )
        .unwrap();
        assert!(
            authz
                .targets("ci")
                .allows("dev-1", None, false, "eu-west-1")
        );
        assert!(!authz.targets("ci").allows("prod", None, false, "eu-west-1"));
        assert!(
            authz
                .targets("ops")
                .allows("prod", None, false, "ap-south-1")
        );
        assert_eq!(authz.targets("nobody"), TargetGrant::home_only());
        assert!(Authorization::parse("[targets]\nx = { accounts = [] }\n").is_err());
        assert!(
            Authorization::parse("[targets]\nx = { accounts = [\"a\"], zones = [] }\n").is_err()
        );
    }
}
