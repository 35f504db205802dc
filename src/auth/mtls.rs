//! TLS for the gRPC port, and mTLS: client certificates verified against a CA bundle, the
//! caller's identity read from the certificate.
//!
//! A client certificate is optional at the TLS level, so probes and other callers without one
//! still reach health; the auth layer then asks every other RPC for a principal, and a caller
//! with neither a certificate nor a bearer credential gets UNAUTHENTICATED. A certificate that
//! does not chain to the CA bundle fails the handshake itself.

use super::Principal;
use std::path::Path;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::transport::{Certificate, Identity, ServerTlsConfig};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// Where the server's TLS material comes from.
#[derive(Debug, Clone)]
pub struct TlsFiles<'a> {
    /// PEM certificate chain of the server.
    pub cert: &'a Path,
    /// PEM private key of the server.
    pub key: &'a Path,
    /// PEM CA bundle client certificates must chain to (mTLS); `None`: no client certificates.
    pub client_ca: Option<&'a Path>,
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The server's TLS configuration. Errors name the file, never its content.
pub fn server_tls(files: &TlsFiles<'_>) -> Result<ServerTlsConfig, String> {
    // One process-wide crypto provider (aws-lc), whichever other crate asks for rustls first.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let identity = Identity::from_pem(read(files.cert)?, read(files.key)?);
    let mut tls = ServerTlsConfig::new().identity(identity);
    if let Some(ca) = files.client_ca {
        tls = tls
            .client_ca_root(Certificate::from_pem(read(ca)?))
            .client_auth_optional(true);
    }
    Ok(tls)
}

/// The principal of the verified client certificate of the request's connection, if any.
/// (rustls has already checked it chains to the CA bundle; without a CA bundle configured no
/// certificate is ever asked for.)
pub fn peer_principal(extensions: &http::Extensions) -> Option<Principal> {
    let certificates = extensions
        .get::<TlsConnectInfo<TcpConnectInfo>>()?
        .peer_certs()?;
    identity_of(certificates.first()?.as_ref()).map(Principal)
}

/// A certificate's identity: its first URI SAN (a SPIFFE id, say), else its first DNS SAN,
/// else its first email SAN, else its subject's CN.
pub fn identity_of(der: &[u8]) -> Option<String> {
    let (_, certificate) = X509Certificate::from_der(der).ok()?;
    if let Ok(Some(san)) = certificate.subject_alternative_name() {
        let names = &san.value.general_names;
        let pick = |want: fn(&GeneralName<'_>) -> Option<String>| names.iter().find_map(want);
        let found = pick(|n| match n {
            GeneralName::URI(uri) => Some((*uri).to_owned()),
            _ => None,
        })
        .or_else(|| {
            pick(|n| match n {
                GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                _ => None,
            })
        })
        .or_else(|| {
            pick(|n| match n {
                GeneralName::RFC822Name(email) => Some((*email).to_owned()),
                _ => None,
            })
        });
        if found.is_some() {
            return found;
        }
    }
    certificate
        .subject()
        .iter_common_name()
        .next()?
        .as_str()
        .ok()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::identity_of;
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};

    fn certificate(sans: Vec<SanType>, common_name: &str) -> Vec<u8> {
        let mut params = CertificateParams::default();
        params.subject_alt_names = sans;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, common_name);
        params.distinguished_name = name;
        let key = KeyPair::generate().expect("key");
        params
            .self_signed(&key)
            .expect("certificate")
            .der()
            .to_vec()
    }

    #[test]
    fn identity_prefers_uri_then_dns_then_email_then_common_name() {
        let uri = SanType::URI("spiffe://example.org/ci-bot".try_into().expect("uri"));
        let dns = SanType::DnsName("ci-bot.apps.internal".try_into().expect("dns"));
        let email = SanType::Rfc822Name("ci-bot@example.org".try_into().expect("email"));
        let cases = [
            (
                vec![dns.clone(), uri, email.clone()],
                "spiffe://example.org/ci-bot",
            ),
            (vec![email.clone(), dns], "ci-bot.apps.internal"),
            (vec![email], "ci-bot@example.org"),
            (vec![], "cn-bot"),
        ];
        for (sans, want) in cases {
            assert_eq!(
                identity_of(&certificate(sans, "cn-bot")).as_deref(),
                Some(want)
            );
        }
        assert_eq!(identity_of(b"not a certificate"), None);
    }
}
