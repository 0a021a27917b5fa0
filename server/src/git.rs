//! Host-side git for a task's workspace: clone, branch, commit, push.
//!
//! The forge token reaches git only through this process's environment (`GIT_CONFIG_*` sets
//! `http.extraHeader` for the one command): never in a URL, never in argv (visible in `ps`),
//! never in `.git/config`. `GIT_TERMINAL_PROMPT=0` makes a bad token fail instead of waiting for
//! a password, and every error text is scrubbed of the token before it goes anywhere.
//!
//! The workspace's `.git` is writable by the agent, and git runs here with our privileges, so
//! nothing in it is trusted: the remote is always the URL we cloned from (never `origin`, which
//! the agent could point elsewhere to receive our token), and before every command `.git/config`
//! is rewritten to a known-safe minimum (it could otherwise carry `core.fsmonitor`, filter
//! drivers, `include.path`… — commands git would run for us). Hooks are disabled as well.

use crate::config::Secret;
use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};
use tokio::process::Command;

/// Longest a single git command may take (a clone of a large repository included).
const GIT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git {command} failed: {message}")]
    Failed { command: String, message: String },
    #[error("git {command} timed out after {timeout:?}")]
    TimedOut { command: String, timeout: Duration },
    #[error("cannot run git: {0}")]
    Spawn(std::io::Error),
}

/// Who the orchestrator's own commits are by.
#[derive(Clone, Debug)]
pub struct Author {
    pub name: String,
    pub email: String,
}

/// Runs git in one repository directory with the task's credentials.
#[derive(Clone)]
pub struct Git {
    dir: PathBuf,
    /// The one remote this workspace talks to (clone, fetch, push), whatever `.git` says.
    remote: String,
    token: Option<Secret>,
}

