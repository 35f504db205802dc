//! The AWS side, proved with the gateway's own AWS configuration: whose the home credentials
//! are (`sts:GetCallerIdentity`), each account's role assumed as the gateway assumes it, and
//! one DryRun DescribeInstances per account and region (EC2 answers `DryRunOperation` when
//! the call would be allowed, `UnauthorizedOperation` when not, and spends no capacity).

use super::Report;
use crate::targets::accounts::{Account, Accounts};
use crate::targets::{Factory, credentials};
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_ec2::config::SharedCredentialsProvider;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata};

/// Proves the home credentials, then each account of `accounts` (none when the accounts file
/// had a problem: the home account alone is proved) in each of its regions.
pub async fn check(report: &mut Report, factory: &Factory, accounts: Option<&Accounts>) {
    let sts = aws_sdk_sts::Client::new(factory.base());
    let home_id = match sts.get_caller_identity().send().await {
        Ok(me) => {
            let account = me.account().unwrap_or_default().to_owned();
            report.add(
                "home credentials",
                Ok(format!(
                    "{} (account {account})",
                    me.arn().unwrap_or("an unnamed identity")
                )),
            );
            Some(account)
        }
        Err(e) => {
            report.add(
                "home credentials",
                Err(format!(
                    "sts:GetCallerIdentity failed: {}",
                    DisplayErrorContext(&e)
                )),
            );
            None
        }
    };
    let fallback;
    let accounts = match accounts {
        Some(accounts) => accounts,
        None => {
            fallback = Accounts::home_only(&factory.home_region(), None);
            &fallback
        }
    };
    if let (Some(declared), Some(actual)) = (&accounts.home.id, &home_id)
        && declared != actual
    {
        report.add(
            "accounts file",
            Err(format!(
                "[home] id {declared} is not the home credentials' account ({actual})"
            )),
        );
    }
    for account in accounts.all() {
        let credentials = if account.is_home() {
            None
        } else {
            match assume(factory, account).await {
                Ok(provider) => Some(provider),
                Err(problem) => {
                    report.add(format!("account {}", account.alias), Err(problem));
                    continue;
                }
            }
        };
        if let Some(role) = account.roles.last() {
            let how = if account.source_identity {
                format!(
                    " with SourceIdentity {CHECK_SOURCE_IDENTITY} (sts:SetSourceIdentity allowed)"
                )
            } else {
                String::new()
            };
            report.add(
                format!("account {}", account.alias),
                Ok(format!("assumed {role}{how}")),
            );
        }
        for region in &account.regions {
            let conf = factory.target_config(region, credentials.clone());
            report.add(
                format!("account {} in {region}", account.alias),
                dry_run_describe(&aws_sdk_ec2::Client::new(&conf)).await,
            );
        }
    }
}

/// The `SourceIdentity` the check's session sets in accounts whose callers get sessions of
/// their own: proves the role's trust policy allows `sts:SetSourceIdentity`.
pub const CHECK_SOURCE_IDENTITY: &str = "ec2-grpc-check";

/// `account`'s role (chain), assumed once now as the gateway would assume it (with a
/// `SourceIdentity` where callers get sessions of their own): its session's credentials, for
/// the account's DryRun calls.
async fn assume(factory: &Factory, account: &Account) -> Result<SharedCredentialsProvider, String> {
    let identity = account.source_identity.then_some(CHECK_SOURCE_IDENTITY);
    let session = credentials::assumed_role(factory.base(), account, identity)
        .await
        .provide_credentials()
        .await
        // The gateway's own error (the role, STS's code, message and request id) is the source.
        .map_err(|e| {
            std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| s.to_string())
        })?;
    Ok(SharedCredentialsProvider::new(session))
}

/// Whether the credentials may call DescribeInstances there, asked with DryRun.
async fn dry_run_describe(ec2: &aws_sdk_ec2::Client) -> Result<String, String> {
    match ec2.describe_instances().dry_run(true).send().await {
        Err(e) if e.code() == Some("DryRunOperation") => {
            Ok("DescribeInstances allowed (DryRun)".to_owned())
        }
        // An EC2 stand-in that ignores DryRun answers in full: reachable and allowed.
        Ok(_) => Ok("DescribeInstances answered".to_owned()),
        Err(e) => Err(format!(
            "DescribeInstances (DryRun) failed: {}",
            match (e.code(), e.message()) {
                (Some(code), message) => format!("{code}: {}", message.unwrap_or_default()),
                _ => DisplayErrorContext(&e).to_string(),
            }
        )),
    }
}
