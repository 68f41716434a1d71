"""Contraction planning: path optimisers, plans, the plan cache and memory limits.

In: an einsum equation (numpy syntax: ``"ij,jk->ik"``, ``...``, repeated
indices, implicit output) with its operand shapes and dtypes.  Out: a frozen
``Plan``: the pairwise contraction path, naive and optimised flops in
opt_einsum's cost model, the largest intermediate (elements), the predicted
peak memory (bytes), the optimiser that chose the path, the indices sliced
over under a memory limit, and the precomputed ``Step`` list that
``tlang.einsum_api`` executes.  Plans are cached in an LRU keyed by
(canonical equation, shapes, dtypes, backend, optimiser, memory limit), so
the same contraction is searched once.  A memory limit that no path and no
slicing can meet raises ``TlangResourceError`` before anything is allocated.

Optimisers live in a registry keyed by name; each is a function with
opt_einsum's path-function signature ``fn(inputs, output, size_dict,
memory_limit=None) -> path``.  ``auto`` is tlang's policy by problem size.
Program-level planning (``tlang plan FILE``, ``--show plan`` and the
engine's memory check) is in ``tlang.plan_program``; execution of a plan on
numpy, JAX or CuPy arrays is in ``tlang.einsum_api``.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib.util
import math
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from opt_einsum import blas, helpers, parser, path_random, paths

from .source import Span, TlangError, TlangResourceError

PathFn = Callable[..., Sequence[Sequence[int]]]

DEFAULT_TIME_BUDGET = 1.0   # seconds the auto policy may spend searching one path
HYPER_OPERANDS = 12         # more operands than this: hyper-optimiser (cotengra when installed)
DP_OPERANDS = 12            # up to this many operands the policy also tries dynamic programming
SEARCH_RATE = 1e7           # flops that buy one second of search: plans are cached and reused,
                            # so a search may take about ten runs of the contraction in numpy
MIN_SEARCH_TIME = 0.1       # seconds: the least a hyper-search is given once it runs at all
MIN_SEARCH_FLOPS = 1e6      # below this the cheap paths are good enough
BLAS_MIN_FLOPS = 8192       # smaller pairwise steps run as einsum (tensordot's overhead dominates)
MAX_SLICED = 4              # at most this many indices are sliced over
SLICE_COST = 10_000         # flops a slice's Python loop step is worth, when choosing a path
BLAS_DTYPES = frozenset({"float32", "float64", "complex64", "complex128"})


class EinsumSpecError(TlangError, ValueError):
    """An einsum spec does not fit its operands (a ValueError, as in numpy)."""


# ------------------------------------------------------------------ registry

def naive(inputs, output, size_dict, memory_limit=None) -> list[tuple[int, ...]]:
    """No search: contract everything in one einsum call (numpy.einsum's default)."""
    return [tuple(range(len(inputs)))]


def hyper(inputs, output, size_dict, memory_limit=None, *, max_time: float | None = None):
    """cotengra's hyper-optimiser (flops), single process, bounded by ``max_time`` seconds."""
    with warnings.catch_warnings():  # cotengra warns when kahypar/optuna are missing
        warnings.simplefilter("ignore")
        import cotengra
        opt = cotengra.HyperOptimizer(max_time=max_time or DEFAULT_TIME_BUDGET, max_repeats=128,
                                      minimize="flops", parallel=False, progbar=False)
        return opt(list(inputs), output, size_dict)


def _random_greedy(inputs, output, size_dict, memory_limit=None, *, max_time: float | None = None):
    opt = path_random.RandomGreedy(max_repeats=128, max_time=max_time or DEFAULT_TIME_BUDGET)
    return opt(list(inputs), output, size_dict, memory_limit)


def auto(inputs, output, size_dict, memory_limit=None, *, time_budget: float | None = None):
    """tlang's default policy: no search for 1-2 operands; opt_einsum's ``auto`` and ``dp``
    up to 12; beyond, cotengra (else random-greedy) for at most ``time_budget`` seconds and
    in proportion to the contraction's cost (flops / SEARCH_RATE).  The cheapest
    candidate wins, so the result is never worse than opt_einsum's ``auto``."""
    return _auto(inputs, output, size_dict, memory_limit, time_budget)[0]


def _auto(inputs, output, size_dict, memory_limit, time_budget) -> tuple[list, str]:
    n = len(inputs)
    if n <= 2:
        return [tuple(range(n))], "auto (no search)"
    budget = DEFAULT_TIME_BUDGET if time_budget is None else time_budget
    t0 = time.perf_counter()
    cands = [(paths.auto(inputs, output, size_dict, memory_limit), "opt-einsum-auto")]
    if n <= DP_OPERANDS:
        cands.append((paths.dynamic_programming(inputs, output, size_dict, memory_limit), "dp"))
    else:
        flops = path_flops(inputs, output, size_dict, cands[0][0])
        left = min(budget - (time.perf_counter() - t0), max(MIN_SEARCH_TIME, flops / SEARCH_RATE))
        if flops >= MIN_SEARCH_FLOPS and left > 0.01:
            if importlib.util.find_spec("cotengra") is not None and memory_limit is None:
                cands.append((hyper(inputs, output, size_dict, max_time=left), "cotengra"))
            else:
                cands.append((_random_greedy(inputs, output, size_dict, memory_limit, max_time=left),
                              "random-greedy"))
    path, name = min(cands, key=lambda c: path_flops(inputs, output, size_dict, c[0]))
    return path, f"auto ({name})"


_OPTIMIZERS: dict[str, PathFn] = {
    "auto": auto, "naive": naive,
    "greedy": paths.greedy, "optimal": paths.optimal, "dp": paths.dynamic_programming,
    "branch-all": paths.branch_all, "branch-2": paths.branch_2, "branch-1": paths.branch_1,
    "random-greedy": path_random.random_greedy, "random-greedy-128": path_random.random_greedy_128,
    "opt-einsum-auto": paths.auto, "auto-hq": paths.auto_hq,
}
if importlib.util.find_spec("cotengra") is not None:
    _OPTIMIZERS["cotengra"] = hyper


def register_optimizer(name: str, fn: PathFn, *, replace: bool = False) -> None:
    """Add a path optimiser: ``fn(inputs, output, size_dict, memory_limit=None) -> path``
    (``inputs``: a list of frozensets of index symbols; ``path``: opt_einsum's linear format)."""
    key = name.lower()
    if key in _OPTIMIZERS and not replace:
        raise KeyError(f"a path optimiser named '{name}' is already registered (pass replace=True)")
    _OPTIMIZERS[key] = fn
    _CACHE.clear()


def get_optimizer(name: str) -> PathFn:
    """The registered optimiser called ``name``."""
    fn = _OPTIMIZERS.get(name.lower())
    if fn is None:
        raise TlangError(f"unknown path optimiser '{name}'", None,
                         [f"optimisers: {', '.join(optimizers())}"])
    return fn


def optimizers() -> list[str]:
    """The names of the registered optimisers."""
    return sorted(_OPTIMIZERS)


# ---------------------------------------------------------------------- plans

@dataclass(frozen=True, slots=True)
class Step:
    """One pairwise (or n-ary) contraction: take ``positions`` (descending, popped in this
    order), contract them by ``spec`` (numpy-valid letters, inputs in popped order), append
    the result.  ``tensordot`` = ((axes_left, axes_right), permutation or None) when BLAS does it."""
    positions: tuple[int, ...]
    spec: str
    tensordot: tuple | None = None


@dataclass(frozen=True)
class Plan:
    """How one einsum is contracted, and what it costs.

    ``flops`` equals opt_einsum's ``opt_cost`` for ``path`` (for a sliced plan: per slice
    times the number of slices); ``largest_intermediate`` is in elements; ``peak_memory``
    is the largest total of intermediates (and the output) alive at once, in bytes, not
    counting the operands themselves.
    """
    equation: str
    shapes: tuple[tuple[int, ...], ...]
    path: tuple[tuple[int, ...], ...]
    naive_flops: int
    flops: int
    largest_intermediate: int
    peak_memory: int
    optimizer: str
    itemsize: int = 8
    sliced: tuple[str, ...] = ()
    n_slices: int = 1
    search_time: float = field(default=0.0, compare=False)
    steps: tuple[Step, ...] = field(default=(), compare=False, repr=False)
    inner: Plan | None = field(default=None, compare=False, repr=False)  # the plan of one slice

    @property
    def opt_cost(self) -> int:
        return self.flops

    @property
    def naive_cost(self) -> int:
        return self.naive_flops

    @property
    def speedup(self) -> float:
        return self.naive_flops / max(self.flops, 1)

    def __str__(self) -> str:
        lines = [f"  Complete contraction:  {self.equation}",
                 f"             Optimiser:  {self.optimizer}",
                 f"                  Path:  {list(self.path)}",
                 f"      Naive FLOP count:  {self.naive_flops:.3e}",
                 f"  Optimized FLOP count:  {self.flops:.3e}",
                 f"   Theoretical speedup:  {self.speedup:.3f}",
                 f"  Largest intermediate:  {self.largest_intermediate:.3e} elements",
                 f" Predicted peak memory:  {self.peak_memory:,} bytes"]
        if self.sliced:
            lines.append(f"             Sliced on:  {', '.join(self.sliced)} ({self.n_slices} slices)")
        return "\n".join(lines)


def _valid(spec: str) -> str:
    return spec if parser.has_valid_einsum_chars_only(spec) else parser.convert_to_valid_einsum_chars(spec)


def path_flops(inputs, output, size_dict, path) -> int:
    """opt_einsum's cost (``opt_cost``) of ``path``."""
    sets, total = list(inputs), 0
    for inds in path:
        _, sets, removed, contracted = helpers.find_contraction(
            tuple(sorted(inds, reverse=True)), sets, output)
        total += helpers.flop_count(contracted, bool(removed), len(inds), size_dict)
    return total


def _analyse(terms: list[str], output: str, shapes, size_dict, path, itemsize: int,
             blas_ok: bool) -> tuple[int, int, int, tuple[Step, ...]]:
    """(flops, largest intermediate, peak bytes, steps) of ``path``, as opt_einsum counts."""
    sets = [frozenset(t) for t in terms]
    out_set = frozenset(output)
    work, wshapes, live = list(terms), [tuple(s) for s in shapes], [0] * len(terms)
    flops = largest = peak = total = 0
    steps: list[Step] = []
    for k, inds in enumerate(path):
        inds = tuple(sorted(inds, reverse=True))
        out_inds, sets, removed, contracted = helpers.find_contraction(inds, sets, out_set)
        cost = helpers.flop_count(contracted, bool(removed), len(inds), size_dict)
        size = helpers.compute_size_by_dict(out_inds, size_dict)
        flops += cost
        largest = max(largest, size)
        tmp = [work.pop(i) for i in inds]
        tmp_shapes = [wshapes.pop(i) for i in inds]
        freed = sum(live.pop(i) for i in inds)
        peak = max(peak, total + size)
        total += size - freed
        live.append(size)
        if k == len(path) - 1:
            result = output
        else:
            joined = "".join(tmp)
            result = "".join(sorted(out_inds, key=joined.find))
        work.append(result)
        wshapes.append(tuple(size_dict[c] for c in result))
        td = None
        if blas_ok and len(inds) == 2 and cost >= BLAS_MIN_FLOPS:
            flag = blas.can_blas(tmp, "".join(out_inds), removed, tmp_shapes)
            if flag and "EINSUM" not in flag:
                left, right = tmp
                kept = "".join(c for c in left + right if c not in removed)
                axes = (tuple(left.find(c) for c in removed), tuple(right.find(c) for c in removed))
                td = (axes, tuple(kept.index(c) for c in result) if kept != result else None)
        steps.append(Step(inds, _valid(",".join(tmp) + "->" + result), td))
    return flops, largest, peak * itemsize, tuple(steps)


def _check_path(path, n: int) -> tuple[tuple[int, ...], ...]:
    if n == 1 and not list(path):  # some optimisers return no step for one operand
        return ((0,),)
    out, live = [], n
    for step in path:
        step = tuple(int(i) for i in step)
        if not step or len(set(step)) != len(step) or any(i < 0 or i >= live for i in step):
            raise EinsumSpecError(f"invalid contraction path step {step} with {live} operands left")
        live -= len(step) - 1
        out.append(step)
    if live != 1:
        raise EinsumSpecError(f"the contraction path {list(path)} leaves {live} operands, not one")
    return tuple(out)


# --------------------------------------------------------------------- parsing

def normalize(spec: str, shapes: Sequence[Sequence[int]]) -> tuple[list[str], str, dict[str, int]]:
    """Explicit form of ``spec`` for these shapes: (input terms, output, size of each index).
    Ellipses become fresh indices, implicit output is numpy's; size-1 dimensions broadcast."""
    try:
        ins, out, _ = parser.parse_einsum_input([spec, *[tuple(s) for s in shapes]], shapes=True)
    except (ValueError, TypeError, IndexError) as e:
        raise EinsumSpecError(f"invalid einsum '{spec}': {e}") from None
    terms = ins.split(",")
    if "->" in spec and "..." not in spec.split("->", 1)[1]:  # numpy will not sum ellipsis axes away
        for t, s in zip(spec.split("->", 1)[0].split(","), shapes):
            if "..." in t and len(s) > len(t.replace(" ", "")) - 3:
                raise EinsumSpecError(f"einsum '{spec}': the output has no '...' for the ellipsis "
                                      "dimensions of the operands")
    size_dict: dict[str, int] = {}
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        if len(term) != len(shape):
            raise EinsumSpecError(f"einsum '{spec}': operand {k} has {len(shape)} dimensions but "
                                  f"its subscripts '{term}' name {len(term)}")
        seen: dict[str, int] = {}
        for c, d in zip(term, shape):
            d = int(d)
            if seen.setdefault(c, d) != d:
                raise EinsumSpecError(f"einsum '{spec}': the repeated index '{c}' of operand {k} has "
                                      f"dimensions {seen[c]} and {d}")
            old = size_dict.get(c)
            if old is None or old == 1:
                size_dict[c] = d
            elif d not in (1, old):
                raise EinsumSpecError(f"einsum '{spec}': index '{c}' has size {old} and {d} "
                                      f"(operand {k})")
    return terms, out, size_dict


def canonical(terms: Sequence[str], output: str) -> tuple[list[str], str]:
    """Relabel indices in order of first appearance (``ij,jk->ik`` and ``ab,bc->ac`` agree)."""
    names: dict[str, str] = {}
    for c in "".join(terms) + output:
        if c not in names:
            names[c] = parser.get_symbol(len(names))
    return ["".join(names[c] for c in t) for t in terms], "".join(names[c] for c in output)


# ----------------------------------------------------------------------- cache

class PlanCache:
    """An LRU of plans with hit/miss counters."""

    def __init__(self, maxsize: int = 2048) -> None:
        self.maxsize = maxsize
        self._d: OrderedDict[tuple, Plan] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: tuple) -> Plan | None:
        p = self._d.get(key)
        if p is None:
            self.misses += 1
            return None
        self._d.move_to_end(key)
        self.hits += 1
        return p

    def put(self, key: tuple, plan: Plan) -> None:
        self._d[key] = plan
        if len(self._d) > self.maxsize:
            self._d.popitem(last=False)

    def clear(self) -> None:
        self._d.clear()
        self.hits = self.misses = 0
        from . import einsum_api  # executors built from cleared plans go too
        einsum_api.clear_fast_cache()

    def __len__(self) -> int:
        return len(self._d)


