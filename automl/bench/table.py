"""Benchmark tables: every architecture of a space with its measured reward, as a CSV file.

A table has one column per decision of the space, named by the flat encoding
(``num_layers``, ``layers.0.type``, ``layers.0.units``, ``train.learning_rate``, or the names
under ``decisions:``), a ``reward`` column, and optionally ``seconds`` (training time), ``params``
and any other metric columns. A cell of a decision that does not occur in the row's
architecture (``layers.3.units`` of a two-layer network) is left empty. Columns of fixed settings
may be present and are ignored. An empty (or NaN, in any spelling) reward marks a child that
failed (its ``seconds`` may then be empty too). A UTF-8 byte-order mark is tolerated.

Rows are validated against the space with :meth:`SearchSpace.from_flat` and indexed by
:attr:`Architecture.id`, so a table written by ``automl tabulate`` and one converted from a
published benchmark are read the same way. See ``docs/benchmark.md``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import numpy as np

from automl.atomic_write import atomic_write
from automl.errors import DataError
from automl.errors import SpaceError
from automl.errors import allowed
from automl.errors import did_you_mean
from automl.errors import not_utf8
from automl.space import Architecture
from automl.space import SearchSpace

REWARD = "reward"
SECONDS = "seconds"
PARAMS = "params"


@dataclass(frozen=True)
class TableRow:
    """One architecture of a table.

    Attributes:
        architecture: The validated architecture.
        reward: The chosen metric column, or None for a failed child.
        seconds: Training time, when the table has a ``seconds`` column.
        line: Line of the row in the CSV file (for messages).
    """

    architecture: Architecture
    reward: float | None
    seconds: float | None
    line: int


@dataclass
class Table:
    """A loaded benchmark table: architecture id -> row, plus the statistics a benchmark needs.

    Attributes:
        space: The space the rows were validated against.
        path: The CSV file.
        metric: The column used as the reward (higher is better).
        rows: Architecture id -> row, in file order.
    """

    space: SearchSpace
    path: str
    metric: str
    rows: dict[str, TableRow] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    def lookup(self, architecture: Architecture) -> TableRow:
        """The row of ``architecture``; an error names its id when the table lacks it."""
        row = self.rows.get(architecture.id)
        if row is None:
            raise DataError(
                f"architecture {architecture.id} ({architecture.summary()}) is not in the table, "
                f"which holds {len(self.rows)} of the space's {self.space.size()} architectures; "
                "a benchmark table must hold every architecture a strategy can propose",
                source=self.path)
        return row

    @property
    def has_seconds(self) -> bool:
        return any(row.seconds is not None for row in self.rows.values())

    def rewards(self) -> np.ndarray:
        """Rewards of the children that did not fail."""
        return np.array([r.reward for r in self.rows.values() if r.reward is not None], float)

    @property
    def optimum(self) -> float:
        """The best reward in the table (regret is measured against it)."""
        return float(self.rewards().max())

    @property
    def worst(self) -> float:
        return float(self.rewards().min())

    def top_threshold(self, fraction: float) -> float:
        """Reward of the ``ceil(fraction * n)``-th best row: reaching it means being in the top.

        Failed children count as the worst rows, so they widen nothing.
        """
        rewards = np.sort(self.rewards())[::-1]
        k = max(1, math.ceil(fraction * len(self.rows)))
        return float(rewards[min(k, len(rewards)) - 1])


def table_columns(space: SearchSpace) -> list[str]:
    """The decision columns of ``space`` in decision order (each flat name once)."""
    columns: list[str] = []
    for decision in space.slots():
        if decision.name not in columns:
            columns.append(decision.name)
    return columns


def row_for(architecture: Architecture, result: Mapping[str, Any]) -> dict[str, Any]:
    """One table row: the architecture's flat encoding followed by ``result`` (reward, seconds,
    params, metrics). Fixed settings are included; :func:`load_table` ignores them."""
    return {**architecture.flat, **result}


def write_table(path: str | Path, rows: Iterable[Mapping[str, Any]], *,
                space: SearchSpace | None = None) -> Path:
    """Write rows (from :func:`row_for`) as a table CSV, atomically.

    Columns: the space's decision columns first (when ``space`` is given), then ``reward``,
    ``seconds`` and ``params``, then every other key in first-seen order. Missing values and
    None are written as empty cells.
    """
    rows = list(rows)
    columns: list[str] = table_columns(space) if space is not None else []
    head = [c for c in (REWARD, SECONDS, PARAMS) if any(c in row for row in rows)]
    for name in head:
        if name not in columns:
            columns.append(name)
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    path = Path(path)
    atomic_write(path, text.getvalue())
    return path


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def load_table(path: str | Path, space: SearchSpace, *, metric: str = REWARD) -> Table:
    """Read and validate a table against ``space``.

    Args:
        path: The CSV file.
        space: The space its architectures belong to.
        metric: The column to use as the reward (higher is better).

    Raises:
        DataError: naming the file, the line and the column of the first problem.
    """
    source = str(path)
    file = Path(path)
    if not file.is_file():
        raise DataError("file not found" if not file.exists() else "is not a file", source=source)
    table = Table(space=space, path=source, metric=metric)
    decision_columns = table_columns(space)
    try:
        with file.open(newline="", encoding="utf-8-sig") as handle:  # a BOM is tolerated
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise DataError("the file is empty; expected a header row", source=source)
            header = [h.strip() for h in header]
            _check_header(header, decision_columns, metric, source, space)
            end = reader.line_num
            for row_cells in reader:
                # a quoted cell may span lines: a row is named by the line it starts on
                line, end = end + 1, reader.line_num
                if not any(cell.strip() for cell in row_cells):
                    continue
                if len(row_cells) != len(header):
                    raise DataError(f"{len(row_cells)} cells, but the header has {len(header)}",
                                    source=source, key=f"line {line}")
                cells = dict(zip(header, (c.strip() for c in row_cells), strict=True))
                row = _parse_row(cells, space, decision_columns, metric, source, line)
                architecture_id = row.architecture.id  # a hash: computed once
                first = table.rows.get(architecture_id)
                if first is not None:
                    raise DataError(f"architecture {architecture_id} appears twice (first on "
                                    f"line {first.line})", source=source, key=f"line {line}")
                table.rows[architecture_id] = row
    except UnicodeDecodeError:
        raise DataError("is not UTF-8 text", source=source, key=not_utf8(file)) from None
    except csv.Error as exc:
        raise DataError(f"CSV syntax error: {exc}", source=source) from None
    if not table.rows:
        raise DataError("the table has no rows", source=source)
    if table.rewards().size == 0:
        raise DataError(f"every row has an empty {metric!r}: no child succeeded", source=source)
    if not math.isfinite(table.optimum - table.worst):
        raise DataError(f"the {metric!r} values span more than a float holds "
                        f"({table.worst:g} to {table.optimum:g}); rescale the column",
                        source=source)
    seconds = [row.seconds for row in table.rows.values() if row.seconds is not None]
    if not math.isfinite(sum(seconds)):  # simulated clocks add them up
        raise DataError(f"the {SECONDS!r} column adds up to more than a float holds "
                        f"(largest {max(seconds):g}); rescale the column", source=source)
    return table


def _check_header(header: list[str], decisions: list[str], metric: str, source: str,
                  space: SearchSpace) -> None:
    """Columns are checked here; which decision columns a row needs is checked per row, but a
    decision column that no row could do without (one every architecture has) must be here."""
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise DataError(f"duplicate columns: {allowed(duplicated)}", source=source, key="line 1")
    results = _result_columns(header, decisions, space)
    if metric in decisions or (metric in header and metric not in results):
        raise DataError(f"{metric!r} describes the architecture, not its result; the reward "
                        f"column is one of: {allowed(results) or 'none'}",
                        source=source, key="--metric")
    taken = space.next_decision({})
    first = taken.name if taken is not None else None
    if first is not None and first not in header:  # every architecture takes the first decision
        others = [h for h in header if h not in decisions]
        raise DataError(f"no column {first!r} (a decision of the space)"
                        f"{did_you_mean(first, others)}; the header has: "
                        f"{allowed(header) or 'nothing'}", source=source, key="line 1")
    if metric not in header:
        raise DataError(f"no column {metric!r}{did_you_mean(metric, results)}; the reward "
                        f"column is one of: {allowed(results) or 'none'}",
                        source=source, key="line 1")


def _result_columns(header: list[str], decisions: list[str],
                    space: SearchSpace) -> list[str]:
    """The columns that may hold a result: not a decision of the space, nor its ``id``, nor,
    in a space of layers, a setting every row shares (``num_layers``, ``layers.0.type``,
    ``train.epochs``: written by ``tabulate`` with each row's architecture). A space of plain
    ``decisions:`` has no such settings, so ``train.accuracy`` is a result there."""
    settings = ("layers.", "train.", "task.") if space.layer_types else ()
    return [h for h in header if h not in decisions and h != "id"
            and not (settings and (h == "num_layers" or h.startswith(settings)))]


def _parse_row(cells: dict[str, str], space: SearchSpace, decision_columns: list[str],
               metric: str, source: str, line: int) -> TableRow:
    flat = {name: cells[name] for name in decision_columns if cells.get(name, "") != ""}
    try:
        architecture = space.from_flat(flat, parse_strings=True)
    except SpaceError as exc:
        column = exc.key or "?"
        if column not in cells:
            others = [name for name in cells if name not in decision_columns]
            message = (f"missing column {column!r} (needed by this row's architecture)"
                       f"{did_you_mean(column, others)}")
        elif cells[column] == "":
            message = "empty, but this row's architecture has this decision"
        else:
            message = exc.message
        raise DataError(message, source=source, key=f"line {line}, column {column!r}") from None
    has = architecture.flat
    stray = next((name for name in flat if name not in has), None)
    if stray is not None:  # a shifted column, or a wrong count of layers, would pass unseen
        raise DataError(f"{flat[stray]!r}, but this row's architecture has no such decision "
                        "(leave it empty)", source=source, key=f"line {line}, column {stray!r}")
    reward = _number(cells[metric], source, line, metric, allow_empty=True)
    seconds = None
    if SECONDS in cells:
        # A failed child may have no time; it then costs nothing in simulated time.
        seconds = _number(cells[SECONDS], source, line, SECONDS, allow_empty=reward is None)
        if seconds is not None and seconds < 0:
            raise DataError("must not be negative", source=source,
                            key=f"line {line}, column {SECONDS!r}")
    return TableRow(architecture, reward, seconds, line)


def _number(text: str, source: str, line: int, column: str, *, allow_empty: bool) -> float | None:
    """A finite number; an empty cell or any spelling of NaN (``nan``, ``-nan``, ``NaN``) is a
    missing value, allowed where ``allow_empty`` (a failed child's reward)."""
    where = f"line {line}, column {column!r}"
    try:
        value = float(text) if text else math.nan
    except ValueError:
        raise DataError(f"expected a number, found {text!r}", source=source, key=where) from None
    if math.isnan(value):
        if allow_empty:
            return None
        found = "an empty cell" if not text else repr(text)
        raise DataError(f"expected a number, found {found}", source=source, key=where)
    if math.isinf(value):
        raise DataError("expected a finite number", source=source, key=where)
    return value
