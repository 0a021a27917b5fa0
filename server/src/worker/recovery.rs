//! Start-up recovery: every task a previous run left unfinished either continues or ends with a
//! clear reason, and containers that belong to no live task are removed.
//!
//! What is safe depends on how far the task got (`task_runs.phase`):
//! - still preparing (or never recorded): nothing of value exists yet; the task goes back to
//!   the queue and is prepared again from scratch;
//! - an agent turn was running: its output stream cannot be re-attached, so the turn's result is
//!   unknown; the task fails, saying so (running it again could apply the prompt twice);
//! - the turn finished and its work is committed: the task continues with its still-running
//!   container and pushes — unless the remote already has that commit (no double push);
//! - pushed: only the final status was missing; the task is completed;
//! - finished (torn down) without a final status: the outcome was lost; the task fails, saying so.

use super::{actor::Start, Worker};
use crate::store::{RunPhase, Transition};
use app::model::{Task, TaskEvent, TaskStatus};
use std::collections::HashSet;

const UNFINISHED: [TaskStatus; 5] = [
    TaskStatus::Preparing,
    TaskStatus::Running,
    TaskStatus::AwaitingCi,
    TaskStatus::Fixing,
    TaskStatus::OpeningPr,
];

pub(super) async fn recover(worker: &Worker) {
    let deps = worker.deps().clone();
    let store = deps.hub.store();
    let tasks = match store.tasks_in(&UNFINISHED, u32::MAX).await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "recovery: cannot read unfinished tasks");
            return;
        }
    };
    let mut live: HashSet<app::model::TaskId> = HashSet::new();
    for task in tasks {
        let run = store.get_run(task.id).await.ok().flatten();
        let phase = run.as_ref().map_or(RunPhase::Preparing, |r| r.phase);
        let container = run.as_ref().and_then(|r| r.container_id.clone());
        let container_alive = match &container {
            Some(id) => matches!(deps.runtime.state(id).await, Ok(Some(s)) if s.running),
            None => false,
        };
        tracing::info!(task.id = %task.id, status = %task.status, phase = phase.as_str(), container_alive, "recovering task");
        match phase {
            RunPhase::Preparing | RunPhase::Prepared => {
                remove_container(worker, &task, container.as_deref()).await;
                let reason = "the orchestrator restarted while preparing; the task is queued again";
                end_or_requeue(worker, &task, TaskStatus::Queued, reason).await;
            }
            RunPhase::TurnRunning => {
                remove_container(worker, &task, container.as_deref()).await;
                let turn = run.as_ref().map_or(1, |r| r.turns);
                let reason = format!(
                    "interrupted: the orchestrator restarted during agent turn {turn}; its result is unknown, so it is not repeated"
                );
                end_or_requeue(worker, &task, TaskStatus::Failed, &reason).await;
            }
            RunPhase::TurnDone | RunPhase::Pushed if container_alive => {
                live.insert(task.id);
                worker.launch(task, run, Start::ResumeAfterTurn);
            }
            RunPhase::TurnDone | RunPhase::Pushed => {
                remove_container(worker, &task, container.as_deref()).await;
                let reason = "container_gone: the task's container did not survive the restart";
                end_or_requeue(worker, &task, TaskStatus::Failed, reason).await;
            }
            RunPhase::Finished => {
                remove_container(worker, &task, container.as_deref()).await;
                end_or_requeue(
                    worker,
                    &task,
                    TaskStatus::Succeeded,
                    "completed after a restart",
                )
                .await;
            }
        }
    }
    remove_orphans(worker, &live).await;
}

async fn end_or_requeue(worker: &Worker, task: &Task, to: TaskStatus, reason: &str) {
    let transition = Transition {
        allowed_from: vec![task.status],
        to,
        reason: Some(reason.to_string()),
    };
    if let Err(e) = worker.deps().hub.transition(task.id, &transition).await {
        tracing::error!(task.id = %task.id, error = %e, "recovery: cannot update the task");
    }
}

async fn remove_container(worker: &Worker, task: &Task, container: Option<&str>) {
    let Some(id) = container else { return };
    match worker.deps().runtime.remove(id).await {
        Ok(()) => {
            let event = TaskEvent::ContainerRemoved {
                container_id: id.to_string(),
                kept: false,
            };
            let _ = worker.deps().hub.append(task.id, event).await;
        }
        Err(e) => {
            tracing::warn!(task.id = %task.id, error = %e, "recovery: cannot remove the container")
        }
    }
}

/// Removes this installation's containers that belong to no task still being worked on.
async fn remove_orphans(worker: &Worker, live: &HashSet<app::model::TaskId>) {
    let managed = match worker.deps().runtime.managed(&worker.deps().instance).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "recovery: cannot list managed containers");
            return;
        }
    };
    for (id, task) in managed {
        if task.is_some_and(|t| live.contains(&t)) {
            continue;
        }
        tracing::info!(container.id = %id, task.id = ?task, "removing an orphaned container");
        if let Err(e) = worker.deps().runtime.remove(&id).await {
            tracing::warn!(container.id = %id, error = %e, "cannot remove an orphaned container");
        }
    }
}
