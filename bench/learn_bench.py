"""Learning benchmark (not a test): one training step of an MLP, measured in the same run.

1. tlang on JAX (the program compiled by tlang.codegen, jax.value_and_grad and
   Adam in one jitted step) against the same model written by hand in JAX;
2. tlang's numpy reverse mode (the forward program plus its gradient program,
   tlang.grad, run by the numpy engine, then Adam) against the hand-written
   JAX step on CPU;
3. for scale, tlang's numpy forward pass alone (gradient / forward).

Prints the median time per step of each and the ratios.  JAX runs in its
default float32 unless --x64; the numpy engine is float64.  numpy's BLAS
runs on one thread unless --blas-threads says otherwise (set before numpy
loads): on a small shared machine a multi-threaded OpenBLAS can be a hundred
times slower on these matrix sizes, which would measure contention, not tlang.
Run: python bench/learn_bench.py [--batch N] [--hidden H] [--repeat R] [--x64] [--blas-threads T]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

if __name__ == "__main__":  # before numpy loads its BLAS
    _t = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--blas-threads=")), "1")
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, _t)

import numpy as np  # noqa: E402

MODEL = """
tensor W1[{h}, {d}]
tensor W2[{h}, {h}]
H1[e, h] = tanh(W1[h, j] X[e, j] + B1[h])
H2[e, k] = tanh(W2[k, h] H1[e, h] + B2[k])
P[e] = sig(W3[k] H2[e, k] + B3)
Loss avg= -(Y[e] log(P[e]) + (1 - Y[e]) log(1 - P[e]))
Loss? @minimize(lr=0.01)
"""


def timeit(fn, repeat: int) -> float:
    fn()
    fn()  # warm up (and compile)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--inputs", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--x64", action="store_true", help="JAX in float64")
    ap.add_argument("--blas-threads", default="1", help="threads of numpy's BLAS (write --blas-threads=T)")
    args = ap.parse_args()

    import jax
    import jax.numpy as jnp
    if args.x64:
        jax.config.update("jax_enable_x64", True)

    from tlang.grad import learnables
    from tlang.learn_runtime import Adam, JaxGradient, TLGradient, init_params, program_with
    from tlang.pipeline import compile_program

    rng = np.random.default_rng(0)
    n, d, h = args.batch, args.inputs, args.hidden
    X = rng.normal(size=(n, d))
    Y = (X[:, 0] * X[:, 1] > 0).astype(float)
    compiled = compile_program(MODEL.format(d=d, h=h), inputs={"X": X, "Y": Y})
    wrt = learnables(compiled.ir, "Loss")
    params = init_params(compiled.ir, wrt, seed=0)

    # 1. tlang on JAX: one jitted step (value_and_grad of the generated program + Adam)
    opt = Adam(lr=0.01)
    jg = JaxGradient(compiled, "Loss", wrt, {})
    tl_step = jg.step_function(opt, 1.0)
    jparams = {k: jnp.asarray(v) for k, v in params.items()}
    jstate = opt.init(jparams)

    def tlang_jax():
        out = tl_step(jparams, jstate)
        jax.block_until_ready(out)

    # the same model by hand
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)

    def loss_fn(p):
        h1 = jnp.tanh(Xj @ p["W1"].T + p["B1"])
        h2 = jnp.tanh(h1 @ p["W2"].T + p["B2"])
        pr = jax.nn.sigmoid(h2 @ p["W3"] + p["B3"])
        return jnp.mean(-(Yj * jnp.log(pr) + (1 - Yj) * jnp.log(1 - pr)))

    @jax.jit
    def hand_step(p, state):
        v, g = jax.value_and_grad(loss_fn)(p)
        p, state = opt.update(p, g, state)
        return p, state, v

    def hand_jax():
        jax.block_until_ready(hand_step(jparams, jstate))

    # check both compute the same loss
    v_tl = float(tl_step(jparams, jstate)[2])
    v_hand = float(hand_step(jparams, jstate)[2])
    assert abs(v_tl - v_hand) < 1e-4 * max(1.0, abs(v_hand)), (v_tl, v_hand)

    # 2. tlang's numpy reverse mode: forward + gradient program on the engine, then Adam
    tg = TLGradient(compiled, "Loss", wrt, {})
    nstate = opt.init(params)
    v_np, _ = tg(params)
    assert abs(v_np - v_hand) < 1e-4 * max(1.0, abs(v_hand)), (v_np, v_hand)

    def tlang_numpy():
        _, g = tg(params)
        opt.update(params, g, nstate)

    # 3. the numpy forward pass alone
    from tlang.engine import Engine
    fwd = program_with(compiled, params, "Loss")

    def tlang_forward():
        Engine(fwd).run()

    r = args.repeat
    t_tl, t_hand = timeit(tlang_jax, r), timeit(hand_jax, r)
    t_np, t_fwd = timeit(tlang_numpy, r), timeit(tlang_forward, r)
    dtype = "float64" if args.x64 else "float32"
    print(f"one training step, MLP {d}-{h}-{h}-1 (tanh, sigmoid, cross-entropy), batch {n}, Adam")
    print(f"  {len(tg.grad.statements)} statements in the gradient program (`tlang grad`)")
    print(f"  tlang on JAX (jit, {dtype})           {t_tl * 1e3:9.3f} ms")
    print(f"  hand-written JAX (jit, {dtype})       {t_hand * 1e3:9.3f} ms")
    print(f"  tlang numpy reverse mode (float64)   {t_np * 1e3:9.3f} ms")
    print(f"  tlang numpy forward only (float64)   {t_fwd * 1e3:9.3f} ms")
    print(f"ratio tlang-JAX / hand JAX:            {t_tl / t_hand:9.2f}")
    print(f"ratio tlang numpy reverse / hand JAX:  {t_np / t_hand:9.2f}")
    print(f"ratio numpy gradient step / forward:   {t_np / t_fwd:9.2f}")


if __name__ == "__main__":
    main()
