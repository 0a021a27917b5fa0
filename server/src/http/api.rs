//! REST handlers for tasks. Each is annotated for OpenAPI; `routes()` registers handler and
//! description together, so the spec cannot drift from the router.

use super::{
    error::{ApiJson, ApiResult},
    sse, AppState,
};
use app::{
    backend::Backend,
    model::{
        ApiError, CreateTaskRequest, ErrorBody, ErrorCode, ListTasksQuery, Task, TaskId, TaskPage,
        TaskStatus,
    },
};
use axum::{
    extract::{Path, RawQuery, State},
    http::{header, StatusCode},
    response::IntoResponse,
    Json,
};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_task, list_tasks))
        .routes(routes!(get_task))
        .routes(routes!(cancel_task))
        .routes(routes!(task_log))
        .routes(routes!(sse::task_events))
        .routes(routes!(sse::all_events))
        .routes(routes!(super::webhook::receive))
}

/// Parses a task id from the path; anything unparseable cannot name a task, so it is a 404.
pub fn parse_task_id(raw: &str) -> Result<TaskId, ApiError> {
    TaskId::parse_str(raw).map_err(|_| ApiError::not_found("task"))
}

/// Splits a query string into pairs, rejecting parameters the route does not know.
pub fn query_pairs(raw: Option<&str>, allowed: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    let pairs: Vec<(String, String)> = match raw {
        None => Vec::new(),
        Some(q) => serde_urlencoded::from_str(q)
            .map_err(|_| ApiError::new(ErrorCode::BadRequest, "the query string is malformed"))?,
    };
    if let Some((unknown, _)) = pairs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        return Err(ApiError::field(
            ErrorCode::BadRequest,
            unknown.clone(),
            format!(
                "unknown query parameter `{unknown}` (known: {})",
                allowed.join(", ")
            ),
        ));
    }
    Ok(pairs)
}

fn parse_list_query(raw: Option<&str>) -> Result<ListTasksQuery, ApiError> {
    let mut query = ListTasksQuery::default();
    for (key, value) in query_pairs(raw, &["status", "repo", "q", "limit", "cursor"])? {
        match key.as_str() {
            "status" if !value.is_empty() => {
                query.status = Some(TaskStatus::parse(&value).ok_or_else(|| {
                    let all: Vec<&str> = TaskStatus::ALL.iter().map(|s| s.as_str()).collect();
                    ApiError::field(
                        ErrorCode::BadRequest,
                        "status",
                        format!("status must be one of {}", all.join(", ")),
                    )
                })?);
            }
            "repo" if !value.is_empty() => query.repo = Some(value),
            "q" if !value.trim().is_empty() => query.q = Some(value),
            "limit" => {
                query.limit = Some(value.parse().map_err(|_| {
                    ApiError::field(
                        ErrorCode::BadRequest,
                        "limit",
                        "limit must be a whole number",
                    )
                })?);
            }
            "cursor" if !value.is_empty() => query.cursor = Some(value),
            _ => {}
        }
    }
    Ok(query)
}

/// Create a task. It starts `queued`.
#[utoipa::path(
    post, path = "/api/tasks", tag = "tasks",
    request_body = CreateTaskRequest,
    responses(
        (status = 201, description = "Created", body = Task,
            headers(("Location" = String, description = "URL of the new task"))),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    )
)]
pub async fn create_task(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<CreateTaskRequest>,
) -> ApiResult<impl IntoResponse> {
    let task = state.tasks.create_task(request).await?;
    let location = format!("/api/tasks/{}", task.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(task),
    ))
}

/// List tasks, newest first.
#[utoipa::path(
    get, path = "/api/tasks", tag = "tasks",
    params(
        ("status" = Option<TaskStatus>, Query, description = "Only tasks in this status"),
        ("repo" = Option<String>, Query, description = "Only tasks on this `owner/name`"),
        ("q" = Option<String>, Query, description = "Only tasks whose prompt contains this text (case-insensitive)"),
        ("limit" = Option<u32>, Query, description = "Page size, 1–200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of tasks", body = TaskPage),
        (status = 400, description = "Bad query parameter", body = ErrorBody),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
    )
)]
pub async fn list_tasks(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<TaskPage>> {
    let query = parse_list_query(raw.as_deref())?;
    Ok(Json(state.tasks.list_tasks(query).await?))
}

/// One task.
#[utoipa::path(
    get, path = "/api/tasks/{id}", tag = "tasks",
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task", body = Task),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
    )
)]
pub async fn get_task(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Task>> {
    Ok(Json(state.tasks.get_task(parse_task_id(&id)?).await?))
}

/// Cancel a task. A queued task is cancelled at once; a finished one gives 409.
#[utoipa::path(
    post, path = "/api/tasks/{id}/cancel", tag = "tasks",
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "The cancelled task", body = Task),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 409, description = "The task already ended", body = ErrorBody),
    )
)]
pub async fn cancel_task(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Task>> {
    Ok(Json(state.tasks.cancel_task(parse_task_id(&id)?).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_query_parses_and_rejects_with_field_names() {
        let q = parse_list_query(Some("status=awaiting_ci&repo=a%2Fb&limit=10&cursor=")).unwrap();
        assert_eq!(q.status, Some(TaskStatus::AwaitingCi));
        assert_eq!(q.repo.as_deref(), Some("a/b"));
        assert_eq!(q.limit, Some(10));
        assert_eq!(q.cursor, None);
        for (raw, field) in [
            ("status=done", "status"),
            ("limit=ten", "limit"),
            ("limit=-1", "limit"),
            ("stauts=queued", "stauts"),
        ] {
            let e = parse_list_query(Some(raw)).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{raw}");
            assert_eq!(e.code, ErrorCode::BadRequest);
        }
    }
}

/// The task's whole history as plain text, one line per event, for download.
#[utoipa::path(
    get, path = "/api/tasks/{id}/log", tag = "tasks",
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "`text/plain` attachment: `<time> <type> <text>` per event", content_type = "text/plain"),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
    )
)]
pub async fn task_log(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let id = parse_task_id(&id)?;
    let events = state.tasks.task_events(id, 0).await?;
    let mut text = String::new();
    for env in &events {
        let line = app::describe::describe(&env.event);
        for (i, part) in line.lines().enumerate() {
            if i == 0 {
                text.push_str(&format!(
                    "{} {:<20} {part}\n",
                    env.at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                    env.event.kind()
                ));
            } else {
                text.push_str(&format!("{:<45}{part}\n", ""));
            }
        }
    }
    let disposition = format!("attachment; filename=\"task-{id}.log\"");
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        text,
    ))
}
