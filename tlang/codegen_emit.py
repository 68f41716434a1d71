"""Code generation for one equation: IR expressions -> lines of Python over an array module.

In: an IR expression or equation, the extents of its index variables, the
Python names that hold each tensor, and the variables fixed by a
virtual-index loop.  Out: lines appended to a ``Code`` buffer and a ``Val``
(the name of a temporary plus the index variable of each axis).  The
structure mirrors ``tlang.lower.Lowerer`` and ``Engine.write`` node by node,
but every decision that depends only on shapes (transposes, broadcasts,
einsum specs and contraction paths, whether a read is a plain slice or a
gather, whether a write is a shifted placement or a scatter) is taken here,
once, so the generated code is straight-line array calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import opt_einsum

from . import ir
from .source import TlangRuntimeError

COMBINE = {"=": "sum", "+=": "sum", "avg=": "avg", "max=": "max", "min=": "min"}

# elementwise functions: a format string over the (aligned) argument expressions
MAP_CODE = {
    "add": "{0} + {1}", "sub": "{0} - {1}", "mul": "{0} * {1}", "div": "{0} / {1}",
    "pow": "xp.power({0}, {1})", "neg": "-{0}", "not": "1.0 - ({0} > 0)",
    "eq": "({0} == {1}) * 1.0", "ne": "({0} != {1}) * 1.0", "lt": "({0} < {1}) * 1.0",
    "le": "({0} <= {1}) * 1.0", "gt": "({0} > {1}) * 1.0", "ge": "({0} >= {1}) * 1.0",
    "even": "({0} % 2 == 0) * 1.0", "odd": "({0} % 2 == 1) * 1.0", "step": "({0} > 0) * 1.0",
    "relu": "xp.maximum({0}, 0.0)", "tanh": "xp.tanh({0})", "exp": "xp.exp({0})", "log": "xp.log({0})",
    "sqrt": "xp.sqrt({0})", "sin": "xp.sin({0})", "cos": "xp.cos({0})", "abs": "xp.abs({0})",
    "max": "xp.maximum({0}, {1})", "min": "xp.minimum({0}, {1})",
}


def lit(x: float) -> str:
    """A float as a Python literal (``math.inf`` and ``math.nan`` for the non-finite ones)."""
    x = float(x)
    if math.isnan(x):
        return "math.nan"
    if math.isinf(x):
        return "math.inf" if x > 0 else "-math.inf"
    return repr(x)


@dataclass
class Code:
    """Lines of generated code at an indentation level, with fresh temporary names."""
    lines: list[str] = field(default_factory=list)
    indent: int = 1
    counter: list[int] = field(default_factory=lambda: [0])

    def line(self, text: str = "") -> None:
        self.lines.append(("    " * self.indent + text) if text else "")

    def tmp(self, expr: str, hint: str = "t") -> str:
        if expr.isidentifier() or expr.lstrip("-").isdigit():
            return expr
        self.counter[0] += 1
        name = f"_{hint}{self.counter[0]}"
        self.line(f"{name} = {expr}")
        return name

    def nested(self) -> Code:
        return Code(self.lines, self.indent + 1, self.counter)


@dataclass
class Val:
    """A generated array expression and the index variable of each of its axes."""
    code: str
    vars: tuple[str, ...]


class Emitter:
    """Emits the code of the expressions of one equation (cf. ``lower.Lowerer``)."""

    def __init__(self, code: Code, names: dict, shapes: dict[str, tuple[int, ...]],
                 extents: dict[str, int], fixed: dict[str, str] | None = None,
                 folded: dict | None = None) -> None:
        self.prefer: tuple[str, ...] = ()   # the LHS variable order: intermediates are laid out in it
        self.folded = folded or {}          # fold_key(...) -> (Python name, vars) of a folded constant
        self.code = code
        self.names = names          # tensor name or ("data", key) -> Python name
        self.shapes = shapes        # tensor name -> stored shape
        self.ext = extents
        self.fixed = fixed or {}    # virtual variable -> Python name of the loop step

    # ------------------------------------------------------------ helpers
    def shape(self, vars_: tuple[str, ...]) -> tuple[int, ...]:
        return tuple(self.ext[v] for v in vars_)

    def align(self, v: Val, vars_: tuple[str, ...]) -> str:
        """Transpose/reshape ``v`` so its axes follow ``vars_`` (missing ones have size 1)."""
        present = [x for x in vars_ if x in v.vars]
        perm = [v.vars.index(x) for x in present]
        expr = v.code
        if not v.vars:  # a scalar broadcasts as it is
            return expr
        if perm != list(range(len(perm))):
            expr = f"xp.transpose({expr}, {tuple(perm)!r})"
        shape = tuple(self.ext[x] if x in v.vars else 1 for x in vars_)
        if shape != self.shape(tuple(present)):
            expr = f"xp.reshape({expr}, {shape!r})"
        return expr

    def broadcast(self, v: Val, vars_: tuple[str, ...]) -> str:
        expr = self.align(v, vars_)
        shape = self.shape(vars_)
        aligned = tuple(self.ext[x] if x in v.vars else 1 for x in vars_) if v.vars else ()
        return expr if aligned == shape else f"xp.broadcast_to({expr}, {shape!r})"

    def positions(self, ix: ir.Index, vars_: tuple[str, ...]) -> str:
        """Integer positions of an index expression over the axes ``vars_`` (broadcastable)."""
        if isinstance(ix, ir.IDiv):
            return f"({self.positions(ix.inner, vars_)}) // {ix.divisor}"
        parts = []
        for v, c in ix.terms:
            scale = "" if c == 1 else f"{c} * "
            if v in self.fixed:
                parts.append(f"{scale}{self.fixed[v]}")
                continue
            shape = [1] * len(vars_)
            shape[vars_.index(v)] = self.ext[v]
            iota = f"xp.arange({self.ext[v]})"
            if len(vars_) > 1:
                iota = f"xp.reshape({iota}, {tuple(shape)!r})"
            parts.append(f"{scale}{iota}")
        if ix.const or not parts:
            parts.append(str(ix.const))
        return " + ".join(parts)

    def mask(self, where: tuple[tuple[ir.Bound, ...], ...], vars_: tuple[str, ...]) -> str:
        """The code of a Boolean mask over ``vars_``: one conjunction of bounds holds."""
        ors = []
        for conj in where:
            ands = []
            for b in conj:
                p = self.code.tmp(self.positions(b.index, vars_), "p")
                ands.append(f"(({p}) >= 0) & (({p}) < {b.extent})")
            if not ands:
                return "True"
            ors.append(" & ".join(ands))
        return " | ".join(f"({o})" for o in ors) if ors else "True"

    # --------------------------------------------------------- evaluation
    def eval(self, e: ir.Expr) -> Val:
        method = getattr(self, "_" + type(e).__name__, None)
        if method is None:
            raise TlangRuntimeError(f"the code generator cannot lower a {type(e).__name__} node "
                                    "(lower it to Contract first)", getattr(e, "span", None))
        return method(e)

    def _Const(self, e: ir.Const) -> Val:
        return Val(f"xp.asarray({lit(e.value)}, dtype=float)", ())

    def _IndexValue(self, e: ir.IndexValue) -> Val:
        if e.var in self.fixed:
            return Val(f"xp.asarray({self.fixed[e.var]}, dtype=float)", ())
        return Val(f"xp.arange({self.ext[e.var]}, dtype=float)", (e.var,))

    def _Data(self, e: ir.Data) -> Val:
        return Val(self.names[("data", e.key)], e.vars)

    def _Ref(self, e: ir.Ref) -> Val:
        arr = self.names[("prev", e.tensor) if e.step == -1 else e.tensor]
        shape = self.shapes[e.tensor]
        out: list[str] = []
        for ix in e.indices:
            for v in ix.vars:
                if v not in out and v not in self.fixed:
                    out.append(v)
        outv = tuple(out)
        plain = all(isinstance(ix, ir.IAffine) and ix.is_var() and ix.vars[0] not in self.fixed
                    for ix in e.indices)
        if plain and len(outv) == len(e.indices):
            if all(self.ext.get(v, n) == n for v, n in zip(outv, shape)):
                return Val(arr, outv)
        if self._sliceable(e, outv):
            return self._slice(arr, shape, e, outv)
        pos = ", ".join(self.code.tmp(self.positions(ix, outv), "p") for ix in e.indices)
        return Val(self.code.tmp(f"rt.gather({arr}, ({pos},), {self.shape(outv)!r})", "g"), outv)

    def _sliceable(self, e: ir.Ref, outv: tuple[str, ...]) -> bool:
        """Every index is a constant or ``v + c`` (one variable each, no repeats, not virtual)."""
        seen = []
        for ix in e.indices:
            if not isinstance(ix, ir.IAffine):
                return False
            if ix.is_const():
                continue
            if len(ix.terms) != 1 or ix.terms[0][1] != 1 or ix.terms[0][0] in self.fixed:
                return False
            seen.append(ix.terms[0][0])
        return tuple(seen) == outv

    def _slice(self, arr: str, shape, e: ir.Ref, outv: tuple[str, ...]) -> Val:
        """A shifted or fixed-position read as a basic slice plus zero padding."""
        idx, pads = [], []
        for ix, n in zip(e.indices, shape):
            c = ix.const
            if ix.is_const():
                if not 0 <= c < n:
                    return Val(f"xp.zeros({self.shape(outv)!r})", outv)
                idx.append(str(c))
                continue
            extent = self.ext[ix.terms[0][0]]
            lo, hi = max(0, -c), min(extent, n - c)
            if hi <= lo:
                return Val(f"xp.zeros({self.shape(outv)!r})", outv)
            idx.append(":" if (lo + c, hi + c) == (0, n) else f"{lo + c}:{hi + c}")
            pads.append((lo, extent - hi))
        expr = f"{arr}[{', '.join(idx)}]" if idx else arr
        if any(p != (0, 0) for p in pads):
            expr = f"xp.pad({expr}, {tuple(pads)!r})"
        return Val(self.code.tmp(expr, "r"), outv)

    def _Guard(self, e: ir.Guard) -> Val:
        lab = self.eval(e.arg)
        vars_ = list(lab.vars)
        for conj in e.where:
            for b in conj:
                for v in b.index.vars:
                    if v not in vars_ and v not in self.fixed:
                        vars_.append(v)
        out = tuple(vars_)
        arr = self.broadcast(lab, out)
        return Val(self.code.tmp(f"xp.where({self.mask(e.where, out)}, {arr}, 0.0)"), out)

    def _Map(self, e: ir.Map) -> Val:
        const = self.folded.get(fold_key(e, self.ext))
        if const is not None:
            return Val(*const)
        args = [self.eval(a) for a in e.args]
        out: list[str] = []
        for a in args:
            for v in a.vars:
                if v not in out:
                    out.append(v)
        outv = tuple(out)
        arrays = [self.align(a, outv) for a in args]
        if e.fn == "sig":
            expr = f"rt.sig({', '.join(arrays)})"
        elif e.fn in MAP_CODE:
            expr = MAP_CODE[e.fn].format(*[f"({a})" if not _atomic(a) else a for a in arrays])
        else:
            raise TlangRuntimeError(f"no implementation of '{e.fn}' in generated code", e.span,
                                    ["generated code computes it once, when all its arguments are "
                                     "numbers or index values"])
        full = self.shape(outv)
        covered = set().union(*[set(a.vars) for a in args]) if args else set()
        if any(v not in covered for v in outv) or not args:
            expr = f"xp.broadcast_to({expr}, {full!r})"
        return Val(self.code.tmp(expr), outv)

    def _Normalize(self, e: ir.Normalize) -> Val:
        lab = self.eval(e.arg)
        vars_ = list(lab.vars)
        for conj in e.valid:
            for b in conj:
                vars_ += [v for v in b.index.vars if v not in vars_ and v not in self.fixed]
        vars_ = tuple(vars_)
        x = self.broadcast(lab, vars_) if vars_ != lab.vars else lab.code
        ax = vars_.index(e.var)
        valid = f", {self.mask(e.valid, vars_)}" if e.valid else ""
        if e.fn == "softmax":
            if e.temperature is not None:
                t = self.eval(e.temperature)
                x = f"{paren(x)} / {paren(self.align(t, vars_))}"
            return Val(self.code.tmp(f"rt.softmax({x}, {ax}{valid})"), vars_)
        return Val(self.code.tmp(f"rt.lnorm({x}, {ax}{valid})"), vars_)

    def _Concat(self, e: ir.Concat) -> Val:
        lab = self.eval(e.arg)
        keep = tuple(v for v in lab.vars if v not in e.merge)
        arr = self.align(lab, keep + e.merge)
        shape = self.shape(keep) + (math.prod(self.ext[v] for v in e.merge),)
        return Val(self.code.tmp(f"xp.reshape({arr}, {shape!r})"), keep + (e.into,))

    def _Einsum(self, e: ir.Einsum) -> Val:  # a formal einsum: a Contract over its output variables
        return self._Contract(ir.Contract(e.operands, tuple(dict.fromkeys(e.output)), e.semiring, span=e.span))

    def _Contract(self, e: ir.Contract) -> Val:
        ops = [self.eval(o) for o in e.operands]
        sr = ir.SEMIRINGS[e.semiring]
        allv: list[str] = []
        for o in ops:
            for v in o.vars:
                if v not in allv:
                    allv.append(v)
        out = self._layout(tuple(v for v in e.out if v not in self.fixed))
        for v in out:
            if v not in allv:
                allv.append(v)
        if sr.name == "boolean":  # or-and: join truth values; a true join is a positive count
            ops = [Val(f"({o.code} > 0) * 1.0", o.vars) for o in ops]
        if sr.plus in ("sum", "avg", "or") and sr.times in ("mul", "and"):
            res = self._einsum(ops, out)
            if sr.plus == "avg":
                count = math.prod(self.ext[v] for v in allv if v not in out)
                res = f"{paren(res)} / {max(count, 1)}"
            elif sr.plus == "or":
                res = f"({res} > 0) * 1.0"
            return Val(self.code.tmp(res), out)
        return Val(self.code.tmp(self._generic(ops, tuple(allv), out, sr)), out)

    def _layout(self, out: tuple[str, ...]) -> tuple[str, ...]:
        """The axis order of a contraction's result: the LHS order first (fewer transposes,
        normalised axes last), other variables after, in their order."""
        rank = {v: k for k, v in enumerate(self.prefer)}
        return tuple(sorted(out, key=lambda v: rank.get(v, len(rank) + out.index(v))))

    def _einsum(self, ops: list[Val], out: tuple[str, ...]) -> str:
        letters: dict[str, str] = {}

        def sym(v: str) -> str:
            if v not in letters:
                letters[v] = opt_einsum.get_symbol(len(letters))
            return letters[v]

        specs = ["".join(sym(v) for v in o.vars) for o in ops]
        res_spec = "".join(sym(v) for v in out)
        arrays = [o.code for o in ops]
        shapes = [self.shape(o.vars) for o in ops]
        missing = [v for v in out if not any(v in o.vars for o in ops)]
        if missing:  # an output-only variable: broadcast by an all-ones operand
            specs.append("".join(sym(v) for v in missing))
            arrays.append(f"xp.ones({self.shape(tuple(missing))!r})")
            shapes.append(self.shape(tuple(missing)))
        if len(arrays) == 1 and len(set(specs[0])) == len(specs[0]) and sorted(specs[0]) == sorted(res_spec):
            if specs[0] == res_spec:
                return arrays[0]
            return f"xp.transpose({arrays[0]}, {tuple(specs[0].index(c) for c in res_spec)!r})"
        spec = ",".join(specs) + "->" + res_spec
        path = ""
        if len(arrays) > 2:
            steps, _ = opt_einsum.contract_path(spec, *shapes, shapes=True, optimize="auto")
            path = f", path={[tuple(s) for s in steps]!r}"
        return f"rt.einsum({spec!r}, {', '.join(arrays)}{path})"

    def _generic(self, ops: list[Val], allv: tuple[str, ...], out: tuple[str, ...], sr) -> str:
        """Other semirings: a broadcast product (or sum) and a reduction."""
        times = " * " if sr.times == "mul" else " + "
        acc = times.join(paren(self.align(o, allv)) for o in ops) if ops else f"xp.asarray({lit(sr.one)})"
        full = self.shape(allv)
        acc = self.code.tmp(f"xp.broadcast_to({acc}, {full!r})")
        axes = tuple(k for k, v in enumerate(allv) if v not in out)
        if not axes:
            res = acc
        elif sr.plus != "logsumexp" and any(full[k] == 0 for k in axes):
            res = f"xp.full({tuple(full[k] for k in range(len(full)) if k not in axes)!r}, {lit(sr.zero)})"
        else:
            res = f"rt.reduce({acc}, {axes!r}, {sr.plus!r})"
        kept = tuple(v for v in allv if v in out)
        if kept != out:
            res = self.align(Val(self.code.tmp(res), kept), out)
        return res

    # ------------------------------------------------------- one equation
    def write(self, eq: ir.Equation, shape: tuple[int, ...]) -> str:
        """The code of one equation's contribution to its LHS (cf. ``Engine.write``)."""
        lv: list[str] = []
        for ix in eq.indices:
            for v in ix.vars:
                if v not in lv and v not in self.fixed:
                    lv.append(v)
        lvt = self.prefer = tuple(lv)
        rhs = self.eval(eq.rhs)
        extra = [v for v in rhs.vars if v not in lvt]
        if extra:
            raise TlangRuntimeError(f"internal: variables {extra} are neither kept nor aggregated", eq.span)
        plain = all(isinstance(ix, ir.IAffine) and ix.is_var() for ix in eq.indices) and len(lvt) == len(eq.indices)
        vals = self.broadcast(rhs, lvt)
        if eq.where:  # positions whose inputs do not exist are not written
            vals = self.code.tmp(f"xp.where({self.mask(eq.where, lvt)}, {vals}, 0.0)", "v")
        if plain and self.shape(lvt) == tuple(shape):
            return vals
        placed = self._place(eq, lvt, shape, vals)
        if placed is not None:
            return placed
        pos = [self.code.tmp(self.positions(ix, lvt), "p") for ix in eq.indices]
        if eq.where and COMBINE[eq.op] == "avg":  # unwritten positions do not count in the mean
            pos[0] = self.code.tmp(f"xp.where({self.mask(eq.where, lvt)}, {pos[0]}, -1)", "p")
        return f"rt.scatter({tuple(shape)!r}, ({', '.join(pos)},), {vals}, {COMBINE[eq.op]!r})"

    def written(self, eq: ir.Equation, shape: tuple[int, ...]) -> str:
        """The code of the Boolean mask of the LHS positions an equation writes."""
        lv: list[str] = []
        for ix in eq.indices:
            for v in ix.vars:
                if v not in lv and v not in self.fixed:
                    lv.append(v)
        lvt = tuple(lv)
        ones = f"xp.ones({self.shape(lvt)!r})"
        if eq.where:
            ones = f"xp.where({self.mask(eq.where, lvt)}, {ones}, 0.0)"
        pos = [self.code.tmp(self.positions(ix, lvt), "p") for ix in eq.indices]
        if not pos:
            return self.code.tmp(f"({ones}) > 0", "w")
        return self.code.tmp(f"rt.scatter({tuple(shape)!r}, ({', '.join(pos)},), {ones}, 'max') > 0", "w")

    def _place(self, eq: ir.Equation, lvt: tuple[str, ...], shape, vals: str) -> str | None:
        """A one-to-one write (each index a constant or ``v + c``, each variable once) as a slice
        of the values padded with zeros; ``None`` when the write needs a scatter."""
        seen = []
        for ix in eq.indices:
            if not isinstance(ix, ir.IAffine):
                return None
            if ix.is_const():
                continue
            if len(ix.terms) != 1 or ix.terms[0][1] != 1 or ix.terms[0][0] in self.fixed:
                return None
            seen.append(ix.terms[0][0])
        if tuple(seen) != lvt:
            return None
        src, pads, full = [], [], []
        for ix, n in zip(eq.indices, shape):
            c = ix.const
            if ix.is_const():
                if not 0 <= c < n:
                    return f"xp.zeros({tuple(shape)!r})"
                pads.append((c, n - c - 1))
                full.append(1)
                continue
            extent = self.ext[ix.terms[0][0]]
            lo, hi = max(c, 0), min(n, extent + c)   # target range
            if hi <= lo:
                return f"xp.zeros({tuple(shape)!r})"
            src.append(":" if (lo - c, hi - c) == (0, extent) else f"{lo - c}:{hi - c}")
            pads.append((lo, n - hi))
            full.append(hi - lo)
        expr = self.code.tmp(vals, "v")
        if any(s != ":" for s in src):
            expr = f"{expr}[{', '.join(src)}]"
        if len(full) != len(src):
            expr = f"xp.reshape({expr}, {tuple(full)!r})"
        if any(p != (0, 0) for p in pads):
            expr = f"xp.pad({expr}, {tuple(pads)!r})"
        return expr


