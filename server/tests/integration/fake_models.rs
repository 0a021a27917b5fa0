//! Fake model APIs for running the real Claude Code and Codex CLIs offline: an Anthropic
//! Messages API (`POST /v1/messages`, streamed as SSE) and an OpenAI Responses API
//! (`POST /v1/responses`, streamed as SSE), both on 127.0.0.1:0 and stopped when dropped.
//!
//! Both follow the same script, a list of [`Step`]s, one per user turn. For each model request
//! the fake looks at the conversation the CLI sent (so it needs no state of its own, and a
//! resumed session is answered from the history the CLI sends back):
//! - the last message is a new user prompt → call the CLI's shell tool with the next step's
//!   command (the number of shell calls already in the history says which step is next);
//! - the last message is a tool result → the step's final text;
//! - the script is used up, the request offers no shell tool, or [`MAX_MODEL_REQUESTS`] were
//!   answered → a plain text answer, which ends any agent loop.
//!
//! Every response carries the fixed token usage [`ANTHROPIC_USAGE`] / [`OPENAI_USAGE`], so a
//! step (a tool call plus a final text: two responses) costs `2 ×` that usage. Every request is
//! recorded ([`FakeModel::requests`]) so tests can check what the CLI sent, e.g. that a
//! follow-up carries the earlier turns (the session was resumed, not started afresh).
//!
//! What the CLIs needed (Claude Code 2.1.330, Codex 0.169.0):
//! - **Claude Code** (`ANTHROPIC_BASE_URL=http://127.0.0.1:PORT`, `ANTHROPIC_API_KEY`, sent
//!   as `x-api-key`): `POST /v1/messages?beta=true` with `"stream": true`, answered by
//!   `message_start` (with the usage) → `content_block_start`/`_delta`/`_stop` (a `tool_use`
//!   block whose input arrives as one `input_json_delta`, or a `text` block) → `message_delta`
//!   (`stop_reason` `tool_use`/`end_turn`, output tokens) → `message_stop`. Its `messages` may
//!   contain a `role: "system"` entry, so "the last message" means the last user/assistant
//!   one. With `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1` (our adapter sets it) those are the
//!   only requests; without it, it first sends `HEAD /api/hello`.
//! - **Codex** (a custom provider in `$CODEX_HOME/config.toml`, key as `Authorization:
//!   Bearer`): `POST /v1/responses` with `"stream": true`; its shell tool is the function
//!   `exec_command` with `{"cmd": "..."}` (older versions offered `shell` with an argv array).
//!   Answered by `response.created` → `response.output_item.added`/`.done` (a `function_call`
//!   with `call_id`, or an assistant `message` with `output_text`) → `response.completed`
//!   (with the usage). The tool result comes back as a `function_call_output` input item.

use axum::{
    body::Body,
    extract::Request,
    http::{header, StatusCode},
    response::Response,
    Router,
};
use serde_json::{json, Value};
use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
};

/// One user turn of the script: run `command` with the shell tool, then answer `reply`.
#[derive(Clone, Debug)]
pub struct Step {
    pub command: String,
    pub reply: String,
}

impl Step {
    pub fn new(command: &str, reply: &str) -> Step {
        Step {
            command: command.to_string(),
            reply: reply.to_string(),
        }
    }
}

/// Token usage of one response, in the provider's own terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseUsage {
    /// Anthropic: uncached input; OpenAI: all input, cached included.
    pub input: u64,
    pub output: u64,
    /// Anthropic `cache_read_input_tokens`; OpenAI `input_tokens_details.cached_tokens`.
    pub cache_read: u64,
    /// Anthropic `cache_creation_input_tokens`; OpenAI: none (0).
    pub cache_write: u64,
}

impl ResponseUsage {
    /// The usage of `n` responses.
    pub fn times(self, n: u64) -> ResponseUsage {
        ResponseUsage {
            input: self.input * n,
            output: self.output * n,
            cache_read: self.cache_read * n,
            cache_write: self.cache_write * n,
        }
    }

