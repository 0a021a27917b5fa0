//! Amp Orchestrator's server: the `amp-orchestrator` binary is a thin `main` around [`run`].
//!
//! Map of the crate (one module per part of `architecture.md`):
//! - [`config`]: `config.yml` — every key, its default, validation, secrets.
//! - [`store`]: tasks and their append-only events in SQLite (portable SQL, sqlx).
//! - [`events`]: the event hub — persist, then publish; history-then-live subscriptions.
//! - [`tasks`]: what creating, listing, reading and cancelling a task means.
//! - [`auth`]: API tokens (bearer header or the dashboard's login cookie).
//! - [`http`]: the axum router — REST, SSE, ops endpoints, the Leptos dashboard.
//! - [`telemetry`]: logging and the `/metrics` counters.
//!
//! Tasks stay `queued` until the worker runtime (scheduler, task actors, Docker) lands.

#![recursion_limit = "256"]

pub mod agent;
pub mod auth;
pub mod ci;
pub mod config;
pub mod events;
pub mod forge;
pub mod git;
pub mod http;
pub mod runtime;
pub mod store;
pub mod tasks;
pub mod telemetry;
pub mod worker;

use config::Config;
use std::{future::Future, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Name of the dashboard's built assets (`/pkg/<name>.js|.wasm|.css`); cargo-leptos's `name`.
pub const OUTPUT_NAME: &str = "amp-orchestrator";
/// How long open connections get to finish after shutdown is requested.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot open the database: {0}")]
    Store(#[from] store::StoreError),
    #[error("server error: {0}")]
    Serve(#[from] std::io::Error),
}

/// Runs the service on `listener` until `shutdown` completes, then shuts down in stages:
/// stop accepting, end live streams, let requests in flight finish (bounded), close the store.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let metrics = Arc::new(telemetry::Metrics::default());
    let store =
        store::Store::connect(&config.database.url, config.database.max_connections).await?;
    let hub = events::EventHub::new(
        store.clone(),
        events::DEFAULT_CHANNEL_CAPACITY,
        metrics.clone(),
    );
    let auth = auth::Auth::new(config.auth.api_tokens.clone());
    let max_prompt = usize::try_from(config.server.max_prompt_bytes.0).unwrap_or(usize::MAX);
    let stop = CancellationToken::new();
    let worker = start_worker(&config, hub.clone(), stop.child_token()).await;
    let tasks = Arc::new(tasks::TaskService::new(
        hub,
        auth.clone(),
        max_prompt,
        worker.clone(),
    ));

    let addr = listener.local_addr()?;
    let leptos_options = leptos::config::LeptosOptions::builder()
        .output_name(OUTPUT_NAME)
        .site_root(config.server.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build();
    let state = http::AppState {
        leptos_options,
        tasks,
        auth,
        metrics,
        shutdown: stop.clone(),
        sse_keep_alive: config.server.sse_keep_alive.0,
        webhook_secret: config
            .github
            .webhook_secret
            .clone()
            .filter(|s| !s.is_empty()),
        deliveries: Arc::default(),
    };
    let max_body = usize::try_from(config.server.max_body_bytes.0).unwrap_or(usize::MAX);
    let app = http::router(state, max_body);

    if !config.server.site_root.join("pkg").exists() {
        tracing::warn!(site_root = %config.server.site_root.display(),
            "dashboard assets not found: build them with `make build` (cargo leptos build --release); the API works without them");
    }
    tracing::info!(%addr, auth = config.auth.api_tokens.len(), "amp-orchestrator listening on http://{addr}");

    let signal = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutdown requested: closing streams and draining connections");
        signal.cancel();
    });
    let serve = axum::serve(listener, app).with_graceful_shutdown(stop.clone().cancelled_owned());
    tokio::select! {
        result = serve => result?,
        _ = async { stop.cancelled().await; tokio::time::sleep(DRAIN_TIMEOUT).await } => {
            tracing::warn!("connections still open after {DRAIN_TIMEOUT:?}; stopping anyway");
        }
    }
    if let Some(worker) = worker {
        worker.shutdown().await;
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The worker, unless disabled or its runtime is unavailable — then the service still runs,
/// accepts tasks and keeps them queued, and says why loudly.
async fn start_worker(
    config: &Config,
    hub: Arc<events::EventHub>,
    shutdown: CancellationToken,
) -> Option<worker::Worker> {
    if !config.workers.enabled {
        tracing::info!("workers.enabled is false: tasks are queued but not started");
        return None;
    }
    match worker::Worker::start(Arc::new(config.clone()), hub, shutdown).await {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::error!(
                "{e}. Tasks are accepted but stay queued until the runtime is available and amp-orchestrator is restarted \
                 (or set runtime.kind: local for development without isolation)."
            );
            None
        }
    }
}
