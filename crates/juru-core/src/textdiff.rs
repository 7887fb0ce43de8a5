//! Word-level differences between an original text and its correction, as a reviewer's edit is
//! stored: runs of kept, removed and added text that put together give back either side.

use serde::{Deserialize, Serialize};

/// One run of a difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", content = "text", rename_all = "lowercase")]
pub enum Run {
    Keep(String),
    Remove(String),
    Add(String),
}

/// The longest texts (in words, after the common start and end are set aside) compared word by
/// word; longer middles are shown as one removal and one addition.
const MAX_WORDS: usize = 4000;

/// Splits text into words with the whitespace that follows each, so runs join back exactly.
fn words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_space = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            in_space = true;
        } else if in_space {
            out.push(&text[start..i]);
            start = i;
            in_space = false;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// The difference from `before` to `after`, word by word (a longest common subsequence), with
/// neighbouring runs of the same kind merged.
pub fn diff_words(before: &str, after: &str) -> Vec<Run> {
    let (a, b) = (words(before), words(after));
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..].iter().rev().zip(b[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (am, bm) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut runs = Vec::new();
    push(&mut runs, Run::Keep(a[..prefix].concat()));
    if am.len() > MAX_WORDS || bm.len() > MAX_WORDS {
        push(&mut runs, Run::Remove(am.concat()));
        push(&mut runs, Run::Add(bm.concat()));
    } else {
        // lcs[i][j]: the longest common subsequence of am[i..] and bm[j..].
        let (n, m) = (am.len(), bm.len());
        let mut lcs = vec![0u32; (n + 1) * (m + 1)];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[i * (m + 1) + j] = if am[i] == bm[j] {
                    lcs[(i + 1) * (m + 1) + j + 1] + 1
                } else {
                    lcs[(i + 1) * (m + 1) + j].max(lcs[i * (m + 1) + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && am[i] == bm[j] {
                push(&mut runs, Run::Keep(am[i].to_owned()));
                i += 1;
                j += 1;
            } else if i < n && (j == m || lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) {
                // Removals before additions, as people read a change.
                push(&mut runs, Run::Remove(am[i].to_owned()));
                i += 1;
            } else {
                push(&mut runs, Run::Add(bm[j].to_owned()));
                j += 1;
            }
        }
    }
    push(&mut runs, Run::Keep(a[a.len() - suffix..].concat()));
    runs
}

/// Appends a run, merging it into the last one when they are of the same kind.
fn push(runs: &mut Vec<Run>, run: Run) {
    let empty = match &run {
        Run::Keep(t) | Run::Remove(t) | Run::Add(t) => t.is_empty(),
    };
    if empty {
        return;
    }
    match (runs.last_mut(), run) {
        (Some(Run::Keep(t)), Run::Keep(u))
        | (Some(Run::Remove(t)), Run::Remove(u))
        | (Some(Run::Add(t)), Run::Add(u)) => t.push_str(&u),
        (_, run) => runs.push(run),
    }
}

/// The text on one side of a difference: `before` (kept and removed) or after (kept and added).
pub fn side(runs: &[Run], before: bool) -> String {
    runs.iter()
        .filter_map(|r| match r {
            Run::Keep(t) => Some(t.as_str()),
            Run::Remove(t) if before => Some(t.as_str()),
            Run::Add(t) if !before => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_is_the_words_that_changed() {
        let runs = diff_words("Paket Anda tiba besok pagi.", "Paket Anda tiba hari Senin pagi.");
        assert_eq!(
            runs,
            vec![
                Run::Keep("Paket Anda tiba ".into()),
                Run::Remove("besok ".into()),
                Run::Add("hari Senin ".into()),
                Run::Keep("pagi.".into()),
            ]
        );
    }

    #[test]
    fn both_sides_come_back_exactly() {
        let cases = [
            ("", "baru"),
            ("lama", ""),
            ("a b c d e", "a x c y e"),
            ("  spasi   ganda\n", "spasi ganda"),
            ("sama persis", "sama persis"),
            ("x y x y", "y x y x"),
        ];
        for (before, after) in cases {
            let runs = diff_words(before, after);
            assert_eq!(side(&runs, true), before, "{before:?} → {after:?}");
            assert_eq!(side(&runs, false), after, "{before:?} → {after:?}");
        }
        assert_eq!(diff_words("sama", "sama"), vec![Run::Keep("sama".into())]);
    }

    #[test]
    fn runs_serialise_as_op_and_text() {
        let json = serde_json::to_string(&diff_words("a b", "a c")).unwrap();
        assert_eq!(json, r#"[{"op":"keep","text":"a "},{"op":"remove","text":"b"},{"op":"add","text":"c"}]"#);
    }
}
