"""Binding tables: the joins of the relational path.

In: ``Relation`` objects (``relational.py``) and the arguments of atoms
(variable names or constant positions).  Out: ``Table`` -- one int64 column
per variable, one row per binding -- and the operators rules are evaluated
with: atom selection (constants, repeated variables), sort-merge natural
joins, projection with deduplication, anti-joins (negation), comparisons,
index nested-loop expansion along CSR rows, and the head relation of a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .relational import INT, Relation, _joint_ids, _lexsort_unique, pack, packable, unique_keys, unpack

# --------------------------------------------------------------------- tables

@dataclass
class Table:
    """Bindings of variables: one int64 column per variable, one row per binding."""
    vars: tuple[str, ...]
    cols: tuple[np.ndarray, ...]
    nrows: int

    def col(self, v: str) -> np.ndarray:
        return self.cols[self.vars.index(v)]

    def take(self, mask_or_index) -> Table:
        cols = tuple(c[mask_or_index] for c in self.cols)
        n = len(cols[0]) if cols else int(np.count_nonzero(mask_or_index)) \
            if np.asarray(mask_or_index).dtype == bool else len(mask_or_index)
        return Table(self.vars, cols, n)


def unit_table() -> Table:
    """The table with no variables and one (empty) binding."""
    return Table((), (), 1)


def _codes(cols: Sequence[np.ndarray], extents: Sequence[int]) -> np.ndarray | None:
    return pack(cols, extents) if packable(extents) else None


def atom_table(rel: Relation, args: Sequence[str | int], extents: dict[str, int]) -> Table:
    """Bindings of the variables of an atom ``R(args)`` (constants select, repeats must agree)."""
    cols = rel.cols if rel.shape else ()
    n = len(rel)
    if not rel.shape:
        return Table((), (), n)
    mask = None
    first: dict[str, int] = {}

    def add(m):
        nonlocal mask
        mask = m if mask is None else mask & m

    for a, arg in enumerate(args):
        if isinstance(arg, str):
            if arg in first:
                add(cols[a] == cols[first[arg]])
            else:
                first[arg] = a
        else:
            add(cols[a] == int(arg))
    names = tuple(first)
    out = tuple(cols[first[v]] for v in names)
    if mask is not None:
        out = tuple(c[mask] for c in out)
        n = int(np.count_nonzero(mask))
    if not names:
        return Table((), (), 1 if n else 0)
    # a dropped column is a constant or a repeat of a kept one, so rows stay unique
    return Table(names, out, n)


def project(t: Table, keep: Sequence[str], extents: dict[str, int]) -> Table:
    """Keep the variables ``keep`` (in that order) and drop duplicate rows."""
    keep = tuple(keep)
    if not keep:
        return Table((), (), 1 if t.nrows else 0)
    cols = [t.col(v) for v in keep]
    ext = [extents[v] for v in keep]
    if t.nrows == 0:
        return Table(keep, tuple(np.zeros(0, dtype=INT) for _ in keep), 0)
    code = _codes(cols, ext)
    if code is not None:
        u = unique_keys(code)
        out = unpack(u, ext)
    else:
        out = _lexsort_unique(cols)
    return Table(keep, tuple(out), len(out[0]))


def join(a: Table, b: Table, extents: dict[str, int]) -> Table:
    """The natural join of two binding tables (sort-merge on the shared variables)."""
    shared = [v for v in a.vars if v in b.vars]
    extra = [v for v in b.vars if v not in a.vars]
    out_vars = a.vars + tuple(extra)
    if a.nrows == 0 or b.nrows == 0:
        return Table(out_vars, tuple(np.zeros(0, dtype=INT) for _ in out_vars), 0)
    if not shared:
        ia = np.repeat(np.arange(a.nrows), b.nrows)
        ib = np.tile(np.arange(b.nrows), a.nrows)
    else:
        ka = _codes([a.col(v) for v in shared], [extents[v] for v in shared])
        kb = _codes([b.col(v) for v in shared], [extents[v] for v in shared]) if ka is not None else None
        if ka is None:
            ka, kb = _joint_ids([a.col(v) for v in shared], [b.col(v) for v in shared])
        order = np.argsort(kb, kind="stable")
        sk = kb[order]
        lo = np.searchsorted(sk, ka, "left")
        hi = np.searchsorted(sk, ka, "right")
        counts = hi - lo
        total = int(counts.sum())
        ia = np.repeat(np.arange(a.nrows), counts)
        starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
        ib = order[starts + np.arange(total)]
    cols = tuple(c[ia] for c in a.cols) + tuple(b.col(v)[ib] for v in extra)
    return Table(out_vars, cols, len(ia))


def domain_table(var: str, extent: int) -> Table:
    """Every position of a variable's domain (for variables no positive atom binds)."""
    return Table((var,), (np.arange(extent, dtype=INT),), extent)


