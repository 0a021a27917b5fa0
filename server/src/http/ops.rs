//! Operational endpoints (health, readiness, metrics, the OpenAPI document) and the dashboard's
//! login/logout form posts.

use super::{error::ApiFailure, AppState};
use crate::auth::COOKIE_NAME;
use app::model::{ApiError, ErrorCode};
use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Redirect, Response},
    Form, Json,
};
use serde::Deserialize;

/// Liveness: the process answers.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: the database answers. Also names the installation (its containers' label).
pub async fn readyz(State(state): State<AppState>) -> Response {
    let store = state.tasks.hub().store();
    match store.instance_id().await {
        Ok(instance) => {
            Json(serde_json::json!({ "status": "ready", "instance": instance })).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            ApiFailure(ApiError::new(
                ErrorCode::Unavailable,
                "the database is not reachable",
            ))
            .into_response()
        }
    }
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let counts = match state.tasks.hub().store().count_by_status().await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot count tasks for /metrics");
            Vec::new()
        }
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&counts),
    )
        .into_response()
}

pub async fn openapi() -> Response {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let doc = DOC.get_or_init(|| super::openapi().to_json().unwrap_or_else(|_| "{}".into()));
    ([(header::CONTENT_TYPE, "application/json")], doc.clone()).into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
    #[serde(default)]
    next: String,
}

/// Only same-site paths: never redirect a login to another host.
fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

/// The dashboard's login form: a valid token becomes an HttpOnly cookie.
pub async fn login(State(state): State<AppState>, Form(form): Form<LoginForm>) -> Response {
    let next = safe_next(&form.next);
    if !state.auth.is_valid(form.token.trim()) {
        let back = format!("/login?error=invalid&next={}", urlencode(next));
        return Redirect::to(&back).into_response();
    }
    let cookie = format!(
        "{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        form.token.trim(),
        60 * 60 * 24 * 30
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to(next)).into_response()
}

pub async fn logout() -> Response {
    let cookie = format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|v| v.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_never_redirects_off_site() {
        assert_eq!(safe_next("/tasks/1"), "/tasks/1");
        for bad in ["https://evil", "//evil.com", "/\\evil", "", "javascript:x"] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
        assert_eq!(urlencode("/a b?c=d"), "%2Fa+b%3Fc%3Dd");
    }
}
