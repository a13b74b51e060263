"""The stored rows of a run's firings and their chain links' hashes, made from the evaluation's
spools for the run's write transaction to insert (evaluator.runs._store_results through
chain.ChainWriter.insert_made).

Making them is Python work a firing at a time — the stored outcome (the firing's own, or with
the ids of the adjustments and exceptions it produced), the sources' text, the chain content,
its hash after the one before — and inserting them is the database's. On a machine with a
core to spare, a big run's rows are made in a forked process of their own (`streamed`) while
the run process inserts the chunks it has already received: at 100,000 employees (1.85 million
firings) the storing took ≈ 26 s in one process, half of it making rows.

The child is forked inside the run's write transaction and never touches the database (it only
reads the spools, which are read by position: engine.isolation and importers/spool.py say
why both are safe); its chunks come through a pipe (engine.isolation.Streamed: marshalled,
the values being ints, texts and None), so that the pipe's buffer is all that stands between
the two processes: the child makes the next chunk while this process inserts the last. What
the report that follows needs from all the firings (`gathering`, reports/facts.py's
Gathering) is gathered where the rows are made and comes back as the child's result. A child
that fails or dies fails the store: the transaction is rolled back, nothing of the run is
stored.
"""
from __future__ import annotations

import hashlib
from typing import Iterator

from engine.isolation import Streamed
from evaluator.chain import CHUNK_CHARS
from evaluator.canonical import OutcomeCodec, canonical_json, firing_content_of, sources_json
from importers.spool import Spool

# The columns of a chunk, in order: the rest of a firing's row (its id, its run's id) is the
# inserter's (ChainWriter.insert_made)
COLUMNS = ("seq", "rule", "subject_id", "sources", "outcome")
# A chunk ends at this many firings or once their chain contents reach CHUNK_CHARS
# characters (evaluator.chain.CHUNK_CHARS: a firing's columns hold about what its content does)
CHUNK = 20_000
# Runs with fewer firings make their rows in the run process: forking costs more than it saves
# (a module constant so that a test can lower it)
APART_MIN = 100_000


def made(trace, notes, run_id: int, prev: str, gathering=None, chunk: int | None = None,
         chunk_chars: int | None = None) -> Iterator[tuple[list, list]]:
    """(columns, hashes) a chunk at a time, in seq order: `columns` the COLUMNS of each firing of
    `trace` (rules.context.TraceEntry fields, from a Spool or a list) as stored, `hashes` their
    chain links' hashes, the first made after `prev`. `notes` (a Spool or list, in seq order):
    (seq, adjustment ids, review ids, exceptions' sentences) of the firings that produced
    results (runs.firing_notes), added to their stored outcome. `gathering.add(rule,
    subject_id, sources, outcome text)` is called for each firing, in order."""
    most = CHUNK_CHARS if chunk_chars is None else chunk_chars
    chunk = CHUNK if chunk is None else chunk
    entries = trace.fields() if isinstance(trace, Spool) else map(tuple, trace)
    notes = notes.fields() if isinstance(notes, Spool) else iter(notes)
    outcome_text = OutcomeCodec().text      # this run's common outcomes, each written once
    observe = None if gathering is None else gathering.add
    sha256, src = hashlib.sha256, sources_json
    note = next(notes, None)
    last = -1
    seqs, rules, sids, sources_, outcomes, hashes = [], [], [], [], [], []
    chars = 0
    for seq, rule, subject_id, sources, outcome in entries:
        if seq <= last:             # the notes are met in seq order, as the firings
            raise RuntimeError(f"firing {seq} stored after firing {last}")
        last = seq
        if note is not None and note[0] == seq:
            # A firing's stored outcome names what it produced: its adjustments' ids and its
            # exceptions' review ids (the auditor's link from the trace to the results). An
            # exception's sentence, said by the book after the rule fired, is added to the
            # outcome item that raised it: so the chain covers it, and a report words it in its
            # own language.
            _, adj_ids, exc_ids, says = note
            note = next(notes, None)
            outcome = dict(outcome)
            if adj_ids:
                outcome["adjustments"] = adj_ids
            if exc_ids:
                outcome["exceptions"] = exc_ids
                if says:
                    outcome["outcomes"] = [_with_says(o, says) for o in outcome["outcomes"]]
            text = canonical_json(outcome)
        else:
            text = outcome_text(outcome)
        if observe is not None:
            observe(rule, subject_id, sources, text)
        sources_text = src(sources)
        content = firing_content_of(run_id, seq, rule, subject_id, sources_text, text)
        prev = sha256((prev + content).encode("utf-8")).hexdigest()
        seqs.append(seq)
        rules.append(rule)
        sids.append(subject_id)
        sources_.append(sources_text)
        outcomes.append(text)
        hashes.append(prev)
        chars += len(content)
        if len(hashes) >= chunk or chars >= most:
            yield [seqs, rules, sids, sources_, outcomes], hashes
            seqs, rules, sids, sources_, outcomes, hashes = [], [], [], [], [], []
            chars = 0
    if note is not None:
        raise RuntimeError(f"firing {note[0]} produced results but is not in the trace")
    if hashes:
        yield [seqs, rules, sids, sources_, outcomes], hashes


def _with_says(item: dict, says: dict[str, list]) -> dict:
    """An outcome item of a firing; a flag ({"exception": kind}) with the sentence of the
    exception it raised."""
    kind = item.get("exception") if type(item) is dict else None
    if kind in says:
        return {**item, "says": says[kind]}
    return item


def streamed(trace, notes, run_id: int, prev: str, gathering=None,
             apart: bool = True) -> Streamed:
    """made(...) in a forked child (engine.isolation.Streamed; `apart=False`: in this process):
    iterating yields its chunks as they are made; once they are all taken, `.result` is
    `gathering.facts()` (None without a gathering), gathered where they were made."""
    return Streamed(_made_and_gathered, trace, notes, run_id, prev, gathering, point="render",
                    apart=apart)


def _made_and_gathered(trace, notes, run_id, prev, gathering):
    yield from made(trace, notes, run_id, prev, gathering)
    return None if gathering is None else gathering.facts()
