//! Inter-annotator agreement: percent agreement, Cohen's kappa (unweighted, linear, quadratic),
//! Fleiss' kappa, and Krippendorff's alpha (nominal, ordinal, interval, ratio) with missing
//! values; a seeded bootstrap over units gives a confidence interval for any of them.
//!
//! Conventions follow the reference implementations the tests compare with: scikit-learn's
//! `cohen_kappa_score`, statsmodels' `fleiss_kappa(method="fleiss")`, and the `krippendorff`
//! package's `alpha` (value domain: the distinct values seen, in order).
//!
//! Ratings are given as a matrix of coders × units, `None` where a coder did not rate a unit.

use crate::StatsError;

/// How far apart two values are, for Krippendorff's alpha.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Equal or not.
    Nominal,
    /// Ranks: the distance between two values grows with how many ratings lie between them.
    Ordinal,
    /// Squared difference.
    Interval,
    /// Squared difference relative to the sum.
    Ratio,
}

/// Weights of Cohen's kappa for disagreements between ordered labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KappaWeights {
    None,
    Linear,
    Quadratic,
}

/// Share of agreeing pairs: over every unit with two or more ratings, the pairs of ratings by
/// different coders that are equal, divided by all such pairs.
pub fn percent_agreement(ratings: &[Vec<Option<f64>>]) -> Result<f64, StatsError> {
    let units = units_of(ratings, "percent agreement")?;
    let (mut agree, mut pairs) = (0.0, 0.0);
    for u in 0..units {
        let values: Vec<f64> = ratings.iter().filter_map(|c| c[u]).collect();
        for i in 0..values.len() {
            for j in i + 1..values.len() {
                pairs += 1.0;
                if values[i] == values[j] {
                    agree += 1.0;
                }
            }
        }
    }
    if pairs == 0.0 {
        return Err(StatsError::Empty { metric: "percent agreement" });
    }
    Ok(agree / pairs)
}

/// Cohen's kappa of two raters over the same items (labels as indices into `classes`).
pub fn cohen_kappa(
    a: &[usize],
    b: &[usize],
    classes: usize,
    weights: KappaWeights,
) -> Result<f64, StatsError> {
    const METRIC: &str = "Cohen's kappa";
    if a.len() != b.len() {
        return Err(StatsError::LengthMismatch {
            metric: METRIC,
            lhs: "rater a",
            lhs_len: a.len(),
            rhs: "rater b",
            rhs_len: b.len(),
        });
    }
    if a.is_empty() {
        return Err(StatsError::Empty { metric: METRIC });
    }
    let mut observed = vec![vec![0.0f64; classes]; classes];
    for (&x, &y) in a.iter().zip(b) {
        if x >= classes || y >= classes {
            return Err(StatsError::ClassOutOfRange { metric: METRIC, index: x.max(y), classes });
        }
        observed[x][y] += 1.0;
    }
    let n = a.len() as f64;
    let rows: Vec<f64> = observed.iter().map(|r| r.iter().sum()).collect();
    let cols: Vec<f64> = (0..classes).map(|j| observed.iter().map(|r| r[j]).sum()).collect();
    let (mut num, mut den) = (0.0, 0.0);
    for i in 0..classes {
        for j in 0..classes {
            let w = match weights {
                KappaWeights::None => f64::from(u8::from(i != j)),
                KappaWeights::Linear => i.abs_diff(j) as f64,
                KappaWeights::Quadratic => (i.abs_diff(j) as f64).powi(2),
            };
            num += w * observed[i][j];
            den += w * rows[i] * cols[j] / n;
        }
    }
    Ok(1.0 - num / den)
}

