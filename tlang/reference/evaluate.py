"""Evaluation: every element a Python float, every aggregate a Python loop.

In: the ``Model`` and its ``Extents``.  Out: every tensor (unrolled: a virtual
tensor keeps its time axis) and the warnings of 16.2.

- An equation loops over the assignments of its LHS variables.  An LHS
  position outside the tensor is dropped; a right-hand side that is not
  *valid* there writes nothing (16.4): a numeric tensor read at an axis
  whose index involves no aggregated variable falls outside it, in a factor
  of a product, in every term of a sum, or in an argument.  Reads at axes
  that involve aggregated variables read 0 outside (zero padding); invalid
  terms of a sum are left out of it.  Relations are sets: a relation read
  outside its axes is false, never invalid.  Values that land on one
  position (``x/S`` on the left) are aggregated with the projection
  operator.
- A tensor is computed from all its equations: the positions each writes
  are combined (summed for ``=``/``+=``/``avg=``, max/min for ``max=`` and
  ``min=``), positions nobody writes are 0, and a Boolean tensor is stepped
  after combining (decision 4.2).
- Tensors are grouped into strongly connected components of "T reads U",
  which run in dependency order (ties in program order).  A recursive one
  starts at 0 and is swept Gauss-Seidel, in the order of each tensor's first
  defining statement, until a sweep changes nothing (|new - old| <= tol
  (1 + |old|)), a value is NaN or runs off to infinity (divergence), the state of two
  sweeps before comes back (oscillation) or ``max_iter`` sweeps have run
  (16.1, 16.2).  Negation must be stratified.
"""

from __future__ import annotations

import heapq
import itertools
import math

from ..embed import randunit_element
from ..source import TlangCheckError, TlangRuntimeError
from .arith import (
    BINARY,
    COMBINE,
    ELEMENTWISE,
    PROJECT,
    SEMIRING_ONE,
    SEMIRINGS,
    Dense,
    close,
    div,
    exp,
    max2,
    negate,
    sqrt,
    step,
)
from .extents import Extents
from .model import Eq, Model
from .scope import (
    Call,
    Concat,
    Const,
    Einsum,
    EinsumSpec,
    IndexValue,
    IxAffine,
    IxConst,
    IxDiv,
    IxFinal,
    IxSlice,
    Node,
    Norm,
    Op,
    Parity,
    Prod,
    Read,
    Sum,
    walk,
)

Assignment = dict[str, int]


class _Context:
    """One equation's extents and which read axes are zero-padded."""

    def __init__(self, eq: Eq, ext: dict[str, int]) -> None:
        self.eq, self.ext, self.op = eq, ext, eq.op
        agg = set(eq.aggregated)
        self.padded: dict[int, list[bool]] = {}
        if eq.rhs is not None:
            for n in walk(eq.rhs):
                if isinstance(n, Read | Einsum):
                    self.padded[id(n)] = [bool(agg & set(ix.vars())) for ix in n.indices]
        self.einsums: dict[int, Dense] = {}


