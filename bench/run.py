"""xietong's benchmark (`make bench`): sample companies of 1,000 / 10,000 / 100,000 employees
(≈10 ledger rows each) through `xietong run`, phase by phase, beside four yardsticks measured
in the same run on the same files:

* **floor**: python-calamine alone parsing the workbook (`to_python`, every sheet) — no reader
  of the file can be faster than the parser it stands on;
* **streaming floor**: the standard library reading the same sheets as a stream, a row at a
  time (zipfile, xml.etree's iterparse), holding only the shared strings — what a reader whose
  memory does not grow with the rows costs at least; a yardstick, not a reader (it skips what
  the importer guards against);
* **peer**: the same behaviour and rating rules on CLIPS (`bench/clips_peer.py`), fed the same
  rows — what a mature rule engine costs for the same work;
* **plain Python**: the tests' reference implementation with its quadratic scans indexed
  (`bench/plain.py`) — the lower bound of evaluation cost, no engine at all.

Every measurement runs in a fresh subprocess (so one size's memory never counts for the next),
records wall time and peak RSS per phase (VmHWM from /proc, reset at each phase start), and is
repeated `--repeat` times keeping the best (the machine is shared: expect ±40 % noise). Results
go to `bench/results/<date>.json` and a Markdown table (printed, and beside the JSON).

    .venv/bin/python bench/run.py                          # 1,000, 10,000 and 100,000 employees
    .venv/bin/python bench/run.py --sizes 1000,10000 --repeat 3
    .venv/bin/python bench/run.py --quick                  # 1,000 and 10,000, once

Phases of `xietong run LEDGER --format json,xlsx` (default SQLite database, fresh per run):
read (sniff, guards, calamine), validate (typing, keys, references), store (rows and their
hashes), evaluate (the five rule books, in the evaluation's child: started before the store,
beside it), persist (firings, adjustments, exceptions and their chain links: the evaluation's
storing once its child has answered), reports (JSON, statement, trace, review workbooks;
sub-phases listed). The store and the evaluation overlap: their sum is more than their
share of the whole run. The evaluation is a single pass here: with decisions in
force it runs twice (see docs/benchmarks.md).
"""
from __future__ import annotations

import argparse
import datetime as dt
import functools
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PERIOD = "2026-11"
SEED = 1
GOALS = {10_000: (10.0, 400), 100_000: (120.0, 2048)}   # employees -> (seconds, MB) of a run

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# --------------------------------------------------------------------------- memory and time

def _hwm_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_hwm() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:            # no per-phase peaks then: every phase reports the process peak
        pass


class Phases:
    """Wall time and peak RSS per phase. Phases may nest (a report inside the reports phase):
    an inner phase's start banks the peak so far into the open outer phases before the
    high-water mark is reset, so every phase's peak is its own."""

    def __init__(self, forked_log: Path | None = None):
        self.stack: list[list] = []          # [name, start, peak_kb]
        self.done: dict[str, dict] = {}
        self.pid = os.getpid()
        self.forked_log = forked_log         # where phases that run in forked children report

    def merge_forked(self) -> None:
        """Adds the phases timed in forked children (the second report writer) to `done`."""
        if self.forked_log is None or not self.forked_log.exists():
            return
        for line in self.forked_log.read_text().splitlines():
            rec = json.loads(line)
            got = self.done.setdefault(rec["name"], {"seconds": 0.0, "peak_mb": 0.0, "calls": 0,
                                                     "forked": True})
            got["seconds"] += rec["seconds"]
            got["peak_mb"] = max(got["peak_mb"], rec["peak_mb"])
            got["calls"] += 1

    def _bank(self) -> None:
        hwm = _hwm_kb()
        for frame in self.stack:
            frame[2] = max(frame[2], hwm)

    def start(self, name: str) -> None:
        self._bank()
        _reset_hwm()
        self.stack.append([name, time.perf_counter(), 0])

    def end(self, name: str) -> None:
        self._bank()
        frame = self.stack.pop()
        assert frame[0] == name, (frame[0], name)
        got = self.done.setdefault(name, {"seconds": 0.0, "peak_mb": 0.0, "calls": 0})
        got["seconds"] += time.perf_counter() - frame[1]
        got["peak_mb"] = max(got["peak_mb"], frame[2] / 1024)
        got["calls"] += 1

    def wrap(self, module, attr: str, name: str | None = None, after=None) -> None:
        fn = getattr(module, attr)
        phases = self

        @functools.wraps(fn)
        def timed(*a, **kw):
            if os.getpid() != phases.pid:        # in a forked child: report through the log
                _reset_hwm()
                t = time.perf_counter()
                result = fn(*a, **kw)
                with open(phases.forked_log, "a") as f:
                    f.write(json.dumps({"name": name or attr, "seconds": time.perf_counter() - t,
                                        "peak_mb": _hwm_kb() / 1024}) + "\n")
                return result
            phases.start(name or attr)
            try:
                result = fn(*a, **kw)
            finally:
                phases.end(name or attr)
            if after is not None:
                after(result)
            return result

        setattr(module, attr, timed)


