//! Bias mitigation and the NYC Local Law 144 impact-ratio table.
//!
//! - Reweighing (Kamiran and Calders 2012, as AIF360's `Reweighing`): each (group, label) cell
//!   gets the weight P(group)·P(label) ÷ P(group, label), so that group and label are
//!   independent under the weights; a trainer that takes sample weights learns from them.
//! - Per-group thresholds on scores for a chosen constraint: every group gets the threshold that
//!   gives it the same target selection rate (demographic parity) or true positive rate (equal
//!   opportunity); the target is the one, over a grid, with the best accuracy.
//! - LL144: selection (or scoring) rate per category and its ratio to the highest rate;
//!   categories with under 2 % of the rows may be left out of the ratios and are shown apart.

use serde::{Deserialize, Serialize};

use crate::StatsError;

/// Reweighing weights per row. `groups[i]` is row i's group, `labels[i]` its true label.
pub fn reweighing(groups: &[u32], labels: &[bool]) -> Result<Vec<f64>, StatsError> {
    if groups.len() != labels.len() {
        return Err(StatsError::LengthMismatch {
            metric: "reweighing",
            lhs: "groups",
            lhs_len: groups.len(),
            rhs: "labels",
            rhs_len: labels.len(),
        });
    }
    if groups.is_empty() {
        return Err(StatsError::Empty { metric: "reweighing" });
    }
    let k = groups.iter().copied().max().unwrap_or(0) as usize + 1;
    let mut cell = vec![[0u64; 2]; k];
    let mut label = [0u64; 2];
    for (&g, &y) in groups.iter().zip(labels) {
        cell[g as usize][y as usize] += 1;
        label[y as usize] += 1;
    }
    let n = groups.len() as f64;
    Ok(groups
        .iter()
        .zip(labels)
        .map(|(&g, &y)| {
            let c = &cell[g as usize];
            let group = (c[0] + c[1]) as f64;
            group * label[y as usize] as f64 / (n * c[y as usize] as f64)
        })
        .collect())
}

/// What per-group thresholds equalise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Constraint {
    /// The same selection rate in every group.
    DemographicParity,
    /// The same true positive rate in every group.
    EqualOpportunity,
}

/// Per-group thresholds: a row is selected when its score is at least its group's threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub constraint: Constraint,
    /// The equalised rate chosen.
    pub target: f64,
    pub thresholds: Vec<f64>,
    pub accuracy: f64,
}

/// The threshold that selects about `rate` of `sorted` (descending) scores.
fn threshold_for(sorted_desc: &[f64], rate: f64) -> f64 {
    if sorted_desc.is_empty() {
        return f64::INFINITY;
    }
    let k = (rate * sorted_desc.len() as f64).round() as usize;
    if k == 0 { f64::INFINITY } else { sorted_desc[k.min(sorted_desc.len()) - 1] }
}

/// Finds per-group thresholds for `constraint`, choosing among `steps` targets in (0, 1) the
/// one with the best accuracy.
pub fn fit_thresholds(
    groups: &[u32],
    scores: &[f64],
    labels: &[bool],
    constraint: Constraint,
    steps: usize,
) -> Result<Thresholds, StatsError> {
    const METRIC: &str = "threshold optimizer";
    if groups.len() != scores.len() || groups.len() != labels.len() {
        return Err(StatsError::Invalid {
            metric: METRIC,
            reason: format!("{} groups, {} scores and {} labels", groups.len(), scores.len(), labels.len()),
        });
    }
    if groups.is_empty() {
        return Err(StatsError::Empty { metric: METRIC });
    }
    if let Some(bad) = scores.iter().find(|s| !s.is_finite()) {
        return Err(StatsError::Invalid { metric: METRIC, reason: format!("a score is {bad}") });
    }
    let k = groups.iter().copied().max().unwrap_or(0) as usize + 1;
    // Per group: all scores and the positives' scores, descending.
    let mut all = vec![Vec::new(); k];
    let mut pos = vec![Vec::new(); k];
    for ((&g, &s), &y) in groups.iter().zip(scores).zip(labels) {
        all[g as usize].push(s);
        if y {
            pos[g as usize].push(s);
        }
    }
    if constraint == Constraint::EqualOpportunity
        && let Some(g) = (0..k).find(|&g| !all[g].is_empty() && pos[g].is_empty())
    {
        return Err(StatsError::Invalid {
            metric: METRIC,
            reason: format!("group {g} has no positive labels; equal opportunity needs some in every group"),
        });
    }
    for v in all.iter_mut().chain(pos.iter_mut()) {
        v.sort_by(|a, b| b.total_cmp(a));
    }
    let steps = steps.max(2);
    let mut best: Option<Thresholds> = None;
    for step in 1..steps {
        let target = step as f64 / steps as f64;
        let thresholds: Vec<f64> = (0..k)
            .map(|g| match constraint {
                Constraint::DemographicParity => threshold_for(&all[g], target),
                Constraint::EqualOpportunity => threshold_for(&pos[g], target),
            })
            .collect();
        let correct = groups
            .iter()
            .zip(scores)
            .zip(labels)
            .filter(|((g, s), y)| (**s >= thresholds[**g as usize]) == **y)
            .count();
        let accuracy = correct as f64 / groups.len() as f64;
        if best.as_ref().is_none_or(|b| accuracy > b.accuracy) {
            best = Some(Thresholds { constraint, target, thresholds, accuracy });
        }
    }
    best.ok_or(StatsError::Empty { metric: METRIC })
}

