"""Assemble: solved extents + scanned statements -> ``ir.ProgramIR``.

In: a ``build.Builder`` after scanning, unification and solving.  Out: the
program's tensors (shapes, domains, Boolean or numeric), dense data arrays
for literals, facts and files, IR equations (via ``scope.lower_expr``),
queries and stores.  Raises located errors for extents that cannot be
inferred and for Boolean/numeric misuse.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from . import ast as A
from . import ir
from .scope import SPLIT_OPS, Scope, lower_expr
from .source import TlangCheckError, TlangShapeError

if TYPE_CHECKING:
    from .build import Builder, _Proto


def _domain_names(b: Builder) -> dict[tuple, str]:
    """A readable name for each extent class: a declared domain, else 'T.k' of its first axis."""
    names: dict[tuple, str] = {}
    for key in list(b.solver.parent):
        root = b.solver.find(key)
        c = b.solver.info[root]
        if root in names:
            continue
        if c.names:
            names[root] = sorted(c.names)[0]
    for key in list(b.solver.parent):
        root = b.solver.find(key)
        if root not in names and key[0] == "slot":
            names[root] = f"{key[1]}.{key[2]}"
    for key in list(b.solver.parent):
        root = b.solver.find(key)
        if root not in names:
            names[root] = f"{key[1]}" if key[0] == "dom" else f"eq{key[1]}.{key[2]}"
    return names


def _only_relations(b: Builder, key: tuple) -> bool:
    """Whether an extent class holds axes of Boolean relations only (and variables): with no
    fact, file or constant to give it a value, those relations are empty, so its extent is 0."""
    cache = b.__dict__.setdefault("_only_relations", {})
    if not cache:
        for k in list(b.solver.parent):
            root = b.solver.find(k)
            ok = k[0] != "slot" or k[1] in b.boolean
            cache[root] = cache.get(root, True) and ok
    return cache.get(b.solver.find(key), False)


def _extent_of(b: Builder, key: tuple, what: str, span) -> int:
    n = b.solver.extent(key)
    if n is None and _only_relations(b, key):
        c = b.solver.cls(key)  # settled for every later reader of the class (slices, constants)
        c.extent, c.why = 0, "no fact, file or constant gives it a value"
        return 0
    if n is None:
        raise TlangShapeError(f"cannot infer the extent of {what}", span,
                              ["give it data, or declare it, e.g. 'index i : 10' or 'tensor W[4, 3]'"])
    return n


def assemble(b: Builder) -> ir.ProgramIR:
    solver = b.solver
    dnames = _domain_names(b)
    domains: dict[str, ir.Domain] = {}
    tensors: dict[str, ir.TensorInfo] = {}

    for name, (arity, span) in b.arity.items():
        if name in b.boolean and name in b.numeric_def:
            nspan, bspan = b.numeric_def[name], b.boolean[name]
            raise TlangCheckError(
                f"'{name}' is a Boolean relation but is also given numeric values here", nspan,
                [f"it is Boolean because of {bspan.short() if bspan else 'a declaration'}",
                 "write R(x) for relations and T[i] for numeric tensors"])
        shape, doms = [], []
        for a in range(arity):
            key = ("slot", name, a)
            solver.find(key)
            if b.virtual_axis.get(name) == a:  # not stored: the loop's length, if anything fixes it
                shape.append(solver.extent(key) or 0)
            else:
                shape.append(_extent_of(b, key, f"axis {a + 1} of '{name}'", span))
            root = solver.find(key)
            dn = dnames[root]
            doms.append(dn)
            c = solver.info[root]
            if dn not in domains:
                domains[dn] = ir.Domain(dn, c.extent, tuple(c.symbols), bool(c.names))
        mark = b.marks.get(name)
        tensors[name] = ir.TensorInfo(
            name, tuple(shape), tuple(doms), boolean=name in b.boolean,
            dtype=b.decl_dtype.get(name, "bool" if name in b.boolean else "real"),
            virtual_axis=b.virtual_axis.get(name), learnable=mark == "learn", const=mark == "const",
            span=b.first_span.get(name))

    # scalars used only bare (C in 'W[i] X[i] + C')
    for p in b.protos:
        if p.rhs is None:
            continue
        for n in [p.lhs, *A.walk(p.rhs)]:
            nm = n.name if isinstance(n, A.Name | A.Ref) else None
            if nm and nm not in tensors and nm not in p.vars and \
                    (isinstance(n, A.Name) or not n.indices) and nm not in ("Even", "Odd"):
                tensors[nm] = ir.TensorInfo(nm, (), (), boolean=nm in b.boolean, span=n.span)

    data: dict[str, object] = {}
    equations: list[ir.Equation] = []
    var_extents: dict[tuple[int, str], int] = {}
    for p in b.protos:
        eq = _equation(b, p, tensors, data, var_extents, len(equations))
        if eq is not None:
            equations.append(eq)
    for name, facts in b.facts.items():
        info = tensors[name]
        rows = [tuple(_const_pos(b, ("slot", name, a), ix) for a, ix in enumerate(f.atom.indices))
                for f in facts]
        key = f"factset:{name}"
        data[key] = _facts_value(info.shape, rows)
        vars_ = tuple(f"_{k}" for k in range(len(info.shape)))
        k = len(equations)
        for a, v in enumerate(vars_):
            var_extents[(k, v)] = info.shape[a]
        equations.append(ir.Equation(name, tuple(ir.ivar(v) for v in vars_), "=",
                                     ir.Data(key, vars_), kind="fact", span=facts[0].span))

    queries, stores = [], []
    for st in b.program.statements:
        if isinstance(st, A.Query):
            queries.append(_query(b, st, tensors))
        elif isinstance(st, A.Store):
            if st.source.name not in tensors:
                raise TlangCheckError(f"'{st.source.name}' is not defined", st.source.span)
            stores.append(ir.StoreIR(st.path, st.source.name, span=st.span))

    undefined = [t for t in tensors if t not in b.defined]
    if undefined and not b.allow_undefined:
        t = undefined[0]
        info = tensors[t]
        if not info.boolean:
            raise TlangCheckError(f"'{t}' has no value: no data, equation or input defines it",
                                  info.span, ["give it data (a literal or a file), an equation, "
                                              "or pass it as an input"])
    return ir.ProgramIR(tensors, domains, tuple(equations), data, tuple(queries), tuple(stores),
                        var_extents, base_dir=str(b.base_dir))


def _symbol_index(b: Builder, slot: tuple) -> dict[str, int]:
    """Symbol -> position for the extent class of ``slot`` (built once per class)."""
    cache = b.__dict__.setdefault("_symbol_index", {})
    root = b.solver.find(slot)
    if root not in cache:
        cache[root] = {s: k for k, s in enumerate(b.solver.info[root].symbols)}
    return cache[root]


def _facts_value(shape: tuple[int, ...], rows):
    """The facts as a Boolean tensor: a dense 0/1 array, or a sparse ``Relation`` when the
    tensor is large and sparse (``relational.prefer_sparse``).  Rows with a position of -1
    (a symbol with no position) are dropped."""
    from .relational import Relation, prefer_sparse
    arr = np.asarray(rows, dtype=np.int64).reshape(len(rows), len(shape))
    if len(shape) and len(rows):
        arr = arr[(arr >= 0).all(axis=1)]
    if shape and prefer_sparse(shape, len(arr)):
        return Relation.from_rows(shape, arr)
    out = np.zeros(shape)
    if len(arr):
        out[tuple(arr.T)] = 1.0
    elif not shape and len(rows):
        out[()] = 1.0
    return out


def _const_pos(b: Builder, slot: tuple, ix: A.IConst) -> int:
    n = b.solver.extent(slot)
    if isinstance(ix.value, int):
        pos = ix.value if ix.value >= 0 else n + ix.value
        if not 0 <= pos < n:
            raise TlangShapeError(f"position {ix.value} is out of range for extent {n}", ix.span)
        return pos
    if not ix.quoted and ix.value in b.int_scalars:
        return b.int_scalars[ix.value]
    pos = _symbol_index(b, slot).get(ix.value)
    return -1 if pos is None else pos


def _resolve(b: Builder, p: _Proto | None, name: str, a: int, ix: A.IndexExpr) -> ir.Index:
    slot = ("slot", name, a)
    if isinstance(ix, A.IVar):
        return ir.ivar(ix.name)
    if isinstance(ix, A.IConst):
        return ir.iconst(_const_pos(b, slot, ix))
    if isinstance(ix, A.IVirtual):
        return ir.ivar(ix.name)
    if isinstance(ix, A.ISlice):
        var = b._slices[(p.index, id(ix))]
        n = b.solver.extent(slot)
        start, _stop, step = slice(ix.start, ix.stop, ix.step).indices(n)
        return ir.IAffine(((var, step),), start)
    if isinstance(ix, A.IBin) and ix.op == "/":
        terms, c = b._affine(ix.left, ix.span)
        return ir.IDiv(ir.IAffine(tuple(terms), c), b._int_const(ix.right, ix.span))
    terms, c = b._affine(ix, ix.span)
    merged: dict[str, int] = {}
    for v, k in terms:
        merged[v] = merged.get(v, 0) + k
    return ir.IAffine(tuple((v, k) for v, k in merged.items() if k), c)


def _ref_resolver(b: Builder, p: _Proto, tensors):
    def resolve(r: A.Ref) -> ir.Ref:
        vaxis = b.virtual_axis.get(r.name)
        idx = []
        step = None
        for a, ix in enumerate(r.indices):
            if a == vaxis:  # not stored: a read in the loop says which step's value it reads
                if isinstance(ix, A.IVirtual) and r is not p.lhs and ix.name in (loop, p.accumulate):
                    step = _step(b, r, ix)
                continue
            if isinstance(ix, A.IVirtual):
                raise TlangCheckError(f"'*{ix.name}' is virtual here but '{r.name}' has no virtual "
                                      "index at this position", ix.span)
            idx.append(_resolve(b, p, r.name, a, ix))
        if r.name not in tensors:
            tensors[r.name] = ir.TensorInfo(r.name, (), (), span=r.span)
        rank = len(tensors[r.name].stored_shape)
        if not r.indices and rank and r is not p.lhs:
            raise TlangCheckError(f"'{r.name}' has {rank} ind{'ex' if rank == 1 else 'ices'} but is used "
                                  "here without any", r.span,
                                  [f"write {r.name}[{', '.join('ijklmn'[:rank])}] (a bare name is a scalar)"])
        return ir.Ref(r.name, tuple(idx), step, span=r.span)
    loop = p.virtual[0] if p.virtual else None
    return resolve


def _step(b: Builder, r: A.Ref, ix: A.IVirtual) -> int:
    """Which value of a loop tensor ``r[..., *t+c]`` reads: 0 the current step's, -1 the previous."""
    var, off, _span = b.virtual_offset[r.name]
    if var != ix.name:
        raise TlangCheckError(f"'{r.name}' advances with the virtual index '{var}', not '{ix.name}'", ix.span)
    rel = ix.offset - off
    if rel not in (0, -1):
        when = "a later step" if rel > 0 else f"{-rel} steps back"
        raise TlangCheckError(f"this reads '{r.name}' at {when}; a loop keeps only the current and the "
                              "previous step", ix.span,
                              [f"'{r.name}' is written at *{var}{'' if off == 0 else f'{off:+d}'}, so read "
                               f"*{var}{'' if off == 0 else f'{off:+d}'} (this step) or "
                               f"*{var}{'' if off - 1 == 0 else f'{off - 1:+d}'} (the previous one)"])
    return rel


