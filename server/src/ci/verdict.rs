//! Deciding what CI says about one commit, from one snapshot of everything GitHub reports on it.
//! Pure: the watcher polls, this judges. Keyed on the pushed SHA, re-evaluated from scratch on
//! every poll (a re-run turns a finished check back into a pending one; nothing is latched).

use crate::forge::types::{CheckRun, CombinedStatus, WorkflowRun};

/// Everything GitHub reports on a commit at one moment.
#[derive(Clone, Debug, Default)]
pub struct CiSnapshot {
    pub check_runs: Vec<CheckRun>,
    pub status: CombinedStatus,
    pub workflow_runs: Vec<WorkflowRun>,
}

/// One finished check, whichever API reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOutcome {
    pub name: String,
    pub conclusion: String,
    pub source: CheckSource,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckSource {
    /// A check run; `actions`: made by GitHub Actions (its id is the job id, so it has a log).
    CheckRun {
        id: u64,
        actions: bool,
        details_url: Option<String>,
    },
    /// A commit status (older CI systems).
    Status {
        target_url: Option<String>,
        description: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CiState {
    /// Nothing is reported on this commit (yet, or at all).
    NoChecks,
    /// Something is still queued or running; the names of what we wait for.
    Pending { waiting: Vec<String> },
    /// Every check finished.
    Completed {
        failed: Vec<CheckOutcome>,
        passed: Vec<CheckOutcome>,
    },
}

impl CiState {
    /// A completed state's fingerprint: (name, conclusion) pairs, sorted — two polls that agree
    /// on it saw the same final CI.
    pub fn fingerprint(&self) -> Vec<(String, String)> {
        match self {
            CiState::Completed { failed, passed } => {
                let mut all: Vec<(String, String)> = failed
                    .iter()
                    .chain(passed)
                    .map(|c| (c.name.clone(), c.conclusion.clone()))
                    .collect();
                all.sort();
                all
            }
            _ => Vec::new(),
        }
    }
}

/// Check-run and workflow statuses that mean "not finished".
fn is_pending_status(status: &str) -> bool {
    matches!(
        status,
        "queued" | "in_progress" | "waiting" | "requested" | "pending"
    )
}

/// Conclusions that fail a commit. `action_required` counts: CI did not pass, and a person has
/// to act (the feedback says so).
fn is_failing_conclusion(conclusion: &str) -> bool {
    matches!(
        conclusion,
        "failure" | "timed_out" | "cancelled" | "startup_failure" | "stale" | "action_required"
    )
}

pub fn evaluate(snapshot: &CiSnapshot) -> CiState {
    let mut waiting = Vec::new();
    let mut failed = Vec::new();
    let mut passed = Vec::new();

    for run in &snapshot.check_runs {
        if run.status != "completed" || run.conclusion.is_none() {
            waiting.push(run.name.clone());
            continue;
        }
        let conclusion = run.conclusion.clone().unwrap_or_default();
        let outcome = CheckOutcome {
            name: run.name.clone(),
            conclusion: conclusion.clone(),
            source: CheckSource::CheckRun {
                id: run.id,
                actions: run.is_actions(),
                details_url: run.details_url.clone().or_else(|| run.html_url.clone()),
            },
        };
        if is_failing_conclusion(&conclusion) {
            failed.push(outcome);
        } else {
            passed.push(outcome);
        }
    }

    // A workflow run can be queued before any of its check runs exist.
    for run in &snapshot.workflow_runs {
        if run.status.as_deref().is_some_and(is_pending_status) {
            let name = run
                .name
                .clone()
                .unwrap_or_else(|| format!("workflow run {}", run.id));
            if !waiting.contains(&name) {
                waiting.push(name);
            }
        }
    }

    // With no statuses at all, the combined state is "pending": only real statuses count.
    if snapshot.status.total_count > 0 {
        for status in &snapshot.status.statuses {
            let outcome = || CheckOutcome {
                name: status.context.clone(),
                conclusion: status.state.clone(),
                source: CheckSource::Status {
                    target_url: status.target_url.clone(),
                    description: status.description.clone(),
                },
            };
            match status.state.as_str() {
                "pending" => waiting.push(status.context.clone()),
                "failure" | "error" => failed.push(outcome()),
                _ => passed.push(outcome()),
            }
        }
    }

    if !waiting.is_empty() {
        waiting.sort();
        waiting.dedup();
        return CiState::Pending { waiting };
    }
    if failed.is_empty() && passed.is_empty() {
        return CiState::NoChecks;
    }
    CiState::Completed { failed, passed }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::types::{CheckApp, CommitStatus};

    fn run(id: u64, name: &str, status: &str, conclusion: Option<&str>) -> CheckRun {
        CheckRun {
            id,
            name: name.into(),
            head_sha: "abc".into(),
            status: status.into(),
            conclusion: conclusion.map(str::to_string),
            app: Some(CheckApp {
                slug: "github-actions".into(),
            }),
            ..Default::default()
        }
    }

    fn statuses(list: &[(&str, &str)]) -> CombinedStatus {
        CombinedStatus {
            state: "ignored".into(),
            total_count: list.len() as u64,
            statuses: list
                .iter()
                .map(|(c, s)| CommitStatus {
                    context: (*c).into(),
                    state: (*s).into(),
                    ..Default::default()
                })
                .collect(),
        }
    }

    #[test]
    fn nothing_reported_is_no_checks_even_with_a_pending_combined_state() {
        let snapshot = CiSnapshot {
            status: CombinedStatus {
                state: "pending".into(),
                total_count: 0,
                statuses: vec![],
            },
            ..Default::default()
        };
        assert_eq!(evaluate(&snapshot), CiState::NoChecks);
    }

    #[test]
    fn any_unfinished_check_run_status_or_workflow_run_is_pending() {
        for status in ["queued", "in_progress", "waiting", "requested", "pending"] {
            let snapshot = CiSnapshot {
                check_runs: vec![
                    run(1, "build", "completed", Some("success")),
                    run(2, "test", status, None),
                ],
                ..Default::default()
            };
            assert_eq!(
                evaluate(&snapshot),
                CiState::Pending {
                    waiting: vec!["test".into()]
                },
                "{status}"
            );
        }
        let snapshot = CiSnapshot {
            check_runs: vec![run(1, "build", "completed", Some("success"))],
            workflow_runs: vec![WorkflowRun {
                id: 9,
                name: Some("Deploy".into()),
                status: Some("queued".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            evaluate(&snapshot),
            CiState::Pending {
                waiting: vec!["Deploy".into()]
            }
        );
        let snapshot = CiSnapshot {
            status: statuses(&[("ci/jenkins", "pending")]),
            ..Default::default()
        };
        assert!(matches!(evaluate(&snapshot), CiState::Pending { .. }));
    }

    #[test]
    fn completed_sorts_failures_from_passes_across_both_apis() {
        let snapshot = CiSnapshot {
            check_runs: vec![
                run(1, "build", "completed", Some("success")),
                run(2, "lint", "completed", Some("neutral")),
                run(3, "docs", "completed", Some("skipped")),
                run(4, "test", "completed", Some("failure")),
                run(5, "e2e", "completed", Some("timed_out")),
                run(6, "deploy", "completed", Some("action_required")),
            ],
            status: statuses(&[("ci/jenkins", "error"), ("coverage", "success")]),
            ..Default::default()
        };
        let CiState::Completed { failed, passed } = evaluate(&snapshot) else {
            panic!("expected completed")
        };
        let names = |v: &[CheckOutcome]| v.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&failed), ["test", "e2e", "deploy", "ci/jenkins"]);
        assert_eq!(names(&passed), ["build", "lint", "docs", "coverage"]);
        assert!(matches!(
            failed[0].source,
            CheckSource::CheckRun {
                id: 4,
                actions: true,
                ..
            }
        ));
    }

    #[test]
    fn fingerprints_are_order_independent() {
        let a = CiSnapshot {
            check_runs: vec![
                run(1, "a", "completed", Some("success")),
                run(2, "b", "completed", Some("failure")),
            ],
            ..Default::default()
        };
        let b = CiSnapshot {
            check_runs: vec![
                run(7, "b", "completed", Some("failure")),
                run(8, "a", "completed", Some("success")),
            ],
            ..Default::default()
        };
        assert_eq!(evaluate(&a).fingerprint(), evaluate(&b).fingerprint());
        assert!(CiState::NoChecks.fingerprint().is_empty());
    }
}
