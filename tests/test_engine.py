"""Engine semantics: projection scope, Datalog, recursion, negation, index functions, queries."""

import json
import warnings

import numpy as np
import pytest

from tlang.api import run
from tlang.engine import ConvergenceWarning
from tlang.source import TlangCheckError, TlangError


def answers(src, **kw):
    return [a.to_json() for a in run(src, **kw).answers]


X3 = "X = [[1, 2], [3, 4], [0, 1]]\n"
XA = np.array([[1, 2], [3, 4], [0, 1]], dtype=float)


def test_polynomial_kernel_squares_dot_products():
    r = run(X3 + "K[i, i'] = (X[i, j] X[i', j])^2\n")
    np.testing.assert_allclose(r["K"], (XA @ XA.T) ** 2)


def test_gaussian_kernel_sums_squares_inside_exp():
    r = run(X3 + "V = 2.0\nG[i, i'] = exp(-(X[i, j] - X[i', j])^2 / V)\n")
    d2 = ((XA[:, None, :] - XA[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(r["G"], np.exp(-d2 / 2))


def test_bias_added_once():
    r = run("W = [1, -2, 3]\nX = [1, 1, 1]\nC = -2.5\nY = step(W[i] X[i] + C)\nZ = W[i] X[i] + C\n")
    assert float(r["Z"]) == pytest.approx(-0.5)
    assert float(r["Y"]) == 0.0


def test_mlp_sums_inner_index_inside_relu():
    src = ("W1 = [[1, -1], [2, 0], [0, 1]]\nW2 = [[1, 1, -1]]\nX = [1, 2]\n"
           "Y[o] = sig(W2[o, h] relu(W1[h, j] X[j]))\n")
    r = run(src)
    W1, W2, x = np.array([[1, -1], [2, 0], [0, 1]]), np.array([[1, 1, -1]]), np.array([1, 2])
    expect = 1 / (1 + np.exp(-(W2 @ np.maximum(W1 @ x, 0))))
    np.testing.assert_allclose(r["Y"], expect)


def test_rnn_terms_each_contract_their_index():
    src = ("W = [[0.5, 0.1], [0.2, 0.3]]\nV = [[1.0, 0.0], [0.0, 1.0]]\nU = [[1, 0, 1], [0, 1, 1]]\n"
           "H0 = [0.1, 0.2]\nX[i, 0] = H0[i]\nX[i, *t+1] = sig(W[i, j] X[j, *t] + V[i, j] U[j, t])\n")
    W, V = np.array([[0.5, 0.1], [0.2, 0.3]]), np.eye(2)
    U, x = np.array([[1, 0, 1], [0, 1, 1]]), np.array([0.1, 0.2])
    for t in range(3):
        x = 1 / (1 + np.exp(-(W @ x + V @ U[:, t])))
    np.testing.assert_allclose(run(src)["X"], x)


def test_hadamard_keeps_lhs_index():
    r = run("W = [1, 2, 3]\nX = [4, 5, 6]\nY[i] = W[i] X[i]\n")
    np.testing.assert_allclose(r["Y"], [4, 10, 18])


def test_diagonal_and_trace():
    r = run("A = [[1, 2], [3, 4]]\nD[i] = A[i, i]\nT = A[i, i]\n")
    np.testing.assert_allclose(r["D"], [1, 4])
    assert float(r["T"]) == 5


def test_same_lhs_equations_are_summed():
    r = run("A = [1, 2]\nB = [10, 20]\nY[i] = A[i]\nY[i] = B[i]\n")
    np.testing.assert_allclose(r["Y"], [11, 22])


def test_projection_operators():
    src = "A = [[1, 5], [3, 2]]\nM[i] max= A[i, j]\nN[i] min= A[i, j]\nV[i] avg= A[i, j]\nS[i] = A[i, j]\n"
    r = run(src)
    np.testing.assert_allclose(r["M"], [5, 3])
    np.testing.assert_allclose(r["N"], [1, 2])
    np.testing.assert_allclose(r["V"], [3, 2.5])
    np.testing.assert_allclose(r["S"], [6, 5])


def test_pooling_with_integer_division():
    img = "Img = [[1,2,3,4],[5,6,7,8],[9,10,11,12],[13,14,15,16]]\nS = 2\n"
    r = run(img + "P[x/S, y/S] max= Img[x, y]\nQ[x/S, y/S] = Img[x, y]\nA[x/S, y/S] avg= Img[x, y]\n")
    np.testing.assert_allclose(r["P"], [[6, 8], [14, 16]])
    np.testing.assert_allclose(r["Q"], [[14, 22], [46, 54]])
    np.testing.assert_allclose(r["A"], [[3.5, 5.5], [11.5, 13.5]])


def test_convolution_with_index_arithmetic():
    src = "Img = [[1,2,3],[4,5,6],[7,8,9]]\nF = [[1, 0], [0, 1]]\nC[x, y] = F[dx, dy] Img[x+dx, y+dy]\n"
    np.testing.assert_allclose(run(src)["C"], [[6, 8], [12, 14]])


def test_shift_takes_the_axis_extent_and_writes_only_where_inputs_exist():
    r = run("A = [1, 2, 3]\nB[i] = A[i+1]\nC[i] = A[i-1]\nD[i] = A[i] + A[i+1]\n")
    np.testing.assert_allclose(r["B"], [2, 3, 0])   # i only shifted: A's extent; B[2] reads A[3]: not written
    np.testing.assert_allclose(r["C"], [0, 1, 2])   # C[0] reads A[-1]: not written
    np.testing.assert_allclose(r["D"], [3, 5, 3])   # the term A[i+1] writes nothing at i = 2


def test_softmax_along_dotted_index():
    r = run("S = [[1, 2, 3], [0, 0, 0]]\nP[i, j.] = softmax(S[i, j])\n")
    e = np.exp([1, 2, 3])
    np.testing.assert_allclose(r["P"][0], e / e.sum())
    np.testing.assert_allclose(r["P"].sum(axis=1), [1, 1])


def test_softmax_over_first_index_when_dotted():
    r = run("S = [[1, 2], [3, 4]]\nP[i., j] = softmax(S[i, j])\n")
    np.testing.assert_allclose(r["P"].sum(axis=0), [1, 1])


def test_layer_norm():
    r = run("S = [[1, 2, 3]]\nN[i, d.] = lnorm(S[i, d])\n")
    x = np.array([1, 2, 3.0])
    np.testing.assert_allclose(r["N"][0], (x - x.mean()) / np.sqrt(x.var() + 1e-5))


def test_concat_merges_heads():
    r = run("A = [[1, 2], [3, 4]]\nB = [5, 6]\nT[b, h, dv] = A[h, dv] B[b]\nM[b, dm] = concat(T[b, h, dv])\n")
    np.testing.assert_allclose(r["M"], [[5, 10, 15, 20], [6, 12, 18, 24]])


def test_even_odd_and_index_values():
    r = run("index d : 4\nP[d] = Even(d) d + Odd(d) (0 - d)\n")
    np.testing.assert_allclose(r["P"], [0, -1, 2, -3])


def test_comparison_masks():
    r = run("X = [-1, 2, 0, 3]\nY[i] = (X[i] > 0) X[i]\n")
    np.testing.assert_allclose(r["Y"], [0, 2, 0, 3])


def test_sig_temperature_zero_is_step():
    r = run("X = [-0.5, 0, 0.5]\nT = 0\nY[i] = sig(X[i], T)\nZ[i] = sig(X[i], 2)\n")
    np.testing.assert_allclose(r["Y"], [0, 0, 1])
    np.testing.assert_allclose(r["Z"], 1 / (1 + np.exp(-np.array([-0.5, 0, 0.5]) / 2)))


def test_element_assignment_sets_extent():
    r = run("W[0, 1] = 0.5\nW[2, 0] = 1\n")
    np.testing.assert_allclose(r["W"], [[0, 0.5], [0, 0], [1, 0]])


def test_slices_are_kept_as_axes():
    r = run("X = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\nY = X[4:8]\n")
    np.testing.assert_allclose(r["Y"], [4, 5, 6, 7])
    out = answers("X = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\nX[-3:]?\nX[0:8:2]?\nX[:2]?\n")
    assert [a["value"] for a in out] == [[7, 8, 9], [0, 2, 4, 6], [0, 1]]


FAMILY = """
Parent(Alice, Bob)
Parent(Bob, Charlie)
Parent(Charlie, Dan)
Sister(Eve, Bob)
Ancestor(x, y) <- Parent(x, y)
Ancestor(x, z) <- Ancestor(x, y), Parent(y, z)
Aunt(x, z) <- Sister(x, y), Parent(y, z)
"""


def test_datalog_closure_and_queries():
    out = answers(FAMILY + "Ancestor(Alice, x)?\nAncestor(Alice, Dan)?\nAncestor(Dan, Alice)?\nAunt(x, y)?\n")
    assert out[0] == {"query": "Ancestor(Alice, x)", "kind": "relation", "vars": ["x"],
                      "tuples": [["Bob"], ["Charlie"], ["Dan"]]}
    assert out[1] == {"query": "Ancestor(Alice, Dan)", "kind": "bool", "value": True}
    assert out[2]["value"] is False
    assert out[3]["tuples"] == [["Eve", "Charlie"]]


def test_seminaive_equals_naive():
    src = FAMILY + "Ancestor(x, y)?\n"
    assert answers(src) == answers(src, semi_naive=False)


def test_nonlinear_recursion_same_generation():
    src = ("Par(A, B)\nPar(A, C)\nPar(B, D)\nPar(C, E)\n"
           "Sg(x, y) <- Par(p, x), Par(p, y)\nSg(x, y) <- Par(p, x), Sg(p, q), Par(q, y)\nSg(D, y)?\n")
    assert answers(src)[0]["tuples"] == [["D"], ["E"]]
    assert answers(src) == answers(src, semi_naive=False)


def test_stratified_negation():
    src = ("Node(A)\nNode(B)\nNode(C)\nEdge(A, B)\nHasIn(y) <- Edge(x, y)\n"
           "Root(x) <- Node(x), not HasIn(x)\nRoot(x)?\n")
    assert answers(src)[0]["tuples"] == [["A"], ["C"]]


def test_negation_cycle_is_an_error_naming_it():
    with pytest.raises(TlangCheckError) as e:
        run("P(A)\nQ(x) <- P(x), not R(x)\nR(x) <- Q(x)\n")
    assert "cycle: Q -> R -> Q" in e.value.render()


def test_inequality_in_rule():
    src = "Par(A, B)\nPar(A, C)\nSib(x, y) <- Par(p, x), Par(p, y), x != y\nSib(x, y)?\n"
    assert answers(src)[0]["tuples"] == [["B", "C"], ["C", "B"]]


def test_numeric_fixpoint_converges():
    r = run("M = [[0, 0.5], [0.5, 0]]\nB = [1, 1]\nX[i] = M[i, j] X[j] + B[i]\n")
    np.testing.assert_allclose(r["X"], [2, 2], atol=1e-6)


def test_nonconvergence_warns_naming_equations():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        run("X[i] = X[i] + 1\nindex i : 2\n", max_iter=20)
    assert any(issubclass(x.category, ConvergenceWarning) and "<input>:1:1" in str(x.message) for x in w)


def test_json_schema_per_kind():
    out = answers("W = [[1, 2], [3, 4]]\nW?\nW[0, 1]?\nR(A)\nR(A)?\nR(x)?\n")
    assert out[0] == {"query": "W", "kind": "tensor", "shape": [2, 2], "value": [[1.0, 2.0], [3.0, 4.0]]}
    assert out[1] == {"query": "W[0, 1]", "kind": "scalar", "shape": [], "value": 2.0}
    assert out[2] == {"query": "R(A)", "kind": "bool", "value": True}
    assert out[3] == {"query": "R(x)", "kind": "relation", "vars": ["x"], "tuples": [["A"]]}
    for a in out:
        json.dumps(a)


def test_unknown_constant_in_query_gives_no_answers():
    out = answers(FAMILY + "Ancestor(Zed, x)?\n")
    assert out[0]["tuples"] == []


def test_integers_are_positions():
    out = answers("Neig(0, 1)\nNeig(1, 2)\nNeig(x, y)?\n")
    assert out[0]["tuples"] == [[0, 1], [1, 2]]


def test_inputs_from_python():
    r = run("Y[i] = W[i, j] X[j]\n", inputs={"W": np.eye(2) * 2, "X": np.array([1.0, 3.0])})
    np.testing.assert_allclose(r["Y"], [2, 6])


def test_undefined_numeric_tensor_is_an_error():
    with pytest.raises(TlangError, match="no value"):
        run("index i : 2\nY[i] = W[i]\n")


def test_timeout_is_enforced():
    from tlang.source import TlangResourceError
    with pytest.raises(TlangResourceError, match="time limit"):
        run("X[i] = X[i] + 1\nindex i : 2\n", max_iter=10**9, timeout=0.2)


def test_memory_limit_refuses_before_allocating():
    from tlang.source import TlangResourceError
    with pytest.raises(TlangResourceError, match="memory limit"):
        run("index i : 1000000\nindex j : 1000000\nY[i, j] = 1\n", memory_limit=10**9)
