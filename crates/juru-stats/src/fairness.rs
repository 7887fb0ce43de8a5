//! Group fairness of binary decisions, per group and for every intersection of the sensitive
//! attributes, with an interval on every number.
//!
//! Rows are reduced once to confusion counts per finest intersection (every attribute set);
//! every coarser group, every metric and every disparity is a function of those counts, so the
//! seeded bootstrap resamples counts within each finest intersection (a stratified bootstrap
//! that keeps each group's size) and recomputes everything from them, never touching rows again.
//!
//! Conventions, stated once and carried in the report:
//! - rates are Fairlearn's and AIF360's (selection rate = predicted positive ÷ rows; TPR, FPR,
//!   FNR, TNR, PPV, NPV, FDR, FOR, accuracy from the confusion counts);
//! - a rate whose denominator is below `min_group_size` is *insufficient*, with the reason,
//!   never 0 or NaN; disparities use only groups with sufficient data;
//! - `*_difference` is absolute (max − min over groups, Fairlearn's `between_groups`),
//!   `*_ratio` is min ÷ max; equalized odds takes the worse of TPR and FPR;
//! - `average_odds_difference` and `disparate_impact` are signed against the reference group
//!   (AIF360's unprivileged − privileged, and unprivileged ÷ privileged); the slice reports the
//!   group farthest from the reference;
//! - reference disparities are metric ÷ the reference group's metric (Aequitas), fair within
//!   the band (default 0.8–1.25);
//! - smoothed empirical differential fairness is AIF360's (Dirichlet smoothing, concentration 1,
//!   over the intersections that have rows); the generalized entropy index (α = 2) and the Theil
//!   index (α = 1) are AIF360's, with benefit b = ŷ − y + 1.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::StatsError;
use crate::normal;
use crate::random::SplitMix64;

/// Confusion counts of one group. Without true labels every row counts as a negative.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cells {
    pub tn: u64,
    pub fp: u64,
    pub fn_: u64,
    pub tp: u64,
}

impl Cells {
    pub fn n(&self) -> u64 {
        self.tn + self.fp + self.fn_ + self.tp
    }

    fn add(&mut self, o: &Cells) {
        self.tn += o.tn;
        self.fp += o.fp;
        self.fn_ += o.fn_;
        self.tp += o.tp;
    }

    /// Predicted positives.
    pub fn selected(&self) -> u64 {
        self.tp + self.fp
    }

    /// Actual positives.
    pub fn positives(&self) -> u64 {
        self.tp + self.fn_
    }
}

/// A per-group rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    SelectionRate,
    Tpr,
    Fpr,
    Fnr,
    Tnr,
    Ppv,
    Npv,
    Fdr,
    For,
    Accuracy,
}

impl Metric {
    pub const ALL: [Metric; 10] = [
        Metric::SelectionRate,
        Metric::Tpr,
        Metric::Fpr,
        Metric::Fnr,
        Metric::Tnr,
        Metric::Ppv,
        Metric::Npv,
        Metric::Fdr,
        Metric::For,
        Metric::Accuracy,
    ];

    /// Whether the metric needs true labels.
    pub fn needs_labels(self) -> bool {
        self != Metric::SelectionRate
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::SelectionRate => "selection_rate",
            Metric::Tpr => "tpr",
            Metric::Fpr => "fpr",
            Metric::Fnr => "fnr",
            Metric::Tnr => "tnr",
            Metric::Ppv => "ppv",
            Metric::Npv => "npv",
            Metric::Fdr => "fdr",
            Metric::For => "for",
            Metric::Accuracy => "accuracy",
        }
    }

    /// Numerator and denominator, with the denominator's name for "insufficient" messages.
    pub fn fraction(self, c: &Cells) -> (u64, u64, &'static str) {
        match self {
            Metric::SelectionRate => (c.selected(), c.n(), "rows"),
            Metric::Tpr => (c.tp, c.positives(), "actual positives"),
            Metric::Fpr => (c.fp, c.fp + c.tn, "actual negatives"),
            Metric::Fnr => (c.fn_, c.positives(), "actual positives"),
            Metric::Tnr => (c.tn, c.fp + c.tn, "actual negatives"),
            Metric::Ppv => (c.tp, c.selected(), "predicted positives"),
            Metric::Npv => (c.tn, c.tn + c.fn_, "predicted negatives"),
            Metric::Fdr => (c.fp, c.selected(), "predicted positives"),
            Metric::For => (c.fn_, c.tn + c.fn_, "predicted negatives"),
            Metric::Accuracy => (c.tp + c.tn, c.n(), "rows"),
        }
    }

    fn value(self, c: &Cells) -> f64 {
        let (num, den, _) = self.fraction(c);
        if den == 0 { f64::NAN } else { num as f64 / den as f64 }
    }
}

/// A rate with its Wilson interval, or the explicit statement that the data cannot give one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Rate {
    Estimated { value: f64, low: f64, high: f64, numerator: u64, denominator: u64 },
    Insufficient { reason: String },
}

impl Rate {
    pub fn value(&self) -> Option<f64> {
        match self {
            Rate::Estimated { value, .. } => Some(*value),
            Rate::Insufficient { .. } => None,
        }
    }
}

/// The Wilson score interval of `k` successes in `n` trials at `level` (e.g. 0.95).
pub fn wilson(k: u64, n: u64, level: f64) -> (f64, f64) {
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let z = normal::ppf(1.0 - (1.0 - level) / 2.0);
    let (n, p) = (n as f64, k as f64 / n as f64);
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Benjamini–Hochberg adjusted p-values, in the input's order.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![0.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p[i] * m as f64 / (rank + 1) as f64);
        adjusted[i] = running.min(1.0);
    }
    adjusted
}

