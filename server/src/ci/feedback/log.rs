//! GitHub Actions job logs: cleaning them, finding the failing step, and telling error lines
//! from noise.
//!
//! Format (interfaces §4.1): every line is `<ISO-8601, 7 fractional digits>Z <text>`, the first
//! may start with a BOM, ANSI colours are kept, `run:` steps start with `##[group]Run <first line
//! of the command>` (then the echoed script, `shell:`, an `env:` block, `##[endgroup]`), uses-steps
//! with `##[group]Run owner/action@ref`, and a failing `run:` step ends with
//! `##[error]Process completed with exit code N.`.

use regex::Regex;
use std::sync::LazyLock;

/// Cleans a raw job log into lines: strips the BOM, each line's `2026-07-28T16:19:59.9385068Z `
/// timestamp, ANSI escapes (CSI such as `\x1b[36;1m`, OSC such as hyperlinks), carriage-return
/// overwrites (a progress bar's last state wins) and other control characters (tabs stay).
pub fn clean_log(raw: &str) -> Vec<String> {
    if raw.is_empty() {
        return Vec::new();
    }
    let mut lines: Vec<String> = raw.split('\n').map(clean_line).collect();
    if raw.ends_with('\n') {
        lines.pop();
    }
    lines
}

fn clean_line(line: &str) -> String {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let line = line.trim_start_matches('\u{feff}');
    let line = strip_timestamp(line).trim_start_matches('\u{feff}');
    // Escapes out, `\r` overwrites applied, other controls dropped: what a terminal shows.
    app::ansi::plain(line)
}

/// Removes a leading `YYYY-MM-DDTHH:MM:SS[.fraction]Z` and the one space after it.
fn strip_timestamp(line: &str) -> &str {
    const SHAPE: &[u8] = b"0000-00-00T00:00:00";
    let bytes = line.as_bytes();
    if bytes.len() < SHAPE.len() + 1 {
        return line;
    }
    let shape_ok = SHAPE.iter().zip(bytes).all(|(&want, &got)| {
        if want == b'0' {
            got.is_ascii_digit()
        } else {
            got == want
        }
    });
    if !shape_ok {
        return line;
    }
    let mut i = SHAPE.len();
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    if bytes.get(i) != Some(&b'Z') {
        return line;
    }
    i += 1;
    if bytes.get(i) == Some(&b' ') {
        i += 1;
    }
    &line[i..]
}

/// One step's span of lines in a cleaned log: `[start, end)`; `title` is the `##[group]Run …`
/// header's text (`None` for the job set-up before the first step and for post/cleanup steps).
#[derive(Debug)]
struct Segment<'a> {
    title: Option<&'a str>,
    start: usize,
    end: usize,
}

fn segments(lines: &[String]) -> Vec<Segment<'_>> {
    let mut out: Vec<Segment<'_>> = Vec::new();
    let mut current = Segment {
        title: None,
        start: 0,
        end: 0,
    };
    for (i, line) in lines.iter().enumerate() {
        let title = if let Some(title) = line.strip_prefix("##[group]Run ") {
            Some(Some(title))
        } else if line == "Post job cleanup." || line.starts_with("Cleaning up orphan processes") {
            Some(None)
        } else {
            None
        };
        if let Some(title) = title {
            if i > current.start {
                current.end = i;
                out.push(current);
            }
            current = Segment {
                title: title.map(|t| t.trim_end()),
                start: i,
                end: i,
            };
        }
    }
    current.end = lines.len();
    if current.end > current.start {
        out.push(current);
    }
    out
}

