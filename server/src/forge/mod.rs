//! The forge (GitHub): who we are to it, and what we ask of it for one repository.
//!
//! - [`api`]: the REST client (auth from octocrab; ETags, rate limits, backoff of our own).
//! - [`types`]: the payloads we read, tolerant where octocrab's models are not.
//!
//! Auth is a personal token (`github.token`) or a GitHub App (`github.app`): the App signs a JWT,
//! finds the repository's installation and gets an installation token, which octocrab caches and
//! refreshes before it expires. The same token pushes the branch.

pub mod api;
pub mod types;

use crate::config::{GithubConfig, Secret};
use api::{ForgeError, GithubApi, RetryPolicy};
use octocrab::{models::InstallationId, Octocrab};
use serde::Serialize;
use std::{collections::HashMap, sync::Arc};
use tokio::sync::Mutex;
use types::*;

/// How we authenticate.
enum Identity {
    Token {
        api: Arc<GithubApi>,
        token: Secret,
    },
    /// Boxed: the App's client and installation cache dwarf the token variant.
    App(Box<AppIdentity>),
}

struct AppIdentity {
    app: Octocrab,
    installations: Mutex<HashMap<String, Installed>>,
}

#[derive(Clone)]
struct Installed {
    crab: Octocrab,
    api: Arc<GithubApi>,
}

pub struct Forge {
    identity: Identity,
    api_url: String,
    retry: RetryPolicy,
}

fn crab_error(e: octocrab::Error) -> ForgeError {
    ForgeError::Config(e.to_string())
}

impl Forge {
    /// From `github.*`; `None` when neither a token nor an App is configured.
    pub fn from_config(
        config: &GithubConfig,
        retry: RetryPolicy,
    ) -> Result<Option<Forge>, ForgeError> {
        let base = || {
            Octocrab::builder()
                .base_uri(config.api_url.as_str())
                .map_err(crab_error)
        };
        if let Some(app) = &config.app {
            let pem = std::fs::read(&app.private_key_path).map_err(|e| {
                ForgeError::Config(format!(
                    "github.app.private_key_path: cannot read {}: {e}",
                    app.private_key_path.display()
                ))
            })?;
            let crab = base()?
                .app_from_rsa_pem(app.app_id.into(), pem)
                .map_err(|e| {
                    ForgeError::Config(format!(
                        "github.app.private_key_path: not an RSA private key: {e}"
                    ))
                })?
                .build()
                .map_err(crab_error)?;
            return Ok(Some(Forge {
                identity: Identity::App(Box::new(AppIdentity {
                    app: crab,
                    installations: Mutex::new(HashMap::new()),
                })),
                api_url: config.api_url.clone(),
                retry,
            }));
        }
        let Some(token) = config.token.clone().filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let crab = base()?
            .personal_token(token.expose().to_string())
            .build()
            .map_err(crab_error)?;
        Ok(Some(Forge {
            identity: Identity::Token {
                api: Arc::new(GithubApi::new(crab, retry)),
                token,
            },
            api_url: config.api_url.clone(),
            retry,
        }))
    }

    /// The client for `owner/name` (for an App: that repository's installation).
    pub async fn repo(&self, repo: &str) -> Result<Repo, ForgeError> {
        let api = match &self.identity {
            Identity::Token { api, .. } => api.clone(),
            Identity::App(_) => self.installation(repo).await?.api,
        };
        Ok(Repo {
            api,
            path: format!("/repos/{repo}"),
            full_name: repo.to_string(),
        })
    }

    /// The token that pushes to `owner/name` (the App's installation token is fresh enough to
    /// outlive a push: octocrab refreshes it when less than a minute is left).
    pub async fn git_token(&self, repo: &str) -> Result<Secret, ForgeError> {
        match &self.identity {
            Identity::Token { token, .. } => Ok(token.clone()),
            Identity::App(_) => {
                let installed = self.installation(repo).await?;
                let token = installed
                    .crab
                    .installation_token_with_buffer(chrono::Duration::seconds(120))
                    .await
                    .map_err(|e| {
                        ForgeError::Transport(format!("cannot get an installation token: {e}"))
                    })?;
                use secrecy::ExposeSecret;
                Ok(Secret::new(token.expose_secret().to_string()))
            }
        }
    }

    async fn installation(&self, repo: &str) -> Result<Installed, ForgeError> {
        let Identity::App(identity) = &self.identity else {
            return Err(ForgeError::Config("not a GitHub App".into()));
        };
        let (app, installations) = (&identity.app, &identity.installations);
        let mut known = installations.lock().await;
        if let Some(installed) = known.get(repo) {
            return Ok(installed.clone());
        }
        // The app itself (JWT) finds the installation that covers this repository.
        let app_api = GithubApi::new(app.clone(), self.retry);
        let installation: Installation = app_api
            .get(&format!("/repos/{repo}/installation"))
            .await
            .map_err(|e| match e {
                ForgeError::Status { status: 404, .. } => ForgeError::Config(format!(
                    "the GitHub App is not installed on {repo} (or cannot see it)"
                )),
                other => other,
            })?;
        let crab = app
            .installation(InstallationId(installation.id))
            .map_err(crab_error)?;
        let installed = Installed {
            api: Arc::new(GithubApi::new(crab.clone(), self.retry)),
            crab,
        };
        known.insert(repo.to_string(), installed.clone());
        Ok(installed)
    }

