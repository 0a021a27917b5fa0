//! The HTTP surface: REST `/api/*`, SSE, ops endpoints, and the Leptos dashboard, in one axum
//! router. Errors are mapped to JSON here and only here ([`error`]).

pub mod api;
pub mod error;
pub mod ops;
pub mod sse;
pub mod webhook;

use crate::{auth::Auth, tasks::TaskService, telemetry::Metrics};
use app::backend::SharedBackend;
use axum::{
    extract::{DefaultBodyLimit, FromRef, MatchedPath, Request, State},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{any, get, post},
    Router,
};
use leptos::prelude::*;
use leptos_axum::LeptosRoutes;
use std::{sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub tasks: Arc<TaskService>,
    pub auth: Auth,
    pub metrics: Arc<Metrics>,
    /// Cancelled when the server shuts down: ends SSE streams so the drain can finish.
    pub shutdown: CancellationToken,
    pub sse_keep_alive: Duration,
    /// Verifies webhook deliveries (`github.webhook_secret`); none: webhooks are refused.
    pub webhook_secret: Option<crate::config::Secret>,
    pub deliveries: Arc<webhook::Deliveries>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The OpenAPI document of every REST route, built from the same registrations as the router.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = api::routes().split_for_parts();
    doc.info.title = "Amp Orchestrator".into();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc.info.description = Some(
        "Turn a prompt into a green pull request. Every error is \
         `{\"error\": {\"code\", \"message\", \"field\"}}`."
            .into(),
    );
    doc
}

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let (api_router, _) = api::routes().split_for_parts();

    let backend: SharedBackend = state.tasks.clone();
    let provide_backend = move || provide_context(backend.clone());
    let routes = leptos_axum::generate_route_list(app::ui::App);
    let shell = {
        let options = state.leptos_options.clone();
        move || app::ui::shell(options.clone())
    };

    Router::new()
        .merge(api_router)
        .route("/api/openapi.json", get(ops::openapi))
        .route("/api/{*rest}", any(error::api_not_found))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/login", post(ops::login))
        .route("/logout", post(ops::logout))
        .leptos_routes_with_context(&state, routes, provide_backend.clone(), shell)
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(provide_backend, app::ui::shell))
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .layer(middleware::from_fn_with_state(state.clone(), count_request))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}

/// `/api/*` needs a token when `auth.api_tokens` is set (the dashboard's server functions are
/// under `/api/` too, and also check inside, because SSR calls them without HTTP).
async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // GitHub cannot send our token; its deliveries are signed instead (checked by the handler).
    if req.uri().path().starts_with("/api/") && req.uri().path() != "/api/github/webhook" {
        if let Err(e) = state.auth.check(req.headers()) {
            return error::ApiFailure(e).into_response();
        }
    }
    next.run(req).await
}

/// Counts requests by route template (never the raw path: ids would explode the label set).
async fn count_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(req).await;
    state
        .metrics
        .http_request(&method, &route, response.status().as_u16());
    response
}
