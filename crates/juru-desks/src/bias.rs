//! The bias desk: fairness audits of decisions in a table (a file or a dataset version).
//!
//! An [`AuditSpec`] names the columns: true outcomes (`label`), decisions (`prediction`, or
//! `score` with a `threshold`) and the sensitive attributes, each kept as is or split into one
//! value against the rest. Rows are read once into compact codes ([`TableAudit`]); the numbers
//! come from `juru_stats::fairness`. `checks` (e.g. `disparate_impact >= 0.8`) decide whether
//! the audit passes, for CI.

use std::collections::{BTreeMap, HashMap};

use juru_stats::fairness::{self, Attribute, Disparity, Options, Reference, Report};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Result;
use crate::error::DeskError;

/// A binary column: which values count as positive. Without `positive`, the column must hold
/// one of the usual pairs (1/0, true/false, yes/no, ya/tidak).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BinaryColumn {
    pub column: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub positive: Vec<String>,
}

impl BinaryColumn {
    /// `COLUMN` or `COLUMN=POS1,POS2` (the command line's form).
    pub fn parse(text: &str) -> BinaryColumn {
        match text.split_once('=') {
            Some((c, p)) => BinaryColumn {
                column: c.trim().to_string(),
                positive: p.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect(),
            },
            None => BinaryColumn { column: text.trim().to_string(), positive: Vec::new() },
        }
    }
}

/// A sensitive attribute: a column, its values as groups, or one value against the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeSpec {
    pub column: String,
    /// Split into this value and "not VALUE" (AIF360's privileged class).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl AttributeSpec {
    /// `COLUMN` or `COLUMN=VALUE`.
    pub fn parse(text: &str) -> AttributeSpec {
        match text.split_once('=') {
            Some((c, v)) => AttributeSpec { column: c.trim().to_string(), value: Some(v.trim().to_string()) },
            None => AttributeSpec { column: text.trim().to_string(), value: None },
        }
    }
}

/// A pass/fail rule on a disparity, e.g. `disparate_impact >= 0.8`: every slice with a value
/// must satisfy it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Check {
    pub disparity: String,
    pub op: String,
    pub bound: f64,
}

impl Check {
    pub fn parse(text: &str) -> Result<Check> {
        Check::parse_among(text, &DISPARITIES)
    }

    /// Like [`Check::parse`], for a check on one of `known` (a probe's measures).
    pub fn parse_among(text: &str, known: &[&str]) -> Result<Check> {
        let ops = ["<=", ">=", "<", ">"];
        let (pos, op) = ops
            .iter()
            .filter_map(|op| text.find(op).map(|p| (p, *op)))
            .min_by_key(|(p, op)| (*p, std::cmp::Reverse(op.len())))
            .ok_or_else(|| {
                DeskError::invalid(format!("check {text:?}: write NAME >= NUMBER (or <=, <, >)"))
            })?;
        let name = text[..pos].trim();
        let bound: f64 = text[pos + op.len()..]
            .trim()
            .parse()
            .map_err(|_| DeskError::invalid(format!("check {text:?}: the bound is not a number")))?;
        if !known.contains(&name) {
            return Err(DeskError::invalid(format!(
                "check {text:?}: unknown disparity {name:?}; known: {}",
                known.join(", ")
            )));
        }
        Ok(Check { disparity: name.to_string(), op: op.to_string(), bound })
    }

    pub(crate) fn holds(&self, v: f64) -> bool {
        match self.op.as_str() {
            "<=" => v <= self.bound,
            ">=" => v >= self.bound,
            "<" => v < self.bound,
            _ => v > self.bound,
        }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.disparity, self.op, self.bound)
    }
}

/// The disparities a check may name.
pub const DISPARITIES: [&str; 8] = [
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
    "average_odds_difference",
    "disparate_impact",
    "smoothed_differential_fairness",
];

/// What to audit in a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditSpec {
    /// True outcomes; without them only selection rates and the disparities built on them.
    #[serde(default)]
    pub label: Option<BinaryColumn>,
    /// Decisions. Without `prediction` or `score`, the labels themselves are audited as the
    /// decisions (a dataset audit).
    #[serde(default)]
    pub prediction: Option<BinaryColumn>,
    /// A score column in [0, 1]: decisions are score ≥ `threshold`; also gives calibration.
    #[serde(default)]
    pub score: Option<String>,
    #[serde(default)]
    pub threshold: Option<f64>,
    pub attributes: Vec<AttributeSpec>,
    /// Reference group: `majority` (default), `lowest`, or attribute → value.
    #[serde(default)]
    pub reference: Option<ReferenceSpec>,
    #[serde(default = "default_min_group")]
    pub min_group_size: u64,
    #[serde(default = "default_resamples")]
    pub resamples: usize,
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub checks: Vec<Check>,
    /// Mitigations to try on the rows, each reported before/after.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mitigations: Vec<crate::bias_mitigation::Mitigation>,
    /// Adds NYC Local Law 144's impact-ratio tables (each attribute and their intersection).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ll144: bool,
    /// Decisions made by a registry classifier on each row (dataset audits only): its score is
    /// the probability of the positive labels, the decision score ≥ `threshold` (default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelDecisions>,
}

