"""Reading a bulk-import file in chunks of rows, so a file larger than memory can be imported.

What streams: CSV (pandas' chunked reader: one pass, a chunk in memory at a time), GeoPackage and Shapefile
(pyogrio feature ranges, `skip_features`/`max_features`: both drivers seek to a feature directly). GeoJSON does
not stream: GDAL parses a GeoJSON file whole, and skipping features would parse it again per chunk, so it is read
once and then handed on in chunks (the later stages stay bounded; reading it is not). Each chunk keeps the row
numbers a person would look for (CSV line numbers, the header being line 1; feature numbers from 1), counted
across chunks. Repeated source ids across chunks are found by `SeenIds`.
"""
from __future__ import annotations

import csv
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from core.errors import InvalidInput

FIELDS = ("source_id", "category", "lon", "lat", "crs", "reported_at", "description", "status", "closed_at",
          "department")
REQUIRED = ("source_id", "category", "reported_at")
CHUNK = 100_000
INEXACT = "\x00inexact:"  # _cell's mark for a number a float cannot hold exactly (a NUL cannot come from a file)
VECTOR = (".geojson", ".json", ".gpkg", ".shp")


class BulkFileError(InvalidInput):
    """The file cannot be imported at all (unreadable, a mapped column missing); nothing was changed."""


@dataclass(frozen=True)
class Mapping:
    """Which column of the file holds each field (default: the field's own name), and file-wide defaults."""

    columns: dict[str, str] = field(default_factory=dict)
    crs: str = "EPSG:4326"
    source: str = "import"
    layer: str | None = None  # of a GeoPackage with several layers

    def column(self, name: str) -> str:
        return self.columns.get(name, name)


def read_chunks(path: str | os.PathLike, mapping: Mapping, *, size: int = CHUNK) -> tuple[int, Iterator[pd.DataFrame]]:
    """The number of rows in the file (CSV: its lines, so an estimate if values hold line breaks) and its tables
    of at most `size` rows, one column per field present and 'row'. Errors raise BulkFileError, also mid-file."""
    path = Path(path)
    suffix = path.suffix.lower()
    unknown = sorted(set(mapping.columns) - set(FIELDS))
    if unknown:
        raise BulkFileError(f"unknown field(s) in the mapping: {', '.join(unknown)}; fields are {', '.join(FIELDS)}")
    if suffix in (".csv", ".txt"):
        return _guard(path, lambda: _csv_total(path)), _reading(path, _csv_chunks(path, mapping, size))
    if suffix in VECTOR:
        layer, total = _guard(path, lambda: _vector_layer(path, mapping))
        return total, _reading(path, _vector_chunks(path, mapping, layer, total, size))
    raise BulkFileError(f"{path}: use a .csv, .geojson, .gpkg or .shp file, not {suffix or 'no suffix'}")


def read_table(path: str | os.PathLike, mapping: Mapping) -> pd.DataFrame:
    """The whole file as one table (small files, tests)."""
    _, chunks = read_chunks(path, mapping)
    return pd.concat(list(chunks), ignore_index=True)


def _guard(path: Path, read):
    try:
        return read()
    except BulkFileError:
        raise
    except Exception as exc:  # pandas and GDAL raise many kinds; the message is what a person needs
        raise BulkFileError(f"cannot read {path}: {exc}; nothing was imported") from None


