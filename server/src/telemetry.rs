//! Logging set-up and the counters behind `GET /metrics` (Prometheus text format).

use crate::config::LogFormat;
use app::model::TaskStatus;
use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{
        atomic::{AtomicI64, AtomicU64, Ordering},
        Mutex,
    },
};

/// Installs the global tracing subscriber (`RUST_LOG` overrides the default `info`).
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // A second init (tests) is harmless; ignore it.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// In-process counters. Cheap to update on hot paths (atomics; one short lock per request).
#[derive(Default)]
pub struct Metrics {
    events_published: AtomicU64,
    sse_clients: AtomicI64,
    /// (method, route template, status) → count. Route templates keep cardinality bounded.
    http_requests: Mutex<BTreeMap<(String, String, u16), u64>>,
}

impl Metrics {
    pub fn event_published(&self) {
        self.events_published.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a live SSE client until the returned guard is dropped.
    pub fn sse_client(self: &std::sync::Arc<Self>) -> SseClientGuard {
        self.sse_clients.fetch_add(1, Ordering::Relaxed);
        SseClientGuard(std::sync::Arc::clone(self))
    }

    pub fn http_request(&self, method: &str, route: &str, status: u16) {
        let mut map = self.http_requests.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
    }

    /// Renders every metric; `tasks` are the current counts per status.
    pub fn render(&self, tasks: &[(TaskStatus, i64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP amp_tasks Tasks in the store by status.\n# TYPE amp_tasks gauge\n");
        for status in TaskStatus::ALL {
            let n = tasks
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |(_, n)| *n);
            let _ = writeln!(out, "amp_tasks{{status=\"{status}\"}} {n}");
        }
        out.push_str("# HELP amp_events_published_total Task events persisted and published.\n# TYPE amp_events_published_total counter\n");
        let _ = writeln!(
            out,
            "amp_events_published_total {}",
            self.events_published.load(Ordering::Relaxed)
        );
        out.push_str("# HELP amp_sse_clients Live server-sent-event connections.\n# TYPE amp_sse_clients gauge\n");
        let _ = writeln!(
            out,
            "amp_sse_clients {}",
            self.sse_clients.load(Ordering::Relaxed)
        );
        out.push_str("# HELP amp_http_requests_total HTTP requests by method, route and status.\n# TYPE amp_http_requests_total counter\n");
        let map = self.http_requests.lock().unwrap_or_else(|p| p.into_inner());
        for ((method, route, status), n) in map.iter() {
            let _ = writeln!(
                out,
                "amp_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape_label(route)
            );
        }
        out
    }
}

pub struct SseClientGuard(std::sync::Arc<Metrics>);

impl Drop for SseClientGuard {
    fn drop(&mut self) {
        self.0.sse_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn renders_prometheus_text() {
        let m = Arc::new(Metrics::default());
        m.event_published();
        m.http_request("GET", "/api/tasks/{id}", 200);
        m.http_request("GET", "/api/tasks/{id}", 200);
        let guard = m.sse_client();
        let text = m.render(&[(TaskStatus::Queued, 3)]);
        assert!(text.contains("amp_tasks{status=\"queued\"} 3\n"));
        assert!(text.contains("amp_tasks{status=\"failed\"} 0\n"));
        assert!(text.contains("amp_events_published_total 1\n"));
        assert!(text.contains("amp_sse_clients 1\n"));
        assert!(text.contains(
            "amp_http_requests_total{method=\"GET\",route=\"/api/tasks/{id}\",status=\"200\"} 2\n"
        ));
        drop(guard);
        assert!(m.render(&[]).contains("amp_sse_clients 0\n"));
    }
}
