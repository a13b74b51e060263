"""The machine-readable outputs of SPEC §8: scores.json, adjustments.json, exceptions.json and
trace.json. Points are numbers rounded to 2 decimals; `sheet` is the canonical English name
(a source that is a row of another month's import also names its `"period"`: SPEC §11.5–§11.9,
docs/decisions.md, "Policy over time"). An exception carries the decision the run applied to
it (SPEC §10.3): {"value", "comment", "by", "at"} or null.

The same bytes whatever the report's language: `explanation` and `message` are the stored
(English) texts, exactly the chained records, and trace.json's `outcome` is the stored outcome,
with each sentence's template key and values (`says`) from which a program can word it in
either language (rules/sentences.py). People read the sentences in their own language in the
trace and the review workbooks (docs/decisions.md, "One language per output").

Each file is what json.dump(build(...)[name], f, ensure_ascii=False, indent=1) writes, plus a
newline, written by evaluator.canonical.IndentedJSON; the lists are streamed a record at a time.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timezone
from decimal import Decimal
from pathlib import Path
from typing import Iterator

from evaluator.canonical import IndentedJSON
from rules.finals import finals_streamed
from rules.sources import split as split_sheet


def _num(d: Decimal | None):
    if d is None:
        return None
    return float(d.quantize(Decimal("0.01")))      # 82.41 -> 82.41 (shortest float repr)


def source_entries(sources) -> list[dict]:
    """A stored firing's sources as trace.json writes them (also the library's `firings`)."""
    return _sources(sources)


def _sources(sources):
    """SPEC §8's [{"sheet", "row"}], the sheet canonical; a row of another month's import
    (rules/sources.py: "Sheet@YYYY-MM") also names its "period"."""
    return [{"sheet": s, "row": r} if "@" not in s else _other_month(s, r) for s, r in sources]


def _other_month(name: str, row) -> dict:
    sheet, period = split_sheet(name)
    return {"sheet": sheet, "row": row, "period": period}


def _adjustment(a: dict) -> dict:
    return {"adjustment_id": a["adjustment_id"], "subject_type": a["subject_type"],
            "subject_id": a["subject_id"], "mechanism": a["mechanism"], "rule": a["rule"],
            "points": _num(a["points"]), "sources": _sources(a["sources"]),
            "explanation": a["explanation"]}


def _decision(d: dict | None) -> dict | None:
    """The decision a run applied to an item (SPEC §10.3), or None."""
    if d is None:
        return None
    return {"value": d["value"], "comment": d["comment"], "by": d["by"],
            "at": d["at"].astimezone(timezone.utc).isoformat(timespec="seconds")}


def _exception(e: dict, decisions: dict | None = None) -> dict:
    return {"review_id": e["review_id"], "kind": e["kind"], "type": e["type"],
            "subject_id": e["subject_id"], "assignee_id": e["assignee_id"],
            "status": e["status"], "sources": _sources(e["sources"]), "message": e["message"],
            "decision": _decision((decisions or {}).get(e["review_id"]))}


def _scores(period: str, rows: dict, stored: dict) -> dict:
    departments, employees = _score_lists(rows, stored)
    return {"period": period, "departments": departments, "employees": list(employees)}


def _score_lists(rows: dict, stored: dict) -> tuple[list[dict], Iterator[dict]]:
    """scores.json's departments, and its employees one at a time (rules.finals.finals_streamed:
    100,000 of them are not held)."""
    departments, employees = finals_streamed(rows, stored["adjustments"])
    return ([{"dept_id": d["dept_id"], "base": _num(d["base"]), "final": _num(d["final"]),
              "by_mechanism": {m: _num(v) for m, v in d["by_mechanism"].items()}}
             for d in departments],
            ({"employee_id": e["employee_id"], "base": _num(e["base"]),
              "behaviour": _num(e["behaviour"]), "final": _num(e["final"])} for e in employees))


def _dump_scores(period: str, rows: dict, stored: dict, encoder: IndentedJSON, f) -> None:
    """scores.json as dump(_scores(…)) writes it, its employees a chunk at a time."""
    departments, employees = _score_lists(rows, stored)
    f.write("{\n " + ",\n ".join(f"{encoder.string(k)}: {encoder.value(v, 1)}"
                                  for k, v in (("period", period), ("departments", departments)))
            + ",\n " + encoder.string("employees") + ": ")
    encoder.dump_items(employees, f, level=1)
    f.write("\n}")


def build(period: str, rows: dict, stored: dict) -> dict[str, object]:
    trace = [{"seq": f["seq"], "rule": f["rule"], "sources": _sources(f["sources"]),
              "outcome": f["outcome"]} for f in stored["firings"]]
    return {"scores.json": _scores(period, rows, stored),
            "adjustments.json": [_adjustment(a) for a in stored["adjustments"]],
            "exceptions.json": [_exception(e, stored.get("decisions"))
                                for e in stored["exceptions"]],
            "trace.json": trace}


JSON_FILES = ("scores.json", "adjustments.json", "exceptions.json", "trace.json")


def write(out_dir: Path, period: str, rows: dict, stored: dict,
          names: tuple[str, ...] = JSON_FILES) -> list[Path]:
    """The four files (or those of `names`), as dump(build(...)[name]) writes each; the lists
    are streamed, a record at a time, never built whole."""
    out_dir.mkdir(parents=True, exist_ok=True)
    encoder = IndentedJSON()
    written = []
    for name in (n for n in JSON_FILES if n in names):
        path = out_dir / name
        with open(path, "w", encoding="utf-8") as f:
            if name == "scores.json":
                _dump_scores(period, rows, stored, encoder, f)
            elif name == "adjustments.json":
                encoder.dump_items(map(_adjustment, stored["adjustments"]), f)
            elif name == "exceptions.json":
                decisions = stored.get("decisions")
                encoder.dump_items((_exception(e, decisions) for e in stored["exceptions"]), f)
            else:
                write_trace(stored["firings"], f, encoder=encoder)
            f.write("\n")
        written.append(path)
    return written


class FiringsSeen:
    """Whether the firings handed to a writer one by one (`see(seq)` each) were a run's
    `count` firings, each once and in seq order (`whole(count)`): a trace file written from
    another writer's reading is kept only then (trace.write_both, xietong.api.month.report)."""

    __slots__ = ("count", "in_order", "_last")

    def __init__(self):
        self.count, self.in_order, self._last = 0, True, None

    def see(self, seq) -> None:
        self.count += 1
        if type(seq) is not int or (self._last is not None and seq <= self._last):
            self.in_order = False
        else:
            self._last = seq

    def whole(self, count: int) -> bool:
        return self.in_order and self.count == count