/// Whitespace-collapsed, for comparing a step's name with a header title.
fn normalise_title(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn has_error(lines: &[String]) -> bool {
    lines.iter().any(|l| l.starts_with("##[error]"))
}

/// The lines of the failing step(s) in a cleaned log.
///
/// Steps are found by their `##[group]Run …` headers, whose title is the step's default name
/// (`Run <first command line>`, `Run owner/action@ref`); a step's name matches a header exactly
/// (whitespace-collapsed) or as a prefix either way. Among several matching headers, those whose
/// step printed an `##[error]` win. A matched step without any `##[error]` (a composite action,
/// whose inner steps have their own headers) extends to the next step that has one.
///
/// With no match (a step named with `name:`, or no step names known) the slice is the step holding
/// the first `##[error]` line; with no `##[error]` at all, the whole log.
///
/// With several failed steps the slice spans from the first to the last of them.
pub fn failing_step_slice<'a>(lines: &'a [String], failed_steps: &[String]) -> &'a [String] {
    let segs = segments(lines);
    let mut chosen: Vec<(usize, usize)> = Vec::new();
    for name in failed_steps {
        let name = normalise_title(name);
        if name.is_empty() {
            continue;
        }
        let score = |seg: &Segment<'_>| -> u8 {
            let Some(title) = seg.title else { return 0 };
            let title = normalise_title(title);
            let full = format!("Run {title}");
            if title == name || full == name {
                2
            } else if name.len() >= 5
                && (full.starts_with(&name) || name.starts_with(&full) || title.starts_with(&name))
            {
                1
            } else {
                0
            }
        };
        let best = segs.iter().map(score).max().unwrap_or(0);
        if best == 0 {
            continue;
        }
        let matched: Vec<usize> = (0..segs.len())
            .filter(|&i| score(&segs[i]) == best)
            .collect();
        let with_error: Vec<usize> = matched
            .iter()
            .copied()
            .filter(|&i| has_error(&lines[segs[i].start..segs[i].end]))
            .collect();
        if with_error.is_empty() {
            for i in matched {
                chosen.push(extend_to_error(lines, &segs, i));
            }
        } else {
            chosen.extend(with_error.iter().map(|&i| (segs[i].start, segs[i].end)));
        }
    }
    if chosen.is_empty() {
        if let Some(seg) = segs
            .iter()
            .find(|seg| has_error(&lines[seg.start..seg.end]))
        {
            chosen.push((seg.start, seg.end));
        }
    }
    let start = chosen.iter().map(|c| c.0).min();
    let end = chosen.iter().map(|c| c.1).max();
    match (start, end) {
        (Some(start), Some(end)) => &lines[start..end],
        _ => lines,
    }
}

/// A matched step without an `##[error]`: extend it through the following steps up to the first
/// one with an `##[error]`, never past a post-job step; unchanged when none has one.
fn extend_to_error(lines: &[String], segs: &[Segment<'_>], i: usize) -> (usize, usize) {
    let start = segs[i].start;
    for seg in &segs[i + 1..] {
        if seg.title.is_none() {
            break;
        }
        if has_error(&lines[seg.start..seg.end]) {
            return (start, seg.end);
        }
    }
    (start, segs[i].end)
}

/// Patterns of lines that say something went wrong (interfaces §4.3 step 5), plus a few common
/// ones from other toolchains. Lower-case `failed` is checked separately (`0 failed` is success).
static ERROR_PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"error\[E\d+\]|(?i:error:)|\bFAILED\b|\bFAIL\b|panicked at|thread '[^']*' panicked",
        r"|(?i:\bassert)|Traceback \(most recent call last\)|[✗✕✘]|\bExpected\b|\bReceived\b",
        r"|^E {2,}\S|npm ERR!|\berror TS\d+|(?i:\bfatal\b)|Segmentation fault|command not found",
        r"|Exception\b|^failures:$|(?i:\btimed out\b)|\bpanic:|^\s*(?:left|right): ",
    ))
    .expect("the error pattern is a valid regex")
});

/// Whether a cleaned line looks like part of an error report.
pub(crate) fn is_error_line(line: &str) -> bool {
    if is_strict_noise(line) {
        return false;
    }
    ERROR_PATTERN.is_match(line) || mentions_failed(line)
}

/// `failed` as a word, except the `0 failed` of a passing summary.
fn mentions_failed(line: &str) -> bool {
    line.match_indices("failed").any(|(at, _)| {
        let before = &line[..at];
        let after = &line[at + "failed".len()..];
        let word_start = !before.ends_with(|c: char| c.is_alphanumeric() || c == '_');
        let word_end = !after.starts_with(|c: char| c.is_alphanumeric() || c == '_');
        let zero = before.trim_end().ends_with('0')
            && !before
                .trim_end()
                .trim_end_matches('0')
                .ends_with(|c: char| c.is_ascii_digit());
        word_start && word_end && !zero
    })
}

/// Error lines that say what went wrong and where (a panic, a compiler error, a failed
/// expectation, a `file:line`)…
static PRIMARY_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"panicked at|error\[E\d+\]|(?i:error:)|Traceback|^E {2,}\S|Exception\b|[✗✕✘●]",
        r"|\bExpected\b|npm ERR!|\berror TS\d+|Segmentation fault|command not found|\bpanic:",
        r"|\.\w+:\d+",
    ))
    .expect("the primary-error pattern is a valid regex")
});

/// …and the ones that detail them (an assertion's sides, what was received).
static SECONDARY_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i:\bassert)|\bReceived\b|^\s*(?:left|right): ")
        .expect("the secondary-error pattern is a valid regex")
});

