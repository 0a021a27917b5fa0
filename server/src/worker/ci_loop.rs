//! The CI loop, after the first push: watch CI on the pushed commit; green → open the pull
//! request; red → structured feedback to the same agent thread in the same container, commit,
//! push, watch the new commit; repeat until green or `max_iterations`. A failure that looks like
//! infrastructure (or that the agent answers with no change at all) is re-run once first.

use super::actor::{Stop, TaskActor};
use crate::{
    ci::{
        collect::{
            collect_failures, failed_workflow_runs, failing_on_base, infrastructure_failure,
        },
        feedback::{self, FeedbackInput},
        pr::{self, PrContent, RoundRecord},
        verdict::{CheckOutcome, CheckSource, CiState},
        watch::{watch, WatchConfig, WatchError, WatchOutcome},
    },
    config::{NoCiPolicy, PrStrategy},
    forge::{
        api::ForgeError,
        types::{NewPullRequest, PullRequest},
        Repo,
    },
    store::RunPhase,
};
use app::model::{CheckResult, CiVerdict, TaskEvent, TaskStatus};
use std::{collections::HashSet, sync::Arc, time::Instant};
use tokio::sync::Notify;

/// Where the full CI logs of a round are written, relative to the workspace (git-ignored).
fn logs_dir(round: u32) -> String {
    format!(".amp-orchestrator/ci/round-{round}")
}

fn forge_stop(context: &str, e: ForgeError) -> Stop {
    Stop::Failed(format!("github_failed: {context}: {e}"))
}

/// Per-round bookkeeping.
struct Loop {
    repo: Repo,
    rounds: Vec<RoundRecord>,
    draft: Option<PullRequest>,
    /// Failed jobs were re-run for the current commit already.
    rerun_done: bool,
    summary: Option<String>,
}

