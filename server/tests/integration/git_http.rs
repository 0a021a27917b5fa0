//! A real git server for tests: `git http-backend` (smart HTTP, as GitHub speaks it) behind a
//! small axum server that demands the token the way GitHub does (`x-access-token:<token>` basic
//! auth, or a bearer token) and answers 401 otherwise.

use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderMap, StatusCode},
    response::Response,
    Router,
};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex},
};
use tokio::io::AsyncWriteExt;

pub struct GitServer {
    pub addr: SocketAddr,
    pub root: tempfile::TempDir,
    /// Every request: (method, path, authorized).
    pub requests: Arc<Mutex<Vec<(String, String, bool)>>>,
    _task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct ServerState {
    root: PathBuf,
    accepted: Vec<String>,
    requests: Arc<Mutex<Vec<(String, String, bool)>>>,
}

impl GitServer {
    pub async fn start(token: &str) -> GitServer {
        let root = tempfile::tempdir().expect("git root");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let state = ServerState {
            root: root.path().to_path_buf(),
            accepted: vec![
                format!("Basic {}", server::git::basic_credentials(token)),
                format!("Bearer {token}"),
            ],
            requests: requests.clone(),
        };
        let app = Router::new().fallback(handle).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        GitServer {
            addr,
            root,
            requests,
            _task: task,
        }
    }

    /// The base URL to configure as `github.git_url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Creates `owner/name.git` with one commit on `main` holding `files`.
    pub async fn create_repo(&self, repo: &str, files: &[(&str, &str)]) {
        let bare = self.repo_path(repo);
        let seed = tempfile::tempdir().expect("seed");
        for (path, content) in files {
            let p = seed.path().join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, content).expect("write");
        }
        run(seed.path(), &["git", "init", "--quiet", "-b", "main"]).await;
        run(seed.path(), &["git", "add", "--all"]).await;
        run(
            seed.path(),
            &[
                "git",
                "-c",
                "user.name=seed",
                "-c",
                "user.email=seed@example.com",
                "commit",
                "--quiet",
                "-m",
                "initial",
            ],
        )
        .await;
        std::fs::create_dir_all(&bare).expect("mkdir bare");
        run(&bare, &["git", "init", "--quiet", "--bare", "-b", "main"]).await;
        run(&bare, &["git", "config", "http.receivepack", "true"]).await;
        run(
            seed.path(),
            &[
                "git",
                "push",
                "--quiet",
                bare.to_str().expect("utf8"),
                "main",
            ],
        )
        .await;
    }

    pub fn repo_path(&self, repo: &str) -> PathBuf {
        self.root.path().join(format!("{repo}.git"))
    }

    /// The SHA of `branch` in the server's repository, if it exists.
    pub async fn branch_sha(&self, repo: &str, branch: &str) -> Option<String> {
        let out = tokio::process::Command::new("git")
            .args([
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("refs/heads/{branch}"),
            ])
            .current_dir(self.repo_path(repo))
            .output()
            .await
            .expect("git rev-parse");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The content of `path` at `branch`.
    pub async fn file_at(&self, repo: &str, branch: &str, path: &str) -> Option<String> {
        let out = tokio::process::Command::new("git")
            .args(["show", &format!("{branch}:{path}")])
            .current_dir(self.repo_path(repo))
            .output()
            .await
            .expect("git show");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).to_string())
    }

    pub fn unauthorized_requests(&self) -> usize {
        self.requests
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| !r.2)
            .count()
    }
}

async fn run(dir: &Path, argv: &[&str]) {
    let status = tokio::process::Command::new(argv[0])
        .args(&argv[1..])
        .current_dir(dir)
        .status()
        .await
        .expect("spawn");
    assert!(status.success(), "{argv:?}");
}

async fn handle(State(state): State<ServerState>, req: Request) -> Response {
    let authorized = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| state.accepted.iter().any(|a| a == v));
    state.requests.lock().expect("lock").push((
        req.method().to_string(),
        req.uri().path().to_string(),
        authorized,
    ));
    if !authorized {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header(header::WWW_AUTHENTICATE, "Basic realm=\"git\"")
            .body(Body::from("authentication required"))
            .expect("response");
    }
    cgi(&state.root, req).await
}

/// Runs `git http-backend` as CGI for one request.
async fn cgi(root: &Path, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 512 << 20)
        .await
        .unwrap_or_default();
    let header = |headers: &HeaderMap, name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let mut child = tokio::process::Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REMOTE_USER", "x-access-token")
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("PATH_INFO", parts.uri.path())
        .env("QUERY_STRING", parts.uri.query().unwrap_or(""))
        .env("CONTENT_TYPE", header(&parts.headers, "content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("GIT_PROTOCOL", header(&parts.headers, "git-protocol"))
        .env(
            "HTTP_CONTENT_ENCODING",
            header(&parts.headers, "content-encoding"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("git http-backend");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&body).await;
    });
    let output = child.wait_with_output().await.expect("http-backend output");
    let _ = writer.await;
    let raw = output.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((end, sep)) = split else {
        return Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::empty())
            .expect("response");
    };
    let mut builder = Response::builder().status(StatusCode::OK);
    for line in String::from_utf8_lossy(&raw[..end]).lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("status") {
            let code = value
                .trim()
                .split(' ')
                .next()
                .and_then(|c| c.parse().ok())
                .unwrap_or(500);
            builder = builder.status(code);
        } else {
            builder = builder.header(name.trim(), value.trim());
        }
    }
    builder
        .body(Body::from(raw[end + sep..].to_vec()))
        .expect("response")
}