    /// As our events report it (`TokenUsage` JSON).
    pub fn as_event_json(self) -> Value {
        json!({
            "input_tokens": self.input,
            "output_tokens": self.output,
            "cache_read_tokens": self.cache_read,
            "cache_write_tokens": self.cache_write,
        })
    }
}

pub const ANTHROPIC_USAGE: ResponseUsage = ResponseUsage {
    input: 1200,
    output: 34,
    cache_read: 560,
    cache_write: 78,
};

pub const OPENAI_USAGE: ResponseUsage = ResponseUsage {
    input: 1500,
    output: 25,
    cache_read: 300,
    cache_write: 0,
};

/// Responses one [`Step`] takes: the tool call and the final text.
pub const RESPONSES_PER_STEP: u64 = 2;

/// After this many model requests every answer is plain text: a misbehaving loop ends.
pub const MAX_MODEL_REQUESTS: u64 = 40;

/// Largest request body read (Claude's first request is ~50 KB, Codex's ~40 KB).
const MAX_BODY_BYTES: usize = 16 << 20;

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query, e.g. `/v1/messages?beta=true`.
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// The JSON body (`Null` if empty or not JSON).
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Api {
    Anthropic,
    OpenAi,
}

struct State {
    api: Api,
    key: String,
    steps: Vec<Step>,
    requests: Mutex<Vec<Recorded>>,
    /// Model responses given (ids and the loop bound).
    responses: AtomicU64,
}

pub struct FakeModel {
    pub addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeModel {
    /// A fake Anthropic Messages API accepting `x-api-key: <key>` (or a bearer token).
    pub async fn anthropic(key: &str, steps: Vec<Step>) -> FakeModel {
        FakeModel::start(Api::Anthropic, key, steps).await
    }

    /// A fake OpenAI Responses API accepting `Authorization: Bearer <key>`.
    pub async fn openai(key: &str, steps: Vec<Step>) -> FakeModel {
        FakeModel::start(Api::OpenAi, key, steps).await
    }

    async fn start(api: Api, key: &str, steps: Vec<Step>) -> FakeModel {
        let state = Arc::new(State {
            api,
            key: key.to_string(),
            steps,
            requests: Mutex::new(Vec::new()),
            responses: AtomicU64::new(0),
        });
        let shared = state.clone();
        let app = Router::new().fallback(move |req: Request| handle(shared.clone(), req));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake model API");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeModel { addr, state, task }
    }

    /// `http://127.0.0.1:PORT` (Claude's `ANTHROPIC_BASE_URL`; Codex's base URL adds `/v1`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().expect("lock").clone()
    }

    /// The model requests (`POST /v1/messages` or `/v1/responses`) so far, in order.
    pub fn model_requests(&self) -> Vec<Recorded> {
        let endpoint = match self.state.api {
            Api::Anthropic => "/v1/messages",
            Api::OpenAi => "/v1/responses",
        };
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.split('?').next() == Some(endpoint))
            .collect()
    }

    /// Method and path of every request, for failure messages.
    pub fn request_lines(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

async fn handle(state: Arc<State>, req: Request) -> Response {
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
        .await
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let record = Recorded {
        method,
        path,
        headers,
        body,
    };
    state.requests.lock().expect("lock").push(record.clone());

    let bare = record.path.split('?').next().unwrap_or("").to_string();
    match (record.method.as_str(), bare.as_str()) {
        // Claude Code's connectivity check (sent unless non-essential traffic is disabled).
        ("GET" | "HEAD", "/api/hello") => json_response(StatusCode::OK, json!({})),
        ("GET", "/v1/models") => json_response(StatusCode::OK, models(state.api)),
        _ if !authorized(&state, &record) => json_response(
            StatusCode::UNAUTHORIZED,
            json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}),
        ),
        ("POST", "/v1/messages/count_tokens") => json_response(
            StatusCode::OK,
            json!({"input_tokens": ANTHROPIC_USAGE.input}),
        ),
        ("POST", "/v1/messages") if state.api == Api::Anthropic => anthropic(&state, &record.body),
        ("POST", "/v1/responses") if state.api == Api::OpenAi => openai(&state, &record.body),
        _ => json_response(
            StatusCode::NOT_FOUND,
            json!({"error": {"type": "not_found", "message": format!("the fake has no {bare}")}}),
        ),
    }
}

