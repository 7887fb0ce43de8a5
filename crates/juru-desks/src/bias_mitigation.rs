//! What an audit adds when asked: mitigations tried on the audited rows, each reported as a
//! before/after table of fairness and accuracy, and NYC Local Law 144's impact-ratio tables.
//!
//! Groups are the finest intersections of the sensitive attributes. A mitigation's figures use
//! only groups with at least `min_group_size` rows (as the audit's disparities do).
//!
//! - Reweighing changes what a model learns, not the decisions on the table: its table shows the
//!   labels' base rates per group without and with the weights (AIF360 reports the same "mean
//!   difference" before and after), and the weight of each (group, label) cell, which the
//!   built-in trainer takes as a weight column (`weight_field`).
//! - Per-group thresholds re-decide every row from its score: the table shows accuracy and the
//!   disparities with the audited decisions and with the thresholds.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use juru_stats::mitigation::{self, Constraint, ImpactRow};

use crate::Result;
use crate::error::DeskError;

/// A mitigation to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mitigation {
    Reweighing,
    /// Per-group score thresholds giving every group the same selection rate.
    ThresholdsDemographicParity,
    /// Per-group score thresholds giving every group the same true positive rate.
    ThresholdsEqualOpportunity,
}

impl Mitigation {
    pub fn parse(text: &str) -> Result<Mitigation> {
        match text.trim() {
            "reweighing" => Ok(Mitigation::Reweighing),
            "thresholds-dp" | "thresholds_demographic_parity" => Ok(Mitigation::ThresholdsDemographicParity),
            "thresholds-eo" | "thresholds_equal_opportunity" => Ok(Mitigation::ThresholdsEqualOpportunity),
            other => Err(DeskError::invalid(format!(
                "mitigation {other:?}: use reweighing, thresholds-dp or thresholds-eo"
            ))),
        }
    }
}

/// One line of a before/after table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BeforeAfter {
    pub measure: String,
    pub before: Option<f64>,
    pub after: Option<f64>,
}

/// A mitigation's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MitigationResult {
    pub mitigation: Mitigation,
    /// What the table compares, in words.
    pub note: String,
    pub table: Vec<BeforeAfter>,
    /// Per group: the weight of its negative and positive rows (reweighing), or its threshold.
    pub groups: Vec<GroupSetting>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GroupSetting {
    pub group: String,
    pub rows: u64,
    /// Reweighing: the weight of the group's rows labelled negative and positive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<[f64; 2]>,
    /// Thresholds: a row of this group is selected when its score is at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
}

/// One LL144 table: a category set (an attribute, or their intersection).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImpactTable {
    pub categories: String,
    /// `selection` or `scoring` (scores above the sample's median).
    pub rate: String,
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<ImpactRow>,
}

/// The audited rows as the mitigations need them.
pub struct Rows<'a> {
    /// Finest intersection per row, and the names of the intersections.
    pub groups: &'a [u32],
    pub names: &'a [String],
    pub y_true: Option<&'a [bool]>,
    pub y_pred: &'a [bool],
    pub scores: Option<&'a [f64]>,
    pub min_group_size: u64,
    /// The rows decided by the audited model retrained without and with reweighing weights.
    pub retrained: Option<(&'a [bool], &'a [bool])>,
}

/// Weighted confusion sums per group: [tn, fp, fn, tp] (label, decision).
fn cells(rows: &Rows, y_pred: &[bool], weights: Option<&[f64]>) -> Vec<[f64; 4]> {
    let mut out = vec![[0.0; 4]; rows.names.len()];
    for (i, &g) in rows.groups.iter().enumerate() {
        let y = rows.y_true.map_or(y_pred[i], |t| t[i]);
        let w = weights.map_or(1.0, |w| w[i]);
        out[g as usize][usize::from(y) * 2 + usize::from(y_pred[i])] += w;
    }
    out
}

fn counts(rows: &Rows) -> Vec<u64> {
    let mut n = vec![0u64; rows.names.len()];
    for &g in rows.groups {
        n[g as usize] += 1;
    }
    n
}

/// max − min of a per-group rate over the groups with enough rows and a denominator.
fn spread(values: impl Iterator<Item = Option<f64>>) -> Option<(f64, f64)> {
    let v: Vec<f64> = values.flatten().collect();
    if v.len() < 2 {
        return None;
    }
    let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    Some((lo, hi))
}

