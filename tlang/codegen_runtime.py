"""Runtime helpers of generated code: the few operations that differ between array libraries.

In: arrays of one backend (numpy, jax or cupy arrays) from code that
``tlang.codegen`` generated.  Out: arrays of the same backend.  Generated
code calls ``rt = runtime("jax")`` once and then ``rt.einsum``, ``rt.gather``
(index arithmetic with zero padding), ``rt.scatter`` (writes through index
functions, combined with ``+``/``max``/``min``/``avg``), ``rt.reduce``
(semiring aggregations other than sum-product), ``rt.sig``/``rt.softmax``/
``rt.lnorm`` and ``rt.fixpoint`` (a recursive stratum iterated to
convergence).  Everything else in generated code is plain ``xp.*`` calls.

The numpy runtime mirrors ``tlang.engine`` operation by operation, so
generated numpy code gives the interpreting engine's numbers.  On JAX,
``fixpoint`` is a ``lax.while_loop`` with the convergence test on the
device, differentiable by the implicit function theorem (a ``custom_vjp``
whose backward pass solves the adjoint fixpoint with another while-loop).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import opt_einsum

Step = Callable[[tuple, tuple], tuple]


class Runtime:
    """Helpers written once against an array module ``xp`` (numpy-compatible)."""

    name = "numpy"

    def __init__(self, xp: Any) -> None:
        self.xp = xp

    # ------------------------------------------------------- elementwise
    def sig(self, x: Any, T: Any = None) -> Any:
        """``1/(1+exp(-x/T))``; ``T = 0`` is exactly ``step(x)``."""
        xp = self.xp
        if T is None:
            return 1.0 / (1.0 + xp.exp(-x))
        safe = xp.where(T == 0, 1.0, T)
        return xp.where(T == 0, (x > 0) * 1.0, 1.0 / (1.0 + xp.exp(-x / safe)))

    def softmax(self, x: Any, axis: int, valid: Any = None) -> Any:
        """Softmax along ``axis``; with ``valid``, over the positions that exist only (16.4)."""
        xp = self.xp
        if valid is None:
            z = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
            return z / xp.sum(z, axis=axis, keepdims=True)
        valid = xp.broadcast_to(valid, x.shape)
        m = xp.max(xp.where(valid, x, -math.inf), axis=axis, keepdims=True)
        z = xp.where(valid, xp.exp(x - xp.where(xp.isfinite(m), m, 0.0)), 0.0)
        s = xp.sum(z, axis=axis, keepdims=True)
        return z / xp.where(s > 0, s, 1.0)

    def lnorm(self, x: Any, axis: int, valid: Any = None) -> Any:
        """Layer normalisation along ``axis`` (eps 1e-5); with ``valid``, of the positions that exist."""
        xp = self.xp
        if valid is None:
            mean = xp.mean(x, axis=axis, keepdims=True)
            var = xp.var(x, axis=axis, keepdims=True)
            return (x - mean) / xp.sqrt(var + 1e-5)
        valid = xp.broadcast_to(valid, x.shape)
        n = xp.maximum(xp.sum(valid, axis=axis, keepdims=True), 1)
        mean = xp.sum(xp.where(valid, x, 0.0), axis=axis, keepdims=True) / n
        var = xp.sum(xp.where(valid, (x - mean) ** 2, 0.0), axis=axis, keepdims=True) / n
        return xp.where(valid, (x - mean) / xp.sqrt(var + 1e-5), 0.0)

    # ---------------------------------------------------- contractions
    def einsum(self, spec: str, *operands: Any, path: list | None = None) -> Any:
        return opt_einsum.contract(spec, *operands, optimize=path or "auto")

    def reduce(self, x: Any, axes: tuple[int, ...], plus: str) -> Any:
        """Aggregate ``axes`` with a semiring's plus: sum, max, min, or (as max) or logsumexp."""
        xp = self.xp
        if plus == "logsumexp":
            m = xp.max(x, axis=axes, keepdims=True)
            m = xp.where(xp.isfinite(m), m, 0.0)
            return xp.squeeze(xp.log(xp.sum(xp.exp(x - m), axis=axes, keepdims=True)) + m, axis=axes)
        return getattr(xp, {"sum": "sum", "max": "max", "min": "min", "or": "max"}[plus])(x, axis=axes)

    # ------------------------------------------------- index arithmetic
    def gather(self, arr: Any, positions: tuple, shape: tuple[int, ...]) -> Any:
        """``arr[p0, p1, ...]`` over integer position arrays broadcast to ``shape``; 0 out of range."""
        xp = self.xp
        if any(n == 0 for n in arr.shape):
            return xp.zeros(shape)
        ok = None
        idx = []
        for p, n in zip(positions, arr.shape):
            good = (p >= 0) & (p < n)
            ok = good if ok is None else ok & good
            idx.append(xp.clip(p, 0, n - 1))
        vals = xp.where(ok, arr[tuple(idx)], 0.0)
        return vals if tuple(vals.shape) == tuple(shape) else xp.broadcast_to(vals, shape)

    def scatter(self, shape: tuple[int, ...], positions: tuple, values: Any, op: str) -> Any:
        """A tensor of ``shape`` with ``values`` written at ``positions`` (arrays broadcast to
        ``values``), colliding writes combined by ``op`` (sum/max/min/avg), 0 where none lands
        and out-of-range positions dropped."""
        xp = self.xp
        full = tuple(values.shape)
        pos = [xp.broadcast_to(xp.asarray(p), full) for p in positions]
        mask = xp.ones(full, dtype=bool)
        for p, n in zip(pos, shape):
            mask = mask & (p >= 0) & (p < n)
        sel = tuple(p[mask] for p in pos)
        v = values[mask]
        if op == "avg":
            s = self._scatter(shape, sel, v, "sum")
            c = self._scatter(shape, sel, xp.ones_like(v), "sum")
            return xp.where(c > 0, s / xp.where(c > 0, c, 1), 0.0)
        return self._scatter(shape, sel, v, op)

    def _scatter(self, shape, sel, v, op):
        from .backends.numpy import NumpyBackend
        return NumpyBackend().scatter(shape, sel, v, op)

    # ------------------------------------------------------- fixpoints
    def same(self, a: Any, b: Any, tol: float) -> bool:
        """The engine's convergence test for one tensor (``np.allclose``; NaN is never settled)."""
        return tuple(a.shape) == tuple(b.shape) and bool(self.xp.allclose(a, b, rtol=tol, atol=tol))

    def fixpoint(self, step: Step, init: tuple, params: tuple, max_iter: int, tol: float) -> tuple:
        """Sweep ``state = step(state, params)`` from ``init`` until no tensor changes (within
        ``tol``); return ``(state, (code, sweep))`` with code 0 (settled), 1 (``max_iter`` sweeps
        ran out), 2 (a value became NaN, or infinite from finite) or 3 (a period-2 oscillation)."""
        state, before = tuple(init), None
        for sweep in range(1, max_iter + 1):
            new = tuple(step(state, params))
            if self.diverged(state, new, sweep):
                return new, (2, sweep)
            if all(self.same(a, b, tol) for a, b in zip(state, new)):
                return new, (0, sweep)
            if before is not None and all(self.same(a, b, tol) for a, b in zip(before, new)):
                return new, (3, sweep)
            before, state = state, new
        return state, (1, max_iter)

    def until(self, body: Callable, carry: tuple, buffers: int, max_iter: int, tol: float) -> tuple:
        """A virtual-index loop with no length: steps ``carry = body(carry, t)`` until its first
        ``buffers`` entries stop changing; ``(carry, (code, step))`` as for ``fixpoint``."""
        carry = tuple(carry)
        for t in range(max_iter):
            new = tuple(body(carry, t)[0])
            if self.diverged(carry[:buffers], new[:buffers], t + 1):
                return new, (2, t + 1)
            if all(self.same(a, b, tol) for a, b in zip(carry[:buffers], new[:buffers])):
                return new, (0, t + 1)
            carry = new
        return carry, (1, max_iter)

    def worst(self, ys: Any, j: int) -> tuple:
        """The worst status (highest code) of inner recursion ``j`` over a loop's steps: ``ys`` is
        the list of per-step outputs (a stacked pytree on JAX)."""
        xp = self.xp
        if isinstance(ys, list):
            if not ys:
                return (0, 0)
            return max((tuple(int(np.asarray(x)) for x in y[j]) for y in ys), key=lambda s: s[0])
        codes, sweeps = ys[j]
        k = xp.argmax(codes)
        return codes[k], sweeps[k]

    def diverged(self, old: tuple, new: tuple, sweep: int) -> bool:
        """A NaN, or an element that became infinite from a finite value after the first sweep."""
        xp = self.xp
        return any(bool(xp.any(xp.isnan(b) | (xp.isinf(b) & xp.isfinite(a) & (sweep > 1))))
                   for a, b in zip(old, new))


