//! Browser side of the live streams: an `EventSource` whose named events are handed to a callback,
//! and whose connection state is reported (live / reconnecting). The browser reconnects by itself
//! and sends `Last-Event-ID`, which the server resumes from, so nothing is missed or repeated.

use leptos::prelude::*;

/// What the connection indicator shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))] // set only by browser callbacks
pub enum Connection {
    Connecting,
    Live,
    Reconnecting,
}

impl Connection {
    pub fn label(self) -> &'static str {
        match self {
            Connection::Connecting => "connecting",
            Connection::Live => "live",
            Connection::Reconnecting => "reconnecting",
        }
    }
}

/// Opens `url` and calls `on_event(kind, data)` for each event of the given kinds; closes the
/// stream when the calling component is cleaned up. Does nothing during server rendering.
#[allow(unused_variables)]
pub fn follow(
    url: String,
    kinds: &'static [&'static str],
    on_event: impl Fn(&str, String) + 'static,
    state: RwSignal<Connection>,
) {
    #[cfg(feature = "hydrate")]
    {
        use std::rc::Rc;
        use wasm_bindgen::{closure::Closure, JsCast};

        let Ok(source) = web_sys::EventSource::new(&url) else {
            state.set(Connection::Reconnecting);
            return;
        };
        let on_open =
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| state.set(Connection::Live));
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        let on_error =
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| state.set(Connection::Reconnecting));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));

        let on_event = Rc::new(on_event);
        let mut listeners = Vec::new();
        for kind in kinds {
            let on_event = on_event.clone();
            let listener = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                move |ev: web_sys::MessageEvent| {
                    if let Some(data) = ev.data().as_string() {
                        on_event(kind, data);
                    }
                },
            );
            let _ =
                source.add_event_listener_with_callback(kind, listener.as_ref().unchecked_ref());
            listeners.push(listener);
        }
        // The closures must live as long as the EventSource; both go away together on cleanup.
        let owned = send_wrapper::SendWrapper::new((source, on_open, on_error, listeners));
        on_cleanup(move || {
            let (source, ..) = &*owned;
            source.close();
            drop(owned);
        });
    }
}

/// Reloads the page (after a `resync`: the server could not keep this view in step).
pub fn reload() {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}

/// Asks the person to confirm; `true` during server rendering (never called there).
#[allow(unused_variables)]
pub fn confirm(message: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        return web_sys::window()
            .and_then(|w| w.confirm_with_message(message).ok())
            .unwrap_or(false);
    }
    #[allow(unreachable_code)]
    true
}

/// localStorage key of the create form's recent repositories.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const RECENT_REPOS_KEY: &str = "amp-orchestrator.recent-repos";
/// How many recent repositories the form remembers.
pub const RECENT_REPOS: usize = 8;

/// The repositories this browser created tasks for, most recent first (empty on the server).
pub fn recent_repos() -> Vec<String> {
    #[cfg(feature = "hydrate")]
    {
        let stored = web_sys::window()
            .and_then(|w| w.local_storage().ok().flatten())
            .and_then(|s| s.get_item(RECENT_REPOS_KEY).ok().flatten());
        if let Some(json) = stored {
            return serde_json::from_str(&json).unwrap_or_default();
        }
    }
    Vec::new()
}

/// Puts `repo` first in the remembered list and returns the new list.
#[allow(unused_variables)]
pub fn remember_repo(repo: &str) -> Vec<String> {
    let mut repos = recent_repos();
    repos.retain(|r| r != repo);
    repos.insert(0, repo.to_string());
    repos.truncate(RECENT_REPOS);
    #[cfg(feature = "hydrate")]
    if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        if let Ok(json) = serde_json::to_string(&repos) {
            let _ = storage.set_item(RECENT_REPOS_KEY, &json);
        }
    }
    repos
}

/// The browser's clock in epoch milliseconds, refreshed every `period`; `None` during server
/// rendering and until hydration, so server-rendered text hydrates unchanged and only then turns
/// relative.
pub fn browser_clock(
    #[allow(unused_variables)] period: std::time::Duration,
) -> RwSignal<Option<i64>> {
    let now = RwSignal::new(None::<i64>);
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        {
            now.set(Some(js_sys::Date::now() as i64));
            set_interval(move || now.set(Some(js_sys::Date::now() as i64)), period);
        }
    });
    now
}
