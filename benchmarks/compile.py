"""Does torch.compile speed up the chapter's training step? Eager against compiled, one process.

    python benchmarks/compile.py [--steps 200] [--device auto]

Same model (channels-last on the CPU), recipe (SGD 0.01/0.5, batch 64) and synthetic inputs;
prints milliseconds per step for each, the compile time, and the ratio eager/compiled.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from cnn_study.hardware import resolve_device
from cnn_study.model import ChapterCNN


def time_steps(model: torch.nn.Module, images, labels, steps: int, device) -> tuple[float, float]:
    """Seconds for the first 20 steps (compilation included) and per step after them."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    batches = len(labels) // 64

    def step(i: int) -> None:
        x, y = images[i * 64 : (i + 1) * 64], labels[i * 64 : (i + 1) * 64]
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    def run(n: int) -> float:
        start = time.perf_counter()
        for i in range(n):
            step(i % batches)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    return run(20), run(steps) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    layout = torch.channels_last if device.type == "cpu" else torch.contiguous_format
    torch.manual_seed(0)
    images = torch.randn(64 * 200, 1, 28, 28, device=device).contiguous(memory_format=layout)
    labels = torch.randint(0, 10, (64 * 200,), device=device)

    results = {}
    for name, wrap in (("eager", lambda m: m), ("torch.compile", torch.compile)):
        torch.manual_seed(0)
        model = wrap(ChapterCNN().to(device, memory_format=layout))
        warm, per_step = time_steps(model, images, labels, args.steps, device)
        results[name] = per_step
        print(
            f"{name}: {per_step * 1e3:.2f} ms/step ({64 / per_step:,.0f} img/s); "
            f"first 20 steps {warm:.1f} s"
        )
    print(
        f"eager / compiled time per step: {results['eager'] / results['torch.compile']:.2f}x "
        "(above 1 means compile helps)"
    )


if __name__ == "__main__":
    main()