def _reading(path: Path, chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    while True:
        table = _guard(path, lambda: next(chunks, None))
        if table is None:
            return
        yield table


def _csv_total(path: Path) -> int:
    lines, last = 0, b"\n"
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            lines += block.count(b"\n")
            last = block[-1:]
    return max(lines + (last != b"\n") - 1, 0)


def _csv_chunks(path: Path, mapping: Mapping, size: int) -> Iterator[pd.DataFrame]:
    """Chunks of rows numbered as lines (the header is line 1). A row with more fields than the header is not
    read but reported ('ragged' column) in the chunk where its number falls, so it is skipped as a bad row.
    index_col=False keeps pandas from taking the extra leading fields of a long first row as an index (which
    shifts every value one column over); such leading rows are skipped by number, as pandas would cut them short."""
    header = pd.read_csv(path, dtype=str, nrows=0, encoding="utf-8-sig").columns
    ragged = _long_leading_rows(path, len(header))  # row number → reason, until a chunk places it
    first, chunks = 2, 0
    with pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", chunksize=size, index_col=False,
                     on_bad_lines="warn", skiprows=[row - 1 for row in ragged]) as reader:
        while (raw := _next_chunk(reader, ragged, path)) is not None:
            rows = _numbers(first, len(raw), ragged)
            first, chunks = (int(rows[-1]) + 1 if len(rows) else first), chunks + 1
            yield _with_ragged(table_of(raw, rows, None, mapping, path), ragged, below=first)
    if ragged or not chunks:  # rows skipped after the last one read, or a header without rows (check its columns)
        yield _with_ragged(table_of(pd.DataFrame(columns=header), np.arange(0), None, mapping, path), ragged,
                           below=None)


SKIPPED_LINE = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")
TOO_MANY = "the row has {saw} fields, the header {expected} (a comma inside a value needs quotes)"


def _long_leading_rows(path: Path, fields: int) -> dict[int, str]:
    """The first rows of the file that have more fields than the header (until one that has not)."""
    found = {}
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = csv.reader(f)
        next(rows, None)
        for number, row in enumerate(rows, 2):
            if len(row) <= fields:
                break
            found[number] = TOO_MANY.format(saw=len(row), expected=fields)
    return found


