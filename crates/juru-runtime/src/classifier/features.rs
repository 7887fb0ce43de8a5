//! Text to sparse features: lowercased words and word bigrams, and character n-grams inside
//! word boundaries (each word padded with a space on both sides), hashed into 2^bits buckets
//! with a sign bit (so that collisions cancel on average rather than add up), counted, and
//! scaled to unit length.

use serde::{Deserialize, Serialize};

/// How text becomes features. Stored in the model file; changing it changes the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// Buckets are `2^hash_bits`.
    pub hash_bits: u32,
    /// Word n-gram sizes, inclusive (`[1, 2]`: words and bigrams).
    pub word_ngrams: [usize; 2],
    /// Character n-gram sizes inside words, inclusive; `[0, 0]` for none.
    pub char_ngrams: [usize; 2],
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig { hash_bits: 18, word_ngrams: [1, 2], char_ngrams: [2, 4] }
    }
}

/// A sparse feature vector: (bucket, value) pairs with distinct buckets.
pub type Sparse = Vec<(u32, f32)>;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    // A final mix so that similar n-grams spread over the buckets.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

impl FeatureConfig {
    pub fn dims(&self) -> usize {
        1usize << self.hash_bits
    }

    /// Features of one text, reusing `out` and `scratch` to avoid allocation.
    pub fn featurize_into(&self, text: &str, out: &mut Sparse, scratch: &mut Vec<(u32, f32)>) {
        scratch.clear();
        let lower = text.to_lowercase();
        let words: Vec<&str> =
            lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
        let mask = (self.dims() - 1) as u64;
        let mut push = |h: u64| {
            let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
            scratch.push(((h & mask) as u32, sign));
        };
        let [wmin, wmax] = self.word_ngrams;
        for n in wmin.max(1)..=wmax {
            for gram in words.windows(n) {
                let mut h = FNV_OFFSET ^ (n as u64);
                for (i, w) in gram.iter().enumerate() {
                    if i > 0 {
                        h = fnv(h, b" ");
                    }
                    h = fnv(h, w.as_bytes());
                }
                push(h);
            }
        }
        let [cmin, cmax] = self.char_ngrams;
        if cmax > 0 {
            let mut chars: Vec<char> = Vec::new();
            let mut buf = [0u8; 4];
            for w in &words {
                chars.clear();
                chars.push(' ');
                chars.extend(w.chars());
                chars.push(' ');
                for n in cmin.max(1)..=cmax {
                    if n > chars.len() {
                        break;
                    }
                    for gram in chars.windows(n) {
                        let mut h = FNV_OFFSET ^ (0x100 + n as u64);
                        for c in gram {
                            h = fnv(h, c.encode_utf8(&mut buf).as_bytes());
                        }
                        push(h);
                    }
                }
            }
        }
        scratch.sort_unstable_by_key(|&(i, _)| i);
        out.clear();
        for &(i, v) in scratch.iter() {
            match out.last_mut() {
                Some((j, acc)) if *j == i => *acc += v,
                _ => out.push((i, v)),
            }
        }
        out.retain(|&(_, v)| v != 0.0);
        let norm = out.iter().map(|&(_, v)| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            for (_, v) in out.iter_mut() {
                *v /= norm;
            }
        }
    }

    pub fn featurize(&self, text: &str) -> Sparse {
        let (mut out, mut scratch) = (Vec::new(), Vec::new());
        self.featurize_into(text, &mut out, &mut scratch);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_unit_length_sorted_and_case_blind() {
        let f = FeatureConfig::default();
        let a = f.featurize("Barang BAGUS, kirim cepat!");
        let b = f.featurize("barang bagus kirim cepat");
        assert_eq!(a, b);
        let norm: f32 = a.iter().map(|(_, v)| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        assert!(a.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(a.iter().all(|&(i, _)| (i as usize) < f.dims()));
        assert!(f.featurize("  ,;  ").is_empty());
    }

    #[test]
    fn words_share_features_with_their_variants() {
        let f = FeatureConfig::default();
        let dot = |x: &Sparse, y: &Sparse| {
            let mut s = 0.0;
            let (mut i, mut j) = (0, 0);
            while i < x.len() && j < y.len() {
                match x[i].0.cmp(&y[j].0) {
                    std::cmp::Ordering::Less => i += 1,
                    std::cmp::Ordering::Greater => j += 1,
                    std::cmp::Ordering::Equal => {
                        s += x[i].1 * y[j].1;
                        i += 1;
                        j += 1;
                    }
                }
            }
            s
        };
        let near = dot(&f.featurize("pengiriman"), &f.featurize("pengirimannya"));
        let far = dot(&f.featurize("pengiriman"), &f.featurize("kualitas"));
        assert!(near > 0.5 && far.abs() < 0.2, "near {near}, far {far}");
    }
}
