"""Datalog at scale: tlang's relational path against clingo and a hand-written scipy.sparse loop.

Run:  python bench/datalog_bench.py [--sizes 1000,10000,100000] [--repeat 3] [--timeout 600]
      [--only tc,sg] [--graphs rand1,rand2,tree] [--markdown]

Programs (the same Datalog for every engine):

    tc(x, y) :- e(x, y).                      sg(x, y) :- e(x, p), e(y, p), x != y.
    tc(x, z) :- tc(x, y), e(y, z).            sg(x, y) :- e(x, a), sg(a, b), e(y, b).

Graphs (seeded): ``rand1`` -- n nodes, each with one out-edge to a uniformly
random other node (a random mapping: every node has a parent); ``rand2`` --
two out-edges to two distinct random other nodes; ``tree`` -- a random
recursive tree, node i > 0 with its parent uniform among 0..i-1 (edges
child -> parent).  ``e(x, p)`` reads "p is a parent of x", so ``sg`` is the
classic same-generation program.

Engines, each given the edges as two numpy arrays and asked for the derived
relation:

* ``tlang``: ``tlang.datalog.parse_datalog`` of the program above, ``build`` with ``e`` as a
  ``tlang.relational.Relation`` input, ``evaluate`` (the relational path, chosen
  automatically);
* ``scipy``: a minimal hand-written semi-naive loop on Boolean CSR matrices
  (``D = (D @ E) > T; T = T + D``), the practical limit for this approach;
* ``clingo``: ``clingo.Control`` grounding (and solving) the program with the edges as facts
  (the fact text is built inside the timed region).

Each (row, engine) runs in a child process, ``--passes`` times with the
engines alternating (rows whose slowest engine takes under 5 s).  Time: the
best of all runs -- ``--repeat`` runs per child, three times as many under
0.2 s, one over 2 s -- after a warm-up on a 10-node graph; the best of many
runs is what survives a noisy shared machine.  Memory: the peak resident-set growth during the first run
(``VmHWM`` after resetting it through ``/proc/self/clear_refs``, minus the
resident set before the run).  The script checks that all engines derive the
same number of facts and, where each engine's facts can be listed cheaply
(clingo up to 2 million atoms), the same set (a hash of the sorted tuples).

Rows whose answer is infeasible for every engine are skipped, with the
reason printed (``SKIP`` below).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time

import numpy as np

PROGRAMS = {
    "tc": """
.decl e(x: number, y: number)
.decl tc(x: number, y: number)
tc(x, y) :- e(x, y).
tc(x, z) :- tc(x, y), e(y, z).
""",
    "sg": """
.decl e(x: number, y: number)
.decl sg(x: number, y: number)
sg(x, y) :- e(x, p), e(y, p), x != y.
sg(x, y) :- e(x, a), sg(a, b), e(y, b).
""",
}
CLINGO = {
    "tc": "tc(X,Y) :- e(X,Y).\ntc(X,Z) :- tc(X,Y), e(Y,Z).\n#show.\n",
    "sg": "sg(X,Y) :- e(X,P), e(Y,P), X != Y.\nsg(X,Y) :- e(X,A), sg(A,B), e(Y,B).\n#show.\n",
}
SKIP = {
    ("tc", "rand1", 100000): "the closure has 88 million facts after ~600 rounds: the scipy loop "
                             "takes over 10 minutes (tlang alone: 114 s, 2.5 GB peak)",
    ("tc", "rand2", 10000): "the closure has ~84 million facts (0.84 n^2: a giant strongly "
                            "connected component)",
    ("tc", "rand2", 100000): "the closure has ~8.4 billion facts",
    ("sg", "rand1", 100000): "~1.4e8 facts (extrapolated from 1k and 10k), hundreds of rounds",
    ("sg", "rand2", 10000): "~n^2 = 1e8 facts",
    ("sg", "rand2", 100000): "~n^2 = 1e10 facts",
    ("sg", "tree", 100000): "~8e8 facts (pairs of nodes at the same depth)",
}
CLINGO_LIST_MAX = 2_000_000


# ------------------------------------------------------------------ inputs

def graph(kind: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The edges (src, dst) of a seeded graph (see the module docstring)."""
    rng = np.random.default_rng(seed)
    if kind == "tree":
        src = np.arange(1, n, dtype=np.int64)
        dst = (rng.random(n - 1) * src).astype(np.int64)
        return src, dst
    d = int(kind[-1])
    src = np.repeat(np.arange(n, dtype=np.int64), d)
    if d == 1:
        off = rng.integers(0, n - 1, size=(n, 1))
    else:
        off = np.stack([rng.choice(n - 1, size=d, replace=False) for _ in range(n)])
    dst = ((np.arange(n)[:, None] + 1 + off) % n).ravel().astype(np.int64)
    return src, dst


