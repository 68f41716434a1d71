"""The gradient of a program as a tensor-logic program (tlang.grad).

The printed gradient program parses, formats back to itself and runs; its
gradients (tlang's numpy reverse mode) agree with central finite differences
and with JAX autodiff of the generated program, on hand-written programs for
each construct and on random programs (hypothesis).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tlang import api
from tlang.cli import main
from tlang.fmt import format_program
from tlang.grad import GradError, gradient_program, learnables
from tlang.learn import grad_source
from tlang.learn_runtime import TLGradient, init_params, program_with
from tlang.parse import parse
from tlang.pipeline import compile_program
from tlang.source import Source, TlangError

try:
    import jax
    import jax.numpy as jnp

    from tlang.codegen import compile_function
    HAVE_JAX = True
except ImportError:  # pragma: no cover - jax is an optional extra
    HAVE_JAX = False
needs_jax = pytest.mark.skipif(not HAVE_JAX, reason="jax not installed")

HEAD = "Loss? @minimize\n"

PROGRAMS = {
    "linear": """
X = [[0, 1], [1, 0], [1, 1], [2, 1]]
Y = [1, 2, 3, 4]
P[e] = W[j] X[e, j] + B
Loss = (Y[e] - P[e])^2
""",
    "mlp": """
X = [[0.1, 0.5, -0.3], [1.0, -1.0, 0.2], [0.3, 0.3, 0.9], [-0.5, 0.2, 0.1]]
Y = [1, 0, 1, 0]
tensor W1[2, 3]
H[e, h] = tanh(W1[h, j] X[e, j] + B1[h])
G[e, h] = relu(W2[h, k] H[e, k]) + sig(H[e, h])
P[e] = sig(W3[h] G[e, h] + B3)
Loss avg= -(Y[e] log(P[e]) + (1 - Y[e]) log(1 - P[e]))
""",
    "softmax": """
X = [[0.1, 0.5, -0.3], [1.0, -1.0, 0.2]]
T = [[1, 0], [0, 1]]
tensor W[2, 3]
Z[e, c.] = softmax(W[c, j] X[e, j])
Loss = -(T[e, c] log(Z[e, c]))
""",
    "elementwise": """
X = [0.5, 1.5, 2.0]
tensor V[3]
A[i] = sqrt(exp(W[i] X[i]) + 1) / 3 + abs(V[i] - 0.2)^3
B[i] = max(W[i], V[i]) - min(W[i] X[i], 0.1) + sin(W[i]) cos(V[i])
C[i] = W[i] / (V[i] X[i] + 4)
Loss = A[i] + B[i] B[i] + C[i]^2
""",
    "diagonal_and_shift": """
X = [1.0, 2.0, 3.0, 4.0, 5.0]
tensor W[3, 3]
tensor F[2]
D[i] = W[i, i] + W[i, 0]
S[x] = F[dx] X[x+dx]
Loss = D[i] D[i] + S[x] S[x] + (S[x] - S[x+1])^2
""",
    "pooling": """
Img = [[1, 2, 0, 1], [0, 1, 3, 1], [2, 2, 1, 0], [1, 0, 0, 2]]
tensor K[2, 2]
Feat[x, y] = relu(K[dx, dy] Img[x+dx, y+dy] + 0.1)
PS[x/2, y/2] = Feat[x, y]
PM[x/2, y/2] max= Feat[x, y] + 0.01 x
PA[x] avg= Feat[x, y]
PV[x/2, y/2] avg= Feat[x, y]
Loss = PS[a, b] PS[a, b] + PM[a, b] + PA[x] PA[x] + PV[a, b]^3
""",
    "lnorm": """
X = [[0.1, 0.5, -0.3], [1.0, -1.0, 0.2]]
V = [1, 2, 3]
tensor W[3, 3]
Z[e, j.] = lnorm(W[j, k] X[e, k])
Loss = Z[e, j] Z[e, j] V[j]
""",
    "kernel": """
