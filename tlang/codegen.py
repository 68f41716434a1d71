"""Code generation: a whole ``ProgramIR`` -> readable Python source for one backend, and running it.

In: a ``ProgramIR`` and a backend name (``numpy``, ``jax``, ``cupy`` or
``auto``).  Out: ``generate`` gives the source of one function
``tl_program(<input tensors>, data)`` that computes every tensor in stratum
order and returns ``(tensors by name, convergence flag per recursive
stratum)``; ``compile_function`` gives a callable ``f(**inputs) -> dict``
(jitted on JAX, usable inside ``jax.jit`` and ``jax.grad``); ``evaluate``
runs a program like ``engine.evaluate`` and returns ``Results``.

Only generated code is executed: tensor names become sanitised Python
identifiers, names and data keys appear only inside ``repr`` string
literals, numbers as float literals, and data arrays are passed in as
arguments.  The *input tensors* are those given entirely by data (literals,
facts, files, ``inputs=``) or not defined at all (parameters); every other
tensor is computed.  Recursive strata become ``rt.fixpoint`` (a Python loop
on numpy/cupy, ``lax.while_loop`` on JAX); virtual indices become a Python
loop (numpy/cupy) or ``lax.scan`` (JAX).  See docs/backends.md.
"""

from __future__ import annotations

import builtins
import contextlib
import keyword
import os
import re
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from . import ir
from .codegen_emit import COMBINE, Code, Emitter, equation_text, fold_key, foldable, paren
from .engine import ConvergenceWarning, Options, Results, answer, report_nan
from .schedule import Accumulate, Advance, Compute, Fixpoint, role, schedule
from .source import TlangError, TlangResourceError, TlangShapeError

BACKENDS = ("numpy", "jax", "cupy")
_HEADERS = {
    "numpy": ["import numpy as xp"],
    "cupy": ["import cupy as xp"],
    "jax": ["import jax.numpy as xp", "from jax import lax"],
}
_RESERVED = {"xp", "rt", "lax", "math", "data", "converged", "status", "carry", "runtime", "MAX_ITER", "TOL",
             "tl_program",
             "state", "params", "np", "jax"}


@dataclass
class Generated:
    """Generated source and what its function takes."""
    source: str
    backend: str
    inputs: tuple[str, ...]                 # tensor names, in parameter order
    defaults: dict[str, str | float | None]  # input tensor -> data key or number (None: zeros)
    data_keys: tuple[str, ...]              # keys of ``data`` the function reads
    shapes: dict[str, tuple[int, ...]]      # stored shape of every tensor
    fixpoints: tuple[tuple[str, ...], ...] = ()
    function: str = "tl_program"
    consts: dict[str, np.ndarray] = field(default_factory=dict)   # data computed at generation


# --------------------------------------------------------------- analysis

def _full_data_write(eq: ir.Equation, info: ir.TensorInfo, prog: ir.ProgramIR) -> bool:
    if eq.virtual is not None or not isinstance(eq.rhs, ir.Data):
        return False
    if not all(isinstance(ix, ir.IAffine) and ix.is_var() for ix in eq.indices):
        return False
    names = tuple(ix.vars[0] for ix in eq.indices)
    if names != eq.rhs.vars or len(set(names)) != len(names):
        return False
    arr = prog.data.get(eq.rhs.key)
    return arr is not None and tuple(getattr(arr, "shape", np.shape(arr))) == tuple(info.stored_shape)


def host_array(value: Any) -> np.ndarray:
    """A data value as a float64 numpy array (sparse relations are densified)."""
    if hasattr(value, "to_dense"):
        return np.asarray(value.to_dense(), dtype=float)
    return np.asarray(value, dtype=float)


