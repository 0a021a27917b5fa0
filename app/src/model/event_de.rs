//! `Deserialize` for [`TaskEvent`] and [`EventEnvelope`], in one pass over a flat JSON object.
//!
//! Why not derived: an internally tagged enum (`"type"`) inside a `#[serde(flatten)]` envelope
//! makes serde buffer every event twice into its private `Content` tree and instantiate every
//! variant's visitor for that buffer. That was about 145 KB of the dashboard's WASM before
//! optimization (and a second copy of work on every event the server reads back).
//!
//! Here every field any event can carry is read into one flat struct, then the `type` picks the
//! variant and checks that its required fields are there. The wire format is exactly the derived
//! `Serialize` output: `{"id", "task_id", "seq", "at", "type", …the variant's fields}`. Unknown
//! fields are ignored and an absent or `null` `Option` field is `None`, as before. One difference:
//! a field that belongs to *another* kind of event must still have that field's type.
//!
//! Adding a variant: add its fields to [`FlatEvent`] and an arm to [`FlatEvent::into_event`];
//! the round-trip test over one sample of every kind fails until both are done.

use super::{
    CheckResult, CiVerdict, EventEnvelope, LogStream, Task, TaskEvent, TaskId, TaskStatus,
    TokenUsage,
};
use chrono::{DateTime, Utc};
use serde::de::{self, Deserialize, Deserializer};

/// Every field of every event, plus the envelope's. Names are the wire names.
#[derive(serde::Deserialize)]
struct FlatEvent {
    id: Option<i64>,
    task_id: Option<TaskId>,
    seq: Option<i64>,
    at: Option<DateTime<Utc>>,
    #[serde(rename = "type")]
    kind: Option<String>,
    task: Option<Box<Task>>,
    from: Option<TaskStatus>,
    to: Option<TaskStatus>,
    reason: Option<String>,
    stream: Option<LogStream>,
    line: Option<String>,
    dropped: Option<u64>,
    branch: Option<String>,
    base: Option<String>,
    base_sha: Option<String>,
    container_id: Option<String>,
    image: Option<String>,
    kept: Option<bool>,
    cpu_percent: Option<f64>,
    memory_bytes: Option<u64>,
    memory_limit_bytes: Option<u64>,
    turn: Option<u32>,
    agent: Option<String>,
    follow_up: Option<bool>,
    session_id: Option<String>,
    text: Option<String>,
    tool_use_id: Option<String>,
    name: Option<String>,
    input: Option<String>,
    output: Option<String>,
    is_error: Option<bool>,
    ok: Option<bool>,
    summary: Option<String>,
    exit_code: Option<i64>,
    duration_ms: Option<u64>,
    usage: Option<TokenUsage>,
    cost_usd: Option<f64>,
    sha: Option<String>,
    message: Option<String>,
    round: Option<u32>,
    waiting: Option<Vec<String>>,
    verdict: Option<CiVerdict>,
    /// Check results in `ci_round_finished`, check names in `ci_rerun`.
    checks: Option<Vec<CheckEntry>>,
    truncated: Option<bool>,
    number: Option<u64>,
    url: Option<String>,
    draft: Option<bool>,
}

/// An element of `checks`: a name (`ci_rerun`) or a result object (`ci_round_finished`).
enum CheckEntry {
    Name(String),
    Result(CheckResult),
}

impl<'de> Deserialize<'de> for CheckEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> de::Visitor<'de> for EntryVisitor {
            type Value = CheckEntry;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a check name or a check result object")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<CheckEntry, E> {
                Ok(CheckEntry::Name(name.to_owned()))
            }
            fn visit_string<E: de::Error>(self, name: String) -> Result<CheckEntry, E> {
                Ok(CheckEntry::Name(name))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<CheckEntry, A::Error> {
                CheckResult::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(CheckEntry::Result)
            }
        }
        deserializer.deserialize_any(EntryVisitor)
    }
}

fn required<T, E: de::Error>(value: Option<T>, field: &'static str) -> Result<T, E> {
    value.ok_or_else(|| E::missing_field(field))
}

fn check_names<E: de::Error>(entries: Option<Vec<CheckEntry>>) -> Result<Vec<String>, E> {
    required(entries, "checks")?
        .into_iter()
        .map(|entry| match entry {
            CheckEntry::Name(name) => Ok(name),
            CheckEntry::Result(_) => Err(E::invalid_type(de::Unexpected::Map, &"a check name")),
        })
        .collect()
}