/// One category's row of the LL144 table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImpactRow {
    pub category: String,
    pub rows: u64,
    pub selected: u64,
    pub rate: f64,
    /// Rate ÷ the highest rate among the categories kept; absent for excluded ones.
    pub impact_ratio: Option<f64>,
    /// Left out of the ratios for having under the small-category share of the rows.
    pub excluded: bool,
}

/// The LL144 impact-ratio table. `selected[i]` is whether row i was selected (selection
/// rate) or scored above the sample's median (scoring rate: use `scoring_rate_flags`).
/// Categories with under `min_share` of the rows (LL144's optional 2 %) are excluded.
pub fn impact_ratios(
    categories: &[u32],
    names: &[String],
    selected: &[bool],
    min_share: f64,
) -> Result<Vec<ImpactRow>, StatsError> {
    if categories.len() != selected.len() {
        return Err(StatsError::LengthMismatch {
            metric: "impact ratio",
            lhs: "categories",
            lhs_len: categories.len(),
            rhs: "selected",
            rhs_len: selected.len(),
        });
    }
    if categories.is_empty() {
        return Err(StatsError::Empty { metric: "impact ratio" });
    }
    let mut counts = vec![(0u64, 0u64); names.len()];
    for (&c, &s) in categories.iter().zip(selected) {
        let slot = counts.get_mut(c as usize).ok_or_else(|| StatsError::Invalid {
            metric: "impact ratio",
            reason: format!("category code {c} but {} names", names.len()),
        })?;
        slot.0 += 1;
        slot.1 += s as u64;
    }
    let n = categories.len() as f64;
    let excluded: Vec<bool> =
        counts.iter().map(|&(rows, _)| rows == 0 || (rows as f64) < min_share * n).collect();
    let best = counts
        .iter()
        .zip(&excluded)
        .filter(|(_, e)| !**e)
        .map(|(&(rows, sel), _)| sel as f64 / rows as f64)
        .fold(0.0, f64::max);
    Ok(names
        .iter()
        .zip(counts)
        .zip(excluded)
        .map(|((name, (rows, sel)), excluded)| {
            let rate = if rows == 0 { 0.0 } else { sel as f64 / rows as f64 };
            ImpactRow {
                category: name.clone(),
                rows,
                selected: sel,
                rate,
                impact_ratio: (!excluded && best > 0.0).then(|| rate / best),
                excluded,
            }
        })
        .collect())
}

/// LL144's scoring rate: whether each score is above the median score of the whole sample.
pub fn scoring_rate_flags(scores: &[f64]) -> Vec<bool> {
    if scores.is_empty() {
        return Vec::new();
    }
    let mut sorted: Vec<f64> = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    let m = sorted.len();
    let median = if m % 2 == 1 { sorted[m / 2] } else { (sorted[m / 2 - 1] + sorted[m / 2]) / 2.0 };
    scores.iter().map(|&s| s > median).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reweighing_makes_group_and_label_independent() {
        let g = [0, 0, 0, 1, 1, 1, 1, 1];
        let y = [true, false, false, true, true, true, false, true];
        let w = reweighing(&g, &y).unwrap();
        // Weighted positive rate is the same in both groups.
        let rate = |grp: u32| {
            let (mut pos, mut all) = (0.0, 0.0);
            for i in 0..g.len() {
                if g[i] == grp {
                    all += w[i];
                    pos += if y[i] { w[i] } else { 0.0 };
                }
            }
            pos / all
        };
        assert!((rate(0) - rate(1)).abs() < 1e-12);
        assert!((w.iter().sum::<f64>() - 8.0).abs() < 1e-12);
    }

    #[test]
    fn thresholds_equalise_the_chosen_rate() {
        let mut rng = crate::random::SplitMix64(9);
        let n = 2000;
        let g: Vec<u32> = (0..n).map(|i| (i % 2) as u32).collect();
        let y: Vec<bool> = (0..n).map(|_| rng.next_u64().is_multiple_of(2)).collect();
        let s: Vec<f64> = (0..n)
            .map(|i| {
                let noise = (rng.next_u64() % 1000) as f64 / 2000.0;
                (if y[i] { 0.4 } else { 0.1 }) + noise + if g[i] == 1 { 0.2 } else { 0.0 }
            })
            .collect();
        let t = fit_thresholds(&g, &s, &y, Constraint::DemographicParity, 50).unwrap();
        let rate = |grp: u32| {
            let idx: Vec<usize> = (0..n).filter(|&i| g[i] == grp).collect();
            idx.iter().filter(|&&i| s[i] >= t.thresholds[grp as usize]).count() as f64 / idx.len() as f64
        };
        assert!((rate(0) - rate(1)).abs() < 0.01, "{} {}", rate(0), rate(1));
        assert!(t.accuracy > 0.6);
    }

    #[test]
    fn small_categories_are_left_out_of_the_ratios() {
        let names: Vec<String> = ["a", "b", "tiny"].iter().map(|s| s.to_string()).collect();
        let mut cats = vec![0u32; 60];
        cats.extend(vec![1u32; 39]);
        cats.push(2);
        let sel: Vec<bool> =
            cats.iter().enumerate().map(|(i, &c)| if c == 0 { i % 2 == 0 } else { i % 4 == 0 }).collect();
        let t = impact_ratios(&cats, &names, &sel, 0.02).unwrap();
        assert_eq!(t[0].impact_ratio, Some(1.0));
        assert!(t[2].excluded && t[2].impact_ratio.is_none());
        assert!((t[1].impact_ratio.unwrap() - t[1].rate / t[0].rate).abs() < 1e-15);
        assert_eq!(scoring_rate_flags(&[1.0, 2.0, 3.0, 4.0]), vec![false, false, true, true]);
    }
}