def _equation(b: Builder, p: _Proto, tensors, data, var_extents, k: int) -> ir.Equation | None:
    name = p.lhs.name
    info = tensors.get(name)
    if p.literal_axes is not None:  # a literal written where its indexed LHS says
        return _indexed_literal(b, p, info, data, var_extents, k)
    if p.rhs is None:  # data, inputs, facts and text files
        raw = b.data[p.data_key]
        if p.kind in ("data", "input"):
            arr = raw
        elif p.kind == "facts":
            if raw and all(type(v) is int for row in raw for v in row):  # positions only: vectorised
                rows = np.array(raw, dtype=np.int64).reshape(len(raw), len(info.shape))
                rows = np.where(rows < 0, rows + np.array(info.shape, dtype=np.int64), rows)
            else:
                idx = [_symbol_index(b, ("slot", name, a)) for a in range(len(info.shape))]
                rows = [tuple((v if v >= 0 else v + n) if isinstance(v, int) else idx[a].get(v, -1)
                              for a, (v, n) in enumerate(zip(row, info.shape))) for row in raw]
            arr = _facts_value(info.shape, rows)
        else:  # text: M[position, word]
            idx = _symbol_index(b, ("slot", name, 1))
            arr = _facts_value(info.shape, [(pos, idx.get(w, -1)) for pos, w in enumerate(raw)])
        data[p.data_key] = arr
        vars_ = tuple(f"_{a}" for a in range(len(info.shape)))
        for a, v in enumerate(vars_):
            var_extents[(k, v)] = info.shape[a]
        return ir.Equation(name, tuple(ir.ivar(v) for v in vars_), "=", ir.Data(p.data_key, vars_),
                           kind="input" if p.kind == "input" else "data", span=p.span)
    resolve = _ref_resolver(b, p, tensors)
    lhs = resolve(p.lhs)
    lhs_vars: list[str] = []
    dotted = None
    for ix in p.lhs.indices:
        if isinstance(ix, A.IVar) and ix.dot:
            dotted = ix.name
    for ix in lhs.indices:
        for v in ix.vars:
            if v not in lhs_vars:
                lhs_vars.append(v)
    slice_vars = [v for (pi, _), v in b._slices.items() if pi == p.index]
    lhs_slice = [v for v in slice_vars if v not in lhs_vars]
    norm_var = dotted or (lhs_vars[-1] if lhs_vars else None)
    loop_var = p.virtual[0] if p.virtual else p.accumulate
    scope = Scope(tuple(lhs_vars + lhs_slice), set(p.vars), resolve, ir.OP_SEMIRING[p.op], norm_var,
                  loop_var, p.op in SPLIT_OPS)
    rhs = lower_expr(p.rhs, scope)
    indices = lhs.indices + tuple(ir.ivar(v) for v in lhs_slice)
    for v in p.vars | set(slice_vars):
        shown = p.display.get(v, v)
        if v == loop_var:  # the loop's length; none when nothing fixes it (the loop runs to a fixpoint)
            n = b.solver.extent(("var", p.index, v))
            if n is not None:
                var_extents[(k, v)] = n
            continue
        var_extents[(k, v)] = _extent_of(b, ("var", p.index, v), f"index '{shown}'", p.span)
    ext = {v: n for (j, v), n in var_extents.items() if j == k}
    loop = (loop_var, {t: o for t, (_v, o, _s) in b.virtual_offset.items()}) if loop_var else None
    rhs, where = guard_terms(rhs, set(lhs_vars + lhs_slice) | ({loop_var} if loop_var else set()), ext, tensors,
                             loop)
    return ir.Equation(name, indices, p.op, rhs, p.virtual, p.kind, where=where, accumulate=p.accumulate,
                       span=p.span)


