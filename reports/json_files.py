"""The machine-readable outputs of SPEC §8: scores.json, adjustments.json, exceptions.json and
trace.json. Points are numbers rounded to 2 decimals; `sheet` is the canonical English name."""
from __future__ import annotations

import json
import json.encoder
from decimal import Decimal
from pathlib import Path

from reports.scores import statement


def _num(d: Decimal | None):
    if d is None:
        return None
    return float(d.quantize(Decimal("0.01")))      # 82.41 -> 82.41 (shortest float repr)


def _sources(sources):
    return [{"sheet": s, "row": r} for s, r in sources]


def build(period: str, rows: dict, stored: dict) -> dict[str, object]:
    st = statement(rows, stored["adjustments"])
    scores = {
        "period": period,
        "departments": [{"dept_id": d["dept_id"], "base": _num(d["base"]), "final": _num(d["final"]),
                         "by_mechanism": {m: _num(v) for m, v in d["by_mechanism"].items()}}
                        for d in st["departments"]],
        "employees": [{"employee_id": e["employee_id"], "base": _num(e["base"]),
                       "behaviour": _num(e["behaviour"]), "final": _num(e["final"])}
                      for e in st["employees"]],
    }
    adjustments = [{"adjustment_id": a["adjustment_id"], "subject_type": a["subject_type"],
                    "subject_id": a["subject_id"], "mechanism": a["mechanism"], "rule": a["rule"],
                    "points": _num(a["points"]), "sources": _sources(a["sources"]),
                    "explanation": a["explanation"]} for a in stored["adjustments"]]
    exceptions = [{"review_id": e["review_id"], "kind": e["kind"], "type": e["type"],
                   "subject_id": e["subject_id"], "assignee_id": e["assignee_id"],
                   "status": e["status"], "sources": _sources(e["sources"]),
                   "message": e["message"]} for e in stored["exceptions"]]
    trace = [{"seq": f["seq"], "rule": f["rule"], "sources": _sources(f["sources"]),
              "outcome": f["outcome"]} for f in stored["firings"]]
    return {"scores.json": scores, "adjustments.json": adjustments,
            "exceptions.json": exceptions, "trace.json": trace}


def write(out_dir: Path, period: str, rows: dict, stored: dict) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    payloads = build(period, rows, dict(stored, firings=[]))     # trace.json is streamed below
    for name, payload in payloads.items():
        path = out_dir / name
        with open(path, "w", encoding="utf-8") as f:
            if name == "trace.json":
                write_trace(stored["firings"], f)
            else:
                dump(payload, f)
            f.write("\n")
        written.append(path)
    return written


def write_trace(firings: list[dict], f, chunk: int = 2000) -> None:
    """trace.json straight from the stored firings: what dump(build(...)["trace.json"]) writes,
    without building a dict per firing first (a big month has millions)."""
    if not firings:
        f.write("[]")
        return
    parts: list[str] = ["["]
    outcomes: dict[tuple, str] = {}
    for i, fi in enumerate(firings):
        seq, rule, sources, outcome = fi["seq"], fi["rule"], fi["sources"], fi["outcome"]
        if type(seq) is not int or type(rule) is not str:
            parts.append(("\n " if i == 0 else ",\n ") + _memo(
                {"seq": seq, "rule": rule, "sources": _sources(sources), "outcome": outcome}, 1))
            continue
        src = []
        for s in sources:
            sheet, row = s
            if type(sheet) is not str or type(row) is not int:
                src = None
                break
            src.append(f'\n   {{\n    "sheet": {_enc(sheet)},\n    "row": {row}\n   }}')
        if src is None:
            src_text = _memo(_sources(sources), 2)
        else:
            src_text = ("[" + ",".join(src) + "\n  ]") if src else "[]"
        key = _outcome_key(outcome)
        out_text = outcomes.get(key) if key is not None else None
        if out_text is None:
            out_text = _memo(outcome, 2) if outcome else "{}"
            if key is not None and len(outcomes) < 10_000:
                outcomes[key] = out_text
        parts.append(f'{"" if i == 0 else ","}\n {{\n  "seq": {seq},\n  "rule": {_enc(rule)},'
                     f'\n  "sources": {src_text},\n  "outcome": {out_text}\n }}')
        if len(parts) >= chunk:
            f.write("".join(parts))
            parts = []
    parts.append("\n]")
    f.write("".join(parts))


