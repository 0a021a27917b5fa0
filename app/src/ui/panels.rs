//! The task page's panels, all drawn from [`crate::insights::Insights`]: the phase timeline, the
//! CI rounds (checks and the feedback sent to the agent), usage and cost, and resource sparklines.

use crate::insights::{sparkline_points, Insights, StepState};
use crate::model::CiVerdict;
use leptos::prelude::*;

const PANEL: &str = "rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900";

#[component]
pub fn Timeline(insights: Memo<Insights>) -> impl IntoView {
    let steps = move || insights.with(|i| i.steps.clone());
    view! {
        <ol class="flex flex-wrap items-center gap-2 text-sm" data-testid="timeline" aria-label="Progress">
            <For each=steps key=|s| (s.label.clone(), s.at, s.state) let:step>
                <li
                    data-testid="timeline-step"
                    data-state=match step.state { StepState::Done => "done", StepState::Active => "active", StepState::Failed => "failed" }
                    class=match step.state {
                        StepState::Done => "rounded-full bg-emerald-100 px-3 py-1 text-emerald-900 dark:bg-emerald-900 dark:text-emerald-100",
                        StepState::Active => "rounded-full bg-blue-600 px-3 py-1 text-white animate-pulse",
                        StepState::Failed => "rounded-full bg-red-100 px-3 py-1 text-red-900 dark:bg-red-900 dark:text-red-100",
                    }
                    title=super::components::format_time(step.at)
                >
                    {step.label.clone()}
                </li>
            </For>
        </ol>
    }
}

#[component]
pub fn CiRounds(insights: Memo<Insights>) -> impl IntoView {
    let rounds = move || insights.with(|i| i.rounds.clone());
    view! {
        <Show when=move || insights.with(|i| !i.rounds.is_empty())>
            <section class=PANEL aria-labelledby="ci-heading" data-testid="ci-rounds">
                <h2 id="ci-heading" class="mb-3 text-lg font-semibold">"CI rounds"</h2>
                <ol class="grid gap-3">
                    <For each=rounds key=|r| (r.round, r.sha.clone(), r.verdict, r.waiting.clone(), r.feedback.is_some(), r.stopped) let:round>
                        <li data-testid="ci-round" data-round=round.round data-verdict=round.verdict.map(verdict_name).unwrap_or(if round.stopped { "stopped" } else { "pending" })
                            class="rounded border border-slate-200 p-3 dark:border-slate-700">
                            <div class="flex flex-wrap items-center justify-between gap-2">
                                <span class="font-medium">{format!("Round {}", round.round)}</span>
                                <span class="font-mono text-xs text-slate-500 dark:text-slate-400">{round.sha.get(..7).unwrap_or(&round.sha).to_string()}</span>
                                <span class="text-sm">{if round.stopped { "stopped" } else { verdict_text(round.verdict) }}</span>
                                <span class="text-xs text-slate-500 dark:text-slate-400">
                                    {round.duration_ms.map(|ms| format!("{:.0}s", ms as f64 / 1000.0)).unwrap_or_default()}
                                </span>
                            </div>
                            {(!round.waiting.is_empty()).then(|| view! {
                                <p class="mt-1 text-sm text-slate-600 dark:text-slate-300">"waiting for " {round.waiting.join(", ")}</p>
                            })}
                            <ul class="mt-2 flex flex-wrap gap-2 text-xs">
                                {round.checks.iter().map(|c| {
                                    let (mark, class) = match c.conclusion.as_str() {
                                        "success" => ("✓", "bg-emerald-50 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200"),
                                        "neutral" | "skipped" => ("–", "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-200"),
                                        _ => ("✗", "bg-red-50 text-red-800 dark:bg-red-950 dark:text-red-200"),
                                    };
                                    let pre = if c.preexisting { " (pre-existing)" } else { "" };
                                    let label = format!("{mark} {}{pre}", c.name);
                                    let class = format!("rounded px-2 py-0.5 {class}");
                                    match c.url.clone() {
                                        Some(url) => view! { <li data-testid="ci-check" class=class><a href=url class="underline">{label}</a></li> }.into_any(),
                                        None => view! { <li data-testid="ci-check" class=class>{label}</li> }.into_any(),
                                    }
                                }).collect_view()}
                            </ul>
                            {round.feedback.clone().map(|text| view! {
                                <details class="mt-2" data-testid="ci-feedback">
                                    <summary class="cursor-pointer text-sm text-blue-700 dark:text-blue-300">
                                        {if round.feedback_truncated { "Feedback sent to the agent (cut to fit)" } else { "Feedback sent to the agent" }}
                                    </summary>
                                    <pre class="mt-2 max-h-96 overflow-auto whitespace-pre-wrap rounded bg-slate-50 p-2 text-xs dark:bg-slate-950">{text}</pre>
                                </details>
                            })}
                        </li>
                    </For>
                </ol>
            </section>
        </Show>
    }
}