# ------------------------------------------- elements only where their inputs exist

def _range(ix: ir.Index, ext: dict[str, int]) -> tuple[int, int]:
    """The smallest and largest position an index takes over its variables' ranges."""
    if isinstance(ix, ir.IDiv):
        lo, hi = _range(ix.inner, ext)
        return lo // ix.divisor, hi // ix.divisor
    lo = hi = ix.const
    for v, c in ix.terms:
        top = c * (ext.get(v, 1) - 1)
        lo, hi = lo + min(0, top), hi + max(0, top)
    return lo, hi


NO_END = 2 ** 62   # a bound with no upper end (the steps of a loop)


def _bounds(r: ir.Ref, lhs: set[str], ext: dict[str, int], tensors,
            loop: tuple[str, dict[str, int]] | None = None) -> tuple[ir.Bound, ...]:
    """The indices of a read, of the LHS variables alone, that can fall outside their axis (a
    relation read outside is simply false); in a loop (``loop``: its index and each tensor's step
    offset), a read of the previous step before the first one."""
    out: list[ir.Bound] = []
    info = tensors.get(r.tensor)
    if info is None:
        return ()
    if r.step == -1 and loop is not None:  # time t + o - 1 of a tensor written at *t+o
        var, offsets = loop
        if offsets.get(r.tensor, 1) - 1 < 0:
            out.append(ir.Bound(ir.IAffine(((var, 1),), offsets.get(r.tensor, 1) - 1), NO_END))
    if info.boolean:
        return tuple(out)
    for ix, n in zip(r.indices, info.stored_shape):
        if not ix.vars or not set(ix.vars) <= lhs:
            continue
        lo, hi = _range(ix, ext)
        if (lo < 0 or hi >= n) and ir.Bound(ix, n) not in out:
            out.append(ir.Bound(ix, n))
    return tuple(out)


