//! Gathering what the feedback needs about each failed check: annotations, the failed steps and
//! the job log (GitHub Actions check runs share their id with the job), and whether the same
//! check also fails on the base branch.

use super::{
    feedback::{Annotation, AnnotationLevel, FailedCheck},
    verdict::{evaluate, CheckOutcome, CheckSource, CiState},
    watch::snapshot,
};
use crate::forge::{api::ForgeError, types::Job, Repo};
use std::collections::{HashMap, HashSet};

/// Jobs of every workflow run on `sha`, by job id (== check run id), with the workflow's name.
async fn jobs_by_id(
    repo: &Repo,
    sha: &str,
) -> Result<HashMap<u64, (Job, Option<String>)>, ForgeError> {
    let mut jobs = HashMap::new();
    for run in repo.workflow_runs(sha).await? {
        for job in repo.jobs(run.id).await? {
            jobs.insert(job.id, (job, run.name.clone()));
        }
    }
    Ok(jobs)
}

/// Names of the checks failing on `base_sha` (empty when its CI is unknown or unfinished).
pub async fn failing_on_base(repo: &Repo, base_sha: &str) -> HashSet<String> {
    match snapshot(repo, base_sha).await.map(|s| evaluate(&s)) {
        Ok(CiState::Completed { failed, .. }) => failed.into_iter().map(|c| c.name).collect(),
        Ok(_) => HashSet::new(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the base branch's CI; no failure is treated as pre-existing");
            HashSet::new()
        }
    }
}

/// Everything known about each failed check. A detail GitHub will not give (a log that expired)
/// is left out rather than failing the round.
pub async fn collect_failures(
    repo: &Repo,
    sha: &str,
    failed: &[CheckOutcome],
    base_failing: &HashSet<String>,
) -> Result<Vec<FailedCheck>, ForgeError> {
    let jobs = jobs_by_id(repo, sha).await?;
    let mut checks = Vec::with_capacity(failed.len());
    for outcome in failed {
        let mut check = FailedCheck {
            name: outcome.name.clone(),
            workflow: None,
            conclusion: outcome.conclusion.clone(),
            details_url: None,
            summary: None,
            annotations: Vec::new(),
            failed_steps: Vec::new(),
            log: None,
            preexisting: base_failing.contains(&outcome.name),
        };
        match &outcome.source {
            CheckSource::CheckRun {
                id,
                actions,
                details_url,
            } => {
                check.details_url = details_url.clone();
                check.annotations = repo
                    .annotations(*id)
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| Annotation {
                        path: a.path,
                        start_line: a.start_line,
                        end_line: a.end_line,
                        level: match a.annotation_level.as_str() {
                            "failure" => AnnotationLevel::Failure,
                            "warning" => AnnotationLevel::Warning,
                            _ => AnnotationLevel::Notice,
                        },
                        title: a.title,
                        message: a.message,
                        raw_details: a.raw_details,
                    })
                    .collect();
                if let Some((job, workflow)) = jobs.get(id) {
                    check.workflow = workflow.clone();
                    check.failed_steps = job
                        .steps
                        .iter()
                        .filter(|s| s.conclusion.as_deref() == Some("failure"))
                        .map(|s| s.name.clone())
                        .collect();
                }
                if *actions {
                    check.log = repo.job_log(*id).await.unwrap_or(None);
                }
            }
            CheckSource::Status {
                target_url,
                description,
            } => {
                check.details_url = target_url.clone();
                check.summary = description.clone();
            }
        }
        checks.push(check);
    }
    Ok(checks)
}

/// Workflow runs on `sha` with a failed job: what a re-run of failed jobs targets.
pub async fn failed_workflow_runs(
    repo: &Repo,
    sha: &str,
    failed: &[CheckOutcome],
) -> Result<Vec<u64>, ForgeError> {
    let failed_ids: HashSet<u64> = failed
        .iter()
        .filter_map(|c| match c.source {
            CheckSource::CheckRun {
                id, actions: true, ..
            } => Some(id),
            _ => None,
        })
        .collect();
    let jobs = jobs_by_id(repo, sha).await?;
    let mut runs: Vec<u64> = jobs
        .values()
        .filter(|(job, _)| failed_ids.contains(&job.id))
        .map(|(job, _)| job.run_id)
        .collect();
    runs.sort_unstable();
    runs.dedup();
    Ok(runs)
}

/// Signs in a failed check that the change is not to blame: the runner or the network broke.
const INFRASTRUCTURE_SIGNS: [&str; 16] = [
    "econnreset",
    "etimedout",
    "econnrefused",
    "could not resolve host",
    "temporary failure in name resolution",
    "connection reset by peer",
    "503 service unavailable",
    "502 bad gateway",
    "504 gateway timeout",
    "rate limit exceeded",
    "the runner has received a shutdown signal",
    "lost communication with the server",
    "no space left on device",
    "the hosted runner encountered an error",
    "unable to access 'https://",
    "tls handshake timeout",
];

/// Why a failure looks unrelated to the change, if it does.
pub fn infrastructure_failure(check: &FailedCheck) -> Option<String> {
    if check.conclusion == "startup_failure" {
        return Some(format!("{} could not start", check.name));
    }
    let text = [check.log.as_deref(), check.summary.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n")
        .to_ascii_lowercase();
    INFRASTRUCTURE_SIGNS
        .iter()
        .find(|sign| text.contains(*sign))
        .map(|sign| {
            format!(
                "{} failed with \"{sign}\", which looks like infrastructure, not code",
                check.name
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(conclusion: &str, log: Option<&str>) -> FailedCheck {
        FailedCheck {
            name: "test".into(),
            workflow: Some("CI".into()),
            conclusion: conclusion.into(),
            details_url: None,
            summary: None,
            annotations: vec![],
            failed_steps: vec![],
            log: log.map(str::to_string),
            preexisting: false,
        }
    }

    #[test]
    fn infrastructure_failures_are_recognised_and_code_failures_are_not() {
        assert!(
            infrastructure_failure(&check("failure", Some("npm ERR! network ECONNRESET")))
                .is_some()
        );
        assert!(infrastructure_failure(&check(
            "failure",
            Some("fatal: unable to access 'https://github.com/x'")
        ))
        .is_some());
        assert!(infrastructure_failure(&check("startup_failure", None)).is_some());
        assert!(
            infrastructure_failure(&check("failure", Some("assertion failed: left == right")))
                .is_none()
        );
        assert!(infrastructure_failure(&check("failure", None)).is_none());
    }
}
