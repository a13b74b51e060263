"""Bytes -> the raw cell values of the sheets we need, without ever crashing the process.

`open_book(data, choose)` sniffs the format, applies the guards of `importers.guard`, lets
calamine read only the sheets `choose` picks (from the workbook's sheet list), and returns a
RawBook: plain Python values, A1-anchored (`to_python(skip_empty_area=False)`), plus the error
cells calamine hides. Anything unreadable ends as `guard.Refusal`; nothing else escapes.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from typing import Callable

from . import guard
from .guard import Refusal



def _fatal(e: BaseException) -> bool:
    """True for what must propagate. A Rust panic reaches Python as pyo3's PanicException, a
    BaseException subclass, so "except Exception" would miss it."""
    return isinstance(e, (KeyboardInterrupt, SystemExit, GeneratorExit, Refusal))


@dataclass
class RawBook:
    format: str
    sheets: list[tuple[str, str]]              # (name, "visible" | "hidden" | "veryhidden"), in order
    rows: dict[str, list[list]] = field(default_factory=dict)        # chosen sheets only
    unreadable: dict[str, str] = field(default_factory=dict)         # sheet -> why
    errors: dict[str, dict[tuple[int, int], str]] = field(default_factory=dict)
    isolated: bool = False


class _Unsure(Exception):
    """The in-process pre-checks cannot vouch for this file: read it in the child instead."""


def _visibility(meta) -> str:
    return str(meta.visible).rsplit(".", 1)[-1].lower()


def _read(data: bytes, fmt: str, choose: Callable[[list[str]], list[str]],
          before_read: Callable | None = None) -> RawBook:
    """Open with calamine and read the chosen sheets. Runs in-process or in the child."""
    from python_calamine import CalamineWorkbook, PasswordError

    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        metas = wb.sheets_metadata
    except PasswordError:
        raise Refusal("encrypted") from None
    except BaseException as e:                  # noqa: BLE001 - see _fatal
        if _fatal(e):
            raise
        raise Refusal("corrupt", f"{type(e).__name__}: {e}"[:200]) from None
    book = RawBook(fmt, [(m.name, _visibility(m)) for m in metas])
    chosen = choose([n for n, _ in book.sheets])
    if before_read is not None:
        before_read(chosen)
    for name in chosen:
        try:
            sheet = wb.get_sheet_by_name(name)
            end = sheet.end                     # calamine's range is built; Python's is not yet
            if end is not None and (end[0] + 1) * (end[1] + 1) > guard.MAX_CELLS:
                raise Refusal("sheet_too_large", name, end[0] + 1, end[1] + 1, guard.MAX_CELLS)
            book.rows[name] = sheet.to_python(skip_empty_area=False)
        except PasswordError:
            raise Refusal("encrypted") from None
        except BaseException as e:              # noqa: BLE001 - see _fatal
            if _fatal(e):
                raise
            book.unreadable[name] = f"{type(e).__name__}: {e}"[:200]
    return book


def open_book(data: bytes, choose: Callable[[list[str]], list[str]]) -> RawBook:
    fmt = guard.sniff(data)
    if fmt == "xlsx":
        try:
            return _read_xlsx_in_process(data, choose)
        except _Unsure:
            pass
    book = guard.run_isolated(_read, data, fmt, choose)
    book.isolated = True
    if fmt == "ods":
        found = guard.ods_error_cells(data)
        book.errors = {name: found[name] for name in book.rows if name in found}
    elif fmt == "xlsx":
        z = zipfile.ZipFile(io.BytesIO(data))
        parts = guard.xlsx_sheet_parts(z) or {}
        for name in book.rows:
            if name in parts:
                book.errors[name] = guard.scan_sheet_xml(z, parts[name]).errors
    return book


def _read_xlsx_in_process(data: bytes, choose) -> RawBook:
    z = zipfile.ZipFile(io.BytesIO(data))       # sniff() has already run check_zip on it
    if not guard.check_shared_strings(z):
        raise _Unsure()
    parts = guard.xlsx_sheet_parts(z)
    if parts is None:
        raise _Unsure()
    errors: dict[str, dict] = {}

    def before_read(chosen: list[str]) -> None:
        for name in chosen:
            if name not in parts:
                raise _Unsure()
            scan = guard.scan_sheet_xml(z, parts[name])
            if not scan.sure:
                raise _Unsure()
            if scan.max_row * scan.max_col > guard.MAX_CELLS:
                raise Refusal("sheet_too_large", name, scan.max_row, scan.max_col, guard.MAX_CELLS)
            errors[name] = scan.errors

    book = _read(data, "xlsx", choose, before_read)
    book.errors = errors
    return book
