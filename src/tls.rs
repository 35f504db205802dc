//! TLS on the gRPC port, kept current: the server's certificate and key (and the client CA
//! bundle, for mTLS) are read again when their files change, as cert-manager renews them, and
//! new connections use them without a restart. Connections are accepted here (rustls through
//! tokio-rustls) rather than by tonic, whose TLS settings are fixed at start; tonic still sees
//! each connection's peer certificates (`TlsConnectInfo`), which the auth layer reads.
//!
//! A client certificate is optional at the TLS level, so probes and other callers without one
//! still reach health; the auth layer asks every other RPC for a principal. A certificate that
//! does not chain to the CA bundle fails the handshake itself.

use crate::watched::Watched;
use futures_util::Stream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tonic::transport::server::TcpIncoming;

/// How long a client may take to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the server's TLS material comes from.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM certificate chain of the server.
    pub cert: PathBuf,
    /// PEM private key of the server.
    pub key: PathBuf,
    /// PEM CA bundle client certificates must chain to (mTLS); `None`: no client certificates.
    pub client_ca: Option<PathBuf>,
}

/// The TLS configuration in force, kept current from its files.
pub type ServerTls = Watched<Arc<ServerConfig>>;

/// Reads the TLS files (and watches them for changes, once `watch` is called). Errors name
/// the file at fault, never its content.
pub fn load(files: &TlsFiles) -> Result<Arc<ServerTls>, String> {
    let mut paths = vec![files.cert.as_path(), files.key.as_path()];
    paths.extend(files.client_ca.as_deref());
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    Watched::load_all(&paths, move |contents| match contents {
        [cert, key] => server_config(cert, key, None, &names),
        [cert, key, ca] => server_config(cert, key, Some(ca.as_slice()), &names),
        _ => Err("expected a certificate, a key and an optional CA bundle".to_owned()),
    })
}

/// The rustls configuration of these PEM contents; `names` are their files, for errors.
fn server_config(
    cert: &[u8],
    key: &[u8],
    client_ca: Option<&[u8]>,
    names: &[String],
) -> Result<Arc<ServerConfig>, String> {
    let name = |i: usize| names.get(i).map(String::as_str).unwrap_or_default();
    let chain = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not a PEM certificate chain: {e}", name(0)))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate in it", name(0)));
    }
    let key = PrivateKeyDer::from_pem_slice(key)
        .map_err(|e| format!("{}: not a PEM private key: {e}", name(1)))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for certificate in CertificateDer::pem_slice_iter(ca) {
                let certificate =
                    certificate.map_err(|e| format!("{}: not a PEM CA bundle: {e}", name(2)))?;
                roots
                    .add(certificate)
                    .map_err(|e| format!("{}: unusable CA certificate: {e}", name(2)))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                // Health and reflection stay reachable without a certificate.
                .allow_unauthenticated()
                .build()
                .map_err(|e| format!("{}: {e}", name(2)))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => format!(
            "{} and {}: the private key is not the certificate's",
            name(0),
            name(1)
        ),
        e => format!("{} and {}: {e}", name(0), name(1)),
    })?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// TLS connections of a TCP listener, handshaking with the configuration in force when each
/// connection arrives. Handshakes run side by side (a slow client holds up nobody) and fail
/// after `HANDSHAKE_TIMEOUT`; failed ones are yielded as errors, which the server skips.
/// Dropping the stream closes the listener and abandons handshakes in progress.
pub struct TlsIncoming {
    tcp: TcpIncoming,
    /// The listener has ended (it does not, in practice).
    tcp_ended: bool,
    tls: Arc<ServerTls>,
    handshakes: JoinSet<io::Result<TlsStream<TcpStream>>>,
}

impl TlsIncoming {
    /// Accepts `tcp`'s connections over `tls`.
    pub fn new(tcp: TcpIncoming, tls: Arc<ServerTls>) -> Self {
        TlsIncoming {
            tcp,
            tcp_ended: false,
            tls,
            handshakes: JoinSet::new(),
        }
    }
}

impl Stream for TlsIncoming {
    type Item = io::Result<TlsStream<TcpStream>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        // Start a handshake for every connection waiting.
        while !this.tcp_ended {
            match Pin::new(&mut this.tcp).poll_next(cx) {
                Poll::Ready(Some(Ok(stream))) => {
                    let acceptor = TlsAcceptor::from(this.tls.get().clone());
                    this.handshakes.spawn(async move {
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                            .await
                            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake"))?
                    });
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => this.tcp_ended = true,
                Poll::Pending => break,
            }
        }
        match this.handshakes.poll_join_next(cx) {
            Poll::Ready(Some(Ok(handshake))) => Poll::Ready(Some(handshake)),
            Poll::Ready(Some(Err(panicked))) => Poll::Ready(Some(Err(io::Error::other(panicked)))),
            Poll::Ready(None) if this.tcp_ended => Poll::Ready(None),
            // No handshake in progress: the listener's waker is registered.
            Poll::Ready(None) | Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["tls.crt", "tls.key", "ca.crt"].map(String::from).to_vec()
    }

    #[test]
    fn pem_files_make_an_h2_config_and_bad_ones_name_the_file() {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("certificate");
        let (cert, key) = (cert.pem(), key.serialize_pem());
        let config = server_config(cert.as_bytes(), key.as_bytes(), None, &names()).expect("TLS");
        assert_eq!(config.alpn_protocols, [b"h2".to_vec()]);
        let with_ca = server_config(
            cert.as_bytes(),
            key.as_bytes(),
            Some(cert.as_bytes()),
            &names(),
        );
        assert!(with_ca.is_ok(), "{:?}", with_ca.err());

        let cases = [
            (b"not pem".as_slice(), key.as_bytes(), None, "tls.crt"),
            (cert.as_bytes(), b"not pem".as_slice(), None, "tls.key"),
            (
                cert.as_bytes(),
                key.as_bytes(),
                Some(b"".as_slice()),
                "ca.crt",
            ),
        ];
        for (cert, key, ca, file) in cases {
            let err = server_config(cert, key, ca, &names()).expect_err(file);
            assert!(err.contains(file), "{err}");
        }

        // A renewal caught between its certificate and its key: refused, so it is not used.
        let other_key = rcgen::KeyPair::generate().expect("key").serialize_pem();
        let mismatch = server_config(cert.as_bytes(), other_key.as_bytes(), None, &names());
        let err = mismatch.expect_err("a key of another certificate");
        assert!(err.contains("tls.crt and tls.key"), "{err}");
    }
}
