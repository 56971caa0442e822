"""Exceptions with messages an analyst can act on.

Every error that reaches the CLI is a :class:`SafestreetsError`; its ``str`` is one readable line.
"""

from __future__ import annotations

from pathlib import Path


class SafestreetsError(Exception):
    """Base class: a problem the user can fix. ``str(err)`` is the one line the CLI prints."""


class WorkspaceError(SafestreetsError):
    """The workspace or its store cannot be used as asked."""


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
