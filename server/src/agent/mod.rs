//! Agent CLI adapters (Amp, Claude Code, Codex, any command): argv and stream parsing.
//!
//! Pure code, no I/O. The runtime that execs an agent in a container does:
//! 1. [`Agent::new`] from the `agent` config section, then [`Agent::argv`] / [`Agent::env`] for
//!    the exec (the prompt always goes on **stdin**, which is then closed);
//! 2. one [`LineBuffer`] per stream turns Docker's byte chunks into lines;
//! 3. a fresh [`StreamParser`] per turn ([`Agent::parser`]) turns each line into
//!    [`AgentOutput`]s: the session id to continue later, messages, tool calls, the final result,
//!    and [`AgentOutput::Fatal`] for failures that waiting will never fix (the CLIs retry a bad
//!    API key for minutes or wait forever for a login), so the turn can end at once.
//!
//! Facts about the CLIs (flags, event schemas, failure modes) come from
//! `shared/research/interfaces.md` §1–2 and from streams captured from the real Claude Code and
//! Codex CLIs (`server/tests/fixtures/agent-streams/`).

mod amp_claude;
mod codex;
mod command;
mod lines;

pub use lines::LineBuffer;

use crate::config::{AgentConfig, AgentKind};
use app::model::TokenUsage;
use serde_json::{Map, Value};

/// Cap on a tool call's input and a tool's output (and notices, errors): enough to see what
/// happened, small enough that a `cat` of a large file does not flood the event log.
pub const MAX_FIELD_BYTES: usize = 4096;
/// Cap on an agent message, the final summary and a raw log line.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;
/// Suggested [`LineBuffer`] limit for agent stdout: large enough that a JSON event carrying a big
/// tool result (Claude includes whole diffs) still parses, bounded so one line cannot exhaust
/// memory. Fields are shortened after parsing.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1024 * 1024;

/// One structured thing an agent said or did, parsed from a line of its output.
#[derive(Clone, Debug, PartialEq)]
pub enum AgentOutput {
    /// The conversation id to continue later (Amp `T-…` thread, Claude session, Codex thread).
    Session {
        session_id: String,
    },
    Message {
        text: String,
    },
    /// `input`: compact JSON text (or the command string), shortened to [`MAX_FIELD_BYTES`].
    ToolUse {
        tool_use_id: Option<String>,
        name: String,
        input: String,
    },
    /// `output` shortened to [`MAX_FIELD_BYTES`].
    ToolResult {
        tool_use_id: Option<String>,
        output: String,
        is_error: bool,
    },
    /// The agent's final word on this turn.
    Finished(FinalResult),
    /// A known failure that will never recover by waiting (missing/invalid API key, login prompt,
    /// repeated 401/403 retries, endless reconnects): the caller ends the turn now with `reason`.
    /// A parser reports at most one per turn; later fatal signs come as [`AgentOutput::Notice`].
    Fatal {
        reason: String,
    },
    /// A non-fatal warning or retry notice worth showing.
    Notice {
        message: String,
    },
    /// A line that is not a structured event (kept verbatim as a log line, up to
    /// [`MAX_MESSAGE_BYTES`]).
    Raw {
        line: String,
    },
}

/// How a turn ended, as the agent itself reported it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FinalResult {
    pub ok: bool,
    pub summary: Option<String>,
    pub error: Option<String>,
    /// Tokens of this turn.
    pub usage: Option<TokenUsage>,
    /// Cost of this turn (not of the whole session).
    pub cost_usd: Option<f64>,
    pub duration_ms: Option<u64>,
    pub num_turns: Option<u32>,
}

/// Which CLI, and how to run it.
#[derive(Clone, Debug, PartialEq)]
pub enum Agent {
    Amp { program: String },
    Claude { program: String },
    Codex { program: String },
    Command { command_line: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    #[error("agent.command is required when agent.kind is `command`: it is the shell command line to run")]
    MissingCommand,
}

impl Agent {
    /// `command` overrides the executable (one argv element, not split on spaces). For `Command`
    /// it is the whole shell command line and is required: error if missing/blank. A blank
    /// override for the other kinds means "use the default program".
    pub fn new(kind: AgentKind, command: Option<&str>) -> Result<Agent, AgentError> {
        let command = command.map(str::trim).filter(|c| !c.is_empty());
        let program = |default: &str| command.unwrap_or(default).to_string();
        Ok(match kind {
            AgentKind::Amp => Agent::Amp {
                program: program("amp"),
            },
            AgentKind::Claude => Agent::Claude {
                program: program("claude"),
            },
            AgentKind::Codex => Agent::Codex {
                program: program("codex"),
            },
            AgentKind::Command => Agent::Command {
                command_line: command.ok_or(AgentError::MissingCommand)?.to_string(),
            },
        })
    }

