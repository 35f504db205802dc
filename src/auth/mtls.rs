//! mTLS identities: the caller's principal read from the client certificate its connection
//! presented (verified against the CA bundle during the handshake: see `crate::tls`). A
//! caller with neither a certificate nor a bearer credential gets UNAUTHENTICATED.

use super::Principal;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

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
