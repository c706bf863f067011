//! Shared by the `reliability_*` tests: a REST client speaking the API's dialect, a
//! world with an owner, a project and a token, and (in [`proxy`]) a TCP proxy that
//! can cut the database away and bring it back.
//!
//! Included with `#[path = "reliability/mod.rs"] mod reliability;`.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the helpers"
)]

pub mod pgwire;
pub mod proxy;

use std::future::Future;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use sodarcache::auth::token;
use sodarcache::db::DbConn;
use sodarcache::db::models::{Project, Role, User};

use crate::common::fixtures as fx;

/// The API's media type with the version the tests speak.
pub const ACCEPT_V2: &str = "application/vnd.bihealth.sodar-core.sodarcache+json; version=2.0";
/// An app name every server knows.
pub const APP: &str = "sodarcache";

/// Runs `f` on a fresh multi-threaded runtime.
pub fn run<F: Future>(f: F) -> F::Output {
    runtime().block_on(f)
}

/// A multi-threaded runtime (the proxy and the clients share it).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime")
}

/// An owner, their project and an API token.
pub struct World {
    /// The owner (not a superuser).
    pub owner: User,
    /// `Cat / Proj`.
    pub project: Project,
    /// The owner's token.
    pub token: String,
}

impl World {
    /// Creates the fixtures through `conn`.
    pub fn create(conn: &mut DbConn) -> World {
        let owner = fx::user(conn, "owner", false);
        let category = fx::category(conn, "Cat", None);
        let project = fx::project(conn, "Proj", Some(&category), None);
        fx::role(conn, &category, &owner, Role::Owner);
        fx::role(conn, &project, &owner, Role::Owner);
        let token = token::create(conn, &owner, None).expect("token");
        World {
            owner,
            project,
            token,
        }
    }
}

/// A client that sends the token and the versioned media type on every request and
/// gives up on a request after `timeout`.
pub fn api_client(token: &str, timeout: Duration) -> Client {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static(ACCEPT_V2));
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("token {token}")).expect("header"),
    );
    Client::builder()
        .default_headers(headers)
        .timeout(timeout)
        .pool_max_idle_per_host(64)
        .build()
        .expect("client")
}

/// A reply: status and body (JSON when it parses, else the text as a JSON string).
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Body.
    pub body: Value,
    /// Whether the body parsed as JSON.
    pub json: bool,
}

async fn reply(resp: reqwest::Response) -> Reply {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    match serde_json::from_str(&text) {
        Ok(body) => Reply {
            status,
            body,
            json: true,
        },
        Err(_) => Reply {
            status,
            body: Value::String(text),
            json: false,
        },
    }
}

/// `POST {base}/cache/api/set/{project}/{APP}/{item}` with `{"data": data}`; a
/// transport error (time-out, reset) is `Err`.
pub async fn set(
    client: &Client,
    base: &str,
    project: &Project,
    item: &str,
    data: &Value,
) -> Result<Reply, reqwest::Error> {
    let url = format!("{base}/cache/api/set/{}/{APP}/{item}", project.uuid);
    let resp = client
        .post(url)
        .json(&serde_json::json!({ "data": data }))
        .send()
        .await?;
    Ok(reply(resp).await)
}

/// `GET {base}/cache/api/retrieve/{project}/{APP}/{item}`.
pub async fn retrieve(
    client: &Client,
    base: &str,
    project: &Project,
    item: &str,
) -> Result<Reply, reqwest::Error> {
    let url = format!("{base}/cache/api/retrieve/{}/{APP}/{item}", project.uuid);
    Ok(reply(client.get(url).send().await?).await)
}

/// `GET {base}/healthz`'s status.
pub async fn healthz(client: &Client, base: &str) -> Result<StatusCode, reqwest::Error> {
    Ok(client.get(format!("{base}/healthz")).send().await?.status())
}
