#!/usr/bin/python3
"""PyTorch reference for `initscope probe --method network`: the same Monte
Carlo at initialization, done the PyTorch way, for timing.

For each sample it draws a fresh network with He-normal weights
(N(0, 2/fan_in), zero biases, float32), pushes the fixed input x (all ones,
as --input ones) and a random unit tangent u through it together, masks both
with x's ReLU pattern and routes u through x's max-pooling choices, and
records M_j = ||act_j||^2/n_j after every layer and ||J u||^2: exactly what
the network sampler computes.

Modes:
  loop   one sample at a time, weights drawn in place into reused buffers
  batch  --batch samples at once: torch.bmm for dense layers, grouped
         convolutions (one group per sample) for conv layers

Nets: the two grammars' subset used by bench/probe_bench.sh:
  fc:N0-N1xK-...-Nd
  net:CxHxW,convCkK[xR],maxpoolK,gap,denseN   (conv: stride 1, pad K/2)

Prints one JSON line: seconds spent sampling (after import and set-up),
the CPU seconds of all the process's threads over the same span, and the
mean and SE of ln(M_d/M_0), to check that both tools sample the same law.
"""
import argparse
import json
import math
import re
import sys
import time

import torch
import torch.nn.functional as F


def parse(spec):
    """Returns (input shape, layers); a layer is (kind, size, relu)."""
    if spec.startswith("fc:"):
        widths = []
        for part in spec[3:].split("-"):
            w, _, k = part.partition("x")
            widths += [int(w)] * (int(k) if k else 1)
        layers = [("dense", w, True) for w in widths[1:]]
        layers[-1] = ("dense", widths[-1], False)
        return (widths[0],), layers
    if not spec.startswith("net:"):
        sys.exit("torch_probe.py: spec must start with fc: or net:")
    items = spec[4:].split(",")
    shape = tuple(int(v) for v in items[0].split("x"))
    layers = []
    for it in items[1:]:
        m = re.fullmatch(r"conv(\d+)k(\d+)(?:x(\d+))?", it)
        if m:
            layers += [("conv", (int(m[1]), int(m[2])), True)] * int(m[3] or 1)
        elif re.fullmatch(r"maxpool(\d+)", it):
            layers.append(("maxpool", int(it[7:]), False))
        elif it == "gap":
            layers.append(("gap", 0, False))
        elif re.fullmatch(r"dense(\d+)", it):
            layers.append(("dense", int(it[5:]), True))
        else:
            sys.exit(f"torch_probe.py: unsupported item {it!r}")
    kind, size, _ = layers[-1]
    layers[-1] = (kind, size, False)  # the last layer is linear, as in arch
    return shape, layers


def run(shape, layers, samples, batch, gen):
    """Draws samples networks, batch at a time (batch 0: the loop mode).
    Returns ln(M_d/M_0) per sample."""
    b = max(batch, 1)
    n0 = math.prod(shape)
    x = torch.ones(n0)
    m0 = float(x.dot(x)) / n0
    logm = torch.empty(samples, len(layers))
    logj = torch.empty(samples)
    # Reused weight buffers, one per weight shape.
    bufs = {}
    for s0 in range(0, samples, b):
        nb = min(b, samples - s0)
        u = torch.randn(nb, n0, generator=gen)
        u /= u.norm(dim=1, keepdim=True)
        # h: (2, nb, features...) with h[0] = x, h[1] = u.
        h = torch.stack([x.expand(nb, n0), u]).reshape((2, nb) + shape)
        for j, (kind, size, relu) in enumerate(layers):
            if kind == "dense":
                h = h.reshape(2, nb, -1)
                fan_in = h.shape[2]
                key = (nb, size, fan_in)
                if key not in bufs:
                    bufs[key] = torch.empty(key)
                w = bufs[key].normal_(0, math.sqrt(2 / fan_in), generator=gen)
                if batch:
                    # (nb, size, fan_in) @ (nb, fan_in, 2) -> (nb, size, 2)
                    h = torch.bmm(w, h.permute(1, 2, 0)).permute(2, 0, 1)
                else:
                    h = (w[0] @ h[:, 0, :].T).T.unsqueeze(1)
            elif kind == "conv":
                cout, k = size
                cin = h.shape[2]
                key = (nb * cout, cin, k, k)
                if key not in bufs:
                    bufs[key] = torch.empty(key)
                w = bufs[key].normal_(0, math.sqrt(2 / (cin * k * k)), generator=gen)
                hh, ww = h.shape[3], h.shape[4]
                y = F.conv2d(h.reshape(2, nb * cin, hh, ww), w, padding=k // 2, groups=nb)
                h = y.reshape(2, nb, cout, hh, ww)
            elif kind == "maxpool":
                c, hh, ww = h.shape[2:]
                px, idx = F.max_pool2d(h[0].reshape(nb * c, 1, hh, ww), size, return_indices=True)
                pu = h[1].reshape(nb * c, 1, hh * ww).gather(2, idx.flatten(2)).view_as(px)
                h = torch.stack([px, pu]).reshape(2, nb, c, px.shape[2], px.shape[3])
            elif kind == "gap":
                h = h.mean(dim=(3, 4))
            if relu:
                h = h * (h[0] > 0)
            hx = h[0].reshape(nb, -1)
            logm[s0:s0 + nb, j] = torch.log(hx.square().sum(1).double() / hx.shape[1] / m0).float()
        hu = h[1].reshape(nb, -1)
        logj[s0:s0 + nb] = torch.log(hu.square().sum(1))
    return logm[:, -1].double()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", required=True)
    ap.add_argument("--samples", type=int, required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--mode", choices=["loop", "batch"], default="loop")
    ap.add_argument("--batch", type=int, default=16, help="samples per step in batch mode")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    shape, layers = parse(a.arch)
    gen = torch.Generator().manual_seed(a.seed)
    with torch.no_grad():
        t, c = time.perf_counter(), time.process_time()
        last = run(shape, layers, a.samples, a.batch if a.mode == "batch" else 0, gen)
        secs, cpu = time.perf_counter() - t, time.process_time() - c
    live = last[torch.isfinite(last)]
    print(json.dumps({
        "arch": a.arch, "samples": a.samples, "threads": a.threads, "mode": a.mode,
        "batch": a.batch if a.mode == "batch" else 1, "seconds": secs, "cpu_seconds": cpu,
        "log_mean_last": float(live.mean()), "log_mean_last_se": float(live.std() / math.sqrt(len(live))),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
