//! Load generators for the benchmarks in docs/BENCHMARKS.md: batched trace ingest over HTTP, and
//! an open-loop GET at a fixed request rate. Requests start on schedule whatever the server does
//! (so a slow server cannot slow the generator down and hide its queueing); latency is timed
//! from each request's send, and how late sends were behind their schedule (tokio's timer has
//! millisecond resolution) is reported beside it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use serde_json::json;

#[derive(Parser)]
#[command(name = "juru-bench", about = "Load generators for Juru's benchmarks")]
struct Cli {
    /// Juru's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8770")]
    url: String,
    /// An API token (not needed by `classify`).
    #[arg(long, env = "JURU_TOKEN", default_value = "")]
    token: String,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// POST batches of traces to /api/v1/traces/batch; prints traces per second.
    Ingest {
        #[arg(long, default_value_t = 100)]
        batches: usize,
        #[arg(long, default_value_t = 1000)]
        batch_size: usize,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Prefix of the trace ids, so that runs do not collide.
        #[arg(long, default_value = "run")]
        id_prefix: String,
    },
    /// Train the built-in classifier on a JSONL file of {"text","label"} and evaluate it on
    /// another; prints training and prediction times and macro-F1.
    Classify {
        #[arg(long)]
        train: std::path::PathBuf,
        #[arg(long)]
        test: std::path::PathBuf,
        /// Epochs; Juru's default when absent.
        #[arg(long)]
        epochs: Option<usize>,
    },
    /// Prompt and generation speed of a GGUF model through Juru's runtime: one stream, then
    /// several sequences at once.
    Llm {
        #[arg(long)]
        gguf: std::path::PathBuf,
        #[arg(long, default_value_t = 128)]
        tokens: usize,
        /// Sequences generated together in the second run.
        #[arg(long, default_value_t = 4)]
        streams: usize,
        /// The user's message (the chat prompt is made with the model's template).
        #[arg(
            long,
            default_value = "Explain in a few sentences why the sky is blue, and then list three everyday examples of light scattering."
        )]
        question: String,
    },
    /// Sentence embeddings through Juru's runtime (candle): embeds every line of a file,
    /// `repeat` times; prints sentences per second (median) and peak memory.
    Embed {
        /// The model's .safetensors file (config.json and tokenizer.json beside it).
        #[arg(long)]
        model: std::path::PathBuf,
        /// One sentence per line.
        #[arg(long)]
        sentences: std::path::PathBuf,
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
    /// Krippendorff's alpha (nominal and interval) of a coders × units CSV (one coder per line,
    /// `nan` for a missing rating); prints each value and the median time of `repeat` runs.
    Alpha {
        #[arg(long)]
        nominal: std::path::PathBuf,
        #[arg(long)]
        interval: std::path::PathBuf,
        #[arg(long, default_value_t = 5)]
        repeat: usize,
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// Renders a typical chat prompt (system message, a user message with four variables, one
    /// loop) `count` times on one thread with a compiled template; prints renders per second
    /// (median of `repeat` runs).
    Render {
        #[arg(long, default_value_t = 1_000_000)]
        count: usize,
        #[arg(long, default_value_t = 5)]
        repeat: usize,
    },
    /// GET one path at a fixed rate; prints latency percentiles.
    Get {
        #[arg(long)]
        path: String,
        /// Requests per second.
        #[arg(long, default_value_t = 2000)]
        rate: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

// One thread: the generator shares the machine with the server and should take as little of it
// as it can.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    match cli.command {
        Cmd::Ingest { batches, batch_size, concurrency, id_prefix } => {
            ingest(&client, &cli.url, &cli.token, batches, batch_size, concurrency, &id_prefix).await
        }
        Cmd::Get { path, rate, seconds } => get(&client, &cli.url, &cli.token, &path, rate, seconds).await,
        Cmd::Classify { train, test, epochs } => classify(&train, &test, epochs),
        Cmd::Llm { gguf, tokens, streams, question } => llm(&gguf, tokens, streams, &question),
        Cmd::Embed { model, sentences, repeat } => embed(&model, &sentences, repeat),
        Cmd::Alpha { nominal, interval, repeat, threads } => alpha(&nominal, &interval, repeat, threads),
        Cmd::Render { count, repeat } => render(count, repeat),
    }
}

/// Reads a coders × units matrix: one coder per line, comma-separated, `nan` when missing.
fn read_ratings(path: &std::path::Path) -> Result<Vec<Vec<Option<f64>>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.split(',')
                .map(|v| match v.trim() {
                    "nan" | "" => Ok(None),
                    x => x
                        .parse::<f64>()
                        .map(Some)
                        .with_context(|| format!("{}: {x:?} is not a number", path.display())),
                })
                .collect()
        })
        .collect()
}

