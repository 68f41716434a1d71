"""Lowering: IR expressions -> backend array operations.

In: an IR expression, the current tensors (stored arrays by name), the
extents of the equation's index variables and optionally fixed variables
(the step of a virtual-index loop).  Out: a ``Labelled`` array, i.e. an
array plus the index variable of each of its axes.  Joins and projections
become one einsum per ``Contract`` node (sum-product) or a broadcast product
and reduction (other semirings); elementwise functions come from ``OPS``, a
table keyed by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import opt_einsum

from . import ir
from .codegen_runtime import NumpyRuntime
from .embed import randunit_op, sparse_contract
from .source import TlangResourceError, TlangRuntimeError


@dataclass
class Labelled:
    array: Any
    vars: tuple[str, ...]


def _sig(xp, x, T=None):
    if T is None:
        return 1.0 / (1.0 + xp.exp(-x))
    T = xp.asarray(T)
    safe = xp.where(T == 0, 1.0, T)
    soft = 1.0 / (1.0 + xp.exp(-x / safe))
    return xp.where(T == 0, (x > 0) * 1.0, soft)


def _pow(xp, a, b):
    return xp.power(a, b)


OPS = {
    "add": lambda xp, a, b: a + b,
    "sub": lambda xp, a, b: a - b,
    "mul": lambda xp, a, b: a * b,
    "div": lambda xp, a, b: a / b,
    "pow": _pow,
    "neg": lambda xp, a: -a,
    "not": lambda xp, a: 1.0 - (a > 0),
    "eq": lambda xp, a, b: (a == b) * 1.0,
    "ne": lambda xp, a, b: (a != b) * 1.0,
    "lt": lambda xp, a, b: (a < b) * 1.0,
    "le": lambda xp, a, b: (a <= b) * 1.0,
    "gt": lambda xp, a, b: (a > b) * 1.0,
    "ge": lambda xp, a, b: (a >= b) * 1.0,
    "even": lambda xp, a: (a % 2 == 0) * 1.0,
    "odd": lambda xp, a: (a % 2 == 1) * 1.0,
    "step": lambda xp, a: (a > 0) * 1.0,
    "sig": _sig,
    "relu": lambda xp, a: xp.maximum(a, 0.0),
    "tanh": lambda xp, a: xp.tanh(a),
    "exp": lambda xp, a: xp.exp(a),
    "log": lambda xp, a: xp.log(a),
    "sqrt": lambda xp, a: xp.sqrt(a),
    "sin": lambda xp, a: xp.sin(a),
    "cos": lambda xp, a: xp.cos(a),
    "abs": lambda xp, a: xp.abs(a),
    "max": lambda xp, a, b: xp.maximum(a, b),
    "min": lambda xp, a, b: xp.minimum(a, b),
    "randunit": randunit_op,
}

_REDUCE = {"sum": "sum", "max": "max", "min": "min", "or": "max"}
NORMALISE = NumpyRuntime(np)   # softmax and lnorm: one definition, shared with generated code
_SPECS: dict[tuple, tuple[str, tuple[str, ...]]] = {}  # (operand vars, out vars) -> (einsum spec, output-only vars)


class Lowerer:
    """Evaluates IR expressions of one equation with a backend."""

    def __init__(self, backend, tensors: dict[str, Any], extents: dict[str, int],
                 fixed: dict[str, int] | None = None) -> None:
        self.be = backend
        self.xp = backend.xp
        self.tensors = tensors
        self.extents = extents
        self.fixed = fixed or {}

    # ------------------------------------------------------------ helpers
    def align(self, lab: Labelled, vars_: tuple[str, ...]) -> Any:
        """Transpose/expand ``lab`` so its axes follow ``vars_`` (missing ones have size 1)."""
        xp = self.xp
        arr = lab.array
        present = [v for v in vars_ if v in lab.vars]
        perm = [lab.vars.index(v) for v in present]
        if perm != list(range(len(perm))):
            arr = xp.transpose(arr, perm)
        shape = [self.extents[v] if v in lab.vars else 1 for v in vars_]
        return xp.reshape(arr, shape)

    def broadcast(self, lab: Labelled, vars_: tuple[str, ...]) -> Any:
        shape = tuple(self.extents[v] for v in vars_)
        return self.xp.broadcast_to(self.align(lab, vars_), shape)

    def positions(self, ix: ir.Index, vars_: tuple[str, ...]) -> Any:
        """Integer positions of an index expression over the axes ``vars_``."""
        xp = self.xp
        n = len(vars_)
        if isinstance(ix, ir.IDiv):
            return xp.floor_divide(self.positions(ix.inner, vars_), ix.divisor)
        pos = ix.const
        for v, c in ix.terms:
            if v in self.fixed:
                pos = pos + c * self.fixed[v]
                continue
            k = vars_.index(v)
            shape = [1] * n
            shape[k] = self.extents[v]
            pos = pos + c * xp.reshape(xp.arange(self.extents[v]), shape)
        return pos

    def mask(self, where: tuple[tuple[ir.Bound, ...], ...], vars_: tuple[str, ...]) -> Any:
        """Where one conjunction of bounds holds, over the axes ``vars_`` (broadcastable)."""
        xp = self.xp
        any_ok = None
        for conj in where:
            ok = None
            for b in conj:
                p = self.positions(b.index, vars_)
                good = (p >= 0) & (p < b.extent)
                ok = good if ok is None else ok & good
            if ok is None:
                return xp.asarray(True)
            any_ok = ok if any_ok is None else any_ok | ok
        return xp.asarray(True) if any_ok is None else any_ok

    # --------------------------------------------------------- evaluation
    def eval(self, e: ir.Expr) -> Labelled:
        method = getattr(self, "_" + type(e).__name__)
        return method(e)

    def _Const(self, e: ir.Const) -> Labelled:
        return Labelled(self.xp.asarray(e.value, dtype=float), ())

    def _IndexValue(self, e: ir.IndexValue) -> Labelled:
        if e.var in self.fixed:
            return Labelled(self.xp.asarray(float(self.fixed[e.var])), ())
        return Labelled(self.xp.arange(self.extents[e.var]) * 1.0, (e.var,))

    def _Data(self, e: ir.Data) -> Labelled:
        arr = self.tensors[("data", e.key)]
        if type(arr).__name__ == "Relation":  # facts stored sparse: densified only if small enough
            arr = arr.to_dense(what="these facts", span=e.span)
        return Labelled(self.be.asarray(arr), e.vars)

    def _Ref(self, e: ir.Ref) -> Labelled:
        arr = self.tensors[("prev", e.tensor) if e.step == -1 else e.tensor]
        if type(arr).__name__ == "Relation":  # a sparse relation read by a dense equation
            arr = self.be.asarray(arr.to_dense(what=f"relation '{e.tensor}'", span=e.span))
        vars_: list[str] = []
        for ix in e.indices:
            for v in ix.vars:
                if v not in vars_ and v not in self.fixed:
                    vars_.append(v)
        out = tuple(vars_)
        plain = all(isinstance(ix, ir.IAffine) and ix.is_var() and ix.vars[0] not in self.fixed
                    for ix in e.indices)
        if plain and len(out) == len(e.indices):
            names = tuple(ix.vars[0] for ix in e.indices)
            for v, n in zip(names, arr.shape):
                if self.extents.get(v, n) != n:
                    return self._gather(arr, e, out)
            return Labelled(arr, names)
        return self._gather(arr, e, out)

    def _gather(self, arr, e: ir.Ref, out: tuple[str, ...]) -> Labelled:
        xp = self.xp
        pos = [self.positions(ix, out) for ix in e.indices]
        if not pos:
            return Labelled(arr, ())
        mask = None
        clipped = []
        for p, n in zip(pos, arr.shape):
            ok = (p >= 0) & (p < n)
            mask = ok if mask is None else (mask & ok)
            clipped.append(xp.clip(p, 0, max(n - 1, 0)))
        shape = tuple(self.extents[v] for v in out)
        if any(n == 0 for n in arr.shape):
            return Labelled(xp.zeros(shape), out)
        vals = arr[tuple(clipped)]
        vals = xp.where(mask, vals, 0.0)
        return Labelled(xp.broadcast_to(vals, shape) if vals.shape != shape else vals, out)

    def _Guard(self, e: ir.Guard) -> Labelled:
        lab = self.eval(e.arg)
        vars_ = list(lab.vars)
        for conj in e.where:
            for b in conj:
                for v in b.index.vars:
                    if v not in vars_ and v not in self.fixed:
                        vars_.append(v)
        out = tuple(vars_)
        arr = self.broadcast(lab, out)
        return Labelled(self.xp.where(self.mask(e.where, out), arr, 0.0), out)

    def _Map(self, e: ir.Map) -> Labelled:
        args = [self.eval(a) for a in e.args]
        vars_: list[str] = []
        for a in args:
            for v in a.vars:
                if v not in vars_:
                    vars_.append(v)
        out = tuple(vars_)
        arrays = [self.align(a, out) for a in args]
        fn = OPS.get(e.fn)
        if fn is None:
            raise TlangRuntimeError(f"no implementation of '{e.fn}' on the {self.be.name} backend", e.span)
        with np.errstate(all="ignore"):
            res = fn(self.xp, *arrays)
        shape = tuple(self.extents[v] for v in out)
        res = self.xp.asarray(res, dtype=float)
        if res.shape != shape:
            res = self.xp.broadcast_to(res, shape)
        return Labelled(res, out)

    def _Normalize(self, e: ir.Normalize) -> Labelled:
        lab = self.eval(e.arg)
        vars_ = list(lab.vars)
        for conj in e.valid:
            for b in conj:
                vars_ += [v for v in b.index.vars if v not in vars_ and v not in self.fixed]
        vars_ = tuple(vars_)
        x = self.broadcast(lab, vars_) if vars_ != lab.vars else lab.array
        ax = vars_.index(e.var)
        valid = self.mask(e.valid, vars_) if e.valid else None
        rt = NORMALISE
        if e.fn == "softmax":
            if e.temperature is not None:
                t = self.eval(e.temperature)
                x = x / self.align(t, vars_)
            return Labelled(rt.softmax(x, ax, valid), vars_)
        return Labelled(rt.lnorm(x, ax, valid), vars_)

    def _Concat(self, e: ir.Concat) -> Labelled:
        xp = self.xp
        lab = self.eval(e.arg)
        keep = tuple(v for v in lab.vars if v not in e.merge)
        order = keep + e.merge
        arr = self.align(lab, order)
        shape = tuple(self.extents[v] for v in keep) + (-1,)
        return Labelled(xp.reshape(arr, shape), keep + (e.into,))

    def _Einsum(self, e: ir.Einsum) -> Labelled:  # a formal einsum: a Contract over its output variables
        return self._Contract(ir.Contract(e.operands, tuple(dict.fromkeys(e.output)), e.semiring, span=e.span))

    def _Contract(self, e: ir.Contract) -> Labelled:
        ops = [self.eval(o) for o in e.operands]
        sr = ir.SEMIRINGS[e.semiring]
        allv: list[str] = []
        for o in ops:
            for v in o.vars:
                if v not in allv:
                    allv.append(v)
        out = tuple(v for v in e.out if v not in self.fixed)
        for v in out:
            if v not in allv:
                allv.append(v)
        if sr.name == "sumprod" and self.xp is np:  # a join over a sparse relation's tuples
            fast = sparse_contract(ops, out, self.extents)
            if fast is not None:
                return Labelled(fast, out)
        if sr.name == "boolean":  # or-and: join the truth values, a true join is a positive count
            ops = [Labelled((o.array > 0) * 1.0, o.vars) for o in ops]
        if sr.plus in ("sum", "avg", "or") and sr.times in ("mul", "and"):
            try:
                res = self._einsum(ops, out)
            except TlangResourceError as err:  # refused by the planner's memory limit: locate it
                if err.span is not None:
                    raise
                raise TlangResourceError(err.message, e.span, err.notes) from None
            if sr.plus == "avg":
                count = 1
                for v in allv:
                    if v not in out:
                        count *= self.extents[v]
                res = res / max(count, 1)
            elif sr.plus == "or":
                res = (res > 0) * 1.0
            return Labelled(res, out)
        return Labelled(self._generic(ops, tuple(allv), out, sr), out)

    def _einsum(self, ops: list[Labelled], out: tuple[str, ...]) -> Any:
        xp = self.xp
        key = (tuple(o.vars for o in ops), out)
        hit = _SPECS.get(key)
        if hit is None:  # the spec depends on the variables only: built once (the backend caches the plan)
            letters: dict[str, str] = {}

            def sym(v: str) -> str:
                if v not in letters:
                    letters[v] = opt_einsum.get_symbol(len(letters))
                return letters[v]

            specs = ["".join(sym(v) for v in o.vars) for o in ops]
            res_spec = "".join(sym(v) for v in out)
            missing = tuple(v for v in out if not any(v in o.vars for o in ops))
            if missing:  # an output-only variable: broadcast by an all-ones operand
                specs.append("".join(sym(v) for v in missing))
            if len(_SPECS) > 4096:
                _SPECS.clear()
            hit = _SPECS[key] = (",".join(specs) + "->" + res_spec, missing)
        spec, missing = hit
        arrays = [o.array for o in ops]
        if missing:
            arrays.append(xp.ones(tuple(self.extents[v] for v in missing)))
        return self.be.einsum(spec, *arrays)

    def _generic(self, ops: list[Labelled], allv: tuple[str, ...], out: tuple[str, ...], sr) -> Any:
        xp = self.xp
        acc = None
        for o in ops:
            a = self.align(o, allv)
            if acc is None:
                acc = a
            elif sr.times == "mul":
                acc = acc * a
            else:
                acc = acc + a
        full = tuple(self.extents[v] for v in allv)
        acc = xp.broadcast_to(acc if acc is not None else xp.asarray(sr.one), full)
        axes = tuple(k for k, v in enumerate(allv) if v not in out)
        if sr.plus == "logsumexp":
            if axes:
                m = xp.max(acc, axis=axes, keepdims=True)
                m = xp.where(xp.isfinite(m), m, 0.0)
                res = xp.log(xp.sum(xp.exp(acc - m), axis=axes, keepdims=True)) + m
                res = xp.squeeze(res, axis=axes)
            else:
                res = acc
        elif axes:
            red = getattr(xp, _REDUCE[sr.plus])
            if any(full[k] == 0 for k in axes):
                shape = tuple(full[k] for k in range(len(full)) if k not in axes)
                res = xp.full(shape, sr.zero)
            else:
                res = red(acc, axis=axes)
        else:
            res = acc
        kept = tuple(v for v in allv if v in out)
        return self.align(Labelled(res, kept), out) if kept != out else res
