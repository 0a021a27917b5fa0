//! A real git server for tests: `git http-backend` (smart HTTP, as GitHub speaks it) behind a
//! small axum server that demands the token the way GitHub does (`x-access-token:<token>` basic
//! auth, or a bearer token) and answers 401 otherwise.

use axum::{
    body::Body,
    extract::Request,
    http::{header, HeaderMap, StatusCode},
    response::Response,
    Router,
};
use futures::future::BoxFuture;
use std::{
    collections::BTreeMap,
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
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GitServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Decides whether an `Authorization` header value may use git.
pub type GitAuth = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Called after every successful `git-receive-pack` with the repository (`owner/name`) and the
/// branches it changed; the push's HTTP answer waits for the returned future.
pub type PushHook = Arc<dyn Fn(String, Vec<RefUpdate>) -> BoxFuture<'static, ()> + Send + Sync>;

/// One branch changed by a push (`None` = absent before / deleted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefUpdate {
    pub branch: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// The git smart-HTTP handler, mountable into any router (see `fake_github`).
#[derive(Clone)]
pub struct GitBackend {
    root: PathBuf,
    auth: GitAuth,
    requests: Arc<Mutex<Vec<(String, String, bool)>>>,
    on_push: Option<PushHook>,
}

impl GitBackend {
    pub fn new(root: &Path, auth: GitAuth, on_push: Option<PushHook>) -> GitBackend {
        GitBackend {
            root: root.to_path_buf(),
            auth,
            requests: Arc::new(Mutex::new(Vec::new())),
            on_push,
        }
    }

    /// Accepts exactly `token` (`x-access-token:<token>` basic auth, or bearer).
    pub fn token_auth(token: &str) -> GitAuth {
        let accepted = [
            format!("Basic {}", server::git::basic_credentials(token)),
            format!("Bearer {token}"),
        ];
        Arc::new(move |v: &str| accepted.iter().any(|a| a == v))
    }

    /// Whether `path` is a git smart-HTTP path (`/<owner>/<name>.git/...`).
    pub fn is_git_path(path: &str) -> bool {
        let mut parts = path.trim_start_matches('/').splitn(3, '/');
        let (Some(owner), Some(name)) = (parts.next(), parts.next()) else {
            return false;
        };
        !owner.is_empty() && name.len() > 4 && name.ends_with(".git")
    }

    pub async fn handle(self, req: Request) -> Response {
        let authorized = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| (self.auth)(v));
        self.requests.lock().expect("lock").push((
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
        let path = req.uri().path().to_string();
        let push_repo = (req.method() == axum::http::Method::POST
            && path.ends_with(".git/git-receive-pack"))
        .then(|| {
            path.trim_start_matches('/')
                .trim_end_matches("/git-receive-pack")
                .trim_end_matches(".git")
                .to_string()
        })
        .filter(|_| self.on_push.is_some());
        let Some(repo) = push_repo else {
            return cgi(&self.root, req).await;
        };
        let bare = self.root.join(format!("{repo}.git"));
        let before = branches(&bare).await;
        let response = cgi(&self.root, req).await;
        if response.status().is_success() {
            let after = branches(&bare).await;
            let mut updates = Vec::new();
            for (branch, new) in &after {
                let old = before.get(branch);
                if old != Some(new) {
                    updates.push(RefUpdate {
                        branch: branch.clone(),
                        old: old.cloned(),
                        new: Some(new.clone()),
                    });
                }
            }
            for (branch, old) in &before {
                if !after.contains_key(branch) {
                    updates.push(RefUpdate {
                        branch: branch.clone(),
                        old: Some(old.clone()),
                        new: None,
                    });
                }
            }
            if let (false, Some(hook)) = (updates.is_empty(), &self.on_push) {
                hook(repo, updates).await;
            }
        }
        response
    }
}

/// `refs/heads/*` of a bare repository: branch → SHA.
async fn branches(bare: &Path) -> BTreeMap<String, String> {
    let out = tokio::process::Command::new("git")
        .args([
            "for-each-ref",
            "--format=%(refname:strip=2) %(objectname)",
            "refs/heads",
        ])
        .current_dir(bare)
        .output()
        .await;
    let Ok(out) = out else {
        return BTreeMap::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(b, s)| (b.to_string(), s.to_string()))
        .collect()
}

impl GitServer {
    pub async fn start(token: &str) -> GitServer {
        let root = tempfile::tempdir().expect("git root");
        let backend = GitBackend::new(root.path(), GitBackend::token_auth(token), None);
        let requests = backend.requests.clone();
        let app = Router::new().fallback(move |req: Request| backend.clone().handle(req));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        GitServer::serve(listener, root, requests, app)
    }

    /// Serves `app` (which mounts `backend`, whose request log becomes `requests`) on `listener`,
    /// with repositories under `root`. Used by the fake GitHub, which shares one server.
    pub fn serve_backend(
        listener: tokio::net::TcpListener,
        root: tempfile::TempDir,
        backend: &GitBackend,
        app: Router,
    ) -> GitServer {
        GitServer::serve(listener, root, backend.requests.clone(), app)
    }

    fn serve(
        listener: tokio::net::TcpListener,
        root: tempfile::TempDir,
        requests: Arc<Mutex<Vec<(String, String, bool)>>>,
        app: Router,
    ) -> GitServer {
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        GitServer {
            addr,
            root,
            requests,
            task,
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
