//! The client kits (`clients/python`, `clients/typescript`) used as their users use them: each
//! kit's example tour runs against the real binary on moto, with a bearer token and a role of
//! its own, and a caller quota tight enough that its burst is refused with RetryInfo and retried.
//! `scripts/build-clients.sh` (run by the README's test command) installs and builds the kits.

use crate::support::{self, AccountsFile, AuthFiles, GatewayProcess, Moto};
use std::path::PathBuf;

const PYTHON_TOKEN: &str = "kit-python-token-0123456789";
const TYPESCRIPT_TOKEN: &str = "kit-typescript-token-0123456789";

/// An example the kits' build left in place; fails naming the script that builds it.
fn built(relative: &str) -> PathBuf {
    support::made_by(relative, "scripts/build-clients.sh")
}

/// Runs one example to its end; answers what it printed, and fails with all of it if it failed.
async fn run(program: PathBuf, args: &[&str]) -> String {
    let output = tokio::process::Command::new(&program)
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{} {args:?} failed:\n{stdout}\n{stderr}",
        program.display()
    );
    println!("{stdout}");
    stdout
}

/// Checks one tour's lines: each step happened as the kit promises.
fn assert_tour(language: &str, stdout: &str) {
    let line = |step: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{language}: {step}")))
            .unwrap_or_else(|| panic!("{language}: no `{step}` line in:\n{stdout}"))
            .to_owned()
    };
    assert!(line("launched 3 instances").contains("i-"), "{stdout}");
    assert!(line("described i-").contains("running"), "{stdout}");
    line("streamed 2 of 3 instances (limit 2)");
    let not_found = line("i-0123456789abcdef0");
    assert!(not_found.contains("reason EC2_NOT_FOUND"), "{not_found}");
    assert!(
        not_found.contains("aws_code InvalidInstanceID.NotFound"),
        "{not_found}"
    );
    let refused = line("refused: ");
    assert!(refused.contains("reason INVALID_REQUEST"), "{refused}");
    assert!(refused.contains("fields max_results ("), "{refused}");
    let burst = line("6 describes answered");
    let retried: usize = burst
        .split(", ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{burst}"));
    assert!(retried >= 1, "the caller quota refused nothing: {burst}");
    assert!(burst.contains("CALLER_QUOTA_EXCEEDED"), "{burst}");
    let other = line("in account dev / us-west-2: launched i-");
    assert!(other.contains("owner 111111111111"), "{other}");
    assert!(other.contains("described there, not at home"), "{other}");
    line("tour complete");
}

#[tokio::test]
async fn python_and_typescript_kits_run_their_tours_against_the_gateway() {
    let python = built(".venv/bin/python");
    let tour_py = built("clients/python/examples/tour.py");
    let tour_ts = built("clients/typescript/examples/dist/tour.js");
    let kit = tokio::process::Command::new(&python)
        .args(["-c", "import ec2_grpc, ec2.v1.ec2_service_pb2"])
        .status()
        .await
        .expect("run python");
    assert!(
        kit.success(),
        "the Python kit is not installed in .venv: run `bash scripts/build-clients.sh`"
    );

    let moto = Moto::start().await;
    let image_id = moto.image_id().await;
    let auth = AuthFiles::write(
        "kits",
        &format!("kit-python {PYTHON_TOKEN}\nkit-typescript {TYPESCRIPT_TOKEN}\n"),
        "[roles]\nkit = [\"RunInstances\", \"DescribeInstances\", \"DescribeInstancesStream\"]\n\n\
         [grants]\nkit-python = [\"kit\"]\nkit-typescript = [\"kit\"]\n\n\
         [targets]\nkit-python = { accounts = [\"home\", \"dev\"] }\n\
         kit-typescript = { accounts = [\"home\", \"dev\"] }\n",
    );
    // A second account (moto ties an AssumeRole into 111111111111's role to that account)
    // and region: the tours call them too.
    let accounts = AccountsFile::write(
        "kits",
        "[accounts.dev]\nid = \"111111111111\"\nrole_arn = \"arn:aws:iam::111111111111:role/ec2-grpc\"\nregions = [\"us-west-2\"]\n",
    );
    // Each caller may burst 4 calls, then 5 a second: the tour's first four steps take the
    // burst, and its six back-to-back describes meet RESOURCE_EXHAUSTED with RetryInfo.
    let process = GatewayProcess::start_with(
        &moto.endpoint,
        &[
            &auth.args()[..],
            &["--caller-rate", "5", "--caller-burst", "4"],
            &["--accounts-file", accounts.arg()],
        ]
        .concat(),
        &[("AWS_ENDPOINT_URL_STS", moto.endpoint.as_str())],
    )
    .await;
    let addr = process.addr.to_string();

    let stdout = run(
        python,
        &[
            tour_py.to_str().expect("path"),
            "--gateway",
            &addr,
            "--image-id",
            &image_id,
            "--token",
            PYTHON_TOKEN,
            "--burst",
            "6",
            "--account",
            "dev",
            "--region",
            "us-west-2",
        ],
    )
    .await;
    assert_tour("python", &stdout);

    let url = format!("http://{addr}");
    let stdout = run(
        PathBuf::from("node"),
        &[
            tour_ts.to_str().expect("path"),
            "--gateway",
            &url,
            "--image-id",
            &image_id,
            "--token",
            TYPESCRIPT_TOKEN,
            "--burst",
            "6",
            "--account",
            "dev",
            "--region",
            "us-west-2",
        ],
    )
    .await;
    assert_tour("typescript", &stdout);
    assert_eq!(process.terminate().await.code(), Some(0));
}
