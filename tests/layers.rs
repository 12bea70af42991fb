//! The layers import one way: `http` -> `domain` -> `db` -> `model` (and
//! `state` holds no `http` type). This reads `src/` and fails on an import
//! cycle between top-level modules or an arrow pointing up, naming it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module -> the top-level modules its non-test code names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let modules: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod ").and_then(|m| m.strip_suffix(';')))
        .map(str::to_string)
        .collect();
    assert!(modules.len() > 10, "read the module list from src/lib.rs: {modules:?}");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(&src).unwrap();
            let first = rel.components().next().unwrap().as_os_str().to_string_lossy().to_string();
            let top = first.trim_end_matches(".rs").to_string();
            if !modules.contains(&top) || path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Unit tests may reach anywhere.
            let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
            let names = graph.entry(top.clone()).or_default();
            for (i, _) in code.match_indices("crate::") {
                for name in named_after(&code[i + "crate::".len()..]) {
                    if name != top && modules.contains(&name) {
                        names.insert(name);
                    }
                }
            }
        }
    }
    graph
}

/// The top-level modules named right after a `crate::`: one (`crate::db::x`)
/// or each item of a group (`crate::{db::x, http::{y, z}}`).
fn named_after(rest: &str) -> Vec<String> {
    let word = |s: &str| -> String { s.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect() };
    let Some(group) = rest.strip_prefix('{') else {
        return vec![word(rest)];
    };
    let mut names = Vec::new();
    let mut depth = 0;
    let mut item_start = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => item_start = true,
            c if c.is_whitespace() => {}
            _ if item_start && depth == 0 => {
                names.push(word(&group[i..]));
                item_start = false;
            }
            _ => {}
        }
    }
    names
}

fn reaches(graph: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> Option<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut paths = vec![vec![from.to_string()]];
    while let Some(path) = paths.pop() {
        let last = path.last().unwrap();
        for next in graph.get(last).into_iter().flatten() {
            let mut longer = path.clone();
            longer.push(next.clone());
            if next == to {
                return Some(longer);
            }
            if seen.insert(next.clone()) {
                paths.push(longer);
            }
        }
    }
    None
}

#[test]
fn grouped_imports_name_each_module() {
    assert_eq!(named_after("db::agents::find;"), ["db"]);
    assert_eq!(named_after("{db::agents, http::{origin, api}, model::Scope};"), ["db", "http", "model"]);
    assert_eq!(named_after("{\n    state::AppState,\n    wire,\n};"), ["state", "wire"]);
}

#[test]
fn top_level_modules_import_each_other_without_a_cycle() {
    let graph = graph();
    for module in graph.keys() {
        if let Some(cycle) = reaches(&graph, module, module) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn lower_layers_never_import_higher_ones() {
    let graph = graph();
    let rules: [(&str, &[&str]); 5] = [
        ("model", &["db", "domain", "http", "state", "app", "cli", "config", "error", "wire"]),
        // The wire types are shared by the server and the CLI client: they
        // know the vocabulary and nothing of how it is stored or served.
        ("wire", &["db", "domain", "http", "state", "app", "cli", "config", "error"]),
        ("db", &["domain", "http", "state", "app", "cli"]),
        ("domain", &["http", "state", "app", "cli"]),
        ("state", &["http", "app", "cli"]),
    ];
    for (module, forbidden) in rules {
        for higher in forbidden {
            assert!(!graph[module].contains(*higher), "{module} imports {higher}, a layer above it");
        }
    }
}