DNF = tuple[tuple[ir.Bound, ...], ...]   # where one conjunction of bounds holds
ALWAYS: DNF = ((),)
MAX_CONJUNCTIONS = 64


def _and(a: DNF, b: DNF) -> DNF:
    if a == ALWAYS:
        return b
    if b == ALWAYS:
        return a
    out: list[tuple[ir.Bound, ...]] = []
    for x in a:
        for y in b:
            c = x + tuple(bd for bd in y if bd not in x)
            if c not in out:
                out.append(c)
    return tuple(out[:MAX_CONJUNCTIONS])


def _or(a: DNF, b: DNF) -> DNF:
    if a == ALWAYS or b == ALWAYS:
        return ALWAYS
    return a + tuple(c for c in b if c not in a)


class _Validity:
    """Where each subexpression exists: a read exists where its indices of the LHS variables fall
    inside its axes, a sum where one of its terms exists (the others are guarded to 0 there),
    anything else where all of its parts exist (docs/language.md 16.4)."""

    def __init__(self, lhs: set[str], ext: dict[str, int], tensors, loop) -> None:
        self.lhs, self.ext, self.tensors, self.loop = lhs, ext, tensors, loop

    def go(self, e: ir.Expr) -> tuple[ir.Expr, DNF]:
        if isinstance(e, ir.Ref):
            b = _bounds(e, self.lhs, self.ext, self.tensors, self.loop)
            return e, ((b,) if b else ALWAYS)
        kids = ir.children(e)
        if not kids:
            return e, ALWAYS
        done = [self.go(c) for c in kids]
        if isinstance(e, ir.Map) and e.fn in ("add", "sub"):
            v = _or(done[0][1], done[1][1])
            new = tuple(c if w == v else ir.Guard(c, w, span=getattr(c, "span", None)) for c, w in done)
        else:
            v = ALWAYS
            for _, w in done:
                v = _and(v, w)
            new = tuple(c for c, _ in done)
        out = ir.with_children(e, new) if any(n is not o for n, o in zip(new, kids)) else e
        if isinstance(out, ir.Normalize) and v != ALWAYS and \
                any(out.var in b.index.vars for conj in v for b in conj):
            out = dataclasses.replace(out, valid=v)  # it normalises over the positions that exist
        return out, v


