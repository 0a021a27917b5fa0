//! What happens to a task: every event kind, the envelope that places an event in history, and
//! the messages of the live streams.

use super::{Task, TaskId, TaskStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// Which output stream a log line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LogStream {
    Stdout,
    Stderr,
    /// Lines written by the orchestrator itself (git, set-up steps).
    System,
}

/// Tokens an agent turn used, as far as the agent reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenUsage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    /// Prompt tokens served from the provider's cache.
    #[serde(default)]
    pub cache_read_tokens: u64,
    /// Prompt tokens written to the provider's cache.
    #[serde(default)]
    pub cache_write_tokens: u64,
}

impl TokenUsage {
    /// What is left of `self` after `earlier`, field by field, never below zero.
    pub fn saturating_sub(self, earlier: TokenUsage) -> TokenUsage {
        TokenUsage {
            input_tokens: self.input_tokens.saturating_sub(earlier.input_tokens),
            output_tokens: self.output_tokens.saturating_sub(earlier.output_tokens),
            cache_read_tokens: self
                .cache_read_tokens
                .saturating_sub(earlier.cache_read_tokens),
            cache_write_tokens: self
                .cache_write_tokens
                .saturating_sub(earlier.cache_write_tokens),
        }
    }
}

impl std::ops::AddAssign for TokenUsage {
    fn add_assign(&mut self, more: TokenUsage) {
        self.input_tokens += more.input_tokens;
        self.output_tokens += more.output_tokens;
        self.cache_read_tokens += more.cache_read_tokens;
        self.cache_write_tokens += more.cache_write_tokens;
    }
}

impl std::iter::Sum for TokenUsage {
    fn sum<I: Iterator<Item = TokenUsage>>(usages: I) -> TokenUsage {
        let mut total = TokenUsage::default();
        for usage in usages {
            total += usage;
        }
        total
    }
}

/// One check's result in a CI round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CheckResult {
    pub name: String,
    /// `success`, `failure`, `neutral`, `skipped`, `cancelled`, `timed_out`, `action_required`, …
    pub conclusion: String,
    pub url: Option<String>,
    /// Also fails on the base branch: not caused by this task.
    #[serde(default)]
    pub preexisting: bool,
}

/// How a CI round ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CiVerdict {
    /// Every check passed (or only pre-existing failures remain).
    Green,
    Red,
    /// No check appeared on the commit.
    NoChecks,
    /// CI did not finish within `ci.round_timeout`.
    TimedOut,
}

/// Everything that happens to a task, in the order it happened. Internally tagged with `type`;
/// the SSE `event:` name is the same string ([`TaskEvent::kind`]).
///
/// `Deserialize` is written by hand in `event_de` (same format, without serde's buffering).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TaskEvent {
    /// The task was accepted; carries the task as it was created.
    TaskCreated {
        task: Box<Task>,
    },
    /// The status moved from `from` to `to`; `reason` says why when it is not obvious.
    StatusChanged {
        from: TaskStatus,
        to: TaskStatus,
        reason: Option<String>,
    },
    /// A line of output that is not a structured agent event (bounded in length by the producer).
    Log {
        stream: LogStream,
        line: String,
    },
    /// Output was cut: `dropped` lines were not recorded because of `reason` (per-task cap).
    LogTruncated {
        dropped: u64,
        reason: String,
    },
    /// The task's working branch was created from `base` (`base_sha`).
    BranchCreated {
        branch: String,
        base: String,
        base_sha: String,
    },
    ContainerCreated {
        container_id: String,
        image: String,
    },
    ContainerStarted {
        container_id: String,
    },
    /// The container is gone (`kept`: left in place for debugging, `runtime.keep_failed`).
    ContainerRemoved {
        container_id: String,
        kept: bool,
    },
    /// A resource sample of the task's container.
    ContainerStats {
        cpu_percent: f64,
        memory_bytes: u64,
        memory_limit_bytes: Option<u64>,
    },
    /// An agent turn began: the first prompt (`follow_up: false`) or feedback on the same thread.
    AgentTurnStarted {
        turn: u32,
        agent: String,
        follow_up: bool,
    },
    /// The agent's conversation id (Amp thread, Claude session, Codex thread), for follow-ups.
    AgentSession {
        session_id: String,
    },
    /// Text the agent wrote to the reader.
    AgentMessage {
        text: String,
    },
    /// The agent called a tool; `input` is its JSON arguments, shortened if long.
    AgentToolUse {
        tool_use_id: Option<String>,
        name: String,
        input: String,
    },
    /// What a tool gave back, shortened if long.
    AgentToolResult {
        tool_use_id: Option<String>,
        output: String,
        is_error: bool,
    },
    /// An agent turn ended; `ok` only with a final result and exit code 0. `summary` is the
    /// agent's own final words; `reason` says why a failed turn failed.
    AgentTurnFinished {
        turn: u32,
        ok: bool,
        reason: Option<String>,
        summary: Option<String>,
        exit_code: Option<i64>,
        duration_ms: u64,
        usage: Option<TokenUsage>,
        cost_usd: Option<f64>,
    },
    /// The orchestrator committed what the agent left uncommitted.
    Committed {
        sha: String,
        message: String,
    },
    /// The branch was pushed at `sha`.
    Pushed {
        branch: String,
        sha: String,
    },
    /// CI round `round` started watching `sha`.
    CiRoundStarted {
        round: u32,
        sha: String,
    },
    /// Checks still running on the watched commit (sent when the set changes).
    CiWaiting {
        round: u32,
        waiting: Vec<String>,
    },
    /// CI round `round` ended with `verdict`; `checks` lists every check's conclusion.
    CiRoundFinished {
        round: u32,
        sha: String,
        verdict: CiVerdict,
        checks: Vec<CheckResult>,
        duration_ms: u64,
    },
    /// Failed jobs that looked unrelated to the change (infrastructure, flakiness) were re-run.
    CiRerun {
        round: u32,
        checks: Vec<String>,
        reason: String,
    },
    /// The feedback sent to the agent for round `round` (also written into the workspace).
    CiFeedback {
        round: u32,
        text: String,
        truncated: bool,
    },
    PullRequestOpened {
        number: u64,
        url: String,
        draft: bool,
    },
    /// A draft pull request was marked ready for review (CI is green).
    PullRequestReady {
        number: u64,
        url: String,
    },
    /// The task's draft pull request was closed because the task ended without green CI
    /// (`reason`, e.g. cancelled by the user).
    PullRequestClosed {
        number: u64,
        url: String,
        reason: String,
    },
}