impl Git {
    pub fn new(dir: impl Into<PathBuf>, remote: impl Into<String>, token: Option<Secret>) -> Git {
        Git {
            dir: dir.into(),
            remote: remote.into(),
            token: token.filter(|t| !t.is_empty()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Clones the remote into this directory (which must not exist or be empty).
    pub async fn clone_repo(&self) -> Result<(), GitError> {
        let parent = self.dir.parent().unwrap_or(Path::new("."));
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(GitError::Spawn)?;
        let dest = self.dir.to_string_lossy().to_string();
        self.run_in(
            parent,
            &["clone", "--no-tags", "--quiet", &self.remote, &dest],
        )
        .await?;
        Ok(())
    }

    /// The remote's default branch (what `origin/HEAD` points to).
    pub async fn default_branch(&self) -> Result<String, GitError> {
        let head = self
            .run(&["symbolic-ref", "--short", "refs/remotes/origin/HEAD"])
            .await?;
        Ok(head.trim().trim_start_matches("origin/").to_string())
    }

    /// Creates (or resets) `branch` at `origin/<base>` and checks it out; returns the base SHA.
    pub async fn create_branch(&self, branch: &str, base: &str) -> Result<String, GitError> {
        let base_ref = format!("origin/{base}");
        let sha = self
            .run(&["rev-parse", "--verify", &format!("{base_ref}^{{commit}}")])
            .await?;
        self.run(&["checkout", "--quiet", "-B", branch, &base_ref])
            .await?;
        Ok(sha.trim().to_string())
    }

    /// Fetches a branch that may already exist on the remote (after a restart) and checks it out
    /// at the remote's state; returns its SHA, or `None` when the remote has no such branch.
    pub async fn checkout_remote_branch(&self, branch: &str) -> Result<Option<String>, GitError> {
        let refspec = format!("+refs/heads/{branch}:refs/remotes/origin/{branch}");
        if self
            .run(&["fetch", "--quiet", &self.remote, &refspec])
            .await
            .is_err()
        {
            return Ok(None);
        }
        let sha = self
            .run(&["rev-parse", &format!("origin/{branch}")])
            .await?;
        self.run(&[
            "checkout",
            "--quiet",
            "-B",
            branch,
            &format!("origin/{branch}"),
        ])
        .await?;
        Ok(Some(sha.trim().to_string()))
    }

    /// Whether the working tree has anything uncommitted (untracked files included).
    pub async fn has_uncommitted_changes(&self) -> Result<bool, GitError> {
        Ok(!self
            .run(&["status", "--porcelain"])
            .await?
            .trim()
            .is_empty())
    }

    /// Commits everything in the working tree; returns the new HEAD.
    pub async fn commit_all(&self, author: &Author, message: &str) -> Result<String, GitError> {
        self.run(&["add", "--all"]).await?;
        let name = format!("user.name={}", author.name);
        let email = format!("user.email={}", author.email);
        self.run(&[
            "-c",
            &name,
            "-c",
            &email,
            "commit",
            "--quiet",
            "--no-verify",
            "-m",
            message,
        ])
        .await?;
        self.head().await
    }

    pub async fn head(&self) -> Result<String, GitError> {
        Ok(self.run(&["rev-parse", "HEAD"]).await?.trim().to_string())
    }

    /// Commits on HEAD that are not in `base_sha` (how many the branch is ahead).
    pub async fn commits_since(&self, base_sha: &str) -> Result<u64, GitError> {
        let out = self
            .run(&["rev-list", "--count", &format!("{base_sha}..HEAD")])
            .await?;
        Ok(out.trim().parse().unwrap_or(0))
    }

    /// The SHA the remote has for `branch`, if any.
    pub async fn remote_branch_sha(&self, branch: &str) -> Result<Option<String>, GitError> {
        let out = self
            .run(&[
                "ls-remote",
                "--heads",
                &self.remote,
                &format!("refs/heads/{branch}"),
            ])
            .await?;
        Ok(out.split_whitespace().next().map(str::to_string))
    }

    /// Pushes HEAD to `branch` on origin. Forced with a lease on what we last pushed, so a
    /// history the agent rewrote still lands, but someone else's push is never overwritten.
    pub async fn push(&self, branch: &str, last_pushed: Option<&str>) -> Result<(), GitError> {
        let refspec = format!("HEAD:refs/heads/{branch}");
        let lease = format!(
            "--force-with-lease=refs/heads/{branch}:{}",
            last_pushed.unwrap_or("")
        );
        self.run(&[
            "push",
            "--quiet",
            "--no-verify",
            &lease,
            &self.remote,
            &refspec,
        ])
        .await?;
        Ok(())
    }

    async fn run(&self, args: &[&str]) -> Result<String, GitError> {
        self.sanitize_config().await?;
        self.run_in(&self.dir, args).await
    }

    /// Rewrites `.git/config` to what a fresh clone needs and nothing else (see the module docs).
    /// Only the object format is carried over, as it decides how the repository is read.
    async fn sanitize_config(&self) -> Result<(), GitError> {
        let path = self.dir.join(".git").join("config");
        let Ok(current) = tokio::fs::read_to_string(&path).await else {
            return Ok(()); // no repository yet (before the clone)
        };
        let sha256 = current.lines().any(|l| {
            let l = l.trim().to_ascii_lowercase().replace(' ', "");
            l == "objectformat=sha256"
        });
        let mut safe =
            String::from("[core]\n\tbare = false\n\tlogallrefupdates = true\n\tfilemode = true\n");
        if sha256 {
            safe.push_str("\trepositoryformatversion = 1\n[extensions]\n\tobjectformat = sha256\n");
        } else {
            safe.push_str("\trepositoryformatversion = 0\n");
        }
        // `origin` keeps local remote-tracking refs meaningful; pushes never go through it.
        safe.push_str(&format!(
            "[remote \"origin\"]\n\turl = {}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n",
            self.remote
        ));
        if current != safe {
            tokio::fs::write(&path, safe)
                .await
                .map_err(GitError::Spawn)?;
        }
        Ok(())
    }

    async fn run_in(&self, cwd: &Path, args: &[&str]) -> Result<String, GitError> {
        let command_name = args
            .iter()
            .find(|a| !a.starts_with('-') && !a.contains('='))
            .copied()
            .unwrap_or("")
            .to_string();
        let mut cmd = Command::new("git");
        cmd.args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "/bin/true")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("LC_ALL", "C");
        for (key, value) in self.config_env() {
            cmd.env(key, value);
        }
        let output = tokio::time::timeout(GIT_TIMEOUT, cmd.output())
            .await
            .map_err(|_| GitError::TimedOut {
                command: command_name.clone(),
                timeout: GIT_TIMEOUT,
            })?
            .map_err(GitError::Spawn)?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).to_string());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let message = stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        Err(GitError::Failed {
            command: command_name,
            message: self.scrub(if message.is_empty() {
                "no output"
            } else {
                &message
            }),
        })
    }

