//! The worker's progress per task (`task_runs`): how far its work got, so that a restart knows
//! what is safe to do next.

use super::{now, Store, StoreError};
use app::model::TaskId;
use sqlx::Row;

/// Where a task's work stands, persisted so a restart knows what is safe to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunPhase {
    /// Cloning, branching, starting the container.
    Preparing,
    /// Workspace and container are ready; no agent turn has started.
    Prepared,
    /// An agent turn is running (its output cannot be re-attached after a restart).
    TurnRunning,
    /// The turn ended and its work is committed on the host, not yet pushed.
    TurnDone,
    /// The turn's work is on the remote.
    Pushed,
    Finished,
}

impl RunPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            RunPhase::Preparing => "preparing",
            RunPhase::Prepared => "prepared",
            RunPhase::TurnRunning => "turn_running",
            RunPhase::TurnDone => "turn_done",
            RunPhase::Pushed => "pushed",
            RunPhase::Finished => "finished",
        }
    }

    fn parse(s: &str) -> Option<RunPhase> {
        [
            RunPhase::Preparing,
            RunPhase::Prepared,
            RunPhase::TurnRunning,
            RunPhase::TurnDone,
            RunPhase::Pushed,
            RunPhase::Finished,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// The worker's persisted state of one task (`task_runs`).
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRun {
    pub task_id: TaskId,
    pub phase: RunPhase,
    pub container_id: Option<String>,
    pub agent: String,
    pub session_id: Option<String>,
    pub turns: u32,
    pub base_branch: Option<String>,
    pub base_sha: Option<String>,
    pub pushed_sha: Option<String>,
}

impl Store {
    /// Writes the worker's state of a task (insert or replace).
    pub async fn save_run(&self, run: &TaskRun) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO task_runs (task_id, phase, container_id, agent, session_id, turns, base_branch, base_sha, pushed_sha, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (task_id) DO UPDATE SET phase = excluded.phase, container_id = excluded.container_id, \
             agent = excluded.agent, session_id = excluded.session_id, turns = excluded.turns, base_branch = excluded.base_branch, \
             base_sha = excluded.base_sha, pushed_sha = excluded.pushed_sha, updated_at = excluded.updated_at",
        )
        .bind(run.task_id.to_string())
        .bind(run.phase.as_str())
        .bind(&run.container_id)
        .bind(&run.agent)
        .bind(&run.session_id)
        .bind(i64::from(run.turns))
        .bind(&run.base_branch)
        .bind(&run.base_sha)
        .bind(&run.pushed_sha)
        .bind(now().timestamp_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_run(&self, task_id: TaskId) -> Result<Option<TaskRun>, StoreError> {
        let row = sqlx::query("SELECT * FROM task_runs WHERE task_id = $1")
            .bind(task_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            let phase: String = row.try_get("phase")?;
            let turns: i64 = row.try_get("turns")?;
            Ok(TaskRun {
                task_id,
                phase: RunPhase::parse(&phase)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown run phase {phase:?}")))?,
                container_id: row.try_get("container_id")?,
                agent: row.try_get("agent")?,
                session_id: row.try_get("session_id")?,
                turns: turns.clamp(0, i64::from(u32::MAX)) as u32,
                base_branch: row.try_get("base_branch")?,
                base_sha: row.try_get("base_sha")?,
                pushed_sha: row.try_get("pushed_sha")?,
            })
        })
        .transpose()
    }
}
