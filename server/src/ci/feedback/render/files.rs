//! The full job logs written into the workspace for the agent, and the README that lists them.

use super::*;

pub(super) fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// `[a-z0-9._-]` only, `<name>.log`, unique among `used`.
pub(super) fn unique_file_name(check_name: &str, used: &mut HashSet<String>) -> String {
    let mut stem = String::new();
    for c in check_name.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
            c
        } else {
            '-'
        };
        if !(c == '-' && stem.ends_with('-')) {
            stem.push(c);
        }
    }
    let mut stem = stem.trim_matches(['-', '.']).to_owned();
    stem.truncate(80);
    let stem = stem.trim_end_matches(['-', '.']).to_owned();
    let stem = if stem.is_empty() {
        "check".to_owned()
    } else {
        stem
    };
    let mut name = format!("{stem}.log");
    let mut n = 2;
    while !used.insert(name.clone()) {
        name = format!("{stem}-{n}.log");
        n += 1;
    }
    name
}

pub(super) fn readme(input: &FeedbackInput<'_>, prepared: &[Prepared<'_>]) -> String {
    let mut out = format!(
        "CI logs of round {} for branch {}, commit {}.\n\
         One file per failed check: its whole job log, without timestamps and colour codes.\n\n",
        input.round,
        one_line(input.branch),
        one_line(input.sha)
    );
    for p in prepared {
        if let Some(path) = &p.log_path {
            let name = path.rsplit('/').next().unwrap_or(path);
            out.push_str(&format!(
                "{name} — {} — {}{}\n",
                p.display,
                one_line(&p.check.conclusion),
                if p.check.preexisting {
                    " (pre-existing: also fails on the base branch)"
                } else {
                    ""
                }
            ));
        }
    }
    out
}
