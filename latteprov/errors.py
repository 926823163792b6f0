"""The root of latteprov's own errors: their message is one line meant for the user.

The CLI turns these (and only these) into ``click.ClickException``; anything else is a bug
and keeps its traceback.
"""


class LatteprovError(Exception):
    """Base of every error the user can cause or fix."""


class InputError(LatteprovError, ValueError):
    """Input that does not fit: an unknown kind, a value of the wrong type, a bad filter."""


class NotFound(LatteprovError, LookupError):
    """No node answers to the given uid or name."""


ECHO_LIMIT = 200
"""At most this many characters of a user's value are echoed back in a message."""


def shorten(text: str, limit: int = ECHO_LIMIT) -> str:
    """``text`` as echoed in a message: whole when at most ``limit`` characters, else its first
    ``limit`` and ``…`` (a 2 MB line in a list must not become a 2 MB error)."""
    return text if len(text) <= limit else text[:limit] + "…"
