//! Input rules for new tasks, shared by the REST API, the server functions and the browser form,
//! so a person sees exactly the error the server would give, next to the field.

use crate::model::{ApiError, CreateTaskRequest, ErrorCode};

/// Default cap on a prompt's size (`server.max_prompt_bytes`).
pub const DEFAULT_MAX_PROMPT_BYTES: usize = 64 * 1024;
/// The agent kinds a task may ask for.
pub const AGENT_KINDS: [&str; 4] = ["amp", "claude", "codex", "command"];
/// Allowed range of a per-task `max_iterations`.
pub const MAX_ITERATIONS_RANGE: std::ops::RangeInclusive<u32> = 1..=100;

/// Checks `owner/name` with GitHub's rules: the owner is 1–39 ASCII letters, digits and single
/// inner hyphens; the name is 1–100 of letters, digits, `-`, `_`, `.`, not `.`/`..` and not ending
/// in `.git`.
pub fn repo_error(repo: &str) -> Option<String> {
    let Some((owner, name)) = repo.split_once('/') else {
        return Some("must be `owner/name`, e.g. `octocat/hello-world`".into());
    };
    if owner.is_empty() || owner.len() > 39 {
        return Some("the owner must be 1–39 characters".into());
    }
    if !owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        || owner.starts_with('-')
        || owner.ends_with('-')
        || owner.contains("--")
    {
        return Some(
            "the owner may contain only letters, digits and single hyphens (not at either end)"
                .into(),
        );
    }
    if name.is_empty() || name.len() > 100 {
        return Some("the repository name must be 1–100 characters".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Some(
            "the repository name may contain only letters, digits, `-`, `_` and `.`".into(),
        );
    }
    if name == "." || name == ".." || name.to_ascii_lowercase().ends_with(".git") {
        return Some("the repository name cannot be `.`, `..` or end in `.git`".into());
    }
    None
}

/// Checks a branch name with git's `check-ref-format` rules (for a single branch name).
pub fn branch_error(branch: &str) -> Option<String> {
    if branch.is_empty() {
        return Some("must not be empty".into());
    }
    if branch.len() > 255 {
        return Some("must be at most 255 bytes".into());
    }
    let bad_char = branch.chars().any(|c| {
        c.is_ascii_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\')
    });
    if bad_char
        || branch.starts_with(['-', '/', '.'])
        || branch.ends_with(['/', '.'])
        || branch.ends_with(".lock")
        || branch.contains("..")
        || branch.contains("//")
        || branch.contains("@{")
        || branch.contains("/.")
        || branch == "@"
    {
        return Some("is not a valid git branch name".into());
    }
    None
}

/// Trims what people paste by accident (surrounding spaces, empty optional fields).
pub fn normalize(mut req: CreateTaskRequest) -> CreateTaskRequest {
    req.repo = req.repo.trim().to_string();
    let trim_opt = |o: Option<String>| {
        o.map(|s| s.trim().to_string())
            .filter(|s: &String| !s.is_empty())
    };
    req.base_branch = trim_opt(req.base_branch);
    req.agent = trim_opt(req.agent);
    req
}

/// Every problem with a (normalized) request, one per field, in form order.
pub fn create_task_errors(req: &CreateTaskRequest, max_prompt_bytes: usize) -> Vec<ApiError> {
    let invalid =
        |field: &str, msg: String| ApiError::field(ErrorCode::ValidationFailed, field, msg);
    let mut errors = Vec::new();
    if let Some(msg) = repo_error(&req.repo) {
        errors.push(invalid("repo", format!("repo {msg}")));
    }
    if req.prompt.trim().is_empty() {
        errors.push(invalid("prompt", "prompt must not be empty".into()));
    } else if req.prompt.len() > max_prompt_bytes {
        errors.push(invalid(
            "prompt",
            format!(
                "prompt is {} bytes; the limit is {max_prompt_bytes}",
                req.prompt.len()
            ),
        ));
    }
    if let Some(msg) = req.base_branch.as_deref().and_then(branch_error) {
        errors.push(invalid("base_branch", format!("base_branch {msg}")));
    }
    if let Some(agent) = req.agent.as_deref() {
        if !AGENT_KINDS.contains(&agent) {
            errors.push(invalid(
                "agent",
                format!("agent must be one of {}", AGENT_KINDS.join(", ")),
            ));
        }
    }
    if let Some(n) = req.max_iterations {
        if !MAX_ITERATIONS_RANGE.contains(&n) {
            errors.push(invalid(
                "max_iterations",
                format!(
                    "max_iterations must be between {} and {}",
                    MAX_ITERATIONS_RANGE.start(),
                    MAX_ITERATIONS_RANGE.end()
                ),
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(repo: &str, prompt: &str) -> CreateTaskRequest {
        CreateTaskRequest {
            repo: repo.into(),
            prompt: prompt.into(),
            ..Default::default()
        }
    }

    #[test]
    fn accepts_github_style_names() {
        for ok in [
            "octocat/hello-world",
            "a/b",
            "Org-1/repo_name.rs",
            "x/.github",
            "a/b..c",
        ] {
            assert_eq!(repo_error(ok), None, "{ok}");
        }
    }

    #[test]
    fn rejects_bad_repos_with_a_reason() {
        for bad in [
            "",
            "noslash",
            "/name",
            "owner/",
            "-owner/x",
            "own--er/x",
            "owner/na me",
            "owner/x/y",
            "owner/..",
            "owner/repo.git",
            "ow_ner/x",
            "owner/ünïcode",
        ] {
            assert!(repo_error(bad).is_some(), "{bad} should be rejected");
        }
        let long_owner = format!("{}/x", "a".repeat(40));
        assert!(repo_error(&long_owner).is_some());
    }

    #[test]
    fn branch_rules_follow_check_ref_format() {
        for ok in ["main", "feature/x-1", "release-2.0", "a@b"] {
            assert_eq!(branch_error(ok), None, "{ok}");
        }
        for bad in [
            "", "-x", "a..b", "a b", "a~1", "x.lock", "a//b", "a/", "@", "a@{1}", "a/.b", ".x",
        ] {
            assert!(branch_error(bad).is_some(), "{bad} should be rejected");
        }
    }

    #[test]
    fn reports_one_error_per_field_in_form_order() {
        let mut r = req("bad", "   ");
        r.base_branch = Some("a..b".into());
        r.agent = Some("gpt".into());
        r.max_iterations = Some(0);
        let fields: Vec<_> = create_task_errors(&r, 10)
            .into_iter()
            .map(|e| e.field.unwrap())
            .collect();
        assert_eq!(
            fields,
            ["repo", "prompt", "base_branch", "agent", "max_iterations"]
        );
    }

    #[test]
    fn prompt_size_is_capped_in_bytes() {
        assert!(create_task_errors(&req("a/b", "ééé"), 6).is_empty());
        let errs = create_task_errors(&req("a/b", "éééé"), 6);
        assert_eq!(errs[0].field.as_deref(), Some("prompt"));
        assert!(errs[0].message.contains("8 bytes"));
    }

    #[test]
    fn normalize_trims_and_drops_empty_optionals() {
        let mut r = req("  a/b \n", "do it");
        r.base_branch = Some("  ".into());
        r.agent = Some(" amp ".into());
        let n = normalize(r);
        assert_eq!(n.repo, "a/b");
        assert_eq!(n.base_branch, None);
        assert_eq!(n.agent.as_deref(), Some("amp"));
    }
}