fn verdict_name(v: CiVerdict) -> &'static str {
    match v {
        CiVerdict::Green => "green",
        CiVerdict::Red => "red",
        CiVerdict::NoChecks => "no_checks",
        CiVerdict::TimedOut => "timed_out",
    }
}

fn verdict_text(v: Option<CiVerdict>) -> &'static str {
    match v {
        None => "running…",
        Some(CiVerdict::Green) => "✓ green",
        Some(CiVerdict::Red) => "✗ red",
        Some(CiVerdict::NoChecks) => "no checks",
        Some(CiVerdict::TimedOut) => "timed out",
    }
}

#[component]
pub fn Usage(insights: Memo<Insights>) -> impl IntoView {
    let turns = move || insights.with(|i| i.turns.clone());
    let tokens = |u: Option<crate::model::TokenUsage>| {
        u.map(|u| {
            format!(
                "{} in / {} out",
                u.input_tokens + u.cache_read_tokens + u.cache_write_tokens,
                u.output_tokens
            )
        })
        .unwrap_or_else(|| "—".into())
    };
    view! {
        <Show when=move || insights.with(|i| !i.turns.is_empty())>
            <section class=PANEL aria-labelledby="usage-heading" data-testid="usage">
                <h2 id="usage-heading" class="mb-2 text-lg font-semibold">"Agent turns"</h2>
                <table class="w-full text-sm">
                    <thead class="text-left text-slate-500 dark:text-slate-400">
                        <tr><th>"turn"</th><th>"kind"</th><th>"result"</th><th>"tokens"</th><th>"cost"</th><th>"time"</th></tr>
                    </thead>
                    <tbody>
                        <For each=turns key=|t| (t.turn, t.ok, t.stopped) let:turn>
                            <tr data-testid="usage-turn">
                                <td>{turn.turn}</td>
                                <td>{if turn.follow_up { "follow-up" } else { "first" }}</td>
                                <td>{match (turn.ok, turn.stopped) { (Some(true), _) => "✓", (Some(false), _) => "✗", (None, true) => "stopped", (None, false) => "running…" }}</td>
                                <td>{tokens(turn.usage)}</td>
                                <td>{turn.cost_usd.map(|c| format!("${c:.4}")).unwrap_or_else(|| "—".into())}</td>
                                <td>{turn.duration_ms.map(|ms| format!("{:.1}s", ms as f64 / 1000.0)).unwrap_or_default()}</td>
                            </tr>
                        </For>
                    </tbody>
                    <tfoot class="font-medium">
                        <tr data-testid="usage-total">
                            <td colspan="3">"total"</td>
                            <td>{move || insights.with(|i| tokens(Some(i.total_usage)))}</td>
                            <td>{move || insights.with(|i| i.total_cost_usd.map(|c| format!("${c:.4}")).unwrap_or_else(|| "—".into()))}</td>
                            <td></td>
                        </tr>
                    </tfoot>
                </table>
            </section>
        </Show>
    }
}

#[component]
pub fn Resources(insights: Memo<Insights>) -> impl IntoView {
    let cpu = move || {
        insights.with(|i| {
            let values: Vec<f64> = i.samples.iter().map(|s| s.cpu_percent).collect();
            let max = values.iter().copied().fold(100.0_f64, f64::max);
            sparkline_points(&values, max, 200.0, 32.0)
        })
    };
    let memory = move || {
        insights.with(|i| {
            let values: Vec<f64> = i.samples.iter().map(|s| s.memory_bytes as f64).collect();
            let max = i
                .memory_limit_bytes
                .map(|l| l as f64)
                .unwrap_or_else(|| values.iter().copied().fold(1.0, f64::max));
            sparkline_points(&values, max, 200.0, 32.0)
        })
    };
    let last = move || insights.with(|i| i.samples.last().copied());
    view! {
        <Show when=move || insights.with(|i| !i.samples.is_empty())>
            <section class=PANEL aria-labelledby="res-heading" data-testid="resources">
                <h2 id="res-heading" class="mb-2 text-lg font-semibold">"Container"</h2>
                <div class="grid gap-4 sm:grid-cols-2">
                    <figure>
                        <figcaption class="text-sm">"CPU " <span class="font-mono">{move || last().map(|s| format!("{:.0}%", s.cpu_percent)).unwrap_or_default()}</span></figcaption>
                        <svg viewBox="0 0 200 32" class="h-8 w-full text-blue-600" role="img" aria-label="CPU over time">
                            <polyline fill="none" stroke="currentColor" stroke-width="1.5" points=cpu/>
                        </svg>
                    </figure>
                    <figure>
                        <figcaption class="text-sm">"Memory " <span class="font-mono">{move || last().map(|s| format!("{} MiB", s.memory_bytes >> 20)).unwrap_or_default()}</span></figcaption>
                        <svg viewBox="0 0 200 32" class="h-8 w-full text-amber-600" role="img" aria-label="Memory over time">
                            <polyline fill="none" stroke="currentColor" stroke-width="1.5" points=memory/>
                        </svg>
                    </figure>
                </div>
            </section>
        </Show>
    }
}