/// Fleiss' kappa from a table of units × categories, each cell the number of raters who put
/// that unit in that category. Every unit must have the same number of raters (two or more).
pub fn fleiss_kappa(table: &[Vec<u64>]) -> Result<f64, StatsError> {
    const METRIC: &str = "Fleiss' kappa";
    let raters = table.first().map(|r| r.iter().sum::<u64>()).ok_or(StatsError::Empty { metric: METRIC })?;
    if raters < 2 {
        return Err(StatsError::Invalid {
            metric: METRIC,
            reason: "each unit needs two or more raters".into(),
        });
    }
    let categories = table[0].len();
    for (u, row) in table.iter().enumerate() {
        if row.len() != categories || row.iter().sum::<u64>() != raters {
            return Err(StatsError::Invalid {
                metric: METRIC,
                reason: format!(
                    "unit {u} has {} ratings; every unit must have {raters}",
                    row.iter().sum::<u64>()
                ),
            });
        }
    }
    let (units, r) = (table.len() as f64, raters as f64);
    let total = units * r;
    let mut p_cat = vec![0.0; categories];
    let mut p_mean = 0.0;
    for row in table {
        let squares: f64 = row.iter().map(|&c| (c * c) as f64).sum();
        p_mean += (squares - r) / (r * (r - 1.0));
        for (p, &c) in p_cat.iter_mut().zip(row) {
            *p += c as f64 / total;
        }
    }
    p_mean /= units;
    let p_exp: f64 = p_cat.iter().map(|p| p * p).sum();
    Ok((p_mean - p_exp) / (1.0 - p_exp))
}

/// Krippendorff's alpha of coders × units ratings, `None` for missing ones. Units with fewer
/// than two ratings are not pairable and do not count.
///
/// The coincidence matrix is never built: each unit adds its own pairs' disagreement to the
/// observed total, so the work is the number of units times the ratings per unit squared,
/// whatever the number of distinct values (continuous ratings included).
pub fn krippendorff_alpha(ratings: &[Vec<Option<f64>>], level: Level) -> Result<f64, StatsError> {
    krippendorff_alpha_with(ratings, level, 1)
}

/// [`krippendorff_alpha`] on up to `threads` threads, each coding its share of the units; the
/// value is the same to rounding (partial sums are added in a different order).
pub fn krippendorff_alpha_with(
    ratings: &[Vec<Option<f64>>],
    level: Level,
    threads: usize,
) -> Result<f64, StatsError> {
    const METRIC: &str = "Krippendorff's alpha";
    let units = units_of(ratings, METRIC)?;
    let not_finite =
        || StatsError::Invalid { metric: METRIC, reason: "ratings must be finite numbers".into() };
    let Some((lo, hi)) = value_range(ratings) else {
        return Err(StatsError::Invalid { metric: METRIC, reason: "no unit has two or more ratings".into() });
    };
    if !(lo.is_finite() && hi.is_finite()) {
        return Err(not_finite());
    }
    // Whole numbers in a short range (labels, scales) are coded by their offset from the lowest,
    // against a domain of every whole number in the range (values never rated count zero and
    // change nothing); if a rating turns out not to be one (or NaN), the distinct values are
    // sorted and searched instead.
    // Every level but ordinal has distances that do not depend on the counts: those add up the
    // observed disagreement while coding, unit by unit, without keeping the codes.
    let at_once = level != Level::Ordinal;
    let whole = (hi - lo < 4096.0)
        .then(|| {
            let k = (hi - lo) as usize + 1;
            let value = |c: u32| lo + f64::from(c);
            let code = |v: f64| {
                let c = (v - lo) as u32;
                (c, value(c) == v)
            };
            code_units_on(
                threads,
                ratings,
                units,
                k,
                code,
                at_once.then_some(|a: u32, b: u32| value_delta(level, value(a), value(b))),
            )
        })
        .filter(|coded| coded.exact);
    let (domain, coded) = match whole {
        Some(coded) => ((0..coded.counts.len()).map(|i| lo + i as f64).collect::<Vec<f64>>(), coded),
        None => {
            let domain = distinct_values(ratings).ok_or_else(not_finite)?;
            let k = domain.len();
            let code = |v: f64| (domain.partition_point(|&d| d < v) as u32, true);
            let delta = |a: u32, b: u32| value_delta(level, domain[a as usize], domain[b as usize]);
            let coded = code_units_on(threads, ratings, units, k, code, at_once.then_some(delta));
            (domain, coded)
        }
    };
    let k = domain.len();
    let n_c: Vec<f64> = coded.counts.iter().map(|&c| c as f64).collect();
    let n: f64 = n_c.iter().sum();
    if n < 2.0 {
        return Err(StatsError::Invalid { metric: METRIC, reason: "no unit has two or more ratings".into() });
    }
    if n_c.iter().filter(|&&c| c > 0.0).count() < 2 {
        return Err(StatsError::Invalid {
            metric: METRIC,
            reason: "every rating has the same value, so agreement expected by chance is perfect".into(),
        });
    }
    // Ordinal distances count the ratings between two values: prefix sums make each O(1).
    let mut cumulative = vec![0.0f64; k + 1];
    for a in 0..k {
        cumulative[a + 1] = cumulative[a] + n_c[a];
    }
    let delta = |a: usize, b: usize| -> f64 {
        match level {
            Level::Nominal => f64::from(u8::from(a != b)),
            Level::Ordinal => {
                let (lo, hi) = (a.min(b), a.max(b));
                let between = cumulative[hi + 1] - cumulative[lo];
                (between - (n_c[a] + n_c[b]) / 2.0).powi(2)
            }
            Level::Interval => (domain[a] - domain[b]).powi(2),
            Level::Ratio => {
                let s = domain[a] + domain[b];
                if s == 0.0 { 0.0 } else { ((domain[a] - domain[b]) / s).powi(2) }
            }
        }
    };
    // Few values (labels, scales): look the distances up in a table, with a row and a column
    // of zeros for an absent rating.
    let w = k + 1;
    let table: Option<Vec<f64>> = (k <= 256).then(|| {
        (0..w * w).map(|ab| if ab / w == k || ab % w == k { 0.0 } else { delta(ab / w, ab % w) }).collect()
    });
    let d_o = match (coded.observed, &table) {
        (Some(d_o), _) => d_o,
        (None, Some(t)) => observed(&coded, |a, b| t[a as usize * w + b as usize]),
        (None, None) => observed(&coded, |a, b| {
            if a as usize == k || b as usize == k { 0.0 } else { delta(a as usize, b as usize) }
        }),
    };
    let d_e = match level {
        Level::Nominal => n * n - n_c.iter().map(|c| c * c).sum::<f64>(),
        Level::Interval => {
            // Sum over value pairs of n_a n_b (v_a - v_b)^2 = 2 n sum_a n_a (v_a - mean)^2.
            let mean = n_c.iter().zip(&domain).map(|(c, v)| c * v).sum::<f64>() / n;
            2.0 * n * n_c.iter().zip(&domain).map(|(c, v)| c * (v - mean).powi(2)).sum::<f64>()
        }
        Level::Ordinal | Level::Ratio => {
            let mut total = 0.0;
            for a in 0..k {
                for b in a + 1..k {
                    total += 2.0 * n_c[a] * n_c[b] * delta(a, b);
                }
            }
            total
        }
    };
    if d_e == 0.0 {
        return Err(StatsError::Invalid {
            metric: METRIC,
            reason: "every rating has the same value, so agreement expected by chance is perfect".into(),
        });
    }
    Ok(1.0 - (n - 1.0) * d_o / d_e)
}

