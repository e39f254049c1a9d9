"""Holm's procedure as a test oracle, from its definition rather than from the adjusted-p
formula the code uses (sorted p times m - k, running maximum, capped at 1).

Holm (1979), and Wikipedia's worked example of it: at family-wise level alpha, the k-th
smallest of m p-values (k from 0) is compared with alpha / (m - k), smallest first; each
one at or below its threshold is rejected, and the first above it stops the procedure, it
and every larger p-value kept. A hypothesis's adjusted p-value is the smallest level at
which the procedure rejects it.
"""

from __future__ import annotations


def holm_rejects(p: list[float], alpha: float) -> list[bool]:
    """Which hypotheses Holm's step-down procedure rejects at family-wise level alpha."""
    m = len(p)
    rejected = [False] * m
    for k, i in enumerate(sorted(range(m), key=lambda i: p[i])):
        if p[i] > alpha / (m - k):
            break
        rejected[i] = True
    return rejected


def holm_by_procedure(p: list[float]) -> list[float]:
    """Each hypothesis's adjusted p-value, searched for: the smallest level at which
    holm_rejects rejects it (1 where none below 1 does). The procedure's decisions change
    only at the levels (m - k) * p_(k), so those are the candidates."""
    m = len(p)
    levels = sorted({(m - k) * x for k, x in enumerate(sorted(p))} | {1.0})
    levels = [a for a in levels if a <= 1.0]
    adjusted = []
    for i in range(m):
        # a level a hair above the candidate: (m - k) * p / (m - k) may round above p
        first = next((a for a in levels if holm_rejects(p, a * (1 + 1e-12))[i]), 1.0)
        adjusted.append(first)
    return adjusted