def input_tensors(prog: ir.ProgramIR) -> dict[str, str | float | None]:
    """Tensors given entirely by data (-> their data key), scalars set to a number (``C = -1``,
    -> the number) and tensors not defined at all (parameters, -> None: zeros)."""
    by_lhs: dict[str, list[ir.Equation]] = {}
    for eq in prog.equations:
        by_lhs.setdefault(eq.lhs, []).append(eq)
    out: dict[str, str | float | None] = {}
    for name, info in prog.tensors.items():
        eqs = by_lhs.get(name, [])
        if not eqs:
            out[name] = None
        elif len(eqs) == 1 and _full_data_write(eqs[0], info, prog):
            out[name] = eqs[0].rhs.key
        elif len(eqs) == 1 and isinstance(eqs[0].rhs, ir.Const) and not eqs[0].indices \
                and eqs[0].virtual is None and info.stored_shape == ():
            out[name] = float(eqs[0].rhs.value)
    return out


def _data_keys(e: ir.Expr) -> list[str]:
    out: list[str] = []

    def go(x) -> None:
        if isinstance(x, ir.Data):
            out.append(x.key)
        elif isinstance(x, ir.Map):
            for a in x.args:
                go(a)
        elif isinstance(x, ir.Contract | ir.Einsum):
            for a in x.operands:
                go(a)
        elif isinstance(x, ir.Normalize):
            go(x.arg)
            if x.temperature is not None:
                go(x.temperature)
        elif isinstance(x, ir.Concat | ir.Guard):
            go(x.arg)

    go(e)
    return out


def _identifier(name: str, used: set[str]) -> str:
    """A fresh, safe Python identifier for a tensor name (ASCII letters, digits, '_')."""
    s = re.sub(r"[^0-9A-Za-z_]", "_", name.replace("'", "_p"))
    if not s or s[0].isdigit() or s[0] == "_":
        s = "T" + s
    if keyword.iskeyword(s) or s in _RESERVED or hasattr(builtins, s):
        s += "_"
    while s in used:
        s += "_"
    used.add(s)
    return s


# ------------------------------------------------------------- generation

