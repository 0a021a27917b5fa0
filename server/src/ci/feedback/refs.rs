//! `file:line` references in CI output, made workspace-relative, without third-party noise.

use regex::Regex;
use serde::{Deserialize, Serialize};
use std::{fmt, sync::LazyLock};

/// A place in the repository that CI output points at.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileRef {
    /// Workspace-relative, with `/` separators.
    pub path: String,
    pub line: u32,
    pub column: Option<u32>,
}

impl fmt::Display for FileRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path, self.line)?;
        if let Some(column) = self.column {
            write!(f, ":{column}")?;
        }
        Ok(())
    }
}

static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>()\[\]`]*"#).expect("the URL pattern is valid")
});

/// `path:line[:col]` (rustc `--> …`, jest `(…)`, pytest `…: AssertionError`, go, eslint…),
/// and tsc/MSBuild's `path(line,col)`.
static PATH_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:^|[\s(\[{'`=,:])((?:[A-Za-z]:[\\/])?[A-Za-z0-9_./\\@~+-]*[A-Za-z0-9_])",
        r"(?::(\d+)(?::(\d+))?|\((\d+),(\d+)\))",
    ))
    .expect("the path:line pattern is valid")
});

/// Python tracebacks: `File "app/x.py", line 3`.
static PYTHON: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"File "([^"]+)", line (\d+)"#).expect("the traceback pattern is valid")
});

/// A runner's checkout directory (`$GITHUB_WORKSPACE`), stripped to make paths relative.
static WORKSPACE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:/home/runner/work|/Users/runner/work|[A-Za-z]:/a|/__w|.*/_work)/[^/]+/[^/]+/",
        r"|^/github/workspace/",
    ))
    .expect("the workspace pattern is valid")
});

const SOURCE_EXTENSIONS: &[&str] = &[
    "rs", "js", "jsx", "mjs", "cjs", "ts", "tsx", "mts", "cts", "py", "pyi", "go", "java", "kt",
    "kts", "scala", "groovy", "gradle", "rb", "php", "c", "h", "cc", "cpp", "cxx", "hpp", "hh",
    "hxx", "m", "mm", "cs", "fs", "vb", "swift", "dart", "ex", "exs", "erl", "hrl", "hs", "lua",
    "pl", "pm", "r", "jl", "zig", "nim", "ml", "mli", "clj", "cljs", "elm", "sol", "sh", "bash",
    "zsh", "ps1", "bat", "yml", "yaml", "toml", "json", "jsonc", "xml", "html", "htm", "vue",
    "svelte", "astro", "css", "scss", "sass", "less", "md", "mdx", "rst", "sql", "proto",
    "graphql", "gql", "tf", "nix", "cmake", "mk", "txt", "cfg", "ini", "lock", "snap", "tmpl",
    "j2", "lean", "v", "sv", "asm", "s", "ipynb",
];

const BARE_NAMES: &[&str] = &[
    "Makefile",
    "Dockerfile",
    "Containerfile",
    "Justfile",
    "justfile",
    "Gemfile",
    "Rakefile",
    "Jenkinsfile",
];

/// Paths that are someone else's code: toolchains, registries, package caches, runtimes.
const THIRD_PARTY: &[&str] = &[
    "/.cargo/",
    "/.rustup/",
    "/rustc/",
    "/usr/",
    "node_modules/",
    "site-packages/",
    "dist-packages/",
    "/hostedtoolcache/",
    "/.pyenv/",
    "/go/pkg/mod/",
    "/.npm/",
    "/.m2/",
    "/.gradle/",
];