# ------------------------------------------- constants folded at generation time

def _static(e: ir.Expr, fixed: set[str]) -> bool:
    if isinstance(e, ir.Const):
        return True
    if isinstance(e, ir.IndexValue):
        return e.var not in fixed
    if isinstance(e, ir.Map):
        return all(_static(a, fixed) for a in e.args)
    return False


def fold_key(e: ir.Map, extents: dict[str, int]) -> tuple:
    return (e, tuple((v, extents.get(v)) for v in ir.free_vars(e)))


def foldable(e: ir.Expr, fixed: set[str]) -> list[ir.Map]:
    """Calls of functions with no array code of their own (``randunit``) whose arguments are
    numbers and index values: generated code takes their values, computed once, as data."""
    out: list[ir.Map] = []

    def go(x) -> None:
        if isinstance(x, ir.Map) and x.fn not in MAP_CODE and x.fn != "sig" and _static(x, fixed):
            out.append(x)
            return
        for c in ir.children(x):
            go(c)

    go(e)
    return out


def _atomic(expr: str) -> bool:
    return expr.replace("_", "").isalnum() or (expr.endswith(")") and expr.startswith(("xp.", "rt.")) and
                                                _balanced_call(expr))


def _balanced_call(expr: str) -> bool:
    """``f(...)`` with the first parenthesis closing at the very end."""
    depth = 0
    for k, ch in enumerate(expr):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return k == len(expr) - 1
    return False