fn authorized(state: &State, record: &Recorded) -> bool {
    let bearer = format!("Bearer {}", state.key);
    record.header("x-api-key") == Some(state.key.as_str())
        || record.header("authorization") == Some(bearer.as_str())
}

fn models(api: Api) -> Value {
    match api {
        Api::Anthropic => json!({
            "data": [{"type": "model", "id": "claude-fake", "display_name": "Claude Fake"}],
            "has_more": false,
        }),
        Api::OpenAi => json!({
            "object": "list",
            "data": [{"id": "gpt-fake", "object": "model", "owned_by": "fake"}],
        }),
    }
}

fn json_response(status: StatusCode, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("response")
}

fn sse_response(events: Vec<(&str, Value)>) -> Response {
    let mut text = String::new();
    for (name, data) in events {
        text.push_str(&format!("event: {name}\ndata: {data}\n\n"));
    }
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from(text))
        .expect("response")
}

/// What the model does next.
enum Move<'a> {
    Shell(&'a str),
    Say(String),
}

/// The script's next move, given how many shell calls the conversation already holds and
/// whether its last message is a tool result.
fn next_move<'a>(state: &'a State, n: u64, calls: usize, after_result: bool) -> Move<'a> {
    if n > MAX_MODEL_REQUESTS {
        return Move::Say("The fake model stops here (request limit).".into());
    }
    if after_result {
        let reply = calls
            .checked_sub(1)
            .and_then(|i| state.steps.get(i))
            .map_or_else(|| "Done.".to_string(), |s| s.reply.clone());
        return Move::Say(reply);
    }
    match state.steps.get(calls) {
        Some(step) => Move::Shell(&step.command),
        None => Move::Say("Nothing left to do.".into()),
    }
}

// ---- Anthropic Messages API ----

fn anthropic(state: &State, body: &Value) -> Response {
    let n = state.responses.fetch_add(1, Ordering::SeqCst) + 1;
    let messages: Vec<&Value> = body["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter(|m| matches!(m["role"].as_str(), Some("user" | "assistant")))
                .collect()
        })
        .unwrap_or_default();
    let blocks = |m: &Value| -> Vec<Value> { m["content"].as_array().cloned().unwrap_or_default() };
    let calls = messages
        .iter()
        .filter(|m| m["role"] == "assistant")
        .flat_map(|m| blocks(m))
        .filter(|b| b["type"] == "tool_use" && b["name"] == "Bash")
        .count();
    let after_result = messages.last().is_some_and(|m| {
        m["role"] == "user" && blocks(m).iter().any(|b| b["type"] == "tool_result")
    });
    let offers_bash = body["tools"]
        .as_array()
        .is_some_and(|tools| tools.iter().any(|t| t["name"] == "Bash"));
    let decided = next_move(state, n, calls, after_result);
    let (block, stop_reason) = match decided {
        Move::Shell(command) if offers_bash => (
            json!({"type": "tool_use", "id": format!("toolu_fake_{n}"), "name": "Bash",
                   "input": {"command": command, "description": "Run the scripted command"}}),
            "tool_use",
        ),
        Move::Shell(_) => (
            json!({"type": "text", "text": "No Bash tool was offered."}),
            "end_turn",
        ),
        Move::Say(text) => (json!({"type": "text", "text": text}), "end_turn"),
    };
    let model = body["model"].as_str().unwrap_or("claude-fake").to_string();
    let id = format!("msg_fake_{n}");
    let usage = json!({
        "input_tokens": ANTHROPIC_USAGE.input,
        "cache_read_input_tokens": ANTHROPIC_USAGE.cache_read,
        "cache_creation_input_tokens": ANTHROPIC_USAGE.cache_write,
        "output_tokens": ANTHROPIC_USAGE.output,
    });
    if body["stream"] != true {
        return json_response(
            StatusCode::OK,
            json!({"id": id, "type": "message", "role": "assistant", "model": model,
                   "content": [block], "stop_reason": stop_reason, "stop_sequence": null,
                   "usage": usage}),
        );
    }
    // The block arrives empty and is filled by one delta, as the real API streams it.
    let (start, delta) = if block["type"] == "tool_use" {
        let mut empty = block.clone();
        empty["input"] = json!({});
        (
            empty,
            json!({"type": "input_json_delta", "partial_json": block["input"].to_string()}),
        )
    } else {
        (
            json!({"type": "text", "text": ""}),
            json!({"type": "text_delta", "text": block["text"]}),
        )
    };
    let mut start_usage = usage.clone();
    start_usage["output_tokens"] = json!(1);
    sse_response(vec![
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": id, "type": "message",
                   "role": "assistant", "model": model, "content": [], "stop_reason": null,
                   "stop_sequence": null, "usage": start_usage}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": start}),
        ),
        ("ping", json!({"type": "ping"})),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta",
                   "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                   "usage": {"output_tokens": ANTHROPIC_USAGE.output}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ])
}

