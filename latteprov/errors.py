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