def antijoin(t: Table, rel: Relation, args: Sequence[str | int | None]) -> Table:
    """The rows of ``t`` whose atom ``R(args)`` is false (negation); a ``None`` argument is
    projected away first (``not R(x, _)``: no tuple of R starts with x)."""
    if t.nrows == 0 or len(rel) == 0:
        return t
    if any(a is None for a in args):
        keep = [k for k, a in enumerate(args) if a is not None]
        cols = rel.cols
        rel = Relation.from_columns([rel.shape[k] for k in keep], [cols[k] for k in keep])
        args = [args[k] for k in keep]
    cols = [t.col(a) if isinstance(a, str) else np.full(t.nrows, int(a), dtype=INT) for a in args]
    ok = np.ones(t.nrows, dtype=bool)
    for c, n in zip(cols, rel.shape):  # out-of-range constants are simply false
        ok &= (c >= 0) & (c < n)
    hit = np.zeros(t.nrows, dtype=bool)
    if ok.any():
        hit[ok] = rel.contains([c[ok] for c in cols]) if rel.shape else len(rel) > 0
    return t.take(~hit)


COMPARE = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
           "gt": np.greater, "ge": np.greater_equal}


def compare_mask(op: str, left, right) -> np.ndarray:
    """Elementwise comparison of positions (arrays or numbers)."""
    return np.asarray(COMPARE[op](left, right))


def to_relation(t: Table, head: Sequence[str | int], shape: Sequence[int],
                canonical: bool = False) -> Relation:
    """The head tuples ``H(head)`` of the bindings (constants fill their positions).

    ``canonical``: the table is sorted and duplicate-free over ``head`` (as
    ``project`` leaves it), so no sort is needed."""
    shape = tuple(shape)
    if not shape:
        return Relation((), keys=np.zeros(1 if t.nrows else 0, dtype=INT))
    cols = []
    ok = np.ones(t.nrows, dtype=bool)
    for arg, n in zip(head, shape):
        c = t.col(arg) if isinstance(arg, str) else np.full(t.nrows, int(arg), dtype=INT)
        ok &= (c >= 0) & (c < n)
        cols.append(c)
    if not ok.all():
        cols = [c[ok] for c in cols]
    if canonical and tuple(head) == t.vars and packable(shape):
        return Relation(shape, keys=pack(cols, shape))
    return Relation.from_columns(shape, cols)


def expand(left: np.ndarray, right: np.ndarray, indptr: np.ndarray, indices: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """Follow the pairs (left, right) along a CSR matrix: (left, c) for every c in row ``right``
    (an index nested-loop join, vectorised)."""
    start = indptr[right]
    counts = indptr[right + 1] - start
    total = int(counts.sum())
    lo = np.repeat(left, counts)
    offs = np.arange(total, dtype=INT) - np.repeat(np.cumsum(counts) - counts, counts)
    return lo, indices[np.repeat(start, counts) + offs].astype(INT)
