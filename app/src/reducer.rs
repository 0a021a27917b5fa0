//! Pure folds of the event streams into what the dashboard shows. No Leptos, no I/O: the browser
//! calls these on every SSE message, and native unit tests call them on hand-made histories.

use crate::model::{EventEnvelope, Task, TaskChange, TaskEvent, TaskStatus};
use std::collections::BTreeMap;

/// What the task page knows: the task and its event history so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskView {
    pub task: Option<Task>,
    pub events: Vec<EventEnvelope>,
}

impl TaskView {
    pub fn new(task: Option<Task>, history: Vec<EventEnvelope>) -> Self {
        let mut view = TaskView {
            task,
            events: Vec::with_capacity(history.len()),
        };
        for env in history {
            view.apply(env);
        }
        view
    }

    /// The highest sequence number applied (0 before any): resume a stream `?after=` this.
    pub fn last_seq(&self) -> i64 {
        self.events.last().map_or(0, |e| e.seq)
    }

    /// Folds one event in. Events at or below [`Self::last_seq`] are duplicates (a reconnect
    /// overlapping what was already seen) and change nothing; returns whether it applied.
    pub fn apply(&mut self, env: EventEnvelope) -> bool {
        if env.seq <= self.last_seq() {
            return false;
        }
        match &env.event {
            TaskEvent::TaskCreated { task } if self.task.is_none() => {
                self.task = Some((**task).clone());
            }
            TaskEvent::StatusChanged { to, reason, .. } => {
                if let Some(task) = self.task.as_mut() {
                    task.status = *to;
                    task.updated_at = env.at;
                    if matches!(to, TaskStatus::Failed | TaskStatus::Cancelled) {
                        task.error = reason.clone().or(task.error.take());
                    }
                }
            }
            TaskEvent::BranchCreated { branch, .. } => {
                if let Some(task) = self.task.as_mut() {
                    task.branch = Some(branch.clone());
                }
            }
            TaskEvent::CiRoundStarted { round, .. } => {
                if let Some(task) = self.task.as_mut() {
                    task.iterations = task.iterations.max(*round);
                }
            }
            TaskEvent::PullRequestOpened { number, url, .. } => {
                if let Some(task) = self.task.as_mut() {
                    task.pr_number = Some(*number);
                    task.pr_url = Some(url.clone());
                }
            }
            // Everything else is history to show, not state to fold.
            _ => {}
        }
        self.events.push(env);
        true
    }
}

/// What the task list knows: tasks newest first, and the stream position they reflect.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskListView {
    pub tasks: Vec<Task>,
    pub last_event_id: i64,
}

impl TaskListView {
    /// Folds one all-tasks change in: updates the task in place, or adds a new one at its place
    /// by creation time. Changes at or below `last_event_id` were already reflected and are
    /// ignored; returns whether it applied.
    pub fn apply(&mut self, change: TaskChange) -> bool {
        if change.event.id <= self.last_event_id {
            return false;
        }
        self.last_event_id = change.event.id;
        let task = change.task;
        if let Some(existing) = self.tasks.iter_mut().find(|t| t.id == task.id) {
            // Snapshots may arrive out of date order relative to each other; keep the newest.
            if task.updated_at >= existing.updated_at {
                *existing = task;
            }
            return true;
        }
        let pos = self
            .tasks
            .iter()
            .position(|t| (t.created_at, t.id) < (task.created_at, task.id))
            .unwrap_or(self.tasks.len());
        self.tasks.insert(pos, task);
        true
    }
}

