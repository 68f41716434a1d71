"""Rules on the relational path: IR equations -> joins over sparse relations.

In: the IR equations of a Boolean component (``ir.Equation`` whose RHS is a
join of Boolean atoms with variables and constants, negated atoms and
comparisons of index variables, or a ``Data`` node of facts), the current
relations by name, and the extents of each equation's variables.  Out: the
component's relations as ``relational.Relation`` objects -- the same facts
the dense engine derives -- computed without a dense allocation.

``rule_spec`` says whether an equation can run here (else ``None``: the
engine keeps it dense).  ``evaluate`` runs one rule: a chain of binary atoms
whose inner variables are projected away becomes a product of scipy CSR
matrices (transitive closure, same generation); anything else becomes
sort-merge joins of binding tables, each followed by the comparisons and
anti-joins (negation) it enables and an early projection.  ``run_component``
evaluates a stratum: once if it is not recursive, else semi-naively (each
round joins only the previous round's new facts, and an ``Accumulator``
keeps what is known).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import ir
from .relational import Accumulator, Relation, as_relation, unique_keys
from .relational_tables import (
    Table,
    antijoin,
    atom_table,
    compare_mask,
    domain_table,
    expand,
    join,
    project,
    to_relation,
)

Arg = str | int          # a variable name or a constant position
CMP_OPS = ("eq", "ne", "lt", "le", "gt", "ge")
# semirings whose aggregate of 0/1 values is positive iff some term is (then stepped)
EXISTENTIAL = ("sumprod", "boolean", "maxprod", "avg")


@dataclass(frozen=True)
class Atom:
    """``tensor(args)``; in a negated atom an argument ``None`` is projected away (``not R(x, _)``)."""
    tensor: str
    args: tuple[Arg | None, ...]


@dataclass(frozen=True)
class Cmp:
    op: str
    left: str | float     # a variable (position) or a number
    right: str | float


@dataclass(frozen=True)
class RuleSpec:
    """One equation of a Boolean tensor in relational form."""
    head: str
    head_args: tuple[Arg, ...]
    pos: tuple[Atom, ...] = ()
    neg: tuple[Atom, ...] = ()
    cmps: tuple[Cmp, ...] = ()
    extents: dict[str, int] = field(default_factory=dict, compare=False)
    data: str | None = None       # a Data key: the equation is a set of facts
    span: object = field(default=None, compare=False)

    def reads(self) -> set[str]:
        return {a.tensor for a in self.pos} | {a.tensor for a in self.neg}


# ------------------------------------------------------------ IR -> RuleSpec

def _arg(ix) -> Arg | None:
    if isinstance(ix, ir.IAffine):
        if ix.is_var():
            return ix.vars[0]
        if ix.is_const():
            return int(ix.const)
    return None


def _atom(ref: ir.Ref, is_boolean: Callable[[str], bool]) -> Atom | None:
    if not is_boolean(ref.tensor):
        return None
    args = tuple(_arg(ix) for ix in ref.indices)
    if any(a is None for a in args):
        return None
    return Atom(ref.tensor, args)


def _term(e) -> str | float | None:
    if isinstance(e, ir.IndexValue):
        return e.var
    if isinstance(e, ir.Const):
        return float(e.value)
    return None


def _flatten(e, pos: list, neg: list, cmps: list, is_boolean) -> bool:
    if isinstance(e, ir.Ref):
        a = _atom(e, is_boolean)
        if a is None:
            return False
        pos.append(a)
        return True
    if isinstance(e, ir.Contract):
        if e.semiring not in EXISTENTIAL:
            return False
        return all(_flatten(o, pos, neg, cmps, is_boolean) for o in e.operands)
    if isinstance(e, ir.Map):
        if e.fn == "not" and len(e.args) == 1:
            inner = e.args[0]
            if isinstance(inner, ir.Contract) and len(inner.operands) == 1 and \
                    isinstance(inner.operands[0], ir.Ref) and inner.semiring in EXISTENTIAL:
                a = _atom(inner.operands[0], is_boolean)  # not R(x, _): projected inside the negation
                if a is None:
                    return False
                neg.append(Atom(a.tensor, tuple(None if isinstance(v, str) and v not in inner.out else v
                                                for v in a.args)))
                return True
            if not isinstance(inner, ir.Ref):
                return False
            a = _atom(inner, is_boolean)
            if a is None:
                return False
            neg.append(a)
            return True
        if e.fn in CMP_OPS and len(e.args) == 2:
            left, right = _term(e.args[0]), _term(e.args[1])
            if left is None or right is None:
                return False
            cmps.append(Cmp(e.fn, left, right))
            return True
    return False


def rule_spec(eq: ir.Equation, extents: dict[str, int],
              is_boolean: Callable[[str], bool]) -> RuleSpec | None:
    """The relational form of an equation of a Boolean tensor, or None if it has none."""
    if eq.virtual is not None or eq.op == "min=":
        return None
    head = tuple(_arg(ix) for ix in eq.indices)
    if any(a is None for a in head):
        return None
    if isinstance(eq.rhs, ir.Data):
        if head != tuple(eq.rhs.vars):
            return None
        return RuleSpec(eq.lhs, head, extents=dict(extents), data=eq.rhs.key, span=eq.span)
    pos: list[Atom] = []
    neg: list[Atom] = []
    cmps: list[Cmp] = []
    if not _flatten(eq.rhs, pos, neg, cmps, is_boolean):
        return None
    used = {a for at in pos + neg for a in at.args if isinstance(a, str)}
    used |= {a for c in cmps for a in (c.left, c.right) if isinstance(a, str)}
    used |= {a for a in head if isinstance(a, str)}
    if any(v not in extents for v in used):
        return None
    return RuleSpec(eq.lhs, head, tuple(pos), tuple(neg), tuple(cmps), dict(extents), span=eq.span)


# ------------------------------------------------------------ one rule

Lookup = Callable[[str], Relation]


def evaluate(spec: RuleSpec, get: Lookup, shape: tuple[int, ...], data: dict | None = None,
             override: dict[int, Relation] | None = None) -> Relation:
    """The head facts one rule derives from the relations ``get(name)``.

    ``override[k]`` replaces the relation read by positive atom ``k`` (the
    delta of a semi-naive round)."""
    if spec.data is not None:
        return as_relation((data or {})[("data", spec.data)])
    override = override or {}
    rels = [override[k] if k in override else get(a.tensor) for k, a in enumerate(spec.pos)]
    if any(len(r) == 0 for r in rels):
        return Relation.empty(shape)
    chain = _chain(spec)
    if chain is not None:
        return _eval_chain(spec, chain, rels, get, shape)
    return _eval_tables(spec, rels, get, shape)


@functools.lru_cache(maxsize=1024)
def _chain(spec: RuleSpec) -> tuple[tuple[int, bool], ...] | None:
    """The atoms of a matrix chain from head var 0 to head var 1, as (atom, transposed)."""
    h = spec.head_args
    if len(h) != 2 or not all(isinstance(a, str) for a in h) or h[0] == h[1] or not spec.pos:
        return None
    for a in spec.pos:
        if len(a.args) != 2 or not all(isinstance(x, str) for x in a.args) or a.args[0] == a.args[1]:
            return None
    side = {v for a in spec.neg for v in a.args if isinstance(v, str)}
    side |= {v for c in spec.cmps for v in (c.left, c.right) if isinstance(v, str)}
    if not side <= set(h):
        return None
    order: list[tuple[int, bool]] = []
    left = set(range(len(spec.pos)))
    at = h[0]
    while left:
        nxt = [(k, spec.pos[k].args[1] == at) for k in left if at in spec.pos[k].args]
        if len(nxt) != 1:
            return None
        k, transposed = nxt[0]
        order.append((k, transposed))
        left.discard(k)
        at = spec.pos[k].args[0] if transposed else spec.pos[k].args[1]
        if at == h[1] and left:
            return None
    if at != h[1]:
        return None
    inner = [spec.pos[k].args[0 if t else 1] for k, t in order[:-1]]
    if len(set(inner)) != len(inner) or set(inner) & set(h):
        return None
    return tuple(order)


def _eval_chain(spec: RuleSpec, chain, rels, get: Lookup, shape) -> Relation:
    sizes = [len(rels[k]) for k, _ in chain]
    j = sizes.index(min(sizes))
    start = rels[chain[j][0]]
    if len(chain) == 2 and start._keys is not None and start._csr is None and \
            _fanout(chain, rels, j) <= 4 * max(shape):  # a small delta: joined tuple by tuple
        res = _expand_chain(chain, rels, j, shape)
    else:  # sparse matrix products, left to right
        m = None
        for k, transposed in chain:
            a = rels[k].csr()
            a = a.T if transposed else a
            m = a if m is None else m @ a
        res = Relation.from_csr(m.tocsr()) if chain[1:] or chain[0][1] else rels[chain[0][0]]
    if not spec.neg and not spec.cmps:
        return res
    if res._csr is not None and all(None not in a.args for a in spec.neg):
        return _filter_csr(res._csr, spec, get)
    x, y = spec.head_args
    t = Table((x, y), res.cols, len(res))
    t = _filters(t, spec, get, spec.neg, spec.cmps)
    return to_relation(t, spec.head_args, shape, canonical=True)


def _filter_csr(m, spec: RuleSpec, get: Lookup) -> Relation:
    """Comparisons and negated atoms over the two head variables, applied to a CSR matrix's
    entries in place of their order (the result stays a matrix: no sort)."""
    import scipy.sparse as sp
    n0, n1 = m.shape
    rows = np.repeat(np.arange(n0, dtype=np.int64), np.diff(m.indptr))
    cols = m.indices.astype(np.int64)
    col_of = dict(zip(spec.head_args, (rows, cols)))
    keep = np.ones(len(cols), dtype=bool)
    for c in spec.cmps:
        left = col_of[c.left] if isinstance(c.left, str) else c.left
        right = col_of[c.right] if isinstance(c.right, str) else c.right
        keep &= compare_mask(c.op, left, right)
    for a in spec.neg:
        rel = get(a.tensor)
        if len(rel):
            probe = [col_of[v] if isinstance(v, str) else np.full(len(cols), v, dtype=np.int64)
                     for v in a.args]
            inside = np.ones(len(cols), dtype=bool)
            for p, n in zip(probe, rel.shape):
                inside &= (p >= 0) & (p < n)
            hit = np.zeros(len(cols), dtype=bool)
            hit[inside] = rel.contains([p[inside] for p in probe]) if rel.shape else True
            keep &= ~hit
    indptr = np.zeros(n0 + 1, dtype=m.indptr.dtype)
    np.cumsum(np.bincount(rows[keep], minlength=n0), out=indptr[1:])
    out = sp.csr_matrix((np.ones(int(keep.sum()), dtype=bool), m.indices[keep], indptr), shape=(n0, n1))
    return Relation.from_csr(out)


def _fanout(chain, rels, j: int) -> float:
    """The expected number of tuples joining the smallest atom with its neighbours."""
    out = float(len(rels[chain[j][0]]))
    for k, _ in chain[:j] + chain[j + 1:]:
        out *= len(rels[k]) / max(1, min(rels[k].shape))
    return out


def _expand_chain(chain, rels, j: int, shape) -> Relation:
    """A chain grown out of its smallest atom (a semi-naive delta) by index nested-loop joins
    along the CSR rows of the others: cheaper than matrix products for small deltas."""
    k, transposed = chain[j]
    u, v = rels[k].cols
    if transposed:
        u, v = v, u
    steps = [(k, t, True) for k, t in chain[j + 1:]] + [(k, t, False) for k, t in reversed(chain[:j])]
    for step, (k, transposed, rightwards) in enumerate(steps):
        if rightwards:   # v -> its successors
            m = rels[k].csr_t() if transposed else rels[k].csr()
            u, v = expand(u, v, m.indptr, m.indices)
        else:            # u -> its predecessors
            m = rels[k].csr() if transposed else rels[k].csr_t()
            v, u = expand(v, u, m.indptr, m.indices)
        if step < len(steps) - 1:
            nv = m.shape[1] if rightwards else shape[1]
            u, v = np.divmod(unique_keys(u * np.int64(nv) + v), np.int64(nv))
    return Relation(shape, keys=unique_keys(u * np.int64(shape[1]) + v))


def _filters(t: Table, spec: RuleSpec, get: Lookup, negs, cmps) -> Table:
    for c in cmps:
        left = t.col(c.left) if isinstance(c.left, str) else c.left
        right = t.col(c.right) if isinstance(c.right, str) else c.right
        mask = compare_mask(c.op, left, right)
        if mask.ndim == 0:
            mask = np.full(t.nrows, bool(mask))
        t = t.take(mask)
    for a in negs:
        t = antijoin(t, get(a.tensor), a.args)
    return t


def _eval_tables(spec: RuleSpec, rels, get: Lookup, shape) -> Relation:
    ext = spec.extents
    tables = [atom_table(r, a.args, ext) for r, a in zip(rels, spec.pos)]
    bound = {v for t in tables for v in t.vars}
    needed = [a for a in spec.head_args if isinstance(a, str)]
    needed += [v for a in spec.neg for v in a.args if isinstance(v, str)]
    needed += [v for c in spec.cmps for v in (c.left, c.right) if isinstance(v, str)]
    for v in dict.fromkeys(needed):
        if v not in bound:  # a variable no positive atom binds ranges over its domain
            tables.append(domain_table(v, ext[v]))
            bound.add(v)
    negs = list(spec.neg)
    cmps = list(spec.cmps)
    head_vars = {a for a in spec.head_args if isinstance(a, str)}
    pending = sorted(range(len(tables)), key=lambda k: tables[k].nrows)
    cur = tables[pending.pop(0)] if pending else Table((), (), 1)
    while True:
        have = set(cur.vars)
        ready_c = [c for c in cmps if all(not isinstance(v, str) or v in have for v in (c.left, c.right))]
        ready_n = [a for a in negs if all(not isinstance(v, str) or v in have for v in a.args)]
        if ready_c or ready_n:
            cur = _filters(cur, spec, get, ready_n, ready_c)
            cmps = [c for c in cmps if c not in ready_c]
            negs = [a for a in negs if a not in ready_n]
        later = {v for k in pending for v in tables[k].vars}
        later |= {v for a in negs for v in a.args if isinstance(v, str)}
        later |= {v for c in cmps for v in (c.left, c.right) if isinstance(v, str)}
        keep = tuple(v for v in cur.vars if v in head_vars or v in later)
        if keep != cur.vars:
            cur = project(cur, keep, ext)
        if not pending or cur.nrows == 0:
            break
        linked = [k for k in pending if set(tables[k].vars) & set(cur.vars)]
        k = min(linked or pending, key=lambda j: tables[j].nrows)
        pending.remove(k)
        cur = join(cur, tables[k], ext)
    if cur.nrows == 0:
        return Relation.empty(shape)
    hv = tuple(dict.fromkeys(a for a in spec.head_args if isinstance(a, str)))
    cur = project(cur, hv, ext)
    return to_relation(cur, spec.head_args, shape, canonical=True)


# ------------------------------------------------------------ components

def union_all(shape, rels: list[Relation]) -> Relation:
    rels = [r for r in rels if len(r)]
    if not rels:
        return Relation.empty(shape)
    if len(rels) == 1:
        return rels[0]
    if all(r._csr is not None for r in rels):
        m = rels[0]._csr
        for r in rels[1:]:
            m = m + r._csr
        return Relation.from_csr(m)
    if rels[0].keys is not None:
        return Relation(shape, keys=unique_keys(np.concatenate([r.keys for r in rels])))
    out = rels[0]
    for r in rels[1:]:
        out = out.union(r)
    return out


def run_component(comp: list[str], specs: dict[str, list[RuleSpec]], values: dict,
                  shapes: dict[str, tuple[int, ...]], tick: Callable[[], None] = lambda: None,
                  ) -> dict[str, Relation]:
    """Evaluate one stratum on the relational path; return its relations.

    ``values`` holds the relations of earlier strata by name (and data under
    ``("data", key)``); recursive components run semi-naively to their
    fixpoint (Boolean fixpoints always terminate)."""
    members = set(comp)
    converted: dict[str, Relation] = {}

    def get(name: str) -> Relation:
        if name not in converted:  # a dense value from the dense engine: converted once
            v = values.get(name)
            converted[name] = as_relation(v) if v is not None else Relation.empty(shapes[name])
        return converted[name]

    base: dict[str, list[Relation]] = {t: [] for t in comp}
    recursive: dict[str, list[RuleSpec]] = {t: [] for t in comp}
    for t in comp:
        for s in specs.get(t, []):
            if any(a.tensor in members for a in s.pos):
                recursive[t].append(s)
            else:
                base[t].append(evaluate(s, get, shapes[t], values))
    current = {t: union_all(shapes[t], base[t]) for t in comp}
    if not any(recursive.values()):
        return current
    acc = {t: Accumulator(shapes[t], current[t]) for t in comp}
    delta = current
    full_needed = any(sum(a.tensor in members for a in s.pos) > 1
                      for t in comp for s in recursive[t])
    while any(len(d) for d in delta.values()):
        tick()
        full = {t: acc[t].relation() for t in comp} if full_needed else {}

        def get_full(name: str, full=full) -> Relation:
            return full[name] if name in full else get(name)

        new: dict[str, Relation] = {}
        for t in comp:
            out = []
            for s in recursive[t]:
                for k, a in enumerate(s.pos):
                    if a.tensor in members and len(delta[a.tensor]):
                        out.append(evaluate(s, get_full, shapes[t], values, {k: delta[a.tensor]}))
            new[t] = acc[t].new_only(union_all(shapes[t], out))
        for t in comp:
            acc[t].add(new[t])
        delta = new
    return {t: acc[t].relation() for t in comp}




# ------------------------------------------------------------ engine glue

MODES = ("auto", "always", "never")


def plan(prog: ir.ProgramIR, order: list[list[str]], by_lhs: dict[str, list[tuple[int, ir.Equation]]],
         eq_extents: dict[int, dict[str, int]], mode: str = "auto") -> dict[str, list[RuleSpec]]:
    """The tensors the engine computes on the relational path, with their rules.

    A component qualifies when all its tensors are Boolean relations and
    every equation defining them has a relational form; with ``mode="auto"``
    it must also be large (more than ``DENSE_MAX_CELLS`` cells) or read a
    relation that is already sparse (facts stored sparse, an input given as a
    ``Relation``, or an earlier relational component).  ``"always"`` takes
    every qualifying component, ``"never"`` none.
    """
    from .relational import DENSE_MAX_CELLS, cells
    if mode not in MODES:
        raise ValueError(f"relational mode must be one of {', '.join(MODES)}, not {mode!r}")
    out: dict[str, list[RuleSpec]] = {}
    if mode == "never":
        return out
    sparse_data = {key for key, v in prog.data.items() if isinstance(v, Relation)}
    data_rel = {eq.lhs for eq in prog.equations
                if isinstance(eq.rhs, ir.Data) and eq.rhs.key in sparse_data}

    def is_boolean(name: str) -> bool:
        info = prog.tensors.get(name)
        return info is not None and info.virtual_axis is None and (info.boolean or name in data_rel)

    sparse: set[str] = set(data_rel)
    for comp in order:
        if not all(is_boolean(t) for t in comp):
            continue
        specs: dict[str, list[RuleSpec]] = {}
        ok = True
        for t in comp:
            specs[t] = []
            for k, eq in by_lhs.get(t, []):
                s = rule_spec(eq, eq_extents.get(k, {}), is_boolean)
                if s is None:
                    ok = False
                    break
                specs[t].append(s)
            if not ok:
                break
        if not ok:
            continue
        reads = {r for t in comp for s in specs[t] for r in s.reads()}
        big = any(cells(prog.tensors[t].stored_shape) > DENSE_MAX_CELLS for t in comp)
        if mode == "always" or big or (set(comp) | reads) & sparse:
            out.update(specs)
            sparse.update(comp)
    return out


def result_value(value):
    """A computed value as ``Results`` holds it: small relations dense (as the dense engine
    gives them), others as ``Relation`` (``np.asarray`` densifies one on request)."""
    from .relational import SPARSE_MIN_CELLS, cells
    if isinstance(value, Relation) and cells(value.shape) < SPARSE_MIN_CELLS:
        return value.to_dense()
    return value


def answer_relation(prog: ir.ProgramIR, q: ir.QueryIR, rel: Relation):
    """A query of a sparse relation, answered without densifying it (or None if it
    uses index arithmetic or slices)."""
    from .engine import Answer, _query_domains
    args = [_arg(ix) for ix in q.indices]
    if any(a is None for a in args):
        return None
    extents = dict(q.extents)
    t = atom_table(rel, args, extents)
    if not q.free:
        return Answer(q.text, "bool", (), t.nrows > 0)
    t = project(t, q.free, extents)
    doms = _query_domains(prog, q)
    cols = [c.tolist() for c in t.cols]
    tuples = [tuple(d.label(p) if d else p for d, p in zip(doms, row)) for row in zip(*cols)]
    tuples.sort(key=lambda tp: tuple((0, x) if isinstance(x, int) else (1, x) for x in tp))
    names = tuple(v if not v.startswith("_") else (doms[k].name if doms[k] else f"x{k + 1}")
                  for k, v in enumerate(q.free))
    return Answer(q.text, "relation", tuple(extents[v] for v in q.free), None, names, tuples)


__all__ = ["Atom", "Cmp", "RuleSpec", "rule_spec", "evaluate", "run_component", "union_all", "plan",
           "result_value", "answer_relation", "MODES"]
