"""The expression objects of the Python DSL.

In: Python operations on DSL objects -- ``W[i, j] * X[j]``, ``i + 1``,
``tl.relu(x)``, ``Y[i] = ...``, ``Head(x) <= Body(x, y) & Other(y)``.  Out:
``tlang.ast`` nodes, exactly those the parser makes for the same program
written in .tl (so the IR is the same by construction), each with a span at
the user's Python line (``dsl_source.user_span``).  Statements (equations,
rules) go to the innermost active program (``with tl.program() as p:``) or to
the program a tensor was declared in.

Operator table (Python -> tensor logic): ``*`` join, ``+ - /``, ``**`` is
``^``, unary ``-``, ``~`` is ``not``, ``&`` is the ``,`` of a rule body (a
join elsewhere), comparisons ``< <= > >= == !=``; in indices ``i + 1``,
``i - 1``, ``x // S`` (or ``x / S``), Python slices, ``tl.virtual(t) + 1``
and ``p.norm`` (or ``tl.dot(p)``) for the dotted normalisation index.
"""

from __future__ import annotations

import math
import re
from contextvars import ContextVar
from typing import Any

import numpy as np

from . import ast as A
from .dsl_source import user_span
from .fmt import KEYWORDS, format_expr, format_index, format_ref
from .source import Span, TlangCheckError, TlangError

__all__ = [
    "Expr", "Index", "Tensor", "Relation", "indices", "tensors", "relations", "virtual", "dot",
    "quoted", "as_expr", "as_index", "as_ref", "rhs_node", "list_literal",
]

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*'*\Z")
_CONST_RE = re.compile(r"[A-Z][A-Za-z0-9_]*'*\Z")

# ------------------------------------------------------------ program stack

_ACTIVE: ContextVar[tuple[Any, ...]] = ContextVar("tlang_dsl_active", default=())


def push_program(prog: Any) -> None:
    _ACTIVE.set(_ACTIVE.get() + (prog,))


def pop_program(prog: Any) -> None:
    stack = _ACTIVE.get()
    if stack and stack[-1] is prog:
        _ACTIVE.set(stack[:-1])


def active_program() -> Any:
    stack = _ACTIVE.get()
    return stack[-1] if stack else None


def emit(stmt: A.Stmt, owner: Any = None) -> Any:
    """Add a statement to the active program (else ``owner``); return that program."""
    prog = active_program() or owner
    if prog is None:
        raise TlangError("there is no program to add this statement to", stmt.span,
                         ["write it inside 'with tl.program() as p:', or declare the tensor "
                          "with p.tensor(...) / p.relation(...)"])
    prog._add(stmt)
    return prog


def _merge(a: Span | None, b: Span | None) -> Span | None:
    if a is None or b is None or a.source is not b.source:
        return a or b
    return a.merge(b)


# ---------------------------------------------------------------- values