/// A registry classifier that decides each row from one of its text columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelDecisions {
    /// `name`, `name@N` or `name@alias`; pinned to the version when the audit starts.
    pub model: String,
    /// The column the classifier reads.
    pub text: String,
    /// The labels that count as a positive decision.
    pub positive: Vec<String>,
}

/// The virtual column holding a model's scores in an audit of its decisions.
const MODEL_SCORE: &str = "(model score)";

impl AuditSpec {
    /// The spec the table is read with: a model's decisions become a score column (appended
    /// to the table's columns) with a threshold.
    fn for_table(&self, columns: &[String]) -> (AuditSpec, Vec<String>) {
        match &self.model {
            None => (self.clone(), columns.to_vec()),
            Some(_) => {
                let mut spec = self.clone();
                spec.score = Some(MODEL_SCORE.into());
                spec.threshold = Some(self.threshold.unwrap_or(0.5));
                let mut all = columns.to_vec();
                all.push(MODEL_SCORE.into());
                (spec, all)
            }
        }
    }
}

fn default_min_group() -> u64 {
    30
}

fn default_resamples() -> usize {
    1000
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ReferenceSpec {
    /// `majority` or `lowest`.
    Rule(String),
    Groups(BTreeMap<String, String>),
}

/// A check's outcome on one slice.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckResult {
    pub check: String,
    pub slice: String,
    /// Absent when no slice had enough data (and then the check fails).
    pub value: Option<f64>,
    pub passed: bool,
}

/// An audit's report with its checks.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditOutcome {
    #[schema(value_type = Object)]
    pub report: Report,
    pub checks: Vec<CheckResult>,
    /// Every check held on every slice with a value.
    pub passed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mitigations: Vec<crate::bias_mitigation::MitigationResult>,
    /// NYC Local Law 144's impact-ratio tables, when asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub impact_tables: Vec<crate::bias_mitigation::ImpactTable>,
}

const TRUE_WORDS: [&str; 6] = ["1", "true", "yes", "y", "ya", "t"];
const FALSE_WORDS: [&str; 6] = ["0", "false", "no", "n", "tidak", "f"];

/// Reads one binary column's cells.
#[derive(Debug)]
struct BinaryReader {
    spec: BinaryColumn,
    index: usize,
    values: Vec<bool>,
}

impl BinaryReader {
    fn push(&mut self, cell: &str, row: u64) -> Result<()> {
        let cell = cell.trim();
        let v = if !self.spec.positive.is_empty() {
            if cell.is_empty() {
                return Err(DeskError::invalid(format!("row {row}: column {:?} is empty", self.spec.column)));
            }
            self.spec.positive.iter().any(|p| p == cell)
        } else if TRUE_WORDS.iter().any(|w| w.eq_ignore_ascii_case(cell)) {
            true
        } else if FALSE_WORDS.iter().any(|w| w.eq_ignore_ascii_case(cell)) {
            false
        } else {
            return Err(DeskError::invalid(format!(
                "row {row}: column {:?} holds {cell:?}, which is not binary; name the positive values, \
                 e.g. {}={cell}",
                self.spec.column, self.spec.column
            )));
        };
        self.values.push(v);
        Ok(())
    }
}

#[derive(Debug)]
struct AttributeReader {
    spec: AttributeSpec,
    index: usize,
    /// "not VALUE" for a split attribute.
    other: String,
    interned: HashMap<String, u32>,
    values: Vec<String>,
    codes: Vec<u32>,
}

impl AttributeReader {
    fn push(&mut self, cell: &str) {
        let cell = cell.trim();
        let value: &str = match &self.spec.value {
            Some(v) if v == cell => v,
            Some(_) => &self.other,
            None if cell.is_empty() => "(missing)",
            None => cell,
        };
        // Seen values cost a lookup, not an allocation.
        let code = match self.interned.get(value) {
            Some(&c) => c,
            None => {
                let c = self.values.len() as u32;
                self.values.push(value.to_string());
                self.interned.insert(value.to_string(), c);
                c
            }
        };
        self.codes.push(code);
    }

    /// Values sorted, codes renumbered to match: reports list groups in a stable order.
    fn into_attribute(self) -> Attribute {
        let mut order: Vec<usize> = (0..self.values.len()).collect();
        order.sort_by(|&a, &b| self.values[a].cmp(&self.values[b]));
        let mut new_code = vec![0u32; order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_code[old] = new as u32;
        }
        let values = order.iter().map(|&i| self.values[i].clone()).collect();
        let codes = self.codes.iter().map(|&c| new_code[c as usize]).collect();
        Attribute { name: self.spec.column.clone(), values, codes }
    }
}

/// An audit being read from a table, row by row.
#[derive(Debug)]
pub struct TableAudit {
    spec: AuditSpec,
    label: Option<BinaryReader>,
    prediction: Option<BinaryReader>,
    score: Option<(usize, Vec<f64>)>,
    attributes: Vec<AttributeReader>,
    rows: u64,
}

