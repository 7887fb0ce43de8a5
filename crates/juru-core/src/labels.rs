//! Label schemas of annotation projects: what an answer may be, checking an answer against its
//! schema, turning answers into codes for agreement statistics, and changing a schema (rename,
//! merge, split, add) together with the answers already given under it.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::CoreError;

/// The most labels a schema may have.
pub const MAX_LABELS: usize = 200;

/// What an annotator does with an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelKind {
    /// One label: `"HS"`.
    Single,
    /// Any number of labels: `["HS", "Abusive"]`.
    Multi,
    /// Labelled character ranges of the text (NER): `[{"start": 0, "end": 5, "label": "PER"}]`.
    Spans,
    /// A whole number on a scale (Likert): `4`.
    Rating,
    /// Which of two fields is better: `"a"`, `"b"` or, when allowed, `"tie"`.
    Pairwise,
    /// An ordering of the compared fields, best first: `["b", "a", "c"]`.
    Ranking,
    /// A corrected version of the text: `"the corrected text"`.
    Text,
}

/// A project's label schema (one version of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelSchema {
    #[schema(value_type = String, example = "single")]
    pub kind: LabelKind,
    /// The labels of `single`, `multi` and `spans`, in the order they are shown (keys 1 to 9).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// The scale of `rating`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    /// The item fields compared by `pairwise` (exactly two) and `ranking` (two or more).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Whether `pairwise` accepts `"tie"`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_tie: bool,
}

fn invalid(what: &'static str, value: impl Into<String>, reason: impl Into<String>) -> CoreError {
    CoreError::Invalid { what, value: value.into(), reason: reason.into() }
}

impl LabelSchema {
    /// Reads and checks a schema given as JSON.
    pub fn parse(value: &Value) -> Result<LabelSchema, CoreError> {
        let schema: LabelSchema = serde_json::from_value(value.clone())
            .map_err(|e| invalid("label schema", value.to_string(), e.to_string()))?;
        schema.validate()?;
        Ok(schema)
    }

