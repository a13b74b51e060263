"""Read and validate a ledger workbook (SPEC §3, §3.1): bytes in, typed rows or every problem out.

    from importers import read_ledger, LedgerRefused
    try:
        ledger = read_ledger("2026-11.xlsx")          # Ledger: rows per canonical sheet
    except LedgerRefused as refused:
        for p in refused.problems:                    # every structural problem, sorted
            print(p)    # Behaviours!E7 (points): expected a number, got 'abc'

The steps, each collecting problems rather than stopping at the first:
1. bytes -> raw cell values of the ledger sheets (`importers.workbook`: format sniffing, guards
   against crafted files, calamine in-process or in a memory-capped child);
2. sheets and header cells matched to the schema by English or Chinese name (NFKC, case and
   whitespace ignored); duplicates, missing sheets and missing columns reported;
3. every used cell converted by its column's kind (`importers.normalize`), range-checked;
4. keys unique, master-data references resolved (`schema.REFERENCES`), manager chains acyclic.
Problems are worded last (`importers.messages`), once the language is known: the `lang`
argument, else the language most headers are written in.

Decisions where SPEC is silent (see also importers/normalize.py and importers/guard.py):
* hidden sheets named like a ledger sheet are read, with a warning (people hide finished sheets;
  ignoring them silently would drop data); visible sheets with other names are listed in a
  warning, hidden ones (dropdown lists such as the template's `_lists`) are not;
* a row is blank, and skipped, when every ledger column of it is blank: text in an extra column
  alone does not make a row;
* optional columns may be missing from the header; their values are then None (or the default);
* reference checks against a sheet that is absent but optional report every reference (the ids
  do not exist); against a sheet whose key column is missing, unreadable or has a bad cell they
  are skipped, since that problem is already reported and would only be echoed row by row;
* a manager cycle is one problem, at the manager_id cell of its earliest row, naming every cell;
* `HR` is reserved exactly as written (ids are case-sensitive, so `hr` is an ordinary id).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import unicodedata
from array import array
from decimal import Decimal
from itertools import islice, repeat
from operator import eq, itemgetter
from pathlib import Path
from typing import Callable

from . import messages
from .guard import Refusal, read_upload
from .columns import ColumnRows
from .memory import gc_paused, give_back_free_memory
from .normalize import BLANK, CONVERTERS, Bad, convert_column_types, make_enum, show
from .result import Ledger, LedgerRefused, Problem
from .schema import (ENUMS, REFERENCES, RESERVED_EMPLOYEE_IDS, SHEET_BY_NAME, SHEETS,
                     TRANSACTION_SHEETS, Column, Sheet)
from .spooled import SpooledRows, close_spooled
from .workbook import RawSheet, SheetUnreadable, open_book

Progress = Callable[[str, int, int | None], None]

TYPE_CHUNK = 8_192           # rows typed at a time: what is held of a sheet's raw values
                             # (65,536 held 55 MB more at 100,000 employees, for no speed)


class _Invalid:
    """A cell with a problem: never leaves this module. One object, and stays so through
    pickle (a transaction sheet's rows go to their file as they are typed, problems or not)."""
    __slots__ = ()

    def __reduce__(self):
        return "_INVALID"

    def __repr__(self) -> str:
        return "<invalid>"


_INVALID = _Invalid()


def _key(name) -> str:
    """Header/sheet matching key: NFKC, case-folded, every space (full-width too) removed."""
    s = unicodedata.normalize("NFKC", str(name)).casefold()
    return "".join(s.split())


_SHEET_KEYS: dict[str, tuple[Sheet, str]] = {}
_COLUMN_KEYS: dict[str, dict[str, tuple[Column, str]]] = {}
for _s in SHEETS:
    _SHEET_KEYS[_key(_s.name)] = (_s, "en")
    _SHEET_KEYS[_key(_s.zh)] = (_s, "zh")
    _cols: dict[str, tuple[Column, str]] = {}
    for _c in _s.columns:
        _cols[_key(_c.name)] = (_c, "en")
        _cols.setdefault(_key(_c.zh), (_c, "zh"))
    _COLUMN_KEYS[_s.name] = _cols

_ENUM_CONVERTERS = {name: make_enum(spellings) for name, spellings in ENUMS.items()}
# What a converter returns for a good cell, per column kind (anything else needs a look).
_GOOD_TYPE = {"id": str, "text": str, "enum": str, "number": Decimal, "ratio": Decimal,
              "date": dt.date}
_Blank = type(BLANK)


def col_letter(j: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    s = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


class _Found:
    """A problem before it is worded: where it is (for sorting) and what it is."""
    __slots__ = ("sheet_pos", "row", "col_pos", "sheet", "cell", "column", "sheet_def", "col",
                 "scope", "key", "args")

    def __init__(self, scope, key, args, *, sheet_pos=-1, row=0, col_pos=0, sheet=None,
                 cell=None, column=None, sheet_def=None, col=None):
        self.scope, self.key, self.args = scope, key, args
        self.sheet_pos, self.row, self.col_pos = sheet_pos, row, col_pos
        self.sheet, self.cell, self.column = sheet, cell, column
        self.sheet_def, self.col = sheet_def, col

    def render(self, lang: str) -> Problem:
        args = tuple(a.word(lang) if isinstance(a, _Lazy) else a for a in self.args)
        if self.scope == "workbook":
            expected, found = messages.workbook_problem(self.key, args, lang)
        elif self.scope == "sheet":
            expected, found = messages.sheet_problem(self.key, args, lang)
        else:
            expected, found = messages.cell_problem(self.key, args, self.col, lang)
        label = None
        if self.column:
            names = self.column.split(", ")
            if lang == "zh" and self.sheet_def is not None:
                names = [self.sheet_def.column(n).zh for n in names]
            label = ", ".join(names)
        return Problem(self.sheet, self.cell, self.column, expected, found, lang=lang,
                       column_label=label, kind=self.key)


class _Sheet:
    """One ledger sheet as found in the file."""

    def __init__(self, d: Sheet, name: str, pos: int):
        self.d, self.name, self.pos = d, name, pos
        self.colmap: dict[str, int] = {}            # canonical column -> 0-based index
        self.usable = True                          # False: unreadable or no header
        # a transaction sheet's rows go to a file as they are typed; the others are held by
        # column (importers.columns: the 100,000 rows of a big company's Employees sheet were
        # 26 MB as dicts, the largest thing the import holds besides the sheet it reads)
        self.rows: list[dict] | SpooledRows | ColumnRows = []
        self.key_hashes = array("q")                # hash of each typed row's key, in order
        # a held sheet's columns whose equal values are one object (Sheet.shared_columns),
        # each with the values met so far, kept from one chunk of rows to the next
        self.sharing: dict[str, dict] = {name: {} for name in d.shared_columns()}


GUIDE_SHEETS = {"说明", "guide"}     # the template's explanation sheet: expected, not "extra"


def read_ledger(path, *, lang: str | None = None, progress: Progress | None = None,
                only: tuple[str, ...] | None = None) -> Ledger:
    """Read, type and validate one ledger workbook. Raises LedgerRefused listing every problem.

    lang: "en" or "zh" for the messages and warnings; None = the language most headers use.
    progress(phase, done, total), if given, is called with phase "open" (0/1 then 1/1: format
    checks and calamine's parse), "read" (data rows converted so far / all data rows, once per
    sheet) and "check" (0/1 then 1/1: keys, references, manager chains).
    Never raises anything else for a user's file; a missing file is a LedgerRefused too.
    only: read just these sheets (canonical names), each of them required, without the
    cross-sheet master-data checks — e.g. ("Reviews",) for a manager's returned review workbook.
    """
    # A ledger is ~100k new dicts, lists and calamine's row lists, none of them in a cycle:
    # the cyclic collector would only walk them again and again as they pile up (as in
    # xietong/sample.py), so it pauses while they are built.
    with gc_paused():
        return _Reader(path, lang, progress, only).run()


class _Reader:
    def __init__(self, path, lang, progress, only=None):
        self.path = path
        self.only = frozenset(only) if only else None
        self.lang_arg = lang if lang in ("en", "zh") else None
        self.progress = progress or (lambda phase, done, total: None)
        self.found: list[_Found] = []
        self.votes = {"en": 0, "zh": 0}
        self.warnings: list[tuple[int, str, tuple]] = []   # (sheet position, key, args)
        self.sheets: dict[str, _Sheet] = {}          # canonical name -> sheet found

    # -- the steps ------------------------------------------------------------------------
    def run(self) -> Ledger:
        data = self._read_bytes()
        sha = hashlib.sha256(data).hexdigest() if data is not None else ""
        book = None
        if data is not None:
            self.progress("open", 0, 1)
            try:
                book = open_book(data, self._choose if self.only is None else self._choose_only)
            except Refusal as r:
                self.found.append(_Found("workbook", r.key, r.args_))
            del data                    # the book keeps what it needs (the .xlsx parts; calamine's copy)
            self.progress("open", 1, 1)
        if book is not None:
            if book.format in ("xls", "xlsb"):
                self.warnings.append((len(book.sheets) + 1, "errors_unchecked", (book.format,)))
            self._match_sheets(book)
            try:
                self._read_sheets(book)
            except Refusal as r:              # the whole file, found as a sheet was read
                self._close()
                self.found = [_Found("workbook", r.key, r.args_)]
            else:
                self.progress("check", 0, 1)
                self._check_keys()
                if self.only is None:
                    self._check_references()
                    self._check_managers()
                self.progress("check", 1, 1)
        lang = self.lang_arg or ("zh" if self.votes["zh"] > self.votes["en"] else "en")
        if self.found:
            self._close()
            self.found.sort(key=lambda f: (f.sheet_pos, f.row, f.col_pos))
            raise LedgerRefused([f.render(lang) for f in self.found], lang)
        return Ledger(
            file_name=Path(str(self.path)).name,
            sha256=sha,
            rows={s.name: (self.sheets[s.name].rows if s.name in self.sheets else []) for s in SHEETS},
            sheet_names={c: sh.name for c, sh in self.sheets.items()},
            lang=lang,
            warnings=[messages.warning(k, a, lang)
                      for _, k, a in sorted(self.warnings, key=lambda w: w[0])],
            format=book.format,
            columns={c: {name: col_letter(j) for name, j in sh.colmap.items()}
                     for c, sh in self.sheets.items()},
        )

    def _read_sheets(self, book) -> None:
        """Each sheet in the file's order: read, its header matched, its rows typed — one
        sheet's raw values at a time (importers.workbook says why)."""
        done = 0
        try:
            for sh in sorted(self.sheets.values(), key=lambda s: s.pos):
                raw = book.sheet(sh.name) if sh.usable else None
                if sh.usable and raw is None:
                    self._unreadable(sh, book.unreadable[sh.name])
                self._read_header(sh, raw)
                done = self._type_rows(sh, raw, done)
                del raw
                # what the sheet's slices and typing freed goes back to the system before the
                # next sheet (after a 100,000-employee import: 160 MB resident, 172 without)
                give_back_free_memory()
        finally:
            book.close()
        self.progress("read", done, done)

    def _unreadable(self, sh: _Sheet, why: str) -> None:
        sh.usable = False
        self.found.append(_Found("sheet", "unreadable_sheet", (why,), sheet_pos=sh.pos,
                                 sheet=sh.name))

    def _close(self) -> None:
        """Gives back the files of the transaction sheets typed so far (a refused ledger)."""
        close_spooled({name: sh.rows for name, sh in self.sheets.items()})

    def _read_bytes(self) -> bytes | None:
        p = os.fspath(self.path) if isinstance(self.path, os.PathLike) else str(self.path)
        try:
            return read_upload(p)               # size checked before reading
        except Refusal as r:
            self.found.append(_Found("workbook", r.key, r.args_))
        except FileNotFoundError:
            self.found.append(_Found("workbook", "no_file", (p,)))
        except IsADirectoryError:
            self.found.append(_Found("workbook", "not_a_file", (p,)))
        except (OSError, ValueError) as e:
            self.found.append(_Found("workbook", "io_error", (f"{type(e).__name__}: {e}",)))
        return None

    def _choose_only(self, names: list[str]) -> list[str]:
        return [n for n in self._choose(names) if _SHEET_KEYS[_key(n)][0].name in self.only]

    @staticmethod
    def _choose(names: list[str]) -> list[str]:
        """The sheets calamine must read: the first one named for each ledger sheet."""
        seen, chosen = set(), []
        for n in names:
            hit = _SHEET_KEYS.get(_key(n))
            if hit and hit[0].name not in seen:
                seen.add(hit[0].name)
                chosen.append(n)
        return chosen

    def _match_sheets(self, book) -> None:
        by_canonical: dict[str, list[tuple[int, str, str]]] = {}
        extra = []
        for pos, (name, visibility) in enumerate(book.sheets):
            hit = _SHEET_KEYS.get(_key(name))
            if hit and self.only is not None and hit[0].name not in self.only:
                continue
            if not hit:
                # hidden helpers (dropdown lists) and the template's guide sheet are no news
                if visibility == "visible" and _key(name) not in GUIDE_SHEETS:
                    extra.append(name)
                continue
            d, how = hit
            self.votes[how] += 1
            by_canonical.setdefault(d.name, []).append((pos, name, visibility))
        for d in SHEETS:
            present = by_canonical.get(d.name)
            if not present:
                if (d.required if self.only is None else d.name in self.only):
                    self.found.append(_Found("sheet", "missing_sheet",
                                             (d.name, d.zh, [n for n, _ in book.sheets]),
                                             sheet_pos=-1, col_pos=SHEETS.index(d)))
                continue
            pos, name, visibility = present[0]
            sh = self.sheets[d.name] = _Sheet(d, name, pos)
            if visibility != "visible":
                self.warnings.append((pos, "hidden_sheet", (name,)))
            for pos2, name2, _ in present[1:]:
                self.found.append(_Found("sheet", "duplicate_sheet",
                                         (d.name, d.zh, [name] + [n for _, n, _ in present[1:]]),
                                         sheet_pos=pos2, sheet=name2))
            if name in book.unreadable:       # read in the child, which could not
                self._unreadable(sh, book.unreadable[name])
        if extra:
            self.warnings.append((len(book.sheets), "extra_sheets", (extra,)))

    def _read_header(self, sh: _Sheet, raw: RawSheet | None) -> None:
        if not sh.usable or raw is None:
            return
        header = raw.header
        seen: dict[str, tuple[int, str]] = {}
        extra, shown_headers = [], []
        last = -1
        for j, h in enumerate(header):
            if h is None or (isinstance(h, str) and not h.strip()):
                continue
            last = j
            text = h if isinstance(h, str) else show(h)
            shown_headers.append(text.strip() if isinstance(h, str) else text)
            hit = _COLUMN_KEYS[sh.d.name].get(_key(text))
            if not hit:
                extra.append((text.strip(), f"{col_letter(j)}1"))
                continue
            c, how = hit
            self.votes[how] += 1
            if c.name in seen:
                first_j, first_text = seen[c.name]
                self.found.append(_Found(
                    "sheet", "duplicate_column",
                    (_ColLabel(sh.d.name, c.name), text.strip(), first_text,
                     f"{col_letter(first_j)}1"),
                    sheet_pos=sh.pos, row=1, col_pos=j, sheet=sh.name,
                    cell=f"{col_letter(j)}1", column=c.name, sheet_def=sh.d))
                continue
            seen[c.name] = (j, text.strip())
            sh.colmap[c.name] = j
        header_ref = f"A1:{col_letter(last)}1" if last > 0 else "A1"
        for i, c in enumerate(sh.d.columns):
            if c.name not in sh.colmap and not c.optional:
                self.found.append(_Found("sheet", "missing_column", (c.name, c.zh, shown_headers),
                                         sheet_pos=sh.pos, row=1, col_pos=10**6 + i,
                                         sheet=sh.name, cell=header_ref, column=c.name,
                                         sheet_def=sh.d))
        if extra:
            self.warnings.append((sh.pos, "extra_columns", (sh.name, extra)))

    def _type_rows(self, sh: _Sheet, raw: RawSheet | None, done: int) -> int:
        """Convert every used cell of the sheet, TYPE_CHUNK rows at a time; rows become dicts
        in sh.rows — held, or for a transaction sheet written to a file (SpooledRows) — and
        each row's key is noted by its hash, for _check_keys.

        Column by column rather than row by row: map() runs the converter over a whole column
        at C speed, and a column whose results all have the expected type (the common case)
        needs no further look; nor does an optional column whose only other results are blanks
        (comments, notes): its blanks take the default in one pass. This keeps 100k rows well
        under calamine's own parse time.
        """
        if not sh.usable or raw is None:
            return done
        plan = [c for c in sh.d.columns if c.name in sh.colmap]
        names = ("row", *(c.name for c in plan),
                 *(c.name for c in sh.d.columns if c.name not in sh.colmap))
        # a transaction sheet's rows go to a file, the others are held by column
        sh.rows = (SpooledRows if sh.d.name in TRANSACTION_SHEETS else ColumnRows)(names)
        errors = raw.errors
        first = 0                                    # body index of the chunk's first row
        while True:
            try:
                chunk = list(islice(raw.body, TYPE_CHUNK))
            except SheetUnreadable as e:             # calamine failed partway through
                close_spooled({sh.name: sh.rows})
                sh.rows, sh.key_hashes = [], array("q")
                self._unreadable(sh, str(e))
                return done
            if not chunk:
                break
            self._type_chunk(sh, plan, names, chunk, first, errors)
            first += len(chunk)
            done += len(chunk)
            self.progress("read", done, None)
        if isinstance(sh.rows, SpooledRows):
            sh.rows.flush()
        sh.sharing = {}
        return done

    def _type_chunk(self, sh: _Sheet, plan: list[Column], names: tuple[str, ...],
                    body: list[list], first: int, errors: dict) -> None:
        """_type_rows' work on the rows `body`, the sheet's data rows from index `first`."""
        n = len(body)
        error_rows: dict[int, list[int]] = {}       # column -> chunk rows of its error cells
        for (i, jj) in errors:
            if first < i <= first + n:
                error_rows.setdefault(jj, []).append(i - 1 - first)
        columns: list[list] = []
        kinds: list[set] = []                        # per column: the types of its results
        for c in plan:
            j = sh.colmap[c.name]
            kind = "typed" if c.as_typed else c.kind
            conv = _ENUM_CONVERTERS[c.enum] if c.kind == "enum" else CONVERTERS[kind]
            values, types = convert_column_types(kind, conv, list(map(itemgetter(j), body)))
            columns.append(values)
            kinds.append(types)

        def error_at(k: int, j: int) -> bool:
            return (first + k + 1, j) in errors

        # Blank rows: every ledger column blank, and no error cell among them.
        blank: set[int] = set()
        if kinds and _Blank in kinds[0]:
            cand = [k for k, v in enumerate(columns[0]) if v is BLANK]
            blank = {k for k in cand
                     if all(col[k] is BLANK for col in columns)
                     and not any(error_at(k, sh.colmap[c.name]) for c in plan)}
        if sh.d.name == "Reviews" and "decision" in sh.colmap:
            # SPEC §6: blank decision cells are skipped — a manager decides some items of the
            # review workbook and leaves the rest (and HR's read-only rejections) blank.
            dcol = [c.name for c in plan].index("decision")
            blank |= {k for k in range(n) if columns[dcol][k] is BLANK
                      and not error_at(k, sh.colmap["decision"])}
        for ci, (c, values, types) in enumerate(zip(plan, columns, kinds)):
            j = sh.colmap[c.name]
            good = _GOOD_TYPE[c.kind]
            bad_rows = error_rows.get(j, [])
            if types == {good}:
                pass                                  # only the error cells need a look
            elif not bad_rows and c.optional and types == {good, _Blank}:
                # Blanks only, no error cell: each blank takes the default. Blank rows get it
                # too, harmlessly: they are dropped below.
                d = c.default
                values = columns[ci] = [d if v is BLANK else v for v in values]
            else:
                bad_rows = [k for k, v in enumerate(values) if type(v) is not good] + bad_rows
            for k in sorted(set(bad_rows)):
                if k in blank:
                    continue
                v = values[k]
                if error_at(k, j):
                    self.found.append(self._cell(sh, first + k + 1, j, c, "error",
                                                 (errors[(first + k + 1, j)] or None,)))
                    values[k] = _INVALID
                elif v is BLANK:
                    if c.optional:
                        values[k] = c.default
                    else:
                        self.found.append(self._cell(sh, first + k + 1, j, c, "blank", ()))
                        values[k] = _INVALID
                elif type(v) is Bad:
                    self.found.append(self._cell(sh, first + k + 1, j, c, v.key, v.args))
                    values[k] = _INVALID
            if c.kind in ("number", "ratio") and (c.min is not None or c.max is not None):
                decimals = (values if types == {Decimal} and not bad_rows
                            else [d for d in values if type(d) is Decimal])
                if not decimals or (_in_range(min(decimals), c) and _in_range(max(decimals), c)):
                    continue
                for k, d in enumerate(values):
                    if type(d) is Decimal and not _in_range(d, c):
                        self.found.append(self._cell(sh, first + k + 1, j, c, "range",
                                                     (body[k][j],)))
                        values[k] = _INVALID
        iterables: list = [range(first + 2, first + n + 2), *columns]
        for c in sh.d.columns:
            if c.name not in sh.colmap:
                iterables.append(repeat(c.default, n))
        if blank:
            iterables = [[v for k, v in enumerate(it) if k not in blank] for it in iterables]
        if sh.d.key and all(k in sh.colmap for k in sh.d.key):
            keys = [iterables[names.index(k)] for k in sh.d.key]
            sh.key_hashes.extend(map(hash, keys[0] if len(keys) == 1 else zip(*keys)))
        if isinstance(sh.rows, SpooledRows):
            sh.rows.extend(zip(*iterables))
        else:
            # held from the import to the end of `xietong run`'s reports, in the run process
            # and the processes it forks: equal values as one object, as the database gives
            # them back (evaluator.store.load_rows)
            sh.rows.extend_columns(iterables, sh.sharing)

    def _cell(self, sh: _Sheet, i: int, j: int, c: Column, key: str, args: tuple) -> _Found:
        return _Found("cell", key, args, sheet_pos=sh.pos, row=i + 1, col_pos=j, sheet=sh.name,
                      cell=f"{col_letter(j)}{i + 1}", column=c.name, sheet_def=sh.d, col=c)

    def _cell_at(self, sh: _Sheet, row: int, cname: str, key: str, args: tuple) -> _Found:
        j = sh.colmap[cname]
        return self._cell(sh, row - 1, j, sh.d.column(cname), key, args)

    # -- cross-row checks -----------------------------------------------------------------
    def _check_keys(self) -> None:
        for sh in self.sheets.values():
            if not sh.usable or not sh.d.key or any(k not in sh.colmap for k in sh.d.key):
                continue
            if _all_distinct(sh.key_hashes):
                continue                              # the common case: all distinct
            self._report_duplicates(sh)
        emp = self.sheets.get("Employees")
        if emp and "employee_id" in emp.colmap:
            if RESERVED_EMPLOYEE_IDS.intersection(_column(emp.rows, "employee_id")):
                for typed in emp.rows:
                    if typed["employee_id"] in RESERVED_EMPLOYEE_IDS:
                        self.found.append(self._cell_at(emp, typed["row"], "employee_id",
                                                        "reserved", (typed["employee_id"],)))

    def _report_duplicates(self, sh: _Sheet) -> None:
        first: dict[tuple, int] = {}
        k0 = sh.d.key[0]
        composite = len(sh.d.key) > 1
        for typed in sh.rows:
            key = tuple(typed[k] for k in sh.d.key)
            if any(v is _INVALID or v is None for v in key):
                continue
            if key in first:
                shown = ("(" + ", ".join(show(v) for v in key) + ")") if composite else show(key[0])
                first_cell = f"{col_letter(sh.colmap[k0])}{first[key]}"
                f = self._cell_at(sh, typed["row"], k0, "duplicate",
                                  (shown, first_cell, _KeyLabel(sh.d)))
                f.column = ", ".join(sh.d.key)
                self.found.append(f)
            else:
                first[key] = typed["row"]

    def _target_ids(self, sheet: str, column: str):
        """The valid ids of a target sheet, or None when it cannot be judged."""
        sh = self.sheets.get(sheet)
        if sh is None:
            return None if SHEET_BY_NAME[sheet].required else set()
        if not sh.usable or column not in sh.colmap:
            return None
        ids = set(_column(sh.rows, column))
        if _INVALID in ids:
            return None        # an id we could not read might be the one referred to
        return ids

    def _check_references(self) -> None:
        for src, col, dst, dst_col in REFERENCES:
            sh = self.sheets.get(src)
            if sh is None or not sh.usable or col not in sh.colmap:
                continue
            ids = self._target_ids(dst, dst_col)
            if ids is None:
                continue
            target = self.sheets.get(dst)
            used = set(_column(sh.rows, col))
            used.discard(None)
            used.discard(_INVALID)
            if used <= ids:
                continue                              # the common case: every id resolves
            for typed in sh.rows:
                v = typed[col]
                if v is None or v is _INVALID or v in ids:
                    continue
                if src == dst == "Employees" and v == typed.get("employee_id"):
                    continue                        # reported as self_manager below
                self.found.append(self._cell_at(sh, typed["row"], col, "reference",
                                                (v, _SheetLabel(dst, target), _ColLabel(dst, dst_col))))

    def _check_managers(self) -> None:
        emp = self.sheets.get("Employees")
        if emp is None or "employee_id" not in emp.colmap or "manager_id" not in emp.colmap:
            return
        manager: dict[str, str] = {}
        row_of: dict[str, int] = {}
        for typed in emp.rows:
            e, m = typed["employee_id"], typed["manager_id"]
            if e is _INVALID or e in row_of:
                continue
            row_of[e] = typed["row"]
            if m is None or m is _INVALID:
                continue
            if m == e:
                self.found.append(self._cell_at(emp, typed["row"], "manager_id", "self_manager", (m,)))
                continue
            manager[e] = m
        state: dict[str, int] = {}                  # 1: on the current path, 2: done
        for start in row_of:
            path, e = [], start
            while e in manager and state.get(e, 0) == 0:
                state[e] = 1
                path.append(e)
                e = manager[e]
            if state.get(e) == 1:                    # walked back into the current path
                cycle = path[path.index(e):]
                k = min(range(len(cycle)), key=lambda n: row_of[cycle[n]])
                cycle = cycle[k:] + cycle[:k]
                letter = col_letter(emp.colmap["manager_id"])
                cells = [f"{letter}{row_of[x]}" for x in cycle]
                self.found.append(self._cell_at(emp, row_of[cycle[0]], "manager_id", "cycle",
                                                (cycle + [cycle[0]], cells)))
            for x in path:
                state[x] = 2


def _column(rows, name: str):
    """One column's values of a sheet's rows, held (ColumnRows) or on a file (SpooledRows);
    none when the sheet gave no rows."""
    return rows.column(name) if rows else ()


def _all_distinct(hashes: array) -> bool:
    """True when no two of these hashes are equal, hence no two of the keys they hash; two
    equal hashes are two equal keys or, rarely, a collision (_report_duplicates compares the
    keys themselves). Sorted rather than put in a set: 8 bytes a key held instead of the keys,
    and a transient list of ints instead of a set of them (a third of the memory)."""
    ordered = sorted(hashes)
    return not any(map(eq, ordered, islice(ordered, 1, None)))


def _in_range(d, c: Column) -> bool:
    if c.min is not None and (d <= c.min if c.min_exclusive else d < c.min):
        return False
    return not (c.max is not None and d > c.max)


class _Lazy:
    """A message argument that is worded only when the language is known (_Found.render)."""

    def word(self, lang: str) -> str:               # pragma: no cover - overridden
        raise NotImplementedError


class _KeyLabel(_Lazy):
    def __init__(self, d: Sheet):
        self.d = d

    def word(self, lang: str) -> str:
        names = [self.d.column(k).zh if lang == "zh" else k for k in self.d.key]
        if len(names) == 1:
            return names[0]
        return (f"({', '.join(names)}) 组合" if lang == "zh" else f"({', '.join(names)}) pair")


class _SheetLabel(_Lazy):
    def __init__(self, canonical: str, found: _Sheet | None):
        self.canonical, self.found = canonical, found

    def word(self, lang: str) -> str:
        if self.found is not None:
            return self.found.name
        d = SHEET_BY_NAME[self.canonical]
        return d.zh if lang == "zh" else d.name


class _ColLabel(_Lazy):
    def __init__(self, sheet: str, column: str):
        self.sheet, self.column = sheet, column

    def word(self, lang: str) -> str:
        return SHEET_BY_NAME[self.sheet].column(self.column).zh if lang == "zh" else self.column
