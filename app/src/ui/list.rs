//! The task list: a create form, filters, and the newest tasks with live status badges.

use super::{
    api::{self, CreateTask},
    components::{format_time, iso_time, ErrorNotice, StatusBadge},
    live::{self, Connection},
};
use crate::{
    model::{ApiError, CreateTaskRequest, Task, TaskChange, TaskPage, TaskStatus},
    reducer::TaskListView,
    validate,
};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};

#[component]
pub fn TaskListPage() -> impl IntoView {
    let query = use_query_map();
    let filters = move || {
        let q = query.read();
        (
            q.get("status").and_then(|s| TaskStatus::parse(&s)),
            q.get("repo").filter(|r| !r.is_empty()),
            q.get("q").filter(|s| !s.trim().is_empty()),
            q.get("cursor").filter(|c| !c.is_empty()),
        )
    };
    let page = Resource::new(filters, |(status, repo, search, cursor)| {
        api::list_tasks(status, repo, search, cursor)
    });
    view! {
        <div class="grid grid-cols-1 gap-6">
            <NewTaskForm/>
            <section aria-labelledby="tasks-heading" class="rounded-lg border border-slate-200 bg-white shadow-sm dark:border-slate-800 dark:bg-slate-900">
                <div class="flex flex-wrap items-center justify-between gap-3 border-b border-slate-200 px-4 py-3 dark:border-slate-800">
                    <h2 id="tasks-heading" class="text-lg font-semibold">"Tasks"</h2>
                    <Filters/>
                </div>
                <Suspense fallback=|| view! { <p class="p-4 text-slate-500">"Loading tasks…"</p> }>
                    {move || Suspend::new(async move {
                        let (status, repo, search, cursor) = filters();
                        match page.await {
                            Ok(page) => view! { <TaskTable page status repo search first_page=cursor.is_none()/> }.into_any(),
                            Err(error) => view! { <div class="p-4"><ErrorNotice error/></div> }.into_any(),
                        }
                    })}
                </Suspense>
            </section>
        </div>
    }
}

