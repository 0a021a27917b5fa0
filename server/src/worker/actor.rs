//! The task actor: the only writer of one task's state and events while it runs.
//!
//! queued → preparing (clone on the host, branch, container) → running (agent turn) → commit and
//! push on the host → succeeded; any failure → failed with a reason; cancel → cancelled. The
//! container lives from preparation to teardown, across every turn. Progress is persisted in
//! `task_runs` at each step so a restart can tell what is safe to do next (see `recovery`).
//!
//! The actor's steps live beside it: `workspace` (prepare, commit, push, teardown), `turn` (one
//! agent turn) and `ci_loop` (watch CI, feed back, open the pull request).

use super::{scrub::Scrubber, turn::LogBudget};
use crate::{
    agent::Agent,
    config::{AgentKind, Config},
    events::EventHub,
    git::Git,
    runtime::SharedRuntime,
    store::{RunPhase, StoreError, TaskRun, Transition},
};
use app::model::{LogStream, Task, TaskEvent, TaskStatus};
use std::{sync::Arc, time::Duration};
use tokio::sync::watch;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// What every actor shares.
pub struct Deps {
    pub hub: Arc<EventHub>,
    pub runtime: SharedRuntime,
    pub config: Arc<Config>,
    pub scrubber: Scrubber,
    /// This installation's id, labelled on its containers.
    pub instance: String,
    /// GitHub, when configured (CI watching, pull requests, App tokens).
    pub forge: Option<Arc<crate::forge::Forge>>,
    /// Commits being watched, so a webhook can wake their watcher early.
    pub ci_wakes: super::CiWakes,
    /// The server is stopping: actors leave their task as it is for recovery at the next start,
    /// except that a running agent turn may still finish (see `abort_turns`).
    pub shutdown: CancellationToken,
    /// `workers.shutdown_grace` after `shutdown`: running agent turns are stopped too.
    pub abort_turns: CancellationToken,
}

/// How an actor stopped before the task succeeded.
#[derive(Debug)]
pub enum Stop {
    /// The task fails with this reason (`code: words`).
    Failed(String),
    Cancelled,
    Shutdown,
}

impl Stop {
    pub fn reason(&self) -> String {
        match self {
            Stop::Failed(r) => r.clone(),
            Stop::Cancelled => "cancelled by user".into(),
            Stop::Shutdown => "the orchestrator is shutting down".into(),
        }
    }
}

/// Where an actor enters its task.
pub enum Start {
    /// From the queue: everything from preparation on.
    Fresh,
    /// After a restart, with the agent's turn done and committed: push what is not yet pushed.
    ResumeAfterTurn,
}

/// The outside's grip on a running actor.
pub struct ActorHandle {
    pub cancel: CancellationToken,
    /// Becomes `true` once the actor has finished (status written, teardown done).
    pub done: watch::Receiver<bool>,
}

pub(super) struct TaskActor {
    pub(super) deps: Arc<Deps>,
    pub(super) task: Task,
    pub(super) run: TaskRun,
    pub(super) agent: Agent,
    pub(super) cancel: CancellationToken,
    pub(super) budget: LogBudget,
    pub(super) git: Option<Git>,
    /// The agent's final words on its last successful turn (for the pull request).
    pub(super) last_summary: Option<String>,
}

/// Starts an actor for `task` (already `preparing`, or recovered) on the tracker.
pub fn spawn(
    deps: Arc<Deps>,
    task: Task,
    run: Option<TaskRun>,
    start: Start,
    tracker: &TaskTracker,
) -> ActorHandle {
    let cancel = CancellationToken::new();
    let (done_tx, done) = watch::channel(false);
    let actor_cancel = cancel.clone();
    tracker.spawn(async move {
        let task_id = task.id;
        let span = tracing::info_span!("task", task.id = %task_id);
        let _ = tracing::Instrument::instrument(
            async move {
                match agent_for(&deps.config, &task) {
                    Ok(agent) => {
                        let mut actor =
                            TaskActor::new(deps.clone(), task, run, agent, actor_cancel);
                        actor.run(start).await
                    }
                    Err(reason) => fail_unstarted(&deps, &task, &reason).await,
                }
            },
            span,
        )
        .await;
        let _ = done_tx.send(true);
    });
    ActorHandle { cancel, done }
}

/// A task whose agent cannot even be chosen fails at once.
async fn fail_unstarted(deps: &Deps, task: &Task, reason: &str) {
    let transition = Transition {
        allowed_from: vec![task.status],
        to: TaskStatus::Failed,
        reason: Some(reason.to_string()),
    };
    if let Err(e) = deps.hub.transition(task.id, &transition).await {
        tracing::error!(error = %e, "cannot mark the task failed");
    }
}

