//! TLS and mTLS on the real binary, against the stand-in: certificates made fresh for each run
//! (a CA, the server's certificate for 127.0.0.1, client certificates of that CA and of a
//! stranger's CA). Without a client certificate health answers and RPCs are UNAUTHENTICATED; a
//! certificate of the CA authenticates its URI SAN, whose roles apply; a stranger's certificate
//! never reaches the service; renewed certificate, key and CA files take effect without a
//! restart.

use crate::support::{self, GatewayProcess};
use ec2_grpc::pb;
use ec2_grpc::pb::ec2_service_client::Ec2ServiceClient;
use ec2_standin::Standin;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

const CI_BOT: &str = "spiffe://ec2-grpc.test/ci-bot";

/// A certificate and its key, PEM.
struct Pem {
    cert: String,
    key: String,
}

/// A certificate authority of the test.
struct Authority {
    issuer: Issuer<'static, KeyPair>,
    cert: String,
}

impl Authority {
    fn new(name: &str) -> Authority {
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate").pem();
        Authority {
            issuer: Issuer::new(params, key),
            cert,
        }
    }

    /// A certificate of this authority for `sans`, used for `usage`.
    fn issue(&self, sans: Vec<SanType>, usage: ExtendedKeyUsagePurpose) -> Pem {
        let mut params = CertificateParams::default();
        params.subject_alt_names = sans;
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        Pem {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

/// The names the gateway's certificate is issued for (clients connect to 127.0.0.1 and check
/// `localhost`).
fn server_names() -> Vec<SanType> {
    vec![
        SanType::DnsName("localhost".try_into().expect("dns")),
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    ]
}

fn uri(name: &str) -> SanType {
    SanType::URI(name.try_into().expect("URI SAN"))
}

/// A TLS channel to the gateway, trusting `ca`, presenting `identity` when given.
async fn tls_channel(
    addr: SocketAddr,
    ca: &str,
    identity: Option<&Pem>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name("localhost");
    if let Some(pem) = identity {
        tls = tls.identity(Identity::from_pem(&pem.cert, &pem.key));
    }
    Channel::from_shared(format!("https://{addr}"))
        .expect("uri")
        .tls_config(tls)?
        .connect()
        .await
}

#[tokio::test]
async fn client_certificates_authenticate_and_health_needs_none() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let standin = Standin::builder()
        .seed(3, 0)
        .start()
        .await
        .expect("stand-in");
    let dir = support::TempDir::new("mtls");

    let authority = Authority::new("ec2-grpc test CA");
    let server = authority.issue(server_names(), ExtendedKeyUsagePurpose::ServerAuth);
    let ci_bot = authority.issue(vec![uri(CI_BOT)], ExtendedKeyUsagePurpose::ClientAuth);
    let stranger = Authority::new("someone else's CA")
        .issue(vec![uri(CI_BOT)], ExtendedKeyUsagePurpose::ClientAuth);

    let files = [
        dir.write("tls.crt", &server.cert),
        dir.write("tls.key", &server.key),
        dir.write("ca.crt", &authority.cert),
        dir.write(
            "roles.toml",
            &format!("[grants]\n\"{CI_BOT}\" = [\"operator\"]\n"),
        ),
    ];
    let [cert, key, ca, roles] = files.each_ref().map(|p| p.to_str().expect("path"));
    let process = GatewayProcess::start_with(
        &standin.endpoint(),
        &[
            "--tls-cert-file",
            cert,
            "--tls-key-file",
            key,
            "--auth-client-ca-file",
            ca,
            "--auth-roles-file",
            roles,
        ],
        &[],
    )
    .await;
    let describe = pb::DescribeInstancesRequest::default();

    // No client certificate: the TLS connection is made, health answers, RPCs are refused.
    let anonymous = tls_channel(process.addr, &authority.cert, None)
        .await
        .expect("TLS without a client certificate connects");
    let health = HealthClient::new(anonymous.clone())
        .check(HealthCheckRequest::default())
        .await
        .expect("health needs no credentials");
    assert_eq!(health.into_inner().status, 1, "SERVING");
    let refused = Ec2ServiceClient::new(anonymous)
        .describe_instances(describe.clone())
        .await
        .expect_err("no client certificate, no bearer token");
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert_eq!(refused.message(), "missing or invalid credentials");

    // The CA's certificate for ci-bot, an operator: stops, may not launch.
    let mut client = Ec2ServiceClient::new(
        tls_channel(process.addr, &authority.cert, Some(&ci_bot))
            .await
            .expect("mTLS connects"),
    );
    client
        .describe_instances(describe.clone())
        .await
        .expect("an operator describes");
    let stop_all = pb::StopInstancesRequest {
        selection: Some(pb::InstanceSelection {
            all_instances: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut stopped = client
        .stop_instances(stop_all)
        .await
        .expect("an operator stops")
        .into_inner();
    while stopped.message().await.expect("stream").is_some() {}
    assert!(standin.with_account(|a| a.instances.iter().all(|i| i.state.name() == "stopped")));
    let denied = client
        .run_instances(pb::RunInstancesRequest {
            image_id: "ami-0fedcba9876543210".into(),
            ..Default::default()
        })
        .await
        .expect_err("an operator may not launch");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let info = denied.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.metadata["permission"], "RunInstances");

    // A stranger's certificate, even naming ci-bot, never reaches the service.
    let describes_before = standin.counters("DescribeInstances").calls;
    let stranger_call = async {
        let channel = tls_channel(process.addr, &authority.cert, Some(&stranger))
            .await
            .map_err(|e| e.to_string())?;
        Ec2ServiceClient::new(channel)
            .describe_instances(describe.clone())
            .await
            .map_err(|status| status.to_string())
    };
    let outcome = stranger_call.await;
    eprintln!("mtls: a stranger's certificate: {outcome:?}");
    assert!(outcome.is_err(), "a stranger's certificate was accepted");
    assert_eq!(
        standin.counters("DescribeInstances").calls,
        describes_before,
        "nothing reached EC2"
    );

    let logs = process.logs.clone();
    assert_eq!(process.terminate().await.code(), Some(0));
    let logs = logs.lock().expect("lock").join("\n");
    assert!(
        logs.contains(&format!("principal:{CI_BOT}")),
        "the log lines name the certificate's principal"
    );
}

/// Whether a new TLS connection trusting `ca` and presenting `identity` gets a describe
/// answered (the error, as text, when not).
async fn describe_over(addr: SocketAddr, ca: &str, identity: &Pem) -> Result<(), String> {
    let channel = tls_channel(addr, ca, Some(identity))
        .await
        .map_err(|e| e.to_string())?;
    Ec2ServiceClient::new(channel)
        .describe_instances(pb::DescribeInstancesRequest::default())
        .await
        .map(|_| ())
        .map_err(|status| status.to_string())
}

/// Replaces `path`'s content at once, as a Kubernetes Secret update does (a rename).
fn replace(path: &Path, text: &str) {
    let fresh = path.with_extension("new");
    std::fs::write(&fresh, text).expect("write the renewed file");
    std::fs::rename(&fresh, path).expect("rename it into place");
}

#[tokio::test]
async fn renewed_certificates_take_effect_without_a_restart() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let standin = Standin::builder()
        .seed(1, 0)
        .start()
        .await
        .expect("stand-in");
    let dir = support::TempDir::new("renewal");
    let old_ca = Authority::new("the CA before renewal");
    let old_server = old_ca.issue(server_names(), ExtendedKeyUsagePurpose::ServerAuth);
    let old_client = old_ca.issue(vec![uri(CI_BOT)], ExtendedKeyUsagePurpose::ClientAuth);
    let new_ca = Authority::new("the CA after renewal");
    let new_server = new_ca.issue(server_names(), ExtendedKeyUsagePurpose::ServerAuth);
    let new_client = new_ca.issue(vec![uri(CI_BOT)], ExtendedKeyUsagePurpose::ClientAuth);

    let files = [
        dir.write("tls.crt", &old_server.cert),
        dir.write("tls.key", &old_server.key),
        dir.write("ca.crt", &old_ca.cert),
    ];
    let [cert, key, ca] = files.each_ref().map(|p| p.to_str().expect("path"));
    let args = [
        "--tls-cert-file",
        cert,
        "--tls-key-file",
        key,
        "--auth-client-ca-file",
        ca,
    ];
    let process = GatewayProcess::start_with(&standin.endpoint(), &args, &[]).await;
    describe_over(process.addr, &old_ca.cert, &old_client)
        .await
        .expect("the first certificates work");
    let mut open_before = Ec2ServiceClient::new(
        tls_channel(process.addr, &old_ca.cert, Some(&old_client))
            .await
            .expect("a connection made before the renewal"),
    );

    // A renewal: the server's certificate and key, and the client CA bundle, all replaced.
    replace(&files[0], &new_server.cert);
    replace(&files[1], &new_server.key);
    replace(&files[2], &new_ca.cert);
    let mut renewed = Err(String::new());
    for _ in 0..80 {
        renewed = describe_over(process.addr, &new_ca.cert, &new_client).await;
        if renewed.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    renewed.expect("new connections use the renewed certificates");

    // New connections no longer see the old server certificate, nor accept the old CA's
    // clients; a connection made before the renewal keeps working.
    let old_server_seen = describe_over(process.addr, &old_ca.cert, &new_client).await;
    assert!(
        old_server_seen.is_err(),
        "the old certificate is still served"
    );
    let old_client_accepted = describe_over(process.addr, &new_ca.cert, &old_client).await;
    assert!(
        old_client_accepted.is_err(),
        "a client of the old CA is still accepted"
    );
    open_before
        .describe_instances(pb::DescribeInstancesRequest::default())
        .await
        .expect("an open connection outlives the renewal");

    let logs = process.logs.clone();
    assert_eq!(process.terminate().await.code(), Some(0));
    let logs = logs.lock().expect("lock").join("\n");
    assert!(logs.contains("reloaded"), "the renewal is logged");
}
