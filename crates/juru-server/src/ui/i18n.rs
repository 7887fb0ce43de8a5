//! UI translations: `i18n/en.toml` and `i18n/id.toml`, compiled into the binary and flattened
//! to dotted keys (`nav.datasets`). English is the fallback for a missing key.

use std::collections::HashMap;
use std::sync::Arc;

const EN: &str = include_str!("../../i18n/en.toml");
const ID: &str = include_str!("../../i18n/id.toml");

/// The languages the UI speaks, with their own names.
pub(crate) const LANGUAGES: [(&str, &str); 2] = [("en", "English"), ("id", "Bahasa Indonesia")];

pub(crate) struct I18n {
    tables: HashMap<&'static str, HashMap<String, String>>,
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut HashMap<String, String>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

pub(crate) fn parse(text: &str) -> Result<HashMap<String, String>, toml::de::Error> {
    let value: toml::Value = toml::from_str(text)?;
    let mut out = HashMap::new();
    flatten("", &value, &mut out);
    Ok(out)
}

impl I18n {
    pub(crate) fn load() -> I18n {
        // The files are compiled in and checked by tests, so a parse error is a build defect.
        let mut tables = HashMap::new();
        tables.insert("en", parse(EN).unwrap_or_default());
        tables.insert("id", parse(ID).unwrap_or_default());
        I18n { tables }
    }

    pub(crate) fn get<'a>(&'a self, locale: &str, key: &'a str) -> &'a str {
        self.tables
            .get(locale)
            .and_then(|t| t.get(key))
            .or_else(|| self.tables.get("en").and_then(|t| t.get(key)))
            .map(String::as_str)
            .unwrap_or(key)
    }
}

/// Translations for one page in one language.
#[derive(Clone)]
pub(crate) struct Tr {
    i18n: Arc<I18n>,
    pub(crate) locale: String,
}

impl Tr {
    pub(crate) fn new(i18n: Arc<I18n>, locale: &str) -> Tr {
        let locale = if LANGUAGES.iter().any(|(code, _)| *code == locale) { locale } else { "en" };
        Tr { i18n, locale: locale.to_owned() }
    }

    pub(crate) fn t<'a>(&'a self, key: &'a str) -> &'a str {
        self.i18n.get(&self.locale, key)
    }

    /// A string with `{name}` placeholders filled in.
    pub(crate) fn tf(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut s = self.i18n.get(&self.locale, key).to_owned();
        for (name, value) in args {
            s = s.replace(&format!("{{{name}}}"), value);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_keys() {
        let en = parse(EN).unwrap();
        let id = parse(ID).unwrap();
        let mut missing_in_id: Vec<_> = en.keys().filter(|k| !id.contains_key(*k)).collect();
        let mut missing_in_en: Vec<_> = id.keys().filter(|k| !en.contains_key(*k)).collect();
        missing_in_id.sort();
        missing_in_en.sort();
        assert!(missing_in_id.is_empty(), "keys missing in id.toml: {missing_in_id:?}");
        assert!(missing_in_en.is_empty(), "keys missing in en.toml: {missing_in_en:?}");
    }

    #[test]
    fn every_key_used_in_templates_and_code_exists() {
        let en = parse(EN).unwrap();
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/");
        let mut files = Vec::new();
        for dir in ["templates", "src/ui"] {
            for entry in std::fs::read_dir(format!("{root}{dir}")).unwrap() {
                files.push(entry.unwrap().path());
            }
        }
        let mut used = 0;
        for path in files.into_iter().filter(|p| !p.ends_with("i18n.rs")) {
            let text = std::fs::read_to_string(&path).unwrap();
            // Method calls `.t("…")`, `.tf("…")` and the login page's bare `t("…")`.
            for pattern in [".t(\"", ".tf(\"", "{ t(\""] {
                for (i, _) in text.match_indices(pattern) {
                    let rest = &text[i + pattern.len()..];
                    let key = &rest[..rest.find('"').unwrap()];
                    if key.contains('{') || key.is_empty() {
                        continue;
                    }
                    used += 1;
                    assert!(en.contains_key(key), "{} uses unknown key {key:?}", path.display());
                }
            }
        }
        assert!(used > 50, "expected the UI to use many keys, found {used}");
    }

    #[test]
    fn every_desk_has_its_texts() {
        let en = parse(EN).unwrap();
        for link in crate::ui::desk_links() {
            for key in [&link.title_key, &link.about_key, &link.role_key] {
                assert!(en.contains_key(key.as_str()), "missing {key}");
            }
        }
    }

    #[test]
    fn placeholders_are_filled() {
        let tr = Tr::new(Arc::new(I18n::load()), "id");
        assert_eq!(tr.tf("home.welcome", &[("name", "Sari")]), "Selamat datang, Sari.");
        assert_eq!(Tr::new(Arc::new(I18n::load()), "xx").t("nav.home"), "Home");
    }
}
