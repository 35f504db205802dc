//! The HTTP side: EC2 query requests on `POST /`, counters on `GET /standin/counters` (JSON,
//! for benchmark scripts), each connection served by hyper's HTTP/1.1.

use crate::World;
use crate::ec2::{self, Ec2Error};
use crate::faults::Fault;
use crate::query::Query;
use crate::xml;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Why a connection is dropped without an answer (the reset-after-apply fault).
#[derive(Debug)]
struct Reset;

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fault injected: connection reset after the request was applied")
    }
}

impl std::error::Error for Reset {}

/// Accepts connections until `shutdown` fires.
pub async fn serve(
    listener: TcpListener,
    world: Arc<Mutex<World>>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let world = world.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(world.clone(), request));
            // A connection error (including an injected reset) only ends this connection.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn reply(status: u16, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        "content-type",
        content_type.parse().expect("static header value"),
    );
    response
}

async fn handle(
    world: Arc<Mutex<World>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Reset> {
    if request.method() == Method::GET && request.uri().path() == "/standin/counters" {
        let json = world.lock().expect("world lock").counters_json();
        return Ok(reply(200, "application/json", json));
    }
    let region = signed_region(request.headers());
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Err(Reset),
    };
    let query = Query::parse(&body);

    // Decide faults and throttling under the lock, sleep outside it, then apply.
    let (request_id, admission) = world.lock().expect("world lock").admit(&query, &region);
    match admission {
        Admission::Answer(e) => {
            let body = xml::error(&e.code, &e.message, &request_id);
            return Ok(with_request_id(
                reply(e.status, "text/xml", body),
                &request_id,
            ));
        }
        Admission::ResetAfterApply => {
            let _ = world.lock().expect("world lock").apply(&query);
            return Err(Reset);
        }
        Admission::Proceed(Some(delay)) => tokio::time::sleep(delay).await,
        Admission::Proceed(None) => {}
    }
    let answer = world.lock().expect("world lock").apply(&query);
    let response = match answer {
        Ok(body) => reply(
            200,
            "text/xml",
            xml::response(&query.action, &request_id, &body),
        ),
        Err(e) => reply(
            e.status,
            "text/xml",
            xml::error(&e.code, &e.message, &request_id),
        ),
    };
    Ok(with_request_id(response, &request_id))
}

/// The region a request is signed for (SigV4's credential scope,
/// `Credential=KEY/DATE/REGION/ec2/aws4_request`); `us-east-1` when unsigned.
fn signed_region(headers: &hyper::HeaderMap) -> String {
    headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("Credential=").nth(1))
        .and_then(|scope| scope.split('/').nth(2))
        .unwrap_or("us-east-1")
        .to_owned()
}

/// EC2 also names the request id in the `x-amzn-requestid` header.
fn with_request_id(mut response: Response<Full<Bytes>>, request_id: &str) -> Response<Full<Bytes>> {
    if let Ok(value) = request_id.parse() {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

/// What the fault rules and throttling decided for one call.
pub enum Admission {
    /// Answer this error without applying.
    Answer(Ec2Error),
    /// Apply (after this delay, if any).
    Proceed(Option<std::time::Duration>),
    /// Apply, then drop the connection.
    ResetAfterApply,
}

impl World {
    /// Counts the call, then applies the first matching fault, then the throttling of
    /// `region`.
    fn admit(&mut self, query: &Query, region: &str) -> (String, Admission) {
        self.requests += 1;
        let request_id = format!(
            "{:08x}-5a7d-4e1c-9f00-{:012x}",
            self.requests, self.requests
        );
        let counters = self.counters.entry(query.action.clone()).or_default();
        counters.calls += 1;
        let in_region = self
            .region_counters
            .entry((region.to_owned(), query.action.clone()))
            .or_default();
        in_region.calls += 1;
        let mut delay = None;
        match self.faults.take(&query.action, ec2::page_number(query)) {
            Some(Fault::Error { status, code }) => {
                counters.faulted += 1;
                let message = format!("Fault injected by the test: {code}");
                return (
                    request_id,
                    Admission::Answer(Ec2Error {
                        status,
                        code,
                        message,
                    }),
                );
            }
            Some(Fault::ResetAfterApply) => {
                counters.faulted += 1;
                return (request_id, Admission::ResetAfterApply);
            }
            Some(Fault::Latency(d)) => delay = Some(d),
            None => {}
        }
        if let Some(template) = &self.throttle {
            let throttle = self
                .regional
                .entry(region.to_owned())
                .or_insert_with(|| template.clone());
            let key = ec2::bucket_key(query);
            if !throttle.admit(&key, &query.action, ec2::instance_count(query)) {
                counters.throttled += 1;
                in_region.throttled += 1;
                return (request_id, Admission::Answer(Ec2Error::throttled()));
            }
        }
        (request_id, Admission::Proceed(delay))
    }

    fn apply(&mut self, query: &Query) -> Result<String, Ec2Error> {
        self.account.settle(tokio::time::Instant::now());
        ec2::apply(&mut self.account, &mut self.tokens, query)
    }
}
