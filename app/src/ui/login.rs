//! The login page: a token field that the server turns into an HttpOnly cookie (works without
//! JavaScript; EventSource and server rendering then carry it automatically).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = query
        .read_untracked()
        .get("next")
        .unwrap_or_else(|| "/".to_string());
    let invalid = query.read_untracked().get("error").is_some();
    view! {
        <section class="mx-auto max-w-md rounded-lg border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-800 dark:bg-slate-900">
            <h1 class="mb-4 text-xl font-semibold">"Log in"</h1>
            <LoginForm next invalid/>
            <form method="post" action="/logout" class="mt-4">
                <button type="submit" class="text-sm text-slate-600 underline dark:text-slate-400" data-testid="logout">
                    "Log out (forget the stored token)"
                </button>
            </form>
        </section>
    }
}

#[component]
pub fn LoginForm(next: String, invalid: bool) -> impl IntoView {
    view! {
        <form method="post" action="/login" class="flex flex-col gap-2" data-testid="login-form">
            <label for="token" class="text-sm font-medium">"API token"</label>
            <input
                id="token"
                name="token"
                type="password"
                required
                autocomplete="current-password"
                data-testid="token-input"
                class="rounded-md border border-slate-300 bg-white px-3 py-2 dark:border-slate-700 dark:bg-slate-950"
            />
            <input type="hidden" name="next" value=next/>
            {invalid.then(|| view! {
                <p role="alert" class="text-sm text-red-700 dark:text-red-300" data-testid="login-error">"That token is not valid."</p>
            })}
            <button type="submit" data-testid="login-submit" class="rounded-md bg-blue-700 px-4 py-2 font-medium text-white hover:bg-blue-800">
                "Log in"
            </button>
        </form>
    }
}