    /// Per-command git config through the environment (`GIT_CONFIG_COUNT`/`KEY_n`/`VALUE_n`):
    /// the token header, and `safe.directory` because the workspace belongs to the container's
    /// user while git runs as ours.
    fn config_env(&self) -> Vec<(String, String)> {
        let mut pairs = vec![
            ("safe.directory".to_string(), "*".to_string()),
            ("core.hooksPath".to_string(), "/dev/null".to_string()),
            ("core.fsmonitor".to_string(), "false".to_string()),
            ("credential.helper".to_string(), String::new()),
            // Never follow a redirect to another host with our header.
            ("http.followRedirects".to_string(), "false".to_string()),
        ];
        if let Some(token) = &self.token {
            pairs.push((
                "http.extraHeader".to_string(),
                format!("Authorization: Basic {}", basic_credentials(token.expose())),
            ));
        }
        let mut env = vec![("GIT_CONFIG_COUNT".to_string(), pairs.len().to_string())];
        for (i, (key, value)) in pairs.into_iter().enumerate() {
            env.push((format!("GIT_CONFIG_KEY_{i}"), key));
            env.push((format!("GIT_CONFIG_VALUE_{i}"), value));
        }
        env
    }

    /// Removes the token (raw and encoded) from text that may be shown or logged.
    pub fn scrub(&self, text: &str) -> String {
        match &self.token {
            Some(token) => text
                .replace(token.expose(), "***")
                .replace(&basic_credentials(token.expose()), "***"),
            None => text.to_string(),
        }
    }
}

