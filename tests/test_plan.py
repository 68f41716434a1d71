"""The contraction planner: optimiser registry, policy, plan cache, memory limits and
slicing, the engine's memory check, and ``tlang plan`` / ``run --show plan``."""

import importlib.util
import time

import numpy as np
import opt_einsum as oe
import pytest

import tlang
from tlang import cli
from tlang import plan as P
from tlang.api import run
from tlang.source import TlangError, TlangResourceError


def test_builtin_optimisers_are_registered():
    names = P.optimizers()
    for name in ("auto", "greedy", "dp", "optimal", "branch-2", "random-greedy", "naive"):
        assert name in names
    if importlib.util.find_spec("cotengra") is not None:
        assert "cotengra" in names
    with pytest.raises(TlangError, match="unknown path optimiser"):
        P.get_optimizer("no-such")


def test_custom_optimiser_and_plan_cache_hit():
    calls = []

    def left_to_right(inputs, output, size_dict, memory_limit=None):
        calls.append(len(inputs))
        return [(0, 1)] * (len(inputs) - 1)

    P.register_optimizer("test-left-to-right", left_to_right, replace=True)
    with pytest.raises(KeyError):
        P.register_optimizer("test-left-to-right", left_to_right)
    a, b, c = np.ones((2, 3)), np.ones((3, 4)), np.ones((4, 5))
    hits = P.plan_cache().hits
    for _ in range(3):
        r = tlang.einsum("ij,jk,kl->il", a, b, c, optimize="test-left-to-right")
    np.testing.assert_allclose(r, a @ b @ c)
    assert calls == [3]  # searched once; the next calls hit the plan cache
    assert P.plan_cache().hits >= hits + 2
    path, info = tlang.einsum_path("xy,yz,zw->xw", a, b, c, optimize="test-left-to-right")
    assert calls == [3] and path == [(0, 1), (0, 1)]  # same structure, other letters: same plan
    assert info.optimizer == "test-left-to-right"


def test_callable_optimiser():
    a = np.ones((2, 2))
    seen = []

    def opt(inputs, output, size_dict, memory_limit=None):
        seen.append(1)
        return [(1, 2), (0, 1)]
    np.testing.assert_allclose(tlang.einsum("ij,jk,kl->il", a, a, a, optimize=opt), a @ a @ a)
    assert seen == [1]