/// The agent a task asked for (or the configured one).
fn agent_for(config: &Config, task: &Task) -> Result<Agent, String> {
    let kind = match task.agent.as_deref() {
        None => config.agent.kind,
        Some("amp") => AgentKind::Amp,
        Some("claude") => AgentKind::Claude,
        Some("codex") => AgentKind::Codex,
        Some("command") => AgentKind::Command,
        Some(other) => return Err(format!("invalid_agent: unknown agent `{other}`")),
    };
    // `agent.command` belongs to the configured kind; another kind runs its default program.
    let command = (kind == config.agent.kind)
        .then_some(config.agent.command.as_deref())
        .flatten();
    Agent::new(kind, command).map_err(|e| format!("invalid_agent: {e}"))
}

impl TaskActor {
    fn new(
        deps: Arc<Deps>,
        task: Task,
        run: Option<TaskRun>,
        agent: Agent,
        cancel: CancellationToken,
    ) -> TaskActor {
        let run = run.unwrap_or_else(|| TaskRun {
            task_id: task.id,
            phase: RunPhase::Preparing,
            container_id: None,
            agent: agent.name().to_string(),
            session_id: None,
            turns: 0,
            base_branch: None,
            base_sha: None,
            pushed_sha: None,
        });
        let budget = LogBudget::new(deps.config.agent.max_log_bytes.0);
        TaskActor {
            deps,
            task,
            run,
            agent,
            cancel,
            budget,
            git: None,
            last_summary: None,
        }
    }

    async fn run(&mut self, start: Start) {
        let outcome = match start {
            Start::Fresh => self.fresh().await,
            Start::ResumeAfterTurn => self.resume_after_turn().await,
        };
        // Teardown first: whoever sees the final status finds nothing of the task left running.
        match outcome {
            Ok(()) => {
                self.teardown(false).await;
                let reason = Some("the agent's work is pushed".to_string());
                self.finish(TaskStatus::Succeeded, reason).await;
            }
            Err(Stop::Shutdown) => {
                tracing::info!(
                    "stopping with the server; the task resumes or ends at the next start"
                );
            }
            Err(Stop::Cancelled) => {
                self.teardown(false).await;
                self.close_draft_pull_request("cancelled by user").await;
                self.finish(TaskStatus::Cancelled, Some("cancelled by user".into()))
                    .await;
            }
            Err(Stop::Failed(reason)) => {
                tracing::warn!(%reason, "task failed");
                self.teardown(true).await;
                self.finish(TaskStatus::Failed, Some(reason)).await;
            }
        }
    }

    async fn fresh(&mut self) -> Result<(), Stop> {
        self.prepare().await?;
        self.set_status(
            TaskStatus::Running,
            Some(format!("{} is working on the prompt", self.agent.name())),
        )
        .await?;
        let prompt = self.task.prompt.clone();
        self.run_turn(1, &prompt, false).await?;
        self.commit_turn(1).await?;
        self.push().await?;
        self.after_push().await
    }

    /// With CI enabled, the CI loop; without, the pushed branch is the result.
    async fn after_push(&mut self) -> Result<(), Stop> {
        if self.deps.config.ci.enabled {
            self.ci_loop().await
        } else {
            Ok(())
        }
    }

    async fn resume_after_turn(&mut self) -> Result<(), Stop> {
        // The agent's last words are in the history; the pull request quotes them.
        if let Ok(events) = self
            .deps
            .hub
            .store()
            .events_after(self.task.id, 0, u32::MAX)
            .await
        {
            self.last_summary = events.into_iter().rev().find_map(|e| match e.event {
                TaskEvent::AgentTurnFinished {
                    ok: true, summary, ..
                } => summary,
                _ => None,
            });
        }
        let token = self.git_token().await?;
        let git = Git::new(self.paths().0, self.remote_url(), token);
        self.git = Some(git);
        if self.run.phase == RunPhase::TurnDone {
            self.push().await?;
        }
        self.after_push().await
    }

