"""Generated code: what ``--emit python`` prints is what runs; sanitised names; jit once; gradients.

Covers ``tlang compile FILE --backend NAME --emit python``, the shape of the generated code per
backend (loops vs ``lax.scan``/``rt.fixpoint``), identifiers that are not Python names,
``compile_function`` (inputs, defaults, errors, jit caching, use inside ``jax.jit`` and
``jax.grad``, gradients through ``lax.scan`` and through a fixpoint), the dtype policy and the
convergence warning of generated fixpoints.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from tlang import codegen, engine
from tlang.build import build
from tlang.parse import parse
from tlang.pipeline import compile_program
from tlang.source import TlangError, TlangShapeError

jax = pytest.importorskip("jax")
jnp = jax.numpy

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MLP = """
X = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.5], [0.0, 1.0, 1.0], [-1.0, 0.5, 0.5]]
T = [1.0, 0.0, 2.0, -1.0]
W1 = [[0.1, 0.2, -0.3], [0.4, -0.5, 0.6]]
B1 = [0.05, -0.05]
W2 = [1.0, -2.0]
H[e, h] = relu(W1[h, j] X[e, j] + B1[h])
Y[e] = W2[h] H[e, h]
Loss = (Y[e] - T[e])^2
"""


def ir_of(src: str):
    return build(parse(src))


@pytest.fixture(scope="module")
def mlp():
    return codegen.compile_function(ir_of(MLP), "jax")


# ---------------------------------------------------------------- emission

def test_cli_emit_python_is_the_code_that_runs() -> None:
    path = EXAMPLES / "rnn.tl"
    out = subprocess.run([sys.executable, "-m", "tlang", "compile", str(path), "--backend", "jax",
                          "--emit", "python"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    prog = compile_program(path).ir
    compiled = codegen.CompiledProgram(prog, "jax")
    assert out.stdout == compiled.source
    assert "lax.scan(" in out.stdout and "def tl_program(W, V, U, data):" in out.stdout
    ns: dict = {}
    exec(compile(out.stdout, "<printed>", "exec"), ns)   # the printed code runs by itself
    tensors, _ = ns["tl_program"](*(prog.data[compiled.generated.defaults[t]] for t in compiled.inputs), {})
    assert np.allclose(tensors["X"], [0.2770, 0.6063], atol=1e-4)


@pytest.mark.parametrize("backend, marks, absent", [
    ("numpy", ["import numpy as xp", "for _k", "in range(3):", "rt.fixpoint("], ["lax"]),
    ("cupy", ["import cupy as xp", "for _k"], ["lax"]),
    ("jax", ["import jax.numpy as xp", "lax.scan(", "rt.fixpoint("], ["for _k"]),
])
def test_generated_code_per_backend(backend: str, marks: list[str], absent: list[str]) -> None:
    src = "".join(codegen.emit_python(compile_program(EXAMPLES / f).ir, backend) for f in ("rnn.tl", "family.tl"))
    for m in marks:
        assert m in src, m
    for m in absent:
        assert m not in src, m
    for chunk in src.split('"""tlang generated')[1:]:
        ast.parse('"""tlang generated' + chunk)


def test_explicit_einsum_specs_and_paths() -> None:
    """A many-operand Contract (as rewrites make them) becomes one einsum with its path."""
    from tlang import ir
    prog = ir_of("A = [[1, 2], [3, 4]]\nB = [[1, 1], [2, 2]]\nC = [[1, 0], [0, 1]]\nY = A[i, j] B[j, k]\n")
    i, j, k = ir.ivar("i"), ir.ivar("j"), ir.ivar("k")
    chain = ir.Contract((ir.Ref("A", (i, j)), ir.Ref("B", (j, k)), ir.Ref("C", (k, i))), ())
    prog.equations = tuple(ir.Equation("Y", (), "=", chain) if e.lhs == "Y" else e for e in prog.equations)
    prog.var_extents.update({(len(prog.equations) - 1, "k"): 2, (len(prog.equations) - 1, "i"): 2})
    src = codegen.emit_python(prog, "numpy")
    assert "rt.einsum('ab,bc,ca->', A, B, C, path=[(" in src
    assert codegen.run_generated(prog, "numpy").tensors["Y"] == engine.evaluate(prog).tensors["Y"] == 16.0


