"""Planner benchmark (a script, not a test): ``tlang.einsum`` against ``numpy.einsum``
(``optimize=True``) and opt_einsum, measured side by side in the same run.

Instances: the generators of the ``einsum_benchmark`` package (matrix chain, matrix
product state, connected hypernetwork, MERA language model; generators only, no data set
download) -- or, where that package is not installed, small generators of the same
families below; the example programs in ``examples/`` (the engine with planned, cached
contractions against the engine calling ``opt_einsum.contract`` as before); and tiny
einsums for call overhead.

Per instance: path flops, largest intermediate and wall time as ratios tlang / peer
(below 1 is better for tlang), the path-search time of each, and a geometric mean per
family.  Flops are opt_einsum's cost model for every path (numpy's path is re-costed).

Run: python bench/planner_bench.py [--quick] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import sys

if __name__ == "__main__":  # BLAS threads must be fixed before numpy loads; 1 = steadier timings
    _threads = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--threads=")), "1")
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, _threads)

import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import opt_einsum as oe  # noqa: E402

import tlang  # noqa: E402
from tlang import plan as P  # noqa: E402

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ instances

def _fallback_generators():
    """Small generators of the einsum_benchmark families (used when it is not installed)."""
    sym = oe.get_symbol

    def matrix_chain(num_matrices, min_dim, max_dim, seed, is_shuffle=False):
        rng = np.random.default_rng(seed)
        d = rng.integers(min_dim, max_dim + 1, num_matrices + 1)
        terms = [sym(i) + sym(i + 1) for i in range(num_matrices)]
        shapes = [(int(d[i]), int(d[i + 1])) for i in range(num_matrices)]
        if is_shuffle:
            order = rng.permutation(num_matrices)
            terms, shapes = [terms[i] for i in order], [shapes[i] for i in order]
        return ",".join(terms) + "->" + sym(0) + sym(num_matrices), shapes

    def mps(n, phys_dim_min, phys_dim_max, bond_dim, seed):
        rng = np.random.default_rng(seed)
        terms, shapes = ["ab", "ac"], [(phys_dim_min, bond_dim)] * 2
        for i in range(1, n - 1):
            j = 3 * i
            ul, ur, m, ll, lr = (sym(k) for k in (j - 1, j + 2, j, j - 2, j + 1))
            p = int(rng.integers(phys_dim_min, phys_dim_max + 1))
            terms += [m + ul + ur, m + ll + lr]
            shapes += [(p, bond_dim, bond_dim)] * 2
        j = 3 * (n - 1)
        terms += [sym(j) + sym(j - 1), sym(j) + sym(j - 2)]
        shapes += [(phys_dim_min, bond_dim)] * 2
        return ",".join(terms) + "->", shapes

    def hypernetwork(number_of_tensors, regularity, max_axis_size, seed, **_):
        rng = np.random.default_rng(seed)
        n = number_of_tensors
        terms = [set() for _ in range(n)]
        n_edges = int(n * regularity / 2.2)
        k = 0
        for t in range(1, n):  # a spanning tree keeps it connected
            e = sym(k)
            k += 1
            terms[t].add(e)
            terms[int(rng.integers(0, t))].add(e)
        for _ in range(n_edges - n + 1):
            e = sym(k)
            k += 1
            for t in rng.choice(n, size=int(rng.integers(2, 4)), replace=False):
                terms[int(t)].add(e)
        out = [sym(k), sym(k + 1)]
        terms[int(rng.integers(0, n))].add(out[0])
        terms[int(rng.integers(0, n))].add(out[1])
        size = {c: int(rng.integers(2, max_axis_size + 1)) for t in terms for c in t}
        ts = ["".join(sorted(t)) for t in terms]
        return ",".join(ts) + "->" + "".join(out), [tuple(size[c] for c in t) for t in ts]

    def mera(depth, hidden, observable):
        # a binary tree of 3rd-order tensors over `observable`-sized leaves (a MERA-like tree)
        k = 0
        leaves = 2 ** (depth + 2)
        level = [sym(k + i) for i in range(leaves)]
        k += leaves
        size = {c: observable for c in level}
        terms = []
        while len(level) > 1:
            nxt = []
            for a, b in zip(level[::2], level[1::2]):
                c = sym(k)
                k += 1
                size[c] = hidden
                terms.append(a + b + c)
                nxt.append(c)
            level = nxt
        terms.append(level[0])
        terms += [c for c in list(size)[:leaves][1:-1]]  # marginalise the middle observables
        out = list(size)[0] + list(size)[leaves - 1]
        return ",".join(terms) + "->" + out, [tuple(size[c] for c in t) for t in terms]

    return matrix_chain, mps, hypernetwork, mera


def families(quick: bool):
    try:
        from einsum_benchmark.generators.language_model import p_first_and_last, sliding_likelihood
        from einsum_benchmark.generators.quantum_computing import matrix_product_state
        from einsum_benchmark.generators.random import connected_hypernetwork
        from einsum_benchmark.generators.structured import matrix_chain
        source = "einsum_benchmark generators"
    except ImportError:
        mc, mps, hyp, mera = _fallback_generators()
        source = "bench/planner_bench.py's own generators (einsum_benchmark not installed)"
        out = {
            "matrix chain": [(f"mc{n}{'s' if sh else ''}", mc(n, 8, 128, n, sh))
                             for n in (5, 8, 12, 16, 24) for sh in (False, True)],
            "matrix product state": [(f"mps{n}", mps(n, 2, 8, 16, n)) for n in (6, 10, 16, 24)],
            "hypernetwork": [(f"hyp{n}-{s}", hyp(n, 3.0, 4, s)) for n in (30, 40) for s in range(4)],
            "MERA language model": [(f"tree{d}", mera(d, 3, 8)) for d in (1, 2)],
        }
        return source, out
    out = {
        "matrix chain": [(f"mc{n}{'s' if sh else ''}", matrix_chain(num_matrices=n, min_dim=8, max_dim=128,
                                                                    is_shuffle=sh, seed=n))
                         for n in (5, 8, 12, 16, 24) for sh in (False, True)],
        "matrix product state": [(f"mps{n}", matrix_product_state(n=n, phys_dim_min=2, phys_dim_max=8,
                                                                  bond_dim=16, seed=n))
                                 for n in (6, 10, 16, 24)],
        "hypernetwork": [(f"hyp{n}-{s}", connected_hypernetwork(
            number_of_tensors=n, regularity=3.0, max_edge_order=3, number_of_output_indices=2,
            min_axis_size=2, max_axis_size=4 if n == 30 else 3, seed=s))
            for n in (30, 40) for s in range(4 if quick else 8)],
        "MERA language model": [("p_first_last d1", p_first_and_last(1, 4, 16)),
                                ("p_first_last d2", p_first_and_last(2, 3, 16)),
                                ("sliding d1 b16", sliding_likelihood(1, 3, 8, 16)),
                                ("sliding d2 b4", sliding_likelihood(2, 3, 8, 4))],
    }
    return source, out


# ---------------------------------------------------------------- measuring

def timeit(fn, budget: float = 0.3, max_repeat: int = 50) -> float:
    fn()  # warm up (and, for tlang, plan)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < budget and len(times) < max_repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def gmean(xs):
    xs = [x for x in xs if x and x == x and x != float("inf")]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def numpy_flops(eq, shapes):
    """numpy.einsum_path's greedy path, costed by opt_einsum (None if numpy cannot take it)."""
    if len(set(eq) - set(",->")) > 52 or not all(c.isalpha() or c in ",->" for c in eq):
        return None, None
    try:
        ops = [np.empty(s) for s in shapes]
        path = np.einsum_path(eq, *ops, optimize="greedy")[0][1:]
        _, info = oe.contract_path(eq, *shapes, shapes=True, optimize=path)
        return int(info.opt_cost), int(info.largest_intermediate)
    except (ValueError, MemoryError):
        return None, None


