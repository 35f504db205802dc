//! Target grants: which accounts and regions a principal may reach, from the roles file's
//! `[targets]` table (patterns where `*` matches any run of characters):
//!
//! ```toml
//! [targets]
//! ci-bot = { accounts = ["dev-*"], regions = ["eu-*", "us-east-1"] }
//! platform = { accounts = ["*"] }          # regions default to every region
//! ```
//!
//! Account patterns match an account's alias or its 12-digit id. A principal the table does
//! not name reaches the home account only (in any region the accounts file allows it), so an
//! accounts file added later opens no account to anyone until the roles file says so.

use serde::Deserialize;

/// What one principal may reach.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetGrant {
    /// Patterns of account aliases or ids.
    pub accounts: Vec<String>,
    /// Patterns of regions.
    #[serde(default = "every_region")]
    pub regions: Vec<String>,
}

fn every_region() -> Vec<String> {
    vec!["*".to_owned()]
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters (none included)
/// and everything else matches itself.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty(); // no `*`: the whole text is the first part
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

impl TargetGrant {
    /// The home account only: what a principal without a `[targets]` entry reaches.
    pub fn home_only() -> TargetGrant {
        TargetGrant {
            accounts: Vec::new(),
            regions: every_region(),
        }
    }

    /// Whether the grant reaches the account named `alias` (with `id`, if known; `home` for
    /// the home account) in `region`.
    pub fn allows(&self, alias: &str, id: Option<&str>, home: bool, region: &str) -> bool {
        let account = (home && self.accounts.is_empty())
            || self.accounts.iter().any(|pattern| {
                glob_matches(pattern, alias) || id.is_some_and(|id| glob_matches(pattern, id))
            });
        account
            && self
                .regions
                .iter()
                .any(|pattern| glob_matches(pattern, region))
    }

    /// What the grant reaches, for error messages.
    pub fn describe(&self) -> String {
        let accounts = if self.accounts.is_empty() {
            "the home account".to_owned()
        } else {
            format!("accounts {}", self.accounts.join(", "))
        };
        format!("{accounts} in regions {}", self.regions.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_names_with_stars_for_any_run() {
        for (pattern, text) in [
            ("dev-*", "dev-1"),
            ("dev-*", "dev-"),
            ("*", ""),
            ("*-prod", "eu-prod"),
            ("eu-*-1", "eu-west-1"),
            ("a*b*c", "abc"),
            ("exact", "exact"),
        ] {
            assert!(glob_matches(pattern, text), "{pattern} ~ {text}");
        }
        for (pattern, text) in [
            ("dev-*", "prod-1"),
            ("dev", "dev-1"),
            ("*-prod", "prod-eu"),
            ("eu-*-1", "eu-west-2"),
            ("a*b*c", "acb"),
            ("ab*ba", "aba"),
        ] {
            assert!(!glob_matches(pattern, text), "{pattern} !~ {text}");
        }
    }

    #[test]
    fn grants_name_accounts_by_alias_or_id_and_default_to_home() {
        let dev = TargetGrant {
            accounts: vec!["dev-*".into(), "4444*".into()],
            regions: vec!["eu-*".into()],
        };
        assert!(dev.allows("dev-a", Some("111111111111"), false, "eu-west-1"));
        assert!(!dev.allows("dev-a", Some("111111111111"), false, "us-east-1"));
        assert!(dev.allows("other", Some("444444444444"), false, "eu-north-1"));
        assert!(!dev.allows("prod", Some("222222222222"), false, "eu-west-1"));
        assert!(
            !dev.allows("home", None, true, "eu-west-1"),
            "home is not dev-*"
        );
        let home = TargetGrant::home_only();
        assert!(home.allows("home", None, true, "us-west-2"));
        assert!(!home.allows("dev-a", Some("111111111111"), false, "us-east-1"));
        assert_eq!(dev.describe(), "accounts dev-*, 4444* in regions eu-*");
        assert_eq!(home.describe(), "the home account in regions *");
    }
}
