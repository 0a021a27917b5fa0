//! How long the server takes to render the task list with 10,000 tasks in the store (target:
//! < 50 ms per page, paginated). Run with `make bench` (release build). Prints the median and the
//! 95th percentile of the server-rendered dashboard page `/`, of `GET /api/tasks`, and of a
//! filtered, searched page, each over many requests to a server on 127.0.0.1.

use server::config::Config;
use std::time::{Duration, Instant};

const TASKS: usize = 10_000;
const ROUNDS: usize = 60;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn measure(client: &reqwest::Client, url: &str) -> (Duration, Duration, usize) {
    // Warm up (caches, connection).
    for _ in 0..5 {
        let _ = client
            .get(url)
            .send()
            .await
            .and_then(|r| r.error_for_status());
    }
    let mut times = Vec::with_capacity(ROUNDS);
    let mut bytes = 0;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let body = client
            .get(url)
            .send()
            .await
            .expect("request")
            .bytes()
            .await
            .expect("body");
        times.push(started.elapsed());
        bytes = body.len();
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.95), bytes)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = std::env::var("SITE_ROOT").unwrap_or_else(|_| "target/site".into());
    let yaml = format!(
        "server:\n  listen: 127.0.0.1:0\n  site_root: {site}\ndatabase:\n  url: sqlite://{}\nworkers:\n  enabled: false\n",
        dir.path().join("bench.db").display()
    );
    let config = Config::from_yaml(&yaml, &|_| None).expect("config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::run(config, listener, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let started = Instant::now();
    let repos = ["acme/api", "acme/web", "acme/infra", "tools/cli"];
    for n in 0..TASKS {
        let body = serde_json::json!({
            "prompt": format!("Task {n}: fix the flaky test number {n} and make CI green"),
            "repo": repos[n % repos.len()],
        });
        let r = client
            .post(format!("{base}/api/tasks"))
            .json(&body)
            .send()
            .await
            .expect("create");
        assert_eq!(r.status(), 201);
    }
    println!(
        "seeded {TASKS} tasks through the API in {:.1?}",
        started.elapsed()
    );

    for (what, path) in [
        ("dashboard page / (SSR, 50 tasks)", "/"),
        ("GET /api/tasks (50 tasks)", "/api/tasks"),
        (
            "GET /api/tasks?repo=acme/web&q=flaky&limit=200",
            "/api/tasks?repo=acme/web&q=flaky&limit=200",
        ),
        ("dashboard page filtered by repo", "/?repo=tools/cli"),
    ] {
        let (median, p95, bytes) = measure(&client, &format!("{base}{path}")).await;
        println!("{what:<52} median {median:>9.2?}  p95 {p95:>9.2?}  ({bytes} bytes)");
    }
    let _ = stop.send(());
    let _ = server.await;
}