def _next_chunk(reader, ragged: dict[int, str], path: Path) -> pd.DataFrame | None:
    """The next chunk, recording in `ragged` the rows pandas skipped for having too many fields (it says so only
    in warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        raw = next(reader, None)
    for message in (str(w.message) for w in caught if issubclass(w.category, pd.errors.ParserWarning)):
        for line, expected, saw in SKIPPED_LINE.findall(message):
            ragged[int(line)] = TOO_MANY.format(saw=saw, expected=expected)
        if "loss of data" in message:  # pandas cut a row short after all: refuse rather than lose values
            raise BulkFileError(f"{path}: a row has more fields than the header; nothing was imported")
    return raw


def _numbers(first: int, n: int, ragged: dict[int, str]) -> np.ndarray:
    """The row numbers of n rows read one after another from row `first` on, past the rows pandas skipped."""
    skipped = sorted(r for r in ragged if r >= first)
    return np.setdiff1d(np.arange(first, first + n + len(skipped)), skipped)[:n]


def _with_ragged(table: pd.DataFrame, ragged: dict[int, str], *, below: int | None) -> pd.DataFrame:
    """The chunk with the skipped rows numbered below `below` (None: all that are left) added as empty rows that
    carry their reason in 'ragged', in row order."""
    placed = sorted(r for r in ragged if below is None or r < below)
    if not placed:
        return table
    bad = pd.DataFrame({"row": placed, "ragged": [ragged.pop(r) for r in placed]})
    return pd.concat([table, bad], ignore_index=True).sort_values("row", kind="stable").reset_index(drop=True)


def _vector_layer(path: Path, mapping: Mapping) -> tuple[str | None, int]:
    import pyogrio

    layers = [name for name, _ in pyogrio.list_layers(path)]
    if mapping.layer is None and len(layers) > 1:
        raise BulkFileError(f"{path} has {len(layers)} layers ({', '.join(layers)}): name one with --layer")
    if mapping.layer is not None and mapping.layer not in layers:
        raise BulkFileError(f"{path} has no layer {mapping.layer!r}; its layers: {', '.join(layers)}")
    return mapping.layer, int(pyogrio.read_info(path, layer=mapping.layer)["features"])


def _vector_chunks(path: Path, mapping: Mapping, layer, total: int, size: int) -> Iterator[pd.DataFrame]:
    import pyogrio

    whole = path.suffix.lower() in (".geojson", ".json") or total < 0  # parsed whole by GDAL anyway: read it once
    frame = pyogrio.read_dataframe(path, layer=layer) if whole else None
    total = len(frame) if whole else total
    for start in range(0, max(total, 1), size):
        raw = frame.iloc[start:start + size] if whole else pyogrio.read_dataframe(
            path, layer=layer, skip_features=start, max_features=size)
        geometry = raw.geometry if "geometry" in raw else None
        values = pd.DataFrame(raw.drop(columns="geometry", errors="ignore")).apply(lambda c: c.map(_cell))
        yield table_of(values, np.arange(start, start + len(raw)) + 1, geometry, mapping, path)


def table_of(raw: pd.DataFrame, rows: np.ndarray, geometry, mapping: Mapping, path: Path) -> pd.DataFrame:
    """One chunk as a table with one column per field present ('row': the row number a person would look for)."""
    table = pd.DataFrame({"row": rows})
    for name in FIELDS:
        column = mapping.column(name)
        if column in raw.columns:
            table[name] = raw[column].to_numpy()
        elif name in mapping.columns:
            raise BulkFileError(f"{path} has no column {column!r} (mapped to {name}); its columns are "
                                f"{', '.join(map(str, raw.columns))}")
    if geometry is not None and not {"lon", "lat"} <= set(table.columns):
        points = shapely.get_type_id(geometry.values) == 0
        table["lon"] = np.where(points, shapely.get_x(geometry.values), np.nan)
        table["lat"] = np.where(points, shapely.get_y(geometry.values), np.nan)
        table["not_point"] = ~points
        if "crs" not in table.columns and geometry.crs is not None and "crs" not in mapping.columns:
            table["crs"] = geometry.crs.to_string()
    missing = [f for f in REQUIRED + ("lon", "lat") if f not in table.columns]
    if missing:
        raise BulkFileError(f"{path} lacks {', '.join(missing)}: name the columns with --map FIELD=COLUMN "
                            f"(its columns are {', '.join(map(str, raw.columns))})")
    return table


def _cell(value) -> str:
    """A vector file's attribute as text: whole numbers without '.0' (ids stored as numbers), missing as empty,
    and a number too large to be exact in a float marked so the check can refuse it."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, (float, np.floating)):
        if abs(value) > 2 ** 53:
            return f"{INEXACT}{value!r}"
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, (datetime, pd.Timestamp)):
        return value.isoformat()
    return str(value)


class SeenIds:
    """The source ids met so far in a file and the row of each one's first occurrence, across chunks: 64-bit
    hashes and row numbers (16 bytes a distinct id, not the ids themselves), in sorted runs, one per chunk."""

    def __init__(self) -> None:
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []

    def first_rows(self, ids: pd.Series, rows: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """For each id of a chunk: whether it repeats an earlier row of the file, and that first row (its own
        row when it does not). Then remembers the chunk's ids."""
        keys = pd.util.hash_pandas_object(ids, index=False).to_numpy()
        first = rows.groupby(ids.to_numpy()).transform("first").to_numpy()
        repeats = ids.duplicated().to_numpy()
        for run_keys, run_rows in self.runs:  # none is empty
            at = np.minimum(np.searchsorted(run_keys, keys), len(run_keys) - 1)
            hit = run_keys[at] == keys
            first = np.where(hit & (run_rows[at] < first), run_rows[at], first)
            repeats = repeats | hit
        new = ~repeats
        order = np.argsort(keys[new], kind="stable")
        if new.any():
            self.runs.append((keys[new][order], rows.to_numpy()[new][order]))
        if len(self.runs) > 8:  # keep the lookups few: merge the runs
            merged_keys = np.concatenate([k for k, _ in self.runs])
            merged_rows = np.concatenate([r for _, r in self.runs])
            order = np.argsort(merged_keys, kind="stable")
            self.runs = [(merged_keys[order], merged_rows[order])]
        return repeats, first
