"""Cell values as calamine returns them -> the typed values of SPEC §3.

calamine gives str, float (xlsx numbers are always float; xls may give int), bool, date,
datetime, time, timedelta, and '' for an empty cell *and* for an Excel error value
(docs/workbooks.md §2), so error cells are found by the guard's format scanners, not here.

Each converter returns the typed value, BLANK for an empty cell, or a `Bad` describing what was
expected; converters never raise for user data. Bad carries a message key and arguments, not a
sentence, because the message language is only known once every header has been read.

Decisions where SPEC is silent (kept here, next to the code they shape):
* ids, codes and keys are NFKC-normalised and trimmed (so a full-width space or digit never makes
  two ids differ); free text (names, dimensions, comments, evidence, notes: columns marked
  `as_typed`) is kept exactly as typed (SPEC §10.1) — full-width punctuation, inner and outer
  spaces and line breaks stay — and a cell holding only whitespace is blank;
* numbers as text accept full-width digits, a leading + or −, and thousands separators only when
  they group by three (`1,234.5`; `1,5` is refused: it could be a European decimal comma);
* `%` is accepted only in ratio columns, and a ratio is never divided by 100 unless it has a %;
* dates: a date cell (its time of day, if any, is dropped) or year-first text; a bare number in a
  date column is refused even though it may be an Excel serial (46329): calamine already turns
  date-formatted cells into dates, so a bare number is more likely a typing mistake (20261103);
* an id typed as a number must be a whole number below 1e15 (beyond it Excel has lost digits);
* an error literal typed as text (`#N/A`) is treated like the error value itself.
"""
from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from decimal import Decimal, InvalidOperation


class _Blank:
    __slots__ = ()

    def __repr__(self) -> str:
        return "BLANK"


BLANK = _Blank()


class Bad:
    """Why a cell could not be converted: message key plus its arguments."""
    __slots__ = ("key", "args")

    def __init__(self, key: str, *args):
        self.key = key
        self.args = args

    def __repr__(self) -> str:
        return f"Bad({self.key!r}, {self.args!r})"


# Excel's error literals, as Excel writes them in the file and as a user would see them.
ERROR_LITERALS = frozenset({
    "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA",
    "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!",
    "#EXTERNAL!", "#PYTHON!",
})

_nfkc = unicodedata.normalize


def clean_text(s: str) -> str:
    """NFKC (full-width letters, digits, spaces and punctuation -> ASCII) then trim."""
    if s.isascii():
        return s.strip()
    return _nfkc("NFKC", s).strip()


def is_error_text(v) -> bool:
    return type(v) is str and v.lstrip()[:1] == "#" and v.strip().upper() in ERROR_LITERALS


def _bad(key: str, v) -> Bad:
    """A failed conversion; an error literal typed as text is reported as an error value."""
    if is_error_text(v):
        return Bad("error", v.strip().upper())
    return Bad(key, v)


def show(v) -> str:
    """The value as a message quotes it: the same in every language.

    Text is quoted (repr, so control characters are visible), numbers are shown as typed
    (85.0 -> 85), dates in ISO form, booleans as Excel shows them.
    """
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    if isinstance(v, (int, Decimal)):
        return str(v)
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, str):
        if len(v) > 60:
            v = v[:57] + "…"
        return repr(v)
    return repr(v)


# --- ids and text -------------------------------------------------------------------------

# C0 control characters other than tab, line feed and carriage return. No one types them; they
# arrive through Excel's `_x0000_` escapes or a bad copy, and PostgreSQL cannot store NUL.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
MAX_ID_LENGTH = 255                     # the database's id columns (evaluator.db)


def _text_cell(v: str):
    """A text cell's value: normalised and trimmed, or an error literal, a control character,
    or BLANK. Shared by text and id columns."""
    s = v.strip() if v.isascii() else clean_text(v)
    if s[:1] == "#" and s.upper() in ERROR_LITERALS:
        return Bad("error", s.upper())
    if _CONTROL.search(s):
        return Bad("control", v)
    return s if s else BLANK


def to_id(v):
    if type(v) is str:
        s = _text_cell(v)
        if type(s) is str and len(s) > MAX_ID_LENGTH:
            return Bad("id_length", v)
        return s
    if type(v) is float:
        if v != v or v in (float("inf"), float("-inf")):
            return Bad("id_type", v)
        if not v.is_integer():
            return Bad("id_type", v)
        if abs(v) >= 1e15:
            return Bad("id_long", v)
        return str(int(v))
    if type(v) is int:
        return str(v)
    if v is None:
        return BLANK
    return Bad("id_type", v)


