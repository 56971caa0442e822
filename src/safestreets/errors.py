"""Exceptions with messages an analyst can act on: one hierarchy, mapped to exit codes at the boundary.

Every check a user can trip raises a :class:`SafestreetsError` subclass; its ``str`` is one readable
line. The CLI (and the web app) map these, and only these, to a user error; anything else is a bug and
is reported as an internal error. An invalid argument raises :class:`ParameterError`, which is also a
``ValueError`` so that library callers catching ``ValueError`` keep working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class SafestreetsError(Exception):
    """Base class: a problem the user can fix. ``str(err)`` is the one line the CLI prints."""


class ParameterError(SafestreetsError, ValueError):
    """An argument is not valid: a month range, a model name, a date, a number out of range."""


class WorkspaceError(SafestreetsError):
    """The workspace or its store cannot be used as asked (missing, settings invalid, CRS mismatch)."""


class NotFoundError(SafestreetsError, LookupError):
    """Something named by the user is not in the store: a forecast run, a plan, an area code."""


class NoDataError(SafestreetsError):
    """The store lacks what the job needs: no events for the target, no forecast yet, no areas."""


class NeedsTimestamps(NoDataError):
    """The job needs each event's time (a horizon under a month, near repeats) and the data give months."""


class AccessRefused(SafestreetsError, PermissionError):
    """The user may not see this: a role or an authorisation is missing (the refusal is audited)."""


def unknown(what: str, value: object, options: Iterable[str]) -> ParameterError:
    """A ParameterError for a value outside ``options``, with a "did you mean" where one is close."""
    opts = [str(o) for o in options]
    text = f"unknown {what} {value!r}"
    close = difflib.get_close_matches(str(value).lower(), [o.lower() for o in opts], n=1, cutoff=0.6)
    if close:
        match = next(o for o in opts if o.lower() == close[0])
        text += f": did you mean {match!r}?"
    if len(opts) <= 12:
        text += f" (one of: {', '.join(opts)})"
    return ParameterError(text)


class InputError(SafestreetsError):
    """A malformed input file: names the file and, where known, the row and column.

    ``row`` counts data rows from 1 (the header is not a row); ``line`` is the physical line in the
    file (the header is line 1), which is what a text editor shows.
    """

    def __init__(
        self,
        source: str | Path,
        reason: str,
        *,
        row: int | None = None,
        column: str | None = None,
        value: str | None = None,
    ) -> None:
        self.source = str(source)
        self.reason = reason
        self.row = row
        self.column = column
        self.value = value
        super().__init__(self._message())

    def _message(self) -> str:
        where = [self.source]
        if self.row is not None:
            where.append(f"row {self.row} (line {self.row + 1})")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = ", ".join(where) + f": {self.reason}"
        if self.value is not None:
            shown = self.value if len(self.value) <= 40 else self.value[:37] + "..."
            text += f" (got {shown!r})"
        return text


class FetchError(SafestreetsError):
    """A remote source (the data.police.uk API) could not give what was asked."""
