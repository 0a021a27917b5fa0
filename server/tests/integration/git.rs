//! Host-side git against a real smart-HTTP server with token auth.

use crate::git_http::GitServer;
use server::{
    config::Secret,
    git::{Author, Git},
};

const TOKEN: &str = "ghs_test_token_0123456789";

#[tokio::test]
async fn clones_and_pushes_with_the_token_which_never_lands_on_disk() {
    let server = GitServer::start(TOKEN).await;
    server
        .create_repo("octo/demo", &[("README.md", "# demo\n")])
        .await;
    let work = tempfile::tempdir().unwrap();
    let url = format!("{}/octo/demo.git", server.url());
    let git = Git::new(work.path().join("ws"), &url, Some(Secret::new(TOKEN)));
    git.clone_repo().await.unwrap();
    assert_eq!(git.default_branch().await.unwrap(), "main");
    git.create_branch("amp/1234abcd-demo", "main")
        .await
        .unwrap();
    std::fs::write(git.dir().join("feature.txt"), "done\n").unwrap();
    let author = Author {
        name: "Amp Orchestrator".into(),
        email: "bot@example.com".into(),
    };
    let sha = git.commit_all(&author, "amp: demo").await.unwrap();
    git.push("amp/1234abcd-demo", None).await.unwrap();
    assert_eq!(
        server
            .branch_sha("octo/demo", "amp/1234abcd-demo")
            .await
            .as_deref(),
        Some(sha.as_str())
    );
    assert_eq!(
        server
            .file_at("octo/demo", "amp/1234abcd-demo", "feature.txt")
            .await
            .as_deref(),
        Some("done\n")
    );

    // Nothing under the workspace mentions the token.
    for entry in walk(git.dir()) {
        let bytes = std::fs::read(&entry).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(TOKEN), "token found in {}", entry.display());
        assert!(
            !text.contains(&server::git::basic_credentials(TOKEN)),
            "encoded token in {}",
            entry.display()
        );
    }
    let config = std::fs::read_to_string(git.dir().join(".git/config")).unwrap();
    assert!(
        config.contains(&format!("url = {}/octo/demo.git", server.url())),
        "plain URL, no credentials: {config}"
    );
}

#[tokio::test]
async fn a_wrong_or_missing_token_fails_fast_without_prompting() {
    let server = GitServer::start(TOKEN).await;
    server.create_repo("octo/demo", &[("README.md", "x")]).await;
    let work = tempfile::tempdir().unwrap();
    for token in [None, Some(Secret::new("ghs_wrong"))] {
        let url = format!("{}/octo/demo.git", server.url());
        let git = Git::new(
            work.path().join(format!("ws-{}", token.is_some())),
            url,
            token,
        );
        let started = std::time::Instant::now();
        let err = git.clone_repo().await.unwrap_err().to_string();
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        assert!(err.contains("clone"), "{err}");
        assert!(!err.contains("ghs_wrong"), "{err}");
    }
    assert!(server.unauthorized_requests() >= 2);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
