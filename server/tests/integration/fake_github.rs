//! A fake GitHub for integration tests: one axum server on 127.0.0.1:0 speaking GitHub's REST
//! API (complete payloads, GitHub's error bodies, rate-limit headers, ETags) and, on the same
//! port, a real `git http-backend` (see `git_http`). Pushing a commit that contains
//! `.fake-ci/jobs/*.sh` starts SIMULATED ACTIONS: a workflow run "CI" with one job (= check run)
//! per script, run by `sh` in a fresh checkout of the commit, publishing statuses, annotations
//! (from `::error file=…::msg` workflow commands) and a job log in GitHub's exact format.
//!
//! CI layout inside a pushed commit:
//! - `.fake-ci/jobs/<name>.sh`: one job per script (`test.sh` → job `test`);
//! - `.fake-ci/matrix`: lines `test: ubuntu macos` expand job `test` into `test (ubuntu)`, …
//!   (env `FAKE_CI_MATRIX`);
//! - `.fake-ci/on`: words `push` and/or `pull_request` (default `push`).
//!
//! Scripts get `CI=true`, `GITHUB_ACTIONS=true`, `FAKE_CI_ATTEMPT`, `FAKE_CI_MATRIX`,
//! `GITHUB_SHA`, `GITHUB_REF_NAME`, `GITHUB_EVENT_NAME`, `GITHUB_RUN_ID`, `GITHUB_RUN_ATTEMPT`.

// A helper API for other test modules: not every item is used by this module's own tests.
#![allow(dead_code)]

use crate::git_http::{GitAuth, GitBackend, GitServer, PushHook, RefUpdate};
use axum::{
    body::Body,
    extract::Request,
    http::{header, HeaderMap, Method, StatusCode},
    response::Response,
    Router,
};
use chrono::{DateTime, Utc};
use futures::FutureExt;
use serde_json::{json, Value};
use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};
use tokio::io::AsyncBufReadExt;

/// GitHub Actions' app id, as GitHub reports it on check runs and suites.
pub const ACTIONS_APP_ID: u64 = 15368;
const DOCS: &str = "https://docs.github.com/rest";
const EMPTY_SUITE_APP: (u64, &str, &str) = (29110, "dependabot", "Dependabot");
const USER_ID: u64 = 583231;
const BOT_ID: u64 = 41898282;
const MAX_LOG_LINES: usize = 20_000;

// ---------------------------------------------------------------------------------------------
// Options and public types
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct FakeApp {
    pub app_id: u64,
    pub installation_id: u64,
    /// How long minted installation tokens live (GitHub: 1 h).
    pub token_lifetime: Duration,
}

impl Default for FakeApp {
    fn default() -> Self {
        FakeApp {
            app_id: 123456,
            installation_id: 7654321,
            token_lifetime: Duration::from_secs(3600),
        }
    }
}

#[derive(Clone, Debug)]
pub struct FakeGithubOptions {
    /// The personal access token the API and git accept.
    pub token: String,
    /// A GitHub App (JWT auth, installation tokens).
    pub app: Option<FakeApp>,
    /// How long a job stays `queued` before it starts.
    pub queue_delay: Duration,
    /// Wall-clock cap of one job's script (→ conclusion `timed_out`).
    pub job_timeout: Duration,
    /// Auto-deliver `check_run`/`workflow_run` `completed` webhooks here: (url, secret).
    pub webhook: Option<(String, String)>,
}

impl Default for FakeGithubOptions {
    fn default() -> Self {
        FakeGithubOptions {
            token: "ghp_fake_token".into(),
            app: None,
            queue_delay: Duration::from_millis(300),
            job_timeout: Duration::from_secs(60),
            webhook: None,
        }
    }
}

/// A check run of the simulated Actions (its id is also the Actions job id).
#[derive(Clone, Debug)]
pub struct CheckRun {
    pub id: u64,
    pub run_id: u64,
    pub run_attempt: u32,
    pub suite_id: u64,
    pub repo: String,
    pub head_sha: String,
    pub head_branch: String,
    pub name: String,
    /// Script path inside the commit (`.fake-ci/jobs/test.sh`).
    pub script: String,
    pub matrix: Option<String>,
    pub event: String,
    /// `queued`, `in_progress`, `completed`.
    pub status: String,
    pub conclusion: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub steps: Vec<Step>,
    pub annotations: Vec<Annotation>,
    /// The full log (with BOM), once completed.
    pub log: Option<String>,
    pub pull_numbers: Vec<u64>,
}

#[derive(Clone, Debug)]
pub struct Step {
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub number: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub struct Annotation {
    pub path: String,
    pub start_line: u64,
    pub end_line: u64,
    pub start_column: Option<u64>,
    pub end_column: Option<u64>,
    /// `failure`, `warning`, `notice`.
    pub level: String,
    pub title: String,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct WorkflowRun {
    pub id: u64,
    pub repo: String,
    pub head_branch: String,
    pub head_sha: String,
    pub run_number: u64,
    pub run_attempt: u32,
    pub event: String,
    pub suite_id: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub run_started_at: DateTime<Utc>,
    pub pull_numbers: Vec<u64>,
    commit: CommitInfo,
}

#[derive(Clone, Debug, Default)]
struct CommitInfo {
    tree: String,
    message: String,
    author: (String, String),
    committer: (String, String),
    timestamp: String,
}

#[derive(Clone, Debug)]
pub struct PullRequest {
    pub id: u64,
    pub number: u64,
    pub repo: String,
    pub title: String,
    pub body: Option<String>,
    pub head_ref: String,
    pub head_sha: String,
    pub base_ref: String,
    pub draft: bool,
    /// `open` or `closed`.
    pub state: String,
    pub user: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl PullRequest {
    pub fn node_id(&self) -> String {
        format!("PR_kwDOFake{}", self.id)
    }
}

#[derive(Clone, Debug)]
struct Suite {
    id: u64,
    repo: String,
    head_sha: String,
    head_branch: Option<String>,
    /// `None`: an empty suite of some other app, stuck in `queued` (GitHub does that).
    run_id: Option<u64>,
    created_at: DateTime<Utc>,
    commit: CommitInfo,
}

#[derive(Clone, Debug)]
struct CommitStatus {
    id: u64,
    repo: String,
    sha: String,
    context: String,
    state: String,
    description: Option<String>,
    target_url: Option<String>,
    created_at: DateTime<Utc>,
}

/// One API request as the fake saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiRequest {
    pub method: String,
    pub path: String,
    pub status: u16,
}

/// A webhook the fake delivered on its own.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub event: String,
    pub action: String,
    pub status: Option<u16>,
}

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

struct Rate {
    limit: u64,
    remaining: u64,
    reset: i64,
}

struct State {
    next_id: u64,
    repos: BTreeMap<String, u64>,
    runs: Vec<WorkflowRun>,
    jobs: Vec<CheckRun>,
    suites: Vec<Suite>,
    statuses: Vec<CommitStatus>,
    pulls: Vec<PullRequest>,
    run_numbers: HashMap<String, u64>,
    install_tokens: HashMap<String, DateTime<Utc>>,
    rate: Rate,
    secondary: u32,
    fail_next: u32,
    fail_probability: f64,
    rng: u64,
    api_requests: Vec<ApiRequest>,
    without_auth: Vec<(String, String)>,
    webhook: Option<(String, String)>,
    deliveries: Vec<Delivery>,
}

impl State {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn repo_id(&mut self, repo: &str) -> u64 {
        let next = 500_000_000 + self.repos.len() as u64 * 7 + 1;
        *self.repos.entry(repo.to_string()).or_insert(next)
    }

    fn random(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn refresh_rate(&mut self) {
        let now = Utc::now().timestamp();
        if now >= self.rate.reset {
            self.rate.remaining = self.rate.limit;
            self.rate.reset = now + 3600;
        }
    }

    /// The jobs of a run, newest per name.
    fn latest_jobs(&self, run_id: u64) -> Vec<&CheckRun> {
        latest_per_name(self.jobs.iter().filter(|j| j.run_id == run_id))
    }

    fn run_status(&self, run: &WorkflowRun) -> (&'static str, Option<String>) {
        let current: Vec<&CheckRun> = self
            .jobs
            .iter()
            .filter(|j| j.run_id == run.id && j.run_attempt == run.run_attempt)
            .collect();
        let latest = self.latest_jobs(run.id);
        if current.iter().all(|j| j.status == "completed") {
            let conclusions: Vec<&str> = latest
                .iter()
                .filter_map(|j| j.conclusion.as_deref())
                .collect();
            let conclusion = if conclusions
                .iter()
                .any(|c| matches!(*c, "failure" | "timed_out"))
            {
                "failure"
            } else if conclusions.contains(&"cancelled") {
                "cancelled"
            } else {
                "success"
            };
            ("completed", Some(conclusion.to_string()))
        } else if current.iter().all(|j| j.status == "queued") {
            ("queued", None)
        } else {
            ("in_progress", None)
        }
    }
}

fn latest_per_name<'a>(jobs: impl Iterator<Item = &'a CheckRun>) -> Vec<&'a CheckRun> {
    let mut by_name: BTreeMap<&str, &CheckRun> = BTreeMap::new();
    for job in jobs {
        let entry = by_name.entry(job.name.as_str()).or_insert(job);
        if job.id > entry.id {
            *entry = job;
        }
    }
    let mut out: Vec<&CheckRun> = by_name.into_values().collect();
    out.sort_by_key(|j| j.id);
    out
}

struct Shared {
    base: String,
    opts: FakeGithubOptions,
    root: PathBuf,
    /// Signs log URLs.
    secret: String,
    state: Mutex<State>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    http: reqwest::Client,
}

impl Shared {
    fn st(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    fn bare(&self, repo: &str) -> PathBuf {
        self.root.join(format!("{repo}.git"))
    }

    fn repo_exists(&self, repo: &str) -> bool {
        self.bare(repo).join("HEAD").is_file()
    }

    fn spawn(&self, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(fut);
        let mut tasks = self.tasks.lock().unwrap();
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle);
    }

    fn token_valid(&self, token: &str) -> bool {
        if token == self.opts.token {
            return true;
        }
        self.st()
            .install_tokens
            .get(token)
            .is_some_and(|exp| *exp > Utc::now())
    }

    fn is_install_token(&self, token: &str) -> bool {
        self.st().install_tokens.contains_key(token)
    }
}

// ---------------------------------------------------------------------------------------------
// The handle
// ---------------------------------------------------------------------------------------------

pub struct FakeGithub {
    /// The git side (same server): `create_repo`, `branch_sha`, `file_at`, `requests`, ….
    pub git: GitServer,
    shared: Arc<Shared>,
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        for task in self.shared.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

impl FakeGithub {
    pub async fn start(opts: FakeGithubOptions) -> FakeGithub {
        let root = tempfile::tempdir().expect("git root");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let base = format!("http://{addr}");
        let seed = Utc::now().timestamp_nanos_opt().unwrap_or(1) as u64 | 1;
        let shared = Arc::new(Shared {
            base,
            root: root.path().to_path_buf(),
            secret: format!("{seed:x}"),
            state: Mutex::new(State {
                next_id: 10_000_000_000,
                repos: BTreeMap::new(),
                runs: Vec::new(),
                jobs: Vec::new(),
                suites: Vec::new(),
                statuses: Vec::new(),
                pulls: Vec::new(),
                run_numbers: HashMap::new(),
                install_tokens: HashMap::new(),
                rate: Rate {
                    limit: 5000,
                    remaining: 5000,
                    reset: Utc::now().timestamp() + 3600,
                },
                secondary: 0,
                fail_next: 0,
                fail_probability: 0.0,
                rng: seed,
                api_requests: Vec::new(),
                without_auth: Vec::new(),
                webhook: opts.webhook.clone(),
                deliveries: Vec::new(),
            }),
            opts,
            tasks: Mutex::new(Vec::new()),
            http: reqwest::Client::new(),
        });
        let weak = Arc::downgrade(&shared);
        let auth: GitAuth = Arc::new(move |value: &str| {
            let Some(shared) = weak.upgrade() else {
                return false;
            };
            git_token(value).is_some_and(|t| shared.token_valid(&t))
        });
        let weak = Arc::downgrade(&shared);
        let hook: PushHook = Arc::new(move |repo: String, updates: Vec<RefUpdate>| {
            let shared = weak.upgrade();
            async move {
                if let Some(shared) = shared {
                    on_push(shared, repo, updates).await;
                }
            }
            .boxed()
        });
        let backend = GitBackend::new(root.path(), auth, Some(hook));
        let app = {
            let backend = backend.clone();
            let shared = shared.clone();
            Router::new().fallback(move |req: Request| {
                let backend = backend.clone();
                let shared = shared.clone();
                async move {
                    let path = req.uri().path().to_string();
                    if GitBackend::is_git_path(&path) {
                        backend.handle(req).await
                    } else if let Some(rest) = path.strip_prefix("/_fake/logs/") {
                        serve_log(&shared, rest, req.uri().query().unwrap_or(""))
                    } else {
                        api(shared, req).await
                    }
                }
            })
        };
        let git = GitServer::serve_backend(listener, root, &backend, app);
        FakeGithub { git, shared }
    }

    /// The API base URL (`http://127.0.0.1:PORT`, no path prefix; `/api/v3/...` works too).
    pub fn api_url(&self) -> String {
        self.shared.base.clone()
    }

    /// The git base URL: clone URLs are `<git_url>/<owner>/<repo>.git`.
    pub fn git_url(&self) -> String {
        self.shared.base.clone()
    }

    /// The PAT.
    pub fn token(&self) -> String {
        self.shared.opts.token.clone()
    }

    /// Creates `owner/name` with one commit on `main` holding `files` (no CI runs for it).
    pub async fn create_repo(&self, repo: &str, files: &[(&str, &str)]) {
        self.git.create_repo(repo, files).await;
        self.shared.st().repo_id(repo);
    }

    pub async fn branch_sha(&self, repo: &str, branch: &str) -> Option<String> {
        self.git.branch_sha(repo, branch).await
    }

    /// Every check run (all attempts) of `repo` at `sha`, oldest first.
    pub async fn checks(&self, repo: &str, sha: &str) -> Vec<CheckRun> {
        self.shared
            .st()
            .jobs
            .iter()
            .filter(|j| j.repo == repo && j.head_sha == sha)
            .cloned()
            .collect()
    }

    /// Every workflow run of `repo`, oldest first.
    pub async fn workflow_runs(&self, repo: &str) -> Vec<WorkflowRun> {
        self.shared
            .st()
            .runs
            .iter()
            .filter(|r| r.repo == repo)
            .cloned()
            .collect()
    }

    pub async fn pull_requests(&self, repo: &str) -> Vec<PullRequest> {
        self.shared
            .st()
            .pulls
            .iter()
            .filter(|p| p.repo == repo)
            .cloned()
            .collect()
    }

    /// Waits until `sha` has at least one workflow run and all of them are completed; returns
    /// the check runs (all attempts). Panics after `timeout`.
    pub async fn wait_for_ci(&self, repo: &str, sha: &str, timeout: Duration) -> Vec<CheckRun> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let done = {
                let st = self.shared.st();
                let runs: Vec<&WorkflowRun> = st
                    .runs
                    .iter()
                    .filter(|r| r.repo == repo && r.head_sha == sha)
                    .collect();
                !runs.is_empty() && runs.iter().all(|r| st.run_status(r).0 == "completed")
            };
            if done {
                return self.checks(repo, sha).await;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "CI for {repo}@{sha} not done within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Adds a commit status (as a non-Actions CI would); `state`: error|failure|pending|success.
    pub async fn add_status(&self, repo: &str, sha: &str, context: &str, state: &str) {
        let mut st = self.shared.st();
        let id = st.id();
        st.statuses.push(CommitStatus {
            id,
            repo: repo.into(),
            sha: sha.into(),
            context: context.into(),
            state: state.into(),
            description: Some(format!("{context} is {state}")),
            target_url: Some(format!("https://ci.example.com/{id}")),
            created_at: Utc::now(),
        });
    }

    /// From now on `remaining` calls succeed, then 403 until `reset_in` has passed.
    pub async fn set_rate_limit(&self, remaining: u64, reset_in: Duration) {
        let mut st = self.shared.st();
        st.rate.remaining = remaining;
        st.rate.reset = Utc::now().timestamp() + reset_in.as_secs().max(1) as i64;
    }

    /// The next `n` API calls answer a secondary-rate-limit 403 with `Retry-After: 1`.
    pub async fn secondary_limit(&self, n: u32) {
        self.shared.st().secondary = n;
    }

    /// Each API call answers 500 with this probability.
    pub async fn fail_randomly(&self, probability: f64) {
        self.shared.st().fail_probability = probability;
    }

    /// The next `n` API calls answer 500.
    pub async fn fail_next(&self, n: u32) {
        self.shared.st().fail_next = n;
    }

    /// Every API request (not git, not log downloads): method, path, status.
    pub async fn api_requests(&self) -> Vec<ApiRequest> {
        self.shared.st().api_requests.clone()
    }

    /// API requests without valid credentials: (method, path).
    pub async fn requests_without_auth(&self) -> Vec<(String, String)> {
        self.shared.st().without_auth.clone()
    }

    /// Sets (or clears) where `check_run`/`workflow_run` `completed` webhooks go.
    pub async fn set_webhook(&self, target: Option<(String, String)>) {
        self.shared.st().webhook = target;
    }

    /// Webhooks the fake delivered on its own.
    pub async fn deliveries(&self) -> Vec<Delivery> {
        self.shared.st().deliveries.clone()
    }

    /// Posts a webhook like GitHub: `X-GitHub-Event`, `X-GitHub-Delivery`,
    /// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`. Returns the HTTP status
    /// (`None` if the target was unreachable).
    pub async fn deliver(
        &self,
        target_url: &str,
        secret: &str,
        event: &str,
        payload: &Value,
    ) -> Option<u16> {
        deliver(&self.shared.http, target_url, secret, event, payload).await
    }

    /// The JSON GitHub would put in a `check_run` webhook / API answer.
    pub async fn check_run_json(&self, id: u64) -> Option<Value> {
        let st = self.shared.st();
        let job = st.jobs.iter().find(|j| j.id == id)?;
        Some(check_run_json(&self.shared.base, &st, job))
    }
}

/// The token inside a git `Authorization` value (basic with any user, or bearer/token).
fn git_token(value: &str) -> Option<String> {
    if let Some(b64) = value.strip_prefix("Basic ") {
        let raw = String::from_utf8(base64_decode(b64.trim())?).ok()?;
        return raw.split_once(':').map(|(_, t)| t.to_string());
    }
    api_token(value)
}

fn api_token(value: &str) -> Option<String> {
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .or_else(|| value.strip_prefix("token "))
        .map(|t| t.trim().to_string())
}

// ---------------------------------------------------------------------------------------------
// Simulated Actions
// ---------------------------------------------------------------------------------------------

struct CiConfig {
    /// (job name, script path, matrix value)
    jobs: Vec<(String, String, Option<String>)>,
    on_push: bool,
    on_pull_request: bool,
}

async fn git_out(dir: &Path, args: &[&str]) -> Option<String> {
    let out = tokio::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .await
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).to_string())
}

