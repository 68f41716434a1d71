"""Where the formal einsum language meets the IR and the .tl ``einsum(...)`` call.

In: formal ``Ein`` terms (``tlang.formal``) or the ``einsum("ij,jk->ik", A, B,
semiring=maxplus)`` calls of a parsed equation.  Out: ``ir.Einsum`` nodes
(``einsum_expr``, ``lower_call``) and equations whose einsum calls are
normalised for extent inference (``normalize_equation``).

The IR convention: an ``ir.Einsum`` is an expression over the index
variables of its *output* string (``ir.free_vars``), like every other IR
node, so einsums, ``Contract`` nodes and tensor equations meet in one IR.
Its operand ``k`` is an IR expression over the variables of ``inputs[k]``
(a ``Ref`` with those indices, or a nested ``Einsum`` whose output string
*is* ``inputs[k]``), and its other symbols are aggregated.  Index strings
are tuples of variable names.  ``align_nesting`` brings any formal
expression into this form: it renames the bound symbols of every nested
einsum apart from everything else (R1), substitutes the inner output by the
outer string (restricted denesting), and, where an inner output repeats a
symbol (``i->ii``), first identifies the facing outer symbols with a
union-find over the index-symbol graph (general denesting): the outer
product is zero off that diagonal anyway.
"""

from __future__ import annotations

from dataclasses import replace

from . import ast as A
from . import ir
from .formal import Ein, FormalError, IStr, Leaf, Term, parse_spec, show_string
from .source import TlangCheckError


class _UF:
    def __init__(self, items) -> None:
        self.p = {x: x for x in items}

    def find(self, x: str) -> str:
        while self.p[x] != x:
            self.p[x] = self.p[self.p[x]]
            x = self.p[x]
        return x

    def union(self, a: str, b: str) -> None:
        self.p[self.find(a)] = self.find(b)


def fresh(name: str, used: set[str]) -> str:
    """``name``, or ``name'``, ``name''``... whichever is not in ``used`` (and add it)."""
    while name in used:
        name += "'"
    used.add(name)
    return name


def identify(e: Ein) -> dict[str, str]:
    """The identification of outer symbols forced by nested outputs with repeated symbols:
    symbol -> representative (an output symbol where the class has one)."""
    syms = e.symbols()
    uf = _UF(syms)
    for s, op in zip(e.inputs, e.operands):
        if isinstance(op, Ein):
            if len(op.output) != len(s):
                raise FormalError(f"a nested einsum with output '{show_string(op.output)}' is read "
                                  f"through the string '{show_string(s)}' of another length")
            first: dict[str, str] = {}
            for v, u in zip(op.output, s):
                if v in first:
                    uf.union(u, first[v])
                else:
                    first[v] = u
    rank = {x: (x not in e.output, k) for k, x in enumerate(syms)}
    classes: dict[str, list[str]] = {}
    for x in syms:
        classes.setdefault(uf.find(x), []).append(x)
    return {x: min(members, key=rank.__getitem__) for members in classes.values() for x in members}


def align_nesting(e: Ein, target: IStr | None = None, used: set[str] | None = None) -> Ein:
    """``e`` in the IR convention (module docstring), its output renamed to ``target``."""
    used = set(used or ())
    if target is not None:
        used |= set(target)
    return _align(e, target, used)


def _align(e: Ein, target: IStr | None, used: set[str]) -> Ein:
    sub = identify(e)
    out = tuple(sub[x] for x in e.output)
    ren: dict[str, str] = {}
    if target is not None:
        if len(target) != len(out):
            raise FormalError(f"an einsum with output '{show_string(e.output)}' is read through "
                              f"{len(target)} indices")
        for x, t in zip(out, target):
            if ren.setdefault(x, t) != t:
                raise FormalError(f"the output repeats '{x}' (a diagonal), which is read here "
                                  f"through the distinct indices {ren[x]} and {t}")
    else:
        for x in out:
            ren[x] = x
            used.add(x)
    for x in e.symbols():
        r = sub[x]
        if r not in ren:
            ren[r] = fresh(r, used)
    full = {x: ren[sub[x]] for x in e.symbols()}
    inputs = tuple(tuple(full[x] for x in s) for s in e.inputs)
    ops = tuple(_align(op, s, used) if isinstance(op, Ein) else op for op, s in zip(e.operands, inputs))
    extents = tuple(sorted({full[k]: n for k, n in e.extents}.items()))
    return Ein(inputs, tuple(full[x] for x in e.output), ops, e.semiring, extents)


