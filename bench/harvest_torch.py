"""Reference harvest for bench/harvest.ts: torch 1.13 forward passes over pre-tokenised documents that keep the
MLP outputs (`blocks.{L}.hook_mlp_out`) of the given layers and write them to disk as float32, one document at a
time, the way a hook-caching harvest in PyTorch does it (TransformerLens' run_with_cache, names_filter on those
hooks, then .cpu().numpy().tofile()). Prints one JSON line: tokens, seconds, tokens/s, peak RSS.

    python3 bench/harvest_torch.py --model DIR --corpus ids.jsonl --layers 0,8,17 --out acts.bin [--threads 2]
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from forward_torch import Decoder, blas_info, peak_rss_mib  # noqa: E402


def mlp_outs(model, ids, layers):
    """One document ([T] ids, no cache): {layer: [T, D] MLP output}; stops after the last layer asked for."""
    T = ids.shape[0]
    H, KV, hd = model.H, model.KV, model.hd
    G = H // KV
    pos = torch.arange(0, T, dtype=torch.float32)
    freqs = pos[:, None] * model.inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[None], emb.sin()[None]
    mask = torch.full((T, T), float("-inf")).triu_(1)
    scale = 1.0 / math.sqrt(hd)
    x = F.embedding(ids, model.embed)
    out = {}
    last = max(layers)
    for i, l in enumerate(model.layers[: last + 1]):
        h = model.rms_norm(x, l["ln1"])
        q = F.linear(h, l["wq"], l["bq"]).view(T, H, hd).transpose(0, 1)
        k = F.linear(h, l["wk"], l["bk"]).view(T, KV, hd).transpose(0, 1)
        v = F.linear(h, l["wv"], l["bv"]).view(T, KV, hd).transpose(0, 1)
        q = q * cos + model.rotate_half(q) * sin
        k = k * cos + model.rotate_half(k) * sin
        qg = q.reshape(KV, G * T, hd)
        scores = torch.bmm(qg, k.transpose(1, 2)).view(KV, G, T, -1) * scale + mask
        probs = torch.softmax(scores, dim=-1).view(KV, G * T, -1)
        ctx = torch.bmm(probs, v).view(H, T, hd).transpose(0, 1).reshape(T, H * hd)
        x = x + F.linear(ctx, l["wo"], l["bo"])
        h = model.rms_norm(x, l["ln2"])
        mlp = F.linear(F.silu(F.linear(h, l["wg"], l["bg"])) * F.linear(h, l["wu"], l["bu"]), l["wd"], l["bd"])
        if i in layers:
            out[i] = mlp
        x = x + mlp
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--corpus", required=True, help="JSONL of {\"ids\": [...]}")
    ap.add_argument("--layers", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup-corpus", help="documents run (not timed, not written) before the timed ones")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    layers = sorted({int(s) for s in args.layers.split(",")})
    with open(args.corpus) as f:
        docs = [json.loads(line)["ids"] for line in f if line.strip()]
    t0 = time.perf_counter()
    model = Decoder(args.model, gemv=False)
    load_s = time.perf_counter() - t0
    if args.warmup_corpus:
        with open(args.warmup_corpus) as f, torch.inference_mode():
            for line in f:
                if line.strip():
                    mlp_outs(model, torch.tensor(json.loads(line)["ids"], dtype=torch.long), layers)
    tokens = 0
    t0 = time.perf_counter()
    with torch.inference_mode(), open(args.out, "wb") as out:
        for ids in docs:
            acts = mlp_outs(model, torch.tensor(ids, dtype=torch.long), layers)
            for layer in layers:
                acts[layer].contiguous().numpy().tofile(out)
            tokens += len(ids)
    secs = time.perf_counter() - t0
    print(json.dumps({"tokens": tokens, "seconds": secs, "tok_s": tokens / secs, "load_s": load_s, "max_rss_mib": peak_rss_mib(), "torch": torch.__version__, "blas": blas_info()}))


if __name__ == "__main__":
    main()
