//! Events: each task's append-only history with a gap-free `seq`, and the change feed across
//! all tasks (by global event id) that the list page and `/api/events` follow.

use super::{millis_to_time, now, parse_id, tasks::task_from_row, Store, StoreError};
use app::model::{EventEnvelope, Task, TaskEvent, TaskId};
use chrono::{DateTime, Utc};
use sqlx::{sqlite::SqliteRow, Row, Transaction};

impl Store {
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

    /// The events of one kind (`type`) of one task, oldest first.
    pub async fn events_of_kind(
        &self,
        task_id: TaskId,
        kind: &str,
    ) -> Result<Vec<EventEnvelope>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, task_id, seq, payload, created_at FROM task_events \
             WHERE task_id = $1 AND type = $2 ORDER BY seq",
        )
        .bind(task_id.to_string())
        .bind(kind)
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

    /// The newest global event id (0 when there is none).
    pub async fn last_event_id(&self) -> Result<i64, StoreError> {
        let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM task_events")
            .fetch_one(&self.pool)
            .await?;
        Ok(id.unwrap_or(0))
    }
}

/// Appends inside an open transaction: bump the task's `last_seq`, insert with that seq.
pub(super) async fn append_in(
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
