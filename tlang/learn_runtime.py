"""Training machinery: programs to train, start values, optimisers, loss-and-gradient evaluators.

In: a compiled program (``pipeline.Compiled``), the loss tensor and the
tensors to learn.  Out:

- ``program_with(compiled, values, ...)``: the program rebuilt with some
  tensors given as data (the learned values, for the queries after
  training), optionally pruned to what the loss needs and extended with more
  statements (the gradient program);
- ``init_params``: seeded, reproducible start values (see ``docs/learning.md``);
- ``OPTIMIZERS``: ``sgd`` (with optional momentum) and ``adam``, written
  with array arithmetic only so that numpy and jax.numpy arrays both work;
- evaluators ``params -> (loss, grads)``: ``TLGradient`` -- the forward
  program plus its gradient program (``tlang.grad``) run by the numpy engine,
  tlang's own reverse mode -- and ``JaxGradient`` -- the program compiled to
  JAX (``tlang.codegen``) under ``jax.value_and_grad``.
"""

from __future__ import annotations

import contextlib
import math
import warnings
import zlib
from typing import Any

import numpy as np

from . import ast as A
from . import ir
from .build import build
from .directives import INIT_NAMES
from .engine import ConvergenceWarning, Engine, Options
from .grad import GradProgram, dependencies, gradient_program

# ------------------------------------------------------------- programs


_defines = A.defined_name


def _has_symbols(st: A.Stmt) -> bool:
    return any(isinstance(n, A.IConst) and isinstance(n.value, str) for n in A.walk(st))


def source_ir(compiled) -> ir.ProgramIR:
    """The IR as built from the source, before the rewrite pass (whose new tensors, such as
    ``_cse1``, have no source form): gradients and rebuilt programs start from it."""
    stages = getattr(compiled, "stages", None) or {}
    built = stages.get("build")
    return built if isinstance(built, ir.ProgramIR) else compiled.ir


def given_inputs(prog: ir.ProgramIR) -> dict[str, Any]:
    """The arrays a program was built with as ``inputs=`` (by tensor name)."""
    return {k[len("input:"):]: v for k, v in prog.data.items() if isinstance(k, str) and k.startswith("input:")}


def marks(program: A.Program) -> dict[str, str]:
    """``const``/``learn`` declarations: tensor -> 'const' | 'learn'."""
    return {n: st.kind for st in program.statements if isinstance(st, A.MarkDecl) for n in st.names}


def program_with(compiled, values: dict[str, Any], loss: str | None = None,
                 extra: tuple[A.Stmt, ...] = (), queries: bool = True) -> ir.ProgramIR:
    """``compiled``'s program with ``values`` given as data (replacing any data they had).

    With ``loss``, only what the loss needs is kept (equations without symbolic
    constants that the loss does not read are dropped; queries too) and the
    computed tensors it needs are declared with their shapes, so that ``extra``
    statements (a gradient program) can be added safely.
    """
    prog: ir.ProgramIR = source_ir(compiled)
    keep = dependencies(prog, loss) if loss is not None else None
    stmts: list[A.Stmt] = []
    for st in compiled.expanded.statements:
        if isinstance(st, A.Store | A.DirectiveStmt) or (isinstance(st, A.Query) and (loss or not queries)):
            continue
        name = _defines(st)
        if name is not None and name in values:
            continue
        if keep is not None and isinstance(st, A.Equation | A.Rule) and name not in keep \
                and not _has_symbols(st) and not isinstance(st.rhs if isinstance(st, A.Equation) else None,
                                                            A.ListLit | A.Num):  # data, and S = 2 in x/S
            continue
        stmts.append(st)
    decls: list[A.Stmt] = []
    if keep is not None:
        computed = {eq.lhs for eq in prog.equations if eq.kind in ("equation", "rule")}
        for name in sorted(keep & computed):
            info = prog.tensors[name]
            if info.virtual_axis is None and info.shape:
                decls.append(A.TensorDecl(name, tuple(info.shape), boolean=info.boolean))
    inputs = {**given_inputs(prog), **{k: np.asarray(v, dtype=float) for k, v in values.items()}}
    return build(A.Program(tuple(decls + stmts + list(extra))), compiled.base_dir, inputs,
                 allow_undefined=True)