# --------------------------------------------------------------------------- the children

def child_pipeline(ledger: str, workdir: str) -> dict:
    """`xietong run` on a fresh SQLite database, instrumented phase by phase."""
    t_import = time.perf_counter()
    from evaluator import runs, store, chain
    from xietong import api, cli
    from reports import feedback, json_files, reviews, statement, trace
    import evaluator.evaluate as evaluate_mod
    from rules.context import results_of
    startup = time.perf_counter() - t_import
    ph = Phases(Path(workdir) / "forked-phases.jsonl")
    digest = {}
    # The evaluation itself runs in a child forked by evaluator.runs (engine.isolation): it
    # reports its own time (each pass's) and peak (its whole life's, before the digest)
    # through a file, the parent times the rest.
    child_log = Path(workdir) / "evaluate.jsonl"
    evaluate_ledger = runs.evaluate_ledger

    def timed_evaluate(*a, **kw):
        t = time.perf_counter()
        result = evaluate_ledger(*a, **kw)
        took = time.perf_counter() - t
        workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        with open(child_log, "a") as f:
            f.write(json.dumps({"seconds": took, "workers_peak_mb": workers,
                                "by_rule": result.counts["by_rule"],
                                "counts": {**{k: result.counts[k] for k in
                                              ("firings", "adjustments", "exceptions")},
                                           "rows": sum(result.counts["rows"].values())}}) + "\n")
        return result

    runs.evaluate_ledger = timed_evaluate
    compute_to_files = runs._compute_to_files

    def child_peak(*a, **kw):
        # the child's own peak, from its start to its answer: the evaluation (one or two
        # passes) and what the child makes of it (hashes, notes, the results' files); then the
        # digest of the results it left on files, a record at a time
        _reset_hwm()
        outcome = compute_to_files(*a, **kw)
        peak = _hwm_kb() / 1024
        digest_ = {}
        if outcome[0] == "ok":
            result = outcome[1]
            digest_ = _digest(results_of(result.adjustments),
                              (e for e, _ in result.exceptions.fields()), None)
        with open(child_log, "a") as f:
            f.write(json.dumps({"peak_mb": peak, **digest_}) + "\n")
        return outcome

    runs._compute_to_files = child_peak
    ph.wrap(runs.Started, "outcome", "evaluate: waiting for the child's answer")
    ph.wrap(runs, "_store_results", "persist: firings, adjustments, exceptions")
    ph.wrap(runs, "load_rows", "persist: load rows")
    ph.wrap(runs, "evaluate_period", "evaluate_period")
    ph.wrap(store, "store_import", "store")
    ph.wrap(api, "report", "reports")
    ph.wrap(runs, "load_run", "reports: load run")
    ph.wrap(store, "load_rows", "reports: load rows")
    ph.wrap(chain, "verify", "reports: verify chain")
    ph.wrap(json_files, "write", "reports: json")
    ph.wrap(statement, "write", "reports: statement.xlsx")
    ph.wrap(trace, "write_xlsx", "reports: trace.xlsx")
    ph.wrap(trace, "write_html", "reports: trace.html")
    ph.wrap(reviews, "write", "reports: reviews/")
    ph.wrap(feedback, "write", "reports: feedback/")

    # read / validate: the importer reports its steps through cli.Progress ("open" 0/1 → 1/1
    # is format checks + calamine; "read" and "check" are typing and cross-row checks).
    marks: dict[str, float] = {}
    original_call = cli.Progress.__call__

    def progress(self, phase, done, total, *rest):
        now = time.perf_counter()
        if phase == "open" and done == 0:
            ph.start("read")
        elif phase == "open" and done >= total:
            ph.end("read")
            ph.start("validate")
        elif phase == "check" and done >= total:
            ph.end("validate")
        marks[phase] = now
        return original_call(self, phase, done, total, *rest)

    cli.Progress.__call__ = progress
    db = Path(workdir) / "bench.db"
    out = Path(workdir) / "out"
    t0 = time.perf_counter()
    ph.start("run")
    rc = cli.main(["run", ledger, "--period", PERIOD, "--out", str(out), "--db",
                   f"sqlite:///{db}", "--format", "json,xlsx"], out=open(os.devnull, "w"),
                  err=sys.stderr)
    ph.end("run")
    whole = time.perf_counter() - t0
    if rc != 0:
        raise SystemExit(f"xietong run exited {rc}")
    ph.merge_forked()
    phases = ph.done
    records = [json.loads(line) for line in child_log.read_text().splitlines()]
    evaluations = [e for e in records if "seconds" in e]      # one per pass
    child = [e for e in records if "seconds" not in e][-1]   # the child's whole life
    phases["evaluate"] = {"seconds": sum(e["seconds"] for e in evaluations),
                          "peak_mb": child["peak_mb"],
                          "workers_peak_mb": max(e["workers_peak_mb"] for e in evaluations),
                          "calls": len(evaluations)}
    digest.update({k: v for k, v in evaluations[-1].items()
                   if k not in ("seconds", "workers_peak_mb")})
    digest.update({k: v for k, v in child.items() if k != "peak_mb"})
    # evaluate_period begins once the import is stored, the evaluation under way since before
    # the store: what is not the wait for its child is the storing of the run
    persist = (phases["evaluate_period"]["seconds"]
               - phases.get("evaluate: waiting for the child's answer", {}).get("seconds", 0))
    sizes = {p.name: p.stat().st_size for p in out.rglob("*") if p.is_file()}
    return {"phases": phases, "whole_run_s": whole, "startup_s": startup,
            "persist_s": persist, "peak_mb": _hwm_kb() / 1024,
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "db_mb": sum(p.stat().st_size for p in Path(workdir).glob("bench.db*")) / 2**20,
            "outputs_mb": sum(sizes.values()) / 2**20, "digest": digest}