impl TaskActor {
    /// From the first push to an open pull request (or a failure that says why).
    pub(super) async fn ci_loop(&mut self) -> Result<(), Stop> {
        let forge = self.deps.forge.clone().ok_or_else(|| {
            Stop::Failed("github_not_configured: set github.token or github.app to watch CI and open pull requests".into())
        })?;
        let repo = forge
            .repo(&self.task.repo)
            .await
            .map_err(|e| forge_stop("cannot reach the repository", e))?;
        let mut state = Loop {
            repo,
            rounds: Vec::new(),
            draft: None,
            rerun_done: false,
            summary: self.last_summary.clone(),
        };
        if self.deps.config.ci.pr_strategy == PrStrategy::DraftFirst {
            self.ensure_pull_request(&mut state, true).await?;
        }
        let max_rounds = self
            .task
            .max_iterations
            .unwrap_or(self.deps.config.ci.max_iterations);
        let mut round = self.task.iterations.max(1);
        loop {
            let sha = self
                .run
                .pushed_sha
                .clone()
                .ok_or_else(|| Stop::Failed("internal: nothing pushed".into()))?;
            self.deps
                .hub
                .store()
                .set_iterations(self.task.id, round)
                .await
                .map_err(|e| Stop::Failed(e.to_string()))?;
            self.task.iterations = round;
            if self.task.status != TaskStatus::AwaitingCi {
                self.set_status(
                    TaskStatus::AwaitingCi,
                    Some(format!("watching CI on {} (round {round})", short(&sha))),
                )
                .await?;
            }
            self.emit(TaskEvent::CiRoundStarted {
                round,
                sha: sha.clone(),
            })
            .await;
            let started = Instant::now();
            let outcome = self.watch_ci(&state.repo, &sha, round).await?;
            let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

            let (failed, passed) = match outcome {
                WatchOutcome::NoChecks => {
                    if self.deps.config.ci.pr_strategy == PrStrategy::Auto && state.draft.is_none()
                    {
                        // Workflows that run only on pull requests need one: open a draft, look again.
                        self.ensure_pull_request(&mut state, true).await?;
                        continue;
                    }
                    self.finish_round(
                        &mut state,
                        round,
                        &sha,
                        CiVerdict::NoChecks,
                        Vec::new(),
                        duration_ms,
                    )
                    .await;
                    return match self.deps.config.ci.no_ci {
                        NoCiPolicy::Success => self.open_when_green(&mut state).await,
                        NoCiPolicy::Fail => Err(Stop::Failed(format!(
                            "no_ci: no CI check ran on {} within ci.no_ci_grace ({})",
                            short(&sha),
                            self.deps.config.ci.no_ci_grace
                        ))),
                    };
                }
                WatchOutcome::TimedOut { waiting } => {
                    self.finish_round(
                        &mut state,
                        round,
                        &sha,
                        CiVerdict::TimedOut,
                        Vec::new(),
                        duration_ms,
                    )
                    .await;
                    return Err(Stop::Failed(format!(
                        "ci_timeout: CI on {} did not finish within ci.round_timeout ({}); still waiting for {}",
                        short(&sha),
                        self.deps.config.ci.round_timeout,
                        waiting.join(", ")
                    )));
                }
                WatchOutcome::Completed { failed, passed } => (failed, passed),
            };

            let base_failing = if failed.is_empty() || !self.deps.config.ci.ignore_preexisting {
                HashSet::new()
            } else {
                failing_on_base(
                    &state.repo,
                    self.run.base_sha.as_deref().unwrap_or_default(),
                )
                .await
            };
            let results = check_results(&failed, &passed, &base_failing);
            let actionable: Vec<&CheckOutcome> = failed
                .iter()
                .filter(|c| !base_failing.contains(&c.name))
                .collect();
            if actionable.is_empty() {
                self.finish_round(
                    &mut state,
                    round,
                    &sha,
                    CiVerdict::Green,
                    results,
                    duration_ms,
                )
                .await;
                return self.open_when_green(&mut state).await;
            }

            let checks = collect_failures(&state.repo, &sha, &failed, &base_failing)
                .await
                .map_err(|e| forge_stop("cannot read the failed checks", e))?;
            // Infrastructure trouble: re-run the failed jobs once before counting a round.
            if self.deps.config.ci.rerun_flaky && !state.rerun_done {
                let reasons: Vec<String> = checks
                    .iter()
                    .filter(|c| !c.preexisting)
                    .filter_map(infrastructure_failure)
                    .collect();
                if !reasons.is_empty()
                    && self
                        .rerun_failed(&mut state, round, &sha, &failed, reasons.join("; "))
                        .await?
                {
                    continue;
                }
            }
            self.finish_round(
                &mut state,
                round,
                &sha,
                CiVerdict::Red,
                results,
                duration_ms,
            )
            .await;
            if round >= max_rounds {
                return Err(Stop::Failed(format!(
                    "ci_still_failing: CI still fails after {round} round{} (max_iterations {max_rounds}); the last feedback is in the task's events",
                    if round == 1 { "" } else { "s" }
                )));
            }

            // Feedback to the same thread, in the same container.
            let max_bytes =
                usize::try_from(self.deps.config.ci.feedback_max_bytes.0).unwrap_or(usize::MAX);
            let dir = logs_dir(round);
            let branch = self.task.branch.clone().unwrap_or_default();
            let built = feedback::build(&FeedbackInput {
                sha: &sha,
                branch: &branch,
                round,
                checks: &checks,
                max_bytes,
                logs_dir: &dir,
            });
            self.write_ci_logs(&built.files).await;
            self.emit(TaskEvent::CiFeedback {
                round,
                text: built.text.clone(),
                truncated: built.truncated,
            })
            .await;
            self.set_status(
                TaskStatus::Fixing,
                Some(format!("CI round {round} failed; the agent is fixing it")),
            )
            .await?;
            self.run_turn(round + 1, &built.text, true).await?;
            state.summary = self.last_summary.clone();
            let changed = self.commit_turn(round + 1).await?;
            if !changed {
                if self.deps.config.ci.rerun_flaky && !state.rerun_done {
                    let reason = "the agent found nothing to change for these failures".to_string();
                    if self
                        .rerun_failed(&mut state, round, &sha, &failed, reason)
                        .await?
                    {
                        round += 1;
                        continue;
                    }
                }
                return Err(Stop::Failed(
                    "ci_still_failing: the agent made no change in answer to the CI failures"
                        .into(),
                ));
            }
            self.push().await?;
            state.rerun_done = false;
            round += 1;
        }
    }

