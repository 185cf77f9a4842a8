#!/usr/bin/env python3
"""PyTorch reference for bench/ml_bench.cc: the same MLP/CNN as skiff-ml, same optimiser settings.

Prints one `model=... samples_per_s=... epoch_s=... test_acc=...` line per run.
"""
import argparse
import math
import gzip
import os
import struct
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def model(kind, batch_norm):
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    def block(cin, cout):
        layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=not batch_norm)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(cout))
        return layers + [nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*block(1, 32), *block(32, 64), nn.Flatten(), nn.Linear(64 * 7 * 7, 128),
                         nn.ReLU(), nn.Linear(128, 10))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="mlp")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--no-batch-norm", action="store_true")
    p.add_argument("--lr-schedule", default="cosine", choices=["cosine", "constant"])
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = read_idx("train-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y = read_idx("train-labels-idx1-ubyte.gz").astype(np.int64)
    tx = read_idx("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    ty = read_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64)
    if a.limit:
        x, y = x[:a.limit], y[:a.limit]
    mean, std = x.mean(), x.std()
    x = torch.from_numpy((x - mean) / std).unsqueeze(1)
    tx = torch.from_numpy((tx - mean) / std).unsqueeze(1)
    y, ty = torch.from_numpy(y), torch.from_numpy(ty)
    m = model(a.model, not a.no_batch_norm)
    opt = torch.optim.SGD(m.parameters(), lr=a.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    n = x.shape[0]
    for epoch in range(1, a.epochs + 1):
        # Per-epoch half cosine, as skiff-ml's default --lr-schedule.
        if a.lr_schedule == "cosine":
            for g in opt.param_groups:
                g["lr"] = a.lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / a.epochs))
        m.train()
        perm = torch.randperm(n)
        start = time.perf_counter()
        for i in range(0, n, a.batch_size):
            idx = perm[i:i + a.batch_size]
            opt.zero_grad()
            loss = loss_fn(m(x[idx]), y[idx])
            loss.backward()
            opt.step()
        secs = time.perf_counter() - start
        m.eval()
        with torch.no_grad():
            acc = (m(tx).argmax(1) == ty).float().mean().item()
        print(f"model={a.model} epoch={epoch} samples_per_s={n / secs:.0f} epoch_s={secs:.3f} "
              f"test_acc={acc:.4f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
