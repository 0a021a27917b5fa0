//! How each block of the feedback reads: failure hints, references, annotations, log excerpts
//! and the small text helpers they share.

use super::*;

pub(super) fn conclusion_hint(conclusion: &str) -> Option<&'static str> {
    Some(match conclusion {
        "timed_out" => {
            "The job hit its time limit: look for a hang, a deadlock or a much slower test."
        }
        "cancelled" => {
            "The job was cancelled (a newer run, a concurrency group, a fail-fast matrix or a \
             person): if nothing below points at your change, it may only need a re-run."
        }
        "action_required" => {
            "GitHub is waiting for a person (e.g. an approval): nothing to fix in code unless the \
             details below say otherwise."
        }
        "startup_failure" => {
            "The workflow could not start: usually an invalid workflow file or an action that \
             cannot be used."
        }
        "stale" => "GitHub marked this check stale: it never completed.",
        _ => return None,
    })
}

/// `References: a, b, …` for a failure, or nothing.
pub(super) fn refs_line(p: &Prepared<'_>) -> String {
    if p.refs.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = p
        .refs
        .iter()
        .take(MAX_REFS)
        .map(ToString::to_string)
        .collect();
    let more = p.refs.len().saturating_sub(MAX_REFS);
    let more = if more > 0 {
        format!(" (+{more} more)")
    } else {
        String::new()
    };
    format!("References: {}{more}\n", shown.join(", "))
}

pub(super) fn wrap(p: &Prepared<'_>, source: &str, content: &str) -> String {
    format!(
        "<ci-output check=\"{}\" source=\"{source}\">\n{content}\n</ci-output>\n",
        p.attr
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum AnnotationMode {
    /// Messages up to 8 lines, raw details up to 5.
    Full,
    /// One line each, no details, the first `n`.
    Compact(usize),
}

pub(super) fn annotations_block(p: &Prepared<'_>, mode: AnnotationMode) -> Option<String> {
    if p.annotations.is_empty() {
        return None;
    }
    let limit = match mode {
        AnnotationMode::Full => usize::MAX,
        AnnotationMode::Compact(n) => n,
    };
    if limit == 0 {
        return None;
    }
    let mut items = String::new();
    for a in p.annotations.iter().take(limit) {
        items.push_str(&annotation_item(a, mode));
    }
    let more = p.annotations.len().saturating_sub(limit);
    if more > 0 {
        items.push_str(&format!("- … and {more} more\n"));
    }
    let items = items.trim_end_matches('\n');
    Some(format!("Annotations:\n{}", wrap(p, "annotations", items)))
}

pub(super) fn annotation_item(a: &Annotation, mode: AnnotationMode) -> String {
    let level = match a.level {
        AnnotationLevel::Failure => "",
        AnnotationLevel::Warning => "[warning] ",
        AnnotationLevel::Notice => "[notice] ",
    };
    let path = neutralise(&one_line(&a.path));
    let place = if a.end_line > a.start_line {
        format!("{path}:{}-{}", a.start_line, a.end_line)
    } else {
        format!("{path}:{}", a.start_line)
    };
    let (line_limit, cap) = match mode {
        AnnotationMode::Full => (8, 300),
        AnnotationMode::Compact(_) => (1, 160),
    };
    let message: Vec<String> = clean_log(&a.message)
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| neutralise(&cap_text(l, cap)))
        .collect();
    let title = a
        .title
        .as_deref()
        .map(|t| neutralise(&cap_text(&one_line(t), cap)))
        .filter(|t| !t.is_empty() && Some(t) != message.first());
    let mut out = format!("- {level}{place}");
    if let Some(title) = title {
        out.push_str(&format!(" — {title}"));
    }
    if let Some(first) = message.first() {
        out.push_str(&format!(" — {first}"));
    }
    out.push('\n');
    for line in message.iter().skip(1).take(line_limit - 1) {
        out.push_str(&format!("  {line}\n"));
    }
    if message.len() > line_limit {
        out.push_str(&format!(
            "  [… {} more line{}]\n",
            message.len() - line_limit,
            plural(message.len() - line_limit)
        ));
    }
    if mode == AnnotationMode::Full {
        if let Some(details) = &a.raw_details {
            let details: Vec<String> = clean_log(details)
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| neutralise(&cap_text(l, 200)))
                .collect();
            if !details.is_empty() {
                out.push_str("  details:\n");
            }
            for line in details.iter().take(5) {
                out.push_str(&format!("    {line}\n"));
            }
            if details.len() > 5 {
                out.push_str(&format!("  [… {} more lines]\n", details.len() - 5));
            }
        }
    }
    out
}

