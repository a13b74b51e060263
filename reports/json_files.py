"""The machine-readable outputs of SPEC §8: scores.json, adjustments.json, exceptions.json and
trace.json. Points are numbers rounded to 2 decimals; `sheet` is the canonical English name."""
from __future__ import annotations

import json
import json.encoder
from decimal import Decimal
from pathlib import Path

from rules.finals import finals


def _num(d: Decimal | None):
    if d is None:
        return None
    return float(d.quantize(Decimal("0.01")))      # 82.41 -> 82.41 (shortest float repr)


def _sources(sources):
    return [{"sheet": s, "row": r} for s, r in sources]


def _adjustment(a: dict) -> dict:
    return {"adjustment_id": a["adjustment_id"], "subject_type": a["subject_type"],
            "subject_id": a["subject_id"], "mechanism": a["mechanism"], "rule": a["rule"],
            "points": _num(a["points"]), "sources": _sources(a["sources"]),
            "explanation": a["explanation"]}


def _exception(e: dict) -> dict:
    return {"review_id": e["review_id"], "kind": e["kind"], "type": e["type"],
            "subject_id": e["subject_id"], "assignee_id": e["assignee_id"],
            "status": e["status"], "sources": _sources(e["sources"]), "message": e["message"]}


def _scores(period: str, rows: dict, stored: dict) -> dict:
    st = finals(rows, stored["adjustments"])
    return {
        "period": period,
        "departments": [{"dept_id": d["dept_id"], "base": _num(d["base"]), "final": _num(d["final"]),
                         "by_mechanism": {m: _num(v) for m, v in d["by_mechanism"].items()}}
                        for d in st["departments"]],
        "employees": [{"employee_id": e["employee_id"], "base": _num(e["base"]),
                       "behaviour": _num(e["behaviour"]), "final": _num(e["final"])}
                      for e in st["employees"]],
    }


def build(period: str, rows: dict, stored: dict) -> dict[str, object]:
    trace = [{"seq": f["seq"], "rule": f["rule"], "sources": _sources(f["sources"]),
              "outcome": f["outcome"]} for f in stored["firings"]]
    return {"scores.json": _scores(period, rows, stored),
            "adjustments.json": [_adjustment(a) for a in stored["adjustments"]],
            "exceptions.json": [_exception(e) for e in stored["exceptions"]],
            "trace.json": trace}


