//! `amp-orchestrator --config config.yml`: parse flags and config, bind, and hand over to
//! [`server::run`]. Every start-up problem ends with a message and exit code 1, never a panic.

use clap::Parser;
use server::config::Config;
use std::{path::PathBuf, process::ExitCode};

/// Turns a sentence into a green pull request.
#[derive(Parser)]
#[command(name = "amp-orchestrator", version)]
struct Args {
    /// The YAML config file (every key is optional; see config.example.yml).
    #[arg(long, short, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Validate the config, print it (secrets redacted) and exit.
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match &args.config {
        Some(path) => Config::load(path),
        None => Config::from_yaml("", &|name| std::env::var(name).ok()),
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("amp-orchestrator: config error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.check_config {
        match serde_yaml::to_string(&config) {
            Ok(text) => {
                print!("{text}");
                return ExitCode::SUCCESS;
            }
            Err(e) => {
                eprintln!("amp-orchestrator: cannot print config: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    server::telemetry::init_tracing(config.server.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("amp-orchestrator: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let addr = match config.listen_addr() {
            Ok(a) => a,
            Err(e) => {
                eprintln!("amp-orchestrator: config error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("amp-orchestrator: cannot listen on {addr} (server.listen): {e}");
                return ExitCode::FAILURE;
            }
        };
        match server::run(config, listener, shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("amp-orchestrator: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