    /// Checks that the schema can be answered: labels present and distinct, a scale with
    /// `min < max`, the right number of compared fields.
    pub fn validate(&self) -> Result<(), CoreError> {
        let text = || serde_json::to_string(self).unwrap_or_default();
        let needs_labels = matches!(self.kind, LabelKind::Single | LabelKind::Multi | LabelKind::Spans);
        if needs_labels {
            if self.labels.is_empty() {
                return Err(invalid("label schema", text(), "needs at least one label"));
            }
            if self.labels.len() > MAX_LABELS {
                return Err(invalid("label schema", text(), format!("has more than {MAX_LABELS} labels")));
            }
            for (i, label) in self.labels.iter().enumerate() {
                crate::names::validate_name("label", label)?;
                if self.labels[..i].contains(label) {
                    return Err(invalid("label schema", text(), format!("label {label:?} is listed twice")));
                }
            }
        } else if !self.labels.is_empty() {
            return Err(invalid(
                "label schema",
                text(),
                format!("a {} schema has no labels", self.kind_name()),
            ));
        }
        match self.kind {
            LabelKind::Rating => match (self.min, self.max) {
                (Some(lo), Some(hi)) if lo < hi && hi - lo <= 100 => {}
                (Some(_), Some(_)) => {
                    return Err(invalid("label schema", text(), "needs min < max, at most 100 apart"));
                }
                _ => return Err(invalid("label schema", text(), "a rating schema needs min and max")),
            },
            LabelKind::Pairwise if self.fields.len() != 2 => {
                return Err(invalid("label schema", text(), "pairwise compares exactly two fields"));
            }
            LabelKind::Ranking if self.fields.len() < 2 => {
                return Err(invalid("label schema", text(), "ranking orders two or more fields"));
            }
            _ => {}
        }
        Ok(())
    }

    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            LabelKind::Single => "single",
            LabelKind::Multi => "multi",
            LabelKind::Spans => "spans",
            LabelKind::Rating => "rating",
            LabelKind::Pairwise => "pairwise",
            LabelKind::Ranking => "ranking",
            LabelKind::Text => "text",
        }
    }

    /// The choices an annotator picks with the number keys, in order.
    pub fn choices(&self) -> Vec<String> {
        match self.kind {
            LabelKind::Single | LabelKind::Multi | LabelKind::Spans => self.labels.clone(),
            LabelKind::Rating => {
                let (lo, hi) = (self.min.unwrap_or(1), self.max.unwrap_or(5));
                (lo..=hi).map(|v| v.to_string()).collect()
            }
            LabelKind::Pairwise => {
                let mut c = vec!["a".to_owned(), "b".to_owned()];
                if self.allow_tie {
                    c.push("tie".to_owned());
                }
                c
            }
            LabelKind::Ranking => self.fields.clone(),
            LabelKind::Text => Vec::new(),
        }
    }

    /// Checks an answer and returns it in canonical form (multi-labels in schema order, spans
    /// sorted). `text` is the item's text, which spans must lie within.
    pub fn check_answer(&self, value: &Value, text: Option<&str>) -> Result<Value, String> {
        let label_of = |v: &Value| -> Result<usize, String> {
            let s = v.as_str().ok_or_else(|| format!("a label must be a string, got {v}"))?;
            self.labels.iter().position(|l| l == s).ok_or_else(|| {
                format!("label {s:?} is not in the schema (labels: {})", self.labels.join(", "))
            })
        };
        match self.kind {
            LabelKind::Single => Ok(json!(self.labels[label_of(value)?])),
            LabelKind::Multi => {
                let list =
                    value.as_array().ok_or_else(|| format!("expected a list of labels, got {value}"))?;
                let mut picked = vec![false; self.labels.len()];
                for v in list {
                    picked[label_of(v)?] = true;
                }
                let out: Vec<&String> =
                    self.labels.iter().zip(&picked).filter(|(_, p)| **p).map(|(l, _)| l).collect();
                Ok(json!(out))
            }
            LabelKind::Spans => self.check_spans(value, text, &label_of),
            LabelKind::Rating => {
                let (lo, hi) = (self.min.unwrap_or(1), self.max.unwrap_or(5));
                let n = value
                    .as_i64()
                    .or_else(|| value.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                    .ok_or_else(|| format!("a rating must be a whole number, got {value}"))?;
                if !(lo..=hi).contains(&n) {
                    return Err(format!("rating {n} is outside the scale {lo} to {hi}"));
                }
                Ok(json!(n))
            }
            LabelKind::Pairwise => {
                let choices = self.choices();
                match value.as_str() {
                    Some(s) if choices.iter().any(|c| c == s) => Ok(json!(s)),
                    _ => Err(format!("a preference must be one of {}, got {value}", choices.join(", "))),
                }
            }
            LabelKind::Ranking => {
                let list =
                    value.as_array().ok_or_else(|| format!("expected a list of fields, got {value}"))?;
                let mut seen = vec![false; self.fields.len()];
                for v in list {
                    let i = v.as_str().and_then(|s| self.fields.iter().position(|f| f == s)).ok_or_else(
                        || format!("{v} is not one of the ranked fields ({})", self.fields.join(", ")),
                    )?;
                    if std::mem::replace(&mut seen[i], true) {
                        return Err(format!("{v} is ranked twice"));
                    }
                }
                if seen.iter().any(|s| !s) {
                    return Err(format!("a ranking must order every field ({})", self.fields.join(", ")));
                }
                Ok(value.clone())
            }
            LabelKind::Text => match value.as_str() {
                Some(s) if s.len() <= 1 << 20 => Ok(json!(s)),
                Some(_) => Err("a corrected text may be at most 1 MiB".into()),
                None => Err(format!("expected the corrected text as a string, got {value}")),
            },
        }
    }

    fn check_spans(
        &self,
        value: &Value,
        text: Option<&str>,
        label_of: &dyn Fn(&Value) -> Result<usize, String>,
    ) -> Result<Value, String> {
        let list = value.as_array().ok_or_else(|| format!("expected a list of spans, got {value}"))?;
        let length = text.map(|t| t.chars().count());
        let mut spans = Vec::with_capacity(list.len());
        for (n, v) in list.iter().enumerate() {
            let field = |k: &str| v.get(k).and_then(Value::as_u64);
            let (Some(start), Some(end), Some(label)) = (field("start"), field("end"), v.get("label")) else {
                return Err(format!("span {}: needs start, end (character offsets) and label", n + 1));
            };
            let label = label_of(label).map_err(|e| format!("span {}: {e}", n + 1))?;
            if start >= end {
                return Err(format!("span {}: start {start} must be before end {end}", n + 1));
            }
            if let Some(len) = length
                && end as usize > len
            {
                return Err(format!("span {}: end {end} is past the text's {len} characters", n + 1));
            }
            spans.push((start, end, label));
        }
        spans.sort();
        for w in spans.windows(2) {
            if w[1].0 < w[0].1 {
                return Err(format!("spans {}..{} and {}..{} overlap", w[0].0, w[0].1, w[1].0, w[1].1));
            }
        }
        Ok(Value::Array(
            spans
                .into_iter()
                .map(|(s, e, l)| json!({"start": s, "end": e, "label": self.labels[l]}))
                .collect(),
        ))
    }

    /// The answer as one number for agreement statistics: the label's index for `single` and
    /// `pairwise`, the value for `rating`; `None` for kinds that are not one category.
    pub fn code(&self, value: &Value) -> Option<f64> {
        match self.kind {
            LabelKind::Single | LabelKind::Pairwise => {
                let s = value.as_str()?;
                self.choices().iter().position(|c| c == s).map(|i| i as f64)
            }
            LabelKind::Rating => value.as_f64(),
            _ => None,
        }
    }

    /// Which labels a `multi` answer carries, as flags in schema order.
    pub fn flags(&self, value: &Value) -> Vec<bool> {
        let list = value.as_array().map(Vec::as_slice).unwrap_or_default();
        self.labels.iter().map(|l| list.iter().any(|v| v.as_str() == Some(l))).collect()
    }
}