    /// Watches one commit, registering for webhook wake-ups on its SHA while it waits.
    async fn watch_ci(&mut self, repo: &Repo, sha: &str, round: u32) -> Result<WatchOutcome, Stop> {
        let ci = &self.deps.config.ci;
        let config = WatchConfig {
            poll_interval: ci.poll_interval.0,
            settle: ci.settle_window.0,
            no_ci_grace: ci.no_ci_grace.0,
            round_timeout: ci.round_timeout.0,
        };
        let wake = Arc::new(Notify::new());
        self.deps.ci_wakes.register(sha, wake.clone());
        let mut progress = Vec::new();
        let cancel = self.cancel.clone();
        let shutdown = self.deps.shutdown.clone();
        let result = tokio::select! {
            r = watch(repo, sha, &config, &wake, &cancel, |state| {
                if let CiState::Pending { waiting } = state {
                    progress.push(waiting.clone());
                }
            }) => r,
            _ = shutdown.cancelled() => Err(WatchError::Cancelled),
        };
        self.deps.ci_wakes.unregister(sha);
        // Pending sets are reported after the fact: watching cannot await the event log.
        if let Some(waiting) = progress.into_iter().last() {
            self.emit(TaskEvent::CiWaiting { round, waiting }).await;
        }
        match result {
            Ok(outcome) => Ok(outcome),
            Err(WatchError::Cancelled) if self.cancel.is_cancelled() => Err(Stop::Cancelled),
            Err(WatchError::Cancelled) => Err(Stop::Shutdown),
            Err(WatchError::Forge(e)) => Err(forge_stop("cannot read CI", e)),
        }
    }

    /// Re-runs the failed jobs of `sha` once; `false` when nothing could be re-run.
    async fn rerun_failed(
        &mut self,
        state: &mut Loop,
        round: u32,
        sha: &str,
        failed: &[CheckOutcome],
        reason: String,
    ) -> Result<bool, Stop> {
        let runs = failed_workflow_runs(&state.repo, sha, failed)
            .await
            .map_err(|e| forge_stop("cannot find the failed workflow runs", e))?;
        if runs.is_empty() {
            return Ok(false);
        }
        for run in &runs {
            state
                .repo
                .rerun_failed_jobs(*run)
                .await
                .map_err(|e| forge_stop("cannot re-run the failed jobs", e))?;
        }
        state.rerun_done = true;
        let checks = failed
            .iter()
            .filter(|c| matches!(c.source, CheckSource::CheckRun { actions: true, .. }))
            .map(|c| c.name.clone())
            .collect();
        self.emit(TaskEvent::CiRerun {
            round,
            checks,
            reason,
        })
        .await;
        Ok(true)
    }

    async fn finish_round(
        &mut self,
        state: &mut Loop,
        round: u32,
        sha: &str,
        verdict: CiVerdict,
        checks: Vec<CheckResult>,
        duration_ms: u64,
    ) {
        self.emit(TaskEvent::CiRoundFinished {
            round,
            sha: sha.to_string(),
            verdict,
            checks: checks.clone(),
            duration_ms,
        })
        .await;
        state.rounds.push(RoundRecord {
            round,
            sha: sha.to_string(),
            verdict,
            checks,
            duration_ms,
        });
    }

    /// Green (or CI absent and allowed): the pull request, ready for review.
    async fn open_when_green(&mut self, state: &mut Loop) -> Result<(), Stop> {
        self.set_status(
            TaskStatus::OpeningPr,
            Some("CI is green; opening the pull request".into()),
        )
        .await?;
        let pr = self.ensure_pull_request(state, false).await?;
        if pr.draft {
            state
                .repo
                .mark_ready_for_review(&pr)
                .await
                .map_err(|e| forge_stop("cannot mark the pull request ready for review", e))?;
            self.emit(TaskEvent::PullRequestReady {
                number: pr.number,
                url: pr.html_url.clone(),
            })
            .await;
        }
        self.run.phase = RunPhase::Finished;
        Ok(())
    }

