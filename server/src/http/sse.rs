//! Server-sent event streams: one task's events, and every task's creations and status changes.
//!
//! Wire format: `id:` is the resume position (a task's `seq`, or the global event id on the
//! all-tasks stream), `event:` is the event's `type`, `data:` its JSON. A reconnecting
//! EventSource sends `Last-Event-ID`, which resumes right after that event; `?after=` does the
//! same for clients that cannot set headers. Keep-alive comments stop proxies from closing idle
//! streams, and every stream ends when the server shuts down.

use super::{
    api::{parse_task_id, query_pairs},
    error::ApiResult,
    AppState,
};
use crate::events::StreamItem;
use app::{
    backend::Backend,
    model::{ApiError, ErrorBody, ErrorCode, EventEnvelope, Resync, TaskChange},
};
use axum::{
    extract::{Path, RawQuery, State},
    http::{header, HeaderMap},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    Json,
};
use futures::{Stream, StreamExt};
use std::convert::Infallible;

/// The resume position: the larger of `Last-Event-ID` and `?after=`.
fn resume_after(headers: &HeaderMap, raw_query: Option<&str>) -> Result<Option<i64>, ApiError> {
    let bad = |field: &str| {
        ApiError::field(
            ErrorCode::BadRequest,
            field,
            format!("{field} must be a non-negative whole number"),
        )
    };
    let mut after: Option<i64> = None;
    for (_, value) in query_pairs(raw_query, &["after"])? {
        let n: i64 = value
            .parse()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| bad("after"))?;
        after = Some(after.map_or(n, |a| a.max(n)));
    }
    if let Some(value) = headers.get("last-event-id") {
        let n: i64 = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|n| *n >= 0)
            .ok_or_else(|| bad("Last-Event-ID"))?;
        after = Some(after.map_or(n, |a| a.max(n)));
    }
    Ok(after)
}

/// Whether the client asked for the JSON history rather than a stream.
fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.contains("application/json") && !accept.contains("text/event-stream")
}

/// Wraps an item stream as SSE: counted as a live client, ended at shutdown.
fn into_sse<T, F>(
    state: &AppState,
    items: impl Stream<Item = StreamItem<T>> + Send + 'static,
    to_event: F,
) -> Response
where
    T: Send + 'static,
    F: Fn(T) -> Event + Send + 'static,
{
    let guard = state.metrics.sse_client();
    let events = items
        .map(move |item| {
            let _keep_counted = &guard;
            match item {
                StreamItem::Event(value) => to_event(value),
                StreamItem::Resync(reason) => resync_event(reason),
            }
        })
        .map(Ok::<_, Infallible>)
        .take_until(state.shutdown.clone().cancelled_owned());
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(state.sse_keep_alive))
        .into_response()
}

fn resync_event(reason: String) -> Event {
    Event::default()
        .event("resync")
        .json_data(Resync { reason })
        .unwrap_or_else(|_| Event::default().event("resync"))
}

fn envelope_event(id: i64, env_kind: &str, data: impl serde::Serialize) -> Event {
    Event::default()
        .id(id.to_string())
        .event(env_kind)
        .json_data(data)
        // Serializing our own types cannot fail; if it ever did, a comment keeps the stream valid.
        .unwrap_or_else(|_| Event::default().comment("unserializable event"))
}

/// A task's events: history, then live. With `Accept: application/json`, the history as a JSON array.
#[utoipa::path(
    get, path = "/api/tasks/{id}/events", tag = "events",
    params(
        ("id" = String, Path, description = "Task id"),
        ("after" = Option<i64>, Query, description = "Only events with a larger `seq`"),
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this `seq` (sent by EventSource on reconnect)"),
    ),
    responses(
        (status = 200, description = "`text/event-stream`: `id` = seq, `event` = type, `data` = EventEnvelope JSON; \
            or, with `Accept: application/json`, the history as a JSON array",
            content((EventEnvelope = "text/event-stream"), (Vec<EventEnvelope> = "application/json"))),
        (status = 400, description = "Bad `after` / `Last-Event-ID`", body = ErrorBody),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
    )
)]
pub async fn task_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = parse_task_id(&id)?;
    let after = resume_after(&headers, raw.as_deref())?.unwrap_or(0);
    if wants_json(&headers) {
        return Ok(Json(state.tasks.task_events(id, after).await?).into_response());
    }
    state.tasks.get_task(id).await?;
    let items = state.tasks.hub().task_events(id, after);
    Ok(into_sse(&state, items, |env: EventEnvelope| {
        envelope_event(env.seq, env.event.kind(), &env)
    }))
}

/// Every task's creation and status changes, live (with `after`/`Last-Event-ID`: replayed from there).
#[utoipa::path(
    get, path = "/api/events", tag = "events",
    params(
        ("after" = Option<i64>, Query, description = "Replay changes with a larger global event id first"),
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this global event id"),
    ),
    responses(
        (status = 200, description = "`text/event-stream`: `id` = global event id, `event` = `task_created` | \
            `status_changed` (or `resync`), `data` = TaskChange JSON", body = TaskChange, content_type = "text/event-stream"),
        (status = 400, description = "Bad `after` / `Last-Event-ID`", body = ErrorBody),
        (status = 401, description = "Missing or wrong API token", body = ErrorBody),
    )
)]
pub async fn all_events(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let after = resume_after(&headers, raw.as_deref())?;
    let items = state.tasks.hub().task_changes(after);
    Ok(into_sse(&state, items, |change: TaskChange| {
        envelope_event(change.event.id, change.event.event.kind(), &change)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_position_takes_the_larger_of_header_and_query() {
        let mut h = HeaderMap::new();
        assert_eq!(resume_after(&h, None).unwrap(), None);
        assert_eq!(resume_after(&h, Some("after=4")).unwrap(), Some(4));
        h.insert("last-event-id", "7".parse().unwrap());
        assert_eq!(resume_after(&h, Some("after=4")).unwrap(), Some(7));
        assert_eq!(resume_after(&h, Some("after=9")).unwrap(), Some(9));
        assert_eq!(
            resume_after(&h, Some("after=x"))
                .unwrap_err()
                .field
                .as_deref(),
            Some("after")
        );
        h.insert("last-event-id", "-1".parse().unwrap());
        assert_eq!(
            resume_after(&h, None).unwrap_err().field.as_deref(),
            Some("Last-Event-ID")
        );
    }

    #[test]
    fn json_only_when_asked_for_without_event_stream() {
        let mut h = HeaderMap::new();
        assert!(!wants_json(&h));
        h.insert(header::ACCEPT, "application/json".parse().unwrap());
        assert!(wants_json(&h));
        h.insert(
            header::ACCEPT,
            "text/event-stream, application/json".parse().unwrap(),
        );
        assert!(!wants_json(&h));
    }
}
