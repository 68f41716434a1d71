"""The formal einsum language (Wenig, Rump, Blacher, Giesen, arXiv 2509.20020).

In: spec strings (``"ij,jk->ik"``, ``"i->ii"``; a bracket groups a
multi-character symbol: ``"[p dk],[p' dk]->[p p']"``), whole expressions in
the paper's notation (``"#(ik,kl->il; #(ij,jk->ik; A, B), C)"``, with
``delta`` and numeric constants as operands and ``#maxplus(...)`` for a
semiring), or expression objects; operand arrays; a semiring name of
``tlang.ir.SEMIRINGS``.  Out: expressions (frozen dataclasses), their values
as numpy arrays, and ``einsum_expr``: the IR node ``tlang.ir.Einsum``.

Semantics (paper section 4): for ``E = #(I_1..I_n -> I; T_1..T_n)`` and a
global assignment ``a`` of every symbol to a position,
``E[p] = (+)_{a : a(I) = p} (x)_k T_k[a(I_k)]``.  So a repeated symbol in an
operand reads a diagonal, a repeated symbol in the output builds one (the
other positions are the empty aggregate: the semiring's zero), an
output-only symbol broadcasts (its extent must be given), and an einsum of
no operands is the semiring's one.  Two evaluators implement it and must
agree: ``method="reference"`` loops over assignments with Python floats
(the oracle), ``method="numpy"`` (the default) extracts diagonals, combines
operands pairwise (planned sum-product contractions through opt_einsum) and
writes diagonals.  ``Plus`` (elementwise semiring sum) and ``Apply``
(an elementwise function, outside the algebra) make sums of terms and
nonlinearities expressible for the rewrite rules (``tlang.rewrite``).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from . import ir
from .source import TlangError

Sym = str
IStr = tuple[str, ...]  # an index string: one symbol per axis


class FormalError(TlangError):
    """An ill-formed formal einsum (bad spec, arity or extents)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, None)


# ------------------------------------------------------------------ terms

@dataclass(frozen=True)
class Leaf:
    """A named operand tensor (bound to an array at evaluation)."""
    name: str


@dataclass(frozen=True)
class Const:
    """A constant tensor: every entry is ``value``; its order is its index string's length."""
    value: float


@dataclass(frozen=True)
class Delta:
    """The delta tensor of order 2o: one where the first o positions equal the last o, else zero."""


@dataclass(frozen=True)
class Ein:
    """``#(inputs -> output; operands)`` over ``semiring``; ``extents`` gives symbols their
    extent explicitly (required for output-only symbols)."""
    inputs: tuple[IStr, ...]
    output: IStr
    operands: tuple[Term, ...]
    semiring: str = "sumprod"
    extents: tuple[tuple[str, int], ...] = ()

    def symbols(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for st in (*self.inputs, self.output) for s in st))

    def bound(self) -> tuple[str, ...]:
        return tuple(s for s in self.symbols() if s not in self.output)


@dataclass(frozen=True)
class Plus:
    """Elementwise semiring sum of same-shaped terms (a ``Const`` term fills the shape)."""
    terms: tuple[Term, ...]
    semiring: str = "sumprod"


@dataclass(frozen=True)
class Apply:
    """An elementwise function (``relu``, ``exp``, ``step``...; outside the semiring algebra)
    of same-shaped arguments (a ``Const`` argument fills the shape)."""
    fn: str
    args: tuple[Term, ...]


Term = Union[Leaf, Const, Delta, Ein, Plus, Apply]


def ein(spec: str, *operands: Term, semiring: str = "sumprod",
        extents: Mapping[str, int] | None = None) -> Ein:
    """Build an ``Ein`` from a spec string and operand terms (strings name leaves)."""
    inputs, output = parse_spec(spec)
    ops = tuple(Leaf(o) if isinstance(o, str) else o for o in operands)
    if len(ops) != len(inputs):
        raise FormalError(f"'{spec}' has {len(inputs)} operand strings but {len(ops)} operands")
    return Ein(inputs, output, ops, _semiring(semiring), tuple(sorted((extents or {}).items())))


def _semiring(name: str) -> str:
    if name not in ir.SEMIRINGS:
        raise FormalError(f"unknown semiring '{name}' (one of {', '.join(ir.SEMIRINGS)})")
    return name