X = [[1, 1], [2, 2], [-1, -1], [-2, -1]]
Y = [1, 1, -1, -1]
Var = 2.0
K[i, i'] = exp(-(X[i, j] - X[i', j])^2 / Var)
Q[i] = (X[i, j] X[k, j])^2 A[k]
P[q] = sig(A[i] Y[i] K[q, i] + B)
Loss = (P[q] - (Y[q] + 1) / 2)^2 + Q[i]
""",
    "embedding_constants": """
domain Obj = {Alice, Bob, Carol}
tensor E[3, 2]
R(Alice, Bob)
R(Bob, Carol)
S[x, y] = sig(E[x, d] Rel[d] E[y, d])
Loss = (R(x, y) - S[x, y])^2 + E[Alice, d] E[Alice, d]
""",
    "tucker": """
A(0, 1, 1)
A(1, 0, 1)
A(1, 1, 0)
tensor A(2, 2, 2)
tensor Mw[2, 2]
tensor N[2, 2]
tensor O[2, 2]
tensor C[2, 2, 2]
M[i, p] = sig(Mw[i, p])
R[i, j, k] = M[i, p] N[j, q] O[k, r] C[p, q, r]
Loss = (A[i, j, k] - R[i, j, k])^2
""",
    "recursive_layers": """
A = [[0, 1, 0], [1, 0, 1], [0, 1, 0]]
X = [[1, 0], [0.5, 1], [0, 1]]
tensor H[3, 3, 2]
tensor W[2, 2]
H[n, 0, d] = X[n, d]
H[n, l+1, d] = tanh(W[d, e] A[n, m] H[m, l, e])
Loss = H[n, 2, d] H[n, 2, d]
""",
    "rnn": """
