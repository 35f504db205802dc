//! A counting HTTP proxy in front of moto: what the gateway sends to AWS (EC2 and STS, both
//! query-protocol POSTs), counted by `Action` and kept (`forms`), forwarded as it is. It can play an STS that
//! refuses one role: an AssumeRole whose `RoleArn` contains the refused text gets STS's
//! `AccessDenied` (HTTP 403, with a request id) instead of moto's answer, as a role whose
//! trust policy does not name the gateway would. Each kept form also names the access key the
//! request was signed with (`SIGNED_BY`), and the keys AssumeRole answers are kept with the
//! AssumeRole's form (`issued`), so a test can tell whose session signed a call.

#![allow(dead_code)] // each test uses part of the harness

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// The request id of every refusal the proxy makes (as STS's would be, it is in the answer).
pub const REFUSAL_REQUEST_ID: &str = "c0ffee00-0000-4000-8000-000000000403";

/// The form key naming the access key id a request was signed with (from its
/// `Authorization` header; not a parameter the gateway sent).
pub const SIGNED_BY: &str = "x-signed-by";

/// The proxy, serving until dropped.
pub struct CountingProxy {
    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL`.
    pub endpoint: String,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    forms: Arc<Mutex<Vec<Form>>>,
    answered: Arc<Mutex<Vec<(String, String)>>>,
    issued: Arc<Mutex<Vec<(Form, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

/// A request's form parameters, as the gateway sent them.
pub type Form = HashMap<String, String>;

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the proxy shares with its connections.
struct Shared {
    upstream: String,
    refused_role: Option<String>,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    forms: Arc<Mutex<Vec<Form>>>,
    answered: Arc<Mutex<Vec<(String, String)>>>,
    issued: Arc<Mutex<Vec<(Form, String)>>>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl CountingProxy {
    /// Forwards to `upstream` (moto), refusing AssumeRole into roles containing
    /// `refused_role`.
    pub async fn start(upstream: &str, refused_role: Option<&str>) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let forms = Arc::new(Mutex::new(Vec::new()));
        let answered = Arc::new(Mutex::new(Vec::new()));
        let issued = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared {
            answered: answered.clone(),
            issued: issued.clone(),
            upstream: upstream.to_owned(),
            refused_role: refused_role.map(str::to_owned),
            counts: counts.clone(),
            forms: forms.clone(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        });
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| forward(shared.clone(), request));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        CountingProxy {
            endpoint,
            counts,
            forms,
            answered,
            issued,
            task,
        }
    }

    /// Every AssumeRole answered with credentials: its form, and the access key id issued.
    pub fn issued(&self) -> Vec<(Form, String)> {
        self.issued.lock().expect("lock").clone()
    }

    /// Requests seen for `action` so far.
    pub fn count(&self, action: &str) -> usize {
        let counts = self.counts.lock().expect("lock");
        counts.get(action).copied().unwrap_or(0)
    }

    /// The parameters of every request seen for `action`, in order.
    pub fn forms(&self, action: &str) -> Vec<Form> {
        let forms = self.forms.lock().expect("lock");
        forms
            .iter()
            .filter(|f| f.get("Action").is_some_and(|a| a == action))
            .cloned()
            .collect()
    }

    /// The request ids (`x-amzn-requestid`) of the upstream's answers to `action`, in order.
    pub fn request_ids(&self, action: &str) -> Vec<String> {
        let answered = self.answered.lock().expect("lock");
        answered
            .iter()
            .filter(|(a, _)| a == action)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// Requests seen so far, every action.
    pub fn total(&self) -> usize {
        self.counts.lock().expect("lock").values().sum()
    }
}

/// Counts `request` by its `Action`, then answers it: refused, or moto's answer.
async fn forward(
    shared: Arc<Shared>,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, hyper::Error> {
    let (mut parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let mut form: Form = form_urlencoded::parse(&body).into_owned().collect();
    if let Some(key) = parts
        .headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("Credential=").nth(1))
        .and_then(|v| v.split('/').next())
    {
        form.insert(SIGNED_BY.to_owned(), key.to_owned());
    }
    let action = form.get("Action").cloned().unwrap_or_default();
    shared.forms.lock().expect("lock").push(form.clone());
    *shared
        .counts
        .lock()
        .expect("lock")
        .entry(action.clone())
        .or_default() += 1;
    let refused = action == "AssumeRole"
        && shared.refused_role.as_ref().is_some_and(|refused| {
            form.get("RoleArn")
                .is_some_and(|arn| arn.contains(refused.as_str()))
        });
    if refused {
        let document = format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>\
             <Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/gateway \
             is not authorized to perform: sts:AssumeRole on resource: {}</Message></Error>\
             <RequestId>{REFUSAL_REQUEST_ID}</RequestId></ErrorResponse>",
            form["RoleArn"]
        );
        let answer = hyper::Response::builder()
            .status(403)
            .header("content-type", "text/xml")
            .header("x-amzn-requestid", REFUSAL_REQUEST_ID)
            .body(Full::new(Bytes::from(document)))
            .expect("response");
        return Ok(answer);
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = format!("{}{path}", shared.upstream).parse().expect("uri");
    parts.headers.remove(hyper::header::HOST);
    let upstream = hyper::Request::from_parts(parts, Full::new(body));
    let answered = match shared.client.request(upstream).await {
        Ok(answered) => answered,
        Err(e) => {
            let failed = hyper::Response::builder()
                .status(502)
                .body(Full::new(Bytes::from(format!("proxy: {e}"))))
                .expect("response");
            return Ok(failed);
        }
    };
    let (parts, body) = answered.into_parts();
    if let Some(id) = parts
        .headers
        .get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
    {
        shared
            .answered
            .lock()
            .expect("lock")
            .push((action.clone(), id.to_owned()));
    }
    let body = body.collect().await?.to_bytes();
    if action == "AssumeRole"
        && let Some(key) = String::from_utf8_lossy(&body)
            .split("<AccessKeyId>")
            .nth(1)
            .and_then(|rest| rest.split("</AccessKeyId>").next())
    {
        shared
            .issued
            .lock()
            .expect("lock")
            .push((form, key.to_owned()));
    }
    Ok(hyper::Response::from_parts(parts, Full::new(body)))
}