# ----------------------------------------------------------------- syntax

_TOKEN = re.compile(r"\s*(?:(\[[^\]]*\])|(->)|([,;()#])|(-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)"
                    r"|([A-Za-z_][A-Za-z0-9_']*)|(\S))")


def _index_string(text: str) -> IStr:
    out: list[str] = []
    k = 0
    text = text.strip()
    while k < len(text):
        c = text[k]
        if c.isspace():
            k += 1
        elif c == "[":
            end = text.find("]", k)
            if end < 0:
                raise FormalError(f"unclosed '[' in index string '{text}'")
            out.extend(text[k + 1:end].split())
            k = end + 1
        elif c.isalpha():
            out.append(c)
            k += 1
        else:
            raise FormalError(f"'{c}' is not an index symbol (in '{text}'); use letters or [name ...]")
    return tuple(out)


def parse_spec(spec: str) -> tuple[tuple[IStr, ...], IStr]:
    """``"ij,jk->ik"`` -> ``((('i','j'), ('j','k')), ('i','k'))``.  Without ``->`` the output is
    NumPy's implicit one: the symbols that occur once, sorted."""
    if "..." in spec:
        raise FormalError("ellipsis ('...') is not part of the formal einsum language")
    if "->" in spec:
        lhs, rhs = spec.split("->", 1)
        output = _index_string(rhs)
    else:
        lhs, output = spec, None
    inputs = tuple(_index_string(s) for s in lhs.split(",")) if lhs.strip() else ()
    if output is None:
        counts: dict[str, int] = {}
        for s in inputs:
            for x in s:
                counts[x] = counts.get(x, 0) + 1
        output = tuple(sorted(x for x, n in counts.items() if n == 1))
    return inputs, output


def show_string(s: IStr) -> str:
    """An index string as text: letters joined, or ``[name name]`` for longer symbols."""
    if all(len(x) == 1 and x.isalpha() for x in s):
        return "".join(s)
    return "[" + " ".join(s) + "]"


def show(t: Term) -> str:
    """An expression in the paper's notation (parsed back by ``parse_expr``)."""
    if isinstance(t, Leaf):
        return t.name
    if isinstance(t, Const):
        return f"{t.value:g}"
    if isinstance(t, Delta):
        return "delta"
    if isinstance(t, Plus):
        op = " + " if t.semiring == "sumprod" else f" (+{t.semiring}) "
        return "(" + op.join(show(x) for x in t.terms) + ")"
    if isinstance(t, Apply):
        return f"{t.fn}(" + ", ".join(show(a) for a in t.args) + ")"
    head = "#" if t.semiring == "sumprod" else f"#{t.semiring}"
    spec = ",".join(show_string(s) for s in t.inputs) + "->" + show_string(t.output)
    ext = " ".join(f"{k}={n}" for k, n in t.extents)
    ops = ", ".join(show(o) for o in t.operands)
    return f"{head}({spec}; {ext}; {ops})" if ext else f"{head}({spec}; {ops})"


class _ExprParser:
    """``#sr(spec; op, ...)`` | ``#sr(spec; k=n ...; op, ...)`` | name | number | ``delta``."""

    def __init__(self, text: str, semiring: str) -> None:
        self.text, self.semiring, self.pos = text, semiring, 0

    def peek(self) -> str:
        m = _TOKEN.match(self.text, self.pos)
        return m.group(0).strip() if m and m.group(0).strip() else ""

    def take(self) -> str:
        m = _TOKEN.match(self.text, self.pos)
        if not m or not m.group(0).strip():
            raise FormalError(f"unexpected end of expression '{self.text}'")
        self.pos = m.end()
        return m.group(0).strip()

    def expect(self, tok: str) -> None:
        got = self.take()
        if got != tok:
            raise FormalError(f"expected '{tok}' but found '{got}' in '{self.text}'")

    def term(self) -> Term:
        tok = self.take()
        if tok == "#":
            sr = self.semiring
            if self.peek() not in ("(", ""):
                sr = _semiring(self.take())
            self.expect("(")
            end = self.text.find(";", self.pos)
            if end < 0:
                raise FormalError(f"expected ';' after the spec in '{self.text}'")
            inputs, output = parse_spec(self.text[self.pos:end])
            self.pos = end + 1
            extents: dict[str, int] = {}
            rest = self.text[self.pos:]
            m = re.match(r"\s*((?:[A-Za-z_][\w']*\s*=\s*\d+\s*)+);", rest)
            if m:
                for k, n in re.findall(r"([A-Za-z_][\w']*)\s*=\s*(\d+)", m.group(1)):
                    extents[k] = int(n)
                self.pos += m.end()
            ops: list[Term] = []
            if self.peek() != ")":
                ops.append(self.term())
                while self.peek() == ",":
                    self.take()
                    ops.append(self.term())
            self.expect(")")
            if len(ops) != len(inputs):
                raise FormalError(f"{len(inputs)} operand strings but {len(ops)} operands in '{self.text}'")
            return Ein(inputs, output, tuple(ops), sr, tuple(sorted(extents.items())))
        if tok == "delta":
            return Delta()
        if re.fullmatch(r"-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?", tok):
            return Const(float(tok))
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_']*", tok):
            return Leaf(tok)
        raise FormalError(f"unexpected '{tok}' in '{self.text}'")