fn alpha(nominal: &std::path::Path, interval: &std::path::Path, repeat: usize, threads: usize) -> Result<()> {
    use juru_stats::agreement::{Level, krippendorff_alpha_with};
    let mut out = serde_json::Map::new();
    for (name, path, level) in [("nominal", nominal, Level::Nominal), ("interval", interval, Level::Interval)]
    {
        let ratings = read_ratings(path)?;
        let mut times = Vec::with_capacity(repeat);
        let mut value = 0.0;
        for _ in 0..repeat.max(1) {
            let t = Instant::now();
            value = krippendorff_alpha_with(&ratings, level, threads)?;
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let units = ratings.first().map_or(0, Vec::len);
        out.insert(
            name.into(),
            json!({"alpha": value, "seconds": times[times.len() / 2], "coders": ratings.len(), "units": units}),
        );
    }
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}

fn batch_body(prefix: &str, b: usize, size: usize) -> Vec<u8> {
    let traces: Vec<_> = (0..size)
        .map(|i| {
            json!({
                "id": format!("{prefix}-{b}-{i}"),
                "name": "cs-reply",
                "input": [{"role": "user", "content": format!("Halo, pesanan nomor {b}{i} saya belum sampai, bisa dicek?")}],
                "output": "Mohon maaf atas keterlambatannya. Boleh kami minta nomor resi Kakak?",
                "model": "smollm2-135m-instruct",
                "prompt": "balasan-cs",
                "latency_ms": 120.5 + i as f64,
                "input_tokens": 38,
                "output_tokens": 24,
                "cost": 0.0,
                "metadata": {"saluran": "whatsapp", "tier": "reguler"},
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "traces": traces })).unwrap_or_default()
}

async fn ingest(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    batches: usize,
    size: usize,
    concurrency: usize,
    prefix: &str,
) -> Result<()> {
    // Bodies are built before the clock starts: the benchmark measures Juru, not the generator.
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new((0..batches).map(|b| batch_body(prefix, b, size)).collect());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, bodies, next) = (client.clone(), bodies.clone(), next.clone());
        let (endpoint, token) = (format!("{url}/api/v1/traces/batch"), token.to_owned());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { return Ok::<_, anyhow::Error>(()) };
                let res = client
                    .post(&endpoint)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await?;
                if res.status() != 201 {
                    bail!("batch {i}: {} {}", res.status(), res.text().await.unwrap_or_default());
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    let n = batches * size;
    println!("{{\"traces\":{n},\"seconds\":{secs:.3},\"traces_per_second\":{:.0}}}", n as f64 / secs);
    Ok(())
}

async fn get(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    path: &str,
    rate: u64,
    seconds: u64,
) -> Result<()> {
    let endpoint = format!("{url}{path}");
    // Warm the connection pool and check the path answers.
    for _ in 0..50 {
        let res = client.get(&endpoint).bearer_auth(token).send().await.context("warm-up request")?;
        if !res.status().is_success() {
            bail!("GET {path}: {}", res.status());
        }
        res.bytes().await?;
    }
    let total = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let scheduled = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let (client, endpoint, token) = (client.clone(), endpoint.clone(), token.to_owned());
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let ok = match client.get(&endpoint).bearer_auth(&token).send().await {
                Ok(res) => res.status().is_success() && res.bytes().await.is_ok(),
                Err(_) => false,
            };
            (sent.elapsed(), sent - scheduled, ok)
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut lags = Vec::with_capacity(tasks.len());
    let mut errors = 0;
    for t in tasks {
        let (d, lag, ok) = t.await?;
        if !ok {
            errors += 1;
        }
        latencies.push(d.as_secs_f64() * 1000.0);
        lags.push(lag.as_secs_f64() * 1000.0);
    }
    lags.sort_by(f64::total_cmp);
    let achieved = total as f64 / (Instant::now() - start).as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "{{\"requests\":{total},\"errors\":{errors},\"target_rate\":{rate},\"achieved_rate\":{achieved:.0},\
         \"p50_ms\":{:.3},\"p90_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3},\
         \"send_lag_p99_ms\":{:.3},\"send_lag_max_ms\":{:.3}}}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        latencies[latencies.len() - 1],
        lags[(lags.len() as f64 * 0.99) as usize],
        lags[lags.len() - 1]
    );
    Ok(())
}

fn read_examples(path: &std::path::Path) -> Result<(Vec<String>, Vec<String>)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut texts = Vec::new();
    let mut labels = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("{}: line {}", path.display(), i + 1))?;
        texts.push(v["text"].as_str().unwrap_or_default().to_owned());
        labels.push(match &v["label"] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    }
    Ok((texts, labels))
}