/// Accuracy and the decision disparities of `y_pred` (unweighted).
fn decision_measures(rows: &Rows, y_pred: &[bool]) -> Vec<(String, Option<f64>)> {
    let c = cells(rows, y_pred, None);
    let n = counts(rows);
    let big = |g: usize| n[g] >= rows.min_group_size;
    let ratio = |num: f64, den: f64| (den > 0.0).then(|| num / den);
    let selection = spread((0..c.len()).filter(|&g| big(g)).map(|g| {
        let s = c[g];
        ratio(s[1] + s[3], s.iter().sum())
    }));
    let mut out = Vec::new();
    if let Some(t) = rows.y_true {
        let correct = t.iter().zip(y_pred).filter(|(a, b)| a == b).count();
        out.push(("accuracy".into(), Some(correct as f64 / t.len() as f64)));
    }
    out.push(("demographic_parity_difference".into(), selection.map(|(lo, hi)| hi - lo)));
    out.push((
        "disparate_impact (min ÷ max selection rate)".into(),
        selection.and_then(|(lo, hi)| ratio(lo, hi)),
    ));
    if rows.y_true.is_some() {
        let tpr = spread((0..c.len()).filter(|&g| big(g)).map(|g| ratio(c[g][3], c[g][2] + c[g][3])));
        let fpr = spread((0..c.len()).filter(|&g| big(g)).map(|g| ratio(c[g][1], c[g][0] + c[g][1])));
        out.push(("equal_opportunity_difference (TPR max − min)".into(), tpr.map(|(lo, hi)| hi - lo)));
        let eo = match (tpr, fpr) {
            (Some(a), Some(b)) => Some((a.1 - a.0).max(b.1 - b.0)),
            _ => None,
        };
        out.push(("equalized_odds_difference".into(), eo));
    }
    out
}

/// Runs one mitigation on the rows.
pub fn run(m: Mitigation, rows: &Rows) -> Result<MitigationResult> {
    let invalid = |e: juru_stats::StatsError| DeskError::invalid(format!("{m:?}: {e}"));
    let n = counts(rows);
    let big = |g: usize| n[g] >= rows.min_group_size;
    match m {
        Mitigation::Reweighing => {
            let labels = rows.y_true.ok_or_else(|| DeskError::invalid("reweighing needs a label column"))?;
            let weights = mitigation::reweighing(rows.groups, labels).map_err(invalid)?;
            // Base rate of the labels per group, without and with the weights.
            let base = |w: Option<&[f64]>| {
                let c = cells(rows, labels, w);
                spread((0..c.len()).filter(|&g| big(g)).map(|g| {
                    let total: f64 = c[g].iter().sum();
                    (total > 0.0).then(|| (c[g][2] + c[g][3]) / total)
                }))
                .map(|(lo, hi)| hi - lo)
            };
            let mut groups: Vec<GroupSetting> = rows
                .names
                .iter()
                .zip(&n)
                .map(|(name, &r)| GroupSetting {
                    group: name.clone(),
                    rows: r,
                    weights: Some([0.0; 2]),
                    threshold: None,
                })
                .collect();
            for (i, &g) in rows.groups.iter().enumerate() {
                if let Some(w) = &mut groups[g as usize].weights {
                    w[usize::from(labels[i])] = weights[i];
                }
            }
            let mut table = vec![BeforeAfter {
                measure: "label base-rate difference".into(),
                before: base(None),
                after: base(Some(&weights)),
            }];
            let note = match rows.retrained {
                Some((plain, weighted)) => {
                    let before = decision_measures(rows, plain);
                    table.extend(decision_measures(rows, weighted).into_iter().zip(before).map(
                        |((measure, after), (_, before))| BeforeAfter {
                            measure: format!("retrained model: {measure}"),
                            before,
                            after,
                        },
                    ));
                    "Base rate of the true labels per group (max − min) without and with the weights; then the \
                     audited classifier trained again on its own training data with its own recipe, without and \
                     with reweighing weights (computed there for these attributes), deciding these rows."
                }
                None => {
                    "Base rate of the true labels per group (max − min), without and with the reweighing weights \
                     (per group below); audit a registry classifier's decisions to see it retrained with them."
                }
            };
            Ok(MitigationResult { mitigation: m, note: note.into(), table, groups })
        }
        Mitigation::ThresholdsDemographicParity | Mitigation::ThresholdsEqualOpportunity => {
            let scores =
                rows.scores.ok_or_else(|| DeskError::invalid("per-group thresholds need a score column"))?;
            let labels =
                rows.y_true.ok_or_else(|| DeskError::invalid("per-group thresholds need a label column"))?;
            let constraint = if m == Mitigation::ThresholdsDemographicParity {
                Constraint::DemographicParity
            } else {
                Constraint::EqualOpportunity
            };
            let fit =
                mitigation::fit_thresholds(rows.groups, scores, labels, constraint, 100).map_err(invalid)?;
            let after: Vec<bool> =
                rows.groups.iter().zip(scores).map(|(&g, &s)| s >= fit.thresholds[g as usize]).collect();
            let before = decision_measures(rows, rows.y_pred);
            let table = decision_measures(rows, &after)
                .into_iter()
                .zip(before)
                .map(|((measure, after), (_, before))| BeforeAfter { measure, before, after })
                .collect();
            Ok(MitigationResult {
                mitigation: m,
                note: format!(
                    "The audited decisions against decisions by per-group thresholds on the scores (equalised rate {:.2}, the best accuracy of 99 targets).",
                    fit.target
                ),
                table,
                groups: rows
                    .names
                    .iter()
                    .zip(&n)
                    .zip(&fit.thresholds)
                    .map(|((name, &r), &t)| GroupSetting {
                        group: name.clone(),
                        rows: r,
                        weights: None,
                        threshold: t.is_finite().then_some(t),
                    })
                    .collect(),
            })
        }
    }
}