def child_floor(ledger: str, workdir: str) -> dict:
    """python-calamine alone: the bytes, every sheet to_python (as the importer reads it)."""
    import io
    from python_calamine import CalamineWorkbook
    _reset_hwm()
    t0 = time.perf_counter()
    data = Path(ledger).read_bytes()
    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    cells = 0
    for name in wb.sheet_names:
        rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
        cells += sum(len(r) for r in rows)
        del rows
    return {"seconds": time.perf_counter() - t0, "peak_mb": _hwm_kb() / 1024, "cells": cells}


def child_stream_floor(ledger: str, workdir: str) -> dict:
    """The standard library reading every sheet as a stream (zipfile, xml.etree's iterparse on
    expat): each cell's value as its text (a shared string looked up, an inline string's runs
    joined), each row dropped once built. Only the shared strings are held, as any reader of
    the format must. What a reader whose memory does not grow with the rows costs at least,
    beside calamine's floor, which holds a whole sheet (python-calamine cannot iterate a sheet
    without reading it first)."""
    import zipfile
    from xml.etree.ElementTree import iterparse
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    cell, value, inline, row_tag, data, si = (ns + "c", ns + "v", ns + "is", ns + "row",
                                              ns + "sheetData", ns + "si")
    _reset_hwm()
    t0 = time.perf_counter()
    cells = rows = 0
    with zipfile.ZipFile(ledger) as z:
        names = z.namelist()
        strings: list[str] = []
        if "xl/sharedStrings.xml" in names:
            with z.open("xl/sharedStrings.xml") as f:
                for _, el in iterparse(f):
                    if el.tag == si:
                        strings.append("".join(el.itertext()))
                        el.clear()
        for name in names:
            if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
                continue
            with z.open(name) as f:
                parent, row = None, []
                for event, el in iterparse(f, events=("start", "end")):
                    if event == "start":
                        if el.tag == data:
                            parent = el
                        continue
                    if el.tag == cell:
                        v, kind = el.find(value), el.get("t")
                        if kind == "inlineStr":
                            is_ = el.find(inline)
                            text = None if is_ is None else "".join(is_.itertext())
                        elif v is None:
                            text = None
                        elif kind == "s":
                            text = strings[int(v.text)]
                        else:
                            text = v.text
                        row.append(text)
                        cells += text is not None
                    elif el.tag == row_tag:
                        rows += 1
                        row = []
                        if parent is not None:
                            parent.clear()       # the rows read so far: nothing is kept
    return {"seconds": time.perf_counter() - t0, "peak_mb": _hwm_kb() / 1024, "cells": cells,
            "rows": rows, "shared_strings": len(strings)}


