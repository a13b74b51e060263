"""Bytes -> the raw cell values of the sheets we need, without ever crashing the process.

`open_book(data, choose)` sniffs the format, applies the guards of `importers.guard`, lets
calamine open the workbook and returns a RawBook: the sheet list, the chosen sheets (`choose`
picks them from the sheet list), plus the error cells calamine hides. `book.sheet(name)` gives
one chosen sheet's plain Python values, A1-anchored, a row at a time. Anything unreadable ends
as `guard.Refusal` (the whole file) or in `book.unreadable` (one sheet); nothing else escapes.

A sheet is read when it is asked for, not before, and its rows are handed out one at a time.
In-process, calamine never sees the file itself: it reads workbooks packed from the file's
parts, the sheet list from one whose worksheets are all empty, each sheet from one of its own,
and a big sheet a slice of rows at a time (importers.slices says how, and why the values are
calamine's all the same). At 100,000 employees the ratings sheet's range, built whole, was
213 MB (350 MB while built); a slice's is a few MB.
Where calamine runs in the memory-capped child (a file the pre-checks cannot vouch for), the
child sends the chosen sheets' rows back whole, as lists.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from typing import Callable, Iterator

from . import guard
from .guard import Refusal
from .slices import Package, sliced_rows



def _fatal(e: BaseException) -> bool:
    """True for what must propagate. A Rust panic reaches Python as pyo3's PanicException, a
    BaseException subclass, so "except Exception" would miss it."""
    return isinstance(e, (KeyboardInterrupt, SystemExit, GeneratorExit, Refusal))


@dataclass
class RawSheet:
    """One sheet's values, A1-anchored: its first row, and the rows after it, one list each;
    its error cells, (0-based row, column) -> the error's text, which calamine reads as blank."""
    header: list
    body: Iterator[list]
    errors: dict[tuple[int, int], str] = field(default_factory=dict)


@dataclass
class RawBook:
    format: str
    sheets: list[tuple[str, str]]              # (name, "visible" | "hidden" | "veryhidden"), in order
    rows: dict[str, list[list]] = field(default_factory=dict)        # read in the child: whole
    unreadable: dict[str, str] = field(default_factory=dict)         # sheet -> why
    errors: dict[str, dict[tuple[int, int], str]] = field(default_factory=dict)
    isolated: bool = False
    chosen: list[str] = field(default_factory=list)
    package: Package | None = field(default=None, repr=False)   # in-process: read on demand
    members: dict[str, str] = field(default_factory=dict)       # chosen sheet -> its XML part

    def sheet(self, name: str) -> RawSheet | None:
        """The chosen sheet `name`, read now (None: unreadable, and why is in `unreadable`).
        Each sheet is given once: the book lets go of it. Raises Refusal for the whole file
        (a sheet too large, a password); its body raises SheetUnreadable if calamine fails
        partway through its rows."""
        if name in self.unreadable:
            return None
        if self.package is None:
            rows = self.rows.pop(name, None) or []
            body = iter(rows)
            header = next(body, [])
            del rows                            # the iterator holds them
            return RawSheet(header, body, self.errors.get(name) or {})
        try:
            rows = _package_rows(self.package, name, self.members[name])
            header = next(rows, [])
        except SheetUnreadable as e:
            self.unreadable[name] = str(e)
            return None
        return RawSheet(header, rows, self.errors.get(name) or {})

    def close(self) -> None:
        """Lets go of the file's parts."""
        self.package = None


class _Unsure(Exception):
    """The in-process pre-checks cannot vouch for this file: read it in the child instead."""


class SheetUnreadable(Exception):
    """calamine could not read one sheet, when it was opened or partway through its rows: the
    message says why (the importer reports the sheet)."""


def _visibility(meta) -> str:
    return str(meta.visible).rsplit(".", 1)[-1].lower()


def _open(data: bytes, fmt: str, choose: Callable[[list[str]], list[str]]):
    """calamine's workbook and the RawBook of its sheet list and chosen sheets."""
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
    book.chosen = choose([n for n, _ in book.sheets])
    return wb, book


def _sheet_rows(wb, name: str) -> Iterator[list]:
    """One sheet's rows as calamine reads them, A1-anchored, one list at a time: calamine
    builds the sheet's range here (the part that can fail); the Python lists are made as the
    rows are taken. Raises Refusal for the whole file, SheetUnreadable for this sheet."""
    from python_calamine import PasswordError

    try:
        sheet = wb.get_sheet_by_name(name)
        end = sheet.end                         # calamine's range is built; Python's is not yet
        if end is not None:
            guard.refuse_if_too_large(name, end[0] + 1, end[1] + 1)
        start = sheet.start
        rows = sheet.iter_rows()
    except PasswordError:
        raise Refusal("encrypted") from None
    except BaseException as e:                  # noqa: BLE001 - see _fatal
        if _fatal(e):
            raise
        raise _unreadable(e) from None
    # iter_rows gives every row from the first, but each from the range's first column: the
    # columns before it are blank, as to_python(skip_empty_area=False) gives them
    return _guarded(rows, [""] * start[1] if start is not None else [])


def _package_rows(package: Package, name: str, member: str) -> Iterator[list]:
    """One sheet's rows, read by calamine from a workbook packed around it (importers.slices):
    a slice at a time when its XML is big, else whole."""
    if package.size(member) > package.slice_bytes:
        rows = sliced_rows(package, name, member)
        if rows is not None:
            return _guarded(rows, [])
    try:
        wb = package.open(member, bytes(guard.read_member(package.z, member)))
    except BaseException as e:                  # noqa: BLE001 - see _fatal
        if _fatal(e):
            raise
        raise _unreadable(e) from None
    return _sheet_rows(wb, name)


def _guarded(rows: Iterator[list], pad: list) -> Iterator[list]:
    """The rows, each after `pad`; whatever calamine raises while it makes them (a value it
    cannot convert) ends as SheetUnreadable."""
    try:
        if pad:
            for row in rows:
                yield pad + row
        else:
            yield from rows
    except BaseException as e:                  # noqa: BLE001 - see _fatal
        if _fatal(e):
            raise
        raise _unreadable(e) from None


def _unreadable(e: BaseException) -> SheetUnreadable:
    """What calamine raised while it read a sheet (not _fatal), as the sheet's problem."""
    return SheetUnreadable(f"{type(e).__name__}: {e}"[:200])


def _read(data: bytes, fmt: str, choose: Callable[[list[str]], list[str]]) -> RawBook:
    """Open with calamine and read the chosen sheets whole (what the memory-capped child
    does, and sends back)."""
    wb, book = _open(data, fmt, choose)
    for name in book.chosen:
        try:
            book.rows[name] = list(_sheet_rows(wb, name))
        except SheetUnreadable as e:
            book.unreadable[name] = str(e)
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
    # calamine is given workbooks packed from the file's parts, never the file: this first one
    # has every worksheet empty (the sheet list is all it is read for)
    package = Package(z, set(parts.values()))
    _, book = _open(package.book(), "xlsx", choose)
    for name in book.chosen:
        if name not in parts:
            raise _Unsure()
        scan = guard.scan_sheet_xml(z, parts[name])
        if not scan.sure:
            raise _Unsure()
        guard.refuse_if_too_large(name, scan.max_row, scan.max_col)
        book.errors[name] = scan.errors
        book.members[name] = parts[name]
    book.package = package                      # each sheet read when asked for: RawBook.sheet
    return book
