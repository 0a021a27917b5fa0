//! The task's workspace on the host and its container: preparing both (clone, branch, container),
//! committing and pushing each turn's work, and tearing down. Git runs here, never in the
//! container, so the forge token never reaches the agent.

use super::actor::{store_stop, Stop, TaskActor};
use crate::{
    git::{self, Author, Git},
    runtime::{self, EnvironmentSpec},
    store::RunPhase,
};
use app::model::{Task, TaskEvent};
use std::path::PathBuf;

impl TaskActor {
    /// The token git uses: the App's installation token for this repository, or `github.token`.
    pub(super) async fn git_token(&self) -> Result<Option<crate::config::Secret>, Stop> {
        match &self.deps.forge {
            Some(forge) if self.deps.config.github.app.is_some() => forge
                .git_token(&self.task.repo)
                .await
                .map(Some)
                .map_err(|e| {
                    Stop::Failed(format!(
                        "github_failed: cannot get a token to push with: {e}"
                    ))
                }),
            _ => Ok(self.deps.config.github.token.clone()),
        }
    }

    /// `<github.git_url>/<owner>/<repo>.git`.
    pub(super) fn remote_url(&self) -> String {
        let base = self.deps.config.github.git_url.trim_end_matches('/');
        format!("{base}/{}.git", self.task.repo)
    }

    /// `(workspace, home)` on the host.
    pub(super) fn paths(&self) -> (PathBuf, PathBuf) {
        let base = absolute(&self.deps.config.runtime.data_dir).join(self.task.id.to_string());
        (base.join("workspace"), base.join("home"))
    }

    /// Clone, branch, container.
    pub(super) async fn prepare(&mut self) -> Result<(), Stop> {
        self.run.phase = RunPhase::Preparing;
        self.save_run().await?;
        let (workspace, home) = self.paths();
        let base = workspace.parent().map(PathBuf::from).unwrap_or_default();
        // A fresh start: anything left from an earlier attempt goes.
        let _ = tokio::fs::remove_dir_all(&base).await;
        tokio::fs::create_dir_all(&home).await.map_err(|e| {
            Stop::Failed(format!(
                "workspace_error: cannot create {}: {e}",
                home.display()
            ))
        })?;

        let token = self.git_token().await?;
        let git = Git::new(&workspace, self.remote_url(), token);
        self.guard(git.clone_repo())
            .await?
            .map_err(|e| Stop::Failed(format!("clone_failed: {}", git.scrub(&e.to_string()))))?;
        let base_branch = match self.task.base_branch.clone() {
            Some(b) => b,
            None => self.guard(git.default_branch()).await?.map_err(|e| {
                Stop::Failed(format!("clone_failed: cannot tell the default branch: {e}"))
            })?,
        };
        let branch = git::branch_name(&self.task.id, &self.task.prompt);
        let base_sha = self
            .guard(git.create_branch(&branch, &base_branch))
            .await?
            .map_err(|_| {
                Stop::Failed(format!(
                    "base_branch_missing: the repository has no branch `{base_branch}`"
                ))
            })?;
        self.deps
            .hub
            .store()
            .set_branch(self.task.id, &branch)
            .await
            .map_err(store_stop)?;
        self.task.branch = Some(branch.clone());
        self.emit(TaskEvent::BranchCreated {
            branch,
            base: base_branch.clone(),
            base_sha: base_sha.clone(),
        })
        .await;
        self.run.base_branch = Some(base_branch);
        self.run.base_sha = Some(base_sha);
        self.git = Some(git);

        let (uid, gid) = runtime::agent_user();
        runtime::chown_tree(&base, uid, gid)
            .await
            .map_err(|e| Stop::Failed(format!("workspace_error: {e}")))?;
        let rt = &self.deps.config.runtime;
        let spec = EnvironmentSpec {
            task_id: self.task.id,
            instance: self.deps.instance.clone(),
            image: rt.image.clone(),
            workspace,
            home,
            memory_bytes: rt.memory.0,
            cpus: rt.cpus,
            pids: rt.pids,
            network: rt.network.clone(),
            user: format!("{uid}:{gid}"),
        };
        let container = self
            .guard(self.deps.runtime.create(&spec))
            .await?
            .map_err(|e| Stop::Failed(format!("container_failed: {e}")))?;
        self.run.container_id = Some(container.clone());
        self.save_run().await?;
        self.emit(TaskEvent::ContainerCreated {
            container_id: container.clone(),
            image: spec.image.clone(),
        })
        .await;
        self.emit(TaskEvent::ContainerStarted {
            container_id: container,
        })
        .await;
        self.run.phase = RunPhase::Prepared;
        self.save_run().await
    }

