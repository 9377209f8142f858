//! The crate's layers point one way: every folder of `src/` may import only
//! the folders below it (ARCHITECTURE.md draws the same picture). This test
//! reads every source file, takes each `crate::<folder>` path outside
//! comments and unit-test modules, and fails on an import that goes up or
//! sideways, naming the file and the import.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layers, bottom first. A folder may import any folder of a lower
/// layer, never one of its own layer or above.
const LAYERS: &[&[&str]] = &[
    &["num"],
    &["protocol"],
    &["catalog", "store", "tls", "host"],
    &["script"],
    &["fault"],
    &["engine"],
    &["cmd"],
    &["server"],
    &["proxy"],
    &["pool", "backend"],
    &["chaos"],
];

/// Names the crate root re-exports (`crate::FakeRedis`), by home folder.
const ROOT_NAMES: &[(&str, &str)] = &[
    ("FaultGuard", "fault"),
    ("FaultRule", "fault"),
    ("Reply", "protocol"),
    ("FaultProxy", "proxy"),
    ("TlsFault", "server"),
    ("Builder", "server"),
    ("ClientSnapshot", "server"),
    ("Clock", "server"),
    ("FakeRedis", "server"),
    ("LeakError", "server"),
    ("RecordedCommand", "server"),
    ("ShutdownReport", "server"),
    ("StartError", "server"),
    ("Subscription", "server"),
    ("SubscriptionKind", "server"),
    ("DEFAULT_RECORD_LIMIT", "server"),
];

fn layer_of(folder: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&folder))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("read src/").flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without comments and without its `#[cfg(test)]`
/// module (unit tests may reach up to build fixtures).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// Every folder (or re-exported root name's home) a `crate::` path names.
fn imports(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::b, c::d}`: the first word of each path.
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let word: String = part.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                out.push(word);
            }
            continue;
        }
        let word: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        out.push(word);
    }
    out.into_iter()
        .filter(|w| !w.is_empty())
        .map(|w| ROOT_NAMES.iter().find(|(n, _)| *n == w).map_or(w, |(_, home)| home.to_string()))
        .collect()
}

#[test]
fn layers_import_only_the_layers_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut bad = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        let folder = rel.split('/').next().unwrap().trim_end_matches(".rs").to_string();
        if folder == "lib" {
            continue; // the facade re-exports from every layer
        }
        let Some(mine) = layer_of(&folder) else {
            bad.push(format!("{rel}: folder `{folder}` is in no layer (add it to LAYERS and ARCHITECTURE.md)"));
            continue;
        };
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        for target in imports(&code) {
            if target == folder || target == "self" || target == "super" {
                continue;
            }
            graph.entry(folder.clone()).or_default().entry(target.clone()).or_default().push(rel.clone());
            match layer_of(&target) {
                Some(theirs) if theirs < mine => {}
                Some(_) => bad.push(format!("{rel}: `{folder}` imports `crate::{target}`, which is not below it")),
                None => bad.push(format!("{rel}: imports `crate::{target}`, which is in no layer")),
            }
        }
    }
    bad.sort();
    bad.dedup();
    assert!(bad.is_empty(), "layering violations:\n  {}\n(graph: {graph:#?})", bad.join("\n  "));
    // The bottom layers stand alone, as the issue that introduced this test asks.
    for low in ["num", "protocol", "store"] {
        let above: Vec<&String> = graph.get(low).map(|m| m.keys().collect()).unwrap_or_default();
        assert!(
            above.iter().all(|t| layer_of(t).is_some_and(|l| l < layer_of(low).unwrap())),
            "{low} imports {above:?}"
        );
    }
}

#[test]
fn the_checker_sees_an_upward_import() {
    // A check that cannot fail is no check: the parser must find both forms.
    let code =
        code_of("use crate::server::FakeRedis;\nuse crate::{cmd::x, engine::y};\n// crate::proxy in a comment\n");
    assert_eq!(imports(&code), ["server", "cmd", "engine"]);
    assert_eq!(imports("let s = crate::FakeRedis::builder();"), ["server"]);
    assert!(layer_of("engine").unwrap() < layer_of("cmd").unwrap());
}