async fn ci_config(bare: &Path, sha: &str) -> Option<CiConfig> {
    let listing = git_out(bare, &["ls-tree", "--name-only", sha, ".fake-ci/jobs/"]).await?;
    let scripts: Vec<String> = listing
        .lines()
        .filter(|p| p.ends_with(".sh"))
        .map(str::to_string)
        .collect();
    if scripts.is_empty() {
        return None;
    }
    let matrix: HashMap<String, Vec<String>> =
        git_out(bare, &["show", &format!("{sha}:.fake-ci/matrix")])
            .await
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(job, values)| {
                (
                    job.trim().to_string(),
                    values.split_whitespace().map(str::to_string).collect(),
                )
            })
            .collect();
    let on = git_out(bare, &["show", &format!("{sha}:.fake-ci/on")]).await;
    let (on_push, on_pull_request) = match on {
        Some(words) => {
            let words: Vec<&str> = words
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .collect();
            (words.contains(&"push"), words.contains(&"pull_request"))
        }
        None => (true, false),
    };
    let mut jobs = Vec::new();
    for script in scripts {
        let name = script
            .trim_start_matches(".fake-ci/jobs/")
            .trim_end_matches(".sh")
            .to_string();
        match matrix.get(&name).filter(|v| !v.is_empty()) {
            Some(values) => {
                for v in values {
                    jobs.push((format!("{name} ({v})"), script.clone(), Some(v.clone())));
                }
            }
            None => jobs.push((name, script, None)),
        }
    }
    Some(CiConfig {
        jobs,
        on_push,
        on_pull_request,
    })
}

async fn commit_info(bare: &Path, sha: &str) -> CommitInfo {
    let out = git_out(
        bare,
        &[
            "show",
            "-s",
            "--format=%T%n%an%n%ae%n%cn%n%ce%n%cI%n%B",
            sha,
        ],
    )
    .await
    .unwrap_or_default();
    let mut lines = out.lines();
    let mut next = || lines.next().unwrap_or("").to_string();
    let tree = next();
    let author = (next(), next());
    let committer = (next(), next());
    let timestamp = DateTime::parse_from_rfc3339(&next())
        .map(|t| rfc3339(t.with_timezone(&Utc)))
        .unwrap_or_else(|_| rfc3339(Utc::now()));
    let message = out
        .lines()
        .skip(6)
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string();
    CommitInfo {
        tree,
        message,
        author,
        committer,
        timestamp,
    }
}

async fn on_push(shared: Arc<Shared>, repo: String, updates: Vec<RefUpdate>) {
    shared.st().repo_id(&repo);
    for update in updates {
        let Some(sha) = update.new else {
            continue;
        };
        // Every pushed SHA gets an empty suite of another app that stays queued forever.
        let commit = commit_info(&shared.bare(&repo), &sha).await;
        {
            let mut st = shared.st();
            if !st
                .suites
                .iter()
                .any(|s| s.repo == repo && s.head_sha == sha)
            {
                let id = st.id();
                st.suites.push(Suite {
                    id,
                    repo: repo.clone(),
                    head_sha: sha.clone(),
                    head_branch: Some(update.branch.clone()),
                    run_id: None,
                    created_at: Utc::now(),
                    commit,
                });
            }
            for pr in st.pulls.iter_mut() {
                if pr.repo == repo && pr.head_ref == update.branch {
                    pr.head_sha = sha.clone();
                    pr.updated_at = Utc::now();
                }
            }
        }
        let Some(config) = ci_config(&shared.bare(&repo), &sha).await else {
            continue;
        };
        if config.on_push {
            trigger(
                &shared,
                &repo,
                &sha,
                &update.branch,
                "push",
                vec![],
                &config,
            )
            .await;
        }
        if config.on_pull_request {
            let prs: Vec<u64> = shared
                .st()
                .pulls
                .iter()
                .filter(|p| p.repo == repo && p.head_ref == update.branch && p.state == "open")
                .map(|p| p.number)
                .collect();
            if !prs.is_empty() {
                trigger(
                    &shared,
                    &repo,
                    &sha,
                    &update.branch,
                    "pull_request",
                    prs,
                    &config,
                )
                .await;
            }
        }
    }
}

/// A PR was opened or reopened: runs `pull_request` workflows for its head.
async fn on_pull_request(shared: &Arc<Shared>, repo: &str, number: u64) {
    let Some((branch, sha)) = shared
        .st()
        .pulls
        .iter()
        .find(|p| p.repo == repo && p.number == number)
        .map(|p| (p.head_ref.clone(), p.head_sha.clone()))
    else {
        return;
    };
    if let Some(config) = ci_config(&shared.bare(repo), &sha).await {
        if config.on_pull_request {
            trigger(
                shared,
                repo,
                &sha,
                &branch,
                "pull_request",
                vec![number],
                &config,
            )
            .await;
        }
    }
}

async fn trigger(
    shared: &Arc<Shared>,
    repo: &str,
    sha: &str,
    branch: &str,
    event: &str,
    pull_numbers: Vec<u64>,
    config: &CiConfig,
) {
    let commit = commit_info(&shared.bare(repo), sha).await;
    let now = Utc::now();
    let job_ids = {
        let mut st = shared.st();
        st.repo_id(repo);
        let suite_id = st.id();
        let run_id = st.id();
        let run_number = {
            let n = st.run_numbers.entry(repo.to_string()).or_insert(0);
            *n += 1;
            *n
        };
        st.suites.push(Suite {
            id: suite_id,
            repo: repo.into(),
            head_sha: sha.into(),
            head_branch: Some(branch.into()),
            run_id: Some(run_id),
            created_at: now,
            commit: commit.clone(),
        });
        st.runs.push(WorkflowRun {
            id: run_id,
            repo: repo.into(),
            head_branch: branch.into(),
            head_sha: sha.into(),
            run_number,
            run_attempt: 1,
            event: event.into(),
            suite_id,
            created_at: now,
            updated_at: now,
            run_started_at: now,
            pull_numbers: pull_numbers.clone(),
            commit,
        });
        let mut ids = Vec::new();
        for (name, script, matrix) in &config.jobs {
            let id = st.id();
            st.jobs.push(CheckRun {
                id,
                run_id,
                run_attempt: 1,
                suite_id,
                repo: repo.into(),
                head_sha: sha.into(),
                head_branch: branch.into(),
                name: name.clone(),
                script: script.clone(),
                matrix: matrix.clone(),
                event: event.into(),
                status: "queued".into(),
                conclusion: None,
                created_at: now,
                started_at: now,
                completed_at: None,
                steps: Vec::new(),
                annotations: Vec::new(),
                log: None,
                pull_numbers: pull_numbers.clone(),
            });
            ids.push(id);
        }
        ids
    };
    for id in job_ids {
        let s = shared.clone();
        shared.spawn(async move { run_job(s, id).await });
    }
}

/// Re-runs the jobs of `run_id` selected by `pick` (on its latest jobs) as a new attempt.
fn rerun(
    shared: &Arc<Shared>,
    run_id: u64,
    pick: impl Fn(&CheckRun) -> bool,
) -> Result<(), String> {
    let now = Utc::now();
    let new_ids = {
        let mut st = shared.st();
        let Some(run) = st.runs.iter().find(|r| r.id == run_id).cloned() else {
            return Err("Not Found".into());
        };
        if st.run_status(&run).0 != "completed" {
            return Err("This workflow is already running".into());
        }
        let picked: Vec<CheckRun> = st
            .latest_jobs(run_id)
            .into_iter()
            .filter(|j| pick(j))
            .cloned()
            .collect();
        if picked.is_empty() {
            return Err("This workflow run has no jobs to re-run".into());
        }
        let attempt = run.run_attempt + 1;
        let mut ids = Vec::new();
        for old in picked {
            let id = st.id();
            st.jobs.push(CheckRun {
                id,
                run_attempt: attempt,
                status: "queued".into(),
                conclusion: None,
                created_at: now,
                started_at: now,
                completed_at: None,
                steps: Vec::new(),
                annotations: Vec::new(),
                log: None,
                ..old
            });
            ids.push(id);
        }
        if let Some(run) = st.runs.iter_mut().find(|r| r.id == run_id) {
            run.run_attempt = attempt;
            run.run_started_at = now;
            run.updated_at = now;
        }
        ids
    };
    for id in new_ids {
        let s = shared.clone();
        shared.spawn(async move { run_job(s, id).await });
    }
    Ok(())
}

/// GitHub's log timestamp: ISO-8601 UTC with 7 fractional digits.
pub fn log_timestamp(t: DateTime<Utc>) -> String {
    let frac = (t.timestamp_subsec_nanos() / 100).min(9_999_999);
    format!("{}.{frac:07}Z", t.format("%Y-%m-%dT%H:%M:%S"))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[derive(Default)]
struct Log {
    lines: Vec<String>,
}

impl Log {
    fn at(&mut self, t: DateTime<Utc>, text: &str) {
        for line in text.split('\n') {
            if self.lines.len() < MAX_LOG_LINES {
                self.lines.push(format!("{} {line}", log_timestamp(t)));
            }
        }
    }

    fn line(&mut self, text: &str) {
        self.at(Utc::now(), text);
    }

    fn finish(self) -> String {
        format!("\u{feff}{}\n", self.lines.join("\n"))
    }
}

fn step(number: u32, name: &str) -> Step {
    Step {
        name: name.into(),
        status: "pending".into(),
        conclusion: None,
        number,
        started_at: None,
        completed_at: None,
    }
}

/// Decodes a workflow-command data/property value (`%25`, `%0D`, `%0A`, `%3A`, `%2C`).
fn unescape(s: &str) -> String {
    s.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
}

/// `::cmd k=v,k=v::message` → (cmd, props, message).
fn workflow_command(line: &str) -> Option<(String, HashMap<String, String>, String)> {
    let rest = line.trim_start().strip_prefix("::")?;
    let (head, message) = rest.split_once("::")?;
    let (cmd, props) = head.split_once(' ').unwrap_or((head, ""));
    if cmd.is_empty() || !cmd.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return None;
    }
    let props = props
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), unescape(v.trim())))
        .collect();
    Some((cmd.to_string(), props, unescape(message)))
}

fn update_job(shared: &Shared, id: u64, f: impl FnOnce(&mut CheckRun)) {
    if let Some(job) = shared.st().jobs.iter_mut().find(|j| j.id == id) {
        f(job);
    }
}

async fn run_job(shared: Arc<Shared>, id: u64) {
    let Some(job) = shared.st().jobs.iter().find(|j| j.id == id).cloned() else {
        return;
    };
    tokio::time::sleep(shared.opts.queue_delay).await;
    let repo = job.repo.clone();
    let script = job.script.clone();
    let mut log = Log::default();
    let t0 = Utc::now();
    let names = [
        "Set up job".to_string(),
        "Run actions/checkout@v4".to_string(),
        format!("Run sh {script}"),
        "Post Run actions/checkout@v4".to_string(),
        "Complete job".to_string(),
    ];
    let mut steps: Vec<Step> = names
        .iter()
        .enumerate()
        .map(|(i, n)| step(i as u32 + 1, n))
        .collect();
    let set_step = |steps: &mut Vec<Step>, i: usize, status: &str, conclusion: Option<&str>| {
        let now = Utc::now();
        let s = &mut steps[i];
        if s.started_at.is_none() {
            s.started_at = Some(now);
        }
        s.status = status.into();
        if let Some(c) = conclusion {
            s.conclusion = Some(c.into());
            s.completed_at = Some(now);
        }
    };
    set_step(&mut steps, 0, "in_progress", None);
    {
        let steps = steps.clone();
        update_job(&shared, id, |j| {
            j.status = "in_progress".into();
            j.started_at = t0;
            j.steps = steps;
        });
    }
    log.line("Current runner version: '2.321.0'");
    log.line("##[group]Runner Image");
    log.line("Image: ubuntu-24.04");
    log.line("Version: 20250105.1.0");
    log.line("##[endgroup]");
    log.line("##[group]GITHUB_TOKEN Permissions");
    log.line("Contents: read");
    log.line("Metadata: read");
    log.line("##[endgroup]");
    log.line("Secret source: Actions");
    log.line("Prepare workflow directory");
    log.line("Prepare all required actions");
    log.line("Getting action download info");
    log.line("Download action repository 'actions/checkout@v4' (SHA:11bd71901bbe5b1630ceea73d27597364c9af683)");
    log.line(&format!("Complete job name: {}", job.name));
    set_step(&mut steps, 0, "completed", Some("success"));
    set_step(&mut steps, 1, "in_progress", None);
    // Checkout.
    log.line("##[group]Run actions/checkout@v4");
    log.line("with:");
    log.line(&format!("  repository: {repo}"));
    log.line("  token: ***");
    log.line("##[endgroup]");
    log.line(&format!("Syncing repository: {repo}"));
    log.line(&format!(
        "[command]/usr/bin/git checkout --progress --force {}",
        job.head_sha
    ));
    let dir = tempfile::tempdir().expect("checkout dir");
    let checkout = tokio::process::Command::new("sh")
        .arg("-c")
        .arg("git --git-dir=\"$1\" archive --format=tar \"$2\" | tar -x -C \"$3\"")
        .arg("checkout")
        .arg(shared.bare(&repo))
        .arg(&job.head_sha)
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success());
    log.line(&format!(
        "HEAD is now at {}",
        &job.head_sha[..7.min(job.head_sha.len())]
    ));
    set_step(
        &mut steps,
        1,
        "completed",
        Some(if checkout { "success" } else { "failure" }),
    );
    set_step(&mut steps, 2, "in_progress", None);
    {
        let steps = steps.clone();
        update_job(&shared, id, |j| j.steps = steps);
    }
    // The script.
    log.line(&format!("##[group]Run sh {script}"));
    log.line(&format!("\u{1b}[36;1msh {script}\u{1b}[0m"));
    log.line("shell: /usr/bin/bash -e {0}");
    if let Some(m) = &job.matrix {
        log.line("env:");
        log.line(&format!("  FAKE_CI_MATRIX: {m}"));
    }
    log.line("##[endgroup]");
    let mut annotations: Vec<Annotation> = Vec::new();
    let (conclusion, exit) = if checkout {
        run_script(&shared, &job, dir.path(), &mut log, &mut annotations).await
    } else {
        log.line("##[error]The checkout failed.");
        ("failure", Some(1))
    };
    match exit {
        Some(0) => {}
        Some(code) => {
            log.line(&format!(
                "##[error]Process completed with exit code {code}."
            ));
            annotations.push(Annotation {
                path: ".github".into(),
                start_line: 1,
                end_line: 1,
                start_column: None,
                end_column: None,
                level: "failure".into(),
                title: String::new(),
                message: format!("Process completed with exit code {code}."),
            });
        }
        None => {
            let minutes = shared.opts.job_timeout.as_secs().div_ceil(60);
            let message = format!(
                "The job running on runner GitHub Actions 2 has exceeded the maximum execution time of {minutes} minutes."
            );
            log.line(&format!("##[error]{message}"));
            log.line("##[error]The operation was canceled.");
            annotations.push(Annotation {
                path: ".github".into(),
                start_line: 1,
                end_line: 1,
                start_column: None,
                end_column: None,
                level: "failure".into(),
                title: String::new(),
                message,
            });
        }
    }
    let step_conclusion = match conclusion {
        "timed_out" => "cancelled",
        c => c,
    };
    set_step(&mut steps, 2, "completed", Some(step_conclusion));
    set_step(&mut steps, 3, "in_progress", None);
    log.line("Post job cleanup.");
    log.line("[command]/usr/bin/git version");
    log.line("git version 2.47.1");
    set_step(&mut steps, 3, "completed", Some("success"));
    set_step(&mut steps, 4, "in_progress", None);
    log.line("Cleaning up orphan processes");
    set_step(&mut steps, 4, "completed", Some("success"));
    drop(dir);
    let log = log.finish();
    let now = Utc::now();
    let webhooks = {
        let mut st = shared.st();
        let Some(job) = st.jobs.iter_mut().find(|j| j.id == id) else {
            return;
        };
        job.status = "completed".into();
        job.conclusion = Some(conclusion.into());
        job.completed_at = Some(now);
        job.steps = steps;
        job.annotations = annotations;
        job.log = Some(log);
        let run_id = job.run_id;
        let mut hooks = Vec::new();
        if let Some((url, secret)) = st.webhook.clone() {
            let job = st.jobs.iter().find(|j| j.id == id).expect("job");
            let repo_json = repo_json(&shared.base, &st, &job.repo);
            hooks.push((
                url.clone(),
                secret.clone(),
                "check_run",
                json!({
                    "action": "completed",
                    "check_run": check_run_json(&shared.base, &st, job),
                    "repository": repo_json,
                    "sender": user_json(&shared.base, "github-actions[bot]", BOT_ID, "Bot"),
                }),
            ));
            if let Some(run) = st.runs.iter().find(|r| r.id == run_id) {
                if st.run_status(run).0 == "completed" {
                    hooks.push((
                        url,
                        secret,
                        "workflow_run",
                        json!({
                            "action": "completed",
                            "workflow_run": run_json(&shared.base, &st, run),
                            "workflow": workflow_json(&shared.base, &st, &run.repo),
                            "repository": repo_json,
                            "sender": user_json(&shared.base, "github-actions[bot]", BOT_ID, "Bot"),
                        }),
                    ));
                }
            }
        }
        if let Some(run) = st.runs.iter_mut().find(|r| r.id == run_id) {
            run.updated_at = now;
        }
        hooks
    };
    for (url, secret, event, payload) in webhooks {
        let status = deliver(&shared.http, &url, &secret, event, &payload).await;
        shared.st().deliveries.push(Delivery {
            event: event.into(),
            action: "completed".into(),
            status,
        });
    }
}

