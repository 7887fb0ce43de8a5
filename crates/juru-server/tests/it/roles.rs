//! The permission matrix over the API: every role against every guarded endpoint. The expected
//! allow-lists are written out here by hand, independently of `Role::allows`, so that a change
//! to the policy has to be made in both places on purpose.

use juru_core::Role;
use juru_core::Role::*;
use juru_store::both_backends;
use juru_store::testing::TestDb;
use serde_json::{Value, json};

use crate::TestApp;

const EVERYONE: &[Role] = &Role::ALL;

struct Case {
    method: &'static str,
    path: String,
    body: Option<Value>,
    allowed: &'static [Role],
}

fn cases(role: Role, trace_id: &str) -> Vec<Case> {
    let r = role.as_str();
    let writers_of_data: &[Role] = &[
        Admin,
        PromptEngineer,
        BiasReviewer,
        Reviewer,
        Annotator,
        DialogDesigner,
        MlEngineer,
        RedTeamer,
        Integrator,
    ];
    vec![
        Case { method: "GET", path: "/api/v1/me".into(), body: None, allowed: EVERYONE },
        Case { method: "GET", path: "/api/v1/datasets".into(), body: None, allowed: EVERYONE },
        Case {
            method: "POST",
            path: format!("/api/v1/datasets/import?name=d-{r}&format=csv"),
            body: Some(json!("a,b\n1,x\n")),
            allowed: writers_of_data,
        },
        Case { method: "GET", path: "/api/v1/traces".into(), body: None, allowed: EVERYONE },
        Case {
            method: "POST",
            path: "/api/v1/traces".into(),
            body: Some(json!({"input": "hi", "output": "halo", "model": r})),
            allowed: &[Admin, PromptEngineer, DialogDesigner, MlEngineer, RedTeamer, Integrator],
        },
        Case {
            method: "POST",
            path: "/api/v1/scores".into(),
            body: Some(
                json!({"target_kind": "trace", "target_id": trace_id, "name": "helpful", "value": 1.0}),
            ),
            allowed: writers_of_data,
        },
        Case { method: "GET", path: "/api/v1/scores".into(), body: None, allowed: EVERYONE },
        Case { method: "GET", path: "/api/v1/ai-systems".into(), body: None, allowed: EVERYONE },
        Case {
            method: "POST",
            path: "/api/v1/ai-systems".into(),
            body: Some(json!({"name": format!("sys-{r}"), "risk_tier": "limited"})),
            allowed: &[Admin, ComplianceOfficer, Integrator],
        },
        Case { method: "GET", path: "/api/v1/models".into(), body: None, allowed: EVERYONE },
        Case {
            method: "POST",
            path: "/api/v1/models".into(),
            body: Some(json!({"name": format!("m-{r}"), "task": "classification"})),
            allowed: &[Admin, MlEngineer],
        },
        Case {
            method: "POST",
            path: "/api/v1/models/train".into(),
            body: Some(
                json!({"dataset": "d", "text_field": "t", "label_field": "l", "name": format!("c-{r}")}),
            ),
            allowed: &[Admin, MlEngineer],
        },
        Case {
            method: "POST",
            path: format!("/api/v1/models/p-{r}/providers"),
            body: Some(json!({"base_url": "http://127.0.0.1:9/v1", "remote_model": "m", "api_key": "k"})),
            allowed: &[Admin, MlEngineer],
        },
        Case { method: "GET", path: "/api/v1/jobs".into(), body: None, allowed: EVERYONE },
        Case { method: "GET", path: "/api/v1/labeling/projects".into(), body: None, allowed: EVERYONE },
        // `d-admin` exists from the admin's import case above (admin's cases run first).
        Case {
            method: "POST",
            path: "/api/v1/labeling/projects".into(),
            body: Some(json!({"name": format!("lp-{r}"), "dataset": "d-admin", "text_field": "b",
                              "schema": {"kind": "single", "labels": ["x", "y"]}})),
            allowed: &[Admin, Annotator],
        },
        Case { method: "GET", path: "/api/v1/review/queues".into(), body: None, allowed: EVERYONE },
        Case { method: "GET", path: "/api/v1/prompts".into(), body: None, allowed: EVERYONE },
        Case {
            method: "POST",
            path: "/api/v1/prompts".into(),
            body: Some(json!({"name": format!("p-{}", r.replace('_', "-")), "template": "Halo"})),
            allowed: &[Admin, PromptEngineer],
        },
        Case {
            method: "POST",
            path: "/api/v1/review/queues".into(),
            body: Some(json!({"name": format!("rq-{}", r.replace('_', "-"))})),
            allowed: &[Admin, Reviewer],
        },
        // `rq-admin` exists from the admin's case above. Holding an output for review is what an
        // application that logs traces does.
        Case {
            method: "POST",
            path: "/api/v1/review/queues/rq-admin/gate".into(),
            body: Some(json!({"input": "q", "output": "a"})),
            allowed: &[Admin, PromptEngineer, DialogDesigner, MlEngineer, RedTeamer, Integrator],
        },
        Case {
            method: "GET",
            path: "/api/v1/audit".into(),
            body: None,
            allowed: &[Admin, ComplianceOfficer],
        },
        Case {
            method: "GET",
            path: "/api/v1/audit/verify".into(),
            body: None,
            allowed: &[Admin, ComplianceOfficer],
        },
        Case {
            method: "GET",
            path: "/api/v1/audit/export".into(),
            body: None,
            allowed: &[Admin, ComplianceOfficer],
        },
        Case { method: "GET", path: "/api/v1/members".into(), body: None, allowed: &[Admin] },
        Case {
            method: "POST",
            path: "/api/v1/users".into(),
            body: Some(json!({"username": format!("new-{}", r.replace('_', "-")), "roles": ["viewer"]})),
            allowed: &[Admin],
        },
        Case {
            method: "PUT",
            path: "/api/v1/users/viewer/roles/annotator".into(),
            body: None,
            allowed: &[Admin],
        },
        Case { method: "GET", path: "/api/v1/tokens".into(), body: None, allowed: EVERYONE },
        // Creating workspaces is for server administrators signed in to the UI; a token never
        // carries that power, whatever its role.
        Case {
            method: "POST",
            path: "/api/v1/workspaces".into(),
            body: Some(json!({"name": format!("ws-{}", r.replace('_', "-"))})),
            allowed: &[],
        },
    ]
}