impl TableAudit {
    /// Checks the spec against the table's columns; every problem at once.
    pub fn new(spec: AuditSpec, columns: &[String]) -> Result<TableAudit> {
        let mut problems = Vec::new();
        let mut find = |name: &str, role: &str| match columns.iter().position(|c| c == name) {
            Some(i) => Some(i),
            None => {
                problems.push(format!("{role} column {name:?} is not in the table"));
                None
            }
        };
        let label = spec.label.as_ref().and_then(|b| {
            find(&b.column, "label").map(|index| BinaryReader { spec: b.clone(), index, values: Vec::new() })
        });
        let prediction = spec.prediction.as_ref().and_then(|b| {
            find(&b.column, "prediction").map(|index| BinaryReader {
                spec: b.clone(),
                index,
                values: Vec::new(),
            })
        });
        let score = spec.score.as_ref().and_then(|s| find(s, "score").map(|i| (i, Vec::new())));
        let attributes: Vec<AttributeReader> = spec
            .attributes
            .iter()
            .filter_map(|a| {
                find(&a.column, "attribute").map(|index| AttributeReader {
                    spec: a.clone(),
                    index,
                    other: a.value.as_ref().map(|v| format!("not {v}")).unwrap_or_default(),
                    interned: HashMap::new(),
                    values: Vec::new(),
                    codes: Vec::new(),
                })
            })
            .collect();
        if spec.attributes.is_empty() {
            problems.push("no sensitive attribute named".into());
        }
        if spec.label.is_none() && spec.prediction.is_none() && spec.score.is_none() {
            problems.push("name a label column, a prediction column or a score column".into());
        }
        if spec.prediction.is_some() && spec.score.is_some() {
            problems.push("give a prediction column or a score column, not both".into());
        }
        if let Some(m) = &spec.model {
            if spec.prediction.is_some() || spec.score.as_deref().is_some_and(|s| s != MODEL_SCORE) {
                problems.push(format!(
                    "decisions come from model {}: give no prediction or score column",
                    m.model
                ));
            }
            if !columns.contains(&m.text) {
                problems.push(format!("text column {:?} (read by the model) is not in the table", m.text));
            }
            if m.positive.is_empty() {
                problems.push(format!("name the labels of {} that count as positive", m.model));
            }
        }
        if spec.score.is_some() != spec.threshold.is_some() {
            problems.push("a score column needs a threshold (and a threshold a score column)".into());
        }
        if let Some(t) = spec.threshold
            && !(0.0..=1.0).contains(&t)
        {
            problems.push(format!("threshold {t} is not in [0, 1]"));
        }
        if let Some(ReferenceSpec::Rule(r)) = &spec.reference
            && r != "majority"
            && r != "lowest"
        {
            problems.push(format!("reference {r:?}: use majority, lowest or attribute → value"));
        }
        if let Some(ReferenceSpec::Groups(g)) = &spec.reference {
            for k in g.keys() {
                if !spec.attributes.iter().any(|a| &a.column == k) {
                    problems.push(format!("reference names {k:?}, which is not an audited attribute"));
                }
            }
        }
        if !problems.is_empty() {
            let mut available = columns.join(", ");
            if available.len() > 400 {
                available.truncate(400);
                available.push('…');
            }
            return Err(DeskError::invalid(format!("{} (the table has: {available})", problems.join("; "))));
        }
        Ok(TableAudit { spec, label, prediction, score, attributes, rows: 0 })
    }