def _outcome_key(outcome) -> tuple | None:
    """A hashable stand-in for the common outcomes ({} and one note or flag), else None."""
    if type(outcome) is not dict:
        return None
    if not outcome:
        return ()
    items = outcome.get("outcomes") if len(outcome) == 1 else None
    if type(items) is list and len(items) == 1 and type(items[0]) is dict and len(items[0]) == 1:
        ((k, v),) = items[0].items()
        if type(k) is str and type(v) is str:
            return (k, v)
    return None


# json.dump(obj, f, ensure_ascii=False, indent=1), byte for byte, several times faster: with an
# indent, json runs its pure-Python generator encoder (the C one only serves indent=None), which
# took 5 of the 10 s a 1,000-employee run spent on its reports. Strings go through json's own C
# string encoder; tests/test_json_fast.py holds the two equal.
_enc = json.encoder.encode_basestring
_float = json.encoder.JSONEncoder().iterencode      # NaN/Infinity spelled as json spells them


def dump(obj, f, chunk: int = 2000) -> None:
    """Writes `obj` as json.dump(obj, f, ensure_ascii=False, indent=1) would."""
    if type(obj) is list and obj:
        f.write("[")
        parts: list[str] = []
        for i, item in enumerate(obj):
            parts.append("\n " if i == 0 else ",\n ")
            _encode(item, 1, parts)
            if len(parts) >= chunk:
                f.write("".join(parts))
                parts = []
        parts.append("\n]")
        f.write("".join(parts))
        return
    parts = []
    _encode(obj, 0, parts)
    f.write("".join(parts))


def _scalar(o) -> str | None:
    t = type(o)
    if t is str:
        return _enc(o)
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if t is int:
        return int.__repr__(o)
    if t is float:
        return "".join(_float(o))
    return None


def _no_default(o):
    raise TypeError(type(o).__name__)


# A repeated sub-object (a firing's outcome: {"outcomes": [{"note": "counted"}]} on thousands of
# firings) is rendered once per depth: its compact JSON, which json's C encoder makes in a
# fraction of the rendering's time, says exactly what it renders to.
_compact = (json.encoder.c_make_encoder(None, _no_default, _enc, None, ":", ",", False, False,
                                        True) if json.encoder.c_make_encoder else None)
_MEMO: dict[tuple[int, str], str] = {}


def _memo(v, level: int) -> str:
    key = None
    if _compact is not None:
        try:
            key = (level, "".join(_compact(v, 0)))
        except (TypeError, ValueError):
            key = None
        else:
            text = _MEMO.get(key)
            if text is not None:
                return text
    parts: list[str] = []
    _encode(v, level, parts)
    text = "".join(parts)
    if key is not None and len(_MEMO) < 50_000:
        _MEMO[key] = text
    return text


def _encode(o, level: int, out: list[str]) -> None:
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
            if type(k) is not str:
                raise TypeError("only str keys are written here")
            out.append(("{" if first else ",") + inner + _enc(k) + ": ")
            first = False
            text = _scalar(v)
            if text is not None:
                out.append(text)
            elif type(v) is dict:
                out.append(_memo(v, level + 1))
            elif type(v) is list and v and all(type(x) is dict for x in v):
                _dicts(v, level + 1, out)
            else:
                _encode(v, level + 1, out)
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
                _encode(v, level + 1, out)
        out.append("\n" + " " * level + "]")
    else:
        # anything else (Decimal, int/str subclasses...): json's own encoding of that value
        out.append(json.dumps(o, ensure_ascii=False, indent=1).replace("\n", "\n" + " " * level))


def _dicts(items: list, level: int, out: list[str]) -> None:
    """A non-empty list of dicts (a firing's sources), the flat ones written in one go."""
    pad = "\n" + " " * (level + 1)
    pad2 = "\n" + " " * (level + 2)
    first = True
    for d in items:
        out.append(("[" if first else ",") + pad)
        first = False
        texts = [_scalar(v) for v in d.values()] if d else None
        if texts and None not in texts and all(type(k) is str for k in d):
            out.append("{" + ",".join(pad2 + _enc(k) + ": " + t for k, t in zip(d, texts))
                       + pad + "}")
        else:
            _encode(d, level + 1, out)
    out.append("\n" + " " * level + "]")
