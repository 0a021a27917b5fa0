//! The one place configuration lives: `config.yml` (`--config`), every key with a default, strict
//! about unknown keys and bad values, secrets from the environment.
//!
//! Loading is three steps: parse YAML into a tree, expand `${VAR}` / `${VAR:-default}` in string
//! values (so a secret never has to be written into the file), then deserialize into [`Config`]
//! with the key path tracked, so every error names the key at fault.

mod sections;
mod units;

pub use sections::*;
pub use units::{ByteSize, HumanDuration};

use serde::{Deserialize, Serialize};
use std::{fmt, net::SocketAddr, path::PathBuf};

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
