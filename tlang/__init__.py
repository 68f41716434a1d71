"""tlang: tensor logic (Domingos 2025) on a formal einsum core."""

__version__ = "0.1.0"

from .parse import parse, parse_file  # noqa: E402
from .source import Source, Span, TlangError  # noqa: E402

__all__ = ["__version__", "parse", "parse_file", "Source", "Span", "TlangError"]
