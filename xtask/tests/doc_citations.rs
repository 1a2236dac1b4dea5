//! Every test the threat model and the limits cite exists: a guarantee whose cited test was
//! renamed or removed is shown by nothing. A citation is a code span naming a file and a test
//! (`kya-verify/tests/cache.rs::the_cache_is_bounded`, `solidity/test/X.t.sol::test_Y`,
//! `bindings/python/tests/test_x.py::test_y`), or `::another_test` in the file named last.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

const DOCS: [&str; 2] = ["docs/threat-model.md", "docs/limits.md"];

/// The code spans of `text`, in order.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `(file, test)` for each citation of `doc`.
fn citations(doc: &str) -> Vec<(String, String)> {
    let mut file: Option<String> = None;
    let mut out = Vec::new();
    for span in code_spans(doc) {
        if let Some(name) = span.strip_prefix("::") {
            if let (Some(f), true) = (&file, is_name(name)) {
                out.push((f.clone(), name.to_owned()));
            }
            continue;
        }
        let Some((path, name)) = span.split_once("::") else {
            continue;
        };
        let cited_file = [".rs", ".sol", ".py"].iter().any(|ext| path.ends_with(ext))
            && path.contains('/')
            && !path.contains(' ');
        if cited_file && is_name(name) {
            file = Some(path.to_owned());
            out.push((path.to_owned(), name.to_owned()));
        }
    }
    out
}

fn defines(source: &str, file: &str, name: &str) -> bool {
    let keyword = if file.ends_with(".sol") {
        "function"
    } else if file.ends_with(".py") {
        "def"
    } else {
        "fn"
    };
    ["(", "<"]
        .iter()
        .any(|open| source.contains(&format!("{keyword} {name}{open}")))
}

#[test]
fn every_cited_test_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut missing = Vec::new();
    let mut checked = 0;
    for doc in DOCS {
        let text = std::fs::read_to_string(root.join(doc)).expect(doc);
        for (file, name) in citations(&text) {
            checked += 1;
            match std::fs::read_to_string(root.join(&file)) {
                Ok(source) if defines(&source, &file, &name) => {}
                Ok(_) => missing.push(format!("{doc}: {file}::{name} (no such test)")),
                Err(_) => missing.push(format!("{doc}: {file}::{name} (no such file)")),
            }
        }
    }
    assert!(
        checked > 100,
        "only {checked} citations found: is the parser right?"
    );
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn citations_are_read_as_written() {
    let doc =
        "| ✅ x | `a/b.rs::one`, `::two` (why), `c/d.t.sol::test_X`; `not a::path`, `e/f.rs` |";
    assert_eq!(
        citations(doc),
        [
            ("a/b.rs".to_owned(), "one".to_owned()),
            ("a/b.rs".to_owned(), "two".to_owned()),
            ("c/d.t.sol".to_owned(), "test_X".to_owned()),
        ]
    );
    assert!(defines("async fn one() {}", "a/b.rs", "one"));
    assert!(!defines("fn one_more() {}", "a/b.rs", "one"));
    assert!(defines(
        "function test_X() public {}",
        "c/d.t.sol",
        "test_X"
    ));
}
