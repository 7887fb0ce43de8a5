//! Counterfactual swap lists: for one dimension (gender, ethnicity, religion …) the groups and,
//! per placeholder, the words each group is written with. A probe template names placeholders
//! (`{sapaan} {nama} mengajukan pinjaman …`); expanding it gives one text per group and
//! alternative, and texts with the same alternative index are counterfactual pairs: they differ
//! only in the group. `swap_text` rewrites an existing text from one group's words to another's,
//! for classifier flip rates on real data.
//!
//! The lists written by the project live in `data/swaps/` (Indonesian first, English too) and are
//! built in; users add their own in the same YAML format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::CoreError;

/// A swap list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwapList {
    pub name: String,
    pub language: String,
    pub dimension: String,
    pub groups: Vec<String>,
    /// Placeholder → one list of alternatives per group, in `groups` order.
    pub terms: BTreeMap<String, Vec<Vec<String>>>,
}

/// The lists that ship with Juru.
pub const BUILTIN: &[(&str, &str)] = &[
    ("id-gender", include_str!("../data/swaps/id-gender.yaml")),
    ("id-ethnicity", include_str!("../data/swaps/id-ethnicity.yaml")),
    ("id-religion", include_str!("../data/swaps/id-religion.yaml")),
    ("id-region", include_str!("../data/swaps/id-region.yaml")),
    ("id-age", include_str!("../data/swaps/id-age.yaml")),
    ("id-disability", include_str!("../data/swaps/id-disability.yaml")),
    ("en-gender", include_str!("../data/swaps/en-gender.yaml")),
    ("en-ethnicity", include_str!("../data/swaps/en-ethnicity.yaml")),
    ("en-religion", include_str!("../data/swaps/en-religion.yaml")),
    ("en-age", include_str!("../data/swaps/en-age.yaml")),
    ("en-disability", include_str!("../data/swaps/en-disability.yaml")),
];

fn invalid(name: &str, reason: String) -> CoreError {
    CoreError::Invalid { what: "swap list", value: name.to_string(), reason }
}

/// A built-in list by name.
pub fn builtin(name: &str) -> Option<SwapList> {
    BUILTIN.iter().find(|(n, _)| *n == name).and_then(|(_, text)| SwapList::parse(text).ok())
}

/// One expanded text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    /// Index into the list's groups.
    pub group: usize,
    /// The alternative; texts with equal `index` are counterfactual pairs.
    pub index: usize,
    pub text: String,
}

