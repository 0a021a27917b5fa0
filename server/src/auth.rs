//! API tokens: `Authorization: Bearer <token>` for programs, an HttpOnly cookie set by the
//! dashboard's login form for browsers (EventSource and server-rendered pages cannot send headers).

use crate::config::Secret;
use app::model::ApiError;
use http::{header, HeaderMap};

/// Name of the cookie the dashboard's login sets.
pub const COOKIE_NAME: &str = "amp_token";

#[derive(Clone, Default)]
pub struct Auth {
    tokens: Vec<Secret>,
}

impl Auth {
    pub fn new(tokens: Vec<Secret>) -> Self {
        Auth { tokens }
    }

    pub fn required(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// Whether `candidate` is one of the configured tokens (compared in constant time).
    pub fn is_valid(&self, candidate: &str) -> bool {
        // Fold over every token so timing does not reveal which one (or how much) matched.
        self.tokens.iter().fold(false, |ok, t| {
            constant_time_eq(t.expose().as_bytes(), candidate.as_bytes()) | ok
        })
    }

    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if !self.required() {
            return Ok(());
        }
        match presented_token(headers) {
            Some(token) if self.is_valid(token) => Ok(()),
            _ => Err(ApiError::unauthorized()),
        }
    }
}

/// The token a request carries: the bearer header wins over the cookie.
fn presented_token(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, token) = value.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE_NAME).then_some(value)
        })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn open_when_no_tokens_configured() {
        assert!(Auth::default().check(&HeaderMap::new()).is_ok());
    }

    #[test]
    fn accepts_bearer_or_cookie_and_rejects_the_rest() {
        let auth = Auth::new(vec![Secret::new("tok-0123456789abcdef")]);
        assert!(auth
            .check(&headers(&[(
                "authorization",
                "Bearer tok-0123456789abcdef"
            )]))
            .is_ok());
        assert!(auth
            .check(&headers(&[(
                "authorization",
                "bearer tok-0123456789abcdef"
            )]))
            .is_ok());
        assert!(auth
            .check(&headers(&[(
                "cookie",
                "a=1; amp_token=tok-0123456789abcdef; b=2"
            )]))
            .is_ok());
        for bad in [
            vec![],
            vec![("authorization", "Bearer wrong")],
            vec![("authorization", "Basic tok-0123456789abcdef")],
            vec![("authorization", "tok-0123456789abcdef")],
            vec![("cookie", "amp_token=tok-0123456789abcde")],
            // A wrong header is not rescued by a right cookie: the header is what was meant.
            vec![
                ("authorization", "Bearer x"),
                ("cookie", "amp_token=tok-0123456789abcdef"),
            ],
        ] {
            assert!(auth.check(&headers(&bad)).is_err(), "{bad:?}");
        }
    }
}
