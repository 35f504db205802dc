//! The configuration files and settings the server would read at start, read by the same
//! loaders: tokens, JWKS, roles, TLS (with the certificate's expiry), the audit trail's policy
//! and log, accounts and the Redis settings. Nothing here connects anywhere but a JWKS URL, which the server fetches at start
//! too.

use super::Report;
use crate::audit::policy::Policy;
use crate::audit::sink::Destination;
use crate::auth::jwt::JwtVerifier;
use crate::auth::{roles, tokens};
use crate::protection::budget::shared::{self, redis_location};
use crate::server;
use crate::targets::accounts::{self, Accounts};
use crate::tls::{self, TlsFiles};
use std::path::Path;

/// Checks every file and setting of `settings`; answers the accounts in force (the file's, or
/// the home account alone in `home_region`) unless the accounts file has a problem.
pub async fn check(
    report: &mut Report,
    settings: &server::Settings,
    home_region: &str,
) -> Option<Accounts> {
    let auth = &settings.auth;
    if let Some(path) = &auth.tokens_file {
        let loaded =
            tokens::load(path).map(|t| format!("{}: {} tokens", shown(path), t.get().count()));
        report.add("tokens file", loaded);
    }
    if let Some(path) = &auth.jwks_file {
        let loaded = JwtVerifier::load(path, auth.jwt_rules.clone())
            .map(|jwt| format!("{}: {} keys", shown(path), jwt.key_count()));
        report.add("JWKS file", loaded);
    }
    if let Some(url) = &auth.jwks_url {
        let fetched = JwtVerifier::fetch(url, auth.jwks_refresh, auth.jwt_rules.clone())
            .await
            .map(|jwt| format!("{url}: {} keys", jwt.key_count()));
        report.add("JWKS URL", fetched);
    }
    if let Some(path) = &auth.roles_file {
        let loaded = roles::load(path).map(|r| format!("{}: {}", shown(path), r.get().describe()));
        report.add("roles file", loaded);
    }
    if let Some(files) = &settings.tls {
        report.add("TLS", check_tls(files));
    }
    if let Some(redis) = &settings.budget.redis {
        let client = redis
            .password()
            .and_then(|password| shared::client(&redis.url, password.as_ref()));
        let settings = client.map(|_| {
            format!(
                "Redis at {} (reached only with --aws)",
                redis_location(&redis.url.0)
            )
        });
        report.add("EC2 budget through Redis", settings);
    }
    if let Some(audit) = &settings.audit {
        report.add("audit trail", check_audit(audit));
    }
    match &settings.accounts_file {
        Some(path) => {
            let loaded = accounts::load(path, home_region).map(|file| file.get().clone());
            let found = loaded
                .as_ref()
                .map(|a| format!("{}: {}", shown(path), describe(a)))
                .map_err(Clone::clone);
            report.add("accounts file", found);
            loaded.ok()
        }
        None => Some(Accounts::home_only(home_region, None)),
    }
}

/// The audit trail's policy file (parsed as the server parses it) and its destination (a
/// file the gateway can append to, or stdout).
fn check_audit(audit: &server::AuditSettings) -> Result<String, String> {
    let policy = match &audit.policy_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the audit policy {}: {e}", shown(path)))?;
            let parsed = Policy::parse(&text).map_err(|e| format!("{}: {e}", shown(path)))?;
            format!("policy {}: {} rules", shown(path), parsed.rules.len())
        }
        None => "the default policy (every change at request level, no reads)".to_owned(),
    };
    let destination = match &audit.destination {
        Destination::Stdout => "to stdout".to_owned(),
        Destination::File(path) => {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("cannot append to the audit log {}: {e}", shown(path)))?;
            format!("to {}", shown(path))
        }
    };
    let required = if audit.required { ", required" } else { "" };
    Ok(format!("{destination}, {policy}{required}"))
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// The accounts and their regions, in a line.
fn describe(accounts: &Accounts) -> String {
    let each: Vec<String> = accounts
        .all()
        .map(|a| {
            let id = a.id.as_deref().unwrap_or("id from the credentials");
            format!("{} ({id}; {})", a.alias, a.regions.join(", "))
        })
        .collect();
    each.join("; ")
}

/// The TLS files load as the server loads them (a key that does not match its certificate is
/// refused there), and the server's certificate is valid now.
fn check_tls(files: &TlsFiles) -> Result<String, String> {
    tls::load(files)?;
    let pem = std::fs::read(&files.cert)
        .map_err(|e| format!("cannot read {}: {e}", shown(&files.cert)))?;
    let (_, leaf) = x509_parser::pem::parse_x509_pem(&pem)
        .map_err(|e| format!("{}: not a PEM certificate: {e}", shown(&files.cert)))?;
    let certificate = leaf
        .parse_x509()
        .map_err(|e| format!("{}: not an X.509 certificate: {e}", shown(&files.cert)))?;
    let validity = certificate.validity();
    match validity.time_to_expiration() {
        Some(left) if validity.is_valid() => Ok(format!(
            "{} and {} match{}; the certificate ({}) expires in {} days",
            shown(&files.cert),
            shown(&files.key),
            match &files.client_ca {
                Some(ca) => format!("; client CA {}", shown(ca)),
                None => String::new(),
            },
            certificate.subject(),
            left.whole_days()
        )),
        _ => Err(format!(
            "{}: the certificate is not valid now (valid from {} to {})",
            shown(&files.cert),
            validity.not_before,
            validity.not_after
        )),
    }
}