async fn send(app: &TestApp, case: &Case, token: Option<&str>) -> (axum::http::StatusCode, Value) {
    match (&case.body, case.path.contains("/datasets/import")) {
        (Some(Value::String(csv)), true) => {
            let (s, b) =
                app.call_raw(case.method, &case.path, token, "text/csv", csv.clone().into_bytes(), &[]).await;
            (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
        }
        _ => app.call(case.method, &case.path, token, case.body.clone()).await,
    }
}

both_backends!(every_role_against_every_endpoint, |db: TestDb| async move {
    let app = TestApp::new(db).await;
    let (status, body) = app
        .call("POST", "/api/v1/traces", Some(app.token(Admin)), Some(json!({"input": "q", "output": "a"})))
        .await;
    assert_eq!(status, 201, "{body}");
    let trace_id = body["ids"][0].as_str().unwrap().to_owned();

    let mut checked = 0;
    for role in Role::ALL {
        for case in cases(role, &trace_id) {
            let (status, body) = send(&app, &case, Some(app.token(role))).await;
            let allowed = case.allowed.contains(&role);
            if allowed {
                assert!(
                    status.is_success(),
                    "{role} {} {}: expected success, got {status} {body}",
                    case.method,
                    case.path
                );
            } else {
                assert_eq!(
                    status, 403,
                    "{role} {} {}: expected 403, got {status} {body}",
                    case.method, case.path
                );
                assert_eq!(body["error"]["code"], "forbidden", "{body}");
            }
            checked += 1;
        }
    }
    // Without credentials every endpoint answers 401.
    for case in cases(Viewer, &trace_id) {
        let (status, body) = send(&app, &case, None).await;
        assert_eq!(status, 401, "{} {} without auth: {body}", case.method, case.path);
        assert_eq!(body["error"]["code"], "unauthenticated");
        let (status, _) = send(&app, &case, Some("juru_not_a_real_token")).await;
        assert_eq!(status, 401, "{} {} with a bad token", case.method, case.path);
    }
    assert_eq!(checked, 11 * 29);
});

both_backends!(revoked_token_and_removed_role_stop_working, |db: TestDb| async move {
    let app = TestApp::new(db).await;
    let annotator = app.token(Annotator).to_owned();
    assert_eq!(app.call("GET", "/api/v1/me", Some(&annotator), None).await.0, 200);
    // Removing the role the token carries disables the token.
    let (s, _) =
        app.call("DELETE", "/api/v1/users/annotator/roles/annotator", Some(app.token(Admin)), None).await;
    assert_eq!(s, 200);
    assert_eq!(app.call("GET", "/api/v1/me", Some(&annotator), None).await.0, 401);

    let viewer = app.token(Viewer).to_owned();
    let (_, tokens) = app.call("GET", "/api/v1/tokens", Some(&viewer), None).await;
    let id = tokens[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.call("DELETE", &format!("/api/v1/tokens/{id}"), Some(&viewer), None).await.0, 200);
    assert_eq!(app.call("GET", "/api/v1/me", Some(&viewer), None).await.0, 401);
});
