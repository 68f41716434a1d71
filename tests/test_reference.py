"""Tests of ``tlang.reference``, the independent oracle, against values worked out by hand.

Every expected value here is written out by hand or computed with plain numpy
in the test, never by running tlang code.  The sections follow
docs/language.md: projection operators (4), expressions (5), index forms (6),
where indices are aggregated (the table of 7), relations and rules (8, 9),
literals (10), queries (11), files (12), declarations (13), modules (15),
evaluation order and domains (16.1-16.10), the formal einsum
(docs/einsum.md), and every example program without a training directive,
against the "Expected answers" in its header.
"""

from __future__ import annotations

import dataclasses
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tlang.reference import Answer, Result, run
from tlang.source import TlangCheckError, TlangError, TlangFileError, TlangShapeError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def tensors(src: str, **kw) -> dict[str, np.ndarray]:
    return run(src, **kw).tensors


def value(src: str, name: str, **kw) -> np.ndarray:
    return run(src, **kw).tensors[name]


def near(got, want, decimals: int | None = None, atol: float = 1e-9) -> None:
    """Equal to ``decimals`` places (the precision an example states), or to ``atol``."""
    if decimals is not None:
        atol = 0.5 * 10.0 ** -decimals + 1e-12
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float), rtol=0, atol=atol)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


# ------------------------------------------------------------ the module's boundary

TRAINING = re.compile(r"^[^#\n]*@(minimize|maximize)", re.M)   # a directive in code, not in a comment
PLAIN = sorted(p for p in EXAMPLES.glob("*.tl") if not TRAINING.search(p.read_text()))
TRAINED = sorted(p for p in EXAMPLES.glob("*.tl") if TRAINING.search(p.read_text()))

FORBIDDEN = re.compile(r"^tlang\.(build|scope|shapes|assemble|ir|engine|lower|api|pipeline|ir_literal)$"
                       r"|^tlang\.(codegen|rewrite|plan|relational|formal|learn|grad|backends)")


def test_shares_nothing_with_the_compiler(tmp_path):
    """Importing and running the reference (examples, files, einsum, randunit, loops) loads no
    module of the compiler's front end or engine, not even through function-level imports."""
    (tmp_path / "m.csv").write_text("1,2\n3,4\n")
    (tmp_path / "p.facts").write_text("a\tb\n")
    (tmp_path / "s.txt").write_text("the cat\n")
    prog = tmp_path / "p.tl"
    prog.write_text('M = "m.csv"\nP(x, y) = "p.facts"\nS = "s.txt"\n"w.csv" = M\nV = "w.csv"\n'
                    'C = einsum("ij,jk->ik", M, M, semiring=maxplus)\nindex d : 3\nindex x : 2\n'
                    'E[x, d] = randunit(x, d, 0)\nX[*t+1] = 0.5 X[*t] + 1\nX?\nP(x, y)?\nM[0, 1]?\n')
    examples = [str(p) for p in PLAIN]
    code = ("import sys\nimport tlang.reference as R\n"
            f"for p in {examples!r} + [{str(prog)!r}]:\n    R.run(p)\n"
            "print(sorted(m for m in sys.modules if m.startswith('tlang')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tmp_path).stdout
    loaded = eval(out.strip().splitlines()[-1])
    assert "tlang.reference" in loaded and "tlang.parse" in loaded
    bad = [m for m in loaded if FORBIDDEN.search(m)]
    assert not bad, bad


def test_answer_mirrors_the_engine_answer():
    from tlang import engine  # only its field names: the reference itself never imports it
    assert [f.name for f in dataclasses.fields(Answer)] == [f.name for f in dataclasses.fields(engine.Answer)]
    r = run("W = [1, 2]\nW?\n")
    assert isinstance(r, Result) and set(r.tensors) == {"W"} and r.warnings == []
    assert r.answers == [Answer("W", "tensor", (2,), r.answers[0].value)]


# ------------------------------------------------------------ 4. tensor equations

def test_projection_operators():
    src = ("X = [1, 2, 3, 4]\nS = X[i]\nP += X[i]\nM max= X[i]\nN min= X[i]\nA avg= X[i]\n"
           "E = [[1, 2], [3, 5]]\nR[i] avg= E[i, j]\nC[j] max= E[i, j]\n")
    t = tensors(src)
    assert (t["S"], t["P"], t["M"], t["N"], t["A"]) == (10, 10, 4, 1, 2.5)
    near(t["R"], [1.5, 4])
    near(t["C"], [3, 5])


def test_empty_aggregate_is_the_operators_zero():
    t = tensors("E = []\nS = E[i]\nM max= E[i]\nN min= E[i]\nA avg= E[i]\n")
    assert (t["S"], t["M"], t["N"], t["A"]) == (0, -math.inf, math.inf, 0)


def test_same_lhs_equations_are_summed():
    src = "A = [[1, 2], [3, 4]]\nX = [1, 1]\nB = [10, 20]\nY[i] = A[i, j] X[j]\nY[i] = B[i]\n"
    near(value(src, "Y"), [1 + 2 + 10, 3 + 4 + 20])


def test_max_equations_combine_by_max_where_they_write():
    # M[2] is written only by the second equation: -4, not max(-4, 0)
    near(value("A = [1, 5]\nB = [3, 2, -4]\nM[i] max= A[i]\nM[i] max= B[i]\n", "M"), [3, 5, -4])


def test_boolean_lhs_steps_after_the_sum():
    src = "S(0), S(1)\nT(1), T(2)\nR(x) <- S(x)\nR(x) <- T(x)\nC[x] = S(x)\nC[x] = T(x)\n"
    t = tensors(src)
    near(t["R"], [1, 1, 1])   # OR: the tuple derived twice is 1
    near(t["C"], [1, 2, 1])   # a numeric LHS keeps the sum


def test_elements_nobody_writes_are_zero():
    near(value("W[0, 1] = 0.5\nW[2, 0] = 1\n", "W"), [[0, 0.5], [0, 0], [1, 0]])


def test_pooling_with_each_operator():
    f = np.array([[0, 0, 3, 0], [0, 1, 0, 0], [0, 2, 0, 0], [0, 0, 1, 3]], dtype=float)
    src = (f"F = {f.tolist()}\nS = 2\nPS[x/S, y/S] = F[x, y]\nPM[x/S, y/S] max= F[x, y]\n"
           "PA[x/S, y/S] avg= F[x, y]\n")
    t = tensors(src)
    blocks = f.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(2, 2, 4)
    near(t["PS"], blocks.sum(-1))
    near(t["PM"], blocks.max(-1))
    near(t["PA"], blocks.mean(-1))


# ------------------------------------------------------------ 5. expressions

def test_join_is_hadamard_or_dot_by_the_lhs():
    t = tensors("W = [1, 2, 3]\nX = [4, 5, 6]\nH[i] = W[i] X[i]\nD = W[i] X[i]\nO[i, j] = W[i] X[j]\n"
                "S[i] = W[i] * X[i]\n")
    near(t["H"], [4, 10, 18])
    assert t["D"] == 32
    near(t["O"], np.outer([1, 2, 3], [4, 5, 6]))
    near(t["S"], [4, 10, 18])


def test_operator_precedence():
    t = tensors("X = [3, 4]\nZ = [1, 2]\nW = [5, 6]\nN[i] = -X[i]^2\nQ[i] = X[i] Z[i] / 2 W[i]\n"
                "D[i] = W[i] -X[i]\nP = 2^-1\nR = 2^3^2\nC[i] = X[i] + Z[i] * 2 > 6\n")
    near(t["N"], [-9, -16])
    near(t["Q"], [3 * 1 / 2 * 5, 4 * 2 / 2 * 6])
    near(t["D"], [2, 2])
    assert t["P"] == 0.5 and t["R"] == 512
    near(t["C"], [0, 1])   # 3 + 2 = 5 > 6 is false, 4 + 4 = 8 > 6 is true


def test_elementwise_functions():
    xs = [-1.5, 0.0, 0.7]
    src = f"X = {xs}\n" + "".join(f"F{k}[i] = {f}(X[i])\n" for k, f in enumerate(
        ["step", "sig", "relu", "tanh", "exp", "abs", "sin", "cos"]))
    src += "G[i] = sig(X[i], 2)\nH[i] = sig(X[i], 0)\nM[i] = max(X[i], 0.5)\nN[i] = min(X[i], 0.5)\n"
    src += "P = [4.0, 0.25]\nL[k] = log(P[k])\nR[k] = sqrt(P[k])\n"
    t = tensors(src)
    x = np.array(xs)
    for k, f in enumerate([lambda v: (v > 0) * 1.0, sigmoid, lambda v: np.maximum(v, 0), np.tanh, np.exp,
                           np.abs, np.sin, np.cos]):
        near(t[f"F{k}"], f(x))
    near(t["G"], 1 / (1 + np.exp(-x / 2)))
    near(t["H"], [0, 0, 1])                   # T = 0 is exactly step: step(0) = 0
    near(t["M"], [0.5, 0.5, 0.7])
    near(t["N"], [-1.5, 0, 0.5])
    near(t["L"], np.log([4, 0.25]))
    near(t["R"], [2, 0.5])


def test_ieee_results_instead_of_exceptions():
    t = run("Z = 0.0\nA = 1 / Z\nB = log(Z)\nC = sqrt(-1)\nD = exp(1000)\n").tensors
    assert t["A"] == math.inf and t["B"] == -math.inf and math.isnan(t["C"]) and t["D"] == math.inf


def test_unknown_function_and_wrong_arity_are_errors():
    with pytest.raises(TlangCheckError, match="unknown function 'relux'") as e:
        run("X = [1]\nY[i] = relux(X[i])\n")
    assert "did you mean 'relu'" in e.value.render()
    with pytest.raises(TlangCheckError, match="takes 1 argument"):
        run("X = [1]\nY[i] = exp(X[i], 2)\n")


def test_softmax_with_temperature_and_lnorm():
    x = np.array([1.0, 2.0, 3.0])
    t = tensors("X = [1, 2, 3]\nS[i.] = softmax(X[i])\nT[i.] = softmax(X[i], 2)\nL[i.] = lnorm(X[i])\n")
    near(t["S"], np.exp(x) / np.exp(x).sum())
    near(t["T"], np.exp(x / 2) / np.exp(x / 2).sum())
    near(t["L"], (x - x.mean()) / np.sqrt(x.var() + 1e-5))


def test_softmax_normalises_along_the_dotted_index():
    m = np.array([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0]])
    t = tensors(f"M = {m.tolist()}\nR[p, q.] = softmax(M[p, q])\nC[p., q] = softmax(M[p, q])\n")
    near(t["R"], np.exp(m) / np.exp(m).sum(1, keepdims=True))
    near(t["C"], np.exp(m) / np.exp(m).sum(0, keepdims=True))
    with pytest.raises(TlangCheckError, match="needs an index to normalise along"):
        run("M = [1, 2]\nR[q] = softmax(M[q])\n")