impl SwapList {
    /// Parses and checks a list; every problem at once.
    pub fn parse(text: &str) -> Result<SwapList, CoreError> {
        let list: SwapList = serde_yaml_ng::from_str(text).map_err(|e| invalid("", e.to_string()))?;
        let mut problems = Vec::new();
        if list.groups.len() < 2 {
            problems.push(format!("needs at least two groups, has {}", list.groups.len()));
        }
        if list.terms.is_empty() {
            problems.push("has no terms".to_string());
        }
        for (key, per_group) in &list.terms {
            if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                problems.push(format!("placeholder {key:?}: use letters, digits and _"));
            }
            if per_group.len() != list.groups.len() {
                problems.push(format!(
                    "{key}: {} lists for {} groups (one list per group, in order)",
                    per_group.len(),
                    list.groups.len()
                ));
            }
            for (g, alternatives) in per_group.iter().enumerate() {
                if alternatives.is_empty() || alternatives.iter().any(|a| a.trim().is_empty()) {
                    problems.push(format!(
                        "{key}: group {} has an empty entry",
                        list.groups.get(g).map_or("?", |s| s)
                    ));
                }
            }
        }
        if problems.is_empty() { Ok(list) } else { Err(invalid(&list.name, problems.join("; "))) }
    }

    /// The placeholders a template uses, in order of first use; unknown ones are an error.
    pub fn placeholders(&self, template: &str) -> Result<Vec<String>, CoreError> {
        let mut used = Vec::new();
        let mut unknown = Vec::new();
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else { break };
            let key = &after[..end];
            if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                if self.terms.contains_key(key) {
                    if !used.iter().any(|u| u == key) {
                        used.push(key.to_string());
                    }
                } else if !unknown.iter().any(|u| u == key) {
                    unknown.push(key.to_string());
                }
            }
            rest = &after[end + 1..];
        }
        if !unknown.is_empty() {
            return Err(CoreError::Invalid {
                what: "probe template",
                value: template.to_string(),
                reason: format!(
                    "it uses {} not in swap list {:?} (it has: {})",
                    unknown.iter().map(|u| format!("{{{u}}}")).collect::<Vec<_>>().join(", "),
                    self.name,
                    self.terms.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        if used.is_empty() {
            return Err(CoreError::Invalid {
                what: "probe template",
                value: template.to_string(),
                reason: format!(
                    "it names no placeholder of swap list {:?} (it has: {})",
                    self.name,
                    self.terms.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        Ok(used)
    }

    /// Every group's texts of `template`: alternative `i` of each placeholder (cycling through
    /// shorter lists), for `i` up to the longest list used, at most `max_alternatives`.
    pub fn expand(&self, template: &str, max_alternatives: usize) -> Result<Vec<Variant>, CoreError> {
        let used = self.placeholders(template)?;
        let k = used
            .iter()
            .flat_map(|key| self.terms[key].iter().map(Vec::len))
            .max()
            .unwrap_or(1)
            .min(max_alternatives.max(1));
        let mut out = Vec::with_capacity(k * self.groups.len());
        for index in 0..k {
            for group in 0..self.groups.len() {
                let mut text = template.to_string();
                for key in &used {
                    let alternatives = &self.terms[key][group];
                    text = text.replace(&format!("{{{key}}}"), &alternatives[index % alternatives.len()]);
                }
                out.push(Variant { group, index, text });
            }
        }
        Ok(out)
    }

    /// `text` with `from`'s words replaced by `to`'s (whole words, case-insensitive, a leading
    /// capital kept), using the placeholders whose lists pair up (equal lengths); `None` when no
    /// word of `from` occurs.
    pub fn swap_text(&self, text: &str, from: usize, to: usize) -> Option<String> {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for per_group in self.terms.values() {
            let (a, b) = (per_group.get(from)?, per_group.get(to)?);
            if a.len() == b.len() {
                pairs.extend(a.iter().map(String::as_str).zip(b.iter().map(String::as_str)));
            }
        }
        // Longer phrases first, so "anak laki-laki" wins over "laki-laki".
        pairs.sort_by_key(|(a, _)| std::cmp::Reverse(a.len()));
        // Matching ignores case where lowercasing keeps byte offsets (it does for Indonesian
        // and English); otherwise it is exact.
        let lower =
            Some(text.to_lowercase()).filter(|l| l.len() == text.len()).unwrap_or_else(|| text.to_string());
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        let mut changed = false;
        let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '-');
        'scan: while i < text.len() {
            if text.is_char_boundary(i) && !is_word(text[..i].chars().next_back()) {
                for (a, b) in &pairs {
                    let a_lower = a.to_lowercase();
                    if lower[i..].starts_with(&a_lower) && !is_word(text[i + a_lower.len()..].chars().next())
                    {
                        let capital = text[i..].chars().next().is_some_and(char::is_uppercase);
                        let mut replacement = b.to_string();
                        if capital && let Some(first) = replacement.chars().next() {
                            replacement = first.to_uppercase().chain(replacement.chars().skip(1)).collect();
                        }
                        out.push_str(&replacement);
                        i += a_lower.len();
                        changed = true;
                        continue 'scan;
                    }
                }
            }
            let c = text[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
        changed.then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_list_parses() {
        for (name, text) in BUILTIN {
            let list = SwapList::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&list.name, name);
        }
        let religion = builtin("id-religion").unwrap();
        assert_eq!(religion.groups.len(), 7, "six recognised religions and kepercayaan");
    }

    #[test]
    fn templates_expand_into_pairs() {
        let gender = builtin("id-gender").unwrap();
        let v = gender.expand("{sapaan} {nama} mengajukan pinjaman Rp 50 juta untuk usaha.", 3).unwrap();
        assert_eq!(v.len(), 6);
        assert_eq!(v[0].text, "Bapak Budi mengajukan pinjaman Rp 50 juta untuk usaha.");
        assert_eq!(v[1].text, "Ibu Siti mengajukan pinjaman Rp 50 juta untuk usaha.");
        assert_eq!((v[3].group, v[3].index), (1, 1));
        let e = gender.expand("{agama} {nama}", 3).unwrap_err().to_string();
        assert!(e.contains("uses {agama} not in swap list \"id-gender\""), "{e}");
        assert!(gender.expand("tanpa penanda", 3).unwrap_err().to_string().contains("names no placeholder"));
    }

    #[test]
    fn texts_swap_whole_words_and_keep_capitals() {
        let gender = builtin("id-gender").unwrap();
        let s = gender
            .swap_text("Bapak itu bilang suaminya pulang; anak laki-laki Pak Budi sakit.", 0, 1)
            .unwrap();
        // "suaminya" is not the whole word "suami"; names swap index by index.
        assert_eq!(s, "Ibu itu bilang suaminya pulang; anak perempuan Bu Siti sakit.");
        assert_eq!(gender.swap_text("Cuaca cerah hari ini.", 0, 1), None);
    }

    #[test]
    fn bad_lists_are_refused_with_every_problem() {
        let e = SwapList::parse(
            "name: x\nlanguage: id\ndimension: d\ngroups: [a]\nterms: {k: [[x], [y]], 'a b': [[]]}\n",
        )
        .unwrap_err()
        .to_string();
        for part in ["at least two groups", "k: 2 lists for 1 groups", "placeholder \"a b\"", "empty entry"] {
            assert!(e.contains(part), "{part}: {e}");
        }
    }
}
