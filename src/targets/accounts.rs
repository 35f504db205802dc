//! The accounts file (`--accounts-file`, TOML): which AWS accounts and regions the gateway
//! serves besides its home, how it reaches each (the IAM role to assume, or a chain of them),
//! and per account or region overrides of the EC2 budget share and of the inventory.
//!
//! ```toml
//! [home]                      # the gateway's own account (the standard AWS chain)
//! alias = "platform"          # default "home"
//! id = "123456789012"         # default: what the credentials say, if they say it
//! regions = ["us-east-1", "eu-west-1"]   # default: the configured region only
//!
//! [accounts.dev]
//! id = "111111111111"
//! role_arn = "arn:aws:iam::111111111111:role/ec2-grpc"
//! # or a chain, assumed in order: roles = ["arn:...:role/hop", "arn:...:role/ec2-grpc"]
//! external_id = "ec2-grpc-dev"         # optional, checked by the role's trust policy
//! session_name = "ec2-grpc"            # default "ec2-grpc"
//! session_seconds = 3600               # default: the role's (STS: 1 hour)
//! source_identity = true               # default false: each caller its own session
//! regions = ["us-east-1", "us-west-2"] # required
//! budget_share = 0.5                   # default: --ec2-budget-share
//! inventory = false                    # default: on when the inventory is on
//!
//! [accounts.dev.overrides.us-west-2]
//! budget_share = 0.2
//! inventory = true
//! events_queue_url = "https://sqs.us-west-2.amazonaws.com/111111111111/ec2-events"
//! ```
//!
//! `source_identity = true` assumes the role once per caller as well, with the caller's principal
//! as the session's `SourceIdentity`, so CloudTrail's `userIdentity.sessionContext.sourceIdentity`
//! names who asked (see `caller_sessions`; the role's trust policy must allow
//! `sts:SetSourceIdentity`).
//!
//! `events_queue_url` (per region: `[home.overrides.REGION]` for the home account; the
//! `--inventory-events-queue-url` flag names the home region's) is the SQS queue EventBridge
//! delivers that account and region's EC2 events to (see `events`).
//!
//! The file is read again when it changes (`watched`); a file that does not parse keeps the
//! one in force. Resolving a call's `account` and `region` against it is `Accounts::target`.

use super::Target;
use crate::error::Error;
use crate::toml_lines::at_key;
use crate::watched::Watched;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The alias the home account has when the file gives it none.
pub const HOME_ALIAS: &str = "home";

/// The session name assumed roles get when the file gives none.
const DEFAULT_SESSION_NAME: &str = "ec2-grpc";

/// The file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    home: HomeEntry,
    #[serde(default)]
    accounts: BTreeMap<String, AccountEntry>,
}

/// `[home]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HomeEntry {
    alias: Option<String>,
    id: Option<String>,
    regions: Option<Vec<String>>,
    budget_share: Option<f64>,
    inventory: Option<bool>,
    #[serde(default)]
    overrides: BTreeMap<String, Overrides>,
}

/// One `[accounts.ALIAS]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountEntry {
    id: String,
    role_arn: Option<String>,
    roles: Option<Vec<String>>,
    external_id: Option<String>,
    session_name: Option<String>,
    session_seconds: Option<u64>,
    #[serde(default)]
    source_identity: bool,
    regions: Vec<String>,
    budget_share: Option<f64>,
    inventory: Option<bool>,
    #[serde(default)]
    overrides: BTreeMap<String, Overrides>,
}

/// What one region of an account changes from the account's settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// The part of the account's EC2 rate in this region the gateway may spend.
    pub budget_share: Option<f64>,
    /// Whether the region's instances are kept in a view.
    pub inventory: Option<bool>,
    /// The SQS queue EventBridge delivers the region's EC2 events to (per region only: a
    /// queue serves one account and region).
    pub events_queue_url: Option<String>,
}

/// How the gateway reaches an account: its own credentials, or a role (chain) assumed with
/// them.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// The name callers use (`home` for the home account unless the file names it).
    pub alias: String,
    /// The 12-digit account id; the home account's may be unknown.
    pub id: Option<String>,
    /// The roles to assume, in order (each with the credentials of the one before); empty for
    /// the home account.
    pub roles: Vec<String>,
    /// The `sts:ExternalId` the roles' trust policies expect.
    pub external_id: Option<String>,
    /// The role session's name, as CloudTrail shows it.
    pub session_name: String,
    /// How long an assumed session lasts; `None`: the role's default.
    pub session_length: Option<Duration>,
    /// Whether each caller gets a session of its own, with its principal as the session's
    /// `SourceIdentity` (CloudTrail then names the caller); never for the home account.
    pub source_identity: bool,
    /// The regions callers may name for this account.
    pub regions: Vec<String>,
    /// The account's budget share, when it differs from the gateway's.
    pub budget_share: Option<f64>,
    /// Whether the account's regions keep an instance view, when it differs.
    pub inventory: Option<bool>,
    /// Per region overrides.
    pub overrides: BTreeMap<String, Overrides>,
}

