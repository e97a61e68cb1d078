#!/usr/bin/python3
"""Time one PyTorch training step of the workloads of nn's BenchmarkStep*.

A step is: zero the gradients, forward, cross-entropy loss, backward,
optimizer step, in float32 on the CPU, on fixed random inputs and labels.
For each workload and each torch.set_num_threads value given, the script
runs warm-up steps, then times steps one by one and takes the median; it
prints one line per workload with the best median over the thread counts:

    WORKLOAD  median_ns  threads

Run by bench/train_step.sh; see there for the comparison with Go.
"""

import argparse
import statistics
import time

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
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help="comma-separated workloads (default: all)")
    ap.add_argument("--threads", default="1,2",
                    help="torch.set_num_threads values to try (default: 1,2)")
    ap.add_argument("--warmup", type=int, default=10, help="untimed steps")
    ap.add_argument("--seconds", type=float, default=3,
                    help="about how long to time each workload and thread count")
    args = ap.parse_args()
    for name in args.workloads.split(","):
        best = None
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