fn classify(train: &std::path::Path, test: &std::path::Path, epochs: Option<usize>) -> Result<()> {
    use juru_runtime::classifier::{Classifier, Examples, TrainConfig};
    let (train_texts, train_labels) = read_examples(train)?;
    let (test_texts, test_labels) = read_examples(test)?;
    let mut labels: Vec<String> = train_labels.clone();
    labels.sort();
    labels.dedup();
    let index = |l: &String| labels.iter().position(|x| x == l).unwrap_or(0);
    let targets: Vec<usize> = train_labels.iter().map(index).collect();
    let config =
        TrainConfig { epochs: epochs.unwrap_or(TrainConfig::default().epochs), ..TrainConfig::default() };
    let started = Instant::now();
    let model = Classifier::train(
        &Examples { texts: &train_texts, targets: &targets, labels: &labels, sample_weights: None },
        &config,
        |_, _| {},
    )?;
    let train_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let predicted = model.predict_batch(&test_texts);
    let predict_seconds = started.elapsed().as_secs_f64();
    let y_true: Vec<usize> = test_labels.iter().map(index).collect();
    let y_pred: Vec<usize> = predicted.iter().map(|p| p.0).collect();
    let report = juru_stats::classification::classification_report(&y_true, &y_pred, &labels)?;
    println!(
        "{{\"train_examples\":{},\"test_examples\":{},\"train_seconds\":{train_seconds:.4},\"predict_seconds\":{predict_seconds:.4},\
         \"macro_f1\":{:.6},\"accuracy\":{:.6}}}",
        train_texts.len(),
        test_texts.len(),
        report.macro_f1,
        report.accuracy
    );
    Ok(())
}

fn llm(gguf: &std::path::Path, tokens: usize, streams: usize, question: &str) -> Result<()> {
    use juru_runtime::llm::{Llm, Message, Sampling};
    let model = Llm::load(gguf)?;
    let prompt = model.chat_prompt(&[Message { role: "user".into(), content: question.into() }])?;
    // Greedy, no stop, no penalty: every run generates exactly `tokens` tokens unless the model ends.
    let s = Sampling { temperature: 0.0, max_tokens: tokens, repeat_penalty: 1.0, ..Sampling::default() };
    model.generate(&prompt, &Sampling { max_tokens: 4, ..s.clone() }, |_| true)?; // warm-up
    let one = model.generate(&prompt, &s, |_| true)?;
    let prompts: Vec<String> = (0..streams).map(|i| format!("{prompt}{}", " ".repeat(i))).collect();
    let many = model.generate_many(&prompts, &s)?;
    let generated: usize = many.iter().map(|g| g.completion_tokens).sum();
    let prompt_tokens: usize = many.iter().map(|g| g.prompt_tokens).sum();
    println!(
        "{{\"prompt_tokens\":{},\"generated\":{},\"prompt_tokens_per_second\":{:.1},\"tokens_per_second\":{:.1},\
         \"streams\":{streams},\"batched_generated\":{generated},\"batched_prompt_tokens_per_second\":{:.1},\"batched_tokens_per_second\":{:.1}}}",
        one.prompt_tokens,
        one.completion_tokens,
        one.prompt_tokens as f64 / one.prompt_seconds,
        one.completion_tokens as f64 / one.generation_seconds,
        prompt_tokens as f64 / many[0].prompt_seconds,
        generated as f64 / many[0].generation_seconds,
    );
    Ok(())
}

