//! External model providers: any server that speaks OpenAI's HTTP API (vLLM, Ollama, the
//! llama.cpp server, OpenAI itself, or another Juru). Each call has a time limit per attempt,
//! is retried with exponential backoff on 429 and 5xx answers and on connection failures
//! (honouring `Retry-After`), and waits for one of a fixed number of slots, so that Juru never
//! sends a provider more calls at once than it was told to.
//!
//! The API key is held in memory only for the calls; `Debug` never prints it.

use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::RuntimeError;
use crate::llm::{Finish, Generation, Message, Sampling};

/// How to reach a provider.
#[derive(Clone)]
pub struct ProviderConfig {
    /// The API root, e.g. `http://127.0.0.1:8000/v1` (`/chat/completions` etc. are added).
    pub base_url: String,
    /// The provider's name for the model.
    pub model: String,
    pub api_key: Option<String>,
    /// Limit for one attempt, from sending to the last byte.
    pub timeout: Duration,
    /// Attempts after the first one.
    pub max_retries: u32,
    /// Calls in flight at most.
    pub concurrency: usize,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "(set)"))
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

/// A provider ready to call.
#[derive(Debug)]
pub struct Provider {
    config: ProviderConfig,
    client: reqwest::Client,
    slots: Semaphore,
}

/// The first wait before a retry; it doubles each time, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// One attempt's failure, and whether another attempt may help.
struct Failure {
    reason: String,
    retry: bool,
    wait: Option<Duration>,
}