class _Generator:
    def __init__(self, prog: ir.ProgramIR, backend: str, max_iter: int, tol: float) -> None:
        self.prog = prog
        self.backend = backend
        self.max_iter = max_iter
        self.tol = tol
        self.by_lhs: dict[str, list[tuple[int, ir.Equation]]] = {}
        for k, eq in enumerate(prog.equations):
            self.by_lhs.setdefault(eq.lhs, []).append((k, eq))
        self.extents: dict[int, dict[str, int]] = {}
        for (k, v), n in prog.var_extents.items():
            self.extents.setdefault(k, {})[v] = n
        self.shapes = {n: tuple(t.stored_shape) for n, t in prog.tensors.items()}
        used: set[str] = set()
        self.names: dict[Any, str] = {n: _identifier(n, used) for n in prog.tensors}
        for n in prog.tensors:  # a loop tensor's value at the previous step
            if prog.tensors[n].virtual_axis is not None:
                self.names[("prev", n)] = _identifier(f"prev_{n}", used)
        self.inputs = input_tensors(prog)
        keys = []
        for eq in prog.equations:
            if eq.lhs not in self.inputs:
                keys += [k for k in _data_keys(eq.rhs) if k not in keys]
        for j, key in enumerate(keys):
            self.names[("data", key)] = f"_d{j}"
        self.consts: dict[str, np.ndarray] = {}
        self.folded: dict[tuple, tuple[str, tuple[str, ...]]] = {}   # -> (Python name, vars)
        self.fold_keys: dict[tuple, str] = {}                         # -> its key in ``data``
        self.eq_consts: dict[int, list[str]] = {}
        for k, eq in enumerate(prog.equations):
            if eq.lhs not in self.inputs:
                self._fold(k, eq)
        self.data_keys = tuple(keys) + tuple(self.consts)
        self.fixpoints: list[tuple[str, ...]] = []
        self.loop_status: list[list[tuple[str, str]]] = []   # inner recursions of the loops being emitted

    def _fold(self, k: int, eq: ir.Equation) -> None:
        """Compute the constant calls of one equation (see ``codegen_emit.foldable``) now."""
        from .backends import get_backend
        from .lower import Lowerer
        fixed = {eq.virtual[0]} if eq.virtual is not None else set()
        ext = self.extents.get(k, {})
        for node in foldable(eq.rhs, fixed):
            key = fold_key(node, ext)
            if key not in self.folded:
                n = len(self.consts)
                with np.errstate(all="ignore"):
                    lab = Lowerer(get_backend("numpy"), {}, ext).eval(node)
                dkey = f"codegen:const{n}"
                self.consts[dkey] = np.asarray(lab.array, dtype=float)
                self.names[("data", dkey)] = f"_c{n}"
                self.folded[key] = (f"_c{n}", tuple(lab.vars))
                self.fold_keys[key] = dkey
            self.eq_consts.setdefault(k, []).append(self.fold_keys[key])

    def source(self, title: str) -> str:
        prog, n = self.prog, self.names
        ins = list(self.inputs)
        sig = ", ".join([n[t] for t in ins] + ["data"])
        listing = ", ".join(f"{t}{list(self.shapes[t])}" for t in ins) or "none"
        head = [
            f'"""tlang generated code: {_safe(title)}, {self.backend} backend.',
            "",
            f"tl_program({sig}) computes every tensor in stratum order and returns",
            "(tensors by name, convergence flag of each recursive stratum).",
            f"Inputs: {_safe(listing)}.",
            '"""',
            "import math",
            "",
            *_HEADERS[self.backend],
            "",
            "from tlang.codegen_runtime import runtime",
            "",
            f"rt = runtime({self.backend!r})",
            f"MAX_ITER = {int(self.max_iter)}",
            f"TOL = {float(self.tol)!r}",
            "",
            "",
            f"def {Generated.function}({sig}):",
        ]
        code = Code()
        for t in ins:
            conv = f"xp.asarray({n[t]}, dtype=float)"
            code.line(f"{n[t]} = {f'({conv} > 0) * 1.0' if prog.tensors[t].boolean else conv}")
        for key in self.data_keys:
            code.line(f"{n[('data', key)]} = data[{key!r}]")
        code.line("status = {}")
        self._steps(code, schedule(prog).steps, {})
        code.line()
        ret = ", ".join(f"{t!r}: {n[t]}" for t in prog.tensors)
        code.line(f"return {{{ret}}}, status")
        return "\n".join(head + code.lines) + "\n"

    # ------------------------------------------------------- the schedule
    def _steps(self, code: Code, steps, fixed: dict[str, str]) -> None:
        for st in steps:
            self._step(code, st, fixed)

    def _eqs(self, name: str, kind: str) -> list[tuple[int, ir.Equation]]:
        return [(k, e) for k, e in self.by_lhs.get(name, []) if role(e) == kind]

    def _step(self, code: Code, st, fixed: dict[str, str]) -> None:
        n = self.names
        if isinstance(st, Compute):
            if st.tensor in self.inputs:
                return
            code.line()
            info = self.prog.tensors[st.tensor]
            code.line(f"{n[st.tensor]} = {self._combine(code, info, self._eqs(st.tensor, 'plain'), fixed)}")
        elif isinstance(st, Advance):
            info = self.prog.tensors[st.tensor]
            eqs = self._eqs(st.tensor, "step")
            value = self._combine(code, info, eqs, fixed)
            var, offset = eqs[0][1].virtual
            if offset == 0:  # written at *t: step 0 is time 0, where the start writes too
                value = f"{paren(value)} + xp.where({fixed[var]} == 0, {n[('prev', st.tensor)]}, 0.0)"
                if info.boolean:
                    value = f"({value} > 0) * 1.0"
            code.line(f"{n[st.tensor]} = {value}")
        elif isinstance(st, Accumulate):
            info = self.prog.tensors[st.tensor]
            eqs = self._eqs(st.tensor, "acc")
            contrib = self._combine(code, info, eqs, fixed)
            op = COMBINE[eqs[0][1].op]
            t = n[st.tensor]
            acc = {"max": f"xp.maximum({t}, {contrib})", "min": f"xp.minimum({t}, {contrib})"}.get(
                op, f"{t} + {contrib}")
            code.line(f"{t} = {f'({acc} > 0) * 1.0' if info.boolean else acc}")
        elif isinstance(st, Fixpoint):
            self._fixpoint(code, st, fixed)
        else:
            self._loop(code, st, fixed)

    def _combine(self, code: Code, info: ir.TensorInfo, eqs, fixed: dict[str, str]) -> str:
        shape = info.stored_shape
        acc = hit = None
        masked = len(eqs) > 1 and any(COMBINE[eq.op] in ("max", "min") for _, eq in eqs)
        for k, eq in eqs:
            code.line(f"# {equation_text(eq)}")
            em = Emitter(code, self.names, self.shapes, self.extents.get(k, {}), fixed, self.folded)
            contrib = em.write(eq, shape)
            written = em.written(eq, shape) if masked else None
            op = COMBINE[eq.op]
            if acc is None:
                acc = contrib if len(eqs) == 1 else code.tmp(contrib)
                hit = written
            elif op in ("max", "min"):  # only the equations that write a position compete there
                c = code.tmp(contrib)
                best = f"xp.{'maximum' if op == 'max' else 'minimum'}({acc}, {c})"
                acc = code.tmp(f"xp.where({hit} & {written}, {best}, xp.where({written}, {c}, {acc}))")
                hit = code.tmp(f"{hit} | {written}", "w")
            else:
                acc = code.tmp(f"{acc} + {contrib}")
                if masked:
                    hit = code.tmp(f"{hit} | {written}", "w")
        if acc is None:
            acc = f"xp.zeros({tuple(shape)!r})"
        if info.boolean:
            acc = f"({acc} > 0) * 1.0"
        return acc

    def _equations_of(self, steps) -> list[tuple[int, ir.Equation]]:
        out: list[tuple[int, ir.Equation]] = []
        for st in steps:
            if isinstance(st, Compute):
                out += self._eqs(st.tensor, "plain")
            elif isinstance(st, Advance):
                out += self._eqs(st.tensor, "step")
            elif isinstance(st, Accumulate):
                out += self._eqs(st.tensor, "acc")
            elif isinstance(st, Fixpoint):
                out += self._equations_of(st.steps)
            else:
                for t in st.buffers + st.accumulators:
                    out += self._eqs(t, "plain")
                out += self._equations_of(st.body)
        return out

    def _params(self, steps, state: set[str], fixed: dict[str, str]) -> list[Any]:
        """The names a fixpoint's step function reads from outside its state (passed explicitly:
        JAX's differentiable fixpoint cannot close over traced values)."""
        out: list[Any] = []

        def add(key) -> None:
            if key not in out:
                out.append(key)

        for k, eq in self._equations_of(steps):
            for key in self.eq_consts.get(k, []):
                add(("data", key))
            for ref in ir.tensors_read(eq.rhs):
                if ref.step == -1:
                    add(("prev", ref.tensor))
                elif ref.tensor not in state:
                    add(ref.tensor)
            for key in _data_keys(eq.rhs):
                add(("data", key))
            if eq.accumulate is not None and eq.lhs not in state:
                add(eq.lhs)
            if eq.virtual is not None and eq.virtual[1] == 0:  # step 0 adds the start (the previous value)
                add(("prev", eq.lhs))
        return out

    def _fixpoint(self, code: Code, st: Fixpoint, fixed: dict[str, str]) -> None:
        n = self.names
        comp = list(st.tensors)
        params = self._params(st.steps, set(comp), fixed)
        names = [n[r] for r in params] + [v for v in fixed.values() if v not in [n[r] for r in params]]
        self.fixpoints.append(tuple(comp))
        code.counter[0] += 1
        fn = f"_fix{code.counter[0]}"
        state = ", ".join(n[t] for t in comp) + ","
        pnames = ", ".join(names) + ("," if names else "")
        code.line()
        code.line(f"# recursive component {{{_safe(', '.join(comp))}}}: sweeps in program order until nothing changes")
        code.line(f"def {fn}(state, params):")
        body = code.nested()
        body.line(f"({state}) = state")
        if names:
            body.line(f"({pnames}) = params")
        self._steps(body, st.steps, fixed)
        body.line(f"return ({state})")
        zeros = ", ".join(f"xp.zeros({self.shapes[t]!r})" for t in comp) + ","
        label = ", ".join(comp)
        if self.loop_status:  # inside a loop: the status leaves the step as one of its outputs
            target = f"_st{code.counter[0]}"
            self.loop_status[-1].append((label, target))
        else:
            target = f"status[{label!r}]"
        code.line(f"({state}), {target} = rt.fixpoint(")
        code.nested().line(f"{fn}, ({zeros}), ({pnames}), MAX_ITER, TOL)")

    def _loop(self, code: Code, st, fixed: dict[str, str]) -> None:
        n = self.names
        code.line()
        code.line(f"# the loop over the virtual index {_safe(st.var)}: {_safe(', '.join(st.buffers))} advance "
                  "together")
        for t in st.buffers + st.accumulators:
            code.line(f"{n[t]} = {self._combine(code, self.prog.tensors[t], self._eqs(t, 'plain'), fixed)}")
        code.counter[0] += 1
        k = code.counter[0]
        fn, step = f"_loop{k}", f"_k{k}"
        carry = ", ".join(n[t] for t in st.buffers + st.accumulators) + ","
        code.line(f"def {fn}(carry, {step}):  # one step of {_safe(st.var)}")
        body = code.nested()
        body.line(f"({carry}) = carry")
        for t in st.buffers:
            body.line(f"{n[('prev', t)]} = {n[t]}")
        self.loop_status.append([])
        self._steps(body, st.body, {**fixed, st.var: step})
        inner = self.loop_status.pop()
        outs = "(" + "".join(f"{name}, " for _, name in inner) + ")"
        body.line(f"return ({carry}), {outs}")
        ys = f"_ys{k}"
        if st.length is None:
            self.fixpoints.append(tuple(st.buffers))
            code.line(f"({carry}), status[{', '.join(st.buffers)!r}] = rt.until({fn}, ({carry}), "
                      f"{len(st.buffers)}, MAX_ITER, TOL)")
            return
        if self.backend == "jax":
            code.line(f"({carry}), {ys} = lax.scan({fn}, ({carry}), xp.arange({st.length}))")
        else:
            code.line(f"{ys} = []")
            code.line(f"for {step} in range({st.length}):")
            code.nested().line(f"({carry}), _y = {fn}(({carry}), {step})")
            code.nested().line(f"{ys}.append(_y)")
        for j, (label, _) in enumerate(inner):  # the worst status of an inner recursion over the steps
            self.fixpoints.append(tuple(label.split(", ")))
            code.line(f"status[{label!r}] = rt.worst({ys}, {j})")


