"""Extents: how many positions every tensor axis and every index variable has.

In: the ``Model`` and the loop lengths chosen for loops that nothing bounds.
Out: ``Extents``: every (unrolled) tensor axis and every variable of every
equation, or a located ``TlangShapeError``.

The rules (docs/language.md sections 13, 16.3, 16.4, 16.6):

- Data (literals, dense files, inputs) and ``tensor`` declarations *fix* a
  tensor's axes.  Every other axis is *computed*: as large as the largest
  block any equation writes into it (an LHS ``i`` writes ext(i) positions,
  ``i+c`` ext(i)+c, ``x/S`` ceil(ext(x)/S)), and at least one past every
  constant position used with it, the size of its symbol domain and the
  extent of every declared index that runs over it.
- A variable takes, in this order of precedence: its data axis; an ``index``
  declaration; the fixed axes it indexes plainly on the right (they must
  agree, else an error points at both); the slice or ``concat`` that binds
  it; the largest computed axis it indexes plainly on the right; the axis it
  indexes shifted (``i+1``, ``i-1``: the axis, not fewer); a window ``x+dx``
  (N - ext(dx) + 1); ``x/S`` read (N S); the axis it indexes on the left; the
  loop length of its virtual index; the extent of its domain (the other axes
  it is unified with); 0 for a relation's axis that nothing fixes.
- A loop's length is the extent of its variable from ordinary uses in the
  loop's equations, an ``index`` declaration, or (failing both) is chosen by
  the caller until the loop's buffers stop changing.

Axes and variables depend on each other (a computed axis on the variables
that write it, a variable on the axes it reads), so all are solved together
by iteration; an extent that keeps growing (an index bounded only by a
constant while an equation writes beyond it) is an error naming the index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..source import Span, TlangShapeError
from .model import Eq, Model, base_name, eq_vars, slot, var_key
from .scope import Concat, Einsum, EinsumSpec, IxAffine, IxConst, IxDiv, IxSlice, Read, leaves, walk

Slot = tuple  # ("slot", tensor, axis)
VarKey = tuple  # ("var", eq id, name)


@dataclass
class _Var:
    """What fixes the extent of one variable of one equation, by kind of occurrence."""
    key: VarKey
    eq: Eq
    data: int | None = None
    decl: int | str | None = None
    decl_span: Span | None = None
    rhs_fixed: list[tuple[Slot, Span | None]] = field(default_factory=list)
    slices: list[tuple[Slot, tuple]] = field(default_factory=list)
    concat: list[list[VarKey]] = field(default_factory=list)
    rhs: list[Slot] = field(default_factory=list)
    shift: list[Slot] = field(default_factory=list)
    window: list[tuple[Slot, VarKey]] = field(default_factory=list)
    div: list[tuple[Slot, int]] = field(default_factory=list)
    lhs: list[Slot] = field(default_factory=list)
    lhs_div: list[tuple[Slot, int]] = field(default_factory=list)
    loop: str | None = None          # the loop group whose length it is
    reads_loop: str | None = None    # an outer equation's ordinary t that reads a loop's tensors
    relation_only: bool | None = None  # every axis it indexes is a relation's (None: it indexes none)


@dataclass
class Loop:
    """Virtual tensors that advance together (16.3) and the length of their loop."""
    key: str
    var: str
    tensors: list[str]
    offset: int                       # the largest LHS offset c of *t+c
    length: int | None = None


@dataclass
class Extents:
    slots: dict[Slot, int]
    vars: dict[VarKey, int]
    loops: dict[str, Loop]

    def shape(self, model: Model, name: str) -> tuple[int, ...]:
        n = model.tensors[name].arity or 0
        return tuple(self.slots[slot(name, a)] for a in range(n))

    def of(self, eq: Eq) -> dict[str, int]:
        return {k[2]: n for k, n in self.vars.items() if k[1] == eq.id}


class Unbounded(Exception):
    """A loop that nothing bounds: its length must be chosen (``run`` searches for it)."""

    def __init__(self, loop: Loop) -> None:
        super().__init__(loop.key)
        self.loop = loop


def loops_of(model: Model) -> dict[str, Loop]:
    """The loop groups: virtual tensors joined when one's loop equation reads another's *t."""
    parent = {n: n for n, t in model.tensors.items() if t.virtual is not None}

    def find(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x
    for eq in model.eqs:
        if eq.loop and eq.rhs is not None:
            for lf in leaves(eq.rhs):
                if isinstance(lf, Read) and lf.name in parent and any(
                        isinstance(ix, IxAffine) and ix.virtual and ix.vars() == (eq.loop,)
                        for ix in lf.indices):
                    parent[find(lf.name)] = find(eq.tensor)
    out: dict[str, Loop] = {}
    for n in parent:
        root = find(n)
        info = model.tensors[root]
        loop = out.setdefault(root, Loop(root, info.virtual[1] if info.virtual else "", [], 0))
        loop.tensors.append(n)
    for eq in model.eqs:
        if eq.loop:
            for ix in eq.lhs:
                if isinstance(ix, IxAffine) and ix.virtual:
                    lp = out[find(eq.tensor)]
                    lp.offset = max(lp.offset, ix.const)
    return {k: v for k, v in out.items()}


class Solver:
    def __init__(self, model: Model, lengths: dict[str, int]) -> None:
        self.m = model
        self.lengths = lengths
        self.loops = loops_of(model)
        self.loop_of_tensor = {t: lp.key for lp in self.loops.values() for t in lp.tensors}
        self.fixed: dict[Slot, tuple[int, str, Span | None]] = {}
        self.lb: dict[Slot, int] = {}
        self.blocks: dict[Slot, list[tuple[Eq, object]]] = {}
        self.vars: dict[VarKey, _Var] = {}
        self.slot_val: dict[Slot, int | None] = {}
        self.var_val: dict[VarKey, int | None] = {}
        self.fallback: dict[tuple, int] = {}

    # ------------------------------------------------------------ set-up
    def dom_size(self, name: str) -> int | None:
        decl = self.m.domain_decls.get(name)
        if decl is not None:
            return decl.size if decl.size is not None else len(decl.symbols or ())
        n = len(self.m.domains.symbols.get(self.m.domains.find(("dom", name)), []))
        return n or None

    def setup(self) -> None:
        m = self.m
        for t in m.tensors.values():
            for a in range(t.arity or 0):
                s = slot(t.name, a)
                self.slot_val[s] = None
                self.lb[s] = len(m.domains.symbols.get(m.domains.find(s), []))
                self.blocks[s] = []
            for a, dim in enumerate(t.decl or ()):
                if t.virtual is not None and a == t.virtual[0]:
                    continue
                n = dim if isinstance(dim, int) else self.dom_size(dim)
                if n is not None:
                    self._fix(slot(t.name, a), n, "its declaration", t.span)
        for eq in m.eqs:
            if eq.fixed and eq.data is not None:
                for a, n in enumerate(eq.data.shape):
                    self._fix(slot(eq.tensor, a), n, "its data", eq.span)
        for eq in m.eqs:
            self._scan(eq)

    def _fix(self, s: Slot, n: int, why: str, span: Span | None) -> None:
        if s in self.fixed and self.fixed[s][0] != n:
            old = self.fixed[s]
            raise TlangShapeError(f"axis {s[2] + 1} of '{s[1]}' has extent {n} from {why} but {old[0]} "
                                  f"from {old[1]}", span,
                                  [f"extent {old[0]} comes from {old[1]}"
                                   + (f" at {old[2].where()}" if old[2] else "")])
        self.fixed[s] = (n, why, span)

    def _var(self, eq: Eq, v: str) -> _Var:
        key = var_key(eq, v)
        if key not in self.vars:
            vi = self.vars[key] = _Var(key, eq)
            decl = self.m.index_decls.get(base_name(v))
            if decl is not None:
                vi.decl, vi.decl_span = decl
            if eq.loop == v:
                vi.loop = self.loop_of_tensor[eq.tensor]
            self.var_val[key] = None
        return self.vars[key]

    def _declared(self, vi: _Var, s: Slot) -> None:
        """An axis a declared index runs over has (at least) its extent (section 13)."""
        if vi.decl is not None and s not in self.fixed and s in self.lb:
            n = vi.decl if isinstance(vi.decl, int) else self.dom_size(vi.decl)
            self.lb[s] = max(self.lb[s], n or 0)

    def _const(self, ix: object, s: Slot) -> None:
        if isinstance(ix, IxConst) and ix.pos is not None and ix.pos >= 0 and s in self.lb:
            self.lb[s] = max(self.lb[s], ix.pos + 1)

    def _scan(self, eq: Eq) -> None:
        for v in eq_vars(eq):
            self._var(eq, v)
        for k, v in enumerate(eq.data_vars):
            self._var(eq, v).data = eq.data.shape[k] if eq.data is not None else None
        for p in eq.points:
            for a, c in enumerate(p):
                self._const(c, slot(eq.tensor, a))
        for a, ix in enumerate(eq.lhs):
            s = slot(eq.tensor, a)
            self._const(ix, s)
            if isinstance(ix, IxAffine | IxDiv):
                self.blocks[s].append((eq, ix))
                inner = ix.inner if isinstance(ix, IxDiv) else ix
                if isinstance(ix, IxAffine) and ix.plain():
                    self._var(eq, ix.plain()).lhs.append(s)
                    self._declared(self._var(eq, ix.plain()), s)
                elif len(inner.terms) == 1 and not inner.virtual:
                    v = inner.terms[0][0]
                    if isinstance(ix, IxDiv):
                        self._var(eq, v).lhs_div.append((s, ix.divisor))
                    else:
                        self._var(eq, v).lhs_div.append((s, 1))
        if eq.rhs is None:
            return
        for n in walk(eq.rhs):
            if isinstance(n, Read):
                for a, ix in enumerate(n.indices):
                    self._occurrence(eq, ix, slot(n.name, a))
            elif isinstance(n, Einsum):
                for k, ix in enumerate(n.indices):
                    self._occurrence(eq, ix, _einsum_slot(n.spec, n.spec.output[k]))
            elif isinstance(n, Concat):
                self._var(eq, n.into).concat.append([var_key(eq, v) for v in n.merge])
        virtual_reads = {lf.name for lf in leaves(eq.rhs) if isinstance(lf, Read)
                         and any(isinstance(ix, IxAffine) and ix.virtual for ix in lf.indices)}
        for v in eq_vars(eq):
            if eq.loop != v:
                for name in virtual_reads:
                    if name in self.loop_of_tensor:
                        self._var(eq, v).reads_loop = self.loop_of_tensor[name]

    def _occurrence(self, eq: Eq, ix: object, s: Slot) -> None:
        boolean = self.m.tensors[s[1]].boolean
        self._const(ix, s)
        for v in getattr(ix, "vars", lambda: ())():
            vi = self._var(eq, v)
            vi.relation_only = boolean and vi.relation_only is not False
        if isinstance(ix, IxAffine) and not ix.virtual:
            if ix.plain():
                vi = self._var(eq, ix.plain())
                self._declared(vi, s)
                if s in self.fixed:
                    vi.rhs_fixed.append((s, ix.span))
                else:
                    vi.rhs.append(s)
            elif len(ix.terms) == 1:
                self._var(eq, ix.terms[0][0]).shift.append(s)
            elif len(ix.terms) == 2:
                (v, _), (w, _) = ix.terms
                self._var(eq, v).window.append((s, var_key(eq, w)))
                self._var(eq, w).window.append((s, var_key(eq, v)))
        elif isinstance(ix, IxDiv) and len(ix.inner.terms) == 1:
            self._var(eq, ix.inner.terms[0][0]).div.append((s, ix.divisor))
        elif isinstance(ix, IxSlice):
            self._var(eq, ix.var).slices.append((s, (ix.start, ix.stop, ix.step)))

    # ------------------------------------------------------------ values
    def slot_value(self, s: Slot) -> int | None:
        if s in self.fixed:
            return self.fixed[s][0]
        best = max(self.lb.get(s, 0), self.fallback.get(s, 0))
        known = best > 0
        for eq, ix in self.blocks.get(s, []):
            b = self._block(eq, ix)
            if b is not None:
                best, known = max(best, b), True
        return best if known else None

    def _block(self, eq: Eq, ix: object) -> int | None:
        """How many positions of its axis an LHS index form writes (its largest position + 1)."""
        inner = ix.inner if isinstance(ix, IxDiv) else ix
        top = inner.const
        for v, c in inner.terms:
            n = self.var_val.get(var_key(eq, v))
            if n is None:
                return None
            if n == 0:
                return 0
            top += max(c, 0) * (n - 1)
        if isinstance(ix, IxDiv):
            top //= ix.divisor
        return max(top + 1, 0)

    def ordinary(self, vi: _Var) -> int | None:
        """The extent from the variable's own occurrences (not its loop)."""
        if vi.data is not None:
            return vi.data
        if vi.decl is not None:
            n = vi.decl if isinstance(vi.decl, int) else self.dom_size(vi.decl)
            if n is not None:
                return n
        if vi.rhs_fixed:
            (s0, sp0), n0 = vi.rhs_fixed[0], self.fixed[vi.rhs_fixed[0][0]][0]
            for s, sp in vi.rhs_fixed[1:]:
                if self.fixed[s][0] != n0:
                    raise TlangShapeError(
                        f"index '{base_name(vi.key[2])}' has extent {n0} on one side and "
                        f"{self.fixed[s][0]} on the other", sp or vi.eq.span,
                        [f"axis {s0[2] + 1} of '{s0[1]}' has extent {n0}"
                         + (f" (at {sp0.where()})" if sp0 else ""),
                         f"axis {s[2] + 1} of '{s[1]}' has extent {self.fixed[s][0]}"])
            return n0
        bound = []
        for s, bounds in vi.slices:
            n = self.slot_value(s)
            if n is not None:
                bound.append(len(range(*slice(*bounds).indices(n))))
        for members in vi.concat:
            ns = [self.var_val.get(k) for k in members]
            if all(n is not None for n in ns):
                bound.append(math.prod(ns))  # type: ignore[arg-type]
        if bound:
            return max(bound)
        for group in (vi.rhs, vi.shift):
            ns = [n for s in group if (n := self.slot_value(s)) is not None]
            if ns:
                return max(ns)
        ns = []
        for s, w in vi.window:
            n, d = self.slot_value(s), self.var_val.get(w)
            if n is not None and d is not None:
                ns.append(max(n - d + 1, 0))
        if ns:
            return max(ns)
        ns = [n * k for s, k in vi.div if (n := self.slot_value(s)) is not None]
        if ns:
            return max(ns)
        ns = [n for s in vi.lhs if (n := self.slot_value(s)) is not None]
        ns += [n * k for s, k in vi.lhs_div if (n := self.slot_value(s)) is not None]
        return max(ns) if ns else None

    def loop_length(self, key: str) -> int | None:
        lp = self.loops[key]
        own = [(n, vi) for vi in self.vars.values() if vi.loop == key and (n := self.ordinary(vi)) is not None]
        if own:
            n0, v0 = own[0]
            for n, vi in own[1:]:
                if n != n0:
                    raise TlangShapeError(f"the loop over '{lp.var}' has {n0} steps here and {n} at "
                                          f"{vi.eq.span.where() if vi.eq.span else 'another equation'}",
                                          v0.eq.span)
            return n0
        readers = [n for vi in self.vars.values() if vi.reads_loop == key and
                   base_name(vi.key[2]) == lp.var and (n := self.ordinary(vi)) is not None]
        if readers:
            return max(readers)
        return self.lengths.get(key)

    def var_value(self, vi: _Var) -> int | None:
        if vi.loop is not None:
            n = self.ordinary(vi)
            return n if n is not None else self.loop_length(vi.loop)
        n = self.ordinary(vi)
        return n if n is not None else self.fallback.get(vi.key)

    # ------------------------------------------------------------ solving
    def round(self) -> list[tuple]:
        changed = []
        for key, vi in self.vars.items():
            n = self.var_value(vi)
            if n != self.var_val[key]:
                self.var_val[key] = n
                changed.append(key)
        for s in self.slot_val:
            n = self.slot_value(s)
            if n != self.slot_val[s]:
                self.slot_val[s] = n
                changed.append(s)
        return changed

    def iterate(self) -> None:
        cap = 2 * (len(self.vars) + len(self.slot_val)) + 20
        for _ in range(cap):
            if not self.round():
                return
        changed = self.round()
        for key in changed:
            if key[0] == "var":
                vi = self.vars[key]
                grows = vi.lhs_div or any(isinstance(ix, IxAffine) and ix.const > 0 and key[2] in ix.vars()
                                          for ix in vi.eq.lhs)
                if grows or key == changed[-1]:
                    name = base_name(key[2])
                    raise TlangShapeError(f"index '{name}' is bounded only by a constant while this "
                                          "equation writes beyond it", vi.eq.span,
                                          [f"declare its length, e.g. 'index {name} : 10'"])
        raise TlangShapeError("the extents of this program do not settle", None)

    def class_fallback(self) -> bool:
        """For what is still unknown, the extent of its domain (the axes it is unified with)."""
        d = self.m.domains
        members: dict[tuple, list[tuple]] = {}
        for k in list(d.parent):
            members.setdefault(d.find(k), []).append(k)
        progress = False
        unknown = [k for k, n in self.var_val.items() if n is None] + \
                  [s for s, n in self.slot_val.items() if n is None]
        for k in unknown:
            if k not in d.parent:
                continue
            group = members.get(d.find(k), [])
            fixed = [self.fixed[s][0] for s in group if s in self.fixed]
            fixed += [n for g in group if g[0] == "dom" and (n := self.dom_size(g[1])) is not None]
            known = fixed or [n for g in group if (n := self.slot_val.get(g, self.var_val.get(g)))]
            if known:
                self.fallback[k] = max(known)
                progress = True
        return progress

    def solve(self) -> Extents:
        self.setup()
        self.iterate()
        while any(n is None for n in list(self.var_val.values()) + list(self.slot_val.values())):
            for key, lp in self.loops.items():
                if any(vi.loop == key and self.var_val[k] is None for k, vi in self.vars.items()):
                    raise Unbounded(lp)
            if not self.class_fallback():
                break
            self.iterate()
        for k, vi in self.vars.items():
            if self.var_val[k] is None:
                if vi.relation_only:
                    self.fallback[k] = 0
                else:
                    raise TlangShapeError(f"cannot infer the extent of index '{base_name(k[2])}'",
                                          vi.eq.span, ["give it data, or declare it, e.g. 'index "
                                                       f"{base_name(k[2])} : 10'"])
        self.iterate()
        for s, n in self.slot_val.items():
            if n is None:
                if self.m.tensors[s[1]].boolean:
                    self.fallback[s] = 0
                else:
                    raise TlangShapeError(f"cannot infer the extent of axis {s[2] + 1} of '{s[1]}'",
                                          self.m.tensors[s[1]].span,
                                          [f"give it data, or declare it, e.g. 'tensor {s[1]}[...]'"])
        self.iterate()
        self.check_constants()
        for key, lp in self.loops.items():
            lp.length = self.loop_length(key)
        return Extents({s: n or 0 for s, n in self.slot_val.items()},
                       {k: n or 0 for k, n in self.var_val.items()}, self.loops)

    def check_constants(self) -> None:
        """A constant position outside a fixed axis is an error (fixed axes never grow)."""
        for eq in self.m.eqs:
            consts = [(ix, slot(eq.tensor, a)) for a, ix in enumerate(eq.lhs)]
            consts += [(c, slot(eq.tensor, a)) for p in eq.points for a, c in enumerate(p)]
            if eq.rhs is not None:
                consts += [(ix, slot(n.name, a)) for n in walk(eq.rhs) if isinstance(n, Read)
                           for a, ix in enumerate(n.indices)]
            for c, s in consts:
                if isinstance(c, IxConst) and s in self.fixed and c.pos is not None \
                        and c.pos >= self.fixed[s][0]:
                    n, why, span = self.fixed[s]
                    raise TlangShapeError(f"position {c.pos} is out of range for extent {n} of axis "
                                          f"{s[2] + 1} of '{s[1]}'", c.span or eq.span,
                                          [f"extent {n} comes from {why}"
                                           + (f" at {span.where()}" if span else "")])


def _einsum_slot(spec: EinsumSpec, letter: str) -> Slot:
    """The axis of an operand that gives an einsum letter its extent."""
    for string, op in zip(spec.inputs, spec.operands):
        if letter in string:
            k = string.index(letter)
            if isinstance(op, str):
                return slot(op, k)
            return _einsum_slot(op, op.output[k])
    raise AssertionError(letter)


def solve(model: Model, lengths: dict[str, int] | None = None) -> Extents:
    """Every extent of the program; raises ``Unbounded`` for a loop that nothing bounds."""
    return Solver(model, dict(lengths or {})).solve()