def parse_expr(text: str, semiring: str = "sumprod") -> Term:
    """Parse the paper's notation (see the module docstring)."""
    p = _ExprParser(text, _semiring(semiring))
    t = p.term()
    if p.peek():
        raise FormalError(f"unexpected '{p.peek()}' after the expression in '{text}'")
    return t


def leaves(t: Term) -> list[str]:
    """Leaf names in order of first appearance."""
    out: list[str] = []
    stack = [t]
    while stack:
        x = stack.pop()
        if isinstance(x, Leaf):
            if x.name not in out:
                out.append(x.name)
        elif isinstance(x, Ein):
            stack.extend(reversed(x.operands))
        elif isinstance(x, Plus):
            stack.extend(reversed(x.terms))
        elif isinstance(x, Apply):
            stack.extend(reversed(x.args))
    return out


# ------------------------------------------------------------- evaluation

def _num(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=float)


class _Eval:
    """Shared driver: extents flow from leaves, hints and explicit extents; ``combine`` differs."""

    def __init__(self, env: Mapping[str, np.ndarray], given: Mapping[str, int], method: str) -> None:
        self.env, self.given, self.method = env, dict(given), method

    def shape(self, t: Term, hint: Sequence[int | None]) -> tuple[int, ...] | None:
        if isinstance(t, Leaf):
            return tuple(self.env[t.name].shape)
        if isinstance(t, Const | Delta):
            return None if any(n is None for n in hint) else tuple(hint)
        if isinstance(t, Plus | Apply):
            parts = t.terms if isinstance(t, Plus) else t.args
            for p in parts:
                s = self.shape(p, hint)
                if s is not None:
                    return s
            return None
        try:
            ext = self.extents(t, hint)
        except _Unknown:
            return None
        return tuple(ext[s] for s in t.output)

    def extents(self, e: Ein, hint: Sequence[int | None] | None) -> dict[str, int]:
        ext: dict[str, int] = {}

        def put(sym: str, n: int, why: str) -> None:
            if sym in ext and ext[sym] != n:
                raise FormalError(f"index '{sym}' has extent {ext[sym]} but {n} in {why} of {show(e)}")
            ext[sym] = n

        for sym, n in e.extents:
            put(sym, n, "the explicit extents")
        for sym, n in zip(e.output, hint or ()):
            if n is not None:
                put(sym, n, "the enclosing expression")
        pending = list(range(len(e.operands)))
        while pending:
            progress = False
            for k in list(pending):
                s, op = e.inputs[k], e.operands[k]
                if isinstance(op, Delta):
                    if len(s) % 2:
                        raise FormalError(f"a delta needs an index string of even length, not '{show_string(s)}'")
                    o = len(s) // 2
                    for a, b in zip(s[:o], s[o:]):
                        for x, y in ((a, b), (b, a)):
                            if x in ext:
                                put(y, ext[x], "a delta")
                    done = all(x in ext for x in s)
                else:
                    shp = self.shape(op, [ext.get(x) for x in s])
                    done = shp is not None
                    if done:
                        if len(shp) != len(s):
                            raise FormalError(f"operand {k + 1} of {show(e)} has order {len(shp)} but index "
                                              f"string '{show_string(s)}'")
                        for x, n in zip(s, shp):
                            put(x, n, f"operand {k + 1}")
                if done:
                    pending.remove(k)
                    progress = True
            if not progress:
                break
        for sym in e.symbols():
            if sym not in ext and sym in self.given:
                ext[sym] = self.given[sym]
        missing = [s for s in e.symbols() if s not in ext]
        if missing:
            raise _Unknown(f"cannot infer the extent of {', '.join(missing)} in {show(e)}: give "
                           "extents={...} or an operand that carries it")
        return ext

    def value(self, t: Term, hint: Sequence[int | None], sr: str) -> np.ndarray:
        if isinstance(t, Leaf):
            return _num(self.env[t.name])
        if isinstance(t, Ein):
            ext = self.extents(t, hint)
            arrays = [self.value(op, [ext[x] for x in s], t.semiring) for op, s in zip(t.operands, t.inputs)]
            combine = _reference_ein if self.method == "reference" else _numpy_ein
            return combine(t, arrays, ext)
        shape = self.shape(t, hint)
        if shape is None:
            raise FormalError(f"cannot infer the shape of {show(t)}")
        if isinstance(t, Const):
            return np.full(shape, float(t.value))
        if isinstance(t, Delta):
            S = ir.SEMIRINGS[sr]
            o = len(shape) // 2
            grid = np.indices(shape) if shape else np.zeros((0,), dtype=int)
            eq = np.ones(shape, dtype=bool)
            for k in range(o):
                eq &= grid[k] == grid[o + k]
            return np.where(eq, S.one, S.zero)
        if isinstance(t, Plus):
            vals = [self.value(x, shape, t.semiring) for x in t.terms]
            return _plus_values(vals, t.semiring, self.method)
        if isinstance(t, Apply):
            vals = [self.value(x, shape, sr) for x in t.args]
        return _apply_values(t.fn, vals, self.method)