def to_ir(e: Ein, span=None) -> ir.Einsum:
    """An aligned ``Ein`` (``align_nesting``) as ``ir.Einsum``; leaves become ``ir.Ref``."""
    ops: list[ir.Expr] = []
    for op, s in zip(e.operands, e.inputs):
        if isinstance(op, Leaf):
            ops.append(ir.Ref(op.name, tuple(ir.ivar(x) for x in s), span=span))
        elif isinstance(op, Ein):
            if op.output != s:
                raise FormalError("to_ir needs an aligned expression (see align_nesting)")
            ops.append(to_ir(op, span))
        else:
            raise FormalError(f"an IR einsum operand is a tensor or an einsum, not {type(op).__name__}")
    return ir.Einsum(e.inputs, e.output, tuple(ops), e.semiring, span=span)


def from_ir(e: ir.Einsum) -> Ein:
    """The formal term of an ``ir.Einsum`` whose operands are plain ``Ref`` or ``Einsum`` nodes."""
    ops: list[Term] = []
    for op in e.operands:
        if isinstance(op, ir.Einsum):
            ops.append(from_ir(op))
        elif isinstance(op, ir.Ref) and all(isinstance(ix, ir.IAffine) and ix.is_var() for ix in op.indices):
            ops.append(Leaf(op.tensor))
        else:
            raise FormalError(f"no formal term for an einsum operand {op!r}")
    return Ein(tuple(map(tuple, e.inputs)), tuple(e.output), tuple(ops), e.semiring)


def einsum_expr(spec: str, *operands: str | ir.Einsum | Term, semiring: str = "sumprod") -> ir.Einsum:
    """The IR of ``einsum(spec, *operands, semiring=...)``: operands are tensor names or nested
    ``einsum_expr`` results.  E.g. ``einsum_expr("ij,jk->ik", "A", "B")``."""
    from .formal import ein
    terms = [from_ir(o) if isinstance(o, ir.Einsum) else o for o in operands]
    return to_ir(align_nesting(ein(spec, *terms, semiring=semiring)))


# ------------------------------------------------------------ .tl calls

def is_einsum(e: object) -> bool:
    return isinstance(e, A.Call) and e.fn == "einsum"


def _semiring_of(call: A.Call) -> str:
    for key, value in call.kwargs:
        if key != "semiring":
            raise TlangCheckError(f"'einsum' has no argument named '{key}'", call.span)
        name = value.name if isinstance(value, A.Name) else value.value if isinstance(value, A.Str) else None
        if name not in ir.SEMIRINGS:
            raise TlangCheckError(f"unknown semiring {name!r}", getattr(value, "span", None) or call.span,
                                  [f"one of {', '.join(ir.SEMIRINGS)}"])
        return name
    return "sumprod"


def call_to_formal(call: A.Call) -> Ein:
    """An AST ``einsum(...)`` call as a formal term (operands: tensor names, nested calls)."""
    if not call.args or not isinstance(call.args[0], A.Str):
        raise TlangCheckError("einsum takes a spec string first, as in einsum(\"ij,jk->ik\", A, B)",
                              call.span)
    try:
        inputs, output = parse_spec(call.args[0].value)
    except FormalError as e:
        raise TlangCheckError(e.message, call.args[0].span) from None
    ops: list[Term] = []
    for a in call.args[1:]:
        if is_einsum(a):
            ops.append(call_to_formal(a))
        elif isinstance(a, A.Name) or (isinstance(a, A.Ref) and not a.indices):
            ops.append(Leaf(a.name))
        else:
            raise TlangCheckError("an einsum operand is a tensor name or an einsum(...) call", a.span,
                                  ["the spec string gives its indices: einsum(\"ij,j->i\", W, X)"])
    if len(ops) != len(inputs):
        raise TlangCheckError(f"the spec '{call.args[0].value}' has {len(inputs)} operand strings but "
                              f"{len(ops)} operands follow it", call.span)
    return Ein(inputs, output, tuple(ops), _semiring_of(call))


