//! Labels in and out: streamed exports as Juru JSONL (item, answers, resolved label), CSV (one
//! row per answer), CoNLL (BIO tags of spans), Label Studio JSON and Hugging Face-style JSONL
//! (item fields plus `label`); imports of the same formats, all-or-nothing, every bad line
//! reported; and labels turned into a new dataset version in one step.

use std::collections::HashMap;
use std::sync::Arc;

use juru_core::dataset::RowError;
use juru_core::labels::{LabelKind, LabelSchema};
use juru_core::{Action, Area, roles::Desk};
use juru_store::audit::NewAudit;
use juru_store::labeling::{AnswerWrite, LabelAnswer, LabelProject};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{parse_json, text_of};
use crate::datasets::{ImportOutcome, ImportRequest, Progress};
use crate::{Actor, DeskError, Desks, Result};

const LABELING: Area = Area::Desk(Desk::Labeling);
/// Items per exported page.
pub const EXPORT_PAGE: i64 = 5000;

/// The formats labels come and go in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LabelFormat {
    /// One line per item: `{"index", "data", "answers", "resolved"}`.
    Jsonl,
    /// One row per answer: index, text, annotator, value (JSON), schema_version, seconds.
    Csv,
    /// Span projects: one `token TAG` line per token (BIO), `# index = N` before each item.
    Conll,
    /// A Label Studio task list (`data`, `annotations` with `result`).
    LabelStudio,
    /// Hugging Face datasets-style JSONL: the item's fields plus `label`.
    Hf,
}

impl LabelFormat {
    pub fn parse(s: &str) -> Result<LabelFormat> {
        serde_json::from_value(json!(s)).map_err(|_| {
            DeskError::invalid(format!("unknown label format {s:?} (jsonl, csv, conll, label_studio, hf)"))
        })
    }

    pub fn content_type(self) -> &'static str {
        match self {
            LabelFormat::Csv => "text/csv; charset=utf-8",
            LabelFormat::LabelStudio => "application/json",
            LabelFormat::Conll => "text/plain; charset=utf-8",
            _ => "application/x-ndjson",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            LabelFormat::Csv => "csv",
            LabelFormat::LabelStudio => "json",
            LabelFormat::Conll => "conll",
            _ => "jsonl",
        }
    }
}

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct LabelImportOutcome {
    pub answers: usize,
    pub items: usize,
}

/// Turning labels into a dataset.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelsToDataset {
    /// The dataset to write; a new version when it exists.
    pub name: String,
    /// The field the label goes in (default `label`).
    pub label_field: Option<String>,
}

/// One item's labels as an export sees them.
struct ItemLabels {
    idx: i64,
    data: Value,
    answers: Vec<LabelAnswer>,
    resolved: Option<Value>,
}

fn whitespace_tokens(text: &str) -> Vec<(usize, usize, &str)> {
    // Character offsets, since spans count characters.
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None;
    let mut chars = 0;
    for (byte, ch) in text.char_indices() {
        if ch.is_whitespace() {
            if let Some((cs, bs)) = start.take() {
                out.push((cs, chars, &text[bs..byte]));
            }
        } else if start.is_none() {
            start = Some((chars, byte));
        }
        chars += 1;
    }
    if let Some((cs, bs)) = start {
        out.push((cs, chars, &text[bs..]));
    }
    out
}

/// The label an export gives an item: the resolved one, else the answers' most common value
/// (ties: the first given), else none.
fn label_of(item: &ItemLabels) -> Option<Value> {
    if let Some(r) = &item.resolved {
        return Some(r.clone());
    }
    let values: Vec<Value> = item.answers.iter().filter_map(|a| a.value.as_deref().map(parse_json)).collect();
    let mut best: Option<(&Value, usize)> = None;
    for v in &values {
        let n = values.iter().filter(|w| *w == v).count();
        if best.is_none_or(|(_, m)| n > m) {
            best = Some((v, n));
        }
    }
    best.map(|(v, _)| v.clone())
}

