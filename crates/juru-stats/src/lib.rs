//! Pure numeric code for the desks: classification metrics and calibration, inter-annotator
//! agreement, paired tests, group fairness with intervals; A/B statistics and drift as the desks
//! that need them arrive. No IO, no async.
//! Every figure is checked against the reference implementation (scikit-learn, numpy) on the
//! same data: see `tests/data/` and the script that made the expected values.

pub mod aggregation;
pub mod agreement;
pub mod bbq;
pub mod classification;
pub mod counterfactual;
pub mod fairness;
pub mod mitigation;
pub mod normal;
pub mod paired;
pub mod random;

/// What can go wrong when computing a statistic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatsError {
    #[error("{metric}: {lhs} has {lhs_len} values but {rhs} has {rhs_len}")]
    LengthMismatch {
        metric: &'static str,
        lhs: &'static str,
        lhs_len: usize,
        rhs: &'static str,
        rhs_len: usize,
    },
    #[error("{metric}: no values")]
    Empty { metric: &'static str },
    #[error("{metric}: class index {index} is not below the number of classes {classes}")]
    ClassOutOfRange { metric: &'static str, index: usize, classes: usize },
    #[error("{metric}: {reason}")]
    Invalid { metric: &'static str, reason: String },
    #[error("{metric}: {what} must be in [0, 1], got {value}")]
    OutOfUnitRange { metric: &'static str, what: &'static str, value: String },
}
