//! loadgen's imports flow one way: no module reaches itself again by following `crate::`,
//! `super::` and `self::` paths through the others. A loop means none of the modules on it can be
//! read, tested or moved alone, so this test reads loadgen's own `src/`, builds the graph of which
//! module names which, and fails with the loop it finds.
//!
//! Only the code that ships counts: a file's `#[cfg(test)] mod tests` (its unit tests) and
//! comments (doc links) are left out. A path counts for the deepest module it names, so
//! `crate::engine::clock::Nanos` is an edge to `engine::clock`, and `use crate::{a, b}` is two.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Module path (`""` for the crate root, `engine::clock`) → the modules its code names.
type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn no_module_of_loadgen_reaches_itself_through_its_imports() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = read_sources(&src);
    assert!(
        files.len() > 10,
        "found only {} files under {}",
        files.len(),
        src.display()
    );
    let graph = graph(&files);
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "an import loop in loadgen: {}\nMove what both sides need into a module that \
             neither imports, or turn the dependency around.",
            cycle
                .iter()
                .map(|m| shown(m))
                .collect::<Vec<_>>()
                .join(" -> ")
        );
    }
}

/// The checker itself finds a planted loop, through a group, `super::` and a nested module.
#[test]
fn the_check_finds_a_planted_loop() {
    let files = [
        ("lib.rs", "mod a;\nmod b;\nuse crate::a::run;\n"),
        ("a.rs", "use crate::{b::{self, Thing}, c};\nfn f() {}\n"),
        ("b.rs", "pub struct Thing;\n"),
        ("c/mod.rs", "mod d;\n"),
        (
            "c/d.rs",
            "// crate::b is only named here in a comment\nuse super::super::a;\n",
        ),
    ];
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(p, t)| (module_of(Path::new(p)), t.to_string()))
        .collect();
    let g = graph(&files);
    assert_eq!(g["a"], BTreeSet::from(["b".to_string(), "c".to_string()]));
    assert_eq!(g["c::d"], BTreeSet::from(["a".to_string()]));
    // a -> c -> c::d -> a? c does not import d (declaring it is not an import), so no loop yet.
    assert_eq!(find_cycle(&g), None);

    let mut looped = files.clone();
    looped.push(("c".into(), "mod d;\npub use self::d::Thing;\n".into()));
    looped.retain(|(m, t)| m != "c" || t.contains("pub use"));
    let cycle = find_cycle(&graph(&looped)).expect("a -> c -> c::d -> a is a loop");
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4, "{cycle:?}");
}

/// Unit tests are not the shipped graph: a test module may import whatever it checks against.
#[test]
fn unit_tests_and_comments_do_not_count() {
    let text = "use crate::b::X; // and crate::c\n/// see [`crate::d`]\n\
                #[cfg(test)]\nmod tests {\n    use crate::e;\n}\n";
    assert_eq!(imports("a", text), BTreeSet::from(["b::X".to_string()]));
}

/// Every `.rs` file under `src`, as (module path, text).
fn read_sources(src: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel: PathBuf = path.strip_prefix(src).unwrap().to_path_buf();
                // The binary's main.rs is its own crate, not a module of the library.
                if rel == Path::new("main.rs") {
                    continue;
                }
                files.push((module_of(&rel), fs::read_to_string(&path).unwrap()));
            }
        }
    }
    files
}

/// `lib.rs` → `""`, `run.rs` → `run`, `engine/mod.rs` → `engine`, `engine/conn.rs` →
/// `engine::conn`.
fn module_of(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("lib" | "mod")) {
        parts.pop();
    }
    parts.join("::")
}

fn graph(files: &[(String, String)]) -> Graph {
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    files
        .iter()
        .map(|(module, text)| {
            let named = imports(module, text)
                .into_iter()
                .filter_map(|path| deepest_module(&path, &modules))
                .filter(|m| m != module)
                .collect();
            (module.clone(), named)
        })
        .collect()
}

/// The longest prefix of `path` (segments from the crate root) that is a module.
fn deepest_module(path: &str, modules: &BTreeSet<String>) -> Option<String> {
    let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    (0..=segments.len())
        .rev()
        .map(|n| segments[..n].join("::"))
        .find(|candidate| modules.contains(candidate))
}

/// Every path the shipped code of `module` names, made absolute (from the crate root).
fn imports(module: &str, text: &str) -> BTreeSet<String> {
    let code = shipped_code(text);
    let chars: Vec<char> = code.chars().collect();
    let here: Vec<String> = module
        .split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let mut found = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let at_word = i == 0 || !is_ident(chars[i - 1]) && chars[i - 1] != ':';
        let rest: String = chars[i..chars.len().min(i + 8)].iter().collect();
        if at_word && (rest.starts_with("crate::") || rest.starts_with("super::")) {
            let mut base = Vec::new();
            let mut j = i;
            if rest.starts_with("super::") {
                base = here.clone();
                while chars[j..].iter().collect::<String>().starts_with("super::") {
                    base.pop();
                    j += "super::".len();
                }
            } else {
                j += "crate::".len();
            }
            j = use_tree(&chars, j, &base, &mut found);
            i = j.max(i + 1);
        } else if at_word && rest.starts_with("self::") {
            let j = use_tree(&chars, i + "self::".len(), &here, &mut found);
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    found
}

/// Reads a path or `{group}` from `chars[i..]` under `base`, adding each full path to `found`;
/// returns where it ended.
fn use_tree(chars: &[char], mut i: usize, base: &[String], found: &mut BTreeSet<String>) -> usize {
    let mut path = base.to_vec();
    loop {
        i = skip_space(chars, i);
        if i < chars.len() && chars[i] == '{' {
            i += 1;
            loop {
                i = skip_space(chars, i);
                if i >= chars.len() || chars[i] == '}' {
                    return i + 1;
                }
                i = use_tree(chars, i, &path, found);
                i = skip_space(chars, i);
                if i < chars.len() && chars[i] == ',' {
                    i += 1;
                }
            }
        }
        let start = i;
        while i < chars.len() && is_ident(chars[i]) {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        if !word.is_empty() && word != "self" {
            path.push(word);
        }
        if chars[i..].iter().take(2).collect::<String>() == "::" {
            i += 2;
            continue;
        }
        found.insert(path.join("::"));
        return i;
    }
}

/// The text without comments and without its unit-test module.
fn shipped_code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod tests"))
        {
            break;
        }
        out.push_str(without_comment(line));
        out.push('\n');
    }
    out
}

/// `line` up to a `//` that is not inside a string literal.
fn without_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
        i += 1;
    }
    line
}

fn skip_space(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    i
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A loop in `graph`, as the modules along it with the first repeated at the end.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        m: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(m) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let from = path.iter().position(|p| p == m).unwrap();
                let mut cycle = path[from..].to_vec();
                cycle.push(m.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(m.to_owned(), Mark::Open);
        path.push(m.to_owned());
        for next in graph.get(m).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(m.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    graph
        .keys()
        .find_map(|m| visit(m, graph, &mut marks, &mut Vec::new()))
}

fn shown(module: &str) -> &str {
    if module.is_empty() { "lib" } else { module }
}