/// Every unit's ratings as value codes, one slot per coder (`k`, one past the last code, where a
/// coder did not rate it), with how many ratings each unit has, and how often each code occurs
/// in units with two or more. A unit with m >= 2 ratings gives m(m-1) ordered pairs of weight
/// 1/(m-1), so a value's total in the coincidence matrix is its count. Fixed-width units keep
/// the loops free of data-dependent branches.
struct Coded {
    slots: Vec<u32>,
    rated: Vec<u32>,
    width: usize,
    counts: Vec<u64>,
    /// Whether `code` found every rating exact (see [`krippendorff_alpha`]).
    exact: bool,
    /// The observed disagreement, when it was added up while coding (`slots` is then empty).
    observed: Option<f64>,
}

/// The distance of two values at a level whose distances do not depend on the counts.
fn value_delta(level: Level, a: f64, b: f64) -> f64 {
    match level {
        Level::Nominal | Level::Ordinal => f64::from(u8::from(a != b)),
        Level::Interval => (a - b) * (a - b),
        Level::Ratio => {
            let s = a + b;
            if s == 0.0 { 0.0 } else { ((a - b) / s).powi(2) }
        }
    }
}

/// [`code_units`] over consecutive shares of the units on `threads` threads, joined.
fn code_units_on<C, D>(
    threads: usize,
    ratings: &[Vec<Option<f64>>],
    units: usize,
    k: usize,
    code: C,
    delta: Option<D>,
) -> Coded
where
    C: Fn(f64) -> (u32, bool) + Sync,
    D: Fn(u32, u32) -> f64 + Sync,
{
    // Below this many units a thread costs more than it saves.
    const SHARE: usize = 10_000;
    let threads = threads.clamp(1, units.div_ceil(SHARE).max(1));
    if threads == 1 {
        return code_units(ratings, 0..units, k, &code, delta.as_ref());
    }
    let step = units.div_ceil(threads);
    let parts: Vec<Coded> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let range = t * step..((t + 1) * step).min(units);
                let (code, delta) = (&code, delta.as_ref());
                s.spawn(move || code_units(ratings, range, k, code, delta))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a coding thread panicked")).collect()
    });
    let mut joined = Coded {
        slots: Vec::new(),
        rated: Vec::new(),
        width: ratings.len(),
        counts: vec![0; k],
        exact: true,
        observed: delta.as_ref().map(|_| 0.0),
    };
    for part in parts {
        joined.slots.extend_from_slice(&part.slots);
        joined.rated.extend_from_slice(&part.rated);
        joined.counts.iter_mut().zip(&part.counts).for_each(|(a, b)| *a += b);
        joined.exact &= part.exact;
        if let (Some(total), Some(d)) = (joined.observed.as_mut(), part.observed) {
            *total += d;
        }
    }
    joined
}