def digest(x: np.ndarray, y: np.ndarray, n: int) -> str:
    keys = np.sort(np.asarray(x, dtype=np.int64) * n + np.asarray(y, dtype=np.int64))
    return hashlib.sha1(keys.tobytes()).hexdigest()[:16]


# ----------------------------------------------------------------- engines

def run_tlang(prog: str, n: int, src, dst) -> tuple[int, tuple | None]:
    from tlang.build import build
    from tlang.datalog import parse_datalog
    from tlang.engine import Options, evaluate
    from tlang.relational import Relation
    ast = parse_datalog(PROGRAMS[prog], f"{prog}.dl")
    e = Relation.from_columns((n, n), (src, dst))
    res = evaluate(build(ast, ".", {"e": e}), Options())
    out = res.tensors[prog]
    rel = out if isinstance(out, Relation) else Relation.from_dense(out)
    return len(rel), rel


def run_scipy(prog: str, n: int, src, dst):
    import scipy.sparse as sp
    E = sp.csr_matrix((np.ones(len(src), dtype=bool), (src, dst)), shape=(n, n))
    if prog == "tc":
        T, D = E.copy(), E
        while D.nnz:
            D = (D @ E) > T
            T = T + D
        return T.nnz, T
    ET = E.T.tocsr()
    S = (E @ ET) > sp.identity(n, dtype=bool, format="csr")
    D = S
    while D.nnz:
        D = (E @ D @ ET) > S
        S = S + D
    return S.nnz, S


def run_clingo(prog: str, n: int, src, dst):
    import clingo
    facts = "".join(f"e({a},{b})." for a, b in zip(src.tolist(), dst.tolist()))
    ctl = clingo.Control(["--warn=none"])
    ctl.add("base", [], CLINGO[prog] + facts)
    ctl.ground([("base", [])])
    ctl.solve()
    return None, ctl


ENGINES = {"tlang": run_tlang, "scipy": run_scipy, "clingo": run_clingo}


def _count_and_digest(engine: str, prog: str, n: int, out) -> tuple[int, str | None]:
    if engine == "tlang":
        x, y = out.cols
        return len(out), digest(x, y, n)
    if engine == "scipy":
        coo = out.tocoo()
        return int(out.nnz), digest(coo.row, coo.col, n)
    atoms = out.symbolic_atoms.by_signature(prog, 2)
    count = sum(1 for _ in out.symbolic_atoms.by_signature(prog, 2))
    if count > CLINGO_LIST_MAX:
        return count, None
    xs, ys = [], []
    for a in atoms:
        args = a.symbol.arguments
        xs.append(args[0].number)
        ys.append(args[1].number)
    return count, digest(np.array(xs), np.array(ys), n)


# ----------------------------------------------------------------- children

def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def child(args: dict) -> dict:
    engine, prog, kind, n, repeat = args["engine"], args["prog"], args["kind"], args["n"], args["repeat"]
    fn = ENGINES[engine]
    ws, wd = graph(kind, 10, 1)
    fn(prog, 10, ws, wd)                       # warm-up: imports, parsers
    src, dst = graph(kind, n)
    reset = _reset_peak()
    before = _status("VmRSS")
    t0 = time.perf_counter()
    out = fn(prog, n, src, dst)[1]
    best = time.perf_counter() - t0
    peak = _status("VmHWM") - (before if reset else 0)
    count, dig = _count_and_digest(engine, prog, n, out)
    del out
    runs = 1
    limit = 3 * repeat if best < 0.2 else repeat if best < 2.0 else 1
    while runs < limit:
        t0 = time.perf_counter()
        fn(prog, n, src, dst)
        best = min(best, time.perf_counter() - t0)
        runs += 1
    return {"time": best, "peak": peak, "count": count, "digest": dig, "runs": runs}