class _Unknown(FormalError):
    pass


def _plus_values(vals: list[np.ndarray], sr: str, method: str) -> np.ndarray:
    S = ir.SEMIRINGS[sr]
    if method == "reference":
        from .ir_literal import PLUS
        flat = [v.ravel().tolist() for v in vals]
        out = [PLUS[S.plus](list(col)) for col in zip(*flat)]
        return np.array(out, dtype=float).reshape(vals[0].shape)
    return _reduce(np.stack(vals), (0,), S)


def _apply_values(fn: str, vals: list[np.ndarray], method: str) -> np.ndarray:
    if method == "reference":
        from .ir_literal import OPS
        flat = [v.ravel().tolist() for v in vals]
        out = [OPS[fn](*col) for col in zip(*flat)]
        return np.array(out, dtype=float).reshape(vals[0].shape)
    from .lower import OPS as NOPS
    with np.errstate(all="ignore"):
        return _num(NOPS[fn](np, *vals))


def _reference_ein(e: Ein, arrays: list[np.ndarray], ext: dict[str, int]) -> np.ndarray:
    """E[p] = (+)_{a: a(I)=p} (x)_k T_k[a(I_k)], literally, with Python floats."""
    from .ir_literal import PLUS, TIMES
    S = ir.SEMIRINGS[e.semiring]
    plus, times = PLUS[S.plus], TIMES[S.times]
    tensors = [(a.ravel().tolist(), a.shape) for a in arrays]
    bound = [s for s in e.symbols() if s not in e.output]
    shape = tuple(ext[s] for s in e.output)
    out: list[float] = []
    for p in itertools.product(*(range(n) for n in shape)):
        fixed: dict[str, int] = {}
        if any(fixed.setdefault(s, v) != v for s, v in zip(e.output, p)):
            out.append(S.zero)  # no assignment is consistent with p: the empty aggregate
            continue
        values = []
        for combo in itertools.product(*(range(ext[s]) for s in bound)):
            a = {**fixed, **dict(zip(bound, combo))}
            acc = S.one
            for (vals, shp), s in zip(tensors, e.inputs):
                off = 0
                for x, n in zip(s, shp):
                    off = off * n + a[x]
                acc = times(acc, vals[off])
            values.append(acc)
        out.append(plus(values) if values else S.zero)
    return np.array(out, dtype=float).reshape(shape)


