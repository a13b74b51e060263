"""Canonical text: every text of xietong that is hashed, stored or audited byte for byte, in one
place — what it spells, how it is written fast, and how it is read back.

* **Canonical JSON** (`canonical_json`): sorted keys, UTF-8, no spaces; Decimals as their exact
  text, dates ISO (SPEC §6). Every chain link hashes it (evaluator/chain.py).
* **A ledger row's hashed text** (`row_text`, `next_row_hash`, `row_hash`, `RowsDigest`): the
  store writes it, verify recomputes it (`stored_decimal_text` reads SQLite's decimal text).
* **A run's stored JSON columns**: a record's sources (`sources_json` / `parse_sources`), a
  firing's outcome (`OutcomeCodec`) and a firing's chained content (`firing_content`).
* **The JSON reports' layout** (`IndentedJSON`): what json.dump(obj, f, ensure_ascii=False,
  indent=1) writes; reports/json_files.py writes the files with it.

These run millions of times at 100,000 employees (981,000 ledger rows, 2.7 million firings), so
the shapes that repeat are written out by hand instead of through json.dumps / json.loads, and
anything else takes the json module's own path. tests/test_chain_fast.py and
tests/test_fast_paths.py hold each hand-written path equal to its json.dumps / json.loads
definition, and check that the hand-written path is the one taken.

No module-level state changes after import: the lookup tables below are frozen, and the caches
that pay for repetition belong to an `OutcomeCodec` or an `IndentedJSON`, which lives as long as
one store, one load or one report.
"""
from __future__ import annotations

import hashlib
import json
import json.encoder
import re
from datetime import date, datetime
from decimal import Decimal
from sys import intern as _intern
from types import MappingProxyType

from importers.schema import SHEETS
from rules.policy import decimal_text
from rules.sources import RowSources

GENESIS = "0" * 64      # the "previous hash" of the first link of a chain


# A str as a JSON string literal: what json.dumps(s, ensure_ascii=False) writes. This is
# json.encoder.encode_basestring, the function JSONEncoder.encode itself calls for a str (the C
# one when the json accelerator is there). The name is public but undocumented; it is used
# because the documented way to it, JSONEncoder(ensure_ascii=False).encode(s), adds a Python
# call to each string: 1.8 times the time over the 430,000 strings of a 10,000-employee ledger
# (measured), and a 100,000-employee month encodes tens of millions (its rows and firings,
# stored, then verified). Should a Python drop the name, the documented call takes its place;
# the tests compare both with json.dumps.
json_string = getattr(json.encoder, "encode_basestring", None) \
    or json.JSONEncoder(ensure_ascii=False).encode


def _default(v):
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, RowSources):           # a blend's sources (rules/sources.py)
        return list(v)
    raise TypeError(f"not canonical-JSON serialisable: {type(v).__name__}")


# json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_default),
# which builds this very encoder on each call: built once here (an encoder keeps no state
# between calls), a tenth faster on a run's hundreds of thousands of records.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                              default=_default)


def canonical_json(obj) -> str:
    """Sorted keys, UTF-8, no spaces; Decimals as str(), dates and datetimes ISO."""
    return _CANONICAL.encode(obj)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- ledger rows

def cell_text(v) -> str | None:
    """The canonical text of a typed ledger value, as every content hash spells it."""
    if v is None:
        return None
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return decimal_text(v)
    return str(v)


_SHEET_COLUMNS = MappingProxyType({s.name: tuple(c.name for c in s.columns) for s in SHEETS})
# '["Sheet",' for each sheet of the schema: the start of its rows' hashed text and of a source
_SHEET_HEADS = MappingProxyType({name: "[" + json_string(name) + "," for name in _SHEET_COLUMNS})


def row_hash(sheet: str, row: dict, prev: str = GENESIS) -> str:
    """Hash of one typed ledger row, chained to the previous row of its import (`prev`, the
    previous row's hash; GENESIS for the first): sheet, Excel row, every column in schema order."""
    return next_row_hash(prev, sheet, row["row"], map(row.get, _SHEET_COLUMNS[sheet]))


def next_row_hash(prev: str, sheet: str, excel_row, values) -> str:
    """row_hash of a row given as its values in schema order: what storing and verifying an
    import compute for each row, one after the other."""
    return hashlib.sha256((prev + row_text(sheet, excel_row, values)).encode("utf-8")).hexdigest()