def to_text(v):
    if type(v) is str:
        return _text_cell(v)
    if v is None:
        return BLANK
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if type(v) is float:
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    return clean_text(str(v)) or BLANK


def to_typed_text(v):
    """Free text (SPEC §10.1): the cell exactly as typed; blank when it holds only whitespace.
    An error literal typed as text (`#N/A`) and control characters other than tab and line
    breaks are refused as in any text cell."""
    if type(v) is not str:
        return to_text(v)
    s = v.strip()
    if not s:
        return BLANK
    if s[:1] == "#" and s.upper() in ERROR_LITERALS:
        return Bad("error", s.upper())
    if _CONTROL.search(v):
        return Bad("control", v)
    return v


# --- numbers ------------------------------------------------------------------------------

_NUM = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")


def _parse_number_text(s: str):
    """'１,２３４.５' -> Decimal('1234.5'); returns (Decimal | None, had_percent)."""
    s = clean_text(s).replace("\u2212", "-").replace(" ", "")
    pct = s.endswith("%")
    if pct:
        s = s[:-1]
    if "," in s:
        if not _GROUPED.fullmatch(s):
            return None, pct
        s = s.replace(",", "")
    elif not _NUM.fullmatch(s):
        return None, pct
    try:
        d = Decimal(s)
    except InvalidOperation:
        return None, pct
    return (d if d.is_finite() else None), pct


def to_number(v):
    t = type(v)
    if t is float:
        if v != v or v in (float("inf"), float("-inf")):
            return Bad("number", v)
        return Decimal(repr(v))
    if t is int:
        return Decimal(v)
    if t is str:
        if not v.strip():          # str.strip() also removes U+3000 and U+00A0
            return BLANK
        d, pct = _parse_number_text(v)
        if d is None:
            return _bad("number", v)
        if pct:
            return Bad("number_pct", v)
        return d
    if v is None:
        return BLANK
    return Bad("number", v)


def to_ratio(v):
    if type(v) is str:
        s = clean_text(v)
        if not s:
            return BLANK
        d, pct = _parse_number_text(s)
        if d is None:
            return _bad("ratio", v)
        return d / 100 if pct else d
    r = to_number(v)
    if type(r) is Bad and r.key == "number":
        return Bad("ratio", v)
    return r


# --- dates --------------------------------------------------------------------------------

_YMD = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_YMD_ZH = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_DAY_FIRST = re.compile(r"\d{1,2}([-/.])\d{1,2}\1\d{2,4}")


def to_date(v):
    t = type(v)
    if t is dt.date:
        return v
    if t is dt.datetime:
        return v.date()
    if t is str:
        s = clean_text(v)
        if not s:
            return BLANK
        m = _YMD.fullmatch(s)
        if m:
            y, mo, d = m.group(1, 3, 4)
        else:
            m = _YMD_ZH.fullmatch(s.replace(" ", ""))
            if not m:
                if _DAY_FIRST.fullmatch(s):
                    return Bad("date_day_first", v)
                return _bad("date", v)
            y, mo, d = m.groups()
        try:
            return dt.date(int(y), int(mo), int(d))
        except ValueError:
            return Bad("date_invalid", v)
    if v is None:
        return BLANK
    return Bad("date", v)


# --- enumerations -------------------------------------------------------------------------

def enum_key(s: str) -> str:
    return _nfkc("NFKC", s).strip().casefold()


def make_enum(spellings: dict[str, tuple[str, ...]]):
    """A converter for one enumeration: every listed spelling -> the canonical code."""
    lookup = {enum_key(sp): code for code, sps in spellings.items() for sp in sps}
    listed = tuple(sp for sps in spellings.values() for sp in sps)

    def to_enum(v):
        if type(v) is str:
            if not v.strip():
                return BLANK
            code = lookup.get(enum_key(v))
        elif type(v) in (float, int) and not isinstance(v, bool):
            # a level typed as the number 3 means the spelling "3"
            t = to_id(v)
            code = lookup.get(t) if type(t) is str else None
        elif v is None:
            return BLANK
        else:
            code = None
        if code is not None:
            return code
        return Bad("error", v.strip().upper()) if is_error_text(v) else Bad("enum", v, listed)

    return to_enum


CONVERTERS = {"id": to_id, "text": to_text, "typed": to_typed_text, "number": to_number,
              "ratio": to_ratio, "date": to_date}


# --- whole columns ------------------------------------------------------------------------

# _CONTROL without \x1f, the separator _plain_text joins cells with (a \x1f inside a cell
# shows as one separator too many).
_CONTROL_BUT_US = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1e]")
# Every ASCII character _CONTROL matches or str.strip() removes (\x00-\x1f and the space).
_LOW_ASCII = bytes(range(0x21))