# ------------------------------------------------------------- start values

def _find(e: ir.Expr, name: str, parent: ir.Expr | None = None):
    if isinstance(e, ir.Ref):
        return (e, parent) if e.tensor == name else None
    kids = ir.children(e)
    for k in kids:
        got = _find(k, name, e)
        if got:
            return got
    return None


def fan_in(prog: ir.ProgramIR, name: str) -> tuple[int, bool]:
    """(fan-in, is a bias) of a tensor from its first use: the fan-in is the product of the
    extents of its indices that the equation sums out; a bias is used as a term of a sum and
    sums out nothing."""
    for k, eq in enumerate(prog.equations):
        got = _find(eq.rhs, name)
        if got is None:
            continue
        ref, parent = got
        keep = {v for ix in eq.indices for v in ix.vars}
        if eq.virtual is not None:
            keep.add(eq.virtual[0])
        agg = {v for ix in ref.indices for v in ix.vars} - keep
        n = math.prod(prog.var_extents.get((k, v), 1) for v in agg)
        bias = not agg and isinstance(parent, ir.Map) and parent.fn in ("add", "sub")
        return max(n, 1), bias
    return 1, False


INITS = INIT_NAMES  # the init= choices of the training directives (tlang.directives)


def start_values(prog: ir.ProgramIR, names) -> dict[str, Any]:
    """The data of tensors that are learned from a start (``learn W`` with data ``W``)."""
    return {eq.lhs: prog.data[eq.rhs.key] for eq in prog.equations
            if eq.lhs in names and isinstance(eq.rhs, ir.Data) and eq.kind in ("data", "input")}