def row_text(sheet: str, excel_row, values) -> str:
    """What a ledger row's hash covers: the JSON array [sheet, Excel row, cell_text of each
    value in schema order], as json.dumps(ensure_ascii=False, separators=(",", ":")) writes it
    (`_row_json`).

    Written out by hand for a sheet of the schema and an int row: a ledger has a million rows,
    and json.dumps per row was most of the time of storing and verifying them."""
    try:
        head = _SHEET_HEADS[sheet]         # (a subscript: a mapping proxy's get() is slower)
    except (KeyError, TypeError):
        return _row_json(sheet, excel_row, values)
    if type(excel_row) is not int:
        return _row_json(sheet, excel_row, values)
    cells = [json_string(v) if type(v) is str else _cell_json(v) for v in values]
    if not cells:
        return f"{head}{excel_row}]"
    return f"{head}{excel_row},{','.join(cells)}]"


def _row_json(sheet: str, excel_row, values) -> str:
    """row_text by its definition, for what the hand-written path does not take."""
    return json.dumps([sheet, excel_row, *map(cell_text, values)],
                      ensure_ascii=False, separators=(",", ":"))


def _cell_json(v) -> str:
    """The JSON of cell_text(v) for a value that is not a plain str."""
    if v is None:
        return "null"
    if type(v) is Decimal:
        # str() writes plain digits unless it needs an exponent ("1E+2"): then it is already
        # decimal_text's spelling, but for negative zero, which decimal_text writes unsigned
        text = str(v)
        if "E" not in text and not (text[0] == "-" and v.is_zero()):
            return f'"{text}"'
    return json_string(cell_text(v))


# A decimal's text as SQLite stores it (str(Decimal)) that is already its hashed text
# (decimal_text: plain digits, no exponent); negative zero is not (it is hashed without sign).
_PLAIN_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")


def stored_decimal_text(to_decimal):
    """cell_text of an exact decimal read from SQLite as stored text, given the column's own
    conversion of that text to a Decimal (`to_decimal`): a text that is already canonical is its
    own cell_text — saving verify a Decimal and its formatting on most of a ledger's numbers —
    and any other goes the usual way (tests/test_chain_fast.py compares the two)."""
    fullmatch = _PLAIN_DECIMAL.fullmatch

    def text(v):
        if type(v) is str and fullmatch(v) and not (v[0] == "-" and not v.strip("-0.")):
            return v
        v = to_decimal(v)
        return None if v is None else decimal_text(v)
    return text


class RowsDigest:
    """An import's rows_digest: SHA-256 over every row hash in stored order, fed as the rows
    are hashed (by the store, and again by verify)."""

    __slots__ = ("_h",)

    def __init__(self):
        self._h = hashlib.sha256()

    def add(self, row_hash: str) -> None:
        self._h.update(row_hash.encode("ascii"))

    def hexdigest(self) -> str:
        return self._h.hexdigest()


# --------------------------------------------------------------------------- a run's stored columns

def sources_json(sources) -> str:
    """The stored sources of a firing, adjustment or exception: canonical_json of
    [[sheet, row], ...]; written out by hand when every source is (str, int)."""
    parts = []
    for s in sources:
        if len(s) != 2:
            return canonical_json([list(x) for x in sources])
        sheet, row = s
        if type(row) is not int or type(sheet) is not str:
            return canonical_json([list(x) for x in sources])
        try:
            head = _SHEET_HEADS[sheet]
        except KeyError:
            head = "[" + json_string(sheet) + ","
        parts.append(f"{head}{row}]")
    return "[" + ",".join(parts) + "]"


# What sources_json writes, read back without json.loads (it was most of load_run's time, for
# millions of firings): a sheet name of ASCII letters (every sheet of the schema) needs no
# escaping and a row is a plain int (no leading zero: json.loads refuses "01"), so a text that
# matches is its own JSON.
_ONE_SOURCE = re.compile(r'\[\["([A-Za-z]+)",(0|[1-9][0-9]*)\]\]').fullmatch
_SOURCES = re.compile(r'\[\["[A-Za-z]+",(?:0|[1-9][0-9]*)\](?:,\["[A-Za-z]+",(?:0|[1-9][0-9]*)\])*\]'
                      ).fullmatch
_SOURCE = re.compile(r'\["([A-Za-z]+)",([0-9]+)\]').findall


def parse_sources(text: str) -> list[tuple]:
    """json.loads of a stored sources text, as a list of (sheet, row) tuples. The sheet names
    are interned: a report holds its run's adjustments and exceptions, whose department blends
    cite every rating (883,021 sources at 100,000 employees), and a name made anew for each
    was 51 of their 136 MB."""
    one = _ONE_SOURCE(text)
    if one is not None:
        return [(_intern(one[1]), int(one[2]))]
    if text == "[]":
        return []
    if _SOURCES(text) is not None:
        return [(_intern(s), int(r)) for s, r in _SOURCE(text)]
    return _parse_sources_json(text)


