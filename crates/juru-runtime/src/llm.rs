//! Local LLMs: GGUF models run by llama.cpp (through the `llama-cpp-2` crate, which builds
//! llama.cpp from source). The GGUF file brings its own tokenizer and chat template. Prompts are
//! decoded in batches of `n_batch` tokens; several sequences can be generated at once in one
//! context, each step decoding all of their new tokens in a single batch.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use serde::{Deserialize, Serialize};

use crate::RuntimeError;

/// Tokens decoded per `llama_decode` call while reading a prompt.
pub const N_BATCH: u32 = 512;

fn backend() -> Result<&'static LlamaBackend, RuntimeError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| RuntimeError::Llm(format!("starting llama.cpp: {e}")))
}

/// How to pick tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// 0 picks the most likely token every time (greedy).
    pub temperature: f32,
    pub top_p: f32,
    /// 0: no top-k cut.
    pub top_k: i32,
    pub seed: u32,
    pub max_tokens: usize,
    /// Generation stops before any of these strings.
    pub stop: Vec<String>,
    /// Divides the logits of tokens seen in the last 64 (1: off). Small models loop without it.
    pub repeat_penalty: f32,
    /// OpenAI's frequency and presence penalties (0: off).
    pub frequency_penalty: f32,
    pub presence_penalty: f32,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 0.7,
            top_p: 0.95,
            top_k: 40,
            seed: 42,
            max_tokens: 256,
            stop: Vec::new(),
            repeat_penalty: 1.1,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
        }
    }
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    /// The model ended its turn, or a stop sequence appeared.
    Stop,
    /// `max_tokens` were generated.
    Length,
    /// The caller asked to stop.
    Cancelled,
}

/// The result of one generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    pub text: String,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub finish: Finish,
    pub prompt_seconds: f64,
    pub generation_seconds: f64,
}

/// A loaded GGUF model.
pub struct Llm {
    model: LlamaModel,
    template: Option<LlamaChatTemplate>,
    path: PathBuf,
    threads: i32,
}

/// Checks that a file looks like GGUF before llama.cpp reads it, so that a wrong or truncated
/// file gets a clear error.
fn check_gguf(path: &Path) -> Result<(), RuntimeError> {
    use std::io::Read;
    let bad = |reason: &str| RuntimeError::BadModelFile {
        path: path.display().to_string(),
        reason: reason.to_owned(),
    };
    let mut f = std::fs::File::open(path)
        .map_err(|source| RuntimeError::Io { path: path.display().to_string(), source })?;
    let mut head = [0u8; 24];
    if f.read_exact(&mut head).is_err() {
        return Err(bad("too short to be a GGUF file"));
    }
    if &head[..4] != b"GGUF" {
        return Err(bad("not a GGUF file (it does not start with GGUF)"));
    }
    let version = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if !(2..=3).contains(&version) {
        return Err(bad(&format!("GGUF version {version} is not supported (2 or 3)")));
    }
    Ok(())
}

/// Text from token pieces that may split a multi-byte character: keeps the incomplete tail.
#[derive(Default)]
struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        match std::str::from_utf8(&self.pending) {
            Ok(s) => {
                let out = s.to_owned();
                self.pending.clear();
                out
            }
            Err(e) => {
                let valid = e.valid_up_to();
                let out = String::from_utf8_lossy(&self.pending[..valid]).into_owned();
                if e.error_len().is_some() {
                    // Not a split character but invalid bytes: replace them and move on.
                    let out = String::from_utf8_lossy(&self.pending).into_owned();
                    self.pending.clear();
                    return out;
                }
                self.pending.drain(..valid);
                out
            }
        }
    }
}

/// One sequence being generated.
struct Seq {
    id: i32,
    pos: i32,
    /// Index of this sequence's logits in the last decoded batch.
    logits_at: i32,
    sampler: LlamaSampler,
    text: String,
    utf8: Utf8Stream,
    tokens: usize,
    done: Option<Finish>,
    prompt_tokens: usize,
}

