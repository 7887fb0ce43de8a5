//! A project's agreement figures, from its submitted answers: percent agreement, Krippendorff's
//! alpha with a bootstrap interval, Fleiss' and pairwise Cohen's kappa, per label, per annotator
//! (against the others' consensus and against honeypot gold), span F1 for span projects, and
//! time per item. The statistics themselves are `juru-stats`'; this module lays out the data.

use std::collections::{BTreeMap, HashMap};

use juru_core::labels::{LabelKind, LabelSchema};
use juru_core::{Action, Area, roles::Desk};
use juru_stats::agreement::{self as stats, KappaWeights, Level, Span, SpanMatch};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::parse_json;
use crate::{Actor, Desks, Result};

/// Resamples of the bootstrap interval.
const RESAMPLES: usize = 500;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Estimate {
    pub value: f64,
    /// 95% percentile bootstrap interval over items.
    pub low: Option<f64>,
    pub high: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PairKappa {
    pub a: String,
    pub b: String,
    pub items: usize,
    pub kappa: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LabelFigure {
    pub label: String,
    /// How many answers carry it.
    pub count: usize,
    /// Krippendorff's alpha of this label against all others.
    pub alpha: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnnotatorFigure {
    pub annotator: String,
    pub submitted: usize,
    pub median_seconds: Option<f64>,
    /// Items where the others' majority is clear and this annotator answered.
    pub with_consensus: usize,
    pub consensus_accuracy: Option<f64>,
    pub consensus_kappa: Option<f64>,
    /// Honeypots this annotator answered, and the share right.
    pub honeypots: usize,
    pub honeypot_accuracy: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SpanFigures {
    /// Mean over annotator pairs of span F1 with exact boundaries.
    pub exact_f1: f64,
    /// … and counting overlapping characters.
    pub overlap_f1: f64,
}

/// Agreement of a project.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgreementReport {
    pub project: String,
    pub kind: String,
    pub answers: usize,
    /// Items with two or more answers, which agreement is computed over.
    pub items_multiply_answered: usize,
    pub percent_agreement: Option<f64>,
    /// Nominal, or ordinal for ratings.
    pub alpha: Option<Estimate>,
    pub alpha_level: String,
    /// Ratings: alpha at the interval level as well.
    pub alpha_interval: Option<f64>,
    /// Over items with exactly `overlap` answers.
    pub fleiss_kappa: Option<f64>,
    pub cohen_kappa: Vec<PairKappa>,
    pub labels: Vec<LabelFigure>,
    pub annotators: Vec<AnnotatorFigure>,
    pub spans: Option<SpanFigures>,
    /// Why a figure is missing.
    pub notes: Vec<String>,
}

/// Each answer as a category: the schema's own code where it has one (labels, ratings,
/// preferences), otherwise the distinct canonical value (multi-label sets, rankings, texts).
struct Coded {
    /// coders × units.
    matrix: Vec<Vec<Option<f64>>>,
    /// The category names by code, for answers without a numeric code.
    classes: usize,
}

fn code_answers(schema: &LabelSchema, rows: &[(usize, usize, Value)], coders: usize, units: usize) -> Coded {
    let mut matrix = vec![vec![None; units]; coders];
    let mut seen: HashMap<String, usize> = HashMap::new();
    let choices = schema.choices().len();
    for (coder, unit, value) in rows {
        let code = match schema.code(value) {
            Some(c) => c,
            None => {
                let next = seen.len();
                *seen.entry(value.to_string()).or_insert(next) as f64
            }
        };
        matrix[*coder][*unit] = Some(code);
    }
    let classes = if schema.kind == LabelKind::Rating { choices } else { choices.max(seen.len()) };
    Coded { matrix, classes }
}

pub(crate) fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 })
}

