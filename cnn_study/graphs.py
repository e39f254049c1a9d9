"""The training step and the evaluation pass of cnn_study.train, replayed as CUDA graphs.

The chapter's CNN is so small that on a GPU the time goes to launching kernels, not to
running them. A CUDA graph records one training step (forward, loss, backward, optimizer
step, the epoch's running sums) once and replays all its kernels with one launch; the test
set, being fixed, is recorded whole as one graph. What is recorded is train.py's own
train_step and evaluation_pass, so the eager and the graphed path cannot drift apart. The
recipe is unchanged: every full batch replays the graph, and the epoch's last, shorter batch
runs eagerly on the same tensors, so no sample is dropped. Dropout draws from CUDA's
generator, which the graph advances on every replay, so each step still gets its own mask.

Used only on CUDA with trainer.cuda_graphs=true. Not yet run on a GPU: see docs/speed.md.
"""

from __future__ import annotations

import torch
from torch import nn

from cnn_study.data import Split
from cnn_study.train import Evaluation, evaluation_pass, summarize, train_step

WARMUP_STEPS = 3  # eager steps on a side stream before capture, as PyTorch's docs ask


def _state_tensors(model: nn.Module, optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    tensors = list(model.state_dict(keep_vars=True).values())
    for state in optimizer.state.values():
        tensors += [v for v in state.values() if isinstance(v, torch.Tensor)]
    return [t.data if isinstance(t, nn.Parameter) else t for t in tensors]


class GraphedTraining:
    """train_epoch() as in cnn_study.train, with every full batch a graph replay."""

    def __init__(
        self, model: nn.Module, optimizer: torch.optim.Optimizer, data: Split, batch_size: int
    ):
        self.model, self.optimizer, self.data, self.batch_size = model, optimizer, data, batch_size
        device = data.labels.device
        for group in optimizer.param_groups:
            if "capturable" in group:  # Adam(W) must keep its step count on the device
                group["capturable"] = True
                for p in group["params"]:
                    state = optimizer.state.get(p, {})
                    if isinstance(state.get("step"), torch.Tensor):
                        state["step"] = state["step"].to(device)
        self.index = torch.zeros(batch_size, dtype=torch.long, device=device)
        self.loss_sum = torch.zeros((), device=device)
        self.correct = torch.zeros((), dtype=torch.long, device=device)

        # Warm-up steps change weights, optimizer state and the random state: remember them
        # and put them back in place (the graph reads these very tensors).
        fresh = not optimizer.state
        rng = torch.cuda.get_rng_state(device)
        saved = [t.clone() for t in _state_tensors(model, optimizer)]
        model.train()
        stream = torch.cuda.Stream(device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):
            for _ in range(WARMUP_STEPS):
                self._step(self.index)
        torch.cuda.current_stream(device).wait_stream(stream)
        tensors = _state_tensors(model, optimizer)
        with torch.no_grad():
            if fresh:
                # A fresh optimizer had no state; zeros are what its first step starts from
                # (SGD's momentum 0 * m + g == g; Adam's moments and step count 0).
                for t in tensors[len(saved) :]:
                    t.zero_()
            for t, s in zip(tensors, saved, strict=False):
                t.copy_(s)
        torch.cuda.set_rng_state(rng, device)
        self._capture()

    def _step(self, index: torch.Tensor) -> None:
        images, labels = self.data.images[index], self.data.labels[index]
        loss, correct = train_step(self.model, self.optimizer, images, labels, grads_in_place=True)
        self.loss_sum += loss * len(index)
        self.correct += correct

    def _capture(self) -> None:
        # A plain-number learning rate is recorded into the graph's kernels: capture again
        # whenever a schedule changes it.
        self.lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self._step(self.index)

    def train_epoch(self, generator: torch.Generator) -> tuple[float, float]:
        self.model.train()
        if [g["lr"] for g in self.optimizer.param_groups] != self.lrs:
            self._capture()
        n = len(self.data)
        order = torch.randperm(n, generator=generator).to(self.index.device)
        self.loss_sum.zero_()
        self.correct.zero_()
        full = n // self.batch_size
        for i in range(full):
            self.index.copy_(order[i * self.batch_size : (i + 1) * self.batch_size])
            self.graph.replay()
        if n % self.batch_size:
            self._step(order[full * self.batch_size :])
        return self.loss_sum.item() / n, self.correct.item() / n


class GraphedEvaluation:
    """evaluate() as in cnn_study.train: the whole fixed test set recorded as one graph."""

    def __init__(self, model: nn.Module, data: Split, batch_size: int, num_classes: int):
        self.model, self.data, self.num_classes = model, data, num_classes
        model.eval()
        with torch.inference_mode(False), torch.no_grad():
            stream = torch.cuda.Stream(data.labels.device)
            stream.wait_stream(torch.cuda.current_stream(data.labels.device))
            with torch.cuda.stream(stream):
                evaluation_pass(model, data, batch_size)
            torch.cuda.current_stream(data.labels.device).wait_stream(stream)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.loss_sum, self.predicted = evaluation_pass(model, data, batch_size)

    def __call__(self) -> Evaluation:
        self.model.eval()
        self.graph.replay()
        return summarize(self.loss_sum, self.predicted, self.data.labels, self.num_classes)
