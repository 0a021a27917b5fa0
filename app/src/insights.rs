//! What the task page shows besides the raw event list, derived from the events alone (pure, so
//! the browser recomputes it on every event and native tests pin it down): the phase timeline,
//! the CI rounds with their checks and feedback, per-turn token usage and cost, and the
//! container's resource samples.

use crate::model::{CheckResult, CiVerdict, EventEnvelope, TaskEvent, TaskStatus, TokenUsage};
use chrono::{DateTime, Utc};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepState {
    Done,
    /// Happening now.
    Active,
    Failed,
}

/// One step of the timeline: queued → preparing → running → CI round 1 ✗ → fixing → … → PR.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub label: String,
    pub state: StepState,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Round {
    pub round: u32,
    pub sha: String,
    pub verdict: Option<CiVerdict>,
    pub checks: Vec<CheckResult>,
    pub waiting: Vec<String>,
    pub feedback: Option<String>,
    pub feedback_truncated: bool,
    pub duration_ms: Option<u64>,
    /// The task ended (cancelled, failed) before this round had a verdict.
    pub stopped: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Turn {
    pub turn: u32,
    pub follow_up: bool,
    pub ok: Option<bool>,
    pub usage: Option<TokenUsage>,
    pub cost_usd: Option<f64>,
    pub duration_ms: Option<u64>,
    /// The task ended (cancelled, interrupted) before this turn finished.
    pub stopped: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub at: DateTime<Utc>,
    pub cpu_percent: f64,
    pub memory_bytes: u64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Insights {
    pub steps: Vec<Step>,
    pub rounds: Vec<Round>,
    pub turns: Vec<Turn>,
    pub samples: Vec<Sample>,
    pub memory_limit_bytes: Option<u64>,
    pub total_usage: TokenUsage,
    pub total_cost_usd: Option<f64>,
}

/// Samples kept for the sparklines (the newest).
pub const MAX_SAMPLES: usize = 120;

pub fn insights(events: &[EventEnvelope]) -> Insights {
    let mut out = Insights::default();
    for env in events {
        match &env.event {
            TaskEvent::TaskCreated { .. } => push_step(&mut out, "queued", env.at),
            TaskEvent::StatusChanged { to, reason, .. } => match to {
                TaskStatus::Preparing => push_step(&mut out, "preparing", env.at),
                TaskStatus::Running => push_step(&mut out, "running", env.at),
                TaskStatus::Fixing => push_step(&mut out, "fixing", env.at),
                // Shown as the CI round and the pull request steps.
                TaskStatus::AwaitingCi | TaskStatus::OpeningPr | TaskStatus::Queued => {}
                TaskStatus::Succeeded => {
                    settle_active(&mut out, StepState::Done);
                    out.steps.push(Step {
                        label: "succeeded".into(),
                        state: StepState::Done,
                        at: env.at,
                    });
                }
                TaskStatus::Failed | TaskStatus::Cancelled => {
                    settle_active(&mut out, StepState::Failed);
                    let code = reason
                        .as_deref()
                        .and_then(|r| r.split(':').next())
                        .filter(|c| !c.contains(' '))
                        .map(|c| format!(" ({c})"))
                        .unwrap_or_default();
                    out.steps.push(Step {
                        label: format!("{to}{code}"),
                        state: StepState::Failed,
                        at: env.at,
                    });
                }
            },
            TaskEvent::CiRoundStarted { round, sha } => {
                push_step(&mut out, &format!("CI round {round}"), env.at);
                out.rounds
                    .retain(|r| r.round != *round || r.verdict.is_some());
                out.rounds.push(Round {
                    round: *round,
                    sha: sha.clone(),
                    verdict: None,
                    checks: Vec::new(),
                    waiting: Vec::new(),
                    feedback: None,
                    feedback_truncated: false,
                    duration_ms: None,
                    stopped: false,
                });
            }
            TaskEvent::CiWaiting { round, waiting } => {
                if let Some(r) = round_mut(&mut out, *round) {
                    r.waiting = waiting.clone();
                }
            }
            TaskEvent::CiRoundFinished {
                round,
                verdict,
                checks,
                duration_ms,
                ..
            } => {
                if let Some(r) = round_mut(&mut out, *round) {
                    r.verdict = Some(*verdict);
                    r.checks = checks.clone();
                    r.waiting.clear();
                    r.duration_ms = Some(*duration_ms);
                }
                let (mark, state) = match verdict {
                    CiVerdict::Green => ("✓", StepState::Done),
                    CiVerdict::Red => ("✗", StepState::Failed),
                    CiVerdict::NoChecks => ("–", StepState::Done),
                    CiVerdict::TimedOut => ("⏱", StepState::Failed),
                };
                if let Some(step) = out
                    .steps
                    .iter_mut()
                    .rev()
                    .find(|s| s.label.starts_with(&format!("CI round {round}")))
                {
                    step.label = format!("CI round {round} {mark}");
                    step.state = state;
                }
            }
            TaskEvent::CiFeedback {
                round,
                text,
                truncated,
            } => {
                if let Some(r) = round_mut(&mut out, *round) {
                    r.feedback = Some(text.clone());
                    r.feedback_truncated = *truncated;
                }
            }
            TaskEvent::PullRequestOpened { number, draft, .. } => {
                let label = if *draft {
                    format!("draft PR #{number}")
                } else {
                    format!("PR #{number}")
                };
                push_step(&mut out, &label, env.at);
            }
            TaskEvent::PullRequestReady { number, .. } => {
                push_step(&mut out, &format!("PR #{number} ready"), env.at)
            }
            // A note on the way out, not a phase: the active step is left for the final status.
            TaskEvent::PullRequestClosed { number, .. } => out.steps.push(Step {
                label: format!("PR #{number} closed"),
                state: StepState::Done,
                at: env.at,
            }),
            TaskEvent::AgentTurnStarted {
                turn, follow_up, ..
            } => out.turns.push(Turn {
                turn: *turn,
                follow_up: *follow_up,
                ok: None,
                usage: None,
                cost_usd: None,
                duration_ms: None,
                stopped: false,
            }),
            TaskEvent::AgentTurnFinished {
                turn,
                ok,
                usage,
                cost_usd,
                duration_ms,
                ..
            } => {
                if let Some(t) = out.turns.iter_mut().rev().find(|t| t.turn == *turn) {
                    t.ok = Some(*ok);
                    t.usage = *usage;
                    t.cost_usd = *cost_usd;
                    t.duration_ms = Some(*duration_ms);
                }
                if let Some(u) = usage {
                    out.total_usage += *u;
                }
                if let Some(c) = cost_usd {
                    out.total_cost_usd = Some(out.total_cost_usd.unwrap_or(0.0) + c);
                }
            }
            TaskEvent::ContainerStats {
                cpu_percent,
                memory_bytes,
                memory_limit_bytes,
            } => {
                out.samples.push(Sample {
                    at: env.at,
                    cpu_percent: *cpu_percent,
                    memory_bytes: *memory_bytes,
                });
                if out.samples.len() > MAX_SAMPLES {
                    out.samples.remove(0);
                }
                if memory_limit_bytes.is_some() {
                    out.memory_limit_bytes = *memory_limit_bytes;
                }
            }
            _ => {}
        }
    }
    // A turn or round still open when the task ended will never finish: say so rather than
    // showing it as running forever.
    let ended = events.iter().rev().find_map(|env| match &env.event {
        TaskEvent::StatusChanged { to, .. } => Some(to.is_terminal()),
        _ => None,
    });
    if ended == Some(true) {
        for turn in out.turns.iter_mut().filter(|t| t.ok.is_none()) {
            turn.stopped = true;
        }
        for round in out.rounds.iter_mut().filter(|r| r.verdict.is_none()) {
            round.stopped = true;
        }
    }
    out
}

/// A new step becomes the active one; the previous active step is done.
fn push_step(out: &mut Insights, label: &str, at: DateTime<Utc>) {
    settle_active(out, StepState::Done);
    out.steps.push(Step {
        label: label.to_string(),
        state: StepState::Active,
        at,
    });
}

fn settle_active(out: &mut Insights, to: StepState) {
    if let Some(last) = out
        .steps
        .iter_mut()
        .rev()
        .find(|s| s.state == StepState::Active)
    {
        if last.state == StepState::Active {
            last.state = if to == StepState::Failed && !last.label.starts_with("CI round") {
                StepState::Failed
            } else {
                StepState::Done
            };
        }
    }
}

fn round_mut(out: &mut Insights, round: u32) -> Option<&mut Round> {
    out.rounds.iter_mut().rev().find(|r| r.round == round)
}

/// "just now", "5 min ago", "3 h ago", "2 d ago" — for lists, where exact times are noise.
pub fn relative_time(then_ms: i64, now_ms: i64) -> String {
    let secs = (now_ms - then_ms).max(0) / 1000;
    match secs {
        0..=44 => "just now".into(),
        45..=3599 => format!("{} min ago", (secs + 30) / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

/// An SVG polyline's points for `values` scaled into a `width`×`height` box (`max` at the top).
/// A single sample is drawn as a flat line across the box (one point would draw nothing).
pub fn sparkline_points(values: &[f64], max: f64, width: f64, height: f64) -> String {
    if values.is_empty() {
        return String::new();
    }
    if values.len() == 1 {
        return sparkline_points(&[values[0], values[0]], max, width, height);
    }
    let max = if max > 0.0 { max } else { 1.0 };
    let step = if values.len() > 1 {
        width / (values.len() - 1) as f64
    } else {
        0.0
    };
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let y = height - (v.clamp(0.0, max) / max) * height;
            format!("{:.1},{:.1}", i as f64 * step, y)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CreateTaskRequest, Task};

    fn env(seq: i64, event: TaskEvent) -> EventEnvelope {
        EventEnvelope {
            id: seq,
            task_id: uuid::Uuid::nil(),
            seq,
            at: DateTime::from_timestamp(seq, 0).unwrap(),
            event,
        }
    }

    fn status(to: TaskStatus, reason: Option<&str>) -> TaskEvent {
        TaskEvent::StatusChanged {
            from: TaskStatus::Queued,
            to,
            reason: reason.map(str::to_string),
        }
    }

    fn check(name: &str, conclusion: &str) -> CheckResult {
        CheckResult {
            name: name.into(),
            conclusion: conclusion.into(),
            url: None,
            preexisting: false,
        }
    }

    fn usage(i: u64, o: u64) -> Option<TokenUsage> {
        Some(TokenUsage {
            input_tokens: i,
            output_tokens: o,
            ..Default::default()
        })
    }

    fn finished(turn: u32, cost: f64, u: Option<TokenUsage>) -> TaskEvent {
        TaskEvent::AgentTurnFinished {
            turn,
            ok: true,
            reason: None,
            summary: None,
            exit_code: Some(0),
            duration_ms: 1000,
            usage: u,
            cost_usd: Some(cost),
        }
    }

    fn red_then_green() -> Vec<EventEnvelope> {
        let task = Task::queued(
            uuid::Uuid::nil(),
            CreateTaskRequest::default(),
            DateTime::from_timestamp(0, 0).unwrap(),
        );
        let e = |seq, ev| env(seq, ev);
        vec![
            e(
                1,
                TaskEvent::TaskCreated {
                    task: Box::new(task),
                },
            ),
            e(2, status(TaskStatus::Preparing, None)),
            e(3, status(TaskStatus::Running, None)),
            e(
                4,
                TaskEvent::AgentTurnStarted {
                    turn: 1,
                    agent: "amp".into(),
                    follow_up: false,
                },
            ),
            e(5, finished(1, 0.5, usage(100, 10))),
            e(6, status(TaskStatus::AwaitingCi, None)),
            e(
                7,
                TaskEvent::CiRoundStarted {
                    round: 1,
                    sha: "aaa".into(),
                },
            ),
            e(
                8,
                TaskEvent::CiWaiting {
                    round: 1,
                    waiting: vec!["test".into()],
                },
            ),
            e(
                9,
                TaskEvent::CiRoundFinished {
                    round: 1,
                    sha: "aaa".into(),
                    verdict: CiVerdict::Red,
                    checks: vec![check("test", "failure")],
                    duration_ms: 60_000,
                },
            ),
            e(
                10,
                TaskEvent::CiFeedback {
                    round: 1,
                    text: "fix it".into(),
                    truncated: false,
                },
            ),
            e(11, status(TaskStatus::Fixing, None)),
            e(
                12,
                TaskEvent::AgentTurnStarted {
                    turn: 2,
                    agent: "amp".into(),
                    follow_up: true,
                },
            ),
            e(13, finished(2, 0.25, usage(50, 5))),
            e(14, status(TaskStatus::AwaitingCi, None)),
            e(
                15,
                TaskEvent::CiRoundStarted {
                    round: 2,
                    sha: "bbb".into(),
                },
            ),
            e(
                16,
                TaskEvent::CiRoundFinished {
                    round: 2,
                    sha: "bbb".into(),
                    verdict: CiVerdict::Green,
                    checks: vec![check("test", "success")],
                    duration_ms: 30_000,
                },
            ),
            e(17, status(TaskStatus::OpeningPr, None)),
            e(
                18,
                TaskEvent::PullRequestOpened {
                    number: 7,
                    url: "u".into(),
                    draft: false,
                },
            ),
            e(19, status(TaskStatus::Succeeded, None)),
        ]
    }

    #[test]
    fn the_timeline_reads_like_the_story() {
        let i = insights(&red_then_green());
        let labels: Vec<&str> = i.steps.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "queued",
                "preparing",
                "running",
                "CI round 1 ✗",
                "fixing",
                "CI round 2 ✓",
                "PR #7",
                "succeeded"
            ]
        );
        let states: Vec<StepState> = i.steps.iter().map(|s| s.state).collect();
        use StepState::*;
        assert_eq!(states, [Done, Done, Done, Failed, Done, Done, Done, Done]);
    }

    #[test]
    fn rounds_carry_checks_feedback_and_turns_add_up() {
        let i = insights(&red_then_green());
        assert_eq!(i.rounds.len(), 2);
        assert_eq!(i.rounds[0].verdict, Some(CiVerdict::Red));
        assert_eq!(i.rounds[0].feedback.as_deref(), Some("fix it"));
        assert!(i.rounds[0].waiting.is_empty(), "cleared when finished");
        assert_eq!(i.rounds[1].checks[0].conclusion, "success");
        assert_eq!(i.turns.len(), 2);
        assert!(i.turns[1].follow_up);
        assert_eq!(i.total_usage.input_tokens, 150);
        assert_eq!(i.total_usage.output_tokens, 15);
        assert_eq!(i.total_cost_usd, Some(0.75));
    }

    #[test]
    fn a_failure_marks_the_active_step_and_names_the_code() {
        let mut events = red_then_green();
        events.truncate(13);
        events.push(env(
            14,
            status(TaskStatus::Failed, Some("ci_still_failing: still red")),
        ));
        let i = insights(&events);
        let last = i.steps.last().unwrap();
        assert_eq!(last.label, "failed (ci_still_failing)");
        assert_eq!(last.state, StepState::Failed);
        assert_eq!(
            i.steps[i.steps.len() - 2].state,
            StepState::Failed,
            "the fixing step failed"
        );
    }

    #[test]
    fn turns_and_rounds_open_when_the_task_ends_are_stopped_not_running() {
        let started = |turn| TaskEvent::AgentTurnStarted {
            turn,
            agent: "amp".into(),
            follow_up: false,
        };
        let mut events = vec![
            env(1, started(1)),
            env(2, finished(1, 0.1, None)),
            env(
                3,
                TaskEvent::CiRoundStarted {
                    round: 1,
                    sha: "abc".into(),
                },
            ),
            env(4, started(2)),
        ];
        let open = insights(&events);
        assert!(
            !open.turns[1].stopped && !open.rounds[0].stopped,
            "still running"
        );
        events.push(env(
            5,
            status(TaskStatus::Cancelled, Some("cancelled by user")),
        ));
        let ended = insights(&events);
        assert!(!ended.turns[0].stopped, "a finished turn keeps its result");
        assert!(ended.turns[1].stopped);
        assert!(ended.rounds[0].stopped);
    }

    #[test]
    fn relative_times_round_sensibly() {
        let m = 60_000;
        assert_eq!(relative_time(0, 10_000), "just now");
        assert_eq!(relative_time(0, 5 * m), "5 min ago");
        assert_eq!(relative_time(0, 90 * m), "1 h ago");
        assert_eq!(relative_time(0, 49 * 60 * m), "2 d ago");
        assert_eq!(
            relative_time(10_000, 0),
            "just now",
            "clock skew is not negative"
        );
    }

    #[test]
    fn samples_are_bounded_and_sparklines_scale() {
        let events: Vec<EventEnvelope> = (0..200)
            .map(|n| {
                env(
                    n,
                    TaskEvent::ContainerStats {
                        cpu_percent: n as f64,
                        memory_bytes: 10,
                        memory_limit_bytes: Some(100),
                    },
                )
            })
            .collect();
        let i = insights(&events);
        assert_eq!(i.samples.len(), MAX_SAMPLES);
        assert_eq!(i.samples[0].cpu_percent, 80.0);
        assert_eq!(i.memory_limit_bytes, Some(100));
        assert_eq!(
            sparkline_points(&[0.0, 50.0, 100.0], 100.0, 100.0, 20.0),
            "0.0,20.0 50.0,10.0 100.0,0.0"
        );
        assert_eq!(sparkline_points(&[], 1.0, 10.0, 10.0), "");
        assert_eq!(
            sparkline_points(&[5.0], 10.0, 10.0, 10.0),
            "0.0,5.0 10.0,5.0",
            "one sample is a visible line"
        );
    }
}
