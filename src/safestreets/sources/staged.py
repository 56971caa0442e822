"""What a source hands the store: its rows typed into canonical columns, and the checks they must pass.

Readers build these; ``store.load`` applies the checks and filters, keys and projects the rows and
stores them. Nothing here touches the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

FILE = "_file"  # in staged rows: which of a batch's sources the row came from
ErrorRow = tuple[int, str | None, str, str | None]  # (row, column, reason, value)


@dataclass(frozen=True)
class Problem:
    """One check over staged rows: which rows fail it, and the text to show for them."""

    column: str  # as the user knows it: the file's column name
    reason: str
    failing: np.ndarray  # bool, one per staged row
    value: Callable[[], pa.Array]  # the offending text per staged row (asked for on the error path only)


@dataclass
class Staged:
    """A source's rows typed into canonical columns, before checks and filters are applied.

    ``table`` holds ``_row`` (data rows from 1), the canonical columns of its kind and any text the
    key needs. ``keys`` makes the stable key of the rows that survive checks and filters; without it
    the table's own ``key0`` column (if any) is the key.
    """

    kind: str
    table: pa.Table
    problems: list[Problem]
    keys: Callable[[pa.Table], pa.Array] | None = None
