//! Tasks: their identifier, their status and what a task is.

use super::CreateTaskRequest;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// A task's identifier: a UUIDv7, so ids sort by creation time.
pub type TaskId = uuid::Uuid;

/// Where a task is in its life. Serialized as these exact snake_case strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Queued,
    Preparing,
    Running,
    AwaitingCi,
    Fixing,
    OpeningPr,
    Succeeded,
    Failed,
    Cancelled,
}

impl TaskStatus {
    /// Every status, in the order a task normally passes through them.
    pub const ALL: [TaskStatus; 9] = [
        TaskStatus::Queued,
        TaskStatus::Preparing,
        TaskStatus::Running,
        TaskStatus::AwaitingCi,
        TaskStatus::Fixing,
        TaskStatus::OpeningPr,
        TaskStatus::Succeeded,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
    ];

    /// The wire name (`"awaiting_ci"`), also used as the database value.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Preparing => "preparing",
            TaskStatus::Running => "running",
            TaskStatus::AwaitingCi => "awaiting_ci",
            TaskStatus::Fixing => "fixing",
            TaskStatus::OpeningPr => "opening_pr",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(s: &str) -> Option<TaskStatus> {
        TaskStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Terminal statuses never change again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Succeeded | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }
}

impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A unit of work: turn `prompt` into a green pull request on `repo`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Task {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub id: TaskId,
    pub prompt: String,
    /// `owner/name` on the forge.
    pub repo: String,
    /// The branch the work starts from; `None` means the repository's default branch.
    pub base_branch: Option<String>,
    /// Which agent adapter runs the task; `None` means the configured default.
    pub agent: Option<String>,
    /// Cap on CI fix rounds for this task; `None` means `ci.max_iterations`.
    pub max_iterations: Option<u32>,
    pub status: TaskStatus,
    /// The branch pushed for this task, once there is one.
    pub branch: Option<String>,
    pub pr_url: Option<String>,
    pub pr_number: Option<u64>,
    /// CI rounds started so far.
    pub iterations: u32,
    /// Why the task failed (or was cancelled), in words a person can act on.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Task {
    /// A task as it is accepted: queued, nothing done yet.
    pub fn queued(id: TaskId, request: CreateTaskRequest, now: DateTime<Utc>) -> Task {
        Task {
            id,
            prompt: request.prompt,
            repo: request.repo,
            base_branch: request.base_branch,
            agent: request.agent,
            max_iterations: request.max_iterations,
            status: TaskStatus::Queued,
            branch: None,
            pr_url: None,
            pr_number: None,
            iterations: 0,
            error: None,
            created_at: now,
            updated_at: now,
        }
    }
}