def _safe(text: str) -> str:
    """Text for a comment or docstring: printable, no quotes that could end the docstring."""
    return "".join(ch if ch.isprintable() and ch not in "\"\\" else "?" for ch in str(text))


def program_title(prog: ir.ProgramIR) -> str:
    """The file name of the program's first equation (``program`` when it has none)."""
    for eq in prog.equations:
        if eq.span is not None:
            return os.path.basename(eq.span.source.name) or "program"
    return "program"


def generate(prog: ir.ProgramIR, backend: str = "numpy", *, max_iter: int = 1000, tol: float = 1e-9,
             title: str | None = None) -> Generated:
    """The generated source of ``prog`` for ``backend`` (numpy, jax or cupy)."""
    if backend not in BACKENDS:
        raise TlangError(f"no code generator for backend '{backend}'", None,
                         [f"code generators: {', '.join(BACKENDS)}"])
    g = _Generator(prog, backend, max_iter, tol)
    src = g.source(title or program_title(prog))
    return Generated(src, backend, tuple(g.inputs), dict(g.inputs), g.data_keys, g.shapes, tuple(g.fixpoints),
                     consts=g.consts)


_LOADED: OrderedDict[str, Callable] = OrderedDict()


def load(gen: Generated) -> Callable:
    """Execute generated source (only generated source) and return its function; cached by source."""
    fn = _LOADED.get(gen.source)
    if fn is None:
        namespace: dict[str, Any] = {"__name__": "tlang_generated"}
        exec(compile(gen.source, "<tlang-generated>", "exec"), namespace)  # noqa: S102 (generated code)
        fn = namespace[gen.function]
        _LOADED[gen.source] = fn
        if len(_LOADED) > 128:
            _LOADED.popitem(last=False)
    return fn


