//! The supported-command list in `docs/commands.md` (and in README.md
//! between the same markers), checked against the dispatch table so the
//! documentation cannot drift from what the server answers.

use std::collections::BTreeSet;

use crate::cmd::{
    acl, bitmaps, busy, client, command, connection, dump, geo, hashes, hyperloglog, keys, lists, memory, pubsub,
    server, sets, sort, streams, strings, transactions, zsets,
};
#[cfg(feature = "scripting")]
use crate::cmd::{functions, scripting};
use crate::cmd::{table, CommandSpec};

/// Where the generated list starts and ends in a Markdown file.
const START: &str = "<!-- commands:start -->";
const END: &str = "<!-- commands:end -->";

/// The documented groups, in order, and the tables each one lists.
fn sections() -> Vec<(&'static str, Vec<&'static [CommandSpec]>)> {
    vec![
        ("Connection", vec![connection::COMMANDS, client::COMMANDS]),
        ("Server", vec![server::COMMANDS, memory::COMMANDS, command::COMMANDS, acl::COMMANDS, busy::COMMANDS]),
        ("Strings", vec![strings::COMMANDS]),
        ("Bitmaps", vec![bitmaps::COMMANDS]),
        ("HyperLogLog", vec![hyperloglog::COMMANDS]),
        ("Keys", vec![keys::COMMANDS, sort::COMMANDS, dump::COMMANDS]),
        ("Hashes", vec![hashes::COMMANDS]),
        ("Lists", vec![lists::COMMANDS]),
        ("Sets", vec![sets::COMMANDS]),
        ("Sorted sets", vec![zsets::COMMANDS]),
        ("Streams", vec![streams::COMMANDS]),
        ("Geo", vec![geo::COMMANDS]),
        ("Transactions", vec![transactions::COMMANDS]),
        ("Pub/Sub", vec![pubsub::COMMANDS]),
        #[cfg(feature = "scripting")]
        ("Scripting", vec![scripting::COMMANDS, functions::COMMANDS]),
    ]
}

/// `client|kill` -> `CLIENT KILL`.
fn display(name: &str) -> String {
    name.replace('|', " ").to_ascii_uppercase()
}

fn paragraph(title: &str, names: impl IntoIterator<Item = String>) -> String {
    let names: BTreeSet<String> = names.into_iter().collect();
    let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    format!("**{title}:** {}\n", list.join(", "))
}

/// The Markdown block between the markers (markers included).
pub(crate) fn markdown() -> String {
    let mut out = format!("{START}\n");
    let mut containers: Vec<&CommandSpec> = Vec::new();
    for (title, tables) in sections() {
        let specs: Vec<&CommandSpec> = tables.into_iter().flatten().collect();
        containers.extend(specs.iter().filter(|s| !s.subcommands.is_empty()));
        out.push('\n');
        out.push_str(&paragraph(title, specs.iter().map(|s| display(s.name))));
    }
    containers.sort_by_key(|s| s.name);
    for c in containers {
        out.push('\n');
        out.push_str(&paragraph(
            &format!("`{}` subcommands", display(c.name)),
            c.subcommands.iter().map(|s| display(s.name)),
        ));
    }
    out.push('\n');
    out.push_str(END);
    out.push('\n');
    out
}

/// Every command and subcommand as the list names it (`GET`, `CLIENT KILL`).
pub(crate) fn supported_commands() -> BTreeSet<String> {
    table().values().flat_map(|s| std::iter::once(s).chain(s.subcommands.iter())).map(|s| display(s.name)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The block between the markers in `text`, markers included.
    fn block(text: &str) -> Option<String> {
        let start = text.find(START)?;
        let end = text[start..].find(END)? + start + END.len();
        Some(format!("{}\n", &text[start..end]))
    }

    fn check(file: &str, expected: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let Some(found) = block(&text) else {
            panic!("{file} has no {START} ... {END} block; paste this:\n\n{expected}")
        };
        if found != expected {
            let (want, got): (BTreeSet<&str>, BTreeSet<&str>) = (expected.lines().collect(), found.lines().collect());
            let mut diff = String::new();
            for l in got.difference(&want) {
                diff.push_str(&format!("- {l}\n"));
            }
            for l in want.difference(&got) {
                diff.push_str(&format!("+ {l}\n"));
            }
            let names = |t: &str| -> BTreeSet<String> { t.split('`').skip(1).step_by(2).map(String::from).collect() };
            let (want_n, got_n) = (names(expected), names(&found));
            let missing: Vec<_> = want_n.difference(&got_n).collect();
            let extra: Vec<_> = got_n.difference(&want_n).collect();
            panic!(
                "{file}: the supported-command list disagrees with the dispatch table\n\
                 not listed: {missing:?}\nlisted but not in the table: {extra:?}\n\
                 lines (- in the file, + expected):\n{diff}\nReplace the block with:\n\n{expected}"
            );
        }
    }

    #[test]
    fn sections_cover_the_dispatch_table() {
        let listed: BTreeSet<String> = sections()
            .into_iter()
            .flat_map(|(_, tables)| tables.into_iter().flatten())
            .flat_map(|s| std::iter::once(s).chain(s.subcommands.iter()))
            .map(|s| display(s.name))
            .collect();
        let missing: Vec<_> = supported_commands().difference(&listed).cloned().collect();
        assert!(missing.is_empty(), "command groups missing from the docs sections: {missing:?}");
        let md = markdown();
        for name in supported_commands() {
            assert!(md.contains(&format!("`{name}`")), "{name} missing from the list");
        }
        assert!(md.contains("`CLIENT KILL`") && md.contains("`GET`"));
    }

    // The documents describe the default build (scripting included).
    #[cfg(feature = "scripting")]
    #[test]
    fn docs_list_matches_dispatch_table() {
        let expected = markdown();
        check("docs/commands.md", &expected);
        let readme = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        if std::fs::read_to_string(readme).is_ok_and(|t| t.contains(START)) {
            check("README.md", &expected);
        }
    }
}
