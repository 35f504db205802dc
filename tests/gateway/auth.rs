//! Authentication and authorization on the real binary (bearer tokens from a file, JWTs with
//! the keys of a JWKS file or URL, roles from a TOML file), against the stand-in: the refusal
//! matrix, key rotation, and no secret in the logs. mTLS is in `mtls.rs`.

use crate::support::{self, GatewayProcess};
use ec2_grpc::pb;
use ec2_grpc::pb::ec2_service_client::Ec2ServiceClient;
use ec2_standin::Standin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tonic::transport::Channel;
use tonic::{Code, Request};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

const READER_TOKEN: &str = "reader-token-7f3a9c2e51d04b86";
const OPERATOR_TOKEN: &str = "operator-token-0c1d2e3f4a5b6c7d";
const ADMIN_TOKEN: &str = "admin-token-9e8d7c6b5a4f3e2d1c";
const USER_DATA: &[u8] = b"#!/bin/sh\nexport DB_PASSWORD=hunter2-very-secret\n";

/// `request` carrying `token` as a bearer token.
pub fn bearer<T>(request: T, token: &str) -> Request<T> {
    let mut request = Request::new(request);
    let value = format!("Bearer {token}").parse().expect("metadata");
    request.metadata_mut().insert("authorization", value);
    request
}

