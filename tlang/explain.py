"""Explanations: the equations behind an answer, and proofs (derivation trees) of Boolean facts.

In: a ``ProgramIR``, its evaluated tensors and a query (``QueryIR``);
optionally the spans of the program's fact statements, to point at the
line of each fact.  Out: text lines (``explain``), or ``Proof`` trees
(``prove``).

- **Equations**: the equations of the queried tensor and, transitively,
  of every tensor they read, in evaluation order, with their locations.
- **Proofs**: for a true tuple of a relation defined by rules, a
  derivation tree whose leaves are facts (or tuples of relations given by
  data or equations, or negated atoms, true by the failure of every proof).
  Every tuple gets a *rank*: the round of naive forward chaining, within
  its stratum, in which it is first derived.  A tuple of rank r is proved
  by a rule instance whose body atoms of the same stratum have rank < r,
  so a proof always exists for a true tuple and never loops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product
from typing import Any

import numpy as np

from . import ir
from .source import Span

MAX_PROOF_NODES = 200
MAX_ANSWERS = 5


@dataclass
class Proof:
    atom: str                       # "Ancestor(Alice, Charlie)"
    how: str                        # "fact", "rule", "data", "not", "condition"
    where: str = ""                 # file:line of the fact or rule
    rule: str = ""                  # the rule's text
    binding: str = ""               # "y = Bob"
    children: list[Proof] = field(default_factory=list)


# ------------------------------------------------------------- equations

def equation_cone(prog: ir.ProgramIR, tensor: str) -> list[tuple[int, ir.Equation]]:
    """The equations that ``tensor`` depends on, dependencies first."""
    from .schedule import reads, strata
    by_lhs: dict[str, list[tuple[int, ir.Equation]]] = {}
    for k, eq in enumerate(prog.equations):
        by_lhs.setdefault(eq.lhs, []).append((k, eq))
    need, todo = set(), [tensor]
    while todo:
        t = todo.pop()
        if t in need:
            continue
        need.add(t)
        for _, eq in by_lhs.get(t, []):
            todo.extend(r for r, _, _ in reads(eq))
    out = []
    for comp in strata(prog):
        for t in comp:
            if t in need:
                out.extend(by_lhs.get(t, []))
    return out


def _eq_line(eq: ir.Equation, facts: int = 0) -> str:
    where = eq.span.where() if eq.span else "?"
    if eq.kind == "fact":
        return f"{where}: {facts} fact{'s' if facts != 1 else ''} of {eq.lhs}"
    if eq.kind in ("data", "input"):
        return f"{where}: {eq.lhs} given as data"
    text = " ".join(eq.span.text().split()) if eq.span else f"{eq.lhs} = ..."
    return f"{where}: {text}"


# ----------------------------------------------------------------- proofs

class Prover:
    """Derivation trees for the true tuples of rule-defined relations."""

    def __init__(self, prog: ir.ProgramIR, tensors: dict[str, Any],
                 fact_spans: dict[tuple[str, tuple], Span] | None = None) -> None:
        self.prog = prog
        self.tensors = {k: np.asarray(v) for k, v in tensors.items()}
        self.fact_spans = fact_spans or {}
        self.by_lhs: dict[str, list[tuple[int, ir.Equation]]] = {}
        for k, eq in enumerate(prog.equations):
            self.by_lhs.setdefault(eq.lhs, []).append((k, eq))
        self.rank: dict[str, np.ndarray] = {}
        self.component: dict[str, frozenset[str]] = {}
        self._ranks()
        self.nodes = 0

    def _ranks(self) -> None:
        from .engine import Engine, Options, strata
        eng = Engine(self.prog, Options())
        eng.values = {("data", k): v for k, v in self.prog.data.items()}
        eng.values.update({k: np.asarray(v, dtype=float) for k, v in self.tensors.items()})
        for comp in strata(self.prog):
            derived = [t for t in comp if self.prog.tensors[t].boolean and
                       any(eq.kind == "rule" for _, eq in self.by_lhs.get(t, []))]
            if not derived:
                continue
            members = frozenset(comp)
            for t in comp:
                self.component[t] = members
                eng.values[t] = np.zeros(self.prog.tensors[t].stored_shape)
                self.rank[t] = np.full(self.prog.tensors[t].stored_shape, np.inf)
            for r in range(1, 100000):
                new = {t: np.asarray(eng.compute(t)) for t in comp}
                fresh = False
                for t in comp:
                    if t in self.rank:
                        hit = (new[t] > 0) & ~np.isfinite(self.rank[t])
                        if hit.any():
                            self.rank[t][hit] = r
                            fresh = True
                eng.values.update(new)
                if not fresh:
                    break

    def label(self, relation: str, pos: tuple[int, ...]) -> str:
        info = self.prog.tensors[relation]
        parts = []
        for a, p in enumerate(pos):
            dom = self.prog.domains.get(info.domains[a])
            parts.append(str(dom.label(int(p)) if dom else int(p)))
        return f"{relation}({', '.join(parts)})"

    def labels(self, relation: str, pos: tuple[int, ...]) -> tuple:
        info = self.prog.tensors[relation]
        out = []
        for a, p in enumerate(pos):
            dom = self.prog.domains.get(info.domains[a])
            out.append(dom.label(int(p)) if dom else int(p))
        return tuple(out)

    def prove(self, relation: str, pos: tuple[int, ...]) -> Proof | None:
        """A derivation tree of ``relation(pos)``, or None if it is false."""
        self.nodes = 0
        arr = self.tensors.get(relation)
        if arr is None or arr[pos] <= 0:
            return None
        return self._prove(relation, pos)

    def _fact(self, relation: str, pos: tuple[int, ...]) -> Proof | None:
        for _, eq in self.by_lhs.get(relation, []):
            if eq.kind == "fact" and isinstance(eq.rhs, ir.Data) and \
                    np.asarray(self.prog.data[eq.rhs.key])[pos] > 0:
                span = self.fact_spans.get((relation, self.labels(relation, pos)))
                where = span.where() if span else (eq.span.where() if eq.span else "")
                return Proof(self.label(relation, pos), "fact", where)
        return None

    def _given(self, relation: str, pos: tuple[int, ...]) -> Proof:
        """A tuple of a relation given by data, a file or an equation (not by rules)."""
        for _, eq in self.by_lhs.get(relation, []):
            if eq.kind != "rule":
                how = "data" if eq.kind in ("data", "input") else "equation"
                return Proof(self.label(relation, pos), how, eq.span.where() if eq.span else "")
        return Proof(self.label(relation, pos), "data")

    def _prove(self, relation: str, pos: tuple[int, ...]) -> Proof:
        self.nodes += 1
        fact = self._fact(relation, pos)
        if fact is not None:
            return fact
        rank = self.rank.get(relation)
        if rank is None:
            return self._given(relation, pos)
        if self.nodes > MAX_PROOF_NODES:
            return Proof(self.label(relation, pos), "elided")
        for k, eq in self.by_lhs.get(relation, []):
            if eq.kind == "rule":
                found = self._instance(k, eq, pos, rank[pos], relation)
                if found is not None:
                    return found
        return self._given(relation, pos)

    def _instance(self, k: int, eq: ir.Equation, pos: tuple[int, ...], r: float, relation: str) -> Proof | None:
        from .backends import get_backend
        from .lower import Lowerer
        fixed: dict[str, int] = {}
        for ix, p in zip(eq.indices, pos):
            if not isinstance(ix, ir.IAffine):
                return None
            if ix.is_const():
                if ix.const != p:
                    return None
            elif ix.is_var():
                v = ix.vars[0]
                if fixed.get(v, p) != p:
                    return None
                fixed[v] = int(p)
            else:
                return None
        atoms = list(eq.rhs.operands) if isinstance(eq.rhs, ir.Contract) else [eq.rhs]
        comp = self.component.get(relation, frozenset())
        values: dict[Any, Any] = {("data", key): v for key, v in self.prog.data.items()}
        values.update(self.tensors)
        for t in comp:  # same stratum: only tuples derived earlier may be used
            if t in self.rank:
                values[t] = (self.rank[t] < r) * 1.0
        free: list[str] = []
        for a in atoms:
            for v in ir.free_vars(a):
                if v not in fixed and v not in free:
                    free.append(v)
        extents = {v: n for (i, v), n in self.prog.var_extents.items() if i == k}
        low = Lowerer(get_backend("numpy"), values, extents, fixed)
        lab = low.eval(ir.Contract(tuple(atoms), tuple(free), "sumprod"))
        arr = np.asarray(low.align(lab, tuple(free))) if free else np.asarray(lab.array)
        hits = np.argwhere(arr > 0)
        if hits.size == 0 and not (not free and arr > 0):
            return None
        binding = dict(fixed)
        if free:
            binding.update({v: int(p) for v, p in zip(free, hits[0])})
        rule = " ".join(eq.span.text().split()) if eq.span else relation
        shown = ", ".join(f"{v} = {self._name_of(k, v, p)}" for v, p in binding.items() if v not in fixed)
        node = Proof(self.label(relation, pos), "rule", eq.span.where() if eq.span else "", rule, shown)
        for a in atoms:
            node.children.append(self._child(a, binding))
        return node

    def _name_of(self, k: int, var: str, p: int) -> str:
        eq = self.prog.equations[k]
        atoms = list(eq.rhs.operands) if isinstance(eq.rhs, ir.Contract) else [eq.rhs]
        for a in atoms:
            ref = a.args[0] if isinstance(a, ir.Map) and a.args and isinstance(a.args[0], ir.Ref) else a
            if isinstance(ref, ir.Ref):
                info = self.prog.tensors[ref.tensor]
                for axis, ix in enumerate(ref.indices):
                    if isinstance(ix, ir.IAffine) and ix.is_var() and ix.vars[0] == var:
                        dom = self.prog.domains.get(info.domains[axis])
                        return str(dom.label(p) if dom else p)
        return str(p)

    def _child(self, atom: ir.Expr, binding: dict[str, int]) -> Proof:
        from .ir_literal import position
        if isinstance(atom, ir.Ref) and self.prog.tensors[atom.tensor].boolean:
            pos = tuple(position(ix, binding) for ix in atom.indices)
            return self._prove(atom.tensor, pos)
        if isinstance(atom, ir.Map) and atom.fn == "not" and isinstance(atom.args[0], ir.Ref):
            ref = atom.args[0]
            pos = tuple(position(ix, binding) for ix in ref.indices)
            return Proof("not " + self.label(ref.tensor, pos), "not")
        text = atom.span.text() if getattr(atom, "span", None) else type(atom).__name__
        shown = ", ".join(f"{v} = {p}" for v, p in binding.items() if v in ir.free_vars(atom))
        return Proof(" ".join(text.split()) + (f"  [{shown}]" if shown else ""), "condition")


def format_proof(p: Proof, prefix: str = "", last: bool = True, top: bool = True) -> list[str]:
    """A derivation tree drawn with box characters."""
    notes = {"fact": "fact", "data": "given", "equation": "computed", "not": "no proof exists",
             "condition": "holds", "elided": "…"}
    if p.how == "rule":
        head = f"{p.atom}    by {p.rule}" + (f"  with {p.binding}" if p.binding else "") + \
            (f"  ({p.where})" if p.where else "")
    else:
        head = f"{p.atom}    {notes.get(p.how, p.how)}" + (f" ({p.where})" if p.where else "")
    lines = [head if top else prefix + ("└─ " if last else "├─ ") + head]
    child_prefix = "" if top else prefix + ("   " if last else "│  ")
    for k, c in enumerate(p.children):
        lines += format_proof(c, child_prefix, k == len(p.children) - 1, False)
    return lines


# ----------------------------------------------------------------- explain

def explain(prog: ir.ProgramIR, tensors: dict[str, Any], q: ir.QueryIR,
            fact_spans: dict[tuple[str, tuple], Span] | None = None) -> list[str]:
    """The equations behind the answer to ``q`` and, for a relation, proofs of its true tuples."""
    from .engine import answer
    from .show import format_answer
    lines = [format_answer(answer(prog, q, tensors))]
    cone = equation_cone(prog, q.tensor)
    info = prog.tensors[q.tensor]
    facts = {}
    for (rel, _), _span in (fact_spans or {}).items():
        facts[rel] = facts.get(rel, 0) + 1
    if cone:
        lines.append("equations (in evaluation order):")
        for _, eq in cone:
            n = facts.get(eq.lhs) or (int(np.count_nonzero(prog.data[eq.rhs.key]))
                                      if eq.kind == "fact" and isinstance(eq.rhs, ir.Data) else 0)
            lines.append("  " + _eq_line(eq, n))
    else:
        lines.append(f"{q.tensor} has no equation: it is 0 everywhere")
    if not info.boolean:
        return lines
    prover = Prover(prog, tensors, fact_spans)
    arr = np.asarray(tensors[q.tensor])
    extents = dict(q.extents)
    from .ir_literal import position
    tuples = []
    for combo in product(*(range(extents[v]) for v in q.free)):
        a = dict(zip(q.free, combo))
        pos = tuple(position(ix, a) for ix in q.indices)
        if all(0 <= p < n for p, n in zip(pos, arr.shape)) and arr[pos] > 0:
            tuples.append(pos)
        if len(tuples) > MAX_ANSWERS:
            break
    if not tuples:
        ground = not q.free
        what = "it is false" if ground else "no tuple is true"
        lines.append(f"no proof: {what}; no rule or fact derives it")
        return lines
    lines.append("proof:" if len(tuples) == 1 else f"proofs (first {min(len(tuples), MAX_ANSWERS)}):")
    for pos in tuples[:MAX_ANSWERS]:
        proof = prover.prove(q.tensor, pos)
        if proof is not None:
            lines += ["  " + ln for ln in format_proof(proof)]
    if len(tuples) > MAX_ANSWERS:
        lines.append("  …")
    return lines


def fact_spans(statements) -> dict[tuple[str, tuple], Span]:
    """(relation, constants) -> the span of the fact statement, for pointing at each fact's line."""
    from . import ast as A
    out: dict[tuple[str, tuple], Span] = {}
    for st in statements:
        if isinstance(st, A.Fact) and st.span is not None and \
                all(isinstance(ix, A.IConst) for ix in st.atom.indices):
            out.setdefault((st.atom.name, tuple(ix.value for ix in st.atom.indices)), st.span)
    return out