/// Runs the job's script; returns (conclusion, exit code or `None` on timeout).
async fn run_script(
    shared: &Shared,
    job: &CheckRun,
    dir: &Path,
    log: &mut Log,
    annotations: &mut Vec<Annotation>,
) -> (&'static str, Option<i32>) {
    let home = dir.join(".home");
    let _ = std::fs::create_dir_all(&home);
    // GNU `timeout` runs the script in its own process group and kills that whole group at the
    // cap (exit 124); the tokio timeout below is only a backstop.
    let cap = shared.opts.job_timeout;
    let mut cmd = tokio::process::Command::new("timeout");
    cmd.args(["--signal=TERM", "--kill-after=2"])
        .arg(format!("{:.3}s", cap.as_secs_f64()))
        .args(["sh", "-c", "exec sh \"$0\" 2>&1"])
        .arg(&job.script)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("CI", "true")
        .env("GITHUB_ACTIONS", "true")
        .env("RUNNER_OS", "Linux")
        .env("FAKE_CI_ATTEMPT", job.run_attempt.to_string())
        .env("FAKE_CI_MATRIX", job.matrix.clone().unwrap_or_default())
        .env("GITHUB_SHA", &job.head_sha)
        .env("GITHUB_REF_NAME", &job.head_branch)
        .env("GITHUB_EVENT_NAME", &job.event)
        .env("GITHUB_REPOSITORY", &job.repo)
        .env("GITHUB_RUN_ID", job.run_id.to_string())
        .env("GITHUB_RUN_ATTEMPT", job.run_attempt.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let Ok(mut child) = cmd.spawn() else {
        log.line("##[error]Could not start sh");
        return ("failure", Some(127));
    };
    let started = std::time::Instant::now();
    let Some(stdout) = child.stdout.take() else {
        return ("failure", Some(1));
    };
    let mut reader = tokio::io::BufReader::new(stdout);
    let mut counts: HashMap<String, usize> = HashMap::new();
    let result = tokio::time::timeout(cap + Duration::from_secs(10), async {
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let now = Utc::now();
            let text = String::from_utf8_lossy(&buf);
            let text = text.trim_end_matches(['\n', '\r']);
            match workflow_command(text) {
                Some((cmd, props, message)) => match cmd.as_str() {
                    "error" | "warning" | "notice" => {
                        log.at(now, &format!("##[{cmd}]{message}"));
                        let level = if cmd == "error" {
                            "failure"
                        } else {
                            cmd.as_str()
                        };
                        let count = counts.entry(cmd.clone()).or_insert(0);
                        *count += 1;
                        if *count <= 10 && annotations.len() < 50 {
                            let num = |k: &str| props.get(k).and_then(|v| v.parse::<u64>().ok());
                            let start_line = num("line").unwrap_or(1);
                            annotations.push(Annotation {
                                path: props
                                    .get("file")
                                    .cloned()
                                    .unwrap_or_else(|| ".github".into()),
                                start_line,
                                end_line: num("endLine").unwrap_or(start_line),
                                start_column: num("col"),
                                end_column: num("endColumn").or(num("col")),
                                level: level.into(),
                                title: props.get("title").cloned().unwrap_or_default(),
                                message,
                            });
                        }
                    }
                    "group" => log.at(now, &format!("##[group]{message}")),
                    "endgroup" => log.at(now, "##[endgroup]"),
                    "debug" | "add-mask" | "set-output" | "save-state" | "add-matcher"
                    | "remove-matcher" | "stop-commands" | "echo" => {}
                    _ => log.at(now, text),
                },
                None => log.at(now, text),
            }
        }
        child.wait().await
    })
    .await;
    match result {
        Ok(Ok(status)) => {
            let code = status.code().unwrap_or(1);
            if matches!(code, 124 | 137) && started.elapsed() >= cap {
                ("timed_out", None)
            } else {
                (if code == 0 { "success" } else { "failure" }, Some(code))
            }
        }
        Ok(Err(_)) => ("failure", Some(1)),
        Err(_) => {
            let _ = child.kill().await;
            ("timed_out", None)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------------

async fn deliver(
    http: &reqwest::Client,
    url: &str,
    secret: &str,
    event: &str,
    payload: &Value,
) -> Option<u16> {
    let body = serde_json::to_vec(payload).expect("json");
    let signature = format!("sha256={}", hex(&hmac_sha256(secret.as_bytes(), &body)));
    http.post(url)
        .header("content-type", "application/json")
        .header("user-agent", "GitHub-Hookshot/fake")
        .header("x-github-event", event)
        .header("x-github-delivery", uuid::Uuid::now_v7().to_string())
        .header("x-github-hook-id", "1")
        .header("x-hub-signature-256", signature)
        .body(body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

// ---------------------------------------------------------------------------------------------
// JSON payloads
// ---------------------------------------------------------------------------------------------

fn user_json(base: &str, login: &str, id: u64, kind: &str) -> Value {
    json!({
        "login": login,
        "id": id,
        "node_id": format!("MDQ6VXNlcj{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": format!("{base}/users/{login}"),
        "html_url": format!("{base}/{login}"),
        "followers_url": format!("{base}/users/{login}/followers"),
        "following_url": format!("{base}/users/{login}/following{{/other_user}}"),
        "gists_url": format!("{base}/users/{login}/gists{{/gist_id}}"),
        "starred_url": format!("{base}/users/{login}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{base}/users/{login}/subscriptions"),
        "organizations_url": format!("{base}/users/{login}/orgs"),
        "repos_url": format!("{base}/users/{login}/repos"),
        "events_url": format!("{base}/users/{login}/events{{/privacy}}"),
        "received_events_url": format!("{base}/users/{login}/received_events"),
        "type": kind,
        "user_view_type": "public",
        "site_admin": false,
    })
}

fn owner_id(owner: &str) -> u64 {
    1_000_000
        + owner
            .bytes()
            .fold(0u64, |h, b| (h * 31 + b as u64) % 9_000_000)
}

fn repo_json(base: &str, st: &State, repo: &str) -> Value {
    let (owner, name) = repo.split_once('/').unwrap_or((repo, ""));
    let id = st.repos.get(repo).copied().unwrap_or(0);
    let api = format!("{base}/repos/{repo}");
    json!({
        "id": id,
        "node_id": format!("R_kgDOFake{id}"),
        "name": name,
        "full_name": repo,
        "private": false,
        "owner": user_json(base, owner, owner_id(owner), "User"),
        "html_url": format!("{base}/{repo}"),
        "description": null,
        "fork": false,
        "url": api,
        "pulls_url": format!("{api}/pulls{{/number}}"),
        "git_url": format!("git://127.0.0.1/{repo}.git"),
        "clone_url": format!("{base}/{repo}.git"),
        "default_branch": "main",
        "visibility": "public",
        "archived": false,
        "disabled": false,
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "pushed_at": rfc3339(Utc::now()),
    })
}

fn check_run_json(base: &str, st: &State, job: &CheckRun) -> Value {
    let repo = &job.repo;
    let html = format!("{base}/{repo}/actions/runs/{}/job/{}", job.run_id, job.id);
    let url = format!("{base}/repos/{repo}/check-runs/{}", job.id);
    let pulls: Vec<Value> = job
        .pull_numbers
        .iter()
        .filter_map(|n| st.pulls.iter().find(|p| p.repo == *repo && p.number == *n))
        .map(|p| {
            json!({
                "url": format!("{base}/repos/{repo}/pulls/{}", p.number),
                "id": p.id,
                "number": p.number,
                "head": {"ref": p.head_ref, "sha": p.head_sha, "repo": {"id": st.repos.get(repo), "url": format!("{base}/repos/{repo}"), "name": repo.split_once('/').map(|x| x.1)}},
                "base": {"ref": p.base_ref, "sha": "", "repo": {"id": st.repos.get(repo), "url": format!("{base}/repos/{repo}"), "name": repo.split_once('/').map(|x| x.1)}},
            })
        })
        .collect();
    json!({
        "id": job.id,
        "node_id": format!("CR_kwDOFake{}", job.id),
        "head_sha": job.head_sha,
        "external_id": "",
        "url": url,
        "html_url": html,
        "details_url": html,
        "status": job.status,
        "conclusion": job.conclusion,
        "started_at": rfc3339(job.started_at),
        "completed_at": job.completed_at.map(rfc3339),
        "output": {
            "title": null,
            "summary": null,
            "text": null,
            "annotations_count": job.annotations.len(),
            "annotations_url": format!("{url}/annotations"),
        },
        "name": job.name,
        "check_suite": {"id": job.suite_id},
        "app": actions_app_json(base),
        "pull_requests": pulls,
    })
}

fn actions_app_json(base: &str) -> Value {
    json!({
        "id": ACTIONS_APP_ID,
        "slug": "github-actions",
        "node_id": "MDM6QXBwMTUzNjg=",
        "client_id": "Iv1.05c79e9ad1f6bdfa",
        "owner": user_json(base, "github", 9919, "Organization"),
        "name": "GitHub Actions",
        "description": "Automate your workflow from idea to production",
        "external_url": "https://help.github.com/en/actions",
        "html_url": "https://github.com/apps/github-actions",
        "created_at": "2018-07-30T09:30:17Z",
        "updated_at": "2024-04-10T20:33:16Z",
        "permissions": {"actions": "write", "checks": "write", "contents": "write", "metadata": "read", "pull_requests": "write", "statuses": "write"},
        "events": ["check_run", "check_suite", "pull_request", "push", "workflow_run"],
    })
}

fn annotation_json(base: &str, job: &CheckRun, a: &Annotation) -> Value {
    json!({
        "path": a.path,
        "blob_href": format!("{base}/{}/blob/{}/{}", job.repo, job.head_sha, a.path),
        "start_line": a.start_line,
        "end_line": a.end_line,
        "start_column": a.start_column,
        "end_column": a.end_column,
        "annotation_level": a.level,
        "title": a.title,
        "message": a.message,
        "raw_details": "",
    })
}

fn suite_json(base: &str, st: &State, suite: &Suite) -> Value {
    let run = suite
        .run_id
        .and_then(|id| st.runs.iter().find(|r| r.id == id));
    let (status, conclusion, count, app) = match run {
        Some(run) => {
            let (status, conclusion) = st.run_status(run);
            (
                status.to_string(),
                conclusion,
                st.latest_jobs(run.id).len(),
                actions_app_json(base),
            )
        }
        None => (
            "queued".to_string(),
            None,
            0,
            json!({
                "id": EMPTY_SUITE_APP.0,
                "slug": EMPTY_SUITE_APP.1,
                "node_id": "MDM6QXBwMjkxMTA=",
                "owner": user_json(base, "github", 9919, "Organization"),
                "name": EMPTY_SUITE_APP.2,
                "description": "",
                "external_url": "https://dependabot.com",
                "html_url": "https://github.com/apps/dependabot",
                "created_at": "2019-04-16T22:34:25Z",
                "updated_at": "2024-04-10T20:30:34Z",
                "permissions": {"checks": "write", "contents": "write", "metadata": "read", "pull_requests": "write"},
                "events": ["check_suite", "pull_request"],
            }),
        ),
    };
    let url = format!("{base}/repos/{}/check-suites/{}", suite.repo, suite.id);
    json!({
        "id": suite.id,
        "node_id": format!("CS_kwDOFake{}", suite.id),
        "head_branch": suite.head_branch,
        "head_sha": suite.head_sha,
        "status": status,
        "conclusion": conclusion,
        "url": url,
        "before": null,
        "after": suite.head_sha,
        "pull_requests": [],
        "app": app,
        "created_at": rfc3339(suite.created_at),
        "updated_at": rfc3339(run.map(|r| r.updated_at).unwrap_or(suite.created_at)),
        "rerequestable": true,
        "runs_rerequestable": false,
        "latest_check_runs_count": count,
        "check_runs_url": format!("{url}/check-runs"),
        "head_commit": head_commit_json(&suite.head_sha, &suite.commit),
        "repository": repo_json(base, st, &suite.repo),
    })
}

fn workflow_id(st: &State, repo: &str) -> u64 {
    st.repos.get(repo).copied().unwrap_or(0) * 3 + 7
}

fn workflow_json(base: &str, st: &State, repo: &str) -> Value {
    let id = workflow_id(st, repo);
    json!({
        "id": id,
        "node_id": format!("W_kwDOFake{id}"),
        "name": "CI",
        "path": ".github/workflows/ci.yml",
        "state": "active",
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "url": format!("{base}/repos/{repo}/actions/workflows/{id}"),
        "html_url": format!("{base}/{repo}/blob/main/.github/workflows/ci.yml"),
        "badge_url": format!("{base}/{repo}/workflows/CI/badge.svg"),
    })
}

fn run_json(base: &str, st: &State, run: &WorkflowRun) -> Value {
    let repo = &run.repo;
    let api = format!("{base}/repos/{repo}/actions/runs/{}", run.id);
    let (status, conclusion) = st.run_status(run);
    let wid = workflow_id(st, repo);
    let c = &run.commit;
    let actor = user_json(base, "fake-user", USER_ID, "User");
    json!({
        "id": run.id,
        "name": "CI",
        "node_id": format!("WFR_kwLOFake{}", run.id),
        "head_branch": run.head_branch,
        "head_sha": run.head_sha,
        "path": ".github/workflows/ci.yml",
        "display_title": c.message.lines().next().unwrap_or(""),
        "run_number": run.run_number,
        "run_attempt": run.run_attempt,
        "event": run.event,
        "status": status,
        "conclusion": conclusion,
        "workflow_id": wid,
        "check_suite_id": run.suite_id,
        "check_suite_node_id": format!("CS_kwDOFake{}", run.suite_id),
        "url": api,
        "html_url": format!("{base}/{repo}/actions/runs/{}", run.id),
        "pull_requests": run.pull_numbers.iter().filter_map(|n| st.pulls.iter().find(|p| p.repo == *repo && p.number == *n)).map(|p| json!({"url": format!("{base}/repos/{repo}/pulls/{}", p.number), "id": p.id, "number": p.number, "head": {"ref": p.head_ref, "sha": p.head_sha}, "base": {"ref": p.base_ref, "sha": ""}})).collect::<Vec<_>>(),
        "created_at": rfc3339(run.created_at),
        "updated_at": rfc3339(run.updated_at),
        "actor": actor,
        "triggering_actor": actor,
        "run_started_at": rfc3339(run.run_started_at),
        "jobs_url": format!("{api}/jobs"),
        "logs_url": format!("{api}/logs"),
        "check_suite_url": format!("{base}/repos/{repo}/check-suites/{}", run.suite_id),
        "artifacts_url": format!("{api}/artifacts"),
        "cancel_url": format!("{api}/cancel"),
        "rerun_url": format!("{api}/rerun"),
        "previous_attempt_url": (run.run_attempt > 1).then(|| format!("{api}/attempts/{}", run.run_attempt - 1)),
        "workflow_url": format!("{base}/repos/{repo}/actions/workflows/{wid}"),
        "head_commit": head_commit_json(&run.head_sha, c),
        "repository": repo_json(base, st, repo),
        "head_repository": repo_json(base, st, repo),
    })
}

fn head_commit_json(sha: &str, c: &CommitInfo) -> Value {
    json!({
        "id": sha,
        "tree_id": c.tree,
        "message": c.message,
        "timestamp": c.timestamp,
        "author": {"name": c.author.0, "email": c.author.1},
        "committer": {"name": c.committer.0, "email": c.committer.1},
    })
}

fn job_json(base: &str, st: &State, job: &CheckRun) -> Value {
    let repo = &job.repo;
    json!({
        "id": job.id,
        "run_id": job.run_id,
        "workflow_name": "CI",
        "head_branch": job.head_branch,
        "run_url": format!("{base}/repos/{repo}/actions/runs/{}", job.run_id),
        "run_attempt": job.run_attempt,
        "node_id": format!("CR_kwDOFake{}", job.id),
        "head_sha": job.head_sha,
        "url": format!("{base}/repos/{repo}/actions/jobs/{}", job.id),
        "html_url": format!("{base}/{repo}/actions/runs/{}/job/{}", job.run_id, job.id),
        "status": job.status,
        "conclusion": job.conclusion,
        "created_at": rfc3339(job.created_at),
        "started_at": rfc3339(job.started_at),
        "completed_at": job.completed_at.map(rfc3339),
        "name": job.name,
        "steps": job.steps.iter().map(|s| json!({
            "name": s.name,
            "status": s.status,
            "conclusion": s.conclusion,
            "number": s.number,
            "started_at": s.started_at.map(rfc3339),
            "completed_at": s.completed_at.map(rfc3339),
        })).collect::<Vec<_>>(),
        "check_run_url": format!("{base}/repos/{repo}/check-runs/{}", job.id),
        "labels": ["ubuntu-latest"],
        "runner_id": (job.status != "queued").then_some(1),
        "runner_name": (job.status != "queued").then_some("GitHub Actions 2"),
        "runner_group_id": (job.status != "queued").then_some(2),
        "runner_group_name": (job.status != "queued").then_some("GitHub Actions"),
        "_check_suite_id": st.runs.iter().find(|r| r.id == job.run_id).map(|r| r.suite_id),
    })
}

fn status_json(base: &str, s: &CommitStatus) -> Value {
    json!({
        "url": format!("{base}/repos/{}/statuses/{}", s.repo, s.sha),
        "avatar_url": null,
        "id": s.id,
        "node_id": format!("SC_kwDOFake{}", s.id),
        "state": s.state,
        "description": s.description,
        "target_url": s.target_url,
        "context": s.context,
        "created_at": rfc3339(s.created_at),
        "updated_at": rfc3339(s.created_at),
    })
}

fn pull_json(base: &str, st: &State, p: &PullRequest, base_sha: &str) -> Value {
    let repo = &p.repo;
    let owner = repo.split_once('/').map(|x| x.0).unwrap_or(repo);
    let api = format!("{base}/repos/{repo}/pulls/{}", p.number);
    let repo_j = repo_json(base, st, repo);
    let user = if p.user.ends_with("[bot]") {
        user_json(base, &p.user, BOT_ID + 1, "Bot")
    } else {
        user_json(base, &p.user, USER_ID, "User")
    };
    let owner_j = user_json(base, owner, owner_id(owner), "User");
    json!({
        "id": p.id,
        "node_id": p.node_id(),
        "number": p.number,
        "url": api,
        "html_url": format!("{base}/{repo}/pull/{}", p.number),
        "diff_url": format!("{base}/{repo}/pull/{}.diff", p.number),
        "patch_url": format!("{base}/{repo}/pull/{}.patch", p.number),
        "issue_url": format!("{base}/repos/{repo}/issues/{}", p.number),
        "commits_url": format!("{api}/commits"),
        "review_comments_url": format!("{api}/comments"),
        "comments_url": format!("{base}/repos/{repo}/issues/{}/comments", p.number),
        "statuses_url": format!("{base}/repos/{repo}/statuses/{}", p.head_sha),
        "state": p.state,
        "locked": false,
        "draft": p.draft,
        "title": p.title,
        "body": p.body,
        "user": user,
        "labels": [],
        "assignees": [],
        "requested_reviewers": [],
        "head": {"label": format!("{owner}:{}", p.head_ref), "ref": p.head_ref, "sha": p.head_sha, "user": owner_j, "repo": repo_j},
        "base": {"label": format!("{owner}:{}", p.base_ref), "ref": p.base_ref, "sha": base_sha, "user": owner_j, "repo": repo_j},
        "author_association": "OWNER",
        "created_at": rfc3339(p.created_at),
        "updated_at": rfc3339(p.updated_at),
        "closed_at": p.closed_at.map(rfc3339),
        "merged_at": null,
        "merge_commit_sha": null,
        "merged": false,
        "mergeable": null,
        "mergeable_state": "unknown",
    })
}

// ---------------------------------------------------------------------------------------------
// HTTP: the API
// ---------------------------------------------------------------------------------------------

struct Reply {
    status: StatusCode,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn json(status: StatusCode, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }
    fn ok(body: Value) -> Reply {
        Reply::json(StatusCode::OK, body)
    }
    fn message(status: StatusCode, message: &str) -> Reply {
        Reply::json(
            status,
            json!({"message": message, "documentation_url": DOCS, "status": status.as_u16().to_string()}),
        )
    }
    fn not_found() -> Reply {
        Reply::message(StatusCode::NOT_FOUND, "Not Found")
    }
    fn header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }
}

enum Identity {
    Token(String),
    App,
}

struct Ctx<'a> {
    base: &'a str,
    path: &'a str,
    query: &'a HashMap<String, String>,
}

impl Ctx<'_> {
    fn q(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str)
    }

    /// One page of `items` plus GitHub's `Link` header.
    fn page<T: Clone>(&self, items: &[T]) -> (Vec<T>, Option<String>) {
        let per_page = self
            .q("per_page")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(30)
            .clamp(1, 100);
        let page = self
            .q("page")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        let last = items.len().div_ceil(per_page).max(1);
        let slice = items
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .cloned()
            .collect();
        let url = |n: usize| {
            let mut q: Vec<(String, String)> = self
                .query
                .iter()
                .filter(|(k, _)| *k != "page")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            q.sort();
            q.push(("page".into(), n.to_string()));
            format!(
                "<{}{}?{}>",
                self.base,
                self.path,
                serde_urlencoded::to_string(&q).unwrap_or_default()
            )
        };
        let mut links = Vec::new();
        if page > 1 {
            links.push(format!("{}; rel=\"prev\"", url(page - 1)));
        }
        if page < last {
            links.push(format!("{}; rel=\"next\"", url(page + 1)));
            links.push(format!("{}; rel=\"last\"", url(last)));
        }
        if page > 1 {
            links.push(format!("{}; rel=\"first\"", url(1)));
        }
        (slice, (!links.is_empty()).then(|| links.join(", ")))
    }
}

fn paged(reply_body: impl FnOnce(Vec<Value>) -> Value, ctx: &Ctx, items: &[Value]) -> Reply {
    let (slice, link) = ctx.page(items);
    let mut reply = Reply::ok(reply_body(slice));
    if let Some(link) = link {
        reply = reply.header("link", link);
    }
    reply
}

fn is_app_route(method: &Method, segs: &[&str]) -> bool {
    matches!(
        (method, segs),
        (&Method::GET, ["repos", _, _, "installation"])
            | (&Method::GET, ["app"])
            | (&Method::GET, ["app", "installations"])
            | (&Method::POST, ["app", "installations", _, "access_tokens"])
    )
}

/// Accepts any 3-part JWT whose payload has `iss` = the app id and a future `exp`.
fn check_jwt(app: &FakeApp, token: &str) -> Result<(), &'static str> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err("A JSON web token could not be decoded");
    }
    let payload = base64_decode(parts[1])
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .ok_or("A JSON web token could not be decoded")?;
    let iss = match &payload["iss"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    if iss != Some(app.app_id) {
        return Err("Integration not found");
    }
    let now = Utc::now().timestamp();
    let exp = payload["exp"].as_i64().ok_or("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")?;
    if exp <= now {
        return Err("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires");
    }
    if exp > now + 660 {
        return Err("'Expiration time' claim ('exp') is too far in the future");
    }
    Ok(())
}

async fn api(shared: Arc<Shared>, req: Request) -> Response {
    let method = req.method().clone();
    let full_path = req.uri().path().to_string();
    let path = full_path
        .strip_prefix("/api/v3")
        .unwrap_or(&full_path)
        .to_string();
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(req.uri().query().unwrap_or("")).unwrap_or_default();
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), 16 << 20)
        .await
        .unwrap_or_default();
    let decoded: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let segs: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let authz = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(api_token);

    // Authentication.
    let identity = if is_app_route(&method, &segs) {
        match (&shared.opts.app, authz.as_deref()) {
            (Some(app), Some(t)) => check_jwt(app, t).map(|()| Identity::App),
            _ => Err("A JSON web token could not be decoded"),
        }
    } else {
        match authz {
            Some(t) if shared.token_valid(&t) => Ok(Identity::Token(t)),
            _ => Err("Bad credentials"),
        }
    };
    let identity = match identity {
        Ok(i) => i,
        Err(message) => {
            shared
                .st()
                .without_auth
                .push((method.to_string(), path.clone()));
            let reply = Reply::message(StatusCode::UNAUTHORIZED, message);
            return finish(&shared, &method, &path, reply, false);
        }
    };

    // Injected failures and limits.
    {
        let mut st = shared.st();
        let random_fail = st.fail_probability > 0.0
            && (st.random() % 1_000_000) as f64 / 1_000_000.0 < st.fail_probability;
        if st.fail_next > 0 || random_fail {
            st.fail_next = st.fail_next.saturating_sub(1);
            drop(st);
            let reply = Reply::json(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"message": "Server Error"}),
            );
            return finish(&shared, &method, &path, reply, false);
        }
        if st.secondary > 0 {
            st.secondary -= 1;
            drop(st);
            let reply = Reply::json(
                StatusCode::FORBIDDEN,
                json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:FAKE:0000000:0000000:00000000.", "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}),
            )
            .header("retry-after", "1".into());
            return finish(&shared, &method, &path, reply, false);
        }
        st.refresh_rate();
        if st.rate.remaining == 0 {
            drop(st);
            let who = match &identity {
                Identity::Token(t) if shared.is_install_token(t) => format!(
                    "installation ID {}",
                    shared.opts.app.as_ref().map_or(0, |a| a.installation_id)
                ),
                _ => format!("user ID {USER_ID}"),
            };
            let reply = Reply::json(
                StatusCode::FORBIDDEN,
                json!({"message": format!("API rate limit exceeded for {who}."), "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}),
            );
            return finish(&shared, &method, &path, reply, false);
        }
    }

    let ctx = Ctx {
        base: &shared.base,
        path: &full_path,
        query: &query,
    };
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let reply = route(&shared, &method, &segs, &ctx, &json_body, &identity).await;

    // Conditional requests: ETag (per token, like GitHub) and 304.
    if method == Method::GET && reply.status == StatusCode::OK {
        if let Some(body) = &reply.body {
            let token = match &identity {
                Identity::Token(t) => t.as_str(),
                Identity::App => "app",
            };
            let mut data = serde_json::to_vec(body).unwrap_or_default();
            data.extend_from_slice(token.as_bytes());
            let etag = format!("W/\"{}\"", &hex(&sha256(&data))[..40]);
            let matches = headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| {
                    v.split(',')
                        .any(|e| e.trim().trim_start_matches("W/") == etag.trim_start_matches("W/"))
                });
            if matches {
                let reply = Reply {
                    status: StatusCode::NOT_MODIFIED,
                    body: None,
                    headers: vec![("etag", etag)],
                };
                return finish(&shared, &method, &path, reply, false);
            }
            let reply = reply.header("etag", etag);
            return finish(&shared, &method, &path, reply, true);
        }
    }
    finish(&shared, &method, &path, reply, true)
}