fn stop_all() -> pb::StopInstancesRequest {
    pb::StopInstancesRequest {
        selection: Some(pb::InstanceSelection {
            all_instances: true,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn credentials_and_permissions_are_enforced_and_never_logged() {
    let standin = Standin::builder()
        .seed(3, 0)
        .start()
        .await
        .expect("stand-in");
    let auth = support::AuthFiles::write(
        "auth",
        &format!(
            "# name token\ninventory {READER_TOKEN}\nci-bot {OPERATOR_TOKEN}\nplatform {ADMIN_TOKEN}\n"
        ),
        "[grants]\ninventory = [\"reader\"]\nci-bot = [\"operator\"]\nplatform = [\"admin\"]\n",
    );
    let process = GatewayProcess::start_with(
        &standin.endpoint(),
        &[
            &auth.args()[..],
            &[
                "--log-format",
                "json",
                "--log-level",
                "debug,h2=info,hyper=info,tower=info,aws_smithy_runtime=info,aws_smithy_http_client=info",
            ],
        ]
        .concat(),
        &[],
    )
    .await;
    let channel: Channel = support::channel(process.addr).await;
    let mut client = Ec2ServiceClient::new(channel.clone());
    let describe = pb::DescribeInstancesRequest {
        max_results: Some(5),
        ..Default::default()
    };

    // Health is public.
    let health = HealthClient::new(channel.clone())
        .check(HealthCheckRequest::default())
        .await
        .expect("health needs no credentials");
    assert_eq!(health.into_inner().status, 1);

    // No credentials, and a wrong token: UNAUTHENTICATED, saying nothing more.
    let none = client
        .describe_instances(describe.clone())
        .await
        .expect_err("no token");
    let wrong = client
        .describe_instances(bearer(describe.clone(), "not-a-token-of-anyone-at-all"))
        .await
        .expect_err("wrong token");
    for status in [&none, &wrong] {
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(status.message(), "missing or invalid credentials");
    }

    // A reader describes, but may not launch: PERMISSION_DENIED naming the permission.
    client
        .describe_instances(bearer(describe.clone(), READER_TOKEN))
        .await
        .expect("a reader describes");
    let launch = pb::RunInstancesRequest {
        image_id: "ami-0fedcba9876543210".into(),
        user_data: USER_DATA.to_vec(),
        ..Default::default()
    };
    let denied = client
        .run_instances(bearer(launch.clone(), READER_TOKEN))
        .await
        .expect_err("a reader may not launch");
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(
        denied.message().contains("RunInstances"),
        "{}",
        denied.message()
    );
    let info = denied.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.metadata["permission"], "RunInstances");
    assert_eq!(
        standin.counters("RunInstances").calls,
        0,
        "nothing reached EC2"
    );

    // An operator stops; may not terminate.
    let mut stopped = client
        .stop_instances(bearer(stop_all(), OPERATOR_TOKEN))
        .await
        .expect("an operator stops")
        .into_inner();
    while stopped.message().await.expect("stream").is_some() {}
    assert!(standin.with_account(|a| a.instances.iter().all(|i| i.state.name() == "stopped")));
    let terminate = pb::TerminateInstancesRequest {
        selection: stop_all().selection,
        ..Default::default()
    };
    let denied = client
        .terminate_instances(bearer(terminate, OPERATOR_TOKEN))
        .await
        .expect_err("an operator may not terminate");
    assert_eq!(denied.code(), Code::PermissionDenied);

    // The admin launches, with user data.
    client
        .run_instances(bearer(launch, ADMIN_TOKEN))
        .await
        .expect("the admin launches");

    let logs = process.logs.clone();
    assert_eq!(process.terminate().await.code(), Some(0));
    let logs = logs.lock().expect("lock").join("\n");
    assert!(
        logs.contains("principal:ci-bot"),
        "the log lines name the principal"
    );
    let encoded = base64_of(USER_DATA);
    for secret in [
        READER_TOKEN,
        OPERATOR_TOKEN,
        ADMIN_TOKEN,
        "hunter2-very-secret",
        encoded.as_str(),
    ] {
        assert!(
            !logs.contains(secret),
            "a secret reached the logs: {secret}"
        );
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A key JWTs are signed with, and the id the JWKS knows it by.
struct SigningKey {
    kid: String,
    key: jsonwebtoken::EncodingKey,
}

/// The fixture key (`tests/fixtures/jwt`), whose public half is `jwks.json`.
fn fixture_key() -> SigningKey {
    let pem = std::fs::read(support::tool("tests/fixtures/jwt/signing-key.pem")).expect("key");
    SigningKey {
        kid: "test-es256".into(),
        key: jsonwebtoken::EncodingKey::from_ec_pem(&pem).expect("EC key"),
    }
}

/// A new P-256 key named `kid`, and its JWKS.
fn new_key(kid: &str) -> (SigningKey, String) {
    use base64::Engine;
    let pair = rcgen::KeyPair::generate().expect("P-256 key");
    let point = pair.public_key_raw(); // 0x04 || x || y
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let jwks = serde_json::json!({"keys": [{
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
        "x": b64(&point[1..33]), "y": b64(&point[33..65]),
    }]});
    let key =
        jsonwebtoken::EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).expect("EC key");
    let signing = SigningKey {
        kid: kid.into(),
        key,
    };
    (signing, jwks.to_string())
}

/// A JWT signed with the fixture key, expiring `exp_in` seconds from now.
fn jwt(subject: &str, issuer: &str, audience: &str, exp_in: i64, nbf_in: i64) -> String {
    signed(&fixture_key(), subject, issuer, audience, exp_in, nbf_in)
}

/// A JWT signed with `key`.
fn signed(
    key: &SigningKey,
    subject: &str,
    issuer: &str,
    audience: &str,
    exp_in: i64,
    nbf_in: i64,
) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let claims = serde_json::json!({
        "sub": subject,
        "iss": issuer,
        "aud": audience,
        "exp": now + exp_in,
        "nbf": now + nbf_in,
        "iat": now,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, &claims, &key.key).expect("signed JWT")
}

#[tokio::test]
async fn jwts_are_verified_for_signature_expiry_issuer_and_audience() {
    let standin = Standin::builder()
        .seed(2, 0)
        .start()
        .await
        .expect("stand-in");
    let dir = support::TempDir::new("jwt");
    let roles = dir.path("roles.toml");
    std::fs::write(
        &roles,
        "[grants]\nci-bot = [\"operator\"]\ninventory = [\"reader\"]\n",
    )
    .expect("roles file");
    let jwks = support::tool("tests/fixtures/jwt/jwks.json");
    let process = GatewayProcess::start_with(
        &standin.endpoint(),
        &[
            "--auth-jwks-file",
            jwks.to_str().expect("path"),
            "--auth-jwt-issuer",
            "https://issuer.example",
            "--auth-jwt-audience",
            "ec2-grpc",
            "--auth-roles-file",
            roles.to_str().expect("path"),
        ],
        &[],
    )
    .await;
    let mut client = Ec2ServiceClient::new(support::channel(process.addr).await);
    let describe = pb::DescribeInstancesRequest {
        max_results: Some(5),
        ..Default::default()
    };
    let issuer = "https://issuer.example";

    let valid = jwt("ci-bot", issuer, "ec2-grpc", 300, -10);
    client
        .describe_instances(bearer(describe.clone(), &valid))
        .await
        .expect("a valid JWT of an operator");

    let refused = [
        ("expired", jwt("ci-bot", issuer, "ec2-grpc", -300, -600)),
        ("not yet valid", jwt("ci-bot", issuer, "ec2-grpc", 600, 300)),
        (
            "wrong audience",
            jwt("ci-bot", issuer, "someone-else", 300, -10),
        ),
        (
            "wrong issuer",
            jwt("ci-bot", "https://evil.example", "ec2-grpc", 300, -10),
        ),
        ("tampered", format!("{valid}x")),
    ];
    for (case, token) in refused {
        let status = client
            .describe_instances(bearer(describe.clone(), &token))
            .await
            .expect_err(case);
        assert_eq!(status.code(), Code::Unauthenticated, "{case}");
        assert_eq!(status.message(), "missing or invalid credentials", "{case}");
    }

    // Authorization applies to JWT principals too.
    let reader = jwt("inventory", issuer, "ec2-grpc", 300, -10);
    let denied = client
        .run_instances(bearer(
            pb::RunInstancesRequest {
                image_id: "ami-0fedcba9876543210".into(),
                ..Default::default()
            },
            &reader,
        ))
        .await
        .expect_err("a reader may not launch");
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(
        denied.get_details_error_info().expect("ErrorInfo").metadata["permission"],
        "RunInstances"
    );
    assert_eq!(process.terminate().await.code(), Some(0));
}

/// An identity provider's JWKS endpoint on loopback: serves what the test sets, counts fetches.
struct JwksEndpoint {
    url: String,
    answer: Arc<Mutex<(u16, String)>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksEndpoint {
    async fn start(jwks: String) -> JwksEndpoint {
        use hyper::service::service_fn;
        use hyper_util::rt::TokioIo;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().expect("addr")
        );
        let answer = Arc::new(Mutex::new((200, jwks)));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (answer.clone(), fetches.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (served, counted) = (served.clone(), counted.clone());
                let service = service_fn(move |_request| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let (status, body) = served.lock().expect("lock").clone();
                    let response = hyper::Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .body(http_body_util::Full::new(bytes::Bytes::from(body)));
                    async move { response }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        JwksEndpoint {
            url,
            answer,
            fetches,
        }
    }

    /// An endpoint serving the fixture JWKS (`tests/fixtures/jwt/jwks.json`).
    async fn serving_fixture() -> JwksEndpoint {
        let fixture = std::fs::read_to_string(support::tool("tests/fixtures/jwt/jwks.json"))
            .expect("fixture JWKS");
        JwksEndpoint::start(fixture).await
    }

    fn serve(&self, status: u16, body: &str) {
        *self.answer.lock().expect("lock") = (status, body.to_owned());
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// Waits until the gateway has fetched `more` more times than `since` (a fetch counted
    /// when it arrives, so two more mean one has surely been applied).
    async fn await_fetches(&self, since: usize, more: usize) {
        tokio::time::timeout(std::time::Duration::from_secs(60), async {
            while self.fetches() < since + more {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("the gateway fetches the JWKS again");
    }
}

#[tokio::test]
async fn jwks_from_a_url_follows_key_rotation_and_survives_a_failing_provider() {
    let standin = Standin::builder()
        .seed(1, 0)
        .start()
        .await
        .expect("stand-in");
    let endpoint = JwksEndpoint::serving_fixture().await;
    let process = GatewayProcess::start_with(
        &standin.endpoint(),
        &[
            "--auth-jwks-url",
            &endpoint.url,
            "--auth-jwks-refresh-secs",
            "1",
            "--auth-jwt-audience",
            "ec2-grpc",
        ],
        &[],
    )
    .await;
    let client = Ec2ServiceClient::new(support::channel(process.addr).await);
    let describe = pb::DescribeInstancesRequest::default();
    let call = |token: String| {
        let mut client = client.clone();
        let describe = describe.clone();
        async move { client.describe_instances(bearer(describe, &token)).await }
    };
    let issuer = "https://issuer.example";
    let old = jwt("ci-bot", issuer, "ec2-grpc", 300, -10);
    call(old.clone()).await.expect("a JWT of the served key");

    // The provider rotates: the new key only. The gateway picks it up; the old key is gone.
    let (rotated, rotated_jwks) = new_key("rotated-key");
    let at_rotation = endpoint.fetches();
    endpoint.serve(200, &rotated_jwks);
    endpoint.await_fetches(at_rotation, 2).await;
    call(signed(&rotated, "ci-bot", issuer, "ec2-grpc", 300, -10))
        .await
        .expect("a JWT of the rotated key");
    let gone = call(old).await.expect_err("the old key was withdrawn");
    assert_eq!(gone.code(), Code::Unauthenticated);

    // The provider fails: the keys in force stay.
    let at_failure = endpoint.fetches();
    endpoint.serve(503, "unavailable");
    endpoint.await_fetches(at_failure, 2).await;
    call(signed(&rotated, "ci-bot", issuer, "ec2-grpc", 300, -10))
        .await
        .expect("the keys in force survive a failing provider");
    let logs = process.logs.clone();
    assert_eq!(process.terminate().await.code(), Some(0));
    let logs = logs.lock().expect("lock").join("\n");
    assert!(
        logs.contains("answered HTTP 503"),
        "the failed fetch is logged"
    );
    drop(client);
}

#[tokio::test]
async fn forged_key_ids_do_not_make_the_gateway_hammer_the_provider() {
    let standin = Standin::builder()
        .seed(1, 0)
        .start()
        .await
        .expect("stand-in");
    let endpoint = JwksEndpoint::serving_fixture().await;
    let process = GatewayProcess::start_with(
        &standin.endpoint(),
        &["--auth-jwks-url", &endpoint.url],
        &[],
    )
    .await;
    assert_eq!(endpoint.fetches(), 1, "fetched once at startup");
    let mut client = Ec2ServiceClient::new(support::channel(process.addr).await);
    for n in 0..20 {
        let (forged, _) = new_key(&format!("forged-{n}"));
        let token = signed(
            &forged,
            "ci-bot",
            "https://issuer.example",
            "ec2-grpc",
            300,
            -10,
        );
        let status = client
            .describe_instances(bearer(pb::DescribeInstancesRequest::default(), &token))
            .await
            .expect_err("an unknown key");
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    assert_eq!(
        endpoint.fetches(),
        1,
        "unknown key ids fetch again at most every 30 s"
    );
    assert_eq!(process.terminate().await.code(), Some(0));
}

#[tokio::test]
async fn an_unreachable_or_plaintext_jwks_url_stops_the_start() {
    let closed = format!("http://127.0.0.1:{}/jwks.json", support::free_port().await);
    let output = support::binary("http://127.0.0.1:9")
        .args(["--listen", "127.0.0.1:0", "--auth-jwks-url", &closed])
        .output()
        .await
        .expect("run ec2-grpc");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&closed), "{stderr}");

    // Keys fetched in plaintext over a network could be swapped on the way: https only.
    let output = support::binary("http://127.0.0.1:9")
        .args(["--listen", "127.0.0.1:0"])
        .args(["--auth-jwks-url", "http://idp.example/jwks.json"])
        .output()
        .await
        .expect("run ec2-grpc");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("must be an https:// URL"), "{stderr}");
}