/// A change to a schema's labels that carries the answers given so far with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum SchemaChange {
    /// A new label at the end.
    Add { label: String },
    /// One label gets a new name; answers follow.
    Rename { from: String, to: String },
    /// Several labels become one; answers with any of them get the merged label.
    Merge { from: Vec<String>, into: String },
    /// One label becomes several. Which new label an old answer means cannot be known, so
    /// answers that used it are reopened for their annotators to answer again.
    Split { from: String, into: Vec<String> },
}

/// What a schema change does to one answer.
#[derive(Debug, Clone, PartialEq)]
pub enum AnswerChange {
    Unchanged,
    Changed(Value),
    /// The answer used a split label: it must be given again.
    Reopen,
}

impl SchemaChange {
    /// The schema after this change.
    pub fn apply(&self, schema: &LabelSchema) -> Result<LabelSchema, CoreError> {
        if !matches!(schema.kind, LabelKind::Single | LabelKind::Multi | LabelKind::Spans) {
            return Err(invalid(
                "schema change",
                self.describe(),
                format!("a {} schema has no labels to change", schema.kind_name()),
            ));
        }
        let known = |l: &String| -> Result<(), CoreError> {
            if schema.labels.contains(l) {
                Ok(())
            } else {
                Err(invalid("schema change", self.describe(), format!("there is no label {l:?}")))
            }
        };
        let mut labels = schema.labels.clone();
        match self {
            SchemaChange::Add { label } => labels.push(label.clone()),
            SchemaChange::Rename { from, to } => {
                known(from)?;
                labels.iter_mut().filter(|l| *l == from).for_each(|l| *l = to.clone());
            }
            SchemaChange::Merge { from, into } => {
                if from.len() < 2 {
                    return Err(invalid("schema change", self.describe(), "merge needs two or more labels"));
                }
                from.iter().try_for_each(known)?;
                // The merged label takes the place of the first merged one.
                let at = labels.iter().position(|l| from.contains(l)).unwrap_or(labels.len());
                labels.retain(|l| !from.contains(l) && l != into);
                labels.insert(at.min(labels.len()), into.clone());
            }
            SchemaChange::Split { from, into } => {
                if into.len() < 2 {
                    return Err(invalid(
                        "schema change",
                        self.describe(),
                        "split needs two or more new labels",
                    ));
                }
                known(from)?;
                let at = labels.iter().position(|l| l == from).unwrap_or(labels.len());
                labels.remove(at);
                for (k, l) in into.iter().enumerate() {
                    labels.insert(at + k, l.clone());
                }
            }
        }
        let next = LabelSchema { labels, ..schema.clone() };
        next.validate()?;
        Ok(next)
    }