    /// [`Agent::new`] from the `agent` config section.
    pub fn from_config(config: &AgentConfig) -> Result<Agent, AgentError> {
        Agent::new(config.kind, config.command.as_deref())
    }

    pub fn name(&self) -> &'static str {
        match self {
            Agent::Amp { .. } => "amp",
            Agent::Claude { .. } => "claude",
            Agent::Codex { .. } => "codex",
            Agent::Command { .. } => "command",
        }
    }

    /// argv for the first turn (session None) or a follow-up on `session` (Some). The prompt
    /// always goes on stdin, never in argv: Amp's `-x [message]` and `threads continue
    /// [threads...]` misparse a trailing argument, and a prompt may be huge or start with `-`.
    pub fn argv(&self, session: Option<&str>) -> Vec<String> {
        let words: Vec<&str> = match (self, session) {
            // New threads are archived after execute by default; keep them easy to continue.
            (Agent::Amp { program }, None) => vec![
                program,
                "--execute",
                "--stream-json",
                "--dangerously-allow-all",
                "--no-archive-after-execute",
            ],
            (Agent::Amp { program }, Some(id)) => vec![
                program,
                "threads",
                "continue",
                id,
                "--execute",
                "--stream-json",
                "--dangerously-allow-all",
            ],
            // `stream-json` with `-p` requires `--verbose`.
            (Agent::Claude { program }, None) => vec![
                program,
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--dangerously-skip-permissions",
            ],
            (Agent::Claude { program }, Some(id)) => vec![
                program,
                "-p",
                "--resume",
                id,
                "--output-format",
                "stream-json",
                "--verbose",
                "--dangerously-skip-permissions",
            ],
            // The final `-` reads the prompt from stdin.
            (Agent::Codex { program }, None) => vec![
                program,
                "exec",
                "--json",
                "--dangerously-bypass-approvals-and-sandbox",
                "--skip-git-repo-check",
                "-",
            ],
            (Agent::Codex { program }, Some(id)) => vec![
                program,
                "exec",
                "resume",
                id,
                "--json",
                "--dangerously-bypass-approvals-and-sandbox",
                "--skip-git-repo-check",
                "-",
            ],
            (Agent::Command { command_line }, _) => vec!["sh", "-c", command_line],
        };
        words.into_iter().map(String::from).collect()
    }

    /// Extra environment the CLI needs in the container (not secrets): no colour codes in logs,
    /// no spinner animation (Amp), no telemetry/update traffic (Claude).
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![("NO_COLOR", "1")];
        match self {
            Agent::Amp { .. } => env.push(("NO_ANIMATION", "1")),
            Agent::Claude { .. } => env.push(("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")),
            Agent::Codex { .. } | Agent::Command { .. } => {}
        }
        env.into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The turn's own token usage from what the CLI reported and what the earlier turns of the
    /// same thread used. Codex reports the *thread's* running total once a thread is resumed
    /// (`exec resume` restores the counts from its rollout; seen with the real CLI), so the
    /// earlier turns are taken off; the other CLIs report each turn on its own.
    pub fn turn_usage(
        &self,
        reported: Option<TokenUsage>,
        earlier: TokenUsage,
    ) -> Option<TokenUsage> {
        if !self.reports_thread_totals() {
            return reported;
        }
        reported.map(|r| r.saturating_sub(earlier))
    }

    /// Whether the CLI's usage on a resumed thread is the thread's running total (Codex).
    pub fn reports_thread_totals(&self) -> bool {
        matches!(self, Agent::Codex { .. })
    }

    /// Whether a turn needs a `Finished` from the stream to count as successful (false for
    /// Command: exit code 0 suffices). The agent CLIs can exit 0 without having finished.
    pub fn requires_final_result(&self) -> bool {
        !matches!(self, Agent::Command { .. })
    }

