//! The CI loop end to end: the real Docker runtime with the fake Amp CLI, the fake GitHub with
//! simulated Actions running a script from each pushed commit. The fake agent can only fix what
//! the feedback tells it: the CI scripts print the fix as a directive line.

use crate::{
    agent_image::test_image,
    fake_github::{FakeGithub, FakeGithubOptions},
    runtime::AMP_KEY,
    support::{merge_yaml, TestApp},
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const TOKEN: &str = "ghp_ci_loop_token_0123456789";
const REPO: &str = "octo/app";
const LONG: Duration = Duration::from_secs(150);

struct CiApp {
    app: TestApp,
    gh: FakeGithub,
}

/// A CI job that passes only when `answer.txt` holds 42. On failure it prints the fix in the
/// middle of a long log: an agent only finds it if the feedback carries the right slice.
const NEEDS_ANSWER: &str = r#"#!/bin/sh
i=0; while [ $i -lt 1500 ]; do echo "   Compiling crate-$i v0.1.$i"; i=$((i+1)); done
if [ "$(cat answer.txt 2>/dev/null)" = "42" ]; then echo "test result: ok. 1 passed"; exit 0; fi
echo "thread 'answer' panicked at src/lib.rs:7:5:"
echo "error: answer.txt must contain 42"
echo "WRITE answer.txt 42"
echo "note: run with RUST_BACKTRACE=1"
i=0; while [ $i -lt 1500 ]; do echo "test noise::case_$i ... ok"; i=$((i+1)); done
echo "test result: FAILED. 1500 passed; 1 failed"
exit 101
"#;

/// Passes on a branch without `feature.txt` (like main); with it, needs the answer too.
const FEATURE_NEEDS_ANSWER: &str = r#"#!/bin/sh
if [ ! -f feature.txt ] || [ "$(cat answer.txt 2>/dev/null)" = "42" ]; then echo "test result: ok"; exit 0; fi
echo "thread 'answer' panicked at src/lib.rs:7:5:"
echo "error: answer.txt must contain 42"
echo "WRITE answer.txt 42"
exit 101
"#;

async fn start(files: &[(&str, &str)], extra: &str) -> CiApp {
    let gh = FakeGithub::start(FakeGithubOptions {
        token: TOKEN.into(),
        queue_delay: Duration::from_millis(100),
        ..Default::default()
    })
    .await;
    gh.create_repo(REPO, files).await;
    let image = test_image().await;
    let data = tempfile::tempdir().unwrap().keep();
    let base = format!(
        "workers:\n  enabled: true\n  max_concurrent: 2\n  shutdown_grace: 2s\n\
         runtime:\n  kind: docker\n  image: {image}\n  network: none\n  data_dir: {data}\n  stats_interval: 1s\n\
         agent:\n  kind: amp\n  env:\n    AMP_API_KEY: {AMP_KEY}\n  turn_timeout: 60s\n  idle_timeout: 30s\n\
         github:\n  api_url: {api}\n  git_url: {git}\n  token: {TOKEN}\n\
         ci:\n  poll_interval: 200ms\n  settle_window: 600ms\n  no_ci_grace: 3s\n  round_timeout: 90s\n  max_iterations: 3\n",
        data = data.display(),
        api = gh.api_url(),
        git = gh.git_url(),
    );
    let app = TestApp::spawn(&merge_yaml(&base, extra)).await;
    CiApp { app, gh }
}

impl CiApp {
    async fn create(&self, prompt: &str) -> String {
        let r = self
            .app
            .post_json("/api/tasks", &json!({"prompt": prompt, "repo": REPO}))
            .await;
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn finish(&self, id: &str) -> Value {
        let started = Instant::now();
        loop {
            let task: Value = self
                .app
                .get(&format!("/api/tasks/{id}"))
                .await
                .json()
                .await
                .unwrap();
            if ["succeeded", "failed", "cancelled"].contains(&task["status"].as_str().unwrap()) {
                return task;
            }
            assert!(
                started.elapsed() < LONG,
                "task {id} still {}: {:#}",
                task["status"],
                Value::Array(self.events(id).await)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn events(&self, id: &str) -> Vec<Value> {
        self.app.history(id).await
    }

    async fn events_of(&self, id: &str, kind: &str) -> Vec<Value> {
        self.events(id)
            .await
            .into_iter()
            .filter(|e| e["type"] == kind)
            .collect()
    }
}

/// Commits a file on `main` through the git server (as a developer would); returns the new SHA.
async fn push_to_main(gh: &FakeGithub, path: &str, content: &str) -> String {
    use server::{
        config::Secret,
        git::{Author, Git},
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/{REPO}.git", gh.git_url());
    let git = Git::new(dir.path().join("main"), url, Some(Secret::new(TOKEN)));
    git.clone_repo().await.unwrap();
    let before = git.head().await.unwrap();
    std::fs::write(git.dir().join(path), content).unwrap();
    let author = Author {
        name: "dev".into(),
        email: "dev@example.com".into(),
    };
    let sha = git.commit_all(&author, "a change on main").await.unwrap();
    git.push("main", Some(&before)).await.unwrap();
    sha
}

fn statuses(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "status_changed")
        .map(|e| e["to"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn green_at_once_opens_the_pull_request() {
    let ci = start(
        &[("README.md", "x"), (".fake-ci/jobs/test.sh", NEEDS_ANSWER)],
        "",
    )
    .await;
    let id = ci
        .create("Set the answer\nWRITE answer.txt 42\nSAY wrote the answer")
        .await;
    let task = ci.finish(&id).await;
    assert_eq!(
        task["status"],
        "succeeded",
        "{:#}",
        Value::Array(ci.events(&id).await)
    );
    assert_eq!(task["iterations"], 1);
    let prs = ci.gh.pull_requests(REPO).await;
    assert_eq!(prs.len(), 1);
    let pr = &prs[0];
    assert!(!pr.draft);
    assert_eq!(task["pr_number"], pr.number);
    assert_eq!(pr.head_ref, task["branch"].as_str().unwrap());
    assert_eq!(pr.title, "Set the answer");
    let body = pr.body.clone().unwrap_or_default();
    assert!(
        body.contains("> Set the answer")
            && body.contains("wrote the answer")
            && body.contains("✅ green"),
        "{body}"
    );
    let events = ci.events(&id).await;
    assert_eq!(
        statuses(&events),
        [
            "preparing",
            "running",
            "awaiting_ci",
            "opening_pr",
            "succeeded"
        ]
    );
    assert_eq!(
        ci.events_of(&id, "ci_round_finished").await[0]["verdict"],
        "green"
    );
}

#[tokio::test]
async fn red_then_feedback_then_green_with_the_fix_in_the_middle_of_a_long_log() {
    let ci = start(
        &[("README.md", "x"), (".fake-ci/jobs/test.sh", NEEDS_ANSWER)],
        "",
    )
    .await;
    let id = ci
        .create("Start the feature\nWRITE feature.txt started")
        .await;
    let task = ci.finish(&id).await;
    assert_eq!(
        task["status"],
        "succeeded",
        "{:#}",
        Value::Array(ci.events(&id).await)
    );
    assert_eq!(task["iterations"], 2);
    let events = ci.events(&id).await;
    assert_eq!(
        statuses(&events),
        [
            "preparing",
            "running",
            "awaiting_ci",
            "fixing",
            "awaiting_ci",
            "opening_pr",
            "succeeded"
        ]
    );
    let feedback = ci.events_of(&id, "ci_feedback").await;
    assert_eq!(feedback.len(), 1);
    let text = feedback[0]["text"].as_str().unwrap();
    assert!(
        text.contains("WRITE answer.txt 42") && text.contains("src/lib.rs:7"),
        "{text}"
    );
    assert!(text.len() <= 12 * 1024);
    // The same thread continued, in the same container.
    let turns = ci.events_of(&id, "agent_turn_started").await;
    assert_eq!(
        (
            turns[0]["follow_up"].as_bool(),
            turns[1]["follow_up"].as_bool()
        ),
        (Some(false), Some(true))
    );
    assert_eq!(ci.events_of(&id, "container_created").await.len(), 1);
    assert_eq!(
        ci.events_of(&id, "agent_session").await.len(),
        1,
        "one session id for both turns"
    );
    let pushes = ci.events_of(&id, "pushed").await;
    assert_eq!(pushes.len(), 2);
    let rounds: Vec<String> = ci
        .events_of(&id, "ci_round_finished")
        .await
        .iter()
        .map(|e| e["verdict"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(rounds, ["red", "green"]);
    let body = ci.gh.pull_requests(REPO).await[0]
        .body
        .clone()
        .unwrap_or_default();
    assert!(
        body.contains("❌ red") && body.contains("✅ green"),
        "{body}"
    );
}

#[tokio::test]
async fn never_green_stops_at_the_cap_with_the_reason() {
    let always_red = "#!/bin/sh\necho 'error: this build is broken beyond repair'\nexit 1\n";
    let ci = start(
        &[("README.md", "x"), (".fake-ci/jobs/test.sh", always_red)],
        "ci:\n  max_iterations: 2\n",
    )
    .await;
    let id = ci.create("WRITE a.txt x").await;
    let task = ci.finish(&id).await;
    assert_eq!(task["status"], "failed");
    let error = task["error"].as_str().unwrap();
    // Round 1 red → feedback; the agent changes nothing it was not told → rerun once → still red.
    assert!(error.starts_with("ci_still_failing"), "{error}");
    assert!(
        ci.gh.pull_requests(REPO).await.is_empty(),
        "no PR before green"
    );
    assert!(!ci.events_of(&id, "ci_feedback").await.is_empty());
}

#[tokio::test]
async fn no_ci_at_all_opens_a_draft_then_a_ready_pr_saying_ci_was_absent() {
    let ci = start(&[("README.md", "x")], "").await;
    let id = ci.create("WRITE a.txt x").await;
    let task = ci.finish(&id).await;
    assert_eq!(
        task["status"],
        "succeeded",
        "{:#}",
        Value::Array(ci.events(&id).await)
    );
    let prs = ci.gh.pull_requests(REPO).await;
    assert_eq!(prs.len(), 1);
    assert!(!prs[0].draft, "marked ready");
    assert!(prs[0]
        .body
        .clone()
        .unwrap_or_default()
        .contains("No CI check ran"));
    assert_eq!(
        ci.events_of(&id, "ci_round_finished").await.last().unwrap()["verdict"],
        "no_checks"
    );
    let fail = start(
        &[("README.md", "x")],
        "ci:\n  no_ci: fail\n  pr_strategy: after_green\n",
    )
    .await;
    let id = fail.create("WRITE a.txt x").await;
    let task = fail.finish(&id).await;
    assert!(
        task["error"].as_str().unwrap().starts_with("no_ci"),
        "{task}"
    );
    assert!(fail.gh.pull_requests(REPO).await.is_empty());
}

#[tokio::test]
async fn cancelling_mid_fix_closes_the_draft_pull_request() {
    // Red, and the feedback keeps the agent busy for a minute: time to cancel it mid-fix.
    let red_and_slow = "#!/bin/sh\necho 'error: not yet'\necho '[[AGENT: CHATTY 60]]'\nexit 1\n";
    let ci = start(
        &[("README.md", "x"), (".fake-ci/jobs/test.sh", red_and_slow)],
        "ci:\n  pr_strategy: draft_first\n",
    )
    .await;
    let id = ci.create("WRITE a.txt x").await;
    let started = Instant::now();
    while ci.events_of(&id, "agent_turn_started").await.len() < 2 {
        assert!(
            started.elapsed() < LONG,
            "no fixing turn: {:#}",
            Value::Array(ci.events(&id).await)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let prs = ci.gh.pull_requests(REPO).await;
    assert_eq!(prs.len(), 1);
    assert!(
        prs[0].draft && prs[0].state == "open",
        "the draft is open while fixing"
    );

    let r = ci
        .app
        .post_json(&format!("/api/tasks/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let task = ci.finish(&id).await;
    assert_eq!(task["status"], "cancelled");
    let prs = ci.gh.pull_requests(REPO).await;
    assert_eq!(prs[0].state, "closed", "the abandoned draft is closed");
    let closed = ci.events_of(&id, "pull_request_closed").await;
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0]["number"], prs[0].number);
    assert_eq!(closed[0]["reason"], "cancelled by user");
    // In order: the container is gone before the draft closes, and the status comes last.
    let kinds: Vec<String> = ci
        .events(&id)
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    let at = |k: &str| kinds.iter().rposition(|x| x == k).unwrap();
    assert!(at("container_removed") < at("pull_request_closed"));
    assert!(at("pull_request_closed") < at("status_changed"));
}

#[tokio::test]
async fn pull_request_only_ci_is_found_through_a_draft() {
    let ci = start(
        &[
            ("README.md", "x"),
            (".fake-ci/on", "pull_request\n"),
            (".fake-ci/jobs/test.sh", NEEDS_ANSWER),
        ],
        "",
    )
    .await;
    let id = ci.create("WRITE answer.txt 42").await;
    let task = ci.finish(&id).await;
    assert_eq!(
        task["status"],
        "succeeded",
        "{:#}",
        Value::Array(ci.events(&id).await)
    );
    let opened = ci.events_of(&id, "pull_request_opened").await;
    assert_eq!(
        opened[0]["draft"], true,
        "a draft made the pull-request workflow run"
    );
    assert_eq!(ci.events_of(&id, "pull_request_ready").await.len(), 1);
    assert!(!ci.gh.pull_requests(REPO).await[0].draft);
}

#[tokio::test]
async fn a_flaky_infrastructure_failure_is_rerun_once_without_bothering_the_agent() {
    let flaky = "#!/bin/sh\nif [ \"$FAKE_CI_ATTEMPT\" = 1 ]; then echo 'curl: (6) Could not resolve host: registry.example'; exit 1; fi\necho ok\n";
    let ci = start(&[("README.md", "x"), (".fake-ci/jobs/deps.sh", flaky)], "").await;
    let id = ci.create("WRITE a.txt x").await;
    let task = ci.finish(&id).await;
    assert_eq!(
        task["status"],
        "succeeded",
        "{:#}",
        Value::Array(ci.events(&id).await)
    );
    assert_eq!(ci.events_of(&id, "ci_rerun").await.len(), 1);
    assert!(
        ci.events_of(&id, "ci_feedback").await.is_empty(),
        "the agent was not asked"
    );
    assert_eq!(ci.events_of(&id, "agent_turn_started").await.len(), 1);
}

#[tokio::test]
async fn identical_matrix_failures_are_one_entry_and_base_failures_do_not_block() {
    let lint_broken_everywhere = "#!/bin/sh\necho 'lint: style violations in vendor/'\nexit 1\n";
    let ci = start(
        &[
            ("README.md", "x"),
            (".fake-ci/matrix", "test: ubuntu macos windows\n"),
            (".fake-ci/jobs/test.sh", FEATURE_NEEDS_ANSWER),
            (".fake-ci/jobs/lint.sh", lint_broken_everywhere),
        ],
        "",
    )
    .await;
    // A push to main runs the base branch's own CI, so its failures are known.
    let main = push_to_main(&ci.gh, "CHANGELOG.md", "started\n").await;
    ci.gh
        .wait_for_ci(REPO, &main, Duration::from_secs(90))
        .await;
    let id = ci.create("WRITE feature.txt x").await;
    let task = ci.finish(&id).await;
    assert_eq!(
        task["status"],
        "succeeded",
        "{:#}",
        Value::Array(ci.events(&id).await)
    );
    let text = ci.events_of(&id, "ci_feedback").await[0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(text.contains("Also failed identically"), "{text}");
    assert_eq!(
        text.matches("WRITE answer.txt 42").count(),
        1,
        "deduped: {text}"
    );
    let last = ci
        .events_of(&id, "ci_round_finished")
        .await
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["verdict"], "green");
    let lint = last["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "lint")
        .unwrap()
        .clone();
    assert_eq!(
        (lint["conclusion"].as_str(), lint["preexisting"].as_bool()),
        (Some("failure"), Some(true))
    );
    let body = ci.gh.pull_requests(REPO).await[0]
        .body
        .clone()
        .unwrap_or_default();
    assert!(
        body.contains("Failing before this change") && body.contains("- lint"),
        "{body}"
    );
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_survived() {
    let ci = start(
        &[("README.md", "x"), (".fake-ci/jobs/test.sh", NEEDS_ANSWER)],
        "",
    )
    .await;
    ci.gh.fail_randomly(0.2).await;
    ci.gh.secondary_limit(2).await;
    let id = ci.create("WRITE answer.txt 42").await;
    // A primary limit that resets shortly.
    tokio::time::sleep(Duration::from_millis(500)).await;
    ci.gh.set_rate_limit(0, Duration::from_secs(2)).await;
    let task = ci.finish(&id).await;
    assert_eq!(
        task["status"],
        "succeeded",
        "{:#}",
        Value::Array(ci.events(&id).await)
    );
    let statuses: Vec<u16> = ci
        .gh
        .api_requests()
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    assert!(
        statuses.contains(&500) && statuses.contains(&403),
        "{statuses:?}"
    );
    assert_eq!(ci.gh.pull_requests(REPO).await.len(), 1);
}

#[tokio::test]
async fn a_fix_that_appears_only_in_an_annotation_is_found() {
    // The annotation's title carries the fix; the log only says that something is wrong.
    let lint = "#!/bin/sh\nif [ \"$(cat answer.txt 2>/dev/null)\" = 42 ]; then exit 0; fi\n\
        echo '::error file=answer.txt,line=1,title=[[AGENT: WRITE answer.txt 42]]::the answer is wrong'\nexit 1\n";
    let ci = start(&[("README.md", "x"), (".fake-ci/jobs/lint.sh", lint)], "").await;
    let id = ci.create("WRITE feature.txt x").await;
    let task = ci.finish(&id).await;
    assert_eq!(
        task["status"],
        "succeeded",
        "{:#}",
        Value::Array(ci.events(&id).await)
    );
    let text = ci.events_of(&id, "ci_feedback").await[0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains("answer.txt:1") && text.contains("[[AGENT: WRITE answer.txt 42]]"),
        "{text}"
    );
    let first_sha = ci.events_of(&id, "ci_round_started").await[0]["sha"].clone();
    let check = ci.gh.checks(REPO, first_sha.as_str().unwrap()).await;
    let log = check.iter().find_map(|c| c.log.clone()).unwrap_or_default();
    assert!(
        !log.contains("WRITE answer.txt"),
        "the fix is in the annotation only"
    );
}

#[tokio::test]
async fn webhooks_wake_the_watcher_long_before_the_next_poll() {
    let secret = "webhook-secret-0123";
    let ci = start(
        &[("README.md", "x"), (".fake-ci/jobs/test.sh", NEEDS_ANSWER)],
        &format!("ci:\n  poll_interval: 60s\n  settle_window: 100ms\ngithub:\n  webhook_secret: {secret}\n"),
    )
    .await;
    ci.gh
        .set_webhook(Some((
            ci.app.url("/api/github/webhook"),
            secret.to_string(),
        )))
        .await;
    let id = ci.create("WRITE answer.txt 42").await;
    let started = Instant::now();
    let task = ci.finish(&id).await;
    assert_eq!(
        task["status"],
        "succeeded",
        "{:#}",
        Value::Array(ci.events(&id).await)
    );
    // Polling alone would need a minute per step; the deliveries woke it.
    assert!(
        started.elapsed() < Duration::from_secs(55),
        "took {:?}",
        started.elapsed()
    );
    let delivered = ci.gh.deliveries().await;
    assert!(
        delivered.iter().any(|d| d.status == Some(202)),
        "{delivered:?}"
    );
}

#[tokio::test]
async fn polling_uses_etags() {
    let ci = start(
        &[("README.md", "x"), (".fake-ci/jobs/test.sh", NEEDS_ANSWER)],
        "",
    )
    .await;
    let id = ci.create("WRITE answer.txt 42").await;
    assert_eq!(ci.finish(&id).await["status"], "succeeded");
    let not_modified = ci
        .gh
        .api_requests()
        .await
        .iter()
        .filter(|r| r.status == 304)
        .count();
    assert!(
        not_modified > 0,
        "repeated polls should be answered 304 Not Modified"
    );
}

#[tokio::test]
async fn a_github_app_authenticates_the_api_and_the_push() {
    use crate::fake_github::FakeApp;
    let app = FakeApp::default();
    let gh = FakeGithub::start(FakeGithubOptions {
        token: "ghp_unused_by_the_orchestrator".into(),
        app: Some(app.clone()),
        queue_delay: Duration::from_millis(100),
        ..Default::default()
    })
    .await;
    gh.create_repo(
        REPO,
        &[("README.md", "x"), (".fake-ci/jobs/test.sh", NEEDS_ANSWER)],
    )
    .await;
    let keys = tempfile::tempdir().unwrap();
    let pem = keys.path().join("app.pem");
    let out = tokio::process::Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&pem)
        .arg("2048")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let image = test_image().await;
    let data = tempfile::tempdir().unwrap().keep();
    // No github.token at all: everything goes through the App.
    let config = format!(
        "workers:\n  enabled: true\n  shutdown_grace: 2s\n\
         runtime:\n  kind: docker\n  image: {image}\n  network: none\n  data_dir: {data}\n\
         agent:\n  kind: amp\n  env:\n    AMP_API_KEY: {AMP_KEY}\n\
         github:\n  api_url: {api}\n  git_url: {git}\n  app:\n    app_id: {app_id}\n    private_key_path: {pem}\n\
         ci:\n  poll_interval: 200ms\n  settle_window: 500ms\n  no_ci_grace: 3s\n",
        data = data.display(),
        api = gh.api_url(),
        git = gh.git_url(),
        app_id = app.app_id,
        pem = pem.display(),
    );
    let ci = CiApp {
        app: TestApp::spawn(&config).await,
        gh,
    };
    let id = ci.create("WRITE answer.txt 42").await;
    let task = ci.finish(&id).await;
    assert_eq!(
        task["status"],
        "succeeded",
        "{:#}",
        Value::Array(ci.events(&id).await)
    );
    assert_eq!(ci.gh.pull_requests(REPO).await.len(), 1);
    let requests = ci.gh.api_requests().await;
    assert!(
        requests.iter().any(|r| r.path.ends_with("/installation")),
        "installation looked up"
    );
    assert!(
        requests.iter().any(|r| r.path.contains("/access_tokens")),
        "installation token minted"
    );
    assert!(ci.gh.requests_without_auth().await.is_empty());
}

#[tokio::test]
async fn two_different_fixes_over_two_rounds() {
    // Each round reveals the next problem, as real CI does after the first fix.
    let staged = "#!/bin/sh\n\
        if [ \"$(cat answer.txt 2>/dev/null)\" != 42 ]; then echo 'error: answer.txt must contain 42'; echo 'WRITE answer.txt 42'; exit 1; fi\n\
        if [ \"$(cat docs.txt 2>/dev/null)\" != documented ]; then echo 'error: docs.txt is missing'; echo 'WRITE docs.txt documented'; exit 1; fi\n\
        echo 'all good'\n";
    let ci = start(&[("README.md", "x"), (".fake-ci/jobs/test.sh", staged)], "").await;
    let id = ci.create("WRITE feature.txt x").await;
    let task = ci.finish(&id).await;
    assert_eq!(
        task["status"],
        "succeeded",
        "{:#}",
        Value::Array(ci.events(&id).await)
    );
    assert_eq!(task["iterations"], 3);
    let feedback: Vec<String> = ci
        .events_of(&id, "ci_feedback")
        .await
        .iter()
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(feedback.len(), 2);
    assert!(feedback[0].contains("WRITE answer.txt 42") && !feedback[0].contains("docs.txt"));
    assert!(
        feedback[1].contains("WRITE docs.txt documented"),
        "{}",
        feedback[1]
    );
    let rounds: Vec<String> = ci
        .events_of(&id, "ci_round_finished")
        .await
        .iter()
        .map(|e| e["verdict"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(rounds, ["red", "red", "green"]);
    assert_eq!(
        ci.events_of(&id, "agent_session").await.len(),
        1,
        "one thread throughout"
    );
    assert_eq!(ci.events_of(&id, "pushed").await.len(), 3);
}
