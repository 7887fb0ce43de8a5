//! HTTP tests: the router in-process (`oneshot`) over a real SQLite file and a real PostgreSQL
//! database, plus a real socket and a real headless Chromium for the browser story.

mod api;
mod bias;
mod browser;
mod evals;
mod labeling;
mod prompts;
mod review;
mod roles;

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use juru_core::Role;
use juru_desks::views::{CreateToken, CreateUser, CreateWorkspace};
use juru_desks::{Actor, Desks};
use juru_server::{AppState, Config};
use juru_store::testing::TestDb;
use serde_json::Value;
use tower::ServiceExt;

/// A server over a fresh database with workspace `acme`, one user per role, and a token each.
pub(crate) struct TestApp {
    pub(crate) _db: TestDb,
    pub(crate) desks: Desks,
    pub(crate) router: Router,
    pub(crate) tokens: HashMap<Role, String>,
    pub(crate) acme: Actor,
    _dir: tempfile::TempDir,
}

pub(crate) fn username(role: Role) -> String {
    role.as_str().replace('_', "-")
}

impl TestApp {
    pub(crate) async fn new(db: TestDb) -> TestApp {
        Self::with_config(db, Config::default()).await
    }

    pub(crate) async fn with_config(db: TestDb, config: Config) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let desks = Desks::new(db.store.clone(), dir.path().to_owned());
        let ws = desks
            .create_workspace(
                &Actor::system("", ""),
                &CreateWorkspace { name: "acme".into(), display_name: None, description: None },
            )
            .await
            .unwrap();
        let acme = Actor::system(&ws.id, &ws.name);
        let mut tokens = HashMap::new();
        for role in Role::ALL {
            let name = username(role);
            let req = CreateUser {
                username: name.clone(),
                display_name: None,
                password: Some(format!("{name}-secret-pw")),
                is_admin: false,
                roles: vec![role.as_str().into()],
            };
            desks.create_user(&acme, &req).await.unwrap();
            let token = desks
                .create_token(
                    &acme,
                    &CreateToken {
                        name: "test".into(),
                        role: role.as_str().into(),
                        username: Some(name),
                        expires_in_days: None,
                    },
                )
                .await
                .unwrap();
            tokens.insert(role, token.token);
        }
        let router = juru_server::app(AppState::new(desks.clone(), config));
        TestApp { _db: db, desks, router, tokens, acme, _dir: dir }
    }

    /// More users of one role, `{prefix}-0` …, each with a token: (username, token).
    pub(crate) async fn more_users(&self, prefix: &str, role: &str, n: usize) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for i in 0..n {
            let name = format!("{prefix}-{i}");
            let req = CreateUser {
                username: name.clone(),
                display_name: None,
                password: Some(format!("{name}-secret-pw")),
                is_admin: false,
                roles: vec![role.into()],
            };
            self.desks.create_user(&self.acme, &req).await.unwrap();
            let t = self
                .desks
                .create_token(
                    &self.acme,
                    &CreateToken {
                        name: "t".into(),
                        role: role.into(),
                        username: Some(name.clone()),
                        expires_in_days: None,
                    },
                )
                .await
                .unwrap();
            out.push((name, t.token));
        }
        out
    }

    pub(crate) fn token(&self, role: Role) -> &str {
        &self.tokens[&role]
    }

    /// Sends a JSON request (or none) and returns the status and the JSON answer.
    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (ct, bytes) = match body {
            Some(v) => ("application/json", v.to_string().into_bytes()),
            None => ("application/json", Vec::new()),
        };
        let (status, out) = self.call_raw(method, path, token, ct, bytes, &[]).await;
        (status, serde_json::from_slice(&out).unwrap_or(Value::Null))
    }

    pub(crate) async fn call_raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Vec<u8>) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if !body.is_empty() {
            req = req.header("content-type", content_type);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = self.router.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        (status, bytes)
    }
}