def test_concat_merges_row_major():
    a = np.arange(1, 13, dtype=float).reshape(2, 2, 3)     # A[h, p, dv]
    out = value(f"A = {a.tolist()}\nM[p, dm] = concat(A[h, p, dv])\n", "M")
    near(out, a.transpose(1, 0, 2).reshape(2, 6))          # dm = h * 3 + dv


def test_concat_merges_every_index_of_its_argument_not_on_the_lhs():
    a = np.arange(1, 13, dtype=float).reshape(2, 2, 3)     # A[i, j, k]
    b = np.array([1.0, 10.0, 100.0])
    out = value(f"A = {a.tolist()}\nB = {b.tolist()}\nC[i, m] = concat(A[i, j, k] B[k])\n", "C")
    near(out, (a * b).reshape(2, 6))                       # k is merged, not summed


def test_index_values_and_even_odd():
    # the paper's positional encoding, with L = 100 and De = 2
    src = ("index p : 3\nindex d : 4\nL = 100.0\nDe = 2.0\n"
           "PE[p, d] = Even(d) sin(p / L^(d / De)) + Odd(d) cos(p / L^((d - 1) / De))\n")
    pe = np.zeros((3, 4))
    for p in range(3):
        for d in range(4):
            pe[p, d] = math.sin(p / 100 ** (d / 2)) if d % 2 == 0 else math.cos(p / 100 ** ((d - 1) / 2))
    near(value(src, "PE"), pe)
    near(value("X = [5, 6, 7]\nV[i] = i X[i] + 10 Even(i) + 100 Odd(2)\n", "V"), [10, 6, 24])


def test_comparisons_are_masks():
    t = tensors("X = [0.2, 0.7, -1]\nPos[i] = X[i] > 0\nBig[i] = (X[i] >= 0.5) X[i]\n"
                "Ne[i, j] = (i != j)\n Ne[i, j] = 0 X[i] X[j]\n")
    near(t["Pos"], [1, 1, 0])
    near(t["Big"], [0, 0.7, 0])
    near(t["Ne"], 1 - np.eye(3))


def test_randunit_is_a_seeded_unit_vector():
    t = tensors("index x : 3\nindex d : 5\nE[x, d] = randunit(x, d, 7)\n")
    g = np.random.default_rng([7, 0, 5]).standard_normal((64, 5))  # the definition in tlang/embed.py
    near(t["E"], (g / np.linalg.norm(g, axis=1, keepdims=True))[:3])


# ------------------------------------------------------------ 6. index forms

def test_primed_variables_are_distinct():
    near(value("X = [1, 2]\nK[i, i'] = X[i] X[i']\n", "K"), [[1, 2], [2, 4]])


def test_constants_integer_symbolic_quoted_negative():
    src = ("Neig(0, 1)\nEmb = [[1, 2], [3, 4]]\nE0[d] = Emb[0, d]\nX(0, \"the\"), X(1, Cat)\n"
           "W = [1, 2, 3]\nLast = W[-1]\n")
    t = tensors(src)
    near(t["Neig"], [[0, 1]])
    near(t["E0"], [1, 2])
    near(t["X"], [[1, 0], [0, 1]])     # "the" gets position 0, Cat position 1
    assert t["Last"] == 3