fn ls_result(schema: &LabelSchema, text_field: &str, value: &Value, text: &str) -> Vec<Value> {
    let r =
        |kind: &str, v: Value| json!({"from_name": "label", "to_name": text_field, "type": kind, "value": v});
    match schema.kind {
        LabelKind::Single | LabelKind::Pairwise => vec![r("choices", json!({"choices": [value]}))],
        LabelKind::Multi | LabelKind::Ranking => vec![r("choices", json!({"choices": value}))],
        LabelKind::Rating => vec![r("rating", json!({"rating": value}))],
        LabelKind::Text => vec![r("textarea", json!({"text": [value]}))],
        LabelKind::Spans => value
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|s| {
                let (a, b) =
                    (s["start"].as_u64().unwrap_or(0) as usize, s["end"].as_u64().unwrap_or(0) as usize);
                let piece: String = text.chars().skip(a).take(b.saturating_sub(a)).collect();
                r("labels", json!({"start": a, "end": b, "text": piece, "labels": [s["label"]]}))
            })
            .collect(),
    }
}

/// Reads a Label Studio annotation's `result` back into a Juru answer value.
fn ls_value(schema: &LabelSchema, result: &[Value]) -> std::result::Result<Value, String> {
    let first = || result.first().ok_or_else(|| "the annotation has an empty result".to_string());
    match schema.kind {
        LabelKind::Spans => Ok(Value::Array(
            result
                .iter()
                .map(|r| {
                    let v = &r["value"];
                    let label = v["labels"].get(0).cloned().ok_or("a labels result without labels")?;
                    Ok(json!({"start": v["start"], "end": v["end"], "label": label}))
                })
                .collect::<std::result::Result<Vec<_>, &str>>()?,
        )),
        LabelKind::Single | LabelKind::Pairwise => first()?["value"]["choices"]
            .get(0)
            .cloned()
            .ok_or_else(|| "a choices result without choices".into()),
        LabelKind::Multi | LabelKind::Ranking => Ok(first()?["value"]["choices"].clone()),
        LabelKind::Rating => Ok(first()?["value"]["rating"].clone()),
        LabelKind::Text => {
            first()?["value"]["text"].get(0).cloned().ok_or_else(|| "a textarea result without text".into())
        }
    }
}

impl Desks {
    async fn item_labels(&self, p: &LabelProject, from: i64, limit: i64) -> Result<Vec<ItemLabels>> {
        let items = self.store.items(&p.dataset_version_id, from, limit).await?;
        let Some(last) = items.last().map(|i| i.idx) else { return Ok(Vec::new()) };
        let mut answers: HashMap<i64, Vec<LabelAnswer>> = HashMap::new();
        for a in self.store.label_answers_between(&p.id, from, last + 1).await? {
            answers.entry(a.idx).or_default().push(a);
        }
        let resolved: HashMap<i64, Value> = self
            .store
            .label_resolutions(&p.id, from, limit)
            .await?
            .into_iter()
            .filter(|r| r.idx <= last)
            .map(|r| (r.idx, parse_json(&r.value)))
            .collect();
        Ok(items
            .into_iter()
            .map(|i| ItemLabels {
                idx: i.idx,
                data: parse_json(&i.data),
                answers: answers.remove(&i.idx).unwrap_or_default(),
                resolved: resolved.get(&i.idx).cloned(),
            })
            .collect())
    }

