//! Development runtime: agents run as host processes in the task's workspace, with no isolation
//! at all (the agent can read and write anything this process can). For trying the orchestrator
//! on a machine without Docker; never for real use. Start-up warns loudly.

use super::{EnvironmentSpec, EnvironmentState, ExecEvent, ExecSpec, Runtime, RuntimeError, Stats};
use app::model::TaskId;
use bytes::Bytes;
use std::{collections::HashMap, path::PathBuf, process::Stdio, sync::Mutex};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
    process::Command,
    sync::mpsc,
};

/// An "environment" here is just a workspace and a home directory.
#[derive(Default)]
pub struct LocalRuntime {
    environments: Mutex<HashMap<String, (PathBuf, PathBuf)>>,
}

impl LocalRuntime {
    pub fn new() -> LocalRuntime {
        tracing::warn!(
            "runtime.kind is `local`: agents run as host processes WITHOUT ANY ISOLATION. \
             Use it only for development; use `docker` for real work."
        );
        LocalRuntime::default()
    }
}

fn id_for(task_id: &TaskId) -> String {
    format!("local-{}", task_id.simple())
}

#[async_trait::async_trait]
impl Runtime for LocalRuntime {
    fn kind(&self) -> &'static str {
        "local"
    }

    async fn create(&self, spec: &EnvironmentSpec) -> Result<String, RuntimeError> {
        tokio::fs::create_dir_all(&spec.home).await.map_err(|e| {
            RuntimeError::Failed(format!("cannot create {}: {e}", spec.home.display()))
        })?;
        let id = id_for(&spec.task_id);
        let mut envs = self.environments.lock().unwrap_or_else(|p| p.into_inner());
        envs.insert(id.clone(), (spec.workspace.clone(), spec.home.clone()));
        Ok(id)
    }

    async fn exec(
        &self,
        id: &str,
        spec: ExecSpec,
    ) -> Result<mpsc::Receiver<ExecEvent>, RuntimeError> {
        let (workspace, home) = self
            .environments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| RuntimeError::Failed(format!("no local environment {id}")))?;
        let (program, args) = spec
            .argv
            .split_first()
            .ok_or_else(|| RuntimeError::Failed("empty command".into()))?;
        let mut child = Command::new(program)
            .args(args)
            .current_dir(&workspace)
            .env("HOME", &home)
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // The process dies with the reader: dropping the receiver ends the turn's process.
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| RuntimeError::Failed(format!("cannot start {program}: {e}")))?;
        let (tx, rx) = mpsc::channel(256);
        let mut stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        tokio::spawn(async move {
            if let Some(mut input) = stdin.take() {
                let _ = input.write_all(&spec.stdin).await;
                drop(input);
            }
            let out = stdout.map(|s| tokio::spawn(pump(s, tx.clone(), ExecEvent::Stdout)));
            let err = stderr.map(|s| tokio::spawn(pump(s, tx.clone(), ExecEvent::Stderr)));
            let status = tokio::select! {
                status = child.wait() => status,
                _ = tx.closed() => return, // nobody follows it any more: kill_on_drop ends it
            };
            for task in [out, err].into_iter().flatten() {
                let _ = task.await;
            }
            let event = match status {
                Ok(s) => ExecEvent::Exited(s.code().map(i64::from)),
                Err(e) => ExecEvent::Lost(e.to_string()),
            };
            let _ = tx.send(event).await;
        });
        Ok(rx)
    }

    async fn state(&self, id: &str) -> Result<Option<EnvironmentState>, RuntimeError> {
        let exists = self
            .environments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(id);
        Ok(exists.then_some(EnvironmentState {
            running: true,
            oom_killed: false,
            exit_code: None,
        }))
    }

    async fn stats(&self, _id: &str) -> Result<Option<Stats>, RuntimeError> {
        Ok(None)
    }

    async fn stop(&self, _id: &str) -> Result<(), RuntimeError> {
        Ok(())
    }

    async fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        self.environments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        Ok(())
    }

    async fn managed(
        &self,
        _instance: &str,
    ) -> Result<Vec<(String, Option<TaskId>)>, RuntimeError> {
        // Host processes do not outlive the orchestrator (kill_on_drop): nothing to adopt.
        Ok(Vec::new())
    }
}

async fn pump(
    mut from: impl AsyncRead + Unpin,
    tx: mpsc::Sender<ExecEvent>,
    wrap: fn(Bytes) -> ExecEvent,
) {
    let mut buf = vec![0u8; 8192];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if tx
                    .send(wrap(Bytes::copy_from_slice(&buf[..n])))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}
