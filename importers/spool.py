"""A spool: an append-only sequence of records kept in a temporary file, written in chunks, so
that no process holds them all.

Two things too big to hold are kept in spools: a month's ratings and behaviours, as the import
types them and as the evaluation reads them back (importers/spooled.py), and an evaluation's
trace. It lives here, at the bottom, because the import uses it; the rules and the evaluator,
above, use it too.

The trace is the reason it was made (rules/context.py appends a TraceEntry per firing): a
100,000-employee month fires about two million rules, gigabytes as Python objects. The trace is
appended here as the rules fire; every CHUNK records are pickled (as columns: a named tuple
pickles its class with every record) to the file and dropped from memory. The spool can be read
in order, chunk by chunk, as many times as needed, and has a length.

Where the file lives and who removes it (docs/decisions.md, "The trace spool"): the file is
unnamed from the start — `tempfile.TemporaryFile` in TMPDIR (O_TMPFILE on Linux; elsewhere
created 0600 and unlinked at once) — so nothing can be left behind whatever ends the processes
that hold it open: the kernel frees it when the last descriptor closes. `evaluator.runs` makes
the spool in the parent process before it forks the evaluation's child; the child inherits the
descriptor and writes, the parent reads what the child wrote and closes it. The descriptor is
shared, the file offset with it: every read and write here is positional (os.pread, os.pwrite),
so that two processes never disturb each other.

A spool crosses the pipe back from the child as its index (where each chunk is), never its
records: unpickled in the process that made it, it is that process's own spool again, now
knowing what the child wrote (`_reattach`); anywhere else it cannot be unpickled.

The records of the chunk being filled are the objects appended: a change made to one of them is
written with the chunk. A chunk on the file is read back as it was written; iterating the spool
writes a chunk back when the caller changed one of its records meanwhile (a test takes the
`says` out of every outcome of a finished evaluation, tests/test_wording.py).
"""
from __future__ import annotations

import os
import pickle
import tempfile
import weakref
from bisect import bisect_right
from itertools import accumulate
from typing import Callable, Iterator

# Records per pickled chunk, by default (the trace's): what a writer holds before it writes
# them and a reader holds as it reads, besides what each makes of them. A chunk of a big
# month's behaviour firings, each with an outcome of its own, is ≈ 7 objects an entry: at
# 32,768 the firings' maker of `xietong run` peaked at 134 MB at 100,000 employees, at
# 8,192 at 113 MB (and the evaluation's child 5 MB lower); no change of time measured.
CHUNK = 8_192
_PROTOCOL = pickle.HIGHEST_PROTOCOL

# the spools this process made, by token: where a spool's index coming back through a pipe
# finds its file (a forked child holds copies of them under the same tokens)
_LIVE: weakref.WeakValueDictionary[str, "Spool"] = weakref.WeakValueDictionary()


class SpoolClosed(RuntimeError):
    """The spool's file was closed (its evaluation was stored or dropped): only its length is
    left."""


