//! Integration tests: the whole server on 127.0.0.1:0 with a temporary database, driven over
//! real HTTP. One test binary (modules below) keeps link times down.

// A test binary: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agent_image;
mod api;
mod ci_loop;
mod e2e_fixture;
mod fake_github;
mod fake_models;
mod git;
mod git_http;
mod ops;
mod real_cli;
mod recovery;
mod runtime;
mod streams;
mod support;
