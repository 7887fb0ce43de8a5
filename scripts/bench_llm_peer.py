#!/usr/bin/env python3
"""The llama-cpp-python side of scripts/bench-llm: prompt and generation speed of a GGUF model,
one stream and then several sequences in one context, done the way `juru-bench llm` does it.

Uses llama-cpp-python's low-level API (the ctypes bindings of llama.h): the high-level `Llama`
class changes context defaults (it turns flash attention off, for one) and decodes one sequence
only. What is matched with Juru's runtime (crates/juru-runtime/src/llm.rs):
  - the prompt: the same question through the model's own chat template (llama_chat_apply_template,
    assistant turn opened), tokenized with BOS and special tokens parsed;
  - the context: llama.cpp's defaults except n_ctx = max(streams * (longest prompt + tokens), 256),
    n_batch 512, n_seq_max = streams, n_threads and n_threads_batch = --threads (Juru uses the
    number of CPUs); prompts are decoded in chunks of 512 tokens, logits only at each prompt's end;
  - generation: greedy sampler chain, each step decodes one new token for every live sequence in
    one batch; a sequence stops at an end-of-generation token (as Juru's does, so both count the
    same tokens) or after --tokens tokens; each token is turned into text;
  - timing: the prompt clock runs from just before the first prompt decode to the last; the
    generation clock from there to the end of the loop. Context creation is outside both;
  - a warm-up generation of 4 tokens before the timed runs; the several-stream run uses the
    prompt followed by i spaces for stream i, so the sequences differ.
Prints one JSON line: medians over --repeat runs and every run.

Usage: bench_llm_peer.py --gguf FILE [--tokens 128] [--streams 4] [--repeat 1] [--threads 2]
       [--question TEXT | --prompt-file FILE]
"""
import argparse, ctypes, json, os, statistics, time

QUESTION = ("Explain in a few sentences why the sky is blue, and then list three everyday examples "
            "of light scattering.")
N_BATCH = 512

import llama_cpp as L  # noqa: E402


@L.llama_log_callback
def _quiet(level, text, user_data):
    pass


class Peer:
    def __init__(self, gguf, threads):
        L.llama_log_set(_quiet, ctypes.c_void_p(0))
        L.llama_backend_init()
        self.model = L.llama_model_load_from_file(gguf.encode(), L.llama_model_default_params())
        if not self.model:
            raise SystemExit(f"llama.cpp could not load {gguf}")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.threads = threads

    def chat_prompt(self, question):
        tmpl = L.llama_model_chat_template(self.model, None)
        msg = (L.llama_chat_message * 1)(L.llama_chat_message(b"user", question.encode()))
        size = L.llama_chat_apply_template(tmpl, msg, 1, True, None, 0)
        buf = ctypes.create_string_buffer(size + 1)
        L.llama_chat_apply_template(tmpl, msg, 1, True, buf, size + 1)
        return buf.raw[:size].decode()

    def tokenize(self, text):
        data = text.encode()
        out = (L.llama_token * (len(data) + 8))()
        n = L.llama_tokenize(self.vocab, data, len(data), out, len(out), True, True)
        return list(out[:n])

    def piece(self, token):
        buf = ctypes.create_string_buffer(64)
        n = L.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, False)
        return buf.raw[:max(n, 0)]

    def generate(self, prompts, max_tokens):
        """Generates from every prompt at once; returns per-sequence token counts and the two times."""
        toks = [self.tokenize(p) for p in prompts]
        n = len(prompts)
        params = L.llama_context_default_params()
        params.n_ctx = max(n * (max(map(len, toks)) + max_tokens), 256)
        params.n_batch = N_BATCH
        params.n_seq_max = n
        params.n_threads = params.n_threads_batch = self.threads
        ctx = L.llama_init_from_model(self.model, params)
        if not ctx:
            raise SystemExit("llama.cpp could not create a context")
        batch = L.llama_batch_init(N_BATCH, 0, n)
        samplers = []

        def add(k, token, pos, seq, logits):
            batch.token[k], batch.pos[k], batch.n_seq_id[k] = token, pos, 1
            batch.seq_id[k][0], batch.logits[k] = seq, logits

        try:
            started = time.perf_counter()
            for _ in range(n):
                s = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
                L.llama_sampler_chain_add(s, L.llama_sampler_init_greedy())
                samplers.append(s)
            flat = [(i, j) for i, t in enumerate(toks) for j in range(len(t))]
            logits_at, pos = [0] * n, [0] * n
            for c in range(0, len(flat), N_BATCH):
                chunk = flat[c:c + N_BATCH]
                for k, (i, j) in enumerate(chunk):
                    last = j + 1 == len(toks[i])
                    add(k, toks[i][j], j, i, last)
                    if last:
                        logits_at[i], pos[i] = k, j + 1
                batch.n_tokens = len(chunk)
                if L.llama_decode(ctx, batch) != 0:
                    raise SystemExit("llama_decode failed on the prompt")
            prompt_s = time.perf_counter() - started

            started = time.perf_counter()
            counts, live = [0] * n, [True] * n
            while any(live):
                k = 0
                for i in range(n):
                    if not live[i]:
                        continue
                    token = L.llama_sampler_sample(samplers[i], ctx, logits_at[i])
                    L.llama_sampler_accept(samplers[i], token)
                    if L.llama_vocab_is_eog(self.vocab, token):
                        live[i] = False
                        continue
                    counts[i] += 1
                    self.piece(token)
                    if counts[i] >= max_tokens:
                        live[i] = False
                        continue
                    add(k, token, pos[i], i, True)
                    pos[i] += 1
                    logits_at[i] = k
                    k += 1
                if k == 0:
                    break
                batch.n_tokens = k
                if L.llama_decode(ctx, batch) != 0:
                    raise SystemExit("llama_decode failed while generating")
            gen_s = time.perf_counter() - started
        finally:
            for s in samplers:
                L.llama_sampler_free(s)
            L.llama_batch_free(batch)
            L.llama_free(ctx)
        return [len(t) for t in toks], counts, prompt_s, gen_s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--streams", type=int, default=4, help="sequences in the second run (1: skip it)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--question", default=QUESTION, help="put through the model's chat template")
    ap.add_argument("--prompt-file", help="raw prompt text, used as it is instead of --question")
    args = ap.parse_args()

    peer = Peer(args.gguf, args.threads)
    prompt = open(args.prompt_file, encoding="utf-8").read() if args.prompt_file else peer.chat_prompt(args.question)
    peer.generate([prompt], 4)  # warm-up
    runs = []
    for _ in range(args.repeat):
        p, g, ps, gs = peer.generate([prompt], args.tokens)
        run = {"prompt_tokens": p[0], "prompt_tok_s": p[0] / ps, "gen_tokens": g[0], "gen_tok_s": g[0] / gs}
        if args.streams > 1:
            p, g, ps, gs = peer.generate([prompt + " " * i for i in range(args.streams)], args.tokens)
            run.update(batch_prompt_tokens=sum(p), batch_prompt_tok_s=sum(p) / ps,
                       batch_gen_tokens=sum(g), batch_gen_tok_s=sum(g) / gs)
        runs.append(run)
    out = {"peer": "llama-cpp-python", "version": L.__version__, "threads": args.threads,
           "streams": args.streams, "tokens": args.tokens, "model_bytes": L.llama_model_size(peer.model),
           "system_info": L.llama_print_system_info().decode().strip()}
    out.update({k: round(statistics.median(r[k] for r in runs), 2) for k in runs[0]})
    out["runs"] = [{k: round(v, 2) for k, v in r.items()} for r in runs]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