/// Codes the units in `range`; with `delta`, adds up the observed disagreement as it goes
/// instead of keeping the codes.
fn code_units(
    ratings: &[Vec<Option<f64>>],
    range: std::ops::Range<usize>,
    k: usize,
    code: &impl Fn(f64) -> (u32, bool),
    delta: Option<&impl Fn(u32, u32) -> f64>,
) -> Coded {
    let units = range.len();
    let width = ratings.len();
    let absent = k as u32;
    let keep = delta.is_none();
    let mut slots: Vec<u32> = Vec::with_capacity(if keep { units * width } else { 0 });
    let mut rated: Vec<u32> = Vec::with_capacity(if keep { units } else { 0 });
    let mut counts = vec![0u64; k + 1];
    let mut exact = true;
    let mut d_o = 0.0;
    let mut unit: Vec<u32> = Vec::with_capacity(width);
    for u in range {
        unit.clear();
        for coder in ratings {
            let r = coder[u];
            let (c, ok) = code(r.unwrap_or(0.0));
            unit.push(if r.is_some() { c.min(absent) } else { absent });
            exact &= ok | r.is_none();
        }
        let m = unit.iter().filter(|&&c| c != absent).count() as u32;
        if m >= 2 {
            unit.iter().for_each(|&c| counts[c as usize] += 1);
            if let Some(delta) = delta {
                let present: &mut [u32] = &mut unit;
                let mut sum = 0.0;
                for i in 0..present.len() {
                    for j in i + 1..present.len() {
                        let (a, b) = (present[i], present[j]);
                        if a != absent && b != absent {
                            sum += delta(a, b);
                        }
                    }
                }
                d_o += 2.0 * sum / f64::from(m - 1);
            }
        }
        if keep {
            slots.extend_from_slice(&unit);
            rated.push(m);
        }
    }
    counts.truncate(k);
    Coded { slots, rated, width, counts, exact, observed: (!keep).then_some(d_o) }
}

/// The observed disagreement: over each unit with two or more ratings, both orders of each
/// pair of its ratings, weighted 1/(m-1). `delta` must be 0 when either code is absent.
fn observed(coded: &Coded, delta: impl Fn(u32, u32) -> f64) -> f64 {
    let mut d_o = 0.0;
    for (unit, &m) in coded.slots.chunks_exact(coded.width).zip(&coded.rated) {
        if m < 2 {
            continue;
        }
        let mut sum = 0.0;
        for (i, &a) in unit.iter().enumerate() {
            for &b in &unit[i + 1..] {
                sum += delta(a, b);
            }
        }
        d_o += 2.0 * sum / f64::from(m - 1);
    }
    d_o
}

/// The lowest and highest rating, ignoring missing ones and NaN (`None` without any). Four
/// running pairs, so that each min and max does not wait for the one before.
fn value_range(ratings: &[Vec<Option<f64>>]) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = ([f64::INFINITY; 4], [f64::NEG_INFINITY; 4]);
    for coder in ratings {
        let mut chunks = coder.chunks_exact(4);
        for c in &mut chunks {
            for j in 0..4 {
                let v = c[j].unwrap_or(f64::NAN);
                lo[j] = lo[j].min(v);
                hi[j] = hi[j].max(v);
            }
        }
        for r in chunks.remainder() {
            let v = r.unwrap_or(f64::NAN);
            lo[0] = lo[0].min(v);
            hi[0] = hi[0].max(v);
        }
    }
    let lo = lo.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = hi.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo <= hi).then_some((lo, hi))
}