    /// Removes the container (or stops and keeps it: `runtime.keep_failed`) and the workspace.
    /// A cancelled task's draft pull request (`draft_first`, or a draft opened to find
    /// PR-only CI) would otherwise stay open with work nobody will finish: close it. A pull
    /// request already marked ready is a person's to decide on, and failures keep their draft
    /// for a person to pick up. Problems are logged and shown, never fatal: the task still ends.
    async fn close_draft_pull_request(&mut self, reason: &str) {
        let (Some(number), Some(forge)) = (self.task.pr_number, self.deps.forge.clone()) else {
            return;
        };
        let result = async {
            let repo = forge.repo(&self.task.repo).await?;
            let pr = repo.pull_request(number).await?;
            if pr.state != "open" || !pr.draft {
                return Ok(None);
            }
            repo.close_pull_request(number).await.map(Some)
        }
        .await;
        match result {
            Ok(Some(pr)) => {
                self.emit(TaskEvent::PullRequestClosed {
                    number,
                    url: pr.html_url,
                    reason: reason.to_string(),
                })
                .await
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, number, "cannot close the draft pull request");
                self.emit(TaskEvent::Log {
                    stream: LogStream::System,
                    line: format!("could not close draft pull request #{number}: {e}"),
                })
                .await;
            }
        }
    }

    pub(super) fn container_id(&self) -> Result<String, Stop> {
        self.run
            .container_id
            .clone()
            .ok_or_else(|| Stop::Failed("internal: no container".into()))
    }

    /// Runs a step unless the task is cancelled or the server stops first.
    pub(super) async fn guard<T>(
        &self,
        step: impl std::future::Future<Output = T>,
    ) -> Result<T, Stop> {
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(Stop::Cancelled),
            _ = self.deps.shutdown.cancelled() => Err(Stop::Shutdown),
            value = step => Ok(value),
        }
    }

    pub(super) async fn set_status(
        &mut self,
        to: TaskStatus,
        reason: Option<String>,
    ) -> Result<(), Stop> {
        let transition = Transition {
            allowed_from: vec![self.task.status],
            to,
            reason: reason.map(|r| self.deps.scrubber.scrub_owned(r)),
        };
        let (task, _) = self
            .deps
            .hub
            .transition(self.task.id, &transition)
            .await
            .map_err(store_stop)?;
        self.task = task;
        Ok(())
    }

    /// The final status; a failure to write it is logged (recovery will find the task again).
    async fn finish(&mut self, to: TaskStatus, reason: Option<String>) {
        if let Err(e) = self.set_status(to, reason).await {
            tracing::error!(reason = %e.reason(), "cannot record the task's end");
        }
    }

    pub(super) async fn save_run(&mut self) -> Result<(), Stop> {
        self.deps
            .hub
            .store()
            .save_run(&self.run)
            .await
            .map_err(store_stop)
    }

    /// Records an event (secrets scrubbed). A store failure is logged, not fatal: the task's
    /// outcome matters more than one line of its history.
    pub(super) async fn emit(&self, event: TaskEvent) {
        let event = scrub_event(&self.deps.scrubber, event);
        if let Err(e) = self.deps.hub.append(self.task.id, event).await {
            tracing::error!(error = %e, "cannot record a task event");
        }
    }
}

pub(super) fn store_stop(e: StoreError) -> Stop {
    Stop::Failed(format!("internal: the database failed: {e}"))
}

/// Applies the scrubber to every text an event carries.
fn scrub_event(s: &Scrubber, event: TaskEvent) -> TaskEvent {
    match event {
        TaskEvent::Log { stream, line } => TaskEvent::Log {
            stream,
            line: s.scrub_owned(line),
        },
        TaskEvent::AgentMessage { text } => TaskEvent::AgentMessage {
            text: s.scrub_owned(text),
        },
        TaskEvent::AgentToolUse {
            tool_use_id,
            name,
            input,
        } => TaskEvent::AgentToolUse {
            tool_use_id,
            name,
            input: s.scrub_owned(input),
        },
        TaskEvent::AgentToolResult {
            tool_use_id,
            output,
            is_error,
        } => TaskEvent::AgentToolResult {
            tool_use_id,
            output: s.scrub_owned(output),
            is_error,
        },
        TaskEvent::AgentTurnFinished {
            turn,
            ok,
            reason,
            summary,
            exit_code,
            duration_ms,
            usage,
            cost_usd,
        } => TaskEvent::AgentTurnFinished {
            turn,
            ok,
            reason: reason.map(|r| s.scrub_owned(r)),
            summary: summary.map(|r| s.scrub_owned(r)),
            exit_code,
            duration_ms,
            usage,
            cost_usd,
        },
        other => other,
    }
}

/// How long `cancel` waits for an actor to finish its teardown.
pub const CANCEL_WAIT: Duration = Duration::from_secs(60);
