//! The built-in text classifier: hashed n-gram features ([`features`]) and multinomial logistic
//! regression trained with AdaGrad over shuffled epochs, with class weights, sample weights and
//! a fixed seed (the same data, config and seed give the same model, bit for bit). Models are
//! saved in the format described in [`format`].

pub mod features;
pub mod format;

use serde::{Deserialize, Serialize};

pub use features::{FeatureConfig, Sparse};

use crate::RuntimeError;

/// How to weigh classes against each other.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeights {
    /// Every example counts once.
    #[default]
    None,
    /// Inversely proportional to class frequency, as scikit-learn's `"balanced"`:
    /// `n / (classes * count(class))`.
    Balanced,
    /// One weight per class, in label order.
    Given(Vec<f32>),
}

/// Training settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub features: FeatureConfig,
    pub epochs: usize,
    /// AdaGrad's base learning rate.
    pub learning_rate: f64,
    /// L2 penalty, applied to the weights an example touches.
    pub l2: f64,
    pub class_weights: ClassWeights,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            features: FeatureConfig::default(),
            epochs: 4,
            learning_rate: 0.4,
            l2: 1e-6,
            class_weights: ClassWeights::None,
            seed: 42,
        }
    }
}

/// A trained classifier.
#[derive(Debug, Clone, PartialEq)]
pub struct Classifier {
    pub labels: Vec<String>,
    pub features: FeatureConfig,
    /// Feature-major: the weights of feature `f` are `weights[f * k .. (f + 1) * k]`.
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
    /// What it was trained on and how, kept in the model file.
    pub info: serde_json::Value,
}

/// Labelled examples for training.
pub struct Examples<'a> {
    pub texts: &'a [String],
    /// Class index of each text, below `labels.len()`.
    pub targets: &'a [usize],
    pub labels: &'a [String],
    /// One weight per text; all 1 when absent.
    pub sample_weights: Option<&'a [f32]>,
}

fn softmax_in_place(z: &mut [f32]) {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in z.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in z.iter_mut() {
        *v /= sum;
    }
}

/// Maps `f` over contiguous parts of `items`, one part per core, keeping the order. Small
/// inputs stay on the calling thread.
fn in_parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> Vec<R> + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(16);
    if threads < 2 || items.len() < 2048 {
        return f(items);
    }
    let size = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items.chunks(size).map(|part| scope.spawn(|| f(part))).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
}

fn featurize_all(features: &FeatureConfig, texts: &[String]) -> Vec<Sparse> {
    in_parallel(texts, |part| {
        let mut scratch = Vec::new();
        part.iter()
            .map(|t| {
                let mut row = Vec::new();
                features.featurize_into(t, &mut row, &mut scratch);
                row.shrink_to_fit();
                row
            })
            .collect()
    })
}