def test_names_that_are_not_python_identifiers() -> None:
    src = ("None = [1, 2]\nTrue[i] = None[i] * 2\nA' = [3, 4]\nA_p[i] = A'[i] + True[i]\n"
           "Xp[i] = A_p[i] - A'[i]\nRt = 2.0\nData[i] = Rt * Xp[i]\nData?\n")
    prog = ir_of(src)
    code = codegen.emit_python(prog, "numpy")
    ast.parse(code)
    assert "None_ = xp.asarray(None_" in code and "'True': True_" in code
    assert "\"A'\": A_p, 'A_p': A_p_," in code       # distinct names for A' and A_p
    want = engine.evaluate(prog)
    got = codegen.run_generated(prog, "numpy")
    for name, w in want.tensors.items():
        assert np.array_equal(got.tensors[name], w), name
    assert got.answers[0].value.tolist() == [4.0, 8.0]


def test_identifiers_and_comments_are_sanitised() -> None:
    used: set[str] = set()
    names = [codegen._identifier(n, used) for n in ("X", "X", "lambda", "xp", "1a", "_h", "Ü'", "print")]
    assert all(n.isidentifier() for n in names) and len(set(names)) == len(names)
    assert names[:3] == ["X", "X_", "lambda_"]
    assert codegen._safe('a"""\nimport os') == "a????import os"


def test_formal_einsum_nodes_and_folded_constants() -> None:
    """An ``Einsum`` node lowers like the engine's; ``randunit`` of index values is computed
    once at generation time and passed in as data; of a tensor it is a clear error."""
    from tlang import ir
    prog = ir_of("A = [[1, 2], [3, 4]]\nB = A[i, j]\nindex d : 3\nR[x, d] = randunit(x, d, 1) A[x, 0]\n")
    i, j = ir.ivar("i"), ir.ivar("j")
    formal = ir.Einsum(("ij", "j"), "i", (ir.Ref("A", (i, j)), ir.Ref("A", (ir.iconst(0), j))))
    prog.equations = tuple(ir.Equation("B", (), "=", ir.Contract((formal,), ())) if e.lhs == "B" else e
                           for e in prog.equations)
    src = codegen.emit_python(prog, "jax")
    assert "data['codegen:const0']" in src and "randunit" not in src.split("def tl_program")[1].replace(
        "# R[x, d] = randunit(x, d, 1)", "")
    want = engine.evaluate(prog).tensors
    for backend in ("numpy", "jax"):
        got = codegen.run_generated(prog, backend, x64=True).tensors
        assert got["B"] == want["B"] == 1 * 1 + 2 * 2 + 3 * 1 + 4 * 2
        assert np.allclose(got["R"], want["R"]) and np.abs(want["R"]).sum() > 0
    bad = next(e for e in prog.equations if e.lhs == "R")
    dynamic = ir.Map("randunit", (ir.Ref("A", (ir.ivar("x"), ir.iconst(0))), ir.IndexValue("d"), ir.Const(1.0)))
    prog.equations = tuple(ir.Equation("R", bad.indices, "=", dynamic) if e is bad else e for e in prog.equations)
    with pytest.raises(TlangError, match="no implementation of 'randunit' in generated code"):
        codegen.generate(prog, "numpy")


# -------------------------------------------------------- compile_function

def test_inputs_defaults_and_errors(mlp) -> None:
    assert mlp.inputs == ("X", "T", "W1", "B1", "W2")
    out = mlp()
    assert set(out) == {"X", "T", "W1", "B1", "W2", "H", "Y", "Loss"}
    zero = mlp(W2=np.zeros(2))
    assert float(zero["Loss"]) == pytest.approx(6.0)     # sum of T^2
    with pytest.raises(TlangError, match="'H' is not an input tensor"):
        mlp(H=np.zeros((4, 2)))
    with pytest.raises(TlangShapeError, match=r"input 'W2' has shape \[3\], but the program was built for \[2\]"):
        mlp(W2=np.zeros(3))


def test_jitted_once_per_program_and_shapes(mlp) -> None:
    again = codegen.compile_function(ir_of(MLP), "jax")
    assert again.function is mlp.function
    mlp(W2=np.ones(2))
    mlp(W2=np.full(2, 3.0))
    assert mlp.function._cache_size() == 1