fn spans_of(value: &Value) -> Vec<Span> {
    value
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|s| {
                    Some(Span {
                        start: s.get("start")?.as_u64()? as usize,
                        end: s.get("end")?.as_u64()? as usize,
                        label: s.get("label")?.as_str()?.to_owned(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Desks {
    pub async fn label_agreement(&self, actor: &Actor, project: &str) -> Result<AgreementReport> {
        actor.require(Area::Desk(Desk::Labeling), Action::Read)?;
        let p = self.store.label_project(&actor.workspace_id, project).await?;
        let schema = self.current_schema(&p).await?;
        let answers = self.store.label_answers_all(&p.id, "submitted").await?;
        let gold: HashMap<i64, Value> =
            self.store.label_gold(&p.id).await?.into_iter().map(|(idx, g)| (idx, parse_json(&g))).collect();
        let coder_ids: Vec<String> = {
            let mut ids: Vec<String> = answers.iter().map(|a| a.annotator.clone()).collect();
            ids.sort();
            ids.dedup();
            ids
        };
        let names = self.usernames(coder_ids.clone()).await?;
        let coder_of: HashMap<&str, usize> =
            coder_ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
        let mut unit_of: BTreeMap<i64, usize> = BTreeMap::new();
        for a in &answers {
            let next = unit_of.len();
            unit_of.entry(a.idx).or_insert(next);
        }
        let rows: Vec<(usize, usize, Value)> = answers
            .iter()
            .filter_map(|a| {
                let v = parse_json(a.value.as_deref()?);
                Some((coder_of[a.annotator.as_str()], unit_of[&a.idx], v))
            })
            .collect();
        let (coders, units) = (coder_ids.len(), unit_of.len());
        let mut per_unit = vec![0usize; units];
        rows.iter().for_each(|(_, u, _)| per_unit[*u] += 1);
        let mut report = AgreementReport {
            project: p.name.clone(),
            kind: schema.kind_name().into(),
            answers: rows.len(),
            items_multiply_answered: per_unit.iter().filter(|&&n| n >= 2).count(),
            percent_agreement: None,
            alpha: None,
            alpha_level: if schema.kind == LabelKind::Rating { "ordinal" } else { "nominal" }.into(),
            alpha_interval: None,
            fleiss_kappa: None,
            cohen_kappa: Vec::new(),
            labels: Vec::new(),
            annotators: Vec::new(),
            spans: None,
            notes: Vec::new(),
        };
        if report.items_multiply_answered == 0 {
            report.notes.push("no item has two answers yet: agreement needs an overlap of 2 or more".into());
        }
        let coded = code_answers(&schema, &rows, coders, units);
        let level = if schema.kind == LabelKind::Rating { Level::Ordinal } else { Level::Nominal };
        if report.items_multiply_answered > 0 {
            report.percent_agreement = stats::percent_agreement(&coded.matrix).ok();
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
            match stats::krippendorff_alpha_with(&coded.matrix, level, threads) {
                Ok(value) if value.is_finite() => {
                    let ci = stats::bootstrap_units(
                        &coded.matrix,
                        |m| stats::krippendorff_alpha(m, level),
                        RESAMPLES,
                        0.95,
                        7,
                    )
                    .ok();
                    report.alpha = Some(Estimate {
                        value,
                        low: ci.as_ref().map(|c| c.low),
                        high: ci.as_ref().map(|c| c.high),
                    });
                }
                Ok(_) => report.notes.push("alpha is undefined: every answer is the same".into()),
                Err(e) => report.notes.push(format!("alpha: {e}")),
            }
            if schema.kind == LabelKind::Rating {
                report.alpha_interval =
                    stats::krippendorff_alpha(&coded.matrix, Level::Interval).ok().filter(|v| v.is_finite());
            }
            self.kappas(&mut report, &coded, &p, &schema, &names, &coder_ids);
        }
        report.labels = label_figures(&schema, &rows, coders, units);
        report.annotators = annotator_figures(&schema, &answers, &coded, &gold, &coder_ids, &names);
        if schema.kind == LabelKind::Spans {
            report.spans = span_figures(&rows, coders, units);
        }
        Ok(report)
    }

    fn kappas(
        &self,
        report: &mut AgreementReport,
        coded: &Coded,
        p: &juru_store::labeling::LabelProject,
        schema: &LabelSchema,
        names: &HashMap<String, String>,
        coder_ids: &[String],
    ) {
        let classes = coded.classes;
        let category = |v: f64| -> usize {
            if schema.kind == LabelKind::Rating {
                (v - schema.min.unwrap_or(1) as f64) as usize
            } else {
                v as usize
            }
        };
        if p.overlap >= 2 {
            let units = coded.matrix.first().map_or(0, Vec::len);
            let table: Vec<Vec<u64>> = (0..units)
                .filter_map(|u| {
                    let votes: Vec<usize> = coded.matrix.iter().filter_map(|c| c[u]).map(category).collect();
                    (votes.len() as i64 == p.overlap).then(|| {
                        let mut row = vec![0u64; classes];
                        votes.iter().for_each(|&k| row[k.min(classes - 1)] += 1);
                        row
                    })
                })
                .collect();
            if table.is_empty() {
                report.notes.push(format!("Fleiss' kappa needs items with exactly {} answers", p.overlap));
            } else {
                report.fleiss_kappa = stats::fleiss_kappa(&table).ok().filter(|v| v.is_finite());
            }
        }
        let weights =
            if schema.kind == LabelKind::Rating { KappaWeights::Quadratic } else { KappaWeights::None };
        for i in 0..coded.matrix.len() {
            for j in i + 1..coded.matrix.len() {
                let (a, b): (Vec<usize>, Vec<usize>) = coded.matrix[i]
                    .iter()
                    .zip(&coded.matrix[j])
                    .filter_map(|(x, y)| Some((category((*x)?), category((*y)?))))
                    .unzip();
                if a.is_empty() {
                    continue;
                }
                report.cohen_kappa.push(PairKappa {
                    a: names[&coder_ids[i]].clone(),
                    b: names[&coder_ids[j]].clone(),
                    items: a.len(),
                    kappa: stats::cohen_kappa(&a, &b, classes.max(1), weights).ok().filter(|v| v.is_finite()),
                });
            }
        }
    }
}

/// Per label: how often it is given, and alpha of that label against the rest.
fn label_figures(
    schema: &LabelSchema,
    rows: &[(usize, usize, Value)],
    coders: usize,
    units: usize,
) -> Vec<LabelFigure> {
    let labels = match schema.kind {
        LabelKind::Single | LabelKind::Multi | LabelKind::Spans | LabelKind::Pairwise | LabelKind::Rating => {
            schema.choices()
        }
        _ => return Vec::new(),
    };
    labels
        .iter()
        .map(|label| {
            let carries = |v: &Value| -> bool {
                match schema.kind {
                    LabelKind::Spans => spans_of(v).iter().any(|s| &s.label == label),
                    LabelKind::Multi => {
                        v.as_array().is_some_and(|l| l.iter().any(|x| x.as_str() == Some(label)))
                    }
                    LabelKind::Rating => v.as_i64().map(|n| n.to_string()).as_deref() == Some(label),
                    _ => v.as_str() == Some(label),
                }
            };
            let mut matrix = vec![vec![None; units]; coders];
            let mut count = 0;
            for (c, u, v) in rows {
                let has = carries(v);
                count += usize::from(has);
                matrix[*c][*u] = Some(f64::from(u8::from(has)));
            }
            let alpha = stats::krippendorff_alpha(&matrix, Level::Nominal).ok().filter(|v| v.is_finite());
            LabelFigure { label: label.clone(), count, alpha }
        })
        .collect()
}

fn annotator_figures(
    schema: &LabelSchema,
    answers: &[juru_store::labeling::LabelAnswer],
    coded: &Coded,
    gold: &HashMap<i64, Value>,
    coder_ids: &[String],
    names: &HashMap<String, String>,
) -> Vec<AnnotatorFigure> {
    let classes = coded.classes.max(1);
    // Codes are class indices, except ratings, which are their values: shift to 0-based.
    let lo = if schema.kind == LabelKind::Rating { schema.min.unwrap_or(1) as f64 } else { 0.0 };
    let as_class: Vec<Vec<Option<usize>>> =
        coded.matrix.iter().map(|c| c.iter().map(|v| v.map(|x| (x - lo) as usize)).collect()).collect();
    let consensus = stats::annotator_agreement(&as_class, classes, None);
    coder_ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mine: Vec<&juru_store::labeling::LabelAnswer> =
                answers.iter().filter(|a| &a.annotator == id).collect();
            let mut seconds: Vec<f64> = mine.iter().filter_map(|a| a.seconds).collect();
            let pots: Vec<bool> = mine
                .iter()
                .filter_map(|a| {
                    let g = gold.get(&a.idx)?;
                    Some(a.value.as_deref().map(parse_json).as_ref() == Some(g))
                })
                .collect();
            let c = &consensus[i];
            AnnotatorFigure {
                annotator: names[id].clone(),
                submitted: mine.len(),
                median_seconds: median(&mut seconds),
                with_consensus: c.with_consensus,
                consensus_accuracy: c.consensus_accuracy,
                consensus_kappa: c.consensus_kappa,
                honeypots: pots.len(),
                honeypot_accuracy: (!pots.is_empty())
                    .then(|| pots.iter().filter(|&&ok| ok).count() as f64 / pots.len() as f64),
            }
        })
        .collect()
}

/// Mean span F1 over every pair of annotators, on the items both answered.
fn span_figures(rows: &[(usize, usize, Value)], coders: usize, units: usize) -> Option<SpanFigures> {
    let mut by: Vec<Vec<Option<Vec<Span>>>> = vec![vec![None; units]; coders];
    for (c, u, v) in rows {
        by[*c][*u] = Some(spans_of(v));
    }
    let (mut exact, mut overlap, mut pairs) = (0.0, 0.0, 0usize);
    for i in 0..coders {
        for j in i + 1..coders {
            let docs: Vec<(Vec<Span>, Vec<Span>)> =
                (0..units).filter_map(|u| Some((by[i][u].clone()?, by[j][u].clone()?))).collect();
            if docs.is_empty() {
                continue;
            }
            exact += stats::span_f1(&docs, SpanMatch::Exact).f1;
            overlap += stats::span_f1(&docs, SpanMatch::Overlap).f1;
            pairs += 1;
        }
    }
    (pairs > 0).then(|| SpanFigures { exact_f1: exact / pairs as f64, overlap_f1: overlap / pairs as f64 })
}