    /// Adds one row; `cell(i)` is column i's text.
    pub fn push<'r>(&mut self, cell: impl Fn(usize) -> &'r str) -> Result<()> {
        self.rows += 1;
        let row = self.rows;
        if let Some(l) = &mut self.label {
            l.push(cell(l.index), row)?;
        }
        if let Some(p) = &mut self.prediction {
            p.push(cell(p.index), row)?;
        }
        if let Some((i, scores)) = &mut self.score {
            let text = cell(*i).trim();
            let s: f64 = text.parse().ok().filter(|s: &f64| (0.0..=1.0).contains(s)).ok_or_else(|| {
                DeskError::invalid(format!(
                    "row {row}: score column {:?} holds {text:?}, not a number in [0, 1]",
                    self.spec.score.as_deref().unwrap_or_default()
                ))
            })?;
            scores.push(s);
        }
        for a in &mut self.attributes {
            a.push(cell(a.index));
        }
        Ok(())
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Computes the report and the checks.
    pub fn finish(self) -> Result<AuditOutcome> {
        self.finish_with(None)
    }

    /// Like [`TableAudit::finish`], with the rows decided again by the audited model retrained
    /// without and with reweighing weights (see `Desks::retrain_reweighed`).
    pub fn finish_with(self, retrained: Option<(Vec<bool>, Vec<bool>)>) -> Result<AuditOutcome> {
        if self.rows == 0 {
            return Err(DeskError::invalid("the table has no rows"));
        }
        let spec = self.spec;
        let y_true = self.label.map(|l| l.values);
        let scores = self.score.map(|(_, s)| s);
        let y_pred: Vec<bool> = match (self.prediction, &scores, &y_true) {
            (Some(p), _, _) => p.values,
            (None, Some(s), _) => {
                let t = spec.threshold.unwrap_or(0.5);
                s.iter().map(|&x| x >= t).collect()
            }
            (None, None, Some(y)) => y.clone(),
            (None, None, None) => return Err(DeskError::invalid("nothing to audit")),
        };
        // A dataset audit (labels only) audits the labels as the decisions, with no labels
        // to judge them by.
        let dataset_only = spec.prediction.is_none() && spec.score.is_none();
        let y_true = if dataset_only { None } else { y_true };
        let attributes: Vec<Attribute> =
            self.attributes.into_iter().map(AttributeReader::into_attribute).collect();
        let reference = match &spec.reference {
            None => Reference::Majority,
            Some(ReferenceSpec::Rule(r)) if r == "lowest" => Reference::Lowest,
            Some(ReferenceSpec::Rule(_)) => Reference::Majority,
            Some(ReferenceSpec::Groups(g)) => {
                let mut named = BTreeMap::new();
                for (k, v) in g {
                    let attr = spec.attributes.iter().find(|a| &a.column == k);
                    // A split attribute's groups are VALUE and "not VALUE".
                    let v = match attr.and_then(|a| a.value.as_ref()) {
                        Some(split) if split != v && format!("not {split}") != *v => {
                            return Err(DeskError::invalid(format!(
                                "reference {k}={v}: {k} is split into {split:?} and \"not {split}\""
                            )));
                        }
                        _ => v.clone(),
                    };
                    if let Some(a) = attributes.iter().find(|a| &a.name == k)
                        && !a.values.contains(&v)
                    {
                        return Err(DeskError::invalid(format!(
                            "reference {k}={v}: no row has that value (values: {})",
                            a.values.join(", ")
                        )));
                    }
                    named.insert(k.clone(), v);
                }
                Reference::Groups(named)
            }
        };
        let options = Options {
            min_group_size: spec.min_group_size,
            reference,
            resamples: spec.resamples,
            seed: spec.seed,
            ..Options::default()
        };
        let input = fairness::Input {
            attributes: &attributes,
            y_true: y_true.as_deref(),
            y_pred: &y_pred,
            scores: scores.as_deref(),
        };
        let report = fairness::audit(&input, &options).map_err(|e| DeskError::invalid(e.to_string()))?;
        let checks = run_checks(&spec.checks, &report);
        let passed = checks.iter().all(|c| c.passed);
        let (mut mitigations, mut impact_tables) = (Vec::new(), Vec::new());
        if !spec.mitigations.is_empty() || spec.ll144 {
            let (codes, names) = intersections(&attributes, y_pred.len());
            let rows = crate::bias_mitigation::Rows {
                groups: &codes,
                names: &names,
                y_true: y_true.as_deref(),
                y_pred: &y_pred,
                scores: scores.as_deref(),
                min_group_size: spec.min_group_size,
                retrained: retrained.as_ref().map(|(a, b)| (a.as_slice(), b.as_slice())),
            };
            for m in &spec.mitigations {
                mitigations.push(crate::bias_mitigation::run(*m, &rows)?);
            }
            if spec.ll144 {
                for a in &attributes {
                    impact_tables.extend(crate::bias_mitigation::impact_tables(
                        &a.name,
                        &a.codes,
                        &a.values,
                        &y_pred,
                        scores.as_deref(),
                    )?);
                }
                if attributes.len() > 1 {
                    let title = attributes.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(" × ");
                    impact_tables.extend(crate::bias_mitigation::impact_tables(
                        &title,
                        &codes,
                        &names,
                        &y_pred,
                        scores.as_deref(),
                    )?);
                }
            }
        }
        Ok(AuditOutcome { report, checks, passed, mitigations, impact_tables })
    }
}

/// Each row's finest intersection of the attributes, as compact codes in sorted order, and
/// the intersections' names (`sex=Female & race=Black`).
fn intersections(attributes: &[Attribute], rows: usize) -> (Vec<u32>, Vec<String>) {
    let key =
        |i: usize| attributes.iter().fold(0u64, |k, a| k * a.values.len() as u64 + u64::from(a.codes[i]));
    let mut seen = BTreeMap::new();
    for i in 0..rows {
        seen.entry(key(i)).or_insert(0u32);
    }
    let mut names = Vec::with_capacity(seen.len());
    for (n, (k, code)) in seen.iter_mut().enumerate() {
        *code = n as u32;
        let mut rest = *k;
        let mut parts = Vec::with_capacity(attributes.len());
        for a in attributes.iter().rev() {
            let m = a.values.len() as u64;
            parts.push(format!("{}={}", a.name, a.values[(rest % m) as usize]));
            rest /= m;
        }
        parts.reverse();
        names.push(parts.join(" & "));
    }
    ((0..rows).map(|i| seen[&key(i)]).collect(), names)
}

fn disparity<'a>(slice: &'a fairness::SliceReport, name: &str) -> Option<&'a Disparity> {
    slice.disparities.iter().find(|d| d.name == name)
}