def child_import(ledger: str, workdir: str) -> dict:
    """`xietong import` alone (issue 2): read and validate, then store."""
    from importers import read_ledger
    from evaluator.db import make_engine
    from evaluator.store import store_import
    ph = Phases()
    ph.start("import")
    ph.start("read + validate")
    book = read_ledger(ledger)
    ph.end("read + validate")
    engine = make_engine(f"sqlite:///{Path(workdir) / 'import.db'}")
    ph.start("store")
    store_import(engine, book, PERIOD)
    ph.end("store")
    ph.end("import")
    engine.dispose()
    return {"phases": ph.done, "rows": sum(len(v) for v in book.rows.values())}


def _rows_and_policy(ledger: str):
    from importers import read_ledger
    from rules.policy import load_policy
    return read_ledger(ledger), load_policy()


def child_peer(ledger: str, workdir: str) -> dict:
    from bench.clips_peer import peer_evaluate
    book, policy = _rows_and_policy(ledger)
    ph = Phases()
    ph.start("peer")
    result = peer_evaluate(book.rows, policy, PERIOD)
    ph.end("peer")
    kinds = ("BEH", "RATING", "RACI")
    exc = [e for e in result["exceptions"] if e["kind"].startswith(kinds)]
    return {**ph.done["peer"], "by_rule": result["by_rule"],
            "exceptions_sha": _sha(sorted(_exc_key(e) for e in exc))}


def child_plain(ledger: str, workdir: str) -> dict:
    from bench.plain import plain_evaluate
    book, policy = _rows_and_policy(ledger)
    ph = Phases()
    ph.start("plain")
    result = plain_evaluate(book, policy, PERIOD)
    ph.end("plain")
    return {**ph.done["plain"], **_digest(result.adjustments, result.exceptions, None)}


def child_reference(ledger: str, workdir: str) -> dict:
    """The unmodified oracle, where it finishes in time (it is quadratic)."""
    from tests.reference import reference_evaluate
    book, policy = _rows_and_policy(ledger)
    ph = Phases()
    ph.start("reference")
    result = reference_evaluate(book, policy, PERIOD)
    ph.end("reference")
    return {**ph.done["reference"], **_digest(result.adjustments, result.exceptions, None)}


def _exc_key(e) -> tuple:
    return (e["review_id"], e["kind"], e["assignee_id"], e["status"],
            tuple(tuple(s) for s in e["sources"]))


def _sha(obj) -> str:
    return hashlib.sha256(repr(obj).encode()).hexdigest()[:16]


class _ListSha:
    """_sha of a list given an item at a time: the same hash, the list never held."""

    def __init__(self):
        self._h = hashlib.sha256(b"[")
        self._first = True

    def add(self, item) -> None:
        self._h.update(repr(item).encode() if self._first else b", " + repr(item).encode())
        self._first = False

    def hexdigest(self) -> str:
        self._h.update(b"]")
        return self._h.hexdigest()[:16]


def _digest(adjustments, exceptions, by_rule) -> dict:
    """Hashes of the results in order. `adjustments` and `exceptions`: iterables of them in
    order (lists, or the records of the files the run's child leaves them on), each read once;
    only the exceptions' keys that the peer's hash sorts are held."""
    kinds = ("BEH", "RATING", "RACI")
    adjustments_sha, exceptions_sha, peer = _ListSha(), _ListSha(), []
    for a in adjustments:
        adjustments_sha.add((a["rule"], a["subject_id"], str(a["points"]),
                             tuple(tuple(s) for s in a["sources"])))
    for e in exceptions:
        key = _exc_key(e)
        exceptions_sha.add(key)
        if e["kind"].startswith(kinds):
            peer.append(key)
    out = {"adjustments_sha": adjustments_sha.hexdigest(),
           "exceptions_sha": exceptions_sha.hexdigest(),
           "peer_exceptions_sha": _sha(sorted(peer))}
    if by_rule is not None:
        out["by_rule"] = by_rule
    return out


