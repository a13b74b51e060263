"""Canonical text: what every content hash and every stored JSON column of xietong spells.

Canonical JSON is sorted keys, UTF-8, no spaces; Decimals as their exact text, dates ISO. The
audit chain hashes it (evaluator/chain.py), the store writes it (firings' sources and
outcomes), and the readers parse it back (load_run).
"""
from __future__ import annotations

import hashlib
import json
import json.encoder
import re
from datetime import date, datetime
from decimal import Decimal

from evaluator.db import decimal_text
from importers.schema import SHEETS

GENESIS = "0" * 64      # the "previous hash" of the first link of a chain


def _default(v):
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    raise TypeError(f"not canonical-JSON serialisable: {type(v).__name__}")


def canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_default)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cell_text(v) -> str | None:
    """The canonical text of a typed ledger value, as every content hash spells it."""
    if v is None:
        return None
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return decimal_text(v)
    return str(v)


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
    value in schema order], as json.dumps(ensure_ascii=False, separators=(",", ":")) writes it.

    Written out by hand because a ledger has a million rows and json.dumps per row was most of
    the time of storing and verifying them; strings go through the same C string encoder
    json.dumps uses, so the text (and every stored row hash) is byte for byte the same
    (tests/test_chain_fast.py holds the two equal over generated rows)."""
    head = _ROW_HEADS.get(sheet)
    if head is None or type(excel_row) is not int:
        return json.dumps([sheet, excel_row, *map(cell_text, values)],
                          ensure_ascii=False, separators=(",", ":"))
    cells = [_enc(v) if type(v) is str else _cell_json(v) for v in values]
    if not cells:
        return f"{head}{excel_row}]"
    return f"{head}{excel_row},{','.join(cells)}]"


_enc = json.encoder.encode_basestring       # the C encoder json.dumps uses with ensure_ascii=False


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
    return _enc(cell_text(v))


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


_SHEET_COLUMNS = {s.name: tuple(c.name for c in s.columns) for s in SHEETS}
_ROW_HEADS = {name: "[" + _enc(name) + "," for name in _SHEET_COLUMNS}    # '["Sheet",'



# Canonical JSON (canonical_json: sorted keys, UTF-8, no spaces) of the shapes stored for
# every firing, written out directly: json.dumps per firing was a third of the storing time.
# Any other shape falls back to canonical_json; tests/test_store_fast.py holds them equal.
_OUTCOMES: dict[tuple, str] = {}


def sources_json(sources) -> str:
    parts = []
    for s in sources:
        if len(s) != 2:
            return canonical_json([list(x) for x in sources])
        sheet, row = s
        text = _SHEETS.get(sheet) if type(row) is int else None
        if text is None:
            if type(sheet) is not str or type(row) is not int:
                return canonical_json([list(x) for x in sources])
            text = _SHEETS[sheet] = "[" + _enc(sheet) + ","
        parts.append(f"{text}{row}]")
    return "[" + ",".join(parts) + "]"


_SHEETS: dict[str, str] = {}      # sheet -> '["Sheet",' (a ledger has a dozen sheet names)


def outcome_json(outcome: dict) -> str:
    """A firing's outcome: {} or {"outcomes": [...]}; the one-note and one-flag outcomes (most
    firings) repeat, so their text is kept."""
    if not outcome:
        return "{}"
    if len(outcome) == 1:
        items = outcome.get("outcomes")
        if type(items) is list and len(items) == 1 and type(items[0]) is dict \
                and len(items[0]) == 1:
            ((k, v),) = items[0].items()
            if type(k) is str and type(v) is str:
                text = _OUTCOMES.get((k, v))
                if text is None:
                    text = canonical_json(outcome)
                    if len(_OUTCOMES) < 10_000:
                        _OUTCOMES[(k, v)] = text
                return text
    return canonical_json(outcome)


def firing_content(row: dict) -> str:
    """canonical_json of Firing.chain_content() for this row."""
    sid = row["subject_id"]
    if (type(row["run_id"]) is int and type(row["seq"]) is int and type(row["rule"]) is str
            and (sid is None or type(sid) is str)):
        return ('{"outcome":%s,"rule":%s,"run_id":%d,"seq":%d,"sources":%s,"subject_id":%s}'
                % (_enc(row["outcome"]), _enc(row["rule"]), row["run_id"], row["seq"],
                   _enc(row["sources"]), "null" if sid is None else _enc(sid)))
    return canonical_json({k: v for k, v in row.items() if k != "id"})




# Reading back what sources_json / outcome_json wrote, for millions of firings: json.loads was
# most of load_run's time. Anything not in the expected shape is parsed by json.loads.
_SOURCE = re.compile(r'\["([A-Za-z]+)",([0-9]+)\]')
_ONE_SOURCE = re.compile(r'\[\["([A-Za-z]+)",([1-9][0-9]*)\]\]').fullmatch


def parse_sources(text: str) -> list[tuple]:
    one = _ONE_SOURCE(text)
    if one is not None:
        return [(one[1], int(one[2]))]
    found = _SOURCE.findall(text)
    if text == "[" + ",".join(f'["{s}",{r}]' for s, r in found) + "]":
        return [(s, int(r)) for s, r in found]
    return [tuple(s) for s in json.loads(text)]


_PARSED_OUTCOMES: dict[str, dict] = {}


def parse_outcome(text: str) -> dict:
    """json.loads(text). The outcomes most firings share (nothing, one note, one flag) are
    parsed once and the same dict is returned for each: readers only read it, and 2.7 million
    copies at 100,000 employees were a second of time and a gigabyte of memory."""
    cached = _PARSED_OUTCOMES.get(text)
    if cached is not None:
        return cached
    value = json.loads(text)
    if len(_PARSED_OUTCOMES) < 10_000 and _one_word(value):
        _PARSED_OUTCOMES[text] = value
    return value


def _one_word(value) -> bool:
    """{} or {"outcomes": [{"note"|"exception"...: "text"}]}: an outcome that repeats."""
    if value == {}:
        return True
    items = value.get("outcomes") if type(value) is dict and len(value) == 1 else None
    return (type(items) is list and len(items) == 1 and type(items[0]) is dict
            and len(items[0]) == 1 and type(next(iter(items[0].values()))) is str)
