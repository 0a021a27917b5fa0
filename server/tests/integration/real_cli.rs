//! The REAL Claude Code and Codex CLIs (npm packages installed under `tools/agent-clis` by
//! `scripts/setup.sh --e2e`), driven by our own agent adapters against the fake model APIs of
//! `fake_models`, on the `local` runtime (host processes, no Docker, no network but 127.0.0.1).
//!
//! - `*_runs_a_task_through_the_local_runtime`: a whole task on a real server (workers on, git
//!   over HTTP, CI off). Proves that our argv and environment start the real CLI, that the
//!   prompt reaches the model on stdin, that the model's shell call really runs in the task's
//!   workspace, that our parser turns the real stream into the right events (session, tool use,
//!   tool result, message, finished turn with the usage the fake returned), and that the work
//!   is committed and pushed.
//! - `*_resumes_*_on_a_follow_up`: follow-up turns only happen in the CI loop (which needs a
//!   GitHub), so the resume argv (`Agent::argv(Some(session))`) is exercised directly: two
//!   turns through `LocalRuntime::exec` exactly as the worker runs them, parsed with the crate's
//!   parser. Proves the session id stays the same and the model sees the earlier turn's history.

use crate::{
    fake_models::{
        FakeModel, ResponseUsage, Step, ANTHROPIC_USAGE, OPENAI_USAGE, RESPONSES_PER_STEP,
    },
    git_http::GitServer,
    runtime::{WorkerApp, GIT_TOKEN},
    support::TestApp,
};
use serde_json::{json, Value};
use server::{
    agent::{Agent, AgentOutput, FinalResult, LineBuffer, DEFAULT_MAX_LINE_BYTES},
    config::AgentKind,
    runtime::{local::LocalRuntime, EnvironmentSpec, ExecEvent, ExecSpec, Runtime},
};
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// The repository `WorkerApp::create` files tasks against.
const REPO: &str = "octo/demo";
const ANTHROPIC_KEY: &str = "sk-ant-fake-real-cli-0123456789";
const OPENAI_KEY: &str = "sk-openai-fake-real-cli-0123456789";
/// A whole task, or one turn, with a real CLI (each takes a few seconds).
const LIMIT: Duration = Duration::from_secs(120);

const PROMPT: &str = "Write the answer to answer.txt";
const WRITE_ANSWER: &str = "echo 42 > answer.txt && echo wrote-answer";
const ANSWER_REPLY: &str = "I wrote 42 to answer.txt.";
const FOLLOW_UP: &str = "CI says the answer also needs a second file; add it.";
const WRITE_SECOND: &str = "echo 43 > second.txt && echo wrote-second";
const SECOND_REPLY: &str = "I added second.txt.";

// ---- where the CLIs are ----

fn agent_clis() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/agent-clis/node_modules")
}

fn installed(path: PathBuf, name: &str) -> PathBuf {
    assert!(
        path.is_file(),
        "the real {name} CLI is missing ({} does not exist): run scripts/setup.sh --e2e (installs tools/agent-clis)",
        path.display()
    );
    path.canonicalize().expect("canonical CLI path")
}

/// `.bin/claude` is the native binary itself.
fn claude_bin() -> PathBuf {
    installed(agent_clis().join(".bin/claude"), "Claude Code")
}

/// The native Codex binary. `.bin/codex` is a Node launcher that, on Node < 22, runs the binary
/// as a child process, which killing the launcher (a timeout, a cancel) would leave running.
fn codex_bin() -> PathBuf {
    let (package, triple) = match std::env::consts::ARCH {
        "aarch64" => ("codex-linux-arm64", "aarch64-unknown-linux-musl"),
        _ => ("codex-linux-x64", "x86_64-unknown-linux-musl"),
    };
    let native = agent_clis()
        .join("@openai")
        .join(package)
        .join("vendor")
        .join(triple)
        .join("bin/codex");
    if native.is_file() {
        native
    } else {
        installed(agent_clis().join(".bin/codex"), "Codex")
    }
}