CHILDREN = {"pipeline": child_pipeline, "floor": child_floor, "stream_floor": child_stream_floor,
            "import": child_import,
            "peer": child_peer, "plain": child_plain, "reference": child_reference}


# --------------------------------------------------------------------------- the parent

def ensure_ledger(size: int, cache: Path) -> Path:
    path = cache / f"ledger-{size}-seed{SEED}-{PERIOD}.xlsx"
    if not path.exists():
        print(f"  generating the {size:,}-employee sample ledger …", flush=True)
        tmp = path.with_suffix(".tmp.xlsx")
        code = ("from xietong.sample import write_sample_ledger; "
                f"write_sample_ledger({str(tmp)!r}, {size}, {PERIOD!r}, seed={SEED})")
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        tmp.rename(path)
    return path


def _tree(pid: int) -> list[int]:
    """pid and its descendants (Linux /proc/<pid>/task/<tid>/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def _pss_kb(pid: int) -> int:
    """Proportional set size: shared (copy-on-write) pages split between the processes sharing
    them, so summing PSS over a process tree counts each page once."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_child(kind: str, ledger: Path, timeout: float) -> dict | None:
    """One measurement in a fresh interpreter. Meanwhile this (otherwise idle) process samples
    the memory of the child's whole process tree — the evaluation's child and its feed workers,
    the second report writer — every 0.2 s: `tree_peak_mb` is the largest sum of their PSS seen,
    what the run as a whole needed of the machine."""
    with tempfile.TemporaryDirectory(prefix="xietong-bench-") as workdir:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, str(ledger), workdir]
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err, text=True)
            peak, deadline = 0, time.monotonic() + timeout
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    for pid in reversed(_tree(proc.pid)):
                        try:
                            os.kill(pid, 9)
                        except OSError:
                            pass
                    proc.wait()
                    return {"timeout": timeout}
                peak = max(peak, sum(_pss_kb(pid) for pid in _tree(proc.pid)))
                time.sleep(0.2)
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        if proc.returncode != 0:
            sys.stderr.write(stderr[-3000:])
            return {"error": f"exit {proc.returncode}"}
        result = json.loads(stdout.strip().splitlines()[-1])
        result["tree_peak_mb"] = peak / 1024
        return result


def _seconds(result: dict) -> float:
    if result and "phases" in result and "import" in result["phases"]:
        return result["phases"]["import"]["seconds"]
    if not result or "seconds" not in result and "whole_run_s" not in result:
        return float("inf")
    return result.get("whole_run_s", result.get("seconds"))


def best_of(kind: str, ledger: Path, repeat: int, timeout: float) -> dict | None:
    best = None
    for _ in range(repeat):
        got = run_child(kind, ledger, timeout)
        if got is None or "timeout" in got or "error" in got:
            return got
        if best is None or _seconds(got) < _seconds(best):
            best = got
    return best


def machine() -> dict:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    except OSError:
        pass
    import python_calamine
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram": mem, "python": platform.python_version(),
            "platform": platform.platform(), "calamine": getattr(python_calamine, "__version__", "?"),
            "load_avg_at_start": os.getloadavg()}


def _fmt_s(x) -> str:
    if x is None:
        return "–"
    if isinstance(x, dict):
        if "timeout" in x:
            return f"> {x['timeout']:.0f} s"
        if "error" in x:
            return x["error"]
        x = _seconds(x)
    return f"{x:.2f} s" if x < 100 else f"{x:.0f} s"


