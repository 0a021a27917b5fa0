//! The test agent image (`tests/fixtures/agent-image/`): busybox plus a fake `amp` CLI, built
//! `FROM scratch` because no image can be pulled here. [`test_image`] builds it (once per test
//! process) for the Docker runtime's integration tests; the tests below run the fake CLI with the
//! `docker` CLI and check that the orchestrator's Amp parser understands everything it prints.

use app::model::TokenUsage;
use serde_json::Value;
use server::{
    agent::{Agent, AgentOutput, FinalResult},
    config::AgentKind,
};
use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    process::Command,
    sync::OnceCell,
};

/// Repository of the test image; the tag is a hash of `Dockerfile` and `fake-amp`.
pub const IMAGE_REPOSITORY: &str = "amp-orchestrator-test-agent";
/// Label on every container these tests start (for finding leftovers by hand).
pub const TEST_LABEL: &str = "amp-orchestrator.test-agent=1";
/// The static busybox the image is made of (Debian's `busybox-static`).
const BUSYBOX: &str = "/bin/busybox";
/// Upper bound for any one docker command (image build, a container run).
const DOCKER_TIMEOUT: Duration = Duration::from_secs(180);
/// The same idle loop as the product runtime's containers (busybox has no `sleep infinity`).
const KEEP_ALIVE: &str = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done";

static IMAGE: OnceCell<String> = OnceCell::const_new();

/// Builds the test agent image (once per test process; not at all if the tag already exists)
/// and returns its tag, `amp-orchestrator-test-agent:<16 hex digits>`.
///
/// Panics with an explanation when the docker CLI, the Docker engine or `/bin/busybox` is
/// missing.
pub async fn test_image() -> String {
    IMAGE.get_or_init(build_image).await.clone()
}

/// Where `Dockerfile`, `fake-amp` and the README live.
pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agent-image")
}

async fn build_image() -> String {
    let dir = fixture_dir();
    let dockerfile = std::fs::read(dir.join("Dockerfile")).expect("read agent-image/Dockerfile");
    let fake_amp = std::fs::read(dir.join("fake-amp")).expect("read agent-image/fake-amp");
    let tag = format!(
        "{IMAGE_REPOSITORY}:{:016x}",
        fnv1a64(&[&dockerfile, &fake_amp])
    );

    let version = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!("the agent-image tests need the `docker` CLI on PATH and a Docker engine: {e}")
        });
    assert!(
        version.status.success(),
        "the Docker engine is not reachable (`docker version` failed: {}). Start it, e.g. \
         `nohup dockerd >/var/log/dockerd.log 2>&1 &`",
        String::from_utf8_lossy(&version.stderr).trim()
    );

    let inspect = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", &tag])
        .stdin(Stdio::null())
        .output()
        .await
        .expect("docker image inspect");
    if inspect.status.success() {
        return tag;
    }

    assert!(
        Path::new(BUSYBOX).is_file(),
        "building the test agent image needs a static busybox at {BUSYBOX}: \
         `apt-get install -y busybox-static`"
    );
    let context = tempfile::tempdir().expect("build context dir");
    std::fs::write(context.path().join("Dockerfile"), &dockerfile).expect("copy Dockerfile");
    let amp = context.path().join("fake-amp");
    std::fs::write(&amp, &fake_amp).expect("copy fake-amp");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&amp, std::fs::Permissions::from_mode(0o755))
            .expect("chmod fake-amp");
    }
    std::fs::copy(BUSYBOX, context.path().join("busybox")).expect("copy /bin/busybox");

    let mut build = Command::new("docker");
    build
        .args(["build", "-q", "-t", &tag])
        .arg(context.path())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let built = tokio::time::timeout(DOCKER_TIMEOUT, build.output())
        .await
        .expect("docker build timed out")
        .expect("run docker build");
    assert!(
        built.status.success(),
        "docker build of the test agent image {tag} failed:\n{}{}",
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );
    tag
}

