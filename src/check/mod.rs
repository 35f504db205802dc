//! `ec2-grpc check`: what the gateway would refuse at start, found before it starts, all at
//! once. It reads every configuration file and flag the server would use, with the server's
//! own loaders (tokens, JWKS, roles, TLS, accounts, the Redis settings), and reports each
//! problem with its file and, in TOML files, its line. With `--aws` it also proves the outside
//! the gateway depends on: the home credentials (`sts:GetCallerIdentity`), each account's role
//! assumed, one DryRun DescribeInstances per account and region, and Redis reachable with the
//! budget script loaded.

mod aws;
mod files;
mod redis_server;

use crate::server;
use crate::targets::Factory;
use std::fmt;

/// One thing checked: what it is, and what was found (a detail, or the problem).
#[derive(Debug)]
pub struct Finding {
    /// What was checked (`roles file`, `account dev in us-west-2`, ...).
    pub subject: String,
    /// `Ok(detail)` when all is well; `Err(problem)` naming the file (and line) at fault.
    pub outcome: Result<String, String>,
}

/// Everything a check found, in the order it was checked.
#[derive(Debug, Default)]
pub struct Report {
    findings: Vec<Finding>,
}

impl Report {
    /// Records what checking `subject` found.
    pub fn add(&mut self, subject: impl Into<String>, outcome: Result<String, String>) {
        self.findings.push(Finding {
            subject: subject.into(),
            outcome,
        });
    }

    /// How many findings are problems.
    pub fn problems(&self) -> usize {
        self.findings.iter().filter(|f| f.outcome.is_err()).count()
    }

    /// The process exit code: 0 when all is well, 2 (the usage-error convention clap follows
    /// too) when something is not.
    pub fn exit_code(&self) -> u8 {
        if self.problems() == 0 { 0 } else { 2 }
    }
}

impl fmt::Display for Report {
    /// One line per finding (`ok` or `PROBLEM`; a multi-line message, such as a TOML syntax
    /// error with its excerpt, indented under it), then a summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            let (mark, text) = match &finding.outcome {
                Ok(detail) => ("ok     ", detail),
                Err(problem) => ("PROBLEM", problem),
            };
            let mut lines = text.lines();
            writeln!(
                f,
                "{mark} {}: {}",
                finding.subject,
                lines.next().unwrap_or_default()
            )?;
            for line in lines {
                writeln!(f, "          {line}")?;
            }
        }
        match self.problems() {
            0 => writeln!(f, "all {} checks passed", self.findings.len()),
            n => writeln!(f, "{n} of {} checks found a problem", self.findings.len()),
        }
    }
}

/// Checks what `settings` (as the configuration builds them for the server) name; `flags` is
/// what the configuration's own validation said. With `aws`, also proves the AWS side and
/// Redis. The AWS configuration comes from the standard chain, as the server's does.
pub async fn run(settings: &server::Settings, flags: Result<(), String>, aws: bool) -> Report {
    let mut report = Report::default();
    report.add(
        "flags",
        flags.map(|()| "consistent (see --help for each)".to_owned()),
    );
    let base = crate::ec2::aws_config_from_env().await;
    let factory = Factory::new(
        &base,
        settings.sdk,
        settings.budget.clone(),
        settings.merge_window,
        None,
    );
    let accounts = files::check(&mut report, settings, &factory.home_region()).await;
    if aws {
        aws::check(&mut report, &factory, accounts.as_ref()).await;
        if let Some(redis) = &settings.budget.redis {
            redis_server::check(&mut report, redis).await;
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_marks_each_finding_and_exits_2_on_any_problem() {
        let mut report = Report::default();
        report.add("roles file", Ok("r.toml: 3 roles".into()));
        assert_eq!(report.exit_code(), 0);
        assert!(report.to_string().ends_with("all 1 checks passed\n"));
        report.add(
            "accounts file",
            Err("a.toml: TOML parse error at line 2\n  |\n2 | x = = \n".into()),
        );
        assert_eq!((report.problems(), report.exit_code()), (1, 2));
        let text = report.to_string();
        assert!(
            text.starts_with("ok      roles file: r.toml: 3 roles\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "PROBLEM accounts file: a.toml: TOML parse error at line 2\n            |\n          2 | x = = \n"
            ),
            "{text}"
        );
        assert!(text.ends_with("1 of 2 checks found a problem\n"), "{text}");
    }
}