def _formal_to_call(e: Ein, call: A.Call) -> A.Call:
    spec = ",".join(show_string(s) for s in e.inputs) + "->" + show_string(e.output)
    args: list[A.Expr] = [A.Str(spec, span=call.args[0].span)]
    for op, s, orig in zip(e.operands, e.inputs, call.args[1:]):
        if isinstance(op, Ein):
            args.append(_formal_to_call(op, orig))
        else:
            args.append(A.Ref(op.name, tuple(A.IVar(x, span=orig.span) for x in s), span=orig.span))
    return A.Call("einsum", tuple(args), (("semiring", A.Str(e.semiring)),), span=call.span)


def _vars_outside(e: A.Expr, out: set[str]) -> None:
    if is_einsum(e):
        return
    if isinstance(e, A.IVar):
        out.add(e.name)
    elif isinstance(e, A.Name):
        out.add(e.name)
    elif isinstance(e, A.Node):
        for f in e.__dataclass_fields__:
            if f != "span":
                _vars_outside(getattr(e, f), out)
    elif isinstance(e, tuple):
        for x in e:
            _vars_outside(x, out)


def _map_calls(e: A.Expr, f) -> A.Expr:
    if is_einsum(e):
        return f(e)
    if isinstance(e, A.Binary):
        return replace(e, left=_map_calls(e.left, f), right=_map_calls(e.right, f))
    if isinstance(e, A.Unary):
        return replace(e, operand=_map_calls(e.operand, f))
    if isinstance(e, A.Call):
        return replace(e, args=tuple(_map_calls(a, f) for a in e.args))
    return e


def normalize_equation(lhs: A.Ref, rhs: A.Expr) -> tuple[A.Ref, A.Expr]:
    """Give every einsum operand its indices (``A`` -> ``A[i, j]``) so extents unify with the spec.

    An einsum that is the whole right-hand side binds its output string to the LHS indices by
    position (a bare LHS takes the output string as its indices); elsewhere its output letters
    are ordinary index variables of the equation.  Bound letters that clash with other variables
    of the equation are renamed (``j`` -> ``j'``).
    """
    if not any(is_einsum(n) for n in A.walk(rhs)):
        return lhs, rhs
    used: set[str] = set()
    _vars_outside(lhs, used)
    _vars_outside(rhs, used)

    def convert(call: A.Call, target: IStr | None) -> A.Call:
        try:
            aligned = align_nesting(call_to_formal(call), target, used)
        except FormalError as e:
            raise TlangCheckError(e.message, call.span) from None
        used.update(aligned.symbols())
        return _formal_to_call(aligned, call)

    if not is_einsum(rhs):
        return lhs, _map_calls(rhs, lambda c: convert(c, None))
    if lhs.indices:
        if not all(isinstance(ix, A.IVar) for ix in lhs.indices):
            raise TlangCheckError("an einsum on the whole right-hand side needs plain index variables "
                                  "(or none) on the left", lhs.span)
        new = convert(rhs, tuple(ix.name for ix in lhs.indices))
        return lhs, new
    new = convert(rhs, None)
    _, output = parse_spec(new.args[0].value)
    sr = ir.SEMIRINGS[new.kwargs[0][1].value]
    if len(set(output)) < len(output) and sr.zero != 0.0:
        raise TlangCheckError(
            f"this {sr.name} einsum repeats an output index: off the diagonal its value is {sr.zero}, "
            "which a program tensor does not hold (unwritten elements are 0)", rhs.span,
            ["evaluate it from Python with tlang.einsum, or keep the output indices distinct"])
    return A.Ref(lhs.name, tuple(A.IVar(x, span=lhs.span) for x in output), lhs.boolean,
                 span=lhs.span), new


def lower_call(call: A.Call, resolve) -> ir.Einsum:
    """A normalised AST einsum call as ``ir.Einsum``; ``resolve`` turns an AST Ref into ``ir.Ref``."""
    inputs, output = parse_spec(call.args[0].value)
    ops = tuple(lower_call(a, resolve) if is_einsum(a) else resolve(a) for a in call.args[1:])
    return ir.Einsum(inputs, output, ops, _semiring_of(call), span=call.span)