/// A `CODEX_HOME` whose config.toml points Codex at the fake Responses API (our argv cannot
/// carry `-c` overrides). The key comes from `OPENAI_API_KEY` in the agent's env. No update
/// check or analytics: nothing but the fake is contacted.
fn codex_home(fake: &FakeModel) -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("CODEX_HOME");
    let config = format!(
        "model = \"gpt-fake\"\nmodel_provider = \"fake\"\ncheck_for_update_on_startup = false\n\n\
         [analytics]\nenabled = false\n\n\
         [model_providers.fake]\nname = \"Fake Responses API\"\nbase_url = \"{url}/v1\"\n\
         wire_api = \"responses\"\nenv_key = \"OPENAI_API_KEY\"\n",
        url = fake.url()
    );
    std::fs::write(home.path().join("config.toml"), config).expect("write config.toml");
    home
}

fn step_usage(per_response: ResponseUsage) -> ResponseUsage {
    per_response.times(RESPONSES_PER_STEP)
}

// ---- a whole task on a server ----

/// A server with workers on the `local` runtime, `agent` = (kind, binary, env), and a git
/// server holding `octo/demo`; plus its `runtime.data_dir`, to keep while the server runs.
async fn real_cli_app(kind: &str, program: &Path, env: Value) -> (WorkerApp, tempfile::TempDir) {
    let git = GitServer::start(GIT_TOKEN).await;
    git.create_repo(
        REPO,
        &[
            ("README.md", "# demo\n"),
            ("src/lib.rs", "pub fn answer() -> u32 { 41 }\n"),
        ],
    )
    .await;
    let data = tempfile::tempdir().expect("data dir");
    let quoted = |s: &str| serde_json::to_string(s).expect("JSON string");
    // JSON strings and objects are valid YAML flow scalars / mappings.
    let config = format!(
        "workers:\n  enabled: true\n  shutdown_grace: 2s\n\
         runtime:\n  kind: local\n  data_dir: {data}\n\
         agent:\n  kind: {kind}\n  command: {program}\n  env: {env}\n  turn_timeout: 120s\n  idle_timeout: 90s\n\
         github:\n  git_url: {git_url}\n  token: {GIT_TOKEN}\n\
         ci:\n  enabled: false\n",
        data = quoted(&data.path().display().to_string()),
        program = quoted(&program.display().to_string()),
        git_url = quoted(&git.url()),
    );
    let app = TestApp::spawn(&config).await;
    (WorkerApp { app, git }, data)
}

/// What one CLI is expected to have produced in a task's events.
struct Expected<'a> {
    agent: &'a str,
    /// The session id the CLI sent the fake (header), which our `agent_session` must match.
    session: String,
    /// Our tool name for its shell calls (`Bash` for Claude, `shell` for Codex).
    tool: &'a str,
    usage: ResponseUsage,
    /// Claude reports a cost; Codex does not.
    has_cost: bool,
}

