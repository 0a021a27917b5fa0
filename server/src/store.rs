//! Persistence of tasks and their append-only event history (sqlx, SQLite by default).
//!
//! The SQL is kept portable (`$n` placeholders, BIGINT epoch-millisecond timestamps, no
//! SQLite-only functions) so a Postgres store can follow behind this same interface. Writes that
//! belong together (a status change and its event) happen in one transaction.

use app::model::{EventEnvelope, Task, TaskEvent, TaskId, TaskStatus};
use chrono::{DateTime, Utc};
use sqlx::{
    migrate::{Migration, MigrationType, Migrator},
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
    },
    AssertSqlSafe, Row, SqlSafeStr, SqlitePool, Transaction,
};
use std::{str::FromStr, time::Duration};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// A status change whose precondition did not hold: the task is in `current`.
    #[error("task is {current}")]
    WrongStatus { current: TaskStatus },
    #[error("task not found")]
    NotFound,
}

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

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

fn migrator() -> Migrator {
    let migration = |version: i64, description: &'static str, sql: &'static str| {
        Migration::new(
            version,
            description.into(),
            MigrationType::Simple,
            sql.into_sql_str(),
            false,
        )
    };
    Migrator::with_migrations(vec![
        migration(
            1,
            "tasks and events",
            include_str!("../../migrations/sqlite/0001_tasks_and_events.sql"),
        ),
        migration(
            2,
            "task runs",
            include_str!("../../migrations/sqlite/0002_task_runs.sql"),
        ),
        migration(
            3,
            "meta",
            include_str!("../../migrations/sqlite/0003_meta.sql"),
        ),
    ])
}

/// Where a task's work stands, persisted so a restart knows what is safe to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunPhase {
    /// Cloning, branching, starting the container.
    Preparing,
    /// Workspace and container are ready; no agent turn has started.
    Prepared,
    /// An agent turn is running (its output cannot be re-attached after a restart).
    TurnRunning,
    /// The turn ended and its work is committed on the host, not yet pushed.
    TurnDone,
    /// The turn's work is on the remote.
    Pushed,
    Finished,
}

