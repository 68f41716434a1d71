"""Engine: evaluate a whole ``ProgramIR`` and answer its queries.

In: a ``ProgramIR`` and a backend name.  Out: ``Results`` (every tensor as a
numpy array, and one ``Answer`` per query).  It runs the program's
``tlang.schedule``: components in dependency order, a recursive one by
Gauss-Seidel sweeps in program order until nothing changes (semi-naive for
Boolean rules whose bodies are joins; NaN, a value running off to infinity
and a period-2 oscillation are reported, never taken for a fixpoint), and
virtual-index loops whose tensors advance together one step at a time.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import ir
from .lower import Labelled, Lowerer
from .schedule import (
    Advance,
    Compute,
    Fixpoint,
    Loop,
    Schedule,
    Step,
    reads,
    role,
    schedule,
    strata,  # noqa: F401  (re-exported: the components in dependency order)
    tensors_of,
)
from .source import TlangError, TlangResourceError, TlangRuntimeError

COMBINE = {"=": "sum", "+=": "sum", "avg=": "avg", "max=": "max", "min=": "min"}


class ConvergenceWarning(UserWarning):
    """A numeric recursion did not converge within ``max_iter``."""


@dataclass
class Options:
    backend: str = "numpy"
    max_iter: int = 1000
    tol: float = 1e-9
    memory_limit: int | None = None   # bytes; None: tlang.limits.default_memory_limit()
    timeout: float | None = None      # seconds
    semi_naive: bool = True
    strict: bool = False              # a recursion that diverges, oscillates or does not settle is an error
    relational: str = "auto"          # Boolean strata on sparse relations: auto | always | never
    x64: bool | None = None          # jax: float64 (None: TLANG_X64, else JAX's own setting)


# ------------------------------------------------------------- dependencies

def _reads(eq: ir.Equation) -> list[tuple[str, bool]]:
    """(tensor, negated) pairs read by an equation's RHS, minus the reads of a loop's own steps."""
    return [(t, neg) for t, neg, step in reads(eq) if step is None]


# ----------------------------------------------------------------- results

@dataclass
class Answer:
    query: str
    kind: str                       # tensor | scalar | relation | bool
    shape: tuple[int, ...] = ()
    value: Any = None
    vars: tuple[str, ...] = ()
    tuples: list[tuple] = field(default_factory=list)

    def to_json(self) -> dict:
        out: dict[str, Any] = {"query": self.query, "kind": self.kind}
        if self.kind in ("tensor", "scalar"):
            out["shape"] = list(self.shape)
            out["value"] = _jsonable(self.value)
        elif self.kind == "bool":
            out["value"] = bool(self.value)
        else:
            out["vars"] = list(self.vars)
            out["tuples"] = [list(t) for t in self.tuples]
        return out


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return str(v)
        if v.is_integer() and abs(v) < 2 ** 53:
            return v
        return v
    return v


@dataclass
class Results:
    tensors: dict[str, np.ndarray]
    answers: list[Answer]
    program: ir.ProgramIR | None = None

    def __getitem__(self, name: str) -> np.ndarray:
        return self.tensors[name]

    def __contains__(self, name: str) -> bool:
        return name in self.tensors


# ------------------------------------------------------------------ engine

class Engine:
    def __init__(self, prog: ir.ProgramIR, options: Options | None = None) -> None:
        from .backends import get_backend
        self.prog = prog
        self.opt = options or Options()
        if self.opt.memory_limit is None:
            from .limits import default_memory_limit
            self.opt = dataclasses.replace(self.opt, memory_limit=default_memory_limit())
        self.be = get_backend(self.opt.backend)
        self.values: dict[Any, Any] = {}
        self.by_lhs: dict[str, list[tuple[int, ir.Equation]]] = {}
        self.eq_extents: dict[int, dict[str, int]] = {}
        for (i, v), n in prog.var_extents.items():
            self.eq_extents.setdefault(i, {})[v] = n
        for k, eq in enumerate(prog.equations):
            self.by_lhs.setdefault(eq.lhs, []).append((k, eq))
        self.deadline = None
        self.sparse: dict[str, list] = {}  # tensor -> relational rules (set by run)

    def _check_memory(self) -> None:
        limit = self.opt.memory_limit
        if limit is None:
            return
        passed = self.prog.__dict__.setdefault("_memory_ok", set())  # a program re-run is not re-planned
        if (limit, frozenset(self.sparse)) in passed:
            return
        self._predict_memory(limit)
        passed.add((limit, frozenset(self.sparse)))

    def _predict_memory(self, limit: int) -> None:
        for name, info in self.prog.tensors.items():
            if name in self.sparse:
                continue
            n = int(np.prod(info.stored_shape, dtype=object)) * 8
            if n > limit:
                what = f"'{name}'" if not name.startswith("_cse") else "a subexpression shared by equations"
                raise TlangResourceError(
                    f"{what} would need {n:,} bytes (shape {info.stored_shape}), over the memory "
                    f"limit of {limit:,} bytes", info.span, ["raise it with --memory-limit"])
        from .plan_program import check_memory  # every intermediate and contraction plan, before allocation
        prog = self.prog
        if self.sparse:  # relations on the relational path allocate no dense intermediates
            import dataclasses
            keep = [k for k, eq in enumerate(prog.equations) if eq.lhs not in self.sparse]
            new = {k: j for j, k in enumerate(keep)}
            prog = dataclasses.replace(prog, equations=tuple(prog.equations[k] for k in keep),
                                       var_extents={(new[k], v): n for (k, v), n in prog.var_extents.items()
                                                    if k in new})
        check_memory(prog, limit)

    def schedule(self) -> Schedule:
        order = self.prog.__dict__.get("_schedule")
        if order is None:
            order = self.prog.__dict__["_schedule"] = schedule(self.prog)
        return order

    def run(self) -> Results:
        if self.opt.timeout:
            self.deadline = time.monotonic() + self.opt.timeout
        from .relational import Relation
        from .relational_rules import plan, result_value
        sched = self.schedule()
        # Boolean strata that run on sparse relations (tlang.relational_rules), never allocated dense
        self.sparse = plan(self.prog, [list(c) for c in sched.strata], self.by_lhs, self.eq_extents,
                           self.opt.relational)
        self._check_memory()
        for key, arr in self.prog.data.items():
            self.values[("data", key)] = arr
        for name, info in self.prog.tensors.items():
            if name in self.sparse:
                self.values[name] = Relation.empty(info.stored_shape)
            else:
                self.values[name] = self.be.asarray(np.zeros(info.stored_shape))
        from .plan import memory_scope
        done: set[str] = set()
        try:
            with memory_scope(self.opt.memory_limit):  # contractions are planned (sliced) under the limit
                for step in sched.steps:
                    self.run_step(step)
                    done.update(tensors_of(step))
        except TlangError as e:  # nothing lost: answer the queries whose tensors were finished
            finished = {n: result_value(v) if isinstance(v := self.values[n], Relation)
                        else np.asarray(self.be.to_numpy(v)) for n in done}
            e.partial_answers = [answer(self.prog, q, finished) for q in self.prog.queries
                                 if q.tensor in finished]
            raise
        tensors = {n: result_value(v) if isinstance(v := self.values[n], Relation)
                   else np.asarray(self.be.to_numpy(v)) for n in self.prog.tensors}
        answers = [answer(self.prog, q, tensors) for q in self.prog.queries]
        report_nan(self.prog, tensors, answers, self.opt.strict)
        return Results(tensors, answers, self.prog)

    def _tick(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            eqs = [eq for t in self._current for _, eq in self.by_lhs.get(t, [])]
            raise TlangResourceError(f"the run exceeded its time limit of {self.opt.timeout} s",
                                     eqs[0].span if eqs else None,
                                     [f"while computing {', '.join(self._current)}", "raise it with --timeout"])

    _current: tuple[str, ...] = ()

    # ------------------------------------------------------ the schedule
    def run_step(self, step: Step, fixed: dict[str, int] | None = None) -> None:
        """Run one step of the schedule (``tlang.schedule``) on the current values."""
        fixed = fixed or {}
        self._current = tensors_of(step)
        if isinstance(step, Compute):
            if step.tensor in self.sparse:
                self._sparse([step.tensor])
            else:
                self.values[step.tensor] = self.compute(step.tensor, fixed=fixed)
        elif isinstance(step, Fixpoint):
            self._fixpoint(step, fixed)
        elif isinstance(step, Loop):
            self._loop(step, fixed)
        elif isinstance(step, Advance):
            value = self._equations(step.tensor, "step", fixed)
            if self._at_start(step.tensor, fixed):  # written at *t, step 0 is time 0: its start too
                value = value + self.values[("prev", step.tensor)]
                if self.prog.tensors[step.tensor].boolean:
                    value = (value > 0) * 1.0
            self.values[step.tensor] = value
        else:  # Accumulate: this step's contribution, combined with the projection operator
            self.values[step.tensor] = self._accumulate(step.tensor, self._equations(step.tensor, "acc", fixed))

    def _at_start(self, name: str, fixed: dict[str, int]) -> bool:
        eq = next((e for _, e in self.by_lhs.get(name, []) if e.virtual is not None), None)
        return eq is not None and eq.virtual[1] == 0 and fixed.get(eq.virtual[0]) == 0

    def _sparse(self, comp: list[str]) -> None:
        from .relational_rules import run_component
        shapes = {t: self.prog.tensors[t].stored_shape for t in self.prog.tensors}
        self.values.update(run_component(comp, self.sparse, self.values, shapes, self._tick))

    def _fixpoint(self, st: Fixpoint, fixed: dict[str, int]) -> None:
        comp = list(st.tensors)
        if all(t in self.sparse for t in comp):
            self._sparse(comp)
            return
        plain = all(isinstance(s, Compute) for s in st.steps)
        if plain and self.opt.semi_naive and all(self.prog.tensors[t].boolean for t in comp) \
                and self._seminaive_ok(comp):
            self._seminaive(comp)
            return
        xp = self.be.xp
        for t in comp:  # every element starts at its default, 0
            self.values[t] = xp.zeros(self.prog.tensors[t].stored_shape)
        before: dict[str, Any] | None = None
        for sweep in range(1, self.opt.max_iter + 1):
            self._tick()
            old = {t: self.values[t] for t in comp}
            for s in st.steps:  # in turn: each sees what the earlier ones just wrote
                self.run_step(s, fixed)
            self._current = st.tensors
            new = {t: self.values[t] for t in comp}
            bad = self._diverged(old, new, sweep)
            if bad is not None:
                self._report(f"recursion over {', '.join(comp)} diverged: {bad} after sweep {sweep}", comp)
                return
            if all(self._same(old[t], new[t]) for t in comp):
                return
            if before is not None and all(self._same(before[t], new[t]) for t in comp):
                self._report(f"recursion over {', '.join(comp)} oscillates: sweep {sweep} repeats sweep "
                             f"{sweep - 2} (period 2)", comp)
                return
            before = old
        self._report(f"recursion over {', '.join(comp)} did not converge in {self.opt.max_iter} iterations",
                     comp)

    def _loop(self, st: Loop, fixed: dict[str, int]) -> None:
        for t in st.buffers + st.accumulators:  # the buffers' initial values, the accumulators' own terms
            self.values[t] = self.compute(t, fixed=fixed)
        steps = st.length if st.length is not None else self.opt.max_iter
        for s in range(steps):
            self._tick()
            old = {t: self.values[t] for t in st.buffers}
            for t in st.buffers:
                self.values[("prev", t)] = old[t]
            inner = {**fixed, st.var: s}
            for b in st.body:
                self.run_step(b, inner)
            self._current = st.buffers + st.accumulators
            new = {t: self.values[t] for t in st.buffers}
            if st.length is None:  # nothing fixes the length: run until the buffers stop changing
                bad = self._diverged(old, new, s + 1)
                if bad is not None:
                    self._report(f"the loop over {st.var} diverged: {bad} after step {s + 1}", st.buffers)
                    return
                if all(self._same(old[t], new[t]) for t in st.buffers):
                    return
        if st.length is None:
            self._report(f"the loop over {st.var} did not settle in {self.opt.max_iter} steps (nothing fixes "
                         f"its length: declare it, e.g. 'index {st.var} : 10')", st.buffers)

    def _accumulate(self, name: str, contrib: Any) -> Any:
        xp = self.be.xp
        acc = self.values[name]
        op = next(COMBINE[eq.op] for _, eq in self.by_lhs[name] if eq.accumulate is not None)
        if op == "max":
            acc = xp.maximum(acc, contrib)
        elif op == "min":
            acc = xp.minimum(acc, contrib)
        else:
            acc = acc + contrib
        return (acc > 0) * 1.0 if self.prog.tensors[name].boolean else acc

    # ------------------------------------------------- divergence and NaN
    def _diverged(self, old: dict[str, Any], new: dict[str, Any], sweep: int) -> str | None:
        """The first element that became NaN, or became ±inf from a finite value (never a fixpoint)."""
        for t, v in new.items():
            a = np.asarray(self.be.to_numpy(v), dtype=float)
            b = np.asarray(self.be.to_numpy(old[t]), dtype=float)
            bad = np.isnan(a) | (np.isinf(a) & np.isfinite(b) & (sweep > 1))
            if bad.any():
                pos = tuple(int(x) for x in np.argwhere(bad)[0])
                where = f"{t}[{', '.join(map(str, pos))}]" if pos else t
                return f"{where} is {a[pos] if pos else float(a)}"
        return None

    def _report(self, message: str, tensors) -> None:
        """A recursion that cannot give a value: a warning, or an error with ``--strict``."""
        eqs = [eq for t in tensors for _, eq in self.by_lhs.get(t, []) if eq.kind not in ("data", "fact")]
        where = ", ".join(eq.span.where() for eq in eqs if eq.span)
        if self.opt.strict:
            raise TlangRuntimeError(message, eqs[0].span if eqs else None,
                                    [f"equations at {where}"] if where else [])
        warnings.warn(ConvergenceWarning(f"{message} (equations at {where})" if where else message),
                      stacklevel=3)

    def _same(self, a, b) -> bool:
        a, b = np.asarray(self.be.to_numpy(a)), np.asarray(self.be.to_numpy(b))
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=self.opt.tol, atol=self.opt.tol,
                                                       equal_nan=False))

    # ------------------------------------------------------ one tensor
    def compute(self, name: str, override: dict | None = None, fixed: dict[str, int] | None = None) -> Any:
        """The value of ``name`` from its equations (not a loop's per-step ones) and the current values."""
        return self._equations(name, "plain", fixed or {}, override)

    def _equations(self, name: str, kind: str, fixed: dict[str, int], override: dict | None = None) -> Any:
        info = self.prog.tensors[name]
        eqs = [(k, e) for k, e in self.by_lhs.get(name, []) if role(e) == kind]
        values = self.values if override is None else {**self.values, **override}
        return self._combine(name, info, eqs, values, fixed)

    def _combine(self, name: str, info: ir.TensorInfo, eqs, values, fixed) -> Any:
        xp = self.be.xp
        shape = info.stored_shape
        acc = hit = None
        masked = len(eqs) > 1 and any(COMBINE[eq.op] in ("max", "min") for _, eq in eqs)
        for k, eq in eqs:
            contrib, written = self._write(k, eq, values, fixed, shape, masked)
            this = COMBINE[eq.op]
            if acc is None:
                acc, hit = contrib, written
            elif this in ("max", "min"):  # only the equations that write a position compete there
                best = (xp.maximum if this == "max" else xp.minimum)(acc, contrib)
                acc = xp.where(hit & written, best, xp.where(written, contrib, acc))
                hit = hit | written
            else:
                acc = acc + contrib
                hit = None if hit is None or written is None else hit | written
        if acc is None:
            acc = xp.zeros(shape)
        if info.boolean:
            acc = (acc > 0) * 1.0
        return acc

    def write(self, k: int, eq: ir.Equation, values, fixed, shape, with_mask: bool = False) -> Any:
        """One equation's contribution to its LHS (zeros where it writes nothing); with
        ``with_mask``, the pair (contribution, the positions it writes)."""
        vals, written = self._write(k, eq, values, fixed, shape, with_mask)
        return (vals, written) if with_mask else vals

    def _write(self, k: int, eq: ir.Equation, values, fixed, shape, with_mask: bool):
        extents = self.eq_extents.get(k, {})
        low = Lowerer(self.be, values, extents, fixed)
        rhs: Labelled = low.eval(eq.rhs)
        lhs_vars: list[str] = []
        for ix in eq.indices:
            for v in ix.vars:
                if v not in lhs_vars and v not in fixed:
                    lhs_vars.append(v)
        lv = tuple(lhs_vars)
        extra = [v for v in rhs.vars if v not in lv]
        if extra:
            raise TlangRuntimeError(f"internal: variables {extra} are neither kept nor aggregated", eq.span)
        plain = all(isinstance(ix, ir.IAffine) and ix.is_var() for ix in eq.indices) and \
            len(lv) == len(eq.indices)
        if plain and tuple(extents[v] for v in lv) == tuple(shape):
            xp = self.be.xp
            vals = xp.asarray(low.broadcast(rhs, lv), dtype=float) * 1.0
            written = xp.ones(shape, dtype=bool) if with_mask else None
            if eq.where:  # positions whose inputs do not exist are not written
                ok = xp.broadcast_to(low.mask(eq.where, lv), tuple(shape))
                vals = xp.where(ok, vals, 0.0)
                written = ok if with_mask else None
            return vals, written
        vals = low.broadcast(rhs, lv)
        pos = [low.positions(ix, lv) for ix in eq.indices]
        xp = self.be.xp
        full = tuple(extents[v] for v in lv)
        pos = [xp.broadcast_to(xp.asarray(p), full) for p in pos]
        mask = xp.ones(full, dtype=bool)
        for p, n in zip(pos, shape):
            mask = mask & (p >= 0) & (p < n)
        if eq.where:
            mask = mask & xp.broadcast_to(low.mask(eq.where, lv), full)
        sel = tuple(p[mask] for p in pos)
        v = vals[mask]
        op = COMBINE[eq.op]
        written = None
        if with_mask:
            written = xp.zeros(shape, dtype=bool)
            written[sel] = True
        if op == "avg":
            s = self.be.scatter(shape, sel, v, "sum")
            c = self.be.scatter(shape, sel, xp.ones_like(v), "sum")
            return xp.where(c > 0, s / xp.where(c > 0, c, 1), 0.0), written
        return self.be.scatter(shape, sel, v, op), written

    # ------------------------------------------------------ semi-naive
    def _seminaive_ok(self, comp: list[str]) -> bool:
        members = set(comp)
        for t in comp:
            for _, eq in self.by_lhs.get(t, []):
                if eq.virtual is not None:
                    return False
                if not any(r in members for r, _ in _reads(eq)):
                    continue
                rhs = eq.rhs
                if not isinstance(rhs, ir.Contract):
                    return False
                if not all(self._nonnegative(o) for o in rhs.operands):
                    return False  # a signed factor can cancel a derivation: recompute instead
                if any(not isinstance(o, ir.Ref) and any(r in members for r, _ in _reads(
                        ir.Equation(t, (), "=", o))) for o in rhs.operands):
                    return False
        return True

    def _nonnegative(self, e: ir.Expr) -> bool:
        """Whether an operand is a 0/1 truth value (so joins only ever add derivations)."""
        if isinstance(e, ir.Ref):
            return self.prog.tensors[e.tensor].boolean
        if isinstance(e, ir.Map):
            return e.fn in ("not", "eq", "ne", "lt", "le", "gt", "ge", "even", "odd", "step")
        return False

    def _seminaive(self, comp: list[str]) -> None:
        members = set(comp)
        xp = self.be.xp
        # round 0: everything from the non-recursive equations (recursive ones read empty relations)
        zero = {t: xp.zeros(self.prog.tensors[t].stored_shape) for t in comp}
        self.values.update(zero)
        current = {t: self.compute(t) for t in comp}
        delta = dict(current)
        self.values.update(current)
        for _ in range(self.opt.max_iter * 1000):
            self._tick()
            if not any(bool(xp.any(d > 0)) for d in delta.values()):
                return
            new = {}
            for t in comp:
                acc = xp.zeros(self.prog.tensors[t].stored_shape)
                for k, eq in self.by_lhs.get(t, []):
                    rec = [j for j, o in enumerate(eq.rhs.operands)
                           if isinstance(o, ir.Ref) and o.tensor in members] \
                        if isinstance(eq.rhs, ir.Contract) else []
                    for j in rec:  # body with occurrence j reading the delta
                        ops = list(eq.rhs.operands)
                        ref = ops[j]
                        ops[j] = ir.Ref("\u0394" + ref.tensor, ref.indices)
                        variant = ir.Equation(eq.lhs, eq.indices, eq.op,
                                              ir.Contract(tuple(ops), eq.rhs.out, eq.rhs.semiring),
                                              kind=eq.kind)
                        vals = {**self.values, **{"\u0394" + m: delta[m] for m in comp}}
                        acc = acc + self.write(k, variant, vals, {}, acc.shape)
                fresh = ((acc > 0) & ~(current[t] > 0)) * 1.0
                new[t] = fresh
            for t in comp:
                current[t] = xp.maximum(current[t], new[t])
            delta = new
            self.values.update(current)


# ------------------------------------------------------------------ queries

def answer(prog: ir.ProgramIR, q: ir.QueryIR, tensors: dict[str, np.ndarray]) -> Answer:
    """Evaluate one query against computed tensors."""
    from .backends import get_backend
    from .relational import Relation
    info = prog.tensors[q.tensor]
    if isinstance(tensors.get(q.tensor), Relation):  # a large sparse relation: answered sparse
        from .relational_rules import answer_relation
        got = answer_relation(prog, q, tensors[q.tensor])
        if got is not None:
            return got
    extents = dict(q.extents)
    low = Lowerer(get_backend("numpy"), tensors, extents)
    lab = low.eval(ir.Ref(q.tensor, q.indices))
    arr = np.asarray(low.align(lab, q.free)).reshape(tuple(extents[v] for v in q.free))
    if info.boolean:
        if not q.free:
            return Answer(q.text, "bool", (), bool(arr > 0))
        doms = _query_domains(prog, q)
        tuples = []
        for pos in zip(*np.nonzero(arr > 0)):
            tuples.append(tuple(d.label(int(p)) if d else int(p) for d, p in zip(doms, pos)))
        tuples.sort(key=lambda t: tuple((0, x) if isinstance(x, int) else (1, x) for x in t))
        names = tuple(v if not v.startswith("_") else (doms[k].name if doms[k] and doms[k].declared else f"x{k + 1}")
                      for k, v in enumerate(q.free))
        return Answer(q.text, "relation", arr.shape, None, names, tuples)
    if not q.free:
        return Answer(q.text, "scalar", (), float(arr))
    return Answer(q.text, "tensor", arr.shape, arr)


def _query_domains(prog: ir.ProgramIR, q: ir.QueryIR) -> list[ir.Domain | None]:
    info = prog.tensors[q.tensor]
    axes = [a for a in range(len(info.shape)) if a != info.virtual_axis]
    out: list[ir.Domain | None] = []
    for v in q.free:
        dom = None
        for a, ix in zip(axes, q.indices):
            if v in ix.vars and isinstance(ix, ir.IAffine) and ix.is_var():
                dom = prog.domains.get(info.domains[a])
                break
        out.append(dom)
    return out


def report_nan(prog: ir.ProgramIR, tensors: dict[str, Any], answers: list[Answer], strict: bool = False) -> None:
    """A query answer with NaN says so (a warning, an error when ``strict``), naming the first
    tensor in evaluation order that holds a NaN and its equation: the semantics gave no value."""
    hit = next((a for a in answers if a.kind in ("tensor", "scalar")
                and np.isnan(np.asarray(a.value, dtype=float)).any()), None)
    if hit is None:
        return
    first = None
    for step in schedule(prog).steps:
        for t in tensors_of(step):
            v = tensors.get(t)
            if first is None and isinstance(v, np.ndarray) and v.dtype.kind == "f" and np.isnan(v).any():
                first = t
    eq = next((e for e in prog.equations if e.lhs == first), None)
    where = f" at {eq.span.where()}" if eq is not None and eq.span else ""
    message = (f"the answer to {hit.query} contains NaN (not a number)" +
               (f": it first appears in '{first}'{where}" if first else ""))
    if strict:
        raise TlangRuntimeError(message, eq.span if eq is not None else None)
    warnings.warn(ConvergenceWarning(message), stacklevel=3)


def evaluate(prog: ir.ProgramIR, options: Options | None = None) -> Results:
    """Evaluate a program: the interpreting numpy engine, or generated code for other backends."""
    opts = options or Options()
    if opts.backend not in (None, "numpy"):
        from .codegen import evaluate as evaluate_generated  # jax, cupy, auto (tlang/codegen.py)
        return evaluate_generated(prog, opts)
    return Engine(prog, opts).run()
