//! One line of text per event: what the task page shows for it and what the downloadable log
//! (`GET /api/tasks/{id}/log`) contains. Pure, shared by the browser and the server.

use crate::model::{CiVerdict, LogStream, TaskEvent};

fn short_sha(s: &str) -> &str {
    s.get(..12).unwrap_or(s)
}

/// A person's reading of `event`.
pub fn describe(event: &TaskEvent) -> String {
    match event {
        TaskEvent::TaskCreated { task } => format!("task created on {}", task.repo),
        TaskEvent::StatusChanged { from, to, reason } => match reason {
            Some(r) => format!("{from} → {to}: {r}"),
            None => format!("{from} → {to}"),
        },
        TaskEvent::Log { stream, line } => {
            let tag = match stream {
                LogStream::Stdout => "out",
                LogStream::Stderr => "err",
                LogStream::System => "sys",
            };
            format!("[{tag}] {line}")
        }
        TaskEvent::LogTruncated { dropped, reason } => {
            format!("… {dropped} lines not recorded: {reason}")
        }
        TaskEvent::BranchCreated {
            branch,
            base,
            base_sha,
        } => {
            format!("branch {branch} from {base} ({})", short_sha(base_sha))
        }
        TaskEvent::ContainerCreated {
            container_id,
            image,
        } => {
            format!("container {} from {image}", short_sha(container_id))
        }
        TaskEvent::ContainerStarted { container_id } => {
            format!("container {} started", short_sha(container_id))
        }
        TaskEvent::ContainerRemoved { container_id, kept } => {
            let what = if *kept {
                "kept for debugging"
            } else {
                "removed"
            };
            format!("container {} {what}", short_sha(container_id))
        }
        TaskEvent::ContainerStats {
            cpu_percent,
            memory_bytes,
            ..
        } => {
            format!("cpu {cpu_percent:.0}% · memory {} MiB", memory_bytes >> 20)
        }
        TaskEvent::AgentTurnStarted {
            turn,
            agent,
            follow_up,
        } => {
            let what = if *follow_up { "follow-up" } else { "first" };
            format!("{agent} turn {turn} ({what})")
        }
        TaskEvent::AgentSession { session_id } => format!("session {session_id}"),
        TaskEvent::AgentMessage { text } => text.clone(),
        TaskEvent::AgentToolUse { name, input, .. } => format!("{name} {input}"),
        TaskEvent::AgentToolResult {
            output, is_error, ..
        } => {
            if *is_error {
                format!("error: {output}")
            } else {
                output.clone()
            }
        }
        TaskEvent::AgentTurnFinished {
            turn,
            ok,
            reason,
            summary,
            duration_ms,
            ..
        } => {
            let outcome = if *ok {
                "done".to_string()
            } else {
                format!("failed: {}", reason.as_deref().unwrap_or("unknown"))
            };
            let summary = summary
                .as_deref()
                .map(|s| format!(" — {s}"))
                .unwrap_or_default();
            format!(
                "turn {turn} {outcome} in {:.1}s{summary}",
                *duration_ms as f64 / 1000.0
            )
        }
        TaskEvent::Committed { sha, message } => format!("committed {} {message}", short_sha(sha)),
        TaskEvent::Pushed { branch, sha } => format!("pushed {branch} at {}", short_sha(sha)),
        TaskEvent::CiRoundStarted { round, sha } => {
            format!("CI round {round} on {}", short_sha(sha))
        }
        TaskEvent::CiWaiting { waiting, .. } => format!("waiting for {}", waiting.join(", ")),
        TaskEvent::CiRoundFinished {
            round,
            verdict,
            checks,
            ..
        } => {
            let failed: Vec<&str> = checks
                .iter()
                .filter(|c| !matches!(c.conclusion.as_str(), "success" | "neutral" | "skipped"))
                .map(|c| c.name.as_str())
                .collect();
            let verdict = match verdict {
                CiVerdict::Green => "green ✓".to_string(),
                CiVerdict::Red => format!("red ✗ ({})", failed.join(", ")),
                CiVerdict::NoChecks => "no checks".to_string(),
                CiVerdict::TimedOut => "timed out".to_string(),
            };
            format!("CI round {round}: {verdict}")
        }
        TaskEvent::CiRerun { checks, reason, .. } => {
            format!("re-running {} ({reason})", checks.join(", "))
        }
        TaskEvent::CiFeedback {
            round,
            text,
            truncated,
        } => {
            let cut = if *truncated { " (cut to fit)" } else { "" };
            format!("feedback for round {round}{cut}:\n{text}")
        }
        TaskEvent::PullRequestOpened { number, url, draft } => {
            let kind = if *draft {
                "draft pull request"
            } else {
                "pull request"
            };
            format!("{kind} #{number} opened: {url}")
        }
        TaskEvent::PullRequestReady { number, .. } => {
            format!("pull request #{number} ready for review")
        }
        TaskEvent::PullRequestClosed { number, reason, .. } => {
            format!("pull request #{number} closed: {reason}")
        }
    }
}