class NumpyRuntime(Runtime):
    name = "numpy"


class CupyRuntime(Runtime):
    """CuPy: the numpy lowering on device arrays; scatters through ``cupyx``."""

    name = "cupy"

    def einsum(self, spec: str, *operands: Any, path: list | None = None) -> Any:
        return opt_einsum.contract(spec, *operands, optimize=path or "auto", backend="cupy")

    def _scatter(self, shape, sel, v, op):
        import cupyx
        xp = self.xp
        if op == "sum":
            out = xp.zeros(shape)
            cupyx.scatter_add(out, sel, v)
            return out
        out = xp.full(shape, -math.inf if op == "max" else math.inf)
        (cupyx.scatter_max if op == "max" else cupyx.scatter_min)(out, sel, v)
        hit = xp.zeros(shape, dtype=bool)
        hit[sel] = True
        return xp.where(hit, out, 0.0)


class JaxRuntime(Runtime):
    """JAX: jit-friendly scatters (static shapes, ``mode='drop'``), a device-side fixpoint."""

    name = "jax"

    def __init__(self, xp: Any) -> None:
        super().__init__(xp)
        import jax
        self.jax = jax
        self._fix = _make_jax_fixpoint(jax, self._close_all, self._diverged)

    def einsum(self, spec: str, *operands: Any, path: list | None = None) -> Any:
        return self.xp.einsum(spec, *operands, optimize=path or "auto")

    def scatter(self, shape: tuple[int, ...], positions: tuple, values: Any, op: str) -> Any:
        xp = self.xp
        full = tuple(values.shape)
        pos = [xp.broadcast_to(xp.asarray(p), full) for p in positions]
        ok = xp.ones(full, dtype=bool)
        for p, n in zip(pos, shape):
            ok = ok & (p >= 0) & (p < n)
        # an element with any coordinate out of range is dropped: move all its coordinates out
        idx = tuple(xp.where(ok, p, n) for p, n in zip(pos, shape))
        zeros = xp.zeros(shape, dtype=values.dtype)
        if op in ("sum", "avg"):
            s = zeros.at[idx].add(values, mode="drop")
            if op == "sum":
                return s
            c = zeros.at[idx].add(xp.ones_like(values), mode="drop")
            return xp.where(c > 0, s / xp.where(c > 0, c, 1), 0.0)
        init = xp.full(shape, -math.inf if op == "max" else math.inf, dtype=values.dtype)
        out = init.at[idx].max(values, mode="drop") if op == "max" else init.at[idx].min(values, mode="drop")
        hit = xp.zeros(shape, dtype=bool).at[idx].set(True, mode="drop")
        return xp.where(hit, out, 0.0)

    def _close_all(self, old: tuple, new: tuple, tol: Any) -> Any:
        """``allclose(old, new)`` for every tensor, on the device (inf == inf; NaN is never close)."""
        xp = self.xp
        ok = xp.asarray(True)
        for a, b in zip(old, new):
            c = (a == b) | (xp.abs(a - b) <= tol + tol * xp.abs(b))
            ok = ok & xp.all(c)
        return ok

    def _diverged(self, old: tuple, new: tuple, sweep: Any) -> Any:
        xp = self.xp
        bad = xp.asarray(False)
        for a, b in zip(old, new):
            bad = bad | xp.any(xp.isnan(b) | (xp.isinf(b) & xp.isfinite(a) & (sweep > 1)))
        return bad

    def until(self, body: Callable, carry: tuple, buffers: int, max_iter: int, tol: float) -> tuple:
        """``Runtime.until`` as a ``lax.while_loop`` (forward only: no gradient through it)."""
        jax, xp = self.jax, self.xp
        carry = tuple(carry)
        if carry:
            tol = max(tol, 4 * float(np.finfo(carry[0].dtype).eps))

        def cond(c):
            t, code, _ = c
            return (code < 0) & (t < max_iter)

        def step(c):
            t, _, x = c
            new = tuple(body(x, t)[0])
            bad = self._diverged(x[:buffers], new[:buffers], t + 1)
            same = self._close_all(x[:buffers], new[:buffers], tol)
            code = xp.where(bad, 2, xp.where(same, 0, -1))
            return t + 1, code, new

        t, code, carry = jax.lax.while_loop(cond, step, (0, xp.asarray(-1), carry))
        return carry, (xp.where(code < 0, 1, code), t)

    def fixpoint(self, step: Step, init: tuple, params: tuple, max_iter: int, tol: float) -> tuple:
        """``lax.while_loop`` until converged; differentiable (implicit function theorem).

        The tolerance is at least 4 ulp of the state's dtype (float32 cannot meet 1e-9)."""
        init = tuple(init)
        if init:
            tol = max(tol, 4 * float(np.finfo(init[0].dtype).eps))
        state, status = self._fix(step, int(max_iter), float(tol), init, tuple(params))
        return state, status


