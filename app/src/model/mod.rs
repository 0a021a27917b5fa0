//! Typed models shared by the server, the browser and Rust integrations.
//!
//! Everything here is plain serde: `app` with no features enabled compiles to this module (plus
//! [`crate::validate`] and [`crate::reducer`]) and nothing else.

mod event_de;

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

/// `POST /api/tasks`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    /// What the agent should do. Non-empty; at most `server.max_prompt_bytes`.
    pub prompt: String,
    /// `owner/name`.
    pub repo: String,
    #[serde(default)]
    pub base_branch: Option<String>,
    /// `amp`, `claude`, `codex` or `command`; default: `agent.kind`.
    #[serde(default)]
    pub agent: Option<String>,
    /// 1–100; default: `ci.max_iterations`.
    #[serde(default)]
    pub max_iterations: Option<u32>,
}

/// `GET /api/tasks` filters and paging.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListTasksQuery {
    pub status: Option<TaskStatus>,
    pub repo: Option<String>,
    /// Only tasks whose prompt contains this text (case-insensitive).
    #[serde(default)]
    pub q: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of tasks, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TaskPage {
    pub tasks: Vec<Task>,
    /// Pass as `?cursor=` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
    /// The newest event id at the time of the read: subscribe to `/api/events?after=<this>` to
    /// follow changes from exactly this point.
    pub last_event_id: i64,
    /// How many tasks match `repo` and `q` in each status (statuses with none are absent), for
    /// the status filter; independent of `status` and paging.
    #[serde(default)]
    pub counts: std::collections::BTreeMap<TaskStatus, u64>,
}

/// Stable machine-readable error codes; each maps to one HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Malformed request (bad JSON syntax, bad query parameter): 400.
    BadRequest,
    /// Missing or wrong API token: 401.
    Unauthorized,
    NotFound,
    MethodNotAllowed,
    /// The request is valid but conflicts with the task's state (e.g. cancelling a finished task): 409.
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    /// Well-formed but invalid content (wrong type, bad repo name, empty prompt): 422.
    ValidationFailed,
    /// The server is not ready (database unreachable): 503.
    Unavailable,
    /// Something broke on our side; details are in the server log, never in the response: 500.
    Internal,
}

impl ErrorCode {
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::ValidationFailed => 422,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
        }
    }
}