def table(results: list[dict]) -> str:
    head = ("| employees | ledger rows | read | validate | store | evaluate | persist | reports "
            "| **whole run** | peak memory (all processes, PSS) | peak RSS (run; evaluation child) "
            "| floor (calamine) | streaming floor (stdlib) | import ÷ floor "
            "| CLIPS peer | evaluate ÷ peer | plain Python | µs/row (run) |")
    lines = [head, "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"]
    for r in results:
        p = r.get("pipeline") or {}
        ph = p.get("phases", {})
        get = lambda name: ph.get(name, {}).get("seconds")  # noqa: E731
        rows = (p.get("digest", {}).get("counts", {}) or {}).get("rows") or r.get("rows")
        floor = r.get("floor") or {}
        stream = r.get("stream_floor") or {}
        peer, plain = r.get("peer"), r.get("plain")
        imp = None
        if get("read") is not None and floor.get("seconds"):
            imp = (get("read") + get("validate")) / floor["seconds"]
        ratio = None
        if peer and "seconds" in peer and get("evaluate"):
            ratio = get("evaluate") / peer["seconds"]
        whole = p.get("whole_run_s")
        lines.append("| " + " | ".join([
            f"{r['employees']:,}", f"{rows:,}" if rows else "?",
            _fmt_s(get("read")), _fmt_s(get("validate")), _fmt_s(get("store")),
            _fmt_s(get("evaluate")), _fmt_s(p.get("persist_s")), _fmt_s(get("reports")),
            f"**{_fmt_s(whole)}**" if whole else _fmt_s(p or None),
            f"{p['tree_peak_mb']:.0f} MB" if p.get("tree_peak_mb") else "–",
            _peaks(p),
            f"{_fmt_s(floor or None)}, {floor['peak_mb']:.0f} MB" if floor.get("seconds") else "–",
            f"{_fmt_s(stream)}, {stream['peak_mb']:.0f} MB" if stream.get("seconds") else "–",
            f"{imp:.2f}×" if imp else "–",
            _fmt_s(peer), f"{ratio:.2f}×" if ratio else "–", _fmt_s(plain),
            f"{whole / rows * 1e6:.0f}" if whole and rows else "–"]) + " |")
    return "\n".join(lines)


def _process_peaks(p: dict) -> tuple[float, float | None]:
    """A pipeline's run process's peak (the largest of its own phases) and the forked
    evaluation child's."""
    ph = p.get("phases") or {}
    run = max((v["peak_mb"] for k, v in ph.items() if k != "evaluate" and not v.get("forked")),
              default=0)
    return run, ph.get("evaluate", {}).get("peak_mb")


def _peaks(p: dict) -> str:
    """The run's own peak and the forked evaluation child's, as the table shows them."""
    run, child = _process_peaks(p)
    if not run:
        return "–"
    return f"{run:.0f} MB; {child:.0f} MB" if child else f"{run:.0f} MB"