    /// What this change does to an answer given under the old schema.
    pub fn migrate(&self, value: &Value) -> AnswerChange {
        let map = |label: &str| -> Option<Option<String>> {
            match self {
                SchemaChange::Add { .. } => None,
                SchemaChange::Rename { from, to } => (label == from).then(|| Some(to.clone())),
                SchemaChange::Merge { from, into } => {
                    from.iter().any(|f| f == label).then(|| Some(into.clone()))
                }
                SchemaChange::Split { from, .. } => (label == from).then_some(None),
            }
        };
        // Some(None) = reopen; Some(Some(l)) = relabel; None = untouched.
        let mut reopen = false;
        let mut changed = false;
        let mut relabel = |label: &str| -> String {
            match map(label) {
                Some(Some(new)) => {
                    changed = true;
                    new
                }
                Some(None) => {
                    reopen = true;
                    label.to_owned()
                }
                None => label.to_owned(),
            }
        };
        let next = match value {
            Value::String(s) => json!(relabel(s)),
            Value::Array(list) => {
                let mut out: Vec<Value> = Vec::with_capacity(list.len());
                for v in list {
                    let mapped = match v {
                        Value::String(s) => json!(relabel(s)),
                        Value::Object(span) => {
                            let mut span = span.clone();
                            if let Some(Value::String(l)) = span.get("label").cloned() {
                                span.insert("label".into(), json!(relabel(&l)));
                            }
                            Value::Object(span)
                        }
                        other => other.clone(),
                    };
                    if !out.contains(&mapped) {
                        out.push(mapped);
                    }
                }
                Value::Array(out)
            }
            other => other.clone(),
        };
        if reopen {
            AnswerChange::Reopen
        } else if changed {
            AnswerChange::Changed(next)
        } else {
            AnswerChange::Unchanged
        }
    }

