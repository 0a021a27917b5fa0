//! A GitHub REST client with the manners a long-running poller needs, on top of octocrab's
//! authentication (personal token, or GitHub App installation tokens it mints and refreshes):
//!
//! - the JSON `Accept` header and the API version header on every request;
//! - conditional GETs: the last `ETag` per URL is sent as `If-None-Match`, and a `304` (which
//!   does not count against the rate limit) answers from the cache;
//! - primary rate limits (`x-ratelimit-remaining: 0` → wait until `x-ratelimit-reset`), secondary
//!   limits and `Retry-After`, and server errors, retried with exponential backoff and jitter —
//!   all bounded, so a broken GitHub ends in an error, never in an endless loop;
//! - error bodies turned into a [`ForgeError`] carrying GitHub's `message`, never a token.

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use serde::{de::DeserializeOwned, Serialize};
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// The REST API version this client speaks.
pub const API_VERSION: &str = "2022-11-28";

#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    #[error("GitHub answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("GitHub is rate limiting us and the limit resets too late ({wait_secs}s)")]
    RateLimited { wait_secs: u64 },
    #[error("cannot reach GitHub: {0}")]
    Transport(String),
    #[error("GitHub sent something unexpected: {0}")]
    Decode(String),
    #[error("{0}")]
    Config(String),
}

impl ForgeError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ForgeError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// How hard to try before giving up.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts for server errors and transport failures.
    pub max_attempts: u32,
    /// First backoff; doubled each time, with jitter.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Longest single wait for a rate-limit reset; beyond it the call fails.
    pub max_rate_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_rate_limit_wait: Duration::from_secs(15 * 60),
        }
    }
}

/// An authenticated client for one identity (a token, or one App installation).
pub struct GithubApi {
    crab: Octocrab,
    retry: RetryPolicy,
    /// URL → (ETag, body) of the last 200 answer.
    etags: Mutex<HashMap<String, (HeaderValue, Bytes)>>,
}