class TraceFile:
    """trace.json being written from firings that another writer reads (trace_writer)."""

    def __init__(self, path: Path, f):
        self.path, self._f = path, f
        self._out = TraceWriter(f)
        self.firing = self._out.firing
        self.finished = False

    def whole(self, count: int) -> bool:
        """Whether the firings given were the run's `count` firings, each once, in seq order."""
        return self._out.seen.whole(count)

    def finish(self) -> Path:
        self._out.finish()
        self._f.write("\n")
        self.finished = True
        return self.path


@contextmanager
def trace_writer(out_dir: Path, wanted: bool = True):
    """A TraceFile writing out_dir/trace.json (None when not `wanted`), for a report that
    reads the firings for trace.xlsx or trace.html anyway: one reading for all. The file is
    what write(..., names=("trace.json",)) writes once `finish()` is called; without it (the
    firings given were not the run's whole, or the writing failed) the file is removed."""
    if not wanted:
        yield None
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "trace.json"
    f = open(path, "w", encoding="utf-8")
    trace_file = TraceFile(path, f)
    try:
        yield trace_file
    finally:
        f.close()
        if not trace_file.finished:
            path.unlink(missing_ok=True)


def dump(obj, f, chunk: int = 2000) -> None:
    """Writes `obj` as json.dump(obj, f, ensure_ascii=False, indent=1) would."""
    IndentedJSON(chunk).dump(obj, f)


def dump_items(items, f, chunk: int = 2000) -> None:
    """Writes the list of `items` (any iterable, consumed once) as dump(list(items), f) would,
    a chunk at a time."""
    IndentedJSON(chunk).dump_items(items, f)


# Entries written to the file at a time. Small: the pieces of a chunk are joined into one string
# and encoded once more by the file, and glibc serves strings of hundreds of kilobytes from the
# top of its heap, where the report's long-lived allocations then pin them — measured at
# 100,000 employees, trace.json written beside trace.xlsx in 2,000-entry chunks raised the
# report's peak by 185 MB, in 64-entry chunks by nothing, at the same speed.
TRACE_CHUNK = 64
# An entry citing more sources than this is written to the file in pieces of as many sources
# (TraceWriter), not held in the chunk: a department's blend cites every rating it counted,
# 30,000 at 100,000 employees, 1.7 MB of text an entry. Held until its chunk of 64 was full
# (the blends come together: 168 of them among 260 firings), joined, and encoded by the file,
# the blends' entries were 100 MB at once in the report's process.
LONG_SOURCES = 512


