"""The evaluation rules of docs/language.md section 16 (and the projection rule of section 7),
each against values worked out by hand or in plain numpy written here, on every engine:
the numpy engine and the generated code (JAX in float64).

One test per rule of issue 14; the docstring of each says which point it checks.
"""

from __future__ import annotations

import math
import warnings

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


# ---------------------------------------------------------------- 1. forward chaining in turn

PAGERANK = ("P = [[0, 0.5, 1], [0.5, 0, 0], [0.5, 0.5, 0]]\n"
            "U[i] = 0.15 + 0.85 P[i, j] R[j]\nZ = U[i]\nR[i] = U[i] / Z\nR?\nZ?\n")


@pytest.mark.parametrize("engine", ENGINES)
def test_normalised_pagerank_runs_in_turn(engine):
    """Point 1: each equation sees what the earlier ones just wrote (updated all at once, the
    first round divides 0 by 0)."""
    P = np.array([[0, 0.5, 1], [0.5, 0, 0], [0.5, 0.5, 0]])
    r = np.zeros(3)
    for _ in range(200):  # Gauss-Seidel in program order, by hand
        u = 0.15 + 0.85 * P @ r
        z = u.sum()
        r = u / z
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no warning: it converges
        res = run(PAGERANK, engine)
    np.testing.assert_allclose(value(res, "R"), r, atol=1e-8)
    np.testing.assert_allclose(value(res, "R"), [0.4155, 0.2512, 0.3333], atol=1e-4)
    assert value(res, "Z") == pytest.approx(1.3)


