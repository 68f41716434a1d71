"""Program-level planning: every contraction of a program, its plan and its memory.

In: a ``ProgramIR`` (extents solved by ``build``).  Out: one
``ContractionReport`` per ``Contract`` node of each equation (its operands
with their index variables, the einsum over them and its cached ``Plan``)
for ``tlang plan FILE`` and ``run --show plan``; and ``check_memory``, which
predicts the size of every intermediate of every equation and raises a
located ``TlangResourceError`` before the engine allocates anything.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import ir
from . import plan as P
from .source import TlangResourceError

ITEMSIZE = 8  # the engine computes in float64


@dataclass(frozen=True)
class ContractionReport:
    equation: int                 # index into ProgramIR.equations
    lhs: str
    where: str                    # file:line:col of the contraction
    text: str                     # "W1[h, j] X[e, j] -> [h, e]"
    spec: str                     # "ab,cb->ac"
    semiring: str
    plan: P.Plan | None           # None where the semiring has no einsum (max, min, logsumexp)
    elements: int = 0             # for those: the broadcast product that is reduced


def _walk(e: ir.Expr) -> Iterator[ir.Expr]:
    """Subexpressions in evaluation order (operands before the node)."""
    stack: list[tuple[ir.Expr, bool]] = [(e, False)]  # explicit: deep expressions stay linear
    while stack:
        node, expanded = stack.pop()
        if expanded:
            yield node
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(ir.children(node)))


def _vars(e: ir.Expr, fixed: frozenset[str], memo: dict | None = None) -> tuple[str, ...]:
    return tuple(v for v in ir.free_vars(e, memo) if v not in fixed)


def _describe(e: ir.Expr, vars_: tuple[str, ...]) -> str:
    if isinstance(e, ir.Ref):
        head = e.tensor
    elif isinstance(e, ir.Map | ir.Normalize):
        head = f"{e.fn}(…)"
    elif isinstance(e, ir.Const):
        return f"{e.value:g}"
    else:
        head = "(…)"
    return f"{head}[{', '.join(vars_)}]"


def _einsum_of(e: ir.Contract, fixed, extents) -> tuple[list[str], str, list[tuple[int, ...]], str]:
    """The einsum the engine runs for ``e``: terms, output, shapes, readable text."""
    op_vars = [_vars(o, fixed) for o in e.operands]
    out = tuple(v for v in e.out if v not in fixed)
    texts = [_describe(o, v) for o, v in zip(e.operands, op_vars)]
    missing = tuple(v for v in out if not any(v in ov for ov in op_vars))
    if missing:  # an output-only variable is broadcast by an all-ones operand
        op_vars.append(missing)
        texts.append(f"1[{', '.join(missing)}]")
    names: dict[str, str] = {}
    for v in [v for ov in op_vars for v in ov] + list(out):
        names.setdefault(v, P.parser.get_symbol(len(names)))
    terms = ["".join(names[v] for v in ov) for ov in op_vars]
    shapes = [tuple(extents.get(v, 1) for v in ov) for ov in op_vars]
    text = " ".join(texts) + f" -> [{', '.join(out)}]"
    return terms, "".join(names[v] for v in out), shapes, text


def _uses_einsum(semiring: str) -> bool:
    sr = ir.SEMIRINGS[semiring]
    return sr.plus in ("sum", "avg", "or") and sr.times in ("mul", "and")


def _extents(prog: ir.ProgramIR) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    for (k, v), n in prog.var_extents.items():
        out.setdefault(k, {})[v] = n
    return out


def plan_program(prog: ir.ProgramIR, optimize: Any = "auto",
                 memory_limit: int | None = None) -> list[ContractionReport]:
    """A report per contraction of every equation, planned (and cached) like the engine does."""
    reports: list[ContractionReport] = []
    extents = _extents(prog)
    for k, eq in enumerate(prog.equations):
        fixed = frozenset([eq.virtual[0]]) if eq.virtual else frozenset()
        ext = extents.get(k, {})
        for node in _walk(eq.rhs):
            if not isinstance(node, ir.Contract):
                continue
            terms, out, shapes, text = _einsum_of(node, fixed, ext)
            span = node.span or eq.span
            where = span.where() if span else ""
            spec = ",".join(terms) + "->" + out
            if _uses_einsum(node.semiring):
                p = P.plan_terms(terms, out, shapes, optimize=optimize, memory_limit=memory_limit,
                                 label=f"'{text}' (equation for {eq.lhs})", span=span)
                reports.append(ContractionReport(k, eq.lhs, where, text, spec, node.semiring, p))
            else:
                reports.append(ContractionReport(k, eq.lhs, where, text, spec, node.semiring, None,
                                                 _broadcast_elements(node, fixed, ext)))
    return reports


def _broadcast_elements(node: ir.Contract, fixed, ext) -> int:
    allv = {v for o in node.operands for v in _vars(o, fixed)} | {v for v in node.out if v not in fixed}
    return math.prod(ext.get(v, 1) for v in allv)


def format_plan(reports: list[ContractionReport], prog: ir.ProgramIR | None = None) -> str:
    """The text of ``tlang plan``: per equation, per contraction, path, flops and memory."""
    if not reports:
        return "no contractions"
    lines: list[str] = []
    last = None
    count = 0
    for r in reports:
        if r.equation != last:
            last, count = r.equation, 0
            eq = prog.equations[r.equation] if prog is not None else None
            src = eq.span.text().splitlines()[0].strip() if eq is not None and eq.span else r.lhs
            lines.append(f"{r.lhs}: {src}" + (f"    ({eq.span.where()})" if eq is not None and eq.span
                                               else ""))
        count += 1
        lines.append(f"  contraction {count}: {r.text}    [{r.spec}]")
        p = r.plan
        if p is None:
            lines.append(f"    {r.semiring}: a broadcast product of {r.elements:,} elements, reduced "
                         f"({r.elements * ITEMSIZE:,} bytes); no contraction path")
            continue
        lines.append(f"    path              {list(p.path)}    (optimiser: {p.optimizer})")
        lines.append(f"    flops             naive {p.naive_flops:,}, optimised {p.flops:,} "
                     f"({p.speedup:.2f}x)")
        lines.append(f"    largest           {p.largest_intermediate:,} elements")
        peak = f"    peak memory       {p.peak_memory:,} bytes"
        if p.sliced:
            peak += f" (sliced on {', '.join(p.sliced)}: {p.n_slices} slices)"
        lines.append(peak)
    return "\n".join(lines)


def _new_bytes(e: ir.Expr, fixed, ext, memo: dict | None = None) -> int:
    """Bytes newly allocated for the value of ``e`` (a stored tensor or a scalar: none)."""
    if isinstance(e, ir.Const) or (isinstance(e, ir.Ref) and all(
            isinstance(ix, ir.IAffine) and ix.is_var() for ix in e.indices)):
        return 0
    return math.prod(ext.get(v, 1) for v in _vars(e, fixed, memo)) * ITEMSIZE


def check_memory(prog: ir.ProgramIR, limit: int) -> None:
    """Refuse, before anything is allocated, a program one of whose intermediates (or
    contraction plans) would exceed ``limit`` bytes.  Contractions that need it are planned
    with the limit (a lower-memory path or slicing), as the engine will run them."""
    extents = _extents(prog)
    for k, eq in enumerate(prog.equations):
        fixed = frozenset([eq.virtual[0]]) if eq.virtual else frozenset()
        ext = extents.get(k, {})
        memo: dict[int, tuple[str, ...]] = {}  # free variables by node id: linear on deep expressions
        for node in _walk(eq.rhs):
            kids = sum(_new_bytes(c, fixed, ext, memo) for c in ir.children(node))
            span = node.span or eq.span
            if isinstance(node, ir.Contract) and _uses_einsum(node.semiring):
                terms, out, shapes, text = _einsum_of(node, fixed, ext)
                P.plan_terms(terms, out, shapes, memory_limit=max(limit - kids, 0),
                             label=f"'{text}' (equation for {eq.lhs})", span=span)
                continue
            if isinstance(node, ir.Contract):
                need, what = kids + _broadcast_elements(node, fixed, ext) * ITEMSIZE, \
                    f"the broadcast product of its {node.semiring} contraction"
            else:
                need, what = kids + _new_bytes(node, fixed, ext, memo), "an intermediate"
            if need > limit:
                shape = {v: ext.get(v, 1) for v in _vars(node, fixed)}
                raise TlangResourceError(
                    f"the equation for '{eq.lhs}' needs {need:,} bytes for {what}, over the memory "
                    f"limit of {limit:,} bytes", span,
                    [f"index extents {shape}", "raise it with --memory-limit; nothing was allocated"])
        lhs_vars = {v for ix in eq.indices for v in ix.vars if v not in fixed}
        need = math.prod(ext.get(v, 1) for v in lhs_vars) * ITEMSIZE
        if need > limit:
            raise TlangResourceError(
                f"the equation for '{eq.lhs}' writes {need:,} bytes, over the memory limit of "
                f"{limit:,} bytes", eq.span, ["raise it with --memory-limit; nothing was allocated"])
