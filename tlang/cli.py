"""The ``tlang`` command line: check, fmt, run, and the REPL.

In: ``sys.argv``.  Out: text on stdout (answers, formatted programs),
located diagnostics on stderr, and the exit status: 0 ok, 1 a bad program
(or ``fmt --check`` found a difference), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from . import __version__
from .source import TlangError


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
    f = sub.add_parser("fmt", help="print a program in canonical form")
    f.add_argument("file")
    f.add_argument("--check", action="store_true", help="exit 1 if the file is not canonical")
    f.add_argument("--write", "-w", action="store_true", help="rewrite the file in place")
    r = sub.add_parser("run", help="run a program and print its query answers")
    r.add_argument("file")
    r.add_argument("--backend", default="numpy", help="numpy (default)")
    r.add_argument("--json", action="store_true", help="one JSON object per query, one per line")
    r.add_argument("--show", choices=["ast", "ir"], action="append", default=[],
                   help="print a compiler stage before running")
    r.add_argument("--max-iter", type=int, default=1000, help="cap on fixpoint iterations")
    r.add_argument("--timeout", type=float, default=None, help="seconds for the whole run")
    r.add_argument("--memory-limit", type=str, default=None, help="bytes (suffixes K, M, G)")
    sub.add_parser("repl", help="start the interactive REPL")
    return p


def _bytes(text: str | None) -> int | None:
    if text is None:
        return None
    mult = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    t = text.strip().upper().rstrip("B")
    if t and t[-1] in mult:
        return int(float(t[:-1]) * mult[t[-1]])
    return int(float(t))


def _print_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def cmd_check(args) -> int:
    from .pipeline import compile_program
    bad = 0
    for path in args.files:
        try:
            compile_program(Path(path))
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
    from .engine import Options, evaluate
    from .pipeline import compile_program
    from .show import format_answer, format_ir
    compiled = compile_program(Path(args.file))
    for stage in args.show:
        print(f"== {stage} ==")
        print(format_ir(compiled.ir) if stage == "ir" else repr(compiled.ast))
    opts = Options(backend=args.backend, max_iter=args.max_iter, timeout=args.timeout,
                   memory_limit=_bytes(args.memory_limit))
    results = evaluate(compiled.ir, opts)
    from .outputs import write_stores
    for a in results.answers:
        if args.json:
            print(json.dumps(a.to_json()), flush=True)
        else:
            print(format_answer(a), flush=True)
    write_stores(compiled.ir, results)
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
        return {"check": cmd_check, "fmt": cmd_fmt, "run": cmd_run}[args.command](args)
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