/// `file:line` references in `text`, in order of appearance, deduplicated by path and line (a
/// later mention with a column fills in a missing one). Recognised: `src/lib.rs:12`,
/// `src/lib.rs:12:5`, `--> src/main.rs:3:9` (rustc), `(src/sum.test.js:7:19)` (jest),
/// `File "app/x.py", line 3` (python), `tests/test_x.py:14: AssertionError` (pytest),
/// `src/a.ts(12,5)` (tsc). Runner checkout prefixes (`/home/runner/work/<repo>/<repo>/`,
/// `D:\a\<repo>\<repo>\`…) are stripped, `\` becomes `/` and `./` goes. Ignored: URLs
/// (`http://host:8080`), timestamps and other digit pairs (the file needs a known source
/// extension or name), paths under toolchains and package caches (`/home/runner/.cargo`,
/// `/usr/`, `node_modules/`, `site-packages/`…), Rust's own `library/std` frames, and any other
/// absolute path.
pub fn file_references(text: &str) -> Vec<FileRef> {
    let mut out: Vec<FileRef> = Vec::new();
    for line in text.lines() {
        let line = URL.replace_all(line, " ");
        let mut found: Vec<(usize, FileRef)> = Vec::new();
        for caps in PATH_LINE.captures_iter(&line) {
            let (Some(path), Some(whole)) = (caps.get(1), caps.get(0)) else {
                continue;
            };
            if line[..path.start()].ends_with("node:") {
                continue;
            }
            let number = |i: usize| caps.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
            let (line_no, column) = match number(2) {
                Some(n) => (Some(n), number(3)),
                None => (number(4), number(5)),
            };
            if let Some(r) = make_ref(path.as_str(), line_no, column) {
                found.push((whole.start(), r));
            }
        }
        for caps in PYTHON.captures_iter(&line) {
            let (Some(path), Some(whole)) = (caps.get(1), caps.get(0)) else {
                continue;
            };
            let line_no = caps.get(2).and_then(|m| m.as_str().parse::<u32>().ok());
            if let Some(r) = make_ref(path.as_str(), line_no, None) {
                found.push((whole.start(), r));
            }
        }
        found.sort_by_key(|(at, _)| *at);
        for (_, r) in found {
            add_ref(&mut out, r);
        }
    }
    out
}

/// Adds `r` unless its path and line are there already (filling in a missing column).
pub(crate) fn add_ref(refs: &mut Vec<FileRef>, r: FileRef) {
    match refs
        .iter_mut()
        .find(|known| known.path == r.path && known.line == r.line)
    {
        Some(known) => {
            if known.column.is_none() {
                known.column = r.column;
            }
        }
        None => refs.push(r),
    }
}

/// A reference from a raw path and line, if it is a plausible path of the repository.
pub(crate) fn make_ref(raw_path: &str, line: Option<u32>, column: Option<u32>) -> Option<FileRef> {
    let line = line.filter(|&l| l > 0)?;
    let path = relative_path(raw_path)?;
    Some(FileRef {
        path,
        line,
        column: column.filter(|&c| c > 0),
    })
}

