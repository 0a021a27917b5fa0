//! The pull request's title and body: what was asked, what the agent says it did, every CI
//! round and its result, and the way back to the task. Pure, so the text is tested as text.

use app::model::{CheckResult, CiVerdict, Task};
use std::fmt::Write;

/// One CI round as the PR body reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct RoundRecord {
    pub round: u32,
    pub sha: String,
    pub verdict: CiVerdict,
    pub checks: Vec<CheckResult>,
    pub duration_ms: u64,
}

pub struct PrContent<'a> {
    pub task: &'a Task,
    /// The agent's own final words on its last turn.
    pub summary: Option<&'a str>,
    pub rounds: &'a [RoundRecord],
    /// Link to the task page, when the server knows its public address.
    pub task_url: Option<String>,
    /// A draft opened before CI finished (so pull-request workflows run).
    pub in_progress: bool,
}

/// The first non-empty line of the prompt, at most 72 characters.
pub fn title(task: &Task) -> String {
    let first = task
        .prompt
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("Changes by Amp Orchestrator");
    let mut title: String = first.chars().take(72).collect();
    if first.chars().count() > 72 {
        title.pop();
        title.push('…');
    }
    title
}

pub fn body(content: &PrContent<'_>) -> String {
    let mut out = String::new();
    if content.in_progress {
        out.push_str("> **Work in progress.** CI is running on this branch; Amp Orchestrator marks this pull request ready for review once it is green.\n\n");
    }
    out.push_str("### Task\n\n");
    for line in content.task.prompt.trim().lines() {
        let _ = writeln!(out, "> {line}");
    }
    out.push('\n');
    if let Some(summary) = content.summary.map(str::trim).filter(|s| !s.is_empty()) {
        out.push_str("### What the agent says it did\n\n");
        out.push_str(summary);
        out.push_str("\n\n");
    }
    if !content.rounds.is_empty() {
        out.push_str(
            "### CI rounds\n\n| round | commit | result | checks | time |\n|---|---|---|---|---|\n",
        );
        for r in content.rounds {
            let result = match r.verdict {
                CiVerdict::Green => "✅ green",
                CiVerdict::Red => "❌ red",
                CiVerdict::NoChecks => "➖ no checks",
                CiVerdict::TimedOut => "⏱ timed out",
            };
            let checks: Vec<String> = r
                .checks
                .iter()
                .map(|c| {
                    let mark = match c.conclusion.as_str() {
                        "success" => "✓",
                        "neutral" | "skipped" => "–",
                        _ => "✗",
                    };
                    let pre = if c.preexisting { " (pre-existing)" } else { "" };
                    format!("{mark} {}{pre}", c.name.replace('|', "\\|"))
                })
                .collect();
            let _ = writeln!(
                out,
                "| {} | `{}` | {result} | {} | {} |",
                r.round,
                r.sha.get(..7).unwrap_or(&r.sha),
                if checks.is_empty() {
                    "—".to_string()
                } else {
                    checks.join(", ")
                },
                human_duration(r.duration_ms)
            );
        }
        out.push('\n');
    }
    let preexisting: Vec<&CheckResult> = content
        .rounds
        .last()
        .map(|r| r.checks.iter().filter(|c| c.preexisting).collect())
        .unwrap_or_default();
    if !preexisting.is_empty() {
        out.push_str("### Failing before this change\n\nThese checks also fail on the base branch, so they were not counted against this pull request:\n\n");
        for c in preexisting {
            let _ = writeln!(out, "- {} ({})", c.name, c.conclusion);
        }
        out.push('\n');
    }
    if content
        .rounds
        .last()
        .is_some_and(|r| r.verdict == CiVerdict::NoChecks)
    {
        out.push_str(
            "### CI\n\nNo CI check ran on this branch, so nothing was verified automatically.\n\n",
        );
    }
    out.push_str("---\n");
    match &content.task_url {
        Some(url) => {
            let _ = writeln!(
                out,
                "Opened by [Amp Orchestrator]({url}) for task `{}`.",
                content.task.id
            );
        }
        None => {
            let _ = writeln!(
                out,
                "Opened by Amp Orchestrator for task `{}`.",
                content.task.id
            );
        }
    }
    out
}