/// LL144's tables for one category set: selection rate, and scoring rate when there are scores.
pub fn impact_tables(
    categories: &str,
    codes: &[u32],
    names: &[String],
    y_pred: &[bool],
    scores: Option<&[f64]>,
) -> Result<Vec<ImpactTable>> {
    let invalid = |e: juru_stats::StatsError| DeskError::invalid(format!("LL144 table: {e}"));
    let mut out = vec![ImpactTable {
        categories: categories.into(),
        rate: "selection".into(),
        rows: mitigation::impact_ratios(codes, names, y_pred, 0.02).map_err(invalid)?,
    }];
    if let Some(s) = scores {
        out.push(ImpactTable {
            categories: categories.into(),
            rate: "scoring".into(),
            rows: mitigation::impact_ratios(codes, names, &mitigation::scoring_rate_flags(s), 0.02)
                .map_err(invalid)?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reweighing_evens_base_rates_and_thresholds_narrow_the_gap() {
        // Group a: 60 rows, 2/3 positive; group b: 60 rows, 1/3 positive. Scores follow the
        // label, decisions favour a.
        let mut groups = Vec::new();
        let (mut y, mut p, mut s) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..120u32 {
            let g = i / 60;
            let positive = if g == 0 { i % 3 != 0 } else { i % 3 == 0 };
            let score = if positive { 0.6 + (i % 7) as f64 * 0.05 } else { 0.1 + (i % 5) as f64 * 0.08 };
            groups.push(g);
            y.push(positive);
            s.push(score);
            p.push(if g == 0 { score >= 0.3 } else { score >= 0.75 });
        }
        let names = vec!["a".to_string(), "b".to_string()];
        let rows = Rows {
            groups: &groups,
            names: &names,
            y_true: Some(&y),
            y_pred: &p,
            scores: Some(&s),
            min_group_size: 30,
            retrained: None,
        };
        let r = run(Mitigation::Reweighing, &rows).unwrap();
        let t = &r.table[0];
        assert!((t.before.unwrap() - 1.0 / 3.0).abs() < 1e-12, "{t:?}");
        assert!(t.after.unwrap().abs() < 1e-12, "weights make group and label independent: {t:?}");
        // AIF360's weight for (a, positive): P(a)·P(+) / P(a, +) = 0.5·0.5 / (40/120).
        assert!((r.groups[0].weights.unwrap()[1] - 0.75).abs() < 1e-12);

        let r = run(Mitigation::ThresholdsEqualOpportunity, &rows).unwrap();
        let eo = r.table.iter().find(|x| x.measure.starts_with("equal_opportunity")).unwrap();
        assert!(eo.after.unwrap() < eo.before.unwrap(), "{eo:?}");
        assert!(r.table[0].measure == "accuracy" && r.table[0].after.unwrap() >= r.table[0].before.unwrap());
        let no_scores = Rows { scores: None, ..rows };
        assert!(
            run(Mitigation::ThresholdsDemographicParity, &no_scores)
                .unwrap_err()
                .to_string()
                .contains("need a score column")
        );
    }

    #[test]
    fn impact_tables_exclude_small_categories() {
        let codes: Vec<u32> = (0..100).map(|i| if i == 0 { 2 } else { i % 2 }).collect();
        let names = vec!["x".to_string(), "y".to_string(), "z".to_string()];
        let pred: Vec<bool> = (0..100).map(|i| i % 4 == 1).collect();
        let t = impact_tables("sex", &codes, &names, &pred, None).unwrap();
        assert_eq!(t.len(), 1);
        assert!(t[0].rows[2].excluded && t[0].rows[2].impact_ratio.is_none());
        assert_eq!(t[0].rows[1].impact_ratio, Some(1.0));
        assert_eq!(t[0].rows[0].impact_ratio, Some(0.0));
    }
}
