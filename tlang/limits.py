"""Resource limits: the default memory budget and a guard for deeply nested programs.

In: nothing (reads the machine's available memory and ``TLANG_MEMORY_LIMIT``).  Out:
``default_memory_limit()`` in bytes, ``parse_bytes("2G")``, and ``run_deep(fn, ...)``,
which runs a pass on a thread with a large stack so that deeply nested programs
(a sum of thousands of terms, ten thousand parentheses) compile instead of
overflowing Python's recursion limit, and turns a remaining overflow into a
located ``TlangResourceError``.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .source import TlangResourceError

T = TypeVar("T")

#: the share of the memory available at start-up that one run may use by default
DEFAULT_MEMORY_FRACTION = 0.5
#: Python frames allowed inside ``run_deep`` (the thread's stack is sized for it)
DEEP_RECURSION_LIMIT = 60_000
_STACK_BYTES = 512 * 2**20


def parse_bytes(text: str | int | None) -> int | None:
    """``"512M"``, ``"2G"``, ``"1e9"`` or an int -> bytes (None stays None)."""
    if text is None or isinstance(text, int):
        return text
    mult = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    t = str(text).strip().upper().removesuffix("IB").removesuffix("B")
    try:
        if t and t[-1] in mult:
            return int(float(t[:-1]) * mult[t[-1]])
        return int(float(t))
    except ValueError:
        raise TlangResourceError(f"cannot read the memory limit '{text}': write bytes, or a number with "
                                 "K, M, G or T (e.g. 2G)") from None


def available_memory() -> int | None:
    """Bytes of memory available now (None where the platform does not say)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def default_memory_limit() -> int:
    """``TLANG_MEMORY_LIMIT`` if set, else half the available memory (4 GiB if unknown)."""
    env = os.environ.get("TLANG_MEMORY_LIMIT")
    if env:
        return parse_bytes(env)
    avail = available_memory()
    return int((avail if avail else 8 * 2**30) * DEFAULT_MEMORY_FRACTION)


def run_deep(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn`` with a deep recursion budget; RecursionError becomes a TlangResourceError."""
    result: dict[str, Any] = {}

    def target() -> None:
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, DEEP_RECURSION_LIMIT))
        try:
            result["value"] = fn(*args, **kwargs)
        except RecursionError:
            result["error"] = TlangResourceError(
                "the program is nested too deeply to compile", None,
                [f"more than about {DEEP_RECURSION_LIMIT // 10:,} levels of nested expressions; "
                 "split long expressions into several equations"])
        except BaseException as e:  # re-raised in the caller's thread
            result["error"] = e
        finally:
            sys.setrecursionlimit(old)

    old_size = threading.stack_size()
    try:
        threading.stack_size(_STACK_BYTES)
        t = threading.Thread(target=target, name="tlang-deep", daemon=True)
        t.start()
    finally:
        threading.stack_size(old_size)
    while t.is_alive():
        t.join(0.1)  # a short wait keeps Ctrl-C responsive in the main thread
    if "error" in result:
        raise result["error"]
    return result["value"]