/// Runs `PROMPT` as a task on `w` and checks everything the task recorded and pushed.
async fn run_task_and_check(
    w: &WorkerApp,
    fake: &FakeModel,
    secret: &str,
    expected: impl FnOnce(&FakeModel) -> Expected<'static>,
) {
    let id = w.create(PROMPT).await;
    let task = w.wait_for(&id, &["succeeded", "failed"], LIMIT).await;
    let events = w.events(&id).await;
    let dump = || {
        format!(
            "task: {task:#}\nevents: {:#}\nfake API saw: {:?}",
            Value::Array(events.clone()),
            fake.request_lines()
        )
    };
    assert_eq!(task["status"], "succeeded", "{}", dump());
    let expected = expected(fake);

    let of = |kind: &str| -> Vec<&Value> { events.iter().filter(|e| e["type"] == kind).collect() };
    let position = |kind: &str| {
        events
            .iter()
            .position(|e| e["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} event\n{}", dump()))
    };

    let started = of("agent_turn_started");
    assert_eq!(started.len(), 1, "{}", dump());
    assert_eq!(started[0]["agent"], expected.agent);
    assert_eq!(started[0]["follow_up"], false);

    let sessions = of("agent_session");
    assert_eq!(sessions.len(), 1, "{}", dump());
    assert_eq!(
        sessions[0]["session_id"],
        expected.session,
        "the session id we parsed is the one the CLI used with the model API\n{}",
        dump()
    );

    let uses = of("agent_tool_use");
    assert_eq!(uses.len(), 1, "{}", dump());
    assert_eq!(uses[0]["name"], expected.tool, "{}", dump());
    assert!(
        uses[0]["input"]
            .as_str()
            .unwrap_or("")
            .contains(WRITE_ANSWER),
        "{}",
        dump()
    );
    let results = of("agent_tool_result");
    assert_eq!(results.len(), 1, "{}", dump());
    assert_eq!(results[0]["tool_use_id"], uses[0]["tool_use_id"]);
    assert!(uses[0]["tool_use_id"].is_string(), "{}", dump());
    assert_eq!(results[0]["is_error"], false, "{}", dump());
    assert!(
        results[0]["output"]
            .as_str()
            .unwrap_or("")
            .contains("wrote-answer"),
        "{}",
        dump()
    );

    let messages = of("agent_message");
    assert_eq!(messages.len(), 1, "{}", dump());
    assert_eq!(messages[0]["text"], ANSWER_REPLY);

    let finished = of("agent_turn_finished");
    assert_eq!(finished.len(), 1, "{}", dump());
    let finished = finished[0];
    assert_eq!(finished["ok"], true, "{}", dump());
    assert_eq!(finished["exit_code"], 0);
    assert_eq!(finished["summary"], ANSWER_REPLY);
    assert_eq!(
        finished["usage"],
        expected.usage.as_event_json(),
        "the usage the fake returned, summed over the turn's two responses\n{}",
        dump()
    );
    if expected.has_cost {
        assert!(
            finished["cost_usd"].as_f64().is_some_and(|c| c > 0.0),
            "{}",
            dump()
        );
    } else {
        assert!(finished["cost_usd"].is_null(), "{}", dump());
    }

    // In order: session, tool use, tool result, message, end of turn, commit, push.
    let order = [
        "agent_turn_started",
        "agent_session",
        "agent_tool_use",
        "agent_tool_result",
        "agent_message",
        "agent_turn_finished",
        "committed",
        "pushed",
    ];
    let positions: Vec<usize> = order.iter().map(|k| position(k)).collect();
    assert!(
        positions.windows(2).all(|p| p[0] < p[1]),
        "events out of order: {order:?} at {positions:?}\n{}",
        dump()
    );

    // The command really ran in the workspace, and its file was pushed.
    let branch = task["branch"].as_str().expect("branch");
    assert_eq!(
        w.git.file_at(REPO, branch, "answer.txt").await.as_deref(),
        Some("42\n"),
        "{}",
        dump()
    );

    // The prompt reached the model (on stdin); the tool result went back to it.
    let model_requests = fake.model_requests();
    assert_eq!(
        model_requests.len() as u64,
        RESPONSES_PER_STEP,
        "{}",
        dump()
    );
    assert!(
        model_requests[0].body.to_string().contains(PROMPT),
        "{}",
        dump()
    );
    assert!(
        model_requests[1].body.to_string().contains("wrote-answer"),
        "{}",
        dump()
    );
    // The key reached the CLI but never the task's history.
    assert!(
        !serde_json::to_string(&events)
            .expect("json")
            .contains(secret),
        "{}",
        dump()
    );
}

