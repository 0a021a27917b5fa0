//! Server functions: thin adapters from the browser to [`crate::backend::Backend`].
//!
//! Endpoints are fixed (`/api/ui/<name>`) rather than hashed, so they are stable across builds and
//! covered by the same `/api/*` token check as the REST API. Each one also authorizes itself,
//! because server-side rendering calls them directly, without an HTTP request of their own.

use crate::model::{ApiError, ErrorBody, ErrorCode, EventEnvelope, Task, TaskPage, TaskStatus};
use leptos::prelude::*;
use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// The server functions' answer encoding: JSON, decoded from text. Resources embedded in the
/// server-rendered page are decoded with `serde_json::from_str`, while the stock `Json` encoding
/// decodes answers with `from_slice`; each reader instantiates every `Deserialize` impl again.
/// One reader for both keeps about 6 KB (gzip) out of the WASM bundle.
pub struct JsonText;

/// `output = JsonOut` on every server function below.
pub type JsonOut = leptos::server_fn::codec::Post<JsonText>;

impl leptos::server_fn::ContentType for JsonText {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl leptos::server_fn::FormatType for JsonText {
    const FORMAT_TYPE: leptos::server_fn::Format = leptos::server_fn::Format::Text;
}

impl<T: Serialize> leptos::server_fn::Encodes<T> for JsonText {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<leptos::server_fn::Bytes, Self::Error> {
        serde_json::to_vec(output).map(leptos::server_fn::Bytes::from)
    }
}

impl<T: serde::de::DeserializeOwned> leptos::server_fn::Decodes<T> for JsonText {
    type Error = serde_json::Error;

    fn decode(bytes: leptos::server_fn::Bytes) -> Result<T, Self::Error> {
        serde_json::from_str(&String::from_utf8_lossy(&bytes))
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let (code, message) = match value {
            ServerFnErrorErr::Request(_) => (
                ErrorCode::Unavailable,
                "cannot reach the server; is it running?".to_string(),
            ),
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) => {
                (ErrorCode::BadRequest, m)
            }
            ServerFnErrorErr::Deserialization(_) | ServerFnErrorErr::Response(_) => (
                ErrorCode::Internal,
                "the server's answer could not be read".to_string(),
            ),
            other => {
                #[cfg(feature = "ssr")]
                leptos::logging::error!("server function failed: {other}");
                let _ = other;
                (
                    ErrorCode::Internal,
                    "internal error; the server log has details".to_string(),
                )
            }
        };
        ApiError::new(code, message)
    }

    /// Server functions answer with an `ApiError`; the `/api/*` token check answers with the
    /// REST API's `{"error": …}` body. Read either.
    fn de(data: leptos::server_fn::Bytes) -> Self {
        if let Ok(body) = serde_json::from_str::<ErrorBody>(&String::from_utf8_lossy(&data)) {
            return body.error;
        }
        serde_json::from_str::<ApiError>(&String::from_utf8_lossy(&data)).unwrap_or_else(|e| {
            Self::from_server_fn_error(ServerFnErrorErr::Deserialization(e.to_string()))
        })
    }
}

/// A task with its history, for the task page's first render.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskWithEvents {
    pub task: Task,
    pub events: Vec<EventEnvelope>,
}

#[cfg(feature = "ssr")]
mod ssr {
    use crate::{backend::SharedBackend, model::ApiError};
    use leptos::prelude::*;

    /// The backend the server provided, after checking the request's token.
    pub async fn authorized_backend() -> Result<SharedBackend, ApiError> {
        let backend = backend()?;
        let headers: http::HeaderMap = leptos_axum::extract()
            .await
            .map_err(|_| ApiError::internal())?;
        backend.authorize(&headers)?;
        Ok(backend)
    }

    /// Gives an error the same HTTP status the REST API would (server functions answer 500
    /// otherwise); during server rendering it sets the page's status (e.g. 404 for an unknown task).
    pub fn with_status<T>(result: Result<T, ApiError>) -> Result<T, ApiError> {
        if let Err(e) = &result {
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                let status = http::StatusCode::from_u16(e.code.http_status())
                    .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
                response.set_status(status);
            }
        }
        result
    }

    pub fn parse_id(id: &str) -> Result<crate::model::TaskId, ApiError> {
        crate::model::TaskId::parse_str(id).map_err(|_| ApiError::not_found("task"))
    }

    pub fn backend() -> Result<SharedBackend, ApiError> {
        use_context::<SharedBackend>().ok_or_else(|| {
            leptos::logging::error!("no Backend in the Leptos context");
            ApiError::internal()
        })
    }
}

#[server(prefix = "/api/ui", endpoint = "list_tasks", output = JsonOut)]
pub async fn list_tasks(
    status: Option<TaskStatus>,
    repo: Option<String>,
    q: Option<String>,
    cursor: Option<String>,
) -> Result<TaskPage, ApiError> {
    ssr::with_status(
        async move {
            let backend = ssr::authorized_backend().await?;
            backend
                .list_tasks(crate::model::ListTasksQuery {
                    status,
                    repo: repo
                        .filter(|r| !r.trim().is_empty())
                        .map(|r| r.trim().to_string()),
                    q: q.filter(|q| !q.trim().is_empty()),
                    limit: Some(50),
                    cursor: cursor.filter(|c| !c.is_empty()),
                })
                .await
        }
        .await,
    )
}

#[server(prefix = "/api/ui", endpoint = "task_detail", output = JsonOut)]
pub async fn task_detail(id: String) -> Result<TaskWithEvents, ApiError> {
    ssr::with_status(
        async move {
            let backend = ssr::authorized_backend().await?;
            let id = ssr::parse_id(&id)?;
            let task = backend.get_task(id).await?;
            let events = backend.task_events(id, 0).await?;
            Ok(TaskWithEvents { task, events })
        }
        .await,
    )
}

/// Form fields arrive as text (the form also posts without JavaScript), so numbers are parsed
/// here to give a field error instead of a decoding failure.
#[server(prefix = "/api/ui", endpoint = "create_task", output = JsonOut)]
pub async fn create_task(
    prompt: String,
    repo: String,
    base_branch: Option<String>,
    agent: Option<String>,
    max_iterations: Option<String>,
) -> Result<Task, ApiError> {
    ssr::with_status(
        async move {
            let backend = ssr::authorized_backend().await?;
            let max_iterations = parse_max_iterations(max_iterations.as_deref())?;
            backend
                .create_task(crate::model::CreateTaskRequest {
                    prompt,
                    repo,
                    base_branch,
                    agent,
                    max_iterations,
                })
                .await
        }
        .await,
    )
}

#[server(prefix = "/api/ui", endpoint = "cancel_task", output = JsonOut)]
pub async fn cancel_task(id: String) -> Result<Task, ApiError> {
    ssr::with_status(
        async move {
            let backend = ssr::authorized_backend().await?;
            backend.cancel_task(ssr::parse_id(&id)?).await
        }
        .await,
    )
}

/// `""` means "use the default"; anything else must be a whole number.
pub fn parse_max_iterations(raw: Option<&str>) -> Result<Option<u32>, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            ApiError::field(
                ErrorCode::ValidationFailed,
                "max_iterations",
                "max_iterations must be a whole number",
            )
        }),
    }
}
