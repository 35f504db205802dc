//! Sessions per caller, for accounts with `source_identity = true`: the account's role is
//! assumed once per caller as well, with the caller's principal as the session's
//! `SourceIdentity`, so CloudTrail's record of each change made for that caller names it
//! (`userIdentity.sessionContext.sourceIdentity`). STS keeps the value through role chaining,
//! and nobody holding the session can change it. The role's trust policy must allow
//! `sts:SetSourceIdentity`.
//!
//! The cost: one AssumeRole per caller and account per session (the identity cache renews
//! each before it expires, as it does the account's own). The regions of an account share a
//! caller's session; each target keeps a client per caller over its own HTTP client, so the
//! caller's calls spend the target's EC2 budget like any other. Reads (describes and lookups,
//! which may be shared by several callers: coalesced, merged or kept, and the instance view)
//! are made in the account's own session: they are nobody's in particular.

use super::accounts::Account;
use super::credentials;
use aws_config::SdkConfig;
use aws_sdk_ec2::config::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::identity::{IdentityCachePartition, ResolveIdentity};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// Most caller sessions kept over all accounts, and clients per target: one more is made
/// (at the cost of an AssumeRole) when a forgotten caller calls again. Each session is a
/// partition of the identity cache (one per hop of a chain), which is sized well above this
/// (`factory`): past it, the cache forgets an arbitrary session, which costs an AssumeRole,
/// never another caller's credentials.
pub const MAX_SESSIONS: usize = 512;

/// Hex digits of the principal's SHA-256 a rewritten `SourceIdentity` ends with.
const DIGEST_HEX: usize = 16;

