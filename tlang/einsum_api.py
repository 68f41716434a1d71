"""``tlang.einsum`` and ``tlang.einsum_path``: a planned, cached drop-in for ``numpy.einsum``.

In: an einsum spec in numpy's syntax (``"ij,jk->ik"``, ``...``, repeated
indices for diagonals and traces, implicit output without ``->``, or the
interleaved ``einsum(a, [0, 1], b, [1, 2])`` form) and operands: numpy,
JAX or CuPy arrays, or anything ``numpy.asarray`` accepts; ``einsum_path``
takes shapes instead with ``shapes=True``.  Out: the contraction, computed
where the operands live (numpy: ``einsum``/``tensordot`` steps; JAX: a
jitted ``jnp.einsum`` on the planned path; CuPy: ``cupy.einsum``/
``cupy.tensordot`` steps -- device arrays are never copied to the host), or
``(path, Plan)``.  Paths come from ``tlang.plan`` and its cache; a call
repeated with the same spec, shapes and dtypes is one dict lookup plus the
contraction.  Other semirings (``semiring="maxplus"`` ...) and a repeated
output index (``i->ii``, which numpy rejects) go to ``tlang.formal``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np
from opt_einsum import parser

from . import plan as P
from .source import TlangError

try:  # the C einsum without numpy.einsum's Python wrapper
    from numpy._core.multiarray import c_einsum as _c_einsum
except ImportError:  # pragma: no cover - numpy < 2
    try:
        from numpy.core.multiarray import c_einsum as _c_einsum
    except ImportError:
        _c_einsum = np.einsum

__all__ = ["einsum", "einsum_path"]

_FAST: dict[tuple, Callable[..., Any]] = {}   # (spec, type, shape, dtype, ...) -> executor
_FAST_MAX = 4096


def clear_fast_cache() -> None:
    _FAST.clear()


def _key(spec: str, operands: Sequence[Any]) -> tuple:
    """The fast-path key; ``einsum`` inlines the same expressions."""
    if len(operands) == 2:
        a, b = operands
        return (spec, type(a), a.shape, a.dtype, type(b), b.shape, b.dtype)
    if len(operands) == 1:
        a = operands[0]
        return (spec, type(a), a.shape, a.dtype)
    return (spec, *[(type(o), o.shape, o.dtype) for o in operands])


def einsum(spec: Any, *operands: Any, optimize: Any = "auto", backend: str | None = None,
           semiring: str = "sumprod", memory_limit: int | None = None) -> Any:
    """Evaluate an einsum like ``numpy.einsum``, on a planned contraction path.

    ``optimize``: ``"auto"`` (tlang's policy), a registered optimiser name (see
    ``tlang.plan.optimizers()``), ``False`` (one einsum call), an explicit path, or a
    path function.  ``backend``: ``None`` follows the operands' array type.
    ``memory_limit`` (bytes) picks a lower-memory path or slices, or refuses with
    ``TlangResourceError`` before allocating.
    """
    if optimize == "auto" and backend is None and memory_limit is None and semiring == "sumprod":
        try:
            if len(operands) == 2:
                a, b = operands
                fn = _FAST[(spec, type(a), a.shape, a.dtype, type(b), b.shape, b.dtype)]
            elif len(operands) == 1:
                a = operands[0]
                fn = _FAST[(spec, type(a), a.shape, a.dtype)]
            else:
                fn = _FAST[(spec, *[(type(o), o.shape, o.dtype) for o in operands])]
        except (KeyError, AttributeError, TypeError):
            return _einsum(spec, operands, "auto", None, "sumprod", None, True)
        return fn(*operands)
    return _einsum(spec, operands, optimize, backend, semiring, memory_limit, False)


def _einsum(spec, operands, optimize, backend, semiring, memory_limit, fast: bool) -> Any:
    if semiring != "sumprod":
        return _formal(spec, operands, semiring)
    if not isinstance(spec, str):
        spec, operands = _interleaved(spec, operands)
        fast = False
    if _repeated_output(spec):
        return _formal(spec, operands, semiring)
    kind = _backend_of(operands, backend)
    ops = _prepare(operands, kind)
    plan = P.plan(spec, [o.shape for o in ops], [o.dtype for o in ops], optimize=optimize,
                  memory_limit=memory_limit, backend=kind)
    fn = executor(plan, kind)
    if fast and all(o is q for o, q in zip(ops, operands)):
        if len(_FAST) >= _FAST_MAX:
            _FAST.clear()
        _FAST[_key(spec, ops)] = fn
    return fn(*ops)


def einsum_path(spec: Any, *operands: Any, optimize: Any = "auto", shapes: bool = False,
                memory_limit: int | None = None) -> tuple[list[tuple[int, ...]], P.Plan]:
    """``(path, info)`` as opt_einsum's ``contract_path``: ``info.flops`` is opt_einsum's
    ``opt_cost`` for ``path``, ``info.largest_intermediate`` is in elements and
    ``info.peak_memory`` in bytes.  With ``shapes=True`` the operands are shapes (float64)."""
    if not isinstance(spec, str):
        spec, operands = _interleaved(spec, operands)
    if shapes:
        shp = [tuple(int(d) for d in s) for s in operands]
        dts = None
    else:
        shp = [tuple(np.shape(o)) for o in operands]
        dts = [o.dtype if hasattr(o, "dtype") else np.asarray(o).dtype for o in operands]
    plan = P.plan(spec, shp, dts, optimize=optimize, memory_limit=memory_limit)
    terms, out, _ = P.normalize(spec, shp)
    return [tuple(s) for s in plan.path], replace(plan, equation=",".join(terms) + "->" + out)


def contract_numpy(spec: str, operands: Sequence[Any]) -> Any:
    """The numpy backend's einsum (used by the engine): cached plan, under the memory limit
    set by ``tlang.plan.memory_scope``."""
    limit = P.current_memory_limit()
    if len(operands) == 2:
        a, b = operands
        key = ("engine", limit, spec, a.shape, a.dtype, b.shape, b.dtype)
    else:
        key = ("engine", limit, spec, *[(o.shape, o.dtype) for o in operands])
    fn = _FAST.get(key)
    if fn is None:
        ops = [np.asarray(o) for o in operands]
        plan = P.plan(spec, [o.shape for o in ops], [o.dtype for o in ops], memory_limit=limit)
        fn = executor(plan, "numpy")
        if len(_FAST) >= _FAST_MAX:
            _FAST.clear()
        _FAST[key] = fn
    return fn(*operands)


# ------------------------------------------------------------------ operands

def _interleaved(spec, operands):
    try:
        subs, ops = parser.convert_interleaved_input((spec, *operands))
    except (TypeError, ValueError, KeyError) as e:
        raise P.EinsumSpecError(f"invalid interleaved einsum arguments: {e}") from None
    return subs, tuple(ops)


def _repeated_output(spec: str) -> bool:
    if "->" not in spec:
        return False
    out = spec.split("->", 1)[1].replace("...", "").replace(" ", "")
    return len(set(out)) != len(out)


def _array_kind(x: Any) -> str:
    t = type(x)
    if t is np.ndarray:
        return "numpy"
    mod = t.__module__
    if mod.startswith(("jax", "jaxlib")):
        return "jax"
    if mod.startswith("cupy"):
        return "cupy"
    return "numpy"


def _backend_of(operands, backend: str | None) -> str:
    kinds = {_array_kind(o) for o in operands} - {"numpy"}
    if len(kinds) > 1:
        raise TlangError(f"einsum operands live on different backends: {', '.join(sorted(kinds))}")
    found = kinds.pop() if kinds else "numpy"
    if backend is None or backend == found:
        return found
    if backend not in ("numpy", "jax", "cupy"):
        raise TlangError(f"unknown einsum backend '{backend}'", None, ["backends: numpy, jax, cupy"])
    if found != "numpy":
        raise TlangError(f"backend '{backend}' asked for {found} arrays: tlang.einsum does not move "
                         "device arrays between backends", None, [f"pass backend=None or '{found}'"])
    return backend


def _prepare(operands, kind: str) -> list[Any]:
    if kind == "numpy":
        return [o if isinstance(o, np.ndarray) else np.asarray(o) for o in operands]
    if kind == "jax":
        import jax.numpy as jnp
        return [o if _array_kind(o) == "jax" else jnp.asarray(o) for o in operands]
    try:
        import cupy
    except ImportError as e:
        raise TlangError("backend 'cupy' needs CuPy and a CUDA GPU", None, [str(e)]) from None
    return [o if _array_kind(o) == "cupy" else cupy.asarray(o) for o in operands]


def _formal(spec, operands, semiring: str) -> Any:
    if not isinstance(spec, str):
        spec, operands = _interleaved(spec, operands)
    kind = _backend_of(operands, None)
    if kind != "numpy":  # tlang.formal computes in numpy: device arrays stay where they are
        if _repeated_output(spec):
            raise TlangError(f"einsum '{spec}' repeats an output index, which runs on numpy arrays "
                             f"only (these are {kind} arrays)")
        return _semiring_einsum(spec, _prepare(operands, kind), semiring, kind)
    try:
        from . import formal
    except ImportError as e:
        if e.name not in ("tlang.formal", None):
            raise
        what = f"semiring '{semiring}'" if semiring != "sumprod" else f"the repeated output index in '{spec}'"
        raise TlangError(f"einsum with {what} needs the formal einsum language (tlang.formal), "
                         "which is not available", None,
                         ["numpy's sum-product einsum without repeated output indices works"]) from None
    if not _repeated_output(spec):  # numpy's reading of '...' and of implicit output, made explicit
        terms, out, _ = P.normalize(spec, [np.shape(o) for o in operands])
        spec = P._valid(",".join(terms) + "->" + out)
    return formal.evaluate(spec, list(operands), semiring=semiring)


def _semiring_einsum(spec: str, ops: list[Any], semiring: str, kind: str) -> Any:
    """A semiring einsum on JAX/CuPy arrays: broadcast product, then the semiring's sum."""
    from .ir import SEMIRINGS
    if kind == "jax":
        import jax.numpy as xp
    else:
        import cupy as xp
    sr = SEMIRINGS.get(semiring)
    if sr is None:
        raise TlangError(f"unknown semiring '{semiring}'", None, [f"semirings: {', '.join(SEMIRINGS)}"])
    terms, out, size = P.normalize(spec, [o.shape for o in ops])
    allv = list(dict.fromkeys("".join(terms) + out))
    acc = None
    for t, o in zip(terms, ops):
        uniq = "".join(dict.fromkeys(t))
        if uniq != t:  # a diagonal: taking it sums nothing
            o = xp.einsum(P._valid(t + "->" + uniq), o)
        o = xp.transpose(o, [uniq.index(c) for c in allv if c in uniq])
        o = xp.reshape(o, [o.shape[[c for c in allv if c in uniq].index(c)] if c in uniq else 1 for c in allv])
        if sr.name == "boolean":
            o = (o > 0) * 1.0
        if acc is None:
            acc = o
        elif sr.times == "add":
            acc = acc + o
        else:
            acc = acc * o
    acc = xp.broadcast_to(acc, [size[c] for c in allv])
    axes = tuple(k for k, c in enumerate(allv) if c not in out)
    if axes:
        if sr.plus == "logsumexp":
            m = xp.max(acc, axis=axes, keepdims=True)
            m = xp.where(xp.isfinite(m), m, 0.0)
            acc = xp.squeeze(xp.log(xp.sum(xp.exp(acc - m), axis=axes, keepdims=True)) + m, axis=axes)
        else:
            red = {"sum": xp.sum, "avg": xp.mean, "max": xp.max, "min": xp.min, "or": xp.max}[sr.plus]
            acc = red(acc, axis=axes)
    kept = [c for c in allv if c in out]
    return xp.transpose(acc, [kept.index(c) for c in out])