/// A raw answer: status, headers, body.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl GithubApi {
    pub fn new(crab: Octocrab, retry: RetryPolicy) -> GithubApi {
        GithubApi {
            crab,
            retry,
            etags: Mutex::new(HashMap::new()),
        }
    }

    /// GET and decode JSON, conditionally (ETag).
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ForgeError> {
        let answer = self.request(Method::GET, path, None::<&()>).await?;
        decode(&answer.body)
    }

    /// GET a text document (job logs answer with a redirect, which is followed); `None` for 404
    /// and 410 (a running job's log, or an expired one).
    pub async fn get_text(&self, path: &str) -> Result<Option<String>, ForgeError> {
        match self.request(Method::GET, path, None::<&()>).await {
            Ok(answer) => Ok(Some(String::from_utf8_lossy(&answer.body).into_owned())),
            Err(ForgeError::Status {
                status: 404 | 410, ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ForgeError> {
        let answer = self.request(Method::POST, path, Some(body)).await?;
        decode(&answer.body)
    }

    /// POST whose answer body does not matter (e.g. `rerun-failed-jobs`).
    pub async fn post_empty<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<(), ForgeError> {
        self.request(Method::POST, path, Some(body))
            .await
            .map(|_| ())
    }

    pub async fn patch<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ForgeError> {
        let answer = self.request(Method::PATCH, path, Some(body)).await?;
        decode(&answer.body)
    }

    /// Sends with retries; 2xx (and a 304 answered from the cache) is success.
    pub async fn request<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Answer, ForgeError> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let cached = (method == Method::GET).then(|| self.cached(path)).flatten();
            let result = self
                .send_once(&method, path, body, cached.as_ref().map(|(etag, _)| etag))
                .await;
            let answer = match result {
                Ok(answer) => answer,
                Err(e) if attempt < self.retry.max_attempts => {
                    tracing::debug!(%path, attempt, error = %e, "GitHub request failed; retrying");
                    tokio::time::sleep(self.backoff(attempt)).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if answer.status == StatusCode::NOT_MODIFIED {
                if let Some((_, body)) = cached {
                    return Ok(Answer {
                        status: StatusCode::OK,
                        headers: answer.headers,
                        body,
                    });
                }
            }
            if answer.status.is_success() {
                if method == Method::GET {
                    self.remember(path, &answer);
                }
                return Ok(answer);
            }
            match self.wait_before_retry(&answer, attempt)? {
                Some(wait) => {
                    tracing::info!(%path, status = answer.status.as_u16(), wait_ms = wait.as_millis() as u64, "GitHub asked us to wait");
                    tokio::time::sleep(wait).await;
                }
                None => return Err(status_error(&answer)),
            }
        }
    }

    async fn send_once<B: Serialize + ?Sized>(
        &self,
        method: &Method,
        path: &str,
        body: Option<&B>,
        etag: Option<&HeaderValue>,
    ) -> Result<Answer, ForgeError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        headers.insert(
            "x-github-api-version",
            HeaderValue::from_static(API_VERSION),
        );
        if let Some(etag) = etag {
            headers.insert(header::IF_NONE_MATCH, etag.clone());
        }
        let response = match *method {
            Method::GET => self.crab._get_with_headers(path, Some(headers)).await,
            Method::POST => self.crab._post(path, body).await,
            Method::PATCH => self.crab._patch(path, body).await,
            _ => return Err(ForgeError::Config(format!("unsupported method {method}"))),
        }
        .map_err(|e| ForgeError::Transport(e.to_string()))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| ForgeError::Transport(e.to_string()))?
            .to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// How long to wait before retrying a failed answer, or `None` when retrying cannot help.
    fn wait_before_retry(
        &self,
        answer: &Answer,
        attempt: u32,
    ) -> Result<Option<Duration>, ForgeError> {
        let status = answer.status.as_u16();
        let header_num = |name: &str| {
            answer
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let message = String::from_utf8_lossy(&answer.body).to_ascii_lowercase();
        let limited = matches!(status, 403 | 429);
        if limited && header_num("x-ratelimit-remaining") == Some(0) {
            // Primary limit: nothing works until the window resets.
            let reset = header_num("x-ratelimit-reset").unwrap_or(0);
            let wait = Duration::from_secs(reset.saturating_sub(now_epoch()) + 1);
            if wait > self.retry.max_rate_limit_wait {
                return Err(ForgeError::RateLimited {
                    wait_secs: wait.as_secs(),
                });
            }
            return Ok(Some(wait + jitter(Duration::from_millis(500))));
        }
        if limited
            && (header_num("retry-after").is_some() || message.contains("secondary rate limit"))
        {
            if attempt >= self.retry.max_attempts {
                return Ok(None);
            }
            // Secondary limit: GitHub says how long, or asks for at least a minute.
            let wait = header_num("retry-after")
                .map(Duration::from_secs)
                .unwrap_or(Duration::from_secs(60));
            if wait > self.retry.max_rate_limit_wait {
                return Err(ForgeError::RateLimited {
                    wait_secs: wait.as_secs(),
                });
            }
            return Ok(Some(wait.max(self.backoff(attempt))));
        }
        if (status >= 500 || status == 429) && attempt < self.retry.max_attempts {
            return Ok(Some(self.backoff(attempt)));
        }
        Ok(None)
    }

    /// Exponential backoff with up to 50% jitter, so many pollers do not retry in lockstep.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .retry
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.retry.max_delay);
        capped / 2 + jitter(capped / 2)
    }

    fn cached(&self, path: &str) -> Option<(HeaderValue, Bytes)> {
        self.etags
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(path)
            .cloned()
    }

    fn remember(&self, path: &str, answer: &Answer) {
        if let Some(etag) = answer.headers.get(header::ETAG) {
            let mut cache = self.etags.lock().unwrap_or_else(|p| p.into_inner());
            // Bounded: a poller touches a handful of URLs per task; old ones are not needed.
            if cache.len() > 2048 {
                cache.clear();
            }
            cache.insert(path.to_string(), (etag.clone(), answer.body.clone()));
        }
    }
}

fn decode<T: DeserializeOwned>(body: &Bytes) -> Result<T, ForgeError> {
    serde_json::from_slice(body).map_err(|e| ForgeError::Decode(e.to_string()))
}

/// GitHub's `{"message": …}` as the error text (the body is GitHub's, never ours).
fn status_error(answer: &Answer) -> ForgeError {
    let message = serde_json::from_slice::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| {
            String::from_utf8_lossy(&answer.body)
                .chars()
                .take(200)
                .collect()
        });
    ForgeError::Status {
        status: answer.status.as_u16(),
        message,
    }
}

fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A pseudo-random duration in `[0, max)`; good enough to spread retries.
fn jitter(max: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mixed = (u64::from(nanos) ^ (u64::from(nanos) << 13)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let max_ms = max.as_millis().max(1) as u64;
    Duration::from_millis(mixed % max_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> GithubApi {
        let crab = Octocrab::builder().build().unwrap();
        GithubApi::new(crab, RetryPolicy::default())
    }

    fn answer(status: u16, headers: &[(&str, String)], body: &str) -> Answer {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: map,
            body: Bytes::from(body.to_string()),
        }
    }

    #[tokio::test]
    async fn primary_rate_limit_waits_until_the_reset() {
        let a = api();
        let reset = (now_epoch() + 5).to_string();
        let wait = a
            .wait_before_retry(
                &answer(
                    403,
                    &[
                        ("x-ratelimit-remaining", "0".into()),
                        ("x-ratelimit-reset", reset),
                    ],
                    "{}",
                ),
                1,
            )
            .unwrap()
            .unwrap();
        assert!(
            wait >= Duration::from_secs(5) && wait <= Duration::from_secs(7),
            "{wait:?}"
        );
        let far = (now_epoch() + 3 * 3600).to_string();
        let err = a.wait_before_retry(
            &answer(
                403,
                &[
                    ("x-ratelimit-remaining", "0".into()),
                    ("x-ratelimit-reset", far),
                ],
                "{}",
            ),
            1,
        );
        assert!(matches!(err, Err(ForgeError::RateLimited { .. })));
    }

    #[tokio::test]
    async fn secondary_limits_honour_retry_after_and_server_errors_back_off() {
        let a = api();
        let wait = a
            .wait_before_retry(&answer(403, &[("retry-after", "3".into())], "{}"), 1)
            .unwrap()
            .unwrap();
        assert!(wait >= Duration::from_secs(3), "{wait:?}");
        let body = r#"{"message":"You have exceeded a secondary rate limit"}"#;
        let wait = a
            .wait_before_retry(&answer(403, &[], body), 1)
            .unwrap()
            .unwrap();
        assert!(wait >= Duration::from_secs(60));
        let wait = a
            .wait_before_retry(&answer(502, &[], ""), 1)
            .unwrap()
            .unwrap();
        assert!(wait <= Duration::from_millis(500));
        assert!(
            a.wait_before_retry(&answer(502, &[], ""), 6)
                .unwrap()
                .is_none(),
            "bounded"
        );
        assert!(
            a.wait_before_retry(&answer(404, &[], "{}"), 1)
                .unwrap()
                .is_none(),
            "4xx is final"
        );
        assert!(a
            .wait_before_retry(
                &answer(403, &[], r#"{"message":"Resource not accessible"}"#),
                1
            )
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn backoff_grows_and_is_capped() {
        let a = api();
        let d1 = a.backoff(1);
        let d5 = a.backoff(5);
        let d20 = a.backoff(20);
        assert!(d1 <= Duration::from_millis(500));
        assert!(d5 >= Duration::from_secs(4) && d5 <= Duration::from_secs(8));
        assert!(d20 <= Duration::from_secs(30));
    }

    #[test]
    fn error_messages_come_from_githubs_body() {
        let e = status_error(&answer(
            422,
            &[],
            r#"{"message":"Validation Failed","errors":[]}"#,
        ));
        assert_eq!(e.to_string(), "GitHub answered 422: Validation Failed");
        assert_eq!(e.status(), Some(422));
    }
}