impl Provider {
    pub fn new(config: ProviderConfig) -> Result<Provider, RuntimeError> {
        let url = url::Url::parse(&config.base_url).map_err(|e| RuntimeError::Provider {
            url: config.base_url.clone(),
            reason: format!("not a URL: {e}"),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(RuntimeError::Provider {
                url: config.base_url.clone(),
                reason: "the URL must start with http:// or https://".into(),
            });
        }
        if config.concurrency == 0 || config.timeout.is_zero() {
            return Err(RuntimeError::Provider {
                url: config.base_url.clone(),
                reason: "concurrency and timeout must be above zero".into(),
            });
        }
        let client = reqwest::Client::builder()
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| RuntimeError::Provider { url: config.base_url.clone(), reason: e.to_string() })?;
        let slots = Semaphore::new(config.concurrency);
        Ok(Provider { config, client, slots })
    }

    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.config.base_url.trim_end_matches('/'))
    }

    fn error(&self, reason: impl Into<String>) -> RuntimeError {
        RuntimeError::Provider { url: self.config.base_url.clone(), reason: reason.into() }
    }

    /// Sends `body` to `path` until an attempt succeeds or no attempt is left; `read` turns the
    /// answer into a result and may itself fail (a dropped stream is retried only when `read`
    /// says so).
    async fn call<T, F, Fut>(&self, path: &str, body: &Value, mut read: F) -> Result<T, RuntimeError>
    where
        F: FnMut(reqwest::Response) -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        let _slot = self.slots.acquire().await.map_err(|_| self.error("the provider was closed"))?;
        let started = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = tokio::time::timeout(self.config.timeout, async {
                let mut req = self.client.post(self.endpoint(path)).json(body);
                if let Some(key) = &self.config.api_key {
                    req = req.bearer_auth(key);
                }
                let resp = req.send().await.map_err(|e| Failure {
                    reason: if e.is_connect() {
                        format!("cannot connect ({})", root_cause(&e))
                    } else {
                        format!("request failed ({})", root_cause(&e))
                    },
                    retry: true,
                    wait: None,
                })?;
                let status = resp.status();
                if status.is_success() {
                    return read(resp).await;
                }
                let wait = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|s| Duration::from_secs(s.min(30)));
                let text = resp.text().await.unwrap_or_default();
                let message = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| {
                        v["error"]["message"].as_str().or_else(|| v["error"].as_str()).map(str::to_owned)
                    })
                    .unwrap_or_else(|| text.chars().take(300).collect());
                Err(Failure {
                    reason: format!("answered {status}: {message}"),
                    retry: status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error(),
                    wait,
                })
            })
            .await
            .unwrap_or_else(|_| {
                Err(Failure {
                    reason: format!("no answer within {:.1} s", self.config.timeout.as_secs_f64()),
                    retry: true,
                    wait: None,
                })
            });
            match outcome {
                Ok(v) => return Ok(v),
                Err(f) if f.retry && attempt <= self.config.max_retries => {
                    let wait = f.wait.unwrap_or(backoff);
                    tracing::warn!(provider = %self.config.base_url, attempt, reason = %f.reason, wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(f) => {
                    let tries =
                        if attempt == 1 { "1 attempt".to_owned() } else { format!("{attempt} attempts") };
                    return Err(self.error(format!(
                        "{} ({tries} in {:.1} s)",
                        f.reason,
                        started.elapsed().as_secs_f64()
                    )));
                }
            }
        }
    }

    fn sampling_body(&self, s: &Sampling) -> serde_json::Map<String, Value> {
        let mut body = serde_json::Map::new();
        body.insert("model".into(), json!(self.config.model));
        body.insert("temperature".into(), json!(s.temperature));
        body.insert("top_p".into(), json!(s.top_p));
        body.insert("max_tokens".into(), json!(s.max_tokens));
        body.insert("seed".into(), json!(s.seed));
        if !s.stop.is_empty() {
            body.insert("stop".into(), json!(s.stop));
        }
        if s.frequency_penalty != 0.0 {
            body.insert("frequency_penalty".into(), json!(s.frequency_penalty));
        }
        if s.presence_penalty != 0.0 {
            body.insert("presence_penalty".into(), json!(s.presence_penalty));
        }
        body
    }

    /// A chat completion. With `stream`, pieces of text go to `on_text` as they arrive (a
    /// `false` from it stops reading); a stream that breaks after its first piece is an error,
    /// not retried, as the caller has seen part of the answer.
    pub async fn chat(
        &self,
        messages: &[Message],
        s: &Sampling,
        stream: bool,
        on_text: impl FnMut(&str) -> bool,
    ) -> Result<Generation, RuntimeError> {
        let mut body = self.sampling_body(s);
        body.insert("messages".into(), json!(messages));
        self.generate("chat/completions", body, stream, on_text).await
    }

    /// A text completion.
    pub async fn complete(
        &self,
        prompt: &str,
        s: &Sampling,
        stream: bool,
        on_text: impl FnMut(&str) -> bool,
    ) -> Result<Generation, RuntimeError> {
        let mut body = self.sampling_body(s);
        body.insert("prompt".into(), json!(prompt));
        self.generate("completions", body, stream, on_text).await
    }

    async fn generate(
        &self,
        path: &str,
        mut body: serde_json::Map<String, Value>,
        stream: bool,
        on_text: impl FnMut(&str) -> bool,
    ) -> Result<Generation, RuntimeError> {
        let chat = path.starts_with("chat");
        if stream {
            body.insert("stream".into(), json!(true));
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
        let body = Value::Object(body);
        let started = Instant::now();
        let on_text = std::sync::Mutex::new(on_text);
        let mut g = self
            .call(path, &body, |resp| {
                let on_text = &on_text;
                async move {
                    if stream {
                        read_stream(resp, chat, |t| on_text.lock().map(|mut f| f(t)).unwrap_or(false)).await
                    } else {
                        let v: Value = resp.json().await.map_err(|e| Failure {
                            reason: format!("the answer is not JSON: {e}"),
                            retry: false,
                            wait: None,
                        })?;
                        let g = parse_completion(&v, chat).ok_or_else(|| Failure {
                            reason: format!(
                                "the answer has no choices[0]: {}",
                                truncate(&v.to_string(), 200)
                            ),
                            retry: false,
                            wait: None,
                        })?;
                        if let Ok(mut f) = on_text.lock() {
                            f(&g.text);
                        }
                        Ok(g)
                    }
                }
            })
            .await?;
        g.generation_seconds = started.elapsed().as_secs_f64();
        Ok(g)
    }

    /// Embeddings of `texts`, in their order, and the tokens the provider counted.
    pub async fn embed(&self, texts: &[String]) -> Result<(Vec<Vec<f32>>, usize), RuntimeError> {
        let body = json!({"model": self.config.model, "input": texts, "encoding_format": "float"});
        let n = texts.len();
        self.call("embeddings", &body, |resp| async move {
            let bad = |reason: String| Failure { reason, retry: false, wait: None };
            let v: Value = resp.json().await.map_err(|e| bad(format!("the answer is not JSON: {e}")))?;
            let data = v["data"].as_array().ok_or_else(|| bad("the answer has no data list".into()))?;
            let mut out = vec![Vec::new(); n];
            for (pos, item) in data.iter().enumerate() {
                let i = item["index"].as_u64().map_or(pos, |i| i as usize);
                let vector = item["embedding"]
                    .as_array()
                    .ok_or_else(|| bad(format!("data[{pos}] has no embedding list")))?
                    .iter()
                    .map(|x| x.as_f64().map(|x| x as f32))
                    .collect::<Option<Vec<f32>>>()
                    .ok_or_else(|| {
                        bad(format!("data[{pos}].embedding holds something other than numbers"))
                    })?;
                *out.get_mut(i).ok_or_else(|| bad(format!("data[{pos}] has index {i} of {n} inputs")))? =
                    vector;
            }
            if out.iter().any(Vec::is_empty) {
                return Err(bad(format!("{n} texts were sent but {} embeddings came back", data.len())));
            }
            let tokens = v["usage"]["prompt_tokens"].as_u64().unwrap_or(0) as usize;
            Ok((out, tokens))
        })
        .await
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// The innermost cause of a reqwest error (e.g. "Connection refused (os error 111)").
fn root_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn finish_of(reason: Option<&str>) -> Finish {
    match reason {
        Some("length") => Finish::Length,
        _ => Finish::Stop,
    }
}

fn parse_completion(v: &Value, chat: bool) -> Option<Generation> {
    let choice = v["choices"].get(0)?;
    let text = if chat { choice["message"]["content"].as_str() } else { choice["text"].as_str() };
    Some(Generation {
        text: text.unwrap_or_default().to_owned(),
        prompt_tokens: v["usage"]["prompt_tokens"].as_u64().unwrap_or(0) as usize,
        completion_tokens: v["usage"]["completion_tokens"].as_u64().unwrap_or(0) as usize,
        finish: finish_of(choice["finish_reason"].as_str()),
        prompt_seconds: 0.0,
        generation_seconds: 0.0,
    })
}

/// Reads a server-sent-event stream of completion chunks until `data: [DONE]`.
async fn read_stream(
    resp: reqwest::Response,
    chat: bool,
    mut on_text: impl FnMut(&str) -> bool,
) -> Result<Generation, Failure> {
    let mut g = Generation {
        text: String::new(),
        prompt_tokens: 0,
        completion_tokens: 0,
        finish: Finish::Stop,
        prompt_seconds: 0.0,
        generation_seconds: 0.0,
    };
    let mut pieces = 0usize;
    let mut buf = Vec::new();
    let mut bytes = resp.bytes_stream();
    let broken = |pieces: usize, reason: String| Failure { reason, retry: pieces == 0, wait: None };
    loop {
        let Some(chunk) = bytes.next().await else {
            return Err(broken(pieces, "the stream ended before data: [DONE]".into()));
        };
        let chunk = chunk.map_err(|e| broken(pieces, format!("the stream broke ({})", root_cause(&e))))?;
        buf.extend_from_slice(&chunk);
        while let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let Some(data) = line.trim_end().strip_prefix("data:") else { continue };
            let data = data.trim();
            if data == "[DONE]" {
                if g.completion_tokens == 0 {
                    g.completion_tokens = pieces;
                }
                return Ok(g);
            }
            let v: Value = serde_json::from_str(data)
                .map_err(|e| broken(pieces, format!("a stream event is not JSON: {e}")))?;
            if let Some(message) = v["error"]["message"].as_str() {
                return Err(Failure {
                    reason: format!("the stream reported: {message}"),
                    retry: false,
                    wait: None,
                });
            }
            if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
                g.prompt_tokens = u["prompt_tokens"].as_u64().unwrap_or(0) as usize;
                g.completion_tokens = u["completion_tokens"].as_u64().unwrap_or(0) as usize;
            }
            let Some(choice) = v["choices"].get(0) else { continue };
            let piece = if chat { choice["delta"]["content"].as_str() } else { choice["text"].as_str() };
            if let Some(piece) = piece.filter(|p| !p.is_empty()) {
                pieces += 1;
                g.text.push_str(piece);
                if !on_text(piece) {
                    g.finish = Finish::Cancelled;
                    return Ok(g);
                }
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                g.finish = finish_of(Some(reason));
            }
        }
    }
}