# ----------------------------------------------------------------- executors

def executor(plan: P.Plan, kind: str = "numpy") -> Callable[..., Any]:
    """A function of the operands that carries out ``plan`` on backend ``kind``."""
    if plan.sliced:
        return partial(_run_sliced, plan, executor(plan.inner, kind), kind)
    if kind == "jax":
        return _jax_executor(plan)
    if kind == "cupy":
        import cupy
        return _step_executor(plan, cupy.einsum, cupy.tensordot, False)
    return _step_executor(plan, _c_einsum, np.tensordot, plan.equation.endswith("->"))


def _step_fn(st: P.Step, ein, tdot) -> Callable[..., Any]:
    if st.tensordot is None:
        return partial(ein, st.spec)
    axes, perm = st.tensordot
    if perm is None:
        return lambda x, y: tdot(x, y, axes)
    return lambda x, y: tdot(x, y, axes).transpose(perm)


def _step_executor(plan: P.Plan, ein, tdot, scalar: bool) -> Callable[..., Any]:
    steps = plan.steps
    if len(steps) == 1 and steps[0].tensordot is None:  # one call, operands in their own order
        ins, out = steps[0].spec.split("->")
        return partial(ein, ",".join(ins.split(",")[::-1]) + "->" + out)
    if len(steps) == 1:
        fn = _step_fn(steps[0], ein, tdot)
        run = lambda a, b: fn(b, a)  # the step takes its operands right to left
    else:
        compiled = [(st.positions, _step_fn(st, ein, tdot)) for st in steps]

        def run(*operands):
            ops = list(operands)
            for positions, f in compiled:
                ops.append(f(*[ops.pop(i) for i in positions]))
            return ops[0]
    if scalar and steps[-1].tensordot is not None:  # numpy.einsum returns a scalar here
        return lambda *ops: run(*ops)[()]
    return run