/// A pooled two-proportion z-test (statsmodels' `proportions_ztest`): the statistic and its
/// two-sided p-value. Both proportions 0 or both 1 give z = 0, p = 1 (no evidence of a gap).
pub fn two_proportion_z(k1: u64, n1: u64, k2: u64, n2: u64) -> (f64, f64) {
    let (p1, p2) = (k1 as f64 / n1 as f64, k2 as f64 / n2 as f64);
    let pooled = (k1 + k2) as f64 / (n1 + n2) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    if se == 0.0 || !se.is_finite() {
        return (0.0, 1.0);
    }
    let z = (p1 - p2) / se;
    (z, normal::two_sided_p(z))
}

/// Rows per group needed to detect the gap between two proportions with a two-sided test at
/// `alpha` and the given power, equal groups (Cohen's h, as statsmodels' `NormalIndPower`).
/// `None` when the proportions are equal.
pub fn sample_size_per_group(p1: f64, p2: f64, alpha: f64, power: f64) -> Option<u64> {
    let h = 2.0 * p1.sqrt().asin() - 2.0 * p2.sqrt().asin();
    if h == 0.0 || !h.is_finite() {
        return None;
    }
    let z = normal::ppf(1.0 - alpha / 2.0) + normal::ppf(power);
    Some((2.0 * (z / h).powi(2)).ceil() as u64)
}

/// A sensitive attribute: one code per row into `values`.
#[derive(Debug, Clone)]
pub struct Attribute {
    pub name: String,
    pub values: Vec<String>,
    pub codes: Vec<u32>,
}

/// The data of an audit. `y_true` may be absent (a decision audit with no outcomes: only
/// selection rates and the disparities built on them).
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub attributes: &'a [Attribute],
    pub y_true: Option<&'a [bool]>,
    pub y_pred: &'a [bool],
    /// Scores in [0, 1] behind the decisions, for calibration by group (needs `y_true`).
    pub scores: Option<&'a [f64]>,
}

/// Which group disparities are measured against.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reference {
    /// The group with the most rows (Aequitas' default).
    #[default]
    Majority,
    /// For each metric, the group where it is lowest.
    Lowest,
    /// Attribute → value; a slice whose attributes are all named uses that group, others the
    /// majority.
    Groups(BTreeMap<String, String>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// A rate with fewer rows behind its denominator is insufficient.
    pub min_group_size: u64,
    pub reference: Reference,
    /// Interval level for Wilson and bootstrap intervals.
    pub level: f64,
    /// Bootstrap resamples (0: no bootstrap intervals).
    pub resamples: usize,
    pub seed: u64,
    /// The fair band for reference disparities.
    pub fair_low: f64,
    pub fair_high: f64,
    /// Significance level for the between-group tests (after Benjamini–Hochberg) and the
    /// power for the sample sizes.
    pub alpha: f64,
    pub power: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            min_group_size: 30,
            reference: Reference::Majority,
            level: 0.95,
            resamples: 1000,
            seed: 0,
            fair_low: 0.8,
            fair_high: 1.25,
            alpha: 0.05,
            power: 0.8,
        }
    }
}

/// A number with its bootstrap interval (absent when no resample could compute it or no
/// resampling was asked for).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub value: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

/// A disparity of one slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disparity {
    pub name: String,
    pub convention: String,
    #[serde(flatten)]
    pub estimate: Estimate,
    /// Why there is no value, when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A group's metric against the reference group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceRatio {
    pub reference: String,
    #[serde(flatten)]
    pub estimate: Estimate,
    /// Inside the fair band; absent without a value.
    pub fair: Option<bool>,
}

/// A test of one group's rate against the reference group's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupTest {
    pub metric: Metric,
    pub z: f64,
    pub p_value: f64,
    /// Benjamini–Hochberg over every test in the report.
    pub p_adjusted: f64,
    pub significant: bool,
    /// Rows per group that would detect the observed gap (two-sided, `alpha`, `power`).
    pub needed_per_group: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupReport {
    /// Values of the slice's attributes, in the slice's order.
    pub values: Vec<String>,
    pub label: String,
    pub rows: u64,
    pub cells: Cells,
    pub metrics: BTreeMap<Metric, Rate>,
    pub versus_reference: BTreeMap<Metric, ReferenceRatio>,
    /// Signed against the reference: ½ [(FPR − FPR_ref) + (TPR − TPR_ref)].
    pub average_odds_difference: Option<f64>,
    pub tests: Vec<GroupTest>,
    /// With scores and labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
}

/// Groups defined by a set of attributes (one attribute, or an intersection).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceReport {
    pub attributes: Vec<String>,
    /// The reference group's label (per metric when the reference is the lowest group).
    pub reference: String,
    pub groups: Vec<GroupReport>,
    pub disparities: Vec<Disparity>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub rows: u64,
    pub has_labels: bool,
    pub options: Options,
    pub overall: BTreeMap<Metric, Rate>,
    /// Individual-level inequality of benefits (needs labels).
    pub generalized_entropy_index: Option<Estimate>,
    pub theil_index: Option<Estimate>,
    pub slices: Vec<SliceReport>,
}

const MAX_ATTRIBUTES: usize = 6;
const MAX_INTERSECTIONS: usize = 1 << 20;