def _plain_number(v: Any) -> int | float | None:
    """``v`` as a Python int/float if it is a real number (numpy scalars and 0-d arrays too)."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int | float):
        return v
    if hasattr(v, "dtype") and getattr(v, "shape", None) == ():
        kind = getattr(v.dtype, "kind", "")
        if kind in "biu":
            return int(v)
        if kind == "f":
            return float(v)
    return None


def _num_node(v: int | float, span: Span | None) -> A.Expr:
    if isinstance(v, float) and not math.isfinite(v):
        raise TlangCheckError(f"the number {v} has no literal in tensor logic", span,
                              ["pass arrays holding it as inputs: p.run(X=array)"])
    if v < 0 or (isinstance(v, float) and v == 0 and math.copysign(1.0, v) < 0):
        return A.Unary("-", A.Num(-v, span=span), span=span)  # as the parser reads '-2'
    return A.Num(v, span=span)


def as_expr(x: Any, span: Span | None = None) -> A.Expr:
    """The AST of a DSL object or a Python number used in an expression."""
    if isinstance(x, Expr):
        return x._consume(span)
    v = _plain_number(x)
    if v is not None:
        return _num_node(v, span)
    if isinstance(x, str):
        return A.Str(x, span=span)
    if isinstance(x, complex):
        raise TlangCheckError("complex numbers are not supported", span)
    what = type(x).__name__
    notes = ["give arrays to the program as data (p['W'] = array) or as inputs (p.run(W=array))"] \
        if hasattr(x, "shape") or isinstance(x, list | tuple) else []
    raise TlangCheckError(f"a {what} cannot be part of a tensor-logic expression", span, notes)


def _node_index(e: A.Expr, span: Span | None) -> A.IndexExpr:
    """An expression AST as an index, exactly as the parser converts it (``ast.expr_to_index``)."""
    try:
        return A.expr_to_index(e)
    except A.NotAnIndex as bad:
        node = bad.node
        if bad.reason == "float":
            raise TlangCheckError(f"index {node.value!r} is not an integer", node.span or span) from None
        raise TlangCheckError(f"'{format_expr(node)}' is not an index", node.span or span,
                              ["indices are index variables (tl.indices), constants (\"Alice\", 0), "
                               "i + 1, x // S, tl.virtual(t) + 1, p.norm, or slices like 1:4"]) from None


def as_index(x: Any, span: Span | None = None) -> A.IndexExpr:
    """The AST of one index given in Python: an Index, a constant, a slice, index arithmetic."""
    if isinstance(x, DotIndex):
        return A.IVar(x.index.name, True, span=span)
    if isinstance(x, VirtualIndex):
        return A.IVirtual(x.name, x.offset, span=span)
    if isinstance(x, Tensor) and not x.name[0].isupper():
        raise TlangCheckError(f"'{x.name}' cannot be a constant index: it does not start with a "
                              "capital letter", span)
    if isinstance(x, Expr):
        return _node_index(x._consume(span), span)
    if isinstance(x, str):
        forced = isinstance(x, quoted)
        return A.IConst(str(x), quoted=forced or not _CONST_RE.match(x), span=span)
    if isinstance(x, slice):
        parts = []
        for v in (x.start, x.stop, x.step):
            n = v if v is None else _plain_number(v)
            if v is not None and not isinstance(n, int):
                raise TlangCheckError(f"slice bounds must be integers, not {v!r}", span)
            parts.append(n)
        if parts[2] == 0:
            raise TlangCheckError("slice step cannot be zero", span)
        return A.ISlice(parts[0], parts[1], parts[2], span=span)
    v = _plain_number(x)
    if isinstance(v, int):
        return A.IConst(v, span=span)
    if isinstance(v, float):
        raise TlangCheckError(f"index {v!r} is not an integer", span)
    raise TlangCheckError(f"a {type(x).__name__} cannot be an index", span,
                          ["indices are index variables (tl.indices), constants (\"Alice\", 0), "
                           "i + 1, x // S, tl.virtual(t) + 1, p.norm, or slices like 1:4"])


def _key(key: Any) -> tuple:
    if isinstance(key, tuple):
        return key
    if key is Ellipsis:
        raise TlangCheckError("'...' is not an index; a scalar is written W[()]", user_span())
    return (key,)


def as_ref(x: Any, span: Span | None = None) -> A.Ref:
    """A tensor reference (an LHS, a query target): ``W[i]``, ``R(x)``, or a bare tensor."""
    if isinstance(x, RefExpr):
        return x._ref
    if isinstance(x, Tensor):
        return A.Ref(x.name, (), False, span=span)
    if isinstance(x, str):
        return A.Ref(check_name(x, span), (), False, span=span)
    raise TlangCheckError(f"a {type(x).__name__} is not a tensor reference", span,
                          ["write W[i, j], R(x, y), or a tensor made by tl.tensors"])


def list_literal(value: Any, span: Span | None) -> A.ListLit:
    """A (nested) Python list/tuple or an array as a list literal ``[[1, 2], [3, 4]]``."""
    if hasattr(value, "shape") and not isinstance(value, list | tuple):
        value = _to_host(value).tolist()

    def conv(v: Any) -> int | float | A.ListLit:
        if isinstance(v, list | tuple):
            return A.ListLit(tuple(conv(x) for x in v), span=span)
        n = _plain_number(v)
        if n is None:
            raise TlangCheckError(f"a list literal holds numbers, not a {type(v).__name__}", span)
        if isinstance(n, float) and not math.isfinite(n):
            raise TlangCheckError(f"the number {n} has no literal in tensor logic", span,
                                  ["pass arrays holding it as inputs: p.run(X=array)"])
        return n

    out = conv(value)
    if not isinstance(out, A.ListLit):
        raise TlangCheckError("a list literal needs at least one dimension", span)
    return out


def _to_host(x: Any) -> Any:
    """A numpy array from numpy, JAX, CuPy or torch arrays (and anything ``np.asarray`` takes)."""
    mod = type(x).__module__ or ""
    if mod.startswith("cupy"):
        return x.get()
    if mod.startswith("torch"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def is_array_like(x: Any) -> bool:
    return isinstance(x, list | tuple) or (hasattr(x, "shape") and hasattr(x, "dtype")
                                           and len(getattr(x, "shape", ())) > 0)


def rhs_node(value: Any, span: Span | None) -> A.Expr:
    """The right-hand side of an equation: an expression, or a list literal for data."""
    if is_array_like(value):
        return list_literal(value, span)
    return as_expr(value, span)


def check_name(name: str, span: Span | None = None, what: str = "tensor") -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name) or name in KEYWORDS:
        raise TlangCheckError(f"{name!r} is not a valid {what} name", span or user_span(),
                              ["names are letters, digits and '_' (not first), optionally followed "
                               "by primes, and not a keyword"])
    return name


def assign(lhs: A.Ref, value: Any, op: str, span: Span | None, owner: Any = None) -> A.Stmt:
    """Emit ``lhs op value``: an equation, a literal, or a file load (a string value)."""
    if isinstance(value, _Accum) and op == "=" and value.target == lhs:
        op, value = "+=", value.rhs
    if isinstance(value, str):
        if op != "=":
            raise TlangCheckError(f"a file is read with '=', not '{op}'", span)
        stmt: A.Stmt = A.Load(lhs, value, span=span)
    else:
        rhs = rhs_node(value, span)
        stmt = A.Equation(lhs, op, rhs, span=_merge(span, rhs.span))
    emit(stmt, owner)
    return stmt


# ----------------------------------------------------------- expressions

class Expr:
    """A tensor-logic expression built in Python; ``.node`` is its AST (``tlang.ast``)."""

    __slots__ = ("_node",)
    __array_ufunc__ = None  # numpy scalars and arrays defer to our reflected operators
    __hash__ = object.__hash__

    def __init__(self, node: A.Expr | None) -> None:
        self._node = node

    @property
    def node(self) -> A.Expr:
        return self._consume(None)

    def _consume(self, span: Span | None) -> A.Expr:
        return self._node

    def _text(self) -> str:
        return format_expr(self._node)

    def __repr__(self) -> str:
        return f"tl.Expr({self._text()!r})"

    def __str__(self) -> str:
        return self._text()

    def __bool__(self) -> bool:
        raise TypeError(f"the tensor-logic expression {self._text()!r} has no truth value "
                        "(comparisons build expressions; run the program to get values)")

    # arithmetic ----------------------------------------------------------
    def __add__(self, o): return _bin("+", self, o)
    def __radd__(self, o): return _bin("+", o, self)
    def __sub__(self, o): return _bin("-", self, o)
    def __rsub__(self, o): return _bin("-", o, self)
    def __mul__(self, o): return _bin("*", self, o)
    def __rmul__(self, o): return _bin("*", o, self)
    def __truediv__(self, o): return _bin("/", self, o)
    def __rtruediv__(self, o): return _bin("/", o, self)
    def __pow__(self, o): return _bin("^", self, o)
    def __rpow__(self, o): return _bin("^", o, self)

    def __floordiv__(self, o):
        return _bin("/", self, o, index_only=True)

    def __rfloordiv__(self, o):
        return _bin("/", o, self, index_only=True)

    def __neg__(self):
        span = user_span()
        return Expr(A.Unary("-", as_expr(self, span), span=span))

    def __pos__(self):
        return self

    def __invert__(self):
        span = user_span()
        return Expr(A.Unary("not", as_expr(self, span), span=span))

    def __and__(self, o): return Conj._of(self, o)
    def __rand__(self, o): return Conj._of(o, self)

    # comparisons ----------------------------------------------------------
    def __lt__(self, o): return _bin("<", self, o)
    def __le__(self, o): return _bin("<=", self, o)
    def __gt__(self, o): return _bin(">", self, o)
    def __ge__(self, o): return _bin(">=", self, o)
    def __eq__(self, o): return _bin("==", self, o)  # type: ignore[override]
    def __ne__(self, o): return _bin("!=", self, o)  # type: ignore[override]


def _index_like(e: A.Expr) -> bool:
    if isinstance(e, A.Name | A.Num):
        return True
    if isinstance(e, A.Unary):
        return e.op == "-" and _index_like(e.operand)
    return isinstance(e, A.Binary) and e.op in "+-/" and _index_like(e.left) and _index_like(e.right)


def _bin(op: str, a: Any, b: Any, index_only: bool = False) -> Expr:
    span = user_span()
    left, right = as_expr(a, span), as_expr(b, span)
    if index_only and not (_index_like(left) and _index_like(right)):
        raise TlangCheckError("'//' is integer division of indices (x // S); use '/' between values",
                              span)
    return Expr(A.Binary(op, left, right, span=span))


class Conj(Expr):
    """``a & b & c``: the comma-separated body of a rule; a join anywhere else."""

    __slots__ = ("items",)

    def __init__(self, items: tuple) -> None:
        super().__init__(None)
        self.items = items

    @staticmethod
    def _of(a: Any, b: Any) -> Conj:
        left = a.items if isinstance(a, Conj) else (a,)
        right = b.items if isinstance(b, Conj) else (b,)
        return Conj(left + right)

    def body(self, span: Span | None) -> tuple[A.Expr, ...]:
        return tuple(as_expr(x, span) for x in self.items)

    def _consume(self, span: Span | None) -> A.Expr:
        nodes = self.body(span)
        out = nodes[0]
        for n in nodes[1:]:
            out = A.Binary("*", out, n, span=_merge(out.span, n.span))
        return out

    def _text(self) -> str:
        return ", ".join(format_expr(x._node) if isinstance(x, Expr) and x._node is not None
                         else str(x) for x in self.items)


class Index(Expr):
    """An index variable (``i``, ``p'``); in an expression it is its value (a Name)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        check_name(name, None, "index")
        if name[0].isupper():
            raise TlangCheckError(f"index names start with a lowercase letter or '_': {name!r} would "
                                  "be a constant", user_span())
        super().__init__(A.Name(name))
        self.name = name

    def _consume(self, span: Span | None) -> A.Expr:
        return A.Name(self.name, span=span)

    @property
    def norm(self) -> DotIndex:
        """This index marked as the normalisation axis: ``Comp[p, p'.]`` is ``Comp[p, p_.norm]``."""
        return DotIndex(self)

    def __repr__(self) -> str:
        return f"tl.Index({self.name!r})"


class DotIndex:
    """``p'.``: the LHS index that ``softmax``/``lnorm`` normalise along."""

    __slots__ = ("index",)

    def __init__(self, index: Index) -> None:
        self.index = index

    def __repr__(self) -> str:
        return f"tl.dot({self.index.name})"


class VirtualIndex:
    """``*t`` / ``*t+1``: a virtual index (no memory along it); ``tl.virtual(t) + 1``."""

    __slots__ = ("name", "offset")

    def __init__(self, name: str, offset: int = 0) -> None:
        self.name, self.offset = name, offset

    def __add__(self, k: int) -> VirtualIndex:
        if not isinstance(_plain_number(k), int):
            raise TlangCheckError("a virtual index is shifted by an integer: tl.virtual(t) + 1", user_span())
        return VirtualIndex(self.name, self.offset + int(k))

    def __sub__(self, k: int) -> VirtualIndex:
        return self + (-int(k))

    def __repr__(self) -> str:
        return f"tl.virtual({format_index(A.IVirtual(self.name, self.offset))!r})"


class RefExpr(Expr):
    """A tensor reference in an expression: ``W[i, j]`` or the Boolean atom ``R(x, y)``."""

    __slots__ = ("_ref", "_owner")

    def __init__(self, ref: A.Ref, owner: Any = None) -> None:
        super().__init__(ref)
        self._ref = ref
        self._owner = owner

    def __iadd__(self, o: Any) -> _Accum:
        return _Accum(self._ref, o)

    def _no_inplace(self, o: Any):
        raise TlangCheckError("only '+=' is an assignment operator of tensor logic; write "
                              "Y.max[i] = ..., Y.min[i] = ... or Y.avg[i] = ... for the others",
                              user_span())

    __isub__ = __imul__ = __itruediv__ = __ipow__ = __ifloordiv__ = _no_inplace

    def __repr__(self) -> str:
        return f"tl.Expr({format_ref(self._ref)!r})"


class Atom(RefExpr):
    """A Boolean atom ``R(x, y)``; ``Head(...) <= body`` inside a program adds a rule."""

    __slots__ = ()

    def __le__(self, o: Any):
        span = user_span()
        prog = active_program() or self._owner
        if prog is None:
            return _bin("<=", self, o)
        body = o.items if isinstance(o, Conj) else (o,)
        rule = A.Rule(self._ref, tuple(as_expr(b, span) for b in body), span=span)
        prog._add(rule)
        return _RuleHandle(self, o, prog, rule)


class _RuleHandle(Expr):
    """What ``Head(x) <= Body(x)`` returns: a rule, unless used as a value (then a comparison)."""

    __slots__ = ("_parts", "_prog", "_rule")

    def __init__(self, head: Atom, body: Any, prog: Any, rule: A.Rule) -> None:
        super().__init__(None)
        self._parts, self._prog, self._rule = (head, body), prog, rule

    def _consume(self, span: Span | None) -> A.Expr:
        if self._rule is not None:  # used as a value: it was a comparison, not a rule
            span = self._rule.span or span
            self._prog._remove(self._rule)
            self._rule = None
        head, body = self._parts
        return A.Binary("<=", as_expr(head, span), as_expr(body, span), span=span)

    def _text(self) -> str:
        head, body = self._parts
        rhs = body._text() if isinstance(body, Expr) else str(body)
        return f"{format_ref(head._ref)} <- {rhs}"

    def __repr__(self) -> str:
        return f"tl.Rule({self._text()!r})"


class _Accum(Expr):
    """What ``Y[i] += e`` produces before Python stores it back: the '+=' equation's parts."""

    __slots__ = ("target", "rhs")

    def __init__(self, target: A.Ref, rhs: Any) -> None:
        super().__init__(None)
        self.target, self.rhs = target, rhs

    def _consume(self, span: Span | None) -> A.Expr:
        right = as_expr(self.rhs, span)
        return A.Binary("+", self.target, right, span=span)

    def _text(self) -> str:
        return f"{format_ref(self.target)} + {self.rhs}"


class _OpView:
    """``Y.max[i] = e`` is ``Y[i] max= e`` (also ``.min``, ``.avg``)."""

    __slots__ = ("tensor", "op")

    def __init__(self, tensor: Tensor, op: str) -> None:
        self.tensor, self.op = tensor, op

    def __setitem__(self, key: Any, value: Any) -> None:
        span = user_span()
        assign(self.tensor._lhs(key, span), value, self.op, span, self.tensor._owner)

    def set(self, value: Any) -> None:
        """The scalar form: ``Y.max.set(e)`` is ``Y max= e``."""
        span = user_span()
        assign(A.Ref(self.tensor.name, (), False, span=span), value, self.op, span, self.tensor._owner)


class Tensor(Expr):
    """A named tensor: ``W[i, j]`` reads it, ``W[i, j] = e`` defines it, ``W(x)`` is a Boolean atom.

    Bare, it is the scalar ``W`` (a constant index like ``L`` in ``Emb[n, L, d]``).
    """

    __slots__ = ("name", "_owner")
    _boolean = False

    def __init__(self, name: str, owner: Any = None) -> None:
        check_name(name)
        super().__init__(A.Name(name))
        self.name = name
        self._owner = owner

    def _consume(self, span: Span | None) -> A.Expr:
        return A.Name(self.name, span=span)

    def _lhs(self, key: Any, span: Span | None, boolean: bool | None = None) -> A.Ref:
        boolean = self._boolean if boolean is None else boolean
        return A.Ref(self.name, tuple(as_index(k, span) for k in _key(key)), boolean, span=span)

    def __iter__(self):  # __getitem__ alone would make Python iterate W[0], W[1], ... forever
        raise TypeError(f"the tensor {self.name!r} is not iterable; index it, as in {self.name}[i]")

    def __getitem__(self, key: Any) -> RefExpr:
        span = user_span()
        ref = self._lhs(key, span)
        return (Atom if self._boolean else RefExpr)(ref, self._owner)

    def __call__(self, *args: Any) -> Atom:
        span = user_span()
        if not self.name[0].isupper() and self.name[0] != "_":
            raise TlangCheckError(f"'{self.name}(...)' would be a function call; relations start "
                                  "with a capital letter", span)
        return Atom(A.Ref(self.name, tuple(as_index(a, span) for a in args), True, span=span),
                    self._owner)

    def __setitem__(self, key: Any, value: Any) -> None:
        span = user_span()
        assign(self._lhs(key, span), value, "=", span, self._owner)

    def set(self, value: Any) -> None:
        """``W.set(e)`` is the scalar/whole-tensor statement ``W = e`` (a literal, a file, an expression)."""
        span = user_span()
        assign(A.Ref(self.name, (), False, span=span), value, "=", span, self._owner)

    @property
    def max(self) -> _OpView:
        return _OpView(self, "max=")

    @property
    def min(self) -> _OpView:
        return _OpView(self, "min=")

    @property
    def avg(self) -> _OpView:
        return _OpView(self, "avg=")

    def __repr__(self) -> str:
        return f"tl.{type(self).__name__}({self.name!r})"


class Relation(Tensor):
    """A Boolean tensor: ``R(x, y)`` and ``R[x, y]`` are both the atom ``R(x, y)``."""

    __slots__ = ()
    _boolean = True


# ----------------------------------------------------------- constructors

def _names(spec: str | list[str] | tuple[str, ...]) -> list[str]:
    if isinstance(spec, str):
        return spec.replace(",", " ").split()
    return list(spec)


def _one_or_many(objs: list):
    return objs[0] if len(objs) == 1 else tuple(objs)


def indices(names: str) -> Index | tuple[Index, ...]:
    """Index variables: ``i, j = tl.indices("i j")``; primes allowed (``"p p'"``)."""
    return _one_or_many([Index(n) for n in _names(names)])


def tensors(names: str) -> Tensor | tuple[Tensor, ...]:
    """Numeric tensors: ``W, X, Y = tl.tensors("W X Y")`` (one name: one tensor)."""
    return _one_or_many([Tensor(n) for n in _names(names)])


def relations(names: str) -> Relation | tuple[Relation, ...]:
    """Boolean relations: ``Parent, Ancestor = tl.relations("Parent Ancestor")``."""
    out = []
    for n in _names(names):
        if n[0].islower():
            raise TlangCheckError(f"relation names start with a capital letter: {n!r}", user_span())
        out.append(Relation(n))
    return _one_or_many(out)


def virtual(t: Index) -> VirtualIndex:
    """The virtual index ``*t`` (``tl.virtual(t) + 1`` is ``*t+1``)."""
    if not isinstance(t, Index):
        raise TlangCheckError("tl.virtual takes an index variable", user_span())
    return VirtualIndex(t.name)


def dot(p: Index) -> DotIndex:
    """The normalisation index ``p.`` (same as ``p.norm``)."""
    if not isinstance(p, Index):
        raise TlangCheckError("tl.dot takes an index variable", user_span())
    return DotIndex(p)


class quoted(str):
    """A constant written as a quoted string (``"Alice"``) even where a bare name would do."""

    __slots__ = ()
