//! A failing step's log, cut down to what explains the failure and fitted to a byte budget.

use super::log::{error_rank, is_noise_line};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A `##[group]` line, shown as `▸ title`; its block is folded.
    Title,
    /// A line of the failing step's own script (its header group), shown at generous levels.
    Script,
    /// `##[error]` / `##[warning]`.
    Marker,
    /// A line matching an error pattern, with its rank (0 most telling; see `error_rank`).
    Hit(u8),
    Plain,
    /// Inside a group (and the `##[endgroup]` itself): folded into the title.
    Folded,
    Noise,
}

#[derive(Debug)]
struct Item<'a> {
    text: &'a str,
    kind: Kind,
    /// Index of its (first) line in the step.
    start: usize,
    /// Original lines this item stands for (runs of identical lines collapse into one item).
    count: usize,
    /// The `Title` item of the group this line is inside.
    group: Option<usize>,
}

/// How generous an excerpt is; [`LEVELS`] goes from the natural excerpt to the barest one.
struct Level {
    /// Lines of the step before the final `##[error]` whose content is kept.
    tail: usize,
    /// Lines kept either side of an error line.
    context: usize,
    /// Error-pattern lines kept outside the tail (the first ones).
    hits: usize,
    /// `##[error]`/`##[warning]` lines kept (the first ones; the final one always).
    markers: usize,
    /// Group titles kept (the first ones: the step's own header comes first).
    titles: usize,
    script: bool,
    /// Longest line shown, in bytes.
    line_cap: usize,
}

const ALL: usize = usize::MAX;

const LEVELS: [Level; 12] = [
    level(120, 3, ALL, ALL, ALL, true, 1000),
    level(90, 3, 60, 60, ALL, true, 600),
    level(60, 3, 40, 40, ALL, true, 400),
    level(40, 2, 25, 25, 20, true, 300),
    level(25, 2, 15, 15, 10, false, 240),
    level(15, 1, 10, 10, 1, false, 200),
    level(10, 1, 6, 6, 1, false, 200),
    level(6, 0, 4, 4, 1, false, 160),
    level(3, 0, 3, 3, 1, false, 160),
    level(1, 0, 2, 2, 1, false, 120),
    level(0, 0, 1, 1, 1, false, 120),
    level(0, 0, 1, 1, 0, false, 120),
];

const fn level(
    tail: usize,
    context: usize,
    hits: usize,
    markers: usize,
    titles: usize,
    script: bool,
    line_cap: usize,
) -> Level {
    Level {
        tail,
        context,
        hits,
        markers,
        titles,
        script,
        line_cap,
    }
}

/// Lines of a script shown under the step's header at most.
const MAX_SCRIPT_LINES: usize = 8;

/// An excerpt of one step's cleaned lines that fits in `budget_bytes` (UTF-8), and whether it had
/// to be cut below its natural size to fit.
///
/// The natural excerpt (interfaces §4.3 steps 5–6): `##[group]…##[endgroup]` blocks fold to their
/// title line (`▸ title (N lines folded)`; the step's own multi-line script stays visible);
/// every `##[error]`/`##[warning]` line stays; lines matching error patterns stay with ±3 lines of
/// context; the last 120 lines before the final `##[error]` (`Process completed with exit code
/// N.`) stay; noise lines go (never an error line); runs of identical lines collapse to
/// `line (×37)`; and every omission is marked `[… 812 lines omitted]`. Smaller budgets shrink
/// the tail, the context, the number of error lines, then the line length, in that order; as a
/// last resort the text is cut at a line boundary (`[… cut]`). An empty step gives `("", false)`.
pub fn excerpt(step: &[String], budget_bytes: usize) -> (String, bool) {
    let items = items(step);
    if items.is_empty() {
        return (String::new(), false);
    }
    let mut last = String::new();
    for (i, level) in LEVELS.iter().enumerate() {
        last = render(&items, level);
        if last.len() <= budget_bytes {
            return (last, i > 0);
        }
    }
    (cut_lines(&last, budget_bytes), true)
}

