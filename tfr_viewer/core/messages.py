"""One readable line for an error, as the window, the CLI and the jobs of the dataset model say it."""

from __future__ import annotations

from .errors import TFRecordError
from .storage import UnsupportedURL


def user_message(exc: BaseException) -> str:
    """One readable line for a dialog or the status bar: what went wrong and with which file."""
    if isinstance(exc, (TFRecordError, UnsupportedURL)):
        return str(exc)
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    if isinstance(exc, MemoryError):
        return "not enough memory"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def file_message(path: str, exc: BaseException) -> str:
    """`user_message`, naming `path` when the message does not already."""
    message = user_message(exc)
    return message if path in message else f"{path}: {message}"


def one_line(exc: BaseException) -> str:
    """The error's text on one line, whatever a path in it holds (an OSError without "[Errno n]")."""
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    elif isinstance(exc, OSError) and exc.strerror:  # OSError(errno, message): no "[Errno n]"
        text = exc.strerror
    else:
        text = str(exc)
    return " ".join(text.split()) or type(exc).__name__