/// Every distinct rating, ascending; `None` when one is not finite.
fn distinct_values(ratings: &[Vec<Option<f64>>]) -> Option<Vec<f64>> {
    let mut all: Vec<f64> = ratings.iter().flatten().flatten().copied().collect();
    if all.iter().any(|v| !v.is_finite()) {
        return None;
    }
    all.sort_by(f64::total_cmp);
    all.dedup();
    Some(all)
}

fn units_of(ratings: &[Vec<Option<f64>>], metric: &'static str) -> Result<usize, StatsError> {
    let units = ratings.first().map(Vec::len).ok_or(StatsError::Empty { metric })?;
    if let Some(bad) = ratings.iter().find(|c| c.len() != units) {
        return Err(StatsError::LengthMismatch {
            metric,
            lhs: "the first coder's ratings",
            lhs_len: units,
            rhs: "another coder's",
            rhs_len: bad.len(),
        });
    }
    Ok(units)
}

/// A confidence interval from a bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    /// Resamples where the statistic could be computed (a resample can lack variation).
    pub resamples: usize,
}

/// A percentile bootstrap interval at `level` (e.g. 0.95) for a statistic of coders × units
/// ratings, resampling units with replacement, seeded so the same input gives the same interval.
pub fn bootstrap_units(
    ratings: &[Vec<Option<f64>>],
    statistic: impl Fn(&[Vec<Option<f64>>]) -> Result<f64, StatsError>,
    resamples: usize,
    level: f64,
    seed: u64,
) -> Result<Interval, StatsError> {
    if !(0.0..1.0).contains(&level) || level == 0.0 {
        return Err(StatsError::OutOfUnitRange {
            metric: "bootstrap",
            what: "level",
            value: level.to_string(),
        });
    }
    let estimate = statistic(ratings)?;
    let units = units_of(ratings, "bootstrap")?;
    let mut rng = crate::random::SplitMix64(seed);
    let mut values = Vec::with_capacity(resamples);
    let mut sample: Vec<Vec<Option<f64>>> = ratings.iter().map(|_| Vec::with_capacity(units)).collect();
    for _ in 0..resamples {
        let picks: Vec<usize> = (0..units).map(|_| (rng.next_u64() % units as u64) as usize).collect();
        for (coder, out) in ratings.iter().zip(sample.iter_mut()) {
            out.clear();
            out.extend(picks.iter().map(|&u| coder[u]));
        }
        if let Ok(v) = statistic(&sample)
            && v.is_finite()
        {
            values.push(v);
        }
    }
    if values.is_empty() {
        return Err(StatsError::Invalid {
            metric: "bootstrap",
            reason: "no resample could be computed".into(),
        });
    }
    values.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        let pos = q * (values.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        values[lo] + (values[hi] - values[lo]) * (pos - lo as f64)
    };
    let tail = (1.0 - level) / 2.0;
    Ok(Interval { estimate, low: quantile(tail), high: quantile(1.0 - tail), resamples: values.len() })
}

/// A labelled span: `[start, end)` in characters or tokens (the caller's choice, the same on
/// both sides), and its label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub label: String,
}

/// How two sets of spans are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpanMatch {
    /// Same start, end and label.
    Exact,
    /// Positions covered with the same label count; a span half right earns half.
    Overlap,
}

/// Precision, recall and F1 of spans against reference spans, summed over documents (micro).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SpanScore {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Matched spans (exact) or positions (overlap).
    pub matched: usize,
    pub predicted: usize,
    pub reference: usize,
}

/// The (position, label) pairs that spans cover.
fn covered(spans: &[Span]) -> std::collections::BTreeSet<(usize, &str)> {
    spans.iter().flat_map(|s| (s.start..s.end).map(move |i| (i, s.label.as_str()))).collect()
}

