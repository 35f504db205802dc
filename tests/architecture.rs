//! The module import graph of `src/` has no cycle: layers depend downwards only.
//!
//! Every `crate::...` and `super::...` path of a module's code (its unit tests left out) is
//! an edge to the module it names. The graph is checked at each level of nesting: between the
//! top-level modules (`api`, `auth`, `ec2`, ...), and between the siblings inside each
//! directory (`auth::jwt`, `auth::remote_jwks`, ...). A parent and its own children are not an
//! edge (a `mod.rs` declares its children; children use their parent's items). The test
//! prints the top-level graph and names the modules of any cycle. No tool to install: it
//! reads the sources, so `cargo test` runs it anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`["auth", "jwt"]`; the crate root is `[]`) -> its source, unit tests cut off.
type Modules = BTreeMap<Vec<String>, String>;

fn modules() -> Modules {
    let mut found = Modules::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src/") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&root).expect("under src/");
            let mut module: Vec<String> = relative
                .with_extension("")
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect();
            if matches!(
                module.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                module.pop();
            }
            if relative == Path::new("main.rs") {
                continue; // the binary: wiring only, a crate of its own
            }
            let source = std::fs::read_to_string(&path).expect("read a module");
            let code = match source.find("#[cfg(test)]\nmod tests") {
                Some(tests) => source[..tests].to_owned(),
                None => source,
            };
            found.insert(module, without_comments(&code));
        }
    }
    found
}

/// The code without `//` comments (doc comments mention modules without using them).
fn without_comments(code: &str) -> String {
    code.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths that follow `prefix` (`crate::`, `super::`) in `code`, braces expanded:
/// `crate::{a, b::c}` gives `a` and `b::c`.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue; // part of a longer path, such as `super::super::`
        }
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            paths.extend(inner.split(',').map(segments));
        } else {
            paths.push(segments(rest));
        }
    }
    paths
}

/// The leading `a::b::c` of `text`.
fn segments(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    for part in text.trim().split("::") {
        let ident: String = part
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if ident.is_empty() {
            break;
        }
        let whole = ident.len() == part.len();
        parts.push(ident);
        if !whole {
            break;
        }
    }
    parts
}

/// The longest module that `path` starts with.
fn resolve(modules: &Modules, path: &[String]) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|candidate| modules.contains_key(candidate))
}

/// Every module's edges to the modules it uses.
fn edges(modules: &Modules) -> BTreeSet<(Vec<String>, Vec<String>)> {
    let mut edges = BTreeSet::new();
    for (module, code) in modules {
        let parent: Vec<String> = module[..module.len().saturating_sub(1)].to_vec();
        let crate_paths = paths_after(code, "crate::");
        let super_paths = paths_after(code, "super::")
            .into_iter()
            .map(|path| parent.iter().cloned().chain(path).collect::<Vec<_>>());
        for path in crate_paths.into_iter().chain(super_paths) {
            if let Some(target) = resolve(modules, &path) {
                let related = target.starts_with(module) || module.starts_with(&target);
                if !related {
                    edges.insert((module.clone(), target));
                }
            }
        }
    }
    edges
}

/// A cycle in `graph`, if there is one (depth-first search), as the modules along it.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut found = stack[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, stack, done) {
                return Some(found);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

/// The graph between the children of `parent`: every edge between two modules under
/// `parent` in different children, collapsed to those children.
fn level(
    edges: &BTreeSet<(Vec<String>, Vec<String>)>,
    parent: &[String],
) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let child = |module: &Vec<String>| -> Option<String> {
        (module.len() > parent.len() && module.starts_with(parent))
            .then(|| module[parent.len()].clone())
    };
    for (from, to) in edges {
        if let (Some(a), Some(b)) = (child(from), child(to))
            && a != b
        {
            graph.entry(a).or_default().insert(b);
        }
    }
    graph
}

#[test]
fn the_module_graph_has_no_cycle() {
    let modules = modules();
    assert!(
        modules.len() > 30,
        "found the modules of src/ ({})",
        modules.len()
    );
    let edges = edges(&modules);
    let top = level(&edges, &[]);
    println!("architecture: the top-level module graph (module -> what it uses):");
    for (module, uses) in &top {
        let uses: Vec<&str> = uses.iter().map(String::as_str).collect();
        println!("  {module} -> {}", uses.join(", "));
    }
    let mut cycles = Vec::new();
    for parent in modules.keys() {
        if let Some(found) = cycle(&level(&edges, parent)) {
            let at = if parent.is_empty() {
                "the crate".to_owned()
            } else {
                parent.join("::")
            };
            cycles.push(format!("in {at}: {}", found.join(" -> ")));
        }
    }
    assert!(
        cycles.is_empty(),
        "module import cycles:\n{}",
        cycles.join("\n")
    );
    println!(
        "architecture: {} modules, {} edges, no cycle at any level",
        modules.len(),
        edges.len()
    );
}

#[test]
fn the_checker_finds_a_cycle_it_is_shown() {
    let mut modules = Modules::new();
    modules.insert(vec!["a".into()], "use crate::b::thing;".into());
    modules.insert(vec!["b".into()], "fn f() { crate::{c, a::x}; }".into());
    modules.insert(vec!["c".into()], "fn g() {}".into());
    let edges = edges(&modules);
    let found = cycle(&level(&edges, &[])).expect("a -> b -> a");
    assert_eq!(found, ["a", "b", "a"]);
    modules.insert(vec!["b".into()], "use crate::c;".into());
    assert_eq!(cycle(&level(&self::edges(&modules), &[])), None);
}