fn check_results<E: de::Error>(entries: Option<Vec<CheckEntry>>) -> Result<Vec<CheckResult>, E> {
    required(entries, "checks")?
        .into_iter()
        .map(|entry| match entry {
            CheckEntry::Result(check) => Ok(check),
            CheckEntry::Name(name) => Err(E::invalid_type(
                de::Unexpected::Str(&name),
                &"a check result object",
            )),
        })
        .collect()
}

impl FlatEvent {
    fn into_event<E: de::Error>(self) -> Result<TaskEvent, E> {
        let kind = required(self.kind, "type")?;
        Ok(match kind.as_str() {
            "task_created" => TaskEvent::TaskCreated {
                task: required(self.task, "task")?,
            },
            "status_changed" => TaskEvent::StatusChanged {
                from: required(self.from, "from")?,
                to: required(self.to, "to")?,
                reason: self.reason,
            },
            "log" => TaskEvent::Log {
                stream: required(self.stream, "stream")?,
                line: required(self.line, "line")?,
            },
            "log_truncated" => TaskEvent::LogTruncated {
                dropped: required(self.dropped, "dropped")?,
                reason: required(self.reason, "reason")?,
            },
            "branch_created" => TaskEvent::BranchCreated {
                branch: required(self.branch, "branch")?,
                base: required(self.base, "base")?,
                base_sha: required(self.base_sha, "base_sha")?,
            },
            "container_created" => TaskEvent::ContainerCreated {
                container_id: required(self.container_id, "container_id")?,
                image: required(self.image, "image")?,
            },
            "container_started" => TaskEvent::ContainerStarted {
                container_id: required(self.container_id, "container_id")?,
            },
            "container_removed" => TaskEvent::ContainerRemoved {
                container_id: required(self.container_id, "container_id")?,
                kept: required(self.kept, "kept")?,
            },
            "container_stats" => TaskEvent::ContainerStats {
                cpu_percent: required(self.cpu_percent, "cpu_percent")?,
                memory_bytes: required(self.memory_bytes, "memory_bytes")?,
                memory_limit_bytes: self.memory_limit_bytes,
            },
            "agent_turn_started" => TaskEvent::AgentTurnStarted {
                turn: required(self.turn, "turn")?,
                agent: required(self.agent, "agent")?,
                follow_up: required(self.follow_up, "follow_up")?,
            },
            "agent_session" => TaskEvent::AgentSession {
                session_id: required(self.session_id, "session_id")?,
            },
            "agent_message" => TaskEvent::AgentMessage {
                text: required(self.text, "text")?,
            },
            "agent_tool_use" => TaskEvent::AgentToolUse {
                tool_use_id: self.tool_use_id,
                name: required(self.name, "name")?,
                input: required(self.input, "input")?,
            },
            "agent_tool_result" => TaskEvent::AgentToolResult {
                tool_use_id: self.tool_use_id,
                output: required(self.output, "output")?,
                is_error: required(self.is_error, "is_error")?,
            },
            "agent_turn_finished" => TaskEvent::AgentTurnFinished {
                turn: required(self.turn, "turn")?,
                ok: required(self.ok, "ok")?,
                reason: self.reason,
                summary: self.summary,
                exit_code: self.exit_code,
                duration_ms: required(self.duration_ms, "duration_ms")?,
                usage: self.usage,
                cost_usd: self.cost_usd,
            },
            "committed" => TaskEvent::Committed {
                sha: required(self.sha, "sha")?,
                message: required(self.message, "message")?,
            },
            "pushed" => TaskEvent::Pushed {
                branch: required(self.branch, "branch")?,
                sha: required(self.sha, "sha")?,
            },
            "ci_round_started" => TaskEvent::CiRoundStarted {
                round: required(self.round, "round")?,
                sha: required(self.sha, "sha")?,
            },
            "ci_waiting" => TaskEvent::CiWaiting {
                round: required(self.round, "round")?,
                waiting: required(self.waiting, "waiting")?,
            },
            "ci_round_finished" => TaskEvent::CiRoundFinished {
                round: required(self.round, "round")?,
                sha: required(self.sha, "sha")?,
                verdict: required(self.verdict, "verdict")?,
                checks: check_results(self.checks)?,
                duration_ms: required(self.duration_ms, "duration_ms")?,
            },
            "ci_rerun" => TaskEvent::CiRerun {
                round: required(self.round, "round")?,
                checks: check_names(self.checks)?,
                reason: required(self.reason, "reason")?,
            },
            "ci_feedback" => TaskEvent::CiFeedback {
                round: required(self.round, "round")?,
                text: required(self.text, "text")?,
                truncated: required(self.truncated, "truncated")?,
            },
            "pull_request_opened" => TaskEvent::PullRequestOpened {
                number: required(self.number, "number")?,
                url: required(self.url, "url")?,
                draft: required(self.draft, "draft")?,
            },
            "pull_request_ready" => TaskEvent::PullRequestReady {
                number: required(self.number, "number")?,
                url: required(self.url, "url")?,
            },
            "pull_request_closed" => TaskEvent::PullRequestClosed {
                number: required(self.number, "number")?,
                url: required(self.url, "url")?,
                reason: required(self.reason, "reason")?,
            },
            other => return Err(E::unknown_variant(other, &TaskEvent::KINDS)),
        })
    }
}

