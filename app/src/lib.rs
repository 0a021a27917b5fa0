//! Amp Orchestrator's shared crate.
//!
//! - [`model`]: the typed wire models (`Task`, `TaskStatus`, `TaskEvent`, requests, errors) used by
//!   the server, the browser and Rust integrations. With no features, this crate is just these
//!   models plus [`validate`] and [`reducer`]: serde, no Leptos.
//! - [`validate`]: input rules for new tasks, shared by API, server functions and the form.
//! - [`ansi`]: ANSI escape sequences: styled runs for the log viewer, stripping for CI logs.
//! - [`describe`]: one line of text per event (the page's event list, the downloadable log).
//! - [`insights`]: the timeline, CI rounds, usage and samples derived from a task's events.
//! - [`search`]: what a search matches (ASCII case ignored), the same in SQL and in the browser.
//! - [`reducer`]: pure folds of event streams into view state (unit-tested natively).
//! - `backend` (feature `ssr`): the trait through which server functions reach the server.
//! - `ui` (features `ssr` / `hydrate`): the Leptos dashboard — shell, pages, components and the
//!   server functions that adapt `backend` for the browser.

#![recursion_limit = "256"]

pub mod ansi;
pub mod describe;
pub mod insights;
pub mod model;
pub mod reducer;
pub mod search;
pub mod validate;

#[cfg(feature = "ssr")]
pub mod backend;
#[cfg(feature = "ui")]
pub mod ui;
