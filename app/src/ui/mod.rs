//! The Leptos dashboard: server-rendered pages that hydrate and then follow live SSE streams.
//!
//! - [`shell`] / [`App`]: the HTML document and the routes.
//! - `api`: server functions (the browser's way to the backend).
//! - `list`, `task`, `login`: the pages; `components`: shared pieces; `live`: EventSource glue.

mod api;
mod components;
mod list;
mod live;
mod login;
mod panels;
mod task;

pub use api::TaskWithEvents;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    path, SsrMode,
};

/// The HTML document around the app (server side only renders this).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body class="min-h-screen bg-slate-50 text-slate-900 antialiased dark:bg-slate-950 dark:text-slate-100">
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/amp-orchestrator.css"/>
        <Title text="Amp Orchestrator"/>
        <Router>
            <header class="border-b border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
                <nav class="mx-auto flex max-w-5xl items-center justify-between px-4 py-3">
                    <A href="/" attr:class="text-lg font-semibold tracking-tight" attr:data-testid="home-link">
                        "Amp Orchestrator"
                    </A>
                    <span class="text-sm text-slate-500 dark:text-slate-400">"prompt → green pull request"</span>
                </nav>
            </header>
            <main class="mx-auto max-w-5xl px-4 py-6">
                <Routes fallback=|| view! { <components::NotFound/> }>
                    // Async: the HTML is sent once the data is in it, so pages read without JavaScript
                    // (out-of-order streaming would need a script to swap the data in).
                    <Route path=path!("/") view=list::TaskListPage ssr=SsrMode::Async/>
                    <Route path=path!("/tasks/:id") view=task::TaskPage ssr=SsrMode::Async/>
                    <Route path=path!("/login") view=login::LoginPage/>
                </Routes>
            </main>
        </Router>
    }
}
