"""The errors of the wire codec: a malformed or oversized array on the wire.

Both are :class:`ValueError` subclasses that name the message field at fault, so each side
can map them to its own errors: the server turns :class:`WireError` into
INVALID_ARGUMENT and :class:`WireLimitError` into RESOURCE_EXHAUSTED; the client reports
a protocol error.
"""

from __future__ import annotations

__all__ = ["WireError", "WireLimitError"]


class WireError(ValueError):
    """An array (or a stream of chunks) on the wire is malformed.

    Parameters
    ----------
    description : str
        What is wrong, naming the bad value and what was expected.
    field : str, optional
        Path of the bad field (``"points.dtype"``); "" when the error is about the
        stream as a whole.

    Attributes
    ----------
    field, description : str
    """

    def __init__(self, description: str, field: str = "") -> None:
        super().__init__(f"{field}: {description}" if field else description)
        self.field = field
        self.description = description


class WireLimitError(WireError):
    """An array is larger than a cap the receiver set (checked before decoding).

    Parameters
    ----------
    field : str
        The field over the limit.
    limit, got : int
        The cap and what the message asks for, in bytes.
    detail : str, optional
        Extra explanation (e.g. the shape and dtype that give ``got``).
    """

    def __init__(self, field: str, limit: int, got: int, detail: str = "") -> None:
        text = f"{got} bytes exceed the limit of {limit}" + (f"; {detail}" if detail else "")
        super().__init__(text, field)
        self.limit = limit
        self.got = got
        self.detail = detail
