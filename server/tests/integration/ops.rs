//! Health, metrics, the OpenAPI document, auth, the server-rendered dashboard and the binary's
//! start-up errors.

use crate::support::{headers, SseReader, TestApp, TOKEN};
use serde_json::{json, Value};
use std::collections::BTreeSet;

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = TestApp::spawn("").await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let ready: Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(ready["status"], "ready");

    let task = app.create("m", "a/b").await;
    app.create("n", "a/b").await;
    app.post_json(
        &format!("/api/tasks/{}/cancel", task["id"].as_str().unwrap()),
        &json!({}),
    )
    .await;
    app.get("/api/tasks/not-a-uuid").await;
    let r = app.get("/metrics").await;
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    assert!(text.contains("amp_tasks{status=\"queued\"} 1\n"), "{text}");
    assert!(
        text.contains("amp_tasks{status=\"cancelled\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("amp_tasks{status=\"running\"} 0\n"), "{text}");
    assert!(text.contains("amp_events_published_total 3\n"), "{text}");
    assert!(text.contains("amp_sse_clients 0\n"), "{text}");
    assert!(
        text.contains(
            "amp_http_requests_total{method=\"POST\",route=\"/api/tasks\",status=\"201\"} 2\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "amp_http_requests_total{method=\"GET\",route=\"/api/tasks/{id}\",status=\"404\"} 1\n"
        ),
        "{text}"
    );
}

/// Every route in the OpenAPI document exists with that method, and every REST route the
/// router serves is in the document.
#[tokio::test]
async fn openapi_describes_exactly_the_rest_routes() {
    let app = TestApp::spawn("").await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut described = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            described.insert((method.to_uppercase(), path.clone()));
        }
    }
    let expected: BTreeSet<(String, String)> = [
        ("POST", "/api/tasks"),
        ("GET", "/api/tasks"),
        ("GET", "/api/tasks/{id}"),
        ("POST", "/api/tasks/{id}/cancel"),
        ("GET", "/api/tasks/{id}/log"),
        ("GET", "/api/tasks/{id}/events"),
        ("GET", "/api/events"),
        ("POST", "/api/github/webhook"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(described, expected);
    for schema in [
        "Task",
        "TaskStatus",
        "TaskEvent",
        "EventEnvelope",
        "CreateTaskRequest",
        "TaskPage",
        "ErrorBody",
        "ApiError",
    ] {
        assert!(
            doc["components"]["schemas"].get(schema).is_some(),
            "schema {schema} missing"
        );
    }

    // Each described route is served: requesting it never gives "no such route" or 405.
    let id = app.create("o", "a/b").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (method, path) in &described {
        let url = app.url(&path.replace("{id}", &id));
        let req = match method.as_str() {
            "GET" => app.client.get(&url).header("accept", "application/json"),
            "POST" => app
                .client
                .post(&url)
                .json(&json!({"prompt": "p", "repo": "a/b"})),
            other => panic!("unexpected method {other}"),
        };
        let status = if path.ends_with("/api/events") {
            // A stream: only the status line matters.
            req.send().await.unwrap().status().as_u16()
        } else {
            let r = req.send().await.unwrap();
            r.status().as_u16()
        };
        if path == "/api/github/webhook" {
            // Served, and refuses an unsigned delivery.
            assert_eq!(status, 401, "{method} {path}");
        } else {
            assert!(status < 400, "{method} {path} gave {status}");
        }
    }
}

#[tokio::test]
async fn api_tokens_guard_the_api_and_the_dashboard_data() {
    let app = TestApp::spawn(&format!("auth:\n  api_tokens: [\"{TOKEN}\"]\n")).await;
    // Open: health and the page shell.
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/metrics").await.status(), 200);

    let r = app.get("/api/tasks").await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let r = app
        .post_json("/api/tasks", &json!({"prompt": "p", "repo": "a/b"}))
        .await;
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .get(app.url("/api/tasks"))
        .bearer_auth("wrong-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The server functions behind the dashboard are under /api/ too.
    let r = app
        .client
        .post(app.url("/api/ui/list_tasks"))
        .form(&[("status", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let r = app
        .client
        .post(app.url("/api/tasks"))
        .bearer_auth(TOKEN)
        .json(&json!({"prompt": "authorized", "repo": "a/b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // The dashboard's login turns the token into an HttpOnly cookie that works for reads and streams.
    let r = app
        .client
        .post(app.url("/login"))
        .form(&[("token", TOKEN), ("next", "/tasks")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/tasks");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_string();
    let r = app
        .client
        .get(app.url("/api/tasks"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut stream =
        SseReader::open(&app, "/api/events?after=0", headers(&[("cookie", &pair)])).await;
    assert_eq!(
        stream.next().await.unwrap().event.as_deref(),
        Some("task_created")
    );

    // The server-rendered list shows the login form without a token, and the task with one.
    let html = app.get("/").await.text().await.unwrap();
    assert!(
        html.contains("data-testid=\"login-required\""),
        "login prompt expected"
    );
    assert!(!html.contains("authorized</p>"));
    let html = app
        .client
        .get(app.url("/"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("authorized"), "task expected in the page");

    let r = app
        .client
        .post(app.url("/login"))
        .form(&[("token", "nope"), ("next", "https://evil.example")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/login?error=invalid"));
    assert!(r.headers().get("set-cookie").is_none());

    // The token never appears in anything the server hands out.
    for path in ["/metrics", "/api/openapi.json", "/login"] {
        let text = app
            .client
            .get(app.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!text.contains(TOKEN), "{path} leaks the token");
    }
}

#[tokio::test]
async fn dashboard_pages_render_on_the_server() {
    let app = TestApp::spawn("").await;
    let task = app.create("Render <me> & escape", "octo/render").await;
    let id = task["id"].as_str().unwrap();

    let r = app.get("/").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Amp Orchestrator"));
    assert!(html.contains("data-testid=\"new-task-form\""));
    assert!(
        html.contains("Render &lt;me&gt; &amp; escape"),
        "prompt is listed, escaped"
    );
    assert!(html.contains(&format!("/tasks/{id}")));
    assert!(
        html.contains("/pkg/amp-orchestrator.js"),
        "hydration script linked"
    );

    let html = app.get(&format!("/tasks/{id}")).await.text().await.unwrap();
    assert!(html.contains("data-testid=\"task-page\""));
    assert!(html.contains("octo/render"));
    assert!(
        html.contains("data-kind=\"task_created\""),
        "history is rendered"
    );

    let r = app.get("/tasks/0190a4d2-0000-7000-8000-000000000000").await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("task not found"));
    let r = app.get("/no/such/page").await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn dashboard_server_functions_create_and_cancel_with_field_errors() {
    let app = TestApp::spawn("").await;
    let post = |name: &'static str, form: Vec<(&'static str, &'static str)>| {
        app.client
            .post(app.url(&format!("/api/ui/{name}")))
            .header("accept", "application/json")
            .form(&form)
            .send()
    };
    let r = post(
        "create_task",
        vec![
            ("prompt", "from the form"),
            ("repo", "a/b"),
            ("max_iterations", ""),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let task: Value = r.json().await.unwrap();
    assert_eq!(task["status"], "queued");

    let r = post("create_task", vec![("prompt", "x"), ("repo", "nope")])
        .await
        .unwrap();
    assert!(r.status().is_client_error() || r.status().is_server_error());
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["field"], "repo");
    let r = post(
        "create_task",
        vec![("prompt", "x"), ("repo", "a/b"), ("max_iterations", "lots")],
    )
    .await
    .unwrap();
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["field"], "max_iterations");

    let id = task["id"].as_str().unwrap().to_string();
    let r = app
        .client
        .post(app.url("/api/ui/cancel_task"))
        .header("accept", "application/json")
        .form(&[("id", id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let fetched: Value = app
        .get(&format!("/api/tasks/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["status"], "cancelled");
}

#[test]
fn the_binary_stops_on_a_bad_config_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_amp-orchestrator");
    let cases = [
        (
            "server:\n  listn: 1.2.3.4:1\n",
            "unknown key `server.listn`",
        ),
        ("ci:\n  poll_interval: soon\n", "ci.poll_interval"),
        (
            "github:\n  token: ${SURELY_UNSET_VAR_123}\n",
            "github.token",
        ),
    ];
    for (yaml, expected) in cases {
        let path = dir.path().join("bad.yml");
        std::fs::write(&path, yaml).unwrap();
        let out = std::process::Command::new(bin)
            .arg("--config")
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{yaml}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{yaml} → {stderr}");
    }
    let out = std::process::Command::new(bin)
        .args(["--config", "/nonexistent/config.yml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read config file"));
}

#[test]
fn check_config_prints_the_effective_config_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yml");
    std::fs::write(
        &path,
        format!("auth:\n  api_tokens: [\"{TOKEN}\"]\ngithub:\n  token: ghp_should_not_print\n"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_amp-orchestrator"))
        .arg("--config")
        .arg(&path)
        .arg("--check-config")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("listen: 127.0.0.1:8080"), "{stdout}");
    assert!(stdout.contains("'***'"), "{stdout}");
    assert!(
        !stdout.contains(TOKEN) && !stdout.contains("ghp_should_not_print"),
        "{stdout}"
    );
}

#[tokio::test]
async fn webhooks_need_a_valid_signature_and_duplicates_are_ignored() {
    use hmac::{Hmac, Mac};
    let app = TestApp::spawn(&format!(
        "github:\n  webhook_secret: hook-secret-123\nauth:\n  api_tokens: [\"{TOKEN}\"]\n"
    ))
    .await;
    let body = r#"{"action":"completed","check_run":{"head_sha":"abc123","status":"completed"}}"#;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"hook-secret-123").unwrap();
    mac.update(body.as_bytes());
    let signature = format!(
        "sha256={}",
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let deliver = |sig: Option<String>, id: &'static str| {
        let mut req = app
            .client
            .post(app.url("/api/github/webhook"))
            .header("content-type", "application/json")
            .header("x-github-event", "check_run")
            .header("x-github-delivery", id)
            .body(body);
        if let Some(sig) = sig {
            req = req.header("x-hub-signature-256", sig);
        }
        req.send()
    };
    // No bearer token needed (GitHub cannot send ours), but a valid signature is.
    let r = deliver(Some(signature.clone()), "d-1").await.unwrap();
    assert_eq!(r.status(), 202);
    let again = deliver(Some(signature.clone()), "d-1").await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["duplicate"], true);
    assert_eq!(deliver(None, "d-2").await.unwrap().status(), 401);
    // One hex digit changed.
    let last = signature.chars().last().unwrap();
    let bad = format!(
        "{}{}",
        &signature[..signature.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    assert_eq!(deliver(Some(bad), "d-3").await.unwrap().status(), 401);
}

#[tokio::test]
async fn the_full_log_downloads_as_text() {
    let app = TestApp::spawn("").await;
    let id = app.create("log me", "a/b").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post_json(&format!("/api/tasks/{id}/cancel"), &json!({}))
        .await;
    let r = app.get(&format!("/api/tasks/{id}/log")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(&format!("task-{id}.log")));
    let text = r.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("task_created") && lines[0].contains("task created on a/b"),
        "{text}"
    );
    assert!(
        lines[1].contains("status_changed")
            && lines[1].ends_with("queued → cancelled: cancelled by user"),
        "{text}"
    );
    assert_eq!(
        app.get("/api/tasks/0190a4d2-0000-7000-8000-000000000000/log")
            .await
            .status(),
        404
    );
}