def write_trace(firings, f, chunk: int = TRACE_CHUNK, encoder: IndentedJSON | None = None
                ) -> None:
    """trace.json straight from the stored firings (any iterable: a report's are read from the
    database as they are written, evaluator.runs.RunFirings): what dump(build(...)["trace.json"])
    writes, without building a dict per firing first (a big month has millions), a chunk at a
    time (TraceWriter)."""
    out = TraceWriter(f, chunk, encoder)
    for fi in firings:
        out.firing(fi)
    out.finish()


class TraceWriter:
    """trace.json written as its firings come (`firing(f)` each, in order; then `finish()`):
    what write_trace writes. `seen` tells whether the firings given were the run's, in seq
    order (a report hands it the firings trace.xlsx reads: one reading for
    the three trace files).

    A trace entry's layout is written here; its values are the encoder's. The texts that repeat
    are made once per writer: a rule's encoded id, a sheet's `{"sheet": …, "row": ` and the
    common outcomes ({} and one note or flag); a firing is then one concatenation."""

    def __init__(self, f, chunk: int = TRACE_CHUNK, encoder: IndentedJSON | None = None):
        enc = encoder or IndentedJSON()
        self._f, self._chunk = f, chunk
        self._string, self._value = enc.string, enc.value
        self._parts: list[str] = []
        self._outcomes: dict[tuple, str] = {}
        self._rules: dict[str, str] = {}
        self._sheets: dict[str, str] = {}
        self._sep = "["
        self.seen = FiringsSeen()

    def firing(self, fi: dict) -> None:
        seq, rule, sources, outcome = fi["seq"], fi["rule"], fi["sources"], fi["outcome"]
        self.seen.see(seq)
        string, value, parts, sep = self._string, self._value, self._parts, self._sep
        if type(seq) is not int or type(rule) is not str:
            parts.append(sep + "\n " + value(
                {"seq": seq, "rule": rule, "sources": _sources(sources), "outcome": outcome}, 1))
            self._sep = ","
            self._spill()
            return
        rules, sheets, outcomes = self._rules, self._sheets, self._outcomes
        rule_text = rules.get(rule)
        if rule_text is None:
            rule_text = rules[rule] = string(rule)
        src = []
        for s in sources:
            sheet, row = s
            head = sheets.get(sheet) if type(sheet) is str else None
            if head is None:
                if type(sheet) is not str or "@" in sheet:      # another month's: the long way
                    src = None
                    break
                head = sheets[sheet] = f'\n   {{\n    "sheet": {string(sheet)},\n    "row": '
            if type(row) is not int:
                src = None
                break
            src.append(f"{head}{row}\n   }}")
        pieces = None
        if src is None:
            src_text = value(_sources(sources), 2)
        elif len(src) > LONG_SOURCES:
            pieces, src_text = src, None
        else:
            src_text = ("[" + ",".join(src) + "\n  ]") if src else "[]"
        # the outcome's key: () for {}, (name, text) for one note or flag, else None
        key = None
        if type(outcome) is dict:
            if not outcome:
                key = ()
            elif len(outcome) == 1:
                items = outcome.get("outcomes")
                if type(items) is list and len(items) == 1:
                    item = items[0]
                    if type(item) is dict and len(item) == 1:
                        ((k, v),) = item.items()
                        if type(k) is str and type(v) is str:
                            key = (k, v)
        out_text = outcomes.get(key) if key is not None else None
        if out_text is None:
            out_text = value(outcome, 2)
            if key is not None and len(outcomes) < 10_000:
                outcomes[key] = out_text
        self._sep = ","
        if pieces is not None:
            # a department's blend cites every rating it counted (30,000 at 100,000
            # employees): its entry goes to the file in pieces, after the entries before it
            write = self._f.write
            write("".join(parts))
            parts.clear()
            write(f'{sep}\n {{\n  "seq": {seq},\n  "rule": {rule_text},\n  "sources": [')
            for at in range(0, len(pieces), LONG_SOURCES):
                write(("," if at else "") + ",".join(pieces[at:at + LONG_SOURCES]))
            write(f'\n  ],\n  "outcome": {out_text}\n }}')
            return
        parts.append(f'{sep}\n {{\n  "seq": {seq},\n  "rule": {rule_text},'
                     f'\n  "sources": {src_text},\n  "outcome": {out_text}\n }}')
        self._spill()

    def _spill(self) -> None:
        """Writes the entries held once there are a chunk of them."""
        if len(self._parts) >= self._chunk:
            self._f.write("".join(self._parts))
            self._parts.clear()

    def finish(self) -> None:
        parts = self._parts
        parts.append("[]" if self._sep == "[" else "\n]")
        self._f.write("".join(parts))
        parts.clear()
