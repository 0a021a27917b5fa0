//! `TestApp`: the whole server on 127.0.0.1:0 with a temporary SQLite database, stopped when
//! dropped; plus a small SSE reader for asserting on streams.

use futures::StreamExt;
use reqwest::{header::HeaderMap, Client, Response};
use serde_json::Value;
use server::config::Config;
use std::{net::SocketAddr, path::PathBuf, time::Duration};
use tokio::{sync::oneshot, task::JoinHandle};

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: Client,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), server::RunError>>>,
}

pub const TOKEN: &str = "test-token-0123456789abcdef";

impl TestApp {
    /// Starts a server with the given extra YAML (merged under the test's own keys).
    pub async fn spawn(extra_yaml: &str) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        TestApp::spawn_in(dir, extra_yaml).await
    }

    /// Starts a server whose database lives in `dir` (so a restart can reuse it).
    pub async fn spawn_in(dir: tempfile::TempDir, extra_yaml: &str) -> TestApp {
        // Server logs go to the test's captured output (shown when a test fails).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()),
            ))
            .with_test_writer()
            .try_init();
        let db = dir.path().join("orchestrator.db");
        let base = format!(
            "server:\n  listen: 127.0.0.1:0\n  site_root: {site}\ndatabase:\n  url: sqlite://{db}\nworkers:\n  enabled: false\n",
            site = dir.path().join("site").display(),
            db = db.display(),
        );
        let yaml = merge_yaml(&base, extra_yaml);
        let config = Config::from_yaml(&yaml, &|_| None).expect("test config");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(server::run(config, listener, async move {
            let _ = stopped.await;
        }));
        let client = Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let app = TestApp {
            addr,
            client,
            dir,
            stop: Some(stop),
            handle: Some(handle),
        };
        app.wait_ready().await;
        app
    }

    async fn wait_ready(&self) {
        for _ in 0..200 {
            if let Ok(r) = self.client.get(self.url("/healthz")).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("server did not become ready");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    /// A task's whole event history (`Accept: application/json`).
    pub async fn history(&self, id: &str) -> Vec<Value> {
        self.client
            .get(self.url(&format!("/api/tasks/{id}/events")))
            .header("accept", "application/json")
            .send()
            .await
            .expect("history")
            .json()
            .await
            .expect("history JSON")
    }

    /// Creates a task and returns its JSON.
    pub async fn create(&self, prompt: &str, repo: &str) -> Value {
        let r = self
            .post_json(
                "/api/tasks",
                &serde_json::json!({"prompt": prompt, "repo": repo}),
            )
            .await;
        assert_eq!(r.status(), 201, "create failed");
        r.json().await.expect("task json")
    }

    /// Stops the server and waits until `run` returned; returns the data directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        self.shutdown().await;
        let dir = tempfile::tempdir().expect("tempdir");
        std::mem::replace(&mut self.dir, dir)
    }

    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(15), handle)
                .await
                .expect("server did not stop in time")
                .expect("server task panicked")
                .expect("server returned an error");
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("orchestrator.db")
    }
}

/// `extra` on top of `base`, key by key (nested mappings merge, other values replace).
pub fn merge_yaml(base: &str, extra: &str) -> String {
    fn merge(into: &mut serde_yaml::Value, from: serde_yaml::Value) {
        match (into, from) {
            (serde_yaml::Value::Mapping(a), serde_yaml::Value::Mapping(b)) => {
                for (k, v) in b {
                    match a.get_mut(&k) {
                        Some(existing) => merge(existing, v),
                        None => {
                            a.insert(k, v);
                        }
                    }
                }
            }
            (slot, value) => *slot = value,
        }
    }
    let mut value: serde_yaml::Value = serde_yaml::from_str(base).expect("base yaml");
    if !extra.trim().is_empty() {
        merge(&mut value, serde_yaml::from_str(extra).expect("extra yaml"));
    }
    serde_yaml::to_string(&value).expect("yaml")
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct Sse {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

impl Sse {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).expect("event data is JSON")
    }
}

/// Reads events from an open `text/event-stream` response (comments are skipped).
pub struct SseReader {
    stream: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl SseReader {
    pub async fn open(app: &TestApp, path: &str, headers: HeaderMap) -> SseReader {
        let r = app
            .client
            .get(app.url(path))
            .header("accept", "text/event-stream")
            .headers(headers)
            // Streams outlive the client's default timeout.
            .timeout(Duration::from_secs(3600))
            .send()
            .await
            .expect("open stream");
        assert_eq!(r.status(), 200, "stream {path}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("text/event-stream"), "{ct}");
        SseReader {
            stream: r.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next event, or `None` if the stream ended; panics after `timeout`.
    pub async fn next_within(&mut self, timeout: Duration) -> Option<Sse> {
        tokio::time::timeout(timeout, self.next())
            .await
            .expect("no event in time")
    }

    pub async fn next(&mut self) -> Option<Sse> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let mut ev = Sse {
                    id: None,
                    event: None,
                    data: String::new(),
                };
                let mut has_data = false;
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        ev.id = Some(v.trim_start().to_string());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        ev.event = Some(v.trim_start().to_string());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        if has_data {
                            ev.data.push('\n');
                        }
                        ev.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                        has_data = true;
                    }
                }
                if has_data || ev.event.is_some() {
                    return Some(ev);
                }
                continue; // a keep-alive comment
            }
            match self.stream.next().await {
                Some(Ok(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Some(Err(_)) | None => return None,
            }
        }
    }
}

pub fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, v.parse().unwrap());
    }
    h
}
