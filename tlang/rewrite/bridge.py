"""IR <-> formal terms, for rewriting IR equations with the formal rules.

In: IR expressions (``Contract``/``Einsum`` nodes and their operands) with the
extents of their equation's variables.  Out: formal ``Ein`` terms whose
leaves are tensors (plain ``Ref`` operands) or *opaque* leaves standing for
any other operand (a nonlinearity, index arithmetic, a constant), kept in a
table so the term converts back to IR after a rule rewrote it; a renaming
of an opaque leaf's string renames its free variables.  Also ``text``: an
IR expression in readable notation, for ``explain``.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import ir
from ..formal import Ein, Leaf, Term, show


class Unsupported(Exception):
    """An expression outside what a conversion handles (the caller skips or falls back)."""


def map_ir(e: ir.Expr, f: Callable[[ir.Expr], ir.Expr]) -> ir.Expr:
    """Rebuild ``e`` bottom-up, applying ``f`` to every node after its children."""
    if isinstance(e, ir.Map):
        e = ir.Map(e.fn, tuple(map_ir(a, f) for a in e.args), span=e.span)
    elif isinstance(e, ir.Contract):
        e = ir.Contract(tuple(map_ir(a, f) for a in e.operands), e.out, e.semiring, span=e.span)
    elif isinstance(e, ir.Einsum):
        e = ir.Einsum(e.inputs, e.output, tuple(map_ir(a, f) for a in e.operands), e.semiring, span=e.span)
    elif isinstance(e, ir.Normalize):
        t = map_ir(e.temperature, f) if e.temperature is not None else None
        e = ir.Normalize(e.fn, map_ir(e.arg, f), e.var, t, span=e.span)
    elif isinstance(e, ir.Concat):
        e = ir.Concat(map_ir(e.arg, f), e.merge, e.into, span=e.span)
    elif isinstance(e, ir.Guard):
        e = ir.Guard(map_ir(e.arg, f), e.where, span=e.span)
    return f(e)


def all_vars(e: ir.Expr) -> set[str]:
    """Every index variable an expression mentions, free or bound."""
    out: set[str] = set()

    def go(x: ir.Expr) -> ir.Expr:
        out.update(ir.free_vars(x))
        if isinstance(x, ir.Einsum):
            out.update(v for s in x.inputs for v in s)
        return x
    map_ir(e, go)
    for r in ir.tensors_read(e):
        for ix in r.indices:
            out.update(ix.vars)
    return out


def _rename_index(ix: ir.Index, m: dict[str, str]) -> ir.Index:
    if isinstance(ix, ir.IDiv):
        return ir.IDiv(_rename_index(ix.inner, m), ix.divisor)
    return ir.IAffine(tuple((m.get(v, v), c) for v, c in ix.terms), ix.const)


def _bound(e: ir.Expr) -> set[str]:
    if isinstance(e, ir.Contract):
        return {v for o in e.operands for v in ir.free_vars(o)} - set(e.out)
    if isinstance(e, ir.Einsum):
        return {v for s in e.inputs for v in s} - set(e.output)
    if isinstance(e, ir.Concat):
        return set(e.merge)
    return set()


def rename_ir(e: ir.Expr, m: dict[str, str]) -> ir.Expr:
    """Rename the free variables of ``e`` by ``m`` (raises ``Unsupported`` on capture)."""
    m = {k: v for k, v in m.items() if k != v}
    if not m:
        return e
    bound = _bound(e)
    if bound & set(m.values()):
        raise Unsupported("renaming would capture a bound variable")
    inner = {k: v for k, v in m.items() if k not in bound}
    if isinstance(e, ir.Ref):
        return ir.Ref(e.tensor, tuple(_rename_index(ix, inner) for ix in e.indices), e.step, span=e.span)
    if isinstance(e, ir.IndexValue):
        return ir.IndexValue(inner.get(e.var, e.var), span=e.span)
    if isinstance(e, ir.Data):
        return ir.Data(e.key, tuple(inner.get(v, v) for v in e.vars), span=e.span)
    if isinstance(e, ir.Const):
        return e
    if isinstance(e, ir.Map):
        return ir.Map(e.fn, tuple(rename_ir(a, inner) for a in e.args), span=e.span)
    if isinstance(e, ir.Contract):
        return ir.Contract(tuple(rename_ir(a, inner) for a in e.operands),
                           tuple(inner.get(v, v) for v in e.out), e.semiring, span=e.span)
    if isinstance(e, ir.Einsum):
        return ir.Einsum(tuple(tuple(inner.get(v, v) for v in s) for s in e.inputs),
                         tuple(inner.get(v, v) for v in e.output),
                         tuple(rename_ir(a, inner) for a in e.operands), e.semiring, span=e.span)
    if isinstance(e, ir.Normalize):
        t = rename_ir(e.temperature, inner) if e.temperature is not None else None
        return ir.Normalize(e.fn, rename_ir(e.arg, inner), inner.get(e.var, e.var), t, span=e.span)
    if isinstance(e, ir.Concat):
        return ir.Concat(rename_ir(e.arg, inner), e.merge, inner.get(e.into, e.into), span=e.span)
    if isinstance(e, ir.Guard):
        where = tuple(tuple(ir.Bound(_rename_index(b.index, inner), b.extent) for b in conj) for conj in e.where)
        return ir.Guard(rename_ir(e.arg, inner), where, span=e.span)
    raise Unsupported(f"no renaming for {type(e).__name__}")


# ------------------------------------------------------------- text

_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "^", "eq": "==", "ne": "!=",
          "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _index_text(ix: ir.Index) -> str:
    if isinstance(ix, ir.IDiv):
        return f"{_index_text(ix.inner)}/{ix.divisor}"
    parts = [(v if c == 1 else f"{c}*{v}") for v, c in ix.terms]
    if ix.const or not parts:
        parts.append(str(ix.const))
    return "+".join(parts).replace("+-", "-")


def text(e: ir.Expr) -> str:
    """An IR expression in readable notation; contractions in the paper's ``#(..)`` notation."""
    if isinstance(e, ir.Ref):
        return e.tensor + ("[" + ", ".join(_index_text(ix) for ix in e.indices) + "]" if e.indices else "")
    if isinstance(e, ir.Const):
        return f"{e.value:g}"
    if isinstance(e, ir.IndexValue):
        return e.var
    if isinstance(e, ir.Data):
        return f"data[{', '.join(e.vars)}]"
    if isinstance(e, ir.Map):
        if e.fn in _INFIX and len(e.args) == 2:
            return f"({text(e.args[0])} {_INFIX[e.fn]} {text(e.args[1])})"
        return f"{e.fn}(" + ", ".join(text(a) for a in e.args) + ")"
    if isinstance(e, ir.Normalize):
        return f"{e.fn}_{e.var}({text(e.arg)})"
    if isinstance(e, ir.Concat):
        return f"concat({text(e.arg)})"
    if isinstance(e, ir.Guard):
        return f"guard({text(e.arg)})"
    if isinstance(e, ir.Contract | ir.Einsum):
        try:
            return show(to_formal(e, {}, depth=99)[0])
        except Unsupported:
            return repr(e)
    return repr(e)