class Evaluator:
    def __init__(self, model: Model, ext: Extents, max_iter: int = 1000, tol: float = 1e-9) -> None:
        self.m, self.ext, self.max_iter, self.tol = model, ext, max_iter, tol
        self.shapes = {n: ext.shape(model, n) for n in model.tensors}
        self.values = {n: Dense(s) for n, s in self.shapes.items()}
        self.eqs_of: dict[str, list[Eq]] = {}
        for eq in model.eqs:
            self.eqs_of.setdefault(eq.tensor, []).append(eq)
        self.contexts = {eq.id: _Context(eq, ext.of(eq)) for eq in model.eqs}
        self.warnings: list[str] = []
        self.nan_origin: dict[str, Eq] = {}
        self.order: list[str] = []
        self._bad: dict[str, Eq] = {}

    # ---------------------------------------------------------- positions
    def pos(self, ix: object, a: Assignment, n: int) -> int:
        if isinstance(ix, IxAffine):
            return sum(c * a[v] for v, c in ix.terms) + ix.const
        if isinstance(ix, IxConst):
            if ix.pos is None:
                return -1
            return ix.pos + n if ix.pos < 0 else ix.pos
        if isinstance(ix, IxDiv):
            return self.pos(ix.inner, a, n) // ix.divisor
        if isinstance(ix, IxSlice):
            start, _, stride = slice(ix.start, ix.stop, ix.step).indices(n)
            return start + stride * a[ix.var]
        if isinstance(ix, IxFinal):
            return n - 1
        raise AssertionError(ix)

    # ---------------------------------------------------------- validity
    def valid(self, n: Node, a: Assignment, E: _Context) -> bool:
        if isinstance(n, Read | Einsum):
            if isinstance(n, Read) and self.m.tensors[n.name].boolean:
                return True
            shape = self.shapes[n.name] if isinstance(n, Read) else self._einsum(n, E).shape
            for k, ix in enumerate(n.indices):
                if not E.padded[id(n)][k] and not 0 <= self.pos(ix, a, shape[k]) < shape[k]:
                    return False
            return True
        if isinstance(n, Sum):
            return any(self.valid(t, a, E) for t in n.terms)
        if isinstance(n, Concat):
            return self._merged(n, a, E, lambda: self.valid(n.arg, a, E), False)
        return all(self.valid(c, a, E) for c in n.children())

    # ---------------------------------------------------------- values
    def value(self, n: Node, a: Assignment, E: _Context) -> float:
        if not n.agg:
            return self.body(n, a, E)
        saved = {v: a.get(v) for v in n.agg}
        xs = []
        for combo in itertools.product(*(range(E.ext[v]) for v in n.agg)):
            a.update(zip(n.agg, combo))
            xs.append(self.body(n, a, E))
        _restore(a, saved)
        return PROJECT[E.op](xs)

    def body(self, n: Node, a: Assignment, E: _Context) -> float:
        if isinstance(n, Const):
            return n.value
        if isinstance(n, Read):
            t = self.values[n.name]
            return t.get([self.pos(ix, a, t.shape[k]) for k, ix in enumerate(n.indices)])
        if isinstance(n, IndexValue):
            return float(a[n.var])
        if isinstance(n, Parity):
            return 1.0 if self.pos(n.index, a, 0) % 2 == (1 if n.odd else 0) else 0.0
        if isinstance(n, Prod):
            acc = 1.0
            for f in n.factors:
                acc *= self.value(f, a, E)
            return acc
        if isinstance(n, Sum):
            acc = 0.0
            for t, s in zip(n.terms, n.signs):
                if self.valid(t, a, E):
                    acc += s * self.value(t, a, E)
            return acc
        if isinstance(n, Op):
            xs = [self.value(c, a, E) for c in n.args]
            if n.op == "neg":
                return -xs[0]
            if n.op == "not":
                return negate(xs[0])
            return BINARY[n.op](xs[0], xs[1])
        if isinstance(n, Call):
            xs = [self.value(c, a, E) for c in n.args]
            if n.fn == "randunit":
                assert isinstance(n.args[1], IndexValue)
                return randunit_element(*xs, dim=E.ext[n.args[1].var])
            return ELEMENTWISE[n.fn](*xs)
        if isinstance(n, Norm):
            return self._normalise(n, a, E)
        if isinstance(n, Concat):
            return self._merged(n, a, E, lambda: self.value(n.arg, a, E), 0.0)
        if isinstance(n, Einsum):
            t = self._einsum(n, E)
            return t.get([self.pos(ix, a, t.shape[k]) for k, ix in enumerate(n.indices)])
        raise AssertionError(n)

    def _normalise(self, n: Norm, a: Assignment, E: _Context) -> float:
        """softmax / lnorm of the argument over every position of the dotted variable."""
        me = a[n.var]
        xs: dict[int, float] = {}
        for k in range(E.ext[n.var]):
            a[n.var] = k
            if self.valid(n.arg, a, E):
                x = self.value(n.arg, a, E)
                xs[k] = div(x, self.value(n.temp, a, E)) if n.temp is not None else x
        a[n.var] = me
        vals = list(xs.values())
        x = xs.get(me, 0.0)
        if n.fn == "softmax":
            m = -math.inf
            for y in vals:
                m = max2(m, y)
            return div(exp(x - m), sum(exp(y - m) for y in vals))
        mean = sum(vals) / len(vals)
        var = sum((y - mean) * (y - mean) for y in vals) / len(vals)
        return div(x - mean, sqrt(var + 1e-5))

    def _merged(self, n: Concat, a: Assignment, E: _Context, then, outside):
        """Evaluate inside concat: the merged variables from the position of ``into`` (row-major)."""
        saved = {v: a.get(v) for v in n.merge}
        r = a[n.into]
        for v in reversed(n.merge):
            a[v], r = r % E.ext[v], r // E.ext[v]
        result = then() if r == 0 else outside
        _restore(a, saved)
        return result

    def _einsum(self, n: Einsum, E: _Context) -> Dense:
        if id(n) not in E.einsums:
            E.einsums[id(n)] = self.einsum(n.spec)
        return E.einsums[id(n)]

    def einsum(self, spec: EinsumSpec) -> Dense:
        """The formal einsum, literally: for every assignment of its letters, the product of the
        operands, aggregated into the output position (docs/einsum.md section 1)."""
        plus, times = SEMIRINGS[spec.semiring]
        ops = [self.values[op] if isinstance(op, str) else self.einsum(op) for op in spec.operands]
        ext: dict[str, int] = {}
        for string, t in zip(spec.inputs, ops):
            if len(string) != len(t.shape):
                raise TlangCheckError(f"the einsum operand string '{''.join(string)}' has {len(string)} "
                                      f"letters but its operand has {len(t.shape)} axes")
            for letter, size in zip(string, t.shape):
                if ext.setdefault(letter, size) != size:
                    raise TlangCheckError(f"einsum letter '{letter}' has extents {ext[letter]} and {size}")
        letters = list(ext)
        out = Dense([ext[x] for x in spec.output])
        landed: dict[tuple, list[float]] = {}
        for combo in itertools.product(*(range(ext[x]) for x in letters)):
            a = dict(zip(letters, combo))
            acc = SEMIRING_ONE[spec.semiring]
            for string, t in zip(spec.inputs, ops):
                acc = times(acc, t.get([a[x] for x in string]))
            landed.setdefault(tuple(a[x] for x in spec.output), []).append(acc)
        zero = plus([])
        for p in out.positions():
            out.vals[out.offset(p)] = plus(landed[p]) if p in landed else zero  # type: ignore[index]
        return out

    # ---------------------------------------------------------- equations
    def write(self, eq: Eq) -> dict[tuple, float]:
        """The positions one equation writes, and their values."""
        shape = self.shapes[eq.tensor]
        E = self.contexts[eq.id]
        E.einsums = {}
        landed: dict[tuple, list[float]] = {}
        if eq.kind == "facts":
            for p in eq.points:
                pos = tuple(self.pos(c, {}, shape[k]) for k, c in enumerate(p))
                if all(0 <= x < n for x, n in zip(pos, shape)):
                    landed.setdefault(pos, []).append(1.0)
        else:
            lhs_vars = eq.lhs_vars()
            for combo in itertools.product(*(range(E.ext[v]) for v in lhs_vars)):
                a = dict(zip(lhs_vars, combo))
                pos = tuple(self.pos(ix, a, shape[k]) for k, ix in enumerate(eq.lhs))
                if not all(0 <= x < n for x, n in zip(pos, shape)):
                    continue
                if eq.data is not None:
                    val = eq.data.get([a[v] for v in eq.data_vars])
                else:
                    assert eq.rhs is not None
                    if not self.valid(eq.rhs, a, E):
                        continue
                    val = self.value(eq.rhs, a, E)
                landed.setdefault(pos, []).append(val)
        return {p: PROJECT[eq.op](xs) for p, xs in landed.items()}

    def compute(self, name: str) -> Dense:
        """A tensor from all of its equations (module docstring)."""
        out = Dense(self.shapes[name])
        total: dict[tuple, float] = {}
        for eq in self.eqs_of.get(name, []):
            for p, v in self.write(eq).items():
                total[p] = v if p not in total else COMBINE[eq.op](total[p], v)
                if not math.isfinite(v) and name not in self._bad:
                    self._bad[name] = eq
        boolean = self.m.tensors[name].boolean
        for p, v in total.items():
            out.vals[out.offset(p)] = step(v) if boolean else v  # type: ignore[index]
        return out

    # ---------------------------------------------------------- strata
    def components(self) -> list[list[str]]:
        """Strongly connected components of "T reads U", dependencies first, ties in program order."""
        names = list(self.m.tensors)
        reads = {n: set() for n in names}
        for eq in self.m.eqs:
            reads[eq.tensor] |= {r for r in eq.reads if r in reads}
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on: set[str] = set()
        comps: list[list[str]] = []

        def strong(v: str) -> None:  # Tarjan
            index[v] = low[v] = len(index)
            stack.append(v)
            on.add(v)
            for w in sorted(reads[v]):
                if w not in index:
                    strong(w)
                    low[v] = min(low[v], low[w])
                elif w in on:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                comps.append(comp)
        for v in names:
            if v not in index:
                strong(v)
        first = {n: self.m.tensors[n].first_def for n in names}
        comps = [sorted(c, key=lambda n: (first[n], n)) for c in comps]
        of = {n: k for k, c in enumerate(comps) for n in c}
        needs = {k: {of[w] for n in c for w in reads[n]} - {k} for k, c in enumerate(comps)}
        users: dict[int, set[int]] = {k: set() for k in needs}
        for k, ds in needs.items():
            for d in ds:
                users[d].add(k)
        heap = [(first[c[0]], k) for k, c in enumerate(comps) if not needs[k]]
        heapq.heapify(heap)
        order = []
        while heap:
            _, k = heapq.heappop(heap)
            order.append(comps[k])
            for u in users[k]:
                needs[u].discard(k)
                if not needs[u]:
                    heapq.heappush(heap, (first[comps[u][0]], u))
        self._check_negation(order, reads)
        return order

    def _check_negation(self, order: list[list[str]], reads: dict[str, set[str]]) -> None:
        for comp in order:
            members = set(comp)
            for t in comp:
                for eq in self.eqs_of.get(t, []):
                    for u in sorted(eq.negated & members):
                        path = _path(u, t, reads, members)
                        cycle = " -> ".join([t] + path)
                        raise TlangCheckError(f"negation is not stratified: '{t}' depends on its own "
                                              f"negation through the cycle {cycle}", eq.span,
                                              ["a relation may not depend on 'not' of itself"])

    # ---------------------------------------------------------- running
    def run(self) -> dict[str, Dense]:
        for comp in self.components():
            recursive = len(comp) > 1 or any(comp[0] in eq.reads for eq in self.eqs_of.get(comp[0], []))
            if recursive:
                self.fixpoint(comp)
            else:
                self.values[comp[0]] = self.compute(comp[0])
                self._note_nan(comp[0])
            self.order.extend(comp)
        return self.values

    def _note_nan(self, name: str) -> None:
        if name in self._bad and any(math.isnan(x) for x in self.values[name].vals):
            self.nan_origin.setdefault(name, self._bad[name])

    def fixpoint(self, comp: list[str]) -> None:
        for t in comp:
            self.values[t] = Dense(self.shapes[t])
        names = ", ".join(comp)
        history = [self._snapshot(comp)]
        virtual = [self.shapes[t][self.m.tensors[t].virtual[0]] for t in comp  # type: ignore[index]
                   if self.m.tensors[t].virtual is not None]
        cap = self.max_iter + max(virtual, default=0)  # an unrolled loop settles one step per sweep
        for sweep in range(1, cap + 1):
            for t in comp:
                self._bad.pop(t, None)
                self.values[t] = self.compute(t)
            snap = self._snapshot(comp)
            # a NaN, or a value that ran off to infinity from a finite one (a stable infinity,
            # such as a min-plus recursion's unreachable pairs, is a value)
            bad = next(((t, x) for t, new, old in zip(comp, snap, history[-1]) for x, y in zip(new, old)
                        if math.isnan(x) or (math.isinf(x) and math.isfinite(y) and sweep > 1)), None)
            if bad is not None:
                t, x = bad
                eq = self._bad.get(t)
                where = f" (equation at {eq.span.short()})" if eq is not None and eq.span else ""
                self.warnings.append(f"recursion over {names} diverged: {t} is {x} after sweep "
                                     f"{sweep}{where}")
                return
            if self._same(snap, history[-1]):
                return
            if len(history) >= 2 and self._same(snap, history[-2]):
                self.warnings.append(f"recursion over {names} oscillates (period 2) from sweep {sweep}")
                return
            history = history[-1:] + [snap]
        self.warnings.append(f"recursion over {names} did not settle within {cap} sweeps")

    def _snapshot(self, comp: list[str]) -> list[list[float]]:
        return [list(self.values[t].vals) for t in comp]

    def _same(self, a: list[list[float]], b: list[list[float]]) -> bool:
        return all(close(x, y, self.tol) for u, w in zip(a, b) for x, y in zip(w, u))


