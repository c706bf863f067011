//! Shared by the `api_*` tests: a server with a category, projects, users in every
//! role and a token for each, and a small HTTP client speaking the API's dialect.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the helpers"
)]

use std::collections::HashMap;
use std::future::Future;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sodarcache::auth::token;
use sodarcache::db::JsonText;
use sodarcache::db::models::{Project, PublicAccess, Role, User};
use sodarcache::plugins::PluginRegistry;
use sodarcache::settings::Settings;

use crate::common::fixtures as fx;
use crate::common::{TestApp, TestDb};

/// The vendor media type.
pub const MEDIA: &str = "application/vnd.bihealth.sodar-core.sodarcache+json";
/// Always a valid app name.
pub const APP: &str = "sodarcache";
/// The item every world starts with, in [`World::project`].
pub const ITEM: &str = "item";
/// Its data, exactly as stored.
pub const ITEM_DATA: &str = r#"{"z": 1, "a": [true, null, "x"]}"#;

/// Runs a future to completion on a fresh runtime.
pub fn run<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Every kind of caller the permission table knows.
pub const ROLES: &[&str] = &[
    "superuser",
    "owner",
    "delegate",
    "contributor",
    "guest",
    "viewer",
    "finder",
    "cat_owner",
    "cat_contributor",
    "cat_guest",
    "nobody",
];

/// A running server with fixtures.
pub struct World {
    /// The server.
    pub app: TestApp,
    /// The category `Cat`.
    pub category: Project,
    /// `Cat / Proj`, with a role for every user and the item [`ITEM`].
    pub project: Project,
    /// `Cat / Public`, public guest access, no roles of its own.
    pub public: Project,
    /// Token per user name in [`ROLES`].
    pub tokens: HashMap<String, String>,
    /// Users by name.
    pub users: HashMap<String, User>,
    /// The client.
    pub client: reqwest::Client,
}

/// A response, read.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body text.
    pub text: String,
}

impl Reply {
    /// The body as JSON (panics otherwise).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an error: the status, `{"detail": detail}`, the versioned media type.
    pub fn assert_error(&self, status: u16, detail: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert_eq!(self.json(), serde_json::json!({ "detail": detail }));
        self.assert_media("2.0");
    }

    /// Asserts the status and that `detail` is some text.
    pub fn assert_status_with_detail(&self, status: u16) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert!(self.json()["detail"].is_string(), "body: {}", self.text);
    }

    /// Asserts `Content-Type` is the vendor type in `version`.
    pub fn assert_media(&self, version: &str) {
        assert_eq!(
            self.header("content-type"),
            Some(format!("{MEDIA}; version={version}").as_str())
        );
    }
}

/// Who a request is from.
#[derive(Debug, Clone, Copy)]
pub enum As<'a> {
    /// The token of this user.
    User(&'a str),
    /// No credentials.
    Anonymous,
}

impl World {
    /// A world with default settings.
    pub fn new(db: &TestDb) -> World {
        World::with(db, |_| {})
    }

    /// A world with adjusted settings.
    pub fn with(db: &TestDb, tweak: impl FnOnce(&mut Settings)) -> World {
        World::with_plugins(db, PluginRegistry::builder(), tweak)
    }

    /// A world with these plugins and adjusted settings.
    pub fn with_plugins(
        db: &TestDb,
        plugins: sodarcache::plugins::RegistryBuilder,
        tweak: impl FnOnce(&mut Settings),
    ) -> World {
        let app = TestApp::spawn(db, plugins, tweak);
        let conn = &mut **app.conn();
        let category = fx::category(conn, "Cat", None);
        let project = fx::project(conn, "Proj", Some(&category), None);
        let public = fx::project(conn, "Public", Some(&category), Some(PublicAccess::Guest));
        let mut users = HashMap::new();
        let mut tokens = HashMap::new();
        for name in ROLES {
            let user = fx::user(conn, name, *name == "superuser");
            let (target, role) = match *name {
                "owner" => (Some(&project), Role::Owner),
                "delegate" => (Some(&project), Role::Delegate),
                "contributor" => (Some(&project), Role::Contributor),
                "guest" => (Some(&project), Role::Guest),
                "viewer" => (Some(&project), Role::Viewer),
                "finder" => (Some(&category), Role::Finder),
                "cat_owner" => (Some(&category), Role::Owner),
                "cat_contributor" => (Some(&category), Role::Contributor),
                "cat_guest" => (Some(&category), Role::Guest),
                _ => (None, Role::Guest),
            };
            if let Some(target) = target {
                fx::role(conn, target, &user, role);
            }
            tokens.insert(
                (*name).to_owned(),
                token::create(conn, &user, None).unwrap(),
            );
            users.insert((*name).to_owned(), user);
        }
        app.registry
            .cache_unchecked()
            .set_cache_item_json(
                APP,
                ITEM,
                &JsonText::parse(ITEM_DATA).unwrap(),
                Some(&project),
                users.get("owner"),
            )
            .unwrap();
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        World {
            app,
            category,
            project,
            public,
            tokens,
            users,
            client,
        }
    }

    /// `/cache/api/{endpoint}/{project}/sodarcache/{item}`.
    pub fn item_path(&self, endpoint: &str, project: &Project, item: &str) -> String {
        format!("/cache/api/{endpoint}/{}/{APP}/{item}", project.uuid)
    }

    /// A request with the default `Accept` (version 2.0) and `who`'s token.
    pub fn request(&self, method: Method, path: &str, who: As<'_>) -> reqwest::RequestBuilder {
        self.request_accepting(method, path, who, &format!("{MEDIA}; version=2.0"))
    }

    /// A request with this `Accept` and `who`'s token.
    pub fn request_accepting(
        &self,
        method: Method,
        path: &str,
        who: As<'_>,
        accept: &str,
    ) -> reqwest::RequestBuilder {
        let mut rb = self
            .client
            .request(method, self.app.url(path))
            .header(ACCEPT, accept);
        if let As::User(name) = who {
            rb = rb.header(AUTHORIZATION, format!("token {}", self.tokens[name]));
        }
        rb
    }

    /// GET.
    pub async fn get(&self, path: &str, who: As<'_>) -> Reply {
        send(self.request(Method::GET, path, who)).await
    }

    /// POST `{"data": data}`.
    pub async fn set(&self, path: &str, who: As<'_>, data: Value) -> Reply {
        send(
            self.request(Method::POST, path, who)
                .header(CONTENT_TYPE, "application/json")
                .body(serde_json::json!({ "data": data }).to_string()),
        )
        .await
    }

    /// DELETE.
    pub async fn delete(&self, path: &str, who: As<'_>) -> Reply {
        send(self.request(Method::DELETE, path, who)).await
    }

    /// The stored data of an item in `project`, if any.
    pub fn stored(&self, project: &Project, name: &str) -> Option<String> {
        self.app
            .registry
            .cache_unchecked()
            .get_cache_item(APP, name, Some(project))
            .unwrap()
            .map(|i| i.data.into_string())
    }
}

/// Sends and reads a request.
pub async fn send(rb: reqwest::RequestBuilder) -> Reply {
    let res = rb.send().await.expect("request sent");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body read");
    Reply {
        status,
        headers,
        text,
    }
}