def write(out_dir: Path, period: str, rows: dict, stored: dict) -> list[Path]:
    """The four files, as dump(build(...)[name]) writes each; the lists are streamed, a record
    at a time, never built whole."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ("scores.json", "adjustments.json", "exceptions.json", "trace.json"):
        path = out_dir / name
        with open(path, "w", encoding="utf-8") as f:
            if name == "scores.json":
                dump(_scores(period, rows, stored), f)
            elif name == "adjustments.json":
                dump_items(map(_adjustment, stored["adjustments"]), f)
            elif name == "exceptions.json":
                dump_items(map(_exception, stored["exceptions"]), f)
            else:
                write_trace(stored["firings"], f)
            f.write("\n")
        written.append(path)
    return written


def write_trace(firings: list[dict], f, chunk: int = 2000) -> None:
    """trace.json straight from the stored firings: what dump(build(...)["trace.json"]) writes,
    without building a dict per firing first (a big month has millions), a chunk at a time.

    The texts that repeat are made once: a rule's encoded id, a sheet's `{"sheet": …, "row": `
    and the common outcomes ({} and one note or flag); a firing is then one concatenation."""
    parts: list[str] = []
    outcomes: dict[tuple, str] = {}
    rules: dict[str, str] = {}
    sheets: dict[str, str] = {}
    sep = "["
    for fi in firings:
        seq, rule, sources, outcome = fi["seq"], fi["rule"], fi["sources"], fi["outcome"]
        if type(seq) is not int or type(rule) is not str:
            parts.append(sep + "\n " + _memo(
                {"seq": seq, "rule": rule, "sources": _sources(sources), "outcome": outcome}, 1))
            sep = ","
            continue
        rule_text = rules.get(rule)
        if rule_text is None:
            rule_text = rules[rule] = _enc(rule)
        src = []
        for s in sources:
            sheet, row = s
            head = sheets.get(sheet) if type(sheet) is str else None
            if head is None:
                if type(sheet) is not str:
                    src = None
                    break
                head = sheets[sheet] = f'\n   {{\n    "sheet": {_enc(sheet)},\n    "row": '
            if type(row) is not int:
                src = None
                break
            src.append(f"{head}{row}\n   }}")
        if src is None:
            src_text = _memo(_sources(sources), 2)
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
            out_text = _memo(outcome, 2) if outcome else "{}"
            if key is not None and len(outcomes) < 10_000:
                outcomes[key] = out_text
        parts.append(f'{sep}\n {{\n  "seq": {seq},\n  "rule": {rule_text},'
                     f'\n  "sources": {src_text},\n  "outcome": {out_text}\n }}')
        sep = ","
        if len(parts) >= chunk:
            f.write("".join(parts))
            parts.clear()
    parts.append("[]" if sep == "[" else "\n]")
    f.write("".join(parts))


# json.dump(obj, f, ensure_ascii=False, indent=1), byte for byte, several times faster: with an
# indent, json runs its pure-Python generator encoder (the C one only serves indent=None), which
# took 5 of the 10 s a 1,000-employee run spent on its reports. Strings go through json's own C
# string encoder; tests/test_json_fast.py holds the two equal.
_enc = json.encoder.encode_basestring
_float = json.encoder.JSONEncoder().iterencode      # NaN/Infinity spelled as json spells them


def dump(obj, f, chunk: int = 2000) -> None:
    """Writes `obj` as json.dump(obj, f, ensure_ascii=False, indent=1) would."""
    if type(obj) is list:
        dump_items(obj, f, chunk)
        return
    parts: list[str] = []
    _encode(obj, 0, parts)
    f.write("".join(parts))


def dump_items(items, f, chunk: int = 2000) -> None:
    """Writes the list of `items` (any iterable, consumed once) as dump(list(items), f) would,
    a chunk at a time."""
    parts: list[str] = []
    sep = "[\n "
    for item in items:
        parts.append(sep)
        sep = ",\n "
        _encode(item, 1, parts)
        if len(parts) >= chunk:
            f.write("".join(parts))
            parts.clear()
    parts.append("[]" if sep == "[\n " else "\n]")
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
        # json's own spelling: repr for finite floats, NaN / Infinity / -Infinity otherwise
        if o != o or o in _INFINITIES:
            return "".join(_float(o))
        return float.__repr__(o)
    return None


_INFINITIES = (float("inf"), float("-inf"))


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
    """A non-empty list of dicts (a firing's sources, scores.json's employees), the flat ones
    (str keys, scalar values) written in one go."""
    pad = "\n" + " " * (level + 1)
    pad2 = "\n" + " " * (level + 2)
    sep = "["
    for d in items:
        body = _flat(d, pad2) if d else None
        if body is not None:
            out.append(sep + pad + "{" + body + pad + "}")
        else:
            out.append(sep + pad)
            _encode(d, level + 1, out)
        sep = ","
    out.append("\n" + " " * level + "]")


_KEY_TEXT: dict[str, str] = {}                  # a key's encoding and ": ", for repeated keys


def _flat(d: dict, pad: str) -> str | None:
    """The members of a dict whose keys are str and values scalars, each on its line after
    `pad`; None for any other dict."""
    parts = []
    for k, v in d.items():
        if type(k) is not str:
            return None
        key = _KEY_TEXT.get(k)
        if key is None:
            key = _enc(k) + ": "
            if len(_KEY_TEXT) < 1_000:
                _KEY_TEXT[k] = key
        t = type(v)
        if t is str:
            text = _enc(v)
        elif t is int:
            text = int.__repr__(v)
        else:
            text = _scalar(v)
            if text is None:
                return None
        parts.append(pad + key + text)
    return ",".join(parts)
