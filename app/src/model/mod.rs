//! Typed models shared by the server, the browser and Rust integrations.
//!
//! Everything here is plain serde: `app` with no features enabled compiles to this module (plus
//! [`crate::validate`] and [`crate::reducer`]) and nothing else.
//!
//! - `task`: [`Task`], [`TaskStatus`], [`TaskId`];
//! - `event`: [`TaskEvent`] and its parts, [`EventEnvelope`], the stream messages;
//! - `api`: requests, [`TaskPage`], [`ApiError`] and [`ErrorCode`];
//! - `event_de`: the hand-written `Deserialize` of events (why: see there).

mod api;
mod event;
mod event_de;
mod task;

pub use api::*;
pub use event::*;
pub use task::*;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    #[test]
    fn status_strings_are_exact_snake_case() {
        let json: Vec<String> = TaskStatus::ALL
            .iter()
            .map(|s| serde_json::to_string(s).unwrap())
            .collect();
        assert_eq!(
            json,
            [
                "\"queued\"",
                "\"preparing\"",
                "\"running\"",
                "\"awaiting_ci\"",
                "\"fixing\"",
                "\"opening_pr\"",
                "\"succeeded\"",
                "\"failed\"",
                "\"cancelled\""
            ]
        );
        for s in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(s.as_str()), Some(s));
            assert_eq!(format!("\"{s}\""), serde_json::to_string(&s).unwrap());
        }
        assert_eq!(TaskStatus::parse("Queued"), None);
    }

    #[test]
    fn events_are_internally_tagged_and_flattened_in_envelopes() {
        let env = EventEnvelope {
            id: 7,
            task_id: uuid::Uuid::nil(),
            seq: 2,
            at: DateTime::from_timestamp(0, 0).unwrap(),
            event: TaskEvent::StatusChanged {
                from: TaskStatus::Queued,
                to: TaskStatus::Cancelled,
                reason: Some("cancelled by user".into()),
            },
        };
        let v = serde_json::to_value(&env).unwrap();
        assert_eq!(v["type"], "status_changed");
        assert_eq!(v["from"], "queued");
        assert_eq!(v["to"], "cancelled");
        assert_eq!(v["seq"], 2);
        assert_eq!(env.event.kind(), "status_changed");
        let back: EventEnvelope = serde_json::from_value(v).unwrap();
        assert_eq!(back, env);
    }

    #[test]
    fn kinds_lists_every_variant_once() {
        let mut kinds = TaskEvent::KINDS.to_vec();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), TaskEvent::KINDS.len(), "no duplicates");
        // Every variant's kind is listed: serialize one of each and compare tags.
        let task = Task::queued(
            uuid::Uuid::nil(),
            CreateTaskRequest::default(),
            DateTime::from_timestamp(0, 0).unwrap(),
        );
        let samples = [
            TaskEvent::TaskCreated {
                task: Box::new(task),
            },
            TaskEvent::StatusChanged {
                from: TaskStatus::Queued,
                to: TaskStatus::Failed,
                reason: None,
            },
            TaskEvent::Log {
                stream: LogStream::Stdout,
                line: String::new(),
            },
            TaskEvent::LogTruncated {
                dropped: 1,
                reason: String::new(),
            },
            TaskEvent::BranchCreated {
                branch: String::new(),
                base: String::new(),
                base_sha: String::new(),
            },
            TaskEvent::ContainerCreated {
                container_id: String::new(),
                image: String::new(),
            },
            TaskEvent::ContainerStarted {
                container_id: String::new(),
            },
            TaskEvent::ContainerRemoved {
                container_id: String::new(),
                kept: false,
            },
            TaskEvent::ContainerStats {
                cpu_percent: 0.0,
                memory_bytes: 0,
                memory_limit_bytes: None,
            },
            TaskEvent::AgentTurnStarted {
                turn: 1,
                agent: String::new(),
                follow_up: false,
            },
            TaskEvent::AgentSession {
                session_id: String::new(),
            },
            TaskEvent::AgentMessage {
                text: String::new(),
            },
            TaskEvent::AgentToolUse {
                tool_use_id: None,
                name: String::new(),
                input: String::new(),
            },
            TaskEvent::AgentToolResult {
                tool_use_id: None,
                output: String::new(),
                is_error: false,
            },
            TaskEvent::AgentTurnFinished {
                turn: 1,
                ok: true,
                reason: None,
                summary: None,
                exit_code: Some(0),
                duration_ms: 0,
                usage: None,
                cost_usd: None,
            },
            TaskEvent::Committed {
                sha: String::new(),
                message: String::new(),
            },
            TaskEvent::Pushed {
                branch: String::new(),
                sha: String::new(),
            },
            TaskEvent::CiRoundStarted {
                round: 1,
                sha: String::new(),
            },
            TaskEvent::CiWaiting {
                round: 1,
                waiting: vec![],
            },
            TaskEvent::CiRoundFinished {
                round: 1,
                sha: String::new(),
                verdict: CiVerdict::Green,
                checks: vec![],
                duration_ms: 0,
            },
            TaskEvent::CiRerun {
                round: 1,
                checks: vec![],
                reason: String::new(),
            },
            TaskEvent::CiFeedback {
                round: 1,
                text: String::new(),
                truncated: false,
            },
            TaskEvent::PullRequestOpened {
                number: 1,
                url: String::new(),
                draft: false,
            },
            TaskEvent::PullRequestReady {
                number: 1,
                url: String::new(),
            },
            TaskEvent::PullRequestClosed {
                number: 1,
                url: String::new(),
                reason: String::new(),
            },
        ];
        assert_eq!(samples.len(), TaskEvent::KINDS.len());
        for (sample, kind) in samples.iter().zip(TaskEvent::KINDS) {
            assert_eq!(sample.kind(), kind);
            assert_eq!(serde_json::to_value(sample).unwrap()["type"], kind);
        }
    }

    #[test]
    fn error_body_omits_absent_field() {
        let body = ErrorBody {
            error: ApiError::not_found("task"),
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"error":{"code":"not_found","message":"task not found"}}"#
        );
    }
}