def run_instance(eq, shapes, rng, time_budget):
    ops = [rng.random(s) / max(1.0, math.sqrt(s[0]) if s else 1.0) for s in shapes]
    P.plan_cache().clear()
    t0 = time.perf_counter()
    path, info = tlang.einsum_path(eq, *ops)
    t_plan = time.perf_counter() - t0
    t0 = time.perf_counter()
    oe_path, oe_info = oe.contract_path(eq, *ops, optimize="auto")
    t_oe = time.perf_counter() - t0
    np_flops, np_largest = numpy_flops(eq, shapes)
    ours = tlang.einsum(eq, *ops)
    ref = oe.contract(eq, *ops, optimize=path)
    assert np.allclose(ours, ref, rtol=1e-6, atol=1e-12 * float(np.max(np.abs(ref)) + 1)), eq
    row = {
        "n": len(shapes), "flops": info.flops, "oe_flops": int(oe_info.opt_cost),
        "np_flops": np_flops, "largest": info.largest_intermediate,
        "oe_largest": int(oe_info.largest_intermediate), "t_plan": t_plan, "t_oe_search": t_oe,
    }
    if time_budget:
        row["t_tl"] = timeit(lambda: tlang.einsum(eq, *ops))
        row["t_same"] = timeit(lambda: oe.contract(eq, *ops, optimize=path))
        row["t_oe"] = timeit(lambda: oe.contract(eq, *ops, optimize="auto"))
        # numpy's own path can be 10^4 times dearer: time it only where that takes under a second
        row["t_np"] = (timeit(lambda: np.einsum(eq, *ops, optimize=True))
                       if np_flops and np_flops < max(1e9, 50 * info.flops) else None)
    return row


