"""One reader for every manifest table: CSV/TSV (with a header, or without), JSONL/NDJSON, JSON (a list of
objects, or an object holding one such list, as Clotho-/WavCaps-style metadata files are). Every row keeps its
origin ("data.csv line 12") for error messages.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json")


class TableNotFoundError(FileNotFoundError, ValueError):
    """A manifest path that does not exist (both a FileNotFoundError and a ValueError, for either caller)."""


@dataclass
class Table:
    path: Path
    columns: list[str]
    rows: list[dict[str, Any]]
    origins: list[str] = field(default_factory=list)

    def items(self) -> list[tuple[str, dict[str, Any]]]:
        """(origin, row) pairs."""
        return list(zip(self.origins, self.rows))


def read_table(path: str | os.PathLike, header: bool = True) -> Table:
    """The rows of a manifest file; `header=False` reads a CSV/TSV without a header (columns "0", "1", ...)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ValueError(f"{path}: unsupported manifest type {suffix!r}; use one of {', '.join(TABLE_SUFFIXES)}")
    if not path.is_file():
        raise TableNotFoundError(f"manifest not found: {path}\ngive a .csv, .tsv, .jsonl or .json file")
    text = _read_text(path)
    if suffix in (".csv", ".tsv"):
        return _read_delimited(path, text, "\t" if suffix == ".tsv" else ",", header)
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: invalid JSON ({err})") from err
        if isinstance(data, dict):  # {"data": [...]}
            lists = [v for v in data.values() if isinstance(v, list)]
            if len(lists) != 1:
                raise ValueError(f"{path}: a .json manifest must be a list of objects (or an object holding one "
                                 "list); use .jsonl for one object per line")
            data = lists[0]
        if not isinstance(data, list):
            raise ValueError(f"{path}: a .json manifest must be a list of objects; use .jsonl for one per line")
        items = [(f"{path.name} item {i}", r) for i, r in enumerate(data)]
    else:
        items = []
        for n, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                items.append((f"{path.name} line {n}", json.loads(line)))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path.name} line {n}: invalid JSON ({err})") from err
    table = Table(path, [], [], [])
    for origin, row in items:
        if not isinstance(row, dict):
            raise ValueError(f"{origin}: expected a JSON object, got {type(row).__name__}")
        table.columns.extend(k for k in row if k not in table.columns)
        table.rows.append(row)
        table.origins.append(origin)
    return table


def _read_text(path: Path) -> str:
    """The file as UTF-8 text (a BOM is dropped); any other encoding is an error naming the line and byte."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise ValueError(f"{path} line {line}: not UTF-8 text (byte 0x{data[err.start]:02x} at column {column}); "
                         "save the manifest as UTF-8 (e.g. `iconv -f latin1 -t utf-8 in.csv > out.csv`)") from None


def _read_delimited(path: Path, text: str, delimiter: str, header: bool) -> Table:
    table = Table(path, [], [], [])
    f = io.StringIO(text, newline="")
    try:
        if not header:
            reader = csv.reader(f, delimiter=delimiter)
            for cells in reader:
                if cells:
                    table.rows.append({str(i): v for i, v in enumerate(cells)})
                    table.origins.append(f"{path.name} line {reader.line_num}")
            table.columns = [str(i) for i in range(max((len(r) for r in table.rows), default=0))]
            return table
        reader = csv.DictReader(f, delimiter=delimiter)
        table.columns = [(c or "").strip() for c in (reader.fieldnames or [])]
        for row in reader:
            table.rows.append({(k or "").strip(): v for k, v in row.items()})
            table.origins.append(f"{path.name} line {reader.line_num}")
    except csv.Error as err:
        raise ValueError(f"{path} line {reader.line_num}: {err}") from None
    return table


__all__ = ["TABLE_SUFFIXES", "Table", "TableNotFoundError", "read_table"]
