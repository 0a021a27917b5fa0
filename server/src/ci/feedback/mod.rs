//! The feedback builder: the failed checks of one CI round become the message the agent gets
//! next, plus the cleaned job logs to write into its workspace. Pure functions, no I/O.
//!
//! Pipeline (interfaces §4.3), per failed check:
//! 1. [`clean_log`]: strip the BOM, timestamps and ANSI escapes from the raw job log;
//! 2. [`failing_step_slice`]: cut out the failing step, found by its `##[group]Run …` header;
//! 3. [`excerpt`]: keep what explains the failure (error lines with context, the tail before
//!    `##[error]Process completed…`), drop noise, mark omissions, fit a byte budget;
//! 4. [`file_references`]: the `file:line` places it points at.
//!
//! Then [`build`] merges identical failures across matrix jobs, lists pre-existing failures (those
//! also failing on the base branch's head) apart, wraps every piece of CI text in a
//! `<ci-output>` element it cannot escape, and fits the whole message in `max_bytes`.
//!
//! `ci.ignore_preexisting` is the caller's: when it is off, clear [`FailedCheck::preexisting`]
//! before building (the failures are then the agent's to fix); [`counts_as_green`] gives the
//! verdict and [`preexisting_pr_note`] the PR body's list.

mod excerpt;
mod log;
mod refs;
mod render;

#[cfg(test)]
mod tests;

pub use excerpt::excerpt;
pub use log::{clean_log, failing_step_slice};
pub use refs::{file_references, FileRef};
pub use render::build;

use serde::{Deserialize, Serialize};

/// One failed check on the pushed commit, as the CI watcher collected it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedCheck {
    /// Check run / job name, e.g. `test (ubuntu-latest, stable)`.
    pub name: String,
    /// Workflow name for Actions jobs, e.g. `CI`.
    pub workflow: Option<String>,
    /// `failure`, `timed_out`, `cancelled`, `action_required`, `startup_failure` or `stale`.
    pub conclusion: String,
    pub details_url: Option<String>,
    /// The check run's output title/summary/text (all a non-Actions check has).
    pub summary: Option<String>,
    pub annotations: Vec<Annotation>,
    /// Names of the job's steps whose conclusion is `failure`.
    pub failed_steps: Vec<String>,
    /// The raw job log (GitHub Actions format), when there is one.
    pub log: Option<String>,
    /// The same check also fails on the base branch's head.
    pub preexisting: bool,
}

/// A check run annotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    pub level: AnnotationLevel,
    pub title: Option<String>,
    pub message: String,
    pub raw_details: Option<String>,
}

/// GitHub's `annotation_level`; sorts failures first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationLevel {
    Failure,
    Warning,
    Notice,
}

/// What to build feedback from.
#[derive(Clone, Copy, Debug)]
pub struct FeedbackInput<'a> {
    /// The pushed commit.
    pub sha: &'a str,
    pub branch: &'a str,
    /// The CI round (1 for the first push's CI).
    pub round: u32,
    pub checks: &'a [FailedCheck],
    /// Upper bound of [`Feedback::text`] in UTF-8 bytes (`ci.feedback_max_bytes`).
    pub max_bytes: usize,
    /// Workspace-relative folder the caller writes [`Feedback::files`] to, e.g.
    /// `.amp-orchestrator/ci/round-2`.
    pub logs_dir: &'a str,
}

/// The message for the agent and what goes with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feedback {
    /// The message for the agent; at most `max_bytes` UTF-8 bytes.
    pub text: String,
    /// Something was cut to fit `max_bytes` (the text then ends with a note saying what).
    pub truncated: bool,
    /// Files to write into the workspace: one full cleaned log per check that has a log, and a
    /// `README.txt` listing them. Paths are under `logs_dir`.
    pub files: Vec<LogFile>,
    /// `file:line` references of the failures to fix (annotations first, then logs), deduplicated.
    pub references: Vec<FileRef>,
    /// Failed checks the agent should fix (the not pre-existing ones, before merging identical ones).
    pub actionable: usize,
    /// Display names (`workflow › name`) of the pre-existing failures, for the PR body.
    pub preexisting: Vec<String>,
}

/// A file for the caller to write; `path` is workspace-relative.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFile {
    pub path: String,
    pub content: String,
}

/// Whether a round whose failed checks are `checks` counts as green: none failed, or (with
/// `ci.ignore_preexisting`) every failure is pre-existing.
pub fn counts_as_green(checks: &[FailedCheck], ignore_preexisting: bool) -> bool {
    checks.iter().all(|c| ignore_preexisting && c.preexisting)
}

/// The PR body's note about pre-existing failures ([`Feedback::preexisting`]), if any.
pub fn preexisting_pr_note(preexisting: &[String], base_branch: &str) -> Option<String> {
    if preexisting.is_empty() {
        return None;
    }
    let base = base_branch.replace(['`', '\n', '\r'], "");
    let mut note = format!(
        "**Pre-existing CI failures** — these checks also fail on the head of `{base}`, so this \
         branch did not cause them and they were left alone:\n"
    );
    for name in preexisting {
        let name = name.replace(['`', '\n', '\r'], "");
        note.push_str(&format!("- `{name}`\n"));
    }
    Some(note)
}
