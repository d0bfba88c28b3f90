"""The one exception type that reaches users as a single line."""


class UserError(Exception):
    """A problem the user can fix (bad name, missing data, corrupt file).

    The CLI prints ``error: <message>`` and exits with status 2, without a traceback.
    Messages are one line and say what to do.
    """


def one_line(message: str) -> str:
    """``message`` as one printable line: control characters a user's value brought in (newlines, tabs, ...)
    written as escapes (``\\n``), so the error stays one line that still shows the value."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
