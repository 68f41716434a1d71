"""The compiler pipeline as a list of named passes.

In: program text or a path (plus input arrays).  Out: the product of each
stage: ``parse`` -> AST, ``expand`` -> AST with includes/imports spliced,
``build`` -> IR (typed, extents solved, projection placed), ``rewrite`` -> IR
rewritten by verified rules (``tlang.rewrite.compiler``; its ``Log`` of rule
applications is ``stages["rewrite"]``; ``rewrite=False`` or the environment
variable ``TLANG_REWRITE=0`` turns it off), ``stratify`` ->
components in evaluation order (negation checked).  ``--show STAGE``
prints any stage; ``compile_program`` runs them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ast as A
from . import ir
from .api import expand, load_program
from .build import build
from .directives import check_directives
from .engine import strata


@dataclass
class Compiled:
    ast: A.Program
    expanded: A.Program
    ir: ir.ProgramIR
    base_dir: Path
    stages: dict[str, Any] = field(default_factory=dict)


def wants_learning(program: A.Program) -> bool:
    """Whether the program trains (then undefined tensors are parameters, not errors)."""
    return any(d.name in ("minimize", "maximize") for st in program.statements
               if isinstance(st, A.Query) for d in st.directives)


PASSES = ("parse", "expand", "build", "rewrite", "stratify")


def compile_program(path_or_source: str | Path, inputs: dict | None = None,
                    allowed_paths=(), allow_undefined: bool | None = None,
                    rewrite: bool | None = None) -> Compiled:
    """Run every pass; each stage's product is kept in ``Compiled.stages``."""
    prog, base = load_program(path_or_source)
    full = expand(prog, base)
    check_directives(full)
    undefined_ok = wants_learning(full) if allow_undefined is None else allow_undefined
    program_ir = build(full, base, inputs, allowed_paths, allow_undefined=undefined_ok)
    built = program_ir
    if rewrite is None:
        import os
        rewrite = os.environ.get("TLANG_REWRITE", "1") not in ("0", "", "off", "false")
    from .rewrite.engine import Log
    log = Log()
    if rewrite:
        from .rewrite.compiler import optimise
        program_ir, log = optimise(program_ir)
    order = strata(program_ir)
    return Compiled(prog, full, program_ir, base,
                    {"parse": prog, "expand": full, "build": built, "rewrite": log, "stratify": order})
