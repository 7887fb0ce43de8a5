//! The classifier file format, version 1 (`docs/formats/juru-classifier.md` describes it for
//! people who read these files without Juru):
//!
//! ```text
//! magic      8 bytes  "JURUCLF\0"
//! version    u32 LE   1
//! header_len u32 LE   length of the JSON header
//! header     JSON     {"labels": [...], "features": {...}, "classes": k, "dims": d, "info": {...}}
//! weights    d*k f32 LE, feature-major (feature f's k weights are contiguous)
//! bias       k f32 LE
//! checksum   32 bytes SHA-256 of everything before it
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Classifier, FeatureConfig};
use crate::RuntimeError;

pub const MAGIC: &[u8; 8] = b"JURUCLF\0";
pub const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Header {
    labels: Vec<String>,
    features: FeatureConfig,
    classes: usize,
    dims: usize,
    info: serde_json::Value,
}

impl Classifier {
    /// The model as the bytes of a version-1 file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            labels: self.labels.clone(),
            features: self.features.clone(),
            classes: self.labels.len(),
            dims: self.features.dims(),
            info: self.info.clone(),
        };
        let header = serde_json::to_vec(&header).unwrap_or_default();
        let mut out = Vec::with_capacity(16 + header.len() + 4 * (self.weights.len() + self.bias.len()) + 32);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        for w in self.weights.iter().chain(&self.bias) {
            out.extend_from_slice(&w.to_le_bytes());
        }
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum);
        out
    }

    /// Reads a model from bytes; `path` names the file in errors.
    pub fn from_bytes(bytes: &[u8], path: &str) -> Result<Classifier, RuntimeError> {
        let bad = |reason: String| RuntimeError::BadModelFile { path: path.to_owned(), reason };
        if bytes.len() < 16 + 32 || &bytes[..8] != MAGIC {
            return Err(bad("not a Juru classifier (it does not start with JURUCLF)".into()));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
        if version != VERSION {
            return Err(bad(format!(
                "format version {version} is not supported (this Juru reads version {VERSION})"
            )));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body).as_slice() != sum {
            return Err(bad("checksum mismatch: the file is truncated or corrupt".into()));
        }
        let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap_or_default()) as usize;
        let header_end = 16usize
            .checked_add(header_len)
            .filter(|&e| e <= body.len())
            .ok_or_else(|| bad("header runs past the end".into()))?;
        let header: Header =
            serde_json::from_slice(&body[16..header_end]).map_err(|e| bad(format!("header: {e}")))?;
        if header.classes != header.labels.len() || header.classes < 2 {
            return Err(bad(format!(
                "header says {} classes with {} labels",
                header.classes,
                header.labels.len()
            )));
        }
        if header.features.hash_bits > 24 || header.dims != header.features.dims() {
            return Err(bad("header's dimensions do not match its feature settings".into()));
        }
        let floats = &body[header_end..];
        let want = (header.dims * header.classes + header.classes) * 4;
        if floats.len() != want {
            return Err(bad(format!("expected {want} bytes of weights, found {}", floats.len())));
        }
        let mut values = floats.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        let weights: Vec<f32> = values.by_ref().take(header.dims * header.classes).collect();
        let bias: Vec<f32> = values.collect();
        Ok(Classifier { labels: header.labels, features: header.features, weights, bias, info: header.info })
    }

    /// Writes the model to `path`; returns its SHA-256 and size.
    pub fn save(&self, path: &Path) -> Result<(String, u64), RuntimeError> {
        let bytes = self.to_bytes();
        let tmp = path.with_extension("tmp");
        let io = |source| RuntimeError::Io { path: path.display().to_string(), source };
        std::fs::write(&tmp, &bytes).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok((hex::encode(Sha256::digest(&bytes)), bytes.len() as u64))
    }

    pub fn load(path: &Path) -> Result<Classifier, RuntimeError> {
        let bytes = std::fs::read(path)
            .map_err(|source| RuntimeError::Io { path: path.display().to_string(), source })?;
        Classifier::from_bytes(&bytes, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::{Examples, TrainConfig};

    fn model() -> Classifier {
        let texts: Vec<String> =
            ["bagus", "jelek", "mantap", "rusak"].iter().map(|s| s.to_string()).collect();
        let labels = vec!["pos".to_string(), "neg".to_string()];
        let cfg = TrainConfig {
            features: FeatureConfig { hash_bits: 10, ..FeatureConfig::default() },
            ..TrainConfig::default()
        };
        Classifier::train(
            &Examples { texts: &texts, targets: &[0, 1, 0, 1], labels: &labels, sample_weights: None },
            &cfg,
            |_, _| {},
        )
        .unwrap()
    }

    #[test]
    fn round_trips_through_a_file() {
        let m = model();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.juruclf");
        let (sha, size) = m.save(&path).unwrap();
        assert_eq!(sha.len(), 64);
        assert_eq!(size, std::fs::metadata(&path).unwrap().len());
        assert_eq!(Classifier::load(&path).unwrap(), m);
    }

    #[test]
    fn truncated_corrupt_or_foreign_files_are_named() {
        let bytes = model().to_bytes();
        let err = |b: &[u8]| Classifier::from_bytes(b, "m.juruclf").unwrap_err().to_string();
        assert!(
            err(&bytes[..bytes.len() - 100]).contains("checksum mismatch"),
            "{}",
            err(&bytes[..bytes.len() - 100])
        );
        let mut flipped = bytes.clone();
        flipped[40] ^= 0xff;
        assert!(err(&flipped).starts_with("model file m.juruclf: checksum mismatch"));
        assert!(
            err(b"GGUF\x03\0\0\0 not ours, not ours, not ours, not ours, not ours")
                .contains("not a Juru classifier")
        );
        let mut v2 = bytes.clone();
        v2[8] = 2;
        assert!(err(&v2).contains("format version 2 is not supported"));
        assert!(err(&[]).contains("not a Juru classifier"));
        assert!(
            Classifier::load(std::path::Path::new("/nonexistent/m.juruclf"))
                .unwrap_err()
                .to_string()
                .contains("/nonexistent/m.juruclf")
        );
    }
}
