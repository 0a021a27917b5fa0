//! The task service: what creating, listing, reading and cancelling tasks means, shared by the
//! REST handlers and the dashboard's server functions (it implements [`app::backend::Backend`]).

use crate::{
    auth::Auth,
    events::EventHub,
    store::{Store, StoreError, TaskFilter, Transition},
    worker::{CancelOutcome, Worker},
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
/// Events read from the store per round trip when returning a whole history.
const HISTORY_PAGE: u32 = 5_000;

pub struct TaskService {
    hub: Arc<EventHub>,
    auth: Auth,
    max_prompt_bytes: usize,
    /// Starts and stops task actors; `None` when workers are disabled or unavailable.
    worker: Option<Worker>,
}

impl TaskService {
    pub fn new(
        hub: Arc<EventHub>,
        auth: Auth,
        max_prompt_bytes: usize,
        worker: Option<Worker>,
    ) -> Self {
        TaskService {
            hub,
            auth,
            max_prompt_bytes,
            worker,
        }
    }

    pub fn hub(&self) -> &Arc<EventHub> {
        &self.hub
    }

    pub fn worker(&self) -> Option<&Worker> {
        self.worker.as_ref()
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

/// Every event of a task after `after`, read `page` at a time (a JSON history is never cut short).
async fn whole_history(
    store: &Store,
    id: TaskId,
    after: i64,
    page: u32,
) -> Result<Vec<EventEnvelope>, StoreError> {
    let mut events = Vec::new();
    let mut last = after;
    loop {
        let batch = store.events_after(id, last, page).await?;
        let done = batch.len() < page as usize;
        last = batch.last().map_or(last, |e| e.seq);
        events.extend(batch);
        if done {
            return Ok(events);
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
        if let Some(worker) = &self.worker {
            worker.wake();
        }
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
        let search = query
            .q
            .map(|q| q.trim().to_string())
            .filter(|q| !q.is_empty());
        if search.as_ref().is_some_and(|q| q.len() > 200) {
            return Err(ApiError::field(
                ErrorCode::BadRequest,
                "q",
                "q must be at most 200 bytes",
            ));
        }
        let filter = TaskFilter {
            status: query.status,
            repo: query.repo.filter(|r| !r.is_empty()),
            search,
            before,
            limit: limit + 1,
        };
        let (last_event_id, mut tasks, counts) =
            store.list_page(&filter).await.map_err(store_error)?;
        let counts = counts
            .into_iter()
            .map(|(status, n)| (status, u64::try_from(n).unwrap_or(0)))
            .collect();
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
            counts,
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
        whole_history(self.hub.store(), id, after, HISTORY_PAGE)
            .await
            .map_err(store_error)
    }

    async fn cancel_task(&self, id: TaskId) -> Result<Task, ApiError> {
        // A queued task is cancelled right here; a running one by its actor, which also stops
        // the agent and removes the container.
        let transition = Transition {
            allowed_from: vec![TaskStatus::Queued],
            to: TaskStatus::Cancelled,
            reason: Some("cancelled by user".into()),
        };
        match self.hub.transition(id, &transition).await {
            Ok((task, _)) => {
                tracing::info!(task.id = %id, "queued task cancelled");
                return Ok(task);
            }
            Err(StoreError::WrongStatus { current }) if current.is_terminal() => {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!("the task already ended ({current}); there is nothing to cancel"),
                ))
            }
            Err(StoreError::WrongStatus { .. }) => {}
            Err(e) => return Err(store_error(e)),
        }
        let outcome = match &self.worker {
            Some(worker) => worker.cancel(id).await,
            None => CancelOutcome::NotRunning,
        };
        let task = self.get_task(id).await?;
        match outcome {
            CancelOutcome::Cancelled => Ok(task),
            CancelOutcome::NotRunning if task.status.is_terminal() => Ok(task),
            CancelOutcome::NotRunning => Err(ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "the task is {} but no worker of this server is running it",
                    task.status
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn whole_history_reads_past_a_page() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("h.db").display());
        let store = Store::connect(&url, 2).await.unwrap();
        let request = CreateTaskRequest {
            prompt: "p".into(),
            repo: "a/b".into(),
            ..Default::default()
        };
        let task = Task::queued(uuid::Uuid::now_v7(), request, crate::store::now());
        store
            .insert_task(
                &task,
                &app::model::TaskEvent::TaskCreated {
                    task: Box::new(task.clone()),
                },
            )
            .await
            .unwrap();
        for n in 0..9 {
            let line = app::model::TaskEvent::Log {
                stream: app::model::LogStream::Stdout,
                line: n.to_string(),
            };
            store.append_event(task.id, &line).await.unwrap();
        }
        let seqs = |events: Vec<EventEnvelope>| events.iter().map(|e| e.seq).collect::<Vec<_>>();
        assert_eq!(
            seqs(whole_history(&store, task.id, 0, 3).await.unwrap()),
            (1..=10).collect::<Vec<_>>()
        );
        assert_eq!(
            seqs(whole_history(&store, task.id, 4, 2).await.unwrap()),
            (5..=10).collect::<Vec<_>>()
        );
        assert!(whole_history(&store, task.id, 10, 3)
            .await
            .unwrap()
            .is_empty());
    }

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
