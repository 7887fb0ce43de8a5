//! Sentence embeddings on a tiny BERT that the tests write themselves (weights, tokenizer.json,
//! config.json), on damaged copies of it, and on the default pack's all-MiniLM-L6-v2 against
//! embeddings computed by an independent implementation (onnxruntime on an ONNX graph built from
//! the same weights, checked against numpy: tests/data/minilm_reference.py).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use juru_runtime::RuntimeError;
use juru_runtime::embed::{Embedder, cosine};
use juru_runtime::packs::Kind;
use safetensors::tensor::{Dtype, TensorView};
use serde_json::json;

const VOCAB: &[&str] = &[
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "sat", "on", "mat", "with", "a", "hat", "dog", "##s",
    ".",
];
const HIDDEN: usize = 8;
const INTERMEDIATE: usize = 16;
const MAX_POSITIONS: usize = 32;

fn tiny_config(vocab_size: usize) -> serde_json::Value {
    json!({
        "vocab_size": vocab_size, "hidden_size": HIDDEN, "num_hidden_layers": 2,
        "num_attention_heads": 2, "intermediate_size": INTERMEDIATE, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "max_position_embeddings": MAX_POSITIONS, "type_vocab_size": 2,
        "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
        "classifier_dropout": null, "model_type": "bert"
    })
}

fn tiny_tokenizer() -> serde_json::Value {
    let special = |id: usize| {
        json!({"id": id, "content": VOCAB[id], "single_word": false, "lstrip": false,
               "rstrip": false, "normalized": false, "special": true})
    };
    let vocab: serde_json::Map<String, serde_json::Value> =
        VOCAB.iter().enumerate().map(|(i, t)| (t.to_string(), json!(i))).collect();
    json!({
        "version": "1.0", "truncation": null,
        // Fixed-length padding like the MiniLM file ships with: the embedder must replace it.
        "padding": {"strategy": {"Fixed": 24}, "direction": "Right", "pad_to_multiple_of": null,
                    "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"},
        "added_tokens": [special(0), special(1), special(2), special(3)],
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                       "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}
            }
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab}
    })
}

/// The tensors of a BERT encoder with small random weights (seeded), by name and shape.
fn tiny_tensors() -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut random = |n: usize, scale: f32| -> Vec<f32> {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.0 * scale
            })
            .collect()
    };
    let mut t = Vec::new();
    let mut push = |name: String, shape: Vec<usize>, values: Vec<f32>| t.push((name, shape, values));
    let ones = |n: usize| vec![1f32; n];
    push(
        "embeddings.word_embeddings.weight".into(),
        vec![VOCAB.len(), HIDDEN],
        random(VOCAB.len() * HIDDEN, 1.0),
    );
    push(
        "embeddings.position_embeddings.weight".into(),
        vec![MAX_POSITIONS, HIDDEN],
        random(MAX_POSITIONS * HIDDEN, 0.1),
    );
    push("embeddings.token_type_embeddings.weight".into(), vec![2, HIDDEN], random(2 * HIDDEN, 0.1));
    push("embeddings.LayerNorm.weight".into(), vec![HIDDEN], ones(HIDDEN));
    push("embeddings.LayerNorm.bias".into(), vec![HIDDEN], random(HIDDEN, 0.1));
    for layer in 0..2 {
        let p = format!("encoder.layer.{layer}");
        for part in
            ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]
        {
            push(format!("{p}.{part}.weight"), vec![HIDDEN, HIDDEN], random(HIDDEN * HIDDEN, 0.5));
            push(format!("{p}.{part}.bias"), vec![HIDDEN], random(HIDDEN, 0.1));
        }
        push(
            format!("{p}.intermediate.dense.weight"),
            vec![INTERMEDIATE, HIDDEN],
            random(INTERMEDIATE * HIDDEN, 0.5),
        );
        push(format!("{p}.intermediate.dense.bias"), vec![INTERMEDIATE], random(INTERMEDIATE, 0.1));
        push(
            format!("{p}.output.dense.weight"),
            vec![HIDDEN, INTERMEDIATE],
            random(INTERMEDIATE * HIDDEN, 0.5),
        );
        push(format!("{p}.output.dense.bias"), vec![HIDDEN], random(HIDDEN, 0.1));
        for ln in ["attention.output.LayerNorm", "output.LayerNorm"] {
            push(format!("{p}.{ln}.weight"), vec![HIDDEN], ones(HIDDEN));
            push(format!("{p}.{ln}.bias"), vec![HIDDEN], random(HIDDEN, 0.1));
        }
    }
    t
}

fn safetensors_bytes(tensors: &[(String, Vec<usize>, Vec<f32>)]) -> Vec<u8> {
    let raw: Vec<Vec<u8>> =
        tensors.iter().map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect()).collect();
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .zip(&raw)
        .map(|((name, shape, _), bytes)| {
            (name.clone(), TensorView::new(Dtype::F32, shape.clone(), bytes).unwrap())
        })
        .collect();
    safetensors::serialize(views, None).unwrap()
}

/// Writes the tiny model into a fresh folder; returns the folder and its weights file.
fn tiny_model() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), tiny_config(VOCAB.len()).to_string()).unwrap();
    std::fs::write(dir.path().join("tokenizer.json"), tiny_tokenizer().to_string()).unwrap();
    let weights = dir.path().join("model.safetensors");
    std::fs::write(&weights, safetensors_bytes(&tiny_tensors())).unwrap();
    (dir, weights)
}

fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert!(worst <= tol, "{what}: largest difference {worst} > {tol}");
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