/// Adds rate-limit headers (spending one request if `count`), records the request, builds it.
fn finish(shared: &Shared, method: &Method, path: &str, reply: Reply, count: bool) -> Response {
    let (limit, remaining, reset) = {
        let mut st = shared.st();
        st.refresh_rate();
        if count {
            st.rate.remaining = st.rate.remaining.saturating_sub(1);
        }
        st.api_requests.push(ApiRequest {
            method: method.to_string(),
            path: path.to_string(),
            status: reply.status.as_u16(),
        });
        (st.rate.limit, st.rate.remaining, st.rate.reset)
    };
    let mut builder = Response::builder()
        .status(reply.status)
        .header("x-ratelimit-limit", limit.to_string())
        .header("x-ratelimit-remaining", remaining.to_string())
        .header("x-ratelimit-reset", reset.to_string())
        .header("x-ratelimit-used", (limit - remaining).to_string())
        .header("x-ratelimit-resource", "core")
        .header("x-github-api-version-selected", "2022-11-28")
        .header("x-github-media-type", "github.v3; format=json")
        .header(
            "x-github-request-id",
            format!("FAKE:{:X}", uuid::Uuid::now_v7().as_u128() as u32),
        );
    for (name, value) in &reply.headers {
        builder = builder.header(*name, value);
    }
    let body = match reply.body {
        Some(v) => {
            builder = builder.header(header::CONTENT_TYPE, "application/json; charset=utf-8");
            Body::from(serde_json::to_vec(&v).unwrap_or_default())
        }
        None => Body::empty(),
    };
    builder.body(body).expect("response")
}

/// Signs `job_id` + expiry for the log download URL.
fn log_signature(shared: &Shared, job_id: &str, exp: i64) -> String {
    hex(&hmac_sha256(
        shared.secret.as_bytes(),
        format!("{job_id}:{exp}").as_bytes(),
    ))
}

fn serve_log(shared: &Shared, job_id: &str, query: &str) -> Response {
    let q: HashMap<String, String> = serde_urlencoded::from_str(query).unwrap_or_default();
    let exp: i64 = q.get("exp").and_then(|e| e.parse().ok()).unwrap_or(0);
    let sig_ok = q
        .get("sig")
        .is_some_and(|s| *s == log_signature(shared, job_id, exp));
    let plain = |status: StatusCode, body: String, ctype: &str| {
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, ctype)
            .body(Body::from(body))
            .expect("response")
    };
    if !sig_ok || exp < Utc::now().timestamp() {
        return plain(
            StatusCode::FORBIDDEN,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request.</Message></Error>".into(),
            "application/xml",
        );
    }
    let log = job_id.parse::<u64>().ok().and_then(|id| {
        shared
            .st()
            .jobs
            .iter()
            .find(|j| j.id == id)
            .and_then(|j| j.log.clone())
    });
    match log {
        Some(log) => plain(StatusCode::OK, log, "text/plain; charset=utf-8"),
        None => plain(
            StatusCode::NOT_FOUND,
            json!({"message": "Not Found", "documentation_url": DOCS}).to_string(),
            "application/json; charset=utf-8",
        ),
    }
}

/// A ref (SHA or branch name) → SHA.
async fn resolve(shared: &Shared, repo: &str, r: &str) -> String {
    if r.len() == 40 && r.chars().all(|c| c.is_ascii_hexdigit()) {
        return r.to_string();
    }
    git_out(
        &shared.bare(repo),
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{r}^{{commit}}"),
        ],
    )
    .await
    .map(|s| s.trim().to_string())
    .unwrap_or_else(|| r.to_string())
}

async fn route(
    shared: &Arc<Shared>,
    method: &Method,
    segs: &[&str],
    ctx: &Ctx<'_>,
    body: &Value,
    identity: &Identity,
) -> Reply {
    let base = shared.base.as_str();
    match (method, segs) {
        (&Method::GET, ["rate_limit"]) => {
            let st = shared.st();
            let core = json!({"limit": st.rate.limit, "remaining": st.rate.remaining, "reset": st.rate.reset, "used": st.rate.limit - st.rate.remaining, "resource": "core"});
            Reply::ok(json!({"resources": {"core": core}, "rate": core}))
        }
        (&Method::GET, ["app"]) => {
            let app = shared.opts.app.clone().unwrap_or_default();
            Reply::ok(json!({
                "id": app.app_id, "slug": "fake-app", "node_id": format!("A_kwDOFake{}", app.app_id),
                "owner": user_json(base, "fake-owner", owner_id("fake-owner"), "User"),
                "name": "Fake App", "description": "", "external_url": base, "html_url": format!("{base}/apps/fake-app"),
                "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
                "permissions": app_permissions(), "events": [], "installations_count": 1,
            }))
        }
        (&Method::GET, ["repos", o, r, "installation"]) => {
            let repo = format!("{o}/{r}");
            if !shared.repo_exists(&repo) {
                return Reply::not_found();
            }
            let app = shared.opts.app.clone().unwrap_or_default();
            Reply::ok(installation_json(base, &app, o))
        }
        (&Method::GET, ["app", "installations"]) => {
            let app = shared.opts.app.clone().unwrap_or_default();
            Reply::ok(json!([installation_json(base, &app, "fake-owner")]))
        }
        (&Method::POST, ["app", "installations", id, "access_tokens"]) => {
            let app = shared.opts.app.clone().unwrap_or_default();
            if id.parse::<u64>().ok() != Some(app.installation_id) {
                return Reply::not_found();
            }
            let token = {
                let mut st = shared.st();
                let token: String = (0..36)
                    .map(|_| {
                        const ALPHA: &[u8] =
                            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
                        ALPHA[(st.random() % ALPHA.len() as u64) as usize] as char
                    })
                    .collect();
                let token = format!("ghs_{token}");
                let lifetime = chrono::Duration::from_std(app.token_lifetime).unwrap_or_default();
                let exp = Utc::now() + lifetime;
                st.install_tokens.insert(token.clone(), exp);
                (token, exp)
            };
            Reply::json(
                StatusCode::CREATED,
                json!({"token": token.0, "expires_at": rfc3339(token.1), "permissions": app_permissions(), "repository_selection": "all"}),
            )
        }
        (&Method::POST, ["graphql"]) => graphql(shared, body),
        (_, ["repos", o, r, rest @ ..]) => {
            let repo = format!("{o}/{r}");
            if !shared.repo_exists(&repo) {
                return Reply::not_found();
            }
            shared.st().repo_id(&repo);
            repo_route(shared, method, &repo, rest, ctx, body, identity).await
        }
        _ => Reply::not_found(),
    }
}