def _diagonal(arr: np.ndarray, s: IStr) -> tuple[np.ndarray, IStr]:
    """Read the diagonal of repeated symbols: the array over the distinct symbols of ``s``."""
    d = tuple(dict.fromkeys(s))
    if len(d) == len(s):
        return arr, s
    shape = tuple(arr.shape[s.index(x)] for x in d)
    grid = np.indices(shape)
    return arr[tuple(grid[d.index(x)] for x in s)], d


def _reduce(arr: np.ndarray, axes: tuple[int, ...], S: ir.Semiring) -> np.ndarray:
    if not axes:
        return arr
    if S.plus == "sum":
        return arr.sum(axis=axes)
    if S.plus == "avg":
        return arr.mean(axis=axes)
    if S.plus == "max":
        return arr.max(axis=axes)
    if S.plus == "min":
        return arr.min(axis=axes)
    if S.plus == "or":
        return (arr > 0).any(axis=axes) * 1.0
    m = arr.max(axis=axes, keepdims=True)  # logsumexp, stable
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return np.squeeze(np.log(np.exp(arr - m).sum(axis=axes, keepdims=True)) + m, axis=axes)


def _times(a: np.ndarray, b: np.ndarray, S: ir.Semiring) -> np.ndarray:
    if S.times == "mul":
        return a * b
    if S.times == "add":
        return a + b
    return ((a > 0) & (b > 0)) * 1.0


def _align(arr: np.ndarray, s: IStr, to: IStr) -> np.ndarray:
    """Transpose and expand ``arr`` (distinct symbols ``s``) to broadcast against ``to``."""
    perm = [s.index(x) for x in to if x in s]
    arr = np.transpose(arr, perm) if perm != list(range(len(perm))) else arr
    return arr.reshape([arr.shape[perm.index(s.index(x))] if x in s else 1 for x in to]) if to else arr


def _numpy_ein(e: Ein, arrays: list[np.ndarray], ext: dict[str, int]) -> np.ndarray:
    S = ir.SEMIRINGS[e.semiring]
    ops = [_diagonal(a, s) for a, s in zip(arrays, e.inputs)]
    dout = tuple(dict.fromkeys(e.output))
    if S.plus in ("sum", "avg", "or") and S.times in ("mul", "and"):
        import opt_einsum
        letters = {x: opt_einsum.get_symbol(k) for k, x in enumerate(e.symbols())}
        arrs = [(a > 0) * 1.0 if S.plus == "or" else a for a, _ in ops]
        specs = ["".join(letters[x] for x in s) for _, s in ops]
        only = [x for x in dout if not any(x in s for _, s in ops)]
        if only:
            specs.append("".join(letters[x] for x in only))
            arrs.append(np.ones([ext[x] for x in only]))
        spec = ",".join(specs) + "->" + "".join(letters[x] for x in dout)
        res = opt_einsum.contract(spec, *arrs) if arrs else np.asarray(S.one)
        if S.plus == "avg":
            res = res / max(1, math.prod(ext[x] for x in e.bound()))
        elif S.plus == "or":
            res = (res > 0) * 1.0
    else:
        acc, labels = np.asarray(S.one), ()
        for k, (a, s) in enumerate(ops):  # pairwise, aggregating a symbol once no later operand has it
            labels2 = tuple(dict.fromkeys(labels + s))
            acc = _times(_align(acc, labels, labels2), _align(a, s, labels2), S)
            later = {x for _, t in ops[k + 1:] for x in t} | set(dout)
            axes = tuple(i for i, x in enumerate(labels2) if x not in later)
            acc = np.broadcast_to(acc, [ext[x] for x in labels2])
            acc, labels = _reduce(acc, axes, S), tuple(x for x in labels2 if x in later)
        acc = np.broadcast_to(_align(acc, labels, dout), [ext[x] for x in dout])
        res = acc
    res = np.broadcast_to(_num(res), [ext[x] for x in dout])
    if len(dout) == len(e.output):
        return np.array(res, dtype=float)
    out = np.full([ext[x] for x in e.output], S.zero)
    grid = np.indices(res.shape)
    out[tuple(grid[dout.index(x)] for x in e.output)] = res
    return out