impl TaskEvent {
    /// Every `type` tag, for clients that must list the SSE event names they listen to.
    pub const KINDS: [&'static str; 25] = [
        "task_created",
        "status_changed",
        "log",
        "log_truncated",
        "branch_created",
        "container_created",
        "container_started",
        "container_removed",
        "container_stats",
        "agent_turn_started",
        "agent_session",
        "agent_message",
        "agent_tool_use",
        "agent_tool_result",
        "agent_turn_finished",
        "committed",
        "pushed",
        "ci_round_started",
        "ci_waiting",
        "ci_round_finished",
        "ci_rerun",
        "ci_feedback",
        "pull_request_opened",
        "pull_request_ready",
        "pull_request_closed",
    ];

    /// The `type` tag, also the SSE `event:` name.
    pub fn kind(&self) -> &'static str {
        match self {
            TaskEvent::TaskCreated { .. } => "task_created",
            TaskEvent::StatusChanged { .. } => "status_changed",
            TaskEvent::Log { .. } => "log",
            TaskEvent::LogTruncated { .. } => "log_truncated",
            TaskEvent::BranchCreated { .. } => "branch_created",
            TaskEvent::ContainerCreated { .. } => "container_created",
            TaskEvent::ContainerStarted { .. } => "container_started",
            TaskEvent::ContainerRemoved { .. } => "container_removed",
            TaskEvent::ContainerStats { .. } => "container_stats",
            TaskEvent::AgentTurnStarted { .. } => "agent_turn_started",
            TaskEvent::AgentSession { .. } => "agent_session",
            TaskEvent::AgentMessage { .. } => "agent_message",
            TaskEvent::AgentToolUse { .. } => "agent_tool_use",
            TaskEvent::AgentToolResult { .. } => "agent_tool_result",
            TaskEvent::AgentTurnFinished { .. } => "agent_turn_finished",
            TaskEvent::Committed { .. } => "committed",
            TaskEvent::Pushed { .. } => "pushed",
            TaskEvent::CiRoundStarted { .. } => "ci_round_started",
            TaskEvent::CiWaiting { .. } => "ci_waiting",
            TaskEvent::CiRoundFinished { .. } => "ci_round_finished",
            TaskEvent::CiRerun { .. } => "ci_rerun",
            TaskEvent::CiFeedback { .. } => "ci_feedback",
            TaskEvent::PullRequestOpened { .. } => "pull_request_opened",
            TaskEvent::PullRequestReady { .. } => "pull_request_ready",
            TaskEvent::PullRequestClosed { .. } => "pull_request_closed",
        }
    }

    /// Event kinds that also go to the all-tasks stream (`GET /api/events`).
    pub fn is_task_change(&self) -> bool {
        matches!(
            self,
            TaskEvent::TaskCreated { .. } | TaskEvent::StatusChanged { .. }
        )
    }
}

/// A persisted [`TaskEvent`] with its place in history: one flat JSON object (`Deserialize` in
/// `event_de`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EventEnvelope {
    /// Global, increasing across all tasks: the `id:` of the all-tasks stream.
    pub id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub task_id: TaskId,
    /// Per task: 1, 2, 3, … with no gaps. The `id:` of the task's event stream.
    pub seq: i64,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub event: TaskEvent,
}

/// One message of the all-tasks stream: the change and the task as it is now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TaskChange {
    pub event: EventEnvelope,
    pub task: Task,
}

/// Data of the `resync` control message on an event stream: the server could not keep this
/// subscriber in step, so the client should reload its view (and reconnect).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Resync {
    pub reason: String,
}
