//! The worker with the real Docker runtime: a `FROM scratch` busybox image with a fake Amp CLI,
//! network `none`, and a real git server over HTTP with token auth.

use crate::{
    agent_image::test_image,
    git_http::GitServer,
    support::{merge_yaml, TestApp},
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub const GIT_TOKEN: &str = "ghs_runtime_test_token_0123456789";
pub const AMP_KEY: &str = "amp-test-key-0123456789";
const REPO: &str = "octo/demo";

/// A server with workers on, the test image, and a git server holding `octo/demo`.
pub struct WorkerApp {
    pub app: TestApp,
    pub git: GitServer,
}

pub async fn worker_config(git: &GitServer, extra: &str) -> String {
    let image = test_image().await;
    let data = tempfile::tempdir().unwrap().keep();
    let base = format!(
        "workers:\n  enabled: true\n  max_concurrent: 2\n  shutdown_grace: 2s\n\
         runtime:\n  kind: docker\n  image: {image}\n  network: none\n  data_dir: {data}\n  stats_interval: 300ms\n  memory: 256m\n\
         agent:\n  kind: amp\n  env:\n    AMP_API_KEY: {AMP_KEY}\n  turn_timeout: 60s\n  idle_timeout: 30s\n\
         github:\n  git_url: {git_url}\n  token: {GIT_TOKEN}\n\
         ci:\n  enabled: false\n",
        data = data.display(),
        git_url = git.url(),
    );
    merge_yaml(&base, extra)
}

impl WorkerApp {
    pub async fn start(extra: &str) -> WorkerApp {
        let git = GitServer::start(GIT_TOKEN).await;
        git.create_repo(
            REPO,
            &[
                ("README.md", "# demo\n"),
                ("src/lib.rs", "pub fn answer() -> u32 { 41 }\n"),
            ],
        )
        .await;
        let config = worker_config(&git, extra).await;
        let app = TestApp::spawn(&config).await;
        WorkerApp { app, git }
    }

    pub async fn create(&self, prompt: &str) -> String {
        let r = self
            .app
            .post_json("/api/tasks", &json!({"prompt": prompt, "repo": REPO}))
            .await;
        assert_eq!(r.status(), 201);
        let task: Value = r.json().await.unwrap();
        task["id"].as_str().unwrap().to_string()
    }

    pub async fn task(&self, id: &str) -> Value {
        self.app
            .get(&format!("/api/tasks/{id}"))
            .await
            .json()
            .await
            .unwrap()
    }

    /// Polls until the task's status is one of `statuses`; panics after `within`.
    pub async fn wait_for(&self, id: &str, statuses: &[&str], within: Duration) -> Value {
        let started = Instant::now();
        loop {
            let task = self.task(id).await;
            if statuses.contains(&task["status"].as_str().unwrap_or("")) {
                return task;
            }
            assert!(
                started.elapsed() < within,
                "task {id} still {} after {within:?}; events: {:#}",
                task["status"],
                Value::Array(self.events(id).await)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn events(&self, id: &str) -> Vec<Value> {
        self.app.history(id).await
    }

    pub async fn events_of(&self, id: &str, kind: &str) -> Vec<Value> {
        self.events(id)
            .await
            .into_iter()
            .filter(|e| e["type"] == kind)
            .collect()
    }
}

/// Whether Docker still has the container.
pub async fn container_exists(id: &str) -> bool {
    tokio::process::Command::new("docker")
        .args(["container", "inspect", id])
        .output()
        .await
        .unwrap()
        .status
        .success()
}

pub async fn docker_inspect(id: &str, format: &str) -> String {
    let out = tokio::process::Command::new("docker")
        .args(["container", "inspect", "--format", format, id])
        .output()
        .await
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

const LONG: Duration = Duration::from_secs(90);

#[tokio::test]
async fn a_task_runs_in_its_container_and_its_work_is_pushed() {
    let w = WorkerApp::start("").await;
    let id = w
        .create("Add a greeting\nWRITE hello.txt hello from the agent\nSAY I added hello.txt")
        .await;
    let task = w.wait_for(&id, &["succeeded", "failed"], LONG).await;
    assert_eq!(
        task["status"],
        "succeeded",
        "{:#}",
        Value::Array(w.events(&id).await)
    );
    let branch = task["branch"].as_str().unwrap();
    assert!(
        branch.starts_with("amp/") && branch.ends_with("-add-a-greeting-write-hello-txt-hello"),
        "{branch}"
    );

    let pushed = w.events_of(&id, "pushed").await;
    assert_eq!(pushed.len(), 1);
    let sha = pushed[0]["sha"].as_str().unwrap();
    assert_eq!(w.git.branch_sha(REPO, branch).await.as_deref(), Some(sha));
    assert_eq!(
        w.git.file_at(REPO, branch, "hello.txt").await.as_deref(),
        Some("hello from the agent\n")
    );

    let kinds: Vec<String> = w
        .events(&id)
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    let order = [
        "task_created",
        "branch_created",
        "container_created",
        "container_started",
        "agent_turn_started",
        "agent_session",
        "agent_tool_use",
        "agent_tool_result",
        "agent_message",
        "agent_turn_finished",
        "committed",
        "pushed",
        "container_removed",
    ];
    let mut at = 0;
    for kind in order {
        let found = kinds[at..]
            .iter()
            .position(|k| k == kind)
            .unwrap_or_else(|| panic!("{kind} missing after {at}: {kinds:?}"));
        at += found;
    }
    let statuses: Vec<String> = w
        .events_of(&id, "status_changed")
        .await
        .iter()
        .map(|e| e["to"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["preparing", "running", "succeeded"]);

    let finished = &w.events_of(&id, "agent_turn_finished").await[0];
    assert_eq!(finished["ok"], true);
    assert_eq!(finished["summary"], "I added hello.txt");
    assert_eq!(finished["usage"]["input_tokens"], 100);
    let session = &w.events_of(&id, "agent_session").await[0];
    assert!(session["session_id"].as_str().unwrap().starts_with("T-"));

    let container = w.events_of(&id, "container_created").await[0]["container_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !container_exists(&container).await,
        "the container is removed when the task ends"
    );
}

#[tokio::test]
async fn a_first_turn_that_changes_nothing_fails_with_no_changes() {
    let w = WorkerApp::start("").await;
    let id = w.create("SAY nothing to do").await;
    let task = w.wait_for(&id, &["succeeded", "failed"], LONG).await;
    assert_eq!(task["status"], "failed");
    assert!(
        task["error"].as_str().unwrap().starts_with("no_changes"),
        "{task}"
    );
    assert!(w.events_of(&id, "pushed").await.is_empty());
}

#[tokio::test]
async fn container_is_hardened_limited_labelled_and_holds_no_forge_token() {
    // Generous limits: the task must still be running when the test cancels it, however slow
    // the machine.
    let w = WorkerApp::start("agent:\n  turn_timeout: 300s\n  idle_timeout: 300s\n").await;
    let id = w
        .create("ENV GITHUB_TOKEN\nENV AMP_API_KEY\nWRITE a.txt x\nSLEEP 240")
        .await;
    w.wait_for(&id, &["running"], LONG).await;
    let container = loop {
        let created = w.events_of(&id, "container_created").await;
        if let Some(c) = created.first() {
            break c["container_id"].as_str().unwrap().to_string();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let env = docker_inspect(&container, "{{json .Config.Env}}").await;
    assert!(
        !env.contains(GIT_TOKEN),
        "forge token in the container env: {env}"
    );
    assert!(
        !env.contains(AMP_KEY),
        "agent keys go to the agent's exec only: {env}"
    );
    assert_eq!(
        docker_inspect(&container, "{{json .HostConfig.CapDrop}}").await,
        r#"["ALL"]"#
    );
    assert_eq!(
        docker_inspect(&container, "{{json .HostConfig.SecurityOpt}}").await,
        r#"["no-new-privileges"]"#
    );
    assert_eq!(
        docker_inspect(&container, "{{.HostConfig.Init}}").await,
        "true"
    );
    assert_eq!(
        docker_inspect(&container, "{{.HostConfig.Memory}}").await,
        (256u64 << 20).to_string()
    );
    assert_eq!(
        docker_inspect(&container, "{{.HostConfig.NetworkMode}}").await,
        "none"
    );
    assert_eq!(
        docker_inspect(&container, "{{.Config.User}}").await,
        "1000:1000"
    );
    assert_eq!(
        docker_inspect(
            &container,
            r#"{{index .Config.Labels "amp-orchestrator.managed"}}"#
        )
        .await,
        "true"
    );
    assert_eq!(
        docker_inspect(
            &container,
            r#"{{index .Config.Labels "amp-orchestrator.task"}}"#
        )
        .await,
        id
    );

    // The agent saw its own key but not the forge token (results paired with their tool call).
    let started = Instant::now();
    let seen = loop {
        let events = w.events(&id).await;
        let input_of = |tool: &Value| {
            events
                .iter()
                .find(|e| e["type"] == "agent_tool_use" && e["tool_use_id"] == tool["tool_use_id"])
                .map(|e| e["input"].as_str().unwrap_or("").to_string())
                .unwrap_or_default()
        };
        let pairs: Vec<(String, String)> = events
            .iter()
            .filter(|e| e["type"] == "agent_tool_result")
            .map(|e| (input_of(e), e["output"].as_str().unwrap_or("").to_string()))
            .collect();
        if pairs.len() >= 2 {
            break pairs;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no tool results: {:#}",
            Value::Array(events)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        seen.iter()
            .any(|(i, o)| i.contains("GITHUB_TOKEN") && o == "unset"),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|(i, o)| i.contains("AMP_API_KEY") && o == "set"),
        "{seen:?}"
    );

    // Samples arrive while it runs.
    while w.events_of(&id, "container_stats").await.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no container_stats event"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = w
        .app
        .post_json(&format!("/api/tasks/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(r.status(), 200);

    // No token anywhere in what the server recorded or serves.
    let all = serde_json::to_string(&w.events(&id).await).unwrap();
    assert!(!all.contains(GIT_TOKEN) && !all.contains(AMP_KEY));
}

#[tokio::test]
async fn cancelling_a_running_task_stops_it_promptly_and_leaves_nothing_behind() {
    let w = WorkerApp::start("").await;
    let id = w.create("WRITE a.txt x\nSLEEP 120").await;
    w.wait_for(&id, &["running"], LONG).await;
    while w.events_of(&id, "agent_turn_started").await.is_empty() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let container = w.events_of(&id, "container_created").await[0]["container_id"]
        .as_str()
        .unwrap()
        .to_string();
    let started = Instant::now();
    let r = w
        .app
        .post_json(&format!("/api/tasks/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let task: Value = r.json().await.unwrap();
    assert_eq!(task["status"], "cancelled");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "cancel took {:?}",
        started.elapsed()
    );
    assert!(!container_exists(&container).await);
    assert!(w.events_of(&id, "pushed").await.is_empty());
    assert_eq!(
        w.app
            .post_json(&format!("/api/tasks/{id}/cancel"), &json!({}))
            .await
            .status(),
        409
    );
}

#[tokio::test]
async fn turn_and_idle_limits_end_a_turn_with_the_reason() {
    // Each limit gets its own server, with the other limit far away, so a slow start under
    // load cannot let one limit mask the other.
    let (turn_limited, idle_limited) = tokio::join!(
        WorkerApp::start("agent:\n  turn_timeout: 4s\n  idle_timeout: 60s\n"),
        WorkerApp::start("agent:\n  turn_timeout: 120s\n  idle_timeout: 2s\n"),
    );
    let chatty = turn_limited.create("WRITE a.txt x\nCHATTY 60").await;
    let silent = idle_limited.create("WRITE a.txt x\nSLEEP 60").await;
    let task = turn_limited
        .wait_for(&chatty, &["failed", "succeeded"], LONG)
        .await;
    assert!(
        task["error"].as_str().unwrap().starts_with("turn_timeout"),
        "{task}"
    );
    let task = idle_limited
        .wait_for(&silent, &["failed", "succeeded"], LONG)
        .await;
    assert!(
        task["error"].as_str().unwrap().starts_with("idle_timeout"),
        "{task}"
    );
    let finished = &idle_limited.events_of(&silent, "agent_turn_finished").await[0];
    assert_eq!(finished["ok"], false);
}

#[tokio::test]
async fn known_agent_dead_ends_fail_fast_with_a_clear_reason() {
    let git = GitServer::start(GIT_TOKEN).await;
    git.create_repo(REPO, &[("README.md", "x")]).await;
    // No AMP_API_KEY: the real CLI would wait forever for an interactive login.
    let config = worker_config(&git, "").await.replace(
        &format!("  env:\n    AMP_API_KEY: {AMP_KEY}\n"),
        "  env: {}\n",
    );
    let app = TestApp::spawn(&config).await;
    let w = WorkerApp { app, git };
    let id = w.create("WRITE a.txt x").await;
    let started = Instant::now();
    let task = w.wait_for(&id, &["failed", "succeeded"], LONG).await;
    assert!(
        task["error"].as_str().unwrap().contains("AMP_API_KEY"),
        "{task}"
    );
    // Far below the 60 s turn limit that a hang would hit.
    assert!(started.elapsed() < Duration::from_secs(45));
}

#[tokio::test]
async fn an_agent_that_reports_failure_fails_the_task_with_its_words() {
    let w = WorkerApp::start("").await;
    let failing = w.create("WRITE a.txt x\nFAIL the build tool crashed").await;
    let task = w.wait_for(&failing, &["failed", "succeeded"], LONG).await;
    let error = task["error"].as_str().unwrap();
    assert!(
        error.starts_with("agent_failed") && error.contains("the build tool crashed"),
        "{task}"
    );
    let no_final = w.create("WRITE a.txt x\nNOFINAL").await;
    let task = w.wait_for(&no_final, &["failed", "succeeded"], LONG).await;
    assert!(
        task["error"]
            .as_str()
            .unwrap()
            .contains("without a final result"),
        "{task}"
    );
}

#[tokio::test]
async fn output_is_bounded_per_line_and_per_task_with_visible_markers() {
    let w = WorkerApp::start("agent:\n  max_line_bytes: 1k\n  max_log_bytes: 20k\n").await;
    let id = w.create("WRITE a.txt x\nBIGLINE 5000\nLINES 2000").await;
    let task = w.wait_for(&id, &["failed", "succeeded"], LONG).await;
    assert_eq!(task["status"], "succeeded", "{task}");
    let logs = w.events_of(&id, "log").await;
    let cut = logs
        .iter()
        .find(|e| e["line"].as_str().unwrap().contains("[cut "))
        .expect("a cut line");
    assert!(cut["line"].as_str().unwrap().len() < 1200);
    let truncated = w.events_of(&id, "log_truncated").await;
    assert!(!truncated.is_empty(), "a truncation marker");
    let recorded: usize = logs.iter().map(|e| e["line"].as_str().unwrap().len()).sum();
    assert!(recorded <= 20 * 1024, "{recorded}");
    // The essentials are still recorded after the budget is spent.
    assert_eq!(w.events_of(&id, "pushed").await.len(), 1);
}

/// Runs one turn through the runtime's own exec path and parses it like the worker does.
async fn exec_turn(
    rt: &dyn server::runtime::Runtime,
    container: &str,
    agent: &server::agent::Agent,
    session: Option<&str>,
    message: &str,
) -> Vec<server::agent::AgentOutput> {
    use server::runtime::{ExecEvent, ExecSpec};
    let spec = ExecSpec {
        argv: agent.argv(session),
        env: vec![("AMP_API_KEY".into(), AMP_KEY.into())],
        stdin: message.as_bytes().to_vec(),
    };
    let mut rx = rt.exec(container, spec).await.unwrap();
    let mut parser = agent.parser(session.map(|_| message));
    let mut lines = server::agent::LineBuffer::new(1 << 20);
    let mut outputs = Vec::new();
    while let Some(event) = rx.recv().await {
        match event {
            ExecEvent::Stdout(bytes) => {
                for line in lines.push(&bytes) {
                    outputs.extend(parser.stdout_line(&line));
                }
            }
            ExecEvent::Stderr(_) => {}
            ExecEvent::Exited(code) => {
                assert_eq!(code, Some(0));
                break;
            }
            ExecEvent::Lost(why) => panic!("lost: {why}"),
        }
    }
    outputs
}

#[tokio::test]
async fn a_follow_up_continues_the_same_thread_in_the_same_container() {
    use server::{
        agent::{Agent, AgentOutput},
        config::AgentKind,
        runtime::{docker::DockerRuntime, EnvironmentSpec, Runtime},
    };
    let image = test_image().await;
    let rt = DockerRuntime::connect().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (workspace, home) = (dir.path().join("ws"), dir.path().join("home"));
    std::fs::create_dir_all(&workspace).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    let (uid, gid) = server::runtime::agent_user();
    server::runtime::chown_tree(dir.path(), uid, gid)
        .await
        .unwrap();
    let spec = EnvironmentSpec {
        task_id: uuid::Uuid::now_v7(),
        instance: "runtime-test".into(),
        image,
        workspace: workspace.clone(),
        home,
        memory_bytes: 128 << 20,
        cpus: 1.0,
        pids: 256,
        network: "none".into(),
        user: format!("{uid}:{gid}"),
    };
    let container = rt.create(&spec).await.unwrap();
    let agent = Agent::new(AgentKind::Amp, None).unwrap();

    let first = exec_turn(
        &rt,
        &container,
        &agent,
        None,
        "WRITE one.txt 1\nSAY first turn",
    )
    .await;
    let session = first
        .iter()
        .find_map(|o| match o {
            AgentOutput::Session { session_id } => Some(session_id.clone()),
            _ => None,
        })
        .expect("a session id");
    let second = exec_turn(
        &rt,
        &container,
        &agent,
        Some(&session),
        "WRITE two.txt 2\nSAY second turn",
    )
    .await;
    let second_session = second.iter().find_map(|o| match o {
        AgentOutput::Session { session_id } => Some(session_id.clone()),
        _ => None,
    });
    assert!(second_session.is_none() || second_session.as_deref() == Some(session.as_str()));
    let messages: Vec<&str> = second
        .iter()
        .filter_map(|o| match o {
            AgentOutput::Message { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        messages,
        ["second turn"],
        "the replayed first turn is not shown again"
    );
    let finished = second.iter().find_map(|o| match o {
        AgentOutput::Finished(f) => Some(f.clone()),
        _ => None,
    });
    assert_eq!(
        finished.unwrap().num_turns,
        Some(2),
        "same thread, second turn"
    );
    assert!(workspace.join("one.txt").exists() && workspace.join("two.txt").exists());
    rt.remove(&container).await.unwrap();
    assert!(!container_exists(&container).await);
}

#[tokio::test]
async fn an_out_of_memory_agent_fails_the_task_and_keep_failed_keeps_the_container() {
    let w = WorkerApp::start("runtime:\n  memory: 48m\n  keep_failed: true\n").await;
    let id = w.create("WRITE a.txt x\nOOM").await;
    let task = w.wait_for(&id, &["failed", "succeeded"], LONG).await;
    let error = task["error"].as_str().unwrap();
    assert!(
        error.starts_with("oom_killed") || error.contains("137"),
        "{task}"
    );
    let removed = w.events_of(&id, "container_removed").await;
    assert_eq!(removed[0]["kept"], true);
    let container = removed[0]["container_id"].as_str().unwrap();
    assert!(container_exists(container).await, "kept for debugging");
    assert_eq!(
        docker_inspect(container, "{{.State.Running}}").await,
        "false",
        "but stopped"
    );
    let _ = tokio::process::Command::new("docker")
        .args(["rm", "-f", container])
        .output()
        .await;
}

#[tokio::test]
async fn the_local_runtime_runs_the_agent_as_a_host_process() {
    let git = GitServer::start(GIT_TOKEN).await;
    git.create_repo(REPO, &[("README.md", "x")]).await;
    let fake = crate::agent_image::fixture_dir().join("fake-amp");
    let data = tempfile::tempdir().unwrap();
    let config = format!(
        "workers:\n  enabled: true\n  shutdown_grace: 2s\nruntime:\n  kind: local\n  data_dir: {data}\n\
         agent:\n  kind: amp\n  command: {fake}\n  env:\n    AMP_API_KEY: {AMP_KEY}\n\
         github:\n  git_url: {url}\n  token: {GIT_TOKEN}\nci:\n  enabled: false\n",
        data = data.path().display(),
        fake = fake.display(),
        url = git.url(),
    );
    let w = WorkerApp {
        app: TestApp::spawn(&config).await,
        git,
    };
    let id = w
        .create("WRITE local.txt from the host\nSAY local run")
        .await;
    let task = w.wait_for(&id, &["failed", "succeeded"], LONG).await;
    assert_eq!(
        task["status"],
        "succeeded",
        "{:#}",
        Value::Array(w.events(&id).await)
    );
    let branch = task["branch"].as_str().unwrap();
    assert_eq!(
        w.git.file_at(REPO, branch, "local.txt").await.as_deref(),
        Some("from the host\n")
    );
}
