"""AST indices and expressions -> index forms and right-hand-side trees.

In: the AST of one equation, what is known of the program's tensors (virtual
axes) and its integer scalars.  Out: index forms (``Ix*`` of ``scope.py``)
and expression trees (``scope.py``'s nodes), or located errors (unknown
functions, wrong arities, bad index arithmetic).

Virtual indices are unrolled here (docs/language.md 16.3): ``*t+c`` in an
equation that uses t (its loop equation, or an equation that also uses t as
an ordinary index) is the position t+c of the tensor's time axis; elsewhere,
and for a non-virtual index at a virtual axis, it is the last time position
(the stored, final value).  On the left, a non-virtual index at the virtual
axis writes time 0: the initial value.
"""

from __future__ import annotations

from .. import ast as A
from ..functions import FUNCTIONS
from ..source import Span, TlangCheckError, TlangShapeError
from .arith import SEMIRINGS, Dense
from .model import BUILTIN_RELATIONS, TensorInfo, did_you_mean
from .scope import (
    Call,
    Concat,
    Const,
    Einsum,
    EinsumSpec,
    IndexValue,
    Ix,
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
    leaves,
)


def list_array(lit: A.ListLit) -> Dense:
    """A (rectangular) list literal as a dense tensor."""
    def shape_of(x) -> tuple[int, ...]:
        if isinstance(x, A.ListLit):
            subs = [shape_of(i) for i in x.items]
            if any(s != subs[0] for s in subs):
                raise TlangShapeError("this list literal is ragged: its rows have different lengths",
                                      lit.span)
            return (len(x.items),) + (subs[0] if subs else ())
        return ()

    def flat(x) -> list[float]:
        return [v for i in x.items for v in flat(i)] if isinstance(x, A.ListLit) else [float(x)]
    return Dense(shape_of(lit), flat(lit))


def parse_spec(text: str, span: Span | None) -> tuple[list[list[str]], list[str]]:
    """``"ij,jk->ik"`` (``[p dk]`` writes a symbol of several characters)."""
    def symbols(s: str) -> list[str]:
        out, k = [], 0
        while k < len(s):
            ch = s[k]
            if ch == "[":
                end = s.find("]", k)
                if end < 0:
                    raise TlangCheckError(f"einsum spec {text!r}: '[' is not closed", span)
                out.extend(s[k + 1:end].split())
                k = end + 1
            elif ch.isspace():
                k += 1
            else:
                out.append(ch)
                k += 1
        return out
    if "->" not in text:
        raise TlangCheckError(f"einsum spec {text!r} has no '->' and output string", span)
    ins, out = text.split("->", 1)
    return [symbols(s) for s in ins.split(",")], symbols(out)


class Ctx:
    """What converting one equation needs to know."""

    def __init__(self, tensor: str, ordinary: set[str], eq_vars: set[str], dotted: str | None) -> None:
        self.tensor, self.ordinary, self.eq_vars, self.dotted = tensor, ordinary, eq_vars, dotted
        self.slices: list[IxSlice] = []