def test_slices_read_python_style():
    x = list(range(10, 20))
    src = (f"X = {x}\nA[i] = X[2:6]\nB[i] = X[-3:]\nC[i] = X[0:8:3]\nD[i] = X[::-1]\nE = X[:2]\n"
           "M = [[1, 2, 3], [4, 5, 6]]\nF[i] = M[i, 1:3]\n")
    t = tensors(src)
    near(t["A"], x[2:6])
    near(t["B"], x[-3:])
    near(t["C"], x[0:8:3])
    near(t["D"], x[::-1])
    near(t["E"], x[:2])
    near(t["F"], [[2, 3], [5, 6]])       # the slice is left over: a trailing axis


def test_normalisation_mark_is_for_the_lhs_only():
    with pytest.raises(TlangCheckError, match="left-hand index only"):
        run("X = [1, 2]\nY = X[i.]\n")


# ------------------------------------------------------------ 7. where indices are aggregated

def test_polynomial_kernel_sums_j_before_the_power():
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    near(value(f"X = {x.tolist()}\nK[i, i'] = (X[i, j] X[i', j])^2\n", "K"), (x @ x.T) ** 2)


def test_gaussian_kernel_sums_j_inside_exp():
    x = np.array([[1.0, 2.0], [3.0, -1.0], [0.0, 0.5]])
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    near(value(f"X = {x.tolist()}\nVar = 2.0\nK[i, i'] = exp(-(X[i, j] - X[i', j])^2 / Var)\n", "K"),
         np.exp(-d2 / 2))


def test_constant_term_is_added_once():
    # W.X = 1.2; + C = 0.2 > 0 (adding C to every term would give 1.2 - 4 < 0)
    assert value("W = [0.2, 1.9, -0.7, 3]\nX = [0, 1, 1, 0]\nC = -1.0\nY = step(W[i] X[i] + C)\n", "Y") == 1
    assert value("W = [0.2, 1.9, -0.7, 3]\nX = [0, 1, 1, 0]\nC = -1.0\nY = W[i] X[i] + C\n", "Y") == \
        pytest.approx(0.2)


def test_loss_sums_e_and_j_over_the_whole_rhs():
    # the network runs once per example e (virtual); Loss = sum_e sum_j (Y[e] - 2 In[e, j])^2
    src = ("In = [[1, 2], [3, 4]]\nY = [1, 0]\nN = 1\nX[*e, 0, j] = In[e, j]\n"
           "X[*e, 1, j] = 2 X[*e, 0, j]\nLoss = (Y[e] - X[*e, N, j])^2\n")
    t = tensors(src)
    assert t["Loss"] == (1 - 2) ** 2 + (1 - 4) ** 2 + (0 - 6) ** 2 + (0 - 8) ** 2
    near(t["X"], [[3, 4], [6, 8]])    # the stored value: the last example's network


def test_two_layer_perceptron_aggregates_j_inside_h_outside():
    w1 = np.array([[1.0, -1.0], [0.5, 2.0], [-1.0, 1.0]])
    w2 = np.array([[1.0, 2.0, -1.0]])
    x = np.array([2.0, 1.0])
    src = f"W1 = {w1.tolist()}\nW2 = {w2.tolist()}\nX = {x.tolist()}\nY[o] = sig(W2[o, h] relu(W1[h, j] X[j]))\n"
    near(value(src, "Y"), sigmoid(w2 @ np.maximum(w1 @ x, 0)))


def test_scaled_dot_products():
    q = np.array([[1.0, 0.0], [2.0, 1.0]])
    k = np.array([[0.5, 1.0], [1.0, -1.0], [0.0, 2.0]])
    s = q @ k.T / math.sqrt(3.0)
    src = f"Q = {q.tolist()}\nK = {k.tolist()}\nDk = 3.0\nC[p, p'.] = softmax(Q[p, dk] K[p', dk] / sqrt(Dk))\n"
    near(value(src, "C"), np.exp(s) / np.exp(s).sum(1, keepdims=True))


def test_graph_classification_sums_nodes_inside_sig():
    e = np.array([[[1.0, 2.0]], [[0.5, -1.0]], [[2.0, 0.0]]])   # Emb[n, 0, d]
    src = f"Emb = {e.tolist()}\nWOut = [1, -2]\nL = 0\nY = sig(WOut[d] Emb[n, L, d])\n"
    assert value(src, "Y") == pytest.approx(float(sigmoid((e[:, 0, :] @ [1, -2]).sum())))


def test_recurrent_layer_has_two_independent_js():
    # U has fewer units (1) than X (2): the two j's have different extents (16.6)
    w, v, u = np.array([[0.5, -0.3], [0.2, 0.4]]), np.array([[1.0], [2.0]]), np.array([[1.0, 0.0, -1.0]])
    src = (f"W = {w.tolist()}\nV = {v.tolist()}\nU = {u.tolist()}\nX[0, 0] = 1.0\n"
           "X[i, *t+1] = sig(W[i, j] X[j, *t] + V[i, j] U[j, t])\n")
    x = np.array([1.0, 0.0])
    for t in range(3):
        x = sigmoid(w @ x + v @ u[:, t])
    near(value(src, "X"), x)


def test_leftover_occurrences_float_to_the_top():
    a, x, b = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.array([1.0, 10.0]), np.array([100.0, 1000.0])
    src = f"A = {a.tolist()}\nX = {x.tolist()}\nB = {b.tolist()}\nY[i] = A[i, j] X[j] + B[j]\n"
    near(value(src, "Y"), a @ x + b.sum())


def test_a_single_occurrence_floats_to_the_top():
    assert value("U = [1, 2, 3.5]\nZ = U[i]\n", "Z") == 6.5


def test_top_level_terms_are_separate_equations():
    # rule 3: the terms at the top (or directly inside the outermost nonlinearity) aggregate their
    # own indices, so C and the other terms are added once; a nested sum is aggregated as a whole
    a, b = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([10.0, 20.0, 30.0])
    src = (f"A = {a.tolist()}\nB = {b.tolist()}\nC = 1000\nY[i] = A[i, j] + B[k] + C\n"
           "S[i] = sig(A[i, j] - 4)\nE[i] = exp(A[i, j] - 4) + C\n")
    t = tensors(src)
    near(t["Y"], a.sum(1) + b.sum() + 1000)
    near(t["S"], sigmoid(a.sum(1) - 4))             # inside the outermost nonlinearity: -4 once
    near(t["E"], np.exp((a - 4).sum(1)) + 1000)     # a nested sum: j sums all of exp's argument


def test_terms_of_the_table_in_section_7():
    src = ("Y = [1, 0, 2]\nP = [0.5, 0.5, 1]\nW = [1, -2]\nLambda = 0.1\nA = [1, -2]\nC = 0.5\n"
           "Loss = (Y[e] - P[e])^2 + Lambda W[i]^2\nE = exp(A[j])\nZ = sig(A[j] + C)\n")
    t = tensors(src)
    assert t["Loss"] == pytest.approx(0.25 + 0.25 + 1 + 0.1 * (1 + 4))   # each counted once
    assert t["E"] == pytest.approx(math.exp(-1)) and t["Z"] == pytest.approx(float(sigmoid(-0.5)))