impl Account {
    /// Whether this is the home account (reached with the gateway's own credentials).
    pub fn is_home(&self) -> bool {
        self.roles.is_empty()
    }

    /// Whether `other` reaches `region` as this does: the same credentials (roles, external
    /// id, session) and the same settings there. Anything else (another region added, say)
    /// keeps what was built for `region`.
    pub fn reaches_as(&self, other: &Account, region: &str) -> bool {
        self.same_credentials(other) && self.settings_in(region) == other.settings_in(region)
    }

    /// Whether `other` is assumed as this is: the same roles, external id and session.
    pub fn same_credentials(&self, other: &Account) -> bool {
        self.roles == other.roles
            && self.external_id == other.external_id
            && self.session_name == other.session_name
            && self.session_length == other.session_length
    }

    /// What applies in `region`: the region's override, else the account's setting.
    pub fn settings_in(&self, region: &str) -> Overrides {
        let region_overrides = self.overrides.get(region).cloned().unwrap_or_default();
        Overrides {
            budget_share: region_overrides.budget_share.or(self.budget_share),
            inventory: region_overrides.inventory.or(self.inventory),
            events_queue_url: region_overrides.events_queue_url,
        }
    }
}

/// The accounts in force: the home account and the others, by alias.
#[derive(Debug, Clone, PartialEq)]
pub struct Accounts {
    /// The gateway's own account.
    pub home: Account,
    /// The accounts reached through a role, by alias.
    pub others: BTreeMap<String, Account>,
}

/// A 12-digit AWS account id.
fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The accounts file, kept current (once watched).
pub type AccountsFile = Watched<Accounts>;

/// Loads the accounts file at `path` (`home_region`: the configured region); errors name the
/// file, the line and what is wrong.
pub fn load(path: &Path, home_region: &str) -> Result<Arc<AccountsFile>, String> {
    let region = home_region.to_owned();
    Watched::load(path, move |text| Accounts::parse(text, &region, None))
}