# ---------------------------------------------------- IR -> formal

Table = dict[str, tuple[ir.Expr, tuple[str, ...]]]


def _plain(r: ir.Ref) -> bool:
    return all(isinstance(ix, ir.IAffine) and ix.is_var() for ix in r.indices)


def to_formal(e: ir.Contract | ir.Einsum, extents: dict[str, int], depth: int = 1,
              table: Table | None = None) -> tuple[Ein, Table]:
    """A contraction as an ``Ein``: nested contractions up to ``depth`` levels, plain refs as
    leaves, anything else as an opaque leaf (``table``); all extents explicit."""
    table = {} if table is None else table
    if isinstance(e, ir.Einsum):
        strings = tuple(tuple(s) for s in e.inputs)
        out = tuple(e.output)
    else:
        # a plain ref reads through its full index string (A[j, j, i] is 'jji': a diagonal)
        strings = tuple(tuple(ix.vars[0] for ix in o.indices) if isinstance(o, ir.Ref) and _plain(o)
                        else ir.free_vars(o) for o in e.operands)
        out = e.out
    ops: list[Term] = []
    for o in e.operands:
        if isinstance(o, ir.Contract | ir.Einsum) and depth > 1:
            ops.append(to_formal(o, extents, depth - 1, table)[0])
        elif isinstance(o, ir.Ref) and _plain(o):
            ops.append(Leaf(o.tensor))
        else:
            name = f"<{text(o)}>"
            table[name] = (o, ir.free_vars(o))
            ops.append(Leaf(name))
    syms = {x for s in strings for x in s} | set(out)
    ext = tuple(sorted((x, extents[x]) for x in syms if x in extents))
    return Ein(strings, out, tuple(ops), e.semiring, ext), table


def from_formal(t: Term, string: tuple[str, ...], table: Table, span=None) -> ir.Expr:
    """Back to IR: an ``Ein`` becomes a ``Contract`` over the distinct symbols of its output."""
    if isinstance(t, Ein):
        if tuple(t.output) != tuple(string):  # the IR convention (tlang.formal_ir)
            raise Unsupported("an einsum read through another string than its output")
        ops = tuple(from_formal(o, s, table, span) for o, s in zip(t.operands, t.inputs))
        return ir.Contract(ops, tuple(dict.fromkeys(t.output)), t.semiring, span=span)
    if isinstance(t, Leaf):
        if t.name in table:
            expr, orig = table[t.name]
            if len(orig) != len(string):
                raise Unsupported("an opaque operand read through a string of another length")
            return rename_ir(expr, dict(zip(orig, string)))
        return ir.Ref(t.name, tuple(ir.ivar(x) for x in string), span=span)
    raise Unsupported(f"no IR for {type(t).__name__}")