fn run_checks(checks: &[Check], report: &Report) -> Vec<CheckResult> {
    let mut out = Vec::new();
    for check in checks {
        let before = out.len();
        for slice in &report.slices {
            if let Some(v) = disparity(slice, &check.disparity).and_then(|d| d.estimate.value) {
                out.push(CheckResult {
                    check: check.to_string(),
                    slice: slice.attributes.join(" & "),
                    value: Some(v),
                    passed: check.holds(v),
                });
            }
        }
        // A check no slice could be measured on fails: CI must not pass on missing data.
        if out.len() == before {
            out.push(CheckResult {
                check: check.to_string(),
                slice: "no slice had enough data".into(),
                value: None,
                passed: false,
            });
        }
    }
    out
}

/// Audits a CSV file (with a header row).
pub fn audit_csv(reader: impl std::io::Read, spec: AuditSpec) -> Result<AuditOutcome> {
    let mut csv = csv::ReaderBuilder::new().flexible(false).from_reader(reader);
    let headers: Vec<String> = csv
        .headers()
        .map_err(|e| DeskError::invalid(format!("reading the header: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut audit = TableAudit::new(spec, &headers)?;
    let mut record = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => audit.push(|i| record.get(i).unwrap_or(""))?,
            Err(e) => return Err(DeskError::invalid(format!("row {}: {e}", audit.rows() + 1))),
        }
    }
    audit.finish()
}

/// The job kind of a stored audit.
pub const BIAS_AUDIT: &str = "bias.audit";

pub(crate) const BIAS: juru_core::Area = juru_core::Area::Desk(juru_core::roles::Desk::Bias);

/// A request to audit a dataset version.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartAudit {
    /// A name for the report (default: the dataset's name and version).
    #[serde(default)]
    pub name: Option<String>,
    pub dataset: String,
    /// Default: the latest version.
    #[serde(default)]
    pub version: Option<i64>,
    pub spec: AuditSpec,
}

#[derive(Debug, Serialize, Deserialize)]
struct AuditParams {
    user_id: String,
    audit_id: String,
}

/// A stored audit; `outcome` once it has finished.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: String,
    pub name: String,
    pub dataset: String,
    pub dataset_version: i64,
    pub model_version_id: Option<String>,
    #[schema(value_type = Object)]
    pub spec: serde_json::Value,
    pub juru_version: String,
    pub status: String,
    pub rows_read: i64,
    pub passed: Option<bool>,
    pub message: String,
    pub job_id: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub finished_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub outcome: Option<serde_json::Value>,
}

impl From<juru_store::bias::BiasAudit> for AuditView {
    fn from(a: juru_store::bias::BiasAudit) -> Self {
        AuditView {
            id: a.id,
            name: a.name,
            dataset: a.dataset_name,
            dataset_version: a.dataset_version,
            model_version_id: a.model_version_id,
            spec: serde_json::from_str(&a.spec).unwrap_or_default(),
            juru_version: a.juru_version,
            status: a.status,
            rows_read: a.rows_read,
            passed: a.passed.map(|p| p != 0),
            message: a.message,
            job_id: a.job_id,
            created_by: a.created_by,
            created_at: juru_core::timefmt::format_ms(a.created_at),
            finished_at: a.finished_at.map(juru_core::timefmt::format_ms),
            outcome: a.report.and_then(|r| serde_json::from_str(&r).ok()),
        }
    }
}

impl crate::Desks {
    /// Checks the spec against the dataset version's columns and queues the audit as a job.
    pub async fn start_bias_audit(&self, actor: &crate::Actor, req: &StartAudit) -> Result<AuditView> {
        actor.require(BIAS, juru_core::Action::Write)?;
        let ds = self.store.dataset(&actor.workspace_id, &req.dataset).await?;
        let version = self.store.dataset_version(&ds, req.version).await?;
        let schema: juru_core::dataset::Schema = serde_json::from_str(&version.schema).unwrap_or_default();
        let columns: Vec<String> = schema.fields.iter().map(|f| f.name.clone()).collect();
        for check in &req.spec.checks {
            Check::parse(&check.to_string())?;
        }
        let mut spec = req.spec.clone();
        let mut model_version_id = None;
        if let Some(m) = &mut spec.model {
            // Pinned: a re-run reads the same version whatever the alias points at later.
            let (detail, v) = self.resolve_version(actor, &m.model).await?;
            if crate::serving::version_task(&v.format, &v.lineage) != Some(crate::serving::Task::Classify) {
                return Err(DeskError::invalid(format!(
                    "{} is a {} model; audits of decisions need a classifier",
                    m.model, v.format
                )));
            }
            m.model = format!("{}@{}", detail.model.name, v.version);
            model_version_id = Some(v.id);
        }
        let (table_spec, table_columns) = spec.for_table(&columns);
        TableAudit::new(table_spec, &table_columns)?;
        let number = version.version.unwrap_or_default();
        let audit = juru_store::bias::BiasAudit {
            id: juru_core::ids::new_id(),
            workspace_id: actor.workspace_id.clone(),
            name: req.name.clone().unwrap_or_else(|| format!("{} v{number}", ds.name)),
            dataset_id: ds.id.clone(),
            dataset_name: ds.name.clone(),
            dataset_version: number,
            model_version_id,
            spec: serde_json::to_string(&spec).map_err(DeskError::internal)?,
            juru_version: env!("CARGO_PKG_VERSION").to_string(),
            status: "queued".into(),
            rows_read: 0,
            passed: None,
            report: None,
            message: String::new(),
            job_id: None,
            created_by: actor.audit_name(),
            created_at: juru_store::now_ms(),
            finished_at: None,
        };
        let mut tx = self.store.write().await?;
        tx.insert_bias_audit(&audit).await?;
        let params = serde_json::to_string(&AuditParams {
            user_id: actor.user_id.clone(),
            audit_id: audit.id.clone(),
        })
        .map_err(DeskError::internal)?;
        let job = tx.insert_job(&actor.workspace_id, BIAS_AUDIT, &params, &actor.audit_name()).await?;
        tx.set_bias_audit_job(&audit.id, &job.id).await?;
        tx.audit(juru_store::audit::NewAudit {
            workspace_id: Some(&actor.workspace_id),
            actor: &actor.audit_name(),
            action: "bias.audit.create",
            object_kind: "bias_audit",
            object_id: &audit.id,
            summary: serde_json::json!({"dataset": ds.name, "version": number, "spec": spec}),
        })
        .await?;
        tx.commit().await?;
        self.job_wakeup.notify_one();
        Ok(self.store.bias_audit(&actor.workspace_id, &audit.id).await?.into())
    }