def _plain_text(col: list) -> list | None:
    """Trimmed strings ('' for blank ones) when no cell needs NFKC or starts with '#'.

    One C-level check of the joined column replaces a Python call per cell; the separator
    \x1f is a starter character, so the joined string is NFKC-normal exactly when every cell is.
    """
    joined = "\x1f".join(col)
    if joined.isascii():
        if len(joined.encode("ascii").translate(None, _LOW_ASCII)) == len(joined) - len(col) + 1:
            # Only the separators were deleted: no control character, no whitespace for strip
            # to remove (str.strip returns the cell itself then), no separator inside a cell.
            if "#" in joined and "\x1f#" in "\x1f" + joined:
                return None
            return col[:]
    elif not unicodedata.is_normalized("NFKC", joined):
        return None
    if joined.count("\x1f") != len(col) - 1 or _CONTROL_BUT_US.search(joined):
        return None                             # a control character somewhere: cell by cell
    out = list(map(str.strip, col))
    if "#" in joined and "\x1f#" in "\x1f" + "\x1f".join(out):
        return None                             # maybe an error literal: look cell by cell
    return out                                  # its empty strings are the caller's to blank


def convert_column(kind: str, conv, col: list) -> list:
    """conv over a whole column, with C-speed shortcuts for the common uniform columns.

    Each shortcut gives exactly what conv would give cell by cell (tests pin this); a column
    that is not uniform takes the general path.
    """
    return convert_column_types(kind, conv, col)[0]


_MEMO_MIN = 64                          # shorter columns: a set and a dict cost more than they save


def convert_column_types(kind: str, conv, col: list) -> tuple[list, set]:
    """convert_column(kind, conv, col) and the set of its results' types (the fast paths know
    them without looking at every result).

    A column that repeats its values (rater ids, departments, dimensions, scores, codes) is
    converted once per distinct value. Equal cells then share one result, which nobody
    modifies. Only str and float cells are grouped so: among them, the only values that are
    equal yet convert differently are 0.0 and -0.0, and a column holding a zero is not grouped
    (True == 1 == 1.0 is why other types are left out).
    """
    types = set(map(type, col))
    # The first cells tell a key column (all distinct) cheaply; grouping it would be wasted.
    if (len(col) >= _MEMO_MIN and types <= {str, float}
            and len(set(col[:_MEMO_MIN])) * 2 <= _MEMO_MIN):
        distinct = set(col)
        if len(distinct) * 2 <= len(col) and not (float in types and 0.0 in distinct):
            keys = list(distinct)
            values, out_types = _convert(kind, conv, keys, types)
            return list(map(dict(zip(keys, values)).__getitem__, col)), out_types
    return _convert(kind, conv, col, types)


def _typed_text(col: list) -> list | None:
    """The cells themselves ('' for blank ones) when no cell holds a control character or
    starts with '#' (after leading whitespace): what to_typed_text gives cell by cell."""
    joined = "\x1f".join(col)
    if joined.count("\x1f") != len(col) - 1 or _CONTROL_BUT_US.search(joined) or "#" in joined:
        return None
    return [v if v.strip() else "" for v in col]


def _convert(kind: str, conv, col: list, types: set) -> tuple[list, set]:
    if types == {str} and kind == "typed":
        out = _typed_text(col)
        if out is not None:
            if all(out):
                return out, {str}
            return [s if s else BLANK for s in out], ({str, _Blank} if any(out) else {_Blank})
    elif types == {str} and kind in ("id", "text"):
        out = _plain_text(col)
        if out is not None and (kind == "text" or max(map(len, col), default=0) <= MAX_ID_LENGTH):
            if all(out):
                return out, {str}
            return [s if s else BLANK for s in out], ({str, _Blank} if any(out) else {_Blank})
    elif types == {float}:
        if kind == "id" and all(map(float.is_integer, col)) and max(map(abs, col)) < 1e15:
            return list(map(str, map(int, col))), {str}
        if kind == "number" and all(map(math.isfinite, col)):
            return list(map(Decimal, map(repr, col))), {Decimal}
    elif types == {float, str} and kind == "number":
        # Numbers with empty cells (an optional column): to_number gives BLANK for a string
        # that strips to nothing, Decimal(repr(v)) for a finite float.
        if all(math.isfinite(v) if type(v) is float else not v.strip() for v in col):
            return [BLANK if type(v) is str else Decimal(repr(v)) for v in col], {Decimal, _Blank}
    elif types == {dt.date} and kind == "date":
        return list(col), {dt.date}
    out = list(map(conv, col))
    return out, set(map(type, out))