def paren(expr: str) -> str:
    return expr if _atomic(expr) else f"({expr})"


# ------------------------------------------------------- IR as comment text

_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "^", "eq": "==", "ne": "!=",
          "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _index_text(ix: ir.Index) -> str:
    if isinstance(ix, ir.IDiv):
        return f"{_index_text(ix.inner)}/{ix.divisor}"
    parts = [(v if c == 1 else f"{c}*{v}") for v, c in ix.terms]
    text = " + ".join(parts)
    if ix.const or not parts:
        text = f"{text} + {ix.const}" if parts else str(ix.const)
    return text.replace("+ -", "- ")


def expr_text(e: ir.Expr) -> str:
    """A compact, tensor-logic-like rendering of an IR expression (for comments)."""
    if isinstance(e, ir.Ref):
        return e.tensor + (f"[{', '.join(_index_text(ix) for ix in e.indices)}]" if e.indices else "")
    if isinstance(e, ir.Const):
        return f"{e.value:g}"
    if isinstance(e, ir.Data):
        return f"<{e.key}>"
    if isinstance(e, ir.IndexValue):
        return e.var
    if isinstance(e, ir.Map):
        args = [expr_text(a) for a in e.args]
        if e.fn in _INFIX and len(args) == 2:
            return f"({args[0]} {_INFIX[e.fn]} {args[1]})"
        if e.fn == "neg":
            return f"-{args[0]}"
        return f"{e.fn}({', '.join(_unparen(a) for a in args)})"
    if isinstance(e, ir.Contract):
        body = " ".join(expr_text(o) for o in e.operands)
        return body if e.semiring == "sumprod" else f"{e.semiring}({body})"
    if isinstance(e, ir.Normalize):
        return f"{e.fn}({expr_text(e.arg)}, {e.var}.)"
    if isinstance(e, ir.Concat):
        return f"concat({expr_text(e.arg)})"
    if isinstance(e, ir.Guard):
        return expr_text(e.arg)
    return type(e).__name__


def _unparen(text: str) -> str:
    return text[1:-1] if text.startswith("(") and _balanced_call(text) else text


def equation_text(eq: ir.Equation) -> str:
    idx = [_index_text(ix) for ix in eq.indices]
    if eq.virtual is not None:
        var, off = eq.virtual
        idx.append(f"*{var}" + (f"+{off}" if off else ""))
    lhs = eq.lhs + ("[" + ", ".join(idx) + "]" if idx else "")
    text = f"{lhs} {eq.op} {_unparen(expr_text(eq.rhs))}"
    return "".join(ch if ch.isprintable() else "?" for ch in text)