/// Counts rows into finest intersections (mixed radix over the attributes' codes).
fn count_cells(input: &Input<'_>, radix: &[usize]) -> Vec<Cells> {
    let total: usize = radix.iter().product();
    let n = input.y_pred.len();
    let mut counts = vec![[0u64; 4]; total];
    let attrs = input.attributes;
    for i in 0..n {
        let mut id = 0usize;
        for (a, &r) in attrs.iter().zip(radix) {
            id = id * r + a.codes[i] as usize;
        }
        let truth = input.y_true.is_some_and(|y| y[i]);
        counts[id][(truth as usize) << 1 | input.y_pred[i] as usize] += 1;
    }
    counts.into_iter().map(|c| Cells { tn: c[0], fp: c[1], fn_: c[2], tp: c[3] }).collect()
}

const CALIBRATION_BINS: usize = 10;

/// Per finest intersection: score sum, outcome sum and count per equal-width bin, and the sum
/// of squared errors; calibration of any group is a sum of these.
#[derive(Debug, Clone, Copy, Default)]
struct CalibrationSums {
    bins: [(f64, f64, u64); CALIBRATION_BINS],
    squared_error: f64,
}

impl CalibrationSums {
    fn add(&mut self, o: &CalibrationSums) {
        for (a, b) in self.bins.iter_mut().zip(&o.bins) {
            a.0 += b.0;
            a.1 += b.1;
            a.2 += b.2;
        }
        self.squared_error += o.squared_error;
    }
}