fn items(step: &[String]) -> Vec<Item<'_>> {
    let mut items: Vec<Item<'_>> = Vec::new();
    let mut group: Option<usize> = None;
    let mut seen_group = false;
    // The step's own header group: (its command's first line, script lines shown so far).
    let mut script: Option<(&str, usize)> = None;
    for (at, line) in step.iter().enumerate() {
        if let Some(title) = line.strip_prefix("##[group]") {
            script = match title.strip_prefix("Run ") {
                Some(command) if !seen_group => Some((command.trim(), 0)),
                _ => None,
            };
            seen_group = true;
            group = Some(items.len());
            items.push(Item {
                text: title,
                kind: Kind::Title,
                start: at,
                count: 1,
                group: None,
            });
            continue;
        }
        if line.starts_with("##[endgroup]") {
            let kind = if group.is_some() {
                Kind::Folded
            } else {
                Kind::Noise
            };
            push(&mut items, at, line, kind, group);
            group = None;
            script = None;
            continue;
        }
        let kind = if line.starts_with("##[error]") || line.starts_with("##[warning]") {
            Kind::Marker
        } else if let Some((command, shown)) = script.as_mut().filter(|_| group.is_some()) {
            if line.starts_with("shell: ") {
                script = None;
                Kind::Folded
            } else if *shown < MAX_SCRIPT_LINES && line.trim() != *command && !line.is_empty() {
                *shown += 1;
                Kind::Script
            } else {
                Kind::Folded
            }
        } else if let Some(rank) = error_rank(line) {
            Kind::Hit(rank)
        } else if group.is_some() {
            Kind::Folded
        } else if is_noise_line(line) {
            Kind::Noise
        } else {
            Kind::Plain
        };
        push(&mut items, at, line, kind, group);
    }
    items
}

fn push<'a>(items: &mut Vec<Item<'a>>, at: usize, line: &'a str, kind: Kind, group: Option<usize>) {
    if let Some(last) = items.last_mut() {
        if last.kind == kind && last.group == group && last.text == line && kind != Kind::Title {
            last.count += 1;
            return;
        }
    }
    items.push(Item {
        text: line,
        kind,
        start: at,
        count: 1,
        group,
    });
}

fn is_content(kind: Kind) -> bool {
    matches!(kind, Kind::Plain | Kind::Hit(_) | Kind::Marker)
}

