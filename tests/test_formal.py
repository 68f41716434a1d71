"""The formal einsum language: syntax, the reference semantics, the numpy lowering (which must
agree with it on hypothesis-generated expressions), the IR node and the .tl ``einsum`` call."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlang import formal as F
from tlang import ir
from tlang import ir_literal as reference
from tlang.api import expand, load_program, run
from tlang.build import build
from tlang.source import TlangError

SEMIRINGS = [s for s in ir.SEMIRINGS]
DOMAIN = {"sumprod": [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0], "avg": [-2.0, 0.0, 1.0, 2.0],
          "boolean": [0.0, 1.0], "maxprod": [0.5, 1.0, 2.0, 3.0], "minprod": [0.5, 1.0, 2.0, 3.0],
          "maxplus": [-2.0, -1.0, 0.0, 1.0, 2.0], "minplus": [-2.0, -1.0, 0.0, 1.0, 2.0],
          "logsumexp": [-1.0, 0.0, 0.5, 1.0]}
SYMS = "ijkl"
cfg = settings(max_examples=60, deadline=None, derandomize=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def close(a, b):
    return np.allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True)


@st.composite
def expressions(draw, depth=1):
    """(expr, env, extents, semiring): nested einsums with repeated symbols everywhere."""
    sr = draw(st.sampled_from(SEMIRINGS))
    ext = {s: draw(st.integers(1, 3)) for s in SYMS}
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    env: dict[str, np.ndarray] = {}

    def string(lo=0, hi=3):
        return tuple(draw(st.lists(st.sampled_from(SYMS), min_size=lo, max_size=hi)))

    def build(out, level):
        n = draw(st.integers(0, 3))
        inputs, ops = [], []
        for _ in range(n):
            s = string()
            if level > 0 and draw(st.integers(0, 3)) == 0:
                ops.append(build(s, level - 1))  # nested: its output is the outer string
            elif s and draw(st.integers(0, 5)) == 0:
                ops.append(F.Const(float(rng.choice(DOMAIN[sr]))))
            else:
                name = f"T{len(env)}"
                env[name] = rng.choice(DOMAIN[sr], size=[ext[x] for x in s])
                ops.append(F.Leaf(name))
            inputs.append(s)
        return F.Ein(tuple(inputs), tuple(out), tuple(ops), sr)

    return build(string(), depth), env, ext, sr


@cfg
@given(expressions())
def test_numpy_lowering_agrees_with_reference(case):
    expr, env, ext, sr = case
    want = F.evaluate(expr, env, sr, ext, method="reference")
    got = F.evaluate(expr, env, sr, ext, method="numpy")
    assert got.shape == want.shape
    assert close(got, want), F.show(expr)


@pytest.mark.parametrize("sr", SEMIRINGS)
def test_repeated_output_builds_a_diagonal_with_the_semiring_zero(sr):
    v = np.array([1.0, 0.0, 1.0] if sr == "boolean" else [1.0, 2.0, 3.0])
    for method in ("numpy", "reference"):
        d = F.evaluate("i->ii", [v], sr, method=method)
        assert d.shape == (3, 3)
        assert np.all(np.diag(d) == v)
        off = d[~np.eye(3, dtype=bool)]
        assert np.all(off == ir.SEMIRINGS[sr].zero)


def test_classic_specs_match_numpy():
    rng = np.random.default_rng(1)
    A, B, v = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(4)
    M = rng.standard_normal((3, 3))
    cases = [("ij,jk->ik", [A, B]), ("ii->i", [M]), ("ii->", [M]), ("ij->ji", [A]), ("i,i->", [v, v]),
             ("ij,j->i", [A, v]), ("ij,jk", [A, B]), ("i,j->ij", [v, v])]
    for spec, ops in cases:
        for method in ("numpy", "reference"):
            assert close(F.evaluate(spec, ops, method=method), np.einsum(spec, *ops)), (spec, method)


def test_scalars_empty_strings_and_output_only_indices():
    assert F.evaluate("->", []) == 1.0
    assert F.evaluate("->", [], "maxplus") == 0.0
    assert F.evaluate(",->", [2.0, 3.0]) == 6.0
    assert F.evaluate(",->", [2.0, 3.0], "maxplus") == 5.0
    b = F.evaluate("i->ij", [np.array([1.0, 2.0])], extents={"j": 3})
    assert b.tolist() == [[1, 1, 1], [2, 2, 2]]
    with pytest.raises(F.FormalError, match="extent of j"):
        F.evaluate("i->ij", [np.array([1.0, 2.0])])


def test_semirings_on_a_matrix_product():
    A = np.array([[0.0, 2.0], [1.0, -1.0]])
    B = np.array([[1.0, 0.0], [3.0, 1.0]])
    assert F.evaluate("ij,jk->ik", [A, B], "maxplus").tolist() == [[5.0, 3.0], [2.0, 1.0]]
    assert F.evaluate("ij,jk->ik", [A, B], "minplus").tolist() == [[1.0, 0.0], [2.0, 0.0]]
    lse = F.evaluate("ij,jk->ik", [A, B], "logsumexp")
    assert close(lse, np.log(np.exp(A[:, :, None] + B[None]).sum(1)))
    assert F.evaluate("ij,jk->ik", [A, B], "boolean").tolist() == [[1.0, 1.0], [1.0, 0.0]]


def test_nested_specs_and_paper_notation():
    A, B, C = np.ones((2, 3)), np.full((3, 4), 2.0), np.arange(8.0).reshape(4, 2)
    flat = F.evaluate("ij,jk,kl->il", [A, B, C])
    assert close(F.evaluate("ik,kl->il", [("ij,jk->ik", [A, B]), C]), flat)
    e = F.parse_expr("#(ik,kl->il; #(ij,jk->ik; A, B), C)")
    assert close(F.evaluate(e, {"A": A, "B": B, "C": C}), flat)
    assert F.parse_expr(F.show(e)) == e
    e2 = F.parse_expr("#maxplus([p dk],[q dk]->[p q]; X, X)")
    assert e2.semiring == "maxplus" and e2.inputs == (("p", "dk"), ("q", "dk"))
    assert F.parse_expr(F.show(e2)) == e2
    d = F.parse_expr("#(ij,jk->ik; A, delta)")
    assert close(F.evaluate(d, {"A": A}), A)
    with pytest.raises(F.FormalError):
        F.parse_spec("i...j->ij")
    with pytest.raises(F.FormalError, match="unknown semiring"):
        F.evaluate("i->", [np.ones(2)], "tropical")


def test_einsum_expr_builds_the_ir_and_renames_nested_scopes_apart():
    e = F.einsum_expr("ik,kl->il", F.einsum_expr("ij,jk->ik", "A", "B"), "C", semiring="sumprod")
    assert isinstance(e, ir.Einsum) and ir.free_vars(e) == ("i", "l")
    inner = e.operands[0]
    assert inner.output == e.inputs[0]
    # a nested diagonal forces the identification of the outer indices (general denesting)
    d = F.einsum_expr("ab,b->a", F.einsum_expr("i->ii", "v"), "w")
    assert d.inputs == (("a", "a"), ("a",))


def _ir(src: str):
    prog, base = load_program(src)
    return build(expand(prog, base), base)


def test_tl_einsum_calls_match_the_formal_semantics():
    src = """