impl Classifier {
    /// Trains on `examples`. `progress(epoch, epochs)` is called after each epoch.
    pub fn train(
        examples: &Examples<'_>,
        config: &TrainConfig,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Classifier, RuntimeError> {
        let (n, k) = (examples.texts.len(), examples.labels.len());
        if n == 0 {
            return Err(RuntimeError::Training("no examples".into()));
        }
        if k < 2 {
            return Err(RuntimeError::Training(format!("need at least 2 classes, got {k}")));
        }
        if examples.targets.len() != n {
            return Err(RuntimeError::Training(format!("{n} texts but {} labels", examples.targets.len())));
        }
        if let Some(&bad) = examples.targets.iter().find(|&&t| t >= k) {
            return Err(RuntimeError::Training(format!("class index {bad} is not below {k}")));
        }
        if let Some(w) = examples.sample_weights {
            if w.len() != n {
                return Err(RuntimeError::Training(format!("{n} texts but {} sample weights", w.len())));
            }
            if w.iter().any(|x| !x.is_finite() || *x < 0.0) {
                return Err(RuntimeError::Training("sample weights must be finite and not negative".into()));
            }
        }
        if !(1..=24).contains(&config.features.hash_bits) {
            return Err(RuntimeError::Training(format!(
                "hash_bits must be 1 to 24, got {}",
                config.features.hash_bits
            )));
        }
        let class_weight: Vec<f32> = match &config.class_weights {
            ClassWeights::None => vec![1.0; k],
            ClassWeights::Balanced => {
                let mut counts = vec![0usize; k];
                for &t in examples.targets {
                    counts[t] += 1;
                }
                counts.iter().map(|&c| if c == 0 { 0.0 } else { n as f32 / (k as f32 * c as f32) }).collect()
            }
            ClassWeights::Given(w) if w.len() == k => w.clone(),
            ClassWeights::Given(w) => {
                return Err(RuntimeError::Training(format!("{} class weights for {k} classes", w.len())));
            }
        };

        // Features are computed once, on every core; rows are kept as (bucket, value) pairs.
        let rows: Vec<Sparse> = featurize_all(&config.features, examples.texts);
        let dims = config.features.dims();
        let mut weights = vec![0f32; dims * k];
        let mut bias = vec![0f32; k];
        let mut g_weights = vec![0f32; dims * k];
        let mut g_bias = vec![0f32; k];
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = juru_stats::random::SplitMix64(config.seed);
        let (lr, l2, eps) = (config.learning_rate as f32, config.l2 as f32, 1e-8f32);
        let mut z = vec![0f32; k];
        for epoch in 0..config.epochs {
            rng.shuffle(&mut order);
            for &i in &order {
                let row = &rows[i];
                let w_i = class_weight[examples.targets[i]] * examples.sample_weights.map_or(1.0, |s| s[i]);
                if w_i == 0.0 {
                    continue;
                }
                z.copy_from_slice(&bias);
                for &(f, x) in row {
                    let base = f as usize * k;
                    for (c, zc) in z.iter_mut().enumerate() {
                        *zc += weights[base + c] * x;
                    }
                }
                softmax_in_place(&mut z);
                // z now holds the gradient of the loss with respect to the logits.
                z[examples.targets[i]] -= 1.0;
                for c in 0..k {
                    let g = z[c] * w_i;
                    g_bias[c] += g * g;
                    bias[c] -= lr * g / (g_bias[c].sqrt() + eps);
                }
                for &(f, x) in row {
                    let base = f as usize * k;
                    for c in 0..k {
                        let g = z[c] * w_i * x + l2 * weights[base + c];
                        g_weights[base + c] += g * g;
                        weights[base + c] -= lr * g / (g_weights[base + c].sqrt() + eps);
                    }
                }
            }
            progress(epoch + 1, config.epochs);
        }
        Ok(Classifier {
            labels: examples.labels.to_vec(),
            features: config.features.clone(),
            weights,
            bias,
            info: serde_json::json!({"train_config": config, "examples": n}),
        })
    }

    /// Class probabilities of one text, in label order.
    pub fn predict_proba(&self, text: &str) -> Vec<f32> {
        self.proba_of(&self.features.featurize(text))
    }

    fn proba_of(&self, row: &Sparse) -> Vec<f32> {
        let k = self.labels.len();
        let mut z = self.bias.clone();
        for &(f, x) in row {
            let base = f as usize * k;
            for (c, zc) in z.iter_mut().enumerate() {
                *zc += self.weights[base + c] * x;
            }
        }
        softmax_in_place(&mut z);
        z
    }

    /// The most probable class of each text and its probability.
    pub fn predict_batch(&self, texts: &[String]) -> Vec<(usize, f32)> {
        let (mut row, mut scratch) = (Vec::new(), Vec::new());
        texts
            .iter()
            .map(|t| {
                self.features.featurize_into(t, &mut row, &mut scratch);
                let p = self.proba_of(&row);
                p.iter()
                    .copied()
                    .enumerate()
                    .fold((0, f32::MIN), |best, (c, v)| if v > best.1 { (c, v) } else { best })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> (Vec<String>, Vec<usize>, Vec<String>) {
        let pos = [
            "barang bagus sekali",
            "pengiriman cepat mantap",
            "penjual ramah, puas",
            "kualitas oke, suka",
            "mantap, cepat sampai",
        ];
        let neg = [
            "barang rusak parah",
            "pengiriman lambat sekali",
            "penjual kasar, kecewa",
            "kualitas jelek, kecewa",
            "rusak dan telat",
        ];
        let mut texts = Vec::new();
        let mut y = Vec::new();
        for _ in 0..20 {
            for t in pos {
                texts.push(t.to_string());
                y.push(0);
            }
            for t in neg {
                texts.push(t.to_string());
                y.push(1);
            }
        }
        (texts, y, vec!["positif".into(), "negatif".into()])
    }

    #[test]
    fn learns_and_is_reproducible() {
        let (texts, y, labels) = toy();
        let ex = Examples { texts: &texts, targets: &y, labels: &labels, sample_weights: None };
        let mut epochs_seen = 0;
        let a = Classifier::train(&ex, &TrainConfig::default(), |e, _| epochs_seen = e).unwrap();
        assert_eq!(epochs_seen, TrainConfig::default().epochs);
        let b = Classifier::train(&ex, &TrainConfig::default(), |_, _| {}).unwrap();
        assert_eq!(a, b, "same data, config and seed give the same model");
        let p = a.predict_proba("barangnya bagus dan cepat");
        assert!(p[0] > 0.8, "{p:?}");
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!(a.predict_batch(&["sangat kecewa, rusak".to_string()])[0].0, 1);
        let c =
            Classifier::train(&ex, &TrainConfig { seed: 7, ..TrainConfig::default() }, |_, _| {}).unwrap();
        assert_ne!(a.weights, c.weights, "another seed shuffles differently");
    }

    #[test]
    fn zero_sample_weight_removes_an_example() {
        let texts = vec!["bagus".to_string(), "jelek".to_string(), "bagus".to_string()];
        let labels = vec!["a".to_string(), "b".to_string()];
        // The third example contradicts the first; with weight 0 it must not matter.
        let ex = Examples {
            texts: &texts,
            targets: &[0, 1, 1],
            labels: &labels,
            sample_weights: Some(&[1.0, 1.0, 0.0]),
        };
        let m =
            Classifier::train(&ex, &TrainConfig { epochs: 30, ..TrainConfig::default() }, |_, _| {}).unwrap();
        assert!(m.predict_proba("bagus")[0] > 0.9);
    }

    #[test]
    fn balanced_class_weights_lift_the_rare_class() {
        let mut texts = vec!["biasa saja".to_string(); 95];
        texts.extend(vec!["biasa saja kok".to_string(); 5]);
        let mut y = vec![0; 95];
        y.extend(vec![1; 5]);
        let labels = vec!["umum".to_string(), "langka".to_string()];
        let ex = Examples { texts: &texts, targets: &y, labels: &labels, sample_weights: None };
        let plain = Classifier::train(&ex, &TrainConfig::default(), |_, _| {}).unwrap();
        let cfg = TrainConfig { class_weights: ClassWeights::Balanced, ..TrainConfig::default() };
        let balanced = Classifier::train(&ex, &cfg, |_, _| {}).unwrap();
        assert!(balanced.predict_proba("biasa saja kok")[1] > plain.predict_proba("biasa saja kok")[1]);
    }

    #[test]
    fn bad_training_input_is_refused() {
        let texts = vec!["a".to_string()];
        let one = vec!["x".to_string()];
        let ex = Examples { texts: &texts, targets: &[0], labels: &one, sample_weights: None };
        assert!(
            Classifier::train(&ex, &TrainConfig::default(), |_, _| {})
                .unwrap_err()
                .to_string()
                .contains("2 classes")
        );
        let two = vec!["x".to_string(), "y".to_string()];
        let ex = Examples { texts: &texts, targets: &[5], labels: &two, sample_weights: None };
        assert!(Classifier::train(&ex, &TrainConfig::default(), |_, _| {}).is_err());
    }
}
