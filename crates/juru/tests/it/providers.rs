//! External providers, tested against Juru's own OpenAI-compatible endpoint over real HTTP:
//! one `juru serve` registers itself as a provider and answers through it. Faults are made by a
//! small proxy on loopback in front of the real endpoint (it refuses the first calls with 503
//! or 429, then forwards), and by a listener that accepts and never answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{Site, free_addr, get_json, pulled_and_serving, stderr, stdout};

/// Reads one HTTP request's head and body (by Content-Length) from `s`.
async fn read_request(s: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = s.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return buf;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = s.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return buf;
        }
    }
}

/// A proxy that answers the first `failures` requests with `status` itself and forwards the rest
/// to `upstream` (one request per connection). Returns its address and the request count.
async fn faulty_proxy(upstream: String, failures: usize, status: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else { return };
            let n = count.fetch_add(1, Ordering::SeqCst);
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let request = read_request(&mut client).await;
                if n < failures {
                    let body = r#"{"error":{"message":"try again later"}}"#;
                    let answer = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nretry-after: 0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = client.write_all(answer.as_bytes()).await;
                    return;
                }
                let mut up = TcpStream::connect(&upstream).await.unwrap();
                up.write_all(&request).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut up).await;
            });
        }
    });
    (addr, seen)
}

/// A listener that accepts connections and never answers.
async fn silent_listener() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    addr
}

