//! `GET /openapi.json`: an OpenAPI 3 description of every endpoint and every status
//! it can answer with. `tests/api_openapi.rs` provokes each documented status against
//! a running server, so the document cannot drift from the code.

use actix_web::HttpResponse;
use serde_json::{Value, json};

use super::media::MEDIA_TYPE;

fn error(description: &str) -> Value {
    json!({
        "description": description,
        "content": { MEDIA_TYPE: { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

fn ok(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": { MEDIA_TYPE: { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
    })
}

/// Responses every gated endpoint shares, plus `extra`.
fn responses(extra: Value) -> Value {
    let mut all = json!({
        "400": error("Unknown app name, or bad input"),
        "401": error("No or invalid credentials (`WWW-Authenticate: Basic`, `Token`)"),
        "403": error("A category, a missing role, or a session write without CSRF token"),
        "404": error("Unknown project, malformed UUID, or no such item"),
        "406": error("Unsupported media type or version in `Accept`"),
        "429": error("Locked out by the login throttle after failed Basic passwords (`Retry-After`)"),
        "503": error("Cache backend not enabled, the database unavailable or its storage full, \
                      or the server at a limit it keeps (`Retry-After`)"),
    });
    if let (Some(all), Value::Object(extra)) = (all.as_object_mut(), extra) {
        all.extend(extra);
    }
    all
}

/// `responses` of an endpoint that reads no input that could be bad.
fn item_params() -> Value {
    json!([
        { "$ref": "#/components/parameters/project" },
        { "name": "app_name", "in": "path", "required": true, "schema": { "type": "string" } },
        { "name": "item_name", "in": "path", "required": true,
          "schema": { "type": "string", "maxLength": 255 } },
    ])
}

/// `item_params` plus retrieve's `version` query parameter.
fn with_version(mut params: Value) -> Value {
    if let Some(list) = params.as_array_mut() {
        list.push(json!({
            "name": "version", "in": "query", "required": false,
            "description": "a kept version (see history); 404 when it is not kept",
            "schema": { "type": "integer", "minimum": 1 },
        }));
    }
    params
}

/// The job endpoints (beyond upstream), merged into the document's paths.
fn job_paths() -> Value {
    json!({
        "/sync/{project}": { "post": {
                "summary": "Queue a sync of the project (owner, delegate, superuser)",
                "description": "Optionally one app (a plugin or one of its sub-apps) and one item name. A request that a queued or running job covers (same or wider project, app and name) joins that job.",
                "parameters": [{ "$ref": "#/components/parameters/project" }],
                "requestBody": { "required": false, "content": {
                    "application/json": { "schema": { "type": "object", "properties": {
                        "app_name": { "type": "string" },
                        "name": { "type": "string", "maxLength": 255 } } } },
                }},
                "responses": responses(json!({
                    "202": ok("Queued, or joined a job that covers it; `Location` is the job", "JobRequested"),
                    "413": error("Body over 4 KiB"),
                    "415": error("Body not JSON"),
                })),
            }},
        "/jobs/{job}": { "get": {
                "summary": "A sync job: status, progress, each plugin's outcome",
                "description": "Readers of the job's project may read it; a whole-site job is for superusers.",
                "parameters": [{ "name": "job", "in": "path", "required": true,
                                 "schema": { "type": "string", "format": "uuid" } }],
                "responses": responses(json!({ "200": ok("The job", "Job") })),
            }}
    })
}

/// The job endpoints' schemas, merged into the document's components.
fn job_schemas() -> Value {
    json!({
                "JobRequested": { "type": "object", "properties": {
                    "uuid": { "type": "string", "format": "uuid" },
                    "url": { "type": "string", "description": "this API's view of the job" },
                    "page": { "type": "string", "description": "the job's admin page" },
                    "status": { "type": "string", "enum": ["queued", "running"] },
                    "joined": { "type": "boolean" },
                }},
                "Job": { "type": "object", "properties": {
                    "uuid": { "type": "string", "format": "uuid" },
                    "status": { "type": "string",
                                "enum": ["queued", "running", "done", "failed", "cancelled"] },
                    "project": { "type": "string", "format": "uuid", "nullable": true },
                    "app_name": { "type": "string", "nullable": true },
                    "name": { "type": "string", "nullable": true },
                    "origin": { "type": "string", "enum": ["web", "cli", "api"] },
                    "user": { "type": "string", "format": "uuid", "nullable": true },
                    "created": { "type": "string", "format": "date-time" },
                    "started": { "type": "string", "format": "date-time", "nullable": true },
                    "finished": { "type": "string", "format": "date-time", "nullable": true },
                    "error": { "type": "string", "nullable": true },
                    "cancel_requested": { "type": "string", "format": "date-time", "nullable": true },
                    "cancelled_by": { "type": "string", "format": "uuid", "nullable": true },
                    "progress": { "type": "object", "nullable": true, "properties": {
                        "plugin": { "type": "string" },
                        "done": { "type": "integer" },
                        "total": { "type": "integer", "description": "0: unknown" },
                        "message": { "type": "string" },
                        "updated": { "type": "string", "format": "date-time" },
                    }},
                    "plugins": { "type": "array", "items": { "type": "object", "properties": {
                        "plugin": { "type": "string" },
                        "ok": { "type": "boolean" },
                        "error": { "type": "string", "nullable": true },
                        "items_written": { "type": "integer" },
                        "started": { "type": "string", "format": "date-time" },
                        "finished": { "type": "string", "format": "date-time" },
                    }}},
                    "page": { "type": "string" },
                }}
    })
}

/// The document.
pub fn document() -> Value {
    let mut doc = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "sodarcache REST API",
            "version": "2.0",
            "description": format!(
                "SODAR Core sodarcache API. Send `Accept: {MEDIA_TYPE}; version=2.0` \
                 (1.0 is accepted too, same payloads) and `Authorization: token <key>` \
                 (or `Basic`)."
            ),
        },
        "servers": [{ "url": "/cache/api" }],
        "security": [{ "basic": [] }, { "token": [] }, { "session": [] }],
        "paths": {
            "/retrieve/{project}/{app_name}/{item_name}": { "get": {
                "summary": "An item with its data",
                "parameters": with_version(item_params()),
                "responses": responses(json!({
                    "200": ok("The item; `ETag` header set", "Item"),
                    "304": { "description": "`If-None-Match` matched the item's ETag" },
                })),
            }},
            "/retrieve/date/{project}/{app_name}/{item_name}": { "get": {
                "summary": "When an item was last written",
                "parameters": item_params(),
                "responses": responses(json!({ "200": ok("Seconds since the epoch", "UpdateTime") })),
            }},
            "/set/{project}/{app_name}/{item_name}": { "post": {
                "summary": "Create or update an item",
                "parameters": item_params(),
                "requestBody": { "required": true, "content": {
                    "application/json": { "schema": { "type": "object", "required": ["data"],
                        "properties": { "data": {
                            "description": "Any JSON except null (refused with 400), nested at most 100 levels",
                            "anyOf": [
                                { "type": "object" }, { "type": "array" }, { "type": "string" },
                                { "type": "number" }, { "type": "boolean" },
                            ] } } } },
                    "application/x-www-form-urlencoded": { "schema": { "type": "object",
                        "required": ["data"], "properties": { "data": { "type": "string" } } } },
                    "multipart/form-data": { "schema": { "type": "object",
                        "required": ["data"], "properties": { "data": { "type": "string" } } } },
                }},
                "responses": responses(json!({
                    "200": ok("Written", "Ok"),
                    "413": error("Body over SODARCACHE_MAX_BODY_BYTES"),
                    "415": error("Body neither JSON nor a form"),
                })),
            }},
            "/delete/{project}/{app_name}/{item_name}": { "delete": {
                "summary": "Delete an item (owner, delegate, contributor)",
                "parameters": item_params(),
                "responses": responses(json!({ "200": ok("Deleted", "Ok") })),
            }},
            "/history/{project}/{app_name}/{item_name}": { "get": {
                "summary": "The kept versions of an item, newest (current) first, without data",
                "parameters": item_params(),
                "responses": responses(json!({ "200": ok("The versions", "History") })),
            }},
            "/list/{project}": { "get": {
                "summary": "A project's items without data, by app and name",
                "parameters": [
                    { "$ref": "#/components/parameters/project" },
                    { "name": "page", "in": "query", "schema": { "type": "integer", "minimum": 1 } },
                    { "name": "page_size", "in": "query",
                      "schema": { "type": "integer", "minimum": 1, "maximum": super::list::MAX_PAGE_SIZE,
                                  "default": super::list::DEFAULT_PAGE_SIZE } },
                    { "name": "app", "in": "query",
                      "description": "only this app's items; an unknown app, or an empty value, is a 400",
                      "schema": { "type": "string", "minLength": 1 } },
                ],
                "responses": responses(json!({ "200": ok("One page", "ItemList") })),
            }},
            "/openapi.json": { "get": {
                "summary": "This document",
                "security": [],
                "responses": { "200": { "description": "OpenAPI 3 document",
                    "content": { "application/json": {} } } },
            }},
        },
        "components": {
            "securitySchemes": {
                "basic": { "type": "http", "scheme": "basic",
                           "description": "`user:password`, throttled like the login page" },
                "token": { "type": "apiKey", "in": "header", "name": "Authorization",
                           "description": "`token <key>`, from `sodarcache token create`" },
                "session": { "type": "apiKey", "in": "cookie", "name": crate::auth::session::COOKIE_NAME,
                             "description": "Writes also need the `X-CSRFToken` header" },
            },
            "parameters": {
                "project": { "name": "project", "in": "path", "required": true,
                             "schema": { "type": "string", "format": "uuid" } },
            },
            "schemas": {
                "Error": { "type": "object", "required": ["detail"],
                           "properties": { "detail": { "type": "string" } } },
                "Ok": { "type": "object", "properties": { "detail": { "type": "string", "enum": ["ok"] } } },
                "UpdateTime": { "type": "object", "properties": { "update_time": { "type": "number" } } },
                "Item": { "type": "object", "properties": {
                    "project": { "type": "string", "format": "uuid" },
                    "app_name": { "type": "string" },
                    "name": { "type": "string" },
                    "date_modified": { "type": "string", "format": "date-time" },
                    "user": { "type": "string", "format": "uuid", "nullable": true },
                    "data": {},
                }},
                "History": { "type": "object", "properties": {
                    "project": { "type": "string", "format": "uuid" },
                    "app_name": { "type": "string" },
                    "name": { "type": "string" },
                    "versions": { "type": "array", "items": { "type": "object", "properties": {
                        "version": { "type": "integer", "minimum": 1 },
                        "date_modified": { "type": "string", "format": "date-time" },
                        "user": { "type": "string", "format": "uuid", "nullable": true },
                        "origin": { "type": "string", "enum": ["api", "sync", "library"],
                                    "nullable": true },
                        "job": { "type": "string", "format": "uuid", "nullable": true,
                                 "description": "the sync job that wrote this version" },
                        "size": { "type": "integer", "description": "bytes of JSON text" },
                        "current": { "type": "boolean" },
                    }}},
                }},
                "ItemList": { "type": "object", "properties": {
                    "count": { "type": "integer" },
                    "next": { "type": "string", "nullable": true },
                    "previous": { "type": "string", "nullable": true },
                    "results": { "type": "array", "items": { "type": "object", "properties": {
                        "app_name": { "type": "string" },
                        "name": { "type": "string" },
                        "size": { "type": "integer", "description": "bytes of JSON text" },
                        "date_modified": { "type": "string", "format": "date-time" },
                        "user": { "type": "string", "format": "uuid", "nullable": true },
                    }}},
                }},
            },
        },
    });
    if let (Some(paths), Value::Object(extra)) = (doc["paths"].as_object_mut(), job_paths()) {
        paths.extend(extra);
    }
    if let (Some(schemas), Value::Object(extra)) =
        (doc["components"]["schemas"].as_object_mut(), job_schemas())
    {
        schemas.extend(extra);
    }
    doc
}

/// The handler.
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .json(document())
}
