//! Authorization: per-RPC permissions (the RPC's name, or `*`), grouped in roles, granted to
//! principals. Built-in roles: `reader` (describes and streams), `operator` (start, stop,
//! reboot, monitor, unmonitor, tags, and what readers may), `admin` (everything). A TOML file
//! may add or redefine roles and grants:
//!
//! ```toml
//! [roles]
//! auditor = ["DescribeInstances", "DescribeInstancesStream"]
//!
//! [grants]
//! ci-bot = ["operator"]
//! inventory = ["reader"]
//! ```

use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Describes and streams.
const READER: &[&str] = &[
    "DescribeInstances",
    "DescribeInstancesStream",
    "DescribeNetworkInterfaces",
    "DescribeNetworkInterfacesStream",
];
/// The instance actions that do not create or destroy.
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
}

/// Roles and grants in force.
#[derive(Debug, Clone)]
pub struct Authorization {
    roles: HashMap<String, HashSet<String>>,
    grants: HashMap<String, Vec<String>>,
}

impl Authorization {
    /// The built-in roles and the grants (and extra roles) of `path`.
    pub fn load(path: &Path) -> Result<Authorization, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the roles file {}: {e}", path.display()))?;
        Authorization::parse(&text).map_err(|e| format!("roles file {}: {e}", path.display()))
    }

    fn parse(text: &str) -> Result<Authorization, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<HashSet<_>>();
        let mut roles = HashMap::from([
            ("reader".to_owned(), set(READER)),
            (
                "operator".to_owned(),
                set(READER).union(&set(OPERATOR)).cloned().collect(),
            ),
            ("admin".to_owned(), set(&["*"])),
        ]);
        for (role, permissions) in file.roles {
            roles.insert(role, permissions.into_iter().collect());
        }
        for (principal, granted) in &file.grants {
            if let Some(unknown) = granted.iter().find(|r| !roles.contains_key(*r)) {
                return Err(format!(
                    "{principal} is granted the unknown role {unknown:?}"
                ));
            }
        }
        Ok(Authorization {
            roles,
            grants: file.grants,
        })
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
        assert!(authz.permits("boss", "TerminateInstances"));
        assert!(authz.permits("audit", "DescribeInstances"));
        assert!(!authz.permits("nobody", "DescribeInstances"));
        assert!(Authorization::parse("[grants]\nx = [\"ghost\"]\n").is_err());
    }
}
