//! `ec2-grpc check`, the binary, on real files: good files exit 0; each kind of broken file
//! exits 2 naming the file, the line where it has one, and the problem; with `--aws` against
//! moto (through the counting proxy, which refuses one role as STS would) it names the
//! caller's identity and proves each account and region, and a real redis-server (or none).

use crate::counting_proxy::CountingProxy;
use crate::support::{self, AccountsFile, Moto, Redis};
use rcgen::{CertificateParams, KeyPair};
use std::path::Path;

/// Runs `ec2-grpc check ARGS` against `endpoint` (EC2 and STS); answers its exit code and
/// what it printed.
async fn check(endpoint: &str, args: &[&str]) -> (i32, String) {
    let output = support::binary(endpoint)
        .env("AWS_ENDPOINT_URL_STS", endpoint)
        .arg("check")
        .args(args)
        .output()
        .await
        .expect("run ec2-grpc check");
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    println!("ec2-grpc check {args:?}:\n{printed}");
    (output.status.code().unwrap_or(-1), printed)
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

const ROLES: &str = "[grants]\nci = [\"reader\"]\nops = [\"operator\"]\n";
const ACCOUNTS: &str = "[home]\nregions = [\"us-east-1\", \"us-west-2\"]\n\n[accounts.dev]\nid = \"111111111111\"\nrole_arn = \"arn:aws:iam::111111111111:role/ec2-grpc\"\nregions = [\"us-west-2\"]\nsource_identity = true\n";

#[tokio::test]
async fn check_on_good_files_exits_0_and_on_each_broken_file_exits_2_naming_it() {
    let dir = support::TempDir::new("check");
    let tokens = dir.write(
        "tokens",
        "ci tok-0123456789abcdef\nops tok-fedcba9876543210\n",
    );
    let roles = dir.write("roles.toml", ROLES);
    let accounts = dir.write("accounts.toml", ACCOUNTS);
    let key = KeyPair::generate().expect("key");
    let certificate = CertificateParams::new(vec!["localhost".into()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let cert = dir.write("tls.crt", &certificate.pem());
    let good_key = dir.write("tls.key", &key.serialize_pem());
    let other_key = dir.write(
        "other.key",
        &KeyPair::generate().expect("key").serialize_pem(),
    );
    let policy = dir.write(
        "audit.toml",
        "[[rules]]\nprincipals = [\"prober\"]\nlevel = \"none\"\n",
    );
    let trail = dir.path("audit.jsonl");
    // Nothing here is asked of AWS: the endpoint is never called.
    let endpoint = "http://127.0.0.1:9";
    let good = [
        "--audit-log",
        arg(&trail),
        "--audit-policy-file",
        arg(&policy),
        "--auth-tokens-file",
        arg(&tokens),
        "--auth-roles-file",
        arg(&roles),
        "--accounts-file",
        arg(&accounts),
        "--tls-cert-file",
        arg(&cert),
        "--tls-key-file",
        arg(&good_key),
    ];
    let (code, printed) = check(endpoint, &good).await;
    assert_eq!(code, 0, "{printed}");
    for subject in [
        "tokens file",
        "roles file",
        "accounts file",
        "TLS",
        "audit trail",
    ] {
        assert!(
            printed.contains(&format!("ok      {subject}: ")),
            "{subject}: {printed}"
        );
    }
    assert!(printed.contains("2 tokens") && printed.contains("dev (111111111111; us-west-2)"));
    assert!(printed.contains("expires in"), "{printed}");

    // Each kind of broken file, alone: exit 2, the file, the line, the problem.
    let broken_toml = dir.write("broken.toml", "[home]\nregions = [\"us-east-1\"\n");
    let unknown_role = dir.write(
        "unknown.toml",
        "[grants]\nci = [\"reader\"]\nbot = [\"ghost\"]\n",
    );
    let bad_account = dir.write("bad-account.toml",
        "[accounts.dev]\nid = \"111111111111\"\nrole_arn = \"arn:aws:iam::111111111111:role/x\"\nregions = [\"us-west-2\"]\n\n[accounts.prod]\nid = \"12345\"\nrole_arn = \"arn:aws:iam::222222222222:role/x\"\nregions = [\"us-east-1\"]\n",
    );
    let bad_tokens = dir.write("bad-tokens", "ci tok-0123456789abcdef\nops short\n");
    let bad_policy = dir.write("bad-audit.toml", "[[rules]]\nlevel = \"loud\"\n");
    let cases: [(&[&str], Vec<String>); 7] = [
        (
            &["--audit-log", "-", "--audit-policy-file", arg(&bad_policy)],
            vec![format!("PROBLEM audit trail: {}", bad_policy.display())],
        ),
        (
            &["--audit-log", "/nonexistent-directory/audit.jsonl"],
            vec!["PROBLEM audit trail: cannot append to the audit log /nonexistent-directory/audit.jsonl".into()],
        ),
        (
            &["--accounts-file", arg(&broken_toml)],
            vec![
                format!("PROBLEM accounts file: {}", broken_toml.display()),
                "line 2".into(),
            ],
        ),
        (
            &[
                "--auth-tokens-file",
                arg(&tokens),
                "--auth-roles-file",
                arg(&unknown_role),
            ],
            vec![format!(
                "PROBLEM roles file: {}: line 3: bot is granted the unknown role \"ghost\"",
                unknown_role.display()
            )],
        ),
        (
            &["--accounts-file", arg(&bad_account)],
            vec![format!(
                "PROBLEM accounts file: {}: line 6: account prod: id \"12345\" is not a 12-digit account id",
                bad_account.display()
            )],
        ),
        (
            &["--auth-tokens-file", arg(&bad_tokens)],
            vec![format!(
                "PROBLEM tokens file: {}: line 2: expected `NAME TOKEN`",
                bad_tokens.display()
            )],
        ),
        (
            &[
                "--tls-cert-file",
                arg(&cert),
                "--tls-key-file",
                arg(&other_key),
            ],
            vec![format!(
                "PROBLEM TLS: {} and {}: the private key is not the certificate's",
                cert.display(),
                other_key.display()
            )],
        ),
    ];
    for (args, expected) in cases {
        let (code, printed) = check(endpoint, args).await;
        assert_eq!(code, 2, "{args:?}: {printed}");
        for text in expected {
            assert!(
                printed.contains(&text),
                "{args:?}: {text:?} not in:\n{printed}"
            );
        }
        assert!(printed.contains("1 of "), "one problem: {printed}");
    }
    // Flags the configuration refuses are a problem too (roles without authentication).
    let (code, printed) = check(endpoint, &["--auth-roles-file", arg(&roles)]).await;
    assert_eq!(code, 2, "{printed}");
    assert!(printed.contains("PROBLEM flags: --auth-roles-file needs an authentication method"));
}

#[tokio::test]
async fn check_aws_proves_the_caller_each_account_and_region_and_redis() {
    let moto = Moto::start().await;
    let proxy = CountingProxy::start(&moto.endpoint, Some("role/denied")).await;
    let redis = Redis::start().await;
    let accounts = AccountsFile::write("check-aws", ACCOUNTS);
    let (code, printed) = check(
        &proxy.endpoint,
        &[
            "--aws",
            "--accounts-file",
            accounts.arg(),
            "--ec2-budget-redis-url",
            &redis.url(),
        ],
    )
    .await;
    assert_eq!(code, 0, "{printed}");
    for line in [
        "ok      home credentials: arn:aws:sts::123456789012:user/moto (account 123456789012)",
        "ok      account home in us-east-1: DescribeInstances allowed (DryRun)",
        "ok      account home in us-west-2: DescribeInstances allowed (DryRun)",
        "ok      account dev: assumed arn:aws:iam::111111111111:role/ec2-grpc with SourceIdentity ec2-grpc-check (sts:SetSourceIdentity allowed)",
        "ok      account dev in us-west-2: DescribeInstances allowed (DryRun)",
        "the budget script is loaded",
    ] {
        assert!(printed.contains(line), "{line:?} not in:\n{printed}");
    }
    // What was asked of AWS: one identity, one AssumeRole, one DryRun per account and region.
    assert_eq!(proxy.count("GetCallerIdentity"), 1);
    assert_eq!(proxy.count("AssumeRole"), 1);
    // dev gives callers sessions of their own: the check proves its trust policy allows it.
    assert_eq!(
        proxy.forms("AssumeRole")[0]
            .get("SourceIdentity")
            .map(String::as_str),
        Some("ec2-grpc-check")
    );
    assert_eq!(proxy.count("DescribeInstances"), 3);

    // A role STS refuses, a [home] id that is not the credentials' account, and Redis away:
    // each named, exit 2.
    let denied = AccountsFile::write(
        "check-aws-denied",
        "[home]\nid = \"999999999999\"\n\n[accounts.locked]\nid = \"222222222222\"\nrole_arn = \"arn:aws:iam::222222222222:role/denied\"\nregions = [\"us-east-1\"]\n",
    );
    let away = format!("redis://127.0.0.1:{}", support::free_port().await);
    let (code, printed) = check(
        &proxy.endpoint,
        &[
            "--aws",
            "--accounts-file",
            denied.arg(),
            "--ec2-budget-redis-url",
            &away,
        ],
    )
    .await;
    assert_eq!(code, 2, "{printed}");
    for line in [
        "PROBLEM accounts file: [home] id 999999999999 is not the home credentials' account (123456789012)",
        "PROBLEM account locked: ",
        "AccessDenied",
        "PROBLEM Redis: 127.0.0.1:",
        "3 of ",
    ] {
        assert!(printed.contains(line), "{line:?} not in:\n{printed}");
    }
    assert!(
        !printed.contains("account locked in"),
        "no DryRun without the role"
    );
}
