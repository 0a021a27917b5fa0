//! Requests, pages and errors of the REST API (and the dashboard's server functions).

use super::{Task, TaskStatus};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

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
