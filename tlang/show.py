"""Readable renderings of answers and IR for the CLI and REPL.

In: ``engine.Answer`` objects or a ``ProgramIR``.  Out: text.
"""

from __future__ import annotations

import numpy as np

from . import ir
from .engine import Answer


def _num(x: float) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.6g}"


def format_answer(a: Answer) -> str:
    if a.kind == "bool":
        return f"{a.query}? {'true' if a.value else 'false'}"
    if a.kind == "scalar":
        return f"{a.query}? {_num(float(a.value))}"
    if a.kind == "tensor":
        body = np.array2string(np.asarray(a.value), precision=6, suppress_small=True,
                               max_line_width=100, threshold=2000)
        shape = "x".join(str(n) for n in a.shape)
        return f"{a.query}? shape {shape}\n" + "\n".join("  " + ln for ln in body.splitlines())
    rows = [[str(x) for x in t] for t in a.tuples]
    header = list(a.vars)
    widths = [max([len(h)] + [len(r[k]) for r in rows]) for k, h in enumerate(header)]
    lines = [f"{a.query}? {len(rows)} answer{'s' if len(rows) != 1 else ''}"]
    if header:
        lines.append("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
        lines.append("  " + "  ".join("-" * w for w in widths))
        for r in rows:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return "\n".join(lines)


def format_ir(prog: ir.ProgramIR) -> str:
    """The IR as text: tensors with shapes, then equations."""
    out = ["# tensors"]
    for name, t in prog.tensors.items():
        kind = "bool" if t.boolean else t.dtype
        doms = ", ".join(f"{d}={n}" for d, n in zip(t.domains, t.shape))
        virt = f" virtual axis {t.virtual_axis + 1}" if t.virtual_axis is not None else ""
        out.append(f"{name}: {kind}[{doms}]{virt}")
    out.append("# equations")
    for eq in prog.equations:
        out.append(f"{eq.lhs}{list(eq.indices)} {eq.op} {eq.rhs!r}"
                   + (f"  (virtual {eq.virtual})" if eq.virtual else ""))
    return "\n".join(out)