def test_an_index_in_two_top_level_terms_is_two_indices():
    # A has 2 elements and B 3: one j would be a contradiction; as two equations they are fine
    t = tensors("A = [1, 2]\nB = [10, 20, 30]\nY = A[j] + B[j]\nZ = sig(A[j] + B[j])\n")
    assert t["Y"] == 63 and t["Z"] == pytest.approx(float(sigmoid(63)))
    with pytest.raises(TlangShapeError):   # max=: no separate terms, so j is one index
        run("A = [1, 2]\nB = [10, 20, 30]\nM max= A[j] + B[j]\n")


def test_a_floating_index_is_aggregated_over_its_signed_terms():
    # max over i, k of A[i] - B[k] is max A - min B: the minus sign is inside the aggregate
    t = tensors("A = [1, 5]\nB = [2, 7, 3]\nY max= A[i] - B[k]\nZ min= A[i] - B[k]\nW = A[i] - B[k] - 10\n")
    assert (t["Y"], t["Z"], t["W"]) == (5 - 2, 1 - 7, 6 - 12 - 10)


def test_min_plus_join_aggregates_the_shared_index_jointly():
    d, e = np.array([[0.0, 5.0], [1.0, 0.0]]), np.array([[0.0, 2.0], [7.0, 0.0]])
    src = f"D = {d.tolist()}\nE = {e.tolist()}\nS[x, z] min= D[x, y] + E[y, z]\n"
    near(value(src, "S"), (d[:, :, None] + e[None, :, :]).min(1))


# ------------------------------------------------------------ 8, 9. relations, rules, negation

FAMILY = ("Parent(Dave, Alice)\nParent(Alice, Bob)\nParent(Bob, Charlie)\nSister(Eve, Bob)\n"
          "Aunt(x, z) <- Sister(x, y), Parent(y, z)\n")


@pytest.mark.parametrize("rule", ["Ancestor(x, z) <- Ancestor(x, y), Parent(y, z)",
                                  "Ancestor(x, z) :- Ancestor(x, y), Parent(y, z).",
                                  "Ancestor(x, z) = Ancestor(x, y) Parent(y, z)"])
def test_recursive_rules_without_declarations(rule):
    r = run(FAMILY + "Ancestor(x, y) <- Parent(x, y)\n" + rule + "\nAncestor(x, y)?\nAunt(x, z)?\n"
            "Ancestor(Alice, Charlie)?\nAncestor(Charlie, Alice)?\n")
    anc, aunt, yes, no = r.answers
    assert anc.kind == "relation" and anc.vars == ("x", "y")
    assert anc.tuples == [("Alice", "Bob"), ("Alice", "Charlie"), ("Bob", "Charlie"), ("Dave", "Alice"),
                          ("Dave", "Bob"), ("Dave", "Charlie")]
    assert aunt.tuples == [("Eve", "Charlie")]
    assert (yes.kind, yes.value, no.value) == ("bool", True, False)


def test_negation_and_comparisons():
    src = ("Person(Ann), Person(Bob), Person(Cat), Person(Dan)\nMarried(Bob)\n"
           "Single(x) <- Person(x), not Married(x)\nLoner(x) <- Person(x), !Friend(x)\n"
           "Parent(Ann, Bob), Parent(Ann, Cat), Parent(Bob, Dan)\n"
           "Sibling(x, y) <- Parent(z, x), Parent(z, y), x != y\n"
           "Single(x)?\nLoner(x)?\nSibling(x, y)?\n")
    single, loner, sib = run(src).answers
    assert single.tuples == [("Ann",), ("Cat",), ("Dan",)]
    assert loner.tuples == [("Ann",), ("Bob",), ("Cat",), ("Dan",)]   # Friend has no facts: empty
    assert sib.tuples == [("Bob", "Cat"), ("Cat", "Bob")]


def test_unstratified_negation_is_an_error_naming_the_cycle():
    with pytest.raises(TlangCheckError, match=r"not stratified.*P -> Q -> P"):
        run("D(1), D(2)\nP(x) <- D(x), not Q(x)\nQ(x) <- D(x), not P(x)\n")


def test_unbound_head_variable_is_an_error():
    with pytest.raises(TlangCheckError, match="variable 'z' of the head is not bound"):
        run("E(1, 2)\nR(x, z) <- E(x, y)\n")
    with pytest.raises(TlangCheckError, match="not bound"):
        run("E(1, 2)\nR(x) <- not E(x, 1)\n")


def test_facts_must_be_ground():
    with pytest.raises(TlangError, match="ground"):
        run("P(x)\n")


# ------------------------------------------------------------ 10. literals, element assignment

def test_literals_and_scalars():
    t = tensors("X = [[0, 0], [0, 1], [1, 0], [1, 1],]\nW = [[[[1, 0], [0, 1]]]]\nDk = 4.0\nS = 2\n")
    near(t["X"], [[0, 0], [0, 1], [1, 0], [1, 1]])
    assert t["W"].shape == (1, 1, 2, 2) and t["Dk"] == 4 and t["S"] == 2
    with pytest.raises(TlangShapeError, match="ragged"):
        run("X = [[1, 2], [3]]\n")


def test_element_assignment_and_initial_slices():
    t = tensors("W = [[1, 2], [3, 4]]\nW[0, 1] = 0.5\nX0 = [7, 8]\nX[i, 0] = X0[i]\nX[1, 2] = 1\n")
    near(t["W"], [[1, 2.5], [3, 4]])          # summed with the literal (4.2)
    near(t["X"], [[7, 0, 0], [8, 0, 1]])      # extents grow to cover the elements written


# ------------------------------------------------------------ 11. queries

def test_query_kinds():
    # the rule puts both axes of Parent in one domain (y joins them), so Parent(x, x) compares people
    src = ("W = [[1, 2], [3, 4]]\nParent(Ann, Bob), Parent(Bob, Cat)\nG(x, z) <- Parent(x, y), Parent(y, z)\n"
           "W?\nW[0, 1]?\nW[i, 0]?\nW[1, :]?\n"
           "Parent(Ann, x)?\nParent(Ann, Bob)?\nParent?\nParent(Zed, x)?\nParent(x, x)?\n")
    w, w01, col, row, rel, ground, bare, unknown, diag = run(src).answers
    assert (w.query, w.kind, w.shape) == ("W", "tensor", (2, 2))
    near(w.value, [[1, 2], [3, 4]])
    assert (w01.kind, w01.value, w01.shape) == ("scalar", 2.0, ())
    near(col.value, [1, 3])
    near(row.value, [3, 4])
    assert (rel.query, rel.kind, rel.vars, rel.tuples) == ("Parent(Ann, x)", "relation", ("x",), [("Bob",)])
    assert (ground.kind, ground.value) == ("bool", True)
    assert bare.kind == "relation" and bare.tuples == [("Ann", "Bob"), ("Bob", "Cat")]
    assert unknown.tuples == []               # a query's constants never add positions
    assert diag.tuples == []


def test_relation_tuples_sort_integers_first():
    r = run("R(2, Bee), R(0, Ant), R(1, \"cat\"), R(0, 3)\nR(x, y)?\n")
    assert r.answers[0].tuples == [(0, 3), (0, "Ant"), (1, "cat"), (2, "Bee")]


