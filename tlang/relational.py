"""Sparse Boolean relations: the storage and operators of the relational path.

In: tuples of positions (numpy integer columns or rows), scipy.sparse
matrices, or dense 0/1 arrays.  Out: ``Relation`` objects -- the set of true
tuples of a Boolean tensor over given extents, never densified unless asked
-- with set operations (membership, union, difference, transposition) and
an append-only ``Accumulator`` for semi-naive fixpoints.  Joins over binding
tables are in ``relational_tables.py``; rules in ``relational_rules.py``.

Representation.  A relation of arity k over extents (n1, ..., nk) is a
sorted array of unique int64 *keys*, the row-major mixed-radix code of each
tuple (so key order is lexicographic order), whenever n1 * ... * nk fits in
63 bits; otherwise ("wide") it is k int64 columns in lexicographic order.
A binary relation also caches its scipy CSR matrix (Boolean), used for
chain joins by sparse matrix products.  Memory is O(number of tuples).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from .source import TlangResourceError

KEY_LIMIT = 1 << 62
INT = np.int64

#: cells above which facts and derived relations are kept sparse (see ``prefer_sparse``)
SPARSE_MIN_CELLS = 1 << 16
#: cells above which a relation is always sparse, whatever its density
DENSE_MAX_CELLS = 1 << 22
#: the largest relation (in cells) that a dense equation may densify
DENSIFY_MAX_CELLS = 1 << 27


def cells(shape: Sequence[int]) -> int:
    """The number of elements of a dense tensor of this shape (exact Python int)."""
    return math.prod(int(n) for n in shape)


def packable(shape: Sequence[int]) -> bool:
    return cells(shape) < KEY_LIMIT


def prefer_sparse(shape: Sequence[int], nnz: int) -> bool:
    """Whether a Boolean relation with ``nnz`` tuples should be stored sparse."""
    n = cells(shape)
    return n > DENSE_MAX_CELLS or (n >= SPARSE_MIN_CELLS and nnz * 16 <= n)


def pack(cols: Sequence[np.ndarray], shape: Sequence[int]) -> np.ndarray:
    """Row-major keys of tuples given as columns (requires ``packable(shape)``)."""
    if not cols:
        return np.zeros(1, dtype=INT)
    key = np.asarray(cols[0], dtype=INT)
    for c, n in zip(cols[1:], shape[1:]):
        key = key * INT(n) + np.asarray(c, dtype=INT)
    return key


def unpack(keys: np.ndarray, shape: Sequence[int]) -> tuple[np.ndarray, ...]:
    """The columns of row-major keys."""
    out = []
    rest = keys
    for n in reversed(shape[1:]):
        rest, c = np.divmod(rest, INT(n))
        out.append(c)
    out.append(rest)
    return tuple(out[::-1])


def unique_keys(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct values of a 1-D integer array (a sort and a mask: much faster than
    ``np.unique``'s hashing on int64)."""
    k = np.sort(np.asarray(keys, dtype=INT))
    if len(k) < 2:
        return k
    keep = np.empty(len(k), dtype=bool)
    keep[0] = True
    np.not_equal(k[1:], k[:-1], out=keep[1:])
    return k[keep]


