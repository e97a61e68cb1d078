#!/usr/bin/python3
"""Time PyTorch on the workloads of nn's BenchmarkStep* and train's
BenchmarkEpochDeepNarrow.

A step is: zero the gradients, forward, cross-entropy loss, backward,
optimizer step, in float32 on the CPU, on fixed random inputs and labels.
For each step workload and each torch.set_num_threads value given, the
script runs warm-up steps, then times steps one by one and takes the median.

EpochDeepNarrow is one epoch under the reproduction's protocol: MNIST
(pixels / 255, as initscope's data package), fc:784-100x50-10 with He-normal
weights and zero biases, SGD with lr 0.003 and momentum 0.9, batches of 128
in a fresh random order, and every 10 steps (and at the end of the epoch) an
evaluation of the accuracy on the first 1000 test images, in one batch
without gradients. It needs --mnist, the folder of the four IDX files
(gzip-compressed or not). Each epoch is timed whole; after one warm-up
epoch the median of --epochs epochs counts.

It prints one line per workload with the best median over the thread counts:

    WORKLOAD  median_ns  threads

Run by bench/train_step.sh; see there for the comparison with Go.
"""

import argparse
import gzip
import os
import statistics
import time

import numpy as np

import torch
from torch import nn


class Residual(nn.Module):
    """out = x + eta * module(x), as the resconv blocks of the Go benchmarks."""

    def __init__(self, module, eta):
        super().__init__()
        self.module, self.eta = module, eta

    def forward(self, x):
        return x + self.eta * self.module(x)


def mlp(widths):
    layers = []
    for i in range(len(widths) - 1):
        if i > 0:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(widths[i], widths[i + 1]))
    return nn.Sequential(*layers)


def conv_net():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 14 * 14, 10))


def res_conv_net():
    layers = [nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
    for _ in range(4):
        layers.append(Residual(nn.Sequential(
            nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1), nn.ReLU()), 0.5))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10)]
    return nn.Sequential(*layers)


def adam(params):
    return torch.optim.Adam(params, lr=1e-3)


def sgd(params):
    return torch.optim.SGD(params, lr=0.01, momentum=0.9)


# name: (model, input shape of one sample, batch, optimizer); the names are
# those of the Go benchmarks, without "BenchmarkStep".
WORKLOADS = {
    "MLPAdam": (lambda: mlp([784, 1000, 1000, 10]), (784,), 128, adam),
    "DeepMLPSGD": (lambda: mlp([784] + [50] * 50 + [10]), (784,), 128, sgd),
    "Conv": (conv_net, (1, 28, 28), 64, sgd),
    "ResConv": (res_conv_net, (1, 28, 28), 64, sgd),
}

# EPOCH_WORKLOAD is the whole-epoch workload (see epoch_ns), named like the
# Go benchmark without "Benchmark".
EPOCH_WORKLOAD = "EpochDeepNarrow"


def read_idx(folder, name):
    """Reads IDX file name (or name.gz) from folder as a numpy array."""
    path = os.path.join(folder, name)
    opener = open
    if not os.path.exists(path):
        path, opener = path + ".gz", gzip.open
    with opener(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_mnist(folder):
    """Returns the training images and labels and the first 1000 test ones,
    images flattened and scaled to [0, 1] in float32."""
    def images(name):
        x = read_idx(folder, name)
        return torch.from_numpy(x.reshape(len(x), -1).astype(np.float32) / 255)

    def labels(name):
        return torch.from_numpy(read_idx(folder, name).astype(np.int64))

    return (images("train-images-idx3-ubyte"), labels("train-labels-idx1-ubyte"),
            images("t10k-images-idx3-ubyte")[:1000], labels("t10k-labels-idx1-ubyte")[:1000])


def epoch_ns(mnist, threads, epochs):
    """The median time of one epoch of workload EpochDeepNarrow, over
    epochs epochs after a warm-up epoch."""
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    x, y, xt, yt = mnist
    model = mlp([784] + [100] * 50 + [10])
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    opt = torch.optim.SGD(model.parameters(), lr=0.003, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    batch, every = 128, 10

    def evaluate():
        with torch.no_grad():
            return (model(xt).argmax(1) == yt).float().mean().item()

    def epoch():
        order = torch.randperm(len(x))
        steps = (len(x) + batch - 1) // batch
        for step in range(steps):
            idx = order[step * batch:(step + 1) * batch]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
            if (step + 1) % every == 0 or step + 1 == steps:
                evaluate()

    epoch()
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter_ns()
        epoch()
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times)


def median_step_ns(name, threads, warmup, steps):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    build, shape, batch, make_opt = WORKLOADS[name]
    model = build()
    opt = make_opt(model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(batch, *shape)
    y = torch.randint(0, 10, (batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter_ns()
        step()
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workloads", default=",".join(list(WORKLOADS) + [EPOCH_WORKLOAD]),
                    help="comma-separated workloads (default: all)")
    ap.add_argument("--threads", default="1,2",
                    help="torch.set_num_threads values to try (default: 1,2)")
    ap.add_argument("--warmup", type=int, default=10, help="untimed steps")
    ap.add_argument("--seconds", type=float, default=3,
                    help="about how long to time each workload and thread count")
    ap.add_argument("--epochs", type=int, default=3,
                    help="timed epochs of EpochDeepNarrow per thread count")
    ap.add_argument("--mnist", help="folder of the MNIST IDX files, for EpochDeepNarrow")
    args = ap.parse_args()
    for name in args.workloads.split(","):
        best = None
        if name == EPOCH_WORKLOAD:
            if not args.mnist:
                ap.error(f"{EPOCH_WORKLOAD} needs --mnist")
            mnist = load_mnist(args.mnist)
            for threads in map(int, args.threads.split(",")):
                ns = epoch_ns(mnist, threads, args.epochs)
                if best is None or ns < best[0]:
                    best = (ns, threads)
            print(f"{name} {best[0]:.0f} {best[1]}", flush=True)
            continue
        for threads in map(int, args.threads.split(",")):
            # Size the number of timed steps from a first estimate.
            est = median_step_ns(name, threads, args.warmup, 5)
            steps = max(20, int(args.seconds * 1e9 / est))
            ns = median_step_ns(name, threads, args.warmup, steps)
            if best is None or ns < best[0]:
                best = (ns, threads)
        print(f"{name} {best[0]:.0f} {best[1]}", flush=True)


if __name__ == "__main__":
    main()
