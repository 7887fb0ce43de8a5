//! Turning several annotators' labels into one per item: majority vote, and Dawid–Skene
//! (expectation–maximisation over each annotator's confusion matrix, so that a careful
//! annotator outweighs a careless one without anyone saying who is who).
//!
//! Labels are given per item as (annotator, class) pairs; annotators and classes are indices.

use crate::StatsError;

/// One item's labels: (annotator, class).
pub type Votes = Vec<(usize, usize)>;

/// The aggregated label of each item with its probability per class.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Aggregate {
    /// The most probable class of each item (ties go to the lower class index).
    pub labels: Vec<usize>,
    /// Items × classes probabilities.
    pub posteriors: Vec<Vec<f64>>,
    /// Dawid–Skene only: per annotator, classes × classes, row = true class, column = given label.
    pub confusion: Vec<Vec<Vec<f64>>>,
    /// Dawid–Skene only: how often each class is the true one.
    pub priors: Vec<f64>,
    pub iterations: usize,
}

fn check(items: &[Votes], classes: usize) -> Result<usize, StatsError> {
    if items.is_empty() {
        return Err(StatsError::Empty { metric: "aggregation" });
    }
    let mut annotators = 0;
    for votes in items {
        for &(a, c) in votes {
            if c >= classes {
                return Err(StatsError::ClassOutOfRange { metric: "aggregation", index: c, classes });
            }
            annotators = annotators.max(a + 1);
        }
    }
    Ok(annotators)
}

fn argmax(p: &[f64]) -> usize {
    p.iter().enumerate().fold(0, |best, (k, &v)| if v > p[best] { k } else { best })
}

/// Each item's share of votes per class; an item without votes gets a uniform row.
pub fn majority_vote(items: &[Votes], classes: usize) -> Result<Aggregate, StatsError> {
    check(items, classes)?;
    let posteriors: Vec<Vec<f64>> = items
        .iter()
        .map(|votes| {
            let mut p = vec![0.0; classes];
            for &(_, c) in votes {
                p[c] += 1.0;
            }
            let n = votes.len() as f64;
            p.iter_mut().for_each(|x| *x = if n > 0.0 { *x / n } else { 1.0 / classes as f64 });
            p
        })
        .collect();
    Ok(Aggregate {
        labels: posteriors.iter().map(|p| argmax(p)).collect(),
        posteriors,
        confusion: Vec::new(),
        priors: Vec::new(),
        iterations: 0,
    })
}

/// Dawid & Skene (1979): starts from the majority vote, then alternates estimating each
/// annotator's confusion matrix and class priors (M-step) and each item's class posterior
/// (E-step) until no posterior moves more than `tolerance`, or `max_iterations`. A small
/// additive smoothing keeps a never-seen (class, label) pair from ruling an item out.
pub fn dawid_skene(
    items: &[Votes],
    classes: usize,
    max_iterations: usize,
    tolerance: f64,
) -> Result<Aggregate, StatsError> {
    const SMOOTHING: f64 = 0.01;
    let annotators = check(items, classes)?;
    let mut t = majority_vote(items, classes)?.posteriors;
    let mut confusion = vec![vec![vec![0.0; classes]; classes]; annotators];
    let mut priors = vec![0.0; classes];
    let mut iterations = 0;
    while iterations < max_iterations {
        iterations += 1;
        // M-step.
        for (k, p) in priors.iter_mut().enumerate() {
            *p = (t.iter().map(|row| row[k]).sum::<f64>() + SMOOTHING)
                / (items.len() as f64 + SMOOTHING * classes as f64);
        }
        for m in confusion.iter_mut() {
            m.iter_mut().for_each(|row| row.iter_mut().for_each(|x| *x = SMOOTHING));
        }
        for (votes, row) in items.iter().zip(&t) {
            for &(a, l) in votes {
                for k in 0..classes {
                    confusion[a][k][l] += row[k];
                }
            }
        }
        for m in confusion.iter_mut() {
            for row in m.iter_mut() {
                let s: f64 = row.iter().sum();
                row.iter_mut().for_each(|x| *x /= s);
            }
        }
        // E-step, in logs.
        let mut moved = 0.0f64;
        for (votes, row) in items.iter().zip(t.iter_mut()) {
            let mut logp: Vec<f64> = priors.iter().map(|p| p.ln()).collect();
            for &(a, l) in votes {
                for (k, lp) in logp.iter_mut().enumerate() {
                    *lp += confusion[a][k][l].ln();
                }
            }
            let top = logp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = logp.iter().map(|lp| (lp - top).exp()).sum();
            for (x, lp) in row.iter_mut().zip(&logp) {
                let new = (lp - top).exp() / sum;
                moved = moved.max((new - *x).abs());
                *x = new;
            }
        }
        if moved < tolerance {
            break;
        }
    }
    Ok(Aggregate {
        labels: t.iter().map(|p| argmax(p)).collect(),
        posteriors: t,
        confusion,
        priors,
        iterations,
    })
}