def merge_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Merge two sorted, disjoint key arrays in linear time."""
    if len(a) == 0:
        return b
    if len(b) == 0:
        return a
    if len(b) > len(a):
        a, b = b, a
    pos = np.searchsorted(a, b) + np.arange(len(b))
    out = np.empty(len(a) + len(b), dtype=a.dtype)
    keep = np.ones(len(out), dtype=bool)
    keep[pos] = False
    out[pos] = b
    out[keep] = a
    return out


def sorted_member(sorted_keys: np.ndarray, probe: np.ndarray) -> np.ndarray:
    """Mask of the ``probe`` keys present in the sorted array ``sorted_keys``."""
    if len(sorted_keys) == 0 or len(probe) == 0:
        return np.zeros(len(probe), dtype=bool)
    pos = np.searchsorted(sorted_keys, probe)
    pos[pos == len(sorted_keys)] = 0
    return sorted_keys[pos] == probe


def _lexsort_unique(cols: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    if len(cols[0]) == 0:
        return tuple(np.asarray(c, dtype=INT) for c in cols)
    rows = np.unique(np.stack([np.asarray(c, dtype=INT) for c in cols], axis=1), axis=0)
    return tuple(np.ascontiguousarray(rows[:, k]) for k in range(rows.shape[1]))


def _joint_ids(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Dense ids of the rows of two column sets, equal ids for equal rows."""
    na = len(a[0]) if a else 0
    rows = np.concatenate([np.stack(a, axis=1), np.stack(b, axis=1)]) if a else np.zeros((0, 0))
    _, inv = np.unique(rows, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    return inv[:na], inv[na:]


# ------------------------------------------------------------------ relation

class Relation:
    """A Boolean relation: the set of its true tuples over extents ``shape``.

    Build one with ``from_columns``, ``from_rows``, ``from_tuples``,
    ``from_dense``, ``from_sparse`` or ``empty``; read it with ``keys``,
    ``cols``, ``rows``, ``csr()``, ``tuples()``, ``to_dense()``, ``len()``.
    Relations are immutable.
    """

    __slots__ = ("shape", "_keys", "_cols", "_csr", "_csr_t")

    def __init__(self, shape: Sequence[int], *, keys: np.ndarray | None = None,
                 cols: tuple[np.ndarray, ...] | None = None, csr=None) -> None:
        self.shape = tuple(int(n) for n in shape)
        self._keys = keys
        self._cols = cols
        self._csr = csr
        self._csr_t = None

    # constructors ----------------------------------------------------------
    @classmethod
    def empty(cls, shape: Sequence[int]) -> Relation:
        shape = tuple(int(n) for n in shape)
        if packable(shape):
            return cls(shape, keys=np.zeros(0, dtype=INT))
        return cls(shape, cols=tuple(np.zeros(0, dtype=INT) for _ in shape))

    @classmethod
    def from_keys(cls, shape: Sequence[int], keys: np.ndarray, *, canonical: bool = False) -> Relation:
        """From row-major keys (sorted and unique if ``canonical``)."""
        keys = np.asarray(keys, dtype=INT)
        if not canonical:
            keys = unique_keys(keys)
        return cls(shape, keys=keys)

    @classmethod
    def from_columns(cls, shape: Sequence[int], cols: Sequence[np.ndarray], *,
                     canonical: bool = False) -> Relation:
        """From one integer array per axis (in range; duplicates allowed unless ``canonical``)."""
        shape = tuple(int(n) for n in shape)
        cols = tuple(np.asarray(c, dtype=INT) for c in cols)
        if len(cols) != len(shape):
            raise ValueError(f"{len(cols)} columns for a relation of arity {len(shape)}")
        if not shape:  # a proposition: true iff it holds the empty tuple
            return cls((), keys=np.zeros(1 if len(cols) == 0 else 0, dtype=INT))
        if packable(shape):
            return cls.from_keys(shape, pack(cols, shape), canonical=canonical)
        return cls(shape, cols=cols if canonical else _lexsort_unique(cols))

    @classmethod
    def from_rows(cls, shape: Sequence[int], rows) -> Relation:
        """From an (m, k) integer array of tuples."""
        rows = np.asarray(rows, dtype=INT).reshape(-1, len(shape))
        return cls.from_columns(shape, [rows[:, k] for k in range(rows.shape[1])])

    @classmethod
    def from_tuples(cls, shape: Sequence[int], tuples: Iterable[Sequence[int]]) -> Relation:
        """From Python tuples of positions."""
        arr = np.array(list(tuples), dtype=INT)
        return cls.from_rows(shape, arr.reshape(-1, len(tuple(shape))))

    @classmethod
    def from_dense(cls, arr) -> Relation:
        """The true (positive) cells of a dense array."""
        a = np.asarray(arr)
        if a.ndim == 0:
            return cls((), keys=np.zeros(1 if a > 0 else 0, dtype=INT))
        return cls.from_columns(a.shape, np.nonzero(a > 0), canonical=True)

    @classmethod
    def from_sparse(cls, m) -> Relation:
        """The nonzero cells of a 2-D scipy.sparse matrix or array."""
        import scipy.sparse as sp
        m = sp.csr_matrix(m, dtype=bool, copy=True)
        m.eliminate_zeros()
        m.sum_duplicates()
        return cls(m.shape, csr=m)

    @classmethod
    def from_csr(cls, m) -> Relation:
        """A Boolean CSR matrix with no explicit zeros and no duplicates (as sparse products
        and comparisons give them), taken as is: its tuples are sorted only when read."""
        return cls(m.shape, csr=m)

    # views -----------------------------------------------------------------
    @property
    def arity(self) -> int:
        return len(self.shape)

    @property
    def wide(self) -> bool:
        return self._keys is None and self._cols is not None and not packable(self.shape)

    @property
    def keys(self) -> np.ndarray | None:
        """Sorted unique row-major keys, or None for a wide relation."""
        if self._keys is None and packable(self.shape):
            self._keys = pack(self._cols, self.shape) if self._cols is not None else self._csr_keys()
        return self._keys

    @property
    def cols(self) -> tuple[np.ndarray, ...]:
        """One int64 array per axis, rows in lexicographic order."""
        if self._cols is None:
            if self._keys is not None:
                self._cols = unpack(self._keys, self.shape) if self.shape else ()
            else:
                self._cols = self._csr_cols()
        return self._cols

    def _csr_keys(self) -> np.ndarray:
        m = self._csr
        if not m.has_sorted_indices:
            m.sort_indices()
        keys = np.repeat(np.arange(m.shape[0], dtype=INT) * INT(m.shape[1]), np.diff(m.indptr))
        keys += m.indices
        return keys

    def _csr_cols(self) -> tuple[np.ndarray, np.ndarray]:
        m = self._csr
        if not m.has_sorted_indices:
            m.sort_indices()
        rows = np.repeat(np.arange(m.shape[0], dtype=INT), np.diff(m.indptr))
        return rows, m.indices.astype(INT)

    def rows(self) -> np.ndarray:
        """An (m, k) int64 array of the tuples."""
        if not self.shape:
            return np.zeros((len(self), 0), dtype=INT)
        return np.stack(self.cols, axis=1) if len(self) else np.zeros((0, self.arity), dtype=INT)

    def __len__(self) -> int:
        if self._keys is not None:
            return len(self._keys)
        if self._csr is not None:
            return int(self._csr.nnz)
        return len(self._cols[0]) if self._cols else 0

    def csr(self):
        """The relation as a Boolean scipy CSR matrix (binary relations only)."""
        if self.arity != 2:
            raise ValueError(f"a relation of arity {self.arity} is not a matrix")
        if self._csr is None:
            import scipy.sparse as sp
            r, c = self.cols
            n0, n1 = self.shape
            idx = np.int32 if max(n0, n1, len(r)) < 2**31 - 1 else INT
            indptr = np.zeros(n0 + 1, dtype=idx)
            np.cumsum(np.bincount(r, minlength=n0), out=indptr[1:])
            m = sp.csr_matrix((np.ones(len(c), dtype=bool), c.astype(idx), indptr), shape=(n0, n1))
            m.has_sorted_indices = True
            m.has_canonical_format = True
            self._csr = m
        return self._csr

    def csr_t(self):
        """The transposed relation as a Boolean CSR matrix (cached)."""
        if self._csr_t is None:
            self._csr_t = self.transpose((1, 0)).csr()
        return self._csr_t

    def tuples(self) -> list[tuple[int, ...]]:
        """The tuples as Python ints, in lexicographic order."""
        if not self.shape:
            return [()] * len(self)
        return list(zip(*(c.tolist() for c in self.cols)))

    def to_dense(self, dtype=float, limit: int | None = DENSIFY_MAX_CELLS, what: str = "relation",
                 span=None) -> np.ndarray:
        """A dense 0/1 array; a ``TlangResourceError`` if it has more than ``limit`` cells."""
        n = cells(self.shape)
        if limit is not None and n > limit:
            raise TlangResourceError(
                f"{what} would need a dense array of {n:,} cells (shape {self.shape}) but holds only "
                f"{len(self):,} tuples; densifying it is refused above {limit:,} cells", span,
                ["read it only from Boolean rules (which run sparse), or raise --memory-limit"])
        out = np.zeros(self.shape, dtype=dtype)
        if len(self):
            out[self.cols] = 1
        elif not self.shape:
            out = np.asarray(0, dtype=dtype)
        if not self.shape and len(self):
            out = np.asarray(1, dtype=dtype)
        return out

    def __array__(self, dtype=None, copy=None):
        return self.to_dense(dtype or float)

    @property
    def nbytes(self) -> int:
        n = 0 if self._keys is None else self._keys.nbytes
        n += sum(c.nbytes for c in self._cols or ())
        if self._csr is not None:
            n += self._csr.data.nbytes + self._csr.indices.nbytes + self._csr.indptr.nbytes
        return n

    def __repr__(self) -> str:
        return f"Relation(shape={self.shape}, tuples={len(self)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Relation):
            return NotImplemented
        if self.shape != other.shape or len(self) != len(other):
            return False
        if self.keys is not None:
            return bool(np.array_equal(self.keys, other.keys))
        return all(np.array_equal(a, b) for a, b in zip(self.cols, other.cols))

    __hash__ = None  # type: ignore[assignment]

    # set operations ----------------------------------------------------------
    def contains(self, cols: Sequence[np.ndarray]) -> np.ndarray:
        """Mask of the given tuples (as columns, in range) that are in the relation."""
        if not self.shape:
            return np.full(len(cols[0]) if cols else 1, len(self) > 0)
        if self.keys is not None:
            return sorted_member(self.keys, pack(cols, self.shape))
        a, b = _joint_ids([np.asarray(c, dtype=INT) for c in cols], list(self.cols))
        return np.isin(a, b)

    def union(self, other: Relation) -> Relation:
        if len(other) == 0:
            return self
        if len(self) == 0:
            return other
        if self._csr is not None and other._csr is not None:
            return Relation.from_csr(self._csr + other._csr)
        if self.keys is not None:
            return Relation(self.shape, keys=unique_keys(np.concatenate([self.keys, other.keys])))
        return Relation.from_columns(self.shape, [np.concatenate([a, b]) for a, b in
                                                  zip(self.cols, other.cols)])

    def difference(self, other: Relation) -> Relation:
        if len(other) == 0 or len(self) == 0:
            return self
        if self.keys is not None:
            return Relation(self.shape, keys=self.keys[~sorted_member(other.keys, self.keys)])
        keep = ~other.contains(self.cols)
        return Relation(self.shape, cols=tuple(c[keep] for c in self.cols))

    def transpose(self, perm: Sequence[int]) -> Relation:
        """The relation with its axes permuted (``perm[k]`` is the old axis of new axis k)."""
        perm = tuple(perm)
        if perm == tuple(range(self.arity)):
            return self
        shape = tuple(self.shape[p] for p in perm)
        cols = self.cols
        rel = Relation.from_columns(shape, [cols[p] for p in perm])
        if self._csr is not None and perm == (1, 0):
            rel._csr = self._csr.T.tocsr()
        return rel


def as_relation(value, span=None) -> Relation:
    """A Relation from a Relation, a dense array or a scipy.sparse matrix."""
    if isinstance(value, Relation):
        return value
    try:
        import scipy.sparse as sp
        if sp.issparse(value):
            return Relation.from_sparse(value)
    except ImportError:  # pragma: no cover
        pass
    return Relation.from_dense(np.asarray(value))


# --------------------------------------------------------------- accumulator

def _sample(m, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Which cells (rows[k], cols[k]) of a Boolean CSR matrix are true (looked up in its rows)."""
    from scipy.sparse import _sparsetools
    idx = m.indices.dtype
    out = np.zeros(len(rows), dtype=m.dtype)
    _sparsetools.csr_sample_values(m.shape[0], m.shape[1], m.indptr, m.indices, m.data, len(rows),
                                   rows.astype(idx), cols.astype(idx), out)
    return out.astype(bool)


class Accumulator:
    """An append-only set of tuples for semi-naive fixpoints.

    Facts are held as sorted disjoint chunks of keys whose sizes shrink
    geometrically (a log-structured merge), so adding a round's new facts and
    testing candidates against everything known cost O(new log total), not
    O(total), per round.  A binary relation also keeps a *base* CSR matrix:
    a round with many candidates is compared with it row by row (a linear
    merge, as scipy compares matrices) and its new facts are added to it,
    while a round with few candidates looks them up in its rows and adds them
    to the chunks -- so neither a long tail of small rounds nor a burst of
    large ones costs more than it must, and nothing is ever converted back.
    """

    def __init__(self, shape: Sequence[int], first: Relation | None = None) -> None:
        self.shape = tuple(shape)
        self.chunks: list[np.ndarray] = []
        self.size = 0
        self._wide: Relation | None = None
        self._base = None          # binary relations: a CSR matrix of facts not in the chunks
        if not packable(self.shape):
            self._wide = first if first is not None else Relation.empty(self.shape)
        elif first is not None and len(first):
            self.add(first)

    def _collapse(self) -> np.ndarray:
        while len(self.chunks) > 1:
            b = self.chunks.pop()
            a = self.chunks.pop()
            self.chunks.append(merge_sorted(a, b))
        return self.chunks[0] if self.chunks else np.zeros(0, dtype=INT)

    def _fold(self) -> None:
        """Move the chunks into the base matrix."""
        if self.chunks or self._base is None:
            m = Relation(self.shape, keys=self._collapse()).csr()
            self._base = m if self._base is None else self._base + m
            self.chunks = []

    def _many(self, rel: Relation) -> bool:
        """Whether a round is compared matrix-wise: candidates (from a matrix product) that
        cost more to look up one by one (each scans its row) than merging every row does."""
        n, rows = len(rel), self.shape[0]
        return rel._csr is not None and (n >= 8 * rows or (n * 4 >= self.size and n >= rows // 8))

    def add(self, rel: Relation) -> None:
        """Add facts known to be new (disjoint from what is held)."""
        if self._wide is not None:
            self._wide = self._wide.union(rel)
            return
        if len(rel) == 0:
            return
        self.size += len(rel)
        if self._base is not None and rel._csr is not None and rel._keys is None:
            self._base = self._base + rel._csr
            return
        self.chunks.append(rel.keys)
        while len(self.chunks) > 1 and len(self.chunks[-2]) <= 2 * len(self.chunks[-1]):
            b = self.chunks.pop()
            a = self.chunks.pop()
            self.chunks.append(merge_sorted(a, b))

    def new_only(self, rel: Relation) -> Relation:
        """The facts of ``rel`` not held yet."""
        if self._wide is not None:
            return rel.difference(self._wide)
        if len(rel) == 0:
            return rel
        if len(self.shape) == 2 and self._many(rel):
            self._fold()
            return Relation.from_csr(rel.csr() > self._base)
        keys = rel.keys
        keep = np.ones(len(keys), dtype=bool)
        if self._base is not None and self._base.nnz:
            keep &= ~_sample(self._base, *rel.cols)
        for ch in self.chunks:
            keep &= ~sorted_member(ch, keys)
        return rel if keep.all() else Relation(self.shape, keys=keys[keep])

    def relation(self) -> Relation:
        """Everything held, as one Relation."""
        if self._wide is not None:
            return self._wide
        if self._base is not None:
            self._fold()
            return Relation.from_csr(self._base)
        return Relation(self.shape, keys=self._collapse())

    def __len__(self) -> int:
        return len(self._wide) if self._wide is not None else self.size