fn calibration_sums(input: &Input<'_>, scores: &[f64], radix: &[usize]) -> Vec<CalibrationSums> {
    let total: usize = radix.iter().product();
    let mut sums = vec![CalibrationSums::default(); total];
    let y = input.y_true.unwrap_or_default();
    for (i, &s) in scores.iter().enumerate() {
        let mut id = 0usize;
        for (a, &r) in input.attributes.iter().zip(radix) {
            id = id * r + a.codes[i] as usize;
        }
        let truth = y.get(i).copied().unwrap_or(false) as u8 as f64;
        let b = ((s * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
        let bin = &mut sums[id].bins[b];
        bin.0 += s;
        bin.1 += truth;
        bin.2 += 1;
        sums[id].squared_error += (s - truth).powi(2);
    }
    sums
}

/// Calibration of one group's scores: expected calibration error over 10 equal-width bins
/// and the Brier score, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Calibration {
    Estimated { ece: f64, brier: f64 },
    Insufficient { reason: String },
}

fn check(input: &Input<'_>) -> Result<Vec<usize>, StatsError> {
    const METRIC: &str = "fairness audit";
    let n = input.y_pred.len();
    if n == 0 {
        return Err(StatsError::Empty { metric: METRIC });
    }
    if let Some(y) = input.y_true
        && y.len() != n
    {
        return Err(StatsError::LengthMismatch {
            metric: METRIC,
            lhs: "y_true",
            lhs_len: y.len(),
            rhs: "y_pred",
            rhs_len: n,
        });
    }
    if let Some(scores) = input.scores {
        if scores.len() != n {
            return Err(StatsError::LengthMismatch {
                metric: METRIC,
                lhs: "scores",
                lhs_len: scores.len(),
                rhs: "y_pred",
                rhs_len: n,
            });
        }
        if let Some(bad) = scores.iter().find(|s| !(0.0..=1.0).contains(*s)) {
            return Err(StatsError::OutOfUnitRange {
                metric: METRIC,
                what: "a score",
                value: bad.to_string(),
            });
        }
    }
    if input.attributes.is_empty() {
        return Err(StatsError::Invalid { metric: METRIC, reason: "no sensitive attribute given".into() });
    }
    if input.attributes.len() > MAX_ATTRIBUTES {
        return Err(StatsError::Invalid {
            metric: METRIC,
            reason: format!("{} sensitive attributes; at most {MAX_ATTRIBUTES}", input.attributes.len()),
        });
    }
    let mut radix = Vec::new();
    for a in input.attributes {
        if a.codes.len() != n {
            return Err(StatsError::Invalid {
                metric: METRIC,
                reason: format!("attribute {:?} has {} values for {n} rows", a.name, a.codes.len()),
            });
        }
        if a.values.is_empty() {
            return Err(StatsError::Invalid {
                metric: METRIC,
                reason: format!("attribute {:?} has no values", a.name),
            });
        }
        if let Some(&bad) = a.codes.iter().find(|&&c| c as usize >= a.values.len()) {
            return Err(StatsError::Invalid {
                metric: METRIC,
                reason: format!("attribute {:?}: code {bad} but only {} values", a.name, a.values.len()),
            });
        }
        radix.push(a.values.len());
    }
    if radix
        .iter()
        .try_fold(1usize, |acc, &r| acc.checked_mul(r).filter(|&t| t <= MAX_INTERSECTIONS))
        .is_none()
    {
        return Err(StatsError::Invalid {
            metric: METRIC,
            reason: format!("the attributes have more than {MAX_INTERSECTIONS} intersections"),
        });
    }
    Ok(radix)
}

/// One slice's projection: finest intersection → group of the slice.
struct Slice {
    attributes: Vec<usize>,
    /// `group_of[finest]`.
    group_of: Vec<usize>,
    groups: usize,
    /// Per group, the value index of each attribute in `attributes`.
    values: Vec<Vec<usize>>,
}

fn slices(radix: &[usize]) -> Vec<Slice> {
    let k = radix.len();
    let total: usize = radix.iter().product();
    let mut out = Vec::new();
    // Single attributes first, then pairs, …, the full intersection last.
    let mut masks: Vec<u32> = (1..(1u32 << k)).collect();
    masks.sort_by_key(|&m| (m.count_ones(), (0..k).filter(|&a| m & (1 << a) != 0).collect::<Vec<_>>()));
    for mask in masks {
        let attributes: Vec<usize> = (0..k).filter(|&a| mask & (1 << a) != 0).collect();
        let groups: usize = attributes.iter().map(|&a| radix[a]).product();
        let mut group_of = vec![0; total];
        let mut digits = vec![0usize; k];
        for (finest, g) in group_of.iter_mut().enumerate() {
            let mut rest = finest;
            for a in (0..k).rev() {
                digits[a] = rest % radix[a];
                rest /= radix[a];
            }
            *g = attributes.iter().fold(0, |acc, &a| acc * radix[a] + digits[a]);
        }
        let values = (0..groups)
            .map(|mut g| {
                let mut v = vec![0; attributes.len()];
                for (slot, &a) in v.iter_mut().zip(&attributes).rev() {
                    *slot = g % radix[a];
                    g /= radix[a];
                }
                v
            })
            .collect();
        out.push(Slice { attributes, group_of, groups, values });
    }
    out
}

fn aggregate(finest: &[Cells], slice: &Slice, out: &mut Vec<Cells>) {
    out.clear();
    out.resize(slice.groups, Cells::default());
    for (f, c) in finest.iter().enumerate() {
        out[slice.group_of[f]].add(c);
    }
}

/// Which groups and metrics have enough data, decided once on the observed counts.
struct Plan {
    /// `usable[slice][group][metric]`.
    usable: Vec<Vec<[bool; 10]>>,
    /// Reference group per slice and metric.
    reference: Vec<[Option<usize>; 10]>,
    has_labels: bool,
}

fn metric_index(m: Metric) -> usize {
    Metric::ALL.iter().position(|&x| x == m).unwrap_or(0)
}

fn choose_reference(
    cells: &[Cells],
    usable: &[[bool; 10]],
    slice: &Slice,
    input: &Input<'_>,
    reference: &Reference,
    metric: usize,
) -> Option<usize> {
    let candidates = || (0..cells.len()).filter(|&g| usable[g][metric]);
    match reference {
        Reference::Majority => candidates().max_by_key(|&g| (cells[g].n(), std::cmp::Reverse(g))),
        Reference::Lowest => candidates().min_by(|&a, &b| {
            Metric::ALL[metric]
                .value(&cells[a])
                .total_cmp(&Metric::ALL[metric].value(&cells[b]))
                .then(a.cmp(&b))
        }),
        Reference::Groups(named) => {
            let wanted: Option<Vec<usize>> = slice
                .attributes
                .iter()
                .map(|&a| {
                    let attr = &input.attributes[a];
                    named.get(&attr.name).and_then(|v| attr.values.iter().position(|x| x == v))
                })
                .collect();
            match wanted {
                Some(w) => (0..cells.len()).find(|&g| slice.values[g] == w).filter(|&g| usable[g][metric]),
                None => candidates().max_by_key(|&g| (cells[g].n(), std::cmp::Reverse(g))),
            }
        }
    }
}

/// The statistics that get bootstrap intervals, in a fixed layout per slice:
/// 7 slice disparities, then per group 10 reference ratios; then GE and Theil.
const SLICE_STATS: usize = 8;
const DISPARITY_NAMES: [(&str, &str); SLICE_STATS] = [
    ("demographic_parity_difference", "max − min selection rate over groups (absolute)"),
    ("demographic_parity_ratio", "min ÷ max selection rate over groups"),
    ("equalized_odds_difference", "the larger of the TPR and FPR max − min gaps (absolute)"),
    ("equalized_odds_ratio", "the smaller of the TPR and FPR min ÷ max ratios"),
    ("equal_opportunity_difference", "max − min TPR over groups (absolute)"),
    (
        "average_odds_difference",
        "½[(FPR − FPR_ref) + (TPR − TPR_ref)] of the group farthest from the reference (signed)",
    ),
    (
        "disparate_impact",
        "selection rate ÷ the reference's, of the group with the lowest ratio (four-fifths rule: ≥ 0.8)",
    ),
    (
        "smoothed_differential_fairness",
        "AIF360's smoothed empirical differential fairness ε of the predictions over the slice's groups that have rows",
    ),
];

fn slice_stats(cells: &[Cells], usable: &[[bool; 10]], reference: &[Option<usize>; 10], out: &mut Vec<f64>) {
    let range = |m: Metric| {
        let i = metric_index(m);
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for (g, c) in cells.iter().enumerate() {
            if usable[g][i] {
                let v = m.value(c);
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        if lo.is_finite() { (lo, hi) } else { (f64::NAN, f64::NAN) }
    };
    let ratio = |(lo, hi): (f64, f64)| if hi > 0.0 { lo / hi } else { f64::NAN };
    let sr = range(Metric::SelectionRate);
    let (tpr, fpr) = (range(Metric::Tpr), range(Metric::Fpr));
    out.push(sr.1 - sr.0);
    out.push(ratio(sr));
    out.push((tpr.1 - tpr.0).max(fpr.1 - fpr.0));
    out.push(ratio(tpr).min(ratio(fpr)));
    out.push(tpr.1 - tpr.0);
    // Average odds difference: the group farthest from the reference, signed.
    let (ti, fi) = (metric_index(Metric::Tpr), metric_index(Metric::Fpr));
    let mut aod = f64::NAN;
    if let (Some(rt), Some(rf)) = (reference[ti], reference[fi]) {
        for (g, c) in cells.iter().enumerate() {
            if g != rt && usable[g][ti] && usable[g][fi] {
                let d = 0.5
                    * ((Metric::Fpr.value(c) - Metric::Fpr.value(&cells[rf]))
                        + (Metric::Tpr.value(c) - Metric::Tpr.value(&cells[rt])));
                if aod.is_nan() || d.abs() > aod.abs() {
                    aod = d;
                }
            }
        }
    }
    out.push(aod);
    let si = metric_index(Metric::SelectionRate);
    let mut di = f64::NAN;
    if let Some(r) = reference[si] {
        let base = Metric::SelectionRate.value(&cells[r]);
        for (g, c) in cells.iter().enumerate() {
            if g != r && usable[g][si] && base > 0.0 {
                let v = Metric::SelectionRate.value(c) / base;
                if di.is_nan() || v < di {
                    di = v;
                }
            }
        }
    }
    out.push(di);
    out.push(smoothed_edf(cells.iter().filter(|c| c.n() > 0).map(|c| (c.selected(), c.n()))));
    for (g, c) in cells.iter().enumerate() {
        for (i, m) in Metric::ALL.iter().enumerate() {
            let v = match reference[i] {
                Some(r) if usable[g][i] => {
                    let base = m.value(&cells[r]);
                    if base > 0.0 { m.value(c) / base } else { f64::NAN }
                }
                _ => f64::NAN,
            };
            out.push(v);
        }
    }
}

/// AIF360's smoothed empirical differential fairness of (positives, rows) per group:
/// the largest |ln| ratio of smoothed positive or negative rates between any two groups.
pub fn smoothed_edf(groups: impl Iterator<Item = (u64, u64)>) -> f64 {
    let rates: Vec<f64> = groups.map(|(pos, n)| (pos as f64 + 0.5) / (n as f64 + 1.0)).collect();
    if rates.len() < 2 {
        return f64::NAN;
    }
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &r in &rates {
        lo = lo.min(r);
        hi = hi.max(r);
    }
    // Both logs are monotone, so the extreme pair is the min and max rate.
    (hi.ln() - lo.ln()).abs().max(((1.0 - lo).ln() - (1.0 - hi).ln()).abs())
}

/// The generalized entropy index of benefits b = ŷ − y + 1 from total counts (AIF360):
/// α = 1 is the Theil index.
pub fn generalized_entropy(c: &Cells, alpha: f64) -> f64 {
    let n = c.n() as f64;
    // b = 0 (false negative), 1 (correct), 2 (false positive).
    let (n0, n1, n2) = (c.fn_ as f64, (c.tp + c.tn) as f64, c.fp as f64);
    let mu = (n1 + 2.0 * n2) / n;
    if n == 0.0 || mu == 0.0 {
        return f64::NAN;
    }
    let (r1, r2) = (1.0 / mu, 2.0 / mu);
    if alpha == 1.0 {
        (n1 * r1 * r1.ln() + n2 * r2 * r2.ln()) / n
    } else if alpha == 0.0 {
        if n0 > 0.0 {
            return f64::INFINITY;
        }
        -(n1 * r1.ln() + n2 * r2.ln()) / n
    } else {
        let zero_term = if n0 > 0.0 { -n0 } else { 0.0 };
        (n1 * (r1.powf(alpha) - 1.0) + n2 * (r2.powf(alpha) - 1.0) + zero_term) / (n * alpha * (alpha - 1.0))
    }
}

fn all_stats(finest: &[Cells], slices: &[Slice], plan: &Plan, scratch: &mut Vec<Cells>, out: &mut Vec<f64>) {
    out.clear();
    for (s, slice) in slices.iter().enumerate() {
        aggregate(finest, slice, scratch);
        slice_stats(scratch, &plan.usable[s], &plan.reference[s], out);
    }
    if plan.has_labels {
        let mut total = Cells::default();
        for c in finest {
            total.add(c);
        }
        out.push(generalized_entropy(&total, 2.0));
        out.push(generalized_entropy(&total, 1.0));
    }
}

/// Draws `cells.n()` rows with replacement from one group's rows, as counts.
fn resample_cells(c: &Cells, rng: &mut SplitMix64) -> Cells {
    let n = c.n();
    if n == 0 {
        return *c;
    }
    let (t0, t1, t2) = (c.tn, c.tn + c.fp, c.tn + c.fp + c.fn_);
    let mut out = [0u64; 4];
    for _ in 0..n {
        // Lemire's multiply-shift maps 64 random bits onto [0, n) without division.
        let r = ((rng.next_u64() as u128 * n as u128) >> 64) as u64;
        let slot = (r >= t0) as usize + (r >= t1) as usize + (r >= t2) as usize;
        out[slot] += 1;
    }
    Cells { tn: out[0], fp: out[1], fn_: out[2], tp: out[3] }
}

/// The seed of resample `b`: resamples are independent of how they are spread over threads.
fn resample_seed(seed: u64, b: usize) -> u64 {
    SplitMix64(seed ^ (b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)).next_u64()
}

fn bootstrap(
    finest: &[Cells],
    slices: &[Slice],
    plan: &Plan,
    options: &Options,
    width: usize,
) -> Vec<Vec<f64>> {
    let resamples = options.resamples;
    let threads =
        std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 16).min(resamples.max(1));
    let per = resamples.div_ceil(threads.max(1)).max(1);
    let chunks: Vec<(usize, usize)> =
        (0..resamples).step_by(per).map(|start| (start, (start + per).min(resamples))).collect();
    let run = |(start, end): (usize, usize)| {
        let mut out = Vec::with_capacity((end - start) * width);
        let (mut scratch, mut stats, mut drawn) =
            (Vec::new(), Vec::with_capacity(width), vec![Cells::default(); finest.len()]);
        for b in start..end {
            let mut rng = SplitMix64(resample_seed(options.seed, b));
            for (d, c) in drawn.iter_mut().zip(finest) {
                *d = resample_cells(c, &mut rng);
            }
            all_stats(&drawn, slices, plan, &mut scratch, &mut stats);
            out.extend_from_slice(&stats);
        }
        out
    };
    let flat: Vec<Vec<f64>> = if chunks.len() < 2 {
        chunks.into_iter().map(run).collect()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunks.iter().map(|&c| scope.spawn(move || run(c))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
        })
    };
    // Transpose into one column of resampled values per statistic.
    let mut columns = vec![Vec::with_capacity(resamples); width];
    for chunk in &flat {
        for row in chunk.chunks_exact(width) {
            for (col, &v) in columns.iter_mut().zip(row) {
                if v.is_finite() {
                    col.push(v);
                }
            }
        }
    }
    columns
}

/// Linear-interpolated quantile of sorted values (numpy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn estimate(value: f64, column: Option<&mut Vec<f64>>, level: f64) -> Estimate {
    let value = value.is_finite().then_some(value);
    let (low, high) = match (value, column) {
        (Some(_), Some(col)) if !col.is_empty() => {
            col.sort_by(f64::total_cmp);
            let tail = (1.0 - level) / 2.0;
            (Some(quantile(col, tail)), Some(quantile(col, 1.0 - tail)))
        }
        _ => (None, None),
    };
    Estimate { value, low, high }
}

