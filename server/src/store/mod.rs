//! Persistence of tasks and their append-only event history (sqlx, SQLite by default).
//!
//! The SQL is kept portable (`$n` placeholders, BIGINT epoch-millisecond timestamps, no
//! SQLite-only functions) so a Postgres store can follow behind this same interface. Writes that
//! belong together (a status change and its event) happen in one transaction.
//!
//! - this module: connecting and migrating, errors, the installation id, time and id helpers;
//! - `tasks`: creating, changing, listing and counting tasks;
//! - `events`: appending to and reading a task's event history and the all-tasks change feed;
//! - `runs`: the worker's persisted progress per task (`task_runs`), read by restart recovery.

mod events;
mod runs;
mod tasks;

pub use runs::{RunPhase, TaskRun};
pub use tasks::{TaskFilter, Transition};

use app::model::{TaskId, TaskStatus};
use chrono::{DateTime, Utc};
use sqlx::{
    migrate::{Migration, MigrationType, Migrator},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    SqlSafeStr, SqlitePool,
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
            include_str!("../../../migrations/sqlite/0001_tasks_and_events.sql"),
        ),
        migration(
            2,
            "task runs",
            include_str!("../../../migrations/sqlite/0002_task_runs.sql"),
        ),
        migration(
            3,
            "meta",
            include_str!("../../../migrations/sqlite/0003_meta.sql"),
        ),
    ])
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
}

/// The current time at the precision the store keeps (milliseconds), so what a write returns
/// equals what a later read returns.
pub fn now() -> DateTime<Utc> {
    let ms = Utc::now().timestamp_millis();
    DateTime::from_timestamp_millis(ms).unwrap_or_else(Utc::now)
}

pub(super) fn millis_to_time(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms} out of range")))
}

pub(super) fn parse_id(s: &str) -> Result<TaskId, StoreError> {
    TaskId::parse_str(s).map_err(|_| StoreError::Corrupt(format!("bad task id {s:?}")))
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