# ------------------------------------------------------------ 12. files

def test_reading_files(tmp_path):
    (tmp_path / "m.csv").write_text("# a comment\n1,2\n3,4\n")
    (tmp_path / "p.tsv").write_text("ann\tbob\nbob\tcat\n")
    (tmp_path / "q.facts").write_text('"x y"\t3\n')
    (tmp_path / "story.txt").write_text("Alice loves Bob\n")
    np.save(tmp_path / "a.npy", np.arange(6.0).reshape(2, 3))
    prog = tmp_path / "prog.tl"
    prog.write_text('M = "m.csv"\nN[i, j] = "a.npy"\nParent(x, y) = "p.tsv"\nQ(x, y) = "q.facts"\n'
                    'T = "story.txt"\nM?\nN[1, :2]?\nParent(x, y)?\nQ(x, y)?\nT(p, w)?\n')
    m, n, parent, q, text = run(prog).answers
    near(m.value, [[1, 2], [3, 4]])
    near(n.value, [3, 4])
    assert parent.tuples == [("ann", "bob"), ("bob", "cat")]
    assert q.tuples == [("x y", 3)]
    assert text.tuples == [(0, "Alice"), (1, "loves"), (2, "Bob")]


def test_files_are_relative_to_the_program_that_names_them(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.csv").write_text("5,6\n7,8\n")
    (tmp_path / "sub" / "common.tl").write_text('D = "d.csv"\nInc = [1, 2]\n')
    (tmp_path / "main.tl").write_text('include "sub/common.tl"\nE[i, j] = D[i, j] + Inc[j]\n')
    near(run(tmp_path / "main.tl").tensors["E"], [[6, 8], [8, 10]])
    (tmp_path / "bad.tl").write_text('include "sub/common.tl"\nX = "d.csv"\n')
    with pytest.raises(TlangFileError, match="no such file"):
        run(tmp_path / "bad.tl")


def test_a_file_written_earlier_reads_the_tensor_written(tmp_path):
    (tmp_path / "w.csv").write_text("9,9,9\n")       # stale contents on disk
    (tmp_path / "p.tl").write_text('W = [1, 2, 3]\n"w.csv" = W\nV[j] = "w.csv"\n')
    near(run(tmp_path / "p.tl").tensors["V"], [1, 2, 3])
    (tmp_path / "q.tl").write_text('V[j] = "w.csv"\nW = [1, 2, 3]\n"w.csv" = W\n')
    near(run(tmp_path / "q.tl").tensors["V"], [[9, 9, 9]])   # the write comes later: the disk is read


# ------------------------------------------------------------ 13. declarations

def test_declarations_fix_extents():
    t = tensors("index i : 4\nY[i] = 1.0\ntensor W[2, 3]\nW[0, 0] = 1\ndomain Layer = 3\n"
                "tensor E[Layer]\nE[0] = 5\nconst W\nlearn E\n")
    near(t["Y"], [1, 1, 1, 1])
    near(t["W"], [[1, 0, 0], [0, 0, 0]])
    near(t["E"], [5, 0, 0])


def test_contradicting_extents_are_errors():
    with pytest.raises(TlangShapeError, match="extent 2 from its data but 3 from its declaration"):
        run("tensor W[3]\nW = [1, 2]\n")
    with pytest.raises(TlangShapeError, match="index 'i' has extent 3 on one side and 2 on the other"):
        run("A = [1, 2, 3]\nB = [1, 2]\nY[i] = A[i] B[i]\n")
    with pytest.raises(TlangShapeError, match="position 5 is out of range"):
        run("X = [1, 2]\nY = X[5]\n")


def test_declared_indices_give_the_axes_they_run_over_their_extent():
    t = tensors("index x, y : 3\nE(0, 0)\nT(x, y) <- E(x, y)\nN(x) <- T(x, x), not E(x, 1)\n")
    assert t["E"].shape == (3, 3) and t["T"].shape == (3, 3)
    near(t["N"], [1, 0, 0])


def test_an_extent_nothing_fixes_is_an_error_except_for_relations():
    with pytest.raises(TlangShapeError, match="cannot infer the extent of index 'i'"):
        run("Y[i] = 2.0\n")
    r = run("Q(x) <- P(x)\nQ(x)?\n")      # relations with no facts are empty
    assert r.answers[0].tuples == [] and r.tensors["Q"].shape == (0,)


# ------------------------------------------------------------ 15. modules

def test_import_embed_gives_unit_rows():
    t = tensors("import embed\ndomain Dim = 16\nV = [1, 0, 1]\nS[d] = V[x] Emb[x, d]\n")
    g = np.random.default_rng([0, 0, 16]).standard_normal((64, 16))
    emb = (g / np.linalg.norm(g, axis=1, keepdims=True))[:3]   # Emb's rows: the objects V is used with
    near(t["Emb"], emb)
    near(t["S"], emb[0] + emb[2])


def test_include_cycle_is_an_error(tmp_path):
    (tmp_path / "a.tl").write_text('include "b.tl"\n')
    (tmp_path / "b.tl").write_text('include "a.tl"\n')
    with pytest.raises(TlangError, match="includes itself"):
        run(tmp_path / "a.tl")


# ------------------------------------------------------------ 16.1 strata, forward chaining

def test_pagerank_needs_the_turn_order():
    src = ("P = [[0, 0.5, 1], [0.5, 0, 0], [0.5, 0.5, 0]]\nU[i] = 0.15 + 0.85 P[i, j] R[j]\nZ = U[i]\n"
           "R[i] = U[i] / Z\nR?\nZ?\n")
    r = run(src)
    p, rank = np.array([[0, 0.5, 1], [0.5, 0, 0], [0.5, 0.5, 0]]), np.zeros(3)
    for _ in range(200):            # Gauss-Seidel: U, then Z, then R, each from the latest values
        u = 0.15 + 0.85 * p @ rank
        rank = u / u.sum()
    near(r.answers[0].value, [0.4155, 0.2512, 0.3333], decimals=4)
    near(r.answers[0].value, rank, atol=1e-8)
    assert r.answers[1].value == pytest.approx(1.3) and r.warnings == []


def test_components_run_in_dependency_order():
    t = tensors("C[i] = B[i] + 1\nB[i] = A[i] * 2\nA = [1, 2]\n")
    near(t["C"], [3, 5])


# ------------------------------------------------------------ 16.2 no false convergence

def test_divergence_and_oscillation_are_reported():
    r = run("X = 2.0\nX = X * X\nY = 1 - Y\n")
    diverged, oscillates = r.warnings
    # X = 2 + X*X from 0: 2, 6, 38, 1446, ... 1.8e202, inf at the 11th sweep
    assert diverged.startswith("recursion over X diverged: X is inf after sweep 11") and "2:1" in diverged
    assert oscillates == "recursion over Y oscillates (period 2) from sweep 2"
    assert r.tensors["X"] == math.inf


def test_a_recursion_that_does_not_settle_is_reported():
    r = run("X = 1 + 0.5 X\nX?\n", max_iter=5)
    assert r.warnings == ["recursion over X did not settle within 5 sweeps"]
    assert r.tensors["X"] == pytest.approx(2 - 2 ** -4)   # 1, 1.5, 1.75, 1.875, 1.9375


def test_a_nan_that_reaches_an_answer_is_reported():
    r = run("X = 0 / 0\nY = X + 1\nY?\n")
    assert math.isnan(r.answers[0].value)
    assert r.warnings == ["Y: the answer is nan; it is first produced by the equation for X at 1:1"]


# ------------------------------------------------------------ 16.3 virtual indices

def test_loops_advance_together():
    src = ("In = [1.0, 0.0, 0.0]\nH[0] = 0.0\nG[*t+1] = tanh(H[*t] + In[t])\nH[*t+1] = 0.5 * G[*t+1]\nH[0]?\n")
    r = run(src)
    want = 0.5 * math.tanh(0.5 * math.tanh(0.5 * math.tanh(1.0)))
    assert r.answers[0].value == pytest.approx(want) and round(want, 4) == 0.0899
    assert r.tensors["H"].shape == () and r.tensors["G"].shape == ()


def test_an_unbounded_loop_runs_until_its_buffer_settles():
    x = run("X[*t+1] = 0.5 X[*t] + 1\nX?\n").answers[0].value
    assert x == pytest.approx(2, abs=1e-8) and x < 2


def test_a_declared_loop_length():
    assert value("index t : 3\nX[*t+1] = 0.5 X[*t] + 1\n", "X") == pytest.approx(1.75)


def test_outer_equations_read_the_final_value():
    src = "U = [1, 2, 3]\nS[*t+1] = S[*t] + U[t]\nLast = 10 S[*t]\n"
    assert value(src, "Last") == 60


def test_reads_further_back_than_one_step_are_errors():
    with pytest.raises(TlangCheckError, match="further back than one step"):
        run("index t : 3\nX[*t+1] = X[*t-1] + 1\n")


# ------------------------------------------------------------ 16.4 elements only where inputs exist

def test_the_input_layer_is_left_as_given():
    w = np.array([[[1, 1], [0, 1]], [[1, 0], [0.5, -1]]], dtype=float)
    src = f"W = {w.tolist()}\nX[0, j] = [1, 2]\nX[i, j] = sig(W[i, j, k] X[i-1, k])\n"
    near(value(src, "X"), [[1, 2], sigmoid(w[1] @ [1, 2])])


def test_shifts_take_the_axis_extent():
    t = tensors("X = [1, 2, 3, 4]\nA[i] = X[i-1]\nB[i] = X[i+1]\n")
    near(t["A"], [0, 1, 2, 3])
    near(t["B"], [2, 3, 4, 0])


def test_a_window_keeps_convolution_valid():
    img = np.array([[0, 0, 3, 0, 3], [0, 2, 2, 0, 0], [0, 3, 1, 2, 1], [2, 2, 1, 3, 2], [0, 3, 3, 0, 0]], float)
    src = f"Image = {img.tolist()}\nFilter = [[1, 0], [0, -1]]\nF[x, y] = Filter[dx, dy] Image[x+dx, y+dy]\n"
    near(value(src, "F"), img[:4, :4] - img[1:, 1:])


def test_integer_division_on_either_side():
    t = tensors("P = [1, 2]\nUp[x] = P[x/2]\nF = [1, 2, 3, 4, 5]\nPool[x/2] = F[x]\nY[i+2] = P[i]\n")
    near(t["Up"], [1, 1, 2, 2])            # x/S read: x has N S positions
    near(t["Pool"], [3, 7, 5])             # x/S written: ceil(5 / 2) positions
    near(t["Y"], [0, 0, 1, 2])             # i+c written, fixed by nothing else: ext(i) + c


def test_an_index_bounded_only_by_a_constant_is_an_error():
    with pytest.raises(TlangShapeError, match="index 't' is bounded only by a constant"):
        run("X[0, 0] = 1\nX[i, t+1] = 0.5 X[i, t]\n")
    near(value("index t : 4\nX[0, 0] = 1\nX[i, t+1] = 0.5 X[i, t]\n", "X"), [[1, 0.5, 0.25, 0.125, 0.0625]])


def test_a_nonlinearity_over_terms_writes_where_one_term_is_valid():
    # Y[0]: A[i-1] does not exist, so Y[0] = tanh(B[0]) alone; Y[i] = tanh(A[i-1] + B[i]) elsewhere
    near(value("A = [1, 2, 3]\nB = [0.5, 0.25, 0.125]\nY[i] = tanh(A[i-1] + B[i])\n", "Y"),
         np.tanh([0.5, 1.25, 2.125]))


def test_a_normalisation_covers_the_positions_written():
    # Y[2] reads X[3], which does not exist: it is not written, and the softmax is over Y[0], Y[1]
    # (which positions a normalisation covers is the reference's reading; the docs are silent)
    near(value("X = [1, 2, 3]\nY[j.] = softmax(X[j+1])\n", "Y"), [1 / (1 + math.e), math.e / (1 + math.e), 0])


def test_zero_padding_where_aggregated_indices_fall_outside():
    # S: j is summed, X[j+1] reads 0 at j = 2; Y: j is on the left, Y[2] is not written
    t = tensors("X = [1, 2, 3]\nW = [10, 20, 30]\nS = X[j+1] W[j]\nY[j] = exp(X[j+1])\nZ = X[j+1] + 1\n")
    assert t["S"] == 2 * 10 + 3 * 20 and t["Z"] == 2 + 3 + 1
    near(t["Y"], [math.exp(2), math.exp(3), 0])


# ------------------------------------------------------------ 16.6 terms are separate equations

def test_blocks_of_different_sizes():
    src = ("In = [1, 2]\nW1 = [[1, 0], [0, 1], [1, 1]]\nW2 = [[1, -1, 0.5]]\nX[0, j] = In[j]\n"
           "X[1, j] = W1[j, k] X[0, k]\nX[2, j] = W2[j, k] X[1, k]\nX?\n")
    near(run(src).answers[0].value, [[1, 2, 0], [1, 2, 3], [0.5, 0, 0]])


# ------------------------------------------------------------ 16.7 writes where the LHS says

def test_literals_write_where_the_lhs_says():
    t = tensors("V[3:6] = [10, 20, 30]\nW[1] = [5, 6]\nX = [0, 1, 2, 3, 4, 5, 6]\nY[i] = X[2:6]\n"
                "M[i, 1] = [7, 8]\n")
    near(t["V"], [0, 0, 0, 10, 20, 30])
    near(t["W"], [[0, 0], [5, 6]])
    near(t["Y"], [2, 3, 4, 5])
    near(t["M"], [[0, 7], [0, 8]])


# ------------------------------------------------------------ 16.9 names that do not exist

def test_undefined_constant_is_a_located_error():
    with pytest.raises(TlangCheckError, match="undefined constant 'L'") as e:
        run("X = [1, 2]\nY = X[L]\n")
    assert e.value.span is not None and e.value.span.text() == "L"
    with pytest.raises(TlangCheckError, match="undefined constant 'Alcie'") as e:
        run("P(Alice)\nQ = P(Alcie)\n")
    assert "did you mean 'Alice'" in e.value.render()


def test_constant_outside_a_declared_domain():
    with pytest.raises(TlangCheckError, match="'Dave' is not in the domain Person"):
        run("domain Person = {Alice, Bob}\ntensor Parent(Person, Person)\nParent(Alice, Dave)\n")


def test_directives_are_refused():
    with pytest.raises(TlangCheckError, match="unknown directive '@minimise'") as e:
        run("X = [1]\nX? @minimise(epochs=3)\n")
    assert "did you mean '@minimize'" in e.value.render()
    with pytest.raises(TlangCheckError, match="does not do"):
        run("X = [1]\nX? @minimize(lr=0.1)\n")
    with pytest.raises(TlangCheckError, match="@sample"):
        run("@sample(n=10)\n")


def test_undefined_tensor_is_an_error():
    with pytest.raises(TlangCheckError, match="'Y' has no value"):
        run("X[i] = relu(Y[i])\n")


# ------------------------------------------------------------ 16.10 symbols and positions

def test_symbol_positions():
    src = ("domain P = {Bob, Alice}\nindex x : P\nLikes(x) <- Knows(x)\nKnows(Alice)\n"
           "Pos[x] = x\nPos?\n")
    near(run(src).answers[0].value, [0, 1])             # declared order, not order of appearance
    t = tensors("E(Bob, Alice)\nS(x) <- E(x, y)\nS(y) <- E(x, y)\nS(Carl)\nV[x] = 10 S(x) + x\n")
    near(t["V"], [10, 11, 12])                          # Bob 0, Alice 1 (left to right), Carl 2


def test_file_constants_come_after_program_constants(tmp_path):
    (tmp_path / "r.facts").write_text("Zed\nBob\n")
    (tmp_path / "p.tl").write_text('R(x) = "r.facts"\nR(Bob)\nS(x) <- R(x)\nS(x)?\nR(Yann)?\n')
    s, unknown = run(tmp_path / "p.tl").answers
    assert s.tuples == [("Bob",), ("Zed",)] and unknown.value is False
    assert run(tmp_path / "p.tl").tensors["R"].shape == (2,)   # Bob 0, Zed 1; Yann adds nothing


# ------------------------------------------------------------ the formal einsum (docs/einsum.md)

SEMIRINGS = {
    "sumprod": (np.sum, np.multiply),
    "maxplus": (np.max, np.add),
    "minplus": (np.min, np.add),
    "maxprod": (np.max, np.multiply),
    "minprod": (np.min, np.multiply),
    "boolean": (lambda v, axis: np.any(v > 0, axis=axis) * 1.0, lambda a, b: ((a > 0) & (b > 0)) * 1.0),
    "logsumexp": (lambda v, axis: np.log(np.exp(v).sum(axis)), np.add),
}


@pytest.mark.parametrize("semiring", sorted(SEMIRINGS))
def test_einsum_matrix_product_in_every_semiring(semiring):
    a, b = np.array([[1.0, 2.0], [3.0, 0.0]]), np.array([[0.5, 1.0, 0.0], [2.0, 1.0, 3.0]])
    plus, times = SEMIRINGS[semiring]
    want = plus(times(a[:, :, None], b[None, :, :]), axis=1)
    got = value(f"A = {a.tolist()}\nB = {b.tolist()}\nC = einsum(\"ij,jk->ik\", A, B, semiring={semiring})\n",
                "C")
    near(got, want, atol=1e-12)


def test_einsum_nesting_diagonals_and_expressions():
    a, b = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.0, 1.0], [1.0, 0.0]])
    src = (f"A = {a.tolist()}\nB = {b.tolist()}\nX = [1, 1]\n"
           "N = einsum(\"ik,kl->il\", einsum(\"ij,jk->ik\", A, B), B)\n"
           "D = einsum(\"i->ii\", einsum(\"ii->i\", A))\nT = einsum(\"ii->\", A)\n"
           "Y[i] = relu(einsum(\"ij,j->i\", A, X) - 4)\nM[r, c] = einsum(\"[p dk],[q dk]->[p q]\", A, B)\n")
    t = tensors(src)
    near(t["N"], a @ b @ b)
    near(t["D"], np.diag(np.diag(a)))
    assert t["T"] == 5
    near(t["Y"], np.maximum(a @ [1, 1] - 4, 0))
    near(t["M"], a @ b.T)


