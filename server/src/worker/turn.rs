//! One agent turn: exec the CLI in the task's container, turn its output into events, and decide
//! how the turn ended — bounded by a wall-clock limit, an idle limit, and the container's health.

use super::actor::{Stop, TaskActor};
use crate::{
    agent::{AgentOutput, FinalResult, LineBuffer},
    runtime::{ExecEvent, ExecSpec},
    store::RunPhase,
};
use app::model::{LogStream, TaskEvent, TokenUsage};
use tokio::time::{sleep_until, Instant};

/// Per-task cap on recorded output; past it, lines are counted and a marker says so.
pub struct LogBudget {
    limit: u64,
    used: u64,
    dropped: u64,
    marked: bool,
}

impl LogBudget {
    pub fn new(limit: u64) -> Self {
        LogBudget {
            limit,
            used: 0,
            dropped: 0,
            marked: false,
        }
    }

    /// Whether an event of `bytes` may be recorded.
    fn admit(&mut self, bytes: usize) -> bool {
        if self.used + bytes as u64 <= self.limit {
            self.used += bytes as u64;
            true
        } else {
            self.dropped += 1;
            false
        }
    }
}

impl TaskActor {
    /// Runs turn `turn` with `message` on stdin; a follow-up continues the agent's session.
    pub(super) async fn run_turn(
        &mut self,
        turn: u32,
        message: &str,
        follow_up: bool,
    ) -> Result<(), Stop> {
        // The grace at shutdown is for turns already running, not for starting one (a turn that
        // then outlasts it would fail a task that could have resumed from where it is).
        if self.deps.shutdown.is_cancelled() {
            return Err(Stop::Shutdown);
        }
        self.run.phase = RunPhase::TurnRunning;
        self.run.turns = turn;
        self.save_run().await?;
        self.emit(TaskEvent::AgentTurnStarted {
            turn,
            agent: self.agent.name().to_string(),
            follow_up,
        })
        .await;
        // Resumed only when there is a thread to continue (the argv below decides the same way).
        let resumed = follow_up && self.run.session_id.is_some();
        let started = Instant::now();
        let outcome = self.follow_turn(message, follow_up).await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match outcome {
            Ok((final_result, exit_code)) => {
                let FinalResult {
                    summary,
                    usage,
                    cost_usd,
                    ..
                } = final_result.unwrap_or_default();
                self.last_summary = summary.clone();
                let usage = self.turn_usage(usage, resumed).await;
                self.emit(TaskEvent::AgentTurnFinished {
                    turn,
                    ok: true,
                    reason: None,
                    summary,
                    exit_code,
                    duration_ms,
                    usage,
                    cost_usd,
                })
                .await;
                Ok(())
            }
            Err(TurnEnd::Failed {
                reason,
                exit_code,
                final_result,
            }) => {
                let final_result = final_result.unwrap_or_default();
                let usage = self.turn_usage(final_result.usage, resumed).await;
                self.emit(TaskEvent::AgentTurnFinished {
                    turn,
                    ok: false,
                    reason: Some(reason.clone()),
                    summary: final_result.summary,
                    exit_code,
                    duration_ms,
                    usage,
                    cost_usd: final_result.cost_usd,
                })
                .await;
                Err(Stop::Failed(reason))
            }
            Err(TurnEnd::Stop(stop)) => Err(stop),
        }
    }

