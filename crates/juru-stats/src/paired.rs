//! Paired tests. On pass/fail outcomes, McNemar's test of whether two runs over the same cases
//! pass at different rates: only the discordant pairs count, `b` cases passed in the baseline
//! and failed in the candidate, `c` failed and then passed. On paired scores (a counterfactual
//! pair's sentiment, length …), Wilcoxon's signed-rank test as scipy computes it.

use crate::StatsError;

/// McNemar's test on a 2×2 table of paired outcomes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct McNemar {
    /// Passed in the baseline, failed in the candidate (regressions).
    pub b: u64,
    /// Failed in the baseline, passed in the candidate (improvements).
    pub c: u64,
    /// The exact two-sided p-value: a binomial test of `min(b, c)` in `b + c` trials at ½.
    pub p_exact: f64,
    /// The chi-squared statistic with Edwards' continuity correction, `(|b − c| − 1)² / (b + c)`.
    pub statistic: f64,
    /// Its p-value on one degree of freedom.
    pub p_chi2: f64,
}

/// McNemar's test from the discordant counts. With no discordant pairs the runs cannot be
/// told apart: both p-values are 1 and the statistic 0.
pub fn mcnemar(b: u64, c: u64) -> McNemar {
    let n = b + c;
    if n == 0 {
        return McNemar { b, c, p_exact: 1.0, statistic: 0.0, p_chi2: 1.0 };
    }
    let k = b.min(c);
    // P(X ≤ k) for X ~ Binomial(n, ½), summed in log space so large n does not underflow.
    let mut log_p = n as f64 * 0.5f64.ln();
    let mut log_terms = Vec::with_capacity(k as usize + 1);
    log_terms.push(log_p);
    for i in 1..=k {
        log_p += ((n - i + 1) as f64).ln() - (i as f64).ln();
        log_terms.push(log_p);
    }
    let top = log_terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tail = top.exp() * log_terms.iter().map(|t| (t - top).exp()).sum::<f64>();
    let p_exact = (2.0 * tail).min(1.0);
    // Taken literally, as statsmodels does: equal counts give 1 / (b + c), not 0.
    let statistic = ((b as f64 - c as f64).abs() - 1.0).powi(2) / n as f64;
    McNemar { b, c, p_exact, statistic, p_chi2: chi2_sf_1df(statistic) }
}

/// McNemar's test from paired outcomes (`baseline[i]`, `candidate[i]`: passed or not).
pub fn mcnemar_paired(baseline: &[bool], candidate: &[bool]) -> Result<McNemar, StatsError> {
    if baseline.len() != candidate.len() {
        return Err(StatsError::LengthMismatch {
            metric: "McNemar",
            lhs: "baseline",
            lhs_len: baseline.len(),
            rhs: "candidate",
            rhs_len: candidate.len(),
        });
    }
    let (mut b, mut c) = (0, 0);
    for (&x, &y) in baseline.iter().zip(candidate) {
        match (x, y) {
            (true, false) => b += 1,
            (false, true) => c += 1,
            _ => {}
        }
    }
    Ok(mcnemar(b, c))
}

/// Wilcoxon's signed-rank test of paired differences.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wilcoxon {
    /// Non-zero differences (zeros are dropped, scipy's `zero_method="wilcox"`).
    pub n: usize,
    /// The smaller of the positive and negative rank sums.
    pub statistic: f64,
    /// The two-sided p-value: exact for up to 50 differences without ties, else the normal
    /// approximation with the tie correction and no continuity correction (scipy's defaults).
    pub p_value: f64,
    pub exact: bool,
}

/// Wilcoxon's signed-rank test on `x − y`.
pub fn wilcoxon(x: &[f64], y: &[f64]) -> Result<Wilcoxon, StatsError> {
    if x.len() != y.len() {
        return Err(StatsError::LengthMismatch {
            metric: "Wilcoxon signed-rank",
            lhs: "x",
            lhs_len: x.len(),
            rhs: "y",
            rhs_len: y.len(),
        });
    }
    let mut d: Vec<f64> = x.iter().zip(y).map(|(a, b)| a - b).filter(|d| *d != 0.0).collect();
    if d.iter().any(|v| !v.is_finite()) {
        return Err(StatsError::Invalid {
            metric: "Wilcoxon signed-rank",
            reason: "a value is not finite".into(),
        });
    }
    let n = d.len();
    if n == 0 {
        return Ok(Wilcoxon { n, statistic: 0.0, p_value: 1.0, exact: true });
    }
    // Average ranks of |d|, and the tie groups' sizes.
    d.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
    let mut ranks = vec![0.0; n];
    let mut ties = Vec::new();
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && d[j].abs() == d[i].abs() {
            j += 1;
        }
        let rank = (i + j + 1) as f64 / 2.0;
        ranks[i..j].iter_mut().for_each(|r| *r = rank);
        if j - i > 1 {
            ties.push((j - i) as f64);
        }
        i = j;
    }
    let plus: f64 = d.iter().zip(&ranks).filter(|(v, _)| **v > 0.0).map(|(_, r)| r).sum();
    let minus: f64 = d.iter().zip(&ranks).filter(|(v, _)| **v < 0.0).map(|(_, r)| r).sum();
    let statistic = plus.min(minus);
    if n <= 50 && ties.is_empty() {
        // The null distribution of the positive rank sum: counts over the 2ⁿ sign patterns.
        let max = n * (n + 1) / 2;
        let mut counts = vec![0f64; max + 1];
        counts[0] = 1.0;
        for k in 1..=n {
            for s in (k..=max).rev() {
                counts[s] += counts[s - k];
            }
        }
        let total = 2f64.powi(n as i32);
        let below: f64 = counts[..=(statistic as usize)].iter().sum();
        return Ok(Wilcoxon { n, statistic, p_value: (2.0 * below / total).min(1.0), exact: true });
    }
    let nf = n as f64;
    let mean = nf * (nf + 1.0) / 4.0;
    let var = (nf * (nf + 1.0) * (2.0 * nf + 1.0)
        - 0.5 * ties.iter().map(|t| t * (t * t - 1.0)).sum::<f64>())
        / 24.0;
    let z = (statistic - mean) / var.sqrt();
    Ok(Wilcoxon { n, statistic, p_value: crate::normal::two_sided_p(z), exact: false })
}

/// The survival function of chi-squared with one degree of freedom: `Q(½, x/2)`.
pub fn chi2_sf_1df(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    upper_gamma_regularized(0.5, x / 2.0)
}

/// ln Γ(½) = ln √π.
const LN_GAMMA_HALF: f64 = 0.572_364_942_924_700_1;

/// The regularized upper incomplete gamma function Q(a, x) for a = ½: a series below a + 1,
/// Lentz's continued fraction above (Numerical Recipes' split), each to machine precision.
fn upper_gamma_regularized(a: f64, x: f64) -> f64 {
    debug_assert!((a - 0.5).abs() < f64::EPSILON, "only a = 1/2 is needed");
    let prefactor = (-x + a * x.ln() - LN_GAMMA_HALF).exp();
    if x < a + 1.0 {
        let (mut term, mut sum, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..1000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-17 {
                break;
            }
        }
        return 1.0 - sum * prefactor;
    }
    let tiny = 1e-300;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / tiny;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..1000 {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < tiny {
            d = tiny;
        }
        c = b + an / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < 1e-17 {
            break;
        }
    }
    prefactor * h
}
