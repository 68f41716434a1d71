"""Engine benchmark (not a test): tlang's numpy engine against the same computation
written by hand with numpy / opt_einsum, measured in the same run.

Prints, per case, the median time of each and the ratio tlang / hand-written.
Run: python bench/engine_bench.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import opt_einsum

from tlang.build import build
from tlang.engine import Engine
from tlang.parse import parse


def timeit(fn, repeat: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def mlp_case(rng):
    n, d, h, o = 256, 64, 128, 10
    X, W1, W2 = rng.normal(size=(n, d)), rng.normal(size=(h, d)) / 8, rng.normal(size=(o, h)) / 8
    src = "Y[e, k] = sig(W2[k, h] relu(W1[h, j] X[e, j]))\n"
    inputs = {"X": X, "W1": W1, "W2": W2}

    def hand():
        return 1 / (1 + np.exp(-(np.maximum(X @ W1.T, 0) @ W2.T)))
    return "MLP forward (256x64x128x10)", src, inputs, hand, "Y"


def attention_case(rng):
    p, d, dk = 128, 64, 32
    X, WQ, WK, WV = (rng.normal(size=s) / 8 for s in [(p, d), (dk, d), (dk, d), (dk, d)])
    src = ("Query[p, dk] = WQ[dk, d] X[p, d]\nKey[p, dk] = WK[dk, d] X[p, d]\nVal[p, dv] = WV[dv, d] X[p, d]\n"
           "Comp[p, p'.] = softmax(Query[p, dk] Key[p', dk] / sqrt(Dk))\nAttn[p, dv] = Comp[p, p'] Val[p', dv]\n")
    inputs = {"X": X, "WQ": WQ, "WK": WK, "WV": WV, "Dk": np.array(float(dk))}

    def hand():
        q, k, v = X @ WQ.T, X @ WK.T, X @ WV.T
        s = q @ k.T / np.sqrt(dk)
        s = np.exp(s - s.max(1, keepdims=True))
        return (s / s.sum(1, keepdims=True)) @ v
    return "attention (128 positions, d=64)", src, inputs, hand, "Attn"


def ancestor_case(rng, n=300):
    parent = np.zeros((n, n))
    for c in range(1, n):
        parent[rng.integers(0, c), c] = 1.0
    src = "tensor Parent(N, N)\nAncestor(x, y) <- Parent(x, y)\nAncestor(x, z) <- Ancestor(x, y), Parent(y, z)\n"
    inputs = {"Parent": parent}

    def hand():  # semi-naive closure with dense numpy
        anc = parent.copy()
        delta = parent.copy()
        while delta.any():
            new = ((delta @ parent) > 0) & ~(anc > 0)
            anc = np.maximum(anc, new)
            delta = new * 1.0
        return anc
    return f"ancestor closure (random tree, {n} nodes)", src, inputs, hand, "Ancestor"


def chain_case(rng):
    mats = [rng.normal(size=(64, 64)) for _ in range(4)]
    src = "Y[a, e] = A[a, b] B[b, c] C[c, d] D[d, e]\n"
    inputs = dict(zip("ABCD", mats))
    expr = opt_einsum.contract_expression("ab,bc,cd,de->ae", *[m.shape for m in mats])
    return "4-matrix chain 64x64 (opt_einsum expr)", src, inputs, lambda: expr(*mats), "Y"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'case':42s} {'tlang ms':>10s} {'hand ms':>10s} {'ratio':>7s}")
    for make in (mlp_case, attention_case, ancestor_case, chain_case):
        name, src, inputs, hand, out = make(rng)
        prog = build(parse(src), inputs=inputs)

        def tl(prog=prog, out=out):
            return Engine(prog).run().tensors[out]
        np.testing.assert_allclose(tl(), hand(), rtol=1e-6, atol=1e-9)
        t_tl, t_hand = timeit(tl, args.repeat), timeit(hand, args.repeat)
        print(f"{name:42s} {t_tl * 1e3:10.3f} {t_hand * 1e3:10.3f} {t_tl / t_hand:7.2f}")


if __name__ == "__main__":
    main()