A = [[1, 2], [3, 4], [5, 6]]
B = [[1, 0, 2], [0, 1, 3]]
v = [1, 2, 3]
C = einsum("ij,jk->ik", A, B)
D[x, y] = einsum("ij,jk->ik", A, B)
M = einsum("ij,jk->ik", A, B, semiring=maxplus)
N = einsum("ik,kl->il", einsum("ij,jk->ik", A, B), A)
E = einsum("ab,b->a", einsum("i->ii", v), v)
T = einsum("ii->", C)
G = einsum("i->ii", v)
Y[i] = relu(einsum("ij,j->i", A, W) - 1) + v[i]
W = [1, -1]
"""
    got = run(src).tensors
    want = reference.evaluate(_ir(src))
    A = np.array([[1.0, 2], [3, 4], [5, 6]])
    B = np.array([[1.0, 0, 2], [0, 1, 3]])
    v = np.array([1.0, 2, 3])
    formal = {"C": F.evaluate("ij,jk->ik", [A, B]), "M": F.evaluate("ij,jk->ik", [A, B], "maxplus"),
              "N": F.evaluate("ik,kl->il", [("ij,jk->ik", [A, B]), A]),
              "E": F.evaluate("ab,b->a", [("i->ii", [v]), v]), "G": F.evaluate("i->ii", [v])}
    formal["D"] = formal["C"]
    formal["T"] = np.trace(formal["C"])
    for name, value in formal.items():
        assert close(got[name], value), name
        assert close(want[name], value), name
    assert close(got["Y"], want["Y"])


def test_tl_einsum_errors_are_located():
    with pytest.raises(TlangError, match="operand strings"):
        _ir('A = [1, 2]\nC = einsum("i,i->", A)\n')
    with pytest.raises(TlangError, match="unknown semiring"):
        _ir('A = [1, 2]\nC = einsum("i->", A, semiring=tropical)\n')
    with pytest.raises(TlangError, match="tensor name or an einsum"):
        _ir('A = [1, 2]\nC = einsum("i->", A[i])\n')
    with pytest.raises(TlangError, match="repeats an output index"):
        _ir('A = [1, 2]\nC = einsum("i->ii", A, semiring=maxplus)\n')
    with pytest.raises(TlangError, match="2 indices"):
        _ir('A = [1, 2]\nC = einsum("ij->", A)\n')