fn app_permissions() -> Value {
    json!({"actions": "read", "checks": "read", "contents": "write", "metadata": "read", "pull_requests": "write", "statuses": "read"})
}

fn installation_json(base: &str, app: &FakeApp, owner: &str) -> Value {
    let id = app.installation_id;
    json!({
        "id": id,
        "client_id": "Iv1.fakefakefakefake",
        "account": user_json(base, owner, owner_id(owner), "User"),
        "repository_selection": "all",
        "access_tokens_url": format!("{base}/app/installations/{id}/access_tokens"),
        "repositories_url": format!("{base}/installation/repositories"),
        "html_url": format!("{base}/settings/installations/{id}"),
        "app_id": app.app_id,
        "app_slug": "fake-app",
        "target_id": owner_id(owner),
        "target_type": "User",
        "permissions": app_permissions(),
        "events": [],
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "single_file_name": null,
        "has_multiple_single_files": false,
        "single_file_paths": [],
        "suspended_by": null,
        "suspended_at": null,
    })
}

async fn repo_route(
    shared: &Arc<Shared>,
    method: &Method,
    repo: &str,
    rest: &[&str],
    ctx: &Ctx<'_>,
    body: &Value,
    identity: &Identity,
) -> Reply {
    let base = shared.base.as_str();
    let id_of = |s: &str| s.parse::<u64>().ok();
    match (method, rest) {
        (&Method::GET, []) => Reply::ok(repo_json(base, &shared.st(), repo)),
        (&Method::GET, ["branches", branch @ ..]) if !branch.is_empty() => {
            let branch = branch.join("/");
            match git_out(
                &shared.bare(repo),
                &[
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    &format!("refs/heads/{branch}"),
                ],
            )
            .await
            {
                Some(sha) => {
                    let sha = sha.trim();
                    Reply::ok(json!({
                        "name": branch,
                        "commit": {"sha": sha, "url": format!("{base}/repos/{repo}/commits/{sha}")},
                        "_links": {"self": format!("{base}/repos/{repo}/branches/{branch}"), "html": format!("{base}/{repo}/tree/{branch}")},
                        "protected": false,
                        "protection": {"enabled": false, "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []}},
                        "protection_url": format!("{base}/repos/{repo}/branches/{branch}/protection"),
                    }))
                }
                None => Reply::message(StatusCode::NOT_FOUND, "Branch not found"),
            }
        }
        (&Method::GET, ["commits", r @ .., "check-runs"]) => {
            let sha = resolve(shared, repo, &r.join("/")).await;
            let st = shared.st();
            let jobs = st
                .jobs
                .iter()
                .filter(|j| j.repo == repo && j.head_sha == sha);
            let mut jobs: Vec<&CheckRun> = if ctx.q("filter") == Some("all") {
                jobs.collect()
            } else {
                latest_per_name(jobs)
            };
            if let Some(name) = ctx.q("check_name") {
                jobs.retain(|j| j.name == name);
            }
            if let Some(status) = ctx.q("status") {
                jobs.retain(|j| j.status == status);
            }
            if ctx
                .q("app_id")
                .is_some_and(|a| a != ACTIONS_APP_ID.to_string())
            {
                jobs.clear();
            }
            jobs.sort_by_key(|j| std::cmp::Reverse(j.id));
            let items: Vec<Value> = jobs.iter().map(|j| check_run_json(base, &st, j)).collect();
            let total = items.len();
            paged(
                |page| json!({"total_count": total, "check_runs": page}),
                ctx,
                &items,
            )
        }
        (&Method::GET, ["check-suites", id, "check-runs"]) => {
            let st = shared.st();
            let suite_id = id_of(id);
            let jobs = st.jobs.iter().filter(|j| Some(j.suite_id) == suite_id);
            let jobs: Vec<&CheckRun> = if ctx.q("filter") == Some("all") {
                jobs.collect()
            } else {
                latest_per_name(jobs)
            };
            let items: Vec<Value> = jobs.iter().map(|j| check_run_json(base, &st, j)).collect();
            let total = items.len();
            paged(
                |page| json!({"total_count": total, "check_runs": page}),
                ctx,
                &items,
            )
        }
        (&Method::GET, ["commits", r @ .., "check-suites"]) => {
            let sha = resolve(shared, repo, &r.join("/")).await;
            let st = shared.st();
            let mut items: Vec<Value> = st
                .suites
                .iter()
                .filter(|s| s.repo == repo && s.head_sha == sha)
                .map(|s| suite_json(base, &st, s))
                .collect();
            if let Some(app_id) = ctx.q("app_id").and_then(|a| a.parse::<u64>().ok()) {
                items.retain(|s| s["app"]["id"] == app_id);
            }
            let total = items.len();
            paged(
                |page| json!({"total_count": total, "check_suites": page}),
                ctx,
                &items,
            )
        }
        (&Method::GET, ["check-suites", id]) => {
            let st = shared.st();
            match st
                .suites
                .iter()
                .find(|s| Some(s.id) == id_of(id) && s.repo == repo)
            {
                Some(s) => Reply::ok(suite_json(base, &st, s)),
                None => Reply::not_found(),
            }
        }
        (&Method::GET, ["check-runs", id]) => {
            let st = shared.st();
            match st
                .jobs
                .iter()
                .find(|j| Some(j.id) == id_of(id) && j.repo == repo)
            {
                Some(j) => Reply::ok(check_run_json(base, &st, j)),
                None => Reply::not_found(),
            }
        }
        (&Method::GET, ["check-runs", id, "annotations"]) => {
            let st = shared.st();
            match st
                .jobs
                .iter()
                .find(|j| Some(j.id) == id_of(id) && j.repo == repo)
            {
                Some(j) => {
                    let items: Vec<Value> = j
                        .annotations
                        .iter()
                        .map(|a| annotation_json(base, j, a))
                        .collect();
                    paged(Value::Array, ctx, &items)
                }
                None => Reply::not_found(),
            }
        }
        (&Method::GET, ["commits", r @ .., "status"]) => {
            let sha = resolve(shared, repo, &r.join("/")).await;
            let st = shared.st();
            let mut latest: BTreeMap<&str, &CommitStatus> = BTreeMap::new();
            for s in st
                .statuses
                .iter()
                .filter(|s| s.repo == repo && s.sha == sha)
            {
                latest.insert(s.context.as_str(), s);
            }
            let statuses: Vec<&CommitStatus> = latest.into_values().collect();
            let state = if statuses
                .iter()
                .any(|s| matches!(s.state.as_str(), "error" | "failure"))
            {
                "failure"
            } else if statuses.is_empty() || statuses.iter().any(|s| s.state == "pending") {
                "pending"
            } else {
                "success"
            };
            let items: Vec<Value> = statuses.iter().map(|s| status_json(base, s)).collect();
            let total = items.len();
            let repo_j = repo_json(base, &st, repo);
            paged(
                |page| json!({"state": state, "sha": sha, "total_count": total, "statuses": page, "repository": repo_j, "commit_url": format!("{base}/repos/{repo}/commits/{sha}"), "url": format!("{base}/repos/{repo}/commits/{sha}/status")}),
                ctx,
                &items,
            )
        }
        (&Method::GET, ["commits", r @ .., "statuses"]) => {
            let sha = resolve(shared, repo, &r.join("/")).await;
            let st = shared.st();
            let mut items: Vec<Value> = st
                .statuses
                .iter()
                .filter(|s| s.repo == repo && s.sha == sha)
                .map(|s| status_json(base, s))
                .collect();
            items.reverse();
            paged(Value::Array, ctx, &items)
        }
        (&Method::POST, ["statuses", sha]) => {
            let state = body["state"].as_str().unwrap_or("");
            if !matches!(state, "error" | "failure" | "pending" | "success") {
                return validation_failed(
                    json!([{"resource": "Status", "field": "state", "code": "custom", "message": format!("state is not included in the list")}]),
                );
            }
            let mut st = shared.st();
            let id = st.id();
            let status = CommitStatus {
                id,
                repo: repo.into(),
                sha: sha.to_string(),
                context: body["context"].as_str().unwrap_or("default").into(),
                state: state.into(),
                description: body["description"].as_str().map(str::to_string),
                target_url: body["target_url"].as_str().map(str::to_string),
                created_at: Utc::now(),
            };
            let j = status_json(base, &status);
            st.statuses.push(status);
            Reply::json(StatusCode::CREATED, j)
        }
        (&Method::GET, ["actions", "runs"]) => {
            let st = shared.st();
            let mut runs: Vec<&WorkflowRun> = st.runs.iter().filter(|r| r.repo == repo).collect();
            if let Some(sha) = ctx.q("head_sha") {
                runs.retain(|r| r.head_sha == sha);
            }
            if let Some(branch) = ctx.q("branch") {
                runs.retain(|r| r.head_branch == branch);
            }
            if let Some(event) = ctx.q("event") {
                runs.retain(|r| r.event == event);
            }
            if let Some(suite) = ctx.q("check_suite_id").and_then(|s| s.parse::<u64>().ok()) {
                runs.retain(|r| r.suite_id == suite);
            }
            if let Some(status) = ctx.q("status") {
                runs.retain(|r| {
                    let (s, c) = st.run_status(r);
                    s == status || c.as_deref() == Some(status)
                });
            }
            runs.sort_by_key(|r| std::cmp::Reverse(r.id));
            let items: Vec<Value> = runs.iter().map(|r| run_json(base, &st, r)).collect();
            let total = items.len();
            paged(
                |page| json!({"total_count": total, "workflow_runs": page}),
                ctx,
                &items,
            )
        }
        (&Method::GET, ["actions", "runs", id]) => {
            let st = shared.st();
            match st
                .runs
                .iter()
                .find(|r| Some(r.id) == id_of(id) && r.repo == repo)
            {
                Some(r) => Reply::ok(run_json(base, &st, r)),
                None => Reply::not_found(),
            }
        }
        (&Method::GET, ["actions", "runs", id, "jobs"])
        | (&Method::GET, ["actions", "runs", id, "attempts", _, "jobs"]) => {
            let st = shared.st();
            let Some(run) = st
                .runs
                .iter()
                .find(|r| Some(r.id) == id_of(id) && r.repo == repo)
            else {
                return Reply::not_found();
            };
            let jobs: Vec<&CheckRun> = if let ["actions", "runs", _, "attempts", n, "jobs"] = rest {
                let n = n.parse::<u32>().unwrap_or(0);
                st.jobs
                    .iter()
                    .filter(|j| j.run_id == run.id && j.run_attempt == n)
                    .collect()
            } else if ctx.q("filter") == Some("all") {
                st.jobs.iter().filter(|j| j.run_id == run.id).collect()
            } else {
                st.latest_jobs(run.id)
            };
            let items: Vec<Value> = jobs.iter().map(|j| job_json(base, &st, j)).collect();
            let total = items.len();
            paged(
                |page| json!({"total_count": total, "jobs": page}),
                ctx,
                &items,
            )
        }
        (&Method::GET, ["actions", "jobs", id]) => {
            let st = shared.st();
            match st
                .jobs
                .iter()
                .find(|j| Some(j.id) == id_of(id) && j.repo == repo)
            {
                Some(j) => Reply::ok(job_json(base, &st, j)),
                None => Reply::not_found(),
            }
        }
        (&Method::GET, ["actions", "jobs", id, "logs"]) => {
            let done = shared
                .st()
                .jobs
                .iter()
                .find(|j| Some(j.id) == id_of(id) && j.repo == repo)
                .map(|j| j.log.is_some());
            match done {
                Some(true) => {
                    let exp = Utc::now().timestamp() + 60;
                    let sig = log_signature(shared, id, exp);
                    Reply {
                        status: StatusCode::FOUND,
                        body: None,
                        headers: vec![(
                            "location",
                            format!("{base}/_fake/logs/{id}?exp={exp}&sig={sig}"),
                        )],
                    }
                }
                _ => Reply::not_found(),
            }
        }
        (&Method::POST, ["actions", "runs", id, "rerun-failed-jobs"]) => {
            rerun_reply(rerun(shared, id_of(id).unwrap_or(0), |j| {
                matches!(
                    j.conclusion.as_deref(),
                    Some("failure" | "timed_out" | "cancelled")
                )
            }))
        }
        (&Method::POST, ["actions", "runs", id, "rerun"]) => {
            rerun_reply(rerun(shared, id_of(id).unwrap_or(0), |_| true))
        }
        (&Method::POST, ["actions", "jobs", id, "rerun"]) => {
            let job = id_of(id).and_then(|jid| {
                shared
                    .st()
                    .jobs
                    .iter()
                    .find(|j| j.id == jid)
                    .map(|j| (j.run_id, j.name.clone()))
            });
            match job {
                Some((run_id, name)) => rerun_reply(rerun(shared, run_id, |j| j.name == name)),
                None => Reply::not_found(),
            }
        }
        (&Method::GET, ["pulls"]) => {
            let state = ctx.q("state").unwrap_or("open");
            let head = ctx
                .q("head")
                .map(|h| h.split_once(':').map_or(h, |x| x.1).to_string());
            let owner = repo.split_once('/').map(|x| x.0).unwrap_or(repo);
            let head_owner_ok = ctx
                .q("head")
                .is_none_or(|h| h.split_once(':').is_none_or(|x| x.0 == owner));
            let pulls: Vec<PullRequest> = shared
                .st()
                .pulls
                .iter()
                .filter(|p| p.repo == repo)
                .filter(|p| state == "all" || p.state == state)
                .filter(|p| head.as_deref().is_none_or(|h| p.head_ref == h) && head_owner_ok)
                .filter(|p| ctx.q("base").is_none_or(|b| p.base_ref == b))
                .rev()
                .cloned()
                .collect();
            let mut items = Vec::new();
            for p in &pulls {
                let base_sha = branch_head(shared, repo, &p.base_ref).await;
                items.push(pull_json(base, &shared.st(), p, &base_sha));
            }
            paged(Value::Array, ctx, &items)
        }
        (&Method::POST, ["pulls"]) => create_pull(shared, repo, body, identity).await,
        (&Method::GET, ["pulls", n]) => {
            let Some(p) = shared
                .st()
                .pulls
                .iter()
                .find(|p| p.repo == repo && Some(p.number) == id_of(n))
                .cloned()
            else {
                return Reply::not_found();
            };
            let base_sha = branch_head(shared, repo, &p.base_ref).await;
            Reply::ok(pull_json(base, &shared.st(), &p, &base_sha))
        }
        (&Method::PATCH, ["pulls", n]) => {
            let mut reopened = false;
            let updated = {
                let mut st = shared.st();
                let Some(p) = st
                    .pulls
                    .iter_mut()
                    .find(|p| p.repo == repo && Some(p.number) == id_of(n))
                else {
                    return Reply::not_found();
                };
                if let Some(t) = body["title"].as_str() {
                    p.title = t.into();
                }
                if let Some(b) = body["body"].as_str() {
                    p.body = Some(b.into());
                }
                if let Some(b) = body["base"].as_str() {
                    p.base_ref = b.into();
                }
                match body["state"].as_str() {
                    Some("closed") if p.state == "open" => {
                        p.state = "closed".into();
                        p.closed_at = Some(Utc::now());
                    }
                    Some("open") if p.state == "closed" => {
                        p.state = "open".into();
                        p.closed_at = None;
                        reopened = true;
                    }
                    _ => {}
                }
                p.updated_at = Utc::now();
                p.clone()
            };
            if reopened {
                on_pull_request(shared, repo, updated.number).await;
            }
            let base_sha = branch_head(shared, repo, &updated.base_ref).await;
            Reply::ok(pull_json(base, &shared.st(), &updated, &base_sha))
        }
        _ => Reply::not_found(),
    }
}

fn rerun_reply(result: Result<(), String>) -> Reply {
    match result {
        Ok(()) => Reply::json(StatusCode::CREATED, json!({})),
        Err(m) if m == "Not Found" => Reply::not_found(),
        Err(m) => Reply::message(StatusCode::FORBIDDEN, &m),
    }
}

fn validation_failed(errors: Value) -> Reply {
    Reply::json(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"message": "Validation Failed", "errors": errors, "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request", "status": "422"}),
    )
}

async fn branch_head(shared: &Shared, repo: &str, branch: &str) -> String {
    git_out(
        &shared.bare(repo),
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}"),
        ],
    )
    .await
    .map(|s| s.trim().to_string())
    .unwrap_or_default()
}

