//! The task page: the task's header and its event stream, server-rendered from history and then
//! followed live from the last event shown.

use super::{
    api::{self, CancelTask, CreateTask, TaskWithEvents},
    components::{clock_time, format_time, iso_time, ErrorNotice, StatusBadge},
    live::{self, Connection},
    panels::{CiRounds, Resources, Timeline, Usage},
};
use crate::{
    describe::Category,
    model::{EventEnvelope, LogStream, TaskEvent, TaskStatus},
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
    let retry = ServerAction::<CreateTask>::new();
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(task)) = retry.value().get() {
            navigate(&format!("/tasks/{}", task.id), Default::default());
        }
    });
    let retry_error = move || retry.value().get().and_then(|r| r.err());

    // Browser only: a clock for the elapsed time (the server renders created → last change).
    let now = live::browser_clock(std::time::Duration::from_secs(1));
    let elapsed = move || {
        task().map(|t| {
            let end = match now.get() {
                Some(n) if !t.status.is_terminal() => n,
                _ => t.updated_at.timestamp_millis(),
            };
            human_duration((end - t.created_at.timestamp_millis()).max(0) / 1000)
        })
    };

    // The event list: filtered by the search box, following new events unless the reader
    // scrolled up to read.
    let filter = RwSignal::new(String::new());
    let events = move || {
        let needle = filter.get();
        let needle = needle.trim();
        state.with(|v| {
            v.events
                .iter()
                .filter(|e| {
                    use crate::search::contains_ignore_ascii_case as contains;
                    contains(e.event.kind(), needle)
                        || contains(
                            &crate::ansi::plain(&crate::describe::describe(&e.event)),
                            needle,
                        )
                })
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let follow = RwSignal::new(true);
    let list_ref = NodeRef::<leptos::html::Ol>::new();
    Effect::new(move |_| {
        let count = state.with(|v| v.events.len());
        if follow.get_untracked() {
            if let Some(list) = list_ref.get() {
                list.set_scroll_top(list.scroll_height());
            }
        }
        count
    });

    view! {
        <article class="grid grid-cols-1 gap-6" data-testid="task-page" data-task-id=task_id.to_string()>
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
                        <span class="text-xs text-slate-500 dark:text-slate-400" data-testid="elapsed" title="elapsed">{elapsed}</span>
                        <a href=format!("/api/tasks/{task_id}/log") download data-testid="download-log"
                            class="rounded-md border border-slate-300 px-3 py-1 text-sm dark:border-slate-700">"Download log"</a>
                        <Show when=move || status.get().is_terminal()>
                            <button
                                type="button"
                                data-testid="retry-button"
                                class="rounded-md border border-blue-300 px-3 py-1 text-sm text-blue-700 hover:bg-blue-50 dark:border-blue-800 dark:text-blue-300 dark:hover:bg-blue-950"
                                on:click=move |_| {
                                    if let Some(t) = task() {
                                        if live::confirm("Run this task again as a new task?") {
                                            retry.dispatch(CreateTask {
                                                prompt: t.prompt,
                                                repo: t.repo,
                                                base_branch: t.base_branch,
                                                agent: t.agent,
                                                max_iterations: t.max_iterations.map(|n| n.to_string()),
                                            });
                                        }
                                    }
                                }
                            >
                                "Retry"
                            </button>
                        </Show>
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
                {move || cancel_error().or_else(retry_error).map(|error| view! { <div class="mt-3"><ErrorNotice error/></div> })}
            </header>
            <Timeline insights/>
            <CiRounds insights/>
            <Usage insights/>
            <Resources insights/>
            <section aria-labelledby="events-heading" class="rounded-lg border border-slate-200 bg-white shadow-sm dark:border-slate-800 dark:bg-slate-900">
                <div class="flex flex-wrap items-center justify-between gap-2 border-b border-slate-200 px-4 py-3 dark:border-slate-800">
                    <h2 id="events-heading" class="text-lg font-semibold">"Events"</h2>
                    <div class="flex items-center gap-2 text-sm">
                        <label for="event-filter" class="sr-only">"Filter events"</label>
                        <input id="event-filter" type="search" placeholder="filter events" data-testid="event-filter"
                            class="w-48 rounded border border-slate-300 bg-white px-2 py-1 dark:border-slate-700 dark:bg-slate-950"
                            prop:value=filter on:input=move |ev| filter.set(event_target_value(&ev))/>
                        <span data-testid="follow-state" data-following=move || follow.get().to_string() class="text-xs text-slate-500 dark:text-slate-400">
                            {move || if follow.get() { "following" } else { "paused (scroll to the end to follow)" }}
                        </span>
                    </div>
                </div>
                <ol node_ref=list_ref
                    on:scroll=move |_| {
                        if let Some(list) = list_ref.get() {
                            // Following while the end is in view; reading further up pauses it.
                            follow.set(list.scroll_top() + list.client_height() >= list.scroll_height() - 24);
                        }
                    }
                    class="max-h-[36rem] divide-y divide-slate-100 overflow-auto text-sm dark:divide-slate-800" data-testid="event-list">
                    <For each=events key=|e| e.seq let:env>
                        <EventRow env/>
                    </For>
                </ol>
            </section>
        </article>
    }
}

#[component]
fn EventRow(env: EventEnvelope) -> impl IntoView {
    let kind = env.event.kind();
    let category = Category::of(&env.event);
    let (row_class, text_class) = category_classes(&env.event, category);
    view! {
        <li class=format!("flex gap-3 border-l-4 px-4 py-1.5 {row_class}")
            data-testid="event" data-kind=kind data-category=category.as_str() data-seq=env.seq>
            <span class="w-10 shrink-0 text-right font-mono text-slate-500 dark:text-slate-400">{env.seq}</span>
            <time class="shrink-0 font-mono text-slate-500 dark:text-slate-400" datetime=iso_time(env.at)>{clock_time(env.at)}</time>
            <span class="hidden w-40 shrink-0 truncate font-mono text-slate-500 sm:inline dark:text-slate-400" title=kind>{kind}</span>
            <span class=format!("min-w-0 whitespace-pre-wrap break-words {text_class}")>
                <EventText event=env.event/>
            </span>
        </li>
    }
}

/// An event's text with its ANSI colours; a tool call's name stands out from its arguments.
#[component]
fn EventText(event: TaskEvent) -> impl IntoView {
    let (name, text) = match &event {
        TaskEvent::AgentToolUse { name, input, .. } => (Some(name.clone()), input.clone()),
        _ => (None, crate::describe::describe(&event)),
    };
    let spans = crate::ansi::spans(&text)
        .into_iter()
        .map(|span| {
            let classes = span.style.classes();
            let css = span.style.inline_css();
            view! {
                <span class=(!classes.is_empty()).then_some(classes) style=(!css.is_empty()).then_some(css)>
                    {span.text}
                </span>
            }
        })
        .collect_view();
    view! {
        {name.map(|name| view! { <span class="mr-2 font-semibold" data-testid="tool-name">{name}</span> })}
        {spans}
    }
}

/// Row accent and text style per category: agent prose in the page's font, tool calls and
/// results set apart, raw output in a terminal's monospace (stderr tinted).
fn category_classes(event: &TaskEvent, category: Category) -> (&'static str, &'static str) {
    match category {
        Category::Agent => (
            "border-l-blue-500 bg-blue-50/60 dark:bg-blue-950/40",
            "font-sans text-slate-900 dark:text-slate-100",
        ),
        Category::Tool => (
            "border-l-violet-500",
            "font-mono text-violet-800 dark:text-violet-300",
        ),
        Category::ToolResult => match event {
            TaskEvent::AgentToolResult { is_error: true, .. } => (
                "border-l-red-400",
                "font-mono text-red-700 dark:text-red-300",
            ),
            _ => (
                "border-l-violet-200 dark:border-l-violet-900",
                "font-mono text-slate-600 dark:text-slate-400",
            ),
        },
        Category::Output => match event {
            TaskEvent::Log {
                stream: LogStream::Stderr,
                ..
            } => ("border-l-red-300 dark:border-l-red-800", "font-mono"),
            _ => ("border-l-slate-300 dark:border-l-slate-700", "font-mono"),
        },
        Category::Ci => (
            "border-l-amber-400",
            "font-sans text-amber-900 dark:text-amber-200",
        ),
        Category::System => (
            "border-l-transparent",
            "font-sans text-slate-600 dark:text-slate-300",
        ),
    }
}

/// `42s`, `3m 05s`, `2h 10m`.
fn human_duration(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}
