//! Tasks: creation, status changes (with their event, in one transaction), the list with its
//! filters and counts, and the fields the worker fills in as it goes.

use super::{events::append_in, millis_to_time, now, parse_id, Store, StoreError};
use app::model::{EventEnvelope, Task, TaskEvent, TaskId, TaskStatus};
use chrono::{DateTime, Utc};
use sqlx::{sqlite::SqliteRow, AssertSqlSafe, Row};

/// Filters and keyset position for listing tasks newest first.
#[derive(Clone, Debug, Default)]
pub struct TaskFilter {
    pub status: Option<TaskStatus>,
    pub repo: Option<String>,
    /// Case-insensitive substring of the prompt.
    pub search: Option<String>,
    /// Only tasks strictly older than this `(created_at, id)` position.
    pub before: Option<(DateTime<Utc>, TaskId)>,
    pub limit: u32,
}

/// What a status change writes besides the status itself.
#[derive(Clone, Debug)]
pub struct Transition {
    pub allowed_from: Vec<TaskStatus>,
    pub to: TaskStatus,
    pub reason: Option<String>,
}

impl Store {
    /// Inserts a new task together with its first event (seq 1).
    pub async fn insert_task(
        &self,
        task: &Task,
        event: &TaskEvent,
    ) -> Result<EventEnvelope, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO tasks (id, prompt, repo, base_branch, agent, max_iterations, status, branch, \
             pr_url, pr_number, iterations, error, created_at, updated_at, last_seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0)",
        )
        .bind(task.id.to_string())
        .bind(&task.prompt)
        .bind(&task.repo)
        .bind(&task.base_branch)
        .bind(&task.agent)
        .bind(task.max_iterations.map(i64::from))
        .bind(task.status.as_str())
        .bind(&task.branch)
        .bind(&task.pr_url)
        .bind(task.pr_number.map(|n| n as i64))
        .bind(i64::from(task.iterations))
        .bind(&task.error)
        .bind(task.created_at.timestamp_millis())
        .bind(task.updated_at.timestamp_millis())
        .execute(&mut *tx)
        .await?;
        let env = append_in(&mut tx, task.id, event, task.created_at).await?;
        tx.commit().await?;
        Ok(env)
    }

    /// Moves a task to `t.to` if its status is one of `t.allowed_from`, recording the
    /// `StatusChanged` event in the same transaction.
    pub async fn transition(
        &self,
        task_id: TaskId,
        t: &Transition,
    ) -> Result<(Task, EventEnvelope), StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("SELECT * FROM tasks WHERE id = $1")
            .bind(task_id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut task = task_from_row(&row)?;
        if !t.allowed_from.contains(&task.status) {
            return Err(StoreError::WrongStatus {
                current: task.status,
            });
        }
        let now = now();
        let event = TaskEvent::StatusChanged {
            from: task.status,
            to: t.to,
            reason: t.reason.clone(),
        };
        let error = if matches!(t.to, TaskStatus::Failed | TaskStatus::Cancelled) {
            t.reason.clone().or(task.error.clone())
        } else {
            task.error.clone()
        };
        sqlx::query("UPDATE tasks SET status = $1, error = $2, updated_at = $3 WHERE id = $4")
            .bind(t.to.as_str())
            .bind(&error)
            .bind(now.timestamp_millis())
            .bind(task_id.to_string())
            .execute(&mut *tx)
            .await?;
        let env = append_in(&mut tx, task_id, &event, now).await?;
        tx.commit().await?;
        task.status = t.to;
        task.error = error;
        task.updated_at = now;
        Ok((task, env))
    }

    pub async fn get_task(&self, id: TaskId) -> Result<Option<Task>, StoreError> {
        let row = sqlx::query("SELECT * FROM tasks WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    /// One page of the list as of a single moment: the newest event id, the tasks and the
    /// per-status counts, read in one transaction so a change cannot fall between them (a client
    /// then follows changes after that event id and counts nothing twice).
    pub async fn list_page(
        &self,
        filter: &TaskFilter,
    ) -> Result<(i64, Vec<Task>, Vec<(TaskStatus, i64)>), StoreError> {
        let mut tx = self.pool.begin().await?;
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM task_events")
            .fetch_one(&mut *tx)
            .await?;
        let tasks = list_tasks_on(&mut tx, filter).await?;
        let counts = count_matching_on(&mut tx, filter).await?;
        tx.commit().await?;
        Ok((last.unwrap_or(0), tasks, counts))
    }

    /// Records the task's working branch (shown on the task).
    pub async fn set_branch(&self, task_id: TaskId, branch: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE tasks SET branch = $1, updated_at = $2 WHERE id = $3")
            .bind(branch)
            .bind(now().timestamp_millis())
            .bind(task_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records how many CI rounds the task has started.
    pub async fn set_iterations(&self, task_id: TaskId, iterations: u32) -> Result<(), StoreError> {
        sqlx::query("UPDATE tasks SET iterations = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(iterations))
            .bind(now().timestamp_millis())
            .bind(task_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records the task's pull request.
    pub async fn set_pull_request(
        &self,
        task_id: TaskId,
        number: u64,
        url: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE tasks SET pr_number = $1, pr_url = $2, updated_at = $3 WHERE id = $4")
            .bind(i64::try_from(number).unwrap_or(i64::MAX))
            .bind(url)
            .bind(now().timestamp_millis())
            .bind(task_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Tasks in any of `statuses`, oldest first, at most `limit`.
    pub async fn tasks_in(
        &self,
        statuses: &[TaskStatus],
        limit: u32,
    ) -> Result<Vec<Task>, StoreError> {
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=statuses.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT * FROM tasks WHERE status IN ({}) ORDER BY created_at, id LIMIT ${}",
            placeholders.join(", "),
            statuses.len() + 1
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for status in statuses {
            query = query.bind(status.as_str());
        }
        let rows = query.bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.iter().map(task_from_row).collect()
    }

    /// How many tasks are in each status (statuses with none are absent).
    pub async fn count_by_status(&self) -> Result<Vec<(TaskStatus, i64)>, StoreError> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM tasks GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let status: String = row.try_get("status")?;
                let status = TaskStatus::parse(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown status {status:?}")))?;
                Ok((status, row.try_get("n")?))
            })
            .collect()
    }
}

/// Tasks newest first, at most `filter.limit`.
async fn list_tasks_on(
    conn: &mut sqlx::SqliteConnection,
    filter: &TaskFilter,
) -> Result<Vec<Task>, StoreError> {
    // Built from fixed fragments only; every value is bound.
    let mut sql = String::from("SELECT * FROM tasks WHERE 1 = 1");
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    if filter.status.is_some() {
        sql.push_str(&format!(" AND status = ${}", next()));
    }
    if filter.repo.is_some() {
        sql.push_str(&format!(" AND repo = ${}", next()));
    }
    if filter.search.is_some() {
        sql.push_str(&format!(" AND LOWER(prompt) LIKE ${} ESCAPE '\\'", next()));
    }
    if filter.before.is_some() {
        let (a, b, c) = (next(), next(), next());
        sql.push_str(&format!(
            " AND (created_at < ${a} OR (created_at = ${b} AND id < ${c}))"
        ));
    }
    sql.push_str(&format!(
        " ORDER BY created_at DESC, id DESC LIMIT ${}",
        next()
    ));
    let mut query = sqlx::query(AssertSqlSafe(sql));
    if let Some(status) = filter.status {
        query = query.bind(status.as_str());
    }
    if let Some(repo) = &filter.repo {
        query = query.bind(repo.clone());
    }
    if let Some(search) = &filter.search {
        query = query.bind(like_pattern(search));
    }
    if let Some((at, id)) = filter.before {
        query = query
            .bind(at.timestamp_millis())
            .bind(at.timestamp_millis())
            .bind(id.to_string());
    }
    let rows = query
        .bind(i64::from(filter.limit))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(task_from_row).collect()
}

/// Tasks per status among those matching `repo` and `search` (status and paging ignored).
async fn count_matching_on(
    conn: &mut sqlx::SqliteConnection,
    filter: &TaskFilter,
) -> Result<Vec<(TaskStatus, i64)>, StoreError> {
    let mut sql = String::from("SELECT status, COUNT(*) AS n FROM tasks WHERE 1 = 1");
    if filter.repo.is_some() {
        sql.push_str(" AND repo = $1");
    }
    if filter.search.is_some() {
        let n = if filter.repo.is_some() { 2 } else { 1 };
        sql.push_str(&format!(" AND LOWER(prompt) LIKE ${n} ESCAPE '\\'"));
    }
    sql.push_str(" GROUP BY status");
    let mut query = sqlx::query(AssertSqlSafe(sql));
    if let Some(repo) = &filter.repo {
        query = query.bind(repo.clone());
    }
    if let Some(search) = &filter.search {
        query = query.bind(like_pattern(search));
    }
    let rows = query.fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|row| {
            let status: String = row.try_get("status")?;
            let status = TaskStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown status {status:?}")))?;
            Ok((status, row.try_get("n")?))
        })
        .collect()
}

/// `%text%` for LIKE, with the pattern characters in `text` escaped. SQLite's LIKE ignores ASCII
/// case only, and `LOWER(prompt)` lowers ASCII only, so the pattern is lowered the same way: the
/// meaning of [`app::search`], which the dashboard applies to live updates.
fn like_pattern(text: &str) -> String {
    let escaped = text
        .to_ascii_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub(super) fn task_from_row(row: &SqliteRow) -> Result<Task, StoreError> {
    let status: String = row.try_get("status")?;
    let id: String = row.try_get("id")?;
    let max_iterations: Option<i64> = row.try_get("max_iterations")?;
    let pr_number: Option<i64> = row.try_get("pr_number")?;
    let iterations: i64 = row.try_get("iterations")?;
    Ok(Task {
        id: parse_id(&id)?,
        prompt: row.try_get("prompt")?,
        repo: row.try_get("repo")?,
        base_branch: row.try_get("base_branch")?,
        agent: row.try_get("agent")?,
        max_iterations: max_iterations.map(|n| n.clamp(0, i64::from(u32::MAX)) as u32),
        status: TaskStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown status {status:?}")))?,
        branch: row.try_get("branch")?,
        pr_url: row.try_get("pr_url")?,
        pr_number: pr_number.map(|n| n.max(0) as u64),
        iterations: iterations.clamp(0, i64::from(u32::MAX)) as u32,
        error: row.try_get("error")?,
        created_at: millis_to_time(row.try_get("created_at")?)?,
        updated_at: millis_to_time(row.try_get("updated_at")?)?,
    })
}
