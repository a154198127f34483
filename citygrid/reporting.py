"""An Evaluation as a text table, a CSV file or an XLSX workbook, with Chinese + English headers."""
from __future__ import annotations

import csv
import os
import unicodedata

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from dispatch.reporting.evaluation import WEIGHTS, Evaluation, Indicator

NONE = "–"
XLSX_FORMATS = {"rate": "0.0%", "hours": "0.00", "score": "0.0", "count": "0"}
XLSX_CHANGE_FORMATS = {"rate": "+0.0%;-0.0%;0.0%", "hours": "+0.00;-0.00;0.00", "score": "+0.0;-0.0;0.0",
                       "count": "+0;-0;0"}
UNIT_NAMES = {"department": "部门 department", "district": "区 district", "street": "街道 street",
              "community": "社区 community", "grid": "网格 grid", "officer": "网格员 grid officer"}


def render_table(evaluation: Evaluation, *, keys: list[str] | None = None) -> str:
    """A fixed-width text table: one line per unit, each cell "this period (环比 change)"."""
    columns = _columns(evaluation, keys)
    head = [["代码", "名称"] + [c.zh for c in columns], ["code", "name"] + [c.en for c in columns]]
    body = [[row.code, row.name] + [_cell(c, row.current.get(c.key), row.change(c.key)) for c in columns]
            for row in evaluation.rows]
    widths = [max(_width(line[i]) for line in head + body) for i in range(len(head[0]))]
    lines = [_title(evaluation), ""]
    for n, line in enumerate(head + body):
        lines.append("  ".join(_pad(text, w, left=i < 2) for i, (text, w) in enumerate(zip(line, widths))).rstrip())
        if n == 1:
            lines.append("  ".join("-" * w for w in widths))
    if not body:
        lines.append("(no activity in either period)")
    return "\n".join(lines) + "\n"


def write_csv(evaluation: Evaluation, path: str | os.PathLike) -> None:
    """One line per unit: this period, the previous one and the change for every indicator (UTF-8 with BOM)."""
    columns = _columns(evaluation, None)
    header = ["期间 period", "代码 code", "名称 name"]
    for c in columns:
        label = f"{c.zh} {c.en}"
        header += [label, f"{label} 上期 previous ({evaluation.previous_period})", f"{label} 环比 change"]
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        for row in evaluation.rows:
            values = [evaluation.period, row.code, row.name]
            for c in columns:
                values += [_raw(row.current.get(c.key)), _raw(row.previous.get(c.key)), _raw(row.change(c.key))]
            out.writerow(values)


def write_xlsx(evaluation: Evaluation, path: str | os.PathLike) -> None:
    """A workbook: this period, the previous period, the change (环比), and a sheet of notes."""
    book = Workbook()
    columns = _columns(evaluation, None)
    sheets = [(f"本期 {evaluation.period}", lambda r, k: r.current.get(k), XLSX_FORMATS),
              (f"上期 {evaluation.previous_period}", lambda r, k: r.previous.get(k), XLSX_FORMATS),
              ("环比 change", lambda r, k: r.change(k), XLSX_CHANGE_FORMATS)]
    for n, (title, value, formats) in enumerate(sheets):
        sheet = book.active if n == 0 else book.create_sheet()
        sheet.title = title
        _fill(sheet, evaluation, columns, value, formats)
    _notes(book.create_sheet("说明 notes"), evaluation)
    book.save(path)


def _fill(sheet, evaluation: Evaluation, columns, value, formats) -> None:
    sheet.append([UNIT_NAMES[evaluation.by], "名称"] + [c.zh for c in columns])
    sheet.append(["code", "name"] + [c.en for c in columns])
    for cell in (*sheet[1], *sheet[2]):
        cell.font = Font(bold=True)
    for row in evaluation.rows:
        sheet.append([row.code, row.name] + [value(row, c.key) for c in columns])
        for cell, c in zip(sheet[sheet.max_row][2:], columns):
            cell.number_format = formats[c.kind]
    sheet.freeze_panes = "C3"
    for i in range(1, len(columns) + 3):
        sheet.column_dimensions[get_column_letter(i)].width = 16 if i > 2 else 22


def _notes(sheet, evaluation: Evaluation) -> None:
    weights = " + ".join(f"{w} × {k}" for k, w in WEIGHTS.items())
    for line in (
        ("评价期间 period", evaluation.period, _span(evaluation.start, evaluation.end)),
        ("上期 previous period (环比)", evaluation.previous_period, _span(evaluation.previous_start, evaluation.start)),
        ("单位 unit", UNIT_NAMES[evaluation.by], ""),
        ("综合得分 score", weights, "rates where more is better; none when nothing was due"),
        ("计数规则 counting rules", "docs/evaluation.md", "read rates beside their counts: small counts mislead"),
    ):
        sheet.append(list(line))
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 60
    sheet.column_dimensions["C"].width = 50


def _columns(evaluation: Evaluation, keys: list[str] | None) -> list[Indicator]:
    if keys is None:
        return list(evaluation.columns)
    known = {c.key: c for c in evaluation.columns}
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise ValueError(f"unknown indicator(s) {', '.join(unknown)}: use {', '.join(known)}")
    return [known[k] for k in keys]


def _title(evaluation: Evaluation) -> str:
    return (f"综合评价 evaluation by {UNIT_NAMES[evaluation.by]}: {evaluation.period} "
            f"({_span(evaluation.start, evaluation.end)}); 环比 against {evaluation.previous_period}")


def _span(start, end) -> str:
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} {start.tzinfo}"


def _cell(column: Indicator, value, change) -> str:
    text = _format(column.kind, value)
    return text if change is None else f"{text} ({_format(column.kind, change, signed=True)})"


def _format(kind: str, value, *, signed: bool = False) -> str:
    if value is None:
        return NONE
    sign = "+" if signed else ""
    if kind == "rate":
        return f"{value * 100:{sign}.1f}{'pp' if signed else '%'}"
    if kind == "hours":
        return f"{value:{sign}.2f}"
    if kind == "score":
        return f"{value:{sign}.1f}"
    return f"{value:{sign}d}"


def _raw(value):
    if value is None:
        return ""
    return round(value, 4) if isinstance(value, float) else value


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, *, left: bool) -> str:
    gap = " " * (width - _width(text))
    return text + gap if left else gap + text
