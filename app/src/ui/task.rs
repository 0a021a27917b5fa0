//! The task page: the task's header and its event stream, server-rendered from history and then
//! followed live from the last event shown.

use super::{
    api::{self, CancelTask, TaskWithEvents},
    components::{clock_time, format_time, iso_time, ErrorNotice, StatusBadge},
    live::{self, Connection},
    panels::{CiRounds, Resources, Timeline, Usage},
};
use crate::{
    model::{CiVerdict, EventEnvelope, LogStream, TaskEvent, TaskStatus},
    reducer::TaskView,
};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// Every event kind of a task's stream, plus the `resync` control message.
const TASK_STREAM_KINDS: [&str; TaskEvent::KINDS.len() + 1] = {
    let mut all = [""; TaskEvent::KINDS.len() + 1];
    let mut i = 0;
    while i < TaskEvent::KINDS.len() {
        all[i] = TaskEvent::KINDS[i];
        i += 1;
    }
    all[i] = "resync";
    all
};

#[component]
pub fn TaskPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let detail = Resource::new(id, api::task_detail);
    view! {
        <Suspense fallback=|| view! { <p class="text-slate-500">"Loading task…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail) => view! { <TaskDetailView detail/> }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TaskDetailView(detail: TaskWithEvents) -> impl IntoView {
    let task_id = detail.task.id;
    let state = RwSignal::new(TaskView::new(Some(detail.task), detail.events));
    let connection = RwSignal::new(Connection::Connecting);
    Effect::new(move |_| {
        let after = state.with_untracked(|v| v.last_seq());
        live::follow(
            format!("/api/tasks/{task_id}/events?after={after}"),
            &TASK_STREAM_KINDS,
            move |kind, data| {
                if kind == "resync" {
                    live::reload();
                    return;
                }
                if let Ok(env) = serde_json::from_str::<EventEnvelope>(&data) {
                    state.update(|v| {
                        v.apply(env);
                    });
                }
            },
            connection,
        );
    });

    let insights = Memo::new(move |_| state.with(|v| crate::insights::insights(&v.events)));
    let task = move || state.with(|v| v.task.clone());
    let status = Signal::derive(move || {
        state.with(|v| v.task.as_ref().map_or(TaskStatus::Queued, |t| t.status))
    });
    let cancel = ServerAction::<CancelTask>::new();
    let cancel_error = move || cancel.value().get().and_then(|r| r.err());
    let events = move || state.with(|v| v.events.clone());

    view! {
        <article class="grid gap-6" data-testid="task-page" data-task-id=task_id.to_string()>
            <header class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900">
                <div class="flex flex-wrap items-center justify-between gap-3">
                    <div class="flex items-center gap-3">
                        <h1 class="font-mono text-lg" data-testid="task-repo">{move || task().map(|t| t.repo).unwrap_or_default()}</h1>
                        <StatusBadge status/>
                    </div>
                    <div class="flex items-center gap-3">
                        <span class="text-xs text-slate-500 dark:text-slate-400" data-testid="connection" data-state=move || connection.get().label()>
                            {move || connection.get().label()}
                        </span>
                        <Show when=move || !status.get().is_terminal()>
                            <button
                                type="button"
                                data-testid="cancel-button"
                                class="rounded-md border border-red-300 px-3 py-1 text-sm text-red-700 hover:bg-red-50 dark:border-red-800 dark:text-red-300 dark:hover:bg-red-950"
                                on:click=move |_| {
                                    if live::confirm("Cancel this task?") {
                                        cancel.dispatch(CancelTask { id: task_id.to_string() });
                                    }
                                }
                            >
                                "Cancel"
                            </button>
                        </Show>
                    </div>
                </div>
                <p class="mt-3 whitespace-pre-wrap" data-testid="task-prompt">{move || task().map(|t| t.prompt).unwrap_or_default()}</p>
                <dl class="mt-3 grid grid-cols-2 gap-x-4 gap-y-1 text-sm sm:grid-cols-4">
                    <dt class="text-slate-500 dark:text-slate-400">"Created"</dt>
                    <dd>{move || task().map(|t| format_time(t.created_at))}</dd>
                    <dt class="text-slate-500 dark:text-slate-400">"Base branch"</dt>
                    <dd>{move || task().and_then(|t| t.base_branch).unwrap_or_else(|| "default".into())}</dd>
                    <dt class="text-slate-500 dark:text-slate-400">"Branch"</dt>
                    <dd class="font-mono">{move || task().and_then(|t| t.branch).unwrap_or_else(|| "—".into())}</dd>
                    <dt class="text-slate-500 dark:text-slate-400">"Pull request"</dt>
                    <dd>
                        {move || match task().and_then(|t| t.pr_url) {
                            Some(url) => {
                                let text = url.clone();
                                view! { <a href=url class="text-blue-700 underline dark:text-blue-300" data-testid="pr-link">{text}</a> }.into_any()
                            }
                            None => view! { <span>"—"</span> }.into_any(),
                        }}
                    </dd>
                </dl>
                {move || task().and_then(|t| t.error).map(|e| view! {
                    <p class="mt-3 rounded bg-red-50 p-2 text-sm text-red-800 dark:bg-red-950 dark:text-red-200" data-testid="task-error">{e}</p>
                })}
                {move || cancel_error().map(|error| view! { <div class="mt-3"><ErrorNotice error/></div> })}
            </header>
            <Timeline insights/>
            <CiRounds insights/>
            <Usage insights/>
            <Resources insights/>
            <section aria-labelledby="events-heading" class="rounded-lg border border-slate-200 bg-white shadow-sm dark:border-slate-800 dark:bg-slate-900">
                <h2 id="events-heading" class="border-b border-slate-200 px-4 py-3 text-lg font-semibold dark:border-slate-800">"Events"</h2>
                <ol class="divide-y divide-slate-100 font-mono text-sm dark:divide-slate-800" data-testid="event-list">
                    <For each=events key=|e| e.seq let:env>
                        <EventRow env/>
                    </For>
                </ol>
            </section>
        </article>
    }
}

fn short_sha(s: &str) -> &str {
    s.get(..12).unwrap_or(s)
}

#[component]
fn EventRow(env: EventEnvelope) -> impl IntoView {
    let kind = env.event.kind();
    let text = match &env.event {
        TaskEvent::TaskCreated { task } => format!("task created on {}", task.repo),
        TaskEvent::StatusChanged { from, to, reason } => match reason {
            Some(r) => format!("{from} → {to}: {r}"),
            None => format!("{from} → {to}"),
        },
        TaskEvent::Log { stream, line } => {
            let tag = match stream {
                LogStream::Stdout => "out",
                LogStream::Stderr => "err",
                LogStream::System => "sys",
            };
            format!("[{tag}] {line}")
        }
        TaskEvent::LogTruncated { dropped, reason } => {
            format!("… {dropped} lines not recorded: {reason}")
        }
        TaskEvent::BranchCreated {
            branch,
            base,
            base_sha,
        } => {
            format!("branch {branch} from {base} ({})", short_sha(base_sha))
        }
        TaskEvent::ContainerCreated {
            container_id,
            image,
        } => {
            format!("container {} from {image}", short_sha(container_id))
        }
        TaskEvent::ContainerStarted { container_id } => {
            format!("container {} started", short_sha(container_id))
        }
        TaskEvent::ContainerRemoved { container_id, kept } => {
            let what = if *kept {
                "kept for debugging"
            } else {
                "removed"
            };
            format!("container {} {what}", short_sha(container_id))
        }
        TaskEvent::ContainerStats {
            cpu_percent,
            memory_bytes,
            ..
        } => {
            format!("cpu {cpu_percent:.0}% · memory {} MiB", memory_bytes >> 20)
        }
        TaskEvent::AgentTurnStarted {
            turn,
            agent,
            follow_up,
        } => {
            let what = if *follow_up { "follow-up" } else { "first" };
            format!("{agent} turn {turn} ({what})")
        }
        TaskEvent::AgentSession { session_id } => format!("session {session_id}"),
        TaskEvent::AgentMessage { text } => text.clone(),
        TaskEvent::AgentToolUse { name, input, .. } => format!("{name} {input}"),
        TaskEvent::AgentToolResult {
            output, is_error, ..
        } => {
            if *is_error {
                format!("error: {output}")
            } else {
                output.clone()
            }
        }
        TaskEvent::AgentTurnFinished {
            turn,
            ok,
            reason,
            summary,
            duration_ms,
            ..
        } => {
            let outcome = if *ok {
                "done".to_string()
            } else {
                format!("failed: {}", reason.as_deref().unwrap_or("unknown"))
            };
            let summary = summary
                .as_deref()
                .map(|s| format!(" — {s}"))
                .unwrap_or_default();
            format!(
                "turn {turn} {outcome} in {:.1}s{summary}",
                *duration_ms as f64 / 1000.0
            )
        }
        TaskEvent::Committed { sha, message } => format!("committed {} {message}", short_sha(sha)),
        TaskEvent::Pushed { branch, sha } => format!("pushed {branch} at {}", short_sha(sha)),
        TaskEvent::CiRoundStarted { round, sha } => {
            format!("CI round {round} on {}", short_sha(sha))
        }
        TaskEvent::CiWaiting { waiting, .. } => format!("waiting for {}", waiting.join(", ")),
        TaskEvent::CiRoundFinished {
            round,
            verdict,
            checks,
            ..
        } => {
            let failed: Vec<&str> = checks
                .iter()
                .filter(|c| !matches!(c.conclusion.as_str(), "success" | "neutral" | "skipped"))
                .map(|c| c.name.as_str())
                .collect();
            let verdict = match verdict {
                CiVerdict::Green => "green ✓".to_string(),
                CiVerdict::Red => format!("red ✗ ({})", failed.join(", ")),
                CiVerdict::NoChecks => "no checks".to_string(),
                CiVerdict::TimedOut => "timed out".to_string(),
            };
            format!("CI round {round}: {verdict}")
        }
        TaskEvent::CiRerun { checks, reason, .. } => {
            format!("re-running {} ({reason})", checks.join(", "))
        }
        TaskEvent::CiFeedback {
            round,
            text,
            truncated,
        } => {
            let cut = if *truncated { " (cut to fit)" } else { "" };
            format!("feedback for round {round}{cut}:\n{text}")
        }
        TaskEvent::PullRequestOpened { number, url, draft } => {
            let kind = if *draft {
                "draft pull request"
            } else {
                "pull request"
            };
            format!("{kind} #{number} opened: {url}")
        }
        TaskEvent::PullRequestReady { number, .. } => {
            format!("pull request #{number} ready for review")
        }
    };
    view! {
        <li class="flex gap-3 px-4 py-1.5" data-testid="event" data-kind=kind data-seq=env.seq>
            <span class="w-10 shrink-0 text-right text-slate-400">{env.seq}</span>
            <time class="shrink-0 text-slate-500 dark:text-slate-400" datetime=iso_time(env.at)>{clock_time(env.at)}</time>
            <span class="shrink-0 text-slate-500 dark:text-slate-400">{kind}</span>
            <span class="whitespace-pre-wrap break-all">{text}</span>
        </li>
    }
}
