//! The sections of `config.yml`, each key with its default (the README's configuration table
//! lists them). Loading, `${VAR}` expansion and validation are in the parent module.

use super::{ByteSize, HumanDuration, Secret};
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, path::PathBuf};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub workers: WorkersConfig,
    pub runtime: RuntimeConfig,
    pub agent: AgentConfig,
    pub github: GithubConfig,
    pub ci: CiConfig,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub listen: String,
    /// Where the built dashboard assets are (`cargo leptos build` writes `target/site`).
    pub site_root: PathBuf,
    /// Largest accepted prompt.
    pub max_prompt_bytes: ByteSize,
    /// Largest accepted request body.
    pub max_body_bytes: ByteSize,
    /// Interval of SSE keep-alive comments (proxies close idle connections).
    pub sse_keep_alive: HumanDuration,
    /// Log format: `text` or `json`.
    pub log_format: LogFormat,
    /// Public address of the dashboard, for links back to a task (e.g. in pull requests).
    pub public_url: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            site_root: PathBuf::from("target/site"),
            max_prompt_bytes: ByteSize(app::validate::DEFAULT_MAX_PROMPT_BYTES as u64),
            max_body_bytes: ByteSize(1 << 20),
            sse_keep_alive: HumanDuration::secs(15),
            log_format: LogFormat::Text,
            public_url: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://path/to/file.db` (created if missing) or `sqlite::memory:`; `postgres://…` is
    /// reserved for the Postgres store.
    pub url: String,
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://data/orchestrator.db".into(),
            max_connections: 8,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// When non-empty, `/api/*` and the dashboard's data require one of these tokens.
    pub api_tokens: Vec<Secret>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkersConfig {
    /// Start queued tasks. `false`: accept and queue tasks but run none (maintenance, or an
    /// API-only replica).
    pub enabled: bool,
    /// Tasks running at once; the rest wait, queued.
    pub max_concurrent: u32,
    /// On shutdown, how long agent turns already running may go on to finish. A turn that ends
    /// within it is committed and resumes (push, CI) at the next start; one still running after
    /// it is stopped and its task fails as `interrupted` at the next start. `0s`: stop at once.
    pub shutdown_grace: HumanDuration,
}

impl Default for WorkersConfig {
    fn default() -> Self {
        WorkersConfig {
            enabled: true,
            max_concurrent: 2,
            shutdown_grace: HumanDuration::secs(30),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeKind {
    Docker,
    Local,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    pub kind: RuntimeKind,
    /// Image each task's container starts from.
    pub image: String,
    /// Per-task workspaces live under here.
    pub data_dir: PathBuf,
    pub memory: ByteSize,
    pub cpus: f64,
    pub pids: u32,
    pub network: String,
    /// Keep a failed task's container (stopped) and workspace for debugging instead of removing them.
    pub keep_failed: bool,
    /// How often a running container's CPU, memory and health are sampled.
    pub stats_interval: HumanDuration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            kind: RuntimeKind::Docker,
            image: "amp-orchestrator-agent:latest".into(),
            data_dir: PathBuf::from("data/workspaces"),
            memory: ByteSize(4 << 30),
            cpus: 2.0,
            pids: 1024,
            network: "bridge".into(),
            keep_failed: false,
            stats_interval: HumanDuration::secs(5),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentKind {
    Amp,
    Claude,
    Codex,
    Command,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    pub kind: AgentKind,
    /// Overrides the executable (and, for `command`, is the whole command line).
    pub command: Option<String>,
    /// Environment for the agent inside the container (API keys such as `AMP_API_KEY`).
    pub env: BTreeMap<String, Secret>,
    /// Wall-clock limit of one agent turn.
    pub turn_timeout: HumanDuration,
    /// A turn that prints nothing for this long is stopped.
    pub idle_timeout: HumanDuration,
    /// Longest recorded output line; longer ones are cut with a marker.
    pub max_line_bytes: ByteSize,
    /// Output recorded per task; beyond it lines are counted, not stored, and a marker says so.
    pub max_log_bytes: ByteSize,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            kind: AgentKind::Amp,
            command: None,
            env: BTreeMap::new(),
            turn_timeout: HumanDuration::secs(30 * 60),
            idle_timeout: HumanDuration::secs(10 * 60),
            max_line_bytes: ByteSize(16 << 10),
            max_log_bytes: ByteSize(8 << 20),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GithubConfig {
    pub api_url: String,
    /// Clone URLs are `<git_url>/<owner>/<repo>.git`.
    pub git_url: String,
    /// Personal access token; default: the `GITHUB_TOKEN` environment variable.
    pub token: Option<Secret>,
    pub app: Option<GithubAppConfig>,
    /// Verifies `X-Hub-Signature-256` on `/api/github/webhook`.
    pub webhook_secret: Option<Secret>,
    /// Author of the commits the orchestrator makes for the agent: `Name <email>`.
    pub commit_author: String,
}

impl Default for GithubConfig {
    fn default() -> Self {
        GithubConfig {
            api_url: "https://api.github.com".into(),
            git_url: "https://github.com".into(),
            token: None,
            app: None,
            webhook_secret: None,
            commit_author: "Amp Orchestrator <amp-orchestrator@users.noreply.github.com>".into(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubAppConfig {
    pub app_id: u64,
    pub private_key_path: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrStrategy {
    Auto,
    AfterGreen,
    DraftFirst,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoCiPolicy {
    Success,
    Fail,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CiConfig {
    /// Watch CI and open a pull request after the push. `false`: a task ends once its branch
    /// is pushed.
    pub enabled: bool,
    pub poll_interval: HumanDuration,
    /// A finished CI result must hold this long (late checks, chained workflows) before it counts.
    pub settle_window: HumanDuration,
    pub round_timeout: HumanDuration,
    pub max_iterations: u32,
    pub pr_strategy: PrStrategy,
    pub no_ci_grace: HumanDuration,
    pub no_ci: NoCiPolicy,
    pub rerun_flaky: bool,
    pub ignore_preexisting: bool,
    pub feedback_max_bytes: ByteSize,
}

impl Default for CiConfig {
    fn default() -> Self {
        CiConfig {
            enabled: true,
            poll_interval: HumanDuration::secs(15),
            settle_window: HumanDuration::secs(30),
            round_timeout: HumanDuration::secs(60 * 60),
            max_iterations: 5,
            pr_strategy: PrStrategy::Auto,
            no_ci_grace: HumanDuration::secs(120),
            no_ci: NoCiPolicy::Success,
            rerun_flaky: true,
            ignore_preexisting: true,
            feedback_max_bytes: ByteSize(12 << 10),
        }
    }
}