def per_process(results: list[dict]) -> str:
    """Each process's peak at the largest size ÷ its peak at a tenth of it (issue 15's goal:
    memory flat in the run's size, within 1.5×), beside the two floors' ratios."""
    by_size = {r["employees"]: r for r in results}
    big = max(by_size, default=0)
    small = by_size.get(big // 10)
    if not big or small is None:
        return ""

    def peaks(r: dict) -> dict[str, float]:
        p = r.get("pipeline") or {}
        run, child = _process_peaks(p)
        ph = p.get("phases") or {}
        worker = ph.get("evaluate", {}).get("workers_peak_mb", 0)
        # the reports' second writer (forked by api.report: statement, reviews, feedback, the
        # small JSON files) reports its phases through the forked log
        writer = max((v["peak_mb"] for v in ph.values() if v.get("forked")), default=0)
        out = {"run process": run, "evaluation child": child or 0, "its feed worker": worker,
               "second report writer": writer}
        for kind, name in (("floor", "calamine floor"), ("stream_floor", "streaming floor")):
            out[name] = (r.get(kind) or {}).get("peak_mb", 0)
        return out

    a, b = peaks(by_size[big]), peaks(small)
    parts = [f"{name} {a[name]:.0f} ÷ {b[name]:.0f} MB = {a[name] / b[name]:.2f}×"
             for name in a if a[name] and b[name]]
    return (f"Per process, {big:,} ÷ {big // 10:,} employees (issue 15's goal: within 1.5×): "
            + "; ".join(parts) + ".")


def detail(results: list[dict]) -> str:
    out = []
    for r in results:
        p = r.get("pipeline") or {}
        if not p.get("phases"):
            continue
        out.append(f"\n{r['employees']:,} employees — phases (seconds, peak RSS of the phase):")
        for name, v in p["phases"].items():
            out.append(f"  {name:45s} {v['seconds']:9.2f} s {v['peak_mb']:8.0f} MB")
        d = p.get("digest", {}).get("counts", {})
        out.append(f"  firings {d.get('firings', '?'):,} · adjustments {d.get('adjustments', '?'):,}"
                   f" · exceptions {d.get('exceptions', '?'):,} · database {p.get('db_mb', 0):.0f} MB"
                   f" · outputs {p.get('outputs_mb', 0):.0f} MB")
        imp = r.get("import")
        if imp and "phases" in imp:
            ph = imp["phases"]
            out.append(f"  import alone: read + validate {ph['read + validate']['seconds']:.2f} s, "
                       f"store {ph['store']['seconds']:.2f} s, whole {ph['import']['seconds']:.2f} s, "
                       f"peak {ph['import']['peak_mb']:.0f} MB")
        for k in ("agreement",):
            if r.get(k):
                out.append(f"  {k}: {r[k]}")
    return "\n".join(out)


def agreement(r: dict) -> str:
    """Do the yardsticks compute the same thing as the pipeline?"""
    p = (r.get("pipeline") or {}).get("digest") or {}
    notes = []
    plain = r.get("plain") or {}
    if p and plain.get("adjustments_sha"):
        same = (plain["adjustments_sha"] == p["adjustments_sha"]
                and plain["exceptions_sha"] == p["exceptions_sha"])
        notes.append("plain Python = engine" if same else "PLAIN PYTHON DIFFERS FROM THE ENGINE")
    ref = r.get("reference") or {}
    if p and ref.get("adjustments_sha"):
        same = (ref["adjustments_sha"] == p["adjustments_sha"]
                and ref["exceptions_sha"] == p["exceptions_sha"])
        notes.append("reference = engine" if same else "REFERENCE DIFFERS FROM THE ENGINE")
    peer = r.get("peer") or {}
    if p and peer.get("by_rule"):
        ours = p.get("by_rule", {})
        same = all(ours.get(k) == v for k, v in peer["by_rule"].items()) \
            and peer["exceptions_sha"] == p.get("peer_exceptions_sha")
        notes.append("CLIPS peer = engine (firings per rule, exceptions)" if same
                     else "CLIPS PEER DIFFERS FROM THE ENGINE")
    return "; ".join(notes)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default=None, help="employees, comma-separated "
                    "(default 1000,10000,100000; --quick: 1000,10000)")
    ap.add_argument("--quick", action="store_true", help="1,000 and 10,000 employees, once")
    ap.add_argument("--repeat", type=int, default=None,
                    help="runs per measurement, best kept (default 2 below 100,000 employees, "
                         "1 at 100,000; --quick: 1)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per measurement")
    ap.add_argument("--reference-max", type=int, default=1000,
                    help="also time the unmodified (quadratic) reference up to this size")
    ap.add_argument("--child", nargs=3, metavar=("KIND", "LEDGER", "WORKDIR"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        kind, ledger, workdir = args.child
        print(json.dumps(CHILDREN[kind](ledger, workdir), default=str))
        return 0

    sizes = [int(s) for s in (args.sizes or ("1000,10000" if args.quick else
                                            "1000,10000,100000")).split(",")]
    RESULTS.mkdir(parents=True, exist_ok=True)
    cache = RESULTS / "ledgers"
    cache.mkdir(exist_ok=True)
    info = machine()
    print(f"machine: {info['nproc']} CPUs, {info['cpu']}, {info['ram']}, Python {info['python']},"
          f" load {info['load_avg_at_start'][0]:.1f}")
    results = []
    for size in sizes:
        repeat = args.repeat or (1 if args.quick or size >= 100_000 else 2)
        ledger = ensure_ledger(size, cache)
        r = {"employees": size, "ledger": ledger.name, "ledger_mb": ledger.stat().st_size / 2**20,
             "repeat": repeat}
        for kind in ("pipeline", "floor", "stream_floor", "import", "peer", "plain") + \
                (("reference",) if size <= args.reference_max else ()):
            print(f"  {size:,} employees: {kind} (best of {repeat}) …", flush=True)
            r[kind] = best_of(kind, ledger, repeat, args.timeout)
            print(f"    {_fmt_s(r[kind])}", flush=True)
        r["agreement"] = agreement(r)
        results.append(r)
        _save(info, results)
    text = table(results) + "\n\n" + per_process(results) + "\n" + detail(results)
    print("\n" + text)
    md = _save(info, results, text)
    print(f"\nwritten: {md.with_suffix('.json')} and {md}")
    return 0


def _save(info, results, text=None) -> Path:
    stamp = dt.datetime.now().strftime("%Y-%m-%d")
    path = RESULTS / f"{stamp}.json"
    path.write_text(json.dumps({"machine": info, "goals": GOALS, "results": results},
                               indent=1, default=str) + "\n")
    md = path.with_suffix(".md")
    if text is not None:
        md.write_text(f"machine: {info}\n\n{text}\n")
    return md


if __name__ == "__main__":
    sys.exit(main())