def _parse_sources_json(text: str) -> list[tuple]:
    """parse_sources by its definition, for what the hand-written path does not take."""
    return [(_intern(s[0]), *s[1:]) if type(s) is list and s and type(s[0]) is str
            else tuple(s) for s in json.loads(text)]


def firing_content(row: dict) -> str:
    """canonical_json of Firing.chain_content() for this row (a Firing's stored columns),
    written out by hand when its columns have their usual types."""
    return firing_content_of(row["run_id"], row["seq"], row["rule"], row["subject_id"],
                             row["sources"], row["outcome"])


def firing_content_of(run_id, seq, rule, sid, sources, outcome) -> str:
    """firing_content of the firing whose stored columns are these (its id aside)."""
    if (type(run_id) is int and type(seq) is int and type(rule) is str and type(sources) is str
            and type(outcome) is str and (sid is None or type(sid) is str)):
        q = json_string
        return (f'{{"outcome":{q(outcome)},"rule":{q(rule)},"run_id":{run_id},"seq":{seq},'
                f'"sources":{q(sources)},"subject_id":{"null" if sid is None else q(sid)}}}')
    return canonical_json({"outcome": outcome, "rule": rule, "run_id": run_id, "seq": seq,
                           "sources": sources, "subject_id": sid})


class OutcomeCodec:
    """A firing's stored outcome, written (`text`: canonical_json) and read back (`value`:
    json.loads) for one store or one load of a run.

    Most firings' outcome is nothing or one note or flag ({"outcomes": [{"note": "counted"}]}),
    a few hundred distinct ones among millions of firings: the codec writes each of those once,
    and reads each once, handing the SAME dict to every firing of this load that has it (2.7
    million copies at 100,000 employees were a second and a gigabyte). Readers of a loaded run
    only read its outcomes. The caches are this codec's: one per store or load, gone with it.
    """

    __slots__ = ("_texts", "_values")

    LIMIT = 10_000       # distinct outcomes kept: the common ones are a few hundred

    def __init__(self):
        self._texts: dict[tuple, str] = {}     # (name, text) -> its outcome's canonical JSON
        self._values: dict[str, dict] = {}     # a common outcome's text -> its parsed value

    def text(self, outcome: dict) -> str:
        """canonical_json(outcome); {} and one note or flag written out by hand."""
        if not outcome:
            return "{}" if type(outcome) is dict else canonical_json(outcome)
        if len(outcome) == 1:
            items = outcome.get("outcomes")
            if type(items) is list and len(items) == 1 and type(items[0]) is dict \
                    and len(items[0]) == 1:
                ((k, v),) = items[0].items()
                if type(k) is str and type(v) is str:
                    text = self._texts.get((k, v))
                    if text is None:
                        text = '{"outcomes":[{%s:%s}]}' % (json_string(k), json_string(v))
                        if len(self._texts) < self.LIMIT:
                            self._texts[(k, v)] = text
                    return text
        return canonical_json(outcome)

    def value(self, text: str) -> dict:
        """json.loads(text); a common outcome is parsed once per codec and shared."""
        got = self._values.get(text)
        if got is not None:
            return got
        value = json.loads(text)
        if len(self._values) < self.LIMIT and _common_outcome(value):
            self._values[text] = value
        return value


def _common_outcome(value) -> bool:
    """{} or {"outcomes": [{"note"|"exception"...: "text"}]}: an outcome that repeats."""
    if type(value) is not dict or len(value) > 1:
        return False
    if not value:
        return True
    items = value.get("outcomes")
    return (type(items) is list and len(items) == 1 and type(items[0]) is dict
            and len(items[0]) == 1 and type(next(iter(items[0].values()))) is str)


# --------------------------------------------------------------------------- JSON reports

_FLOAT_JSON = json.JSONEncoder().encode      # NaN / Infinity / -Infinity as json spells them
_INFINITIES = (float("inf"), float("-inf"))


def _scalar(o) -> str | None:
    """The JSON of a str, None, bool, int or float, as json.dump writes it; None for others."""
    t = type(o)
    if t is str:
        return json_string(o)
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if t is int:
        return int.__repr__(o)
    if t is float:
        if o != o or o in _INFINITIES:
            return _FLOAT_JSON(o)
        return float.__repr__(o)
    return None


