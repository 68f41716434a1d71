"""Backend benchmark (not a test): tlang on JAX (jitted generated code) against tlang's numpy
engine, and against the same model written by hand in JAX, measured in the same run.

Cases: an MLP with a softmax cross-entropy loss, a transformer block (multi-head attention,
concat, residual + layer norm, a feed-forward layer, output softmax), each forward and
forward+gradient, plus the two example programs (examples/mlp.tl, examples/transformer.tl,
whose sizes are tiny, so they measure per-call overhead).  Prints, per case, the median time of
each and two ratios: the jit speed-up (numpy engine / tlang-jax) and tlang-jax / hand-written
JAX (target: at most 1.1), then XLA's cost analysis (flops, bytes accessed) of both compiled
programs, which does not depend on the load of the machine.  Times are the minimum of
interleaved runs.  tlang is compiled with ``outputs=`` the tensors the hand-written
model returns, so both let XLA drop the same intermediates.

Run: python bench/backend_bench.py [--repeat N] [--small]
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from tlang import codegen, engine
from tlang.build import build
from tlang.parse import parse
from tlang.pipeline import compile_program

ROOT = Path(__file__).resolve().parent.parent


def timeit(fn, repeat: int) -> float:
    """Minimum wall time of ``repeat`` runs after a warm-up (robust on a shared machine)."""
    return interleaved([fn], repeat)[0]


def interleaved(fns, repeat: int) -> list[float]:
    """Minimum time of each function, runs interleaved so load changes hit all of them alike."""
    for fn in fns:
        fn()  # warm up (and compile)
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return [min(t) for t in times]


def xla_cost(fn, *args) -> tuple[float, float, list[str]]:
    """(flops, bytes accessed, sorted HLO op names) of the optimised XLA program."""
    compiled = fn.lower(*args).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    ops = sorted(re.findall(r"= \S+ ([\w-]+)\(", compiled.as_text()))
    return float(cost.get("flops", float("nan"))), float(cost.get("bytes accessed", float("nan"))), ops


def ready(tree):
    return jax.block_until_ready(tree)


# ------------------------------------------------------------------ cases

def mlp_case(rng, small: bool):
    n, d, h, o = (256, 64, 128, 10) if small else (2048, 256, 512, 10)
    inputs = {"X": rng.normal(size=(n, d)), "W1": rng.normal(size=(h, d)) / np.sqrt(d),
              "B1": np.zeros(h), "W2": rng.normal(size=(o, h)) / np.sqrt(h),
              "T": np.eye(o)[rng.integers(0, o, n)]}
    src = """
H[e, h] = relu(W1[h, j] X[e, j] + B1[h])
Z[e, k] = W2[k, h] H[e, h]
P[e, k.] = softmax(Z[e, k])
Loss = -(T[e, k] log(P[e, k]))
"""

    def hand(X, W1, B1, W2, T):
        H = jax.nn.relu(jnp.einsum("hj,ej->eh", W1, X) + B1)
        Z = jnp.einsum("kh,eh->ek", W2, H)
        z = jnp.exp(Z - jnp.max(Z, axis=1, keepdims=True))
        P = z / jnp.sum(z, axis=1, keepdims=True)
        return -jnp.sum(T * jnp.log(P))
    return f"MLP {n}x{d}x{h}x{o} + loss", src, inputs, hand, "Loss", "W1"


def transformer_case(rng, small: bool):
    n, p, d, heads, dk, f, vocab = (4, 16, 32, 2, 16, 64, 50) if small else (16, 64, 128, 4, 32, 256, 512)
    g = rng.normal
    inputs = {"X": g(size=(n, p, d)), "WQ": g(size=(heads, dk, d)) / np.sqrt(d),
              "WK": g(size=(heads, dk, d)) / np.sqrt(d), "WV": g(size=(heads, dk, d)) / np.sqrt(d),
              "WS": g(size=(d, heads * dk)) / np.sqrt(d), "W1": g(size=(f, d)) / np.sqrt(d),
              "W2": g(size=(d, f)) / np.sqrt(f), "WO": g(size=(vocab, d)) / np.sqrt(d),
              "T": np.eye(vocab)[rng.integers(0, vocab, (n, p))]}
    src = f"""