/// `x-access-token:<token>` in base64: what GitHub accepts for HTTPS git with any token kind.
pub fn basic_credentials(token: &str) -> String {
    base64_encode(format!("x-access-token:{token}").as_bytes())
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `amp/<short-id>-<slug>`: the task's branch name, readable and unique per task.
pub fn branch_name(task_id: &uuid::Uuid, prompt: &str) -> String {
    // The tail of a UUIDv7 is random; its head is a timestamp shared by tasks created together.
    let hex = task_id.simple().to_string();
    let short = &hex[hex.len() - 8..];
    let slug = slugify(prompt, 40);
    if slug.is_empty() {
        format!("amp/{short}")
    } else {
        format!("amp/{short}-{slug}")
    }
}

/// Lowercase ASCII words joined by `-`, at most `max` bytes, cut at a word boundary.
pub fn slugify(text: &str, max: usize) -> String {
    let mut slug = String::new();
    for word in text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let word = word.to_ascii_lowercase();
        let needed = if slug.is_empty() {
            word.len()
        } else {
            word.len() + 1
        };
        if slug.len() + needed > max {
            if slug.is_empty() {
                slug.push_str(&word[..max.min(word.len())]);
            }
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(&word);
    }
    slug
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet_and_padding() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(
            base64_encode(b"x-access-token:abc"),
            "eC1hY2Nlc3MtdG9rZW46YWJj"
        );
    }

    #[test]
    fn branch_names_are_short_readable_and_valid() {
        let id = uuid::Uuid::parse_str("0190a4d2-1111-7000-8000-00000abcdef1").unwrap();
        assert_eq!(
            branch_name(&id, "Fix the flaky date test!"),
            "amp/0abcdef1-fix-the-flaky-date-test"
        );
        assert_eq!(branch_name(&id, "日本語だけ"), "amp/0abcdef1");
        let long = branch_name(&id, &"word ".repeat(50));
        assert!(long.len() <= "amp/0abcdef1-".len() + 40, "{long}");
        assert!(!long.ends_with('-'));
        assert_eq!(app::validate::branch_error(&long), None);
        assert_eq!(
            slugify("Supercalifragilisticexpialidocious", 10),
            "supercalif"
        );
    }

    #[test]
    fn scrub_removes_raw_and_encoded_tokens() {
        let git = Git::new(
            "/tmp",
            "https://example.com/o/r.git",
            Some(Secret::new("ghs_secret")),
        );
        let header = basic_credentials("ghs_secret");
        let text = format!("fatal: https://x:ghs_secret@host and Authorization: Basic {header}");
        let clean = git.scrub(&text);
        assert!(
            !clean.contains("ghs_secret") && !clean.contains(&header),
            "{clean}"
        );
    }

    async fn sh(dir: &Path, script: &str) {
        let ok = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .status()
            .await
            .unwrap()
            .success();
        assert!(ok, "{script}");
    }

    /// A bare "remote" with one commit on `main`, as a file:// URL.
    async fn remote(root: &Path) -> String {
        let bare = root.join("remote.git");
        let seed = root.join("seed");
        std::fs::create_dir_all(&seed).unwrap();
        sh(
            root,
            &format!("git init --quiet --bare -b main {}", bare.display()),
        )
        .await;
        sh(
            &seed,
            &format!(
                "git init --quiet -b main && echo hi > README && git add README && \
                 git -c user.name=t -c user.email=t@t commit --quiet -m init && git push --quiet {} main",
                bare.display()
            ),
        )
        .await;
        format!("file://{}", bare.display())
    }

    #[tokio::test]
    async fn clone_branch_commit_push_round_trip() {
        let root = tempfile::tempdir().unwrap();
        let url = remote(root.path()).await;
        let git = Git::new(root.path().join("ws"), &url, None);
        git.clone_repo().await.unwrap();
        assert_eq!(git.default_branch().await.unwrap(), "main");
        let base = git.create_branch("amp/x-test", "main").await.unwrap();
        assert!(!git.has_uncommitted_changes().await.unwrap());

        std::fs::write(git.dir().join("new.txt"), "agent was here\n").unwrap();
        assert!(git.has_uncommitted_changes().await.unwrap());
        let author = Author {
            name: "Amp Orchestrator".into(),
            email: "bot@example.com".into(),
        };
        let sha = git.commit_all(&author, "amp: task 1").await.unwrap();
        assert_ne!(sha, base);
        assert_eq!(git.commits_since(&base).await.unwrap(), 1);
        assert_eq!(git.remote_branch_sha("amp/x-test").await.unwrap(), None);
        git.push("amp/x-test", None).await.unwrap();
        assert_eq!(
            git.remote_branch_sha("amp/x-test")
                .await
                .unwrap()
                .as_deref(),
            Some(sha.as_str())
        );

        // A second clone (a restart) picks the branch up where the remote has it.
        let again = Git::new(root.path().join("ws2"), &url, None);
        again.clone_repo().await.unwrap();
        assert_eq!(
            again
                .checkout_remote_branch("amp/x-test")
                .await
                .unwrap()
                .as_deref(),
            Some(sha.as_str())
        );
        assert_eq!(
            again.checkout_remote_branch("amp/nope").await.unwrap(),
            None
        );

        // What the agent writes into .git/config is not obeyed by our git.
        let marker = root.path().join("pwned");
        let evil = format!(
            "[core]\n\tfsmonitor = touch {m}\n[alias]\n\tst = !touch {m}\n[remote \"origin\"]\n\turl = http://attacker.invalid/x.git\n",
            m = marker.display()
        );
        std::fs::write(git.dir().join(".git/config"), evil).unwrap();
        std::fs::write(git.dir().join("more.txt"), "x\n").unwrap();
        assert!(git.has_uncommitted_changes().await.unwrap());
        git.commit_all(&author, "amp: more").await.unwrap();
        git.push("amp/x-test", Some(&sha)).await.unwrap();
        assert!(
            !marker.exists(),
            "a command from the agent's .git/config ran"
        );
        let config = std::fs::read_to_string(git.dir().join(".git/config")).unwrap();
        assert!(
            !config.contains("attacker") && config.contains(&url),
            "{config}"
        );

        // Errors name the command and carry git's message.
        let err = git
            .create_branch("b", "no-such-base")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("rev-parse"), "{err}");
    }
}