def guard_terms(rhs: ir.Expr, lhs: set[str], ext: dict[str, int], tensors, loop=None
                ) -> tuple[ir.Expr, tuple[tuple[ir.Bound, ...], ...]]:
    """The RHS with a ``Guard`` on each term of a sum that does not exist everywhere the sum does,
    and the positions the equation writes: where its right-hand side exists (16.4)."""
    out, v = _Validity(lhs, ext, tensors, loop).go(rhs)
    return out, (() if v == ALWAYS else v)


def _indexed_literal(b: Builder, p: _Proto, info: ir.TensorInfo, data, var_extents, k: int) -> ir.Equation:
    arr = b.data[p.data_key]
    data[p.data_key] = arr
    idx: list[ir.Index] = []
    for a, spec in enumerate(p.literal_axes):
        if spec[0] == "const":
            idx.append(ir.iconst(_const_pos(b, ("slot", info.name, a), spec[1])))
        elif spec[0] == "slice":
            ix, j = spec[1], spec[2]
            start, stop, step = slice(ix.start, ix.stop, ix.step).indices(info.shape[a])
            n = len(range(start, stop, step))
            if n != arr.shape[j]:
                raise TlangShapeError(f"the slice {_slice_text(ix)} names {n} positions but the literal has "
                                      f"{arr.shape[j]} along this axis", ix.span or p.span)
            idx.append(ir.IAffine(((f"_{j}", step),), start))
        else:
            idx.append(ir.ivar(f"_{spec[2]}"))
    vars_ = tuple(f"_{j}" for j in range(arr.ndim))
    for j, v in enumerate(vars_):
        var_extents[(k, v)] = arr.shape[j]
    return ir.Equation(info.name, tuple(idx), "=", ir.Data(p.data_key, vars_), kind="data", span=p.span)