/// A region name as AWS spells them: lowercase letters, digits and dashes (`us-east-1`,
/// `us-gov-west-1`, `eu-central-2`).
pub fn is_region_name(text: &str) -> bool {
    (4..=32).contains(&text.len())
        && text.contains('-')
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

/// An alias callers may type: letters, digits, `-`, `_`, `.`; not an account id.
fn check_alias(alias: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if alias.is_empty() || alias.len() > 64 || !alias.chars().all(allowed) {
        return Err(format!(
            "the alias {alias:?} must be 1 to 64 letters, digits, - _ or ."
        ));
    }
    if is_account_id(alias) {
        return Err(format!(
            "the alias {alias:?} looks like an account id: give the id as `id`"
        ));
    }
    Ok(())
}

/// An IAM role ARN: `arn:PARTITION:iam::ACCOUNT:role/NAME`.
fn check_role_arn(alias: &str, arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let valid = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && is_account_id(parts[4])
        && parts[5].starts_with("role/")
        && parts[5].len() > "role/".len();
    if valid {
        Ok(())
    } else {
        Err(format!(
            "account {alias}: {arn:?} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
        ))
    }
}

/// The regions of an entry: at least one, each a region name.
fn check_regions(alias: &str, regions: &[String]) -> Result<(), String> {
    if regions.is_empty() {
        return Err(format!("account {alias}: `regions` lists no region"));
    }
    match regions.iter().find(|r| !is_region_name(r)) {
        Some(bad) => Err(format!(
            "account {alias}: {bad:?} is not a region name (such as us-east-1)"
        )),
        None => Ok(()),
    }
}

/// A budget share: 0 < share <= 1.
fn check_share(alias: &str, share: Option<f64>) -> Result<(), String> {
    match share {
        Some(s) if !(s > 0.0 && s <= 1.0) => Err(format!(
            "account {alias}: budget_share must be above 0 and at most 1, got {s}"
        )),
        _ => Ok(()),
    }
}

/// Overrides name regions of the account only.
fn check_overrides(
    alias: &str,
    regions: &[String],
    overrides: &BTreeMap<String, Overrides>,
) -> Result<(), String> {
    for (region, o) in overrides {
        if !regions.contains(region) {
            return Err(format!(
                "account {alias}: overrides name {region:?}, which is not one of its regions"
            ));
        }
        check_share(alias, o.budget_share)?;
    }
    Ok(())
}

/// `home` with what the file's `[home]` table says of it.
fn home_entry(home: &mut Account, entry: HomeEntry) -> Result<(), String> {
    if let Some(alias) = entry.alias {
        check_alias(&alias)?;
        home.alias = alias;
    }
    if let Some(id) = entry.id {
        if !is_account_id(&id) {
            return Err(format!("[home] id {id:?} is not a 12-digit account id"));
        }
        home.id = Some(id);
    }
    if let Some(regions) = entry.regions {
        check_regions(&home.alias, &regions)?;
        home.regions = regions;
    }
    check_share(&home.alias, entry.budget_share)?;
    check_overrides(&home.alias, &home.regions, &entry.overrides)?;
    home.budget_share = entry.budget_share;
    home.inventory = entry.inventory;
    home.overrides = entry.overrides;
    Ok(())
}

/// The account an `[accounts.ALIAS]` table describes.
fn account_entry(alias: &str, entry: AccountEntry) -> Result<Account, String> {
    check_alias(alias)?;
    if !is_account_id(&entry.id) {
        return Err(format!(
            "account {alias}: id {:?} is not a 12-digit account id",
            entry.id
        ));
    }
    let roles = match (entry.role_arn, entry.roles) {
        (Some(arn), None) => vec![arn],
        (None, Some(chain)) if !chain.is_empty() => chain,
        _ => {
            return Err(format!(
                "account {alias}: give the role to assume as `role_arn`, or a chain as `roles` (not both)"
            ));
        }
    };
    for arn in &roles {
        check_role_arn(alias, arn)?;
    }
    let session_name = entry
        .session_name
        .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_owned());
    let allowed = |c: char| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c);
    if !(2..=64).contains(&session_name.len()) || !session_name.chars().all(allowed) {
        return Err(format!(
            "account {alias}: session_name must be 2 to 64 letters, digits or +=,.@-_"
        ));
    }
    if let Some(seconds) = entry.session_seconds
        && !(900..=43_200).contains(&seconds)
    {
        return Err(format!(
            "account {alias}: session_seconds must be 900 to 43200 (STS's range), got {seconds}"
        ));
    }
    if let Some(external_id) = &entry.external_id
        && !(2..=1224).contains(&external_id.len())
    {
        return Err(format!(
            "account {alias}: external_id must be 2 to 1224 characters"
        ));
    }
    check_regions(alias, &entry.regions)?;
    check_share(alias, entry.budget_share)?;
    check_overrides(alias, &entry.regions, &entry.overrides)?;
    Ok(Account {
        alias: alias.to_owned(),
        id: Some(entry.id),
        roles,
        external_id: entry.external_id,
        session_name,
        session_length: entry.session_seconds.map(Duration::from_secs),
        source_identity: entry.source_identity,
        regions: entry.regions,
        budget_share: entry.budget_share,
        inventory: entry.inventory,
        overrides: entry.overrides,
    })
}

impl Accounts {
    /// The home account alone, in `home_region` (the gateway without an accounts file).
    pub fn home_only(home_region: &str, home_id: Option<String>) -> Accounts {
        Accounts {
            home: Account {
                alias: HOME_ALIAS.to_owned(),
                id: home_id,
                roles: Vec::new(),
                external_id: None,
                session_name: DEFAULT_SESSION_NAME.to_owned(),
                session_length: None,
                source_identity: false,
                regions: vec![home_region.to_owned()],
                budget_share: None,
                inventory: None,
                overrides: BTreeMap::new(),
            },
            others: BTreeMap::new(),
        }
    }