    /// A short description for messages and the audit log: `rename "HS" to "Hate"`.
    pub fn describe(&self) -> String {
        match self {
            SchemaChange::Add { label } => format!("add {label:?}"),
            SchemaChange::Rename { from, to } => format!("rename {from:?} to {to:?}"),
            SchemaChange::Merge { from, into } => format!("merge {from:?} into {into:?}"),
            SchemaChange::Split { from, into } => format!("split {from:?} into {into:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single() -> LabelSchema {
        LabelSchema::parse(&json!({"kind": "single", "labels": ["HS", "Abusive", "Neither"]})).unwrap()
    }

    #[test]
    fn schemas_that_cannot_be_answered_are_refused_with_the_reason() {
        let cases = [
            (json!({"kind": "single", "labels": []}), "needs at least one label"),
            (json!({"kind": "multi", "labels": ["a", "a"]}), "listed twice"),
            (json!({"kind": "rating", "min": 5, "max": 1}), "min < max"),
            (json!({"kind": "rating"}), "needs min and max"),
            (json!({"kind": "pairwise", "fields": ["a"]}), "exactly two"),
            (json!({"kind": "text", "labels": ["x"]}), "has no labels"),
            (json!({"kind": "colour"}), "unknown variant"),
        ];
        for (schema, reason) in cases {
            let err = LabelSchema::parse(&schema).unwrap_err().to_string();
            assert!(err.contains(reason), "{schema}: {err}");
        }
    }

    #[test]
    fn answers_are_checked_and_made_canonical() {
        let s = single();
        assert_eq!(s.check_answer(&json!("HS"), None), Ok(json!("HS")));
        assert!(s.check_answer(&json!("Spam"), None).unwrap_err().contains("not in the schema"));
        let multi = LabelSchema { kind: LabelKind::Multi, ..single() };
        assert_eq!(multi.check_answer(&json!(["Neither", "HS", "HS"]), None), Ok(json!(["HS", "Neither"])));
        let spans = LabelSchema { kind: LabelKind::Spans, ..single() };
        let ok = json!([{"start": 6, "end": 9, "label": "Abusive"}, {"start": 0, "end": 4, "label": "HS"}]);
        assert_eq!(
            spans.check_answer(&ok, Some("abcdefghij")),
            Ok(json!([{"start": 0, "end": 4, "label": "HS"}, {"start": 6, "end": 9, "label": "Abusive"}]))
        );
        let past = json!([{"start": 0, "end": 40, "label": "HS"}]);
        assert!(spans.check_answer(&past, Some("short")).unwrap_err().contains("past the text"));
        let overlap = json!([{"start": 0, "end": 4, "label": "HS"}, {"start": 3, "end": 5, "label": "HS"}]);
        assert!(spans.check_answer(&overlap, Some("abcdefghij")).unwrap_err().contains("overlap"));
        let rating = LabelSchema::parse(&json!({"kind": "rating", "min": 1, "max": 5})).unwrap();
        assert_eq!(rating.check_answer(&json!(4), None), Ok(json!(4)));
        assert!(rating.check_answer(&json!(6), None).unwrap_err().contains("outside the scale"));
        assert!(rating.check_answer(&json!(2.5), None).unwrap_err().contains("whole number"));
        let ranking = LabelSchema::parse(&json!({"kind": "ranking", "fields": ["x", "y", "z"]})).unwrap();
        assert!(ranking.check_answer(&json!(["x", "y"]), None).unwrap_err().contains("every field"));
        assert!(ranking.check_answer(&json!(["x", "x", "y"]), None).unwrap_err().contains("twice"));
        let pair = LabelSchema::parse(&json!({"kind": "pairwise", "fields": ["r1", "r2"]})).unwrap();
        assert!(pair.check_answer(&json!("tie"), None).is_err());
        assert_eq!(pair.code(&json!("b")), Some(1.0));
    }

    #[test]
    fn rename_merge_and_split_carry_answers_along() {
        let s = single();
        let rename = SchemaChange::Rename { from: "HS".into(), to: "Hate".into() };
        assert_eq!(rename.apply(&s).unwrap().labels, ["Hate", "Abusive", "Neither"]);
        assert_eq!(rename.migrate(&json!("HS")), AnswerChange::Changed(json!("Hate")));
        assert_eq!(rename.migrate(&json!("Neither")), AnswerChange::Unchanged);

        let merge = SchemaChange::Merge { from: vec!["HS".into(), "Abusive".into()], into: "Toxic".into() };
        assert_eq!(merge.apply(&s).unwrap().labels, ["Toxic", "Neither"]);
        assert_eq!(merge.migrate(&json!(["HS", "Abusive"])), AnswerChange::Changed(json!(["Toxic"])));
        let span = json!([{"start": 0, "end": 2, "label": "Abusive"}]);
        assert_eq!(
            merge.migrate(&span),
            AnswerChange::Changed(json!([{"start": 0, "end": 2, "label": "Toxic"}]))
        );

        let split =
            SchemaChange::Split { from: "HS".into(), into: vec!["HS-religion".into(), "HS-race".into()] };
        assert_eq!(split.apply(&s).unwrap().labels, ["HS-religion", "HS-race", "Abusive", "Neither"]);
        assert_eq!(split.migrate(&json!("HS")), AnswerChange::Reopen);
        assert_eq!(split.migrate(&json!("Abusive")), AnswerChange::Unchanged);

        let missing = SchemaChange::Rename { from: "Spam".into(), to: "X".into() };
        assert!(missing.apply(&s).unwrap_err().to_string().contains("there is no label \"Spam\""));
        let clash = SchemaChange::Rename { from: "HS".into(), to: "Abusive".into() };
        assert!(clash.apply(&s).unwrap_err().to_string().contains("listed twice"));
    }
}