def _bind(expr: Term, operands: Sequence[Any] | Mapping[str, Any]) -> dict[str, np.ndarray]:
    names = leaves(expr)
    if isinstance(operands, Mapping):
        missing = [n for n in names if n not in operands]
        if missing:
            raise FormalError(f"no operand named {', '.join(missing)}")
        return {n: _num(operands[n]) for n in names}
    ops = list(operands)
    if len(ops) != len(names):
        raise FormalError(f"the expression has {len(names)} named operands but {len(ops)} were given")
    return {n: _num(a) for n, a in zip(names, ops)}


def _from_spec(spec: str, operands: Sequence[Any], semiring: str,
               env: dict[str, np.ndarray]) -> Ein:
    """A spec with operands that are arrays, or nested ``(spec, operands[, semiring])`` tuples."""
    inputs, output = parse_spec(spec)
    ops = list(operands)
    if len(ops) != len(inputs):
        raise FormalError(f"'{spec}' has {len(inputs)} operand strings but {len(ops)} operands")
    terms: list[Term] = []
    for op in ops:
        if isinstance(op, tuple) and op and isinstance(op[0], str):
            sr = op[2] if len(op) > 2 else semiring
            terms.append(_from_spec(op[0], op[1], sr, env))
        elif isinstance(op, Leaf | Const | Delta | Ein | Plus | Apply):
            terms.append(op)
        else:
            name = f"T{len(env)}"
            env[name] = _num(op)
            terms.append(Leaf(name))
    return Ein(inputs, output, tuple(terms), _semiring(semiring))


def evaluate(spec_or_expr: str | Term, operands: Sequence[Any] | Mapping[str, Any] = (),
             semiring: str = "sumprod", extents: Mapping[str, int] | None = None,
             method: str = "numpy") -> np.ndarray:
    """The value of a formal einsum as a float numpy array.

    ``spec_or_expr``: a spec (``"ij,jk->ik"``; operands are arrays, scalars or nested
    ``(spec, operands[, semiring])`` tuples), an expression in the paper's notation
    (``"#(ij,jk->ik; A, B)"``; operands by name, or a list in order of first appearance) or a
    ``Term``.  ``extents`` gives output-only symbols their extent.  ``method``: ``"numpy"``
    or ``"reference"`` (literal assignment semantics, for tiny inputs).
    """
    if method not in ("numpy", "reference"):
        raise FormalError(f"unknown method '{method}' (numpy or reference)")
    _semiring(semiring)
    if isinstance(spec_or_expr, str) and not spec_or_expr.lstrip().startswith("#"):
        env: dict[str, np.ndarray] = {}
        expr: Term = _from_spec(spec_or_expr, operands, semiring, env)
    else:
        expr = parse_expr(spec_or_expr, semiring) if isinstance(spec_or_expr, str) else spec_or_expr
        env = _bind(expr, operands)
    ev = _Eval(env, extents or {}, method)
    if isinstance(expr, Ein):
        return ev.value(expr, [None] * len(expr.output), semiring)
    shape = ev.shape(expr, ())
    return ev.value(expr, shape if shape is not None else (), semiring)


def reference(spec_or_expr: str | Term, operands: Sequence[Any] | Mapping[str, Any] = (),
              semiring: str = "sumprod", extents: Mapping[str, int] | None = None) -> np.ndarray:
    """``evaluate`` by the literal assignment semantics (the oracle)."""
    return evaluate(spec_or_expr, operands, semiring, extents, method="reference")


def einsum_expr(spec: str, *operands: Any, semiring: str = "sumprod") -> ir.Einsum:
    """The IR (``ir.Einsum``) of ``einsum(spec, *operands)``: operands are tensor names or nested
    ``einsum_expr`` results, e.g. ``einsum_expr("ij,jk->ik", "A", "B")`` (see ``tlang.formal_ir``)."""
    from .formal_ir import einsum_expr as build
    return build(spec, *operands, semiring=semiring)


__all__ = ["Leaf", "Const", "Delta", "Ein", "Plus", "Apply", "Term", "FormalError", "ein",
           "parse_spec", "parse_expr", "show", "show_string", "leaves", "evaluate", "reference",
           "einsum_expr"]