    /// A fresh parser for one turn. `follow_up` is the message sent on stdin for a follow-up
    /// turn (None on the first turn); Amp uses it to skip the replay of earlier turns.
    pub fn parser(&self, follow_up: Option<&str>) -> Box<dyn StreamParser> {
        match self {
            Agent::Amp { .. } => Box::new(amp_claude::StreamJsonParser::new(
                amp_claude::Flavor::Amp,
                follow_up,
            )),
            Agent::Claude { .. } => Box::new(amp_claude::StreamJsonParser::new(
                amp_claude::Flavor::Claude,
                follow_up,
            )),
            Agent::Codex { .. } => Box::new(codex::CodexParser::new()),
            Agent::Command { .. } => Box::new(command::CommandParser),
        }
    }
}

/// Turns the lines of one turn's output into [`AgentOutput`]s. Blank lines produce nothing.
pub trait StreamParser: Send {
    fn stdout_line(&mut self, line: &str) -> Vec<AgentOutput>;
    fn stderr_line(&mut self, line: &str) -> Vec<AgentOutput>;
}

/// Shortens `text` to at most `max` bytes (cut at a char boundary) plus a visible
/// ` … [cut N bytes]` marker, so a reader knows something is missing and how much.
pub fn shorten(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let cut = text.floor_char_boundary(max);
    let dropped = text.len() - cut;
    text.truncate(cut);
    text.push_str(&format!(" … [cut {dropped} bytes]"));
    text
}

/// A line kept as a log line (shortened: one runaway line must not flood the log).
pub(crate) fn raw(line: &str) -> AgentOutput {
    AgentOutput::Raw {
        line: shorten(line.to_string(), MAX_MESSAGE_BYTES),
    }
}

/// The line as a JSON object, or None for anything else (plain text, arrays, broken JSON).
pub(crate) fn parse_object(line: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str(line.trim()) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// Compact JSON text of a value (tool inputs), shortened.
pub(crate) fn compact_json(value: &Value) -> String {
    shorten(value.to_string(), MAX_FIELD_BYTES)
}

/// A string field of a JSON object.
pub(crate) fn str_field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(Value::as_str)
}