_CACHE = PlanCache()


def plan_cache() -> PlanCache:
    """The process-wide plan cache."""
    return _CACHE


# memory limit in force for contractions run by the engine (bytes or None)
_MEMORY_LIMIT: contextvars.ContextVar[int | None] = contextvars.ContextVar("tlang_memory_limit",
                                                                           default=None)


@contextlib.contextmanager
def memory_scope(limit: int | None) -> Iterator[None]:
    """Contractions inside this block are planned under ``limit`` bytes."""
    token = _MEMORY_LIMIT.set(limit)
    try:
        yield
    finally:
        _MEMORY_LIMIT.reset(token)


def current_memory_limit() -> int | None:
    return _MEMORY_LIMIT.get()


# --------------------------------------------------------------------- planner

def _opt_key(optimize: Any) -> Any:
    if optimize is None or optimize is True:
        return "auto"
    if optimize is False:
        return "naive"
    if isinstance(optimize, str):
        return optimize.lower()
    if isinstance(optimize, list | tuple):
        return tuple(tuple(s) for s in optimize if s != "einsum_path")
    return optimize  # a callable / PathOptimizer: keyed by identity


def _search(optimize: Any, inputs, output, size_dict, memory_limit, time_budget):
    key = _opt_key(optimize)
    if isinstance(key, tuple):
        return list(key), "explicit"
    if isinstance(key, str):
        if len(inputs) == 1:  # nothing to order (opt_einsum's random-greedy fails on one operand)
            return [(0,)], key
        if key == "auto" and _OPTIMIZERS.get("auto") is auto:  # (unless a user replaced it)
            return _auto(inputs, output, size_dict, memory_limit, time_budget)
        return get_optimizer(key)(inputs, output, size_dict, memory_limit), key
    name = getattr(key, "__name__", type(key).__name__)
    return key(inputs, output, size_dict, memory_limit), name