    /// The job: reads the version page by page into the audit, computes, stores the report.
    pub(crate) async fn run_bias_audit(
        &self,
        params: &str,
        progress: &crate::datasets::Progress,
    ) -> Result<serde_json::Value> {
        let p: AuditParams = serde_json::from_str(params).map_err(DeskError::internal)?;
        let audit = self.store.bias_audit_any(&p.audit_id).await?;
        self.store.set_bias_audit_running(&audit.id).await?;
        let outcome = self.compute_bias_audit(&audit, progress).await;
        let mut tx = self.store.write().await?;
        let result = match &outcome {
            Ok((rows, o)) => {
                let report = serde_json::to_string(o).map_err(DeskError::internal)?;
                let status = if o.passed { "passed" } else { "failed" };
                let failed = o.checks.iter().filter(|c| !c.passed).count();
                let message = if failed == 0 {
                    format!("{rows} rows audited; every check held")
                } else {
                    format!("{rows} rows audited; {failed} check result(s) failed")
                };
                tx.finish_bias_audit(
                    &audit.id,
                    status,
                    *rows as i64,
                    Some(o.passed),
                    Some(&report),
                    &message,
                )
                .await?;
                serde_json::json!({"audit": audit.id, "status": status})
            }
            Err(e) => {
                tx.finish_bias_audit(&audit.id, "error", 0, None, None, &e.to_string()).await?;
                serde_json::json!({"audit": audit.id, "status": "error", "message": e.to_string()})
            }
        };
        tx.audit(juru_store::audit::NewAudit {
            workspace_id: Some(&audit.workspace_id),
            actor: &audit.created_by,
            action: "bias.audit.finish",
            object_kind: "bias_audit",
            object_id: &audit.id,
            summary: result.clone(),
        })
        .await?;
        tx.commit().await?;
        Ok(result)
    }