    /// Commits what the agent left uncommitted; returns whether the turn changed anything since
    /// the last push. The first turn must have changed something (`no_changes`).
    pub(super) async fn commit_turn(&mut self, turn: u32) -> Result<bool, Stop> {
        let git = self
            .git
            .clone()
            .ok_or_else(|| Stop::Failed("internal: no workspace".into()))?;
        let dirty = git
            .has_uncommitted_changes()
            .await
            .map_err(|e| Stop::Failed(format!("git_failed: {e}")))?;
        if dirty {
            let (name, email) = self.deps.config.commit_author().unwrap_or_default();
            let message = commit_message(&self.task, turn);
            let sha = git
                .commit_all(&Author { name, email }, &message)
                .await
                .map_err(|e| Stop::Failed(format!("git_failed: {}", git.scrub(&e.to_string()))))?;
            let first_line = message.lines().next().unwrap_or_default().to_string();
            self.emit(TaskEvent::Committed {
                sha,
                message: first_line,
            })
            .await;
        }
        let base = self.run.base_sha.clone().unwrap_or_default();
        let ahead = git
            .commits_since(&base)
            .await
            .map_err(|e| Stop::Failed(format!("git_failed: {e}")))?;
        if turn == 1 && ahead == 0 {
            return Err(Stop::Failed(
                "no_changes: the agent finished without changing anything".into(),
            ));
        }
        let head = git
            .head()
            .await
            .map_err(|e| Stop::Failed(format!("git_failed: {e}")))?;
        let changed = match &self.run.pushed_sha {
            Some(pushed) => *pushed != head,
            None => ahead > 0,
        };
        self.run.phase = RunPhase::TurnDone;
        self.save_run().await?;
        // Files git wrote as us go back to the agent, which may run git itself next turn.
        let (uid, gid) = runtime::agent_user();
        let _ = runtime::chown_tree(git.dir(), uid, gid).await;
        Ok(changed)
    }

    /// Pushes HEAD unless that exact commit is already on the remote (a restart between push
    /// and bookkeeping must not push the same turn twice).
    pub(super) async fn push(&mut self) -> Result<(), Stop> {
        // A fresh token: a GitHub App's installation token may have been renewed since the clone.
        let token = self.git_token().await?;
        let git = Git::new(self.paths().0, self.remote_url(), token);
        self.git = Some(git.clone());
        let branch = self
            .task
            .branch
            .clone()
            .ok_or_else(|| Stop::Failed("internal: no branch".into()))?;
        let head = git
            .head()
            .await
            .map_err(|e| Stop::Failed(format!("git_failed: {e}")))?;
        let remote = self
            .guard(git.remote_branch_sha(&branch))
            .await?
            .map_err(|e| Stop::Failed(format!("push_failed: {}", git.scrub(&e.to_string()))))?;
        if remote.as_deref() != Some(head.as_str()) {
            self.guard(git.push(&branch, remote.as_deref()))
                .await?
                .map_err(|e| Stop::Failed(format!("push_failed: {}", git.scrub(&e.to_string()))))?;
            self.emit(TaskEvent::Pushed {
                branch,
                sha: head.clone(),
            })
            .await;
        }
        self.run.pushed_sha = Some(head);
        self.run.phase = RunPhase::Pushed;
        self.save_run().await
    }

    pub(super) async fn teardown(&mut self, failed: bool) {
        self.report_dropped_output().await;
        let keep = failed && self.deps.config.runtime.keep_failed;
        if let Some(container) = self.run.container_id.clone() {
            let result = if keep {
                self.deps.runtime.stop(&container).await
            } else {
                self.deps.runtime.remove(&container).await
            };
            match result {
                Ok(()) => {
                    self.emit(TaskEvent::ContainerRemoved {
                        container_id: container,
                        kept: keep,
                    })
                    .await
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot remove the container; startup cleanup will retry")
                }
            }
        }
        if !keep {
            let (workspace, _) = self.paths();
            if let Some(base) = workspace.parent() {
                let _ = tokio::fs::remove_dir_all(base).await;
            }
        }
        self.run.phase = RunPhase::Finished;
        let _ = self.save_run().await;
    }
}

fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `amp: <first line of the prompt>` plus the task id, for a reader of `git log`.
fn commit_message(task: &Task, turn: u32) -> String {
    let first = task
        .prompt
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("changes")
        .trim();
    let mut title: String = first.chars().take(64).collect();
    if first.chars().count() > 64 {
        title.push('…');
    }
    format!(
        "amp: {title}\n\nAmp Orchestrator task {} (agent turn {turn}).",
        task.id
    )
}
