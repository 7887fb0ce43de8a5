//! Statistics of counterfactual probes. A probe set is one template and alternative rendered once
//! per group (the texts differ only in the group's words); the model's outcome on each text is
//! kept per set, in group order. From those:
//!
//! - the flip rate of a classifier: sets whose labels are not all the same;
//! - per group, the rate of a yes/no outcome (a refusal, an offensive term) with a Wilson
//!   interval, and against the reference group (index 0) McNemar's test on the discordant sets;
//! - per group, the mean of a score (sentiment, length, similarity) and against the reference
//!   group the mean paired difference with a seeded bootstrap interval and Wilcoxon's test;
//!
//! with Benjamini–Hochberg over each family of group comparisons.

use serde::{Deserialize, Serialize};

use crate::StatsError;
use crate::fairness::{benjamini_hochberg, wilson};
use crate::paired::{mcnemar, wilcoxon};
use crate::random::SplitMix64;

fn check_sets<T>(metric: &'static str, sets: &[Vec<T>], groups: usize) -> Result<(), StatsError> {
    if sets.is_empty() {
        return Err(StatsError::Empty { metric });
    }
    if groups < 2 {
        return Err(StatsError::Invalid {
            metric,
            reason: format!("needs at least two groups, got {groups}"),
        });
    }
    if let Some((i, s)) = sets.iter().enumerate().find(|(_, s)| s.len() != groups) {
        return Err(StatsError::Invalid {
            metric,
            reason: format!("set {i} has {} outcomes for {groups} groups", s.len()),
        });
    }
    Ok(())
}

/// How often the label changes when only the group changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlipRate {
    pub sets: u64,
    pub flipped: u64,
    pub rate: f64,
    pub low: f64,
    pub high: f64,
}

pub fn flip_rate(labels: &[Vec<u32>], groups: usize, level: f64) -> Result<FlipRate, StatsError> {
    check_sets("flip rate", labels, groups)?;
    let flipped = labels.iter().filter(|s| s.iter().any(|l| *l != s[0])).count() as u64;
    let sets = labels.len() as u64;
    let (low, high) = wilson(flipped, sets, level);
    Ok(FlipRate { sets, flipped, rate: flipped as f64 / sets as f64, low, high })
}

/// One group's yes/no rate, and its comparison with the reference group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRate {
    pub group: usize,
    pub count: u64,
    pub rate: f64,
    pub low: f64,
    pub high: f64,
    /// Against group 0: sets where only this group / only the reference had the outcome.
    pub only_this: u64,
    pub only_reference: u64,
    /// McNemar's exact p-value, and after Benjamini–Hochberg over the groups.
    pub p_value: Option<f64>,
    pub p_adjusted: Option<f64>,
}

pub fn group_rates(flags: &[Vec<bool>], groups: usize, level: f64) -> Result<Vec<GroupRate>, StatsError> {
    check_sets("counterfactual rate", flags, groups)?;
    let n = flags.len() as u64;
    let mut out: Vec<GroupRate> = (0..groups)
        .map(|g| {
            let count = flags.iter().filter(|s| s[g]).count() as u64;
            let (low, high) = wilson(count, n, level);
            let only_this = flags.iter().filter(|s| s[g] && !s[0]).count() as u64;
            let only_reference = flags.iter().filter(|s| !s[g] && s[0]).count() as u64;
            let p_value = (g > 0).then(|| mcnemar(only_reference, only_this).p_exact);
            GroupRate {
                group: g,
                count,
                rate: count as f64 / n as f64,
                low,
                high,
                only_this,
                only_reference,
                p_value,
                p_adjusted: None,
            }
        })
        .collect();
    let ps: Vec<f64> = out.iter().filter_map(|r| r.p_value).collect();
    let mut adjusted = benjamini_hochberg(&ps).into_iter();
    for r in out.iter_mut().filter(|r| r.p_value.is_some()) {
        r.p_adjusted = adjusted.next();
    }
    Ok(out)
}

/// One group's mean score, and its paired difference from the reference group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupScore {
    pub group: usize,
    pub mean: f64,
    /// Mean of (this group − reference) over the sets, with a percentile bootstrap interval.
    pub difference: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    /// Wilcoxon's signed-rank p-value, and after Benjamini–Hochberg over the groups.
    pub p_value: Option<f64>,
    pub p_adjusted: Option<f64>,
}

