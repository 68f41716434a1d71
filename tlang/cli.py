"""The ``tlang`` command line: check, fmt, run, and the REPL.

In: ``sys.argv``.  Out: text on stdout (answers, formatted programs),
located diagnostics on stderr, and the exit status: 0 ok, 1 a bad program
(or ``fmt --check`` found a difference), 2 bad usage.  ``equiv A.tl B.tl``
exits 0 when the programs compute the same tensor, 1 when not; ``explain``
and ``run --show rewrites`` list the compiler's rule applications, and
``run --verify`` checks them by translation validation (tlang/rewrite).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from . import __version__
from .source import TlangError

BACKENDS = ["numpy", "jax", "cupy", "auto"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors exit 2, with a hint
        self.print_usage(sys.stderr)
        print(f"tlang: error: {message}\n(see 'tlang --help')", file=sys.stderr)
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tlang", description="Tensor logic: one language for logic, neural nets and "
                "embeddings. With no command, starts the REPL.")
    p.add_argument("--version", action="version", version=f"tlang {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    c = sub.add_parser("check", help="check programs statically (no execution)")
    c.add_argument("files", nargs="+")
    c.add_argument("--allow-path", action="append", default=[], metavar="DIR",
                   help="also allow reading files under DIR")
    f = sub.add_parser("fmt", help="print a program in canonical form")
    f.add_argument("file")
    f.add_argument("--check", action="store_true", help="exit 1 if the file is not canonical")
    f.add_argument("--write", "-w", action="store_true", help="rewrite the file in place")
    r = sub.add_parser("run", help="run a program and print its query answers")
    r.add_argument("file")
    r.add_argument("--backend", default="numpy", choices=BACKENDS,
                   help="numpy (default, the interpreting engine), jax, cupy, or auto (cupy with a CUDA "
                   "GPU, else jax if installed, else numpy)")
    r.add_argument("--x64", action="store_true", help="jax: compute in float64 (default float32)")
    r.add_argument("--shard", metavar="INDEX", default=None,
                   help="jax: split this index variable or domain across all devices")
    r.add_argument("--json", action="store_true", help="one JSON object per query, one per line")
    r.add_argument("--show", choices=["ast", "ir", "plan", "rewrites"], action="append", default=[],
                   help="print a compiler stage before running")
    r.add_argument("--max-iter", type=int, default=1000,
                   help="at most this many sweeps of a recursion (and steps of a loop with no length); default 1000")
    r.add_argument("--tol", type=float, default=1e-9,
                   help="a recursion has settled when a sweep changes no element by more than this, relative "
                   "and absolute; default 1e-9")
    r.add_argument("--strict", action="store_true",
                   help="a recursion that diverges, oscillates or does not settle, or a NaN answer, is an error "
                   "(default: a warning)")
    r.add_argument("--timeout", type=float, default=None, help="seconds for the whole run")
    r.add_argument("--verify", action="store_true", help="check on random inputs that the rewritten "
                   "program equals the original (names the rule application at fault)")
    r.add_argument("--memory-limit", type=str, default=None,
                   help="bytes (suffixes K, M, G); default: half the available memory (TLANG_MEMORY_LIMIT)")
    r.add_argument("--allow-path", action="append", default=[], metavar="DIR",
                   help="also allow reading and writing files under DIR (default: the program's folder only)")
    r.add_argument("--quiet", "-q", action="store_true", help="no training progress (also when not a terminal)")
    r.add_argument("--plot", metavar="PNG", default=None, help="save the training loss curve to this image")
    r.add_argument("--syntax", choices=["tl", "datalog"], default=None,
                   help="tl or datalog (Souffle style); default: datalog for .dl files, else tl")
    r.add_argument("--engine", choices=["memory", "duckdb"], default="memory",
                   help="memory (default) or duckdb: run the program as SQL in DuckDB")
    r.add_argument("--database", metavar="FILE", default=None,
                   help="duckdb: keep the tables in this database file (default: in memory)")
    r.add_argument("--relational", choices=["auto", "always", "never"], default="auto",
                   help="Boolean strata on sparse relations: auto (large or sparse ones), always, never")
    sq = sub.add_parser("sql", help="print a program lowered to SQL (the script --engine duckdb runs)")
    sq.add_argument("file")
    sq.add_argument("--syntax", choices=["tl", "datalog"], default=None,
                    help="tl or datalog; default: datalog for .dl files, else tl")
    sq.add_argument("--output", "-o", default=None, help="write the SQL to this file instead of stdout")
    pl = sub.add_parser("plan", help="print each equation's contraction plan: path, flops, memory")
    pl.add_argument("file")
    pl.add_argument("--optimize", default="auto", help="path optimiser (auto, greedy, dp, optimal, "
                    "branch-2, random-greedy, cotengra, ...)")
    pl.add_argument("--memory-limit", type=str, default=None, help="bytes (suffixes K, M, G)")
    g = sub.add_parser("compile", help="print the Python code generated for a backend")
    g.add_argument("file")
    g.add_argument("--backend", default="numpy", choices=BACKENDS, help="numpy (default), jax, cupy or auto")
    g.add_argument("--emit", default="python", choices=["python"], help="what to print (python source)")
    g.add_argument("--max-iter", type=int, default=1000, help="cap on fixpoint iterations")
    g.add_argument("--output", "-o", default=None, help="write the code to this file instead of stdout")
    gr = sub.add_parser("grad", help="print the gradient of a program's loss as a tensor-logic program")
    gr.add_argument("file")
    gr.add_argument("--loss", default=None, help="the loss tensor (default: the @minimize/@maximize query's)")
    gr.add_argument("--wrt", default=None, help="comma-separated tensors (default: the learnable ones)")
    gr.add_argument("--full", action="store_true", help="a runnable program: the forward program, start "
                    "values of the learnable tensors (seeded as for training), the gradient, its queries")
    gr.add_argument("--seed", type=int, default=None, help="seed of the start values (default: the directive's)")
    eq = sub.add_parser("equiv", help="decide whether two programs compute the same tensor")
    eq.add_argument("a")
    eq.add_argument("b")
    eq.add_argument("--output", default=None, help="the tensor to compare (default: the LHS of the last "
                    "equation of the first program)")
    ex = sub.add_parser("explain", help="list the compiler's rule applications: rule, location, before, after")
    ex.add_argument("file")
    er = sub.add_parser("embed-report", help="error rate of embedded reasoning against exact deduction, "
                        "by embedding dimension (table and PNG plot)")
    er.add_argument("file")
    er.add_argument("--dims", default="16,64,256,1024", help="comma-separated dimensions (default 16,64,256,1024)")
    er.add_argument("--seeds", type=int, default=3, help="random embeddings per dimension (default 3)")
    er.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    er.add_argument("--plot", metavar="PNG", default=None, help="where to save the plot (default "
                    "embed-report.png next to the program)")
    er.add_argument("--no-plot", action="store_true", help="print the table only")
    er.add_argument("--no-reembed", action="store_true", help="chain the raw embeddings: no extraction, "
                    "thresholding and re-embedding between rule applications")
    er.add_argument("--json", action="store_true", help="the report as one JSON object")
    sub.add_parser("repl", help="start the interactive REPL")
    return p


def _bytes(text: str | None) -> int | None:
    from .limits import parse_bytes
    return parse_bytes(text)


def _print_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def cmd_check(args) -> int:
    from .pipeline import compile_program
    bad = 0
    for path in args.files:
        try:
            compile_program(Path(path), allowed_paths=args.allow_path)
            print(f"{path}: ok")
        except TlangError as e:
            print(e.render(), file=sys.stderr)
            bad += 1
    return 1 if bad else 0


def cmd_fmt(args) -> int:
    from .fmt import format_program
    from .parse import parse_file
    prog = parse_file(args.file)
    text = format_program(prog)
    original = Path(args.file).read_text(encoding="utf-8")
    if args.check:
        if text != original:
            print(f"{args.file}: not in canonical form", file=sys.stderr)
            return 1
        return 0
    if args.write:
        from .io import write_text
        write_text(Path(args.file), text)
        return 0
    sys.stdout.write(text)
    return 0


def cmd_run(args) -> int:
    from .api import default_syntax
    from .engine import Options, evaluate
    from .pipeline import compile_program
    from .show import format_answer, format_ir
    token = default_syntax.set(args.syntax)
    try:
        compiled = compile_program(Path(args.file), allowed_paths=args.allow_path)
    finally:
        default_syntax.reset(token)
    for stage in args.show:
        print(f"== {stage} ==")
        if stage == "rewrites":
            print(compiled.stages["rewrite"].render())
            continue
        if stage == "plan":
            from .plan_program import format_plan, plan_program
            print(format_plan(plan_program(compiled.ir, memory_limit=_bytes(args.memory_limit)), compiled.ir))
            continue
        print(format_ir(compiled.ir) if stage == "ir" else repr(compiled.ast))
    if args.verify:
        from .rewrite.compiler import verify
        report = verify(compiled.stages["build"], compiled.ir, compiled.stages["rewrite"])
        print(report.render(), file=sys.stderr)
        if not report.ok:
            return 1
    from .pipeline import wants_learning
    if wants_learning(compiled.expanded):  # @minimize/@maximize: train, then answer with the learned values
        from .learn import train_program
        compiled.ir = train_program(compiled, backend=args.backend, quiet=args.quiet, plot=args.plot,
                                    x64=args.x64 or None)[0]
    from .outputs import store_paths
    store_paths(compiled.ir, args.allow_path)  # refuse an output path outside the folder before running
    opts = Options(backend=args.backend, max_iter=args.max_iter, tol=args.tol, strict=args.strict,
                   timeout=args.timeout,
                   memory_limit=_bytes(args.memory_limit), x64=args.x64 or None,
                   relational=args.relational)
    if args.engine == "duckdb":
        from .sql import run_duckdb
        results = run_duckdb(compiled.stages["build"], args.database, timeout=args.timeout)
    elif args.shard:
        from .shard import run_sharded
        results = run_sharded(compiled.ir, args.shard, opts)
    else:
        try:
            results = evaluate(compiled.ir, opts)
        except TlangError as e:  # nothing lost: print what was answered before the failure
            for a in getattr(e, "partial_answers", None) or ():
                print(json.dumps(a.to_json()) if args.json else format_answer(a), flush=True)
            raise
    from .outputs import write_stores
    for a in results.answers:
        if args.json:
            print(json.dumps(a.to_json()), flush=True)
        else:
            print(format_answer(a), flush=True)
    write_stores(compiled.ir, results, allowed=args.allow_path)
    return 0


def cmd_equiv(args) -> int:
    from .equiv import equivalent
    result = equivalent(Path(args.a), Path(args.b), output=args.output)
    print(result.render())
    return 0 if result else 1


def cmd_explain(args) -> int:
    from .pipeline import compile_program
    compiled = compile_program(Path(args.file))
    print(compiled.stages["rewrite"].render())
    return 0


def cmd_plan(args) -> int:
    from .pipeline import compile_program
    from .plan_program import format_plan, plan_program
    compiled = compile_program(Path(args.file))
    reports = plan_program(compiled.ir, optimize=args.optimize, memory_limit=_bytes(args.memory_limit))
    print(format_plan(reports, compiled.ir))
    return 0


def cmd_compile(args) -> int:
    from .codegen import emit_python
    from .pipeline import compile_program
    compiled = compile_program(Path(args.file))
    text = emit_python(compiled.ir, args.backend, max_iter=args.max_iter)
    if args.output:
        from .io import write_text
        write_text(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_grad(args) -> int:
    from .learn import grad_source
    wrt = [w.strip() for w in args.wrt.split(",") if w.strip()] if args.wrt else None
    sys.stdout.write(grad_source(Path(args.file), loss=args.loss, wrt=wrt, full=args.full, seed=args.seed))
    return 0


def cmd_embed_report(args) -> int:
    from .api import expand, load_program
    from .embed_report import embed_report, format_report, parse_dims, plot_report
    try:
        dims = parse_dims(args.dims)
    except ValueError as e:
        print(f"tlang: error: --dims: {e}", file=sys.stderr)
        return 2
    prog, base = load_program(Path(args.file))
    rep = embed_report(expand(prog, base), base, dims, max(1, args.seeds), reembed=not args.no_reembed,
                       name=Path(args.file).name, seed=args.seed)
    if args.json:
        print(json.dumps(rep.to_json()))
    else:
        print(format_report(rep), flush=True)
    if not args.no_plot and rep.relations:
        path = plot_report(rep, Path(args.plot) if args.plot else Path(args.file).parent / "embed-report.png")
        print(f"plot saved to {path}", file=sys.stderr if args.json else sys.stdout)
    return 0


def cmd_sql(args) -> int:
    from .api import expand, load_program
    from .build import build
    from .sql import to_sql
    prog, base = load_program(Path(args.file), syntax=args.syntax)
    text = to_sql(build(expand(prog, base), base), source=str(args.file))
    if args.output:
        from .io import write_text
        write_text(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser()
    args = parser.parse_args(argv)
    warnings.showwarning = _print_warning
    try:
        if args.command is None or args.command == "repl":
            from .repl import main as repl_main
            return repl_main()
        from .limits import run_deep  # deeply nested programs compile on a large stack
        return run_deep({"check": cmd_check, "fmt": cmd_fmt, "run": cmd_run, "compile": cmd_compile,
                "plan": cmd_plan, "grad": cmd_grad,
                "equiv": cmd_equiv, "explain": cmd_explain,
                "embed-report": cmd_embed_report, "sql": cmd_sql}[args.command], args)
    except TlangError as e:
        print(e.render(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