/// An unsigned integer field of a JSON object (missing or not a number: 0).
pub(crate) fn u64_field(obj: &Map<String, Value>, key: &str) -> u64 {
    obj.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Ensures a turn reports at most one [`AgentOutput::Fatal`]: the caller stops at the first, and
/// the same failure repeating (Claude retries a 401 ten times) is then just a notice.
#[derive(Debug, Default)]
pub(crate) struct FatalLatch {
    fired: bool,
}

impl FatalLatch {
    pub(crate) fn raise(&mut self, reason: String) -> AgentOutput {
        if self.fired {
            AgentOutput::Notice { message: reason }
        } else {
            self.fired = true;
            AgentOutput::Fatal { reason }
        }
    }
}

/// Reports a session id once per distinct value (the id repeats on many events).
#[derive(Debug, Default)]
pub(crate) struct SessionTracker {
    current: Option<String>,
}

impl SessionTracker {
    pub(crate) fn observe(&mut self, id: Option<&str>) -> Option<AgentOutput> {
        let id = id.map(str::trim).filter(|id| !id.is_empty())?;
        if self.current.as_deref() == Some(id) {
            return None;
        }
        self.current = Some(id.to_string());
        Some(AgentOutput::Session {
            session_id: id.to_string(),
        })
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::{AgentOutput, StreamParser};

    /// Feeds every stdout line of a captured stream to `parser`, collecting the outputs.
    pub(crate) fn parse_stdout(parser: &mut dyn StreamParser, stream: &str) -> Vec<AgentOutput> {
        stream
            .lines()
            .flat_map(|line| parser.stdout_line(line))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::parse_stdout;
    use super::*;

    #[test]
    fn codex_usage_after_a_resume_is_the_turn_not_the_thread() {
        let usage = |i, o, r, w| TokenUsage {
            input_tokens: i,
            output_tokens: o,
            cache_read_tokens: r,
            cache_write_tokens: w,
        };
        let earlier = usage(3000, 200, 100, 0);
        let reported = Some(usage(10_000, 500, 400, 0));
        let codex = Agent::new(AgentKind::Codex, None).unwrap();
        assert_eq!(
            codex.turn_usage(reported, earlier),
            Some(usage(7000, 300, 300, 0))
        );
        assert_eq!(
            codex.turn_usage(Some(usage(1, 1, 0, 0)), earlier),
            Some(usage(0, 0, 0, 0)),
            "never negative"
        );
        assert_eq!(codex.turn_usage(None, earlier), None);
        let claude = Agent::new(AgentKind::Claude, None).unwrap();
        assert_eq!(
            claude.turn_usage(reported, earlier),
            reported,
            "per turn already"
        );
    }

    fn argv(kind: AgentKind, command: Option<&str>, session: Option<&str>) -> String {
        Agent::new(kind, command)
            .expect("valid agent")
            .argv(session)
            .join(" ")
    }

    #[test]
    fn amp_argv_first_and_follow_up() {
        assert_eq!(
            argv(AgentKind::Amp, None, None),
            "amp --execute --stream-json --dangerously-allow-all --no-archive-after-execute"
        );
        assert_eq!(
            argv(
                AgentKind::Amp,
                None,
                Some("T-019c479a-39cc-72af-a2d1-65a965c076ec")
            ),
            "amp threads continue T-019c479a-39cc-72af-a2d1-65a965c076ec --execute --stream-json --dangerously-allow-all"
        );
    }

    #[test]
    fn claude_argv_first_and_follow_up() {
        assert_eq!(
            argv(AgentKind::Claude, None, None),
            "claude -p --output-format stream-json --verbose --dangerously-skip-permissions"
        );
        assert_eq!(
            argv(AgentKind::Claude, None, Some("06f801c4")),
            "claude -p --resume 06f801c4 --output-format stream-json --verbose --dangerously-skip-permissions"
        );
    }

    #[test]
    fn codex_argv_first_and_follow_up() {
        assert_eq!(
            argv(AgentKind::Codex, None, None),
            "codex exec --json --dangerously-bypass-approvals-and-sandbox --skip-git-repo-check -"
        );
        assert_eq!(
            argv(AgentKind::Codex, None, Some("01a1fdcb")),
            "codex exec resume 01a1fdcb --json --dangerously-bypass-approvals-and-sandbox --skip-git-repo-check -"
        );
    }

    #[test]
    fn command_override_replaces_the_program_only() {
        let amp = Agent::new(AgentKind::Amp, Some(" /opt/amp/bin/amp ")).expect("valid");
        assert_eq!(amp.argv(None)[0], "/opt/amp/bin/amp");
        assert_eq!(
            amp.argv(Some("T-1"))[..4],
            ["/opt/amp/bin/amp", "threads", "continue", "T-1"]
        );
        let claude = Agent::new(AgentKind::Claude, Some("/usr/local/bin/claude")).expect("valid");
        assert_eq!(claude.argv(None)[0], "/usr/local/bin/claude");
        let codex = Agent::new(AgentKind::Codex, Some("codex-nightly")).expect("valid");
        assert_eq!(
            codex.argv(Some("x"))[..3],
            ["codex-nightly", "exec", "resume"]
        );
        // A blank override falls back to the default program.
        let blank = Agent::new(AgentKind::Codex, Some("  ")).expect("valid");
        assert_eq!(blank.argv(None)[0], "codex");
    }

    #[test]
    fn command_agent_runs_the_line_through_sh_on_every_turn() {
        let agent = Agent::new(AgentKind::Command, Some("./fake-agent.sh --fast")).expect("valid");
        let expected = ["sh", "-c", "./fake-agent.sh --fast"];
        assert_eq!(agent.argv(None), expected);
        assert_eq!(agent.argv(Some("ignored")), expected);
        assert_eq!(agent.name(), "command");
        assert!(!agent.requires_final_result());
    }

    #[test]
    fn command_agent_without_a_command_is_an_error() {
        assert_eq!(
            Agent::new(AgentKind::Command, None),
            Err(AgentError::MissingCommand)
        );
        assert_eq!(
            Agent::new(AgentKind::Command, Some(" \t")),
            Err(AgentError::MissingCommand)
        );
        let config = AgentConfig {
            kind: AgentKind::Command,
            ..AgentConfig::default()
        };
        assert_eq!(Agent::from_config(&config), Err(AgentError::MissingCommand));
        assert!(AgentError::MissingCommand
            .to_string()
            .contains("agent.command"));
    }

    #[test]
    fn names_env_and_final_result_requirement() {
        let env = |kind| Agent::new(kind, None).expect("valid").env();
        let has =
            |env: &[(String, String)], key: &str| env.iter().any(|(k, v)| k == key && v == "1");
        let amp = env(AgentKind::Amp);
        assert!(has(&amp, "NO_COLOR") && has(&amp, "NO_ANIMATION"));
        let claude = env(AgentKind::Claude);
        assert!(
            has(&claude, "NO_COLOR") && has(&claude, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC")
        );
        assert!(!has(&claude, "IS_SANDBOX"));
        assert!(has(&env(AgentKind::Codex), "NO_COLOR"));
        for (kind, name) in [
            (AgentKind::Amp, "amp"),
            (AgentKind::Claude, "claude"),
            (AgentKind::Codex, "codex"),
        ] {
            let agent = Agent::new(kind, None).expect("valid");
            assert_eq!(agent.name(), name);
            assert!(agent.requires_final_result());
        }
    }

    #[test]
    fn shorten_cuts_at_a_char_boundary_with_a_marker() {
        assert_eq!(shorten("short".into(), 10), "short");
        assert_eq!(shorten("abcdefghij".into(), 4), "abcd … [cut 6 bytes]");
        // "é" is 2 bytes: a limit of 2 falls inside it.
        assert_eq!(shorten("aéz".into(), 2), "a … [cut 3 bytes]");
    }

    #[test]
    fn session_tracker_reports_each_id_once() {
        let mut tracker = SessionTracker::default();
        assert!(tracker.observe(Some("a")).is_some());
        assert!(tracker.observe(Some("a")).is_none());
        assert!(tracker.observe(Some("")).is_none());
        assert!(tracker.observe(None).is_none());
        assert!(tracker.observe(Some("b")).is_some());
    }

    /// The whole pipeline: Docker-like odd-sized chunks through a LineBuffer give the same
    /// outputs as the captured stream read line by line.
    #[test]
    fn chunked_stream_through_line_buffer_parses_like_whole_lines() {
        let stream =
            include_str!("../../tests/fixtures/agent-streams/claude-stream-json-toolrun.jsonl");
        let agent = Agent::new(AgentKind::Claude, None).expect("valid");
        let expected = parse_stdout(agent.parser(None).as_mut(), stream);

        let mut parser = agent.parser(None);
        let mut buffer = LineBuffer::new(DEFAULT_MAX_LINE_BYTES);
        let mut outputs = Vec::new();
        for chunk in stream.as_bytes().chunks(777) {
            for line in buffer.push(chunk) {
                outputs.extend(parser.stdout_line(&line));
            }
        }
        if let Some(line) = buffer.finish() {
            outputs.extend(parser.stdout_line(&line));
        }
        assert_eq!(outputs, expected);
        assert!(matches!(outputs.last(), Some(AgentOutput::Finished(r)) if r.ok));
    }

    #[test]
    fn every_parser_ignores_blank_lines() {
        for kind in [
            AgentKind::Amp,
            AgentKind::Claude,
            AgentKind::Codex,
            AgentKind::Command,
        ] {
            let agent = Agent::new(kind, Some("x")).expect("valid");
            let mut parser = agent.parser(None);
            assert!(parser.stdout_line("").is_empty(), "{kind:?}");
            assert!(parser.stdout_line("  \t").is_empty(), "{kind:?}");
            assert!(parser.stderr_line("").is_empty(), "{kind:?}");
        }
    }

    #[test]
    fn malformed_json_and_non_objects_are_raw_for_every_agent() {
        for kind in [AgentKind::Amp, AgentKind::Claude, AgentKind::Codex] {
            let mut parser = Agent::new(kind, None).expect("valid").parser(None);
            for line in [
                r#"{"type":"assistant","message":"#,
                "[1,2]",
                "\"text\"",
                "plain words",
            ] {
                assert_eq!(
                    parser.stdout_line(line),
                    vec![AgentOutput::Raw {
                        line: line.to_string()
                    }],
                    "{kind:?}: {line}"
                );
            }
        }
    }
}
