"""Training: ``@minimize``/``@maximize`` directives, ``fit``, and ``minimize``/``maximize`` from Python.

In: a compiled program (``pipeline.Compiled``: its expanded AST, IR and
folder) whose loss is a tensor equation, and the training options -- the
directive's arguments ``lr epochs optimizer tol seed patience init scale
momentum beta1 beta2 eps backend``.  Out: ``FitResult`` (the learned
tensors, the loss per epoch, the program with the learned values as data);
``train_program`` runs every training directive of a program in order
(later ones and every query see the values learned before), as ``tlang
run`` does.

Every tensor the loss depends on that is neither data, input, computed by
an equation, nor declared ``const`` is learned (``learn W`` also trains data
``W``, starting from its data).  An epoch is one full-batch gradient step.
Gradients come from tlang's own reverse mode on numpy (the forward program
plus its gradient program, ``tlang.grad``, run by the engine) or from JAX
autodiff of the generated program (``backend="jax"``).  See docs/learning.md.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import ast as A
from . import ir
from .directives import DEFAULTS, TRAINING, TRAINING_ARGS, check_directives, convert, directive_arguments
from .grad import GradError, learnables
from .learn_runtime import (
    OPTIMIZERS,
    JaxGradient,
    TLGradient,
    init_params,
    marks,
    program_with,
    source_ir,
    start_values,
)
from .source import TlangCheckError, TlangError, TlangRuntimeError

__all__ = ["FitResult", "fit", "minimize", "maximize", "train_program", "run_learning", "plot_history",
           "DEFAULTS"]

_ARGS = {a.name: a for a in TRAINING_ARGS}


@dataclass
class FitResult:
    """What training produced: ``params`` (learned tensors by name), ``history`` (the loss at
    the start of each epoch), ``final_loss`` (after the last step), and ``program`` (the whole
    program with the learned values as data; ``run()`` evaluates it)."""
    loss: str
    params: dict[str, np.ndarray]
    history: list[float]
    final_loss: float
    epochs: int
    stopped_early: bool
    seconds: float
    backend: str
    maximize: bool = False
    program: ir.ProgramIR | None = field(default=None, repr=False)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.params[name]

    def run(self, backend: str = "numpy", x64: bool | None = None):
        """Evaluate the trained program: ``engine.Results`` with every tensor and query answer."""
        from .engine import Options, evaluate
        return evaluate(self.program, Options(backend=backend, x64=x64))


# -------------------------------------------------------------- options

def directive_options(d: A.Directive) -> dict[str, Any]:
    """The arguments of a ``@minimize``/``@maximize`` directive, checked against the table in
    ``tlang.directives`` (located errors)."""
    return directive_arguments(d)


def _convert(key: str, value: Any, span=None) -> Any:
    return convert(_ARGS[key], value, span)


def training_queries(prog: ir.ProgramIR) -> list[tuple[ir.QueryIR, A.Directive]]:
    return [(q, d) for q in prog.queries for d in q.directives if d.name in TRAINING]


# ------------------------------------------------------------- progress

class _Progress:
    """One self-rewriting line on the terminal: epoch, loss and the time left."""

    def __init__(self, loss: str, epochs: int, enabled: bool, stream=None) -> None:
        self.loss, self.epochs, self.enabled = loss, epochs, enabled
        self.stream = stream or sys.stderr
        self.start = self.last = time.monotonic()

    def update(self, epoch: int, value: float) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.1 and epoch < self.epochs:
            return
        self.last = now
        left = (now - self.start) / max(epoch, 1) * (self.epochs - epoch)
        self.stream.write(f"\r{self.loss}: epoch {epoch}/{self.epochs}  loss {value:.6g}  {left:.1f} s left\033[K")
        self.stream.flush()

    def close(self, epochs: int, value: float, early: bool) -> None:
        if not self.enabled:
            return
        why = " (converged)" if early else ""
        self.stream.write(f"\r{self.loss}: {epochs} epochs{why}, loss {value:.6g}, "
                          f"{time.monotonic() - self.start:.1f} s\033[K\n")
        self.stream.flush()


def _show_progress(quiet: bool | None) -> bool:
    if quiet:
        return False
    try:
        return sys.stdout.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


# ------------------------------------------------------------------ fit

def _default_loss(compiled) -> str:
    tq = training_queries(source_ir(compiled))
    if tq:
        return tq[0][0].tensor
    if "Loss" in source_ir(compiled).tensors:
        return "Loss"
    raise TlangCheckError("which tensor is the loss? pass loss='Name' or add 'Loss? @minimize(...)'")


def _evaluator(compiled, loss: str, wrt: list[str], fixed: dict, backend: str, x64: bool | None):
    if backend == "jax":
        return JaxGradient(compiled, loss, wrt, fixed, x64=x64)
    try:
        return TLGradient(compiled, loss, wrt, fixed)
    except GradError as e:
        try:
            import jax  # noqa: F401

            from . import codegen  # noqa: F401
        except ImportError:
            raise e from None
        warnings.warn(f"{e.message}: training with JAX autodiff instead", stacklevel=3)
        return JaxGradient(compiled, loss, wrt, fixed, x64=x64)


def fit(compiled, *, loss: str | None = None, maximize: bool = False, fixed: dict[str, Any] | None = None,
        wrt: list[str] | None = None, params: dict[str, Any] | None = None, quiet: bool | None = None,
        callback=None, x64: bool | None = None, **options: Any) -> FitResult:
    """Train the learnable tensors of ``compiled`` (a ``pipeline.Compiled``) on ``loss``.

    ``options`` are the directive's arguments (``DEFAULTS`` lists them; None: the default).
    ``fixed``: tensors given as data (values learned before); ``wrt``: the tensors to learn
    (default: all learnable); ``params``: start values; ``callback(epoch, loss, params)`` after
    each epoch; ``x64``: JAX trains in float64 (None: ``TLANG_X64``, else JAX's own setting,
    as evaluation does; numpy always computes in float64).
    """
    opts = dict(DEFAULTS)
    for key, value in options.items():
        if key not in DEFAULTS:
            raise TypeError(f"fit() got an unexpected argument '{key}' (arguments: {', '.join(DEFAULTS)})")
        opts[key] = DEFAULTS[key] if value is None else _convert(key, value)
    backend = opts["backend"] or "numpy"
    loss = loss or _default_loss(compiled)
    if loss not in source_ir(compiled).tensors:
        raise TlangCheckError(f"the loss '{loss}' is not a tensor of this program")
    fixed = dict(fixed or {})
    if wrt is None:
        wrt = [w for w in learnables(source_ir(compiled), loss, marks(compiled.expanded)) if w not in fixed]
    if not wrt:
        raise TlangCheckError(f"there is nothing to learn for '{loss}': every tensor it depends on is "
                              "data, an input, computed, or declared const")
    prog = source_ir(compiled)
    values = init_params(prog, wrt, opts["seed"], opts["init"], opts["scale"], {**start_values(prog, wrt),
                                                                              **(params or {})})
    ev = _evaluator(compiled, loss, wrt, fixed, backend, x64)
    optim = _optimizer(opts)
    sign = -1.0 if maximize else 1.0
    step = ev.step_function(optim, sign) if isinstance(ev, JaxGradient) else None
    if step is not None:  # arrays (float32, or float64 with x64) from the start: one trace of the step
        with ev.mode():
            values = ev.device(values)
            state = ev.device(optim.init(values))
    else:
        state = optim.init(values)
    history: list[float] = []
    progress = _Progress(loss, opts["epochs"], _show_progress(quiet))
    start_time = time.monotonic()
    still, early = 0, False
    for epoch in range(1, opts["epochs"] + 1):
        if step is not None:
            values, state, v = step(values, state)
            value = float(v)
        else:
            value, grads = ev(values)
            if sign < 0:
                grads = {k: -g for k, g in grads.items()}
            values, state = optim.update(values, grads, state)
        history.append(value)
        if not math.isfinite(value):
            progress.close(epoch, value, False)
            raise TlangRuntimeError(f"training diverged: the loss '{loss}' is {value} at epoch {epoch}", None,
                                    ["lower the learning rate (lr=...)"])
        if callback is not None:
            callback(epoch, value, values)
        progress.update(epoch, value)
        if opts["tol"] > 0 and epoch > 1:
            change = abs(history[-1] - history[-2]) / max(1.0, abs(history[-1]))
            still = still + 1 if change < opts["tol"] else 0
            if still >= opts["patience"]:
                early = True
                break
    learned = {k: np.asarray(v, dtype=float) for k, v in values.items()}
    final = ev(values)[0]
    progress.close(len(history), final, early)
    program = program_with(compiled, {**fixed, **learned})
    return FitResult(loss, learned, history, final, len(history), early, time.monotonic() - start_time,
                     ev.backend, maximize, program)


def _optimizer(opts: dict[str, Any]):
    if opts["optimizer"] == "sgd":
        return OPTIMIZERS["sgd"](lr=opts["lr"], momentum=opts["momentum"])
    return OPTIMIZERS["adam"](lr=opts["lr"], beta1=opts["beta1"], beta2=opts["beta2"], eps=opts["eps"])


# ------------------------------------------------------------- programs

def train_program(compiled, *, backend: str | None = None, quiet: bool | None = None,
                  plot: str | Path | None = None, x64: bool | None = None) -> tuple[ir.ProgramIR, list[FitResult]]:
    """Run every ``@minimize``/``@maximize`` query of a program in order; return the program with
    the learned values as data (for its queries) and one ``FitResult`` per directive.  ``x64``:
    JAX trains in float64 (``tlang run --x64``; see ``fit``)."""
    learned: dict[str, np.ndarray] = {}
    results = []
    for q, d in training_queries(source_ir(compiled)):
        args = directive_options(d)
        if backend == "jax" and "backend" not in args:
            args["backend"] = "jax"
        try:
            r = fit(compiled, loss=q.tensor, maximize=d.name == "maximize", fixed=learned, quiet=quiet,
                    x64=x64, **args)
        except TlangError as e:
            if e.span is None:  # point at the training query
                e.span = q.span
            raise
        learned.update(r.params)
        results.append(r)
    if plot is not None:
        plot_history(plot, results)
    return program_with(compiled, learned), results


def run_learning(program: A.Program, base_dir: Path, backend: str = "numpy", inputs: dict | None = None,
                 options: dict | None = None, quiet: bool | None = None, plot: str | Path | None = None):
    """``api.run`` for a program that trains: train, then evaluate with the learned values."""
    from .build import build
    from .engine import Options, evaluate
    from .pipeline import Compiled
    check_directives(program)
    prog_ir = build(program, base_dir, inputs, allow_undefined=True)
    compiled = Compiled(program, program, prog_ir, base_dir)
    options = dict(options or {})
    final, _ = train_program(compiled, backend=backend, quiet=quiet, plot=plot, x64=options.get("x64"))
    return evaluate(final, Options(backend=backend, **options))


def _compile(program_or_source, inputs: dict | None):
    from .pipeline import Compiled, compile_program
    if isinstance(program_or_source, Compiled):
        return program_or_source
    if isinstance(program_or_source, A.Program):
        from .api import expand
        from .build import build
        base = Path.cwd()
        full = expand(program_or_source, base)
        check_directives(full)
        return Compiled(program_or_source, full, build(full, base, inputs, allow_undefined=True), base)
    ast = getattr(program_or_source, "ast", None)
    if isinstance(ast, A.Program):  # a DSL program
        return _compile(ast, inputs)
    return compile_program(program_or_source, inputs, allow_undefined=True)


def minimize(program_or_source, loss: str | None = None, *, inputs: dict | None = None,
             quiet: bool | None = True, plot: str | Path | None = None, x64: bool | None = None,
             **options: Any) -> FitResult:
    """Train a program from Python, as its ``@minimize`` directive would (``options`` override the
    directive's arguments; without a directive, ``DEFAULTS`` apply and the loss is ``Loss``).
    ``x64``: with ``backend="jax"``, train in float64 (see ``fit``)."""
    return _train(program_or_source, loss, inputs, quiet, plot, options, "minimize", x64)


def maximize(program_or_source, loss: str | None = None, *, inputs: dict | None = None,
             quiet: bool | None = True, plot: str | Path | None = None, x64: bool | None = None,
             **options: Any) -> FitResult:
    """Like ``minimize``, climbing the objective instead."""
    return _train(program_or_source, loss, inputs, quiet, plot, options, "maximize", x64)


def _train(program_or_source, loss, inputs, quiet, plot, options, how: str, x64: bool | None = None) -> FitResult:
    compiled = _compile(program_or_source, inputs)
    loss = loss or _default_loss(compiled)
    args: dict[str, Any] = {}
    for q, d in training_queries(source_ir(compiled)):
        if q.tensor == loss:
            args = directive_options(d)
            break
    args.update(options)
    r = fit(compiled, loss=loss, maximize=how == "maximize", quiet=quiet, x64=x64, **args)
    if plot is not None:
        plot_history(plot, [r])
    return r


# ---------------------------------------------------------------- plots

def plot_history(path: str | Path, results: list[FitResult]) -> Path:
    """Save the loss curves of ``results`` as an image (matplotlib, no display needed)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise TlangError("--plot needs matplotlib (pip install 'tlang[plot]')") from None
    fig = Figure(figsize=(6.4, 4.0))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    positive = True
    for r in results:
        ax.plot(range(1, len(r.history) + 1), r.history, label=f"{r.loss} ({'max' if r.maximize else 'min'})")
        positive = positive and all(v > 0 for v in r.history)
    if positive and results:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(True, alpha=0.3)
    if results:
        ax.legend()
    path = Path(path)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path


# ------------------------------------------------------------ tlang grad

def _literal(name: str, value: np.ndarray) -> A.Equation:
    def lit(a):
        return A.ListLit(tuple(lit(x) for x in a)) if np.ndim(a) > 1 else A.ListLit(tuple(float(x) for x in a))
    if np.ndim(value) == 0:
        return A.Equation(A.Ref(name, ()), "=", A.Num(float(value)))
    return A.Equation(A.Ref(name, ()), "=", lit(np.asarray(value)))


def grad_source(program_or_source, loss: str | None = None, wrt: list[str] | None = None,
                full: bool = False, seed: int | None = None) -> str:
    """``tlang grad``: the gradient program as source; with ``full``, a runnable program (the forward
    program, start values of the learned tensors as literals, the gradient, queries of dT)."""
    from .fmt import format_stmt
    from .grad import gradient_program
    compiled = _compile(program_or_source, None)
    loss = loss or _default_loss(compiled)
    args = next((directive_options(d) for q, d in training_queries(source_ir(compiled)) if q.tensor == loss), {})
    if wrt is None:
        wrt = learnables(source_ir(compiled), loss, marks(compiled.expanded))
    gp = gradient_program(source_ir(compiled), loss, wrt)
    if not full:
        return gp.source()
    opts = {**DEFAULTS, **args}
    seed = opts["seed"] if seed is None else seed
    prog = source_ir(compiled)
    values = init_params(prog, list(wrt), seed, opts["init"], opts["scale"], start_values(prog, wrt))
    lines = ["# forward program (training directives and queries removed)"]
    for st in compiled.expanded.statements:
        if isinstance(st, A.Query | A.Store | A.DirectiveStmt):
            continue
        if isinstance(st, A.Equation | A.Load) and (st.lhs.name if isinstance(st, A.Equation)
                                                     else st.target.name) in values:
            continue
        lines.append(format_stmt(st))
    lines.append(f"# start values of the learned tensors (seed {seed})")
    lines += [format_stmt(_literal(w, values[w])) for w in wrt]
    return "\n".join(lines) + "\n" + gp.source()
