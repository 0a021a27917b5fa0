//! Codex `exec --json` (interfaces.md §2.2; captured streams in the fixtures).
//!
//! Event mapping: `thread.started` → Session; `item.started` command → ToolUse, its
//! `item.completed` → ToolResult; `agent_message` → Message (the last one is the turn's summary);
//! `reasoning` → nothing; `file_change` → ToolUse of its changes; `error` items (warnings such
//! as missing model metadata) → Notice; other items (MCP calls, web search, todo lists) →
//! ToolUse of the whole item when completed; `turn.completed` / `turn.failed` → Finished.
//!
//! Top-level `error` events are Codex's retry reports: a 401/403 is Fatal at once (Codex would
//! retry five times and fail anyway), and "Reconnecting..." without network repeats forever, so
//! the third one in a turn is Fatal.

use super::{
    compact_json, parse_object, raw, shorten, str_field, u64_field, AgentOutput, FatalLatch,
    FinalResult, SessionTracker, StreamParser, MAX_FIELD_BYTES, MAX_MESSAGE_BYTES,
};
use app::model::TokenUsage;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// The reconnect notice that makes an unreachable model API fatal.
const FATAL_RECONNECTS: u32 = 3;

/// Parser for one turn of `codex exec --json` output.
#[derive(Debug, Default)]
pub(crate) struct CodexParser {
    session: SessionTracker,
    fatal: FatalLatch,
    /// "Reconnecting..." notices seen in this turn.
    reconnects: u32,
    /// The latest agent message: Codex has no final text of its own, this is the summary.
    last_message: Option<String>,
    /// Commands already reported as ToolUse by `item.started`.
    started: HashSet<String>,
}

impl CodexParser {
    pub(crate) fn new() -> Self {
        CodexParser::default()
    }

    fn item_started(&mut self, item: &Map<String, Value>) -> Vec<AgentOutput> {
        if str_field(item, "type") != Some("command_execution") {
            // Other items are reported once complete, with all their fields.
            return Vec::new();
        }
        if let Some(id) = str_field(item, "id") {
            self.started.insert(id.to_string());
        }
        vec![command_use(item)]
    }

    fn item_completed(&mut self, item: &Map<String, Value>, line: &str) -> Vec<AgentOutput> {
        let tool_use_id = str_field(item, "id").map(String::from);
        match str_field(item, "type") {
            Some("command_execution") => {
                let mut outputs = Vec::new();
                // A command that never had an `item.started` still shows what ran.
                if !tool_use_id
                    .as_ref()
                    .is_some_and(|id| self.started.contains(id))
                {
                    outputs.push(command_use(item));
                }
                outputs.push(AgentOutput::ToolResult {
                    tool_use_id,
                    output: shorten(
                        str_field(item, "aggregated_output")
                            .unwrap_or_default()
                            .to_string(),
                        MAX_FIELD_BYTES,
                    ),
                    is_error: command_failed(item),
                });
                outputs
            }
            Some("agent_message") => self.agent_message(str_field(item, "text").unwrap_or("")),
            Some("reasoning") => Vec::new(),
            Some("file_change") => vec![AgentOutput::ToolUse {
                tool_use_id,
                name: "file_change".to_string(),
                input: item.get("changes").map(compact_json).unwrap_or_default(),
            }],
            Some("error") => vec![AgentOutput::Notice {
                message: shorten(
                    str_field(item, "message").unwrap_or("error").to_string(),
                    MAX_FIELD_BYTES,
                ),
            }],
            Some(other) => vec![AgentOutput::ToolUse {
                tool_use_id,
                name: other.to_string(),
                input: compact_json(&Value::Object(item.clone())),
            }],
            None => vec![raw(line)],
        }
    }

    fn agent_message(&mut self, text: &str) -> Vec<AgentOutput> {
        if text.trim().is_empty() {
            return Vec::new();
        }
        let text = shorten(text.to_string(), MAX_MESSAGE_BYTES);
        self.last_message = Some(text.clone());
        vec![AgentOutput::Message { text }]
    }

    fn turn_completed(&mut self, event: &Map<String, Value>) -> AgentOutput {
        AgentOutput::Finished(FinalResult {
            ok: true,
            summary: self.last_message.clone(),
            usage: event
                .get("usage")
                .and_then(Value::as_object)
                .map(token_usage),
            ..FinalResult::default()
        })
    }

