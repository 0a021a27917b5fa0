//! Amp `--stream-json` and Claude Code `--output-format stream-json`: one parser, since Amp's
//! format is "Claude Code-compatible" (interfaces.md §1.3). The differences are small:
//! - **stderr**: Amp reports a missing/invalid key or an unreachable server only as text (no
//!   JSON; with no key it even waits forever for an interactive login), so those lines are Fatal.
//! - **replay**: on `threads continue`, Amp may replay earlier turns of the thread before the new
//!   one. With a follow-up message, the Amp parser holds back messages and tool calls until it
//!   sees the `user` event echoing that message (see [`ReplayGate`]).
//!
//!   Claude is *not* gated. The captured resume stream
//!   (`claude-stream-json-resume.jsonl`, `claude -p --resume`) neither replays the earlier turn
//!   (its tool-use and message ids are new) nor echoes the prompt as a `user` text event (Claude
//!   only does that with `--replay-user-messages`, which we do not pass). Gating Claude would
//!   therefore hold back the whole new turn until its `result`.
//!
//! Event mapping: `system/init` → Session; assistant `text` → Message, `tool_use` → ToolUse,
//! `thinking` → nothing; user `tool_result` → ToolResult, user text (our prompt echoed) →
//! nothing; `result` → Finished; `system/api_retry` with 401/403 → Fatal, other retries →
//! Notice; other `system` subtypes → nothing; any other line → Raw.

use super::{
    compact_json, parse_object, raw, shorten, str_field, u64_field, AgentOutput, FatalLatch,
    FinalResult, SessionTracker, StreamParser, MAX_FIELD_BYTES, MAX_MESSAGE_BYTES,
};
use app::model::TokenUsage;
use serde_json::{Map, Value};
use std::collections::VecDeque;

/// Which CLI produces the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    Amp,
    Claude,
}

impl Flavor {
    /// Where the API key comes from, for the "authentication failed" reason.
    fn key_hint(self) -> &'static str {
        match self {
            Flavor::Amp => "AMP_API_KEY",
            Flavor::Claude => "ANTHROPIC_API_KEY / CLAUDE_CODE_OAUTH_TOKEN",
        }
    }
}

/// Most events held back while waiting for the follow-up's echo (only the ones since the last
/// replayed user message are held, so this is one turn's worth); beyond it the oldest go.
const MAX_HELD_EVENTS: usize = 1000;

/// Separates Amp's replay of earlier turns from the new turn on `threads continue`.
///
/// While `Waiting`, messages and tool events are held back (Session, Fatal, Notice, Raw and
/// `result` pass). Each replayed user prompt discards what was held (it belonged to an earlier
/// turn); the echo of our follow-up discards it too and opens the gate. If `result` arrives
/// without the echo ever being seen (Amp did not echo, or altered the text), what was held since
/// the last user prompt is most likely the new turn, so it is released before `Finished`
/// rather than lost.
#[derive(Debug)]
enum ReplayGate {
    Open,
    Waiting {
        follow_up: String,
        held: VecDeque<AgentOutput>,
        dropped: usize,
    },
}

impl ReplayGate {
    fn new(follow_up: Option<&str>) -> Self {
        match follow_up.map(str::trim) {
            Some(msg) if !msg.is_empty() => ReplayGate::Waiting {
                follow_up: msg.to_string(),
                held: VecDeque::new(),
                dropped: 0,
            },
            _ => ReplayGate::Open,
        }
    }

    /// Passes `outputs` through, or holds them back while waiting for the echo.
    fn pass(&mut self, outputs: Vec<AgentOutput>) -> Vec<AgentOutput> {
        match self {
            ReplayGate::Open => outputs,
            ReplayGate::Waiting { held, dropped, .. } => {
                for output in outputs {
                    if held.len() == MAX_HELD_EVENTS {
                        held.pop_front();
                        *dropped += 1;
                    }
                    held.push_back(output);
                }
                Vec::new()
            }
        }
    }