fn rate(metric: Metric, c: &Cells, options: &Options, has_labels: bool) -> Rate {
    if metric.needs_labels() && !has_labels {
        return Rate::Insufficient { reason: "needs true labels; the audit has none".into() };
    }
    let (num, den, what) = metric.fraction(c);
    if den == 0 {
        return Rate::Insufficient { reason: format!("no {what}") };
    }
    if den < options.min_group_size {
        return Rate::Insufficient {
            reason: format!("{den} {what}, fewer than the minimum of {}", options.min_group_size),
        };
    }
    let (low, high) = wilson(num, den, options.level);
    Rate::Estimated { value: num as f64 / den as f64, low, high, numerator: num, denominator: den }
}

fn label_of(input: &Input<'_>, slice: &Slice, g: usize) -> String {
    slice
        .attributes
        .iter()
        .zip(&slice.values[g])
        .map(|(&a, &v)| format!("{}={}", input.attributes[a].name, input.attributes[a].values[v]))
        .collect::<Vec<_>>()
        .join(" & ")
}

/// Audits binary decisions: every metric per group and intersection, every disparity with a
/// bootstrap interval, tests against the reference group with Benjamini–Hochberg correction.
pub fn audit(input: &Input<'_>, options: &Options) -> Result<Report, StatsError> {
    let radix = check(input)?;
    if !(0.0 < options.level && options.level < 1.0) {
        return Err(StatsError::OutOfUnitRange {
            metric: "fairness audit",
            what: "level",
            value: options.level.to_string(),
        });
    }
    let has_labels = input.y_true.is_some();
    let finest = count_cells(input, &radix);
    let slices = slices(&radix);
    let calibration = match (input.scores, has_labels) {
        (Some(scores), true) => Some(calibration_sums(input, scores, &radix)),
        _ => None,
    };

    let mut plan = Plan { usable: Vec::new(), reference: Vec::new(), has_labels };
    let mut slice_cells = Vec::new();
    for slice in &slices {
        let mut cells = Vec::new();
        aggregate(&finest, slice, &mut cells);
        let usable: Vec<[bool; 10]> = cells
            .iter()
            .map(|c| {
                let mut u = [false; 10];
                for (i, m) in Metric::ALL.iter().enumerate() {
                    u[i] =
                        (has_labels || !m.needs_labels()) && m.fraction(c).1 >= options.min_group_size.max(1);
                }
                u
            })
            .collect();
        let mut reference = [None; 10];
        for (i, r) in reference.iter_mut().enumerate() {
            *r = choose_reference(&cells, &usable, slice, input, &options.reference, i);
        }
        plan.usable.push(usable);
        plan.reference.push(reference);
        slice_cells.push(cells);
    }

    let mut scratch = Vec::new();
    let mut observed = Vec::new();
    all_stats(&finest, &slices, &plan, &mut scratch, &mut observed);
    let width = observed.len();
    let mut columns: Vec<Vec<f64>> = if options.resamples > 0 {
        bootstrap(&finest, &slices, &plan, options, width)
    } else {
        vec![Vec::new(); width]
    };
    let mut column = |i: usize| (options.resamples > 0).then(|| std::mem::take(&mut columns[i]));

    let mut total = Cells::default();
    for c in &finest {
        total.add(c);
    }
    let overall = Metric::ALL.iter().map(|&m| (m, rate(m, &total, options, has_labels))).collect();

    let mut offset = 0;
    let mut slice_reports = Vec::new();
    let mut p_values = Vec::new();
    for (s, slice) in slices.iter().enumerate() {
        let cells = &slice_cells[s];
        let reference = &plan.reference[s];
        let majority_label = |i: usize| reference[i].map(|g| label_of(input, slice, g));
        let disparities = DISPARITY_NAMES
            .iter()
            .enumerate()
            .map(|(i, (name, convention))| {
                let mut col = column(offset + i);
                let estimate = estimate(observed[offset + i], col.as_mut(), options.level);
                let needs_labels = !matches!(i, 0 | 1 | 6 | 7);
                let reason = estimate.value.is_none().then(|| {
                    if needs_labels && !has_labels {
                        "needs true labels; the audit has none".to_string()
                    } else {
                        format!(
                            "fewer than two groups with at least {} rows behind the rates",
                            options.min_group_size
                        )
                    }
                });
                Disparity { name: name.to_string(), convention: convention.to_string(), estimate, reason }
            })
            .collect();
        offset += SLICE_STATS;
        let mut groups = Vec::new();
        for (g, c) in cells.iter().enumerate() {
            let mut metrics = BTreeMap::new();
            let mut versus = BTreeMap::new();
            for (i, &m) in Metric::ALL.iter().enumerate() {
                metrics.insert(m, rate(m, c, options, has_labels));
                let mut col = column(offset + i);
                if let Some(r) = reference[i]
                    && (has_labels || !m.needs_labels())
                {
                    let estimate = estimate(observed[offset + i], col.as_mut(), options.level);
                    let fair = estimate.value.map(|v| v >= options.fair_low && v <= options.fair_high);
                    versus.insert(m, ReferenceRatio { reference: label_of(input, slice, r), estimate, fair });
                }
            }
            offset += Metric::ALL.len();
            let (ti, fi) = (metric_index(Metric::Tpr), metric_index(Metric::Fpr));
            let aod = match (reference[ti], reference[fi]) {
                (Some(rt), Some(rf)) if plan.usable[s][g][ti] && plan.usable[s][g][fi] => Some(
                    0.5 * ((Metric::Fpr.value(c) - Metric::Fpr.value(&cells[rf]))
                        + (Metric::Tpr.value(c) - Metric::Tpr.value(&cells[rt]))),
                ),
                _ => None,
            };
            let mut tests = Vec::new();
            for m in [Metric::SelectionRate, Metric::Tpr, Metric::Fpr] {
                let i = metric_index(m);
                if let Some(r) = reference[i]
                    && r != g
                    && plan.usable[s][g][i]
                {
                    let (k1, n1, _) = m.fraction(c);
                    let (k2, n2, _) = m.fraction(&cells[r]);
                    let (z, p) = two_proportion_z(k1, n1, k2, n2);
                    p_values.push(p);
                    tests.push(GroupTest {
                        metric: m,
                        z,
                        p_value: p,
                        p_adjusted: f64::NAN,
                        significant: false,
                        needed_per_group: sample_size_per_group(
                            k1 as f64 / n1 as f64,
                            k2 as f64 / n2 as f64,
                            options.alpha,
                            options.power,
                        ),
                    });
                }
            }
            let calibration = calibration.as_ref().map(|sums| {
                if c.n() < options.min_group_size.max(1) {
                    return Calibration::Insufficient {
                        reason: format!(
                            "{} rows, fewer than the minimum of {}",
                            c.n(),
                            options.min_group_size.max(1)
                        ),
                    };
                }
                let mut group = CalibrationSums::default();
                for (f, part) in sums.iter().enumerate() {
                    if slice.group_of[f] == g {
                        group.add(part);
                    }
                }
                let n = c.n() as f64;
                let ece = group.bins.iter().map(|b| (b.1 - b.0).abs()).sum::<f64>() / n;
                Calibration::Estimated { ece, brier: group.squared_error / n }
            });
            groups.push(GroupReport {
                values: slice.values[g]
                    .iter()
                    .zip(&slice.attributes)
                    .map(|(&v, &a)| input.attributes[a].values[v].clone())
                    .collect(),
                label: label_of(input, slice, g),
                rows: c.n(),
                cells: *c,
                metrics,
                versus_reference: versus,
                average_odds_difference: aod,
                tests,
                calibration,
            });
        }
        let reference_label = match &options.reference {
            Reference::Lowest => "the lowest group of each metric".to_string(),
            _ => majority_label(metric_index(Metric::SelectionRate))
                .unwrap_or_else(|| "none (no group has enough rows)".into()),
        };
        slice_reports.push(SliceReport {
            attributes: slice.attributes.iter().map(|&a| input.attributes[a].name.clone()).collect(),
            reference: reference_label,
            groups,
            disparities,
        });
    }
    let (generalized_entropy_index, theil_index) = if has_labels {
        let ge = estimate(observed[offset], column(offset).as_mut(), options.level);
        let theil = estimate(observed[offset + 1], column(offset + 1).as_mut(), options.level);
        (Some(ge), Some(theil))
    } else {
        (None, None)
    };

    // One Benjamini–Hochberg family: every group test in the report.
    let adjusted = benjamini_hochberg(&p_values);
    let mut next = adjusted.into_iter();
    for t in slice_reports.iter_mut().flat_map(|s| s.groups.iter_mut()).flat_map(|g| g.tests.iter_mut()) {
        t.p_adjusted = next.next().unwrap_or(f64::NAN);
        t.significant = t.p_adjusted < options.alpha;
    }

    Ok(Report {
        rows: total.n(),
        has_labels,
        options: options.clone(),
        overall,
        generalized_entropy_index,
        theil_index,
        slices: slice_reports,
    })
}