#[tokio::test]
async fn claude_code_runs_a_task_through_the_local_runtime() {
    let claude = claude_bin();
    let fake =
        FakeModel::anthropic(ANTHROPIC_KEY, vec![Step::new(WRITE_ANSWER, ANSWER_REPLY)]).await;
    // HOME is the task's own home (the local runtime sets it), so ~/.claude is a temp dir.
    // IS_SANDBOX: we run as root, where --dangerously-skip-permissions is refused without it.
    let env = json!({
        "ANTHROPIC_BASE_URL": fake.url(),
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "IS_SANDBOX": "1",
    });
    let (w, _data) = real_cli_app("claude", &claude, env).await;
    run_task_and_check(&w, &fake, ANTHROPIC_KEY, |fake| Expected {
        agent: "claude",
        session: fake_session(fake, "x-claude-code-session-id"),
        tool: "Bash",
        usage: step_usage(ANTHROPIC_USAGE),
        has_cost: true,
    })
    .await;
    let first = &fake.model_requests()[0];
    assert_eq!(first.header("x-api-key"), Some(ANTHROPIC_KEY));
}

#[tokio::test]
async fn codex_runs_a_task_through_the_local_runtime() {
    let codex = codex_bin();
    let fake = FakeModel::openai(OPENAI_KEY, vec![Step::new(WRITE_ANSWER, ANSWER_REPLY)]).await;
    let codex_home = codex_home(&fake);
    let env = json!({
        "CODEX_HOME": codex_home.path().display().to_string(),
        "OPENAI_API_KEY": OPENAI_KEY,
    });
    let (w, _data) = real_cli_app("codex", &codex, env).await;
    run_task_and_check(&w, &fake, OPENAI_KEY, |fake| Expected {
        agent: "codex",
        session: fake_session(fake, "thread-id"),
        tool: "shell",
        usage: step_usage(OPENAI_USAGE),
        has_cost: false,
    })
    .await;
    let first = &fake.model_requests()[0];
    assert_eq!(
        first.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    // Codex kept its thread where CODEX_HOME said.
    assert!(codex_home.path().join("sessions").is_dir());
}

/// The session id the CLI sent with its first model request (a header both CLIs set).
fn fake_session(fake: &FakeModel, header: &str) -> String {
    fake.model_requests()
        .first()
        .and_then(|r| r.header(header).map(String::from))
        .unwrap_or_else(|| panic!("no {header} header in {:?}", fake.requests()))
}

// ---- follow-up turns, directly through the local runtime ----

/// One turn's parsed outputs and raw output.
struct Turn {
    outputs: Vec<AgentOutput>,
    stdout: Vec<String>,
    stderr: Vec<String>,
    exit_code: Option<i64>,
}

impl Turn {
    fn sessions(&self) -> Vec<&str> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                AgentOutput::Session { session_id } => Some(session_id.as_str()),
                _ => None,
            })
            .collect()
    }

    fn finished(&self) -> &FinalResult {
        self.outputs
            .iter()
            .find_map(|o| match o {
                AgentOutput::Finished(f) => Some(f),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no final result: {}", self.dump()))
    }

    fn tool_uses(&self) -> Vec<(&str, &str)> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                AgentOutput::ToolUse { name, input, .. } => Some((name.as_str(), input.as_str())),
                _ => None,
            })
            .collect()
    }

    fn tool_results(&self) -> Vec<(&str, bool)> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                AgentOutput::ToolResult {
                    output, is_error, ..
                } => Some((output.as_str(), *is_error)),
                _ => None,
            })
            .collect()
    }

    fn messages(&self) -> Vec<&str> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                AgentOutput::Message { text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    fn dump(&self) -> String {
        format!(
            "exit code {:?}\noutputs: {:#?}\nstdout:\n{}\nstderr:\n{}",
            self.exit_code,
            self.outputs,
            self.stdout.join("\n"),
            self.stderr.join("\n")
        )
    }
}