    async fn compute_bias_audit(
        &self,
        audit: &juru_store::bias::BiasAudit,
        progress: &crate::datasets::Progress,
    ) -> Result<(u64, AuditOutcome)> {
        let spec: AuditSpec = serde_json::from_str(&audit.spec).map_err(DeskError::internal)?;
        let ds = self.store.dataset(&audit.workspace_id, &audit.dataset_id).await?;
        let version = self.store.dataset_version(&ds, Some(audit.dataset_version)).await?;
        let schema: juru_core::dataset::Schema = serde_json::from_str(&version.schema).unwrap_or_default();
        let columns: Vec<String> = schema.fields.iter().map(|f| f.name.clone()).collect();
        let (table_spec, table_columns) = spec.for_table(&columns);
        let mut table = TableAudit::new(table_spec, &table_columns)?;
        // The classifier making the decisions, when one does (as the audit's creator).
        let decider = match &spec.model {
            Some(m) => {
                let actor = self.audit_actor(audit).await?;
                Some((self.serve_for(&actor, &m.model, crate::serving::Task::Classify).await?, actor, m))
            }
            None => None,
        };
        let total = version.row_count.max(1) as f64;
        let mut from = 0;
        let mut cells: Vec<String> = Vec::with_capacity(table_columns.len());
        // The model's texts, kept when reweighing retrains it, to decide the rows again.
        let retrain =
            decider.is_some() && spec.mitigations.contains(&crate::bias_mitigation::Mitigation::Reweighing);
        let mut audit_texts: Vec<String> = Vec::new();
        loop {
            if progress.is_cancelled() {
                return Err(DeskError::Refused("the audit was cancelled".into()));
            }
            let items = self.store.items(&version.id, from, 5000).await?;
            let Some(last) = items.last() else { break };
            from = last.idx + 1;
            let rows: Vec<serde_json::Map<String, serde_json::Value>> = items
                .iter()
                .map(|item| serde_json::from_str(&item.data).map_err(DeskError::internal))
                .collect::<Result<_>>()?;
            let scores: Option<Vec<String>> = match &decider {
                Some((model, actor, m)) => {
                    let texts: Vec<String> =
                        rows.iter().map(|r| crate::datasets::csv_cell(r.get(&m.text))).collect();
                    let predictions = self.classify(actor, model, &texts).await?;
                    if retrain {
                        audit_texts.extend(texts.iter().cloned());
                    }
                    if let Some(missing) =
                        m.positive.iter().find(|l| !predictions[0].probabilities.contains_key(*l))
                    {
                        return Err(DeskError::invalid(format!(
                            "{} has no label {missing:?} (it has: {})",
                            m.model,
                            predictions[0].probabilities.keys().cloned().collect::<Vec<_>>().join(", ")
                        )));
                    }
                    Some(
                        predictions
                            .iter()
                            .map(|p| {
                                let score: f32 =
                                    m.positive.iter().filter_map(|l| p.probabilities.get(l)).sum();
                                format!("{}", f64::from(score).clamp(0.0, 1.0))
                            })
                            .collect(),
                    )
                }
                None => None,
            };
            for (i, row) in rows.iter().enumerate() {
                cells.clear();
                cells.extend(columns.iter().map(|c| crate::datasets::csv_cell(row.get(c))));
                if let Some(s) = &scores {
                    cells.push(s[i].clone());
                }
                table.push(|i| cells[i].as_str())?;
            }
            progress.set_rows(table.rows());
            progress.set_fraction(table.rows() as f64 / total * 0.5);
        }
        let rows = table.rows();
        let retrained = match (&decider, retrain) {
            (Some((_, actor, m)), true) => {
                progress.set_fraction(0.55);
                let threshold = spec.threshold.unwrap_or(0.5);
                Some(self.retrain_reweighed(actor, m, &spec.attributes, threshold, audit_texts).await?)
            }
            _ => None,
        };
        // The bootstrap is CPU work: off the async threads.
        let outcome = tokio::task::spawn_blocking(move || table.finish_with(retrained))
            .await
            .map_err(DeskError::internal)??;
        progress.set_fraction(1.0);
        Ok((rows, outcome))
    }