def _r(a, b):
    return a / b if a is not None and b else None


def _f(x, width=7, fmt="{:.2f}"):
    return f"{'n/a' if x is None else fmt.format(x):>{width}s}"


def family_tables(quick: bool) -> dict:
    source, fams = families(quick)
    print(f"# contraction families ({source})")
    print("ratios are tlang / peer: below 1 means tlang is better; flops in opt_einsum's cost model\n")
    head = (f"{'instance':18s} {'ops':>4s} {'flops':>9s} {'/oe':>7s} {'/np':>7s} {'largest':>7s} "
            f"{'wall':>9s} {'/oe-path':>8s} {'/oe':>7s} {'/np':>7s} {'search':>8s} {'oe srch':>8s}")
    rng = np.random.default_rng(0)
    summary = {}
    for fam, insts in fams.items():
        print(f"## {fam}")
        print(head)
        cols: dict[str, list] = {k: [] for k in ("fl_oe", "fl_np", "lg", "w_same", "w_oe", "w_np")}
        for name, (eq, shapes) in insts:
            r = run_instance(eq, shapes, rng, True)
            vals = {"fl_oe": _r(r["flops"], r["oe_flops"]), "fl_np": _r(r["flops"], r["np_flops"]),
                    "lg": _r(r["largest"], r["oe_largest"]), "w_same": _r(r["t_tl"], r["t_same"]),
                    "w_oe": _r(r["t_tl"], r["t_oe"]), "w_np": _r(r["t_tl"], r["t_np"])}
            for k, v in vals.items():
                cols[k].append(v)
            print(f"{name:18s} {r['n']:4d} {r['flops']:9.2e} {_f(vals['fl_oe'])} {_f(vals['fl_np'])} "
                  f"{_f(vals['lg'])} {r['t_tl'] * 1e3:7.2f}ms {_f(vals['w_same'], 8)} {_f(vals['w_oe'])} "
                  f"{_f(vals['w_np'])} {r['t_plan'] * 1e3:6.1f}ms {r['t_oe_search'] * 1e3:6.1f}ms",
                  flush=True)
        g = {k: gmean(v) for k, v in cols.items()}
        summary[fam] = {**g, "max_fl_oe": max(x for x in cols["fl_oe"] if x is not None)}
        print(f"{'geometric mean':18s} {'':4s} {'':9s} {_f(g['fl_oe'])} {_f(g['fl_np'])} {_f(g['lg'])} "
              f"{'':9s} {_f(g['w_same'], 8)} {_f(g['w_oe'])} {_f(g['w_np'])}\n")
    return summary


# ----------------------------------------------------------- example programs