    /// This turn's own usage (see `Agent::turn_usage`). For an agent that reports the thread's
    /// running total, on a resumed thread, what the earlier turns used is read back from the
    /// task's history (so it also holds across a restart). If that history cannot be read, no
    /// usage is recorded rather than a wrong one.
    async fn turn_usage(&self, reported: Option<TokenUsage>, resumed: bool) -> Option<TokenUsage> {
        if !(resumed && self.agent.reports_thread_totals()) {
            return reported;
        }
        let finished = self
            .deps
            .hub
            .store()
            .events_of_kind(self.task.id, "agent_turn_finished")
            .await;
        let finished = match finished {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read earlier turns; this turn's usage is not recorded");
                return None;
            }
        };
        let earlier = finished
            .into_iter()
            .filter_map(|event| match event.event {
                TaskEvent::AgentTurnFinished { usage, .. } => usage,
                _ => None,
            })
            .sum();
        self.agent.turn_usage(reported, earlier)
    }

    /// Follows the exec to its end. `Ok` only for a clean finish: exit code 0 and (for agents
    /// that report one) a successful final result.
    async fn follow_turn(
        &mut self,
        message: &str,
        follow_up: bool,
    ) -> Result<(Option<FinalResult>, Option<i64>), TurnEnd> {
        let container = self.container_id().map_err(TurnEnd::Stop)?;
        let mut env = self.agent.env();
        env.extend(
            self.deps
                .config
                .agent
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_string())),
        );
        let spec = ExecSpec {
            argv: self
                .agent
                .argv(self.run.session_id.as_deref().filter(|_| follow_up)),
            env,
            stdin: message.as_bytes().to_vec(),
        };
        let mut output = self
            .deps
            .runtime
            .exec(&container, spec)
            .await
            .map_err(|e| TurnEnd::failed(format!("cannot start the agent: {e}"), None, None))?;
        let mut parser = self.agent.parser(follow_up.then_some(message));
        let max_line = self.max_line_bytes();
        let mut stdout = LineBuffer::new(crate::agent::DEFAULT_MAX_LINE_BYTES.max(max_line));
        let mut stderr = LineBuffer::new(max_line);
        let turn_timeout = self.deps.config.agent.turn_timeout.0;
        let idle_timeout = self.deps.config.agent.idle_timeout.0;
        let deadline = Instant::now() + turn_timeout;
        let mut idle_deadline = Instant::now() + idle_timeout;
        let mut health = tokio::time::interval(self.deps.config.runtime.stats_interval.0);
        health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut final_result: Option<FinalResult> = None;

        loop {
            let event = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Err(TurnEnd::Stop(Stop::Cancelled)),
                // Not `shutdown`: a turn may finish during the grace period, and its work is
                // then committed (commit_turn is not guarded) and resumed at the next start.
                _ = self.deps.abort_turns.cancelled() => return Err(TurnEnd::Stop(Stop::Shutdown)),
                event = output.recv() => event,
                _ = sleep_until(deadline) => {
                    return Err(TurnEnd::failed(format!("turn_timeout: the agent turn ran longer than {}", self.deps.config.agent.turn_timeout), None, final_result));
                }
                _ = sleep_until(idle_deadline) => {
                    return Err(TurnEnd::failed(format!("idle_timeout: the agent printed nothing for {}", self.deps.config.agent.idle_timeout), None, final_result));
                }
                _ = health.tick() => {
                    if let Some(reason) = self.check_health(&container).await {
                        return Err(TurnEnd::failed(reason, None, final_result));
                    }
                    continue;
                }
            };
            let lines = match event {
                Some(ExecEvent::Stdout(bytes)) => stdout
                    .push(&bytes)
                    .into_iter()
                    .map(|l| (LogStream::Stdout, l))
                    .collect(),
                Some(ExecEvent::Stderr(bytes)) => stderr
                    .push(&bytes)
                    .into_iter()
                    .map(|l| (LogStream::Stderr, l))
                    .collect(),
                Some(ExecEvent::Exited(code)) => {
                    let rest: Vec<(LogStream, String)> = stdout
                        .finish()
                        .map(|l| (LogStream::Stdout, l))
                        .into_iter()
                        .chain(stderr.finish().map(|l| (LogStream::Stderr, l)))
                        .collect();
                    if let Some(reason) = self.record(&mut *parser, rest, &mut final_result).await {
                        return Err(TurnEnd::failed(reason, code, final_result));
                    }
                    return self.judge_exit(&container, code, final_result).await;
                }
                Some(ExecEvent::Lost(why)) => {
                    return Err(TurnEnd::failed(
                        format!("lost the agent's output: {why}"),
                        None,
                        final_result,
                    ))
                }
                None => {
                    return Err(TurnEnd::failed(
                        "lost the agent's output stream".into(),
                        None,
                        final_result,
                    ))
                }
            };
            idle_deadline = Instant::now() + idle_timeout;
            if let Some(reason) = self.record(&mut *parser, lines, &mut final_result).await {
                return Err(TurnEnd::failed(reason, None, final_result));
            }
        }
    }

    /// Parses and records lines; returns a reason when the agent hit a dead end (`Fatal`).
    async fn record(
        &mut self,
        parser: &mut dyn crate::agent::StreamParser,
        lines: Vec<(LogStream, String)>,
        final_result: &mut Option<FinalResult>,
    ) -> Option<String> {
        for (stream, line) in lines {
            let outputs = match stream {
                LogStream::Stderr => parser.stderr_line(&line),
                _ => parser.stdout_line(&line),
            };
            for output in outputs {
                match output {
                    AgentOutput::Session { session_id } => {
                        if self.run.session_id.as_deref() != Some(session_id.as_str()) {
                            self.run.session_id = Some(session_id.clone());
                            if let Err(stop) = self.save_run().await {
                                return Some(stop.reason());
                            }
                            self.emit(TaskEvent::AgentSession { session_id }).await;
                        }
                    }
                    AgentOutput::Message { text } => {
                        self.emit_budgeted(TaskEvent::AgentMessage { text }).await
                    }
                    AgentOutput::ToolUse {
                        tool_use_id,
                        name,
                        input,
                    } => {
                        self.emit_budgeted(TaskEvent::AgentToolUse {
                            tool_use_id,
                            name,
                            input,
                        })
                        .await
                    }
                    AgentOutput::ToolResult {
                        tool_use_id,
                        output,
                        is_error,
                    } => {
                        self.emit_budgeted(TaskEvent::AgentToolResult {
                            tool_use_id,
                            output,
                            is_error,
                        })
                        .await
                    }
                    AgentOutput::Finished(result) => *final_result = Some(result),
                    AgentOutput::Fatal { reason } => return Some(reason),
                    AgentOutput::Notice { message } => {
                        self.emit_budgeted(TaskEvent::Log {
                            stream: LogStream::System,
                            line: message,
                        })
                        .await
                    }
                    AgentOutput::Raw { line } => {
                        // Stdout is buffered generously so big JSON events parse; what is kept
                        // as a plain log line obeys agent.max_line_bytes.
                        let line = crate::agent::shorten(line, self.max_line_bytes());
                        self.emit_budgeted(TaskEvent::Log { stream, line }).await
                    }
                }
            }
        }
        None
    }

    /// Decides a finished exec: exit code, final result, and what killed it if it was killed.
    async fn judge_exit(
        &mut self,
        container: &str,
        code: Option<i64>,
        final_result: Option<FinalResult>,
    ) -> Result<(Option<FinalResult>, Option<i64>), TurnEnd> {
        if code != Some(0) {
            let oom =
                matches!(self.deps.runtime.state(container).await, Ok(Some(s)) if s.oom_killed);
            let reason = if oom {
                format!(
                    "oom_killed: the agent ran out of memory (runtime.memory = {})",
                    self.deps.config.runtime.memory
                )
            } else {
                let detail = final_result.as_ref().and_then(|f| f.error.clone());
                match (code, detail) {
                    (Some(c), Some(d)) => format!("agent_failed: exit code {c}: {d}"),
                    (Some(c), None) => format!("agent_failed: the agent exited with code {c}"),
                    (None, _) => "agent_failed: the agent's exit code is unknown".to_string(),
                }
            };
            return Err(TurnEnd::failed(reason, code, final_result));
        }
        match &final_result {
            None if self.agent.requires_final_result() => Err(TurnEnd::failed(
                "agent_failed: the agent ended without a final result".into(),
                code,
                None,
            )),
            Some(f) if !f.ok => {
                let why = f
                    .error
                    .clone()
                    .unwrap_or_else(|| "the agent reported an error".into());
                Err(TurnEnd::failed(
                    format!("agent_failed: {why}"),
                    code,
                    final_result,
                ))
            }
            _ => Ok((final_result, code)),
        }
    }

    /// Samples the container; returns a reason when it is dead.
    pub(super) async fn check_health(&mut self, container: &str) -> Option<String> {
        match self.deps.runtime.state(container).await {
            Ok(None) => return Some("container_gone: the task's container disappeared".into()),
            Ok(Some(state)) if !state.running => {
                return Some(if state.oom_killed {
                    format!(
                        "oom_killed: the container ran out of memory (runtime.memory = {})",
                        self.deps.config.runtime.memory
                    )
                } else {
                    format!(
                        "container_exited: the container stopped unexpectedly (exit code {})",
                        state
                            .exit_code
                            .map_or("unknown".to_string(), |c| c.to_string())
                    )
                });
            }
            Ok(Some(_)) => {}
            Err(e) => {
                tracing::warn!(task.id = %self.task.id, error = %e, "cannot inspect the container")
            }
        }
        if let Ok(Some(stats)) = self.deps.runtime.stats(container).await {
            self.emit(TaskEvent::ContainerStats {
                cpu_percent: (stats.cpu_percent * 10.0).round() / 10.0,
                memory_bytes: stats.memory_bytes,
                memory_limit_bytes: stats.memory_limit_bytes,
            })
            .await;
        }
        None
    }

    fn max_line_bytes(&self) -> usize {
        usize::try_from(self.deps.config.agent.max_line_bytes.0).unwrap_or(usize::MAX)
    }

    /// Records an output event within the task's log budget; the first overflow leaves a marker.
    async fn emit_budgeted(&mut self, event: TaskEvent) {
        let size = match &event {
            TaskEvent::Log { line, .. } => line.len(),
            TaskEvent::AgentMessage { text } => text.len(),
            TaskEvent::AgentToolUse { input, name, .. } => input.len() + name.len(),
            TaskEvent::AgentToolResult { output, .. } => output.len(),
            _ => 0,
        };
        if self.budget.admit(size) {
            self.emit(event).await;
        } else if !self.budget.marked {
            self.budget.marked = true;
            let reason = format!(
                "this task's output passed agent.max_log_bytes ({}); later lines are counted, not recorded",
                self.deps.config.agent.max_log_bytes
            );
            self.emit(TaskEvent::LogTruncated { dropped: 1, reason })
                .await;
        }
    }

    /// At the end of a task: how many lines the budget swallowed in total.
    pub(super) async fn report_dropped_output(&mut self) {
        if self.budget.dropped > 1 {
            let reason = "total output not recorded because of agent.max_log_bytes".to_string();
            let dropped = self.budget.dropped;
            self.emit(TaskEvent::LogTruncated { dropped, reason }).await;
        }
    }
}

/// Why following a turn stopped early.
pub(super) enum TurnEnd {
    Failed {
        reason: String,
        exit_code: Option<i64>,
        final_result: Option<FinalResult>,
    },
    Stop(Stop),
}

impl TurnEnd {
    fn failed(
        reason: String,
        exit_code: Option<i64>,
        final_result: Option<FinalResult>,
    ) -> TurnEnd {
        TurnEnd::Failed {
            reason,
            exit_code,
            final_result,
        }
    }
}