fn select(items: &[Item<'_>], level: &Level) -> Vec<bool> {
    let mut selected = vec![false; items.len()];
    // Content lines, in order: what the tail and the context count in.
    let content: Vec<usize> = (0..items.len())
        .filter(|&i| is_content(items[i].kind))
        .collect();
    let mut titles = 0;
    for (i, item) in items.iter().enumerate() {
        match item.kind {
            Kind::Title => {
                selected[i] = titles < level.titles;
                titles += 1;
            }
            Kind::Script => selected[i] = level.script,
            _ => {}
        }
    }
    let anchor = content.iter().rposition(|&i| items[i].kind == Kind::Marker);
    // The tail: content lines among the `level.tail` lines before the anchor (or the end).
    let tail_end = anchor.map_or(content.len(), |a| a + 1);
    let last_line = anchor.map_or_else(
        || items.last().map_or(0, |item| item.start + item.count),
        |a| items[content[a]].start,
    );
    let first_line = last_line.saturating_sub(level.tail);
    let tail_start = content[..tail_end]
        .iter()
        .position(|&i| items[i].start >= first_line)
        .unwrap_or(tail_end);
    for &i in &content[tail_start..tail_end] {
        selected[i] = true;
    }
    let in_tail = |pos: usize| (tail_start..tail_end).contains(&pos) || Some(pos) == anchor;
    // Lines kept with their context: those in the tail (free), then the first markers, then the
    // first error lines, the most telling ones first.
    let mut keep: Vec<usize> = Vec::new();
    let mut markers = 0;
    for (pos, &i) in content.iter().enumerate() {
        let kind = items[i].kind;
        if matches!(kind, Kind::Marker | Kind::Hit(_)) && in_tail(pos) {
            keep.push(pos);
        } else if kind == Kind::Marker && markers < level.markers {
            markers += 1;
            keep.push(pos);
        }
    }
    let mut hits = 0;
    for rank in 0..=2 {
        for (pos, &i) in content.iter().enumerate() {
            if hits < level.hits && items[i].kind == Kind::Hit(rank) && !in_tail(pos) {
                hits += 1;
                keep.push(pos);
            }
        }
    }
    for pos in keep {
        let from = pos.saturating_sub(level.context);
        let to = (pos + level.context + 1).min(content.len());
        for &j in &content[from..to] {
            selected[j] = true;
        }
    }
    selected
}

fn render(items: &[Item<'_>], level: &Level) -> String {
    let selected = select(items, level);
    let mut out: Vec<String> = Vec::new();
    let mut omitted = 0usize;
    let mut folded = vec![0usize; items.len()];
    // (title item, its line in `out`)
    let mut titles: Vec<(usize, usize)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if selected[i] {
            if omitted > 0 {
                out.push(omission(omitted));
                omitted = 0;
            }
            if item.kind == Kind::Title {
                titles.push((i, out.len()));
                out.push(format!("▸ {}", cap_line(item.text, level.line_cap)));
            } else if item.count > 1 && !item.text.trim().is_empty() {
                out.push(format!(
                    "{} (×{})",
                    cap_line(item.text, level.line_cap),
                    item.count
                ));
            } else {
                out.push(cap_line(item.text, level.line_cap));
            }
            continue;
        }
        match item.group {
            Some(g) if selected[g] && matches!(item.kind, Kind::Folded | Kind::Script) => {
                folded[g] += item.count;
            }
            _ => omitted += item.count,
        }
    }
    if omitted > 0 {
        out.push(omission(omitted));
    }
    for (item, line) in titles {
        if folded[item] > 0 {
            let n = folded[item];
            out[line].push_str(&format!(" ({n} line{} folded)", plural(n)));
        }
    }
    out.join("\n")
}

fn omission(n: usize) -> String {
    format!("[… {n} line{} omitted]", plural(n))
}

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn cap_line(text: &str, cap: usize) -> String {
    if text.len() <= cap {
        return text.to_owned();
    }
    let cut = text.floor_char_boundary(cap);
    format!("{}… [+{} bytes]", &text[..cut], text.len() - cut)
}

/// The last resort: the first lines of `text` that fit in `budget` bytes with a `[… cut]` line
/// after them (or as much of the first line as fits).
pub(crate) fn cut_lines(text: &str, budget: usize) -> String {
    const MARK: &str = "[… cut]";
    if text.len() <= budget {
        return text.to_owned();
    }
    let first = text.split('\n').next().unwrap_or_default();
    if budget < MARK.len() + 2 {
        return first[..first.floor_char_boundary(budget)].to_owned();
    }
    let room = budget - MARK.len();
    let mut out = String::new();
    for line in text.split('\n') {
        if out.len() + line.len() + 1 > room {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    if out.is_empty() {
        out.push_str(&first[..first.floor_char_boundary(room - 1)]);
        out.push('\n');
    }
    out.push_str(MARK);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    const STEP: &str = "\
##[group]Run cargo test --workspace
cargo test --workspace
shell: /usr/bin/bash -e {0}
env:
  CARGO_TERM_COLOR: always
##[endgroup]
   Compiling serde v1.0.219
   Compiling widgets v0.1.0 (/home/runner/work/widgets/widgets)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 31.02s
     Running unittests src/lib.rs (target/debug/deps/widgets-3f2a9c1d5e6b7a80)

running 3 tests
test a ... ok
test b ... FAILED
test c ... ok

failures:

---- b stdout ----
thread 'b' panicked at src/lib.rs:12:5:
assertion failed: 1 + 1 == 3

failures:
    b

test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

error: test failed, to rerun pass `-p widgets --lib`
##[error]Process completed with exit code 101.";

    #[test]
    fn natural_excerpt_folds_the_header_drops_noise_and_keeps_the_failure() {
        let (text, cut) = excerpt(&lines(STEP), usize::MAX);
        assert!(!cut);
        assert_eq!(
            text,
            "\
▸ Run cargo test --workspace (5 lines folded)
[… 2 lines omitted]
    Finished `test` profile [unoptimized + debuginfo] target(s) in 31.02s
     Running unittests src/lib.rs (target/debug/deps/widgets-3f2a9c1d5e6b7a80)

running 3 tests
[… 1 line omitted]
test b ... FAILED
[… 1 line omitted]

failures:

---- b stdout ----
thread 'b' panicked at src/lib.rs:12:5:
assertion failed: 1 + 1 == 3

failures:
    b

test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

error: test failed, to rerun pass `-p widgets --lib`
##[error]Process completed with exit code 101."
        );
    }

    #[test]
    fn excerpt_always_fits_and_keeps_the_error_as_long_as_it_can() {
        let step = lines(STEP);
        let (natural, _) = excerpt(&step, usize::MAX);
        for budget in 0..=natural.len() + 10 {
            let (text, cut) = excerpt(&step, budget);
            assert!(text.len() <= budget, "{budget}: {} bytes", text.len());
            assert_eq!(cut, budget < natural.len(), "{budget}");
            if budget >= 140 {
                assert!(
                    text.contains("panicked at src/lib.rs:12:5"),
                    "{budget}:\n{text}"
                );
                assert!(
                    text.contains("##[error]Process completed with exit code 101."),
                    "{budget}:\n{text}"
                );
            }
            if budget >= 300 {
                assert!(
                    text.contains("assertion failed: 1 + 1 == 3"),
                    "{budget}:\n{text}"
                );
                assert!(
                    text.starts_with("▸ Run cargo test --workspace"),
                    "{budget}:\n{text}"
                );
            }
        }
    }

    #[test]
    fn multi_line_scripts_stay_visible_and_other_groups_fold() {
        let step = lines(
            "##[group]Run cargo fmt --check\ncargo fmt --check\ncargo clippy -- -D warnings\n\
             ./scripts/check.sh\nshell: /usr/bin/bash -e {0}\n##[endgroup]\n\
             ##[group]Installing tools\nfoo\nbar\n##[endgroup]\nerror: could not compile `x`\n\
             ##[error]Process completed with exit code 1.",
        );
        let (text, _) = excerpt(&step, usize::MAX);
        assert_eq!(
            text,
            "▸ Run cargo fmt --check (3 lines folded)\ncargo clippy -- -D warnings\n\
             ./scripts/check.sh\n▸ Installing tools (3 lines folded)\nerror: could not compile `x`\n\
             ##[error]Process completed with exit code 1."
        );
    }

    #[test]
    fn identical_lines_collapse_and_long_lines_are_capped() {
        let mut step = vec!["warning: deprecated".to_owned(); 37];
        step.push("x".repeat(3000));
        step.push("##[error]boom".to_owned());
        let (text, _) = excerpt(&step, usize::MAX);
        let shown: Vec<&str> = text.lines().collect();
        assert_eq!(shown[0], "warning: deprecated (×37)");
        assert!(shown[1].ends_with("… [+2000 bytes]"), "{}", shown[1]);
        assert_eq!(shown[2], "##[error]boom");
    }

    #[test]
    fn an_error_far_from_the_end_is_kept_with_context() {
        let mut step = vec![
            "##[group]Run make check".to_owned(),
            "##[endgroup]".to_owned(),
        ];
        step.extend((0..500).map(|i| format!("step {i} fine")));
        step.push("Error: config missing at tools/cfg.py:3".to_owned());
        step.extend((0..500).map(|i| format!("later {i} fine")));
        step.push("##[error]Process completed with exit code 2.".to_owned());
        let (text, cut) = excerpt(&step, usize::MAX);
        assert!(!cut);
        assert!(text.contains(
            "[… 497 lines omitted]\nstep 497 fine\nstep 498 fine\nstep 499 fine\n\
             Error: config missing at tools/cfg.py:3\nlater 0 fine\nlater 1 fine\nlater 2 fine\n\
             [… 377 lines omitted]\nlater 380 fine"
        ));
        assert!(text.ends_with("later 499 fine\n##[error]Process completed with exit code 2."));
        let (small, cut) = excerpt(&step, 400);
        assert!(cut);
        assert!(small.len() <= 400);
        assert!(
            small.contains("Error: config missing at tools/cfg.py:3"),
            "{small}"
        );
        assert!(small.ends_with("##[error]Process completed with exit code 2."));
    }

    #[test]
    fn empty_steps_and_tiny_budgets() {
        assert_eq!(excerpt(&[], 0), (String::new(), false));
        let (text, cut) = excerpt(&lines(STEP), 5);
        assert!(cut);
        assert!(text.len() <= 5);
        assert_eq!(cut_lines("aaaa\nbbbb\ncccc\ndddd", 14), "aaaa\n[… cut]");
        assert_eq!(cut_lines("aaaa\nbbbb\ncccc\ndddd", 18), "aaaa\n[… cut]");
        assert_eq!(
            cut_lines("aaaa\nbbbb\ncccc\ndddd", 19),
            "aaaa\nbbbb\ncccc\ndddd"
        );
        assert_eq!(cut_lines("aaaaaaaaaaaaaaaaaaaa", 15), "aaaaa\n[… cut]");
        assert_eq!(cut_lines("日本語", 4), "日");
    }
}