V = [[1, 0], [0, 1]]
U = [[1, 0, -1], [0, 1, 0]]
X[0, 0] = 1.0
X[1, 0] = 0.0
X[i, *t+1] = sig(W[i, j] X[j, *t] + V[i, j] U[j, t])
Loss = X[i, 0] X[i, 0]
""",
}


def setup(src: str, loss: str = "Loss", seed: int = 1):
    """(compiled, learnables, parameters): start values moved off zero so no gradient is trivial."""
    c = compile_program(src, allow_undefined=True)
    wrt = learnables(c.ir, loss)
    rng = np.random.default_rng(seed)
    params = {k: np.asarray(v + 0.3 * rng.normal(size=np.shape(v)), dtype=float)
              for k, v in init_params(c.ir, wrt, seed=seed).items()}
    return c, wrt, params


def numeric(c, loss: str, params: dict, eps: float = 1e-6) -> dict[str, np.ndarray]:
    """Central finite differences of sum(loss) on the numpy engine."""
    prog = program_with(c, params, loss)

    def f(p):
        for w, v in p.items():
            prog.data[f"input:{w}"] = v
        return float(np.sum(api.evaluate(prog).tensors[loss]))
    out = {}
    for w, v in params.items():
        g = np.zeros_like(v)
        for idx in np.ndindex(v.shape):
            up, down = dict(params), dict(params)
            up[w], down[w] = v.copy(), v.copy()
            up[w][idx] += eps
            down[w][idx] -= eps
            g[idx] = (f(up) - f(down)) / (2 * eps)
        out[w] = g
    return out


def jax_grad(c, loss: str, params: dict, jit: bool = False) -> dict[str, np.ndarray]:
    prog = program_with(c, params, loss)
    with jax.enable_x64(True):
        f = compile_function(prog, backend="jax", x64=True, jit=jit)
        g = jax.grad(lambda p: jnp.sum(f(**p)[loss]))({k: jnp.asarray(v) for k, v in params.items()})
    return {k: np.asarray(v) for k, v in g.items()}


def close(a: dict, b: dict, rtol: float, atol: float) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=atol, err_msg=k)


# ----------------------------------------------------------- per construct

@pytest.mark.parametrize("name", PROGRAMS)
def test_tl_gradient_matches_finite_differences(name):
    c, wrt, params = setup(PROGRAMS[name] + HEAD)
    value, grads = TLGradient(c, "Loss", wrt, {})(params)
    assert value == pytest.approx(float(np.sum(api.evaluate(program_with(c, params, "Loss"))["Loss"])))
    close(grads, numeric(c, "Loss", params), rtol=1e-5, atol=1e-6)


@needs_jax
@pytest.mark.parametrize("name", ["mlp", "softmax", "elementwise", "lnorm", "rnn"])
def test_tl_gradient_matches_jax_autodiff(name):
    c, wrt, params = setup(PROGRAMS[name] + HEAD)
    close(TLGradient(c, "Loss", wrt, {})(params)[1], jax_grad(c, "Loss", params), rtol=1e-9, atol=1e-12)


# ------------------------------------------------------- the printed program

def test_the_gradient_is_a_tensor_logic_program():
    c = compile_program(PROGRAMS["linear"] + HEAD)
    gp = gradient_program(c.ir, "Loss")
    text = gp.source()
    # the paper's rule: the derivative w.r.t. one operand of a join is the join of the others
    assert "dW[j] = dP[e] X[e, j]" in text
    assert "dB = dP[e]" in text
    prog = parse(Source("grad", text))
    assert format_program(prog) == "".join(ln + "\n" for ln in text.splitlines() if not ln.startswith("#"))
    assert gp.grads == {"W": "dW", "B": "dB"}


def test_nonlinearities_use_named_intermediates():
    text = gradient_program(compile_program(PROGRAMS["mlp"] + HEAD).ir, "Loss").source()
    assert "* (1 - H[e, h]^2)" in text          # tanh' from the layer's own result
    assert "step(P[e]" not in text and "P[e] * (1 - P[e])" in text   # sig' = P (1 - P)


def test_full_program_runs_and_gives_the_gradient():
    src = PROGRAMS["mlp"] + "Loss? @minimize(seed=4)\n"
    text = grad_source(src, full=True)
    res = api.run(text)
    c = compile_program(src)
    wrt = learnables(c.ir, "Loss")
    start = init_params(c.ir, wrt, seed=4)
    _, grads = TLGradient(c, "Loss", wrt, {})(start)
    answers = {a.query: np.asarray(a.value) for a in res.answers}
    for w in wrt:
        np.testing.assert_allclose(answers["d" + w], grads[w], rtol=1e-12, atol=1e-14)


def test_cli_grad(tmp_path, capsys):
    path = tmp_path / "lin.tl"
    path.write_text(PROGRAMS["linear"] + HEAD)
    assert main(["grad", str(path)]) == 0
    out = capsys.readouterr().out
    assert "dW[j] = dP[e] X[e, j]" in out and "dW?" in out
    assert main(["grad", str(path), "--wrt", "B"]) == 0
    out = capsys.readouterr().out
    assert "dB = dP[e]" in out and "dW" not in out.replace("dW?", "")
    assert main(["grad", str(path), "--full"]) == 0
    full = capsys.readouterr().out
    assert "W = [" in full and api.run(full).answers[0].query == "dW"


def test_bptt_unrolls_the_virtual_loop():
    text = gradient_program(compile_program(PROGRAMS["rnn"] + HEAD).ir, "Loss").source()
    assert "X_o[i, t] = sig(W[i, j] X_s[j, t] + V[i, j_1] U[j_1, t])" in text
    assert "X_s[i, t+1] = X_o[i, t]" in text
    assert "dX_o[i, 2] = dX[i]" in text                 # the last step gets the final state's adjoint
    assert "dX_s[j, t] = dX_o_1[i, t] W[i, j]" in text  # and the backward recursion over t


def test_step_and_comparisons_have_zero_gradient():
    src = "X = [1.0, 2.0]\nY[i] = step(W[i] X[i]) + (W[i] > 0)\nLoss = Y[i]\n" + HEAD
    c, wrt, params = setup(src)
    text = gradient_program(c.ir, "Loss").source()
    assert "dW[_a0] = 0.0" in text
    assert not TLGradient(c, "Loss", wrt, {})(params)[1]["W"].any()


def test_concat_has_no_tensor_logic_gradient():
    src = "X = [[1.0, 2.0], [3.0, 4.0]]\nY[m] = concat(W[h, d] X[h, d])\nLoss = Y[m] Y[m]\n" + HEAD
    with pytest.raises(GradError) as err:
        gradient_program(compile_program(src).ir, "Loss")
    assert "concat" in err.value.render() and ":2:" in err.value.render()


def test_boolean_loss_is_refused():
    src = "R(0, 1)\nS(x, y) <- R(x, y)\nS(x, y)? @minimize\n"
    with pytest.raises(TlangError, match="Boolean"):
        gradient_program(compile_program(src).ir, "S")


# ------------------------------------------------------- random programs

INDEX = {"i": 2, "j": 3, "j2": 3, "k": 2}
ATOMS = [("X[i, j]", "ij"), ("X[i, j+1]", "ij"), ("Z[k]", "k"), ("W[j, k]", "jk"), ("U[i, k]", "ik"),
         ("V[k]", "k"), ("S[j, j]", "j"), ("S[j, j2]", "j"), ("B", ""), ("0.5", "")]
UNARY = ["sig({})", "tanh({})", "exp(-({})^2)", "({})^2", "({}) / 3", "log(1 + ({})^2)", "sqrt(1 + ({})^2)",
         "relu({})", "-({})"]


@st.composite
def expressions(draw, depth: int, extra: list[tuple[str, str]]):
    atoms = ATOMS + extra
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(atoms))[0]
    kind = draw(st.sampled_from(["join", "join", "sum", "unary"]))
    if kind == "join":
        parts = [draw(expressions(depth - 1, extra)) for _ in range(draw(st.integers(2, 3)))]
        return " * ".join(f"({p})" if any(op in p for op in " +-/^") else p for p in parts)
    if kind == "sum":
        a, b = draw(expressions(depth - 1, extra)), draw(expressions(depth - 1, extra))
        return f"({a}) {draw(st.sampled_from(['+', '-']))} ({b})"
    return draw(st.sampled_from(UNARY)).format(draw(expressions(depth - 1, extra)))


@st.composite
def programs(draw, depth: int = 3) -> str:
    lines = ["index i : 2", "index j, j2 : 3", "index k : 2", "tensor W[3, 2]", "tensor U[2, 2]",
             "tensor V[2]", "tensor S[3, 3]", "X = [[0.3, -0.2, 0.5], [0.1, 0.4, -0.6]]", "Z = [0.7, -0.4]"]
    extra: list[tuple[str, str]] = []
    for n in (1, 2):
        sig = "".join(sorted(draw(st.sets(st.sampled_from("ijk"), max_size=2))))
        lhs = f"H{n}[{', '.join(sig)}]" if sig else f"H{n}"
        if sig:
            lines.append(f"tensor H{n}[{', '.join(str(INDEX[v]) for v in sig)}]")
        body = draw(expressions(depth, extra))
        if n == 1:  # something to learn
            body = f"{draw(st.sampled_from(['W[j, k]', 'U[i, k]', 'V[k]', 'S[j, j2]', 'B']))} * ({body})"
        else:  # the loss depends on H1
            body = f"{extra[0][0]} * ({body})"
        lines.append(f"{lhs} = {body}")
        extra.append((lhs, sig))
    last = extra[-1][0]
    lines.append(f"Loss = {last} {last}" if "[" in last else f"Loss = {last}^2")
    return "\n".join(lines) + "\n" + HEAD


def _random_case(src: str):
    try:
        c, wrt, params = setup(src)
    except TlangError:
        assume(False)
    assume(wrt)
    value, grads = TLGradient(c, "Loss", wrt, {})(params)
    assume(np.isfinite(value) and abs(value) < 1e6)
    return c, params, grads


_RANDOM = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.filter_too_much])


@settings(max_examples=25, **_RANDOM)
@given(programs())
def test_random_programs_agree_with_finite_differences(src):
    c, params, grads = _random_case(src)
    close(grads, numeric(c, "Loss", params), rtol=1e-4, atol=1e-5)


@needs_jax
@settings(max_examples=4, **_RANDOM)
@given(programs(depth=2))
def test_random_programs_agree_with_jax_autodiff(src):
    c, params, grads = _random_case(src)
    close(grads, jax_grad(c, "Loss", params), rtol=1e-7, atol=1e-9)
