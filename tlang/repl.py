"""The interactive REPL: statements in, answers out.

In: lines from a terminal (prompt_toolkit, with history) or from piped
standard input.  Out: query answers as tables, errors as located
diagnostics; the session state (the statements entered so far) survives any
error.  Commands start with ':' (``:help`` lists them).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from . import ast as A
from .source import Source, TlangError

HELP = """Enter facts, rules, equations and queries (a query ends with '?').
An unfinished statement (open bracket, trailing comma or operator) keeps
reading; an empty line ends it.
Commands:
  :help            this text
  :list            tensors with type and shape
  :show NAME       the value of a tensor
  :load FILE       add the statements of a .tl file
  :save FILE       write the statements entered so far
  :reset           forget everything
  :quit            leave (also Ctrl-D)"""


@dataclass
class Session:
    statements: list[A.Stmt] = field(default_factory=list)
    base_dir: Path = field(default_factory=Path.cwd)
    counter: int = 0

    def program(self) -> A.Program:
        return A.Program(tuple(self.statements))

    def evaluate(self, queries: list[A.Query]):
        from .api import expand
        from .build import build
        from .engine import evaluate
        stmts = [s for s in self.statements if not isinstance(s, A.Query)] + queries
        prog = expand(A.Program(tuple(stmts)), self.base_dir)
        return evaluate(build(prog, self.base_dir))

    def feed(self, text: str) -> list[str]:
        """Process one chunk of input; return the lines to print."""
        from .parse import parse
        from .show import format_answer
        stripped = text.strip()
        if not stripped:
            return []
        if stripped.startswith(":"):
            return self.command(stripped)
        self.counter += 1
        prog = parse(Source(f"<repl:{self.counter}>", text))
        queries = [s for s in prog.statements if isinstance(s, A.Query)]
        others = [s for s in prog.statements if not isinstance(s, A.Query)]
        trial = self.statements + others
        if queries:
            old = self.statements
            self.statements = trial
            try:
                results = self.evaluate(queries)
            except TlangError:
                self.statements = old
                raise
            return [format_answer(a) for a in results.answers]
        # check the new statements build before keeping them (state survives errors)
        from .api import expand
        from .build import build
        build(expand(A.Program(tuple(trial)), self.base_dir), self.base_dir, allow_undefined=True)
        self.statements = trial
        return []

    def command(self, line: str) -> list[str]:
        cmd, _, arg = line.partition(" ")
        arg = arg.strip()
        if cmd in (":help", ":h", ":?"):
            return [HELP]
        if cmd in (":quit", ":q", ":exit"):
            raise EOFError
        if cmd == ":reset":
            self.statements = []
            return ["(empty)"]
        if cmd == ":load":
            from .parse import parse_file
            prog = parse_file(arg)
            self.statements += [s for s in prog.statements if not isinstance(s, A.Query)]
            return [f"loaded {len(prog.statements)} statements from {arg}"]
        if cmd == ":save":
            from .fmt import format_program
            from .io import write_text
            write_text(Path(arg), format_program(self.program()))
            return [f"saved {len(self.statements)} statements to {arg}"]
        if cmd in (":list", ":show"):
            from .api import expand
            from .build import build
            from .engine import evaluate
            prog_ir = build(expand(self.program(), self.base_dir), self.base_dir, allow_undefined=True)
            if cmd == ":list":
                out = []
                for name, t in prog_ir.tensors.items():
                    kind = "relation" if t.boolean else "tensor"
                    out.append(f"{name}: {kind} shape {tuple(t.shape)}")
                return out or ["(no tensors)"]
            if arg not in prog_ir.tensors:
                raise TlangError(f"no tensor named '{arg}'")
            res = evaluate(prog_ir)
            from .engine import answer
            from .ir import QueryIR, ivar
            info = prog_ir.tensors[arg]
            free = tuple(f"_{k}" for k in range(len(info.stored_shape)))
            q = QueryIR(arg, arg, tuple(ivar(v) for v in free), free, tuple(zip(free, info.stored_shape)))
            from .show import format_answer
            return [format_answer(answer(prog_ir, q, res.tensors))]
        raise TlangError(f"unknown command '{cmd}' (try :help)")


def _complete(text: str) -> bool:
    """Whether the input so far is a complete statement (brackets balanced, no trailing operator)."""
    depth = 0
    in_str = False
    for ch in text:
        if ch == '"':
            in_str = not in_str
        elif not in_str:
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
    t = text.rstrip()
    return depth <= 0 and not in_str and not t.endswith((",", "<-", "←", ":-", "=", "+", "*", "/", "-"))


def run_lines(session: Session, lines, out=sys.stdout, err=sys.stderr) -> None:
    buf = ""
    for line in lines:
        blank = not line.strip()
        buf += line if line.endswith("\n") else line + "\n"
        if not _complete(buf) and not blank:  # a blank line ends an unfinished statement
            continue
        text, buf = buf, ""
        try:
            for o in session.feed(text):
                print(o, file=out, flush=True)
        except EOFError:
            return
        except TlangError as e:
            print(e.render(), file=err, flush=True)
    if buf.strip():
        try:
            for o in session.feed(buf):
                print(o, file=out, flush=True)
        except EOFError:
            return
        except TlangError as e:
            print(e.render(), file=err, flush=True)


def main() -> int:
    session = Session()
    if not sys.stdin.isatty():
        run_lines(session, sys.stdin)
        return 0
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory
    hist = Path.home() / ".tlang_history"
    try:
        ps = PromptSession(history=FileHistory(str(hist)))
    except OSError:
        ps = PromptSession()
    print(f"tlang {__version__} — tensor logic. :help for help, Ctrl-D to leave.")
    buf = ""
    while True:
        try:
            line = ps.prompt("tl> " if not buf else "... ")
        except EOFError:
            return 0
        except KeyboardInterrupt:
            buf = ""
            continue
        buf += line + "\n"
        if not _complete(buf) and line.strip():
            continue
        text, buf = buf, ""
        try:
            for o in session.feed(text):
                print(o)
        except EOFError:
            return 0
        except KeyboardInterrupt:
            print("interrupted")
        except TlangError as e:
            print(e.render(), file=sys.stderr)