def measure(engine: str, prog: str, kind: str, n: int, repeat: int, timeout: float) -> dict:
    payload = json.dumps({"engine": engine, "prog": prog, "kind": kind, "n": n, "repeat": repeat})
    try:
        done = subprocess.run([sys.executable, __file__, "--child", payload], capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout {timeout:.0f}s"}
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": f"exit {done.returncode}: {tail[:80]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------- report

def _mb(b: float) -> str:
    return f"{b / 2**20:.0f}" if b >= 2**20 else f"{b / 2**20:.1f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--only", default="tc,sg")
    ap.add_argument("--graphs", default="rand1,rand2,tree")
    ap.add_argument("--engines", default="tlang,scipy,clingo")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--passes", type=int, default=3,
                    help="child processes per engine and row, alternating engines (rows under 5 s)")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    engines = args.engines.split(",")
    rows, skipped, bad = [], [], []
    for prog in args.only.split(","):
        for kind in args.graphs.split(","):
            for n in (int(s) for s in args.sizes.split(",")):
                if (prog, kind, n) in SKIP:
                    skipped.append(f"{prog} {kind} {n}: {SKIP[prog, kind, n]}")
                    continue
                got = {e: measure(e, prog, kind, n, args.repeat, args.timeout) for e in engines}
                for k in range(1, args.passes):  # alternate the engines again: the best time of all passes
                    if any(r.get("time", 1e9) > 5 for r in got.values()):
                        break
                    for e in (engines[::-1] if k % 2 else engines):
                        again = measure(e, prog, kind, n, args.repeat, args.timeout)
                        if "time" in again and again["time"] < got[e]["time"]:
                            got[e]["time"] = again["time"]
                            got[e]["runs"] += again["runs"]
                counts = {e: r["count"] for e, r in got.items() if "count" in r}
                digests = {e: r["digest"] for e, r in got.items() if r.get("digest")}
                same = len(set(counts.values())) <= 1 and len(set(digests.values())) <= 1
                if not same:
                    bad.append(f"{prog} {kind} {n}: counts {counts}, digests {digests}")
                check = ("set" if len(digests) == len(counts) == len(engines) else "count") if same else "DIFFER"
                rows.append((prog, kind, n, got, check))
                print(_line(rows[-1], engines), file=sys.stderr, flush=True)
    print(_table(rows, engines, args.markdown))
    for s in skipped:
        print(f"skipped: {s}")
    for b in bad:
        print(f"MISMATCH: {b}")
    return 1 if bad else 0


def _line(row, engines) -> str:
    prog, kind, n, got, check = row
    parts = []
    for e in engines:
        r = got[e]
        parts.append(f"{e} {r['time']:.3f}s {_mb(r['peak'])}MB" if "time" in r else f"{e} {r['error']}")
    facts = next((r["count"] for r in got.values() if "count" in r), "?")
    return f"{prog} {kind} {n}: {facts} facts [{check}]  " + "  ".join(parts)


def _table(rows, engines, markdown: bool) -> str:
    head = ["program", "graph", "nodes", "facts", "check", "tlang s", "scipy s", "clingo s",
            "tlang/scipy", "clingo/tlang", "tlang MB", "scipy MB", "clingo MB", "mem tlang/scipy",
            "mem clingo/tlang"]
    lines = []
    def ratio(a, b):
        return f"{a / b:.2f}" if a is not None and b else "-"

    for prog, kind, n, got, check in rows:
        def t(e, got=got):
            return got.get(e, {}).get("time")

        def m(e, got=got):
            return got.get(e, {}).get("peak")

        def fmt_t(e, got=got):
            r = got.get(e, {})
            return f"{r['time']:.3f}" if "time" in r else r.get("error", "-")

        facts = next((r["count"] for r in got.values() if "count" in r), "?")
        lines.append([prog, kind, f"{n:,}", f"{facts:,}" if isinstance(facts, int) else facts, check,
                      fmt_t("tlang"), fmt_t("scipy"), fmt_t("clingo"),
                      ratio(t("tlang"), t("scipy")), ratio(t("clingo"), t("tlang")),
                      _mb(m("tlang")) if m("tlang") is not None else "-",
                      _mb(m("scipy")) if m("scipy") is not None else "-",
                      _mb(m("clingo")) if m("clingo") is not None else "-",
                      ratio(m("tlang"), m("scipy")), ratio(m("clingo"), m("tlang"))])
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(r) + " |" for r in lines]
        return "\n".join(out)
    widths = [max(len(h), *(len(r[k]) for r in lines)) if lines else len(h) for k, h in enumerate(head)]
    out = ["  ".join(h.rjust(w) for h, w in zip(head, widths))]
    out += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in lines]
    return "\n".join(out)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