    /// A user prompt was seen: either our follow-up's echo (open) or a replayed earlier prompt
    /// (what was held so far belongs to an earlier turn).
    fn user_prompt(&mut self, text: &str) {
        if let ReplayGate::Waiting {
            follow_up,
            held,
            dropped,
        } = self
        {
            if text.trim() == follow_up.as_str() {
                *self = ReplayGate::Open;
            } else {
                held.clear();
                *dropped = 0;
            }
        }
    }

    /// The turn's result arrived: release what is held (see the type's doc) and open.
    fn release(&mut self) -> Vec<AgentOutput> {
        match std::mem::replace(self, ReplayGate::Open) {
            ReplayGate::Open => Vec::new(),
            ReplayGate::Waiting { held, dropped, .. } => {
                let notice = (dropped > 0).then(|| AgentOutput::Notice {
                    message: format!("{dropped} earlier events of this turn were not kept"),
                });
                notice.into_iter().chain(held).collect()
            }
        }
    }
}

/// Parser for one turn of Amp or Claude Code stream-json output.
#[derive(Debug)]
pub(crate) struct StreamJsonParser {
    flavor: Flavor,
    gate: ReplayGate,
    fatal: FatalLatch,
    session: SessionTracker,
}

impl StreamJsonParser {
    /// `follow_up` only matters for Amp (see the module doc for why Claude is not gated).
    pub(crate) fn new(flavor: Flavor, follow_up: Option<&str>) -> Self {
        let gate = match flavor {
            Flavor::Amp => ReplayGate::new(follow_up),
            Flavor::Claude => ReplayGate::Open,
        };
        StreamJsonParser {
            flavor,
            gate,
            fatal: FatalLatch::default(),
            session: SessionTracker::default(),
        }
    }

    /// A line that is not a JSON object: Amp's fatal text messages, else a raw log line.
    fn text_line(&mut self, line: &str) -> Vec<AgentOutput> {
        match self.flavor {
            Flavor::Amp => match amp_fatal_reason(line) {
                Some(reason) => vec![self.fatal.raise(reason)],
                None => vec![raw(line)],
            },
            Flavor::Claude => match claude_fatal_reason(line) {
                Some(reason) => vec![self.fatal.raise(reason)],
                None => vec![raw(line)],
            },
        }
    }

    fn system(&mut self, event: &Map<String, Value>) -> Vec<AgentOutput> {
        match str_field(event, "subtype") {
            Some("init") => self
                .session
                .observe(str_field(event, "session_id"))
                .into_iter()
                .collect(),
            Some("api_retry") => vec![self.api_retry(event)],
            _ => Vec::new(),
        }
    }

    /// Claude retries a rejected key about ten times over minutes instead of failing: a 401/403
    /// retry is Fatal at once; other retries (overload, network) are worth a notice.
    fn api_retry(&mut self, event: &Map<String, Value>) -> AgentOutput {
        let status = event.get("error_status").and_then(Value::as_u64);
        let error = str_field(event, "error").unwrap_or("unknown error");
        if matches!(status, Some(401 | 403)) {
            let status = status.unwrap_or_default();
            return self.fatal.raise(format!(
                "authentication failed: the model API answered HTTP {status} ({error}); check the API key ({})",
                self.flavor.key_hint()
            ));
        }
        let status = status.map_or_else(|| "no HTTP status".to_string(), |s| format!("HTTP {s}"));
        AgentOutput::Notice {
            message: format!(
                "model API request failed ({status}, {error}); retry {}/{} in {} ms",
                u64_field(event, "attempt"),
                u64_field(event, "max_retries"),
                u64_field(event, "retry_delay_ms"),
            ),
        }
    }

    fn user(&mut self, event: &Map<String, Value>) -> Vec<AgentOutput> {
        let content = message_content(event);
        if let Some(prompt) = user_text(content) {
            self.gate.user_prompt(&prompt);
        }
        let results = blocks(content).filter_map(tool_result).collect();
        self.gate.pass(results)
    }

    fn assistant(&mut self, event: &Map<String, Value>) -> Vec<AgentOutput> {
        let outputs = match message_content(event) {
            Some(Value::String(text)) => message(text).into_iter().collect(),
            content => blocks(content).filter_map(assistant_block).collect(),
        };
        self.gate.pass(outputs)
    }