    fn turn_failed(&mut self, event: &Map<String, Value>) -> AgentOutput {
        let error = event
            .get("error")
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("the turn failed");
        AgentOutput::Finished(FinalResult {
            ok: false,
            summary: self.last_message.clone(),
            error: Some(shorten(error.to_string(), MAX_FIELD_BYTES)),
            ..FinalResult::default()
        })
    }

    /// A top-level `error` event: an auth failure or endless reconnects are Fatal, the rest a
    /// Notice.
    fn error_event(&mut self, message: &str) -> AgentOutput {
        let message = shorten(message.to_string(), MAX_FIELD_BYTES);
        if is_auth_failure(&message) {
            return self.fatal.raise(shorten(
                format!("authentication failed: the model API rejected the API key (check CODEX_API_KEY / OPENAI_API_KEY): {message}"),
                MAX_FIELD_BYTES,
            ));
        }
        if message.contains("Reconnecting...") {
            self.reconnects += 1;
            if self.reconnects >= FATAL_RECONNECTS {
                return self
                    .fatal
                    .raise("cannot reach the model API (Codex keeps reconnecting)".to_string());
            }
        }
        AgentOutput::Notice { message }
    }
}

impl StreamParser for CodexParser {
    fn stdout_line(&mut self, line: &str) -> Vec<AgentOutput> {
        if line.trim().is_empty() {
            return Vec::new();
        }
        let Some(event) = parse_object(line) else {
            return vec![raw(line)];
        };
        let item = event.get("item").and_then(Value::as_object);
        match (str_field(&event, "type"), item) {
            (Some("thread.started"), _) => self
                .session
                .observe(str_field(&event, "thread_id"))
                .into_iter()
                .collect(),
            (Some("turn.started" | "item.updated"), _) => Vec::new(),
            (Some("item.started"), Some(item)) => self.item_started(item),
            (Some("item.completed"), Some(item)) => self.item_completed(item, line),
            (Some("turn.completed"), _) => vec![self.turn_completed(&event)],
            (Some("turn.failed"), _) => vec![self.turn_failed(&event)],
            (Some("error"), _) => {
                vec![self.error_event(str_field(&event, "message").unwrap_or("error"))]
            }
            _ => vec![raw(line)],
        }
    }

    fn stderr_line(&mut self, line: &str) -> Vec<AgentOutput> {
        // Codex always announces reading the prompt from stdin; not worth a log line.
        if line.trim().is_empty() || line.contains("Reading additional input from stdin") {
            return Vec::new();
        }
        vec![raw(line)]
    }
}

/// A command item → ToolUse named `shell` with the command line as input.
fn command_use(item: &Map<String, Value>) -> AgentOutput {
    AgentOutput::ToolUse {
        tool_use_id: str_field(item, "id").map(String::from),
        name: "shell".to_string(),
        input: shorten(
            str_field(item, "command").unwrap_or_default().to_string(),
            MAX_FIELD_BYTES,
        ),
    }
}

/// A completed command failed if it exited non-zero, or has no exit code and did not complete
/// (declined, failed to start).
fn command_failed(item: &Map<String, Value>) -> bool {
    match item.get("exit_code").and_then(Value::as_i64) {
        Some(code) => code != 0,
        None => str_field(item, "status") != Some("completed"),
    }
}

/// Codex usage → TokenUsage. Note: OpenAI's `input_tokens` includes the cached ones.
fn token_usage(usage: &Map<String, Value>) -> TokenUsage {
    TokenUsage {
        input_tokens: u64_field(usage, "input_tokens"),
        output_tokens: u64_field(usage, "output_tokens"),
        cache_read_tokens: u64_field(usage, "cached_input_tokens"),
        cache_write_tokens: u64_field(usage, "cache_write_input_tokens"),
    }
}

/// Whether an error message reports HTTP 401/403. The status must stand alone as a number (a
/// URL port such as `:14011` must not match).
fn is_auth_failure(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("unauthorized")
        || lower.contains("forbidden")
        || has_status(message, "401")
        || has_status(message, "403")
}