# ------------------------------------------------------------ inputs

def test_inputs_are_data():
    r = run("Y[i] = W[i, j] X[j]\nY?\n", inputs={"W": np.eye(2) * 2, "X": np.array([1.0, 3.0])})
    near(r.answers[0].value, [2, 6])


# ------------------------------------------------------------ the example programs

def _header_relation(names):
    return [tuple(n) if isinstance(n, tuple) else (n,) for n in names]


# the "Expected answers" of each header, transcribed: (query, value or tuples, decimals)
EXPECTED: dict[str, list[tuple[str, object, int | None]]] = {
    "perceptron": [("Y", 1, None), ("Z", [0, 1, 0, 0], None), ("YC", 1, None)],
    "mlp": [("H", [[0, 0], [1, 0], [1, 0], [2, 1]], None), ("Y", [0, 1, 1, 0], None), ("Y2", [0, 1, 1, 0], None)],
    "attention": [("Query", [[1, 0], [0, 1], [1, 1]], None), ("Key", [[2, 0], [0, 2], [1, 1]], None),
                  ("Val", [[1, 1], [0, 1], [1, 0]], None),
                  ("Comp", [[0.5760, 0.1400, 0.2840], [0.1400, 0.5760, 0.2840], [0.3333, 0.3333, 0.3333]], 4),
                  ("Attn", [[0.8600, 0.7160], [0.4240, 0.7160], [0.6667, 0.6667]], 4)],
    "bayes": [("Joint", [[[0.432, 0.048], [0.012, 0.108]], [[0.072, 0.008], [0.032, 0.288]]], 4),
              ("PRain", [0.56, 0.44], 4), ("PWet", [0.548, 0.452], 4), ("PWetJ", [0.548, 0.452], 4),
              ("Z", 1.0, 4), ("ZE", 0.452, 4), ("PE", 0.452, 4), ("PQE", [0.056, 0.396], 4),
              ("PQgivenE", [0.1239, 0.8761], 4), ("PCgivenE", [0.3451, 0.6549], 4)],
    "cnn": [("Features", [[0, 0, 3, 0], [0, 1, 0, 0], [0, 2, 0, 0], [0, 0, 1, 3]], None),
            ("PoolSum", [[1, 3], [2, 4]], None), ("PoolMax", [[1, 3], [2, 3]], None),
            ("PoolAvg", [[0.25, 0.75], [0.5, 1.0]], None), ("PoolConv", [[1, 3], [2, 4]], None)],
    "family": [("Ancestor(Alice, x)", ["Bob", "Charlie"], None), ("Ancestor(Alice, Charlie)", True, None),
               ("Ancestor(Charlie, Alice)", False, None), ("Aunt(x, z)", [("Eve", "Charlie")], None),
               ("Ancestor(x, y)", [("Alice", "Bob"), ("Alice", "Charlie"), ("Bob", "Charlie"),
                                   ("Dave", "Alice"), ("Dave", "Bob"), ("Dave", "Charlie")], None)],
    "gnn": [("Y", [0.6225, 0.5775, 0.4225, 0.3775], 4),
            ("YE", [[0.9155, 0.9766, 0.9727, 0.8941], [0.9766, 0.9974, 0.9972, 0.9727],
                    [0.9727, 0.9972, 0.9974, 0.9766], [0.8941, 0.9727, 0.9766, 0.9155]], 4),
            ("YG", 0.5, 4)],
    "kernel": [("K", [[4, 16, 4, 9, 4], [16, 64, 16, 36, 16], [4, 16, 4, 9, 4], [9, 36, 9, 25, 12.25],
                      [4, 16, 4, 12.25, 6.25]], 4),
               ("G", [[1.0, 0.3679, 0.0183, 0.0015, 0.7788], [0.3679, 1.0, 0.0001, 0.0, 0.2865],
                      [0.0183, 0.0001, 1.0, 0.6065, 0.0143], [0.0015, 0.0, 0.6065, 1.0, 0.0007],
                      [0.7788, 0.2865, 0.0143, 0.0007, 1.0]], 4),
               ("Y[Q]", 0.8355, 4), ("YG[Q]", 0.5684, 4)],
    "rnn": [("X", [0.2770, 0.6063], 4)],
    "embedding": [("Sim", [[1.0028, -0.0758, 0.0673, -0.0616], [-0.0758, 1.0021, 0.0642, 0.0226],
                           [0.0673, 0.0642, 1.0089, 0.0591], [-0.0616, 0.0226, 0.0591, 1.0021]], 4),
                  ("Member", [1.0701, -0.0116, 1.0762, -0.0025], 4), ("InAlice", 1.0701, 4),
                  ("DAB", 1.0016, 4), ("DA", [-0.0853, 1.0016, -0.0081, 0.0856], 4),
                  ("D", [[-0.0853, 1.0016, -0.0081, 0.0856], [0.0692, -0.0102, 1.0099, 0.1218],
                         [-0.0629, 0.0944, 0.1287, 1.0163], [0.0025, -0.0589, 0.0223, 0.0592]], 4),
                  ("Rec(x, y)", [("Alice", "Bob"), ("Bob", "Carol"), ("Carol", "Dave")], None),
                  ("Soft", [[0.0029, 0.9934, 0.0062, 0.0156], [0.0133, 0.0060, 0.9939, 0.0223],
                            [0.0036, 0.0170, 0.0238, 0.9943], [0.0069, 0.0037, 0.0084, 0.0120]], 4)],
    "transformer": [("PosEnc", [[0, 1, 0, 1], [0.8415, 0.5403, 0.01, 1], [0.9093, -0.4161, 0.02, 0.9998]], 4),
                    ("Y", [[0.3634, 0.3276, 0.0300, 0.1317, 0.1473], [0.1815, 0.5504, 0.0349, 0.0975, 0.1358],
                           [0.1792, 0.0283, 0.3898, 0.2532, 0.1496]], 3)],
    "analogy": [("Flies(x)", ["Polly", "Robin"], None),
                ("LaysEggs(x)", ["Dory", "Nemo", "Polly", "Robin"], None),
                ("ScoreFlies", [1.186, 1.186, 0.388, 0.088, -0.001, 0.055, 0.113], 3),
                ("Flies0", [1, 1, 0, 0, 0, 0, 0], None),
                ("Flies1", [0.999, 0.999, 0.245, 0.016, 0.007, 0.012, 0.020], 3),
                ("LaysEggs0", [1, 1, 0, 1, 1, 0, 0], None)],
}


