//! The seam between the dashboard's server functions and the server (compiled with `ssr` only).
//!
//! `app` cannot depend on the server crate, so server functions reach the task service through
//! this trait, provided as a Leptos context by the server. The REST handlers call the same
//! implementation: the browser and the API see one behaviour.

use crate::model::{
    ApiError, CreateTaskRequest, EventEnvelope, ListTasksQuery, Task, TaskId, TaskPage,
};
use std::sync::Arc;

#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// `Ok` when the request may read and write tasks (auth off, or a valid token in the
    /// `Authorization` header or the login cookie).
    fn authorize(&self, headers: &http::HeaderMap) -> Result<(), ApiError>;
    /// Whether `auth.api_tokens` is set (the dashboard then offers a login).
    fn auth_required(&self) -> bool;
    fn max_prompt_bytes(&self) -> usize;
    async fn create_task(&self, request: CreateTaskRequest) -> Result<Task, ApiError>;
    async fn list_tasks(&self, query: ListTasksQuery) -> Result<TaskPage, ApiError>;
    async fn get_task(&self, id: TaskId) -> Result<Task, ApiError>;
    /// The task's events with `seq > after`, oldest first.
    async fn task_events(&self, id: TaskId, after: i64) -> Result<Vec<EventEnvelope>, ApiError>;
    async fn cancel_task(&self, id: TaskId) -> Result<Task, ApiError>;
}

pub type SharedBackend = Arc<dyn Backend>;