# ---------------------------------------------------------------- running

def resolve_backend(name: str | None) -> str:
    from .backends import resolve
    return resolve(name or "numpy")


def x64_requested(x64: bool | None = None) -> bool:
    """The JAX float64 switch: the argument, else ``TLANG_X64``, else JAX's own setting."""
    if x64 is not None:
        return bool(x64)
    env = os.environ.get("TLANG_X64", "").strip().lower()
    if env:
        return env not in ("0", "false", "no", "off")
    import jax
    return bool(jax.config.jax_enable_x64)


_JITTED: OrderedDict[tuple, Callable] = OrderedDict()


def _select(fn: Callable, outputs: tuple[str, ...]) -> Callable:
    """``fn`` returning only ``outputs`` (jitted, XLA drops the intermediates nobody reads)."""
    def selected(*args):
        tensors, status = fn(*args)
        return {t: tensors[t] for t in outputs}, status
    return selected


class CompiledProgram:
    """A program compiled for one backend; call it with input tensors by name.

    ``f(**inputs)`` returns every tensor by name (backend arrays); inputs not
    given take the program's data (or zeros for undefined parameters).  On
    JAX the generated function is jitted once per program (and again per
    input shape signature by ``jax.jit``) and the call works inside
    ``jax.jit``/``jax.grad``.  ``outputs`` names the tensors to return (all
    by default); on JAX the others need not be materialised."""

    def __init__(self, prog: ir.ProgramIR, backend: str = "jax", *, x64: bool | None = None,
                 jit: bool = True, max_iter: int = 1000, tol: float = 1e-9,
                 outputs: tuple[str, ...] | list[str] | None = None) -> None:
        from .backends import get_backend
        self.prog = prog
        self.backend = resolve_backend(backend)
        self.be = get_backend(self.backend)   # a clear error if the backend cannot run here
        self.generated = generate(prog, self.backend, max_iter=max_iter, tol=tol)
        self.source = self.generated.source
        self.inputs = self.generated.inputs
        self.x64 = x64_requested(x64) if self.backend == "jax" else True
        self.outputs = tuple(outputs) if outputs is not None else None
        missing = [t for t in self.outputs or () if t not in prog.tensors]
        if missing:
            raise TlangError(f"'{missing[0]}' is not a tensor of this program", None,
                             [f"tensors: {', '.join(prog.tensors)}"])
        fn = load(self.generated)
        if self.outputs is not None:
            fn = _select(fn, self.outputs)
        self._raw = fn   # inlined into a caller's trace (jax.jit/jax.grad): no nested jit
        if self.backend == "jax" and jit:
            key = (self.source, self.outputs)
            jitted = _JITTED.get(key)
            if jitted is None:
                import jax
                jitted = _JITTED[key] = jax.jit(fn)
                if len(_JITTED) > 128:
                    _JITTED.popitem(last=False)
            fn = jitted
        self.function = fn
        self._host_defaults = {t: _default(prog, k, self.generated.shapes[t])
                               for t, k in self.generated.defaults.items()}
        self._host_data = {k: self.generated.consts[k] if k in self.generated.consts else host_array(prog.data[k])
                           for k in self.generated.data_keys}
        self._device: dict[Any, tuple[dict, dict]] = {}

    def _arrays(self) -> tuple[dict, dict]:
        """Defaults and data as backend arrays (once per float width on JAX)."""
        key = None
        eager = contextlib.nullcontext()
        if self.backend == "jax":
            import jax
            key = str(jax.dtypes.canonicalize_dtype(np.float64))
            eager = jax.ensure_compile_time_eval()   # concrete arrays even when called inside a trace
        if key not in self._device:
            conv = self.be.asarray
            with eager:
                self._device[key] = ({t: conv(a) for t, a in self._host_defaults.items()},
                                     {k: conv(a) for k, a in self._host_data.items()})
        return self._device[key]

    def run(self, **inputs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(tensors, converged)``: every tensor, and a flag per recursive stratum."""
        unknown = [k for k in inputs if k not in self.generated.defaults]
        if unknown:
            raise TlangError(f"'{unknown[0]}' is not an input tensor of this program", None,
                             [f"inputs: {', '.join(self.inputs) or 'none'}"])
        for name, value in inputs.items():
            want = self.generated.shapes[name]
            got = tuple(np.shape(value))
            if got != want:
                raise TlangShapeError(f"input '{name}' has shape {list(got)}, but the program was built "
                                      f"for {list(want)}", None,
                                      ["rebuild the program for the new shapes"])
        if self.backend == "jax" and self.x64:
            import jax
            with jax.enable_x64(True):
                return self._call(inputs)
        if self.backend == "numpy":
            with np.errstate(all="ignore"):
                return self._call(inputs)
        return self._call(inputs)

    def _call(self, inputs: dict) -> tuple[dict, dict]:
        defaults, data = self._arrays()
        conv = self.be.asarray   # one dtype per float width: one jit signature per shape set
        args = [conv(inputs[t]) if t in inputs else defaults[t] for t in self.inputs]
        if self.backend == "jax" and any(isinstance(a, self.be.jax.core.Tracer) for a in args):
            return self._raw(*args, data)
        return self.function(*args, data)

    def __call__(self, **inputs: Any) -> dict[str, Any]:
        return self.run(**inputs)[0]


def _default(prog: ir.ProgramIR, key: str | float | None, shape: tuple[int, ...]) -> np.ndarray:
    if key is None:
        return np.zeros(shape)
    if isinstance(key, float):
        return np.asarray(key)
    return host_array(prog.data[key])


def compile_function(prog: ir.ProgramIR, backend: str = "jax", **options: Any) -> CompiledProgram:
    """``prog`` as a callable ``f(**inputs) -> dict[name, array]`` (see ``CompiledProgram``)."""
    return CompiledProgram(prog, backend, **options)


def emit_python(prog: ir.ProgramIR, backend: str = "numpy", *, title: str | None = None,
                max_iter: int = 1000, tol: float = 1e-9) -> str:
    """The readable source that runs ``prog`` on ``backend`` (``auto`` resolved here)."""
    return generate(prog, resolve_backend(backend), max_iter=max_iter, tol=tol, title=title).source


def check_memory(prog: ir.ProgramIR, limit: int | None) -> None:
    if limit is None:
        return
    for name, info in prog.tensors.items():
        n = int(np.prod(info.stored_shape, dtype=object)) * 8
        if n > limit:
            raise TlangResourceError(
                f"'{name}' would need {n:,} bytes (shape {info.stored_shape}), over the memory "
                f"limit of {limit:,} bytes", info.span, ["raise it with --memory-limit"])


STATUS = {1: "did not converge in {max_iter} iterations", 2: "diverged: {bad} after sweep {sweep}",
          3: "oscillates: sweep {sweep} repeats sweep {before} (period 2)"}


def _first_bad(members: list[str], tensors: dict[str, Any] | None) -> str:
    for t in members:
        if tensors is None or t not in tensors:
            continue
        a = np.asarray(tensors[t], dtype=float)
        bad = ~np.isfinite(a)
        if bad.any():
            pos = tuple(int(x) for x in np.argwhere(bad)[0])
            return f"{t}[{', '.join(map(str, pos))}] is {a[pos]}" if pos else f"{t} is {float(a)}"
    return "a value is NaN or infinite"


def report_status(prog: ir.ProgramIR, status: dict[str, Any], max_iter: int, strict: bool = False,
                  tensors: dict[str, Any] | None = None) -> None:
    """Warn (or, ``strict``, raise) about each recursion or loop that did not settle: the codes
    of ``Runtime.fixpoint`` (0 converged, 1 out of iterations, 2 diverged, 3 oscillates)."""
    for comp, st in status.items():
        code, sweep = (int(np.asarray(x)) for x in st)
        if code == 0:
            continue
        members = comp.split(", ")
        eqs = [eq for eq in prog.equations if eq.lhs in members and eq.kind not in ("data", "fact")]
        where = ", ".join(eq.span.where() for eq in eqs if eq.span)
        bad = _first_bad(members, tensors) if code == 2 else ""
        message = f"recursion over {comp} " + STATUS[code].format(max_iter=max_iter, sweep=sweep,
                                                                  before=sweep - 2, bad=bad)
        if strict:
            from .source import TlangRuntimeError
            raise TlangRuntimeError(message, eqs[0].span if eqs else None,
                                    [f"equations at {where}"] if where else [])
        warnings.warn(ConvergenceWarning(f"{message} (equations at {where})" if where else message),
                      stacklevel=3)


def to_results(prog: ir.ProgramIR, tensors: dict[str, Any], backend) -> Results:
    """Backend arrays -> float64 numpy arrays, and the answers of the queries."""
    host = {n: np.asarray(backend.to_numpy(v), dtype=float) for n, v in tensors.items()}
    return Results(host, [answer(prog, q, host) for q in prog.queries], prog)


def run_generated(prog: ir.ProgramIR, backend: str = "jax", options: Options | None = None,
                  x64: bool | None = None) -> Results:
    """Evaluate ``prog`` through generated code on ``backend`` (numpy included)."""
    opts = options or Options()
    check_memory(prog, opts.memory_limit)
    x64 = x64 if x64 is not None else getattr(opts, "x64", None)
    compiled = CompiledProgram(prog, backend, x64=x64, max_iter=opts.max_iter, tol=opts.tol)
    start = time.monotonic()
    tensors, status = compiled.run()
    results = to_results(prog, tensors, compiled.be)
    try:
        report_status(prog, status, opts.max_iter, opts.strict, results.tensors)
        report_nan(prog, results.tensors, results.answers, opts.strict)
    except TlangError as e:  # nothing lost: the answers are printed before the error
        e.partial_answers = results.answers
        raise
    if opts.timeout and time.monotonic() - start > opts.timeout:
        raise TlangResourceError(f"the run exceeded its time limit of {opts.timeout} s", None,
                                 ["raise it with --timeout"])
    return results


def evaluate(prog: ir.ProgramIR, options: Options | None = None) -> Results:
    """``engine.evaluate`` for backends other than numpy: ``auto`` resolves first, and numpy
    stays on the interpreting engine (the reference)."""
    opts = options or Options()
    name = resolve_backend(opts.backend)
    if name == "numpy":
        from .engine import Engine
        return Engine(prog, replace(opts, backend="numpy")).run()
    return run_generated(prog, name, opts)


def clear_caches() -> None:
    """Forget loaded and jitted programs and backend runtimes (tests swap modules)."""
    from . import codegen_runtime
    _LOADED.clear()
    _JITTED.clear()
    codegen_runtime.clear()


__all__ = ["Generated", "CompiledProgram", "generate", "load", "compile_function", "emit_python",
           "evaluate", "run_generated", "input_tensors", "resolve_backend", "x64_requested", "report_status",
           "clear_caches"]
