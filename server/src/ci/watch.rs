//! Watching CI on one pushed commit until it has really finished.
//!
//! Polling is the source of truth (webhooks only wake the poller early). A result counts only
//! when two polls at least `settle` apart agree on every check's conclusion — late-registering
//! checks and chained workflows would otherwise be missed. Nothing at all within `no_ci_grace`
//! means "no CI"; nothing conclusive within `round_timeout` ends the wait. Every loop is bounded.

use super::verdict::{evaluate, CheckOutcome, CiSnapshot, CiState};
use crate::forge::{api::ForgeError, Repo};
use std::time::Duration;
use tokio::{sync::Notify, time::Instant};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Copy, Debug)]
pub struct WatchConfig {
    pub poll_interval: Duration,
    /// How long a completed result must hold before it is believed.
    pub settle: Duration,
    /// How long "no checks at all" may last before it means "this commit has no CI".
    pub no_ci_grace: Duration,
    pub round_timeout: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchOutcome {
    /// Every check finished and the result held through the settle window.
    Completed {
        failed: Vec<CheckOutcome>,
        passed: Vec<CheckOutcome>,
    },
    /// No check appeared within the grace window.
    NoChecks,
    /// Still pending when the round's time ran out; what was being waited for.
    TimedOut { waiting: Vec<String> },
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("GitHub kept failing while CI was watched: {0}")]
    Forge(#[from] ForgeError),
    #[error("cancelled")]
    Cancelled,
}

/// Consecutive failed polls tolerated (each already retried with backoff) before giving up.
const MAX_POLL_FAILURES: u32 = 5;

/// Everything GitHub reports on `sha`, fetched concurrently.
pub async fn snapshot(repo: &Repo, sha: &str) -> Result<CiSnapshot, ForgeError> {
    let (check_runs, status, workflow_runs) = tokio::join!(
        repo.check_runs(sha),
        repo.combined_status(sha),
        repo.workflow_runs(sha)
    );
    Ok(CiSnapshot {
        check_runs: check_runs?,
        status: status?,
        workflow_runs: workflow_runs?,
    })
}

/// Polls until CI on `sha` is conclusive. `wake` (a webhook about this commit) polls at once;
/// `cancel` ends the wait. `on_progress` hears each new pending set (for events and the UI).
pub async fn watch(
    repo: &Repo,
    sha: &str,
    config: &WatchConfig,
    wake: &Notify,
    cancel: &CancellationToken,
    mut on_progress: impl FnMut(&CiState),
) -> Result<WatchOutcome, WatchError> {
    let started = Instant::now();
    let mut candidate: Option<(Vec<(String, String)>, Instant)> = None;
    let mut failures = 0u32;
    let mut last_reported: Option<CiState> = None;
    loop {
        match snapshot(repo, sha).await {
            Ok(snap) => {
                failures = 0;
                let state = evaluate(&snap);
                if last_reported.as_ref() != Some(&state) {
                    on_progress(&state);
                    last_reported = Some(state.clone());
                }
                match state {
                    CiState::Completed { failed, passed } => {
                        let fingerprint = CiState::Completed {
                            failed: failed.clone(),
                            passed: passed.clone(),
                        }
                        .fingerprint();
                        match &candidate {
                            Some((seen, since))
                                if *seen == fingerprint && since.elapsed() >= config.settle =>
                            {
                                return Ok(WatchOutcome::Completed { failed, passed });
                            }
                            Some((seen, _)) if *seen == fingerprint => {}
                            _ => candidate = Some((fingerprint, Instant::now())),
                        }
                    }
                    CiState::NoChecks => {
                        candidate = None;
                        if started.elapsed() >= config.no_ci_grace {
                            return Ok(WatchOutcome::NoChecks);
                        }
                    }
                    CiState::Pending { waiting } => {
                        candidate = None;
                        if started.elapsed() >= config.round_timeout {
                            return Ok(WatchOutcome::TimedOut { waiting });
                        }
                    }
                }
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(%sha, failures, error = %e, "polling CI failed");
                if failures >= MAX_POLL_FAILURES {
                    return Err(WatchError::Forge(e));
                }
            }
        }
        if started.elapsed() >= config.round_timeout.max(config.no_ci_grace) + config.settle {
            return Ok(WatchOutcome::TimedOut {
                waiting: vec!["a conclusive result".into()],
            });
        }
        // Poll again after the interval — sooner when a result is settling.
        let mut wait = config.poll_interval;
        if let Some((_, since)) = &candidate {
            wait = wait.min(
                config
                    .settle
                    .saturating_sub(since.elapsed())
                    .max(Duration::from_millis(50)),
            );
        }
        tokio::select! {
            _ = cancel.cancelled() => return Err(WatchError::Cancelled),
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