impl Llm {
    /// Loads a GGUF model.
    pub fn load(path: &Path) -> Result<Llm, RuntimeError> {
        check_gguf(path)?;
        let backend = backend()?;
        let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default()).map_err(|e| {
            RuntimeError::BadModelFile {
                path: path.display().to_string(),
                reason: format!("llama.cpp could not load it: {e}"),
            }
        })?;
        let template = model.chat_template(None).ok();
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get() as i32);
        Ok(Llm { model, template, path: path.to_owned(), threads })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The context length the model was trained with.
    pub fn context_length(&self) -> usize {
        self.model.n_ctx_train() as usize
    }

    /// The prompt for a chat, from the model's own chat template, ending where the assistant
    /// answers.
    pub fn chat_prompt(&self, messages: &[Message]) -> Result<String, RuntimeError> {
        let template = self
            .template
            .as_ref()
            .ok_or_else(|| RuntimeError::Llm(format!("{} has no chat template", self.path.display())))?;
        let chat = messages
            .iter()
            .map(|m| LlamaChatMessage::new(m.role.clone(), m.content.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| RuntimeError::Llm(format!("chat message: {e}")))?;
        self.model
            .apply_chat_template(template, &chat, true)
            .map_err(|e| RuntimeError::Llm(format!("chat template: {e}")))
    }

    pub fn tokenize(&self, text: &str) -> Vec<LlamaToken> {
        self.model.vocab().tokenize(text.as_bytes(), true, true)
    }

    fn sampler(&self, s: &Sampling, seed_offset: u32) -> LlamaSampler {
        let mut chain = Vec::new();
        if s.repeat_penalty != 1.0 || s.frequency_penalty != 0.0 || s.presence_penalty != 0.0 {
            chain.push(LlamaSampler::penalties(
                self.model.n_vocab(),
                64,
                s.repeat_penalty.max(0.01),
                s.frequency_penalty,
                s.presence_penalty,
            ));
        }
        if s.temperature <= 0.0 {
            chain.push(LlamaSampler::greedy());
            return LlamaSampler::chain_simple(chain);
        }
        if s.top_k > 0 {
            chain.push(LlamaSampler::top_k(s.top_k));
        }
        chain.push(LlamaSampler::top_p(s.top_p.clamp(0.0, 1.0), 1));
        chain.push(LlamaSampler::temp(s.temperature));
        chain.push(LlamaSampler::dist(s.seed.wrapping_add(seed_offset)));
        LlamaSampler::chain_simple(chain)
    }

    /// Generates a completion of `prompt`; `on_text` receives each new piece of text and
    /// returns `false` to stop.
    pub fn generate(
        &self,
        prompt: &str,
        s: &Sampling,
        on_text: impl FnMut(&str) -> bool,
    ) -> Result<Generation, RuntimeError> {
        let mut on_text = on_text;
        let mut out = self.generate_many_with(&[prompt.to_owned()], s, |_, piece| on_text(piece))?;
        Ok(out.remove(0))
    }

    /// The natural-log probability the model gives `text`: the sum over its tokens after the
    /// first of log P(token | the tokens before), and how many tokens were scored. For
    /// likelihood benchmarks (CrowS-Pairs) that compare two sentences.
    pub fn log_likelihood(&self, text: &str) -> Result<(f64, usize), RuntimeError> {
        let tokens = self.tokenize(text);
        if tokens.len() < 2 {
            return Err(RuntimeError::Llm(format!("{text:?} has fewer than two tokens to score")));
        }
        if tokens.len() > self.context_length() {
            return Err(RuntimeError::ContextTooLong {
                prompt_tokens: tokens.len(),
                max_tokens: 0,
                limit: self.context_length(),
            });
        }
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(tokens.len().max(256) as u32))
            .with_n_batch(N_BATCH)
            .with_n_threads(self.threads)
            .with_n_threads_batch(self.threads);
        let mut ctx = self
            .model
            .new_context(backend()?, params)
            .map_err(|e| RuntimeError::Llm(format!("llama.cpp context: {e}")))?;
        let mut batch = LlamaBatch::new(N_BATCH as usize, 1);
        let mut total = 0.0f64;
        for (c, chunk) in tokens.chunks(N_BATCH as usize).enumerate() {
            batch.clear();
            let start = c * N_BATCH as usize;
            for (k, &t) in chunk.iter().enumerate() {
                batch.add(t, (start + k) as i32, &[0], true).map_err(|e| RuntimeError::Llm(e.to_string()))?;
            }
            ctx.decode(&mut batch).map_err(|e| RuntimeError::Llm(format!("decoding the text: {e}")))?;
            for k in 0..chunk.len() {
                let Some(&next) = tokens.get(start + k + 1) else { break };
                let logits = ctx.get_logits_ith(k as i32);
                let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let sum: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
                total += f64::from(logits[next.0 as usize] - max) - sum.ln();
            }
        }
        Ok((total, tokens.len() - 1))
    }

    /// Generates completions of several prompts at once in one context.    /// Generates completions of several prompts at once in one context.
    pub fn generate_many(&self, prompts: &[String], s: &Sampling) -> Result<Vec<Generation>, RuntimeError> {
        self.generate_many_with(prompts, s, |_, _| true)
    }

    fn generate_many_with(
        &self,
        prompts: &[String],
        s: &Sampling,
        mut on_text: impl FnMut(usize, &str) -> bool,
    ) -> Result<Vec<Generation>, RuntimeError> {
        if prompts.is_empty() {
            return Ok(Vec::new());
        }
        if prompts.len() > N_BATCH as usize {
            return Err(RuntimeError::Llm(format!("{} prompts at once; at most {N_BATCH}", prompts.len())));
        }
        let limit = self.context_length();
        let tokenized: Vec<Vec<LlamaToken>> = prompts.iter().map(|p| self.tokenize(p)).collect();
        for t in &tokenized {
            if t.is_empty() {
                return Err(RuntimeError::Llm("the prompt is empty".into()));
            }
            if t.len() + s.max_tokens > limit {
                return Err(RuntimeError::ContextTooLong {
                    prompt_tokens: t.len(),
                    max_tokens: s.max_tokens,
                    limit,
                });
            }
        }
        let per_seq = tokenized.iter().map(Vec::len).max().unwrap_or(0) + s.max_tokens;
        let n_ctx = (per_seq * prompts.len()).max(256) as u32;
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(N_BATCH)
            .with_n_seq_max(prompts.len() as u32)
            .with_n_threads(self.threads)
            .with_n_threads_batch(self.threads);
        let mut ctx = self
            .model
            .new_context(backend()?, params)
            .map_err(|e| RuntimeError::Llm(format!("llama.cpp context: {e}")))?;
        let vocab = self.model.vocab();

        let started = std::time::Instant::now();
        let mut seqs: Vec<Seq> = tokenized
            .iter()
            .enumerate()
            .map(|(i, t)| Seq {
                id: i as i32,
                pos: 0,
                logits_at: -1,
                sampler: self.sampler(s, i as u32),
                text: String::new(),
                utf8: Utf8Stream::default(),
                tokens: 0,
                done: None,
                prompt_tokens: t.len(),
            })
            .collect();
        // Read every prompt but its last token, N_BATCH tokens per decode, without logits; then
        // the last token of every prompt in one batch, with logits. A decode discards the logits
        // of the one before, so every sequence's first logits must come from the same batch.
        let mut batch = LlamaBatch::new(N_BATCH as usize, prompts.len() as i32);
        let flat: Vec<(usize, usize)> =
            tokenized.iter().enumerate().flat_map(|(i, t)| (0..t.len() - 1).map(move |j| (i, j))).collect();
        for chunk in flat.chunks(N_BATCH as usize) {
            batch.clear();
            for &(i, j) in chunk {
                batch
                    .add(tokenized[i][j], j as i32, &[i as i32], false)
                    .map_err(|e| RuntimeError::Llm(e.to_string()))?;
            }
            ctx.decode(&mut batch).map_err(|e| RuntimeError::Llm(format!("decoding the prompt: {e}")))?;
        }
        batch.clear();
        for (i, t) in tokenized.iter().enumerate() {
            let j = t.len() - 1;
            batch.add(t[j], j as i32, &[i as i32], true).map_err(|e| RuntimeError::Llm(e.to_string()))?;
            seqs[i].logits_at = i as i32;
            seqs[i].pos = t.len() as i32;
        }
        ctx.decode(&mut batch).map_err(|e| RuntimeError::Llm(format!("decoding the prompt: {e}")))?;
        let prompt_seconds = started.elapsed().as_secs_f64();
        let started = std::time::Instant::now();

        while seqs.iter().any(|q| q.done.is_none()) {
            batch.clear();
            let mut k = 0;
            for (i, q) in seqs.iter_mut().enumerate() {
                if q.done.is_some() {
                    continue;
                }
                let token = q.sampler.sample(&ctx, q.logits_at);
                q.sampler.accept(token);
                if vocab.is_eog(token) {
                    q.done = Some(Finish::Stop);
                    continue;
                }
                q.tokens += 1;
                let piece = q.utf8.push(&vocab.token_to_piece(token, false, None));
                q.text.push_str(&piece);
                if let Some(cut) =
                    s.stop.iter().filter(|st| !st.is_empty()).filter_map(|st| q.text.find(st.as_str())).min()
                {
                    q.text.truncate(cut);
                    q.done = Some(Finish::Stop);
                    continue;
                }
                if !piece.is_empty() && !on_text(i, &piece) {
                    q.done = Some(Finish::Cancelled);
                    continue;
                }
                if q.tokens >= s.max_tokens {
                    q.done = Some(Finish::Length);
                    continue;
                }
                batch.add(token, q.pos, &[q.id], true).map_err(|e| RuntimeError::Llm(e.to_string()))?;
                q.pos += 1;
                q.logits_at = k;
                k += 1;
            }
            if k == 0 {
                break;
            }
            ctx.decode(&mut batch).map_err(|e| RuntimeError::Llm(format!("decoding: {e}")))?;
        }
        let generation_seconds = started.elapsed().as_secs_f64();
        Ok(seqs
            .into_iter()
            .map(|q| Generation {
                text: q.text,
                prompt_tokens: q.prompt_tokens,
                completion_tokens: q.tokens,
                finish: q.done.unwrap_or(Finish::Length),
                prompt_seconds,
                generation_seconds,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_and_short_files_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short.gguf");
        std::fs::write(&short, b"GGUF").unwrap();
        let e = Llm::load(&short).err().unwrap().to_string();
        assert!(e.contains("short.gguf") && e.contains("too short"), "{e}");
        let other = dir.path().join("model.bin");
        std::fs::write(&other, [0u8; 64]).unwrap();
        assert!(Llm::load(&other).err().unwrap().to_string().contains("not a GGUF file"));
        let v9 = dir.path().join("v9.gguf");
        std::fs::write(&v9, [b"GGUF".as_slice(), &9u32.to_le_bytes(), &[0u8; 40]].concat()).unwrap();
        assert!(Llm::load(&v9).err().unwrap().to_string().contains("GGUF version 9"));
    }

    #[test]
    fn split_characters_wait_for_their_tail() {
        let mut u = Utf8Stream::default();
        let bytes = "é".as_bytes();
        assert_eq!(u.push(&bytes[..1]), "");
        assert_eq!(u.push(&bytes[1..]), "é");
        assert_eq!(u.push(b"ok"), "ok");
    }
}