def init_params(prog: ir.ProgramIR, names: list[str], seed: int = 0, init: str = "normal",
                scale: float = 1.0, start: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Start values: ``start`` (data of ``learn`` tensors) where given, else zeros for biases and
    ``normal(0, scale / sqrt(fan_in))`` (``uniform``: same variance; ``zeros``: all 0).  Each
    tensor draws from its own stream, seeded by (seed, crc32(name)): reproducible, and
    independent of which other tensors are learned."""
    out = {}
    for name in names:
        shape = prog.tensors[name].stored_shape
        if start and name in start:
            out[name] = np.array(start[name], dtype=float).reshape(shape)
            continue
        n, bias = fan_in(prog, name)
        rng = np.random.default_rng([int(seed), zlib.crc32(name.encode())])
        std = scale / math.sqrt(n)
        if init == "zeros" or bias:
            out[name] = np.zeros(shape)
        elif init == "uniform":
            out[name] = np.asarray(rng.uniform(-std * math.sqrt(3), std * math.sqrt(3), shape), dtype=float)
        else:
            out[name] = np.asarray(rng.normal(0.0, std, shape), dtype=float)
    return out


# -------------------------------------------------------------- optimisers

class SGD:
    """Gradient descent: ``p -= lr * g`` (with ``momentum``: a velocity ``v = m v + g``)."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.0) -> None:
        self.lr, self.momentum = lr, momentum

    def init(self, params: dict) -> dict:
        return {"v": {k: 0.0 * p for k, p in params.items()}}

    def update(self, params: dict, grads: dict, state: dict) -> tuple[dict, dict]:
        if not self.momentum:
            return {k: p - self.lr * grads[k] for k, p in params.items()}, state
        v = {k: self.momentum * state["v"][k] + grads[k] for k in params}
        return {k: p - self.lr * v[k] for k, p in params.items()}, {"v": v}


class Adam:
    """Adam (Kingma & Ba): bias-corrected moment estimates, ``beta1``, ``beta2``, ``eps``."""

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        self.lr, self.b1, self.b2, self.eps = lr, beta1, beta2, eps

    def init(self, params: dict) -> dict:
        zero = {k: 0.0 * p for k, p in params.items()}
        return {"m": zero, "v": dict(zero), "t": 0.0}

    def update(self, params: dict, grads: dict, state: dict) -> tuple[dict, dict]:
        t = state["t"] + 1.0
        m = {k: self.b1 * state["m"][k] + (1 - self.b1) * grads[k] for k in params}
        v = {k: self.b2 * state["v"][k] + (1 - self.b2) * grads[k] * grads[k] for k in params}
        c1, c2 = 1 - self.b1 ** t, 1 - self.b2 ** t
        new = {k: p - self.lr * (m[k] / c1) / ((v[k] / c2) ** 0.5 + self.eps) for k, p in params.items()}
        return new, {"m": m, "v": v, "t": t}


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


# -------------------------------------------------------------- evaluators

class TLGradient:
    """Loss and gradients by tensor logic: the forward program pruned to the loss, plus its
    gradient program, built once and run by the numpy engine for each parameter value."""

    backend = "numpy"

    def __init__(self, compiled, loss: str, wrt: list[str], fixed: dict[str, Any],
                 grad: GradProgram | None = None) -> None:
        self.loss, self.wrt = loss, list(wrt)
        self.grad = grad or gradient_program(source_ir(compiled), loss, self.wrt)
        zeros = {w: np.zeros(source_ir(compiled).tensors[w].stored_shape) for w in self.wrt}
        self.prog = program_with(compiled, {**fixed, **zeros}, loss, self.grad.statements)
        self.keys = {w: f"input:{w}" for w in self.wrt}
        # the engine's evaluation order, worked out once (Engine.run would redo it every step)
        self.engine = Engine(self.prog, Options())
        self.steps = self.engine.schedule().steps
        self.zeros = {n: np.zeros(i.stored_shape) for n, i in self.prog.tensors.items()}

    def __call__(self, params: dict[str, Any]) -> tuple[float, dict[str, np.ndarray]]:
        eng = self.engine
        eng.values = dict(self.zeros)
        for key, arr in self.prog.data.items():
            eng.values[("data", key)] = arr
        for w, key in self.keys.items():
            eng.values[("data", key)] = np.asarray(params[w], dtype=float)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # training reports the loss, not each step
            for step in self.steps:
                eng.run_step(step)
        v = eng.values
        return float(np.sum(v[self.loss])), {w: np.asarray(v[self.grad.grads[w]]) for w in self.wrt}


class JaxGradient:
    """Loss and gradients by JAX autodiff of the generated program (``tlang.codegen``).

    ``x64`` as for evaluation (``codegen.x64_requested``: the argument, else ``TLANG_X64``, else
    JAX's own setting): when set, the parameters, the optimiser state, the traced step and the
    loss are float64 -- every call below runs under ``jax.enable_x64`` -- else float32."""

    backend = "jax"

    def __init__(self, compiled, loss: str, wrt: list[str], fixed: dict[str, Any], x64: bool | None = None) -> None:
        import jax
        import jax.numpy as jnp

        from .codegen import compile_function, x64_requested
        self.loss, self.wrt = loss, list(wrt)
        self.x64 = x64_requested(x64)
        zeros = {w: np.zeros(source_ir(compiled).tensors[w].stored_shape) for w in self.wrt}
        self.prog = program_with(compiled, {**fixed, **zeros}, loss)
        self.fn = compile_function(self.prog, backend="jax", x64=self.x64)

        def value(params):
            return jnp.sum(self.fn(**params)[loss])
        self.value = value
        self.value_and_grad = jax.jit(jax.value_and_grad(value))

    def mode(self):
        """The float width of every JAX call of training: ``jax.enable_x64`` when x64 is on."""
        if self.x64:
            import jax
            return jax.enable_x64(True)
        return contextlib.nullcontext()

    def device(self, tree: Any) -> Any:
        """``tree`` (parameters, optimiser state) as JAX arrays of the training float width."""
        import jax
        import jax.numpy as jnp
        with self.mode():
            return jax.tree_util.tree_map(jnp.asarray, tree)

    def __call__(self, params: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        with self.mode():
            v, g = self.value_and_grad(params)
            return float(v), {k: np.asarray(x, dtype=float) for k, x in g.items()}

    def step_function(self, optimizer, sign: float):
        """One jitted training step ``(params, state) -> (params, state, loss)``."""
        import jax

        def step(params, state):
            v, g = jax.value_and_grad(self.value)(params)
            g = {k: sign * x for k, x in g.items()}
            params, state = optimizer.update(params, g, state)
            return params, state, v
        jitted = jax.jit(step)

        def run(params, state):
            with self.mode():
                return jitted(params, state)
        return run
