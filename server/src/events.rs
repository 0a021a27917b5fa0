//! The event hub: persist, then publish; subscribers get "history, then live" with no gap and no
//! duplicate.
//!
//! Every write of a task's state goes through the hub, which holds one write lock across "store
//! in the database" and "send on the broadcast channel". That makes the broadcast order equal to
//! the commit order (global `id` and per-task `seq` both increase along the channel).
//!
//! A subscriber first subscribes to the channel, *then* reads history from the store, and then
//! follows the channel, dropping what it already yielded (`seq`/`id` at or below its position).
//! An event committed between the history read and the first live message is therefore in the
//! channel buffer and is not lost; one already in the history is not repeated. When the channel
//! overflows for a slow subscriber (`Lagged`) or a per-task `seq` jumps, the subscriber reads the
//! missing part back from the store — nothing is skipped. Only if that read fails does the stream
//! yield an explicit [`StreamItem::Resync`] and end, so the client reconnects with `Last-Event-ID`.

use crate::{
    store::{Store, StoreError, Transition},
    telemetry::Metrics,
};
use app::model::{EventEnvelope, Task, TaskChange, TaskEvent, TaskId};
use futures::Stream;
use std::sync::Arc;
use tokio::sync::{broadcast, broadcast::error::RecvError, Mutex};

/// Events read from the store per round trip when replaying history.
const REPLAY_PAGE: u32 = 500;
/// Default capacity of the live channel (per subscriber backlog before `Lagged`).
pub const DEFAULT_CHANNEL_CAPACITY: usize = 4096;

/// What an event stream yields.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem<T> {
    Event(T),
    /// The stream cannot continue in step; it ends after this.
    Resync(String),
}

pub struct EventHub {
    store: Store,
    live: broadcast::Sender<Arc<EventEnvelope>>,
    write_lock: Mutex<()>,
    metrics: Arc<Metrics>,
}