/// How the task page sets an event apart: the agent's words, its tool calls and their results,
/// raw program output, CI and pull requests, or the orchestrator's own steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    Agent,
    Tool,
    ToolResult,
    Output,
    Ci,
    System,
}

impl Category {
    pub fn of(event: &TaskEvent) -> Category {
        match event {
            TaskEvent::AgentMessage { .. } => Category::Agent,
            TaskEvent::AgentToolUse { .. } => Category::Tool,
            TaskEvent::AgentToolResult { .. } => Category::ToolResult,
            TaskEvent::Log { .. } | TaskEvent::LogTruncated { .. } => Category::Output,
            TaskEvent::CiRoundStarted { .. }
            | TaskEvent::CiWaiting { .. }
            | TaskEvent::CiRoundFinished { .. }
            | TaskEvent::CiRerun { .. }
            | TaskEvent::CiFeedback { .. }
            | TaskEvent::PullRequestOpened { .. }
            | TaskEvent::PullRequestReady { .. }
            | TaskEvent::PullRequestClosed { .. } => Category::Ci,
            _ => Category::System,
        }
    }

    /// The `data-category` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Agent => "agent",
            Category::Tool => "tool",
            Category::ToolResult => "tool_result",
            Category::Output => "output",
            Category::Ci => "ci",
            Category::System => "system",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TaskStatus;

    #[test]
    fn events_read_as_sentences() {
        let e = TaskEvent::StatusChanged {
            from: TaskStatus::Queued,
            to: TaskStatus::Cancelled,
            reason: Some("cancelled by user".into()),
        };
        assert_eq!(describe(&e), "queued → cancelled: cancelled by user");
        let e = TaskEvent::Log {
            stream: LogStream::Stderr,
            line: "boom".into(),
        };
        assert_eq!(describe(&e), "[err] boom");
        let e = TaskEvent::Pushed {
            branch: "amp/x".into(),
            sha: "0123456789abcdef".into(),
        };
        assert_eq!(describe(&e), "pushed amp/x at 0123456789ab");
    }

    #[test]
    fn categories_set_the_agent_apart_from_output() {
        let message = TaskEvent::AgentMessage {
            text: "done".into(),
        };
        assert_eq!(Category::of(&message), Category::Agent);
        let tool = TaskEvent::AgentToolUse {
            tool_use_id: None,
            name: "Bash".into(),
            input: "{}".into(),
        };
        assert_eq!(Category::of(&tool).as_str(), "tool");
        let log = TaskEvent::Log {
            stream: LogStream::Stdout,
            line: String::new(),
        };
        assert_eq!(Category::of(&log), Category::Output);
        let pr = TaskEvent::PullRequestReady {
            number: 1,
            url: String::new(),
        };
        assert_eq!(Category::of(&pr), Category::Ci);
    }
}