/// Span F1 over documents, each a pair (spans to score, reference spans). With both sides
/// empty everywhere the two agree perfectly: 1. Otherwise a side with nothing scores 0.
pub fn span_f1(documents: &[(Vec<Span>, Vec<Span>)], mode: SpanMatch) -> SpanScore {
    let (mut matched, mut predicted, mut reference) = (0usize, 0usize, 0usize);
    for (pred, gold) in documents {
        match mode {
            SpanMatch::Exact => {
                let mut left: Vec<&Span> = gold.iter().collect();
                for p in pred {
                    if let Some(i) = left.iter().position(|g| *g == p) {
                        left.swap_remove(i);
                        matched += 1;
                    }
                }
                predicted += pred.len();
                reference += gold.len();
            }
            SpanMatch::Overlap => {
                let (p, g) = (covered(pred), covered(gold));
                matched += p.intersection(&g).count();
                predicted += p.len();
                reference += g.len();
            }
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let (precision, recall) = (ratio(matched, predicted), ratio(matched, reference));
    let f1 = if predicted == 0 && reference == 0 {
        1.0
    } else if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    SpanScore { precision, recall, f1, matched, predicted, reference }
}

/// Krippendorff's alpha of each class on its own (nominal, the class against every other):
/// which labels annotators agree on and which they confuse. Ratings are class indices.
pub fn alpha_per_class(ratings: &[Vec<Option<usize>>], classes: usize) -> Vec<Result<f64, StatsError>> {
    (0..classes)
        .map(|k| {
            let binary: Vec<Vec<Option<f64>>> = ratings
                .iter()
                .map(|c| c.iter().map(|r| r.map(|v| f64::from(u8::from(v == k)))).collect())
                .collect();
            krippendorff_alpha(&binary, Level::Nominal)
        })
        .collect()
}

/// How one annotator agrees with the others' consensus and with gold labels.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AnnotatorAgreement {
    pub coder: usize,
    /// Units this annotator rated.
    pub rated: usize,
    /// Units where the other annotators' majority is clear (no tie) and this one rated.
    pub with_consensus: usize,
    /// Share of those where this annotator gave the majority's label.
    pub consensus_accuracy: Option<f64>,
    /// Cohen's kappa against the majority of the others (unweighted).
    pub consensus_kappa: Option<f64>,
    /// Units with a gold label that this annotator rated.
    pub with_gold: usize,
    pub gold_accuracy: Option<f64>,
    pub gold_kappa: Option<f64>,
}

/// Each annotator against the leave-one-out majority of the others (a unit counts when the
/// others' most frequent label is unique) and against `gold` (a label per unit, or `None`).
pub fn annotator_agreement(
    ratings: &[Vec<Option<usize>>],
    classes: usize,
    gold: Option<&[Option<usize>]>,
) -> Vec<AnnotatorAgreement> {
    let units = ratings.first().map_or(0, Vec::len);
    let score = |pairs: &[(usize, usize)]| -> (Option<f64>, Option<f64>) {
        if pairs.is_empty() {
            return (None, None);
        }
        let acc = pairs.iter().filter(|(a, b)| a == b).count() as f64 / pairs.len() as f64;
        let (a, b): (Vec<usize>, Vec<usize>) = pairs.iter().copied().unzip();
        (Some(acc), cohen_kappa(&a, &b, classes, KappaWeights::None).ok().filter(|k| k.is_finite()))
    };
    ratings
        .iter()
        .enumerate()
        .map(|(coder, mine)| {
            let mut with_consensus = Vec::new();
            let mut with_gold = Vec::new();
            for (u, rating) in mine.iter().enumerate().take(units) {
                let Some(label) = rating.filter(|&l| l < classes) else { continue };
                let mut counts = vec![0usize; classes];
                for (other, theirs) in ratings.iter().enumerate() {
                    if other != coder
                        && let Some(Some(l)) = theirs.get(u)
                        && *l < classes
                    {
                        counts[*l] += 1;
                    }
                }
                let top = counts.iter().copied().max().unwrap_or(0);
                if top > 0 && counts.iter().filter(|&&c| c == top).count() == 1 {
                    let majority = counts.iter().position(|&c| c == top).unwrap_or(0);
                    with_consensus.push((label, majority));
                }
                if let Some(Some(g)) = gold.and_then(|g| g.get(u)) {
                    with_gold.push((label, *g));
                }
            }
            let (consensus_accuracy, consensus_kappa) = score(&with_consensus);
            let (gold_accuracy, gold_kappa) = score(&with_gold);
            AnnotatorAgreement {
                coder,
                rated: mine.iter().filter(|r| r.is_some()).count(),
                with_consensus: with_consensus.len(),
                consensus_accuracy,
                consensus_kappa,
                with_gold: with_gold.len(),
                gold_accuracy,
                gold_kappa,
            }
        })
        .collect()
}
