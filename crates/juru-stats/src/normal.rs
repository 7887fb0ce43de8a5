//! The standard normal distribution: tail, CDF and quantile, to about 1e-15.

use crate::paired::chi2_sf_1df;

/// P(Z > z).
pub fn sf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    // P(|Z| > |z|) is the chi-squared(1) tail at z².
    let two_sided = chi2_sf_1df(z * z);
    if z >= 0.0 { two_sided / 2.0 } else { 1.0 - two_sided / 2.0 }
}

/// P(Z ≤ z).
pub fn cdf(z: f64) -> f64 {
    sf(-z)
}

/// The two-sided p-value of a z statistic.
pub fn two_sided_p(z: f64) -> f64 {
    if z.is_nan() { f64::NAN } else { chi2_sf_1df(z * z).min(1.0) }
}

/// The quantile function Φ⁻¹(p): Acklam's rational approximation, then one Halley step on the
/// exact CDF.
pub fn ppf(p: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) || p.is_nan() {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    let low = 0.024_25;
    let x = if p < low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    // Halley's step: e = Φ(x) − p, u = e·√(2π)·exp(x²/2).
    let mut x = x;
    for _ in 0..2 {
        // Near 1 the upper tail keeps the digits that 1 − p would lose.
        let e = if x < 0.0 { cdf(x) - p } else { (1.0 - p) - sf(x) };
        let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
        x -= u / (1.0 + x * u / 2.0);
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_quantiles() {
        assert!((ppf(0.975) - 1.959_963_984_540_054).abs() < 1e-13);
        assert!((ppf(0.8) - 0.841_621_233_572_914_2).abs() < 1e-13);
        assert!((ppf(0.5)).abs() < 1e-15);
        assert!((cdf(1.959_963_984_540_054) - 0.975).abs() < 1e-14);
        assert!((ppf(1e-10) + 6.361_340_902_404_056).abs() < 1e-9);
    }
}
