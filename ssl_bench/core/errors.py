"""The one exception type that reaches users as a single line."""

import re

# How torch re-raises an exception from a DataLoader worker: the exception's own type, built from the worker's
# whole traceback (torch.utils.data._utils.ExceptionWrapper.reraise).
_FROM_WORKER = re.compile(r"Caught UserError (in DataLoader worker process \d+)\.\nOriginal Traceback .*"
                          r"\n[\w.]*UserError: (.*?)\n?", re.DOTALL)


class UserError(Exception):
    """A problem the user can fix (bad name, missing data, corrupt file).

    The CLI prints ``error: <message>`` and exits with status 2, without a traceback.
    Messages are one line and say what to do. One raised in a DataLoader worker keeps its own message, with the
    worker named, instead of the worker's traceback that torch re-raises it with.
    """

    def __init__(self, message: str = "") -> None:
        found = _FROM_WORKER.fullmatch(message) if isinstance(message, str) else None
        super().__init__(f"{found[2]} ({found[1]})" if found else message)


def one_line(message: str) -> str:
    """``message`` as one printable line: control characters a user's value brought in (newlines, tabs, ...)
    written as escapes (``\\n``), so the error stays one line that still shows the value."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