    /// One page of an export from item `from`: the bytes and where the next page starts.
    pub async fn export_labels_page(
        &self,
        actor: &Actor,
        project: &str,
        format: LabelFormat,
        from: i64,
    ) -> Result<(Vec<u8>, Option<i64>)> {
        actor.require(LABELING, Action::Read)?;
        let p = self.store.label_project(&actor.workspace_id, project).await?;
        let schema = self.current_schema(&p).await?;
        if format == LabelFormat::Conll && schema.kind != LabelKind::Spans {
            return Err(DeskError::invalid(format!(
                "CoNLL carries span labels; project {} is a {} project",
                p.name,
                schema.kind_name()
            )));
        }
        let items = self.item_labels(&p, from, EXPORT_PAGE + 1).await?;
        let next = (items.len() as i64 > EXPORT_PAGE).then(|| items[EXPORT_PAGE as usize].idx);
        let items = &items[..items.len().min(EXPORT_PAGE as usize)];
        let ids: Vec<String> =
            items.iter().flat_map(|i| i.answers.iter().map(|a| a.annotator.clone())).collect();
        let names = self.usernames(ids).await?;
        let mut out = Vec::with_capacity(items.len() * 200);
        let line = |v: Value, out: &mut Vec<u8>| {
            out.extend_from_slice(v.to_string().as_bytes());
            out.push(b'\n');
        };
        match format {
            LabelFormat::Jsonl => {
                for it in items {
                    let answers: Vec<Value> = it
                        .answers
                        .iter()
                        .map(|a| {
                            json!({"annotator": names[&a.annotator], "value": a.value.as_deref().map(parse_json),
                                   "schema_version": a.schema_version, "seconds": a.seconds})
                        })
                        .collect();
                    line(
                        json!({"index": it.idx, "data": it.data, "answers": answers, "resolved": it.resolved}),
                        &mut out,
                    );
                }
            }
            LabelFormat::Hf => {
                for it in items {
                    let mut row = it.data.as_object().cloned().unwrap_or_default();
                    row.insert("label".into(), label_of(it).unwrap_or(Value::Null));
                    line(Value::Object(row), &mut out);
                }
            }
            LabelFormat::Csv => {
                let mut w = csv::WriterBuilder::new().from_writer(&mut out);
                if from == 0 {
                    w.write_record(["index", "text", "annotator", "value", "schema_version", "seconds"])
                        .map_err(DeskError::internal)?;
                }
                for it in items {
                    let text = text_of(&it.data, &p.text_field);
                    for a in &it.answers {
                        w.write_record([
                            it.idx.to_string(),
                            text.clone(),
                            names[&a.annotator].clone(),
                            a.value.clone().unwrap_or_default(),
                            a.schema_version.to_string(),
                            a.seconds.map(|s| s.to_string()).unwrap_or_default(),
                        ])
                        .map_err(DeskError::internal)?;
                    }
                }
                w.flush().map_err(DeskError::internal)?;
            }
            LabelFormat::Conll => {
                for it in items {
                    let Some(value) = label_of(it) else { continue };
                    let text = text_of(&it.data, &p.text_field);
                    out.extend_from_slice(format!("# index = {}\n", it.idx).as_bytes());
                    let spans: Vec<(u64, u64, String)> = value
                        .as_array()
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|s| {
                            Some((s["start"].as_u64()?, s["end"].as_u64()?, s["label"].as_str()?.to_owned()))
                        })
                        .collect();
                    for (start, end, token) in whitespace_tokens(&text) {
                        let tag = spans
                            .iter()
                            .find(|(a, b, _)| (start as u64) < *b && (end as u64) > *a)
                            .map(
                                |(a, _, l)| {
                                    if start as u64 <= *a { format!("B-{l}") } else { format!("I-{l}") }
                                },
                            )
                            .unwrap_or_else(|| "O".into());
                        out.extend_from_slice(format!("{token}\t{tag}\n").as_bytes());
                    }
                    out.push(b'\n');
                }
            }
            LabelFormat::LabelStudio => {
                if from == 0 {
                    out.push(b'[');
                }
                for (k, it) in items.iter().enumerate() {
                    if from > 0 || k > 0 {
                        out.extend_from_slice(b",\n");
                    }
                    let text = text_of(&it.data, &p.text_field);
                    let annotations: Vec<Value> = it
                        .answers
                        .iter()
                        .map(|a| {
                            let v = a.value.as_deref().map(parse_json).unwrap_or(Value::Null);
                            json!({"completed_by": {"username": names[&a.annotator]},
                                   "result": ls_result(&schema, &p.text_field, &v, &text),
                                   "lead_time": a.seconds})
                        })
                        .collect();
                    let task = json!({"id": it.idx + 1, "data": it.data, "meta": {"juru_index": it.idx},
                                      "annotations": annotations});
                    out.extend_from_slice(task.to_string().as_bytes());
                }
                if next.is_none() {
                    out.extend_from_slice(b"]\n");
                }
            }
        }
        Ok((out, next))
    }

    /// Imports answers into a project. Every line is checked first (known annotator, known
    /// item, an answer that fits the schema, room under the overlap); a file with any problem
    /// imports nothing, and each problem is reported with its line.
    pub async fn import_label_answers(
        &self,
        actor: &Actor,
        project: &str,
        format: LabelFormat,
        body: &[u8],
    ) -> Result<LabelImportOutcome> {
        actor.require(LABELING, Action::Write)?;
        let p = self.store.label_project(&actor.workspace_id, project).await?;
        if p.status != "open" {
            return Err(DeskError::Refused(format!("project {} is closed", p.name)));
        }
        let schema = self.current_schema(&p).await?;
        let text = std::str::from_utf8(body)
            .map_err(|e| DeskError::invalid(format!("the file is not UTF-8: {e}")))?;
        let raw = self.parse_label_file(&p, &schema, format, text, actor).await?;
        let mut errors: Vec<RowError> = Vec::new();
        let mut users: HashMap<String, String> = HashMap::new();
        let mut rows = Vec::with_capacity(raw.len());
        let mut texts: HashMap<i64, String> = HashMap::new();
        for r in raw {
            let fail = |msg: String| RowError { line: r.line, reason: msg };
            let user = match users.get(&r.annotator) {
                Some(id) => id.clone(),
                None => match self.store.user_by_name(&r.annotator).await {
                    Ok(u) => {
                        users.insert(r.annotator.clone(), u.id.clone());
                        u.id
                    }
                    Err(_) => {
                        errors.push(fail(format!("annotator {:?} is not a user", r.annotator)));
                        continue;
                    }
                },
            };
            if !(0..p.item_count).contains(&r.idx) {
                errors.push(fail(format!("item {} is not in the project ({} items)", r.idx, p.item_count)));
                continue;
            }
            // Only spans are checked against the text.
            if schema.kind == LabelKind::Spans
                && let std::collections::hash_map::Entry::Vacant(slot) = texts.entry(r.idx)
            {
                slot.insert(self.item_text(&p, r.idx).await?);
            }
            match schema.check_answer(&r.value, texts.get(&r.idx).map(String::as_str)) {
                Ok(v) => rows.push((r.line, r.idx, user, v, r.seconds)),
                Err(e) => errors.push(fail(format!("item {}: {e}", r.idx))),
            }
        }
        if errors.is_empty() && rows.is_empty() {
            return Err(DeskError::invalid("the file holds no answers"));
        }
        if !errors.is_empty() {
            return Err(bad_lines(errors));
        }
        let mut tx = self.store.write().await?;
        for (line, idx, user, value, seconds) in &rows {
            let w = AnswerWrite {
                project: &p,
                idx: *idx,
                annotator: user,
                status: "submitted",
                value: Some(value.to_string()),
                seconds: *seconds,
            };
            if let Err(e) = tx.write_label_answer(&w).await {
                errors.push(RowError { line: *line, reason: DeskError::from(e).to_string() });
            }
        }
        if !errors.is_empty() {
            tx.rollback().await?;
            return Err(bad_lines(errors));
        }
        let items: std::collections::HashSet<i64> = rows.iter().map(|r| r.1).collect();
        tx.audit(NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "labeling.import",
            object_kind: "label_project",
            object_id: &p.id,
            summary: json!({"project": p.name, "format": format, "answers": rows.len(), "items": items.len()}),
        })
        .await?;
        tx.commit().await?;
        Ok(LabelImportOutcome { answers: rows.len(), items: items.len() })
    }

    async fn parse_label_file(
        &self,
        p: &LabelProject,
        schema: &LabelSchema,
        format: LabelFormat,
        text: &str,
        actor: &Actor,
    ) -> Result<Vec<RawAnswer>> {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        match format {
            LabelFormat::Jsonl | LabelFormat::Hf => {
                for (n, l) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                    let line = n as u64 + 1;
                    let v: Value = match serde_json::from_str(l) {
                        Ok(v) => v,
                        Err(e) => {
                            errors.push(RowError { line, reason: format!("not JSON: {e}") });
                            continue;
                        }
                    };
                    let Some(idx) = v.get("index").and_then(Value::as_i64) else {
                        errors.push(RowError { line, reason: "needs \"index\", the item's number".into() });
                        continue;
                    };
                    if let Some(answers) = v.get("answers").and_then(Value::as_array) {
                        for a in answers {
                            match (a.get("annotator").and_then(Value::as_str), a.get("value")) {
                                (Some(who), Some(value)) if !value.is_null() => out.push(RawAnswer {
                                    line,
                                    idx,
                                    annotator: who.to_owned(),
                                    value: value.clone(),
                                    seconds: a.get("seconds").and_then(Value::as_f64),
                                }),
                                _ => errors.push(RowError {
                                    line,
                                    reason: "each answer needs annotator and value".into(),
                                }),
                            }
                        }
                    } else {
                        let key = if format == LabelFormat::Hf { "label" } else { "value" };
                        match v.get(key) {
                            Some(value) if !value.is_null() => out.push(RawAnswer {
                                line,
                                idx,
                                annotator: v
                                    .get("annotator")
                                    .and_then(Value::as_str)
                                    .unwrap_or(&actor.username)
                                    .to_owned(),
                                value: value.clone(),
                                seconds: v.get("seconds").and_then(Value::as_f64),
                            }),
                            _ => errors
                                .push(RowError { line, reason: format!("needs \"{key}\" or \"answers\"") }),
                        }
                    }
                }
            }
            LabelFormat::Csv => {
                let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
                let headers =
                    r.headers().map_err(|e| DeskError::invalid(format!("CSV header: {e}")))?.clone();
                let col = |name: &str| headers.iter().position(|h| h == name);
                let (Some(ci), Some(cv)) = (col("index"), col("value")) else {
                    return Err(DeskError::invalid(
                        "the CSV needs the columns index and value (and annotator)",
                    ));
                };
                let (ca, cs) = (col("annotator"), col("seconds"));
                for (n, rec) in r.records().enumerate() {
                    let line = n as u64 + 2;
                    let rec = match rec {
                        Ok(r) => r,
                        Err(e) => {
                            errors.push(RowError { line, reason: e.to_string() });
                            continue;
                        }
                    };
                    let Ok(idx) = rec.get(ci).unwrap_or_default().trim().parse::<i64>() else {
                        errors.push(RowError { line, reason: "index is not a whole number".into() });
                        continue;
                    };
                    let raw = rec.get(cv).unwrap_or_default();
                    let value = serde_json::from_str(raw).unwrap_or_else(|_| json!(raw));
                    out.push(RawAnswer {
                        line,
                        idx,
                        annotator: ca
                            .and_then(|c| rec.get(c))
                            .filter(|s| !s.is_empty())
                            .unwrap_or(&actor.username)
                            .to_owned(),
                        value,
                        seconds: cs.and_then(|c| rec.get(c)).and_then(|s| s.parse().ok()),
                    });
                }
            }
            LabelFormat::Conll => self.parse_conll(p, schema, text, actor, &mut out, &mut errors).await?,
            LabelFormat::LabelStudio => {
                self.parse_label_studio(p, schema, text, &mut out, &mut errors).await?
            }
        }
        if !errors.is_empty() {
            return Err(bad_lines(errors));
        }
        Ok(out)
    }

    async fn parse_conll(
        &self,
        p: &LabelProject,
        schema: &LabelSchema,
        text: &str,
        actor: &Actor,
        out: &mut Vec<RawAnswer>,
        errors: &mut Vec<RowError>,
    ) -> Result<()> {
        if schema.kind != LabelKind::Spans {
            return Err(DeskError::invalid("CoNLL files carry spans; this project is not a span project"));
        }
        // (first line, item, tokens with tags)
        let mut docs: Vec<ConllDoc> = vec![(1, None, Vec::new())];
        for (n, l) in text.lines().enumerate() {
            let line = n as u64 + 1;
            let l = l.trim_end();
            if l.is_empty() {
                if !docs.last().is_some_and(|d| d.2.is_empty()) {
                    docs.push((line + 1, None, Vec::new()));
                }
                continue;
            }
            let doc = docs.last_mut().expect("one document is always open");
            if let Some(rest) = l.strip_prefix("# index = ") {
                match rest.trim().parse() {
                    Ok(i) => doc.1 = Some(i),
                    Err(_) => {
                        errors.push(RowError { line, reason: format!("{rest:?} is not an item number") })
                    }
                }
                continue;
            }
            if l.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = l.split_whitespace().collect();
            if cols.len() < 2 {
                errors.push(RowError { line, reason: "expected a token and a tag".into() });
                continue;
            }
            doc.2.push((line, cols[0].to_owned(), cols[cols.len() - 1].to_owned()));
        }
        let docs: Vec<_> = docs.into_iter().filter(|d| !d.2.is_empty()).collect();
        for (k, (line, idx, tokens)) in docs.into_iter().enumerate() {
            let idx = idx.unwrap_or(k as i64);
            if !(0..p.item_count).contains(&idx) {
                errors.push(RowError { line, reason: format!("item {idx} is not in the project") });
                continue;
            }
            let item_text = self.item_text(p, idx).await?;
            let chars: Vec<char> = item_text.chars().collect();
            let mut at = 0usize;
            let mut spans: Vec<Value> = Vec::new();
            let mut open: Option<(usize, usize, String)> = None;
            for (tline, token, tag) in tokens {
                let tc: Vec<char> = token.chars().collect();
                let Some(found) =
                    (at..=chars.len().saturating_sub(tc.len())).find(|&s| chars[s..s + tc.len()] == tc[..])
                else {
                    errors.push(RowError {
                        line: tline,
                        reason: format!("token {token:?} is not in item {idx}'s text"),
                    });
                    break;
                };
                let (start, end) = (found, found + tc.len());
                at = end;
                let (prefix, label) = tag.split_once('-').unwrap_or((tag.as_str(), ""));
                match (prefix, &mut open) {
                    ("I", Some((_, e, l))) if l == label => *e = end,
                    ("B" | "I", _) => {
                        if let Some((s, e, l)) = open.take() {
                            spans.push(json!({"start": s, "end": e, "label": l}));
                        }
                        open = Some((start, end, label.to_owned()));
                    }
                    _ => {
                        if let Some((s, e, l)) = open.take() {
                            spans.push(json!({"start": s, "end": e, "label": l}));
                        }
                    }
                }
            }
            if let Some((s, e, l)) = open.take() {
                spans.push(json!({"start": s, "end": e, "label": l}));
            }
            out.push(RawAnswer {
                line,
                idx,
                annotator: actor.username.clone(),
                value: Value::Array(spans),
                seconds: None,
            });
        }
        Ok(())
    }

    async fn parse_label_studio(
        &self,
        p: &LabelProject,
        schema: &LabelSchema,
        text: &str,
        out: &mut Vec<RawAnswer>,
        errors: &mut Vec<RowError>,
    ) -> Result<()> {
        let tasks: Vec<Value> = serde_json::from_str(text)
            .map_err(|e| DeskError::invalid(format!("not a Label Studio task list (a JSON array): {e}")))?;
        // Tasks from elsewhere are matched to items by their text, in order.
        let mut by_text: HashMap<String, Vec<i64>> = HashMap::new();
        if tasks.iter().any(|t| t["meta"]["juru_index"].as_i64().is_none()) {
            let mut from = 0;
            loop {
                let items = self.store.items(&p.dataset_version_id, from, 5000).await?;
                let Some(last) = items.last().map(|i| i.idx) else { break };
                for i in items {
                    by_text.entry(text_of(&parse_json(&i.data), &p.text_field)).or_default().push(i.idx);
                }
                from = last + 1;
            }
            by_text.values_mut().for_each(|v| v.reverse());
        }
        for (n, task) in tasks.iter().enumerate() {
            // A task list has no lines of its own: number tasks from 1.
            let line = n as u64 + 1;
            let idx = match task["meta"]["juru_index"].as_i64() {
                Some(i) => i,
                None => match by_text.get_mut(&text_of(&task["data"], &p.text_field)).and_then(Vec::pop) {
                    Some(i) => i,
                    None => {
                        errors.push(RowError {
                            line,
                            reason: format!("task {line}: no item has its {} text", p.text_field),
                        });
                        continue;
                    }
                },
            };
            for a in task["annotations"].as_array().map(Vec::as_slice).unwrap_or_default() {
                let local_part = |e: &str| e.split('@').next().map(str::trim).map(str::to_owned);
                let who = match &a["completed_by"] {
                    Value::String(s) => Some(s.clone()),
                    Value::Object(o) => o
                        .get("username")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .or_else(|| o.get("email").and_then(Value::as_str).and_then(local_part)),
                    // Label Studio's own export names the user by id, with `created_username`
                    // ("ani@example.com, 3") beside it.
                    Value::Number(_) => a["created_username"].as_str().and_then(local_part),
                    _ => None,
                };
                let Some(who) = who else {
                    let reason = match &a["completed_by"] {
                        Value::Number(id) => format!(
                            "task {line}: completed_by is Label Studio user id {id} and the annotation has no \
                             created_username to say who that is"
                        ),
                        _ => format!("task {line}: an annotation without completed_by username"),
                    };
                    errors.push(RowError { line, reason });
                    continue;
                };
                let result = a["result"].as_array().map(Vec::as_slice).unwrap_or_default();
                match ls_value(schema, result) {
                    Ok(value) => out.push(RawAnswer {
                        line,
                        idx,
                        annotator: who,
                        value,
                        seconds: a["lead_time"].as_f64(),
                    }),
                    Err(e) => errors.push(RowError { line, reason: format!("task {line}: {e}") }),
                }
            }
        }
        Ok(())
    }

    /// Writes the project's labels (resolved, else the most common answer) into a dataset: the
    /// items' fields plus the label field, as a new dataset or a new version of an existing one.
    pub async fn labels_to_dataset(
        &self,
        actor: &Actor,
        project: &str,
        req: &LabelsToDataset,
    ) -> Result<ImportOutcome> {
        actor.require(LABELING, Action::Read)?;
        actor.require(Area::Datasets, Action::Write)?;
        let p = self.store.label_project(&actor.workspace_id, project).await?;
        let field = req.label_field.clone().unwrap_or_else(|| "label".into());
        let dir = tempfile::tempdir_in(self.spool_dir_created()?).map_err(DeskError::internal)?;
        let path = dir.path().join("labels.jsonl");
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).map_err(DeskError::internal)?);
        let mut from = 0;
        let mut labelled = 0u64;
        loop {
            let items = self.item_labels(&p, from, EXPORT_PAGE).await?;
            let Some(last) = items.last().map(|i| i.idx) else { break };
            for it in &items {
                let Some(label) = label_of(it) else { continue };
                let mut row = it.data.as_object().cloned().unwrap_or_default();
                row.insert(field.clone(), label);
                std::io::Write::write_all(&mut file, format!("{}\n", Value::Object(row)).as_bytes())
                    .map_err(DeskError::internal)?;
                labelled += 1;
            }
            from = last + 1;
        }
        std::io::Write::flush(&mut file).map_err(DeskError::internal)?;
        drop(file);
        if labelled == 0 {
            return Err(DeskError::invalid(format!("project {} has no labelled items yet", p.name)));
        }
        let exists = self.store.dataset(&actor.workspace_id, &req.name).await.is_ok();
        let import = ImportRequest {
            name: req.name.clone(),
            description: format!("labels from project {}", p.name),
            format: Some(juru_core::dataset::Format::Jsonl),
            new_version: exists,
            source: format!("labeling:{}@schema-{}", p.name, p.schema_version),
            message: format!(
                "{labelled} items labelled in project {} (schema version {})",
                p.name, p.schema_version
            ),
        };
        self.import_file(actor, &path, &import, Arc::new(Progress::default())).await
    }

    fn spool_dir_created(&self) -> Result<std::path::PathBuf> {
        let dir = self.spool_dir();
        std::fs::create_dir_all(&dir).map_err(DeskError::internal)?;
        Ok(dir)
    }
}

/// A CoNLL document: its first line, its `# index`, and (line, token, tag) triples.
type ConllDoc = (u64, Option<i64>, Vec<(u64, String, String)>);

/// One answer read from a file, before checking.
struct RawAnswer {
    line: u64,
    idx: i64,
    annotator: String,
    value: Value,
    seconds: Option<f64>,
}

fn bad_lines(mut errors: Vec<RowError>) -> DeskError {
    errors.sort_by_key(|e| e.line);
    let summary = errors
        .iter()
        .take(3)
        .map(|e| format!("line {}: {}", e.line, e.reason))
        .collect::<Vec<_>>()
        .join("; ");
    DeskError::BadRows { count: errors.len() as u64, summary, errors }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_character_offsets() {
        let t = whitespace_tokens("  Joko  pergi ke Bandung ");
        assert_eq!(t, vec![(2, 6, "Joko"), (8, 13, "pergi"), (14, 16, "ke"), (17, 24, "Bandung")]);
        assert_eq!(whitespace_tokens("é à"), vec![(0, 1, "é"), (2, 3, "à")]);
    }
}