    /// The accounts of a file's `text`; `home_region` and `home_id` are what the AWS
    /// configuration says of the home account. Errors name the account and what is wrong.
    pub fn parse(text: &str, home_region: &str, home_id: Option<&str>) -> Result<Accounts, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut accounts = Accounts::home_only(home_region, home_id.map(str::to_owned));
        home_entry(&mut accounts.home, file.home).map_err(|e| at_key(text, &["home"], e))?;
        let mut ids = BTreeMap::new();
        if let Some(id) = &accounts.home.id {
            ids.insert(id.clone(), accounts.home.alias.clone());
        }
        for (alias, entry) in file.accounts {
            let at = |message: String| at_key(text, &["accounts", &alias], message);
            if alias == accounts.home.alias {
                return Err(at(format!(
                    "account {alias}: the alias is the home account's"
                )));
            }
            let account = account_entry(&alias, entry).map_err(at)?;
            let id = account.id.clone().unwrap_or_default();
            if let Some(other) = ids.insert(id.clone(), alias.clone()) {
                return Err(at(format!(
                    "accounts {other} and {alias} have the same id {id}"
                )));
            }
            accounts.others.insert(alias, account);
        }
        Ok(accounts)
    }

    /// Every account, home first.
    pub fn all(&self) -> impl Iterator<Item = &Account> {
        std::iter::once(&self.home).chain(self.others.values())
    }

    /// The account a call names: empty is the home account; else an alias, or an account id
    /// of the file. Unknown is INVALID_ARGUMENT naming `account` and the known aliases.
    pub fn account(&self, named: &str) -> Result<&Account, Error> {
        if named.is_empty() {
            return Ok(&self.home);
        }
        let found = self
            .all()
            .find(|a| a.alias == named || a.id.as_deref() == Some(named));
        found.ok_or_else(|| {
            let known: Vec<&str> = self.all().map(|a| a.alias.as_str()).collect();
            Error::invalid_field(
                "account",
                format!(
                    "unknown account {named:?}: not an alias or id of the gateway's accounts; known: {}",
                    known.join(", ")
                ),
            )
        })
    }

    /// The target a call names: its account (see `account`) and region (empty: the
    /// account's first region, which for the home account is the configured one). A region
    /// the account does not allow is INVALID_ARGUMENT naming `region` and the allowed ones.
    pub fn target(&self, account: &str, region: &str) -> Result<Target, Error> {
        self.resolve(account, region).map(|(_, target)| target)
    }

    /// `target`, with the account it is in (one lookup for both).
    pub fn resolve(&self, account: &str, region: &str) -> Result<(&Account, Target), Error> {
        let found = self.account(account)?;
        let region = if region.is_empty() {
            found.regions[0].as_str()
        } else {
            region
        };
        if !found.regions.iter().any(|r| r == region) {
            return Err(Error::invalid_field(
                "region",
                format!(
                    "region {region:?} is not allowed for account {}; allowed: {}",
                    found.alias,
                    found.regions.join(", ")
                ),
            ));
        }
        let target = Target {
            alias: found.alias.clone(),
            account_id: found.id.clone(),
            region: region.to_owned(),
            home: found.is_home(),
        };
        Ok((found, target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[home]
alias = "platform"
regions = ["us-east-1", "eu-west-1"]

[accounts.dev]
id = "111111111111"
role_arn = "arn:aws:iam::111111111111:role/ec2-grpc"
external_id = "xyz"
regions = ["us-east-1", "us-west-2"]
budget_share = 0.5
inventory = false

[accounts.dev.overrides.us-west-2]
budget_share = 0.2
events_queue_url = "https://sqs.us-west-2.amazonaws.com/111111111111/ec2-events"
inventory = true

[accounts.prod]
id = "222222222222"
roles = ["arn:aws:iam::333333333333:role/hop", "arn:aws:iam::222222222222:role/ec2-grpc"]
session_seconds = 900
regions = ["eu-west-1"]
"#;

    #[test]
    fn calls_name_accounts_by_alias_or_id_and_regions_they_allow() {
        let accounts = Accounts::parse(FILE, "us-east-1", Some("999999999999")).unwrap();
        let home = accounts.target("", "").unwrap();
        assert_eq!(
            (home.alias.as_str(), home.region.as_str()),
            ("platform", "us-east-1")
        );
        assert_eq!(home.account_id.as_deref(), Some("999999999999"));
        assert_eq!(
            accounts.target("999999999999", "eu-west-1").unwrap().alias,
            "platform"
        );
        let dev = accounts.target("dev", "us-west-2").unwrap();
        assert_eq!(dev.account_id.as_deref(), Some("111111111111"));
        assert_eq!(
            accounts.target("111111111111", "").unwrap().region,
            "us-east-1"
        );
        let prod = &accounts.others["prod"];
        assert_eq!(prod.roles.len(), 2);
        assert_eq!(prod.session_length, Some(Duration::from_secs(900)));
        assert_eq!(prod.session_name, "ec2-grpc");

        let unknown = accounts.target("staging", "").unwrap_err().to_string();
        assert!(
            unknown.contains("account: unknown account \"staging\""),
            "{unknown}"
        );
        assert!(unknown.contains("platform, dev, prod"), "{unknown}");
        let region = accounts
            .target("prod", "us-east-1")
            .unwrap_err()
            .to_string();
        assert!(
            region.contains(
                "region: region \"us-east-1\" is not allowed for account prod; allowed: eu-west-1"
            ),
            "{region}"
        );
        assert!(accounts.target("444444444444", "").is_err());
    }

    #[test]
    fn region_overrides_beat_the_account_settings() {
        let accounts = Accounts::parse(FILE, "us-east-1", None).unwrap();
        let dev = &accounts.others["dev"];
        assert_eq!(
            dev.settings_in("us-west-2"),
            Overrides {
                budget_share: Some(0.2),
                inventory: Some(true),
                events_queue_url: Some(
                    "https://sqs.us-west-2.amazonaws.com/111111111111/ec2-events".into()
                ),
            }
        );
        assert_eq!(
            dev.settings_in("us-east-1"),
            Overrides {
                budget_share: Some(0.5),
                inventory: Some(false),
                events_queue_url: None,
            }
        );
        assert_eq!(accounts.home.settings_in("us-east-1"), Overrides::default());
    }

    #[test]
    fn without_a_file_only_the_configured_home_region_is_served() {
        let accounts = Accounts::home_only("eu-central-1", None);
        assert_eq!(accounts.target("", "").unwrap().region, "eu-central-1");
        assert_eq!(
            accounts.target("home", "eu-central-1").unwrap().alias,
            "home"
        );
        assert!(accounts.target("", "us-east-1").is_err());
        assert!(accounts.target("dev", "").is_err());
    }

    #[test]
    fn mistakes_are_refused_naming_the_account() {
        let bad = |text: &str, says: &str| {
            let e = Accounts::parse(text, "us-east-1", None).unwrap_err();
            assert!(e.contains(says), "{e:?} should say {says:?}");
        };
        let account = |body: &str| format!("[accounts.dev]\n{body}\n");
        bad(
            &account("id = \"1\"\nrole_arn = \"x\"\nregions = [\"us-east-1\"]"),
            "not a 12-digit",
        );
        bad(
            &account("id = \"111111111111\"\nregions = [\"us-east-1\"]"),
            "account dev: give the role",
        );
        bad(
            &account(
                "id = \"111111111111\"\nrole_arn = \"arn:aws:iam::111111111111:user/x\"\nregions = [\"us-east-1\"]",
            ),
            "not an IAM role ARN",
        );
        bad(
            &account(
                "id = \"111111111111\"\nrole_arn = \"arn:aws:iam::111111111111:role/x\"\nregions = [\"US East\"]",
            ),
            "not a region name",
        );
        bad(
            &account(
                "id = \"111111111111\"\nrole_arn = \"arn:aws:iam::111111111111:role/x\"\nregions = [\"us-east-1\"]\nsession_seconds = 60",
            ),
            "900 to 43200",
        );
        bad(
            &account(
                "id = \"111111111111\"\nrole_arn = \"arn:aws:iam::111111111111:role/x\"\nregions = [\"us-east-1\"]\nbudget_share = 2.0",
            ),
            "budget_share",
        );
        bad(
            &account(
                "id = \"111111111111\"\nrole_arn = \"arn:aws:iam::111111111111:role/x\"\nregions = [\"us-east-1\"]\n[accounts.dev.overrides.eu-west-1]\ninventory = true",
            ),
            "not one of its regions",
        );
        bad(
            &account(
                "id = \"111111111111\"\nrole_arn = \"arn:aws:iam::111111111111:role/x\"\nregions = [\"us-east-1\"]\nrole = \"typo\"",
            ),
            "unknown field",
        );
        bad(
            "[accounts.a]\nid = \"111111111111\"\nrole_arn = \"arn:aws:iam::111111111111:role/x\"\nregions = [\"us-east-1\"]\n[accounts.b]\nid = \"111111111111\"\nrole_arn = \"arn:aws:iam::111111111111:role/x\"\nregions = [\"us-east-1\"]\n",
            "have the same id",
        );
        bad(
            "[accounts.home]\nid = \"111111111111\"\nrole_arn = \"arn:aws:iam::111111111111:role/x\"\nregions = [\"us-east-1\"]\n",
            "the home account's",
        );
        bad("[home]\nregions = []\n", "lists no region");
        bad("not toml", "");
    }
}