class Forms:
    """Converting indices and expressions (a part of ``program.Builder``)."""

    tensors: dict[str, TensorInfo]
    int_scalars: dict[str, int]

    # ------------------------------------------------------------- indices
    def affine(self, ix: A.IndexExpr) -> tuple[dict[str, int], int]:
        if isinstance(ix, A.IVar):
            return {ix.name: 1}, 0
        if isinstance(ix, A.IConst):
            if isinstance(ix.value, int):
                return {}, ix.value
            if not ix.quoted and ix.value in self.int_scalars:
                return {}, self.int_scalars[ix.value]
            raise TlangCheckError(f"'{ix.value}' in index arithmetic must be an integer (a number, "
                                  "or a scalar set to one, such as S = 2)", ix.span)
        if isinstance(ix, A.IBin) and ix.op in "+-":
            lt, lc = self.affine(ix.left)
            rt, rc = self.affine(ix.right)
            sign = 1 if ix.op == "+" else -1
            for v, c in rt.items():
                lt[v] = lt.get(v, 0) + sign * c
            return lt, lc + sign * rc
        raise TlangCheckError("unsupported index arithmetic", getattr(ix, "span", None),
                              ["use i+1, i-1, x+dx or x/S"])

    def plain_ix(self, ix: A.IndexExpr, lhs: bool) -> Ix:
        """An index that is neither virtual nor a slice."""
        if isinstance(ix, A.IVar):
            if ix.dot and not lhs:
                raise TlangCheckError("the normalisation mark '.' goes on a left-hand index only",
                                      ix.span)
            return IxAffine(((ix.name, 1),), span=ix.span)
        if isinstance(ix, A.IConst):
            if isinstance(ix.value, str) and not ix.quoted and ix.value in self.int_scalars:
                return IxConst(self.int_scalars[ix.value], span=ix.span)
            return IxConst(ix.value, ix.quoted, ix.span)
        if isinstance(ix, A.IBin) and ix.op == "/":
            d = self.affine(ix.right)
            if d[0] or d[1] <= 0:
                raise TlangCheckError("the divisor of an index must be a positive integer (a number, "
                                      "or a scalar set to one, such as S = 2)", ix.span)
            terms, c = self.affine(ix.left)
            inner = IxAffine(tuple((v, k) for v, k in terms.items() if k), c, span=ix.span)
            if not inner.terms:
                return IxConst(c // d[1], span=ix.span)
            return IxDiv(inner, d[1], ix.span)
        if isinstance(ix, A.IBin):
            terms, c = self.affine(ix)
            kept = tuple((v, k) for v, k in terms.items() if k)
            return IxAffine(kept, c, span=ix.span) if kept else IxConst(c, span=ix.span)
        raise TlangCheckError("this is not an index", getattr(ix, "span", None))

    def read_ix(self, ctx: Ctx, ref: A.Ref, a: int, ix: A.IndexExpr) -> Ix:
        virtual = self.tensors[ref.name].virtual if ref.name in self.tensors else None
        if isinstance(ix, A.IVirtual):
            if virtual is None or virtual[0] != a:
                raise TlangCheckError(f"'*{ix.name}' is virtual here but '{ref.name}' has no virtual "
                                      "index at this position", ix.span)
            if ix.name in ctx.ordinary:
                return IxAffine(((ix.name, 1),), ix.offset, virtual=True, span=ix.span)
            return IxFinal(ix.span)
        if virtual is not None and virtual[0] == a:
            return IxFinal(getattr(ix, "span", None))  # only the latest value is stored
        if isinstance(ix, A.ISlice):
            s = IxSlice(ix.start, ix.stop, ix.step, span=ix.span)
            ctx.slices.append(s)
            return s
        return self.plain_ix(ix, lhs=False)

    def lhs_ix(self, ref: A.Ref, a: int, ix: A.IndexExpr) -> Ix:
        virtual = self.tensors[ref.name].virtual
        if isinstance(ix, A.IVirtual):
            return IxAffine(((ix.name, 1),), ix.offset, virtual=True, span=ix.span)
        if virtual is not None and virtual[0] == a:
            return IxConst(0, span=getattr(ix, "span", None))  # the initial value: time 0
        if isinstance(ix, A.ISlice):
            raise TlangCheckError("a slice can be read but not written (except by a literal)", ix.span,
                                  ["write the elements with an index variable, or give a list literal"])
        return self.plain_ix(ix, lhs=True)

    # --------------------------------------------------------- expressions
    def expr(self, e: A.Expr, ctx: Ctx) -> Node:
        if isinstance(e, A.Num):
            return Const(float(e.value), span=e.span)
        if isinstance(e, A.Name):
            if e.name[:1].islower() and e.name in ctx.eq_vars:
                return IndexValue(e.name, span=e.span)
            if e.name[:1].islower() and e.name in FUNCTIONS:
                raise TlangCheckError(f"'{e.name}' is a function: write {e.name}(...)", e.span)
            return Read(e.name, [], span=e.span)
        if isinstance(e, A.Ref):
            if e.name in BUILTIN_RELATIONS and len(e.indices) == 1:
                ix = self.plain_ix(e.indices[0], lhs=False)
                if isinstance(ix, IxConst) and not isinstance(ix.value, int):
                    raise TlangCheckError(f"{e.name}(...) takes an index variable or an integer", e.span)
                return Parity(e.name == "Odd", ix, span=e.span)
            return Read(e.name, [self.read_ix(ctx, e, a, ix) for a, ix in enumerate(e.indices)],
                        e.boolean, span=e.span)
        if isinstance(e, A.Unary):
            if e.op == "not":  # a function: an index only under it is aggregated inside (not exists)
                return Call("not", [self.expr(e.operand, ctx)], span=e.span)
            return Op("neg", [self.expr(e.operand, ctx)], span=e.span)
        if isinstance(e, A.Binary):
            if e.op == "*":
                factors: list[Node] = []
                for side in (e.left, e.right):
                    n = self.expr(side, ctx)
                    factors.extend(n.factors if isinstance(n, Prod) and not n.agg else [n])
                return Prod(factors, span=e.span)
            if e.op in "+-":
                terms: list[Node] = []
                signs: list[int] = []
                for side, sign in ((e.left, 1), (e.right, 1 if e.op == "+" else -1)):
                    n = self.expr(side, ctx)
                    if isinstance(n, Sum):
                        terms.extend(n.terms)
                        signs.extend(s * sign for s in n.signs)
                    else:
                        terms.append(n)
                        signs.append(sign)
                return Sum(terms, signs, span=e.span)
            return Op(e.op, [self.expr(e.left, ctx), self.expr(e.right, ctx)], span=e.span)
        if isinstance(e, A.Call):
            return self.call(e, ctx)
        if isinstance(e, A.Str):
            raise TlangCheckError("a string cannot be used as a value here", e.span,
                                  ['files are read with X = "file.csv" on a line of its own'])
        if isinstance(e, A.ListLit):
            raise TlangCheckError("a list literal must be the whole right-hand side", e.span)
        raise TlangCheckError("unsupported expression", getattr(e, "span", None))

    def call(self, e: A.Call, ctx: Ctx) -> Node:
        sig = FUNCTIONS.get(e.fn)
        if sig is None:
            raise TlangCheckError(f"unknown function '{e.fn}'", e.span, did_you_mean(e.fn, FUNCTIONS)
                                  or ["relations (Boolean tensors) start with a capital letter"])
        k = len(e.args)
        if k < sig.min_args or (sig.max_args is not None and k > sig.max_args):
            want = str(sig.min_args) if sig.min_args == sig.max_args else f"{sig.min_args} to {sig.max_args}"
            raise TlangCheckError(f"'{e.fn}' takes {want} argument{'s' if want != '1' else ''}, not {k}",
                                  e.span)
        for key, _ in e.kwargs:
            if key not in sig.kwargs:
                raise TlangCheckError(f"'{e.fn}' has no argument named '{key}'", e.span)
        if sig.kind == "einsum":
            spec = self.einsum_spec(e)
            return Einsum(spec, [IxAffine(((v, 1),)) for v in spec.output], span=e.span)
        args = [self.expr(a, ctx) for a in e.args]
        if sig.kind == "normalize":
            if ctx.dotted is None:
                raise TlangCheckError(f"{e.fn} needs an index to normalise along", e.span,
                                      ["mark it on the left-hand side with a dot, as in Comp[p, p'.]"])
            if not any(ctx.dotted in lf.own_vars() for lf in leaves(args[0])):
                raise TlangCheckError(f"{e.fn} normalises along '{ctx.dotted}', which its argument "
                                      "does not use", e.span)
            return Norm(e.fn, args[0], args[1] if len(args) > 1 else None, ctx.dotted, span=e.span)
        if sig.kind == "tensor":
            return Concat(args[0], span=e.span)
        if e.fn == "randunit" and not isinstance(args[1], IndexValue):
            raise TlangCheckError("randunit(x, d, Seed): d must be an index variable (its extent is "
                                  "the length of the vectors)", e.span)
        return Call(e.fn, args, span=e.span)

    def einsum_spec(self, e: A.Call) -> EinsumSpec:
        if not e.args or not isinstance(e.args[0], A.Str):
            raise TlangCheckError('einsum needs its spec string first: einsum("ij,jk->ik", A, B)', e.span)
        inputs, output = parse_spec(e.args[0].value, e.args[0].span)
        operands: list[str | EinsumSpec] = []
        for a in e.args[1:]:
            if isinstance(a, A.Name) or (isinstance(a, A.Ref) and not a.indices):
                operands.append(a.name)
            elif isinstance(a, A.Call) and a.fn == "einsum":
                operands.append(self.einsum_spec(a))
            else:
                raise TlangCheckError("an einsum operand is a tensor name or another einsum",
                                      getattr(a, "span", None))
        if len(operands) != len(inputs):
            raise TlangCheckError(f"the einsum spec has {len(inputs)} operand strings but "
                                  f"{len(operands)} operands are given", e.span)
        semiring = "sumprod"
        for key, v in e.kwargs:
            if key == "semiring":
                semiring = v.name if isinstance(v, A.Name) else v.value if isinstance(v, A.Str) else ""
                if semiring not in SEMIRINGS:
                    raise TlangCheckError(f"unknown semiring '{semiring}'", getattr(v, "span", e.span),
                                          [f"semirings: {', '.join(SEMIRINGS)}"])
        for letter in output:
            if not any(letter in s for s in inputs):
                raise TlangShapeError(f"the einsum output '{letter}' is in no operand string, so it has "
                                      "no extent", e.span)
        return EinsumSpec(inputs, output, operands, semiring)


def virtual_text(var: str, c: int) -> str:
    return f"*{var}{c:+d}" if c else f"*{var}"


def plain_var(ix: Ix) -> str | None:
    return ix.plain() if isinstance(ix, IxAffine) else None


def copy_ix(ix: Ix) -> Ix:
    if isinstance(ix, IxAffine):
        return IxAffine(ix.terms, ix.const, ix.virtual, ix.span)
    if isinstance(ix, IxDiv):
        return IxDiv(IxAffine(ix.inner.terms, ix.inner.const, span=ix.span), ix.divisor, ix.span)
    if isinstance(ix, IxConst):
        return IxConst(ix.value, ix.quoted, ix.span, ix.pos)
    return ix


def einsum_names(spec: EinsumSpec) -> set[str]:
    out: set[str] = set()
    for op in spec.operands:
        out |= {op} if isinstance(op, str) else einsum_names(op)
    return out