class Spool:
    """Records appended in order, kept in an unnamed temporary file (in `directory`, default
    TMPDIR). `make(*fields)` turns a stored record's fields back into a record (a named tuple
    class; default: a plain tuple of the fields). Every record has the same number of
    fields."""

    def __init__(self, make: Callable | None = None, chunk: int | None = None,
                 directory: str | None = None):
        self._file = tempfile.TemporaryFile(buffering=0, dir=directory)
        self._fd = self._file.fileno()
        self._make = make or _as_tuple
        self._chunk = chunk or CHUNK
        self._pending: list = []
        self._index: list[tuple[int, int, int]] = []    # (offset, bytes, records) per chunk
        self._starts: list[int] = []    # where each chunk starts, and the end (chunk_bounds)
        self._written = 0           # records in the chunks on the file
        self._end = 0               # the file's end: where the next chunk goes
        self._token = os.urandom(12).hex()
        _LIVE[self._token] = self

    # -- writing ---------------------------------------------------------------------------

    def append(self, record) -> None:
        pending = self._pending
        pending.append(record)
        if len(pending) >= self._chunk:
            self.flush()

    def extend(self, records) -> None:
        """Appends every record of `records`, in order (as append, a whole batch at once)."""
        pending = self._pending
        pending.extend(records)
        chunk = self._chunk
        if len(pending) >= chunk:
            for start in range(0, len(pending) - chunk + 1, chunk):
                self._index.append(self._write(pending[start:start + chunk]))
                self._written += chunk
            self._pending = pending[start + chunk:]

    def flush(self) -> None:
        """Writes the chunk being filled to the file, however short: its records are then
        held by the file only."""
        if self._pending:
            self._index.append(self._write(self._pending))
            self._written += len(self._pending)
            self._pending = []

    def _write(self, records: list) -> tuple[int, int, int]:
        self._check_open()          # a closed descriptor's number may be another file's now
        data = pickle.dumps(tuple(map(list, zip(*records))), protocol=_PROTOCOL)
        offset = self._end
        view, done = memoryview(data), 0
        while done < len(data):
            done += os.pwrite(self._fd, view[done:], offset + done)
        self._end += len(data)
        return offset, len(data), len(records)

    def clear(self) -> None:
        """Empties the spool and gives its disk space back (the file stays open)."""
        self._check_open()
        os.ftruncate(self._fd, 0)
        self._pending, self._index, self._written, self._end = [], [], 0, 0
        self._starts = []

    # -- reading ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._written + len(self._pending)

    def _read_bytes(self, offset: int, size: int) -> bytes:
        """A written chunk's bytes."""
        data = os.pread(self._fd, size, offset)
        while len(data) < size:             # a regular file reads short only at its end
            more = os.pread(self._fd, size - len(data), offset + len(data))
            if not more:
                raise EOFError(f"the spool's chunk at byte {offset} is cut short")
            data += more
        return data

    def _read(self, offset: int, size: int) -> tuple[bytes, list]:
        """A written chunk: its bytes and its records."""
        data = self._read_bytes(offset, size)
        return data, list(map(self._make, *pickle.loads(data)))

    def chunks(self) -> Iterator[list]:
        """The records in order, a chunk (a list) at a time, as stored — for readers that only
        read (the store). The last, unwritten chunk is the live list: do not change it."""
        self._check_open()
        for offset, size, _ in list(self._index):
            yield self._read(offset, size)[1]
        if self._pending:
            yield self._pending

    def fields(self) -> Iterator[tuple]:
        """Each record's fields as a plain tuple, in order, read a chunk at a time — for a
        reader that takes the fields apart anyway (the store): no record object is made for
        the chunks on the file (a named tuple's constructor is Python code, a second per
        two million records)."""
        self._check_open()
        for offset, size, _ in list(self._index):
            yield from zip(*pickle.loads(self._read_bytes(offset, size)))
        for record in self._pending:
            yield tuple(record)

    def _chunk_of(self, i: int) -> int:
        """The written chunk that holds record `i` (< the records written): its index."""
        starts = self._starts
        if len(starts) != len(self._index) + 1:
            starts = self._starts = list(accumulate((n for _, _, n in self._index), initial=0))
        return bisect_right(starts, i) - 1

    def chunk_bounds(self, i: int) -> tuple[int, int]:
        """(first, stop): the positions of the records of the chunk that holds record `i`
        (0-based, < len) — the chunk being filled counts as one."""
        if i >= self._written:
            return self._written, self._written + len(self._pending)
        k = self._chunk_of(i)
        return self._starts[k], self._starts[k + 1]

    def chunk_rows(self, i: int) -> list[tuple]:
        """The fields of each record of the chunk that holds record `i` (chunk_bounds), as
        plain tuples, as stored — for a reader that looks records up by position
        (importers.spooled.SpooledRows.row)."""
        self._check_open()
        if i >= self._written:
            return [tuple(record) for record in self._pending]
        offset, size, _ = self._index[self._chunk_of(i)]
        return list(zip(*pickle.loads(self._read_bytes(offset, size))))

    def __iter__(self) -> Iterator:
        """The records in order. A written chunk whose records the caller changed while they
        were iterated is written back, so that the change is seen by every later reader."""
        self._check_open()
        for i, (offset, size, _) in enumerate(list(self._index)):
            data, records = self._read(offset, size)
            yield from records
            if pickle.dumps(tuple(map(list, zip(*records))), protocol=_PROTOCOL) != data:
                self._index[i] = self._write(records)       # changed: the old bytes stay unused
        yield from self._pending

    def __eq__(self, other) -> bool:
        """Equal to another spool or a list with the same records in the same order."""
        if not isinstance(other, (Spool, list, tuple)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None

    def __repr__(self) -> str:
        state = "closed" if self._file is None else f"{self._end} bytes"
        return f"<Spool of {len(self)} records, {state}>"

    # -- ending ----------------------------------------------------------------------------

    def close(self) -> None:
        """Closes the file (its space is freed when no process holds it any more); the length
        stays. Idempotent."""
        if self._file is not None:
            self._written, self._pending = len(self), []
            self._file.close()
            self._file = None
            _LIVE.pop(self._token, None)

    @property
    def closed(self) -> bool:
        return self._file is None

    def _check_open(self) -> None:
        if self._file is None:
            raise SpoolClosed(f"the spool of {len(self)} records was closed")

    # -- crossing a pipe -------------------------------------------------------------------

    def __reduce__(self):
        """Pickled as its index (the records stay on the file): only the process that made the
        spool (or a fork of it) can take it back."""
        self._check_open()
        self.flush()
        return _reattach, (self._token, list(self._index), self._written, self._end)


def _as_tuple(*fields) -> tuple:
    """A record read back as the plain tuple of its fields (`tuple` itself takes one)."""
    return fields


def _reattach(token: str, index: list, written: int, end: int) -> Spool:
    """The spool `token` of this process, now holding the chunks another process wrote."""
    spool = _LIVE.get(token)
    if spool is None or spool.closed:
        raise pickle.UnpicklingError("a spool comes back only to the open spool it was forked "
                                     "from")
    spool._index, spool._written, spool._end, spool._pending = index, written, end, []
    spool._starts = []
    return spool
