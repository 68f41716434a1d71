"""Every example program runs and matches its expected output (examples/expected/*.jsonl),
plus hand-checked values that do not depend on the engine."""

import json
from pathlib import Path

import numpy as np
import pytest

from tlang.api import run

EXAMPLES = sorted(Path(__file__).resolve().parent.parent.joinpath("examples").glob("*.tl"))


def _close(a, b, tol):
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_close(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return abs(a - b) <= tol * max(1.0, abs(b))
    return a == b


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_matches_expected(path):
    expected = [json.loads(x) for x in (path.parent / "expected" / f"{path.stem}.jsonl").read_text().splitlines()]
    got = [a.to_json() for a in run(path).answers]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.keys() == e.keys(), g["query"]
        for k in e:
            assert _close(g[k], e[k], 1e-9), (g["query"], k, g[k], e[k])


def test_examples_exist():
    names = {p.stem for p in EXAMPLES}
    assert {"family", "perceptron", "mlp", "rnn", "cnn", "gnn", "attention", "transformer", "kernel",
            "bayes", "embedding"} <= names


def _answers(name):
    return {a.query: a.to_json() for a in run(EXAMPLES[[p.stem for p in EXAMPLES].index(name)]).answers}


def test_family_by_hand():
    a = _answers("family")
    assert a["Ancestor(Alice, x)"]["tuples"] == [["Bob"], ["Charlie"]]
    assert a["Ancestor(Alice, Charlie)"]["value"] is True
    assert a["Aunt(x, z)"]["tuples"] == [["Eve", "Charlie"]]


def test_mlp_computes_xor():
    assert _answers("mlp")["Y"]["value"] == [0.0, 1.0, 1.0, 0.0]


def test_bayes_posterior_by_hand():
    a = _answers("bayes")
    # from the example's CPTs: P(Rain, Wet=1) = [0.056, 0.396], P(Wet=1) = 0.452
    np.testing.assert_allclose(a["PQgivenE"]["value"], [0.056 / 0.452, 0.396 / 0.452])
    assert a["Z"]["value"] == pytest.approx(1.0)


def test_cnn_pooling_by_hand():
    r = run(EXAMPLES[[p.stem for p in EXAMPLES].index("cnn")])
    feats = r["Features"]
    S = 2
    pooled = np.zeros(((feats.shape[0] + 1) // S, (feats.shape[1] + 1) // S))
    summed = np.zeros_like(pooled)
    for x in range(feats.shape[0]):
        for y in range(feats.shape[1]):
            pooled[x // S, y // S] = max(pooled[x // S, y // S], feats[x, y])
            summed[x // S, y // S] += feats[x, y]
    np.testing.assert_allclose(r["PoolMax"], pooled)
    np.testing.assert_allclose(r["PoolSum"], summed)
    np.testing.assert_allclose(r["PoolConv"], summed)