/// A workspace (a git repository, as the worker's clone is) and a home, as a local environment.
async fn local_environment(rt: &LocalRuntime, dir: &Path) -> (String, PathBuf) {
    let (workspace, home) = (dir.join("workspace"), dir.join("home"));
    std::fs::create_dir_all(&workspace).expect("workspace");
    let status = tokio::process::Command::new("git")
        .args(["init", "--quiet", "-b", "main"])
        .current_dir(&workspace)
        .status()
        .await
        .expect("git init");
    assert!(status.success());
    let spec = EnvironmentSpec {
        task_id: uuid::Uuid::now_v7(),
        instance: "real-cli-test".into(),
        image: String::new(),
        workspace: workspace.clone(),
        home,
        memory_bytes: 0,
        cpus: 0.0,
        pids: 0,
        network: String::new(),
        user: String::new(),
    };
    (
        rt.create(&spec).await.expect("local environment"),
        workspace,
    )
}

/// One turn as the worker runs it: `argv(session)`, the adapter's env plus `extra`, the message
/// on stdin, every stdout/stderr line through a fresh parser.
async fn run_turn(
    rt: &LocalRuntime,
    environment: &str,
    agent: &Agent,
    extra: &[(&str, String)],
    session: Option<&str>,
    message: &str,
) -> Turn {
    let mut env = agent.env();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let spec = ExecSpec {
        argv: agent.argv(session),
        env,
        stdin: message.as_bytes().to_vec(),
    };
    let mut rx = rt.exec(environment, spec).await.expect("exec");
    let mut parser = agent.parser(session.map(|_| message));
    let mut out = LineBuffer::new(DEFAULT_MAX_LINE_BYTES);
    let mut err = LineBuffer::new(DEFAULT_MAX_LINE_BYTES);
    let mut turn = Turn {
        outputs: Vec::new(),
        stdout: Vec::new(),
        stderr: Vec::new(),
        exit_code: None,
    };
    let follow = async {
        while let Some(event) = rx.recv().await {
            match event {
                ExecEvent::Stdout(bytes) => {
                    for line in out.push(&bytes) {
                        turn.outputs.extend(parser.stdout_line(&line));
                        turn.stdout.push(line);
                    }
                }
                ExecEvent::Stderr(bytes) => {
                    for line in err.push(&bytes) {
                        turn.outputs.extend(parser.stderr_line(&line));
                        turn.stderr.push(line);
                    }
                }
                ExecEvent::Exited(code) => {
                    if let Some(line) = out.finish() {
                        turn.outputs.extend(parser.stdout_line(&line));
                        turn.stdout.push(line);
                    }
                    if let Some(line) = err.finish() {
                        turn.outputs.extend(parser.stderr_line(&line));
                        turn.stderr.push(line);
                    }
                    turn.exit_code = code;
                    return;
                }
                ExecEvent::Lost(why) => panic!("lost the agent's output: {why}"),
            }
        }
    };
    if tokio::time::timeout(LIMIT, follow).await.is_err() {
        // Dropping the receiver kills the process (kill_on_drop).
        panic!("the turn did not end within {LIMIT:?}: {}", turn.dump());
    }
    turn
}

/// Checks one turn ran `command` and answered `reply`, in session `session`.
fn check_turn(turn: &Turn, session: &str, tool: &str, command: &str, echoed: &str, reply: &str) {
    assert_eq!(turn.exit_code, Some(0), "{}", turn.dump());
    assert_eq!(turn.sessions(), [session], "{}", turn.dump());
    let uses = turn.tool_uses();
    assert!(
        uses.len() == 1 && uses[0].0 == tool && uses[0].1.contains(command),
        "{}",
        turn.dump()
    );
    let results = turn.tool_results();
    assert!(
        results.len() == 1 && results[0].0.contains(echoed) && !results[0].1,
        "{}",
        turn.dump()
    );
    assert_eq!(turn.messages(), [reply], "{}", turn.dump());
    let finished = turn.finished();
    assert!(finished.ok, "{}", turn.dump());
    assert_eq!(finished.summary.as_deref(), Some(reply));
}

