"""The evaluation rules of docs/language.md section 16 (and the projection rule of section 7),
each against values worked out by hand or in plain numpy written here, on every engine:
the numpy engine and the generated code (JAX in float64).

One test per rule of issue 14; the docstring of each says which point it checks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tlang import api

ENGINES = ["numpy", "jax"]


def run(src: str, engine: str = "numpy", **options):
    if engine == "jax":
        pytest.importorskip("jax")
        return api.run(src, backend="jax", x64=True, **options)
    return api.run(src, **options)


def value(res, name: str):
    for a in res.answers:
        if a.query.split("[")[0].split("(")[0].rstrip("?") == name:
            return a.value if a.kind != "relation" else a.tuples
    return res.tensors[name]


def sig(x):
    return 1 / (1 + np.exp(-np.asarray(x, dtype=float)))


# ------------------------------------------------ 4. elements only where inputs exist

@pytest.mark.parametrize("engine", ENGINES)
def test_shifted_index_takes_the_axis_extent_either_way(engine):
    """Point 4: one rule for i+1 and i-1 (16.4); the element that would read outside is not written."""
    r = run("X = [1, 2, 3, 4]\nA[i] = X[i-1]\nB[i] = X[i+1]\nA?\nB?\n", engine)
    np.testing.assert_allclose(value(r, "A"), [0, 1, 2, 3])
    np.testing.assert_allclose(value(r, "B"), [2, 3, 4, 0])


@pytest.mark.parametrize("engine", ENGINES)
def test_mlp_leaves_its_input_layer_as_given(engine):
    """Point 4: X[i,j] = sig(W[i,j,k] X[i-1,k]) does not add sig(0) = 0.5 to layer 0 (X[-1] does not exist)."""
    w = np.array([[[0, 0], [0, 0]], [[1, -1], [0.5, 2]], [[1, 1], [-1, 1]]], dtype=float)
    src = ("In = [1, 2]\nW = " + str(w.tolist()) + "\nX[0, j] = In[j]\n"
           "X[i, j] = sig(W[i, j, k] X[i-1, k])\nX?\n")
    x = np.zeros((3, 2))
    x[0] = [1, 2]
    for i in (1, 2):
        x[i] = sig(w[i] @ x[i - 1])
    np.testing.assert_allclose(value(run(src, engine), "X"), x, rtol=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_term_whose_inputs_do_not_exist_leaves_the_others(engine):
    """Point 4 with terms (16.6): sig(X[i-1] + X[i]) at i = 0 is sig(X[0]), not sig(0 + X[0]) by accident
    of padding and not missing: the term X[i-1] writes nothing there, the other term still does."""
    r = run("X = [1, 2, 3]\nY[i] = sig(X[i-1] + 2 X[i])\nZ[i] = sig(X[i-1])\nY?\nZ?\n", engine)
    x = np.array([1.0, 2, 3])
    np.testing.assert_allclose(value(r, "Y"), [sig(2 * x[0]), sig(x[0] + 2 * x[1]), sig(x[1] + 2 * x[2])])
    np.testing.assert_allclose(value(r, "Z"), [0, sig(1), sig(2)])   # Z[0] is not written: 0, not sig(0)


@pytest.mark.parametrize("engine", ENGINES)
def test_convolution_keeps_its_valid_size(engine):
    """Point 4: x+dx on a 5-wide image with a 2-wide filter gives x 4 positions."""
    img = np.arange(25.0).reshape(5, 5) % 7
    filt = np.array([[1.0, 0], [0, -1]])
    src = (f"Image = {img.tolist()}\nFilter = {filt.tolist()}\n"
           "F[x, y] = Filter[dx, dy] Image[x+dx, y+dy]\nF?\n")
    want = np.array([[sum(filt[a, b] * img[x + a, y + b] for a in range(2) for b in range(2))
                      for y in range(4)] for x in range(4)])
    np.testing.assert_allclose(value(run(src, engine), "F"), want)


# ------------------------------------------------------ 5. projection where the paper puts it

@pytest.mark.parametrize("engine", ENGINES)
def test_loss_is_the_squared_error_summed_over_examples_and_units(engine):
    """Point 5: Loss = (Y[e] - X[e, N, j])^2 sums over e and j after squaring (j floats to the top)."""
    y = np.array([1.0, -1.0])
    x = np.array([[[0, 0], [1, 2]], [[0, 0], [-2, 0.5]]])
    src = f"Y = {y.tolist()}\nX = {x.tolist()}\nN = 1\nLoss = (Y[e] - X[e, N, j])^2\nLoss?\n"
    want = sum((y[e] - x[e, 1, j]) ** 2 for e in range(2) for j in range(2))
    assert value(run(src, engine), "Loss") == pytest.approx(want)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_paper_forms_keep_their_meaning(engine):
    """Point 5: the polynomial and Gaussian kernels, the perceptron with + C, the two-layer MLP and attention."""
    X = np.array([[1.0, 0, 2], [0.5, -1, 1]])
    A = np.array([1.0, -2])
    W1 = np.array([[1.0, -1], [0.5, 0.5]])
    W2 = np.array([[2.0, -1]])
    Q = np.array([[1.0, 0], [0, 1], [1, 1]])
    src = (f"X = {X.tolist()}\nA = {A.tolist()}\nW1 = {W1.tolist()}\nW2 = {W2.tolist()}\nQ = {Q.tolist()}\n"
           "C = 0.5\nVar = 2.0\nDk = 2.0\n"
           "K[i, i'] = (X[i, j] X[i', j])^2\n"
           "G[i, i'] = exp(-(X[i, j] - X[i', j])^2 / Var)\n"
           "P = step(A[i] A[i] + C)\n"
           "M[o] = sig(W2[o, h] relu(W1[h, j] A[j]))\n"
           "Comp[p, p'.] = softmax(Q[p, d] Q[p', d] / sqrt(Dk))\n"
           "K?\nG?\nP?\nM?\nComp?\n")
    r = run(src, engine)
    np.testing.assert_allclose(value(r, "K"), (X @ X.T) ** 2)
    d2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(value(r, "G"), np.exp(-d2 / 2.0))
    assert value(r, "P") == 1.0
    np.testing.assert_allclose(value(r, "M"), sig(W2 @ np.maximum(W1 @ A, 0)))
    s = Q @ Q.T / math.sqrt(2.0)
    np.testing.assert_allclose(value(r, "Comp"), np.exp(s) / np.exp(s).sum(1, keepdims=True))


@pytest.mark.parametrize("engine", ENGINES)
def test_an_index_in_one_factor_floats_to_the_function_argument(engine):
    """Point 5: E = exp(A[j]) is exp of the sum; Z = sig(A[j] + B[j]) is sig of the sum; a sum of
    a contraction and a free term aggregates each on its own."""
    src = ("A = [1, -2]\nB = [0.5, 1]\nM = [[1, 2], [3, 4]]\n"
           "E = exp(A[j])\nZ = sig(A[j] + B[j])\nY[i] = M[i, j] A[j] + B[j]\nE?\nZ?\nY?\n")
    r = run(src, engine)
    a, b, m = np.array([1.0, -2]), np.array([0.5, 1]), np.array([[1.0, 2], [3, 4]])
    assert value(r, "E") == pytest.approx(math.exp(a.sum()))
    assert value(r, "Z") == pytest.approx(float(sig((a + b).sum())))
    np.testing.assert_allclose(value(r, "Y"), m @ a + b.sum())


# --------------------------------------------------------- 6. terms are separate equations

@pytest.mark.parametrize("engine", ENGINES)
def test_an_index_summed_in_one_term_is_local_to_it(engine):
    """Point 6: the RNN with an input U of fewer units (2) than the state (3)."""
    W = np.array([[0.5, -0.3, 0.1], [0.2, 0.4, 0], [0, 0.1, 0.3]])
    V = np.array([[1.0, 0], [0, 1], [1, -1]])
    U = np.array([[1.0, 0, -1], [0, 1, 0.5]])
    src = (f"W = {W.tolist()}\nV = {V.tolist()}\nU = {U.tolist()}\nX[0, 0] = 1.0\n"
           "X[i, *t+1] = sig(W[i, j] X[j, *t] + V[i, j] U[j, t])\nX?\n")
    x = np.array([1.0, 0, 0])
    for t in range(3):
        x = sig(W @ x + V @ U[:, t])
    np.testing.assert_allclose(value(run(src, engine), "X"), x, rtol=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_top_level_terms_aggregate_their_own_indices(engine):
    """Point 5 with point 6: (Y[e] - P[e])^2 + L W[i]^2 counts the penalty once (not once per e) and
    the error once (not once per i); step(X[i] + C) adds C once."""
    src = ("Y = [1, 0, 2]\nP = [0.5, 0.5, 1]\nW = [1, -2]\nL = 0.1\nC = -3.5\nX = [1, 2]\n"
           "Loss = (Y[e] - P[e])^2 + L W[i]^2\nS = step(X[i] + C)\nT = X[i] + C\nLoss?\nS?\nT?\n")
    r = run(src, engine)
    assert value(r, "Loss") == pytest.approx(0.25 + 0.25 + 1 + 0.1 * (1 + 4))
    assert value(r, "S") == 0.0            # step(3 - 3.5), not step(3 - 7)
    assert value(r, "T") == pytest.approx(-0.5)