class IndentedJSON:
    """json.dump(obj, f, ensure_ascii=False, indent=1), byte for byte, several times faster:
    with an indent, json runs its pure-Python encoder (its C one only serves indent=None),
    which took 5 of the 10 s a 1,000-employee run spent on its reports.

    Lists are written a chunk of items at a time (`dump_items` takes any iterable, consumed
    once), and a member's key text is kept for the dicts that repeat them. One instance per
    report: the key cache is its own."""

    __slots__ = ("chunk", "_keys")

    def __init__(self, chunk: int = 2000):
        self.chunk = chunk
        self._keys: dict[str, str] = {}        # a key -> its JSON and ": "

    def dump(self, obj, f) -> None:
        """Writes `obj` as json.dump(obj, f, ensure_ascii=False, indent=1) would."""
        if type(obj) is list:
            self.dump_items(obj, f)
            return
        parts: list[str] = []
        self._encode(obj, 0, parts)
        f.write("".join(parts))

    def dump_items(self, items, f, level: int = 0) -> None:
        """Writes the list of `items` as dump(list(items), f) would, a chunk at a time; `level`:
        as it appears that many levels deep in a document (its opening bracket written where
        the caller is)."""
        parts: list[str] = []
        first = sep = "[\n" + " " * (level + 1)
        for item in items:
            parts.append(sep)
            sep = ",\n" + " " * (level + 1)
            self._encode(item, level + 1, parts)
            if len(parts) >= self.chunk:
                f.write("".join(parts))
                parts.clear()
        parts.append("[]" if sep is first else "\n" + " " * level + "]")
        f.write("".join(parts))

    def string(self, s: str) -> str:
        """A str as it appears anywhere in the document."""
        return json_string(s)

    def value(self, o, level: int) -> str:
        """The text of `o` as it appears `level` levels deep in an indented document."""
        parts: list[str] = []
        self._encode(o, level, parts)
        return "".join(parts)

    def _key(self, k) -> str:
        text = self._keys.get(k) if type(k) is str else None
        if text is None:
            text = _key_json(k) + ": "
            if type(k) is str and len(self._keys) < 1_000:
                self._keys[k] = text
        return text

    def _encode(self, o, level: int, out: list[str]) -> None:
        text = _scalar(o)
        if text is not None:
            out.append(text)
            return
        if isinstance(o, dict):
            if not o:
                out.append("{}")
                return
            inner = "\n" + " " * (level + 1)
            first = True
            for k, v in o.items():
                out.append(("{" if first else ",") + inner + self._key(k))
                first = False
                text = _scalar(v)
                if text is not None:
                    out.append(text)
                elif type(v) is list and v and all(type(x) is dict for x in v):
                    self._dicts(v, level + 1, out)
                else:
                    self._encode(v, level + 1, out)
            out.append("\n" + " " * level + "}")
        elif isinstance(o, (list, tuple)):
            if not o:
                out.append("[]")
                return
            inner = "\n" + " " * (level + 1)
            first = True
            for v in o:
                out.append(("[" if first else ",") + inner)
                first = False
                text = _scalar(v)
                if text is not None:
                    out.append(text)
                else:
                    self._encode(v, level + 1, out)
            out.append("\n" + " " * level + "]")
        else:
            out.append(_other_json(o, level))

    def _dicts(self, items: list, level: int, out: list[str]) -> None:
        """A non-empty list of dicts (a firing's sources, scores.json's employees), the flat
        ones (str keys, scalar values) written in one go."""
        pad = "\n" + " " * (level + 1)
        pad2 = "\n" + " " * (level + 2)
        sep = "["
        for d in items:
            body = self._flat(d, pad2) if d else None
            if body is not None:
                out.append(sep + pad + "{" + body + pad + "}")
            else:
                out.append(sep + pad)
                self._encode(d, level + 1, out)
            sep = ","
        out.append("\n" + " " * level + "]")

    def _flat(self, d: dict, pad: str) -> str | None:
        """The members of a dict whose keys are str and values scalars, each on its line after
        `pad`; None for any other dict."""
        keys = self._keys
        parts = []
        for k, v in d.items():
            if type(k) is not str:
                return None
            key = keys.get(k)
            if key is None:
                key = self._key(k)
            t = type(v)
            if t is str:
                text = json_string(v)
            elif t is int:
                text = int.__repr__(v)
            else:
                text = _scalar(v)
                if text is None:
                    return None
            parts.append(pad + key + text)
        return ",".join(parts)


def _other_json(o, level: int) -> str:
    """Anything but a dict, list, tuple, str, None, bool, exact int or float (an int or str
    subclass, a Decimal...): json's own encoding of that value, `level` levels deep."""
    return json.dumps(o, ensure_ascii=False, indent=1).replace("\n", "\n" + " " * level)


def _key_json(k) -> str:
    """A dict key as json.dump writes it: a str as itself, a float, int, bool or None as its
    JSON text in quotes; any other key is refused, as json.dump refuses it."""
    if isinstance(k, str):
        return json_string(k)
    if isinstance(k, float):
        return json_string(_FLOAT_JSON(k) if k != k or k in _INFINITIES else float.__repr__(k))
    if k is True or k is False or k is None:
        return json_string(_scalar(k))
    if isinstance(k, int):
        return json_string(int.__repr__(k))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(k).__name__}")