fn usage_of(usage: ResponseUsage) -> app::model::TokenUsage {
    app::model::TokenUsage {
        input_tokens: usage.input,
        output_tokens: usage.output,
        cache_read_tokens: usage.cache_read,
        cache_write_tokens: usage.cache_write,
    }
}

/// The follow-up's first model request carries the whole first turn: the session was resumed.
fn assert_history_resumed(fake: &FakeModel, first_turn_requests: usize) {
    let requests = fake.model_requests();
    assert_eq!(
        requests.len(),
        first_turn_requests * 2,
        "{:?}",
        fake.request_lines()
    );
    let follow_up = requests[first_turn_requests].body.to_string();
    for earlier in [
        PROMPT,
        WRITE_ANSWER,
        "wrote-answer",
        ANSWER_REPLY,
        FOLLOW_UP,
    ] {
        assert!(
            follow_up.contains(earlier),
            "the follow-up request lacks {earlier:?}: {follow_up}"
        );
    }
}

#[tokio::test]
async fn claude_code_resumes_its_session_on_a_follow_up() {
    let agent =
        Agent::new(AgentKind::Claude, Some(&claude_bin().display().to_string())).expect("agent");
    let fake = FakeModel::anthropic(
        ANTHROPIC_KEY,
        vec![
            Step::new(WRITE_ANSWER, ANSWER_REPLY),
            Step::new(WRITE_SECOND, SECOND_REPLY),
        ],
    )
    .await;
    let rt = LocalRuntime::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let (environment, workspace) = local_environment(&rt, dir.path()).await;
    let env = [
        ("ANTHROPIC_BASE_URL", fake.url()),
        ("ANTHROPIC_API_KEY", ANTHROPIC_KEY.to_string()),
        ("IS_SANDBOX", "1".to_string()),
    ];

    let first = run_turn(&rt, &environment, &agent, &env, None, PROMPT).await;
    let session = first
        .sessions()
        .first()
        .map(|s| s.to_string())
        .unwrap_or_else(|| panic!("no session id: {}", first.dump()));
    check_turn(
        &first,
        &session,
        "Bash",
        WRITE_ANSWER,
        "wrote-answer",
        ANSWER_REPLY,
    );
    assert_eq!(
        first.finished().usage,
        Some(usage_of(step_usage(ANTHROPIC_USAGE)))
    );
    let first_cost = first.finished().cost_usd.expect("a cost");

    let second = run_turn(&rt, &environment, &agent, &env, Some(&session), FOLLOW_UP).await;
    check_turn(
        &second,
        &session,
        "Bash",
        WRITE_SECOND,
        "wrote-second",
        SECOND_REPLY,
    );
    // Claude's result usage is per turn, and our cost is this turn's (its total_cost_usd is
    // the session's running total): the same work costs the same.
    assert_eq!(
        second.finished().usage,
        Some(usage_of(step_usage(ANTHROPIC_USAGE))),
        "{}",
        second.dump()
    );
    let second_cost = second.finished().cost_usd.expect("a cost");
    assert!(
        (second_cost - first_cost).abs() < 1e-9,
        "turn costs {first_cost} then {second_cost}: {}",
        second.dump()
    );
    let total = second
        .stdout
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["type"] == "result")
        .and_then(|e| e["total_cost_usd"].as_f64())
        .expect("total_cost_usd");
    assert!((total - 2.0 * first_cost).abs() < 1e-9, "{total}");

    assert_history_resumed(&fake, RESPONSES_PER_STEP as usize);
    assert_both_turns_landed(&fake, "x-claude-code-session-id", &session, &workspace);
    // The transcript --resume needs lives in the environment's home, keyed by the workspace.
    let projects = dir.path().join("home/.claude/projects");
    let transcripts: Vec<PathBuf> = walk(&projects)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n == format!("{session}.jsonl").as_str())
        })
        .collect();
    assert_eq!(
        transcripts.len(),
        1,
        "transcript under {}",
        projects.display()
    );
    rt.remove(&environment).await.expect("remove");
}