// ---- OpenAI Responses API ----

fn openai(state: &State, body: &Value) -> Response {
    let n = state.responses.fetch_add(1, Ordering::SeqCst) + 1;
    let input: Vec<&Value> = body["input"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|i| match i["type"].as_str() {
                    Some("message") => matches!(i["role"].as_str(), Some("user" | "assistant")),
                    Some(kind) => kind.ends_with("call") || kind.ends_with("call_output"),
                    None => false,
                })
                .collect()
        })
        .unwrap_or_default();
    let calls = input
        .iter()
        .filter(|i| i["type"] == "function_call")
        .count();
    let after_result = input
        .last()
        .is_some_and(|i| i["type"] == "function_call_output");
    let offers = |name: &str| {
        body["tools"]
            .as_array()
            .is_some_and(|tools| tools.iter().any(|t| t["name"] == name))
    };
    let item = match next_move(state, n, calls, after_result) {
        // Codex 0.169 offers `exec_command {cmd}`; older ones `shell {command: [argv]}`.
        Move::Shell(command) if offers("exec_command") => {
            function_call(n, "exec_command", json!({"cmd": command}))
        }
        Move::Shell(command) if offers("shell") => {
            function_call(n, "shell", json!({"command": ["bash", "-lc", command]}))
        }
        Move::Shell(_) => assistant_message(n, "No shell tool was offered."),
        Move::Say(text) => assistant_message(n, &text),
    };
    let id = format!("resp_fake_{n}");
    let usage = json!({
        "input_tokens": OPENAI_USAGE.input,
        "input_tokens_details": {"cached_tokens": OPENAI_USAGE.cache_read},
        "output_tokens": OPENAI_USAGE.output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": OPENAI_USAGE.input + OPENAI_USAGE.output,
    });
    let model = body["model"].as_str().unwrap_or("gpt-fake").to_string();
    sse_response(vec![
        (
            "response.created",
            json!({"type": "response.created", "sequence_number": 0,
                   "response": {"id": id, "object": "response", "model": model,
                                "status": "in_progress", "output": []}}),
        ),
        (
            "response.output_item.added",
            json!({"type": "response.output_item.added", "sequence_number": 1,
                   "output_index": 0, "item": item}),
        ),
        (
            "response.output_item.done",
            json!({"type": "response.output_item.done", "sequence_number": 2,
                   "output_index": 0, "item": item}),
        ),
        (
            "response.completed",
            json!({"type": "response.completed", "sequence_number": 3,
                   "response": {"id": id, "object": "response", "model": model,
                                "status": "completed", "output": [item], "usage": usage}}),
        ),
    ])
}

fn function_call(n: u64, name: &str, arguments: Value) -> Value {
    json!({"type": "function_call", "id": format!("fc_fake_{n}"), "call_id": format!("call_fake_{n}"),
           "name": name, "arguments": arguments.to_string(), "status": "completed"})
}

fn assistant_message(n: u64, text: &str) -> Value {
    json!({"type": "message", "id": format!("msg_fake_{n}"), "role": "assistant",
           "status": "completed",
           "content": [{"type": "output_text", "text": text, "annotations": []}]})
}