/// The error every API route returns, wrapped as `{"error": {...}}` ([`ErrorBody`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApiError {
    pub code: ErrorCode,
    /// For people; safe to show, never internal error text.
    pub message: String,
    /// The request field at fault, when there is one (`"repo"`, `"prompt"`, `"limit"`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn field(code: ErrorCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn internal() -> Self {
        ApiError::new(
            ErrorCode::Internal,
            "internal error; the server log has details",
        )
    }

    pub fn unauthorized() -> Self {
        ApiError::new(
            ErrorCode::Unauthorized,
            "an API token is required: send `Authorization: Bearer <token>` or log in",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ApiError {}

/// The JSON body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorBody {
    pub error: ApiError,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_strings_are_exact_snake_case() {
        let json: Vec<String> = TaskStatus::ALL
            .iter()
            .map(|s| serde_json::to_string(s).unwrap())
            .collect();
        assert_eq!(
            json,
            [
                "\"queued\"",
                "\"preparing\"",
                "\"running\"",
                "\"awaiting_ci\"",
                "\"fixing\"",
                "\"opening_pr\"",
                "\"succeeded\"",
                "\"failed\"",
                "\"cancelled\""
            ]
        );
        for s in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(s.as_str()), Some(s));
            assert_eq!(format!("\"{s}\""), serde_json::to_string(&s).unwrap());
        }
        assert_eq!(TaskStatus::parse("Queued"), None);
    }

    #[test]
    fn events_are_internally_tagged_and_flattened_in_envelopes() {
        let env = EventEnvelope {
            id: 7,
            task_id: uuid::Uuid::nil(),
            seq: 2,
            at: DateTime::from_timestamp(0, 0).unwrap(),
            event: TaskEvent::StatusChanged {
                from: TaskStatus::Queued,
                to: TaskStatus::Cancelled,
                reason: Some("cancelled by user".into()),
            },
        };
        let v = serde_json::to_value(&env).unwrap();
        assert_eq!(v["type"], "status_changed");
        assert_eq!(v["from"], "queued");
        assert_eq!(v["to"], "cancelled");
        assert_eq!(v["seq"], 2);
        assert_eq!(env.event.kind(), "status_changed");
        let back: EventEnvelope = serde_json::from_value(v).unwrap();
        assert_eq!(back, env);
    }

    #[test]
    fn kinds_lists_every_variant_once() {
        let mut kinds = TaskEvent::KINDS.to_vec();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), TaskEvent::KINDS.len(), "no duplicates");
        // Every variant's kind is listed: serialize one of each and compare tags.
        let task = Task::queued(
            uuid::Uuid::nil(),
            CreateTaskRequest::default(),
            DateTime::from_timestamp(0, 0).unwrap(),
        );
        let samples = [
            TaskEvent::TaskCreated {
                task: Box::new(task),
            },
            TaskEvent::StatusChanged {
                from: TaskStatus::Queued,
                to: TaskStatus::Failed,
                reason: None,
            },
            TaskEvent::Log {
                stream: LogStream::Stdout,
                line: String::new(),
            },
            TaskEvent::LogTruncated {
                dropped: 1,
                reason: String::new(),
            },
            TaskEvent::BranchCreated {
                branch: String::new(),
                base: String::new(),
                base_sha: String::new(),
            },
            TaskEvent::ContainerCreated {
                container_id: String::new(),
                image: String::new(),
            },
            TaskEvent::ContainerStarted {
                container_id: String::new(),
            },
            TaskEvent::ContainerRemoved {
                container_id: String::new(),
                kept: false,
            },
            TaskEvent::ContainerStats {
                cpu_percent: 0.0,
                memory_bytes: 0,
                memory_limit_bytes: None,
            },
            TaskEvent::AgentTurnStarted {
                turn: 1,
                agent: String::new(),
                follow_up: false,
            },
            TaskEvent::AgentSession {
                session_id: String::new(),
            },
            TaskEvent::AgentMessage {
                text: String::new(),
            },
            TaskEvent::AgentToolUse {
                tool_use_id: None,
                name: String::new(),
                input: String::new(),
            },
            TaskEvent::AgentToolResult {
                tool_use_id: None,
                output: String::new(),
                is_error: false,
            },
            TaskEvent::AgentTurnFinished {
                turn: 1,
                ok: true,
                reason: None,
                summary: None,
                exit_code: Some(0),
                duration_ms: 0,
                usage: None,
                cost_usd: None,
            },
            TaskEvent::Committed {
                sha: String::new(),
                message: String::new(),
            },
            TaskEvent::Pushed {
                branch: String::new(),
                sha: String::new(),
            },
            TaskEvent::CiRoundStarted {
                round: 1,
                sha: String::new(),
            },
            TaskEvent::CiWaiting {
                round: 1,
                waiting: vec![],
            },
            TaskEvent::CiRoundFinished {
                round: 1,
                sha: String::new(),
                verdict: CiVerdict::Green,
                checks: vec![],
                duration_ms: 0,
            },
            TaskEvent::CiRerun {
                round: 1,
                checks: vec![],
                reason: String::new(),
            },
            TaskEvent::CiFeedback {
                round: 1,
                text: String::new(),
                truncated: false,
            },
            TaskEvent::PullRequestOpened {
                number: 1,
                url: String::new(),
                draft: false,
            },
            TaskEvent::PullRequestReady {
                number: 1,
                url: String::new(),
            },
            TaskEvent::PullRequestClosed {
                number: 1,
                url: String::new(),
                reason: String::new(),
            },
        ];
        assert_eq!(samples.len(), TaskEvent::KINDS.len());
        for (sample, kind) in samples.iter().zip(TaskEvent::KINDS) {
            assert_eq!(sample.kind(), kind);
            assert_eq!(serde_json::to_value(sample).unwrap()["type"], kind);
        }
    }

    #[test]
    fn error_body_omits_absent_field() {
        let body = ErrorBody {
            error: ApiError::not_found("task"),
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"error":{"code":"not_found","message":"task not found"}}"#
        );
    }
}
