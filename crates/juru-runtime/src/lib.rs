//! Juru's models: the built-in text classifier (hashed word and character n-grams, multinomial
//! logistic regression, a documented file format), local LLMs (GGUF through llama.cpp), sentence
//! embeddings (BERT-family safetensors through candle), model packs, and the client for external
//! OpenAI-compatible providers. llama.cpp, candle and
//! tokenizers live only here.

pub mod classifier;
pub mod embed;
pub mod llm;
pub mod packs;
pub mod provider;

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
    #[error("embedding: {0}")]
    Embedding(String),
    #[error("llm: {0}")]
    Llm(String),
    #[error("provider {url}: {reason}")]
    Provider { url: String, reason: String },
    #[error("model pack {entry}: {reason}")]
    Pack { entry: String, reason: String },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}