def loopy_bp_source(phi: np.ndarray, psi: np.ndarray) -> str:
    """Loopy belief propagation on the 3-cycle A-B-C with binary variables.  A message is written
    as its deviation D from the uniform 1/2, so that every element starting at 0 means uniform
    messages: U = phi psi (D + 1/2) is the update, Z its sum, D = U/Z - 1/2."""
    lines = [f"Phi{n} = {phi[k].tolist()}" for k, n in enumerate("ABC")] + [f"Psi = {psi.tolist()}"]
    edges = [("A", "B", "C"), ("B", "C", "A"), ("C", "A", "B"), ("B", "A", "C"), ("C", "B", "A"),
             ("A", "C", "B")]   # u -> v, with w the other neighbour of u
    for u, v, w in edges:
        lines += [f"U{u}{v}[y] = Phi{u}[x] Psi[x, y] (D{w}{u}[x] + 0.5)", f"Z{u}{v} = U{u}{v}[y]",
                  f"D{u}{v}[y] = U{u}{v}[y] / Z{u}{v} - 0.5"]
    for v in "ABC":
        a, b = [u for u in "ABC" if u != v]
        lines += [f"Q{v}[x] = Phi{v}[x] (D{a}{v}[x] + 0.5) (D{b}{v}[x] + 0.5)", f"ZQ{v} = Q{v}[x]",
                  f"Belief{v}[x] = Q{v}[x] / ZQ{v}", f"Belief{v}?"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("engine", ENGINES)
def test_loopy_belief_propagation_is_forward_chaining(engine):
    """Point 1: the paper's "loopy belief propagation is forward chaining": messages in turn to
    their fixpoint, against a plain numpy loopy BP."""
    phi = np.array([[0.7, 0.3], [0.4, 0.6], [0.5, 0.5]])
    psi = np.array([[1.2, 0.6], [0.6, 1.2]])
    idx = {n: k for k, n in enumerate("ABC")}
    m = {(u, v): np.full(2, 0.5) for u in "ABC" for v in "ABC" if u != v}
    for _ in range(500):
        for u, v in list(m):
            w = next(x for x in "ABC" if x not in (u, v))
            new = (phi[idx[u]] * m[(w, u)]) @ psi
            m[(u, v)] = new / new.sum()
    want = {}
    for v in "ABC":
        b = phi[idx[v]] * np.prod([m[(u, v)] for u in "ABC" if u != v], axis=0)
        want[v] = b / b.sum()
    r = run(loopy_bp_source(phi, psi), engine)
    for v in "ABC":
        np.testing.assert_allclose(value(r, f"Belief{v}"), want[v], atol=1e-7)


# ------------------------------------------------------- 2. coupled recurrences advance together

@pytest.mark.parametrize("engine", ENGINES)
def test_coupled_recurrences_advance_together(engine):
    """Point 2: G and H step together, one t at a time (each alone gives 0)."""
    src = "In = [1.0, 0.0, 0.0]\nH[0] = 0.0\nG[*t+1] = tanh(H[*t] + In[t])\nH[*t+1] = 0.5 * G[*t+1]\nH[0]?\n"
    h = 0.0
    for x in (1.0, 0.0, 0.0):
        h = 0.5 * math.tanh(h + x)
    assert value(run(src, engine), "H") == pytest.approx(h)
    assert h == pytest.approx(0.0899, abs=1e-4)


@pytest.mark.parametrize("engine", ENGINES)
def test_stacked_rnn_and_gru_as_separate_equations(engine):
    """Point 2: a two-layer RNN (layer 2 reads layer 1's current step) and a GRU cell written as
    separate equations, against numpy loops."""
    rng = np.random.default_rng(3)
    W1, W2, V1, V2 = (rng.normal(size=(2, 2)) * 0.7 for _ in range(4))
    Wz, Uz, Wh, Uh = (rng.normal(size=(2, 2)) * 0.7 for _ in range(4))
    U = rng.normal(size=(2, 4))
    src = (f"W1 = {W1.tolist()}\nW2 = {W2.tolist()}\nV1 = {V1.tolist()}\nV2 = {V2.tolist()}\nU = {U.tolist()}\n"
           f"Wz = {Wz.tolist()}\nUz = {Uz.tolist()}\nWh = {Wh.tolist()}\nUh = {Uh.tolist()}\n"
           "A[i, *t+1] = tanh(W1[i, j] A[j, *t] + V1[i, j] U[j, t])\n"
           "B[i, *t+1] = tanh(W2[i, j] B[j, *t] + V2[i, j] A[j, *t+1])\n"
           "Zg[i, *t+1] = sig(Wz[i, j] S[j, *t] + Uz[i, j] U[j, t])\n"
           "C[i, *t+1] = tanh(Wh[i, j] S[j, *t] + Uh[i, j] U[j, t])\n"
           "S[i, *t+1] = (1 - Zg[i, *t+1]) S[i, *t] + Zg[i, *t+1] C[i, *t+1]\n"
           "B?\nS?\n")
    a, b, s = np.zeros(2), np.zeros(2), np.zeros(2)
    for t in range(4):
        a = np.tanh(W1 @ a + V1 @ U[:, t])
        b = np.tanh(W2 @ b + V2 @ a)
        z = sig(Wz @ s + Uz @ U[:, t])
        c = np.tanh(Wh @ s + Uh @ U[:, t])
        s = (1 - z) * s + z * c
    r = run(src, engine)
    np.testing.assert_allclose(value(r, "B"), b, rtol=1e-10)
    np.testing.assert_allclose(value(r, "S"), s, rtol=1e-10)


# ----------------------------------------------------------------- 3. no false convergence

@pytest.mark.parametrize("engine", ENGINES)
def test_divergence_and_oscillation_are_reported(engine):
    """Point 3: NaN, inf and a period-2 oscillation are never a fixpoint: a warning names the
    tensor, the equation's location and the sweep; with strict, an error."""
    with pytest.warns(UserWarning, match=r"recursion over X diverged: X is inf after sweep 11 "
                                         r"\(equations at <input>:1:1, <input>:2:1\)"):
        r = run("X = 2.0\nX = X * X\nX?\n", engine)
    assert value(r, "X") == math.inf       # 2, 6, 38, ... 1.7e202, inf: the eleventh sweep
    with pytest.warns(UserWarning, match=r"recursion over Y oscillates.*period 2.*<input>:1:1"):
        run("Y = 1 - Y\nY?\n", engine)
    with pytest.warns(UserWarning, match=r"did not converge in 5 iterations"):
        run("Z = 0.5 Z + 1\nZ?\n", engine, max_iter=5)
    from tlang.source import TlangRuntimeError
    with pytest.raises(TlangRuntimeError) as err:
        run("X = 2.0\nX = X * X\nX?\n", engine, strict=True)
    assert "diverged" in err.value.render() and "<input>:" in err.value.render()


def test_tolerance_and_max_iter_on_the_command_line(tmp_path, capsys):
    """Point 3: --tol stops a slowly converging recursion early; --strict turns the report into
    an error (exit 1) and still prints the answers computed before it."""
    from tlang.cli import main
    f = tmp_path / "p.tl"
    f.write_text("A = [1, 2]\nA?\nZ = 0.5 Z + 1\nZ?\n")
    assert main(["run", str(f), "--tol", "0.01", "--json"]) == 0
    import json
    got = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert abs(got[1]["value"] - 2) < 0.05 and got[1]["value"] != 2.0   # stopped within the tolerance
    assert main(["run", str(f), "--max-iter", "3", "--strict"]) == 1
    out = capsys.readouterr()
    assert "A?" in out.out and "did not converge in 3 iterations" in out.err


# ------------------------------------------------------------------ 7. the virtual example index

@pytest.mark.parametrize("engine", ENGINES)
def test_mlp_with_a_virtual_example_index_sees_one_example_at_a_time(engine):
    """Point 7: every layer of X[*e, i, j] is computed from example e, and the loss over *e sums
    the squared errors of all examples and units."""
    rng = np.random.default_rng(5)
    W = rng.normal(size=(3, 2, 2))
    inp = np.array([[1.0, 0], [0, 1], [1, 1]])
    y = np.array([1.0, 0, 1])
    src = (f"In = {inp.tolist()}\nY = {y.tolist()}\nW = {W.tolist()}\nN = 2\n"
           "X[*e, 0, j] = In[e, j]\nX[*e, i, j] = sig(W[i, j, k] X[*e, i-1, k])\n"
           "Loss = (Y[e] - X[*e, N, j])^2\nLoss?\nX?\n")
    loss, last = 0.0, None
    for e in range(3):
        x = [inp[e]]
        for i in (1, 2):
            x.append(sig(W[i] @ x[-1]))
        loss += ((y[e] - x[2]) ** 2).sum()
        last = np.array(x)
    r = run(src, engine)
    assert value(r, "Loss") == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(value(r, "X"), last, rtol=1e-12)   # the buffer holds the last example


# ----------------------------------------------------------------------- 8. writes where the LHS says

@pytest.mark.parametrize("engine", ENGINES)
def test_literals_write_where_the_lhs_says(engine):
    """Point 8: V[3:6] = [..] writes positions 3..5; W[1] = [..] writes row 1; Y[i] = X[2:6] runs."""
    r = run("V[3:6] = [10, 20, 30]\nW[1] = [5, 6]\nX = [1, 2, 3, 4, 5, 6, 7]\nY[i] = X[2:6]\n"
            "M[0, j] = [1, 2]\nM[1, j] = [3, 4]\nV?\nW?\nY?\nM?\n", engine)
    np.testing.assert_allclose(value(r, "V"), [0, 0, 0, 10, 20, 30])
    np.testing.assert_allclose(value(r, "W"), [[0, 0], [5, 6]])
    np.testing.assert_allclose(value(r, "Y"), [3, 4, 5, 6])
    np.testing.assert_allclose(value(r, "M"), [[1, 2], [3, 4]])


def test_a_slice_that_does_not_fit_its_literal_is_a_located_error():
    from tlang.source import TlangShapeError
    with pytest.raises(TlangShapeError) as err:
        run("V[0:3] = [1, 2]\nV?\n")
    assert err.value.render().startswith("<input>:1:3: error: the slice 0:3 names 3 positions")


# ------------------------------------------------------------------ 6. blocks of different sizes

@pytest.mark.parametrize("engine", ENGINES)
def test_per_layer_weights_at_their_own_sizes(engine):
    """Point 6: a tensor written in blocks of different sizes; each axis is its largest block."""
    src = ("In = [1, 2]\nW1 = [[1, 0], [0, 1], [1, 1]]\nW2 = [[1, -1, 0.5]]\nX[0, j] = In[j]\n"
           "X[1, j] = W1[j, k] X[0, k]\nX[2, j] = W2[j, k] X[1, k]\nX?\n")
    np.testing.assert_allclose(value(run(src, engine), "X"), [[1, 2, 0], [1, 2, 3], [0.5, 0, 0]])


# ------------------------------------------------------------------------- 9. loops and files

@pytest.mark.parametrize("engine", ENGINES)
def test_a_loop_with_no_length_runs_to_its_fixpoint(engine):
    """Point 9: nothing fixes the length of t, so the loop runs until the buffer settles."""
    r = run("X[0] = 0.0\nX[*t+1] = 0.5 X[*t] + 1\nX?\n", engine)
    assert value(r, "X") == pytest.approx(2.0, abs=1e-8)


def test_an_ordinary_recurrence_with_no_length_is_an_error():
    """Point 9: X[i, t+1] with only the constant X[0, 0] bounding t would run no step: an error."""
    from tlang.source import TlangShapeError
    with pytest.raises(TlangShapeError) as err:
        run("X[0, 0] = 1.0\nX[i, t+1] = 0.5 X[i, t]\nX?\n")
    text = err.value.render()
    assert text.startswith("<input>:2:6: error: nothing fixes the length of index 't'")
    assert "index t : 10" in text
    r = run("index t : 3\nX[0, 0] = 1.0\nX[i, t+1] = 0.5 X[i, t]\nX?\n")
    np.testing.assert_allclose(value(r, "X"), [[1, 0.5, 0.25]])   # t runs over X's 3 columns


def test_a_program_reads_the_file_it_wrote(tmp_path):
    """Point 9: reads and writes in statement order."""
    f = tmp_path / "p.tl"
    f.write_text('W = [[1, 2], [3, 4]]\n"w.csv" = W\nV[j, k] = "w.csv"\nV?\n')
    (tmp_path / "w.csv").write_text("9,9\n9,9\n")      # an older file: not what the program reads
    r = api.run(f)
    np.testing.assert_allclose(value(r, "V"), [[1, 2], [3, 4]])


# ----------------------------------------------------------------- 10. names that do not exist

@pytest.mark.parametrize("src, where, message", [
    ("X = [1, 2, 3]\nY = X[L]\nY?\n", "2:7", "'L' is not defined"),
    ("Parent(Alice, Bob)\nE[x, d] = Parent(x, y) 1.0\nR[d] = E[Alise, d]\nR?\n", "3:10", "did you mean 'Alice'?"),
    ("S(1)\nR(x, y) <- S(x)\nR?\n", "2:6", "variable 'y' in the head of this rule is not bound"),
    ("domain D = {Alice, Bob}\ntensor P(D, D)\nP(Alice, Carol)\n", "3:10", "'Carol' is not a constant of domain D"),
    ("W = 1.0\nW? @minimise(lr=0.1)\n", "2:4", "did you mean '@minimize'?"),
    ("W = 1.0\nW? @minimize(epoch=5)\n", "2:14", "did you mean 'epochs'?"),
    ("W = 1.0\n@sample(n=3)\n", "2:1", "@sample"),
])
def test_names_that_do_not_exist_are_located_errors(tmp_path, capsys, src, where, message):
    """Point 10: from check and from run, located, with a suggestion where one is close."""
    from tlang.cli import main
    f = tmp_path / "p.tl"
    f.write_text(src)
    for command in ("check", "run"):
        assert main([command, str(f)]) == 1
        err = capsys.readouterr().err
        assert f"p.tl:{where}: error:" in err and message in err and "Traceback" not in err


@pytest.mark.parametrize("engine", ENGINES)
def test_a_nan_answer_names_where_it_came_from(engine):
    """Point 3 (never a silent wrong answer): 0/0 is not a value; the answer says where it began."""
    with pytest.warns(UserWarning, match=r"the answer to C contains NaN .*first appears in 'B' at <input>:2:1"):
        r = run("A = [0, 1]\nB[i] = A[i] / A[i]\nC = B[i]\nC?\n", engine)
    assert math.isnan(value(r, "C"))
