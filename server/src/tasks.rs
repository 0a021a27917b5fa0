//! The task service: what creating, listing, reading and cancelling tasks means, shared by the
//! REST handlers and the dashboard's server functions (it implements [`app::backend::Backend`]).

use crate::{
    auth::Auth,
    events::EventHub,
    store::{StoreError, TaskFilter, Transition},
};
use app::{
    backend::Backend,
    model::{
        ApiError, CreateTaskRequest, ErrorCode, EventEnvelope, ListTasksQuery, Task, TaskId,
        TaskPage, TaskStatus,
    },
    validate,
};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// Default and largest page size of `GET /api/tasks`.
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;
/// Most events returned by one JSON history read.
const HISTORY_PAGE: u32 = 10_000;

pub struct TaskService {
    hub: Arc<EventHub>,
    auth: Auth,
    max_prompt_bytes: usize,
}

impl TaskService {
    pub fn new(hub: Arc<EventHub>, auth: Auth, max_prompt_bytes: usize) -> Self {
        TaskService {
            hub,
            auth,
            max_prompt_bytes,
        }
    }

    pub fn hub(&self) -> &Arc<EventHub> {
        &self.hub
    }
}

/// Maps store failures to API errors once, logging the internal detail (never returned).
fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found("task"),
        StoreError::WrongStatus { current } => {
            ApiError::new(ErrorCode::Conflict, format!("the task is {current}"))
        }
        other => {
            tracing::error!(error = %other, "store operation failed");
            ApiError::internal()
        }
    }
}

/// Cursors are `<created_at ms>_<id>`: the keyset position of the last task on a page.
pub fn encode_cursor(task: &Task) -> String {
    format!("{}_{}", task.created_at.timestamp_millis(), task.id)
}

pub fn decode_cursor(cursor: &str) -> Option<(DateTime<Utc>, TaskId)> {
    let (ms, id) = cursor.split_once('_')?;
    Some((
        DateTime::from_timestamp_millis(ms.parse().ok()?)?,
        TaskId::parse_str(id).ok()?,
    ))
}

#[async_trait::async_trait]
impl Backend for TaskService {
    fn authorize(&self, headers: &http::HeaderMap) -> Result<(), ApiError> {
        self.auth.check(headers)
    }

    fn auth_required(&self) -> bool {
        self.auth.required()
    }

    fn max_prompt_bytes(&self) -> usize {
        self.max_prompt_bytes
    }

    async fn create_task(&self, request: CreateTaskRequest) -> Result<Task, ApiError> {
        let request = validate::normalize(request);
        if let Some(first) = validate::create_task_errors(&request, self.max_prompt_bytes)
            .into_iter()
            .next()
        {
            return Err(first);
        }
        let task = Task::queued(uuid::Uuid::now_v7(), request, crate::store::now());
        self.hub.create_task(&task).await.map_err(store_error)?;
        tracing::info!(task.id = %task.id, repo = %task.repo, "task created");
        Ok(task)
    }

    async fn list_tasks(&self, query: ListTasksQuery) -> Result<TaskPage, ApiError> {
        let limit = query.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::field(
                ErrorCode::BadRequest,
                "limit",
                format!("limit must be between 1 and {MAX_PAGE}"),
            ));
        }
        let before = match query.cursor.as_deref() {
            None | Some("") => None,
            Some(c) => Some(decode_cursor(c).ok_or_else(|| {
                ApiError::field(
                    ErrorCode::BadRequest,
                    "cursor",
                    "cursor is not one this server handed out",
                )
            })?),
        };
        // Read the stream position first: a change racing this read is then either in the page
        // or after `last_event_id` (or both — applying a snapshot twice is harmless).
        let store = self.hub.store();
        let last_event_id = store.last_event_id().await.map_err(store_error)?;
        let filter = TaskFilter {
            status: query.status,
            repo: query.repo.filter(|r| !r.is_empty()),
            before,
            limit: limit + 1,
        };
        let mut tasks = store.list_tasks(&filter).await.map_err(store_error)?;
        let next_cursor = if tasks.len() > limit as usize {
            tasks.truncate(limit as usize);
            tasks.last().map(encode_cursor)
        } else {
            None
        };
        Ok(TaskPage {
            tasks,
            next_cursor,
            last_event_id,
        })
    }

    async fn get_task(&self, id: TaskId) -> Result<Task, ApiError> {
        self.hub
            .store()
            .get_task(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| ApiError::not_found("task"))
    }

    async fn task_events(&self, id: TaskId, after: i64) -> Result<Vec<EventEnvelope>, ApiError> {
        // Existence first, so an unknown id is a 404 rather than an empty history.
        self.get_task(id).await?;
        self.hub
            .store()
            .events_after(id, after, HISTORY_PAGE)
            .await
            .map_err(store_error)
    }

    async fn cancel_task(&self, id: TaskId) -> Result<Task, ApiError> {
        // Only queued tasks exist until the worker runtime lands; it will route cancels of
        // running tasks through their actor.
        let transition = Transition {
            allowed_from: vec![TaskStatus::Queued],
            to: TaskStatus::Cancelled,
            reason: Some("cancelled by user".into()),
        };
        match self.hub.transition(id, &transition).await {
            Ok((task, _)) => {
                tracing::info!(task.id = %id, "task cancelled");
                Ok(task)
            }
            Err(StoreError::WrongStatus { current }) if current.is_terminal() => {
                Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!("the task already ended ({current}); there is nothing to cancel"),
                ))
            }
            Err(e) => Err(store_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let now = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        let id = uuid::Uuid::now_v7();
        let task = Task::queued(id, CreateTaskRequest::default(), now);
        assert_eq!(decode_cursor(&encode_cursor(&task)), Some((now, id)));
        for bad in [
            "",
            "x",
            "123",
            "abc_def",
            "1_notauuid",
            "99999999999999999999_x",
        ] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }
}