pub fn group_scores(
    values: &[Vec<f64>],
    groups: usize,
    level: f64,
    resamples: usize,
    seed: u64,
) -> Result<Vec<GroupScore>, StatsError> {
    check_sets("counterfactual score", values, groups)?;
    if values.iter().flatten().any(|v| !v.is_finite()) {
        return Err(StatsError::Invalid {
            metric: "counterfactual score",
            reason: "a score is not finite".into(),
        });
    }
    let n = values.len();
    let mut out = Vec::with_capacity(groups);
    for g in 0..groups {
        let mean = values.iter().map(|s| s[g]).sum::<f64>() / n as f64;
        if g == 0 {
            out.push(GroupScore {
                group: 0,
                mean,
                difference: None,
                low: None,
                high: None,
                p_value: None,
                p_adjusted: None,
            });
            continue;
        }
        let diffs: Vec<f64> = values.iter().map(|s| s[g] - s[0]).collect();
        let difference = diffs.iter().sum::<f64>() / n as f64;
        let (low, high) = match mean_interval(&diffs, level, resamples, seed ^ g as u64) {
            Some((l, h)) => (Some(l), Some(h)),
            None => (None, None),
        };
        let column: Vec<f64> = values.iter().map(|s| s[g]).collect();
        let reference: Vec<f64> = values.iter().map(|s| s[0]).collect();
        let p_value = Some(wilcoxon(&column, &reference)?.p_value);
        out.push(GroupScore {
            group: g,
            mean,
            difference: Some(difference),
            low,
            high,
            p_value,
            p_adjusted: None,
        });
    }
    let ps: Vec<f64> = out.iter().filter_map(|r| r.p_value).collect();
    let mut adjusted = benjamini_hochberg(&ps).into_iter();
    for r in out.iter_mut().filter(|r| r.p_value.is_some()) {
        r.p_adjusted = adjusted.next();
    }
    Ok(out)
}

/// A seeded percentile bootstrap interval for the mean of `values` (resampled with
/// replacement); `None` without resamples or values.
pub fn mean_interval(values: &[f64], level: f64, resamples: usize, seed: u64) -> Option<(f64, f64)> {
    let n = values.len();
    if resamples == 0 || n == 0 {
        return None;
    }
    let mut rng = SplitMix64(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| values[(rng.next_u64() % n as u64) as usize]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let q = |p: f64| {
        let pos = p * (means.len() - 1) as f64;
        let (a, b) = (pos.floor() as usize, pos.ceil() as usize);
        means[a] + (means[b] - means[a]) * (pos - a as f64)
    };
    let tail = (1.0 - level) / 2.0;
    Some((q(tail), q(1.0 - tail)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flips_rates_and_scores() {
        let labels = vec![vec![1, 1], vec![1, 0], vec![0, 0], vec![2, 1]];
        let f = flip_rate(&labels, 2, 0.95).unwrap();
        assert_eq!((f.flipped, f.sets, f.rate), (2, 4, 0.5));
        assert!(f.low < 0.5 && f.high > 0.5);

        // Group 1 refuses in 6 of 10 sets where group 0 answers, never the other way.
        let flags: Vec<Vec<bool>> = (0..20).map(|i| vec![false, i < 6]).collect();
        let r = group_rates(&flags, 2, 0.95).unwrap();
        assert_eq!((r[1].count, r[1].only_this, r[1].only_reference), (6, 6, 0));
        assert_eq!(r[1].p_value, Some(mcnemar(0, 6).p_exact));
        assert_eq!(r[1].p_adjusted, r[1].p_value, "one comparison: BH changes nothing");
        assert!(r[0].p_value.is_none());

        let values: Vec<Vec<f64>> =
            (0..30).map(|i| vec![i as f64, i as f64 + 2.0 + (i % 3) as f64]).collect();
        let s = group_scores(&values, 2, 0.95, 500, 7).unwrap();
        let d = s[1].difference.unwrap();
        assert!((d - 3.0).abs() < 1e-12);
        assert!(s[1].low.unwrap() <= d && d <= s[1].high.unwrap());
        // All 30 differences positive (tied): scipy.stats.wilcoxon gives 1.2598486800387818e-06.
        assert!((s[1].p_value.unwrap() - 1.259_848_680_038_781_8e-6).abs() < 1e-15);
        assert!(
            group_scores(&[vec![1.0]], 2, 0.95, 0, 0)
                .unwrap_err()
                .to_string()
                .contains("set 0 has 1 outcomes")
        );
    }
}
