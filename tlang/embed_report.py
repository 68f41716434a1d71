"""The embedding report: how often embedded reasoning disagrees with exact deduction, by dimension.

In: a program (AST, ``expand``-ed) with facts and rules, its folder, the
embedding dimensions to try and the number of seeds per dimension.  Out: a
``Report`` (one ``ReportRow`` per dimension: tuples compared, wrong tuples,
false positives and negatives, runs that were exact, runs whose recursion
did not settle), its text table (``format_report``) and a PNG plot
(``plot_report``, matplotlib's Agg backend).

Each run embeds the program with ``tlang.embed_kb`` at temperature 0 and
evaluates it; the exact relations are computed in the same run, so the
comparison is over every tuple of every embedded relation (all N^k
argument combinations, true and false).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import ast as A
from .embed_kb import EmbedConfig, embed_program, expand_embedded

DEFAULT_DIMS = (16, 64, 256, 1024)


@dataclass
class ReportRow:
    dim: int | None          # None: the program's own Emb
    runs: int
    tuples: int              # compared per run
    wrong: int               # summed over runs
    false_pos: int
    false_neg: int
    exact_runs: int          # runs with no wrong tuple
    unsettled: int           # runs whose recursion did not reach a fixpoint
    seconds: float
    by_relation: dict[str, int] = field(default_factory=dict)  # wrong tuples per relation, all runs

    @property
    def error_rate(self) -> float:
        return self.wrong / (self.tuples * self.runs) if self.tuples and self.runs else 0.0


@dataclass
class Report:
    name: str
    relations: list[str]
    skipped: dict[str, str]
    rows: list[ReportRow]
    reembed: bool = True

    def sufficient_dim(self) -> int | None:
        """The smallest dimension from which every larger one was exact in every run."""
        best = None
        for row in sorted(self.rows, key=lambda r: (r.dim or 0), reverse=True):
            if row.wrong == 0 and row.unsettled == 0:
                best = row.dim
            else:
                break
        return best

    def to_json(self) -> dict:
        return {"program": self.name, "relations": self.relations, "skipped": self.skipped,
                "reembed": self.reembed, "sufficient_dim": self.sufficient_dim(),
                "rows": [{"dim": r.dim, "runs": r.runs, "tuples": r.tuples, "wrong": r.wrong,
                          "error_rate": r.error_rate, "false_pos": r.false_pos, "false_neg": r.false_neg,
                          "exact_runs": r.exact_runs, "unsettled": r.unsettled,
                          "by_relation": r.by_relation} for r in self.rows]}


def run_once(program: A.Program, base_dir: Path, config: EmbedConfig, max_iter: int = 200):
    """Embed and evaluate once; return (embedded program, results, settled)."""
    from .build import build
    from .engine import ConvergenceWarning, Options, evaluate
    emb = embed_program(program, base_dir, config)
    prog_ir = build(expand_embedded(emb, base_dir), base_dir, allow_undefined=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        results = evaluate(prog_ir, Options(max_iter=max_iter))
    settled = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return emb, results, settled


def embed_report(program: A.Program, base_dir: str | Path = ".", dims=DEFAULT_DIMS, seeds: int = 3,
                 reembed: bool = True, name: str = "program", max_iter: int = 200,
                 seed: int = 0) -> Report:
    """Measure embedded reasoning (T = 0) against exact deduction at each dimension."""
    base_dir = Path(base_dir)
    rows: list[ReportRow] = []
    relations: list[str] = []
    skipped: dict[str, str] = {}
    user_emb = False
    for dim in dims:
        if user_emb:
            break
        t0 = time.monotonic()
        row = ReportRow(dim, 0, 0, 0, 0, 0, 0, 0, 0.0)
        for s in range(seeds):
            cfg = EmbedConfig(dim=dim, seed=seed + s, T=0.0, reembed=reembed)
            emb, res, settled = run_once(program, base_dir, cfg, max_iter)
            if emb.dim is None:  # the program's own (learned) embedding: dimensions do not apply
                user_emb = True
                row.dim = None
            relations, skipped = list(emb.relations), emb.skipped
            tuples = wrong = fp = fn = 0
            for rname, rel in emb.relations.items():
                exact = np.asarray(res.tensors[rname]) > 0
                got = np.asarray(res.tensors[rel.soft]) > 0.5
                tuples += exact.size
                bad = int(np.count_nonzero(exact != got))
                wrong += bad
                fp += int(np.count_nonzero(got & ~exact))
                fn += int(np.count_nonzero(exact & ~got))
                row.by_relation[rname] = row.by_relation.get(rname, 0) + bad
            row.runs += 1
            row.tuples = tuples
            row.wrong += wrong
            row.false_pos += fp
            row.false_neg += fn
            row.exact_runs += int(wrong == 0 and settled)
            row.unsettled += int(not settled)
            if user_emb:
                break
        row.seconds = time.monotonic() - t0
        rows.append(row)
    return Report(name, relations, skipped, rows, reembed)


def format_report(rep: Report) -> str:
    """The report as a text table."""
    lines = [f"embedding report for {rep.name}: embedded reasoning at T = 0 against exact deduction"]
    if rep.relations:
        lines.append(f"relations: {', '.join(rep.relations)}"
                     + ("" if rep.reembed else "  (no re-embedding between rule applications)"))
    for n, why in rep.skipped.items():
        lines.append(f"not embedded: {n}: {why}")
    if not rep.relations:
        lines.append("no relation to embed (facts and rules are needed)")
        return "\n".join(lines)
    head = ["dim", "runs", "tuples", "wrong", "error rate", "false +", "false -", "exact runs", "time"]
    table = []
    for r in rep.rows:
        runs = r.runs or 1
        table.append([str(r.dim) if r.dim else "Emb", str(r.runs), str(r.tuples),
                      f"{r.wrong / runs:.1f}" if r.wrong % runs else str(r.wrong // runs),
                      f"{100 * r.error_rate:.2f}%", str(r.false_pos), str(r.false_neg),
                      f"{r.exact_runs}/{r.runs}" + (f" ({r.unsettled} unsettled)" if r.unsettled else ""),
                      f"{r.seconds:.2f}s"])
    widths = [max(len(h), *(len(row[k]) for row in table)) for k, h in enumerate(head)]
    lines.append("  ".join(h.rjust(w) for h, w in zip(head, widths)))
    lines.append("  ".join("-" * w for w in widths))
    for row in table:
        lines.append("  ".join(c.rjust(w) for c, w in zip(row, widths)))
    lines.append("(wrong: tuples per run on which thresholded embedded reasoning and exact deduction "
                 "disagree; error rate: wrong / tuples)")
    best = rep.sufficient_dim()
    if best:
        lines.append(f"sufficient: dimension {best} and above gave exactly the deductive answers in every run")
    elif rep.rows and rep.rows[0].dim is not None:
        lines.append("no dimension tried was error-free in every run: try larger ones (--dims)")
    return "\n".join(lines)


def plot_report(rep: Report, path: str | Path) -> Path:
    """Save the error rate by dimension as a PNG (matplotlib, Agg backend)."""
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    rows = [r for r in rep.rows if r.dim]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    if rows:
        xs = [r.dim for r in rows]
        ys = [100 * r.error_rate for r in rows]
        ax.plot(xs, ys, marker="o", color="tab:blue", label="error rate (T = 0)")
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])
        for x, y, r in zip(xs, ys, rows):
            ax.annotate(f"{r.wrong / max(r.runs, 1):g}", (x, y), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=8)
    ax.set_xlabel("embedding dimension")
    ax.set_ylabel("tuples wrong (%)")
    ax.set_ylim(bottom=0)
    ax.set_title(f"Embedded vs exact reasoning: {rep.name}", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def parse_dims(text: str) -> tuple[int, ...]:
    """``"16,64,256"`` -> (16, 64, 256); raises ValueError on a bad list."""
    dims = tuple(int(x) for x in text.replace(" ", "").split(",") if x)
    if not dims or any(d < 1 for d in dims):
        raise ValueError(f"dimensions must be positive integers, not '{text}'")
    return dims
