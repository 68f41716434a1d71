"""Canonical forms: flat einsums and sums of them, up to index renaming and operand order.

In: a term in normal form (``engine.normal_form``: a ``Plus`` of flat
``Ein`` nodes, or one flat ``Ein``) whose operands are leaves, scalar
constants and opaque subterms (nonlinearities, einsums of another
semiring).  Out: a ``CanonicalForm``: monomials (coefficient, factors with
canonical symbol names, output string, bound symbols with extents), like
monomials combined by the semiring sum, sorted; two forms are equal iff
the terms are equal up to renaming (R1), operand order (R2) and the
simplifications of the normal form.

Canonical symbol names come from colour refinement (a symbol's colour: its
output positions or its extent, then the multiset of (factor, position,
colours of the factor's string) it occurs in) and, for the symmetric ties
refinement leaves, individualisation of each tied symbol in turn, keeping
the least form (bounded by ``budget``: beyond it the first branch is
taken, which can only make equal terms look different, never the reverse).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import ir
from ..formal import Apply, Const, Delta, Ein, Leaf, Plus, Term


@dataclass(frozen=True)
class Monomial:
    coef: float
    factors: tuple[tuple[str, tuple[str, ...]], ...]   # (factor key, canonical string)
    output: tuple[str, ...]
    bound: tuple[tuple[str, int], ...]

    def shape_key(self) -> tuple:
        return (self.factors, self.output, self.bound)

    def render(self, semiring: str) -> str:
        S = ir.SEMIRINGS[semiring]
        parts = []
        if self.coef != S.one or not self.factors:
            parts.append(f"{self.coef:g}")
        body = ",".join(" ".join(s) for _, s in self.factors)
        agg = "".join(f" {b}:{n}" for b, n in self.bound)
        parts.append(f"#({body} -> {' '.join(self.output)};{agg}; " + ", ".join(k for k, _ in self.factors) + ")")
        return " * ".join(parts)


@dataclass(frozen=True)
class CanonicalForm:
    semiring: str
    monomials: tuple[Monomial, ...]

    def render(self) -> str:
        if not self.monomials:
            return f"{ir.SEMIRINGS[self.semiring].zero:g}"
        return "\n  + ".join(m.render(self.semiring) for m in self.monomials)

    def same(self, other: CanonicalForm, rel: float = 1e-9) -> bool:
        if self.semiring != other.semiring or len(self.monomials) != len(other.monomials):
            return False
        return all(a.shape_key() == b.shape_key() and _close(a.coef, b.coef, rel)
                   for a, b in zip(self.monomials, other.monomials))


def _close(a: float, b: float, rel: float) -> bool:
    return a == b or math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


# ------------------------------------------------------- labelling

def _refine(colour: dict[str, str | int], factors) -> dict[str, int]:
    col = dict(colour)
    while True:
        sig = {}
        for s in col:
            occ = sorted((key, pos, tuple(col[y] for y in st)) for key, st in factors
                         for pos, x in enumerate(st) if x == s)
            sig[s] = (col[s], tuple(occ))
        ranks = {v: k for k, v in enumerate(sorted(set(map(repr, sig.values()))))}
        new = {s: ranks[repr(sig[s])] for s in col}
        if len(set(new.values())) == len(set(col.values())):
            return new
        col = new


def _form(order: list[str], factors, output, extents) -> tuple:
    name = {s: f"s{k}" for k, s in enumerate(order)}
    fs = tuple(sorted((key, tuple(name[x] for x in st)) for key, st in factors))
    bound = tuple(sorted((name[s], extents.get(s, -1)) for s in order if s not in output))
    return fs, tuple(name[x] for x in output), bound


def label(factors, output: tuple[str, ...], extents: dict[str, int], budget: int = 256
          ) -> tuple[tuple, dict[str, str]]:
    """Canonical (factors, output, bound) of one monomial and the symbol -> canonical name map."""
    syms = list(dict.fromkeys([x for _, st in factors for x in st] + list(output)))
    start = {s: repr(("o", tuple(k for k, x in enumerate(output) if x == s), extents.get(s, -1)))
             if s in output else repr(("b", extents.get(s, -1))) for s in syms}
    best: list = [None, None]
    calls = [0]

    def search(colour) -> None:
        col = _refine(colour, factors)
        classes: dict[int, list[str]] = {}
        for s, c in col.items():
            classes.setdefault(c, []).append(s)
        tied = [c for c in sorted(classes) if len(classes[c]) > 1]
        if not tied:
            order = sorted(syms, key=col.__getitem__)
            form = _form(order, factors, output, extents)
            if best[0] is None or repr(form) < repr(best[0]):
                best[0], best[1] = form, order
            return
        for s in classes[tied[0]]:
            calls[0] += 1
            if calls[0] > budget and best[0] is not None:
                return
            search({**{x: repr((c, 0)) for x, c in col.items()}, s: repr((col[s], -1))})

    search(start)
    form, order = best
    return form, {s: f"s{k}" for k, s in enumerate(order)}


# ------------------------------------------------------- keys

def key(t: Term) -> str:
    """A canonical key of a positional tensor term (leaves by name, the rest by normal form)."""
    if isinstance(t, Leaf):
        return t.name
    if isinstance(t, Const):
        return f"{t.value:g}"
    if isinstance(t, Delta):
        return "delta"
    if isinstance(t, Apply):
        return f"{t.fn}(" + ", ".join(key(a) for a in t.args) + ")"
    from .engine import Rewriter, normal_form
    try:
        nf = normal_form(t, Rewriter())
    except (OverflowError, RecursionError):
        nf = t
    if isinstance(nf, Leaf | Const | Apply):
        return key(nf)
    if isinstance(nf, Plus) and not all(isinstance(x, Ein) for x in nf.terms):
        return f"({nf.semiring}: " + " + ".join(sorted(key(x) for x in nf.terms)) + ")"
    out = nf.output if isinstance(nf, Ein) else _output_of(nf)
    if out is None:
        return repr(nf)
    return "{" + canonical(nf, out).render().replace("\n", "") + "}"


def _output_of(t: Term) -> tuple[str, ...] | None:
    if isinstance(t, Plus):
        for x in t.terms:
            if isinstance(x, Ein):
                return x.output
    return None


def monomial(e: Ein) -> Monomial:
    """One flat einsum as a canonical monomial (its output string gives the positions)."""
    S = ir.SEMIRINGS[e.semiring]
    from ..ir_literal import TIMES
    times = TIMES[S.times]
    coef = S.one
    factors = []
    for op, st in zip(e.operands, e.inputs):
        if isinstance(op, Const) and not st:
            coef = times(coef, op.value)
        else:
            factors.append((key(op), st))
    form, _ = label(factors, e.output, dict(e.extents))
    return Monomial(coef, *form)


def canonical(nf: Term, output: tuple[str, ...] | None = None) -> CanonicalForm:
    """The canonical form of a normal form (module docstring)."""
    terms = nf.terms if isinstance(nf, Plus) else (nf,)
    sr = nf.semiring
    from ..ir_literal import PLUS
    S = ir.SEMIRINGS[sr]
    combined: dict[str, list] = {}
    for t in terms:
        if isinstance(t, Ein) and t.semiring == sr:
            m = monomial(t)
        else:
            m = Monomial(S.one, ((key(t), tuple(output or ())),), tuple(output or ()), ())
        k = repr(m.shape_key())
        if k in combined:
            combined[k][0] = PLUS[S.plus]([combined[k][0], m.coef])
        else:
            combined[k] = [m.coef, m]
    monos = [Monomial(c, m.factors, m.output, m.bound) for c, m in combined.values() if c != S.zero]
    monos.sort(key=lambda m: repr(m.shape_key()))
    return CanonicalForm(sr, tuple(monos))
