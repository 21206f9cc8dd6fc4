#!/usr/bin/python3
"""PyTorch reference for bench/sae.ts: the same TopK SAE training step, written the usual way.

    xc = x - b_dec; pre = xc @ W_enc.T + b_enc; (v, i) = topk(pre, k); z = scatter(relu(v))
    x_hat = z @ W_dec + b_dec; loss = sum((x_hat - x)^2) / B
    loss.backward(); remove the decoder gradient's component along each row; Adam; renormalise rows

Two variants, both timed:
  dense   the code z is a dense [B, S] tensor and the decoder a dense product (the common implementation)
  gather  the decoder gathers the k chosen rows (W_dec[i] weighted by relu(v)), as safesail's graph does

Inputs come from --data DIR (raw little-endian float32 files written by bench/sae.ts: x, W_encT, b_enc,
W_dec, b_dec; shapes in DIR/shapes.json), so both engines start from the same numbers; the first step's
loss is printed for the caller to compare. Prints ONE JSON line.

    OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/sae_torch.py --data DIR --steps 10 --warmup 2 --threads 2
"""

import argparse
import json
import os
import statistics
import time

import numpy as np
import torch


def load(data_dir, name, shape):
    a = np.fromfile(os.path.join(data_dir, name + ".f32"), dtype="<f4")
    return torch.from_numpy(a.reshape(shape).copy())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--variants", default="dense,gather")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    shapes = json.load(open(os.path.join(args.data, "shapes.json")))
    d, S, k, B = shapes["d"], shapes["S"], shapes["k"], shapes["B"]
    x = load(args.data, "x", (B, d))
    init = {
        "W_encT": load(args.data, "W_encT", (S, d)),
        "b_enc": load(args.data, "b_enc", (S,)),
        "W_dec": load(args.data, "W_dec", (S, d)),
        "b_dec": load(args.data, "b_dec", (d,)),
    }
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "shapes": shapes}

    for variant in args.variants.split(","):
        p = {n: t.clone().requires_grad_(True) for n, t in init.items()}
        opt = torch.optim.Adam(list(p.values()), lr=args.lr, betas=(0.9, 0.999), eps=6.25e-10)

        def step():
            opt.zero_grad(set_to_none=True)
            xc = x - p["b_dec"]
            pre = xc @ p["W_encT"].T + p["b_enc"]
            v, i = torch.topk(pre, k, dim=-1, sorted=False)
            a = torch.relu(v)
            if variant == "dense":
                z = torch.zeros_like(pre).scatter(-1, i, a)
                x_hat = z @ p["W_dec"] + p["b_dec"]
            else:
                x_hat = torch.einsum("bk,bkd->bd", a, p["W_dec"][i]) + p["b_dec"]
            loss = ((x_hat - x) ** 2).sum() / B
            loss.backward()
            with torch.no_grad():
                W = p["W_dec"]
                g = W.grad
                g -= (g * W).sum(-1, keepdim=True) * W
            opt.step()
            with torch.no_grad():
                W = p["W_dec"]
                W /= W.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            return loss.item()

        first = step()
        for _ in range(max(0, args.warmup - 1)):
            step()
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        out[variant] = {"first_loss": first, "step_s": med, "tokens_per_s": B / med, "times": times}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
