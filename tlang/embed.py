"""Engine support for reasoning in embedding space: random unit embeddings and sparse joins.

In: index positions and a seed (``randunit``), or the evaluated operands of
one sum-product ``Contract`` (``sparse_contract``).  Out: numpy arrays.

- ``randunit(x, d, Seed)`` is element ``d`` of a random unit vector for
  row ``x`` whose length is the extent of ``d`` (so ``d`` must range over
  its whole domain, as in ``Emb[x, d] = randunit(x, d, Seed)``).  Rows are
  drawn in blocks of ``BLOCK`` from ``numpy.random.default_rng([seed,
  block, dim])``, so a row depends only on the seed, its position and the
  dimension: adding objects never changes the embeddings of the others.
- ``sparse_contract`` is the engine fast path for the paper's relation
  embedding ``EmbR[i, j] = R(x, y) Emb[x, i] Emb[y, j]``: when one operand
  is sparse (a relation), the einsum iterates over its true tuples and
  gathers the matching rows of the other operands, which costs
  O(|R| D^2) instead of O(N^2 D + N D^2).  It is taken only when
  opt_einsum's cost model says it is cheaper, so dense programs are not
  affected; the result is the same sum, in another order.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import opt_einsum

from .source import TlangRuntimeError

BLOCK = 64                   # rows drawn per generator call
SPARSE_MIN_SIZE = 1 << 12    # operands smaller than this are always contracted densely
SPARSE_MAX_DENSITY = 0.25    # an operand with more nonzeros than this fraction is dense
SPARSE_CHUNK = 1 << 22       # elements of gathered operands held at once


# ------------------------------------------------------------ random embeddings

@functools.lru_cache(maxsize=256)
def _block(seed: int, block: int, dim: int) -> np.ndarray:
    rng = np.random.default_rng([seed, block, dim])
    g = rng.standard_normal((BLOCK, dim))
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    g.setflags(write=False)
    return g


def _seed(value: Any) -> int:
    s = np.asarray(value, dtype=float).reshape(-1)
    if s.size == 0:
        return 0
    if not np.all(s == s[0]):
        raise TlangRuntimeError("randunit: the seed must be one number, not a tensor")
    if not float(s[0]).is_integer() or s[0] < 0:
        raise TlangRuntimeError(f"randunit: the seed must be a non-negative integer, not {s[0]:g}")
    return int(s[0])


def randunit_rows(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Rows ``0..n-1`` of the random unit embedding of dimension ``dim`` (an ``n x dim`` array)."""
    if dim < 1:
        return np.zeros((n, max(dim, 0)))
    blocks = [_block(seed, b, dim) for b in range((n + BLOCK - 1) // BLOCK)]
    if not blocks:
        return np.zeros((0, dim))
    return np.concatenate(blocks)[:n]


def randunit_op(xp, x, d, seed=0.0):
    """The vectorised ``randunit``: ``x`` and ``d`` are broadcastable arrays of positions."""
    xi = np.asarray(x).astype(np.int64)
    di = np.asarray(d).astype(np.int64)
    if xi.size == 0 or di.size == 0:
        return np.zeros(np.broadcast_shapes(xi.shape, di.shape))
    if xi.min() < 0 or di.min() < 0:
        raise TlangRuntimeError("randunit: positions must be non-negative")
    rows = randunit_rows(int(xi.max()) + 1, int(di.max()) + 1, _seed(seed))
    return xp.asarray(rows[xi, di])


def randunit_element(x: float, d: float, seed: float = 0.0, *, dim: int) -> float:
    """One element of ``randunit`` (the reference interpreter's form): ``dim`` is the extent of d."""
    xi, di = int(x), int(d)
    if xi < 0 or not 0 <= di < dim:
        return 0.0
    return float(_block(_seed(seed), xi // BLOCK, dim)[xi % BLOCK, di])


# ------------------------------------------------------------- sparse joins

def _symbols(names) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in names:
        if v not in out:
            out[v] = opt_einsum.get_symbol(len(out))
    return out


def _cost(terms: list[str], out: str, shapes: list[tuple[int, ...]]) -> float:
    spec = ",".join(terms) + "->" + out
    try:
        return float(opt_einsum.contract_path(spec, *shapes, shapes=True)[1].opt_cost)
    except (ValueError, TypeError):
        return float("inf")


def sparse_contract(ops: list, out: tuple[str, ...], extents: dict[str, int]) -> Any | None:
    """Sum-product join of labelled operands (``.array``, ``.vars``) over a sparse one, or None.

    Returns the array over ``out`` (in that order) when one operand has few
    nonzeros and iterating over them is cheaper than the dense einsum;
    otherwise None, and the caller contracts densely.
    """
    if len(ops) < 2:
        return None
    best = None
    for k, o in enumerate(ops):
        a = o.array
        if type(a) is not np.ndarray or a.ndim == 0 or a.size < SPARSE_MIN_SIZE or len(o.vars) != a.ndim:
            continue
        flat = a.reshape(-1)
        step = max(1, flat.size // 512)
        if np.count_nonzero(flat[::step]) > 2 * SPARSE_MAX_DENSITY * len(flat[::step]):
            continue  # a sample says dense: skip counting every element
        nnz = int(np.count_nonzero(a))
        if nnz <= SPARSE_MAX_DENSITY * a.size and (best is None or nnz < best[1]):
            best = (k, nnz)
    if best is None:
        return None
    k, nnz = best
    if any(type(o.array) is not np.ndarray and not np.isscalar(o.array) for o in ops):
        return None
    if any(v not in extents for o in ops for v in o.vars) or \
            any(not any(v in o.vars for o in ops) for v in out):
        return None
    s = ops[k]
    svars = s.vars
    others = [o for j, o in enumerate(ops) if j != k]
    sym = _symbols([v for o in ops for v in o.vars] + list(out))
    tau = opt_einsum.get_symbol(len(sym))
    scat = [v for v in out if v in svars]           # output axes taken from the tuples
    kept = [v for v in out if v not in svars]       # output axes computed by the einsum
    # cost of the dense einsum against the gathered one
    dense_terms = ["".join(sym[v] for v in o.vars) for o in ops]
    dense = _cost(dense_terms, "".join(sym[v] for v in out), [tuple(o.array.shape) for o in ops])
    terms, shapes, gathered = [tau], [(max(nnz, 1),)], 0
    for o in others:
        rest = [v for v in o.vars if v not in svars]
        if len(rest) < len(o.vars):
            terms.append(tau + "".join(sym[v] for v in rest))
            shape = (max(nnz, 1),) + tuple(extents[v] for v in rest)
            gathered += int(np.prod(shape))
        else:
            terms.append("".join(sym[v] for v in o.vars))
            shape = tuple(o.array.shape)
        shapes.append(shape)
    res_spec = (tau if scat else "") + "".join(sym[v] for v in kept)
    sparse = _cost(terms, res_spec, shapes) + gathered + nnz * len(svars)
    if not sparse * 2 < dense:
        return None
    coords = np.nonzero(s.array)
    weights = s.array[coords]
    spec = ",".join(terms) + "->" + res_spec
    row = max(1, gathered // max(nnz, 1))
    chunk = max(1, SPARSE_CHUNK // row)
    kept_shape = tuple(extents[v] for v in kept)
    result = np.zeros(tuple(extents[v] for v in scat) + kept_shape)
    moved = []
    for o in others:  # shared axes first, so one fancy index gathers the tuples' rows
        shared = [v for v in o.vars if v in svars]
        arr = np.asarray(o.array, dtype=float)
        if shared:
            arr = np.moveaxis(arr, [o.vars.index(v) for v in shared], list(range(len(shared))))
        moved.append((shared, arr))
    for start in range(0, nnz, chunk):
        sl = slice(start, start + chunk)
        arrays = [weights[sl]]
        for shared, arr in moved:
            if shared:
                arrays.append(arr[tuple(coords[svars.index(v)][sl] for v in shared)])
            else:
                arrays.append(arr)
        part = opt_einsum.contract(spec, *arrays)
        if scat:
            np.add.at(result, tuple(coords[svars.index(v)][sl] for v in scat), part)
        else:
            result += part
    order = scat + kept
    if order != list(out):
        result = np.transpose(result, [order.index(v) for v in out])
    return result