def _slice_text(ix: A.ISlice) -> str:
    parts = ["" if ix.start is None else str(ix.start), "" if ix.stop is None else str(ix.stop)]
    if ix.step is not None:
        parts.append(str(ix.step))
    return ":".join(parts)


def _query(b: Builder, st: A.Query, tensors) -> ir.QueryIR:
    r = st.target
    text = st.target.span.text() if st.target.span else r.name
    if r.name not in tensors:
        raise TlangCheckError(f"query of '{r.name}', which is not defined", r.span,
                              ["define it with an equation, facts or data before querying it"])
    info = tensors[r.name]
    if not r.indices:
        free = tuple(f"_{a}" for a in range(len(info.stored_shape)))
        return ir.QueryIR(text, r.name, tuple(ir.ivar(v) for v in free), free,
                          tuple((v, n) for v, n in zip(free, info.stored_shape)), st.directives, span=st.span)
    idx, free, extents = [], [], {}
    vaxis = info.virtual_axis
    for a, ix in enumerate(r.indices):
        if a == vaxis:
            continue
        if isinstance(ix, A.ISlice):
            var = f"_q{a}"
            n = info.shape[a]
            start, stop, step = slice(ix.start, ix.stop, ix.step).indices(n)
            idx.append(ir.IAffine(((var, step),), start))
            free.append(var)
            extents[var] = len(range(start, stop, step))
            continue
        if isinstance(ix, A.IVar):
            if ix.name not in free:
                free.append(ix.name)
            extents[ix.name] = info.shape[a]
            idx.append(ir.ivar(ix.name))
        elif isinstance(ix, A.IConst):
            idx.append(ir.iconst(_const_pos(b, ("slot", r.name, a), ix)))
        else:
            raise TlangCheckError("a query index must be a variable, a constant or a slice", ix.span)
    return ir.QueryIR(text, r.name, tuple(idx), tuple(free), tuple((v, extents[v]) for v in free),
                      st.directives, span=st.span)