/// FNV-1a (64 bit) over length-prefixed parts: stable across Rust versions, unlike `std`'s
/// hasher, so the tag stays the same until the files change.
fn fnv1a64(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        let len = (part.len() as u64).to_le_bytes();
        for &byte in len.iter().chain(part.iter()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// `uid:gid` of this process: the container writes into the bind mount as us, so the temporary
/// directories stay removable (the product runtime does the same).
pub fn host_user() -> String {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata("/proc/self").expect("stat /proc/self");
    format!("{}:{}", meta.uid(), meta.gid())
}

/// A unique container name for this test process.
pub fn container_name(what: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "amp-test-agent-{what}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Removes the named container (and whatever runs in it) when dropped.
pub struct ContainerGuard(pub String);

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", &self.0])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// What a finished command printed.
#[derive(Debug)]
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` with `stdin` written and closed, bounded by [`DOCKER_TIMEOUT`].
async fn run_with_stdin(mut command: Command, stdin: &str) -> Finished {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("spawn docker");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("write stdin");
    drop(input);
    let output = tokio::time::timeout(DOCKER_TIMEOUT, child.wait_with_output())
        .await
        .expect("docker command timed out")
        .expect("wait for docker");
    Finished {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `docker run --rm -i` of `argv` in a throwaway container with `workspace` at /workspace.
/// `env`: `NAME=value` pairs.
pub async fn run_agent(
    image: &str,
    workspace: &Path,
    env: &[&str],
    argv: &[String],
    prompt: &str,
) -> Finished {
    let name = container_name("run");
    let _guard = ContainerGuard(name.clone());
    let mut command = docker_run(image, &name, workspace, env);
    command.args(argv);
    run_with_stdin(command, prompt).await
}

fn docker_run(image: &str, name: &str, workspace: &Path, env: &[&str]) -> Command {
    let mut command = Command::new("docker");
    command.args([
        "run",
        "--rm",
        "-i",
        "--name",
        name,
        "--label",
        TEST_LABEL,
        "--network",
        "none",
        "--user",
        &host_user(),
    ]);
    for var in env {
        command.args(["-e", var]);
    }
    command
        .arg("-v")
        .arg(format!("{}:/workspace", workspace.display()))
        .args(["-w", "/workspace", image]);
    command
}

/// A long-lived container (like the product runtime's) for several `docker exec` turns.
pub struct IdleContainer {
    pub guard: ContainerGuard,
}

impl IdleContainer {
    pub async fn start(image: &str, workspace: &Path) -> IdleContainer {
        let name = container_name("idle");
        let guard = ContainerGuard(name.clone());
        let mut command = Command::new("docker");
        command
            .args([
                "run",
                "-d",
                "--name",
                &name,
                "--label",
                TEST_LABEL,
                "--network",
                "none",
                "--user",
                &host_user(),
                "-v",
            ])
            .arg(format!("{}:/workspace", workspace.display()))
            .args(["-w", "/workspace", image, "/bin/sh", "-c", KEEP_ALIVE]);
        let started = run_with_stdin(command, "").await;
        assert_eq!(started.code, Some(0), "docker run -d: {started:?}");
        IdleContainer { guard }
    }

    /// `docker exec -i` of `argv` with `prompt` on stdin.
    pub async fn exec(&self, env: &[&str], argv: &[String], prompt: &str) -> Finished {
        let mut command = Command::new("docker");
        command.args(["exec", "-i"]);
        for var in env {
            command.args(["-e", var]);
        }
        command.arg(&self.guard.0).args(argv);
        run_with_stdin(command, prompt).await
    }
}

fn amp() -> Agent {
    Agent::new(AgentKind::Amp, None).unwrap()
}

/// Every stdout line as JSON; panics on a line that is not a JSON object.
fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}\nwhole stdout:\n{stdout}"));
            assert!(value.is_object(), "not a JSON object: {line}");
            value
        })
        .collect()
}

/// The orchestrator's Amp parser over a whole run (stdout, then stderr).
fn parse(run: &Finished, follow_up: Option<&str>) -> Vec<AgentOutput> {
    let mut parser = amp().parser(follow_up);
    let mut outputs = Vec::new();
    for line in run.stdout.lines() {
        outputs.extend(parser.stdout_line(line));
    }
    for line in run.stderr.lines() {
        outputs.extend(parser.stderr_line(line));
    }
    outputs
}

fn finished(outputs: &[AgentOutput]) -> &FinalResult {
    let results: Vec<&FinalResult> = outputs
        .iter()
        .filter_map(|o| match o {
            AgentOutput::Finished(result) => Some(result),
            _ => None,
        })
        .collect();
    match results.as_slice() {
        [result] => result,
        _ => panic!("expected exactly one Finished: {outputs:#?}"),
    }
}

fn session_id(outputs: &[AgentOutput]) -> String {
    match outputs.first() {
        Some(AgentOutput::Session { session_id }) => session_id.clone(),
        other => panic!("expected a Session first, got {other:?}\n{outputs:#?}"),
    }
}

fn messages(outputs: &[AgentOutput]) -> Vec<&str> {
    outputs
        .iter()
        .filter_map(|o| match o {
            AgentOutput::Message { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn assert_thread_id(id: &str) {
    let digits = id
        .strip_prefix("T-00000000-0000-4000-8000-")
        .unwrap_or_else(|| panic!("unexpected thread id {id}"));
    assert!(
        digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_digit()),
        "unexpected thread id {id}"
    );
}

#[tokio::test]
async fn first_turn_streams_json_the_parser_understands_and_edits_the_workspace() {
    let image = test_image().await;
    let workspace = tempfile::tempdir().unwrap();
    let prompt = "Please make these edits.\n\
        WRITE notes/hello.txt Hello \"quoted\" \\ back\ttab\n\
        APPEND notes/hello.txt second line\n\
        WRITE gone.txt bye\n\
        DELETE gone.txt\n\
        ENV AMP_API_KEY\n\
        ENV FAKE_AMP_NOT_SET\n\
        SAY Created notes/hello.txt\n";
    let run = run_agent(
        &image,
        workspace.path(),
        &["AMP_API_KEY=sk-fake-secret-value"],
        &amp().argv(None),
        prompt,
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(!run.stdout.contains("sk-fake-secret-value"), "{run:?}");

    let events = json_lines(&run.stdout);
    assert_eq!(events[0]["type"], "system");
    assert_eq!(events[0]["subtype"], "init");
    assert_eq!(events[0]["cwd"], "/workspace");
    assert_eq!(events[1]["type"], "user");
    assert_eq!(
        events[1]["message"]["content"][0]["text"].as_str(),
        Some(prompt.trim_end())
    );
    let last = events.last().unwrap();
    assert_eq!(last["type"], "result");
    assert_eq!(last["subtype"], "success");

    let outputs = parse(&run, None);
    let session = session_id(&outputs);
    assert_thread_id(&session);
    assert_eq!(events[0]["session_id"].as_str(), Some(session.as_str()));
    assert!(
        !outputs.iter().any(|o| matches!(
            o,
            AgentOutput::Raw { .. } | AgentOutput::Fatal { .. } | AgentOutput::Notice { .. }
        )),
        "{outputs:#?}"
    );

    let tool_uses: Vec<(&str, &str)> = outputs
        .iter()
        .filter_map(|o| match o {
            AgentOutput::ToolUse { name, input, .. } => Some((name.as_str(), input.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(tool_uses.len(), 6, "{outputs:#?}");
    assert_eq!(tool_uses[0].0, "edit_file");
    let input: Value = serde_json::from_str(tool_uses[0].1).unwrap();
    assert_eq!(
        input,
        serde_json::json!({"path": "notes/hello.txt", "content": "Hello \"quoted\" \\ back\ttab"})
    );
    assert_eq!(tool_uses[3].0, "edit_file");
    assert!(tool_uses[3].1.contains("gone.txt"), "{tool_uses:?}");
    assert_eq!(tool_uses[4].0, "Bash");

    let results: Vec<(&str, bool)> = outputs
        .iter()
        .filter_map(|o| match o {
            AgentOutput::ToolResult {
                output, is_error, ..
            } => Some((output.as_str(), *is_error)),
            _ => None,
        })
        .collect();
    assert_eq!(
        results,
        [
            ("ok", false),
            ("ok", false),
            ("ok", false),
            ("ok", false),
            ("set", false),
            ("unset", false)
        ]
    );
    // Each tool result answers the tool use before it.
    let ids: Vec<Option<&String>> = outputs
        .iter()
        .filter_map(|o| match o {
            AgentOutput::ToolUse { tool_use_id, .. }
            | AgentOutput::ToolResult { tool_use_id, .. } => Some(tool_use_id.as_ref()),
            _ => None,
        })
        .collect();
    for pair in ids.chunks(2) {
        assert!(pair[0].is_some() && pair[0] == pair[1], "{ids:?}");
    }

    assert_eq!(messages(&outputs), ["Created notes/hello.txt"]);
    assert_eq!(
        *finished(&outputs),
        FinalResult {
            ok: true,
            summary: Some("Created notes/hello.txt".into()),
            error: None,
            usage: Some(TokenUsage {
                input_tokens: 100,
                output_tokens: 20,
                cache_read_tokens: 0,
                cache_write_tokens: 0,
            }),
            cost_usd: Some(0.01),
            duration_ms: finished(&outputs).duration_ms,
            num_turns: Some(1),
        }
    );
    assert!(finished(&outputs).duration_ms.is_some());

    // The edits landed on the host side of the bind mount.
    let hello = std::fs::read_to_string(workspace.path().join("notes/hello.txt")).unwrap();
    assert_eq!(hello, "Hello \"quoted\" \\ back\ttab\nsecond line\n");
    assert!(!workspace.path().join("gone.txt").exists());
}

#[tokio::test]
async fn continue_in_the_same_container_keeps_the_thread_and_the_replay_is_skipped() {
    let image = test_image().await;
    let workspace = tempfile::tempdir().unwrap();
    let container = IdleContainer::start(&image, workspace.path()).await;
    let env = ["AMP_API_KEY=k"];

    let first_prompt = "Start the work.\nWRITE log.txt one\nSAY First turn done";
    let first = container.exec(&env, &amp().argv(None), first_prompt).await;
    assert_eq!(first.code, Some(0), "{first:?}");
    let first_outputs = parse(&first, None);
    let session = session_id(&first_outputs);
    assert_thread_id(&session);
    assert_eq!(finished(&first_outputs).num_turns, Some(1));

    let follow_up =
        "CI failed: log.txt needs a second line.\nAPPEND log.txt two\nSAY Second turn done";
    let second = container
        .exec(&env, &amp().argv(Some(&session)), follow_up)
        .await;
    assert_eq!(second.code, Some(0), "{second:?}");

    // The raw stream: the earlier prompt is replayed before the new message is echoed.
    let events = json_lines(&second.stdout);
    assert!(events
        .iter()
        .all(|e| e["session_id"].as_str() == Some(session.as_str())));
    let user_texts: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "user")
        .filter_map(|e| e["message"]["content"][0]["text"].as_str())
        .collect();
    assert_eq!(user_texts, [first_prompt, follow_up]);

    // With the follow-up message the parser reports only the new turn.
    let outputs = parse(&second, Some(follow_up));
    assert_eq!(session_id(&outputs), session);
    assert_eq!(messages(&outputs), ["Second turn done"]);
    let result = finished(&outputs);
    assert!(result.ok, "{result:?}");
    assert_eq!(result.num_turns, Some(2));
    assert_eq!(result.summary.as_deref(), Some("Second turn done"));
    assert!(outputs
        .iter()
        .any(|o| matches!(o, AgentOutput::ToolUse { input, .. } if input.contains("log.txt"))));
    // Without it, the replayed first turn shows (so the gate above really had work to do).
    let ungated = parse(&second, None);
    assert_eq!(messages(&ungated), ["First turn done", "Second turn done"]);

    assert_eq!(
        std::fs::read_to_string(workspace.path().join("log.txt")).unwrap(),
        "one\ntwo\n"
    );

    // An unknown thread fails like Amp: a message on stderr, nothing on stdout.
    let unknown = "T-00000000-0000-4000-8000-999999999999";
    let missing = container
        .exec(&env, &amp().argv(Some(unknown)), "hello")
        .await;
    assert_eq!(missing.code, Some(1), "{missing:?}");
    assert!(missing.stdout.is_empty(), "{missing:?}");
    assert_eq!(
        missing.stderr.trim(),
        format!("Error: Thread {unknown} not found")
    );
}

#[tokio::test]
async fn without_an_api_key_it_asks_for_a_login_and_hangs() {
    let image = test_image().await;
    let workspace = tempfile::tempdir().unwrap();
    let name = container_name("nokey");
    let _guard = ContainerGuard(name.clone());
    let mut command = docker_run(&image, &name, workspace.path(), &[]);
    command
        .args(amp().argv(None))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"WRITE never.txt x\n").await.unwrap();
    drop(stdin);

    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = tokio::time::timeout(DOCKER_TIMEOUT, stderr.next_line())
        .await
        .expect("no stderr line in time")
        .unwrap()
        .expect("stderr closed without a line");
    assert_eq!(line, "No API key found. Starting login flow...");
    match amp().parser(None).stderr_line(&line).as_slice() {
        [AgentOutput::Fatal { reason }] => assert!(reason.contains("AMP_API_KEY"), "{reason}"),
        other => panic!("expected a Fatal, got {other:?}"),
    }

    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the fake amp exited instead of waiting for a login"
    );
    let _ = child.kill().await;
    assert!(!workspace.path().join("never.txt").exists());
}

#[tokio::test]
async fn an_invalid_key_or_an_unknown_option_fails_with_amps_messages() {
    let image = test_image().await;
    let workspace = tempfile::tempdir().unwrap();

    let invalid = run_agent(
        &image,
        workspace.path(),
        &["AMP_API_KEY=invalid"],
        &amp().argv(None),
        "WRITE never.txt x\n",
    )
    .await;
    assert_eq!(invalid.code, Some(1), "{invalid:?}");
    assert!(invalid.stdout.is_empty(), "{invalid:?}");
    assert_eq!(
        invalid.stderr.trim(),
        "Error: Invalid or missing API key. Run 'amp login' to authenticate."
    );
    match parse(&invalid, None).as_slice() {
        [AgentOutput::Fatal { reason }] => assert!(reason.contains("rejected"), "{reason}"),
        other => panic!("expected a Fatal, got {other:?}"),
    }
    assert!(!workspace.path().join("never.txt").exists());

    let mut argv = amp().argv(None);
    argv.push("--bogus".into());
    let unknown = run_agent(&image, workspace.path(), &["AMP_API_KEY=k"], &argv, "hi").await;
    assert_eq!(unknown.code, Some(1), "{unknown:?}");
    assert!(unknown.stdout.is_empty(), "{unknown:?}");
    assert_eq!(
        unknown.stderr.trim(),
        "Error: error: unknown option '--bogus'"
    );
}

#[tokio::test]
async fn fail_directive_ends_with_an_error_result_and_exit_1() {
    let image = test_image().await;
    let workspace = tempfile::tempdir().unwrap();
    let run = run_agent(
        &image,
        workspace.path(),
        &["AMP_API_KEY=k"],
        &amp().argv(None),
        "WRITE partial.txt x\nFAIL Tests are broken: \"x\"\nWRITE never.txt y\n",
    )
    .await;
    assert_eq!(run.code, Some(1), "{run:?}");
    let events = json_lines(&run.stdout);
    let last = events.last().unwrap();
    assert_eq!(last["type"], "result");
    assert_eq!(last["subtype"], "error_during_execution");
    assert_eq!(last["is_error"], true);

    let outputs = parse(&run, None);
    let result = finished(&outputs);
    assert!(!result.ok);
    assert_eq!(result.error.as_deref(), Some("Tests are broken: \"x\""));
    assert_eq!(result.num_turns, Some(1));
    assert!(workspace.path().join("partial.txt").exists());
    assert!(!workspace.path().join("never.txt").exists());
}

#[tokio::test]
async fn output_directives_shape_stdout_stderr_and_the_exit_code() {
    let image = test_image().await;
    let workspace = tempfile::tempdir().unwrap();
    let run = run_agent(
        &image,
        workspace.path(),
        &["AMP_API_KEY=k"],
        &amp().argv(None),
        "STDERR warning from the fake\nBIGLINE 100000\nLINES 25\nCHATTY 2\nBACKGROUND 1\n\
         SAY Noisy\nEXIT 3\n",
    )
    .await;
    assert_eq!(run.code, Some(3), "{run:?}");
    assert_eq!(run.stderr.trim(), "warning from the fake");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines
        .iter()
        .any(|l| l.len() == 100_000 && l.bytes().all(|b| b == b'x')));
    for i in 1..=25 {
        let expected = format!("fake-amp log line {i}");
        assert!(lines.contains(&expected.as_str()), "missing {expected}");
    }
    let outputs = parse(&run, None);
    let raw = outputs
        .iter()
        .filter(|o| matches!(o, AgentOutput::Raw { .. }))
        .count();
    // The big line, the 25 log lines, and the stderr line.
    assert_eq!(raw, 27, "{outputs:#?}");
    assert_eq!(
        messages(&outputs),
        ["Still working (1/2)", "Still working (2/2)", "Noisy"]
    );
    assert!(finished(&outputs).ok);

    let quiet = run_agent(
        &image,
        workspace.path(),
        &["AMP_API_KEY=k"],
        &amp().argv(None),
        "NOFINAL\nSAY no result line\n",
    )
    .await;
    assert_eq!(quiet.code, Some(0), "{quiet:?}");
    json_lines(&quiet.stdout);
    let outputs = parse(&quiet, None);
    assert!(!outputs
        .iter()
        .any(|o| matches!(o, AgentOutput::Finished(_))));
    assert_eq!(messages(&outputs), ["no result line"]);
}