Dk = {float(dk)}
Query[b, h, p, dk] = WQ[h, dk, d] X[b, p, d]
Key[b, h, p, dk] = WK[h, dk, d] X[b, p, d]
Val[b, h, p, dv] = WV[h, dv, d] X[b, p, d]
Comp[b, h, p, p'.] = softmax(Query[b, h, p, dk] Key[b, h, p', dk] / sqrt(Dk))
Attn[b, h, p, dv] = Comp[b, h, p, p'] Val[b, h, p', dv]
Merge[b, p, dm] = concat(Attn[b, h, p, dv])
S1[b, p, d.] = lnorm(WS[d, dm] Merge[b, p, dm] + X[b, p, d])
M[b, p, f] = relu(W1[f, d] S1[b, p, d])
S2[b, p, d.] = lnorm(W2[d, f] M[b, p, f] + S1[b, p, d])
Y[b, p, t.] = softmax(WO[t, d] S2[b, p, d])
Loss = -(T[b, p, t] log(Y[b, p, t]))
"""

    def softmax(x, axis):
        z = jnp.exp(x - jnp.max(x, axis=axis, keepdims=True))
        return z / jnp.sum(z, axis=axis, keepdims=True)

    def lnorm(x, axis):
        mean = jnp.mean(x, axis=axis, keepdims=True)
        return (x - mean) / jnp.sqrt(jnp.var(x, axis=axis, keepdims=True) + 1e-5)

    def hand(X, WQ, WK, WV, WS, W1, W2, WO, T):
        q = jnp.einsum("hkd,bpd->bhpk", WQ, X)
        k = jnp.einsum("hkd,bpd->bhpk", WK, X)
        v = jnp.einsum("hkd,bpd->bhpk", WV, X)
        comp = softmax(jnp.einsum("bhpk,bhqk->bhpq", q, k) / jnp.sqrt(float(dk)), 3)
        attn = jnp.einsum("bhpq,bhqv->bhpv", comp, v)
        merge = jnp.transpose(attn, (0, 2, 1, 3)).reshape(n, p, heads * dk)
        s1 = lnorm(jnp.einsum("dm,bpm->bpd", WS, merge) + X, 2)
        m = jax.nn.relu(jnp.einsum("fd,bpd->bpf", W1, s1))
        s2 = lnorm(jnp.einsum("df,bpf->bpd", W2, m) + s1, 2)
        y = softmax(jnp.einsum("td,bpd->bpt", WO, s2), 2)
        return -jnp.sum(T * jnp.log(y))
    return f"transformer block b{n} p{p} d{d} h{heads}", src, inputs, hand, "Loss", "WQ"


# ------------------------------------------------------------------ runs

def bench_model(case, repeat: int, costs: list) -> list[tuple[str, float, float, float]]:
    title, src, inputs, hand, out, param = case
    prog = build(parse(src), inputs=inputs)
    t_numpy = timeit(lambda: engine.Engine(prog).run(), max(1, repeat // 4))
    f = codegen.compile_function(prog, "jax", outputs=(out,))
    dev = {k: jnp.asarray(v, dtype=jnp.float32) for k, v in inputs.items()}
    names = list(dev)
    args = [dev[k] for k in names]
    tl_fwd = jax.jit(lambda *a: f(**dict(zip(names, a)))[out])
    hand_fwd = jax.jit(hand)
    got, want = float(tl_fwd(*args)), float(hand_fwd(*args))
    assert abs(got - want) <= 1e-3 * max(1.0, abs(want)), (title, got, want)
    t_tl, t_hand = interleaved([lambda: ready(tl_fwd(*args)), lambda: ready(hand_fwd(*args))], repeat)
    costs.append((f"{title} forward", xla_cost(tl_fwd, *args), xla_cost(hand_fwd, *args)))
    k = names.index(param)
    tl_grad = jax.jit(jax.grad(lambda *a: f(**dict(zip(names, a)))[out], argnums=k))
    hand_grad = jax.jit(jax.grad(hand, argnums=k))
    assert np.allclose(tl_grad(*args), hand_grad(*args), rtol=1e-3, atol=1e-4), title
    t_tl_g, t_hand_g = interleaved([lambda: ready(tl_grad(*args)), lambda: ready(hand_grad(*args))], repeat)
    costs.append((f"{title} grad d{param}", xla_cost(tl_grad, *args), xla_cost(hand_grad, *args)))
    return [(f"{title} forward", t_numpy, t_tl, t_hand), (f"{title} grad d{param}", float("nan"), t_tl_g, t_hand_g)]


def bench_example(name: str, repeat: int) -> tuple[str, float, float, float]:
    prog = compile_program(ROOT / "examples" / f"{name}.tl").ir
    t_numpy = timeit(lambda: engine.Engine(prog).run(), repeat)
    f = codegen.compile_function(prog, "jax")
    t_tl = timeit(lambda: ready(f()), repeat)
    return (f"examples/{name}.tl (tiny; overhead)", t_numpy, t_tl, float("nan"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--small", action="store_true", help="small shapes (a quick check)")
    args = ap.parse_args()
    rng = np.random.default_rng(2510)
    rows: list = []
    costs: list = []
    for case in (mlp_case(rng, args.small), transformer_case(rng, args.small)):
        rows += bench_model(case, args.repeat, costs)
    rows += [bench_example("mlp", args.repeat), bench_example("transformer", args.repeat)]
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, float32; min of {args.repeat} interleaved runs")
    print(f"{'case':48} {'numpy':>10} {'tlang-jax':>10} {'hand-jax':>10} {'jit x':>8} {'tl/hand':>8}")
    for title, t_np, t_tl, t_hand in rows:
        def ms(t: float) -> str:
            return "-" if t != t else f"{t * 1e3:.3f}ms"

        speed = "-" if t_np != t_np else f"{t_np / t_tl:.1f}"
        ratio = "-" if t_hand != t_hand else f"{t_tl / t_hand:.3f}"
        print(f"{title:48} {ms(t_np):>10} {ms(t_tl):>10} {ms(t_hand):>10} {speed:>8} {ratio:>8}")
    print("\nXLA cost analysis of the compiled programs, tlang / hand-written (1.000 = the same work):")
    for title, (f_tl, b_tl, ops_tl), (f_hand, b_hand, ops_hand) in costs:
        same = "same HLO ops" if ops_tl == ops_hand else f"HLO ops {len(ops_tl)} vs {len(ops_hand)}"
        print(f"{title:48} flops {f_tl / f_hand:.3f}   bytes accessed {b_tl / b_hand:.3f}   {same}")


if __name__ == "__main__":
    main()