/// `raw` made workspace-relative, or `None` when it is not a path of the repository.
pub(crate) fn relative_path(raw: &str) -> Option<String> {
    let path = raw.replace('\\', "/");
    let path = WORKSPACE.replace(&path, "");
    let mut path: &str = &path;
    while let Some(rest) = path.strip_prefix("./") {
        path = rest;
    }
    if path.is_empty()
        || path.starts_with('/')
        || path.starts_with('~')
        || path.as_bytes().get(1) == Some(&b':')
        || path.split('/').any(|part| part == "..")
        || path.contains("//")
        || THIRD_PARTY
            .iter()
            .any(|p| path.contains(p) || path.starts_with(p.strip_prefix('/').unwrap_or(p)))
        || path.starts_with("library/std/")
        || path.starts_with("library/core/")
        || path.starts_with("library/alloc/")
        || path.starts_with("internal/")
    {
        return None;
    }
    let name = path.rsplit('/').next().unwrap_or(path);
    let known = match name.rsplit_once('.') {
        Some((stem, ext)) => {
            !stem.is_empty() && SOURCE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())
        }
        None => BARE_NAMES.contains(&name),
    };
    known.then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(text: &str) -> Vec<String> {
        file_references(text)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn common_toolchain_formats() {
        assert_eq!(refs("error at src/lib.rs:12"), vec!["src/lib.rs:12"]);
        assert_eq!(refs("src/lib.rs:12:5: warning"), vec!["src/lib.rs:12:5"]);
        assert_eq!(refs("   --> src/main.rs:3:9"), vec!["src/main.rs:3:9"]);
        assert_eq!(
            refs("thread 'pricing::tests::x' panicked at src/pricing.rs:88:9:"),
            vec!["src/pricing.rs:88:9"]
        );
        assert_eq!(
            refs("      at Object.<anonymous> (src/sum.test.js:7:19)"),
            vec!["src/sum.test.js:7:19"]
        );
        assert_eq!(
            refs(r#"  File "app/x.py", line 3, in vat"#),
            vec!["app/x.py:3"]
        );
        assert_eq!(
            refs("tests/test_x.py:14: AssertionError"),
            vec!["tests/test_x.py:14"]
        );
        assert_eq!(
            refs("src/app.ts(12,5): error TS2322: Type 'string'"),
            vec!["src/app.ts:12:5"]
        );
        assert_eq!(
            refs("    ./main_test.go:21: got 3, want 4"),
            vec!["main_test.go:21"]
        );
        assert_eq!(
            refs("Makefile:12: recipe for target 'all' failed"),
            vec!["Makefile:12"]
        );
        assert_eq!(
            refs("`src/lib.rs:7`, 'lib/a.rb:9'"),
            vec!["src/lib.rs:7", "lib/a.rb:9"]
        );
    }

    #[test]
    fn runner_paths_become_relative() {
        assert_eq!(
            refs("/home/runner/work/widgets/widgets/src/lib.rs:12:5"),
            vec!["src/lib.rs:12:5"]
        );
        assert_eq!(
            refs(r"D:\a\widgets\widgets\src\lib.rs:12:5"),
            vec!["src/lib.rs:12:5"]
        );
        assert_eq!(
            refs(r#"File "/Users/runner/work/shop/shop/app/prices.py", line 9, in vat"#),
            vec!["app/prices.py:9"]
        );
        assert_eq!(refs("/__w/api/api/cmd/main.go:4"), vec!["cmd/main.go:4"]);
        assert_eq!(refs(r"src\lib.rs:3:1"), vec!["src/lib.rs:3:1"]);
    }

    #[test]
    fn noise_is_ignored() {
        for text in [
            "GET http://localhost:8080/health failed",
            "see https://github.com/acme/widgets/blob/main/src/lib.rs:12",
            "2026-07-28T16:19:59.9385068Z started at 16:19:59",
            "Time: 0.812 s, 12:30",
            "/home/runner/.cargo/registry/src/index.crates.io-6f17d22bba15001f/tokio-1.45.0/src/runtime/park.rs:281:63",
            "/rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/core/src/panicking.rs:75:14",
            "   at library/core/src/panicking.rs:75:14",
            "/usr/lib/python3.12/unittest/case.py:58",
            "at Object.<anonymous> (node_modules/jest-circus/build/utils.js:298:28)",
            "at processTicksAndRejections (node:internal/process/task_queues:95:5)",
            "/opt/hostedtoolcache/Python/3.12.3/x64/lib/python3.12/site-packages/_pytest/python.py:159: in pytest_pyfunc_call",
            r#"File "<string>", line 1"#,
            "connecting to registry.npmjs.org:443",
            "version 1.2.3:4 and ratio 3:2",
            "/tmp/build/x.rs:3",
            "../outside/repo.rs:3",
            "src/lib.rs:0",
        ] {
            assert_eq!(refs(text), Vec::<String>::new(), "{text}");
        }
    }

    #[test]
    fn references_are_ordered_and_deduplicated() {
        let text = "src/b.rs:2\nsrc/a.rs:1 then src/b.rs:2:7\nFile \"x.py\", line 3 at src/c.rs:4";
        assert_eq!(
            refs(text),
            vec!["src/b.rs:2:7", "src/a.rs:1", "x.py:3", "src/c.rs:4"]
        );
    }
}
