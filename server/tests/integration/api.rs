//! The REST contract: create, read, list, cancel, and bad input that never yields a 5xx.

use crate::support::TestApp;
use serde_json::{json, Value};

fn assert_error(body: &Value, code: &str, field: Option<&str>) {
    let err = &body["error"];
    assert_eq!(err["code"], code, "{body}");
    assert!(
        err["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    match field {
        Some(f) => assert_eq!(err["field"], f, "{body}"),
        None => assert!(err.get("field").is_none(), "{body}"),
    }
    assert_eq!(
        body.as_object().unwrap().len(),
        1,
        "only `error` at the top: {body}"
    );
}

#[tokio::test]
async fn the_seed_contract_creates_a_queued_task() {
    let app = TestApp::spawn("").await;
    let r = app
        .post_json(
            "/api/tasks",
            &json!({"prompt": "Add a --version flag", "repo": "octocat/hello-world"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let task: Value = r.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/tasks/{}", task["id"].as_str().unwrap())
    );
    assert_eq!(task["prompt"], "Add a --version flag");
    assert_eq!(task["repo"], "octocat/hello-world");
    assert_eq!(task["status"], "queued");
    assert_eq!(task["iterations"], 0);
    for absent in ["base_branch", "branch", "pr_url", "pr_number", "error"] {
        assert!(task[absent].is_null(), "{absent}: {task}");
    }
    assert!(task["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(task["created_at"], task["updated_at"]);

    let fetched: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(fetched, task);
}

#[tokio::test]
async fn optional_fields_are_kept_and_normalized() {
    let app = TestApp::spawn("").await;
    let r = app
        .post_json(
            "/api/tasks",
            &json!({"prompt": "x", "repo": "  a/b  ", "base_branch": "release/1.2", "agent": "claude", "max_iterations": 3}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let task: Value = r.json().await.unwrap();
    assert_eq!(task["repo"], "a/b");
    assert_eq!(task["base_branch"], "release/1.2");
    assert_eq!(task["agent"], "claude");
    assert_eq!(task["max_iterations"], 3);
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_naming_the_field() {
    let app = TestApp::spawn("server:\n  max_prompt_bytes: 1k\n").await;
    let cases: Vec<(Value, u16, &str, Option<&str>)> = vec![
        (
            json!({"prompt": "x", "repo": "not-a-repo"}),
            422,
            "validation_failed",
            Some("repo"),
        ),
        (
            json!({"prompt": "x", "repo": "a/b/c"}),
            422,
            "validation_failed",
            Some("repo"),
        ),
        (
            json!({"prompt": "x", "repo": "-a/b"}),
            422,
            "validation_failed",
            Some("repo"),
        ),
        (
            json!({"prompt": "   ", "repo": "a/b"}),
            422,
            "validation_failed",
            Some("prompt"),
        ),
        (
            json!({"prompt": "x".repeat(1025), "repo": "a/b"}),
            422,
            "validation_failed",
            Some("prompt"),
        ),
        (
            json!({"prompt": 5, "repo": "a/b"}),
            422,
            "validation_failed",
            Some("prompt"),
        ),
        (
            json!({"repo": "a/b"}),
            422,
            "validation_failed",
            Some("prompt"),
        ),
        (
            json!({"prompt": "x", "repo": "a/b", "max_iterations": -1}),
            422,
            "validation_failed",
            Some("max_iterations"),
        ),
        (
            json!({"prompt": "x", "repo": "a/b", "max_iterations": 0}),
            422,
            "validation_failed",
            Some("max_iterations"),
        ),
        (
            json!({"prompt": "x", "repo": "a/b", "agent": "gpt"}),
            422,
            "validation_failed",
            Some("agent"),
        ),
        (
            json!({"prompt": "x", "repo": "a/b", "base_branch": "a..b"}),
            422,
            "validation_failed",
            Some("base_branch"),
        ),
        (
            json!({"prompt": "x", "repo": "a/b", "prio": 1}),
            422,
            "validation_failed",
            Some("prio"),
        ),
        (json!(["prompt"]), 422, "validation_failed", None),
    ];
    for (body, status, code, field) in cases {
        let r = app.post_json("/api/tasks", &body).await;
        assert_eq!(r.status(), status, "{body}");
        let err: Value = r.json().await.unwrap();
        if field.is_some() {
            assert_error(&err, code, field);
        } else {
            assert_eq!(err["error"]["code"], code);
        }
    }

    // Malformed JSON, wrong media type, oversized body.
    let raw = |body: &'static str, ct: &'static str| {
        app.client
            .post(app.url("/api/tasks"))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let r = raw("{\"prompt\": ", "application/json").await.unwrap();
    assert_eq!(r.status(), 400);
    assert_error(&r.json().await.unwrap(), "bad_request", None);
    let r = raw("{} trailing", "application/json").await.unwrap();
    assert_eq!(r.status(), 400);
    let r = raw("prompt=x&repo=a/b", "application/x-www-form-urlencoded")
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_error(&r.json().await.unwrap(), "unsupported_media_type", None);
    let huge = format!(
        "{{\"prompt\": \"{}\", \"repo\": \"a/b\"}}",
        "x".repeat(2 << 20)
    );
    let r = app
        .client
        .post(app.url("/api/tasks"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_error(&r.json().await.unwrap(), "payload_too_large", None);

    // Nothing was stored by any of the above.
    let page: Value = app.get("/api/tasks").await.json().await.unwrap();
    assert_eq!(page["tasks"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn unknown_ids_routes_and_methods_are_json_404_and_405() {
    let app = TestApp::spawn("").await;
    for path in [
        "/api/tasks/0190a4d2-0000-7000-8000-000000000000",
        "/api/tasks/not-a-uuid",
        "/api/tasks/0190a4d2-0000-7000-8000-000000000000/events",
        "/api/nothing-here",
    ] {
        let r = app
            .client
            .get(app.url(path))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert_error(&r.json().await.unwrap(), "not_found", None);
    }
    let r = app
        .post_json(
            "/api/tasks/0190a4d2-0000-7000-8000-000000000000/cancel",
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 404);

    let r = app
        .client
        .delete(app.url("/api/tasks"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_error(&r.json().await.unwrap(), "method_not_allowed", None);
    let r = app.client.put(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn listing_is_newest_first_filtered_and_paginated_without_gaps() {
    let app = TestApp::spawn("").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let repo = if i % 2 == 0 {
            "team/alpha"
        } else {
            "team/beta"
        };
        ids.push(
            app.create(&format!("task {i}"), repo).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    app.post_json(&format!("/api/tasks/{}/cancel", ids[3]), &json!({}))
        .await;

    let page: Value = app.get("/api/tasks").await.json().await.unwrap();
    let listed: Vec<&str> = page["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed, newest_first);
    assert!(page["next_cursor"].is_null());
    assert!(page["last_event_id"].as_i64().unwrap() >= 8);

    let alpha: Value = app
        .get("/api/tasks?repo=team%2Falpha")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(alpha["tasks"].as_array().unwrap().len(), 4);
    let cancelled: Value = app
        .get("/api/tasks?status=cancelled")
        .await
        .json()
        .await
        .unwrap();
    let cancelled = cancelled["tasks"].as_array().unwrap();
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0]["id"], ids[3].as_str());
    let both: Value = app
        .get("/api/tasks?status=queued&repo=team/beta")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(both["tasks"].as_array().unwrap().len(), 2);

    // Walk pages of 2: every task exactly once, in order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("/api/tasks?limit=2&cursor={c}"),
            None => "/api/tasks?limit=2".to_string(),
        };
        let page: Value = app.get(&path).await.json().await.unwrap();
        seen.extend(
            page["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ids.iter().rev().cloned().collect::<Vec<_>>());

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=abc", "limit"),
        ("status=done", "status"),
        ("cursor=garbage", "cursor"),
        ("colour=red", "colour"),
    ] {
        let r = app.get(&format!("/api/tasks?{query}")).await;
        assert_eq!(r.status(), 400, "{query}");
        assert_error(&r.json().await.unwrap(), "bad_request", Some(field));
    }
}

#[tokio::test]
async fn cancel_moves_a_queued_task_once() {
    let app = TestApp::spawn("").await;
    let task = app.create("cancel me", "a/b").await;
    let id = task["id"].as_str().unwrap();
    let r = app
        .post_json(&format!("/api/tasks/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let cancelled: Value = r.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["error"], "cancelled by user");
    assert!(cancelled["updated_at"].as_str().unwrap() >= task["updated_at"].as_str().unwrap());

    let again = app
        .post_json(&format!("/api/tasks/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(again.status(), 409);
    assert_error(&again.json().await.unwrap(), "conflict", None);
}

#[tokio::test]
async fn tasks_and_history_survive_a_restart() {
    let app = TestApp::spawn("").await;
    let task = app.create("persist me", "a/b").await;
    let id = task["id"].as_str().unwrap().to_string();
    assert!(app.db_path().exists());
    let dir = app.stop().await;

    let app = TestApp::spawn_in(dir, "").await;
    let fetched: Value = app
        .get(&format!("/api/tasks/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, task);
    app.post_json(&format!("/api/tasks/{id}/cancel"), &json!({}))
        .await;
    let history: Value = app
        .client
        .get(app.url(&format!("/api/tasks/{id}/events")))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let seqs: Vec<i64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2], "seq continues gap-free after a restart");
}

#[tokio::test]
async fn search_matches_prompts_case_insensitively_and_counts_follow_the_filters() {
    let app = TestApp::spawn("").await;
    let a = app.create("Fix the FLAKY date test", "team/alpha").await;
    app.create("Add a --version flag", "team/alpha").await;
    app.create("flaky network retry", "team/beta").await;
    app.create("100% coverage_report", "team/beta").await;
    app.post_json(
        &format!("/api/tasks/{}/cancel", a["id"].as_str().unwrap()),
        &json!({}),
    )
    .await;

    let page: Value = app.get("/api/tasks?q=flaky").await.json().await.unwrap();
    let prompts: Vec<&str> = page["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["prompt"].as_str().unwrap())
        .collect();
    assert_eq!(prompts, ["flaky network retry", "Fix the FLAKY date test"]);
    assert_eq!(page["counts"], json!({"queued": 1, "cancelled": 1}));

    // Pattern characters are literal.
    let page: Value = app.get("/api/tasks?q=100%25").await.json().await.unwrap();
    assert_eq!(page["tasks"].as_array().unwrap().len(), 1);
    let page: Value = app.get("/api/tasks?q=e_r").await.json().await.unwrap();
    assert_eq!(
        page["tasks"].as_array().unwrap().len(),
        1,
        "`_` is not a wildcard: only coverage_report"
    );

    let page: Value = app
        .get("/api/tasks?q=flaky&repo=team/alpha&status=queued")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["tasks"].as_array().unwrap().len(), 0);
    assert_eq!(
        page["counts"],
        json!({"cancelled": 1}),
        "counts ignore the status filter"
    );
    let all: Value = app.get("/api/tasks").await.json().await.unwrap();
    assert_eq!(all["counts"], json!({"queued": 3, "cancelled": 1}));

    // ASCII case is ignored, other characters match exactly (`app::search`, like the browser).
    app.create("Übersetzung prüfen", "team/beta").await;
    for (q, hits) in [
        ("%C3%9Cbersetzung", 1),
        ("%C3%BCbersetzung", 0),
        ("PR%C3%BCFEN", 1),
    ] {
        let page: Value = app
            .get(&format!("/api/tasks?q={q}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(page["tasks"].as_array().unwrap().len(), hits, "q={q}");
    }

    let r = app.get(&format!("/api/tasks?q={}", "x".repeat(201))).await;
    assert_eq!(r.status(), 400);
}
