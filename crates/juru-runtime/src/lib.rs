//! Juru's models. Today: the built-in text classifier (hashed word and character n-grams,
//! multinomial logistic regression), trained in seconds on a CPU and stored in a documented,
//! versioned file format. The local LLM (llama.cpp), embeddings (candle) and the
//! OpenAI-compatible client come next; llama.cpp, candle and tokenizers live only here.

pub mod classifier;
pub mod llm;
pub mod packs;

/// What can go wrong with a model.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("model file {path}: {reason}")]
    BadModelFile { path: String, reason: String },
    #[error("training: {0}")]
    Training(String),
    #[error(
        "the prompt has {prompt_tokens} tokens and {max_tokens} more were asked for, but the model's context holds {limit}"
    )]
    ContextTooLong { prompt_tokens: usize, max_tokens: usize, limit: usize },
    #[error("llm: {0}")]
    Llm(String),
    #[error("model pack {entry}: {reason}")]
    Pack { entry: String, reason: String },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}