/// Keeps per-status counts in step with a live change (whether or not the task is on the page):
/// a creation adds one to its status, a status change moves one from `from` to `to`.
pub fn count_change(counts: &mut BTreeMap<TaskStatus, u64>, change: &TaskChange) {
    match &change.event.event {
        TaskEvent::TaskCreated { task } => *counts.entry(task.status).or_default() += 1,
        TaskEvent::StatusChanged { from, to, .. } => {
            if let Some(n) = counts.get_mut(from) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    counts.remove(from);
                }
            }
            *counts.entry(*to).or_default() += 1;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).unwrap()
    }

    fn task(n: u128, created: i64) -> Task {
        let request = crate::model::CreateTaskRequest {
            prompt: "p".into(),
            repo: "a/b".into(),
            ..Default::default()
        };
        Task::queued(uuid::Uuid::from_u128(n), request, at(created))
    }

    fn env(id: i64, seq: i64, event: TaskEvent) -> EventEnvelope {
        EventEnvelope {
            id,
            task_id: uuid::Uuid::from_u128(1),
            seq,
            at: at(100 + seq),
            event,
        }
    }

    fn cancelled() -> TaskEvent {
        TaskEvent::StatusChanged {
            from: TaskStatus::Queued,
            to: TaskStatus::Cancelled,
            reason: Some("cancelled by user".into()),
        }
    }

    #[test]
    fn task_view_folds_history_and_drops_duplicates() {
        let created = env(
            1,
            1,
            TaskEvent::TaskCreated {
                task: Box::new(task(1, 5)),
            },
        );
        let mut view = TaskView::new(None, vec![created.clone()]);
        assert_eq!(view.task.as_ref().unwrap().status, TaskStatus::Queued);
        assert!(!view.apply(created), "a replayed event is a duplicate");
        assert!(view.apply(env(9, 2, cancelled())));
        assert!(!view.apply(env(9, 2, cancelled())));
        let t = view.task.as_ref().unwrap();
        assert_eq!(t.status, TaskStatus::Cancelled);
        assert_eq!(t.error.as_deref(), Some("cancelled by user"));
        assert_eq!(t.updated_at, at(102));
        assert_eq!(view.last_seq(), 2);
        assert_eq!(view.events.len(), 2);
    }

    #[test]
    fn task_view_folds_branch_rounds_and_pull_request() {
        let created = env(
            1,
            1,
            TaskEvent::TaskCreated {
                task: Box::new(task(1, 5)),
            },
        );
        let mut view = TaskView::new(None, vec![created]);
        view.apply(env(
            2,
            2,
            TaskEvent::BranchCreated {
                branch: "amp/x".into(),
                base: "main".into(),
                base_sha: "a".into(),
            },
        ));
        view.apply(env(
            3,
            3,
            TaskEvent::CiRoundStarted {
                round: 2,
                sha: "b".into(),
            },
        ));
        view.apply(env(
            4,
            4,
            TaskEvent::PullRequestOpened {
                number: 7,
                url: "https://x/pull/7".into(),
                draft: true,
            },
        ));
        let t = view.task.unwrap();
        assert_eq!(t.branch.as_deref(), Some("amp/x"));
        assert_eq!(t.iterations, 2);
        assert_eq!(
            (t.pr_number, t.pr_url.as_deref()),
            (Some(7), Some("https://x/pull/7"))
        );
    }

    #[test]
    fn counts_follow_creations_and_status_changes() {
        let mut counts = BTreeMap::from([(TaskStatus::Queued, 1)]);
        let t = task(2, 20);
        let created = TaskChange {
            event: env(
                5,
                1,
                TaskEvent::TaskCreated {
                    task: Box::new(t.clone()),
                },
            ),
            task: t.clone(),
        };
        count_change(&mut counts, &created);
        assert_eq!(counts, BTreeMap::from([(TaskStatus::Queued, 2)]));
        let moved = TaskChange {
            event: env(
                6,
                2,
                TaskEvent::StatusChanged {
                    from: TaskStatus::Queued,
                    to: TaskStatus::Cancelled,
                    reason: None,
                },
            ),
            task: t,
        };
        count_change(&mut counts, &moved);
        count_change(&mut counts, &moved.clone());
        assert_eq!(
            counts,
            BTreeMap::from([(TaskStatus::Cancelled, 2)]),
            "empty statuses disappear"
        );
    }

    #[test]
    fn list_view_inserts_by_creation_time_and_updates_in_place() {
        let mut list = TaskListView {
            tasks: vec![task(3, 30), task(1, 10)],
            last_event_id: 5,
        };
        let change = |id: i64, t: Task| TaskChange {
            event: env(
                id,
                1,
                TaskEvent::TaskCreated {
                    task: Box::new(t.clone()),
                },
            ),
            task: t,
        };
        assert!(!list.apply(change(5, task(9, 90))), "already reflected");
        assert!(list.apply(change(6, task(2, 20))));
        assert!(list.apply(change(7, task(4, 40))));
        let ids: Vec<u128> = list.tasks.iter().map(|t| t.id.as_u128()).collect();
        assert_eq!(ids, [4, 3, 2, 1]);

        let mut done = task(2, 20);
        done.status = TaskStatus::Cancelled;
        done.updated_at = at(25);
        assert!(list.apply(change(8, done)));
        assert_eq!(list.tasks[2].status, TaskStatus::Cancelled);
        assert_eq!(list.tasks.len(), 4);
        assert_eq!(list.last_event_id, 8);
    }
}
