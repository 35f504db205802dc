//! Where a key sits in a TOML file's text, so a mistake found after the file parsed (a grant
//! of an unknown role, an account with a bad id) names its line, as a syntax error does.

use std::fmt::Display;
use toml::de::{DeTable, DeValue};

/// `message`, prefixed with `line N: ` where `N` is the line of the key at `path` in `text`
/// (`["grants", "ci"]`: the key `ci` of the table `grants`); `message` alone when the text
/// has no such key.
pub fn at_key(text: &str, path: &[&str], message: impl Display) -> String {
    match line_of(text, path) {
        Some(line) => format!("line {line}: {message}"),
        None => message.to_string(),
    }
}

/// The 1-based line of the key at `path`, if the text parses and has it.
pub fn line_of(text: &str, path: &[&str]) -> Option<usize> {
    let (last, tables) = path.split_last()?;
    let root = DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    for name in tables {
        match table.get(*name)?.get_ref() {
            DeValue::Table(inner) => table = inner,
            _ => return None,
        }
    }
    let (key, _) = table.get_key_value(*last)?;
    let start = key.span().start;
    Some(1 + text.get(..start)?.matches('\n').count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_in_tables_inline_tables_and_dotted_keys() {
        let text = "# roles\n[grants]\nci = [\"reader\"]\n\n[targets]\nops = { accounts = [\"*\"] }\n[accounts.dev]\nid = \"1\"\n[accounts.dev.overrides.us-west-2]\ninventory = false\n";
        assert_eq!(line_of(text, &["grants"]), Some(2));
        assert_eq!(line_of(text, &["grants", "ci"]), Some(3));
        assert_eq!(line_of(text, &["targets", "ops", "accounts"]), Some(6));
        assert_eq!(line_of(text, &["accounts", "dev"]), Some(7));
        assert_eq!(
            line_of(text, &["accounts", "dev", "overrides", "us-west-2"]),
            Some(9)
        );
        assert_eq!(line_of(text, &["grants", "nobody"]), None);
        assert_eq!(line_of("not toml = = =", &["x"]), None);
        assert_eq!(at_key(text, &["grants", "ci"], "bad"), "line 3: bad");
        assert_eq!(at_key(text, &["grants", "x"], "bad"), "bad");
    }
}