#[tokio::test]
async fn codex_resumes_its_thread_on_a_follow_up() {
    let agent =
        Agent::new(AgentKind::Codex, Some(&codex_bin().display().to_string())).expect("agent");
    let fake = FakeModel::openai(
        OPENAI_KEY,
        vec![
            Step::new(WRITE_ANSWER, ANSWER_REPLY),
            Step::new(WRITE_SECOND, SECOND_REPLY),
        ],
    )
    .await;
    let codex_home = codex_home(&fake);
    let rt = LocalRuntime::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let (environment, workspace) = local_environment(&rt, dir.path()).await;
    let env = [
        ("CODEX_HOME", codex_home.path().display().to_string()),
        ("OPENAI_API_KEY", OPENAI_KEY.to_string()),
    ];

    let first = run_turn(&rt, &environment, &agent, &env, None, PROMPT).await;
    let session = first
        .sessions()
        .first()
        .map(|s| s.to_string())
        .unwrap_or_else(|| panic!("no thread id: {}", first.dump()));
    check_turn(
        &first,
        &session,
        "shell",
        WRITE_ANSWER,
        "wrote-answer",
        ANSWER_REPLY,
    );
    assert_eq!(
        first.finished().usage,
        Some(usage_of(step_usage(OPENAI_USAGE)))
    );

    let second = run_turn(&rt, &environment, &agent, &env, Some(&session), FOLLOW_UP).await;
    check_turn(
        &second,
        &session,
        "shell",
        WRITE_SECOND,
        "wrote-second",
        SECOND_REPLY,
    );
    // Codex's `turn.completed.usage` is the THREAD's running total (restored from its rollout
    // on `exec resume`), not this turn's: after a resume it counts the first turn again. The
    // parser passes on what the CLI said; `Agent::turn_usage`, which the worker applies with the
    // earlier turns' usage from the task's history, gives the turn its own share.
    let running_total = usage_of(step_usage(OPENAI_USAGE).times(2));
    let raw = second
        .stdout
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["type"] == "turn.completed")
        .expect("turn.completed");
    assert_eq!(
        raw["usage"]["input_tokens"], running_total.input_tokens,
        "{raw}"
    );
    assert_eq!(
        second.finished().usage,
        Some(running_total),
        "{}",
        second.dump()
    );
    let first_usage = first.finished().usage.expect("first turn usage");
    assert_eq!(
        agent.turn_usage(second.finished().usage, first_usage),
        Some(usage_of(step_usage(OPENAI_USAGE))),
        "the follow-up's own usage"
    );

    assert_history_resumed(&fake, RESPONSES_PER_STEP as usize);
    assert_both_turns_landed(&fake, "thread-id", &session, &workspace);
    // The rollout `exec resume` needs lives in CODEX_HOME.
    let rollouts: Vec<PathBuf> = walk(&codex_home.path().join("sessions"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(&session))
        .collect();
    assert_eq!(rollouts.len(), 1, "{rollouts:?}");
    rt.remove(&environment).await.expect("remove");
}

/// Every file under `dir` (bounded depth; empty if it does not exist).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), 0)];
    while let Some((dir, depth)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && depth < 8 {
                pending.push((path, depth + 1));
            } else if path.is_file() {
                files.push(path);
            }
        }
    }
    files
}

/// Every model request of both turns carried the session in `header`, and both turns' commands
/// wrote their file into the workspace.
fn assert_both_turns_landed(
    fake: &FakeModel,
    header: &str,
    session: &str,
    workspace: &std::path::Path,
) {
    assert!(
        fake.model_requests()
            .iter()
            .all(|r| r.header(header) == Some(session)),
        "every request in session {session} ({header})"
    );
    let read = |name: &str| std::fs::read_to_string(workspace.join(name)).ok();
    assert_eq!(read("answer.txt").as_deref(), Some("42\n"));
    assert_eq!(read("second.txt").as_deref(), Some("43\n"));
}
