//! `POST /api/github/webhook`: GitHub tells us CI moved on some commit, and the watcher of that
//! commit polls at once instead of at its next interval. Polling stays the source of truth, so a
//! lost or duplicated delivery changes nothing; an unsigned or badly signed one is refused (401)
//! and changes nothing either.

use super::{error::ApiFailure, AppState};
use app::model::{ApiError, ErrorCode};
use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::{
    collections::{HashSet, VecDeque},
    sync::Mutex,
};

/// Deliveries remembered for de-duplication (GitHub redelivers with the same id).
const REMEMBERED_DELIVERIES: usize = 4096;

/// Delivery ids seen recently, oldest first.
#[derive(Default)]
pub struct Deliveries {
    seen: Mutex<(VecDeque<String>, HashSet<String>)>,
}

impl Deliveries {
    /// Records `id`; `false` when it was seen already.
    fn first_time(&self, id: &str) -> bool {
        let mut guard = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let (order, set) = &mut *guard;
        if !set.insert(id.to_string()) {
            return false;
        }
        order.push_back(id.to_string());
        if order.len() > REMEMBERED_DELIVERIES {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
        true
    }
}

/// `X-Hub-Signature-256: sha256=<hex>` over the raw body, compared in constant time.
pub fn signature_valid(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(hex) = header.and_then(|h| h.strip_prefix("sha256=")) else {
        return false;
    };
    let Some(expected) = decode_hex(hex.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The commit a CI event is about, for the events that move CI.
fn head_sha(event: &str, payload: &serde_json::Value) -> Option<String> {
    let sha = match event {
        "check_run" => payload.pointer("/check_run/head_sha"),
        "check_suite" => payload.pointer("/check_suite/head_sha"),
        "workflow_run" => payload.pointer("/workflow_run/head_sha"),
        "workflow_job" => payload.pointer("/workflow_job/head_sha"),
        "status" => payload.get("sha"),
        _ => None,
    };
    sha.and_then(|v| v.as_str()).map(str::to_string)
}

/// A GitHub webhook delivery (check_run, check_suite, workflow_run, workflow_job, status).
#[utoipa::path(
    post, path = "/api/github/webhook", tag = "github",
    params(
        ("X-Hub-Signature-256" = String, Header, description = "sha256=<hex HMAC-SHA256 of the body with github.webhook_secret>"),
        ("X-GitHub-Event" = String, Header, description = "The event name"),
        ("X-GitHub-Delivery" = String, Header, description = "The delivery id (duplicates are ignored)"),
    ),
    request_body(content = String, content_type = "application/json", description = "GitHub's event payload"),
    responses(
        (status = 202, description = "Accepted; `woken` says whether a task was watching that commit"),
        (status = 200, description = "A duplicate delivery, ignored"),
        (status = 400, description = "Not JSON", body = app::model::ErrorBody),
        (status = 401, description = "Unsigned, badly signed, or webhooks not enabled", body = app::model::ErrorBody),
    )
)]
pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(secret) = state.webhook_secret.as_ref() else {
        return ApiFailure(ApiError::new(
            ErrorCode::Unauthorized,
            "webhooks are not enabled here: set github.webhook_secret",
        ))
        .into_response();
    };
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if !signature_valid(secret.expose().as_bytes(), &body, signature) {
        return ApiFailure(ApiError::new(
            ErrorCode::Unauthorized,
            "missing or invalid X-Hub-Signature-256",
        ))
        .into_response();
    }
    let delivery = headers
        .get("x-github-delivery")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !delivery.is_empty() && !state.deliveries.first_time(delivery) {
        return (
            StatusCode::OK,
            Json(serde_json::json!({ "duplicate": true })),
        )
            .into_response();
    }
    let event = headers
        .get("x-github-event")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return ApiFailure(ApiError::new(
            ErrorCode::BadRequest,
            "the delivery is not JSON",
        ))
        .into_response();
    };
    let woken = match (head_sha(event, &payload), state.tasks.worker()) {
        (Some(sha), Some(worker)) => worker.wake_ci(&sha),
        _ => false,
    };
    tracing::debug!(%event, %delivery, woken, "webhook delivery");
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "woken": woken })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(body);
        let bytes = mac.finalize().into_bytes();
        format!(
            "sha256={}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    }

    #[test]
    fn signatures_are_checked_exactly() {
        let body = br#"{"action":"completed"}"#;
        let good = sign(b"s3cret", body);
        assert!(signature_valid(b"s3cret", body, Some(&good)));
        assert!(!signature_valid(b"other", body, Some(&good)));
        assert!(!signature_valid(b"s3cret", b"{}", Some(&good)));
        assert!(!signature_valid(b"s3cret", body, None));
        assert!(!signature_valid(b"s3cret", body, Some("sha1=abc")));
        assert!(!signature_valid(b"s3cret", body, Some("sha256=zz")));
    }

    #[test]
    fn deliveries_dedupe_and_stay_bounded() {
        let d = Deliveries::default();
        assert!(d.first_time("a"));
        assert!(!d.first_time("a"));
        for i in 0..REMEMBERED_DELIVERIES + 10 {
            d.first_time(&i.to_string());
        }
        assert!(d.first_time("a"), "old ids are forgotten");
    }

    #[test]
    fn head_shas_come_from_each_event_kind() {
        let p = serde_json::json!({"check_run": {"head_sha": "aaa"}, "sha": "bbb"});
        assert_eq!(head_sha("check_run", &p).as_deref(), Some("aaa"));
        assert_eq!(head_sha("status", &p).as_deref(), Some("bbb"));
        assert_eq!(head_sha("push", &p), None);
    }
}