def plan(spec: str, shapes: Sequence[Sequence[int]], dtypes: Sequence[Any] | None = None, *,
         optimize: Any = "auto", memory_limit: int | None = None, backend: str = "numpy",
         time_budget: float | None = None, label: str | None = None, span: Span | None = None) -> Plan:
    """The (cached) plan of ``spec`` on operands of these shapes and dtypes."""
    terms, output, size_dict = normalize(spec, shapes)
    return plan_terms(terms, output, shapes, dtypes, size_dict=size_dict, optimize=optimize,
                      memory_limit=memory_limit, backend=backend, time_budget=time_budget,
                      label=label or f"'{spec}'", span=span)


def plan_terms(terms: list[str], output: str, shapes, dtypes=None, *, size_dict=None,
               optimize: Any = "auto", memory_limit: int | None = None, backend: str = "numpy",
               time_budget: float | None = None, label: str | None = None,
               span: Span | None = None) -> Plan:
    """``plan`` for an equation already in explicit form."""
    import numpy as np
    shapes = tuple(tuple(int(d) for d in s) for s in shapes)
    dts = tuple(str(np.dtype(d)) for d in dtypes) if dtypes is not None else ("float64",) * len(shapes)
    cterms, cout = canonical(terms, output)
    eq = ",".join(cterms) + "->" + cout
    okey = _opt_key(optimize)
    key = (eq, shapes, dts, backend, okey, memory_limit, time_budget)
    try:
        hit = _CACHE.get(key)
    except TypeError:  # an unhashable optimiser: plan without caching
        key, hit = None, None
    if hit is not None:
        return hit
    if size_dict is None:
        size_dict = normalize(eq, shapes)[2]
    else:
        rename = dict(zip("".join(terms) + output, "".join(cterms) + cout))
        size_dict = {rename[c]: n for c, n in size_dict.items()}
    itemsize = np.result_type(*dts).itemsize if dts else 8
    blas_ok = len(set(dts)) == 1 and dts[0] in BLAS_DTYPES
    p = _make_plan(cterms, cout, shapes, size_dict, okey, memory_limit, time_budget, itemsize,
                   blas_ok, label or eq, span)
    if key is not None:
        _CACHE.put(key, p)
    return p


