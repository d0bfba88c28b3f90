"""The one exception type that reaches users as a single line."""


class UserError(Exception):
    """A problem the user can fix (bad name, missing data, corrupt file).

    The CLI prints ``error: <message>`` and exits with status 2, without a traceback.
    Messages are one line and say what to do.
    """