    /// The branch's open pull request — found, or created once (idempotent across restarts) —
    /// with its body brought up to date.
    async fn ensure_pull_request(
        &mut self,
        state: &mut Loop,
        draft: bool,
    ) -> Result<PullRequest, Stop> {
        let branch = self
            .task
            .branch
            .clone()
            .ok_or_else(|| Stop::Failed("internal: no branch".into()))?;
        let base = self.run.base_branch.clone().unwrap_or_default();
        let content = PrContent {
            task: &self.task,
            summary: state.summary.as_deref(),
            rounds: &state.rounds,
            task_url: self
                .deps
                .config
                .server
                .public_url
                .as_ref()
                .map(|u| format!("{}/tasks/{}", u.trim_end_matches('/'), self.task.id)),
            in_progress: draft,
        };
        let body = pr::body(&content);
        let existing = state
            .repo
            .open_pull_request(&branch)
            .await
            .map_err(|e| forge_stop("cannot look for an existing pull request", e))?;
        let pr = match existing {
            Some(pr) => {
                state
                    .repo
                    .update_pull_request_body(pr.number, &body)
                    .await
                    .map_err(|e| forge_stop("cannot update the pull request", e))?;
                pr
            }
            None => {
                let title = pr::title(&self.task);
                let pr = state
                    .repo
                    .create_pull_request(&NewPullRequest {
                        title: &title,
                        head: &branch,
                        base: &base,
                        body: &body,
                        draft,
                    })
                    .await
                    .map_err(|e| forge_stop("cannot open the pull request", e))?;
                self.emit(TaskEvent::PullRequestOpened {
                    number: pr.number,
                    url: pr.html_url.clone(),
                    draft: pr.draft,
                })
                .await;
                pr
            }
        };
        self.deps
            .hub
            .store()
            .set_pull_request(self.task.id, pr.number, &pr.html_url)
            .await
            .map_err(|e| Stop::Failed(e.to_string()))?;
        self.task.pr_number = Some(pr.number);
        self.task.pr_url = Some(pr.html_url.clone());
        if draft {
            state.draft = Some(pr.clone());
        }
        Ok(pr)
    }

    /// Writes the round's full CI logs into the workspace, where the agent can read them, and
    /// keeps them out of git.
    async fn write_ci_logs(&self, files: &[feedback::LogFile]) {
        let Some(git) = self.git.as_ref() else { return };
        let root = git.dir().to_path_buf();
        for file in files {
            let path = root.join(&file.path);
            if let Some(parent) = path.parent() {
                let _ = tokio::fs::create_dir_all(parent).await;
            }
            if let Err(e) = tokio::fs::write(&path, &file.content).await {
                tracing::warn!(error = %e, path = %file.path, "cannot write a CI log into the workspace");
            }
        }
        let exclude = root.join(".git/info/exclude");
        let current = tokio::fs::read_to_string(&exclude)
            .await
            .unwrap_or_default();
        if !current.lines().any(|l| l.trim() == "/.amp-orchestrator/") {
            let _ = tokio::fs::create_dir_all(root.join(".git/info")).await;
            let _ = tokio::fs::write(&exclude, format!("{current}\n/.amp-orchestrator/\n")).await;
        }
        let (uid, gid) = crate::runtime::agent_user();
        let _ = crate::runtime::chown_tree(&root.join(".amp-orchestrator"), uid, gid).await;
    }
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

fn check_results(
    failed: &[CheckOutcome],
    passed: &[CheckOutcome],
    preexisting: &HashSet<String>,
) -> Vec<CheckResult> {
    failed
        .iter()
        .chain(passed)
        .map(|c| CheckResult {
            name: c.name.clone(),
            conclusion: c.conclusion.clone(),
            url: match &c.source {
                CheckSource::CheckRun { details_url, .. } => details_url.clone(),
                CheckSource::Status { target_url, .. } => target_url.clone(),
            },
            preexisting: preexisting.contains(&c.name),
        })
        .collect()
}