/// `juru model provider NAME --base-url URL --remote-model REMOTE …`, with the key (when given)
/// in `PROVIDER_KEY`; returns what it printed.
fn register(site: &Site, name: &str, url: &str, remote: &str, extra: &[&str], key: Option<&str>) -> String {
    let mut args = vec!["model", "provider", name, "--base-url", url, "--remote-model", remote];
    args.extend_from_slice(extra);
    let mut cmd = site.cmd(&args);
    if let Some(key) = key {
        cmd.env("PROVIDER_KEY", key).args(["--api-key-env", "PROVIDER_KEY"]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

async fn post(client: &reqwest::Client, url: &str, token: &str, body: Value) -> (u16, Value) {
    let r = client.post(url).bearer_auth(token).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn chat(model: &str) -> Value {
    json!({"model": model, "temperature": 0, "max_tokens": 16, "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France? Answer in one word."}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn juru_calls_an_external_provider_over_http_with_retries_and_a_sealed_key() {
    let (site, token, _server, base) = pulled_and_serving().await;
    let upstream = base.trim_start_matches("http://").to_owned();
    let client = reqwest::Client::new();

    // Juru registers its own endpoint as a chat provider and an embedding provider; the key is
    // a real Juru token, so a wrong key would be refused upstream.
    let printed = register(&site, "echo", &format!("{base}/v1"), "smollm2-135m-instruct", &[], Some(&token));
    assert!(printed.starts_with("echo@1\topenai-compatible"), "{printed}");
    register(
        &site,
        "echo-embed",
        &format!("{base}/v1"),
        "all-minilm-l6-v2",
        &["--task", "embedding"],
        Some(&token),
    );

    let (status, local) =
        post(&client, &format!("{base}/v1/chat/completions"), &token, chat("smollm2-135m-instruct")).await;
    assert_eq!(status, 200, "{local}");
    let (status, remote) = post(&client, &format!("{base}/v1/chat/completions"), &token, chat("echo")).await;
    assert_eq!(status, 200, "{remote}");
    assert_eq!(remote["model"], "echo");
    let answer = remote["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(answer, local["choices"][0]["message"]["content"].as_str().unwrap(), "greedy answers agree");
    assert!(answer.contains("Paris"), "{answer}");
    assert_eq!(remote["usage"], local["usage"], "the provider's token counts come back");

    // Streamed through the provider: pieces arrive as server-sent events.
    let mut streamed_req = chat("echo");
    streamed_req["stream"] = json!(true);
    let body = client
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(&token)
        .json(&streamed_req)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let pieces: String = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| v["choices"][0]["delta"]["content"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(pieces, answer, "{body}");
    assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");

    // Embeddings through the provider equal the local ones.
    let texts = json!(["Pesanan saya belum sampai.", "The parcel has not arrived."]);
    let (_, local) = post(
        &client,
        &format!("{base}/v1/embeddings"),
        &token,
        json!({"model": "all-minilm-l6-v2", "input": texts}),
    )
    .await;
    let (status, remote) = post(
        &client,
        &format!("{base}/v1/embeddings"),
        &token,
        json!({"model": "echo-embed", "input": texts}),
    )
    .await;
    assert_eq!(status, 200, "{remote}");
    assert_eq!(remote["data"][1]["embedding"], local["data"][1]["embedding"]);
    assert_eq!(remote["data"][0]["embedding"].as_array().unwrap().len(), 384);

    // 503 twice, then the real endpoint: retried and answered.
    let (flaky, seen) = faulty_proxy(upstream.clone(), 2, "503 Service Unavailable").await;
    register(
        &site,
        "flaky",
        &format!("http://{flaky}/v1"),
        "smollm2-135m-instruct",
        &["--max-retries", "3"],
        Some(&token),
    );
    let (status, v) = post(&client, &format!("{base}/v1/chat/completions"), &token, chat("flaky")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["choices"][0]["message"]["content"].as_str().unwrap(), answer);
    assert_eq!(seen.load(Ordering::SeqCst), 3, "two refusals, then the call that went through");

    // 429 more often than the retries allow: an error naming the provider's answer.
    let (busy, seen) = faulty_proxy(upstream.clone(), 100, "429 Too Many Requests").await;
    register(
        &site,
        "busy",
        &format!("http://{busy}/v1"),
        "smollm2-135m-instruct",
        &["--max-retries", "2"],
        None,
    );
    let (status, v) = post(&client, &format!("{base}/v1/chat/completions"), &token, chat("busy")).await;
    assert_eq!(status, 502, "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("429") && msg.contains("try again later") && msg.contains("3 attempts"), "{msg}");
    assert_eq!(seen.load(Ordering::SeqCst), 3);

    // Nobody listening: "cannot connect", quickly.
    let nowhere = free_addr();
    register(
        &site,
        "nowhere",
        &format!("http://{nowhere}/v1"),
        "x",
        &["--max-retries", "1", "--timeout-ms", "2000"],
        None,
    );
    let started = Instant::now();
    let (status, v) = post(&client, &format!("{base}/v1/chat/completions"), &token, chat("nowhere")).await;
    assert_eq!(status, 502, "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains(&nowhere) && msg.contains("cannot connect"), "{msg}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());

    // Accepted but never answered: an error within the time limit of each attempt.
    let silent = silent_listener().await;
    register(
        &site,
        "silent",
        &format!("http://{silent}/v1"),
        "x",
        &["--max-retries", "1", "--timeout-ms", "1000"],
        None,
    );
    let started = Instant::now();
    let (status, v) = post(&client, &format!("{base}/v1/chat/completions"), &token, chat("silent")).await;
    let took = started.elapsed();
    assert_eq!(status, 502, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("no answer within 1.0 s"), "{v}");
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(6), "two attempts of 1 s: {took:?}");

    // The key is never shown back: not in the API, the CLI, the audit log, nor in the database
    // file itself (it is sealed there).
    let detail = client
        .get(format!("{base}/api/v1/models/echo"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(detail.contains("openai-compatible") && detail.contains("\"api_key\":true"), "{detail}");
    let shown = stdout(&site.run(&["model", "show", "echo"]));
    let audit = stdout(&site.run(&["audit", "export"]));
    let secret = token.split('_').next_back().unwrap();
    for (what, text) in [("API", &detail), ("CLI", &shown), ("audit", &audit)] {
        assert!(!text.contains(secret), "the key shows in the {what}");
    }
    for file in ["juru.db", "juru.db-wal"] {
        if let Ok(bytes) = std::fs::read(site.data.path().join(file)) {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "the key is in {file} in clear"
            );
        }
    }

    // Each call through a provider is a trace, failures included.
    let traces: Value = get_json(&format!("{base}/api/v1/traces?model=nowhere"), &token).await;
    assert_eq!(traces["items"][0]["status"], "error", "{traces}");
}