def _random_network(rng, n):
    """A random connected network of n matrices/3-tensors (flops kept small)."""
    sym = oe.get_symbol
    terms = [[] for _ in range(n)]
    k = 0
    for t in range(1, n):
        terms[t].append(sym(k))
        terms[int(rng.integers(0, t))].append(sym(k))
        k += 1
    for _ in range(n // 2):
        i, j = rng.choice(n, 2, replace=False)
        terms[i].append(sym(k))
        terms[j].append(sym(k))
        k += 1
    out = sym(0) if rng.random() < 0.5 else ""
    size = {sym(i): int(rng.integers(2, 5)) for i in range(k)}
    return ",".join("".join(t) for t in terms) + "->" + out, [tuple(size[c] for c in t) for t in terms]


@pytest.mark.parametrize("seed", range(6))
def test_auto_never_worse_than_opt_einsum_auto(seed):
    rng = np.random.default_rng(seed)
    for n in (3, 5, 8, 11, 14):
        spec, shapes = _random_network(rng, n)
        _, mine = tlang.einsum_path(spec, *shapes, shapes=True)
        _, ref = oe.contract_path(spec, *shapes, shapes=True, optimize="auto")
        assert mine.flops <= ref.opt_cost, spec


def test_large_networks_search_within_the_budget():
    rng = np.random.default_rng(7)
    spec, shapes = _random_network(rng, 18)
    shapes = [tuple(4 * d for d in s) for s in shapes]  # enough flops to make the search worth it
    P.plan_cache().clear()
    t0 = time.perf_counter()
    p = P.plan(spec, shapes, time_budget=0.3)
    took = time.perf_counter() - t0
    _, ref = oe.contract_path(spec, *shapes, shapes=True, optimize="auto")
    assert p.flops <= ref.opt_cost
    assert took < 5  # the budget, plus a first import of cotengra


def test_memory_limit_picks_a_path_that_fits_or_slices():
    rng = np.random.default_rng(0)
    a, b, c = rng.random((2, 300)), rng.random((300, 300)), rng.random((300, 2))
    _, free = tlang.einsum_path("ab,bc,cd->ad", a, b, c)
    assert free.peak_memory > 3000
    limit = 3000
    _, info = tlang.einsum_path("ab,bc,cd->ad", a, b, c, memory_limit=limit)
    assert info.peak_memory <= limit
    np.testing.assert_allclose(tlang.einsum("ab,bc,cd->ad", a, b, c, memory_limit=limit), a @ b @ c)


def test_sliced_plan_runs_the_slicing_loop():
    rng = np.random.default_rng(1)
    ops = [rng.random(s) for s in [(2, 60), (60, 60), (60, 60), (60, 2)]]
    # every pairwise path builds 120+ elements; one big einsum call would cost 3.5e6 flops
    _, info = tlang.einsum_path("ab,bc,cd,de->ae", *ops, memory_limit=200)
    assert info.sliced and info.n_slices > 1 and info.peak_memory <= 200
    assert "Sliced on" in str(info)
    np.testing.assert_allclose(tlang.einsum("ab,bc,cd,de->ae", *ops, memory_limit=200),
                               ops[0] @ ops[1] @ ops[2] @ ops[3])
    # an output index can be sliced too: every slice writes its part of the result
    from tlang.einsum_api import executor
    x, y = rng.random((6, 50)), rng.random((50, 7))
    sliced = P._slice(["ab", "bc"], "ac", [(6, 50), (50, 7)], {"a": 6, "b": 50, "c": 7}, ((0, 1),),
                      "auto", 8, True, 6 * 7 * 8 + 7 * 8, None)
    assert sliced is not None and set(sliced.sliced) <= {"a", "c"} and sliced.sliced
    np.testing.assert_allclose(executor(sliced, "numpy")(x, y), x @ y)


def test_memory_limit_refuses_before_allocating():
    v = np.broadcast_to(np.ones(1), (10**4,))  # no memory behind it
    t0 = time.perf_counter()
    with pytest.raises(TlangResourceError) as err:
        tlang.einsum("i,j,k->ijk", v, v, v, memory_limit=2**30)
    assert time.perf_counter() - t0 < 0.5
    text = err.value.render()
    assert "'i,j,k->ijk'" in text and "8,000,000,000,000 bytes" in text and "1,073,741,824" in text
    assert "(10000,)" in text
    with pytest.raises(TlangResourceError):
        tlang.einsum_path("ij,jk->ik", (10**6, 10), (10, 10**6), shapes=True, memory_limit=10**9)


# i, j and k each occur twice: they are summed outside the difference, over 10^12 elements
HUGE = """S = (X[i] V[j] W[k] - X[i] V[j] W[k])^2
S?
"""


def test_engine_refuses_a_huge_intermediate_with_a_located_error(monkeypatch):
    n = 10**4
    inputs = {"X": np.ones(n), "V": np.ones(n), "W": np.ones(n)}
    t0 = time.perf_counter()
    with pytest.raises(TlangResourceError) as err:
        run(HUGE, inputs=inputs, memory_limit=2**30)
    assert time.perf_counter() - t0 < 1.0
    text = err.value.render()
    assert text.startswith("<input>:1:6: error: ")  # the product X[i] V[j] W[k], located
    assert "memory limit of 1,073,741,824 bytes" in text
    assert "8,000,000,000,000" in text
    # without the rewrite pass (no shared subexpression) the contraction itself is named
    monkeypatch.setenv("TLANG_REWRITE", "0")
    with pytest.raises(TlangResourceError) as err:
        run(HUGE, inputs=inputs, memory_limit=2**30)
    assert err.value.render().startswith(
        "<input>:1:6: error: contraction 'X[i] V[j] W[k] -> [i, j, k]' (equation for S) does not fit "
        "the memory limit of 1,073,741,824 bytes")


def test_engine_under_a_memory_limit_gives_the_same_answers():
    rng = np.random.default_rng(2)
    inputs = {"A": rng.random((4, 30)), "B": rng.random((30, 30)), "C": rng.random((30, 5))}
    src = "Y[a, d] = A[a, b] B[b, c] C[c, d]\nY?\n"
    free = run(src, inputs=inputs)["Y"]
    limited = run(src, inputs=inputs, memory_limit=30 * 30 * 8 + 400)["Y"]
    np.testing.assert_allclose(limited, free)
    np.testing.assert_allclose(free, inputs["A"] @ inputs["B"] @ inputs["C"])


MLP = """X = [[0, 0], [0, 1], [1, 0], [1, 1]]
W1 = [[1, 1], [1, 1]]
W2 = [1, -2]
Y[e] = W2[h] relu(W1[h, j] X[e, j])
Y?
"""


def test_cli_plan(tmp_path, capsys):
    f = tmp_path / "mlp.tl"
    f.write_text(MLP)
    assert cli.main(["plan", str(f)]) == 0
    out = capsys.readouterr().out
    assert "Y: Y[e] = W2[h] relu(W1[h, j] X[e, j])" in out and "mlp.tl:4:1" in out
    assert "contraction 1: W1[h, j] X[e, j] -> [h, e]" in out  # in evaluation order
    assert "contraction 2: W2[h] relu(…)[h, e] -> [e]" in out
    for word in ("path ", "naive ", "optimised ", "largest ", "peak memory "):
        assert word in out
    assert cli.main(["plan", str(f), "--optimize", "greedy"]) == 0
    assert "(optimiser: auto (no search))" in out
    assert cli.main(["plan", str(f), "--memory-limit", "16"]) == 1
    assert "memory limit of 16 bytes" in capsys.readouterr().err


def test_cli_run_show_plan(tmp_path, capsys):
    f = tmp_path / "mlp.tl"
    f.write_text(MLP)
    assert cli.main(["run", str(f), "--show", "plan"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("== plan ==\nY: ")
    assert "peak memory" in out and "Y? shape 4" in out
