//! Last line of defence for secrets: every text a task records passes through [`Scrubber`], which
//! replaces any configured secret value (the forge token, agent API keys, API tokens) with `***`.
//! An agent that prints its environment must not put a key into the event log.

use crate::config::Config;
use std::borrow::Cow;

#[derive(Clone, Debug, Default)]
pub struct Scrubber {
    secrets: Vec<String>,
}

/// Secrets shorter than this are not scrubbed: replacing "a" everywhere would shred the log.
const MIN_SECRET_LEN: usize = 6;

impl Scrubber {
    pub fn new(values: impl IntoIterator<Item = String>) -> Scrubber {
        let mut secrets: Vec<String> = values
            .into_iter()
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Scrubber { secrets }
    }

    /// Every secret value in the configuration.
    pub fn from_config(config: &Config) -> Scrubber {
        let mut values: Vec<String> = config
            .agent
            .env
            .values()
            .map(|s| s.expose().to_string())
            .collect();
        values.extend(config.github.token.iter().map(|s| s.expose().to_string()));
        values.extend(
            config
                .github
                .webhook_secret
                .iter()
                .map(|s| s.expose().to_string()),
        );
        values.extend(
            config
                .auth
                .api_tokens
                .iter()
                .map(|s| s.expose().to_string()),
        );
        Scrubber::new(values)
    }

    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !self.secrets.iter().any(|s| text.contains(s.as_str())) {
            return Cow::Borrowed(text);
        }
        let mut out = text.to_string();
        for secret in &self.secrets {
            out = out.replace(secret.as_str(), "***");
        }
        Cow::Owned(out)
    }

    pub fn scrub_owned(&self, text: String) -> String {
        match self.scrub(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_every_secret_longest_first_and_leaves_the_rest() {
        let s = Scrubber::new([
            "sk-abcdef".to_string(),
            "sk-abcdef-longer".to_string(),
            "ab".to_string(),
        ]);
        assert_eq!(
            s.scrub("key=sk-abcdef-longer and sk-abcdef; ab stays"),
            "key=*** and ***; ab stays"
        );
        assert!(matches!(s.scrub("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn collects_secrets_from_the_config() {
        let config = Config::from_yaml(
            "agent:\n  env:\n    AMP_API_KEY: amp-secret-1\ngithub:\n  token: ghp_secret_2\n",
            &|_| None,
        )
        .unwrap();
        let s = Scrubber::from_config(&config);
        assert_eq!(s.scrub("amp-secret-1 ghp_secret_2"), "*** ***");
    }
}