impl EventHub {
    pub fn new(store: Store, capacity: usize, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(EventHub {
            store,
            live: broadcast::channel(capacity.max(1)).0,
            write_lock: Mutex::new(()),
            metrics,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stores a new task with its `task_created` event, then publishes it.
    pub async fn create_task(&self, task: &Task) -> Result<EventEnvelope, StoreError> {
        let event = TaskEvent::TaskCreated {
            task: Box::new(task.clone()),
        };
        let _guard = self.write_lock.lock().await;
        let env = self.store.insert_task(task, &event).await?;
        self.publish(&env);
        Ok(env)
    }

    /// Appends an event to a task's history, then publishes it.
    pub async fn append(
        &self,
        task_id: TaskId,
        event: TaskEvent,
    ) -> Result<EventEnvelope, StoreError> {
        let _guard = self.write_lock.lock().await;
        let env = self.store.append_event(task_id, &event).await?;
        self.publish(&env);
        Ok(env)
    }

    /// Changes a task's status (and records why), then publishes the `status_changed` event.
    pub async fn transition(
        &self,
        task_id: TaskId,
        t: &Transition,
    ) -> Result<(Task, EventEnvelope), StoreError> {
        let _guard = self.write_lock.lock().await;
        let (task, env) = self.store.transition(task_id, t).await?;
        self.publish(&env);
        Ok((task, env))
    }

    fn publish(&self, env: &EventEnvelope) {
        self.metrics.event_published();
        // No receiver is fine: nobody is watching right now, the store has it.
        let _ = self.live.send(Arc::new(env.clone()));
    }

    /// One task's events with `seq > after`: its history, then live.
    pub fn task_events(
        self: &Arc<Self>,
        task_id: TaskId,
        after: i64,
    ) -> impl Stream<Item = StreamItem<EventEnvelope>> + Send + 'static {
        let hub = Arc::clone(self);
        // Subscribe before the first history read: see the module docs.
        let mut rx = hub.live.subscribe();
        async_stream::stream! {
            let mut last = after;
            let mut replay = true;
            loop {
                if replay {
                    replay = false;
                    loop {
                        match hub.store.events_after(task_id, last, REPLAY_PAGE).await {
                            Ok(page) => {
                                let full = page.len() == REPLAY_PAGE as usize;
                                for env in page {
                                    last = env.seq;
                                    yield StreamItem::Event(env);
                                }
                                if !full {
                                    break;
                                }
                            }
                            Err(e) => {
                                tracing::warn!(task.id = %task_id, error = %e, "event replay failed; asking the client to resync");
                                yield StreamItem::Resync("the server could not read this task's history".into());
                                return;
                            }
                        }
                    }
                }
                match rx.recv().await {
                    Ok(env) if env.task_id != task_id || env.seq <= last => {}
                    Ok(env) if env.seq == last + 1 => {
                        last = env.seq;
                        yield StreamItem::Event((*env).clone());
                    }
                    // A seq jumped: something was published out of order; read it back.
                    Ok(_) => replay = true,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::debug!(task.id = %task_id, missed, "subscriber lagged; catching up from the store");
                        replay = true;
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        }
    }

    /// Creations and status changes of every task. With `after`, those with a global id above it
    /// first; without, only what happens from now on.
    pub fn task_changes(
        self: &Arc<Self>,
        after: Option<i64>,
    ) -> impl Stream<Item = StreamItem<TaskChange>> + Send + 'static {
        let hub = Arc::clone(self);
        let mut rx = hub.live.subscribe();
        async_stream::stream! {
            let mut last = match after {
                Some(id) => id,
                None => match hub.store.last_event_id().await {
                    Ok(id) => id,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the event position");
                        yield StreamItem::Resync("the server could not read the event history".into());
                        return;
                    }
                },
            };
            let mut replay = after.is_some();
            loop {
                if replay {
                    replay = false;
                    loop {
                        match hub.store.changes_after(last, REPLAY_PAGE).await {
                            Ok(page) => {
                                let full = page.len() == REPLAY_PAGE as usize;
                                for (event, task) in page {
                                    last = event.id;
                                    yield StreamItem::Event(TaskChange { event, task });
                                }
                                if !full {
                                    break;
                                }
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "change replay failed; asking the client to resync");
                                yield StreamItem::Resync("the server could not read the event history".into());
                                return;
                            }
                        }
                    }
                }
                match rx.recv().await {
                    Ok(env) if env.id <= last || !env.event.is_task_change() => {}
                    Ok(env) => {
                        // The snapshot is read after the commit, so it is at least as new as the event.
                        match hub.store.get_task(env.task_id).await {
                            Ok(Some(task)) => {
                                last = env.id;
                                yield StreamItem::Event(TaskChange { event: (*env).clone(), task });
                            }
                            Ok(None) => last = env.id,
                            Err(e) => {
                                tracing::warn!(error = %e, "cannot read a changed task");
                                yield StreamItem::Resync("the server could not read a changed task".into());
                                return;
                            }
                        }
                    }
                    Err(RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "change subscriber lagged; catching up from the store");
                        replay = true;
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::{LogStream, TaskStatus};
    use futures::StreamExt;

    async fn hub(capacity: usize) -> (Arc<EventHub>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::connect(&url, 4).await.unwrap();
        (
            EventHub::new(store, capacity, Arc::new(Metrics::default())),
            dir,
        )
    }

    fn new_task() -> Task {
        let request = app::model::CreateTaskRequest {
            prompt: "p".into(),
            repo: "a/b".into(),
            ..Default::default()
        };
        Task::queued(uuid::Uuid::now_v7(), request, crate::store::now())
    }

    fn log(n: usize) -> TaskEvent {
        TaskEvent::Log {
            stream: LogStream::Stdout,
            line: format!("line {n}"),
        }
    }

    async fn take_seqs(
        stream: impl Stream<Item = StreamItem<EventEnvelope>>,
        n: usize,
    ) -> Vec<i64> {
        let items: Vec<_> = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            stream.take(n).collect::<Vec<_>>(),
        )
        .await
        .expect("stream stalled");
        items
            .into_iter()
            .map(|i| match i {
                StreamItem::Event(e) => e.seq,
                StreamItem::Resync(r) => panic!("unexpected resync: {r}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn subscriber_joining_mid_publish_sees_every_event_once_in_order() {
        let (hub, _dir) = hub(DEFAULT_CHANNEL_CAPACITY).await;
        let task = new_task();
        hub.create_task(&task).await.unwrap();
        let writer = {
            let hub = hub.clone();
            tokio::spawn(async move {
                for n in 0..300 {
                    hub.append(task.id, log(n)).await.unwrap();
                }
            })
        };
        // Join at several points while the writer is busy.
        let mut joins = Vec::new();
        for _ in 0..5 {
            tokio::task::yield_now().await;
            let s = hub.task_events(task.id, 0);
            joins.push(tokio::spawn(take_seqs(s, 301)));
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        }
        writer.await.unwrap();
        let expected: Vec<i64> = (1..=301).collect();
        for j in joins {
            assert_eq!(j.await.unwrap(), expected);
        }
    }

    #[tokio::test]
    async fn resuming_after_a_seq_yields_only_later_events() {
        let (hub, _dir) = hub(DEFAULT_CHANNEL_CAPACITY).await;
        let task = new_task();
        hub.create_task(&task).await.unwrap();
        for n in 0..9 {
            hub.append(task.id, log(n)).await.unwrap();
        }
        let seqs = take_seqs(hub.task_events(task.id, 7), 3).await;
        assert_eq!(seqs, [8, 9, 10]);
    }

    #[tokio::test]
    async fn a_lagging_subscriber_catches_up_without_loss() {
        // A tiny channel: the subscriber below falls far behind while not reading.
        let (hub, _dir) = hub(2).await;
        let task = new_task();
        hub.create_task(&task).await.unwrap();
        let mut stream = Box::pin(hub.task_events(task.id, 0));
        assert_eq!(
            stream.next().await,
            Some(StreamItem::Event(
                hub.store().events_after(task.id, 0, 1).await.unwrap()[0].clone()
            ))
        );
        for n in 0..50 {
            hub.append(task.id, log(n)).await.unwrap();
        }
        let rest = take_seqs(stream, 50).await;
        assert_eq!(rest, (2..=51).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_subscriber_that_cannot_catch_up_gets_an_explicit_resync_and_the_stream_ends() {
        let (hub, _dir) = hub(2).await;
        let task = new_task();
        hub.create_task(&task).await.unwrap();
        let mut stream = Box::pin(hub.task_events(task.id, 0));
        assert!(matches!(stream.next().await, Some(StreamItem::Event(_))));
        for n in 0..10 {
            hub.append(task.id, log(n)).await.unwrap();
        }
        // The subscriber lagged; with the database gone it cannot read what it missed.
        hub.store().close().await;
        match stream.next().await {
            Some(StreamItem::Resync(reason)) => assert!(reason.contains("history"), "{reason}"),
            other => panic!("expected a resync, got {other:?}"),
        }
        assert_eq!(stream.next().await, None, "the stream ends after a resync");
    }

    #[tokio::test]
    async fn change_stream_carries_creations_and_status_changes_only() {
        let (hub, _dir) = hub(2).await;
        let before = hub.store().last_event_id().await.unwrap();
        let mut changes = Box::pin(hub.task_changes(Some(before)));
        let task = new_task();
        hub.create_task(&task).await.unwrap();
        for n in 0..20 {
            hub.append(task.id, log(n)).await.unwrap();
        }
        hub.transition(
            task.id,
            &Transition {
                allowed_from: vec![TaskStatus::Queued],
                to: TaskStatus::Cancelled,
                reason: Some("test".into()),
            },
        )
        .await
        .unwrap();
        let first = changes.next().await.unwrap();
        let second = changes.next().await.unwrap();
        let (StreamItem::Event(a), StreamItem::Event(b)) = (first, second) else {
            panic!("expected two changes")
        };
        assert_eq!(a.event.event.kind(), "task_created");
        assert_eq!(b.event.event.kind(), "status_changed");
        assert_eq!(b.task.status, TaskStatus::Cancelled);
        assert!(b.event.id > a.event.id);
    }
}
