//! The HTTP boundary for errors: every failure leaves as `{"error": {"code", "message", "field"}}`
//! with the status its code maps to, and request bodies are parsed so that bad input is a 4xx
//! naming the field — never a 5xx, never internal text.

use app::model::{ApiError, ErrorBody, ErrorCode};
use axum::{
    extract::{rejection::BytesRejection, FromRequest, Request},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use bytes::Bytes;
use serde::de::DeserializeOwned;

/// An [`ApiError`] on its way out as a response.
#[derive(Debug)]
pub struct ApiFailure(pub ApiError);

impl From<ApiError> for ApiFailure {
    fn from(e: ApiError) -> Self {
        ApiFailure(e)
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(ErrorBody { error: self.0 })).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiFailure>;

/// A JSON request body with API-grade errors: 415 without a JSON content type, 413 over the
/// body limit, 400 for invalid JSON, 422 (naming the field) for wrong types, unknown or missing
/// fields.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiFailure;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with `Content-Type: application/json`",
            )
            .into());
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        parse_json(&bytes).map(ApiJson)
    }
}

fn body_rejection(rejection: BytesRejection) -> ApiFailure {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the request body is larger than the server accepts",
        )
        .into()
    } else {
        ApiError::new(ErrorCode::BadRequest, "the request body could not be read").into()
    }
}

/// Parses JSON, naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiFailure> {
    // Syntax first (400), then shape (422): a body that is not JSON at all is a different
    // mistake from JSON with a wrong field.
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        let detail = e.to_string();
        let detail = detail
            .split(" at line ")
            .next()
            .unwrap_or(&detail)
            .to_string();
        ApiFailure(ApiError::new(
            ErrorCode::BadRequest,
            format!("the request body is not valid JSON: {detail}"),
        ))
    })?;
    serde_path_to_error::deserialize(value).map_err(|err| {
        let detail = err.inner().to_string();
        let path = err.path().to_string();
        // Missing and unknown fields are reported at the parent; take the name from the message.
        let field = if path == "." || path.is_empty() {
            backticked(&detail)
        } else {
            Some(path)
        };
        ApiFailure(ApiError {
            code: ErrorCode::ValidationFailed,
            message: detail,
            field,
        })
    })
}

fn backticked(s: &str) -> Option<String> {
    let start = s.find('`')? + 1;
    let len = s[start..].find('`')?;
    Some(s[start..start + len].to_string())
}

/// The JSON 404 for unknown `/api/*` paths.
pub async fn api_not_found() -> ApiFailure {
    ApiError::new(
        ErrorCode::NotFound,
        "no such API route; see /api/openapi.json",
    )
    .into()
}

/// The JSON 405 for a known path with an unsupported method.
pub async fn method_not_allowed() -> ApiFailure {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this method is not supported on this path",
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::CreateTaskRequest;

    fn err(body: &str) -> ApiError {
        parse_json::<CreateTaskRequest>(body.as_bytes())
            .unwrap_err()
            .0
    }

    #[test]
    fn syntax_errors_are_400() {
        for body in ["", "{", "{\"prompt\": }", "nope", "{} x"] {
            assert_eq!(err(body).code, ErrorCode::BadRequest, "{body}");
        }
    }

    #[test]
    fn type_errors_name_the_field() {
        let e = err(r#"{"prompt": 5, "repo": "a/b"}"#);
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::ValidationFailed, Some("prompt"))
        );
        let e = err(r#"{"prompt": "x", "repo": "a/b", "max_iterations": "many"}"#);
        assert_eq!(e.field.as_deref(), Some("max_iterations"));
        let e = err(r#"{"prompt": "x"}"#);
        assert_eq!(e.field.as_deref(), Some("repo"));
        assert!(e.message.contains("missing field"));
        let e = err(r#"{"prompt": "x", "repo": "a/b", "colour": 1}"#);
        assert_eq!(e.field.as_deref(), Some("colour"));
        let e = err("[1]");
        assert_eq!(e.code, ErrorCode::ValidationFailed);
    }
}
