//! The WASM entry point (cdylib): cargo-leptos builds this crate for wasm32 and the page calls
//! `hydrate()` to take over the server-rendered HTML.

// Leptos view types nest deeply; the default limit is too low for the dashboard's pages.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::ui::App);
}
