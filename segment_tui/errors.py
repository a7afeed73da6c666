"""Errors that the operator can fix: the command line exits 2 with the message."""


class InputError(Exception):
    """Input that is refused: bad arguments, setup, import file or customer.

    The message is one sentence that names the file, line, field or key and the way
    out. Nothing has been changed when it is raised.
    """
