//! A JWKS served by an identity provider at a URL: fetched at startup (the service does not
//! start without it), fetched again every refresh period, and at once when a token names a key
//! id the set lacks (a key rotation), at most once per `UNKNOWN_KEY_REFETCH` so forged key ids
//! cannot make the gateway hammer the provider. A fetch that fails keeps the keys in force.

use super::jwks;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::JwkSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::time::Instant;

/// The least time between two fetches caused by unknown key ids.
const UNKNOWN_KEY_REFETCH: Duration = Duration::from_secs(30);
/// How long one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// The keys of a JWKS URL, kept current.
#[derive(Debug)]
pub struct RemoteJwks {
    url: http::Uri,
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    keys: RwLock<Arc<JwkSet>>,
    /// When the keys were last fetched; held across a fetch, so fetches never overlap.
    fetched_at: tokio::sync::Mutex<Instant>,
}

impl RemoteJwks {
    /// Fetches the JWKS at `url`: https, or http on loopback only (keys fetched in plaintext
    /// over a network could be swapped by anyone on the path, and would then sign for anyone).
    pub async fn load(url: &str) -> Result<Arc<RemoteJwks>, String> {
        let url: http::Uri = url
            .parse()
            .map_err(|e| format!("--auth-jwks-url {url:?} is not a URL: {e}"))?;
        let loopback = matches!(url.host(), Some("localhost" | "127.0.0.1" | "[::1]"));
        match url.scheme_str() {
            Some("https") => {}
            Some("http") if loopback => {}
            _ => return Err(format!("--auth-jwks-url {url} must be an https:// URL")),
        }
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let connector = HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| format!("cannot load the system's CA certificates: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        let keys = fetch(&client, &url).await?;
        Ok(Arc::new(RemoteJwks {
            url,
            client,
            keys: RwLock::new(Arc::new(keys)),
            fetched_at: tokio::sync::Mutex::new(Instant::now()),
        }))
    }

    /// The keys in force.
    pub fn get(&self) -> Arc<JwkSet> {
        self.keys.read().expect("jwks lock").clone()
    }

    /// Fetches again, keeping the keys in force when the fetch fails.
    async fn refresh(&self, fetched_at: &mut Instant) {
        *fetched_at = Instant::now();
        match fetch(&self.client, &self.url).await {
            Ok(keys) => *self.keys.write().expect("jwks lock") = Arc::new(keys),
            Err(e) => tracing::warn!("{e}; keeping the keys in force"),
        }
    }

    /// A token named a key id the set lacks: fetches again unless that was done in the last
    /// `UNKNOWN_KEY_REFETCH`. Callers arriving during a fetch wait for it.
    pub async fn refresh_for_unknown_key(&self) {
        let mut fetched_at = self.fetched_at.lock().await;
        if fetched_at.elapsed() >= UNKNOWN_KEY_REFETCH {
            self.refresh(&mut fetched_at).await;
        }
    }

    /// Fetches again every `every`, for as long as the process runs.
    pub fn watch(self: &Arc<Self>, every: Duration) {
        let remote = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
            loop {
                ticks.tick().await;
                let mut fetched_at = remote.fetched_at.lock().await;
                remote.refresh(&mut fetched_at).await;
            }
        });
    }
}

/// One GET of the JWKS, parsed; errors name the URL, the status or the parse failure.
async fn fetch(
    client: &Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    url: &http::Uri,
) -> Result<JwkSet, String> {
    let fetched = tokio::time::timeout(FETCH_TIMEOUT, async {
        let response = client
            .get(url.clone())
            .await
            .map_err(|e| format!("cannot fetch the JWKS at {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!(
                "the JWKS at {url} answered HTTP {}",
                response.status()
            ));
        }
        let body = Limited::new(response.into_body(), MAX_JWKS_BYTES)
            .collect()
            .await
            .map_err(|e| format!("cannot read the JWKS at {url}: {e}"))?
            .to_bytes();
        let text = std::str::from_utf8(&body)
            .map_err(|_| format!("the JWKS at {url} is not UTF-8 text"))?;
        jwks::parse(text).map_err(|e| format!("the JWKS at {url}: {e}"))
    })
    .await;
    fetched.unwrap_or_else(|_| {
        Err(format!(
            "fetching the JWKS at {url} took over {FETCH_TIMEOUT:?}"
        ))
    })
}