def example_table() -> list[float]:
    from tlang.backends import get_backend
    from tlang.engine import Engine
    from tlang.pipeline import compile_program
    from tlang.plan_program import plan_program
    print("# example programs: the engine with cached plans vs the engine calling opt_einsum.contract")
    print(f"{'program':16s} {'contractions':>12s} {'flops/oe':>9s} {'run ms':>8s} {'before ms':>10s} {'ratio':>6s}")
    be = get_backend("numpy")
    ratios = []
    for path in sorted((ROOT / "examples").glob("*.tl")):
        try:
            prog = compile_program(path).ir
            reports = [r for r in plan_program(prog) if r.plan is not None]
            Engine(prog).run()
        except Exception as e:  # an example another session is still writing
            print(f"{path.name:16s} skipped: {type(e).__name__}")
            continue
        fl = sum(r.plan.flops for r in reports)
        fl_oe = sum(oe.contract_path(r.spec, *r.plan.shapes, shapes=True)[1].opt_cost for r in reports)
        t_new = timeit(lambda prog=prog: Engine(prog).run(), 0.5, 30)
        old = type(be).einsum
        type(be).einsum = lambda self, spec, *ops: oe.contract(spec, *ops, optimize="auto")
        try:
            t_old = timeit(lambda prog=prog: Engine(prog).run(), 0.5, 30)
        finally:
            type(be).einsum = old
        ratios.append(t_new / t_old)
        print(f"{path.name:16s} {len(reports):12d} {_f(_r(fl, fl_oe), 9)} {t_new * 1e3:8.2f} "
              f"{t_old * 1e3:10.2f} {t_new / t_old:6.2f}")
    print(f"{'geometric mean':16s} {'':12s} {'':9s} {'':8s} {'':10s} {gmean(ratios):6.2f}\n")
    return ratios


# ----------------------------------------------------------------- overhead

def per_call(fn, n: int = 3000) -> float:
    """Best of 7 rounds of n calls, in microseconds per call."""
    fn()
    best = float("inf")
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e6


def overhead_table() -> dict:
    print("# call overhead on tiny arrays (microseconds per call; tlang's plan is cached)")
    print(f"{'einsum':22s} {'shapes':18s} {'tlang':>7s} {'numpy':>7s} {'oe':>7s} {'oe expr':>8s} "
          f"{'tl/np':>6s} {'oe expr/np':>10s}")
    rng = np.random.default_rng(1)
    cases = [("ij,jk->ik", [(4, 4), (4, 4)]), ("i,i->", [(8,), (8,)]), ("ij,j->i", [(8, 8), (8,)]),
             ("bij,bjk->bik", [(2, 4, 4), (2, 4, 4)]), ("ii->i", [(6, 6)]),
             ("ij,jk,kl->il", [(8, 8), (8, 8), (8, 8)])]
    out = {}
    for eq, shapes in cases:
        ops = [rng.random(s) for s in shapes]
        expr = oe.contract_expression(eq, *shapes)
        t_tl = per_call(partial(tlang.einsum, eq, *ops))
        t_np = per_call(partial(np.einsum, eq, *ops))
        t_oe = per_call(partial(oe.contract, eq, *ops))
        t_ex = per_call(partial(expr, *ops))
        out[eq] = (len(shapes), t_tl / t_np)
        print(f"{eq:22s} {str(shapes):18s} {t_tl:7.2f} {t_np:7.2f} {t_oe:7.2f} {t_ex:8.2f} "
              f"{t_tl / t_np:6.2f} {t_ex / t_np:10.2f}")
    print()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer hypernetwork instances")
    ap.add_argument("--threads", default="1", help="BLAS threads (set before numpy loads)")
    ap.add_argument("--skip-examples", action="store_true")
    args = ap.parse_args()
    print(f"numpy {np.__version__}, opt_einsum {oe.__version__}, BLAS threads "
          f"{os.environ.get('OPENBLAS_NUM_THREADS')}, optimisers: {', '.join(P.optimizers())}\n")
    summary = family_tables(args.quick)
    ex = [] if args.skip_examples else example_table()
    over = overhead_table()
    worst = max(s["max_fl_oe"] for s in summary.values())
    hyp = summary["hypernetwork"]["fl_oe"]
    same = gmean([s["w_same"] for s in summary.values()])
    two = max(r for n, r in over.values() if n == 2)
    print("# targets")
    print(f"path flops never worse than opt_einsum auto: worst ratio {worst:.3f} "
          f"({'met' if worst <= 1.0 + 1e-9 else 'NOT met'})")
    print(f"hypernetwork flops at least 2x fewer (geomean): {1 / hyp:.2f}x fewer "
          f"({'met' if 1 / hyp >= 2 else 'NOT met'})")
    print(f"wall time vs opt_einsum.contract on the same path (geomean over families): {same:.2f} "
          f"({'met' if same <= 1.0 else 'NOT met'})")
    print(f"cached two-operand call vs numpy.einsum (worst): {two:.2f}x "
          f"({'met' if two <= 1.5 else 'NOT met'})")
    if ex:
        print(f"example programs, engine run time vs before (geomean): {gmean(ex):.2f}")


if __name__ == "__main__":
    main()