/// How telling an error line is, when only a few fit: 0 says what went wrong and where, 1 details
/// it, 2 only says that something failed (`FAILED`, `1 failed`…); `None` for other lines.
pub(crate) fn error_rank(line: &str) -> Option<u8> {
    if !is_error_line(line) {
        None
    } else if PRIMARY_ERROR.is_match(line) {
        Some(0)
    } else if SECONDARY_ERROR.is_match(line) {
        Some(1)
    } else {
        Some(2)
    }
}

/// Lines whose exact shape can never be an error report, even when a crate or test name in them
/// contains "assert" or "fail": cargo progress and passing-test lines.
static STRICT_NOISE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^\s*(?:Compiling|Checking|Downloaded|Fresh|Documenting|Locking|Adding|Updating|Removing)",
        r" [A-Za-z0-9_.-]+ v\d+\.\d+\.\d+\S*(?: \([^)]*\))?\s*$",
        r"|^test .+ \.\.\. (?:ok|ignored)\s*$",
        r"|^\s*[✓✔√] .*\(\d+(?:\.\d+)? ?m?s\)\s*$",
        r"|^\s*(?:--- PASS|=== RUN|=== PAUSE|=== CONT)\b",
        r"|::\S+ PASSED\b",
    ))
    .expect("the strict-noise pattern is a valid regex")
});

fn is_strict_noise(line: &str) -> bool {
    STRICT_NOISE.is_match(line)
}

/// Line prefixes (after leading spaces) of set-up chatter: git, docker pulls, package managers.
const NOISE_PREFIXES: &[&str] = &[
    "remote: Counting objects",
    "remote: Compressing objects",
    "remote: Enumerating objects",
    "remote: Total ",
    "Receiving objects:",
    "Resolving deltas:",
    "[command]/usr/bin/git ",
    "Download action repository",
    "Collecting ",
    "Downloading ",
    "Installing ",
    "npm WARN deprecated",
    "npm notice",
    "Compiling ",
    "Downloaded ",
    "Updating crates.io index",
    "Updating git repository",
    "Blocking waiting for file lock",
    "Requirement already satisfied",
    "Using cached ",
    "Obtaining ",
    "Preparing metadata",
    "Building wheel",
    "Created wheel",
    "Stored in directory",
    "Get:",
    "Hit:",
    "Ign:",
    "Unpacking ",
    "Setting up ",
    "Selecting previously unselected",
    "Preparing to unpack",
    "Processing triggers",
    "Reading package lists",
    "Building dependency tree",
    "Reading state information",
    "Digest: sha256:",
    "Status: Downloaded newer image",
    "##[debug]",
];

static DOCKER_PULL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^[0-9a-f]{12}: (?:Pulling fs layer|Waiting|Downloading|Verifying Checksum",
        r"|Download complete|Pull complete|Extracting|Already exists)"
    ))
    .expect("the docker-pull pattern is a valid regex")
});

/// Whether a cleaned line is noise to drop from an excerpt. Error lines are never noise, except
/// the strict shapes of cargo progress and passing tests.
pub(crate) fn is_noise_line(line: &str) -> bool {
    if is_strict_noise(line) {
        return true;
    }
    let trimmed = line.trim_start();
    (NOISE_PREFIXES.iter().any(|p| trimmed.starts_with(p)) || DOCKER_PULL.is_match(trimmed))
        && !is_error_line(line)
}

static TAG_LIKE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)<(\s*/?\s*ci-output)").expect("the tag pattern is a valid regex")
});

