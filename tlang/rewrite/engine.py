"""The rewrite engine: apply rules at sites of a term and record every application.

In: formal terms and rules of ``tlang.rewrite.rules``.  Out: rewritten
terms, and ``Application`` records (rule, location, before, after) in a
``Log``, which ``tlang explain``, ``--show rewrites`` and ``--verify``
print or replay.  A *path* addresses a subterm: the operand positions
taken from the root (``Ein.operands``, ``Plus.terms``, ``Apply.args``).

Strategies: ``denest_all`` (flatten nested einsums of one semiring, before
contraction planning), and ``normal_form`` (denest, distribute, eliminate
deltas, split constants, drop all-ones operands and fold vacuous
aggregations until nothing applies): a sum of flat einsums over leaves and
opaque nonlinear subterms, which ``tlang.rewrite.canonical`` compares up to
renaming and operand order.

Decision: no e-graph.  These strategies are confluent rewriting toward one
normal form, the choice of a contraction order by cost is opt_einsum's
(``tlang.plan``), and equivalence is decided by canonical labelling; there
is no search among many equivalent forms by cost that equality saturation
(egglog) would pay for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import ir
from ..formal import Apply, Const, Delta, Ein, Plus, Term, show
from .rules import REAL, RULES, Rule


@dataclass
class Application:
    """One rule application: which rule, where, and the subterm before and after."""
    rule: str
    location: str
    before: str
    after: str
    equation: int | None = None
    snapshot: Any = field(default=None, repr=False, compare=False)  # program after it (--verify)

    def render(self) -> str:
        return f"{self.location}: {self.rule}\n    before: {self.before}\n    after:  {self.after}"


@dataclass
class Log:
    applications: list[Application] = field(default_factory=list)

    def record(self, app: Application) -> None:
        self.applications.append(app)

    def __len__(self) -> int:
        return len(self.applications)

    def __iter__(self):
        return iter(self.applications)

    def render(self) -> str:
        if not self.applications:
            return "no rule applications"
        return "\n".join(f"{k + 1}. {a.render()}" for k, a in enumerate(self.applications))


def children(t: Term) -> tuple[Term, ...]:
    if isinstance(t, Ein):
        return t.operands
    if isinstance(t, Plus):
        return t.terms
    if isinstance(t, Apply):
        return t.args
    return ()


def with_children(t: Term, kids: tuple[Term, ...]) -> Term:
    if isinstance(t, Ein):
        return Ein(t.inputs, t.output, kids, t.semiring, t.extents)
    if isinstance(t, Plus):
        return Plus(kids, t.semiring)
    if isinstance(t, Apply):
        return Apply(t.fn, kids)
    return t


def at(t: Term, path: tuple[int, ...]) -> Term:
    for k in path:
        t = children(t)[k]
    return t


def replace_at(t: Term, path: tuple[int, ...], new: Term) -> Term:
    if not path:
        return new
    kids = list(children(t))
    kids[path[0]] = replace_at(kids[path[0]], path[1:], new)
    return with_children(t, tuple(kids))


class Rewriter:
    """Applies rules at paths, checking preconditions, and records each application."""

    def __init__(self, log: Log | None = None, location: str = "", equation: int | None = None,
                 limit: int = 10_000) -> None:
        self.log = log if log is not None else Log()
        self.location, self.equation, self.limit = location, equation, limit
        self.count = 0

    def apply(self, rule: Rule | str, t: Term, path: tuple[int, ...] = (), **params) -> Term:
        r = RULES[rule] if isinstance(rule, str) else rule
        sub = at(t, path)
        new = r.apply(sub, **params)
        self.count += 1
        if self.count > self.limit:
            raise RecursionError("rewriting did not terminate")
        where = self.location + (f" @{'.'.join(map(str, path))}" if path else "")
        self.log.record(Application(r.name, where, show(sub), show(new), self.equation))
        return replace_at(t, path, new)


# --------------------------------------------------------- strategies

def _bottom_up(t: Term, step, path=()) -> Term:
    """Rewrite children first, then apply ``step(term, path)`` at this node until it returns None."""
    kids = children(t)
    if kids:
        new = tuple(_bottom_up(k, step, path + (i,)) for i, k in enumerate(kids))
        if new != kids:
            t = with_children(t, new)
    while True:
        r = step(t, path)
        if r is None:
            return t
        t = _bottom_up(r, step, path) if children(r) != children(t) else r


def denest_all(t: Term, rw: Rewriter, semirings: tuple[str, ...] | None = None) -> Term:
    """Flatten every einsum operand of an einsum of the same semiring (general denesting)."""
    def step(x: Term, path) -> Term | None:
        if not isinstance(x, Ein) or (semirings is not None and x.semiring not in semirings):
            return None
        for k, op in enumerate(x.operands):
            if isinstance(op, Ein) and op.semiring == x.semiring:
                rule = "denest" if len(set(op.output)) == len(op.output) else "denest-general"
                return rw.apply(rule, x, k=k)
        return None
    return _bottom_up(t, step)


def _flatten_plus(x: Plus) -> Plus | None:
    if not any(isinstance(y, Plus) and y.semiring == x.semiring for y in x.terms):
        return None
    out: list[Term] = []
    for y in x.terms:
        out.extend(y.terms if isinstance(y, Plus) and y.semiring == x.semiring else (y,))
    return Plus(tuple(out), x.semiring)


def normal_form(t: Term, rw: Rewriter, max_terms: int = 4096, semirings: tuple[str, ...] = REAL) -> Term:
    """Denest, distribute and simplify until no rule applies (module docstring)."""
    def size(x: Term) -> int:
        return len(x.terms) if isinstance(x, Plus) else 1

    def step(x: Term, path) -> Term | None:
        if isinstance(x, Plus):
            return _flatten_plus(x)
        if not isinstance(x, Ein) or x.semiring not in semirings:
            return None
        for k, op in enumerate(x.operands):
            if isinstance(op, Ein) and op.semiring == x.semiring:
                rule = "denest" if len(set(op.output)) == len(op.output) else "denest-general"
                return rw.apply(rule, x, k=k)
            if isinstance(op, Plus) and op.semiring == x.semiring:
                if size(op) > max_terms:
                    raise OverflowError("the normal form grows too large")
                return rw.apply("distribute", x, k=k)
            if isinstance(op, Delta):
                return rw.apply("delta-elimination", x, k=k)
            if isinstance(op, Const) and x.inputs[k] and op.value != ir.SEMIRINGS[x.semiring].one:
                return rw.apply("constant-split", x, k=k)
        for k, op in enumerate(x.operands):
            if isinstance(op, Const) and not RULES["ones-removal"].violated(x, k=k):
                return rw.apply("ones-removal", x, k=k)
        explicit = dict(x.extents)
        for k, op in enumerate(x.operands):
            if isinstance(op, Const):
                for s in x.inputs[k]:
                    if s in explicit and not RULES["constant-aggregation"].violated(x, k=k, symbol=s):
                        return rw.apply("constant-aggregation", x, k=k, symbol=s)
        return None

    out = _bottom_up(t, step)
    if isinstance(out, Plus) and len(out.terms) > max_terms:
        raise OverflowError("the normal form grows too large")
    return out
