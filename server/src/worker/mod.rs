//! The worker: a scheduler that starts queued tasks oldest first, at most
//! `workers.max_concurrent` at a time, each as its own actor ([`actor`]), plus restart recovery
//! ([`recovery`]). The scheduler keeps only actor *handles* (cancel, done); everything about a
//! task lives in its actor.

pub mod actor;
mod ci_loop;
mod recovery;
pub mod scrub;
mod turn;
mod workspace;

use crate::{
    config::{Config, RuntimeKind},
    events::EventHub,
    runtime::{self, SharedRuntime},
    store::Transition,
};
use actor::{ActorHandle, Deps, Start};
use app::model::{TaskId, TaskStatus};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::sync::Notify;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// How often the scheduler looks at the queue without being woken (a safety net).
const SCHEDULER_TICK: Duration = Duration::from_secs(2);
/// How long shutdown waits for actors to reach a safe point.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(15);

/// Commits whose CI is being watched, each with the notifier of its watcher: a webhook about a
/// commit wakes the poller early (polling stays the source of truth).
#[derive(Default)]
pub struct CiWakes(Mutex<HashMap<String, Arc<Notify>>>);

impl CiWakes {
    pub fn register(&self, sha: &str, wake: Arc<Notify>) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(sha.to_string(), wake);
    }

    pub fn unregister(&self, sha: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(sha);
    }

    /// Wakes the watcher of `sha`; whether one was waiting.
    pub fn wake(&self, sha: &str) -> bool {
        match self.0.lock().unwrap_or_else(|p| p.into_inner()).get(sha) {
            Some(n) => {
                n.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Cheap to clone; every clone drives the same scheduler.
#[derive(Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

struct Inner {
    deps: Arc<Deps>,
    max_concurrent: usize,
    actors: Mutex<HashMap<TaskId, ActorHandle>>,
    wake: Notify,
    tracker: TaskTracker,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("{0}")]
    Runtime(#[from] runtime::RuntimeError),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("github: {0}")]
    Forge(#[from] crate::forge::api::ForgeError),
}

/// What a cancel request found.
#[derive(Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The task's actor stopped it and tore it down.
    Cancelled,
    /// No actor runs this task (it is not running here).
    NotRunning,
}

impl Worker {
    /// Connects the configured runtime, recovers tasks a previous run left behind, removes
    /// orphaned containers, and starts scheduling.
    pub async fn start(
        config: Arc<Config>,
        hub: Arc<EventHub>,
        shutdown: CancellationToken,
    ) -> Result<Worker, WorkerError> {
        let runtime: SharedRuntime = match config.runtime.kind {
            RuntimeKind::Docker => Arc::new(runtime::docker::DockerRuntime::connect().await?),
            RuntimeKind::Local => Arc::new(runtime::local::LocalRuntime::new()),
        };
        Worker::with_runtime(config, hub, runtime, shutdown).await
    }

    /// Like [`Worker::start`] with a given runtime (tests, other runtimes).
    pub async fn with_runtime(
        config: Arc<Config>,
        hub: Arc<EventHub>,
        runtime: SharedRuntime,
        shutdown: CancellationToken,
    ) -> Result<Worker, WorkerError> {
        let instance = hub.store().instance_id().await?;
        let forge =
            crate::forge::Forge::from_config(&config.github, Default::default())?.map(Arc::new);
        let deps = Arc::new(Deps {
            hub,
            runtime,
            instance,
            forge,
            ci_wakes: CiWakes::default(),
            scrubber: scrub::Scrubber::from_config(&config),
            config: config.clone(),
            shutdown,
            abort_turns: CancellationToken::new(),
        });
        let worker = Worker {
            inner: Arc::new(Inner {
                deps,
                max_concurrent: config.workers.max_concurrent as usize,
                actors: Mutex::new(HashMap::new()),
                wake: Notify::new(),
                tracker: TaskTracker::new(),
            }),
        };
        // The shutdown grace counts from the signal (not from when the HTTP side has drained),
        // so the whole stop stays within what the README tells supervisors to allow.
        let deps = worker.inner.deps.clone();
        tokio::spawn(async move {
            deps.shutdown.cancelled().await;
            tokio::time::sleep(deps.config.workers.shutdown_grace.0).await;
            deps.abort_turns.cancel();
        });
        recovery::recover(&worker).await;
        let scheduler = worker.clone();
        worker
            .inner
            .tracker
            .spawn(async move { scheduler.schedule().await });
        Ok(worker)
    }

    /// A webhook said something happened to CI on `sha`: poll it now.
    pub fn wake_ci(&self, sha: &str) -> bool {
        self.inner.deps.ci_wakes.wake(sha)
    }

    /// Looks at the queue now (after a task was created).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Stops a running task's actor and waits (bounded) until it has torn down.
    pub async fn cancel(&self, id: TaskId) -> CancelOutcome {
        let handle = {
            let actors = self.lock_actors();
            actors.get(&id).map(|h| (h.cancel.clone(), h.done.clone()))
        };
        let Some((cancel, mut done)) = handle else {
            return CancelOutcome::NotRunning;
        };
        cancel.cancel();
        let _ = tokio::time::timeout(actor::CANCEL_WAIT, done.wait_for(|d| *d)).await;
        CancelOutcome::Cancelled
    }

    /// Lets actors reach a safe point and stop (their tasks resume or end at the next start).
    /// Agent turns already running get `workers.shutdown_grace` to finish first.
    pub async fn shutdown(&self) {
        let deps = &self.inner.deps;
        deps.shutdown.cancel();
        self.inner.tracker.close();
        if !deps.abort_turns.is_cancelled() && !self.lock_actors().is_empty() {
            tracing::info!(
                grace = %deps.config.workers.shutdown_grace,
                "waiting for running agent turns to finish"
            );
        }
        tokio::select! {
            biased;
            _ = self.inner.tracker.wait() => return,
            _ = deps.abort_turns.cancelled() => {}
        }
        if !self.lock_actors().is_empty() {
            tracing::warn!("agent turns still running after the shutdown grace; stopping them");
        }
        if tokio::time::timeout(SHUTDOWN_WAIT, self.inner.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("some task actors did not stop in time");
        }
    }

    fn lock_actors(&self) -> std::sync::MutexGuard<'_, HashMap<TaskId, ActorHandle>> {
        self.inner.actors.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn deps(&self) -> &Arc<Deps> {
        &self.inner.deps
    }

    /// Registers and starts an actor.
    fn launch(&self, task: app::model::Task, run: Option<crate::store::TaskRun>, start: Start) {
        let id = task.id;
        let handle = actor::spawn(
            self.inner.deps.clone(),
            task,
            run,
            start,
            &self.inner.tracker,
        );
        let mut done = handle.done.clone();
        self.lock_actors().insert(id, handle);
        // When it finishes, forget it and let the next queued task in.
        let worker = self.clone();
        self.inner.tracker.spawn(async move {
            let _ = done.wait_for(|d| *d).await;
            worker.lock_actors().remove(&id);
            worker.wake();
        });
    }

    async fn schedule(&self) {
        let shutdown = self.inner.deps.shutdown.clone();
        loop {
            self.start_queued().await;
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.inner.wake.notified() => {}
                _ = tokio::time::sleep(SCHEDULER_TICK) => {}
            }
        }
    }

    /// Starts queued tasks, oldest first, while there is room.
    async fn start_queued(&self) {
        let free = self
            .inner
            .max_concurrent
            .saturating_sub(self.lock_actors().len());
        if free == 0 || self.inner.deps.shutdown.is_cancelled() {
            return;
        }
        let store = self.deps().hub.store();
        let queued = match store.tasks_in(&[TaskStatus::Queued], free as u32).await {
            Ok(q) => q,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the queue");
                return;
            }
        };
        for task in queued {
            let transition = Transition {
                allowed_from: vec![TaskStatus::Queued],
                to: TaskStatus::Preparing,
                reason: Some("picked from the queue".into()),
            };
            // Someone else (a cancel, another replica) may have moved it first: skip it then.
            match self.deps().hub.transition(task.id, &transition).await {
                Ok((task, _)) => self.launch(task, None, Start::Fresh),
                Err(e) => {
                    tracing::debug!(task.id = %task.id, error = %e, "queued task moved before it could start")
                }
            }
        }
    }
}
