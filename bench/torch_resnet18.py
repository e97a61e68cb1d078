#!/usr/bin/python3
"""ResNet-18 (He et al. 2016, torchvision's layout: 11.7 M parameters, 3x224x224
input, BatchNorm) at PyTorch's default initialization, for the audit's speed
check (bench/audit_bench.sh). Written in plain torch (Debian has no
torchvision).

    python3 bench/torch_resnet18.py --onnx OUT.onnx     export it (eval mode)
    python3 bench/torch_resnet18.py --time REPS         time one forward pass

--time prints JSON {"seconds": [...], "threads": N}: each forward pass of one
224x224 input in eval mode under torch.no_grad(), after a warm-up pass.
"""

import argparse
import json
import time

import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = x if self.down is None else self.down(x)
        return self.relu(y + s)


class ResNet18(nn.Module):
    def __init__(self, classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(3, 2, 1)
        layers, cin = [], 64
        for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers.append(nn.Sequential(Block(cin, cout, stride), Block(cout, cout, 1)))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.pool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.gap(x), 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnx")
    ap.add_argument("--time", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = ResNet18().eval()
    x = torch.randn(1, 3, 224, 224)
    if args.onnx:
        torch.onnx.export(model, x, args.onnx, opset_version=14, input_names=["input"], output_names=["logits"])
    if args.time:
        if args.threads:
            torch.set_num_threads(args.threads)
        secs = []
        with torch.no_grad():
            model(x)
            for _ in range(args.time):
                t = time.perf_counter()
                model(x)
                secs.append(time.perf_counter() - t)
        print(json.dumps({"seconds": secs, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
