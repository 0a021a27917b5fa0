//! The one place configuration lives: `config.yml` (`--config`), every key with a default, strict
//! about unknown keys and bad values, secrets from the environment.
//!
//! Loading is three steps: parse YAML into a tree, expand `${VAR}` / `${VAR:-default}` in string
//! values (so a secret never has to be written into the file), then deserialize into [`Config`]
//! with the key path tracked, so every error names the key at fault.

mod units;

pub use units::{ByteSize, HumanDuration};

use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, fmt, net::SocketAddr, path::PathBuf};

/// A value that must never be printed: `Debug` and `Display` redact it, and it serializes as
/// `"***"`, so it cannot leak through logs, error messages or a config dump.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret itself, for the one place that must send it somewhere.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

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

/// A config problem, always naming the key (`server.listen: …`).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

fn invalid(key: &str, msg: impl fmt::Display) -> ConfigError {
    ConfigError::Invalid(format!("{key}: {msg}"))
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &std::path::Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_yaml(&text, &|name| std::env::var(name).ok()).map_err(|e| match e {
            ConfigError::Invalid(msg) => ConfigError::Invalid(format!("{}: {msg}", path.display())),
            other => other,
        })
    }

    /// Parses config text; `env` looks up environment variables (a parameter so tests need not
    /// touch the process environment).
    pub fn from_yaml(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut tree: serde_yaml::Value = if text.trim().is_empty() {
            serde_yaml::Value::Null
        } else {
            serde_yaml::from_str(text)
                .map_err(|e| ConfigError::Invalid(format!("not valid YAML: {e}")))?
        };
        if tree.is_null() {
            tree = serde_yaml::Value::Mapping(Default::default());
        }
        expand_env(&mut tree, "", env)?;
        let mut config: Config =
            serde_path_to_error::deserialize(tree).map_err(describe_serde_error)?;
        config.apply_env_defaults(env);
        config.validate()?;
        Ok(config)
    }

    /// Secrets that are conventionally in the environment fill keys the file left empty.
    fn apply_env_defaults(&mut self, env: &dyn Fn(&str) -> Option<String>) {
        let present = |v: Option<String>| v.filter(|s| !s.is_empty()).map(Secret);
        if self.github.token.as_ref().is_none_or(Secret::is_empty) {
            self.github.token = present(env("GITHUB_TOKEN"));
        }
        for key in ["AMP_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_API_KEY"] {
            if !self.agent.env.contains_key(key) {
                if let Some(v) = present(env(key)) {
                    self.agent.env.insert(key.to_string(), v);
                }
            }
        }
        self.auth.api_tokens.retain(|t| !t.is_empty());
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        let url = &self.database.url;
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Err(invalid(
                "database.url",
                "Postgres is reserved for a later release; use a `sqlite://` URL for now",
            ));
        }
        if !url.starts_with("sqlite:") {
            return Err(invalid(
                "database.url",
                format!("`{url}` is not a database URL; expected `sqlite://path/to/file.db`"),
            ));
        }
        if self.database.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        if self.server.max_prompt_bytes.0 == 0 {
            return Err(invalid("server.max_prompt_bytes", "must be at least 1"));
        }
        if self.server.max_body_bytes.0 < 1024 {
            return Err(invalid("server.max_body_bytes", "must be at least 1k"));
        }
        if self.server.sse_keep_alive.0.is_zero() {
            return Err(invalid("server.sse_keep_alive", "must be more than 0s"));
        }
        if self.workers.max_concurrent == 0 {
            return Err(invalid("workers.max_concurrent", "must be at least 1"));
        }
        if !(self.runtime.cpus > 0.0 && self.runtime.cpus.is_finite()) {
            return Err(invalid("runtime.cpus", "must be a positive number"));
        }
        if self.runtime.memory.0 < (6 << 20) {
            return Err(invalid(
                "runtime.memory",
                "must be at least 6m (Docker's minimum)",
            ));
        }
        if self.runtime.stats_interval.0 < std::time::Duration::from_millis(100) {
            return Err(invalid("runtime.stats_interval", "must be at least 100ms"));
        }
        if self.agent.turn_timeout.0.is_zero() || self.agent.idle_timeout.0.is_zero() {
            return Err(invalid(
                "agent.turn_timeout",
                "timeouts must be more than 0s",
            ));
        }
        if self.agent.max_line_bytes.0 < 256 {
            return Err(invalid("agent.max_line_bytes", "must be at least 256"));
        }
        if self.agent.kind == AgentKind::Command
            && self
                .agent
                .command
                .as_deref()
                .is_none_or(|c| c.trim().is_empty())
        {
            return Err(invalid(
                "agent.command",
                "is required when agent.kind is `command`",
            ));
        }
        if self.commit_author().is_none() {
            return Err(invalid(
                "github.commit_author",
                "must look like `Name <email>`",
            ));
        }
        if self.runtime.pids == 0 {
            return Err(invalid("runtime.pids", "must be at least 1"));
        }
        if let Some(url) = &self.server.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(invalid(
                    "server.public_url",
                    format!("`{url}` must be an http(s) URL"),
                ));
            }
        }
        if self.ci.poll_interval.0 < std::time::Duration::from_millis(100) {
            return Err(invalid("ci.poll_interval", "must be at least 100ms"));
        }
        if !app::validate::MAX_ITERATIONS_RANGE.contains(&self.ci.max_iterations) {
            return Err(invalid("ci.max_iterations", "must be between 1 and 100"));
        }
        for (key, value) in [
            ("github.api_url", &self.github.api_url),
            ("github.git_url", &self.github.git_url),
        ] {
            if !(value.starts_with("http://") || value.starts_with("https://")) {
                return Err(invalid(key, format!("`{value}` must be an http(s) URL")));
            }
        }
        for (i, token) in self.auth.api_tokens.iter().enumerate() {
            if token.expose().len() < 16 {
                return Err(invalid(
                    &format!("auth.api_tokens[{i}]"),
                    "is shorter than 16 characters; use a long random token",
                ));
            }
        }
        Ok(())
    }

    /// `github.commit_author` split into name and email.
    pub fn commit_author(&self) -> Option<(String, String)> {
        let text = self.github.commit_author.trim();
        let (name, rest) = text.split_once('<')?;
        let email = rest.strip_suffix('>')?.trim();
        let name = name.trim();
        (!name.is_empty() && email.contains('@')).then(|| (name.to_string(), email.to_string()))
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        let listen = &self.server.listen;
        let normalized = listen
            .strip_prefix("localhost:")
            .map(|port| format!("127.0.0.1:{port}"));
        normalized
            .as_deref()
            .unwrap_or(listen)
            .parse()
            .map_err(|_| {
                invalid(
                    "server.listen",
                    format!("`{listen}` is not an address such as `127.0.0.1:8080`"),
                )
            })
    }
}

