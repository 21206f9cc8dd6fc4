#!/usr/bin/python3
"""PyTorch reference for bench/forward.ts: a float32 Qwen2 / Llama decoder forward with a KV cache.

Reads a Hugging Face model folder (config.json + model.safetensors or a sharded index) with a small
numpy safetensors reader, runs it with plain torch ops (no transformers), times

  * prefill: one full forward of the prompt (fresh cache, last-position logits only),
  * decode:  greedy steps with the KV cache after a prefill (prefill excluded from the time),

and prints ONE JSON line on stdout. Optionally writes the float32 last-position logits of the
prompt to --logits-out (raw little-endian float32, vocab values) for the caller to compare.

Run with Debian's python (it has torch + numpy) and OPENBLAS_CORETYPE=SkylakeX:

  OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/forward_torch.py --model DIR \
      --ids 1,2,3 --prefill-runs 5 --warmup 1 --decode-steps 32 --decode-runs 1 --threads 2
"""

import argparse
import json
import math
import os
import resource
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------
# safetensors (numpy only)

_NP_DTYPES = {
    "F32": np.float32,
    "F16": np.float16,
    "F64": np.float64,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}


def read_safetensors(path):
    """Returns {name: float32 numpy array} for the float tensors of one .safetensors file."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len).decode("utf-8"))
    base = 8 + header_len
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = info["dtype"]
        shape = tuple(info["shape"])
        start, end = info["data_offsets"]
        buf = raw[base + start : base + end]
        if dtype == "BF16":
            bits = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        elif dtype in _NP_DTYPES:
            arr = np.frombuffer(buf, dtype=np.dtype(_NP_DTYPES[dtype]).newbyteorder("<")).astype(np.float32)
        else:
            raise SystemExit(f"{path}: tensor {name}: unsupported dtype {dtype}")
        out[name] = arr.reshape(shape)
    return out


def read_model_weights(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    weights = {}
    for name in files:
        weights.update(read_safetensors(os.path.join(model_dir, name)))
    return weights


# ---------------------------------------------------------------------------------------------
# the model


def linear_gemv(x, w, b=None):
    """F.linear, but a single row goes through torch.mv (BLAS sgemv).

    With torch 1.13 + OpenBLAS 0.3.21, F.linear on one row calls sgemm with M=1, which streams the
    weights at ~40% of the speed of sgemv (measured 0.83 ms vs 0.33 ms for 896x4864, 47 ms vs 21 ms
    for the 151936x896 lm_head). Decode is all single rows, so this matters ~2x there.
    """
    if x.shape[0] != 1:
        return F.linear(x, w, b)
    y = torch.mv(w, x[0])
    if b is not None:
        y = y + b
    return y.unsqueeze(0)


class Decoder:
    def __init__(self, model_dir, gemv=True):
        self.linear = linear_gemv if gemv else F.linear
        with open(os.path.join(model_dir, "config.json")) as f:
            cfg = json.load(f)
        self.cfg = cfg
        self.D = cfg["hidden_size"]
        self.L = cfg["num_hidden_layers"]
        self.H = cfg["num_attention_heads"]
        self.KV = cfg.get("num_key_value_heads") or self.H
        self.hd = cfg.get("head_dim") or self.D // self.H
        self.eps = float(cfg.get("rms_norm_eps", 1e-6))
        self.vocab = cfg["vocab_size"]
        theta = float(cfg.get("rope_theta", 10000.0))
        scaling = cfg.get("rope_scaling")
        if scaling and scaling.get("rope_type", scaling.get("type")) not in (None, "default"):
            raise SystemExit(f"forward_torch.py: rope_scaling {scaling} is not supported by this reference")
        # HF default RoPE: inv_freq[j] = 1 / theta^(2j / hd), computed in float64 then cast.
        j = np.arange(0, self.hd, 2, dtype=np.float64)
        self.inv_freq = torch.from_numpy((1.0 / theta ** (j / self.hd)).astype(np.float32))

        w = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in read_model_weights(model_dir).items()}
        self.embed = w["model.embed_tokens.weight"]
        tied = cfg.get("tie_word_embeddings", False) or "lm_head.weight" not in w
        self.lm_head = self.embed if tied else w["lm_head.weight"]
        self.norm = w["model.norm.weight"]
        self.layers = []
        for i in range(self.L):
            p = f"model.layers.{i}."
            g = lambda n: w.get(p + n)  # noqa: E731
            self.layers.append(
                {
                    "ln1": g("input_layernorm.weight"),
                    "ln2": g("post_attention_layernorm.weight"),
                    "wq": g("self_attn.q_proj.weight"),
                    "bq": g("self_attn.q_proj.bias"),
                    "wk": g("self_attn.k_proj.weight"),
                    "bk": g("self_attn.k_proj.bias"),
                    "wv": g("self_attn.v_proj.weight"),
                    "bv": g("self_attn.v_proj.bias"),
                    "wo": g("self_attn.o_proj.weight"),
                    "bo": g("self_attn.o_proj.bias"),
                    "wg": g("mlp.gate_proj.weight"),
                    "bg": g("mlp.gate_proj.bias"),
                    "wu": g("mlp.up_proj.weight"),
                    "bu": g("mlp.up_proj.bias"),
                    "wd": g("mlp.down_proj.weight"),
                    "bd": g("mlp.down_proj.bias"),
                }
            )

    def rms_norm(self, x, weight):
        var = x.pow(2).mean(-1, keepdim=True)
        return x * torch.rsqrt(var + self.eps) * weight

    @staticmethod
    def rotate_half(x):
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    def forward(self, ids, cache, last_only=True):
        """ids: LongTensor [T] (batch 1). cache: list of (k, v) per layer ([KV, past, hd]) or None.

        Returns (logits [vocab] of the last position, or [T, vocab]; new cache)."""
        T = ids.shape[0]
        past = 0 if cache is None else cache[0][0].shape[1]
        H, KV, hd = self.H, self.KV, self.hd
        G = H // KV
        pos = torch.arange(past, past + T, dtype=torch.float32)
        freqs = pos[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None], emb.sin()[None]  # [1, T, hd]
        if T > 1:
            mask = torch.full((T, past + T), float("-inf")).triu_(past + 1)  # key s visible iff s <= past + t
        else:
            mask = None
        scale = 1.0 / math.sqrt(hd)

        x = F.embedding(ids, self.embed)  # [T, D]
        new_cache = []
        for i, l in enumerate(self.layers):
            h = self.rms_norm(x, l["ln1"])
            q = self.linear(h, l["wq"], l["bq"]).view(T, H, hd).transpose(0, 1)  # [H, T, hd]
            k = self.linear(h, l["wk"], l["bk"]).view(T, KV, hd).transpose(0, 1)
            v = self.linear(h, l["wv"], l["bv"]).view(T, KV, hd).transpose(0, 1)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            if cache is not None:
                k = torch.cat((cache[i][0], k), dim=1)
                v = torch.cat((cache[i][1], v), dim=1)
            new_cache.append((k, v))
            # GQA: query head h reads kv head h // G (HF repeat_kv), as a broadcast over the group axis.
            qg = q.reshape(KV, G * T, hd)
            scores = torch.bmm(qg, k.transpose(1, 2)).view(KV, G, T, -1) * scale
            if mask is not None:
                scores = scores + mask
            probs = torch.softmax(scores, dim=-1).view(KV, G * T, -1)
            ctx = torch.bmm(probs, v).view(H, T, hd).transpose(0, 1).reshape(T, H * hd)
            x = x + self.linear(ctx, l["wo"], l["bo"])
            h = self.rms_norm(x, l["ln2"])
            act = F.silu(self.linear(h, l["wg"], l["bg"])) * self.linear(h, l["wu"], l["bu"])
            x = x + self.linear(act, l["wd"], l["bd"])
        if last_only:
            x = x[-1:]
        logits = self.linear(self.rms_norm(x, self.norm), self.lm_head)
        return (logits[0] if last_only else logits), new_cache


# ---------------------------------------------------------------------------------------------


def peak_rss_mib():
    """Peak RSS of this process image. (getrusage's ru_maxrss survives exec, so a child of a big
    parent would report the parent's size; VmHWM belongs to the current address space.)"""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def blas_info():
    """Which BLAS torch's matmuls went to: the library mapped into this process, and OpenBLAS's core."""
    libs = []
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if ("blas" in os.path.basename(path)) and path not in libs:
                libs.append(path)
    info = {"libraries": libs, "openblas": None}
    for path in libs:
        if "openblas" in os.path.basename(path):
            try:
                import ctypes

                lib = ctypes.CDLL(path)
                lib.openblas_get_config.restype = ctypes.c_char_p
                lib.openblas_get_corename.restype = ctypes.c_char_p
                info["openblas"] = {
                    "config": lib.openblas_get_config().decode(),
                    "core": lib.openblas_get_corename().decode(),
                    "threads": lib.openblas_get_num_threads(),
                }
            except (OSError, AttributeError):
                pass
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="Hugging Face model folder")
    ap.add_argument("--ids", help="prompt token ids, comma separated or a JSON list")
    ap.add_argument("--ids-file", help="file holding a JSON list of prompt token ids")
    ap.add_argument("--prefill-runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--decode-steps", type=int, default=32)
    ap.add_argument("--decode-runs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--logits-out", help="write the prompt's last-position logits here (raw float32 LE)")
    ap.add_argument(
        "--plain-linear",
        action="store_true",
        help="use F.linear for single rows too (stock PyTorch path; ~2x slower decode with OpenBLAS 0.3.21)",
    )
    ap.add_argument("--top", type=int, default=8, help="how many leading logits to echo in the JSON")
    args = ap.parse_args()

    if args.ids_file:
        with open(args.ids_file) as f:
            ids = json.load(f)
    elif args.ids:
        s = args.ids.strip()
        ids = json.loads(s) if s.startswith("[") else [int(t) for t in s.split(",") if t]
    else:
        raise SystemExit("forward_torch.py: give --ids or --ids-file")
    if not ids:
        raise SystemExit("forward_torch.py: empty prompt")

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model = Decoder(args.model, gemv=not args.plain_linear)
    load_s = time.perf_counter() - t0
    if any(i < 0 or i >= model.vocab for i in ids):
        raise SystemExit(f"forward_torch.py: token id out of range [0, {model.vocab})")
    prompt = torch.tensor(ids, dtype=torch.long)

    with torch.inference_mode():
        # Prefill: one full forward of the prompt from an empty cache, last-position logits.
        for _ in range(args.warmup):
            model.forward(prompt, None)
        prefill_times = []
        logits = None
        for _ in range(max(1, args.prefill_runs)):
            t = time.perf_counter()
            logits, _ = model.forward(prompt, None)
            prefill_times.append(time.perf_counter() - t)
        logits_np = logits.numpy().astype(np.float32)

        # Decode: prefill (untimed), then greedy steps one token at a time with the cache.
        decode_times = []
        generated = []
        if args.decode_steps > 0:
            for r in range(args.warmup + max(1, args.decode_runs)):
                step_logits, cache = model.forward(prompt, None)
                nxt = int(torch.argmax(step_logits))
                toks = [nxt]
                t = time.perf_counter()
                for _ in range(args.decode_steps):
                    step_logits, cache = model.forward(torch.tensor([nxt], dtype=torch.long), cache)
                    nxt = int(torch.argmax(step_logits))
                    toks.append(nxt)
                dt = time.perf_counter() - t
                if r >= args.warmup:
                    decode_times.append(dt)
                generated = toks

    if args.logits_out:
        logits_np.astype("<f4").tofile(args.logits_out)

    prefill_med = statistics.median(prefill_times)
    result = {
        "engine": "torch",
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "single_row_linear": "F.linear" if args.plain_linear else "torch.mv",
        "blas": blas_info(),
        "load_s": load_s,
        "prompt_len": len(ids),
        "prefill_s": prefill_times,
        "prefill_median_s": prefill_med,
        "prefill_tok_s": len(ids) / prefill_med,
        "decode_steps": args.decode_steps,
        "decode_s": decode_times,
        "decode_tok_s": (args.decode_steps / statistics.median(decode_times)) if decode_times else None,
        # generated[0] comes from the prefill logits; generated[1:] from the timed decode steps.
        "greedy_ids": generated,
        "vocab": int(logits_np.shape[0]),
        "logits_argmax": int(np.argmax(logits_np)),
        "logits_head": [float(v) for v in logits_np[: args.top]],
        "logits_absmax": float(np.abs(logits_np).max()),
        "max_rss_mib": peak_rss_mib(),
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