def test_grad_matches_hand_written_jax(mlp) -> None:
    x = jnp.asarray([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5], [0.0, 1.0, 1.0], [-1.0, 0.5, 0.5]])
    t = jnp.asarray([1.0, 0.0, 2.0, -1.0])
    w1 = jnp.asarray([[0.1, 0.2, -0.3], [0.4, -0.5, 0.6]])
    b1 = jnp.asarray([0.05, -0.05])
    w2 = jnp.asarray([1.0, -2.0])

    def by_hand(w1, w2):
        return jnp.sum((jax.nn.relu(x @ w1.T + b1) @ w2 - t) ** 2)

    def tl(w1, w2):
        return mlp(W1=w1, W2=w2)["Loss"]

    want = jax.grad(by_hand, argnums=(0, 1))(w1, w2)
    got = jax.jit(jax.grad(tl, argnums=(0, 1)))(w1, w2)   # inside the user's jit too
    for g, w in zip(got, want):
        assert np.allclose(g, w, rtol=1e-5, atol=1e-6)
    assert float(tl(w1, w2)) == pytest.approx(float(by_hand(w1, w2)), rel=1e-6)


def _finite_difference(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    out = np.zeros(x.shape)
    for idx in np.ndindex(*x.shape):
        d = np.zeros(x.shape)
        d[idx] = eps
        out[idx] = (float(f(x + d)) - float(f(x - d))) / (2 * eps)
    return out


@pytest.mark.parametrize("example, param, target", [("rnn", "W", "X"), ("gnn", "WP", "YE")])
def test_grad_through_scan_and_fixpoint(example: str, param: str, target: str) -> None:
    """``lax.scan`` (a virtual index) and ``rt.fixpoint`` (the GNN's layer recursion, a
    while-loop with an implicit-function gradient) against finite differences, in float64."""
    prog = compile_program(EXAMPLES / f"{example}.tl").ir
    f = codegen.compile_function(prog, "jax", x64=True)
    x0 = np.asarray(prog.data[f.generated.defaults[param]], dtype=float)
    with jax.enable_x64(True):
        weights = jnp.asarray(np.linspace(-1, 1, int(np.prod(prog.tensors[target].stored_shape)))
                              .reshape(prog.tensors[target].stored_shape))

        @jax.jit
        def loss(p):
            return jnp.sum(f(**{param: p})[target] * weights)

        grad = np.asarray(jax.grad(loss)(jnp.asarray(x0)))
        fd = _finite_difference(loss, x0)
    assert np.abs(fd).max() > 1e-3
    assert np.allclose(grad, fd, rtol=1e-5, atol=1e-7)


def test_dtype_policy(monkeypatch) -> None:
    prog = ir_of("A = [0.1, 0.2]\nB[i] = A[i] * 3\n")
    assert codegen.compile_function(prog, "jax")()["B"].dtype == jnp.float32
    assert codegen.compile_function(prog, "jax", x64=True)()["B"].dtype == jnp.float64
    monkeypatch.setenv("TLANG_X64", "1")
    assert codegen.x64_requested() and codegen.compile_function(prog, "jax")()["B"].dtype == jnp.float64
    monkeypatch.setenv("TLANG_X64", "0")
    assert not codegen.x64_requested(None)
    res = codegen.run_generated(prog, "jax", x64=True)
    assert res.tensors["B"].tolist() == [0.1 * 3, 0.2 * 3]        # float64 all the way
    assert codegen.compile_function(prog, "numpy")()["B"].dtype == np.float64


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_unconverged_fixpoint_warns(backend: str) -> None:
    prog = ir_of("M = [[0, 1], [1, 0]]\nB = [1, 2]\nX[i] = X[j] M[j, i] + B[i]\n")
    with pytest.warns(engine.ConvergenceWarning, match=r"recursion over X did not converge in 5 iterations"):
        codegen.run_generated(prog, backend, engine.Options(max_iter=5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ok = codegen.run_generated(ir_of("M = [[0, 0.5], [0.5, 0]]\nB = [1, 1]\nX[i] = X[j] M[j, i] + B[i]\n"),
                                   backend, engine.Options(max_iter=200))
    assert np.allclose(ok.tensors["X"], [2, 2], atol=1e-5)


def test_defaults_first_used_inside_a_trace() -> None:
    """Regression: default arrays made while tracing a caller's jit were cached as tracers."""
    prog = build(parse("Dk = 4.0\nLoss = W[i, j] X[b, j] / Dk\n"),
                 inputs={"X": np.ones((2, 3)), "W": np.ones((3, 3))})
    f = codegen.compile_function(prog, "jax", outputs=("Loss",))
    x, w = jnp.ones((2, 3)), jnp.ones((3, 3))
    assert float(jax.jit(lambda x, w: f(X=x, W=w)["Loss"])(x, w)) == pytest.approx(4.5)
    grad = jax.jit(jax.grad(lambda x, w: f(X=x, W=w)["Loss"], argnums=1))
    for _ in range(2):
        assert np.allclose(grad(x, w), 0.5)
    assert set(f()) == {"Loss"}