    fn result(&mut self, event: &Map<String, Value>) -> Vec<AgentOutput> {
        let mut outputs = self.gate.release();
        outputs.push(AgentOutput::Finished(final_result(event)));
        outputs
    }
}

impl StreamParser for StreamJsonParser {
    fn stdout_line(&mut self, line: &str) -> Vec<AgentOutput> {
        if line.trim().is_empty() {
            return Vec::new();
        }
        let Some(event) = parse_object(line) else {
            return self.text_line(line);
        };
        match str_field(&event, "type") {
            Some("system") => self.system(&event),
            Some("assistant") => self.assistant(&event),
            Some("user") => self.user(&event),
            Some("result") => self.result(&event),
            _ => vec![raw(line)],
        }
    }

    fn stderr_line(&mut self, line: &str) -> Vec<AgentOutput> {
        if line.trim().is_empty() {
            return Vec::new();
        }
        self.text_line(line)
    }
}

/// Amp's known unrecoverable text errors (interfaces.md §1.4): without a key it starts an
/// interactive login and hangs; a bad key or an unreachable server exits without JSON.
fn amp_fatal_reason(line: &str) -> Option<String> {
    let line = line.trim();
    if line.contains("No API key found") {
        Some("AMP_API_KEY is not set: Amp asked for an interactive login".to_string())
    } else if line.contains("Invalid or missing API key") {
        Some("authentication failed: Amp rejected the API key (check AMP_API_KEY)".to_string())
    } else if line.contains("Couldn't connect to the Amp server")
        || line.contains("Cannot reach Amp servers")
    {
        Some(shorten(
            format!("cannot reach the Amp server: {line}"),
            MAX_FIELD_BYTES,
        ))
    } else {
        None
    }
}

/// Claude Code's text errors that end the run with nothing else said (seen with the real CLI).
fn claude_fatal_reason(line: &str) -> Option<String> {
    line.contains("--dangerously-skip-permissions cannot be used with root").then(|| {
        "agent_failed: Claude Code refuses to skip permission prompts as root; run the agent as a \
         non-root user (the Docker runtime does) or set agent.env.IS_SANDBOX: \"1\""
            .to_string()
    })
}

/// `message.content` of a user/assistant event.
fn message_content(event: &Map<String, Value>) -> Option<&Value> {
    event.get("message")?.get("content")
}