/// Expands `${VAR}` and `${VAR:-default}` inside string values. An unset variable without a
/// default is an error naming the key; `$$` is a literal `$`.
fn expand_env(
    value: &mut serde_yaml::Value,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    match value {
        serde_yaml::Value::String(s) if s.contains('$') => {
            *s = expand_str(s, env).map_err(|msg| invalid(path, msg))?;
        }
        serde_yaml::Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                let key = k
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{k:?}"));
                let child = if path.is_empty() {
                    key
                } else {
                    format!("{path}.{key}")
                };
                expand_env(v, &child, env)?;
            }
        }
        serde_yaml::Value::Sequence(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                expand_env(v, &format!("{path}[{i}]"), env)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn expand_str(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or("unclosed `${` (write `$$` for a literal `$`)")?;
            let (name, default) = match body[..end].split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (&body[..end], None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "`${{{}}}` is not a valid variable reference",
                    &body[..end]
                ));
            }
            match (env(name), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => {
                    return Err(format!(
                    "environment variable {name} is not set (write `${{{name}:-}}` to allow that)"
                ))
                }
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn describe_serde_error(err: serde_path_to_error::Error<serde_yaml::Error>) -> ConfigError {
    let path = err.path().to_string();
    let inner = err.inner().to_string();
    // serde_yaml appends " at line N column M"; the key path says more.
    let message = inner
        .split(" at line ")
        .next()
        .unwrap_or(&inner)
        .to_string();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        // The path already ends at the unknown key (`server.lisen`); at the top level it is `.`.
        let key = if path == "." || path.is_empty() {
            field.to_string()
        } else {
            path.clone()
        };
        let expected = expected.trim_start_matches(", ");
        return ConfigError::Invalid(format!("unknown key `{key}` ({expected})"));
    }
    let key = if path == "." || path.is_empty() {
        "config".to_string()
    } else {
        path
    };
    ConfigError::Invalid(format!("{key}: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn err(yaml: &str) -> String {
        Config::from_yaml(yaml, &no_env).unwrap_err().to_string()
    }

    #[test]
    fn empty_file_gives_documented_defaults() {
        let c = Config::from_yaml("", &no_env).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:8080");
        assert_eq!(c.database.url, "sqlite://data/orchestrator.db");
        assert_eq!(c.server.max_prompt_bytes, ByteSize(65_536));
        assert_eq!(c.server.max_body_bytes, ByteSize(1 << 20));
        assert!(c.auth.api_tokens.is_empty());
        assert_eq!(c.workers.max_concurrent, 2);
        assert_eq!(c.ci.max_iterations, 5);
        assert_eq!(c.ci.feedback_max_bytes, ByteSize(12 << 10));
    }

    #[test]
    fn the_committed_example_config_is_valid() {
        let text = include_str!("../../../config.example.yml");
        Config::from_yaml(text, &no_env).unwrap();
    }

    #[test]
    fn unknown_keys_are_named_with_their_path() {
        let e = err("server:\n  lisen: 1.2.3.4:80\n");
        assert!(e.contains("unknown key `server.lisen`"), "{e}");
        assert!(e.contains("listen"), "{e}");
        let e = err("servers: {}\n");
        assert!(e.contains("unknown key `servers`"), "{e}");
        let e = err("github:\n  app:\n    app_id: 1\n    private_key_path: k.pem\n    extra: 1\n");
        assert!(e.contains("unknown key `github.app.extra`"), "{e}");
    }

    #[test]
    fn bad_values_are_named_with_their_path() {
        let e = err("ci:\n  poll_interval: 15\n");
        assert!(e.starts_with("ci.poll_interval:"), "{e}");
        assert!(e.contains("needs a unit"), "{e}");
        let e = err("runtime:\n  memory: lots\n");
        assert!(e.starts_with("runtime.memory:"), "{e}");
        let e = err("workers:\n  max_concurrent: -1\n");
        assert!(e.starts_with("workers.max_concurrent:"), "{e}");
        let e = err("workers:\n  max_concurrent: 0\n");
        assert!(e.starts_with("workers.max_concurrent:"), "{e}");
        let e = err("server:\n  listen: nowhere\n");
        assert!(e.starts_with("server.listen:"), "{e}");
        let e = err("agent:\n  kind: gpt\n");
        assert!(e.starts_with("agent.kind:"), "{e}");
        let e = err("database:\n  url: postgres://x/y\n");
        assert!(e.starts_with("database.url:"), "{e}");
        let e = err("auth:\n  api_tokens: [tiny-tok]\n");
        assert!(e.starts_with("auth.api_tokens[0]:"), "{e}");
        assert!(!e.contains("tiny-tok"), "a token must not be echoed: {e}");
        assert!(err("server: [1, 2").contains("not valid YAML"));
    }

    #[test]
    fn env_references_expand_and_missing_ones_name_the_key() {
        let env = |name: &str| (name == "TOKEN").then(|| "0123456789abcdef-secret".to_string());
        let c = Config::from_yaml(
            "auth:\n  api_tokens: [\"${TOKEN}\"]\ngithub:\n  token: ${NOPE:-}\n",
            &env,
        )
        .unwrap();
        assert_eq!(c.auth.api_tokens[0].expose(), "0123456789abcdef-secret");
        assert_eq!(c.github.token, None, "an empty default means unset");
        let e = Config::from_yaml("github:\n  token: ${NOPE}\n", &env)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("github.token:") && e.contains("NOPE is not set"),
            "{e}"
        );
        assert_eq!(expand_str("a$$b${X:-d}", &no_env).unwrap(), "a$bd");
        assert!(expand_str("${unclosed", &no_env).is_err());
    }

    #[test]
    fn conventional_env_vars_fill_secrets() {
        let env = |name: &str| match name {
            "GITHUB_TOKEN" => Some("ghp_fromenv".to_string()),
            "AMP_API_KEY" => Some("amp-key".to_string()),
            _ => None,
        };
        let c = Config::from_yaml("", &env).unwrap();
        assert_eq!(c.github.token.unwrap().expose(), "ghp_fromenv");
        assert_eq!(c.agent.env["AMP_API_KEY"].expose(), "amp-key");
    }

    #[test]
    fn secrets_never_print() {
        let c = Config::from_yaml("github:\n  token: ghp_verysecret\n", &no_env).unwrap();
        assert!(!format!("{c:?}").contains("ghp_verysecret"));
        assert!(!serde_json::to_string(&c)
            .unwrap()
            .contains("ghp_verysecret"));
    }
}
