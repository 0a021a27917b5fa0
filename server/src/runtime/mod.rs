//! Where agents run: one long-lived environment per task, commands executed in it with their
//! output streamed. [`docker::DockerRuntime`] is the product (a container per task);
//! [`local::LocalRuntime`] runs host processes without isolation, for development only.

pub mod docker;
pub mod local;

use app::model::TaskId;
use bytes::Bytes;
use std::{path::PathBuf, sync::Arc};
use tokio::sync::mpsc;

/// Label on every container we create; orphan cleanup only ever touches these.
pub const LABEL_MANAGED: &str = "amp-orchestrator.managed";
/// Label naming the installation (its database) that created a container.
pub const LABEL_INSTANCE: &str = "amp-orchestrator.instance";
/// Label naming the task a container belongs to.
pub const LABEL_TASK: &str = "amp-orchestrator.task";
/// Where the task's workspace appears inside its environment.
pub const WORKSPACE_MOUNT: &str = "/workspace";
/// The agent's home inside its environment (Claude Code and Codex keep session state there).
pub const HOME_MOUNT: &str = "/home/agent";

/// What a task's environment is made of.
#[derive(Clone, Debug)]
pub struct EnvironmentSpec {
    pub task_id: TaskId,
    /// The installation's id ([`LABEL_INSTANCE`]).
    pub instance: String,
    pub image: String,
    /// Host directory mounted at [`WORKSPACE_MOUNT`] (the clone).
    pub workspace: PathBuf,
    /// Host directory mounted at [`HOME_MOUNT`]; lives as long as the task.
    pub home: PathBuf,
    pub memory_bytes: u64,
    pub cpus: f64,
    pub pids: u32,
    pub network: String,
    /// `uid:gid` the agent runs as; it owns the workspace and home.
    pub user: String,
}

/// One command to run in an environment. `stdin` is written and then closed.
#[derive(Clone, Debug, Default)]
pub struct ExecSpec {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub stdin: Vec<u8>,
}

/// Output of a running command, in order; `Exited` (or `Lost`) is always last.
#[derive(Clone, Debug, PartialEq)]
pub enum ExecEvent {
    Stdout(Bytes),
    Stderr(Bytes),
    Exited(Option<i64>),
    /// The stream broke before an exit code could be read.
    Lost(String),
}

/// What the runtime knows of an environment's health.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnvironmentState {
    pub running: bool,
    pub oom_killed: bool,
    pub exit_code: Option<i64>,
}

/// A resource sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub cpu_percent: f64,
    pub memory_bytes: u64,
    pub memory_limit_bytes: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("the Docker engine is not reachable: {0}")]
    Unreachable(String),
    #[error("{0}")]
    Failed(String),
}

#[async_trait::async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// `docker` or `local`.
    fn kind(&self) -> &'static str;
    /// Creates and starts the task's environment; returns its id.
    async fn create(&self, spec: &EnvironmentSpec) -> Result<String, RuntimeError>;
    /// Starts a command in the environment and streams its output. Dropping the receiver stops
    /// following it (the process itself ends with the environment).
    async fn exec(
        &self,
        id: &str,
        spec: ExecSpec,
    ) -> Result<mpsc::Receiver<ExecEvent>, RuntimeError>;
    /// Health of the environment; `None` when it no longer exists.
    async fn state(&self, id: &str) -> Result<Option<EnvironmentState>, RuntimeError>;
    /// A resource sample; `None` when the runtime cannot measure.
    async fn stats(&self, id: &str) -> Result<Option<Stats>, RuntimeError>;
    /// Stops everything running in it but keeps it for inspection (`runtime.keep_failed`).
    async fn stop(&self, id: &str) -> Result<(), RuntimeError>;
    /// Removes it and everything running in it. Removing what is already gone is not an error.
    async fn remove(&self, id: &str) -> Result<(), RuntimeError>;
    /// Every environment installation `instance` created that still exists: (id, task).
    async fn managed(&self, instance: &str) -> Result<Vec<(String, Option<TaskId>)>, RuntimeError>;
}

pub type SharedRuntime = Arc<dyn Runtime>;

/// The agent's uid:gid: our own when we are not root (so we can still read what it writes),
/// otherwise an unprivileged 1000:1000 that the workspace is handed to.
pub fn agent_user() -> (u32, u32) {
    let (uid, gid) = current_ids();
    if uid == 0 {
        (1000, 1000)
    } else {
        (uid, gid)
    }
}

fn current_ids() -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective ids; no unsafe libc call needed.
    std::fs::metadata("/proc/self")
        .map(|m| (m.uid(), m.gid()))
        .unwrap_or((0, 0))
}

/// Hands a directory tree to `uid:gid` (recursively). Only meaningful when we are root.
pub async fn chown_tree(path: &std::path::Path, uid: u32, gid: u32) -> Result<(), RuntimeError> {
    let (me, _) = current_ids();
    if me != 0 {
        return Ok(());
    }
    let status = tokio::process::Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{gid}"))
        .arg(path)
        .status()
        .await
        .map_err(|e| RuntimeError::Failed(format!("cannot run chown: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(RuntimeError::Failed(format!(
            "chown of {} failed",
            path.display()
        )))
    }
}