fn human_duration(ms: u64) -> String {
    let s = ms / 1000;
    if s < 60 {
        format!("{s}s")
    } else {
        format!("{}m {:02}s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::CreateTaskRequest;

    fn task(prompt: &str) -> Task {
        let request = CreateTaskRequest {
            prompt: prompt.into(),
            repo: "octo/demo".into(),
            ..Default::default()
        };
        Task::queued(
            uuid::Uuid::nil(),
            request,
            chrono::DateTime::from_timestamp(0, 0).unwrap(),
        )
    }

    fn check(name: &str, conclusion: &str, preexisting: bool) -> CheckResult {
        CheckResult {
            name: name.into(),
            conclusion: conclusion.into(),
            url: None,
            preexisting,
        }
    }

    #[test]
    fn titles_use_the_first_line_and_stay_short() {
        assert_eq!(
            title(&task("\n  Fix the date test  \nmore")),
            "Fix the date test"
        );
        let long = title(&task(&"x".repeat(100)));
        assert_eq!(long.chars().count(), 72);
        assert!(long.ends_with('…'));
        assert_eq!(title(&task("   ")), "Changes by Amp Orchestrator");
    }

    #[test]
    fn body_tells_the_whole_story() {
        let t = task("Fix the flaky date test\nin utils");
        let rounds = vec![
            RoundRecord {
                round: 1,
                sha: "1234567890abcdef".into(),
                verdict: CiVerdict::Red,
                checks: vec![
                    check("test", "failure", false),
                    check("lint|fmt", "success", false),
                ],
                duration_ms: 65_000,
            },
            RoundRecord {
                round: 2,
                sha: "abcdef1234567890".into(),
                verdict: CiVerdict::Green,
                checks: vec![
                    check("test", "success", false),
                    check("docs", "failure", true),
                ],
                duration_ms: 42_000,
            },
        ];
        let body = body(&PrContent {
            task: &t,
            summary: Some("Pinned the clock in the test."),
            rounds: &rounds,
            task_url: Some("http://orchestrator.example/tasks/x".into()),
            in_progress: false,
        });
        let expected = "### Task\n\n> Fix the flaky date test\n> in utils\n\n### What the agent says it did\n\nPinned the clock in the test.\n\n\
### CI rounds\n\n| round | commit | result | checks | time |\n|---|---|---|---|---|\n\
| 1 | `1234567` | ❌ red | ✗ test, ✓ lint\\|fmt | 1m 05s |\n\
| 2 | `abcdef1` | ✅ green | ✓ test, ✗ docs (pre-existing) | 42s |\n\n\
### Failing before this change\n\nThese checks also fail on the base branch, so they were not counted against this pull request:\n\n- docs (failure)\n\n\
---\nOpened by [Amp Orchestrator](http://orchestrator.example/tasks/x) for task `00000000-0000-0000-0000-000000000000`.\n";
        assert_eq!(body, expected);
    }

    #[test]
    fn drafts_say_work_is_in_progress_and_absent_ci_is_stated() {
        let t = task("Do it");
        let rounds = vec![RoundRecord {
            round: 1,
            sha: "abc".into(),
            verdict: CiVerdict::NoChecks,
            checks: vec![],
            duration_ms: 0,
        }];
        let text = body(&PrContent {
            task: &t,
            summary: None,
            rounds: &rounds,
            task_url: None,
            in_progress: true,
        });
        assert!(text.starts_with("> **Work in progress.**"));
        assert!(text.contains("No CI check ran on this branch"));
        assert!(text.contains("| 1 | `abc` | ➖ no checks | — | 0s |"));
        assert!(!text.contains("What the agent says"));
    }
}