/// The `SourceIdentity` of `principal`: the principal itself when STS takes it (2 to 64 of
/// letters, digits and `_+=,.@-`, not starting with `aws:`) and it does not end as a
/// rewritten one does; else its allowed characters (others as `-`), cut to fit, then `-` and
/// 16 hex digits of its SHA-256. A principal kept as it is never looks rewritten, so two
/// principals share an identity only if their digests share 64 bits. The audit event says
/// which identity a call used.
pub fn source_identity(principal: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    let fits = (2..=64).contains(&principal.len())
        && principal.chars().all(allowed)
        && !principal.to_ascii_lowercase().starts_with("aws:")
        && !looks_rewritten(principal);
    if fits {
        return principal.to_owned();
    }
    let kept: String = principal
        .chars()
        .map(|c| if allowed(c) { c } else { '-' })
        .take(64 - 1 - DIGEST_HEX)
        .collect();
    let digest = Sha256::digest(principal.as_bytes());
    let hex: String = digest[..DIGEST_HEX / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{kept}-{hex}")
}

/// Whether `identity` ends as `source_identity` rewrites: `-` and 16 lowercase hex digits.
fn looks_rewritten(identity: &str) -> bool {
    let bytes = identity.as_bytes();
    bytes.len() > DIGEST_HEX
        && bytes[bytes.len() - DIGEST_HEX - 1] == b'-'
        && bytes[bytes.len() - DIGEST_HEX..]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// Every account's caller sessions: credentials by account alias and principal, with the
/// account settings they were made for.
#[derive(Debug, Default)]
pub struct CallerSessions {
    sessions: Mutex<HashMap<(String, String), (Account, SharedCredentialsProvider)>>,
}

impl CallerSessions {
    /// The credentials of `principal`'s session in `account` (its `SourceIdentity`:
    /// `identity`), assumed with `base`'s: made once per caller and account, kept while the
    /// account's role settings stay the same.
    pub async fn credentials(
        &self,
        base: &SdkConfig,
        account: &Account,
        principal: &str,
        identity: &str,
    ) -> SharedCredentialsProvider {
        let key = (account.alias.clone(), principal.to_owned());
        if let Some(provider) = self.kept(&key, account) {
            return provider;
        }
        let made = credentials::assumed_role(base, account, Some(identity)).await;
        let mut sessions = self.sessions.lock().expect("sessions lock");
        // A concurrent first call of the same caller may have kept one: use it (one session).
        if let Some((made_for, provider)) = sessions.get(&key)
            && made_for.same_credentials(account)
        {
            return provider.clone();
        }
        make_room(&mut sessions);
        sessions.insert(key, (account.clone(), made.clone()));
        made
    }

    fn kept(&self, key: &(String, String), account: &Account) -> Option<SharedCredentialsProvider> {
        let sessions = self.sessions.lock().expect("sessions lock");
        let (made_for, provider) = sessions.get(key)?;
        made_for.same_credentials(account).then(|| provider.clone())
    }

    /// Forgets the sessions of accounts `kept` says no longer exist.
    pub fn retain(&self, kept: impl Fn(&str) -> bool) {
        let mut sessions = self.sessions.lock().expect("sessions lock");
        sessions.retain(|(alias, _), _| kept(alias));
    }
}

/// One target's EC2 clients, by the principal of the caller they sign for.
#[derive(Debug, Default)]
pub struct CallerClients {
    /// By principal: the client, and the identity cache partition of the session it signs
    /// with (a session made again, after the accounts file changed, makes a new client).
    clients: Mutex<HashMap<String, (Option<IdentityCachePartition>, aws_sdk_ec2::Client)>>,
}

impl CallerClients {
    /// The client signing with `credentials` for `principal`: the target's `own` client (its
    /// HTTP client and EC2 budget, retries, timeouts, interceptors) with the caller's
    /// credentials instead of the account's. Made once per caller (while `credentials` stay
    /// the caller's session).
    pub fn client(
        &self,
        principal: &str,
        own: &aws_sdk_ec2::Client,
        credentials: SharedCredentialsProvider,
    ) -> aws_sdk_ec2::Client {
        let session = credentials.cache_partition();
        let mut clients = self.clients.lock().expect("clients lock");
        if let Some((signs_with, client)) = clients.get(principal)
            && *signs_with == session
        {
            return client.clone();
        }
        // `set_credentials_provider` keeps the provider's identity cache partition (the
        // builder's `credentials_provider` would wrap it in a new one: a session per client).
        let mut config = own.config().to_builder();
        config.set_credentials_provider(Some(credentials));
        let config = config.build();
        let client = aws_sdk_ec2::Client::from_conf(config);
        make_room(&mut clients);
        clients.insert(principal.to_owned(), (session, client.clone()));
        client
    }
}

/// Makes room for one more entry in `map` when it holds `MAX_SESSIONS`: an arbitrary one
/// goes (as the SDK's identity cache evicts).
fn make_room<K: Clone + Eq + std::hash::Hash, V>(map: &mut HashMap<K, V>) {
    if map.len() >= MAX_SESSIONS
        && let Some(key) = map.keys().next().cloned()
    {
        map.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_sts_takes_are_kept_as_they_are() {
        assert_eq!(source_identity("alice"), "alice");
        assert_eq!(
            source_identity("svc-billing@corp.example"),
            "svc-billing@corp.example"
        );
    }

    #[test]
    fn other_principals_become_distinct_identities_sts_takes() {
        let a = source_identity("CN=billing, O=Corp");
        let b = source_identity("CN=billing; O=Corp");
        assert_ne!(a, b);
        assert!(a.starts_with("CN=billing,-O=Corp-"), "{a}");
        let long = source_identity(&"x".repeat(100));
        let short = source_identity("a");
        // A principal shaped like a rewritten identity is rewritten too: it cannot take the
        // identity of the principal it imitates.
        let imitation = source_identity(&short);
        assert_ne!(imitation, short);
        for made in [&a, &b, &long, &short, &imitation, &source_identity("aws:x")] {
            assert!((2..=64).contains(&made.len()), "{made}");
            assert!(
                made.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)),
                "{made}"
            );
            assert!(!made.starts_with("aws:"), "{made}");
            assert!(looks_rewritten(made), "{made}");
        }
    }
}
