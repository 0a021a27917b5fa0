//! A custom command (`agent.kind: command`): its output has no known structure, so every line
//! is a log line and it never reports `Finished` (exit code 0 is its success).

use super::{raw, AgentOutput, StreamParser};

/// Parser that keeps every non-blank line, stdout or stderr, as [`AgentOutput::Raw`].
#[derive(Debug, Default)]
pub(crate) struct CommandParser;

impl CommandParser {
    fn line(line: &str) -> Vec<AgentOutput> {
        if line.trim().is_empty() {
            Vec::new()
        } else {
            vec![raw(line)]
        }
    }
}

impl StreamParser for CommandParser {
    fn stdout_line(&mut self, line: &str) -> Vec<AgentOutput> {
        Self::line(line)
    }

    fn stderr_line(&mut self, line: &str) -> Vec<AgentOutput> {
        Self::line(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_raw_even_json_results() {
        let mut parser = CommandParser;
        let result = r#"{"type":"result","subtype":"success","is_error":false,"result":"done"}"#;
        assert_eq!(
            parser.stdout_line(result),
            vec![AgentOutput::Raw {
                line: result.into()
            }]
        );
        assert_eq!(
            parser.stderr_line("warning: x"),
            vec![AgentOutput::Raw {
                line: "warning: x".into()
            }]
        );
        assert!(parser.stdout_line("   ").is_empty());
    }
}