/// Status links and a repo filter; plain links and a GET form, so they work without JavaScript.
#[component]
fn Filters() -> impl IntoView {
    let query = use_query_map();
    let current = move || query.read().get("status").unwrap_or_default();
    let repo = move || query.read().get("repo").unwrap_or_default();
    let search = move || query.read().get("q").unwrap_or_default();
    let href_for = move |status: &str| {
        let mut params = Vec::new();
        if !status.is_empty() {
            params.push(format!("status={status}"));
        }
        let r = repo();
        if !r.is_empty() {
            params.push(format!("repo={}", urlencode(&r)));
        }
        let q = search();
        if !q.is_empty() {
            params.push(format!("q={}", urlencode(&q)));
        }
        if params.is_empty() {
            "/".to_string()
        } else {
            format!("/?{}", params.join("&"))
        }
    };
    let options: Vec<(&'static str, &'static str)> = std::iter::once(("", "all"))
        .chain(TaskStatus::ALL.iter().map(|s| (s.as_str(), s.as_str())))
        .collect();
    view! {
        <div class="flex flex-wrap items-center gap-2 text-sm">
            <nav aria-label="Filter by status" class="flex flex-wrap gap-1" data-testid="status-filter">
                {options
                    .into_iter()
                    .map(|(value, label)| {
                        let href = move || href_for(value);
                        view! {
                            <a
                                href=href
                                data-status=value
                                aria-current=move || (current() == value).then_some("page")
                                class=move || {
                                    if current() == value {
                                        "rounded px-2 py-1 bg-slate-900 text-white dark:bg-slate-100 dark:text-slate-900"
                                    } else {
                                        "rounded px-2 py-1 text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800"
                                    }
                                }
                            >
                                {label.replace('_', " ")}
                            </a>
                        }
                    })
                    .collect_view()}
            </nav>
            <form method="get" action="/" class="flex w-full gap-1 sm:w-auto" role="search">
                <input type="hidden" name="status" value=current/>
                <label for="repo-filter" class="sr-only">"Repository"</label>
                <input
                    id="repo-filter"
                    name="repo"
                    placeholder="owner/name"
                    value=repo
                    data-testid="repo-filter"
                    class="w-0 min-w-0 flex-1 rounded border border-slate-300 bg-white px-2 py-1 sm:w-40 sm:flex-none dark:border-slate-700 dark:bg-slate-950"
                />
                <label for="search-filter" class="sr-only">"Search prompts"</label>
                <input
                    id="search-filter"
                    name="q"
                    type="search"
                    placeholder="search prompts"
                    value=search
                    data-testid="search-filter"
                    class="w-0 min-w-0 flex-1 rounded border border-slate-300 bg-white px-2 py-1 sm:w-40 sm:flex-none dark:border-slate-700 dark:bg-slate-950"
                />
                <button type="submit" class="rounded border border-slate-300 px-2 py-1 dark:border-slate-700">"Filter"</button>
            </form>
        </div>
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether a task belongs in a list with these filters.
fn matches(
    task: &Task,
    status: Option<TaskStatus>,
    repo: Option<&str>,
    search: Option<&str>,
) -> bool {
    status.is_none_or(|s| task.status == s)
        && repo.is_none_or(|r| task.repo == r)
        && search.is_none_or(|q| crate::search::contains_ignore_ascii_case(&task.prompt, q.trim()))
}

#[component]
fn TaskTable(
    page: TaskPage,
    status: Option<TaskStatus>,
    repo: Option<String>,
    search: Option<String>,
    first_page: bool,
) -> impl IntoView {
    let next_cursor = page.next_cursor.clone();
    let counts = RwSignal::new(page.counts.clone());
    // The next page keeps the filters.
    let mut older = String::new();
    if let Some(s) = status {
        older.push_str(&format!("&status={s}"));
    }
    if let Some(r) = &repo {
        older.push_str(&format!("&repo={}", urlencode(r)));
    }
    if let Some(q) = &search {
        older.push_str(&format!("&q={}", urlencode(q)));
    }
    // Set in the browser only, so the server-rendered absolute times hydrate unchanged and then
    // turn relative ("5 min ago"), refreshed every half minute.
    let now = live::browser_clock(std::time::Duration::from_secs(30));
    let view_state = RwSignal::new(TaskListView {
        tasks: page.tasks,
        last_event_id: page.last_event_id,
    });
    let connection = RwSignal::new(Connection::Connecting);
    // Effects run only in the browser: follow every task's changes from where the page's data ends.
    Effect::new(move |_| {
        let after = view_state.with_untracked(|v| v.last_event_id);
        let repo = repo.clone();
        let search = search.clone();
        live::follow(
            format!("/api/events?after={after}"),
            &["task_created", "status_changed", "resync"],
            move |kind, data| {
                if kind == "resync" {
                    live::reload();
                    return;
                }
                let Ok(change) = serde_json::from_str::<TaskChange>(&data) else {
                    return;
                };
                // Counts cover every task matching the repo and search filters, on this page or not.
                if matches(&change.task, None, repo.as_deref(), search.as_deref()) {
                    counts.update(|c| crate::reducer::count_change(c, &change));
                }
                view_state.update(|v| {
                    let known = v.tasks.iter().any(|t| t.id == change.task.id);
                    // New tasks appear only on the first page and only when they match the filters.
                    if known
                        || (first_page
                            && matches(&change.task, status, repo.as_deref(), search.as_deref()))
                    {
                        v.apply(change);
                    } else {
                        v.last_event_id = v.last_event_id.max(change.event.id);
                    }
                });
            },
            connection,
        );
    });
    let tasks = move || view_state.with(|v| v.tasks.clone());
    let summary = move || {
        counts.with(|c| {
            TaskStatus::ALL
                .iter()
                .filter_map(|s| {
                    c.get(s)
                        .map(|n| format!("{n} {}", s.as_str().replace('_', " ")))
                })
                .collect::<Vec<_>>()
                .join(" · ")
        })
    };
    view! {
        <p class="px-4 pt-2 text-xs text-slate-600 dark:text-slate-300" data-testid="status-counts">{summary}</p>
        <div class="px-4 py-2 text-xs text-slate-500 dark:text-slate-400" data-testid="connection" data-state=move || connection.get().label()>
            "updates: " {move || connection.get().label()}
        </div>
        <Show
            when=move || view_state.with(|v| !v.tasks.is_empty())
            fallback=|| view! { <p class="p-4 text-slate-500 dark:text-slate-400" data-testid="empty">"No tasks yet. Describe one above."</p> }
        >
            <ul class="divide-y divide-slate-200 dark:divide-slate-800" data-testid="task-list">
                <For each=tasks key=|t| (t.id, t.status, t.updated_at) let:task>
                    <TaskRow task now/>
                </For>
            </ul>
        </Show>
        {next_cursor.map(|cursor| {
            let href = format!("/?cursor={}{older}", urlencode(&cursor));
            view! {
                <div class="border-t border-slate-200 px-4 py-3 text-right dark:border-slate-800">
                    <a href=href class="text-blue-700 underline dark:text-blue-300" data-testid="next-page">"Older tasks →"</a>
                </div>
            }
        })}
    }
}

#[component]
fn TaskRow(task: Task, now: RwSignal<Option<i64>>) -> impl IntoView {
    let href = format!("/tasks/{}", task.id);
    let status = task.status;
    let created = task.created_at;
    let when = move || match now.get() {
        Some(now) => crate::insights::relative_time(created.timestamp_millis(), now),
        None => format_time(created),
    };
    view! {
        <li data-testid="task-row" data-task-id=task.id.to_string() class="px-4 py-3 hover:bg-slate-50 dark:hover:bg-slate-800/50">
            <a href=href class="flex flex-col gap-1">
                <div class="flex items-center justify-between gap-3">
                    <span class="font-mono text-sm text-slate-600 dark:text-slate-300">{task.repo.clone()}</span>
                    <StatusBadge status=Signal::stored(status)/>
                </div>
                <p class="line-clamp-2 text-sm" data-testid="task-prompt">{task.prompt.clone()}</p>
                <time class="text-xs text-slate-500 dark:text-slate-400" datetime=iso_time(task.created_at) title=format_time(task.created_at) data-testid="task-time">
                    {when}
                </time>
            </a>
        </li>
    }
}

/// The create form: validated in the browser with the server's own rules, and again by the
/// server; errors appear next to their field.
#[component]
fn NewTaskForm() -> impl IntoView {
    let create = ServerAction::<CreateTask>::new();
    let repo = RwSignal::new(String::new());
    let prompt = RwSignal::new(String::new());
    let base_branch = RwSignal::new(String::new());
    let agent = RwSignal::new(String::new());
    let max_iterations = RwSignal::new(String::new());
    let errors = RwSignal::new(Vec::<ApiError>::new());
    let field_error = move |field: &'static str| {
        move || {
            errors.with(|errs| {
                errs.iter()
                    .find(|e| e.field.as_deref() == Some(field))
                    .map(|e| e.message.clone())
            })
        }
    };
    let form_error = move || errors.with(|errs| errs.iter().find(|e| e.field.is_none()).cloned());

    // The server's answer: go to the new task, or show its error next to the field.
    let navigate = use_navigate();
    Effect::new(move |_| match create.value().get() {
        Some(Ok(task)) => {
            live::remember_repo(&task.repo);
            navigate(&format!("/tasks/{}", task.id), Default::default())
        }
        Some(Err(e)) => errors.set(vec![e]),
        None => {}
    });

    let recent = RwSignal::new(Vec::<String>::new());
    Effect::new(move |_| recent.set(live::recent_repos()));
    let submit = move || {
        let request = validate::normalize(CreateTaskRequest {
            prompt: prompt.get_untracked(),
            repo: repo.get_untracked(),
            base_branch: Some(base_branch.get_untracked()),
            agent: Some(agent.get_untracked()),
            max_iterations: None,
        });
        let mut found = validate::create_task_errors(&request, validate::DEFAULT_MAX_PROMPT_BYTES);
        if let Err(e) = api::parse_max_iterations(Some(&max_iterations.get_untracked())) {
            found.push(e);
        }
        if !found.is_empty() {
            errors.set(found);
            return;
        }
        errors.set(Vec::new());
        create.dispatch(CreateTask {
            prompt: request.prompt,
            repo: request.repo,
            base_branch: request.base_branch,
            agent: request.agent,
            max_iterations: Some(max_iterations.get_untracked()),
        });
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        submit();
    };
    // Ctrl+Enter (Cmd+Enter on a Mac) submits from anywhere in the form.
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if (ev.ctrl_key() || ev.meta_key()) && ev.key() == "Enter" {
            ev.prevent_default();
            submit();
        }
    };
    let create_url = <CreateTask as leptos::server_fn::ServerFn>::url();
    let input_class = "w-full rounded-md border border-slate-300 bg-white px-3 py-2 dark:border-slate-700 dark:bg-slate-950";
    view! {
        <section aria-labelledby="new-task-heading" class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900">
            <h2 id="new-task-heading" class="mb-3 text-lg font-semibold">"New task"</h2>
            <form method="post" action=create_url on:submit=on_submit on:keydown=on_keydown class="grid gap-3" data-testid="new-task-form" novalidate>
                <div class="grid gap-1">
                    <label for="repo" class="text-sm font-medium">"Repository"</label>
                    <datalist id="recent-repos">
                        {move || recent.get().into_iter().map(|r| view! { <option value=r></option> }).collect_view()}
                    </datalist>
                    <input id="repo" name="repo" class=input_class placeholder="owner/name" autocomplete="off" list="recent-repos"
                        data-testid="repo-input" aria-describedby="repo-error"
                        prop:value=repo on:input=move |ev| repo.set(event_target_value(&ev))/>
                    <FieldError id="repo-error" message=field_error("repo")/>
                </div>
                <div class="grid gap-1">
                    <label for="prompt" class="text-sm font-medium">"What should the agent do?"</label>
                    <textarea id="prompt" name="prompt" rows="4" class=input_class data-testid="prompt-input" aria-describedby="prompt-error"
                        placeholder="Fix the flaky date test in utils and make CI green"
                        prop:value=prompt on:input=move |ev| prompt.set(event_target_value(&ev))></textarea>
                    <FieldError id="prompt-error" message=field_error("prompt")/>
                </div>
                <details class="text-sm">
                    <summary class="cursor-pointer text-slate-600 dark:text-slate-300">"Options"</summary>
                    <div class="mt-2 grid gap-3 sm:grid-cols-3">
                        <div class="grid gap-1">
                            <label for="base_branch" class="font-medium">"Base branch"</label>
                            <input id="base_branch" name="base_branch" class=input_class placeholder="default branch"
                                data-testid="base-branch-input" aria-describedby="base-branch-error"
                                prop:value=base_branch on:input=move |ev| base_branch.set(event_target_value(&ev))/>
                            <FieldError id="base-branch-error" message=field_error("base_branch")/>
                        </div>
                        <div class="grid gap-1">
                            <label for="agent" class="font-medium">"Agent"</label>
                            <select id="agent" name="agent" class=input_class data-testid="agent-input"
                                on:change=move |ev| agent.set(event_target_value(&ev))>
                                <option value="">"default"</option>
                                {validate::AGENT_KINDS.iter().map(|k| view! { <option value=*k>{*k}</option> }).collect_view()}
                            </select>
                            <FieldError id="agent-error" message=field_error("agent")/>
                        </div>
                        <div class="grid gap-1">
                            <label for="max_iterations" class="font-medium">"Max CI rounds"</label>
                            <input id="max_iterations" name="max_iterations" inputmode="numeric" class=input_class placeholder="default"
                                data-testid="max-iterations-input" aria-describedby="max-iterations-error"
                                prop:value=max_iterations on:input=move |ev| max_iterations.set(event_target_value(&ev))/>
                            <FieldError id="max-iterations-error" message=field_error("max_iterations")/>
                        </div>
                    </div>
                </details>
                {move || form_error().map(|error| view! { <ErrorNotice error/> })}
                <div>
                    <button type="submit" data-testid="create-submit" disabled=move || create.pending().get()
                        class="rounded-md bg-blue-700 px-4 py-2 font-medium text-white hover:bg-blue-800 disabled:opacity-60">
                        {move || if create.pending().get() { "Creating…" } else { "Create task" }}
                    </button>
                </div>
            </form>
        </section>
    }
}

#[component]
fn FieldError(
    id: &'static str,
    message: impl Fn() -> Option<String> + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <p id=id role="alert" data-testid=id class="min-h-0 text-sm text-red-700 dark:text-red-300">
            {message}
        </p>
    }
}
