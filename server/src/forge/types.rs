//! GitHub payloads as this orchestrator reads them: only the fields it uses, all tolerant of
//! absent or null values (octocrab's own models miss fields such as a check run's `status`, and
//! reject values like a job status of `requested`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct CheckRunList {
    #[serde(default)]
    pub total_count: u64,
    #[serde(default)]
    pub check_runs: Vec<CheckRun>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct CheckRun {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub head_sha: String,
    /// `queued`, `in_progress`, `completed`, `waiting`, `requested`, `pending`.
    #[serde(default)]
    pub status: String,
    /// Set once completed: `success`, `failure`, `neutral`, `cancelled`, `skipped`, `timed_out`,
    /// `action_required`, `startup_failure`, `stale`.
    pub conclusion: Option<String>,
    pub details_url: Option<String>,
    pub html_url: Option<String>,
    #[serde(default)]
    pub output: CheckOutput,
    pub app: Option<CheckApp>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct CheckOutput {
    pub title: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
    #[serde(default)]
    pub annotations_count: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct CheckApp {
    #[serde(default)]
    pub slug: String,
}

impl CheckRun {
    /// Runs made by GitHub Actions: their id is the job id, so their log can be fetched.
    pub fn is_actions(&self) -> bool {
        self.app
            .as_ref()
            .is_some_and(|a| a.slug == "github-actions")
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Annotation {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub start_line: u32,
    #[serde(default)]
    pub end_line: u32,
    /// `failure`, `warning`, `notice`.
    #[serde(default)]
    pub annotation_level: String,
    pub title: Option<String>,
    #[serde(default)]
    pub message: String,
    pub raw_details: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct CombinedStatus {
    /// `pending` even when there are no statuses at all: look at `total_count`.
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub total_count: u64,
    #[serde(default)]
    pub statuses: Vec<CommitStatus>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct CommitStatus {
    #[serde(default)]
    pub context: String,
    /// `pending`, `success`, `failure`, `error`.
    #[serde(default)]
    pub state: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct WorkflowRunList {
    #[serde(default)]
    pub total_count: u64,
    #[serde(default)]
    pub workflow_runs: Vec<WorkflowRun>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct WorkflowRun {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub head_sha: String,
    #[serde(default)]
    pub status: Option<String>,
    pub conclusion: Option<String>,
    #[serde(default)]
    pub run_attempt: Option<u32>,
    #[serde(default)]
    pub event: Option<String>,
    pub html_url: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct JobList {
    #[serde(default)]
    pub total_count: u64,
    #[serde(default)]
    pub jobs: Vec<Job>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Job {
    pub id: u64,
    #[serde(default)]
    pub run_id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub status: Option<String>,
    pub conclusion: Option<String>,
    #[serde(default)]
    pub steps: Vec<JobStep>,
    pub html_url: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct JobStep {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub number: u32,
    pub conclusion: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    #[serde(default)]
    pub node_id: String,
    #[serde(default)]
    pub html_url: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub draft: bool,
    #[serde(default)]
    pub head: PrRef,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct PrRef {
    #[serde(rename = "ref", default)]
    pub branch: String,
    #[serde(default)]
    pub sha: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct NewPullRequest<'a> {
    pub title: &'a str,
    pub head: &'a str,
    pub base: &'a str,
    pub body: &'a str,
    pub draft: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Branch {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub commit: BranchCommit,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct BranchCommit {
    #[serde(default)]
    pub sha: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct RepoInfo {
    #[serde(default)]
    pub default_branch: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Installation {
    pub id: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_runs_keep_status_and_tolerate_nulls() {
        let json = r#"{"total_count":1,"check_runs":[{"id":7,"name":"test","head_sha":"abc","status":"in_progress",
            "conclusion":null,"details_url":null,"output":{"title":null,"summary":null,"text":null,"annotations_count":0},
            "app":{"id":15368,"slug":"github-actions"},"extra":"ignored"}]}"#;
        let list: CheckRunList = serde_json::from_str(json).unwrap();
        let run = &list.check_runs[0];
        assert_eq!(
            (run.status.as_str(), run.conclusion.as_deref()),
            ("in_progress", None)
        );
        assert!(run.is_actions());
    }

    #[test]
    fn jobs_accept_statuses_octocrab_rejects() {
        let json = r#"{"total_count":1,"jobs":[{"id":1,"run_id":2,"name":"t","status":"requested","conclusion":null,"steps":[]}]}"#;
        let jobs: JobList = serde_json::from_str(json).unwrap();
        assert_eq!(jobs.jobs[0].status.as_deref(), Some("requested"));
    }
}