def _build(terms, output, shapes, size_dict, path, name, itemsize, blas_ok, t_search=0.0) -> Plan:
    path = _check_path(path, len(terms))
    flops, largest, peak, steps = _analyse(terms, output, shapes, size_dict, path, itemsize, blas_ok)
    return Plan(",".join(terms) + "->" + output, tuple(shapes), path,
                _naive_flops(terms, size_dict), flops, largest, peak, name, itemsize,
                search_time=t_search, steps=steps)


def _naive_flops(terms, size_dict) -> int:
    """opt_einsum's ``naive_cost``: everything in one einsum."""
    indices = set("".join(terms))
    inner = sum(len(set(t)) for t in terms) - len(indices) > 0
    return helpers.flop_count(indices, inner, len(terms), size_dict)


def _make_plan(terms, output, shapes, size_dict, optimize, memory_limit, time_budget, itemsize,
               blas_ok, label, span) -> Plan:
    inputs = [frozenset(t) for t in terms]
    out_set = frozenset(output)
    out_bytes = helpers.compute_size_by_dict(output, size_dict) * itemsize
    if memory_limit is not None and out_bytes > memory_limit:  # refuse before any search
        raise _refuse(label, span, f"its result alone needs {out_bytes:,} bytes", terms, output,
                      shapes, memory_limit)
    t0 = time.perf_counter()
    path, name = _search(optimize, inputs, out_set, size_dict, None, time_budget)
    best = _build(terms, output, shapes, size_dict, path, name, itemsize, blas_ok,
                  time.perf_counter() - t0)
    if memory_limit is None or best.peak_memory <= memory_limit:
        return best
    fits: list[Plan] = []
    n = len(terms)
    for fn, fname in ((paths.greedy, "greedy"), (paths.branch_2, "branch-2")):
        if fname == "branch-2" and n > 8:
            continue
        for div in (1, 2, 4, 16):
            cand = _build(terms, output, shapes, size_dict,
                          fn(inputs, out_set, size_dict, max(memory_limit // itemsize // div, 1)),
                          f"{fname} (memory limit)", itemsize, blas_ok)
            if cand.peak_memory <= memory_limit:
                fits.append(cand)
                break
    if n <= 32 and len(set("".join(terms))) <= 52:
        cand = _build(terms, output, shapes, size_dict, naive(inputs, out_set, size_dict),
                      "naive (memory limit)", itemsize, blas_ok)
        if cand.peak_memory <= memory_limit:
            fits.append(cand)
    sliced = _slice(terms, output, shapes, size_dict, best.path, optimize, itemsize, blas_ok,
                    memory_limit, time_budget, best.optimizer)
    if sliced is not None:
        fits.append(sliced)
    if not fits:
        raise _refuse(label, span, f"its best path needs {best.peak_memory:,} bytes of "
                      f"intermediates (largest {best.largest_intermediate:,} elements)", terms,
                      output, shapes, memory_limit)
    chosen = min(fits, key=lambda p: (p.flops + SLICE_COST * (p.n_slices if p.sliced else 0),
                                      p.peak_memory))
    return _with_time(chosen, time.perf_counter() - t0)


def _with_time(p: Plan, t: float) -> Plan:
    from dataclasses import replace
    return replace(p, search_time=t)


def _reduce(terms, output, shapes, sliced: set[str]):
    keep = [[k for k, c in enumerate(t) if c not in sliced] for t in terms]
    return (["".join(t[k] for k in ks) for t, ks in zip(terms, keep)],
            "".join(c for c in output if c not in sliced),
            [tuple(s[k] for k in ks) for s, ks in zip(shapes, keep)])


def _slice(terms, output, shapes, size_dict, path, optimize, itemsize, blas_ok, limit,
           time_budget, name: str = "path") -> Plan | None:
    """Slice over up to MAX_SLICED indices (greedily, the one that lowers the peak most)
    until one slice's intermediates plus the full output fit ``limit``."""
    out_bytes = helpers.compute_size_by_dict(output, size_dict) * itemsize
    chosen: list[str] = []
    candidates = sorted(c for c in set("".join(terms)) if size_dict[c] > 1)
    best = None
    while len(chosen) < MAX_SLICED:
        trials = []
        for c in candidates:
            if c in chosen:
                continue
            rt, ro, rs = _reduce(terms, output, shapes, set(chosen) | {c})
            rsize = {k: v for k, v in size_dict.items() if k not in chosen and k != c}
            fl, _, peak, _ = _analyse(rt, ro, rs, rsize, path, itemsize, False)
            trials.append((peak + out_bytes, fl, c))
        if not trials:
            return None
        best = min(trials)
        chosen.append(best[2])
        if best[0] <= limit:
            break
    if best is None or best[0] > limit:
        return None
    rt, ro, rs = _reduce(terms, output, shapes, set(chosen))
    rsize = {k: v for k, v in size_dict.items() if k not in chosen}
    inner = _build(rt, ro, rs, rsize, path, name, itemsize, blas_ok)
    if len(rt) > 2:  # a fresh search on the smaller problem may do better
        p2, name = _search(optimize, [frozenset(t) for t in rt], frozenset(ro), rsize, None,
                           time_budget)
        alt = _build(rt, ro, rs, rsize, p2, name, itemsize, blas_ok)
        if alt.peak_memory + out_bytes <= limit and alt.flops < inner.flops:
            inner = alt
    count = math.prod(size_dict[c] for c in chosen)
    return Plan(",".join(terms) + "->" + output, tuple(shapes), inner.path,
                _naive_flops(terms, size_dict), inner.flops * count, inner.largest_intermediate,
                inner.peak_memory + out_bytes, f"{inner.optimizer} (sliced)", itemsize,
                tuple(chosen), count, inner=inner)


def _refuse(label, span, why, terms, output, shapes, limit) -> TlangResourceError:
    shown = ", ".join(f"{t or '()'}:{tuple(s)}" for t, s in zip(terms, shapes))
    return TlangResourceError(
        f"contraction {label} does not fit the memory limit of {limit:,} bytes: {why}", span,
        [f"operands {shown} -> {output or '()'}", "raise the limit (--memory-limit) or shrink the "
         "domains; nothing was allocated"])
