//! Restart safety with the real binary: SIGKILL it mid-task, start it again on the same database,
//! and check that no task stays stuck and no container leaks.

use crate::{
    agent_image::test_image,
    git_http::GitServer,
    runtime::{container_exists, worker_config, AMP_KEY, GIT_TOKEN},
};
use serde_json::{json, Value};
use std::{
    path::PathBuf,
    time::{Duration, Instant},
};
use tokio::process::{Child, Command};

struct Binary {
    child: Child,
    base: String,
    client: reqwest::Client,
}

/// Where a test's server runs write their logs (appended across restarts).
fn log_path(config: &std::path::Path) -> PathBuf {
    config.with_file_name("server.log")
}

/// The server's own log, verbose, must never contain a secret.
fn assert_no_secrets_logged(config: &std::path::Path) {
    let log = std::fs::read_to_string(log_path(config)).unwrap_or_default();
    assert!(
        log.contains("recovering task") || log.contains("listening"),
        "the log was captured"
    );
    assert!(
        !log.contains(GIT_TOKEN),
        "the forge token appears in the server log"
    );
    assert!(
        !log.contains(AMP_KEY),
        "the agent key appears in the server log"
    );
}

impl Binary {
    async fn start(config: &PathBuf, port: u16) -> Binary {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path(config))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_amp-orchestrator"))
            .arg("--config")
            .arg(config)
            .env(
                "RUST_LOG",
                "debug,hyper=info,h2=info,sqlx=info,tower=info,bollard=info",
            )
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let b = Binary {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        };
        let started = Instant::now();
        while b
            .client
            .get(format!("{}/healthz", b.base))
            .send()
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the binary did not come up"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        b
    }

    async fn task(&self, id: &str) -> Value {
        self.client
            .get(format!("{}/api/tasks/{id}", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn events(&self, id: &str) -> Vec<Value> {
        self.client
            .get(format!("{}/api/tasks/{id}/events", self.base))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn create(&self, prompt: &str) -> String {
        let r = self
            .client
            .post(format!("{}/api/tasks", self.base))
            .json(&json!({"prompt": prompt, "repo": "octo/demo"}))
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn wait_until(
        &self,
        id: &str,
        what: &str,
        pred: impl Fn(&Value, &[Value]) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let task = self.task(id).await;
            let events = self.events(id).await;
            if pred(&task, &events) {
                return task;
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "{what}: task {task} events {events:?}"
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    async fn wait_turn_started(&self, id: &str) {
        self.wait_until(id, "turn started", |_, ev| has(ev, "agent_turn_started"))
            .await;
    }

    /// Until the task has succeeded or failed; returns it.
    async fn wait_finished(&self, id: &str, what: &str) -> Value {
        self.wait_until(id, what, |t, _| {
            t["status"] == "succeeded" || t["status"] == "failed"
        })
        .await
    }

    /// SIGKILL: no shutdown code runs.
    async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }

    /// SIGTERM, as a supervisor stops a service, then waits for the process to exit.
    async fn terminate(mut self) {
        let pid = self.child.id().unwrap().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("the server did not exit after SIGTERM")
            .unwrap();
        assert!(status.success(), "a graceful stop exits 0: {status}");
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn setup(extra: &str) -> (GitServer, PathBuf, u16, tempfile::TempDir) {
    let git = GitServer::start(GIT_TOKEN).await;
    git.create_repo("octo/demo", &[("README.md", "x")]).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = format!(
        "server:\n  listen: 127.0.0.1:{port}\n  site_root: {site}\ndatabase:\n  url: sqlite://{db}\n{worker}",
        site = dir.path().join("site").display(),
        db = dir.path().join("o.db").display(),
        worker = worker_config(&git, extra).await.replace("max_concurrent: 2", "max_concurrent: 1"),
    );
    let path = dir.path().join("config.yml");
    std::fs::write(&path, config).unwrap();
    (git, path, port, dir)
}

fn has(events: &[Value], kind: &str) -> bool {
    events.iter().any(|e| e["type"] == kind)
}

#[tokio::test]
async fn sigkill_mid_turn_fails_that_task_clearly_and_the_queue_carries_on() {
    let _ = test_image().await;
    let (git, config, port, _dir) = setup("").await;
    let server = Binary::start(&config, port).await;
    let running = server.create("WRITE a.txt x\nSLEEP 120").await;
    let queued = server.create("WRITE b.txt y\nSAY second").await;
    server.wait_turn_started(&running).await;
    assert_eq!(
        server.task(&queued).await["status"],
        "queued",
        "max_concurrent is 1"
    );
    let container = server
        .events(&running)
        .await
        .iter()
        .find(|e| e["type"] == "container_created")
        .unwrap()["container_id"]
        .as_str()
        .unwrap()
        .to_string();
    server.kill().await;
    assert!(
        container_exists(&container).await,
        "SIGKILL leaves the container running"
    );

    let server = Binary::start(&config, port).await;
    let task = server
        .wait_until(&running, "failed after restart", |t, _| {
            t["status"] == "failed"
        })
        .await;
    assert!(
        task["error"].as_str().unwrap().starts_with("interrupted"),
        "{task}"
    );
    assert!(
        !container_exists(&container).await,
        "the interrupted task's container is removed"
    );
    let second = server.wait_finished(&queued, "second task done").await;
    assert_eq!(second["status"], "succeeded", "{second}");
    let branch = second["branch"].as_str().unwrap();
    assert!(git.branch_sha("octo/demo", branch).await.is_some());
    assert_eq!(
        server
            .events(&queued)
            .await
            .iter()
            .filter(|e| e["type"] == "pushed")
            .count(),
        1
    );
    assert_no_secrets_logged(&config);
}

#[tokio::test]
async fn sigterm_lets_a_running_turn_finish_within_the_grace_and_the_task_resumes() {
    let _ = test_image().await;
    let (git, config, port, _dir) = setup("workers:\n  shutdown_grace: 30s\n").await;
    let server = Binary::start(&config, port).await;
    let id = server
        .create("WRITE a.txt x\nSLEEP 3\nSAY finished in the grace")
        .await;
    server.wait_turn_started(&id).await;
    server.terminate().await;

    let server = Binary::start(&config, port).await;
    let task = server.wait_finished(&id, "finished after restart").await;
    assert_eq!(
        task["status"], "succeeded",
        "the drained turn's work is kept: {task}"
    );
    let events = server.events(&id).await;
    let finished: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "agent_turn_finished")
        .collect();
    assert_eq!(finished.len(), 1, "the turn ran once");
    assert_eq!(finished[0]["ok"], true);
    let branch = task["branch"].as_str().unwrap();
    assert!(
        git.branch_sha("octo/demo", branch).await.is_some(),
        "pushed after the restart"
    );
    assert_no_secrets_logged(&config);
}

#[tokio::test]
async fn sigterm_stops_a_turn_that_outlasts_the_grace() {
    let _ = test_image().await;
    let (_git, config, port, _dir) = setup("workers:\n  shutdown_grace: 1s\n").await;
    let server = Binary::start(&config, port).await;
    let id = server.create("WRITE a.txt x\nSLEEP 120").await;
    server.wait_turn_started(&id).await;
    server.terminate().await;
    let server = Binary::start(&config, port).await;
    let task = server
        .wait_until(&id, "failed after restart", |t, _| t["status"] == "failed")
        .await;
    assert!(
        task["error"].as_str().unwrap().starts_with("interrupted"),
        "{task}"
    );
}

#[tokio::test]
async fn sigkill_while_preparing_or_queued_requeues_and_finishes() {
    let _ = test_image().await;
    let (git, config, port, _dir) = setup("").await;
    let server = Binary::start(&config, port).await;
    let id = server.create("WRITE c.txt z").await;
    // Kill as early as possible: in the queue, preparing, or just after.
    server
        .wait_until(&id, "picked up", |t, _| t["status"] != "queued")
        .await;
    server.kill().await;
    let server = Binary::start(&config, port).await;
    let task = server.wait_finished(&id, "finished").await;
    // Preparing is redone from scratch; a kill that landed mid-turn fails it with a reason.
    if task["status"] == "failed" {
        assert!(
            task["error"].as_str().unwrap().starts_with("interrupted"),
            "{task}"
        );
    } else {
        let branch = task["branch"].as_str().unwrap();
        assert!(git.branch_sha("octo/demo", branch).await.is_some());
        assert_eq!(
            server
                .events(&id)
                .await
                .iter()
                .filter(|e| e["type"] == "pushed")
                .count(),
            1
        );
    }
    assert_no_secrets_logged(&config);
}

#[tokio::test]
async fn orphaned_containers_of_this_installation_are_removed_at_start_and_no_others() {
    let image = test_image().await;
    let (_git, config, port, _dir) = setup("").await;
    let server = Binary::start(&config, port).await;
    let ready: Value = server
        .client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let instance = ready["instance"].as_str().unwrap().to_string();
    server.kill().await;

    let run = |labels: Vec<String>| {
        let image = image.clone();
        async move {
            let mut cmd = Command::new("docker");
            cmd.args(["run", "-d", "--network", "none"]);
            for label in labels {
                cmd.args(["--label", &label]);
            }
            let out = cmd
                .args([image.as_str(), "sleep", "300"])
                .output()
                .await
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        }
    };
    let task = uuid::Uuid::now_v7().to_string();
    let orphan = run(vec![
        "amp-orchestrator.managed=true".into(),
        format!("amp-orchestrator.instance={instance}"),
        format!("amp-orchestrator.task={task}"),
    ])
    .await;
    // Another orchestrator's container on the same Docker host, and a stranger's: not ours.
    let other_install = run(vec![
        "amp-orchestrator.managed=true".into(),
        "amp-orchestrator.instance=someone-else".into(),
        format!("amp-orchestrator.task={task}"),
    ])
    .await;
    let stranger = run(vec![]).await;

    let _server = Binary::start(&config, port).await;
    let started = Instant::now();
    while container_exists(&orphan).await {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "orphan not removed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(container_exists(&other_install).await);
    assert!(container_exists(&stranger).await);
    let _ = Command::new("docker")
        .args(["rm", "-f", &other_install, &stranger])
        .output()
        .await;
}

#[tokio::test]
async fn sigkill_while_awaiting_ci_resumes_with_the_same_container_and_no_duplicate_pr() {
    use crate::fake_github::{FakeGithub, FakeGithubOptions};
    let _ = test_image().await;
    let gh = FakeGithub::start(FakeGithubOptions {
        token: GIT_TOKEN.into(),
        queue_delay: Duration::from_millis(100),
        ..Default::default()
    })
    .await;
    // CI takes a few seconds: long enough to kill the orchestrator while it waits.
    gh.create_repo(
        "octo/demo",
        &[
            ("README.md", "x"),
            (".fake-ci/jobs/slow.sh", "#!/bin/sh\nsleep 6\necho ok\n"),
        ],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let worker = worker_config(&gh.git, "").await;
    let config = format!(
        "server:\n  listen: 127.0.0.1:{port}\n  site_root: {site}\ndatabase:\n  url: sqlite://{db}\n{worker}",
        site = dir.path().join("site").display(),
        db = dir.path().join("o.db").display(),
    );
    let config = crate::support::merge_yaml(
        &config,
        &format!(
            "github:\n  api_url: {}\n  git_url: {}\nci:\n  enabled: true\n  pr_strategy: draft_first\n  poll_interval: 300ms\n  settle_window: 500ms\n",
            gh.api_url(),
            gh.git_url()
        ),
    );
    let path = dir.path().join("config.yml");
    std::fs::write(&path, config).unwrap();

    let server = Binary::start(&path, port).await;
    let id = server.create("WRITE a.txt x").await;
    server
        .wait_until(&id, "awaiting CI with a draft PR", |t, ev| {
            t["status"] == "awaiting_ci" && has(ev, "pull_request_opened")
        })
        .await;
    let container = server
        .events(&id)
        .await
        .iter()
        .find(|e| e["type"] == "container_created")
        .unwrap()["container_id"]
        .as_str()
        .unwrap()
        .to_string();
    server.kill().await;

    let server = Binary::start(&path, port).await;
    let task = server.wait_finished(&id, "finished after restart").await;
    assert_eq!(task["status"], "succeeded", "{task}");
    let events = server.events(&id).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "container_created")
            .count(),
        1,
        "the container was re-adopted"
    );
    assert_eq!(
        events.iter().filter(|e| e["type"] == "pushed").count(),
        1,
        "no second push"
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "pull_request_opened")
            .count(),
        1
    );
    let prs = gh.pull_requests("octo/demo").await;
    assert_eq!(prs.len(), 1, "no duplicate pull request");
    assert!(!prs[0].draft, "marked ready once green");
    let body = prs[0].body.clone().unwrap_or_default();
    assert!(
        body.contains("What the agent says it did\n\nDone."),
        "the summary survives the restart: {body}"
    );
    assert_eq!(task["pr_number"], prs[0].number);
    assert!(!container_exists(&container).await, "removed at the end");
    assert_no_secrets_logged(&path);
}