    /// Reweighing done as a trainer does it: the audited classifier's training data (from its
    /// lineage) gets AIF360's weights for the audited attributes and the positive labels, and
    /// the classifier is trained twice with its own recipe — without and with the weights —
    /// then both decide the audited rows. Returns (without, with) decisions, in row order.
    async fn retrain_reweighed(
        &self,
        actor: &crate::Actor,
        m: &ModelDecisions,
        attributes: &[AttributeSpec],
        threshold: f64,
        audit_texts: Vec<String>,
    ) -> Result<(Vec<bool>, Vec<bool>)> {
        use juru_runtime::classifier::{Classifier, Examples, TrainConfig};
        let (_, version) = self.resolve_version(actor, &m.model).await?;
        let lineage = &version.lineage;
        let (Some(source), Some(text_field), Some(label_field)) = (
            lineage["dataset_version_id"].as_str(),
            lineage["text_field"].as_str(),
            lineage["label_field"].as_str(),
        ) else {
            return Err(DeskError::invalid(format!(
                "{}: reweighing retrains the model, but its lineage names no training dataset",
                m.model
            )));
        };
        let config: TrainConfig = serde_json::from_value(lineage["recipe"].clone()).map_err(|e| {
            DeskError::invalid(format!("{}: its training recipe cannot be read: {e}", m.model))
        })?;
        let (mut texts, mut labels, mut groups) = (Vec::new(), Vec::new(), Vec::new());
        let mut interned: HashMap<String, u32> = HashMap::new();
        let mut from = 0;
        loop {
            let items = self.store.items(source, from, 5000).await?;
            let Some(last) = items.last() else { break };
            from = last.idx + 1;
            for item in &items {
                let row: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&item.data).map_err(DeskError::internal)?;
                let mut key = String::new();
                for a in attributes {
                    let Some(v) = row.get(&a.column) else {
                        return Err(DeskError::invalid(format!(
                            "{}: reweighing needs attribute {:?} in its training data ({}), which lacks it",
                            m.model,
                            a.column,
                            lineage["dataset"].as_str().unwrap_or(source)
                        )));
                    };
                    let cell = crate::datasets::csv_cell(Some(v));
                    let value = match &a.value {
                        Some(split) if *split == cell => cell,
                        Some(split) => format!("not {split}"),
                        None => cell,
                    };
                    key.push_str(&value);
                    key.push('\u{1f}');
                }
                let next = interned.len() as u32;
                groups.push(*interned.entry(key).or_insert(next));
                texts.push(crate::datasets::csv_cell(row.get(text_field)));
                labels.push(crate::datasets::csv_cell(row.get(label_field)));
            }
        }
        let mut names: Vec<String> = labels.clone();
        names.sort();
        names.dedup();
        let targets: Vec<usize> = labels.iter().map(|l| names.binary_search(l).unwrap_or_default()).collect();
        let positive: Vec<bool> = labels.iter().map(|l| m.positive.contains(l)).collect();
        let weights: Vec<f32> =
            juru_stats::mitigation::reweighing(&groups, &positive)?.into_iter().map(|w| w as f32).collect();
        let positives: Vec<usize> =
            names.iter().enumerate().filter(|(_, n)| m.positive.contains(n)).map(|(i, _)| i).collect();
        tokio::task::spawn_blocking(move || -> Result<(Vec<bool>, Vec<bool>)> {
            let decide = |sample_weights: Option<&[f32]>| -> Result<Vec<bool>> {
                let examples = Examples { texts: &texts, targets: &targets, labels: &names, sample_weights };
                let model = Classifier::train(&examples, &config, |_, _| {})
                    .map_err(|e| DeskError::invalid(e.to_string()))?;
                Ok(audit_texts
                    .iter()
                    .map(|t| {
                        let p = model.predict_proba(t);
                        f64::from(positives.iter().map(|&i| p[i]).sum::<f32>()) >= threshold
                    })
                    .collect())
            };
            Ok((decide(None)?, decide(Some(&weights))?))
        })
        .await
        .map_err(DeskError::internal)?
    }

    /// Who an audit's model calls are made as: the system of its workspace (the calls are
    /// logged as traces with the audit's creator named in the job's audit entries).
    async fn audit_actor(&self, audit: &juru_store::bias::BiasAudit) -> Result<crate::Actor> {
        let ws = self.store.workspace(&audit.workspace_id).await?;
        Ok(crate::Actor::system(&ws.id, &ws.name))
    }

    pub async fn bias_audit(&self, actor: &crate::Actor, id: &str) -> Result<AuditView> {
        actor.require(BIAS, juru_core::Action::Read)?;
        Ok(self.store.bias_audit(&actor.workspace_id, id).await?.into())
    }

    pub async fn bias_audits(
        &self,
        actor: &crate::Actor,
        model_version_id: Option<&str>,
        page: &juru_store::page::PageRequest,
    ) -> Result<crate::views::Listing<AuditView>> {
        actor.require(BIAS, juru_core::Action::Read)?;
        Ok(crate::views::Listing::from_page(
            self.store.bias_audits(&actor.workspace_id, model_version_id, page).await?,
            Into::into,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(attrs: &[&str]) -> AuditSpec {
        AuditSpec {
            label: Some(BinaryColumn::parse("y")),
            prediction: Some(BinaryColumn::parse("p")),
            score: None,
            threshold: None,
            attributes: attrs.iter().map(|a| AttributeSpec::parse(a)).collect(),
            reference: None,
            min_group_size: 1,
            resamples: 0,
            seed: 0,
            checks: vec![Check::parse("disparate_impact >= 0.8").unwrap()],
            mitigations: Vec::new(),
            ll144: false,
            model: None,
        }
    }

    #[test]
    fn every_problem_at_once() {
        let mut s = spec(&["ras", "sex"]);
        s.score = Some("skor".into());
        let e = TableAudit::new(s, &["y".into(), "p".into(), "sex".into()]).unwrap_err().to_string();
        for part in [
            "attribute column \"ras\"",
            "score column \"skor\"",
            "not both",
            "needs a threshold",
            "the table has: y, p, sex",
        ] {
            assert!(e.contains(part), "{part}: {e}");
        }
    }

    #[test]
    fn non_binary_labels_are_refused_with_the_fix() {
        let csv = "y,p,sex\n1,1,f\nmaybe,0,m\n";
        let e = audit_csv(csv.as_bytes(), spec(&["sex"])).unwrap_err().to_string();
        assert!(e.contains("row 2: column \"y\" holds \"maybe\"") && e.contains("y=maybe"), "{e}");
    }

    #[test]
    fn checks_pass_and_fail_per_slice() {
        let csv = "y,p,sex\n1,1,f\n0,0,f\n1,1,m\n0,1,m\n1,1,m\n0,0,f\n";
        let out = audit_csv(csv.as_bytes(), spec(&["sex=m"])).unwrap();
        // "not m" selects 1/3, m 3/3; the groups tie on size, so the reference is the first,
        // m: disparate impact 1/3, and the check fails on the one slice.
        assert_eq!(out.checks.len(), 1);
        assert!(!out.passed);
        assert!(Check::parse("nonsense >= 1").unwrap_err().to_string().contains("unknown disparity"));
        // Without labels no slice has an equalized-odds value: the check fails, it does not pass.
        let mut no_labels = spec(&["sex"]);
        no_labels.label = None;
        no_labels.checks = vec![Check::parse("equalized_odds_difference <= 0.1").unwrap()];
        let out = audit_csv(csv.as_bytes(), no_labels).unwrap();
        assert_eq!((out.checks.len(), out.passed), (1, false));
        assert_eq!(out.checks[0].slice, "no slice had enough data");
        assert_eq!(Check::parse("disparate_impact<=1.25").unwrap().op, "<=");
    }
}