impl<'de> Deserialize<'de> for TaskEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        FlatEvent::deserialize(deserializer)?.into_event()
    }
}

impl<'de> Deserialize<'de> for EventEnvelope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut flat = FlatEvent::deserialize(deserializer)?;
        Ok(EventEnvelope {
            id: required(flat.id.take(), "id")?,
            task_id: required(flat.task_id.take(), "task_id")?,
            seq: required(flat.seq.take(), "seq")?,
            at: required(flat.at.take(), "at")?,
            event: flat.into_event()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CreateTaskRequest;
    use serde_json::json;

    /// One event of every kind, every field set to a value no other field has, so a field read
    /// into the wrong place cannot round-trip.
    fn samples() -> Vec<TaskEvent> {
        let mut task = Task::queued(
            uuid::Uuid::from_u128(7),
            CreateTaskRequest {
                prompt: "fix it".into(),
                repo: "o/r".into(),
                base_branch: Some("main".into()),
                agent: Some("amp".into()),
                max_iterations: Some(3),
            },
            DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        );
        task.error = Some("boom".into());
        let s = |x: &str| x.to_string();
        vec![
            TaskEvent::TaskCreated {
                task: Box::new(task),
            },
            TaskEvent::StatusChanged {
                from: TaskStatus::Queued,
                to: TaskStatus::Failed,
                reason: Some(s("r1")),
            },
            TaskEvent::Log {
                stream: LogStream::Stderr,
                line: s("l1"),
            },
            TaskEvent::LogTruncated {
                dropped: 11,
                reason: s("r2"),
            },
            TaskEvent::BranchCreated {
                branch: s("b1"),
                base: s("b2"),
                base_sha: s("b3"),
            },
            TaskEvent::ContainerCreated {
                container_id: s("c1"),
                image: s("i1"),
            },
            TaskEvent::ContainerStarted {
                container_id: s("c2"),
            },
            TaskEvent::ContainerRemoved {
                container_id: s("c3"),
                kept: true,
            },
            TaskEvent::ContainerStats {
                cpu_percent: 12.5,
                memory_bytes: 13,
                memory_limit_bytes: Some(14),
            },
            TaskEvent::AgentTurnStarted {
                turn: 15,
                agent: s("a1"),
                follow_up: true,
            },
            TaskEvent::AgentSession {
                session_id: s("s1"),
            },
            TaskEvent::AgentMessage { text: s("t1") },
            TaskEvent::AgentToolUse {
                tool_use_id: Some(s("u1")),
                name: s("n1"),
                input: s("i2"),
            },
            TaskEvent::AgentToolResult {
                tool_use_id: Some(s("u2")),
                output: s("o1"),
                is_error: true,
            },
            TaskEvent::AgentTurnFinished {
                turn: 16,
                ok: false,
                reason: Some(s("r3")),
                summary: Some(s("s2")),
                exit_code: Some(-17),
                duration_ms: 18,
                usage: Some(TokenUsage {
                    input_tokens: 19,
                    output_tokens: 20,
                    cache_read_tokens: 21,
                    cache_write_tokens: 22,
                }),
                cost_usd: Some(0.23),
            },
            TaskEvent::Committed {
                sha: s("h1"),
                message: s("m1"),
            },
            TaskEvent::Pushed {
                branch: s("b4"),
                sha: s("h2"),
            },
            TaskEvent::CiRoundStarted {
                round: 24,
                sha: s("h3"),
            },
            TaskEvent::CiWaiting {
                round: 25,
                waiting: vec![s("w1"), s("w2")],
            },
            TaskEvent::CiRoundFinished {
                round: 26,
                sha: s("h4"),
                verdict: CiVerdict::Red,
                checks: vec![CheckResult {
                    name: s("k1"),
                    conclusion: s("failure"),
                    url: Some(s("u3")),
                    preexisting: true,
                }],
                duration_ms: 27,
            },
            TaskEvent::CiRerun {
                round: 28,
                checks: vec![s("k2"), s("k3")],
                reason: s("r4"),
            },
            TaskEvent::CiFeedback {
                round: 29,
                text: s("t2"),
                truncated: true,
            },
            TaskEvent::PullRequestOpened {
                number: 30,
                url: s("u4"),
                draft: true,
            },
            TaskEvent::PullRequestReady {
                number: 31,
                url: s("u5"),
            },
            TaskEvent::PullRequestClosed {
                number: 32,
                url: s("u6"),
                reason: s("r5"),
            },
        ]
    }

    #[test]
    fn every_kind_round_trips_alone_and_in_an_envelope() {
        let samples = samples();
        assert_eq!(samples.len(), TaskEvent::KINDS.len());
        for (i, event) in samples.into_iter().enumerate() {
            assert_eq!(event.kind(), TaskEvent::KINDS[i], "samples follow KINDS");
            let text = serde_json::to_string(&event).unwrap();
            let back: TaskEvent = serde_json::from_str(&text).unwrap();
            assert_eq!(back, event, "{text}");
            let envelope = EventEnvelope {
                id: 100 + i as i64,
                task_id: uuid::Uuid::from_u128(9),
                seq: i as i64 + 1,
                at: DateTime::from_timestamp_millis(1_700_000_000_123).unwrap(),
                event,
            };
            let text = serde_json::to_string(&envelope).unwrap();
            let back: EventEnvelope = serde_json::from_str(&text).unwrap();
            assert_eq!(back, envelope, "{text}");
            // Also through a `Value`, a non-borrowing deserializer.
            let back: EventEnvelope =
                serde_json::from_value(serde_json::to_value(&envelope).unwrap()).unwrap();
            assert_eq!(back, envelope);
        }
    }

    #[test]
    fn absent_and_null_options_are_none_and_unknown_fields_are_ignored() {
        let event: TaskEvent = serde_json::from_value(json!({
            "type": "agent_turn_finished", "turn": 1, "ok": true, "duration_ms": 5,
            "summary": null, "added_in_a_later_version": {"x": [1, 2]}
        }))
        .unwrap();
        assert_eq!(
            event,
            TaskEvent::AgentTurnFinished {
                turn: 1,
                ok: true,
                reason: None,
                summary: None,
                exit_code: None,
                duration_ms: 5,
                usage: None,
                cost_usd: None,
            }
        );
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let error = |v: serde_json::Value| {
            serde_json::from_value::<TaskEvent>(v)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(error(json!({"line": "x"})), "missing field `type`");
        assert_eq!(
            error(json!({"type": "log", "stream": "stdout"})),
            "missing field `line`"
        );
        assert_eq!(
            error(json!({"type": "log", "stream": "stdout", "line": null})),
            "missing field `line`"
        );
        assert!(error(json!({"type": "exploded"}))
            .starts_with("unknown variant `exploded`, expected one of `task_created`"));
        assert!(
            error(json!({"type": "log", "stream": "sideways", "line": ""}))
                .contains("unknown variant `sideways`")
        );
        assert!(error(json!({"type": "ci_rerun", "round": 1, "reason": "", "checks": [{"name": "a", "conclusion": "failure"}]}))
            .contains("expected a check name"));
        assert!(error(json!({"type": "ci_round_finished", "round": 1, "sha": "", "verdict": "red", "duration_ms": 1, "checks": ["a"]}))
            .contains("expected a check result object"));
        assert!(
            error(json!({"type": "ci_rerun", "round": 1, "reason": "", "checks": [7]}))
                .contains("expected a check name or a check result object")
        );
        let envelope = serde_json::from_value::<EventEnvelope>(
            json!({"id": 1, "seq": 1, "at": "2026-01-01T00:00:00Z", "type": "agent_message", "text": ""}),
        );
        assert_eq!(envelope.unwrap_err().to_string(), "missing field `task_id`");
    }
}