/// The content blocks (objects) of a message; nothing when content is not an array.
fn blocks(content: Option<&Value>) -> impl Iterator<Item = &Map<String, Value>> {
    content
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

/// The text a user event carries (its prompt), if any: a plain string or the text blocks.
fn user_text(content: Option<&Value>) -> Option<String> {
    if let Some(Value::String(text)) = content {
        return Some(text.clone());
    }
    let texts: Vec<&str> = blocks(content)
        .filter(|b| str_field(b, "type") == Some("text"))
        .filter_map(|b| str_field(b, "text"))
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n"))
}

/// A non-empty message, shortened.
fn message(text: &str) -> Option<AgentOutput> {
    (!text.trim().is_empty()).then(|| AgentOutput::Message {
        text: shorten(text.to_string(), MAX_MESSAGE_BYTES),
    })
}

/// An assistant content block: text → Message, tool use → ToolUse; thinking and unknown blocks
/// are not shown.
fn assistant_block(block: &Map<String, Value>) -> Option<AgentOutput> {
    match str_field(block, "type")? {
        "text" => message(str_field(block, "text")?),
        // `server_tool_use`: tools the API runs itself (web search).
        "tool_use" | "server_tool_use" => Some(AgentOutput::ToolUse {
            tool_use_id: str_field(block, "id").map(String::from),
            name: str_field(block, "name").unwrap_or("tool").to_string(),
            input: block.get("input").map(compact_json).unwrap_or_default(),
        }),
        _ => None,
    }
}

/// A `tool_result` block of a user event → ToolResult.
fn tool_result(block: &Map<String, Value>) -> Option<AgentOutput> {
    if str_field(block, "type")? != "tool_result" {
        return None;
    }
    Some(AgentOutput::ToolResult {
        tool_use_id: str_field(block, "tool_use_id").map(String::from),
        output: shorten(tool_result_text(block.get("content")), MAX_FIELD_BYTES),
        is_error: block
            .get("is_error")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// A tool result's content: a string, or an array of blocks whose text parts are joined (other
/// blocks, e.g. images, are named by type).
fn tool_result_text(content: Option<&Value>) -> String {
    match content {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => text.clone(),
                Value::Object(block) => match str_field(block, "text") {
                    Some(text) => text.to_string(),
                    None => format!("[{}]", str_field(block, "type").unwrap_or("content")),
                },
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Some(other) => other.to_string(),
    }
}

/// The `result` event → FinalResult.
fn final_result(event: &Map<String, Value>) -> FinalResult {
    let is_error = event
        .get("is_error")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let subtype = str_field(event, "subtype");
    // A missing subtype is not held against the run; `is_error` decides then.
    let ok = !is_error && subtype.is_none_or(|s| s == "success");
    let summary = str_field(event, "result")
        .filter(|text| !text.trim().is_empty())
        .map(|text| shorten(text.to_string(), MAX_MESSAGE_BYTES));
    FinalResult {
        ok,
        error: (!ok).then(|| shorten(result_error(event, subtype), MAX_FIELD_BYTES)),
        summary,
        usage: event
            .get("usage")
            .and_then(Value::as_object)
            .map(token_usage),
        cost_usd: turn_cost(event),
        duration_ms: event.get("duration_ms").and_then(Value::as_u64),
        num_turns: event
            .get("num_turns")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok()),
    }
}

/// Why a result is not ok: the `error`/`errors` field, else a non-success subtype, else the
/// result text (Claude reports e.g. "Invalid API key" as an error result with subtype success).
fn result_error(event: &Map<String, Value>, subtype: Option<&str>) -> String {
    match event.get("error") {
        Some(Value::String(error)) if !error.trim().is_empty() => return error.clone(),
        Some(error @ Value::Object(_)) => return error.to_string(),
        _ => {}
    }
    if let Some(errors) = event.get("errors").and_then(Value::as_array) {
        let errors: Vec<String> = errors
            .iter()
            .map(|e| e.as_str().map_or_else(|| e.to_string(), String::from))
            .collect();
        if !errors.is_empty() {
            return errors.join("; ");
        }
    }
    match (subtype, str_field(event, "result")) {
        (Some(subtype), _) if subtype != "success" => subtype.to_string(),
        (_, Some(text)) if !text.trim().is_empty() => text.to_string(),
        _ => "the agent reported an error".to_string(),
    }
}

/// Anthropic usage fields → TokenUsage.
fn token_usage(usage: &Map<String, Value>) -> TokenUsage {
    TokenUsage {
        input_tokens: u64_field(usage, "input_tokens"),
        output_tokens: u64_field(usage, "output_tokens"),
        cache_read_tokens: u64_field(usage, "cache_read_input_tokens"),
        cache_write_tokens: u64_field(usage, "cache_creation_input_tokens"),
    }
}

/// The cost of this turn. Claude's `total_cost_usd` is the session's running total: after
/// `--resume` the captured stream reports 0.0032 for a turn that cost 0.0016, while its `usage`
/// is per turn. So prefer the per-turn `model_usage_since_last_result` costs, and fall back to
/// `total_cost_usd` (first turns, Amp, older versions) when that is absent.
fn turn_cost(event: &Map<String, Value>) -> Option<f64> {
    let since_last = event
        .get("model_usage_since_last_result")
        .and_then(Value::as_object)
        .map(|models| {
            models
                .values()
                .filter_map(|m| m.get("costUSD").and_then(Value::as_f64))
                .collect::<Vec<_>>()
        })
        .filter(|costs| !costs.is_empty());
    match since_last {
        Some(costs) => Some(costs.iter().sum()),
        None => event.get("total_cost_usd").and_then(Value::as_f64),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::parse_stdout;
    use super::*;
    use crate::agent::MAX_FIELD_BYTES;

    const CLAUDE_TOOLRUN: &str =
        include_str!("../../tests/fixtures/agent-streams/claude-stream-json-toolrun.jsonl");
    const CLAUDE_RESUME: &str =
        include_str!("../../tests/fixtures/agent-streams/claude-stream-json-resume.jsonl");
    const CLAUDE_401: &str =
        include_str!("../../tests/fixtures/agent-streams/claude-stream-json-401-retries.jsonl");
    // There is no live Amp capture (ampcode.com is unreachable from the research machine): these
    // two Amp fixtures are constructed by hand from the documented schema (interfaces.md §1.3:
    // ampcode.com/news/streaming-json and the `@sourcegraph/amp-sdk` types). The continue
    // fixture assumes the replay shape described there; it has not been observed.
    const AMP_TOOLRUN: &str =
        include_str!("../../tests/fixtures/agent-streams/amp-stream-json-toolrun.jsonl");
    const AMP_CONTINUE: &str =
        include_str!("../../tests/fixtures/agent-streams/amp-stream-json-continue-replay.jsonl");
    /// The follow-up message of the Amp continue fixture (line 6), with stray whitespace as a
    /// caller might send it.
    const AMP_FOLLOW_UP: &str =
        "CI failed: test_hello expects hello.txt to contain \"hello world\". Please fix it.\n";

    fn claude(follow_up: Option<&str>) -> StreamJsonParser {
        StreamJsonParser::new(Flavor::Claude, follow_up)
    }

    fn amp(follow_up: Option<&str>) -> StreamJsonParser {
        StreamJsonParser::new(Flavor::Amp, follow_up)
    }

    fn finished(outputs: &[AgentOutput]) -> &FinalResult {
        match outputs.last() {
            Some(AgentOutput::Finished(result)) => result,
            other => panic!("expected Finished last, got {other:?}"),
        }
    }

    fn session(id: &str) -> AgentOutput {
        AgentOutput::Session {
            session_id: id.into(),
        }
    }

    fn message_out(text: &str) -> AgentOutput {
        AgentOutput::Message { text: text.into() }
    }

    #[test]
    fn claude_toolrun_fixture() {
        let outputs = parse_stdout(&mut claude(None), CLAUDE_TOOLRUN);
        assert_eq!(outputs.len(), 5, "{outputs:#?}");
        assert_eq!(outputs[0], session("06f801c4-63d1-4cc3-9ed8-15f8651b3463"));
        assert_eq!(
            outputs[1],
            AgentOutput::ToolUse {
                tool_use_id: Some("toolu_96bc2f89b16d4560be79".into()),
                name: "Bash".into(),
                input: r#"{"command":"echo hello > hello.txt && cat hello.txt","description":"write file"}"#
                    .into(),
            }
        );
        assert_eq!(
            outputs[2],
            AgentOutput::ToolResult {
                tool_use_id: Some("toolu_96bc2f89b16d4560be79".into()),
                output: "hello".into(),
                is_error: false,
            }
        );
        assert_eq!(outputs[3], message_out("Done: created hello.txt"));
        assert_eq!(
            *finished(&outputs),
            FinalResult {
                ok: true,
                summary: Some("Done: created hello.txt".into()),
                error: None,
                usage: Some(TokenUsage {
                    input_tokens: 200,
                    output_tokens: 40,
                    cache_read_tokens: 0,
                    cache_write_tokens: 0,
                }),
                cost_usd: Some(0.0016),
                duration_ms: Some(357),
                num_turns: Some(2),
            }
        );
    }

    /// Claude's resume stream neither replays nor echoes the prompt, so even with a follow-up
    /// message every event of the new turn must come through (the parser is not gated).
    #[test]
    fn claude_resume_fixture_emits_the_new_turn_with_the_same_session() {
        let outputs = parse_stdout(
            &mut claude(Some("CI failed: please fix the tests")),
            CLAUDE_RESUME,
        );
        assert_eq!(outputs[0], session("06f801c4-63d1-4cc3-9ed8-15f8651b3463"));
        assert!(outputs.contains(&AgentOutput::ToolUse {
            tool_use_id: Some("toolu_32b5e8e59d1f4b7a82c2".into()),
            name: "Bash".into(),
            input: r#"{"command":"echo hello > hello.txt && cat hello.txt","description":"write file"}"#
                .into(),
        }));
        assert!(outputs.iter().any(|o| matches!(o,
            AgentOutput::ToolResult { tool_use_id: Some(id), output, is_error: false }
                if id == "toolu_32b5e8e59d1f4b7a82c2" && output == "hello")));
        assert!(outputs.contains(&message_out("Done: created hello.txt")));
        let result = finished(&outputs);
        assert!(result.ok);
        assert_eq!(result.duration_ms, Some(360));
        // Per-turn cost, not the session's running total_cost_usd (0.0032).
        assert_eq!(result.cost_usd, Some(0.0016));
        assert_eq!(result.usage.map(|u| u.input_tokens), Some(200));
    }

    #[test]
    fn claude_401_retries_are_fatal_at_the_first_retry() {
        let mut parser = claude(None);
        let mut lines = CLAUDE_401.lines();
        let init = parser.stdout_line(lines.next().expect("init line"));
        assert_eq!(init, vec![session("11111111-2222-4333-8444-555555555555")]);
        let first_retry = parser.stdout_line(lines.next().expect("first api_retry"));
        match first_retry.as_slice() {
            [AgentOutput::Fatal { reason }] => {
                assert!(reason.contains("authentication failed"), "{reason}");
                assert!(reason.contains("401"), "{reason}");
                assert!(reason.contains("API key"), "{reason}");
            }
            other => panic!("expected one Fatal, got {other:?}"),
        }
        // The same failure repeating is no second Fatal.
        let rest: Vec<_> = lines.flat_map(|l| parser.stdout_line(l)).collect();
        assert_eq!(rest.len(), 8);
        assert!(rest.iter().all(|o| matches!(o, AgentOutput::Notice { .. })));
    }

    #[test]
    fn other_api_retries_are_notices() {
        let line = r#"{"type":"system","subtype":"api_retry","attempt":2,"max_retries":10,"retry_delay_ms":1200,"error_status":529,"error":"overloaded_error","session_id":"s"}"#;
        assert_eq!(
            claude(None).stdout_line(line),
            vec![AgentOutput::Notice {
                message:
                    "model API request failed (HTTP 529, overloaded_error); retry 2/10 in 1200 ms"
                        .into()
            }]
        );
        let forbidden = line.replace("529", "403");
        assert!(matches!(
            amp(None).stdout_line(&forbidden).as_slice(),
            [AgentOutput::Fatal { reason }] if reason.contains("AMP_API_KEY")
        ));
    }

    #[test]
    fn other_system_subtypes_and_thinking_produce_nothing_unknown_types_are_raw() {
        let mut parser = claude(None);
        assert!(parser
            .stdout_line(r#"{"type":"system","subtype":"compact_boundary"}"#)
            .is_empty());
        assert!(parser
            .stdout_line(r#"{"type":"assistant","message":{"content":[{"type":"thinking","thinking":"hmm"},{"type":"text","text":"  "}]}}"#)
            .is_empty());
        let unknown = r#"{"type":"rate_limit_event","info":{}}"#;
        assert_eq!(
            parser.stdout_line(unknown),
            vec![AgentOutput::Raw {
                line: unknown.into()
            }]
        );
    }

    #[test]
    fn amp_toolrun_fixture() {
        let outputs = parse_stdout(&mut amp(None), AMP_TOOLRUN);
        assert_eq!(
            outputs[..5],
            [
                session("T-019c479a-39cc-72af-a2d1-65a965c076ec"),
                message_out("I'll create the file and show it."),
                AgentOutput::ToolUse {
                    tool_use_id: Some("toolu_01AmpBashHello".into()),
                    name: "Bash".into(),
                    input: r#"{"cmd":"echo hello > hello.txt && cat hello.txt"}"#.into(),
                },
                AgentOutput::ToolResult {
                    tool_use_id: Some("toolu_01AmpBashHello".into()),
                    output: "hello".into(),
                    is_error: false,
                },
                message_out("Done: created hello.txt"),
            ]
        );
        assert_eq!(outputs.len(), 6);
        let result = finished(&outputs);
        assert!(result.ok);
        assert_eq!(result.summary.as_deref(), Some("Done: created hello.txt"));
        assert_eq!(
            result.usage,
            Some(TokenUsage {
                input_tokens: 240,
                output_tokens: 52,
                cache_read_tokens: 1800,
                cache_write_tokens: 310,
            })
        );
        assert_eq!(result.cost_usd, None);
        assert_eq!(result.duration_ms, Some(2906));
        assert_eq!(result.num_turns, Some(2));
    }

    #[test]
    fn amp_continue_suppresses_the_replay_until_the_follow_up_echo() {
        let outputs = parse_stdout(&mut amp(Some(AMP_FOLLOW_UP)), AMP_CONTINUE);
        assert_eq!(
            outputs[..4],
            [
                session("T-019c479a-39cc-72af-a2d1-65a965c076ec"),
                AgentOutput::ToolUse {
                    tool_use_id: Some("toolu_02AmpFixHello".into()),
                    name: "Bash".into(),
                    input: r#"{"cmd":"printf 'hello world\\n' > hello.txt && cat hello.txt"}"#
                        .into(),
                },
                AgentOutput::ToolResult {
                    tool_use_id: Some("toolu_02AmpFixHello".into()),
                    output: "hello world".into(),
                    is_error: false,
                },
                message_out("Fixed: hello.txt now contains hello world."),
            ]
        );
        assert_eq!(outputs.len(), 5, "{outputs:#?}");
        let result = finished(&outputs);
        assert!(result.ok);
        assert_eq!(result.usage, None);
        // Nothing of the replayed first turn leaks through.
        assert!(!outputs
            .iter()
            .any(|o| format!("{o:?}").contains("toolu_01AmpBashHello")));
    }

    #[test]
    fn amp_continue_without_follow_up_shows_everything() {
        let outputs = parse_stdout(&mut amp(None), AMP_CONTINUE);
        assert!(outputs
            .iter()
            .any(|o| format!("{o:?}").contains("toolu_01AmpBashHello")));
        assert!(outputs
            .iter()
            .any(|o| format!("{o:?}").contains("toolu_02AmpFixHello")));
    }

    /// If Amp never echoes the follow-up (or alters it), the events since the last replayed
    /// prompt are released before `Finished` instead of being lost.
    #[test]
    fn amp_follow_up_never_echoed_releases_the_last_turn_at_result() {
        let outputs = parse_stdout(&mut amp(Some("a message Amp never echoed")), AMP_CONTINUE);
        let texts: Vec<String> = outputs.iter().map(|o| format!("{o:?}")).collect();
        assert!(
            texts.iter().all(|t| !t.contains("toolu_01AmpBashHello")),
            "{texts:#?}"
        );
        assert!(outputs.contains(&message_out("Fixed: hello.txt now contains hello world.")));
        assert!(finished(&outputs).ok);
    }

    #[test]
    fn amp_replay_still_reports_fatal() {
        let mut parser = amp(Some("follow up"));
        assert!(matches!(
            parser
                .stderr_line("Error: Invalid or missing API key. Run 'amp login' to authenticate.")
                .as_slice(),
            [AgentOutput::Fatal { .. }]
        ));
    }

    #[test]
    fn amp_stderr_fatal_messages() {
        let cases = [
            (
                "No API key found. Starting login flow...",
                "AMP_API_KEY is not set: Amp asked for an interactive login",
            ),
            (
                "Error: Invalid or missing API key. Run 'amp login' to authenticate.",
                "Amp rejected the API key",
            ),
            (
                "Error: Couldn't connect to the Amp server at http://127.0.0.1:9",
                "cannot reach the Amp server",
            ),
            (
                "Error: Cannot reach Amp servers. Are you offline?",
                "cannot reach the Amp server",
            ),
        ];
        for (line, expected) in cases {
            match amp(None).stderr_line(line).as_slice() {
                [AgentOutput::Fatal { reason }] => {
                    assert!(reason.contains(expected), "{line}: {reason}")
                }
                other => panic!("{line}: expected Fatal, got {other:?}"),
            }
        }
        let mut parser = amp(None);
        assert_eq!(
            parser.stderr_line("some log line"),
            vec![AgentOutput::Raw {
                line: "some log line".into()
            }]
        );
        // Claude's stderr has no such patterns.
        assert!(matches!(
            claude(None).stderr_line("No API key found").as_slice(),
            [AgentOutput::Raw { .. }]
        ));
    }

    #[test]
    fn claude_as_root_fails_with_what_to_do() {
        // Verbatim from the real CLI 2.1.330 run as root without IS_SANDBOX.
        let line = "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons";
        match claude(None).stderr_line(line).as_slice() {
            [AgentOutput::Fatal { reason }] => {
                assert!(reason.contains("IS_SANDBOX"), "{reason}");
                assert!(reason.contains("non-root"), "{reason}");
            }
            other => panic!("expected Fatal, got {other:?}"),
        }
    }

    #[test]
    fn error_results_are_not_ok() {
        let line = r#"{"type":"result","subtype":"error_max_turns","is_error":true,"error":"Reached the maximum number of turns","duration_ms":10,"num_turns":30,"session_id":"T-1"}"#;
        let result = finished(&amp(None).stdout_line(line)).clone();
        assert!(!result.ok);
        assert_eq!(
            result.error.as_deref(),
            Some("Reached the maximum number of turns")
        );
        assert_eq!(result.num_turns, Some(30));

        let line = r#"{"type":"result","subtype":"error_during_execution","is_error":true}"#;
        let result = finished(&claude(None).stdout_line(line)).clone();
        assert_eq!(result.error.as_deref(), Some("error_during_execution"));

        let line = r#"{"type":"result","subtype":"success","is_error":true,"result":"Invalid API key · Please run /login"}"#;
        let result = finished(&claude(None).stdout_line(line)).clone();
        assert!(!result.ok);
        assert_eq!(
            result.error.as_deref(),
            Some("Invalid API key · Please run /login")
        );
    }

    #[test]
    fn tool_result_array_content_and_errors() {
        let line = r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"line 1"},{"type":"image"},{"type":"text","text":"line 2"}],"is_error":true}]}}"#;
        assert_eq!(
            claude(None).stdout_line(line),
            vec![AgentOutput::ToolResult {
                tool_use_id: Some("t1".into()),
                output: "line 1\n[image]\nline 2".into(),
                is_error: true,
            }]
        );
    }

    #[test]
    fn long_tool_output_and_input_are_cut_with_a_marker() {
        let big = "x".repeat(10_000);
        let result = serde_json::json!({"type":"user","message":{"content":[
            {"type":"tool_result","tool_use_id":"t","content": big}]}});
        let outputs = claude(None).stdout_line(&result.to_string());
        let [AgentOutput::ToolResult { output, .. }] = outputs.as_slice() else {
            panic!("expected a ToolResult: {outputs:?}");
        };
        let expected_marker = format!(" … [cut {} bytes]", 10_000 - MAX_FIELD_BYTES);
        assert!(
            output.ends_with(&expected_marker),
            "{}",
            &output[MAX_FIELD_BYTES..]
        );
        assert_eq!(output.len(), MAX_FIELD_BYTES + expected_marker.len());

        let call = serde_json::json!({"type":"assistant","message":{"content":[
            {"type":"tool_use","id":"t","name":"Write","input":{"content": big}}]}});
        let outputs = claude(None).stdout_line(&call.to_string());
        let [AgentOutput::ToolUse { input, .. }] = outputs.as_slice() else {
            panic!("expected a ToolUse: {outputs:?}");
        };
        assert!(input.starts_with(r#"{"content":"xxx"#));
        assert!(input.contains(" … [cut "));
    }

    #[test]
    fn user_prompt_echo_is_not_shown() {
        let line = r#"{"type":"user","message":{"role":"user","content":[{"type":"text","text":"do it"}]}}"#;
        assert!(claude(None).stdout_line(line).is_empty());
        assert!(amp(None).stdout_line(line).is_empty());
    }
}
