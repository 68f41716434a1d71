"""The IR executed literally: the formal semantics of each IR node, for translation validation.

In: a ``ProgramIR`` (``evaluate``, ``answers``) or program text (``run``).
Out: every tensor as a numpy array (``evaluate``, ``run``) and the query
answers (``answers``, the same ``Answer`` objects as ``tlang.engine``).

It checks the executors and the rewrite pass on one IR (``--verify``, the
differential tests of the engine and of generated code); the oracle of the
whole pipeline, source to answer, is ``tlang.reference``, which shares
nothing with the compiler.  This module shares only the IR and the dependency
analysis (``engine.strata``) with the numpy engine.  Every
element is a Python float computed by looping over index assignments with
``itertools.product``: an expression is evaluated for one assignment of its
free index variables to integers, a ``Contract`` loops over the assignments
of the variables it aggregates, an equation loops over its LHS variables and
combines the elements that land on one target with its projection operator.
No einsum, no broadcasting; numpy appears only at the very end (conversion)
and in the query step (``engine.answer``).  Slow, and meant for tiny inputs.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from . import ir
from .engine import Answer, ConvergenceWarning, answer
from .schedule import Accumulate, Advance, Compute, Fixpoint, Step, role, schedule

INF = math.inf
NAN = math.nan
Assignment = dict[str, int]


# --------------------------------------------------------------- storage

class _Tensor:
    """A dense tensor as a flat row-major list of Python floats."""

    __slots__ = ("shape", "vals")

    def __init__(self, shape: tuple[int, ...], vals: list[float] | None = None) -> None:
        self.shape = tuple(shape)
        self.vals = vals if vals is not None else [0.0] * math.prod(self.shape)

    def offset(self, pos: Sequence[int]) -> int | None:
        """Row-major offset of ``pos``, or None when it is out of range on some axis."""
        off = 0
        for p, n in zip(pos, self.shape):
            if not 0 <= p < n:
                return None
            off = off * n + p
        return off

    def get(self, pos: Sequence[int]) -> float:
        off = self.offset(pos)
        return 0.0 if off is None else self.vals[off]

    @staticmethod
    def of(arr: object) -> _Tensor:
        a = np.asarray(arr, dtype=float)
        return _Tensor(a.shape, [float(x) for x in a.ravel().tolist()])

    def to_numpy(self) -> np.ndarray:
        return np.array(self.vals, dtype=float).reshape(self.shape)


# ----------------------------------------------------- elementwise functions

def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return INF


def _div(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:  # IEEE: x/0 = ±inf, 0/0 = nan
        if a == 0 or math.isnan(a):
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)


def _odd_int(y: float) -> bool:
    return math.isfinite(y) and y == int(y) and int(y) % 2 == 1


def _pow(x: float, y: float) -> float:
    try:
        return math.pow(x, y)
    except OverflowError:
        return -INF if x < 0 and _odd_int(y) else INF
    except ValueError:  # math.pow rejects 0 ** negative (IEEE: inf) and negative ** fraction (nan)
        if x == 0 and y < 0:
            return math.copysign(INF, x) if _odd_int(y) else INF
        return NAN


def _log(x: float) -> float:
    if x > 0:
        return math.log(x)
    return -INF if x == 0 else NAN


def _sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0 else NAN


def _trig(f: Callable[[float], float]) -> Callable[[float], float]:
    def g(x: float) -> float:
        return f(x) if math.isfinite(x) else NAN
    return g


def _step(x: float) -> float:
    return 1.0 if x > 0 else 0.0


def _sig(x: float, t: float | None = None) -> float:
    if t is None:
        return 1.0 / (1.0 + _exp(-x))
    if t == 0:
        return _step(x)
    return 1.0 / (1.0 + _exp(-_div(x, t)))


def _max2(a: float, b: float) -> float:
    return NAN if math.isnan(a) or math.isnan(b) else max(a, b)


def _min2(a: float, b: float) -> float:
    return NAN if math.isnan(a) or math.isnan(b) else min(a, b)


def _b(c: bool) -> float:
    return 1.0 if c else 0.0


OPS: dict[str, Callable[..., float]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": _div,
    "pow": _pow,
    "neg": lambda a: -a,
    "not": lambda a: 1.0 - _step(a),
    "eq": lambda a, b: _b(a == b),
    "ne": lambda a, b: _b(a != b),
    "lt": lambda a, b: _b(a < b),
    "le": lambda a, b: _b(a <= b),
    "gt": lambda a, b: _b(a > b),
    "ge": lambda a, b: _b(a >= b),
    "even": lambda a: _b(a % 2 == 0),
    "odd": lambda a: _b(a % 2 == 1),
    "step": _step,
    "sig": _sig,
    "relu": lambda a: a if math.isnan(a) else max(a, 0.0),
    "tanh": math.tanh,
    "exp": _exp,
    "log": _log,
    "sqrt": _sqrt,
    "sin": _trig(math.sin),
    "cos": _trig(math.cos),
    "abs": abs,
    "max": _max2,
    "min": _min2,
}


# ------------------------------------------------------------- semirings

def _nanfold(f: Callable[[float, float], float], zero: float) -> Callable[[list[float]], float]:
    def agg(xs: list[float]) -> float:
        acc = zero
        for x in xs:
            acc = f(acc, x)
        return acc
    return agg


def _logsumexp(xs: list[float]) -> float:
    m = _nanfold(_max2, -INF)(xs)
    m0 = m if math.isfinite(m) else 0.0
    return _log(sum(_exp(x - m0) for x in xs)) + m0


PLUS: dict[str, Callable[[list[float]], float]] = {
    "sum": lambda xs: sum(xs, 0.0),
    "max": _nanfold(_max2, -INF),
    "min": _nanfold(_min2, INF),
    "or": lambda xs: _b(any(x > 0 for x in xs)),
    "logsumexp": _logsumexp,
    "avg": lambda xs: sum(xs, 0.0) / len(xs) if xs else 0.0,
}

TIMES: dict[str, Callable[[float, float], float]] = {
    "mul": lambda a, b: a * b,
    "add": lambda a, b: a + b,
    "and": lambda a, b: _b(a > 0 and b > 0),
}

# projection operator of an equation -> how elements landing on one target combine
PROJECT: dict[str, Callable[[list[float]], float]] = {
    "=": PLUS["sum"], "+=": PLUS["sum"], "max=": PLUS["max"], "min=": PLUS["min"], "avg=": PLUS["avg"],
}
# projection operator -> how several equations with one LHS combine
COMBINE: dict[str, Callable[[float, float], float]] = {
    "=": TIMES["add"], "+=": TIMES["add"], "avg=": TIMES["add"], "max=": _max2, "min=": _min2,
}


# ------------------------------------------------------------ expressions

def position(ix: ir.Index, a: Assignment) -> int:
    """The integer position an index expression denotes under the assignment ``a``."""
    if isinstance(ix, ir.IDiv):
        return position(ix.inner, a) // ix.divisor  # floor division
    return sum(c * a[v] for v, c in ix.terms) + ix.const


def holds(where: tuple[tuple[ir.Bound, ...], ...], a: Assignment) -> bool:
    """Whether one conjunction of bounds holds under ``a`` (an empty ``where``: always)."""
    return not where or any(all(0 <= position(b.index, a) < b.extent for b in conj) for conj in where)


class _Context:
    """The tensors, data and index extents one equation is evaluated with."""

    def __init__(self, tensors: dict[str, _Tensor], data: dict[str, _Tensor],
                 extents: dict[str, int]) -> None:
        self.tensors, self.data, self.extents = tensors, data, extents

    def assignments(self, vars_: Sequence[str], a: Assignment) -> list[Assignment]:
        """``a`` extended by every assignment of ``vars_`` (in row-major order)."""
        ranges = [range(self.extents[v]) for v in vars_]
        return [{**a, **dict(zip(vars_, combo))} for combo in itertools.product(*ranges)]

    def eval(self, e: ir.Expr, a: Assignment) -> float:
        rule = _EVAL.get(type(e))
        if rule is None:
            raise TypeError(f"the reference has no semantics for {type(e).__name__} nodes")
        return rule(self, e, a)

    def _ref(self, e: ir.Ref, a: Assignment) -> float:
        t = self.tensors[("prev", e.tensor) if e.step == -1 else e.tensor]
        return t.get([position(ix, a) for ix in e.indices])

    def _data(self, e: ir.Data, a: Assignment) -> float:
        return self.data[e.key].get([a[v] for v in e.vars])

    def _map(self, e: ir.Map, a: Assignment) -> float:
        if e.fn == "randunit":  # element d of a random unit row: its length is the extent of d
            from .embed import randunit_element
            d = e.args[1]
            dim = self.extents[d.var] if isinstance(d, ir.IndexValue) and d.var in self.extents else 0
            return randunit_element(*(self.eval(x, a) for x in e.args), dim=dim)
        return OPS[e.fn](*(self.eval(x, a) for x in e.args))

    def _contract(self, e: ir.Contract, a: Assignment) -> float:
        sr = ir.SEMIRINGS[e.semiring]
        agg: list[str] = []
        for o in e.operands:
            for v in ir.free_vars(o):
                if v not in e.out and v not in agg:
                    agg.append(v)
        times = TIMES[sr.times]
        values = []
        for b in self.assignments(agg, a):
            acc = self.eval(e.operands[0], b)
            for o in e.operands[1:]:
                acc = times(acc, self.eval(o, b))
            values.append(acc)
        return PLUS[sr.plus](values) if values else sr.zero

    def _normalize(self, e: ir.Normalize, a: Assignment) -> float:
        if not holds(e.valid, a):
            return 0.0
        xs, here = [], None
        for b in self.assignments([e.var], a):
            if not holds(e.valid, b):
                continue  # over the positions that exist only
            x = self.eval(e.arg, b)
            if e.temperature is not None:
                x = _div(x, self.eval(e.temperature, b))
            if b[e.var] == a[e.var]:
                here = len(xs)
            xs.append(x)
        x = xs[here]
        if e.fn == "softmax":
            m = PLUS["max"](xs)
            return _div(_exp(x - m), sum(_exp(y - m) for y in xs))
        if e.fn == "lnorm":
            mean = sum(xs) / len(xs)
            var = sum((y - mean) * (y - mean) for y in xs) / len(xs)
            return _div(x - mean, _sqrt(var + 1e-5))
        raise ValueError(f"unknown normalisation '{e.fn}'")

    def _guard(self, e: ir.Guard, a: Assignment) -> float:
        return self.eval(e.arg, a) if holds(e.where, a) else 0.0

    def _concat(self, e: ir.Concat, a: Assignment) -> float:
        b, r = dict(a), a[e.into]
        for v in reversed(e.merge):  # row-major: the last merged variable varies fastest
            b[v], r = r % self.extents[v], r // self.extents[v]
        del b[e.into]
        return self.eval(e.arg, b)


_EVAL: dict[type, Callable[[_Context, ir.Expr, Assignment], float]] = {
    ir.Ref: _Context._ref,
    ir.Const: lambda ctx, e, a: float(e.value),
    ir.IndexValue: lambda ctx, e, a: float(a[e.var]),
    ir.Data: _Context._data,
    ir.Map: _Context._map,
    ir.Contract: _Context._contract,
    ir.Einsum: lambda ctx, e, a: ctx._contract(  # the IR convention of tlang.formal_ir
        ir.Contract(e.operands, tuple(dict.fromkeys(e.output)), e.semiring), a),
    ir.Normalize: _Context._normalize,
    ir.Concat: _Context._concat,
    ir.Guard: _Context._guard,
}


# ---------------------------------------------------------------- program

class _Interpreter:
    def __init__(self, prog: ir.ProgramIR, max_iter: int) -> None:
        self.prog, self.max_iter = prog, max_iter
        self.data = {k: _Tensor.of(v) for k, v in prog.data.items()}
        self.tensors = {n: _Tensor(t.stored_shape) for n, t in prog.tensors.items()}
        self.by_lhs: dict[str, list[tuple[int, ir.Equation]]] = {}
        for k, eq in enumerate(prog.equations):
            self.by_lhs.setdefault(eq.lhs, []).append((k, eq))

    def write(self, k: int, eq: ir.Equation, fixed: Assignment) -> _Tensor:
        """One equation's contribution to its LHS: zero where it writes nothing."""
        extents = {v: n for (i, v), n in self.prog.var_extents.items() if i == k}
        ctx = _Context(self.tensors, self.data, extents)
        lhs_vars = list(dict.fromkeys(v for ix in eq.indices for v in ix.vars if v not in fixed))
        out = _Tensor(self.prog.tensors[eq.lhs].stored_shape)
        if len(eq.indices) != len(out.shape):
            raise ValueError(f"malformed IR: '{eq.lhs}' has {len(out.shape)} stored axes but "
                             f"equation {k} writes {len(eq.indices)} indices")
        landed: dict[int, list[float]] = {}
        for a in ctx.assignments(lhs_vars, fixed):
            if not holds(eq.where, a):
                continue  # its inputs do not exist there: not written
            off = out.offset([position(ix, a) for ix in eq.indices])
            if off is not None:  # out-of-range targets are dropped
                landed.setdefault(off, []).append(ctx.eval(eq.rhs, a))
        for off, xs in landed.items():
            out.vals[off] = PROJECT[eq.op](xs)
        self.landed = set(landed)
        return out

    def combine(self, name: str, eqs: list[tuple[int, ir.Equation]], fixed: Assignment) -> _Tensor:
        info = self.prog.tensors[name]
        total: _Tensor | None = None
        hit: set[int] = set()
        for k, eq in eqs:
            t = self.write(k, eq, fixed)
            if total is None:
                total, hit = t, set(self.landed)
            elif eq.op in ("max=", "min="):  # only the equations that write a position compete there
                total.vals = [COMBINE[eq.op](x, y) if off in hit and off in self.landed else
                              y if off in self.landed else x
                              for off, (x, y) in enumerate(zip(total.vals, t.vals))]
                hit |= self.landed
            else:
                total.vals = [COMBINE[eq.op](x, y) for x, y in zip(total.vals, t.vals)]
                hit |= self.landed
        if total is None:
            total = _Tensor(info.stored_shape)
        if info.boolean:
            total.vals = [_step(x) for x in total.vals]
        return total

    def equations(self, name: str, kind: str) -> list[tuple[int, ir.Equation]]:
        return [(k, e) for k, e in self.by_lhs.get(name, []) if role(e) == kind]

    def step(self, st: Step, fixed: Assignment) -> None:
        """One step of the schedule (``tlang.schedule``), literally."""
        if isinstance(st, Compute):
            self.tensors[st.tensor] = self.combine(st.tensor, self.equations(st.tensor, "plain"), fixed)
        elif isinstance(st, Advance):
            eqs = self.equations(st.tensor, "step")
            new = self.combine(st.tensor, eqs, fixed)
            var, offset = eqs[0][1].virtual
            if offset == 0 and fixed.get(var) == 0:  # time 0: the start writes there too
                vals = [x + y for x, y in zip(new.vals, self.tensors[("prev", st.tensor)].vals)]
                new = _Tensor(new.shape, [_step(x) for x in vals] if self.prog.tensors[st.tensor].boolean else vals)
            self.tensors[st.tensor] = new
        elif isinstance(st, Accumulate):
            eqs = self.equations(st.tensor, "acc")
            new = self.combine(st.tensor, eqs, fixed)
            old = self.tensors[st.tensor]
            f = COMBINE[eqs[0][1].op]
            vals = [f(x, y) for x, y in zip(old.vals, new.vals)]
            if self.prog.tensors[st.tensor].boolean:
                vals = [_step(x) for x in vals]
            self.tensors[st.tensor] = _Tensor(old.shape, vals)
        elif isinstance(st, Fixpoint):
            for t in st.tensors:  # every element starts at 0
                self.tensors[t] = _Tensor(self.prog.tensors[t].stored_shape)
            for _ in range(self.max_iter):  # in turn: each step sees what the earlier ones wrote
                old = {t: self.tensors[t] for t in st.tensors}
                for s in st.steps:
                    self.step(s, fixed)
                if all(self._same(old[t], self.tensors[t], self.prog.tensors[t].boolean) for t in st.tensors):
                    return
            warnings.warn(ConvergenceWarning(
                f"ir_literal: recursion over {', '.join(st.tensors)} did not converge in "
                f"{self.max_iter} iterations"), stacklevel=3)
        else:  # Loop
            for t in st.buffers + st.accumulators:
                self.tensors[t] = self.combine(t, self.equations(t, "plain"), fixed)
            for s in range(st.length if st.length is not None else self.max_iter):
                old = {t: self.tensors[t] for t in st.buffers}
                for t in st.buffers:
                    self.tensors[("prev", t)] = old[t]
                for b in st.body:
                    self.step(b, {**fixed, st.var: s})
                if st.length is None and all(self._same(old[t], self.tensors[t], False) for t in st.buffers):
                    return

    def run(self) -> dict[str, _Tensor]:
        for st in schedule(self.prog).steps:
            self.step(st, {})
        return {n: t for n, t in self.tensors.items() if isinstance(n, str)}

    @staticmethod
    def _same(old: _Tensor, new: _Tensor, boolean: bool) -> bool:
        def eq(x: float, y: float) -> bool:
            if x == y:
                return True
            return not boolean and abs(x - y) <= 1e-9 * (1 + abs(x))
        return all(eq(x, y) for x, y in zip(old.vals, new.vals))


# ------------------------------------------------------------- public API

def evaluate(prog: ir.ProgramIR, max_iter: int = 1000) -> dict[str, np.ndarray]:
    """Every tensor of ``prog`` (stored shape: a virtual axis is not stored) as a numpy array."""
    return {n: t.to_numpy() for n, t in _Interpreter(prog, max_iter).run().items()}


def answers(prog: ir.ProgramIR, max_iter: int = 1000) -> list[Answer]:
    """The answers to the program's queries, computed from the reference tensors."""
    tensors = evaluate(prog, max_iter)
    return [answer(prog, q, tensors) for q in prog.queries]


def run(source: str, max_iter: int = 1000) -> dict[str, np.ndarray]:
    """Parse, build and evaluate program text with the reference semantics."""
    from .api import expand, load_program
    from .build import build
    program, base = load_program(source)
    return evaluate(build(expand(program, base), base), max_iter)


__all__ = ["evaluate", "answers", "run", "position", "OPS", "PLUS", "TIMES"]
