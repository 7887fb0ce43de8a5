//! Sentence embeddings: BERT-family encoders (safetensors weights, `tokenizer.json`,
//! `config.json` side by side) run by candle. A text's embedding is the mean of its tokens'
//! last hidden states, counting real tokens only (the attention mask), scaled to unit length.
//!
//! Texts are embedded in batches of texts of similar length (sorted by token count), so that a
//! batch pads little; padding never changes a text's embedding, because the mask keeps padded
//! positions out of attention and out of the mean.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::RuntimeError;

/// Texts per forward pass.
pub const BATCH: usize = 32;

/// Longest input in tokens; longer texts are cut (sentence-transformers does the same, and
/// MiniLM was trained on at most 256 word pieces).
pub const MAX_TOKENS: usize = 256;

/// A loaded sentence encoder.
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    dims: usize,
    path: PathBuf,
}

/// The embeddings of a batch of texts, in the order given.
#[derive(Debug, Clone)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    /// Tokens read, after truncation, over all texts.
    pub tokens: usize,
}

fn bad(path: &Path, reason: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::BadModelFile { path: path.display().to_string(), reason: reason.to_string() }
}

fn read(path: &Path) -> Result<Vec<u8>, RuntimeError> {
    std::fs::read(path).map_err(|source| RuntimeError::Io { path: path.display().to_string(), source })
}

impl Embedder {
    /// Loads `weights` (a `.safetensors` file) with the `config.json` and `tokenizer.json` next
    /// to it. Every problem names the file it is in.
    pub fn load(weights: &Path) -> Result<Embedder, RuntimeError> {
        let dir = weights.parent().unwrap_or(Path::new("."));
        let config_path = dir.join("config.json");
        let config: Config = serde_json::from_slice(&read(&config_path)?)
            .map_err(|e| bad(&config_path, format!("not a BERT config: {e}")))?;
        if config.hidden_size == 0
            || config.num_attention_heads == 0
            || !config.hidden_size.is_multiple_of(config.num_attention_heads)
        {
            return Err(bad(
                &config_path,
                format!(
                    "hidden_size {} is not a multiple of num_attention_heads {}",
                    config.hidden_size, config.num_attention_heads
                ),
            ));
        }
        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_bytes(read(&tokenizer_path)?)
            .map_err(|e| bad(&tokenizer_path, format!("not a tokenizer.json: {e}")))?;
        let pad_id = tokenizer.get_padding().map_or(config.pad_token_id as u32, |p| p.pad_id);
        let pad_token = tokenizer.id_to_token(pad_id).unwrap_or_else(|| "[PAD]".into());
        // The shipped MiniLM tokenizer pads every input to 128 tokens: pad to the batch's
        // longest instead, and cut at what the model's positions allow.
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id,
            pad_token,
            ..PaddingParams::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS.min(config.max_position_embeddings),
                ..TruncationParams::default()
            }))
            .map_err(|e| bad(&tokenizer_path, e))?;
        if let Some(too_big) =
            tokenizer.get_vocab(true).values().find(|&&id| id as usize >= config.vocab_size)
        {
            return Err(bad(
                &tokenizer_path,
                format!(
                    "has token id {too_big}, but the model's vocabulary ({}) holds {} ids",
                    config_path.display(),
                    config.vocab_size
                ),
            ));
        }

        let bytes = read(weights)?;
        safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| bad(weights, format!("not a safetensors file: {e}")))?;
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &Device::Cpu)
            .map_err(|e| bad(weights, e))?;
        let model =
            BertModel::load(vb, &config).map_err(|e| bad(weights, format!("not a BERT model: {e}")))?;
        Ok(Embedder { model, tokenizer, dims: config.hidden_size, path: weights.to_owned() })
    }

    /// Length of every embedding.
    pub fn dims(&self) -> usize {
        self.dims
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Embeds one text.
    pub fn embed_one(&self, text: &str) -> Result<Vec<f32>, RuntimeError> {
        Ok(self.embed(&[text])?.vectors.remove(0))
    }

    /// Embeds texts in batches of [`BATCH`], each holding texts of similar length.
    pub fn embed(&self, texts: &[&str]) -> Result<Embeddings, RuntimeError> {
        let mut lengths = Vec::with_capacity(texts.len());
        for t in texts {
            let enc = self.tokenizer.encode(*t, true).map_err(|e| RuntimeError::Embedding(e.to_string()))?;
            lengths.push(enc.len());
        }
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| lengths[i]);
        let mut vectors = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            for (&i, v) in chunk.iter().zip(self.forward(&batch)?) {
                vectors[i] = v;
            }
        }
        Ok(Embeddings { vectors, tokens: lengths.iter().sum() })
    }

    /// One forward pass over a batch: mean of the last hidden states over the attention mask,
    /// then L2 normalisation.
    fn forward(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, RuntimeError> {
        let err = |e: candle_core::Error| RuntimeError::Embedding(e.to_string());
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| RuntimeError::Embedding(e.to_string()))?;
        let (rows, cols) = (encodings.len(), encodings.first().map_or(0, |e| e.len()));
        let mut ids = Vec::with_capacity(rows * cols);
        let mut types = Vec::with_capacity(rows * cols);
        let mut mask = Vec::with_capacity(rows * cols);
        for e in &encodings {
            ids.extend_from_slice(e.get_ids());
            types.extend_from_slice(e.get_type_ids());
            mask.extend_from_slice(e.get_attention_mask());
        }
        let device = &self.model.device;
        let ids = Tensor::from_vec(ids, (rows, cols), device).map_err(err)?;
        let types = Tensor::from_vec(types, (rows, cols), device).map_err(err)?;
        let mask = Tensor::from_vec(mask, (rows, cols), device).map_err(err)?;
        let hidden = self.model.forward(&ids, &types, Some(&mask)).map_err(err)?;
        let mask = mask.to_dtype(DType::F32).map_err(err)?.unsqueeze(2).map_err(err)?;
        let summed = hidden.broadcast_mul(&mask).and_then(|h| h.sum(1)).map_err(err)?;
        let counts = mask.sum(1).and_then(|c| c.clamp(1e-9f32, f32::MAX)).map_err(err)?;
        let mean = summed.broadcast_div(&counts).map_err(err)?;
        let norms = mean.sqr().and_then(|s| s.sum_keepdim(1)).and_then(|s| s.sqrt()).map_err(err)?;
        let unit = mean.broadcast_div(&norms.clamp(1e-12f32, f32::MAX).map_err(err)?).map_err(err)?;
        unit.to_vec2::<f32>().map_err(err)
    }
}

/// Cosine similarity of two vectors (dot product over the product of lengths; 0 when either is
/// all zeros).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 { 0.0 } else { dot / (na.sqrt() * nb.sqrt()) }
}
