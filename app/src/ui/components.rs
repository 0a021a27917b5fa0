//! Small shared pieces of the dashboard.

use crate::model::{ApiError, ErrorCode, TaskStatus};
use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// Tailwind classes of a status badge (light and dark).
pub fn status_classes(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Queued => "bg-slate-200 text-slate-800 dark:bg-slate-700 dark:text-slate-100",
        TaskStatus::Preparing | TaskStatus::Running => {
            "bg-blue-100 text-blue-800 dark:bg-blue-900 dark:text-blue-100"
        }
        TaskStatus::AwaitingCi | TaskStatus::OpeningPr => {
            "bg-amber-100 text-amber-900 dark:bg-amber-900 dark:text-amber-100"
        }
        TaskStatus::Fixing => {
            "bg-orange-100 text-orange-900 dark:bg-orange-900 dark:text-orange-100"
        }
        TaskStatus::Succeeded => {
            "bg-emerald-100 text-emerald-800 dark:bg-emerald-900 dark:text-emerald-100"
        }
        TaskStatus::Failed => "bg-red-100 text-red-800 dark:bg-red-900 dark:text-red-100",
        TaskStatus::Cancelled => "bg-zinc-200 text-zinc-700 dark:bg-zinc-700 dark:text-zinc-200",
    }
}

#[component]
pub fn StatusBadge(#[prop(into)] status: Signal<TaskStatus>) -> impl IntoView {
    view! {
        <span
            data-testid="status-badge"
            data-status=move || status.get().as_str()
            class=move || format!("inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium {}", status_classes(status.get()))
        >
            {move || status.get().as_str().replace('_', " ")}
        </span>
    }
}

/// `2026-11-21 12:34:56 UTC`. Written by hand: chrono's strftime machinery would add tens of
/// kilobytes to the WASM bundle for three formats.
pub fn format_time(t: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `12:34:56`.
pub fn clock_time(t: DateTime<Utc>) -> String {
    use chrono::Timelike;
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// `2026-11-21T12:34:56Z`, for `datetime` attributes.
pub fn iso_time(t: DateTime<Utc>) -> String {
    format_time(t).replacen(' ', "T", 1).replace(" UTC", "Z")
}

/// An error from the server, or a login prompt when that is what it means.
#[component]
pub fn ErrorNotice(error: ApiError) -> impl IntoView {
    if error.code == ErrorCode::Unauthorized {
        return view! { <LoginPrompt/> }.into_any();
    }
    view! {
        <div role="alert" data-testid="error" class="rounded-md border border-red-300 bg-red-50 p-4 text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200">
            {error.message}
        </div>
    }
    .into_any()
}

#[component]
pub fn LoginPrompt() -> impl IntoView {
    view! {
        <div data-testid="login-required" class="rounded-md border border-amber-300 bg-amber-50 p-4 dark:border-amber-800 dark:bg-amber-950">
            <p class="mb-3">"This server requires an API token."</p>
            <super::login::LoginForm next="/".to_string() invalid=false/>
        </div>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <div class="py-16 text-center">
            <h1 class="text-2xl font-semibold">"Page not found"</h1>
            <a href="/" class="mt-4 inline-block text-blue-700 underline dark:text-blue-300">"Back to the tasks"</a>
        </div>
    }
}