/// `code` occurs with no digit on either side and not right after `:` (a port) or `.`.
fn has_status(message: &str, code: &str) -> bool {
    let bytes = message.as_bytes();
    message.match_indices(code).any(|(start, _)| {
        let end = start + code.len();
        let before_ok = start == 0 || !matches!(bytes[start - 1], b'0'..=b'9' | b':' | b'.');
        let after_ok = end == bytes.len() || !bytes[end].is_ascii_digit();
        before_ok && after_ok
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::parse_stdout;
    use super::*;

    const TOOLRUN: &str =
        include_str!("../../tests/fixtures/agent-streams/codex-exec-json-toolrun.jsonl");
    const RESUME: &str =
        include_str!("../../tests/fixtures/agent-streams/codex-exec-json-resume.jsonl");
    const UNAUTHORIZED: &str =
        include_str!("../../tests/fixtures/agent-streams/codex-exec-json-401.jsonl");
    const METADATA_WARNING: &str = "Model metadata for `gpt-fake` not found. Defaulting to fallback metadata; this can degrade performance and cause issues.";

    #[test]
    fn codex_toolrun_fixture() {
        let outputs = parse_stdout(&mut CodexParser::new(), TOOLRUN);
        let command = "/bin/bash -lc 'echo hello > hello.txt && cat hello.txt'";
        assert_eq!(
            outputs,
            vec![
                AgentOutput::Session {
                    session_id: "01a1fdcb-ff50-7d22-bab8-2f85df44d47d".into()
                },
                AgentOutput::Notice {
                    message: METADATA_WARNING.into()
                },
                AgentOutput::ToolUse {
                    tool_use_id: Some("item_1".into()),
                    name: "shell".into(),
                    input: command.into(),
                },
                AgentOutput::ToolResult {
                    tool_use_id: Some("item_1".into()),
                    output: "hello\n".into(),
                    is_error: false,
                },
                AgentOutput::Message {
                    text: "Done: created hello.txt".into()
                },
                AgentOutput::Finished(FinalResult {
                    ok: true,
                    summary: Some("Done: created hello.txt".into()),
                    usage: Some(TokenUsage {
                        input_tokens: 200,
                        output_tokens: 40,
                        cache_read_tokens: 0,
                        cache_write_tokens: 0,
                    }),
                    ..FinalResult::default()
                }),
            ]
        );
    }

    #[test]
    fn codex_resume_fixture_keeps_the_thread_id() {
        let outputs = parse_stdout(&mut CodexParser::new(), RESUME);
        assert_eq!(
            outputs[0],
            AgentOutput::Session {
                session_id: "01a1fdcb-ff50-7d22-bab8-2f85df44d47d".into()
            }
        );
        assert!(outputs.contains(&AgentOutput::Message {
            text: "Done: created hello.txt".into()
        }));
        match outputs.last() {
            Some(AgentOutput::Finished(result)) => {
                assert!(result.ok);
                assert_eq!(result.summary.as_deref(), Some("Done: created hello.txt"));
                assert_eq!(result.usage.map(|u| u.input_tokens), Some(300));
                assert_eq!(result.usage.map(|u| u.output_tokens), Some(60));
            }
            other => panic!("expected Finished, got {other:?}"),
        }
    }

    #[test]
    fn codex_401_is_fatal_at_the_first_reconnect() {
        let mut parser = CodexParser::new();
        let mut outputs = Vec::new();
        let mut fatal_at = None;
        for (n, line) in UNAUTHORIZED.lines().enumerate() {
            let out = parser.stdout_line(line);
            if fatal_at.is_none() && out.iter().any(|o| matches!(o, AgentOutput::Fatal { .. })) {
                fatal_at = Some(n);
            }
            outputs.extend(out);
        }
        assert_eq!(
            fatal_at,
            Some(3),
            "the first `Reconnecting... 1/5 (… 401 …)` line"
        );
        let fatals: Vec<_> = outputs
            .iter()
            .filter_map(|o| match o {
                AgentOutput::Fatal { reason } => Some(reason),
                _ => None,
            })
            .collect();
        assert_eq!(fatals.len(), 1);
        assert!(
            fatals[0].starts_with("authentication failed"),
            "{}",
            fatals[0]
        );
        match outputs.last() {
            Some(AgentOutput::Finished(result)) => {
                assert!(!result.ok);
                assert!(result
                    .error
                    .as_deref()
                    .is_some_and(|e| e.contains("401 Unauthorized")));
            }
            other => panic!("expected Finished, got {other:?}"),
        }
    }

    #[test]
    fn third_reconnect_without_auth_failure_is_fatal() {
        let mut parser = CodexParser::new();
        let line = r#"{"type":"error","message":"Reconnecting... waiting for network"}"#;
        assert!(matches!(
            parser.stdout_line(line).as_slice(),
            [AgentOutput::Notice { .. }]
        ));
        assert!(matches!(
            parser.stdout_line(line).as_slice(),
            [AgentOutput::Notice { .. }]
        ));
        assert_eq!(
            parser.stdout_line(line),
            vec![AgentOutput::Fatal {
                reason: "cannot reach the model API (Codex keeps reconnecting)".into()
            }]
        );
        // Already fatal: further reconnects are notices.
        assert!(matches!(
            parser.stdout_line(line).as_slice(),
            [AgentOutput::Notice { .. }]
        ));
        let other = r#"{"type":"error","message":"stream disconnected before completion"}"#;
        assert!(matches!(
            CodexParser::new().stdout_line(other).as_slice(),
            [AgentOutput::Notice { message }] if message == "stream disconnected before completion"
        ));
    }

    #[test]
    fn auth_status_detection_ignores_ports_and_other_numbers() {
        assert!(is_auth_failure("unexpected status 401 Unauthorized"));
        assert!(is_auth_failure("unexpected status 403"));
        assert!(is_auth_failure("HTTP 403 Forbidden"));
        assert!(!is_auth_failure(
            "Reconnecting... 1/5 (url: http://127.0.0.1:4011/v1)"
        ));
        assert!(!is_auth_failure("took 14010 ms"));
        assert!(!is_auth_failure("status 500 Internal Server Error"));
    }

    #[test]
    fn other_items_file_changes_and_reasoning() {
        let mut parser = CodexParser::new();
        assert!(parser
            .stdout_line(r#"{"type":"item.completed","item":{"id":"item_3","type":"reasoning","text":"thinking"}}"#)
            .is_empty());
        assert_eq!(
            parser.stdout_line(r#"{"type":"item.completed","item":{"id":"item_4","type":"file_change","changes":[{"kind":"add","path":"a.txt"}],"status":"completed"}}"#),
            vec![AgentOutput::ToolUse {
                tool_use_id: Some("item_4".into()),
                name: "file_change".into(),
                input: r#"[{"kind":"add","path":"a.txt"}]"#.into(),
            }]
        );
        let outputs = parser.stdout_line(r#"{"type":"item.completed","item":{"id":"item_5","type":"web_search","query":"rust"}}"#);
        assert!(matches!(outputs.as_slice(),
            [AgentOutput::ToolUse { name, input, .. }] if name == "web_search" && input.contains(r#""query":"rust""#)));
        // Started non-command items wait for completion; updates are ignored.
        assert!(parser
            .stdout_line(r#"{"type":"item.started","item":{"id":"item_6","type":"mcp_tool_call"}}"#)
            .is_empty());
        assert!(parser
            .stdout_line(r#"{"type":"item.updated","item":{"id":"item_7","type":"todo_list"}}"#)
            .is_empty());
    }

    #[test]
    fn command_completed_without_start_and_failing_commands() {
        let mut parser = CodexParser::new();
        let outputs = parser.stdout_line(r#"{"type":"item.completed","item":{"id":"item_9","type":"command_execution","command":"false","aggregated_output":"","exit_code":1,"status":"failed"}}"#);
        assert_eq!(
            outputs,
            vec![
                AgentOutput::ToolUse {
                    tool_use_id: Some("item_9".into()),
                    name: "shell".into(),
                    input: "false".into(),
                },
                AgentOutput::ToolResult {
                    tool_use_id: Some("item_9".into()),
                    output: String::new(),
                    is_error: true,
                },
            ]
        );
    }

    #[test]
    fn long_command_output_is_cut_with_a_marker() {
        let big = "y".repeat(MAX_FIELD_BYTES + 100);
        let line = serde_json::json!({"type":"item.completed","item":{"id":"i","type":"command_execution",
            "command":"cat big","aggregated_output": big,"exit_code":0,"status":"completed"}});
        let outputs = CodexParser::new().stdout_line(&line.to_string());
        assert!(matches!(outputs.last(),
            Some(AgentOutput::ToolResult { output, .. }) if output.ends_with(" … [cut 100 bytes]")));
    }

    #[test]
    fn stderr_stdin_notice_is_dropped_other_lines_are_raw() {
        let mut parser = CodexParser::new();
        assert!(parser
            .stderr_line("Reading additional input from stdin...")
            .is_empty());
        assert_eq!(
            parser.stderr_line("WARN something"),
            vec![AgentOutput::Raw {
                line: "WARN something".into()
            }]
        );
        let unknown = r#"{"type":"session.configured"}"#;
        assert_eq!(
            parser.stdout_line(unknown),
            vec![AgentOutput::Raw {
                line: unknown.into()
            }]
        );
    }
}