    pub fn api_url(&self) -> &str {
        &self.api_url
    }
}

/// What we ask of one repository.
#[derive(Clone)]
pub struct Repo {
    api: Arc<GithubApi>,
    /// `/repos/owner/name`
    path: String,
    full_name: String,
}

impl Repo {
    pub fn full_name(&self) -> &str {
        &self.full_name
    }

    pub async fn info(&self) -> Result<RepoInfo, ForgeError> {
        self.api.get(&self.path).await
    }

    pub async fn branch(&self, branch: &str) -> Result<Option<Branch>, ForgeError> {
        match self
            .api
            .get(&format!("{}/branches/{branch}", self.path))
            .await
        {
            Ok(b) => Ok(Some(b)),
            Err(ForgeError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The newest check run per name on `sha`, every page.
    pub async fn check_runs(&self, sha: &str) -> Result<Vec<CheckRun>, ForgeError> {
        let mut all = Vec::new();
        for page in 1..=10 {
            let list: CheckRunList = self
                .api
                .get(&format!(
                    "{}/commits/{sha}/check-runs?filter=latest&per_page=100&page={page}",
                    self.path
                ))
                .await?;
            let n = list.check_runs.len();
            all.extend(list.check_runs);
            if n < 100 || all.len() as u64 >= list.total_count {
                break;
            }
        }
        Ok(all)
    }

    pub async fn annotations(&self, check_run_id: u64) -> Result<Vec<Annotation>, ForgeError> {
        self.api
            .get(&format!(
                "{}/check-runs/{check_run_id}/annotations?per_page=100",
                self.path
            ))
            .await
    }

    pub async fn combined_status(&self, sha: &str) -> Result<CombinedStatus, ForgeError> {
        self.api
            .get(&format!("{}/commits/{sha}/status?per_page=100", self.path))
            .await
    }

    pub async fn workflow_runs(&self, sha: &str) -> Result<Vec<WorkflowRun>, ForgeError> {
        let list: WorkflowRunList = self
            .api
            .get(&format!(
                "{}/actions/runs?head_sha={sha}&per_page=100",
                self.path
            ))
            .await?;
        Ok(list.workflow_runs)
    }

    pub async fn jobs(&self, run_id: u64) -> Result<Vec<Job>, ForgeError> {
        let list: JobList = self
            .api
            .get(&format!(
                "{}/actions/runs/{run_id}/jobs?filter=latest&per_page=100",
                self.path
            ))
            .await?;
        Ok(list.jobs)
    }

    /// A job's plain-text log; `None` while it is not available.
    pub async fn job_log(&self, job_id: u64) -> Result<Option<String>, ForgeError> {
        self.api
            .get_text(&format!("{}/actions/jobs/{job_id}/logs", self.path))
            .await
    }

    pub async fn rerun_failed_jobs(&self, run_id: u64) -> Result<(), ForgeError> {
        self.api
            .post_empty(
                &format!("{}/actions/runs/{run_id}/rerun-failed-jobs", self.path),
                &serde_json::json!({}),
            )
            .await
    }

    /// The open pull request from `branch`, if any.
    pub async fn open_pull_request(&self, branch: &str) -> Result<Option<PullRequest>, ForgeError> {
        let owner = self.full_name.split('/').next().unwrap_or_default();
        let prs: Vec<PullRequest> = self
            .api
            .get(&format!(
                "{}/pulls?head={owner}:{branch}&state=open&per_page=10",
                self.path
            ))
            .await?;
        Ok(prs.into_iter().next())
    }

    pub async fn create_pull_request(
        &self,
        pr: &NewPullRequest<'_>,
    ) -> Result<PullRequest, ForgeError> {
        self.api.post(&format!("{}/pulls", self.path), pr).await
    }

    pub async fn update_pull_request_body(
        &self,
        number: u64,
        body: &str,
    ) -> Result<PullRequest, ForgeError> {
        #[derive(Serialize)]
        struct Patch<'a> {
            body: &'a str,
        }
        self.api
            .patch(&format!("{}/pulls/{number}", self.path), &Patch { body })
            .await
    }

    pub async fn pull_request(&self, number: u64) -> Result<PullRequest, ForgeError> {
        self.api.get(&format!("{}/pulls/{number}", self.path)).await
    }

    pub async fn close_pull_request(&self, number: u64) -> Result<PullRequest, ForgeError> {
        self.api
            .patch(
                &format!("{}/pulls/{number}", self.path),
                &serde_json::json!({ "state": "closed" }),
            )
            .await
    }

    /// Turns a draft into a pull request ready for review (REST cannot; GraphQL can).
    pub async fn mark_ready_for_review(&self, pr: &PullRequest) -> Result<(), ForgeError> {
        let query = serde_json::json!({
            "query": "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { isDraft } } }",
            "variables": { "id": pr.node_id },
        });
        let answer: serde_json::Value = self.api.post("/graphql", &query).await?;
        if let Some(errors) = answer.get("errors") {
            return Err(ForgeError::Status {
                status: 200,
                message: format!("GraphQL: {errors}"),
            });
        }
        Ok(())
    }
}