def _jax_executor(plan: P.Plan) -> Callable[..., Any]:
    import jax
    import jax.numpy as jnp
    eq = P._valid(plan.equation)
    path = [tuple(s) for s in plan.path]
    return jax.jit(lambda *ops: jnp.einsum(eq, *ops, optimize=path))


def _run_sliced(plan: P.Plan, inner: Callable[..., Any], kind: str, *ops: Any) -> Any:
    """The sliced plan: a loop over the sliced indices, each slice on ``inner``'s path."""
    ins, out = plan.equation.split("->")
    terms = ins.split(",")
    size: dict[str, int] = {}
    for t, s in zip(terms, plan.shapes):
        for c, d in zip(t, s):
            size[c] = max(size.get(c, 1), d)
    if kind == "numpy":
        xp = np
    elif kind == "jax":
        import jax.numpy as xp
    else:
        import cupy as xp
    dtype = xp.result_type(*ops)
    res = xp.zeros(tuple(size[c] for c in out), dtype=dtype)
    where = [[(c if c in plan.sliced else None, d == 1) for c, d in zip(t, o.shape)]
             for t, o in zip(terms, ops)]
    out_ix = [c if c in plan.sliced else None for c in out]
    for combo in itertools.product(*[range(size[c]) for c in plan.sliced]):
        pos = dict(zip(plan.sliced, combo))
        args = [o[tuple(slice(None) if c is None else (0 if one else pos[c]) for c, one in w)]
                for o, w in zip(ops, where)]
        r = inner(*args)
        idx = tuple(slice(None) if c is None else pos[c] for c in out_ix)
        if kind == "jax":
            res = res.at[idx].add(r)
        else:
            res[idx] += r
    if kind == "numpy" and not out:
        return res[()]
    return res