impl RunPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            RunPhase::Preparing => "preparing",
            RunPhase::Prepared => "prepared",
            RunPhase::TurnRunning => "turn_running",
            RunPhase::TurnDone => "turn_done",
            RunPhase::Pushed => "pushed",
            RunPhase::Finished => "finished",
        }
    }

    fn parse(s: &str) -> Option<RunPhase> {
        [
            RunPhase::Preparing,
            RunPhase::Prepared,
            RunPhase::TurnRunning,
            RunPhase::TurnDone,
            RunPhase::Pushed,
            RunPhase::Finished,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// The worker's persisted state of one task (`task_runs`).
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRun {
    pub task_id: TaskId,
    pub phase: RunPhase,
    pub container_id: Option<String>,
    pub agent: String,
    pub session_id: Option<String>,
    pub turns: u32,
    pub base_branch: Option<String>,
    pub base_sha: Option<String>,
    pub pushed_sha: Option<String>,
}

impl Store {
    /// Opens (creating if needed) the database and applies pending migrations.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let filename = options.get_filename().to_path_buf();
        let in_memory = url.contains(":memory:") || filename.as_os_str().is_empty();
        if !in_memory {
            if let Some(dir) = filename.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
        }
        // An in-memory database lives in one connection; keep exactly that one alive.
        let pool_options = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(max_connections)
        };
        let pool = pool_options
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        migrator().run(&pool).await?;
        Ok(Store { pool })
    }

    /// A cheap round trip, for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

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

    /// Appends an event to a task's history (the next seq).
    pub async fn append_event(
        &self,
        task_id: TaskId,
        event: &TaskEvent,
    ) -> Result<EventEnvelope, StoreError> {
        let mut tx = self.pool.begin().await?;
        let env = append_in(&mut tx, task_id, event, now()).await?;
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

impl Store {
    /// Events of one task with `seq > after`, oldest first, at most `limit`.
    pub async fn events_after(
        &self,
        task_id: TaskId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<EventEnvelope>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, task_id, seq, payload, created_at FROM task_events \
             WHERE task_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(task_id.to_string())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(envelope_from_row).collect()
    }

    /// Creations and status changes of all tasks with global `id > after`, oldest first, each
    /// with the task as it is now.
    pub async fn changes_after(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(EventEnvelope, Task)>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.id AS e_id, e.task_id AS e_task_id, e.seq AS e_seq, e.payload AS e_payload, \
             e.created_at AS e_created_at, t.* \
             FROM task_events e JOIN tasks t ON t.id = e.task_id \
             WHERE e.id > $1 AND e.type IN ('task_created', 'status_changed') ORDER BY e.id LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let env = envelope_from_parts(
                    row.try_get("e_id")?,
                    row.try_get("e_task_id")?,
                    row.try_get("e_seq")?,
                    row.try_get("e_payload")?,
                    row.try_get("e_created_at")?,
                )?;
                Ok((env, task_from_row(row)?))
            })
            .collect()
    }

    /// This installation's id, generated on first use and stable for the database's life.
    pub async fn instance_id(&self) -> Result<String, StoreError> {
        let fresh = uuid::Uuid::now_v7().simple().to_string();
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('instance', $1) ON CONFLICT (key) DO NOTHING",
        )
        .bind(&fresh)
        .execute(&self.pool)
        .await?;
        let id: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'instance'")
            .fetch_one(&self.pool)
            .await?;
        Ok(id)
    }

    /// Writes the worker's state of a task (insert or replace).
    pub async fn save_run(&self, run: &TaskRun) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO task_runs (task_id, phase, container_id, agent, session_id, turns, base_branch, base_sha, pushed_sha, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (task_id) DO UPDATE SET phase = excluded.phase, container_id = excluded.container_id, \
             agent = excluded.agent, session_id = excluded.session_id, turns = excluded.turns, base_branch = excluded.base_branch, \
             base_sha = excluded.base_sha, pushed_sha = excluded.pushed_sha, updated_at = excluded.updated_at",
        )
        .bind(run.task_id.to_string())
        .bind(run.phase.as_str())
        .bind(&run.container_id)
        .bind(&run.agent)
        .bind(&run.session_id)
        .bind(i64::from(run.turns))
        .bind(&run.base_branch)
        .bind(&run.base_sha)
        .bind(&run.pushed_sha)
        .bind(now().timestamp_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_run(&self, task_id: TaskId) -> Result<Option<TaskRun>, StoreError> {
        let row = sqlx::query("SELECT * FROM task_runs WHERE task_id = $1")
            .bind(task_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            let phase: String = row.try_get("phase")?;
            let turns: i64 = row.try_get("turns")?;
            Ok(TaskRun {
                task_id,
                phase: RunPhase::parse(&phase)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown run phase {phase:?}")))?,
                container_id: row.try_get("container_id")?,
                agent: row.try_get("agent")?,
                session_id: row.try_get("session_id")?,
                turns: turns.clamp(0, i64::from(u32::MAX)) as u32,
                base_branch: row.try_get("base_branch")?,
                base_sha: row.try_get("base_sha")?,
                pushed_sha: row.try_get("pushed_sha")?,
            })
        })
        .transpose()
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

    /// The newest global event id (0 when there is none).
    pub async fn last_event_id(&self) -> Result<i64, StoreError> {
        let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM task_events")
            .fetch_one(&self.pool)
            .await?;
        Ok(id.unwrap_or(0))
    }
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

impl Store {
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

/// Appends inside an open transaction: bump the task's `last_seq`, insert with that seq.
async fn append_in(
    tx: &mut Transaction<'_, sqlx::Sqlite>,
    task_id: TaskId,
    event: &TaskEvent,
    at: DateTime<Utc>,
) -> Result<EventEnvelope, StoreError> {
    let seq: i64 = sqlx::query_scalar(
        "UPDATE tasks SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq",
    )
    .bind(task_id.to_string())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    let payload = serde_json::to_string(event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO task_events (task_id, seq, type, payload, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(task_id.to_string())
    .bind(seq)
    .bind(event.kind())
    .bind(&payload)
    .bind(at.timestamp_millis())
    .fetch_one(&mut **tx)
    .await?;
    Ok(EventEnvelope {
        id,
        task_id,
        seq,
        at: millis_to_time(at.timestamp_millis())?,
        event: event.clone(),
    })
}

/// The current time at the precision the store keeps (milliseconds), so what a write returns
/// equals what a later read returns.
pub fn now() -> DateTime<Utc> {
    let ms = Utc::now().timestamp_millis();
    DateTime::from_timestamp_millis(ms).unwrap_or_else(Utc::now)
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

fn millis_to_time(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms} out of range")))
}

fn parse_id(s: &str) -> Result<TaskId, StoreError> {
    TaskId::parse_str(s).map_err(|_| StoreError::Corrupt(format!("bad task id {s:?}")))
}

fn task_from_row(row: &SqliteRow) -> Result<Task, StoreError> {
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

fn envelope_from_row(row: &SqliteRow) -> Result<EventEnvelope, StoreError> {
    envelope_from_parts(
        row.try_get("id")?,
        row.try_get("task_id")?,
        row.try_get("seq")?,
        row.try_get("payload")?,
        row.try_get("created_at")?,
    )
}

fn envelope_from_parts(
    id: i64,
    task_id: String,
    seq: i64,
    payload: String,
    at: i64,
) -> Result<EventEnvelope, StoreError> {
    let event: TaskEvent = serde_json::from_str(&payload)
        .map_err(|e| StoreError::Corrupt(format!("event {id} has an unreadable payload: {e}")))?;
    Ok(EventEnvelope {
        id,
        task_id: parse_id(&task_id)?,
        seq,
        at: millis_to_time(at)?,
        event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn instance_id_is_created_once_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("m.db").display());
        let store = Store::connect(&url, 2).await.unwrap();
        let first = store.instance_id().await.unwrap();
        assert_eq!(first.len(), 32);
        assert_eq!(store.instance_id().await.unwrap(), first);
        store.close().await;
        let again = Store::connect(&url, 2).await.unwrap();
        assert_eq!(
            again.instance_id().await.unwrap(),
            first,
            "stable across restarts"
        );
    }
}
