"""The REPL on a terminal: prompt_toolkit with history, completion and highlighting.

In: a ``repl.Session`` and keystrokes.  Out: answers on stdout, diagnostics
on stderr.  History is kept per user in ``$TLANG_HISTORY`` (default
``~/.tlang_history``); Tab completes commands, tensor names, functions,
keywords and file names (after ``:load``, ``:save`` and ``--plot``); input
is highlighted by ``tlang.highlight.TlangLexer``.  An unfinished statement
keeps reading on a ``...`` line (an empty line ends it) and is kept in the
history as one entry.  Ctrl-C at the
prompt clears the input; during an evaluation it cancels it and returns to
the prompt; Ctrl-D leaves.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from . import __version__
from .repl import COMMANDS, Session, _complete, _emit

KEYWORDS = ("domain", "index", "tensor", "const", "learn", "import", "include", "not")


def history_path() -> Path:
    """``$TLANG_HISTORY``, else ``~/.tlang_history``."""
    env = os.environ.get("TLANG_HISTORY")
    return Path(env).expanduser() if env else Path.home() / ".tlang_history"


def make_completer(session: Session):
    from prompt_toolkit.completion import Completer, Completion, PathCompleter
    from prompt_toolkit.document import Document

    from .functions import FUNCTIONS

    paths = PathCompleter(expanduser=True)
    word_re = re.compile(r"[A-Za-z_][A-Za-z0-9_]*'*$")

    class TlangCompleter(Completer):
        def get_completions(self, document, complete_event):
            text = document.text_before_cursor
            if text.lstrip().startswith(":"):
                head, sep, rest = text.lstrip().partition(" ")
                if not sep:
                    for c in COMMANDS:
                        if c.startswith(head):
                            yield Completion(c, -len(head), display_meta=COMMANDS[c][1][:40])
                    return
                if head in (":load", ":save") or rest.rsplit(" ", 1)[0].endswith("--plot"):
                    arg = rest.rsplit(" ", 1)[-1]
                    yield from paths.get_completions(Document(arg, len(arg)), complete_event)
                    return
                if head not in (":show", ":explain", ":T"):
                    return
            m = word_re.search(text)
            if not m:
                return
            word = m.group(0)
            seen = set()
            candidates = [(n, "tensor") for n in session.names()] + \
                [(f, "function") for f in FUNCTIONS] + [(k, "keyword") for k in KEYWORDS]
            for name, kind in candidates:
                if name.startswith(word) and name != word and name not in seen:
                    seen.add(name)
                    yield Completion(name, -len(word), display_meta=kind)

    return TlangCompleter()


def make_prompt(session: Session):
    """A prompt_toolkit PromptSession with history, completion and highlighting."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.lexers import PygmentsLexer

    from .highlight import TlangLexer
    try:
        path = history_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
        history = FileHistory(str(path))
    except OSError:
        history = InMemoryHistory()
    return PromptSession(history=history, lexer=PygmentsLexer(TlangLexer),
                         completer=make_completer(session), complete_while_typing=False,
                         multiline=True, key_bindings=_enter_bindings(),
                         prompt_continuation=lambda width, line, wrap: "...".ljust(width))


def _enter_bindings():
    """Enter submits a complete statement; inside an unfinished one it starts a new line,
    and on an empty line it submits what there is (so a mistake cannot trap the user)."""
    from prompt_toolkit.filters import has_completions
    from prompt_toolkit.key_binding import KeyBindings
    kb = KeyBindings()

    @kb.add("enter", filter=~has_completions)
    def _(event) -> None:
        buf = event.current_buffer
        text = buf.document.text_before_cursor
        last_line = text.rsplit("\n", 1)[-1]
        if not buf.text.strip() or _complete(buf.text) or not last_line.strip():
            buf.validate_and_handle()
        else:
            buf.insert_text("\n")

    return kb


def interact(session: Session) -> int:
    """Read, evaluate, print until Ctrl-D or :quit; return the exit status."""
    ps = make_prompt(session)
    print(f"tlang {__version__}: tensor logic.  :help for help, Ctrl-D to leave.", flush=True)
    while True:
        try:
            text = ps.prompt("tl> ")
        except EOFError:
            return 0
        except KeyboardInterrupt:  # Ctrl-C at the prompt: forget the unfinished input
            continue
        try:
            _emit(session, text, sys.stdout, sys.stderr)
        except EOFError:
            return 0
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr, flush=True)
