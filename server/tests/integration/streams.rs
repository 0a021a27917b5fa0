//! Server-sent events over real HTTP: history then live, resume points, the all-tasks stream.

use crate::support::{headers, SseReader, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn task_stream_sends_history_then_live_with_seq_ids_and_type_names() {
    let app = TestApp::spawn("").await;
    let task = app.create("watch me", "a/b").await;
    let id = task["id"].as_str().unwrap();

    let mut stream = SseReader::open(&app, &format!("/api/tasks/{id}/events"), headers(&[])).await;
    let first = stream.next_within(WAIT).await.unwrap();
    assert_eq!(first.id.as_deref(), Some("1"));
    assert_eq!(first.event.as_deref(), Some("task_created"));
    let data = first.json();
    assert_eq!(data["type"], "task_created");
    assert_eq!(data["seq"], 1);
    assert_eq!(data["task_id"], id);
    assert_eq!(data["task"]["prompt"], "watch me");

    // Live: the cancel happens after the stream is open.
    app.post_json(&format!("/api/tasks/{id}/cancel"), &json!({}))
        .await;
    let second = stream.next_within(WAIT).await.unwrap();
    assert_eq!(second.id.as_deref(), Some("2"));
    assert_eq!(second.event.as_deref(), Some("status_changed"));
    let data = second.json();
    assert_eq!(
        (data["from"].as_str(), data["to"].as_str()),
        (Some("queued"), Some("cancelled"))
    );
    assert_eq!(data["reason"], "cancelled by user");
}

#[tokio::test]
async fn last_event_id_and_after_resume_without_repeats() {
    let app = TestApp::spawn("").await;
    let id = app.create("resume", "a/b").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post_json(&format!("/api/tasks/{id}/cancel"), &json!({}))
        .await;
    let path = format!("/api/tasks/{id}/events");

    let mut by_header = SseReader::open(&app, &path, headers(&[("last-event-id", "1")])).await;
    assert_eq!(
        by_header.next_within(WAIT).await.unwrap().id.as_deref(),
        Some("2")
    );
    let mut by_query = SseReader::open(&app, &format!("{path}?after=1"), headers(&[])).await;
    assert_eq!(
        by_query.next_within(WAIT).await.unwrap().id.as_deref(),
        Some("2")
    );

    // Caught up: nothing more arrives (only keep-alives, which the reader skips).
    let nothing = tokio::time::timeout(Duration::from_millis(300), by_header.next()).await;
    assert!(nothing.is_err(), "no event after the last one");

    let r = app
        .client
        .get(app.url(&format!("{path}?after=x")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["field"], "after");
}

#[tokio::test]
async fn json_accept_returns_the_history_as_an_array() {
    let app = TestApp::spawn("").await;
    let id = app.create("history", "a/b").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post_json(&format!("/api/tasks/{id}/cancel"), &json!({}))
        .await;
    let json_history = |after: &'static str| {
        app.client
            .get(app.url(&format!("/api/tasks/{id}/events{after}")))
            .header("accept", "application/json")
            .send()
    };
    let r = json_history("").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let events: Vec<Value> = r.json().await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["task_created", "status_changed"]);
    let later: Vec<Value> = json_history("?after=1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(later.len(), 1);
}

#[tokio::test]
async fn all_tasks_stream_carries_creations_and_status_changes_and_resumes() {
    let app = TestApp::spawn("").await;
    let mut live = SseReader::open(&app, "/api/events", headers(&[])).await;
    let a = app.create("first", "a/b").await;
    let b = app.create("second", "c/d").await;
    app.post_json(
        &format!("/api/tasks/{}/cancel", a["id"].as_str().unwrap()),
        &json!({}),
    )
    .await;

    let mut got = Vec::new();
    for _ in 0..3 {
        let ev = live.next_within(WAIT).await.unwrap();
        let data = ev.json();
        assert_eq!(
            ev.id.as_deref().unwrap(),
            data["event"]["id"].as_i64().unwrap().to_string()
        );
        got.push((
            ev.event.clone().unwrap(),
            data["task"]["id"].as_str().unwrap().to_string(),
            data["task"]["status"].as_str().unwrap().to_string(),
        ));
    }
    let a_id = a["id"].as_str().unwrap().to_string();
    let b_id = b["id"].as_str().unwrap().to_string();
    assert_eq!(got[0].0, "task_created");
    assert_eq!(got[0].1, a_id);
    assert_eq!(got[1].1, b_id);
    assert_eq!(
        got[2],
        (
            "status_changed".to_string(),
            a_id.clone(),
            "cancelled".to_string()
        )
    );

    // A client that saw the first creation resumes after it and gets the rest, in order.
    let page: Value = app.get("/api/tasks").await.json().await.unwrap();
    let first_id = page["last_event_id"].as_i64().unwrap() - 2; // the two events after a's creation
    let mut resumed = SseReader::open(
        &app,
        "/api/events",
        headers(&[("last-event-id", &first_id.to_string())]),
    )
    .await;
    let next = resumed.next_within(WAIT).await.unwrap();
    assert_eq!(next.json()["task"]["id"], b_id.as_str());
    let next = resumed.next_within(WAIT).await.unwrap();
    assert_eq!(next.event.as_deref(), Some("status_changed"));
}

#[tokio::test]
async fn a_list_read_plus_stream_from_its_position_misses_nothing() {
    let app = TestApp::spawn("").await;
    app.create("before", "a/b").await;
    let page: Value = app.get("/api/tasks").await.json().await.unwrap();
    let position = page["last_event_id"].as_i64().unwrap();
    // Created between the read and the subscription: must still arrive.
    let gap = app.create("in the gap", "a/b").await;
    let mut stream =
        SseReader::open(&app, &format!("/api/events?after={position}"), headers(&[])).await;
    let ev = stream.next_within(WAIT).await.unwrap();
    assert_eq!(ev.json()["task"]["id"], gap["id"]);
}

#[tokio::test]
async fn streams_end_when_the_server_shuts_down() {
    let mut app = TestApp::spawn("server:\n  sse_keep_alive: 100ms\n").await;
    let id = app.create("x", "a/b").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut task_stream =
        SseReader::open(&app, &format!("/api/tasks/{id}/events"), headers(&[])).await;
    let mut all = SseReader::open(&app, "/api/events", headers(&[])).await;
    task_stream.next_within(WAIT).await.unwrap();
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("amp_sse_clients 2\n"), "{metrics}");

    let started = std::time::Instant::now();
    app.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "shutdown waited for open streams"
    );
    assert!(task_stream.next_within(WAIT).await.is_none());
    assert!(all.next_within(WAIT).await.is_none());
}