/// Expected calibration error (equal-width bins over the positive-class score) and the Brier
/// score of scores in [0, 1] against binary outcomes.
pub fn calibration(scores: &[f64], y_true: &[bool], bins: usize) -> Result<(f64, f64), StatsError> {
    const METRIC: &str = "calibration";
    if scores.len() != y_true.len() {
        return Err(StatsError::LengthMismatch {
            metric: METRIC,
            lhs: "scores",
            lhs_len: scores.len(),
            rhs: "y_true",
            rhs_len: y_true.len(),
        });
    }
    if scores.is_empty() {
        return Err(StatsError::Empty { metric: METRIC });
    }
    if let Some(bad) = scores.iter().find(|s| !(0.0..=1.0).contains(*s)) {
        return Err(StatsError::OutOfUnitRange { metric: METRIC, what: "a score", value: bad.to_string() });
    }
    let bins = bins.max(1);
    let mut sum_score = vec![0.0; bins];
    let mut sum_true = vec![0.0; bins];
    let mut count = vec![0u64; bins];
    let mut brier = 0.0;
    for (&s, &y) in scores.iter().zip(y_true) {
        let b = ((s * bins as f64) as usize).min(bins - 1);
        sum_score[b] += s;
        sum_true[b] += y as u8 as f64;
        count[b] += 1;
        brier += (s - y as u8 as f64).powi(2);
    }
    let n = scores.len() as f64;
    let ece = (0..bins).filter(|&b| count[b] > 0).map(|b| (sum_true[b] - sum_score[b]).abs() / n).sum();
    Ok((ece, brier / n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(name: &str, labels: &[&str]) -> Attribute {
        let mut values: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
        values.sort();
        values.dedup();
        let codes = labels.iter().map(|l| values.iter().position(|v| v == l).unwrap() as u32).collect();
        Attribute { name: name.into(), values, codes }
    }

    #[test]
    fn slices_cover_every_attribute_set_in_order() {
        let s = slices(&[2, 3, 2]);
        let sets: Vec<Vec<usize>> = s.iter().map(|s| s.attributes.clone()).collect();
        assert_eq!(sets, vec![vec![0], vec![1], vec![2], vec![0, 1], vec![0, 2], vec![1, 2], vec![0, 1, 2]]);
        // Finest intersection 7 = (1, 0, 1) falls in group (1, 1) of the slice {0, 2}.
        assert_eq!(s[4].group_of[7], 3);
        assert_eq!(s[4].values[3], vec![1, 1]);
    }

    #[test]
    fn small_and_empty_groups_are_insufficient_not_zero() {
        let sex = attr("sex", &["f", "f", "m", "m", "m"]);
        let region = attr("region", &["x", "y", "x", "x", "x"]);
        let y = [true, false, true, false, true];
        let p = [true, true, false, false, true];
        let options = Options { min_group_size: 2, resamples: 50, ..Default::default() };
        let r = audit(
            &Input { attributes: &[sex, region], y_true: Some(&y), y_pred: &p, scores: None },
            &options,
        )
        .unwrap();
        let inter = r.slices.last().unwrap();
        let empty = inter.groups.iter().find(|g| g.label == "sex=m & region=y").unwrap();
        assert_eq!(empty.rows, 0);
        assert_eq!(empty.metrics[&Metric::SelectionRate], Rate::Insufficient { reason: "no rows".into() });
        let small = inter.groups.iter().find(|g| g.label == "sex=f & region=y").unwrap();
        assert!(
            matches!(&small.metrics[&Metric::Tpr], Rate::Insufficient { reason } if reason.contains("no actual positives"))
        );
        let one = &small.metrics[&Metric::SelectionRate];
        assert!(
            matches!(one, Rate::Insufficient { reason } if reason.contains("1 rows, fewer than the minimum of 2"))
        );
    }

    #[test]
    fn bad_input_is_named() {
        let a = attr("sex", &["f", "m"]);
        let e = audit(
            &Input {
                attributes: std::slice::from_ref(&a),
                y_true: Some(&[true]),
                y_pred: &[true, false],
                scores: None,
            },
            &Options::default(),
        );
        assert!(e.unwrap_err().to_string().contains("y_true has 1"));
        let e = audit(
            &Input { attributes: &[a], y_true: None, y_pred: &[true], scores: None },
            &Options::default(),
        );
        assert!(e.unwrap_err().to_string().contains("attribute \"sex\" has 2 values for 1 rows"));
    }

    #[test]
    fn the_bootstrap_is_reproducible_and_brackets_the_estimate() {
        let n = 4000;
        let g: Vec<&str> = (0..n).map(|i| ["a", "b", "c"][i % 3]).collect();
        let mut rng = SplitMix64(7);
        let y: Vec<bool> = (0..n).map(|_| rng.next_u64().is_multiple_of(2)).collect();
        let p: Vec<bool> = (0..n).map(|i| (rng.next_u64() % 100) < [30, 45, 60][i % 3]).collect();
        let attrs = [attr("g", &g)];
        let input = Input { attributes: &attrs, y_true: Some(&y), y_pred: &p, scores: None };
        let options = Options { resamples: 200, seed: 3, ..Default::default() };
        let (a, b) = (audit(&input, &options).unwrap(), audit(&input, &options).unwrap());
        assert_eq!(a, b);
        let dp = &a.slices[0].disparities[0].estimate;
        let (v, lo, hi) = (dp.value.unwrap(), dp.low.unwrap(), dp.high.unwrap());
        assert!(lo < v && v < hi && lo > 0.1 && hi < 0.45, "{lo} {v} {hi}");
        let other = audit(&input, &Options { seed: 4, ..options }).unwrap();
        assert_ne!(other.slices[0].disparities[0].estimate.low, dp.low);
    }
}
