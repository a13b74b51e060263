"""The machine-readable outputs of SPEC §8: scores.json, adjustments.json, exceptions.json and
trace.json. Points are numbers rounded to 2 decimals; `sheet` is the canonical English name."""
from __future__ import annotations

import json
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
    for name, payload in build(period, rows, stored).items():
        path = out_dir / name
        with open(path, "w", encoding="utf-8") as f:
            json.dump(payload, f, ensure_ascii=False, indent=1)
            f.write("\n")
        written.append(path)
    return written