/// Makes one line of CI text unable to pose as our own markup: `<ci-output`/`</ci-output` become
/// `‹ci-output`/`‹/ci-output`, and a leading Markdown heading's first `#` becomes `＃`.
pub(crate) fn neutralise(line: &str) -> String {
    let line = if line.to_ascii_lowercase().contains("ci-output") {
        TAG_LIKE.replace_all(line, "‹$1").into_owned()
    } else {
        line.to_owned()
    };
    let hashes = line.bytes().take_while(|&b| b == b'#').count();
    if (1..=6).contains(&hashes) && line[hashes..].starts_with([' ', '\t']) {
        format!("＃{}", &line[1..])
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn clean_log_strips_bom_timestamps_and_trailing_newline() {
        let raw = "\u{feff}2026-07-28T16:19:59.9385068Z Current runner version: '2.327.1'\r\n\
                   2026-07-28T16:19:59.9400000Z \n\
                   2026-07-28T16:20:00.0000001Z ##[error]Process completed with exit code 101.\n";
        assert_eq!(
            clean_log(raw),
            vec![
                "Current runner version: '2.327.1'",
                "",
                "##[error]Process completed with exit code 101."
            ]
        );
    }

    #[test]
    fn clean_log_accepts_timestamps_without_fraction_or_space_and_leaves_others() {
        assert_eq!(
            clean_log(
                "2026-07-28T16:19:59Z hello\n2026-07-28T16:19:59.1Z\nno stamp 2026-07-28T16:19:59Z"
            ),
            vec!["hello", "", "no stamp 2026-07-28T16:19:59Z"]
        );
        // Not quite a timestamp: kept as text.
        assert_eq!(
            clean_log("2026-07-28 16:19:59Z x\n2026-07-28T16:19:59.12 y"),
            vec!["2026-07-28 16:19:59Z x", "2026-07-28T16:19:59.12 y"]
        );
        assert!(clean_log("").is_empty());
        assert_eq!(clean_log("\n"), vec![""]);
    }

    #[test]
    fn clean_log_strips_ansi_csi_osc_and_controls() {
        let raw = "2026-07-28T16:19:59.9385068Z \u{1b}[36;1mcargo test\u{1b}[0m\n\
                   \u{1b}[1m\u{1b}[92m   Compiling\u{1b}[0m widgets v0.1.0\n\
                   \u{1b}]8;;https://example.com\u{7}link\u{1b}]8;;\u{7} and \u{1b}]0;title\u{1b}\\done\n\
                   test a ... \u{1b}[31mFAILED\u{1b}(B\u{1b}[m\n\
                   bell\u{7} back\u{8}space\ttab\n\
                   \u{9b}32mgreen";
        assert_eq!(
            clean_log(raw),
            vec![
                "cargo test",
                "   Compiling widgets v0.1.0",
                "link and done",
                "test a ... FAILED",
                "bell backspace\ttab",
                "green"
            ]
        );
    }

    #[test]
    fn clean_log_keeps_a_progress_bar_last_state_and_unicode() {
        assert_eq!(
            clean_log("Downloading 10%\rDownloading 55%\rDownloading 100%\r\n✕ grüße 日本"),
            vec!["Downloading 100%", "✕ grüße 日本"]
        );
    }

    const STEPS: &str = "\
Current runner version: '2.327.1'
##[group]Run actions/checkout@v4
with:
  repository: acme/widgets
##[endgroup]
Syncing repository: acme/widgets
##[group]Run cargo build --locked
cargo build --locked
shell: /usr/bin/bash -e {0}
##[endgroup]
   Finished `dev` profile
##[group]Run cargo test --workspace
cargo test --workspace
shell: /usr/bin/bash -e {0}
##[endgroup]
test a ... FAILED
##[error]Process completed with exit code 101.
##[group]Run ./scripts/lint.sh
##[endgroup]
lint fine
Post job cleanup.
[command]/usr/bin/git version";

    #[test]
    fn failing_step_slice_picks_the_step_by_its_default_name() {
        let log = lines(STEPS);
        let slice = failing_step_slice(&log, &["Run cargo test --workspace".into()]);
        assert_eq!(
            slice.first().map(String::as_str),
            Some("##[group]Run cargo test --workspace")
        );
        assert_eq!(
            slice.last().map(String::as_str),
            Some("##[error]Process completed with exit code 101.")
        );
        // The last step before the post-job steps: nothing to extend to.
        let slice = failing_step_slice(&log, &["Run ./scripts/lint.sh".into()]);
        assert_eq!(slice, &log[17..20]);
        // A uses-step, named `Run owner/action@ref`, that failed with its own error.
        let log = lines(
            "##[group]Run actions/checkout@v4\n##[endgroup]\nSyncing\n\
             ##[group]Run actions/setup-node@v4\nwith:\n  node-version: 99\n##[endgroup]\n\
             ##[error]Unable to find Node version '99' for platform linux.\n\
             ##[group]Run npm ci\n##[endgroup]\nPost job cleanup.",
        );
        let slice = failing_step_slice(&log, &["Run actions/setup-node@v4".into()]);
        assert_eq!(slice, &log[3..8]);
    }

    #[test]
    fn failing_step_slice_matches_prefixes_and_spans_several_steps() {
        let log = lines(STEPS);
        // GitHub may shorten a long first line in the step's name.
        let slice = failing_step_slice(&log, &["Run cargo test".into()]);
        assert_eq!(slice[0], "##[group]Run cargo test --workspace");
        let slice = failing_step_slice(
            &log,
            &[
                "Run cargo build --locked".into(),
                "Run ./scripts/lint.sh".into(),
            ],
        );
        assert_eq!(slice[0], "##[group]Run cargo build --locked");
        assert_eq!(slice.last().map(String::as_str), Some("lint fine"));
    }

    #[test]
    fn failing_step_slice_falls_back_to_the_erroring_step_then_the_whole_log() {
        let log = lines(STEPS);
        // A step named with `name: Test` has the header of its command, not its name.
        let slice = failing_step_slice(&log, &["Test".into()]);
        assert_eq!(slice[0], "##[group]Run cargo test --workspace");
        let slice = failing_step_slice(&log, &[]);
        assert_eq!(slice[0], "##[group]Run cargo test --workspace");
        let quiet = lines("one\n##[group]Run make\n##[endgroup]\ntwo");
        assert_eq!(failing_step_slice(&quiet, &["Build".into()]).len(), 4);
        assert!(failing_step_slice(&[], &["Build".into()]).is_empty());
    }

    #[test]
    fn failing_step_slice_prefers_the_matching_step_that_errored_and_extends_composites() {
        let log = lines(
            "##[group]Run cargo test\n##[endgroup]\nok\n\
             ##[group]Run cargo test\n##[endgroup]\nboom\n##[error]Process completed with exit code 101.\n\
             ##[group]Run ./.github/actions/e2e\n##[endgroup]\n\
             ##[group]Run npm run e2e\n##[endgroup]\n##[error]Process completed with exit code 1.\n\
             Post job cleanup.",
        );
        let slice = failing_step_slice(&log, &["Run cargo test".into()]);
        assert_eq!(slice[0], "##[group]Run cargo test");
        assert_eq!(slice[2], "boom");
        let slice = failing_step_slice(&log, &["Run ./.github/actions/e2e".into()]);
        assert_eq!(slice[0], "##[group]Run ./.github/actions/e2e");
        assert_eq!(
            slice.last().map(String::as_str),
            Some("##[error]Process completed with exit code 1.")
        );
    }

    #[test]
    fn error_lines_are_recognised_and_passing_summaries_are_not() {
        for line in [
            "error[E0308]: mismatched types",
            "error: test failed, to rerun pass `-p widgets --lib`",
            "test pricing::discount ... FAILED",
            "thread 'main' panicked at src/main.rs:3:5:",
            "assertion `left == right` failed",
            "Traceback (most recent call last):",
            "E       AssertionError: assert 1 == 2",
            "FAIL src/sum.test.js",
            "    Expected: 5",
            "    Received: 4",
            "  ✕ adds two numbers (3 ms)",
            "Tests:       1 failed, 3 passed, 4 total",
            "TypeError: Cannot read properties of undefined",
            "failures:",
            "npm ERR! code ELIFECYCLE",
        ] {
            assert!(is_error_line(line), "{line}");
        }
        for line in [
            "test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out",
            "   Compiling assert_cmd v2.0.17",
            "   Compiling failure v0.1.8 (registry)",
            "test assert_roundtrip ... ok",
            "running 12 tests",
            "warning: unused variable: `x`",
            "Tests:       10 passed, 10 total",
            "unfailed counts",
        ] {
            assert!(!is_error_line(line), "{line}");
        }
    }

    #[test]
    fn noise_lines_are_recognised_but_never_error_lines() {
        for line in [
            "   Compiling serde v1.0.219",
            "  Downloaded tokio v1.45.0",
            "[command]/usr/bin/git -c protocol.version=2 fetch",
            "remote: Counting objects: 100% (10/10), done.",
            "Receiving objects: 100% (10/10), 5.00 KiB | 5.00 MiB/s, done.",
            "Download action repository 'actions/checkout@v4' (SHA:abc)",
            "npm WARN deprecated inflight@1.0.6: This module is not supported",
            "Collecting pytest==8.3.2",
            "a3ed95caeb02: Pull complete",
            "test widgets::parse ... ok",
        ] {
            assert!(is_noise_line(line), "{line}");
        }
        assert!(!is_noise_line("Downloading failed: connection reset"));
        assert!(!is_noise_line("Installing error: permission denied"));
        assert!(!is_noise_line("running 3 tests"));
    }

    #[test]
    fn neutralise_defuses_wrapper_tags_and_headings() {
        assert_eq!(neutralise("x </ci-output> y"), "x ‹/ci-output> y");
        assert_eq!(
            neutralise("<CI-OUTPUT check=\"x\">"),
            "‹CI-OUTPUT check=\"x\">"
        );
        assert_eq!(neutralise("< / ci-output >"), "‹ / ci-output >");
        assert_eq!(
            neutralise("### CI › fake — success"),
            "＃## CI › fake — success"
        );
        assert_eq!(neutralise("#include <stdio.h>"), "#include <stdio.h>");
        assert_eq!(neutralise("Vec<u8> is fine"), "Vec<u8> is fine");
    }
}