/// Peak resident memory of this process in MiB (Linux `VmHWM`).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn embed(model: &std::path::Path, sentences: &std::path::Path, repeat: usize) -> Result<()> {
    use juru_runtime::embed::Embedder;
    let text =
        std::fs::read_to_string(sentences).with_context(|| format!("reading {}", sentences.display()))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let embedder = Embedder::load(model)?;
    embedder.embed(&lines[..lines.len().min(64)])?; // warm-up
    let mut seconds = Vec::new();
    let mut tokens = 0;
    for _ in 0..repeat.max(1) {
        let started = Instant::now();
        tokens = embedder.embed(&lines)?.tokens;
        seconds.push(started.elapsed().as_secs_f64());
    }
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    println!(
        "{{\"sentences\":{},\"tokens\":{tokens},\"median_s\":{median:.4},\"sentences_per_s\":{:.1},\"peak_rss_mb\":{:.1}}}",
        lines.len(),
        lines.len() as f64 / median,
        peak_rss_mib()
    );
    Ok(())
}

/// The prompt the render benchmark uses (scripts/bench_prompt_peer.py renders the same one with
/// Python's jinja2).
const RENDER_SYSTEM: &str =
    "Kamu asisten layanan pelanggan {{ toko }}. Jawab dengan sopan dalam Bahasa Indonesia.";
const RENDER_USER: &str = "Pelanggan bernama {{ nama }} (tier {{ tier }}) menulis: \"{{ keluhan }}\"\n\
Riwayat pesanan:\n{% for p in pesanan %}- {{ p }}\n{% endfor %}Tulis balasan singkat.";

fn render(count: usize, repeat: usize) -> Result<()> {
    use juru_core::prompt::{ChatMessage, PromptSpec, Template};
    let spec = PromptSpec {
        template: Template::Chat(vec![
            ChatMessage { role: "system".into(), content: RENDER_SYSTEM.into() },
            ChatMessage { role: "user".into(), content: RENDER_USER.into() },
        ]),
        variables: json!({"type": "object", "required": ["nama", "keluhan", "pesanan"], "properties": {
            "toko": {"type": "string", "default": "Toko Nusantara"},
            "nama": {"type": "string"}, "tier": {"type": "string", "enum": ["reguler", "gold"], "default": "reguler"},
            "keluhan": {"type": "string", "minLength": 5}, "pesanan": {"type": "array", "items": {"type": "string"}}}}),
        config: json!({}),
    };
    let compiled = spec.compile(&Default::default()).map_err(|p| anyhow::anyhow!("{p:?}"))?;
    let values = json!({"nama": "Budi Santoso", "tier": "gold", "keluhan": "Paket saya belum sampai padahal sudah seminggu.",
                        "pesanan": ["INV-2026-0012 sepatu", "INV-2026-0031 kaos"]});
    let values = values.as_object().cloned().unwrap_or_default();
    let first = compiled.render(&values).map_err(|p| anyhow::anyhow!("{p:?}"))?;
    let mut rates = Vec::new();
    for _ in 0..repeat {
        let started = Instant::now();
        let mut bytes = 0usize;
        for _ in 0..count {
            match compiled.render(&values) {
                Ok(juru_core::prompt::Rendered::Chat(m)) => bytes += m[1].content.len(),
                Ok(_) => {}
                Err(p) => bail!("render failed: {p:?}"),
            }
        }
        rates.push(count as f64 / started.elapsed().as_secs_f64());
        std::hint::black_box(bytes);
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "{}",
        json!({"renders": count, "repeat": repeat, "median_renders_per_s": rates[rates.len() / 2],
               "all_renders_per_s": rates, "output": serde_json::to_value(&first)?})
    );
    Ok(())
}
