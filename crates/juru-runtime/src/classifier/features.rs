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
/// Tags that keep word n-grams and character n-grams of each length apart.
const WORD_TAG: u64 = 0;
const CHAR_TAG: u64 = 0x100;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// The final mix: the n-gram's tag and length, then a 64-bit finalizer so that similar
/// n-grams spread over the buckets.
fn finish(h: u64, tag: u64) -> u64 {
    let mut h = h ^ tag;
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
        // Word n-grams: the FNV-1a hash of the words joined by single spaces, extended one word
        // at a time from each start.
        let [wmin, wmax] = self.word_ngrams;
        for start in 0..words.len() {
            let mut h = FNV_OFFSET;
            for n in 1..=wmax.min(words.len() - start) {
                if n > 1 {
                    h = fnv(h, b" ");
                }
                h = fnv(h, words[start + n - 1].as_bytes());
                if n >= wmin {
                    push(finish(h, WORD_TAG + n as u64));
                }
            }
        }
        // Character n-grams of each word padded with a space on both sides, likewise extended
        // one character (its UTF-8 bytes) at a time.
        let [cmin, cmax] = self.char_ngrams;
        if cmax > 0 {
            let mut padded = String::new();
            for w in &words {
                padded.clear();
                padded.push(' ');
                padded.push_str(w);
                padded.push(' ');
                let starts: Vec<usize> =
                    padded.char_indices().map(|(i, _)| i).chain([padded.len()]).collect();
                let chars = starts.len() - 1;
                for a in 0..chars {
                    let mut h = FNV_OFFSET;
                    for n in 1..=cmax.min(chars - a) {
                        h = fnv(h, &padded.as_bytes()[starts[a + n - 1]..starts[a + n]]);
                        if n >= cmin {
                            push(finish(h, CHAR_TAG + n as u64));
                        }
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
