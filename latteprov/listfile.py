"""Lists of names, paths or IDs, one a line, as the CLI reads them (``--from-list``, ``-``,
``--ensemble-map``, ``--expected-sizes``, ``--tape-listing``).

Lines are split on ``\\n`` only: a POSIX path may hold any other byte but NUL and ``/``, so
``\\r``, ``\\v``, ``\\f``, ``\\x1c``-``\\x1e``, ``\\x85`` and ``\\u2028`` (which
:meth:`str.splitlines` also splits on) stay inside a line. Readers then strip each line
(:meth:`str.strip`), so a file with ``\\r\\n`` endings reads as one with ``\\n``; a name that
begins or ends with whitespace cannot be listed. Each line must be UTF-8: the first one that
is not is an :class:`latteprov.errors.InputError` naming the file and the line.
"""
from __future__ import annotations

from pathlib import Path

from latteprov.errors import InputError


def split_lines(data: bytes, source: str, errors: str = "strict") -> list[str]:
    """The lines of ``data`` (split on ``\\n`` only; a last line without one counts), decoded
    as UTF-8; InputError ``SOURCE: line N is not UTF-8`` for the first that is not (unless
    ``errors`` is a decoding error handler such as ``"replace"``)."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for number, line in enumerate(lines, 1):
        try:
            out.append(line.decode("utf-8", errors))
        except UnicodeDecodeError:
            raise InputError(f"{source}: line {number} is not UTF-8") from None
    return out


def read_lines(path: str | Path, errors: str = "strict") -> list[str]:
    """:func:`split_lines` of the file at ``path`` (OSError when it cannot be read)."""
    return split_lines(Path(path).read_bytes(), str(path), errors)