/// The annotations block that fits in `room` bytes: full, else compact with as many as fit.
pub(super) fn fit_annotations(p: &Prepared<'_>, room: usize) -> String {
    if let Some(full) = annotations_block(p, AnnotationMode::Full).filter(|b| b.len() <= room) {
        return full;
    }
    (1..=p.annotations.len())
        .rev()
        .filter_map(|n| annotations_block(p, AnnotationMode::Compact(n)))
        .find(|b| b.len() <= room)
        .unwrap_or_default()
}

/// The log excerpt (or, for a check without a log, its summary) with its label and wrapper,
/// natural or within `budget` bytes, and whether it was shortened; `None` when there is nothing
/// (worth) showing.
pub(super) fn main_block(p: &Prepared<'_>, budget: Option<usize>) -> Option<(String, bool)> {
    let (label, source) = match &p.log_path {
        Some(path) => (format!("Log excerpt (full log: `{path}`):\n"), "log"),
        None if !p.summary.is_empty() => ("Check summary:\n".to_owned(), "summary"),
        None => return None,
    };
    let overhead = label.len() + wrap(p, source, "").len();
    let (content, shortened) = match budget {
        None => (p.natural.clone(), false),
        Some(b) => {
            let room = b.checked_sub(overhead).filter(|&r| r >= MIN_CONTENT)?;
            if p.log_path.is_some() {
                excerpt(&p.step, room)
            } else {
                summary_excerpt(&p.summary, room)
            }
        }
    };
    if content.trim().is_empty() {
        return None;
    }
    Some((format!("{label}{}", wrap(p, source, &content)), shortened))
}

/// The first lines of a summary that fit in `budget` bytes (natural: 60 lines).
pub(super) fn summary_excerpt(lines: &[String], budget: usize) -> (String, bool) {
    let mut out = String::new();
    let mut shown = 0;
    for line in lines.iter().take(SUMMARY_LINES) {
        let line = cap_text(line, SUMMARY_LINE_CAP);
        let rest = lines.len() - shown - 1;
        let reserve = if rest > 0 { 32 } else { 0 };
        if out.len() + line.len() + 1 + reserve > budget {
            break;
        }
        out.push_str(&line);
        out.push('\n');
        shown += 1;
    }
    let cut = shown < lines.len().min(SUMMARY_LINES);
    if shown < lines.len() {
        let n = lines.len() - shown;
        let mark = format!("[… {n} more line{}]", plural(n));
        if out.len() + mark.len() <= budget {
            out.push_str(&mark);
        }
    }
    let out = out.trim_end_matches('\n').to_owned();
    (out, cut)
}

/// The whole message cut to `max` bytes (the last resort): whole lines, never leaving a
/// `<ci-output>` element open.
pub(super) fn cut_message(text: &str, max: usize) -> String {
    let mut out = cut_lines(text, max);
    let opened = out.matches("<ci-output ").count();
    let closed = out.matches("</ci-output>").count();
    if opened > closed {
        if let Some(at) = out.rfind("<ci-output ") {
            out.truncate(at);
            let mark = "[… cut]";
            if out.len() + mark.len() <= max {
                out.push_str(mark);
            }
        }
    }
    out
}

pub(super) fn cap_text(text: &str, cap: usize) -> String {
    if text.len() <= cap {
        return text.to_owned();
    }
    format!("{}…", &text[..text.floor_char_boundary(cap)])
}

/// One line, no control characters, no wrapper tags: for names that come from the repository.
pub(super) fn one_line(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    neutralise(&cap_text(&flat, 200))
}

/// Text for inside a Markdown code span.
pub(super) fn code(text: &str) -> String {
    one_line(text).replace('`', "'")
}