def _make_jax_fixpoint(jax, close_all, diverged):
    """``fix(step, max_iter, tol, init, params) -> (state, (code, sweep))`` as a ``custom_vjp``
    (the codes of ``Runtime.fixpoint``)."""
    lax = jax.lax
    xp = jax.numpy
    tree_map = jax.tree_util.tree_map

    def iterate(f, init, max_iter, tol):
        def cond(c):
            it, code, _, _ = c
            return (code < 0) & (it < max_iter)

        def body(c):
            it, _, x, before = c
            new = tuple(f(x))
            same = close_all(x, new, tol)
            osc = (it >= 1) & close_all(before, new, tol)
            code = xp.where(diverged(x, new, it + 1), 2, xp.where(same, 0, xp.where(osc, 3, -1)))
            return it + 1, code, new, x

        it, code, x, _ = lax.while_loop(cond, body, (0, xp.asarray(-1), init, init))
        return x, (xp.where(code < 0, 1, code), it)

    @functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2))
    def fix(step, max_iter, tol, init, params):
        return iterate(lambda s: step(s, params), init, max_iter, tol)

    def fwd(step, max_iter, tol, init, params):
        state, done = iterate(lambda s: step(s, params), init, max_iter, tol)
        return (state, done), (state, params, init)

    def bwd(step, max_iter, tol, res, cotangents):
        state, params, init = res
        g_state = tuple(cotangents[0])
        _, vjp_state = jax.vjp(lambda s: tuple(step(s, params)), state)
        # adjoint fixpoint u = g + (d step / d state)^T u; exact in finitely many rounds when the
        # recursion is structural (a layer index), geometric when the forward map contracts
        u, _ = iterate(lambda u: tree_map(lambda a, b: a + b, g_state, tuple(vjp_state(u)[0])),
                       g_state, max_iter, tol)
        _, vjp_params = jax.vjp(lambda p: tuple(step(state, p)), params)
        (g_params,) = vjp_params(u)
        return tree_map(jax.numpy.zeros_like, init), g_params

    fix.defvjp(fwd, bwd)
    return fix


_RUNTIMES: dict[str, Runtime] = {}


def runtime(backend: str) -> Runtime:
    """The runtime of one backend (``numpy``, ``jax``, ``cupy``), created once."""
    rt = _RUNTIMES.get(backend)
    if rt is None:
        if backend == "numpy":
            rt = NumpyRuntime(np)
        elif backend == "jax":
            import jax.numpy as jnp
            rt = JaxRuntime(jnp)
        elif backend == "cupy":
            import cupy
            rt = CupyRuntime(cupy)
        else:
            raise ValueError(f"no runtime for backend {backend!r}")
        _RUNTIMES[backend] = rt
    return rt


def clear() -> None:
    """Forget the runtimes (tests swap the ``cupy`` module)."""
    _RUNTIMES.clear()