def _check(ans: Answer, want, decimals) -> None:
    if ans.kind == "relation":
        assert ans.tuples == _header_relation(want)
    elif ans.kind == "bool":
        assert ans.value is want
    else:
        near(ans.value, want, decimals)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_headers(name):
    r = run(EXAMPLES / f"{name}.tl")
    got = {a.query: a for a in r.answers}
    for query, want, decimals in EXPECTED[name]:
        _check(got[query], want, decimals)
    assert r.warnings == []


def test_every_example_without_training_is_covered():
    assert {p.stem for p in PLAIN} == set(EXPECTED)
    assert len(TRAINED) == 7


def test_example_intermediate_values():
    gnn = run(EXAMPLES / "gnn.tl").tensors["Emb"]
    near(gnn[:, 1, :], [[1, 0.25], [1.25, 0.75], [0.75, 1.25], [0.25, 1]])
    near(gnn[:, 2, :], [[1.3125, 0.8125], [1.875, 1.5625], [1.5625, 1.875], [0.8125, 1.3125]])
    tr = run(EXAMPLES / "transformer.tl").tensors
    assert tr["Comp"].shape == (2, 1, 3, 3) and tr["Stream"].shape == (2, 3, 4)
    near(tr["Stream"][0], [[1, 1, 0, 1], [0.8415, 1.5403, 0.01, 1], [0.9093, -0.4161, 1.02, 0.9998]], 4)
    near(tr["Comp"][0, 0], [[0.3730, 0.4514, 0.1756], [0.3645, 0.5170, 0.1185], [0.2498, 0.2088, 0.5414]], 4)
    near(tr["Comp"][1, 0], np.full((3, 3), 1 / 3))
    near(tr["Stream"][1], [[0.9031, 0.7997, -1.5913, -0.1116], [0.2904, 1.3997, -1.3590, -0.3310],
                           [0.1808, -1.6651, 0.9579, 0.5264]], 3)
    # rnn: the states after t = 1, 2 (the loop over fewer columns of U)
    src = (EXAMPLES / "rnn.tl").read_text()
    for steps, want in ((1, [0.8176, 0.5498]), (2, [0.5607, 0.7995])):
        cut = src.replace("U = [[1, 0, -1],\n     [0, 1, 0]]",
                          f"U = {[[1, 0, -1][:steps], [0, 1, 0][:steps]]}")
        near(run(cut).tensors["X"], want, 4)
    an = run(EXAMPLES / "analogy.tl").tensors
    # "LaysEggs1? Tweety about 0.24"; the header's "Rex and Felix below 0.01" is 0.0105 and 0.0117
    assert abs(an["LaysEggs1"][2] - 0.24) < 0.005 and max(an["LaysEggs1"][5:]) < 0.012
    # "Sim? about 0.2-0.3 between animals with the same traits, about 0 otherwise": the pairs with the
    # same traits are 0.14-0.24, every other pair is within 0.09 of 0
    same = {(0, 1), (0, 2), (1, 2), (3, 4), (5, 6)}
    for i in range(7):
        for j in range(i + 1, 7):
            assert (0.13 < an["Sim"][i, j] < 0.3) if (i, j) in same else abs(an["Sim"][i, j]) < 0.09


@pytest.mark.parametrize("path", TRAINED, ids=lambda p: p.stem)
def test_training_examples_are_refused(path):
    with pytest.raises(TlangCheckError, match="does not do"):
        run(path)


def test_virtual_axes_are_not_stored():
    r = run(EXAMPLES / "rnn.tl")
    assert r.tensors["X"].shape == (2,) and r.answers[0].shape == (2,)