#[test]
fn a_tiny_bert_embeds_each_text_as_if_it_were_alone() {
    let (_dir, weights) = tiny_model();
    let e = Embedder::load(&weights).unwrap();
    assert_eq!(e.dims(), HIDDEN);
    let texts = ["the cat sat on the mat with a hat.", "the dog", "a cat", "the dogs sat"];
    let batch = e.embed(&texts).unwrap();
    assert_eq!(batch.vectors.len(), texts.len());
    // [CLS] + word pieces + [SEP]: 2 + 10, 2 + 2, 2 + 2, 2 + 4 (dogs = dog ##s).
    assert_eq!(batch.tokens, 12 + 4 + 4 + 6);
    for (text, v) in texts.iter().zip(&batch.vectors) {
        assert!((norm(v) - 1.0).abs() < 1e-5, "{text}: not unit length");
        // Alone, the text is not padded at all: the same vector means padding is masked out.
        assert_close(v, &e.embed_one(text).unwrap(), 1e-5, text);
    }
    assert!(cosine(&batch.vectors[0], &batch.vectors[1]) < 0.999, "different texts, different vectors");
    assert!(e.embed(&[]).unwrap().vectors.is_empty());
}

fn load_err(weights: &Path) -> String {
    match Embedder::load(weights) {
        Ok(_) => panic!("a damaged model loaded"),
        Err(e) => {
            assert!(
                matches!(e, RuntimeError::BadModelFile { .. } | RuntimeError::Io { .. }),
                "a file error, not {e:?}"
            );
            e.to_string()
        }
    }
}

#[test]
fn damaged_model_files_are_errors_that_name_the_file() {
    // Truncated weights.
    let (_dir, weights) = tiny_model();
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() - 100]).unwrap();
    let err = load_err(&weights);
    assert!(err.contains("model.safetensors") && err.contains("not a safetensors file"), "{err}");

    // A header that is not JSON.
    std::fs::write(&weights, b"\x10\x00\x00\x00\x00\x00\x00\x00{{{{{{{{{{{{{{{{").unwrap();
    let err = load_err(&weights);
    assert!(err.contains("model.safetensors"), "{err}");

    // A tensor missing.
    let mut tensors = tiny_tensors();
    tensors.retain(|(name, _, _)| name != "encoder.layer.1.output.dense.weight");
    std::fs::write(&weights, safetensors_bytes(&tensors)).unwrap();
    let err = load_err(&weights);
    assert!(
        err.contains("model.safetensors") && err.contains("encoder.layer.1.output.dense.weight"),
        "{err}"
    );

    // A tensor of the wrong shape.
    let mut tensors = tiny_tensors();
    tensors[0] =
        ("embeddings.word_embeddings.weight".into(), vec![VOCAB.len(), 4], vec![0.0; VOCAB.len() * 4]);
    std::fs::write(&weights, safetensors_bytes(&tensors)).unwrap();
    let err = load_err(&weights);
    assert!(err.contains("model.safetensors") && err.contains("shape"), "{err}");

    // A broken tokenizer.json, then a missing one.
    let (dir, weights) = tiny_model();
    let tok = dir.path().join("tokenizer.json");
    std::fs::write(&tok, &tiny_tokenizer().to_string()[..200]).unwrap();
    let err = load_err(&weights);
    assert!(err.contains("tokenizer.json") && err.contains("not a tokenizer.json"), "{err}");
    std::fs::remove_file(&tok).unwrap();
    let err = load_err(&weights);
    assert!(err.contains("tokenizer.json"), "{err}");

    // A config that is not a BERT config, and one whose vocabulary the tokenizer overruns.
    let (dir, weights) = tiny_model();
    let config = dir.path().join("config.json");
    std::fs::write(&config, r#"{"hidden_size": 8}"#).unwrap();
    let err = load_err(&weights);
    assert!(err.contains("config.json") && err.contains("not a BERT config"), "{err}");
    std::fs::write(&config, tiny_config(10).to_string()).unwrap();
    let err = load_err(&weights);
    assert!(err.contains("tokenizer.json") && err.contains("holds 10 ids"), "{err}");
}

fn minilm() -> &'static Embedder {
    static MODEL: OnceLock<Embedder> = OnceLock::new();
    MODEL.get_or_init(|| Embedder::load(&super::pack_file(Kind::Embedding)).unwrap())
}

#[derive(serde::Deserialize)]
struct Reference {
    sentences: Vec<String>,
    embeddings: Vec<Vec<f32>>,
    token_counts: Vec<usize>,
}

#[test]
fn minilm_matches_an_independent_implementation() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/minilm_reference.json");
    let reference: Reference = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let e = minilm();
    assert_eq!(e.dims(), 384);
    let texts: Vec<&str> = reference.sentences.iter().map(String::as_str).collect();
    let got = e.embed(&texts).unwrap();
    assert_eq!(got.tokens, reference.token_counts.iter().sum::<usize>());
    for ((text, want), have) in texts.iter().zip(&reference.embeddings).zip(&got.vectors) {
        assert_close(have, want, 2e-5, text);
    }
}

#[test]
fn minilm_puts_similar_sentences_close() {
    let e = minilm();
    let v = e
        .embed(&[
            "A cat sits on the mat.",
            "A kitten is sitting on a rug.",
            "The quarterly tax report is due on Friday.",
        ])
        .unwrap()
        .vectors;
    let (near, far) = (cosine(&v[0], &v[1]), cosine(&v[0], &v[2]));
    assert!(near > 0.5, "cat/kitten {near}");
    assert!(far < 0.2, "cat/tax {far}");
}