async fn create_pull(shared: &Arc<Shared>, repo: &str, body: &Value, identity: &Identity) -> Reply {
    let owner = repo.split_once('/').map(|x| x.0).unwrap_or(repo);
    let (Some(title), Some(head), Some(base_ref)) = (
        body["title"].as_str(),
        body["head"].as_str(),
        body["base"].as_str(),
    ) else {
        return validation_failed(
            json!([{"resource": "PullRequest", "field": "head", "code": "missing_field"}]),
        );
    };
    let head_ref = head.split_once(':').map_or(head, |x| x.1).to_string();
    let head_sha = branch_head(shared, repo, &head_ref).await;
    let base_sha = branch_head(shared, repo, base_ref).await;
    if head_sha.is_empty() {
        return validation_failed(
            json!([{"resource": "PullRequest", "field": "head", "code": "invalid"}]),
        );
    }
    if base_sha.is_empty() {
        return validation_failed(
            json!([{"resource": "PullRequest", "field": "base", "code": "invalid"}]),
        );
    }
    let user = match identity {
        Identity::Token(t) if shared.is_install_token(t) => "fake-app[bot]",
        _ => "fake-user",
    };
    let pr = {
        let mut st = shared.st();
        if st.pulls.iter().any(|p| {
            p.repo == repo && p.head_ref == head_ref && p.base_ref == base_ref && p.state == "open"
        }) {
            return validation_failed(
                json!([{"resource": "PullRequest", "code": "custom", "message": format!("A pull request already exists for {owner}:{head_ref}.")}]),
            );
        }
        if head_sha == base_sha {
            return validation_failed(
                json!([{"resource": "PullRequest", "code": "custom", "message": format!("No commits between {base_ref} and {head_ref}")}]),
            );
        }
        let id = st.id();
        let number = st.pulls.iter().filter(|p| p.repo == repo).count() as u64 + 1;
        let now = Utc::now();
        let pr = PullRequest {
            id,
            number,
            repo: repo.into(),
            title: title.into(),
            body: body["body"].as_str().map(str::to_string),
            head_ref,
            head_sha,
            base_ref: base_ref.into(),
            draft: body["draft"].as_bool().unwrap_or(false),
            state: "open".into(),
            user: user.into(),
            created_at: now,
            updated_at: now,
            closed_at: None,
        };
        st.pulls.push(pr.clone());
        pr
    };
    on_pull_request(shared, repo, pr.number).await;
    let j = pull_json(&shared.base, &shared.st(), &pr, &base_sha);
    Reply::json(StatusCode::CREATED, j).header(
        "location",
        format!("{}/repos/{repo}/pulls/{}", shared.base, pr.number),
    )
}

/// GraphQL: only `markPullRequestReadyForReview` and `convertPullRequestToDraft`.
fn graphql(shared: &Shared, body: &Value) -> Reply {
    let query = body["query"].as_str().unwrap_or("");
    let mutation = if query.contains("markPullRequestReadyForReview") {
        "markPullRequestReadyForReview"
    } else if query.contains("convertPullRequestToDraft") {
        "convertPullRequestToDraft"
    } else {
        return Reply::ok(
            json!({"errors": [{"message": "This fake GitHub only supports markPullRequestReadyForReview and convertPullRequestToDraft"}]}),
        );
    };
    let mut candidates: Vec<String> = regex::Regex::new(r#"pullRequestId\s*:\s*"([^"]+)""#)
        .expect("regex")
        .captures_iter(query)
        .map(|c| c[1].to_string())
        .collect();
    fn strings(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            Value::Object(o) => o.values().for_each(|x| strings(x, out)),
            _ => {}
        }
    }
    strings(&body["variables"], &mut candidates);
    let mut st = shared.st();
    let Some(pr) = st
        .pulls
        .iter_mut()
        .find(|p| candidates.iter().any(|c| *c == p.node_id()))
    else {
        let id = candidates.first().cloned().unwrap_or_default();
        return Reply::ok(
            json!({"data": {mutation: null}, "errors": [{"type": "NOT_FOUND", "path": [mutation], "locations": [{"line": 1, "column": 12}], "message": format!("Could not resolve to a node with the global id of '{id}'")}]}),
        );
    };
    pr.draft = mutation == "convertPullRequestToDraft";
    pr.updated_at = Utc::now();
    Reply::ok(
        json!({"data": {mutation: {"pullRequest": {"id": pr.node_id(), "isDraft": pr.draft, "number": pr.number}}}}),
    )
}

// ---------------------------------------------------------------------------------------------
// Small crypto and encoding helpers (no extra dependencies)
// ---------------------------------------------------------------------------------------------

pub fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 64];
        for (wi, word) in w.iter_mut().zip(chunk.chunks(4)) {
            *wi = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = h;
        for (k, wi) in K.iter().zip(w.iter()) {
            let [a, b, c, d, e, f, g, hh] = v;
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(*k)
                .wrapping_add(*wi);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            v = [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g];
        }
        for (hi, vi) in h.iter_mut().zip(v) {
            *hi = hi.wrapping_add(vi);
        }
    }
    let mut out = [0u8; 32];
    for (o, hi) in out.chunks_mut(4).zip(h) {
        o.copy_from_slice(&hi.to_be_bytes());
    }
    out
}

pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&sha256(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    inner.extend_from_slice(data);
    let mut outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    outer.extend_from_slice(&sha256(&inner));
    sha256(&outer)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes `%XX` escapes of one path segment.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes standard or URL-safe base64, padded or not.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// URL-safe base64 without padding (JWT segments).
pub fn base64url_encode(bytes: &[u8]) -> String {
    const ALPHA: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHA[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Tests: the fake is faithful
// ---------------------------------------------------------------------------------------------

mod tests {
    use super::*;
    use reqwest::header::HeaderMap as ReqHeaders;

    const TOKEN: &str = "ghp_fake_pat_0123456789";
    const REPO: &str = "octo/demo";

    const OK_SH: &str = "echo all good\n";
    const FAIL_SH: &str =
        "echo compiling\necho '::error file=src/lib.rs,line=3::boom'\necho oops >&2\nexit 1\n";

    async fn start(opts: FakeGithubOptions) -> FakeGithub {
        let fake = FakeGithub::start(FakeGithubOptions {
            token: TOKEN.into(),
            ..opts
        })
        .await;
        fake.create_repo(REPO, &[("README.md", "# demo\n")]).await;
        fake
    }

    fn http() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    struct Reply {
        status: u16,
        headers: ReqHeaders,
        body: Value,
        text: String,
    }

    async fn call(
        fake: &FakeGithub,
        method: reqwest::Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut req = http().request(method, format!("{}{path}", fake.api_url()));
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    async fn get(fake: &FakeGithub, path: &str) -> Reply {
        call(
            fake,
            reqwest::Method::GET,
            path,
            Some(&format!("Bearer {TOKEN}")),
            None,
            &[],
        )
        .await
    }

    async fn post(fake: &FakeGithub, path: &str, body: Value) -> Reply {
        call(
            fake,
            reqwest::Method::POST,
            path,
            Some(&format!("token {TOKEN}")),
            Some(body),
            &[],
        )
        .await
    }

    fn hdr<'a>(r: &'a Reply, name: &str) -> &'a str {
        r.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// A working copy cloned over smart HTTP with `token`.
    struct Work {
        dir: tempfile::TempDir,
        auth: String,
    }

    impl Work {
        async fn clone(fake: &FakeGithub, repo: &str, token: &str) -> Work {
            let dir = tempfile::tempdir().unwrap();
            let work = Work {
                dir,
                auth: format!(
                    "Authorization: Basic {}",
                    server::git::basic_credentials(token)
                ),
            };
            let url = format!("{}/{repo}.git", fake.git_url());
            let out = work.git(&["clone", "--quiet", &url, "."]).await;
            assert!(out.status.success(), "{out:?}");
            work
        }

        async fn git(&self, args: &[&str]) -> std::process::Output {
            tokio::process::Command::new("git")
                .arg("-c")
                .arg(format!("http.extraHeader={}", self.auth))
                .args(["-c", "user.name=dev", "-c", "user.email=dev@example.com"])
                .args(args)
                .current_dir(self.dir.path())
                .env("GIT_TERMINAL_PROMPT", "0")
                .output()
                .await
                .unwrap()
        }

        /// Writes `files`, commits on `branch` (created from the current HEAD), returns the SHA.
        async fn commit(&self, branch: &str, files: &[(&str, &str)], message: &str) -> String {
            let out = self.git(&["checkout", "--quiet", "-B", branch]).await;
            assert!(out.status.success(), "{out:?}");
            for (path, content) in files {
                let p = self.dir.path().join(path);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, content).unwrap();
            }
            assert!(self.git(&["add", "--all"]).await.status.success());
            let out = self.git(&["commit", "--quiet", "-m", message]).await;
            assert!(out.status.success(), "{out:?}");
            let out = self.git(&["rev-parse", "HEAD"]).await;
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        }

        async fn push(&self, branch: &str) -> std::process::Output {
            self.git(&[
                "push",
                "--quiet",
                "origin",
                &format!("HEAD:refs/heads/{branch}"),
            ])
            .await
        }

        /// Commits `files` on `branch` and pushes; returns the SHA.
        async fn push_files(&self, branch: &str, files: &[(&str, &str)]) -> String {
            let sha = self.commit(branch, files, "change").await;
            let out = self.push(branch).await;
            assert!(out.status.success(), "{out:?}");
            sha
        }
    }

    fn by_name<'a>(runs: &'a Value, name: &str) -> &'a Value {
        runs.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {runs}"))
    }

    #[tokio::test]
    async fn api_requires_auth_and_answers_like_github() {
        let fake = start(FakeGithubOptions::default()).await;
        let r = call(
            &fake,
            reqwest::Method::GET,
            "/repos/octo/demo",
            None,
            None,
            &[],
        )
        .await;
        assert_eq!(r.status, 401);
        assert_eq!(r.body["message"], "Bad credentials");
        assert!(r.body["documentation_url"].is_string());
        assert_eq!(hdr(&r, "x-ratelimit-resource"), "core");
        let r = call(
            &fake,
            reqwest::Method::GET,
            "/repos/octo/demo",
            Some("token nope"),
            None,
            &[],
        )
        .await;
        assert_eq!(r.status, 401);
        assert_eq!(fake.requests_without_auth().await.len(), 2);

        for auth in [format!("token {TOKEN}"), format!("Bearer {TOKEN}")] {
            let r = call(
                &fake,
                reqwest::Method::GET,
                "/repos/octo/demo",
                Some(&auth),
                None,
                &[],
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(r.body["full_name"], "octo/demo");
            assert_eq!(r.body["name"], "demo");
            assert_eq!(r.body["default_branch"], "main");
            assert_eq!(r.body["private"], false);
            assert_eq!(r.body["owner"]["login"], "octo");
            assert_eq!(r.body["owner"]["type"], "User");
            assert!(r.body["id"].as_u64().unwrap() > 0);
            for h in [
                "x-ratelimit-limit",
                "x-ratelimit-remaining",
                "x-ratelimit-reset",
                "x-ratelimit-used",
                "etag",
            ] {
                assert!(!hdr(&r, h).is_empty(), "{h}");
            }
        }
        // The GHE-style prefix works too.
        assert_eq!(get(&fake, "/api/v3/repos/octo/demo").await.status, 200);
        let r = get(&fake, "/repos/octo/nope").await;
        assert_eq!(
            (r.status, r.body["message"].as_str()),
            (404, Some("Not Found"))
        );
        let main = fake.branch_sha(REPO, "main").await.unwrap();
        let r = get(&fake, "/repos/octo/demo/branches/main").await;
        assert_eq!(r.body["commit"]["sha"], main.as_str());
        assert_eq!(r.body["protected"], false);
        assert_eq!(
            get(&fake, "/repos/octo/demo/branches/nope").await.status,
            404
        );

        // git without credentials is refused; with the PAT it works.
        let out = tokio::process::Command::new("git")
            .args(["ls-remote", &format!("{}/octo/demo.git", fake.git_url())])
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .await
            .unwrap();
        assert!(!out.status.success());
        assert!(fake.git.unauthorized_requests() >= 1);
        Work::clone(&fake, REPO, TOKEN).await;
    }

    #[tokio::test]
    async fn push_runs_simulated_actions_with_checks_annotations_and_logs() {
        let fake = start(FakeGithubOptions {
            // Generous, so that a loaded machine still sees `queued` right after the push.
            queue_delay: Duration::from_secs(1),
            ..Default::default()
        })
        .await;
        let work = Work::clone(&fake, REPO, TOKEN).await;
        let sha = work
            .push_files(
                "amp/x",
                &[
                    (".fake-ci/jobs/ok.sh", OK_SH),
                    (".fake-ci/jobs/fail.sh", FAIL_SH),
                ],
            )
            .await;
        assert_eq!(
            fake.branch_sha(REPO, "amp/x").await.as_deref(),
            Some(sha.as_str())
        );

        // Pending states are observable right after the push.
        let runs = get(
            &fake,
            &format!("/repos/octo/demo/actions/runs?head_sha={sha}"),
        )
        .await;
        assert_eq!(runs.body["total_count"], 1, "{}", runs.text);
        let run = &runs.body["workflow_runs"][0];
        assert_eq!(run["status"], "queued");
        assert_eq!(run["conclusion"], Value::Null);
        assert_eq!(run["event"], "push");
        assert_eq!(run["head_branch"], "amp/x");
        assert_eq!(run["name"], "CI");
        let checks = get(&fake, &format!("/repos/octo/demo/commits/{sha}/check-runs")).await;
        assert_eq!(checks.body["total_count"], 2);
        for c in checks.body["check_runs"].as_array().unwrap() {
            assert!(
                matches!(c["status"].as_str(), Some("queued" | "in_progress")),
                "{c}"
            );
            assert_eq!(c["conclusion"], Value::Null);
            assert_eq!(c["app"]["slug"], "github-actions");
            assert_eq!(c["app"]["id"], ACTIONS_APP_ID);
        }
        let suites = get(
            &fake,
            &format!("/repos/octo/demo/commits/{sha}/check-suites"),
        )
        .await;
        assert_eq!(suites.body["total_count"], 2, "{}", suites.text);
        let suites = suites.body["check_suites"].as_array().unwrap().clone();
        let empty = suites
            .iter()
            .find(|s| s["latest_check_runs_count"] == 0)
            .unwrap();
        assert_eq!(empty["status"], "queued");
        assert_ne!(empty["app"]["slug"], "github-actions");
        let actions = suites
            .iter()
            .find(|s| s["app"]["slug"] == "github-actions")
            .unwrap();
        assert_eq!(actions["latest_check_runs_count"], 2);
        assert_eq!(actions["id"], run["check_suite_id"]);

        fake.wait_for_ci(REPO, &sha, Duration::from_secs(30)).await;
        let checks = get(
            &fake,
            &format!("/repos/octo/demo/commits/{sha}/check-runs?filter=latest&per_page=100"),
        )
        .await;
        let list = &checks.body["check_runs"];
        let ok = by_name(list, "ok");
        let fail = by_name(list, "fail");
        assert_eq!(
            (ok["status"].as_str(), ok["conclusion"].as_str()),
            (Some("completed"), Some("success"))
        );
        assert_eq!(
            (fail["status"].as_str(), fail["conclusion"].as_str()),
            (Some("completed"), Some("failure"))
        );
        assert!(fail["completed_at"].is_string());
        assert_eq!(fail["head_sha"], sha.as_str());
        assert_eq!(fail["output"]["annotations_count"], 2);
        let by_branch = get(&fake, "/repos/octo/demo/commits/amp%2Fx/check-runs").await;
        assert_eq!(by_branch.body["total_count"], 2);

        let fail_id = fail["id"].as_u64().unwrap();
        let ann = get(
            &fake,
            &format!("/repos/octo/demo/check-runs/{fail_id}/annotations"),
        )
        .await;
        let ann = ann.body.as_array().unwrap().clone();
        let boom = ann.iter().find(|a| a["message"] == "boom").unwrap();
        assert_eq!(boom["path"], "src/lib.rs");
        assert_eq!(boom["start_line"], 3);
        assert_eq!(boom["end_line"], 3);
        assert_eq!(boom["annotation_level"], "failure");
        assert!(boom["blob_href"].as_str().unwrap().contains(&sha));
        assert!(ann
            .iter()
            .any(|a| a["message"] == "Process completed with exit code 1."));

        let run = get(
            &fake,
            &format!("/repos/octo/demo/actions/runs?head_sha={sha}"),
        )
        .await;
        let run = &run.body["workflow_runs"][0];
        assert_eq!(
            (run["status"].as_str(), run["conclusion"].as_str()),
            (Some("completed"), Some("failure"))
        );
        assert_eq!(run["run_attempt"], 1);
        let run_id = run["id"].as_u64().unwrap();
        let jobs = get(
            &fake,
            &format!("/repos/octo/demo/actions/runs/{run_id}/jobs?filter=latest"),
        )
        .await;
        assert_eq!(jobs.body["total_count"], 2);
        let job = by_name(&jobs.body["jobs"], "fail");
        assert_eq!(job["id"], fail_id);
        assert!(job["check_run_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/check-runs/{fail_id}")));
        assert_eq!(job["conclusion"], "failure");
        let steps: Vec<(&str, &str)> = job["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap(),
                    s["conclusion"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            steps,
            [
                ("Set up job", "success"),
                ("Run actions/checkout@v4", "success"),
                ("Run sh .fake-ci/jobs/fail.sh", "failure"),
                ("Post Run actions/checkout@v4", "success"),
                ("Complete job", "success"),
            ]
        );

        // The log: 302 to a signed URL on the same server, GitHub's exact format.
        let r = get(
            &fake,
            &format!("/repos/octo/demo/actions/jobs/{fail_id}/logs"),
        )
        .await;
        assert_eq!(r.status, 302);
        let location = hdr(&r, "location").to_string();
        assert!(
            location.starts_with(&format!("{}/_fake/logs/{fail_id}?", fake.api_url())),
            "{location}"
        );
        let resp = http().get(&location).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
        let log = resp.text().await.unwrap();
        assert!(log.starts_with('\u{feff}'), "BOM");
        let line_re = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z ").unwrap();
        for line in log.trim_start_matches('\u{feff}').lines() {
            assert!(line_re.is_match(line), "{line:?}");
        }
        let texts: Vec<&str> = log
            .trim_start_matches('\u{feff}')
            .lines()
            .map(|l| &l[29..])
            .collect();
        let pos = |t: &str| {
            texts
                .iter()
                .position(|l| *l == t)
                .unwrap_or_else(|| panic!("{t:?} not in {log}"))
        };
        let order = [
            pos("##[group]Run actions/checkout@v4"),
            pos("##[group]Run sh .fake-ci/jobs/fail.sh"),
            pos("shell: /usr/bin/bash -e {0}"),
            pos("##[endgroup]").max(pos("shell: /usr/bin/bash -e {0}")),
            pos("compiling"),
            pos("##[error]boom"),
            pos("oops"),
            pos("##[error]Process completed with exit code 1."),
            pos("Post job cleanup."),
            pos("Cleaning up orphan processes"),
        ];
        assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}\n{log}");
        let ok_log = fake
            .checks(REPO, &sha)
            .await
            .into_iter()
            .find(|c| c.name == "ok")
            .unwrap()
            .log
            .unwrap();
        assert!(
            ok_log.contains(" all good\n") && !ok_log.contains("##[error]"),
            "{ok_log}"
        );
        // A tampered signature is refused.
        let resp = http()
            .get(location.replace("sig=", "sig=0"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
    }

    #[tokio::test]
    async fn running_jobs_have_no_log_yet() {
        let fake = start(FakeGithubOptions::default()).await;
        let work = Work::clone(&fake, REPO, TOKEN).await;
        let sha = work
            .push_files("amp/slow", &[(".fake-ci/jobs/slow.sh", "sleep 1\n")])
            .await;
        let id = fake.checks(REPO, &sha).await[0].id;
        let r = get(&fake, &format!("/repos/octo/demo/actions/jobs/{id}/logs")).await;
        assert_eq!(
            (r.status, r.body["message"].as_str()),
            (404, Some("Not Found"))
        );
        fake.wait_for_ci(REPO, &sha, Duration::from_secs(30)).await;
        let r = get(&fake, &format!("/repos/octo/demo/actions/jobs/{id}/logs")).await;
        assert_eq!(r.status, 302);
    }

    #[tokio::test]
    async fn matrix_expands_jobs() {
        let fake = start(FakeGithubOptions::default()).await;
        let work = Work::clone(&fake, REPO, TOKEN).await;
        let sha = work
            .push_files(
                "amp/matrix",
                &[
                    (".fake-ci/jobs/test.sh", "echo \"matrix=$FAKE_CI_MATRIX ci=$CI\"\n[ \"$FAKE_CI_MATRIX\" != windows ]\n"),
                    (".fake-ci/jobs/lint.sh", "true\n"),
                    (".fake-ci/matrix", "test: ubuntu macos windows\n"),
                ],
            )
            .await;
        let checks = fake.wait_for_ci(REPO, &sha, Duration::from_secs(30)).await;
        let mut names: Vec<(String, String)> = checks
            .iter()
            .map(|c| (c.name.clone(), c.conclusion.clone().unwrap()))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                ("lint".to_string(), "success".to_string()),
                ("test (macos)".into(), "success".into()),
                ("test (ubuntu)".into(), "success".into()),
                ("test (windows)".into(), "failure".into()),
            ]
        );
        let ubuntu = checks.iter().find(|c| c.name == "test (ubuntu)").unwrap();
        assert!(ubuntu
            .log
            .as_ref()
            .unwrap()
            .contains(" matrix=ubuntu ci=true\n"));
        assert!(ubuntu
            .log
            .as_ref()
            .unwrap()
            .contains("  FAKE_CI_MATRIX: ubuntu\n"));
        let jobs = get(
            &fake,
            &format!("/repos/octo/demo/actions/runs/{}/jobs", ubuntu.run_id),
        )
        .await;
        assert_eq!(jobs.body["total_count"], 4);
    }

    #[tokio::test]
    async fn pull_request_only_workflow_runs_once_a_pr_is_open() {
        let fake = start(FakeGithubOptions::default()).await;
        let work = Work::clone(&fake, REPO, TOKEN).await;
        let sha = work
            .push_files(
                "amp/pr",
                &[
                    (".fake-ci/on", "pull_request\n"),
                    (
                        ".fake-ci/jobs/test.sh",
                        "echo \"event=$GITHUB_EVENT_NAME\"\n",
                    ),
                ],
            )
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let runs = get(
            &fake,
            &format!("/repos/octo/demo/actions/runs?head_sha={sha}"),
        )
        .await;
        assert_eq!(runs.body["total_count"], 0);
        let checks = get(&fake, &format!("/repos/octo/demo/commits/{sha}/check-runs")).await;
        assert_eq!(checks.body["total_count"], 0);
        let suites = get(
            &fake,
            &format!("/repos/octo/demo/commits/{sha}/check-suites"),
        )
        .await;
        assert_eq!(suites.body["total_count"], 1);
        assert_eq!(suites.body["check_suites"][0]["latest_check_runs_count"], 0);

        let pr = post(
            &fake,
            "/repos/octo/demo/pulls",
            json!({"title": "t", "head": "amp/pr", "base": "main", "draft": true}),
        )
        .await;
        assert_eq!(pr.status, 201, "{}", pr.text);
        let number = pr.body["number"].as_u64().unwrap();
        let runs = get(
            &fake,
            &format!("/repos/octo/demo/actions/runs?head_sha={sha}"),
        )
        .await;
        assert_eq!(runs.body["total_count"], 1);
        let run = &runs.body["workflow_runs"][0];
        assert_eq!(run["event"], "pull_request");
        assert_eq!(run["head_branch"], "amp/pr");
        assert_eq!(run["pull_requests"][0]["number"], number);
        let checks = fake.wait_for_ci(REPO, &sha, Duration::from_secs(30)).await;
        assert!(checks[0]
            .log
            .as_ref()
            .unwrap()
            .contains(" event=pull_request\n"));
        let check = get(
            &fake,
            &format!("/repos/octo/demo/check-runs/{}", checks[0].id),
        )
        .await;
        assert_eq!(check.body["pull_requests"][0]["number"], number);

        // A new commit on the PR's branch runs again, for the new head.
        let sha2 = work.push_files("amp/pr", &[("more.txt", "more\n")]).await;
        let runs = get(
            &fake,
            &format!("/repos/octo/demo/actions/runs?head_sha={sha2}&event=pull_request"),
        )
        .await;
        assert_eq!(runs.body["total_count"], 1);
        let pr = get(&fake, &format!("/repos/octo/demo/pulls/{number}")).await;
        assert_eq!(pr.body["head"]["sha"], sha2.as_str());
        fake.wait_for_ci(REPO, &sha2, Duration::from_secs(30)).await;
        let runs = get(&fake, "/repos/octo/demo/actions/runs?branch=amp/pr").await;
        assert_eq!(runs.body["total_count"], 2);
    }

    #[tokio::test]
    async fn rerun_failed_jobs_runs_a_new_attempt() {
        let fake = start(FakeGithubOptions::default()).await;
        let work = Work::clone(&fake, REPO, TOKEN).await;
        let sha = work
            .push_files(
                "amp/flaky",
                &[
                    (
                        ".fake-ci/jobs/flaky.sh",
                        "echo \"attempt $FAKE_CI_ATTEMPT\"\n[ \"$FAKE_CI_ATTEMPT\" = 2 ]\n",
                    ),
                    (".fake-ci/jobs/ok.sh", OK_SH),
                ],
            )
            .await;
        let first = fake.wait_for_ci(REPO, &sha, Duration::from_secs(30)).await;
        let old_flaky = first.iter().find(|c| c.name == "flaky").unwrap().clone();
        let old_ok = first.iter().find(|c| c.name == "ok").unwrap().clone();
        assert_eq!(old_flaky.conclusion.as_deref(), Some("failure"));
        let run_id = old_flaky.run_id;

        let r = post(
            &fake,
            &format!("/repos/octo/demo/actions/runs/{run_id}/rerun-failed-jobs"),
            json!({}),
        )
        .await;
        assert_eq!((r.status, &r.body), (201, &json!({})));
        let run = get(&fake, &format!("/repos/octo/demo/actions/runs/{run_id}")).await;
        assert_eq!(run.body["run_attempt"], 2);
        assert_ne!(run.body["status"], "completed");
        assert_eq!(run.body["conclusion"], Value::Null);
        // Re-running a running workflow is refused.
        let r = post(
            &fake,
            &format!("/repos/octo/demo/actions/runs/{run_id}/rerun-failed-jobs"),
            json!({}),
        )
        .await;
        assert_eq!(r.status, 403);

        fake.wait_for_ci(REPO, &sha, Duration::from_secs(30)).await;
        let run = get(&fake, &format!("/repos/octo/demo/actions/runs/{run_id}")).await;
        assert_eq!(
            (run.body["status"].as_str(), run.body["conclusion"].as_str()),
            (Some("completed"), Some("success"))
        );
        assert!(run.body["previous_attempt_url"]
            .as_str()
            .unwrap()
            .ends_with("/attempts/1"));
        let jobs = get(
            &fake,
            &format!("/repos/octo/demo/actions/runs/{run_id}/jobs"),
        )
        .await;
        assert_eq!(jobs.body["total_count"], 2);
        let flaky = by_name(&jobs.body["jobs"], "flaky");
        assert_ne!(flaky["id"], old_flaky.id);
        assert_eq!(flaky["run_attempt"], 2);
        assert_eq!(flaky["conclusion"], "success");
        assert_eq!(by_name(&jobs.body["jobs"], "ok")["id"], old_ok.id);
        let all = get(
            &fake,
            &format!("/repos/octo/demo/actions/runs/{run_id}/jobs?filter=all"),
        )
        .await;
        assert_eq!(all.body["total_count"], 3);
        let attempt1 = get(
            &fake,
            &format!("/repos/octo/demo/actions/runs/{run_id}/attempts/1/jobs"),
        )
        .await;
        assert_eq!(attempt1.body["total_count"], 2);
        let latest = get(&fake, &format!("/repos/octo/demo/commits/{sha}/check-runs")).await;
        assert_eq!(latest.body["total_count"], 2);
        assert_eq!(
            by_name(&latest.body["check_runs"], "flaky")["conclusion"],
            "success"
        );
        let all = get(
            &fake,
            &format!("/repos/octo/demo/commits/{sha}/check-runs?filter=all"),
        )
        .await;
        assert_eq!(all.body["total_count"], 3);
        let new_log = fake
            .checks(REPO, &sha)
            .await
            .into_iter()
            .max_by_key(|c| c.id)
            .unwrap()
            .log
            .unwrap();
        assert!(new_log.contains(" attempt 2\n"), "{new_log}");
    }

    #[tokio::test]
    async fn a_job_over_the_time_cap_is_timed_out() {
        let fake = start(FakeGithubOptions {
            job_timeout: Duration::from_secs(1),
            queue_delay: Duration::from_millis(50),
            ..Default::default()
        })
        .await;
        let work = Work::clone(&fake, REPO, TOKEN).await;
        let sha = work
            .push_files(
                "amp/slow",
                &[(".fake-ci/jobs/slow.sh", "echo start\nsleep 30\n")],
            )
            .await;
        let started = std::time::Instant::now();
        let checks = fake.wait_for_ci(REPO, &sha, Duration::from_secs(20)).await;
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(checks[0].conclusion.as_deref(), Some("timed_out"));
        let log = checks[0].log.as_ref().unwrap();
        assert!(
            log.contains(" start\n") && log.contains("exceeded the maximum execution time"),
            "{log}"
        );
        let run = get(
            &fake,
            &format!("/repos/octo/demo/actions/runs/{}", checks[0].run_id),
        )
        .await;
        assert_eq!(run.body["conclusion"], "failure");
    }

    #[tokio::test]
    async fn etag_answers_304_without_spending_the_rate_limit() {
        let fake = start(FakeGithubOptions::default()).await;
        let first = get(&fake, "/repos/octo/demo").await;
        let etag = hdr(&first, "etag").to_string();
        let remaining: u64 = hdr(&first, "x-ratelimit-remaining").parse().unwrap();
        let auth = format!("Bearer {TOKEN}");
        let r = call(
            &fake,
            reqwest::Method::GET,
            "/repos/octo/demo",
            Some(&auth),
            None,
            &[("if-none-match", &etag)],
        )
        .await;
        assert_eq!(r.status, 304);
        assert!(r.text.is_empty());
        assert_eq!(
            hdr(&r, "x-ratelimit-remaining").parse::<u64>().unwrap(),
            remaining
        );
        let r = get(&fake, "/repos/octo/demo").await;
        assert_eq!(r.status, 200);
        assert_eq!(hdr(&r, "etag"), etag);
        assert_eq!(
            hdr(&r, "x-ratelimit-remaining").parse::<u64>().unwrap(),
            remaining - 1
        );
        assert_eq!(
            hdr(&r, "x-ratelimit-used").parse::<u64>().unwrap(),
            5000 - remaining + 1
        );
        let r = call(
            &fake,
            reqwest::Method::GET,
            "/repos/octo/demo",
            Some(&auth),
            None,
            &[("if-none-match", "\"other\"")],
        )
        .await;
        assert_eq!(r.status, 200);
    }

    #[tokio::test]
    async fn primary_rate_limit_answers_403_until_the_reset() {
        let fake = start(FakeGithubOptions::default()).await;
        fake.set_rate_limit(2, Duration::from_secs(2)).await;
        assert_eq!(
            hdr(
                &get(&fake, "/repos/octo/demo").await,
                "x-ratelimit-remaining"
            ),
            "1"
        );
        assert_eq!(
            hdr(
                &get(&fake, "/repos/octo/demo").await,
                "x-ratelimit-remaining"
            ),
            "0"
        );
        let r = get(&fake, "/repos/octo/demo").await;
        assert_eq!(r.status, 403);
        assert!(
            r.body["message"]
                .as_str()
                .unwrap()
                .starts_with("API rate limit exceeded for "),
            "{}",
            r.text
        );
        assert_eq!(hdr(&r, "x-ratelimit-remaining"), "0");
        let reset: i64 = hdr(&r, "x-ratelimit-reset").parse().unwrap();
        let now = Utc::now().timestamp();
        assert!(reset > now - 1 && reset <= now + 3, "{reset} vs {now}");
        tokio::time::sleep(Duration::from_secs((reset - now + 1).max(0) as u64)).await;
        let r = get(&fake, "/repos/octo/demo").await;
        assert_eq!(r.status, 200);
        assert_eq!(hdr(&r, "x-ratelimit-remaining"), "4999");
    }

    #[tokio::test]
    async fn secondary_limits_and_server_errors_are_injectable() {
        let fake = start(FakeGithubOptions::default()).await;
        fake.secondary_limit(2).await;
        for _ in 0..2 {
            let r = get(&fake, "/repos/octo/demo").await;
            assert_eq!(r.status, 403);
            assert!(r.body["message"]
                .as_str()
                .unwrap()
                .contains("secondary rate limit"));
            assert_eq!(hdr(&r, "retry-after"), "1");
        }
        assert_eq!(get(&fake, "/repos/octo/demo").await.status, 200);
        fake.fail_next(1).await;
        assert_eq!(get(&fake, "/repos/octo/demo").await.status, 500);
        assert_eq!(get(&fake, "/repos/octo/demo").await.status, 200);
        fake.fail_randomly(1.0).await;
        assert_eq!(get(&fake, "/repos/octo/demo").await.status, 500);
        fake.fail_randomly(0.0).await;
        assert_eq!(get(&fake, "/repos/octo/demo").await.status, 200);
        let statuses: Vec<u16> = fake.api_requests().await.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [403, 403, 200, 500, 200, 500, 200]);
        assert!(fake
            .api_requests()
            .await
            .iter()
            .all(|r| r.method == "GET" && r.path == "/repos/octo/demo"));
    }

    #[tokio::test]
    async fn commit_statuses_combine_like_github() {
        let fake = start(FakeGithubOptions::default()).await;
        let sha = fake.branch_sha(REPO, "main").await.unwrap();
        let r = get(&fake, &format!("/repos/octo/demo/commits/{sha}/status")).await;
        assert_eq!(
            (r.body["state"].as_str(), r.body["total_count"].as_u64()),
            (Some("pending"), Some(0))
        );
        fake.add_status(REPO, &sha, "ext/ci", "pending").await;
        fake.add_status(REPO, &sha, "ext/ci", "success").await;
        let r = get(&fake, &format!("/repos/octo/demo/commits/{sha}/status")).await;
        assert_eq!(
            (r.body["state"].as_str(), r.body["total_count"].as_u64()),
            (Some("success"), Some(1))
        );
        assert_eq!(r.body["statuses"][0]["context"], "ext/ci");
        assert!(r.body["statuses"][0]["target_url"].is_string());
        let r = post(
            &fake,
            &format!("/repos/octo/demo/statuses/{sha}"),
            json!({"state": "failure", "context": "lint"}),
        )
        .await;
        assert_eq!(r.status, 201);
        let r = get(&fake, "/repos/octo/demo/commits/main/status").await;
        assert_eq!(
            (r.body["state"].as_str(), r.body["total_count"].as_u64()),
            (Some("failure"), Some(2))
        );
    }

    #[tokio::test]
    async fn pull_requests_create_duplicate_list_and_ready_for_review() {
        let fake = start(FakeGithubOptions::default()).await;
        let work = Work::clone(&fake, REPO, TOKEN).await;
        let sha = work.push_files("amp/feature", &[("f.txt", "f\n")]).await;
        let body = json!({"title": "Add f", "head": "amp/feature", "base": "main", "body": "Body", "draft": true});
        let pr = post(&fake, "/repos/octo/demo/pulls", body.clone()).await;
        assert_eq!(pr.status, 201, "{}", pr.text);
        let p = &pr.body;
        assert_eq!(p["number"], 1);
        assert_eq!(p["state"], "open");
        assert_eq!(p["draft"], true);
        assert_eq!(p["merged"], false);
        assert_eq!(p["title"], "Add f");
        assert_eq!(p["body"], "Body");
        assert_eq!(p["head"]["ref"], "amp/feature");
        assert_eq!(p["head"]["sha"], sha.as_str());
        assert_eq!(p["head"]["label"], "octo:amp/feature");
        assert_eq!(p["head"]["repo"]["full_name"], "octo/demo");
        assert_eq!(p["base"]["ref"], "main");
        assert_eq!(
            p["base"]["sha"],
            fake.branch_sha(REPO, "main").await.unwrap().as_str()
        );
        assert!(
            p["user"]["login"].is_string() && p["html_url"].is_string() && p["node_id"].is_string()
        );

        let dup = post(&fake, "/repos/octo/demo/pulls", body).await;
        assert_eq!(dup.status, 422);
        assert_eq!(
            dup.body["errors"],
            json!([{"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for octo:amp/feature."}])
        );
        assert_eq!(dup.body["message"], "Validation Failed");
        let bad = post(
            &fake,
            "/repos/octo/demo/pulls",
            json!({"title": "x", "head": "nope", "base": "main"}),
        )
        .await;
        assert_eq!(bad.status, 422);

        let list = get(
            &fake,
            "/repos/octo/demo/pulls?head=octo:amp/feature&state=open",
        )
        .await;
        assert_eq!(list.body.as_array().unwrap().len(), 1);
        assert_eq!(
            get(&fake, "/repos/octo/demo/pulls?head=octo:other")
                .await
                .body,
            json!([])
        );
        assert_eq!(
            get(&fake, "/repos/octo/demo/pulls?base=develop").await.body,
            json!([])
        );

        let node_id = p["node_id"].as_str().unwrap();
        let q = json!({"query": "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { id isDraft } } }", "variables": {"id": node_id}});
        let r = post(&fake, "/graphql", q).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.body["data"]["markPullRequestReadyForReview"]["pullRequest"]["isDraft"],
            false
        );
        assert_eq!(
            r.body["data"]["markPullRequestReadyForReview"]["pullRequest"]["id"],
            node_id
        );
        assert_eq!(
            get(&fake, "/repos/octo/demo/pulls/1").await.body["draft"],
            false
        );
        let inline = json!({"query": "mutation { markPullRequestReadyForReview(input: {pullRequestId: \"PR_nope\"}) { pullRequest { id } } }"});
        assert!(
            post(&fake, "/graphql", inline).await.body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("PR_nope")
        );

        let auth = format!("token {TOKEN}");
        let r = call(
            &fake,
            reqwest::Method::PATCH,
            "/repos/octo/demo/pulls/1",
            Some(&auth),
            Some(json!({"title": "New", "state": "closed"})),
            &[],
        )
        .await;
        assert_eq!(
            (r.status, r.body["title"].as_str(), r.body["state"].as_str()),
            (200, Some("New"), Some("closed"))
        );
        assert_eq!(
            get(&fake, "/repos/octo/demo/pulls?head=octo:amp/feature")
                .await
                .body,
            json!([])
        );
        assert_eq!(
            get(&fake, "/repos/octo/demo/pulls?state=all")
                .await
                .body
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(fake.pull_requests(REPO).await[0].title, "New");
        assert_eq!(get(&fake, "/repos/octo/demo/pulls/9").await.status, 404);
    }

    fn jwt(app_id: u64, exp_in: i64) -> String {
        let now = Utc::now().timestamp();
        let header = base64url_encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let payload = base64url_encode(
            json!({"iat": now - 60, "exp": now + exp_in, "iss": app_id.to_string()})
                .to_string()
                .as_bytes(),
        );
        format!("{header}.{payload}.c2lnbmF0dXJl")
    }

    #[tokio::test]
    async fn app_jwt_mints_installation_tokens_for_the_api_and_git() {
        let app = FakeApp::default();
        let fake = start(FakeGithubOptions {
            app: Some(app.clone()),
            ..Default::default()
        })
        .await;
        let good = format!("Bearer {}", jwt(app.app_id, 540));
        let get_inst = |auth: String| {
            let fake = &fake;
            async move {
                call(
                    fake,
                    reqwest::Method::GET,
                    "/repos/octo/demo/installation",
                    Some(&auth),
                    None,
                    &[],
                )
                .await
            }
        };
        let r = get_inst(good.clone()).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["id"], app.installation_id);
        assert_eq!(r.body["app_id"], app.app_id);
        assert_eq!(r.body["account"]["login"], "octo");
        assert_eq!(r.body["target_type"], "User");
        assert_eq!(r.body["repository_selection"], "all");
        assert!(r.body["access_tokens_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!(
                "/app/installations/{}/access_tokens",
                app.installation_id
            )));
        assert_eq!(
            get_inst(format!("Bearer {}", jwt(app.app_id + 1, 540)))
                .await
                .status,
            401
        );
        assert_eq!(
            get_inst(format!("Bearer {}", jwt(app.app_id, -10)))
                .await
                .status,
            401
        );
        assert_eq!(get_inst(format!("Bearer {TOKEN}")).await.status, 401);
        // A JWT is no API token.
        let r = call(
            &fake,
            reqwest::Method::GET,
            "/repos/octo/demo",
            Some(&good),
            None,
            &[],
        )
        .await;
        assert_eq!(r.status, 401);

        let mint = || {
            let fake = &fake;
            let good = good.clone();
            async move {
                call(
                    fake,
                    reqwest::Method::POST,
                    &format!("/app/installations/{}/access_tokens", app.installation_id),
                    Some(&good),
                    Some(json!({})),
                    &[],
                )
                .await
            }
        };
        let t1 = mint().await;
        assert_eq!(t1.status, 201, "{}", t1.text);
        let token = t1.body["token"].as_str().unwrap().to_string();
        assert!(token.starts_with("ghs_"));
        let expires =
            DateTime::parse_from_rfc3339(t1.body["expires_at"].as_str().unwrap()).unwrap();
        let left = expires.with_timezone(&Utc) - Utc::now();
        assert!(
            left > chrono::Duration::minutes(59) && left <= chrono::Duration::minutes(60),
            "{left}"
        );
        assert_ne!(mint().await.body["token"], token.as_str());

        let r = call(
            &fake,
            reqwest::Method::GET,
            "/repos/octo/demo",
            Some(&format!("Bearer {token}")),
            None,
            &[],
        )
        .await;
        assert_eq!(r.status, 200);
        let work = Work::clone(&fake, REPO, &token).await;
        let sha = work.push_files("amp/app", &[("a.txt", "a\n")]).await;
        assert_eq!(
            fake.branch_sha(REPO, "amp/app").await.as_deref(),
            Some(sha.as_str())
        );
        let pr = call(
            &fake,
            reqwest::Method::POST,
            "/repos/octo/demo/pulls",
            Some(&format!("Bearer {token}")),
            Some(json!({"title": "t", "head": "amp/app", "base": "main"})),
            &[],
        )
        .await;
        assert_eq!(pr.status, 201);
        assert_eq!(pr.body["user"]["type"], "Bot");
    }

    #[tokio::test]
    async fn installation_tokens_expire() {
        let app = FakeApp {
            token_lifetime: Duration::from_secs(1),
            ..FakeApp::default()
        };
        let fake = start(FakeGithubOptions {
            app: Some(app.clone()),
            ..Default::default()
        })
        .await;
        let r = call(
            &fake,
            reqwest::Method::POST,
            &format!("/app/installations/{}/access_tokens", app.installation_id),
            Some(&format!("Bearer {}", jwt(app.app_id, 300))),
            None,
            &[],
        )
        .await;
        let token = r.body["token"].as_str().unwrap().to_string();
        let auth = format!("token {token}");
        assert_eq!(
            call(
                &fake,
                reqwest::Method::GET,
                "/repos/octo/demo",
                Some(&auth),
                None,
                &[]
            )
            .await
            .status,
            200
        );
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let r = call(
            &fake,
            reqwest::Method::GET,
            "/repos/octo/demo",
            Some(&auth),
            None,
            &[],
        )
        .await;
        assert_eq!(
            (r.status, r.body["message"].as_str()),
            (401, Some("Bad credentials"))
        );
        let r = call(
            &fake,
            reqwest::Method::POST,
            "/app/installations/1/access_tokens",
            Some(&format!("Bearer {}", jwt(app.app_id, 300))),
            None,
            &[],
        )
        .await;
        assert_eq!(r.status, 404);
    }

    /// The payloads deserialize into octocrab's typed models, redirects and auth included.
    #[tokio::test]
    async fn octocrab_reads_every_payload() {
        use octocrab::{
            models::{AppId, CheckRunId},
            params::{repos::Commitish, repos::Reference, State as PrState},
            Octocrab,
        };
        use secrecy::ExposeSecret;
        let app = FakeApp::default();
        let fake = start(FakeGithubOptions {
            app: Some(app.clone()),
            ..Default::default()
        })
        .await;
        let work = Work::clone(&fake, REPO, TOKEN).await;
        let sha = work
            .push_files(
                "amp/oc",
                &[
                    (".fake-ci/jobs/ok.sh", OK_SH),
                    (".fake-ci/jobs/fail.sh", FAIL_SH),
                ],
            )
            .await;
        fake.add_status(REPO, &sha, "ext/ci", "success").await;
        let crab = Octocrab::builder()
            .personal_token(TOKEN.to_string())
            .base_uri(fake.api_url())
            .unwrap()
            .build()
            .unwrap();
        // Pending payloads (queued jobs, null conclusions) deserialize too.
        let runs = crab
            .workflows("octo", "demo")
            .list_all_runs()
            .head_sha(&sha)
            .send()
            .await
            .unwrap();
        assert_eq!(runs.items.len(), 1);
        let jobs = crab
            .workflows("octo", "demo")
            .list_jobs(runs.items[0].id)
            .send()
            .await
            .unwrap();
        assert_eq!(jobs.items.len(), 2);
        fake.wait_for_ci(REPO, &sha, Duration::from_secs(30)).await;

        let repo = crab.repos("octo", "demo").get().await.unwrap();
        assert_eq!(repo.full_name.as_deref(), Some("octo/demo"));
        let runs = crab
            .workflows("octo", "demo")
            .list_all_runs()
            .head_sha(&sha)
            .send()
            .await
            .unwrap();
        assert_eq!(runs.items[0].conclusion.as_deref(), Some("failure"));
        let jobs = crab
            .workflows("octo", "demo")
            .list_jobs(runs.items[0].id)
            .send()
            .await
            .unwrap();
        let failed = jobs.items.iter().find(|j| j.name == "fail").unwrap();
        assert_eq!(failed.steps.len(), 5);
        let log = crab
            .workflows("octo", "demo")
            .download_job_logs(failed.id)
            .await
            .unwrap();
        let log = String::from_utf8(log.to_vec()).unwrap();
        assert!(
            log.contains("##[error]Process completed with exit code 1."),
            "{log}"
        );
        let checks = crab
            .checks("octo", "demo")
            .list_check_runs_for_git_ref(Commitish(sha.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(checks.total_count, 2);
        let suites = crab
            .checks("octo", "demo")
            .list_check_suites_for_git_ref(Commitish(sha.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(suites.total_count, 2);
        let annotations = crab
            .checks("octo", "demo")
            .list_annotations(CheckRunId(failed.id.0))
            .send()
            .await
            .unwrap();
        assert!(annotations
            .iter()
            .any(|a| a.message.as_deref() == Some("boom")));
        let status = crab
            .repos("octo", "demo")
            .combined_status_for_ref(&Reference::Branch("amp/oc".into()))
            .await
            .unwrap();
        assert_eq!(status.total_count, 1);

        let pr = crab
            .pulls("octo", "demo")
            .create("t", "amp/oc", "main")
            .draft(true)
            .send()
            .await
            .unwrap();
        assert_eq!(pr.number, 1);
        let open = crab
            .pulls("octo", "demo")
            .list()
            .head("octo:amp/oc")
            .state(PrState::Open)
            .send()
            .await
            .unwrap();
        assert_eq!(open.items.len(), 1);
        let q = json!({"query": "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { id isDraft } } }", "variables": {"id": pr.node_id}});
        let data: Value = crab.graphql(&q).await.unwrap();
        assert_eq!(
            data["markPullRequestReadyForReview"]["pullRequest"]["isDraft"],
            false
        );
        assert_eq!(
            crab.pulls("octo", "demo").get(1).await.unwrap().draft,
            Some(false)
        );

        // The App: a real RS256 JWT from octocrab, the installation, a token for API and git.
        let key = tokio::process::Command::new("openssl")
            .args(["genrsa", "2048"])
            .output()
            .await
            .unwrap();
        assert!(key.status.success());
        let app_crab = Octocrab::builder()
            .base_uri(fake.api_url())
            .unwrap()
            .app_from_rsa_pem(AppId(app.app_id), &key.stdout)
            .unwrap()
            .build()
            .unwrap();
        let installation = app_crab
            .apps()
            .get_repository_installation("octo", "demo")
            .await
            .unwrap();
        assert_eq!(installation.id.0, app.installation_id);
        let (inst_crab, token) = app_crab
            .installation_and_token(installation.id)
            .await
            .unwrap();
        assert!(token.expose_secret().starts_with("ghs_"));
        assert_eq!(
            inst_crab.repos("octo", "demo").get().await.unwrap().name,
            "demo"
        );
        let work = Work::clone(&fake, REPO, token.expose_secret()).await;
        work.push_files("amp/oc2", &[("b.txt", "b\n")]).await;
        assert!(fake.requests_without_auth().await.is_empty());
    }

    type Received = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

    /// A webhook receiver: records (headers, body).
    async fn receiver() -> (String, Received, tokio::task::JoinHandle<()>) {
        let got: Received = Arc::default();
        let sink = got.clone();
        let app = Router::new().fallback(move |req: Request| {
            let sink = sink.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
                sink.lock().unwrap().push((parts.headers, body.to_vec()));
                StatusCode::NO_CONTENT
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (url, got, task)
    }

    #[tokio::test]
    async fn webhooks_are_signed_and_completions_auto_delivered() {
        let (url, got, task) = receiver().await;
        let fake = start(FakeGithubOptions::default()).await;
        let payload = json!({"zen": "Keep it logically awesome.", "hook_id": 1});
        assert_eq!(
            fake.deliver(&url, "s3cret", "ping", &payload).await,
            Some(204)
        );
        {
            let got = got.lock().unwrap();
            let (headers, body) = &got[0];
            assert_eq!(headers["x-github-event"], "ping");
            assert_eq!(headers["x-github-delivery"].to_str().unwrap().len(), 36);
            let expected = format!("sha256={}", hex(&hmac_sha256(b"s3cret", body)));
            assert_eq!(headers["x-hub-signature-256"].to_str().unwrap(), expected);
            assert_eq!(serde_json::from_slice::<Value>(body).unwrap(), payload);
        }

        fake.set_webhook(Some((url.clone(), "s3cret".into()))).await;
        let work = Work::clone(&fake, REPO, TOKEN).await;
        let sha = work
            .push_files("amp/hooks", &[(".fake-ci/jobs/ok.sh", OK_SH)])
            .await;
        fake.wait_for_ci(REPO, &sha, Duration::from_secs(30)).await;
        for _ in 0..100 {
            if fake.deliveries().await.len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let events: Vec<(String, Value)> = got
            .lock()
            .unwrap()
            .iter()
            .skip(1)
            .map(|(h, b)| {
                (
                    h["x-github-event"].to_str().unwrap().to_string(),
                    serde_json::from_slice(b).unwrap(),
                )
            })
            .collect();
        assert_eq!(events.len(), 2, "{events:?}");
        let (event, body) = &events[0];
        assert_eq!(event, "check_run");
        assert_eq!(body["action"], "completed");
        assert_eq!(body["check_run"]["conclusion"], "success");
        assert_eq!(body["check_run"]["head_sha"], sha.as_str());
        assert_eq!(body["repository"]["full_name"], "octo/demo");
        let (event, body) = &events[1];
        assert_eq!(event, "workflow_run");
        assert_eq!(body["workflow_run"]["conclusion"], "success");
        assert_eq!(body["workflow_run"]["head_sha"], sha.as_str());
        task.abort();
    }

    #[test]
    fn helpers_match_known_vectors() {
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&sha256(&[b'a'; 1000])),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
        );
        assert_eq!(
            hex(&hmac_sha256(
                b"key",
                b"The quick brown fox jumps over the lazy dog"
            )),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        for s in ["", "a", "ab", "abc", "abcd", "{\"iss\":\"1\"}"] {
            assert_eq!(
                base64_decode(&base64url_encode(s.as_bytes())).unwrap(),
                s.as_bytes()
            );
        }
        assert_eq!(
            base64_decode("eC1hY2Nlc3MtdG9rZW46dA==").unwrap(),
            b"x-access-token:t"
        );
        let t = DateTime::parse_from_rfc3339("2026-07-28T16:19:59.938506812Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(log_timestamp(t), "2026-07-28T16:19:59.9385068Z");
        let (cmd, props, msg) =
            workflow_command("::error file=src/x.rs,line=3,col=5,title=T::message%0Anext").unwrap();
        assert_eq!((cmd.as_str(), msg.as_str()), ("error", "message\nnext"));
        assert_eq!(
            (
                props["file"].as_str(),
                props["line"].as_str(),
                props["col"].as_str(),
                props["title"].as_str()
            ),
            ("src/x.rs", "3", "5", "T")
        );
        assert!(workflow_command("echo ::nope").is_none());
    }
}