def _restore(a: Assignment, saved: dict[str, int | None]) -> None:
    for v, old in saved.items():
        if old is None:
            a.pop(v, None)
        else:
            a[v] = old


def _path(start: str, goal: str, reads: dict[str, set[str]], within: set[str]) -> list[str]:
    """A shortest path start ->* goal over "reads" edges inside ``within``."""
    prev: dict[str, str | None] = {start: None}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            if v == goal:
                out = []
                w: str | None = v
                while w is not None:
                    out.append(w)
                    w = prev[w]
                return out[::-1]
            for u in sorted(reads[v] & within):
                if u not in prev:
                    prev[u] = v
                    nxt.append(u)
        frontier = nxt
    return [start, goal]


def stored(model: Model, values: dict[str, Dense]) -> dict[str, Dense]:
    """What each tensor stores: a virtual tensor its last time position (16.3)."""
    out = {}
    for name, t in values.items():
        info = model.tensors[name]
        if info.virtual is None:
            out[name] = t
            continue
        k = info.virtual[0]
        n = t.shape[k]
        shape = t.shape[:k] + t.shape[k + 1:]
        s = Dense(shape)
        if n:
            for p in s.positions():
                s.vals[s.offset(p)] = t.get(p[:k] + (n - 1,) + p[k:])  # type: ignore[index]
        out[name] = s
    return out


__all__ = ["Evaluator", "stored", "TlangRuntimeError"]
