//! Not a test: a fixture the browser tests (`scripts/e2e.sh`) run in the background. It serves a
//! fake GitHub with a repository whose CI fails until the agent writes what the CI log asks for,
//! builds the test agent image, prints one `E2E_READY …` line, and stays up until the file named
//! by `E2E_STOP_FILE` appears (or 20 minutes pass).

use crate::{
    agent_image::test_image,
    fake_github::{FakeGithub, FakeGithubOptions},
};
use std::time::{Duration, Instant};

/// CI for the browser test: red until `answer.txt` holds 42, saying so in the log.
const CI_SCRIPT: &str = "#!/bin/sh\n\
    if [ \"$(cat answer.txt 2>/dev/null)\" = 42 ]; then echo 'test result: ok'; exit 0; fi\n\
    echo \"thread 'answer' panicked at src/lib.rs:7:5:\"\n\
    echo 'error: answer.txt must contain 42'\n\
    echo 'WRITE answer.txt 42'\n\
    exit 101\n";

#[tokio::test]
#[ignore = "a fixture for scripts/e2e.sh, not a test"]
async fn serve_fake_github_for_e2e() {
    let token = std::env::var("E2E_GH_TOKEN").unwrap_or_else(|_| "ghp_e2e_token_0123456789".into());
    let stop = std::env::var("E2E_STOP_FILE").unwrap_or_else(|_| "/tmp/amp-e2e-stop".into());
    let gh = FakeGithub::start(FakeGithubOptions {
        token,
        queue_delay: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    gh.create_repo(
        "octo/app",
        &[
            ("README.md", "# app\n"),
            (".fake-ci/jobs/test.sh", CI_SCRIPT),
        ],
    )
    .await;
    // Its own repository for tests that only need a running agent, so that whatever happens to
    // their tasks (CI, pull requests) never shows up in octo/app's numbering.
    gh.create_repo(
        "octo/scratch",
        &[
            ("README.md", "# scratch\n"),
            (".fake-ci/jobs/test.sh", CI_SCRIPT),
        ],
    )
    .await;
    let image = test_image().await;
    println!(
        "E2E_READY api={} git={} image={image}",
        gh.api_url(),
        gh.git_url()
    );
    let started = Instant::now();
    while !std::path::Path::new(&stop).exists() && started.elapsed() < Duration::from_secs(20 * 60)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
