"""Run a function in a forked child process, so that a native crash fails one call, not us.

durable_rules is unmaintained C code known to crash the whole process (SIGSEGV in joins with a
cross-fact inequality, docs/engine.md §5: the layer refuses joins, but a crash it does not know
of would take the process with it). `evaluator.runs` therefore runs the engine
part of an evaluation here: in a child forked *between* database transactions (it inherits no
open transaction and never touches the database), whose result comes back in an unnamed
temporary file (the pipe beside it only says the child has ended). A crash or a kill of the
child (or a hang, given a timeout) becomes `EvaluationCrashed`; the parent, which holds the
database, carries on and reports it. The child dies with its parent
(PR_SET_PDEATHSIG): a killed command leaves no orphan behind.

fork, not spawn: the child starts in milliseconds with the parent's modules, rules and input
rows already in memory (copy-on-write), and only the result is pickled. An evaluation's trace
is not in the result: the child writes it to a spool the parent made before the fork
(importers/spool.py), and the result carries the spool's index.

Fault injection for the tests lives here too (`fault`): `XIETONG_FAULT=segv:engine` makes the
child crash with SIGSEGV exactly where durable_rules would, and `kill:<point>` makes a process
SIGKILL itself at a named point of a write transaction, so that crash-safety tests never depend
on timing. The variable is read at each point; it does nothing unless set.
"""
from __future__ import annotations

import gc
import marshal
import os
import pickle
import select
import signal
import tempfile
import time
import traceback

FAULT_ENV = "XIETONG_FAULT"


class EvaluationCrashed(RuntimeError):
    """The child died (signal or exit code) or did not answer in time."""


PIPE_NOTE = 4096        # bytes of a child's note on the pipe: why its answer could not be written


class ChildError(RuntimeError):
    """The function raised in the child: `kind` is the exception's class name."""

    def __init__(self, kind: str, message: str, trace: str = ""):
        super().__init__(message)
        self.kind = kind
        self.trace = trace


def fault(point: str) -> None:
    """A named point where a test may make this process die: XIETONG_FAULT=<kill|segv>:<point>."""
    want = os.environ.get(FAULT_ENV)
    if not want:
        return
    how, _, where = want.partition(":")
    if where == point:
        os.kill(os.getpid(), signal.SIGSEGV if how == "segv" else signal.SIGKILL)


def _signal_name(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def die_with_parent(parent_pid: int) -> None:
    """Linux: have the kernel SIGKILL this (forked) process when its parent dies, so that a
    killed command leaves no orphan computing for minutes and holding its pipes open."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)          # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:                      # the parent died before prctl
        os._exit(1)


class Forked:
    """fn(*args) started now in a forked child; `result()` waits for its return value (raising
    EvaluationCrashed when the child died, ChildError when fn raised), `cancel()` stops it.

    Plain os.fork and a pipe rather than multiprocessing: this also runs inside the evaluation's
    own child (feed workers, engine/parallel.py), and a multiprocessing daemon may have no
    children. The child leaves through os._exit: no atexit handler, buffered stream or
    finaliser of the parent's runs twice. `point` names it for fault injection (`fault`)."""

    def __init__(self, fn, *args, point: str = "worker"):
        # The answer goes into an unnamed temporary file, not the pipe: a child whose answer
        # outgrew the pipe's buffer (64 KB: a report's thousands of review workbook paths)
        # would wait, holding all its memory, until the parent came to read it — after the
        # parent's own long work. The pipe only says the child has ended (EOF).
        answer = tempfile.TemporaryFile()
        read_end, write_end = os.pipe()
        parent_pid = os.getpid()
        gc.freeze()                     # the child's collector then leaves our objects (and
        try:                            # their copy-on-write pages) alone
            pid = os.fork()
        except BaseException:
            gc.unfreeze()
            os.close(read_end)
            os.close(write_end)
            answer.close()
            raise
        if pid == 0:                    # the child
            code = 1
            try:
                os.close(read_end)
                die_with_parent(parent_pid)
                import faulthandler     # pytest enables it; its dump would only be noise here
                faulthandler.disable()
                fault(point)
                try:
                    result = ("ok", fn(*args))
                except BaseException as e:          # noqa: BLE001 - it goes back as data
                    result = ("error", (type(e).__name__, str(e), traceback.format_exc()))
                try:
                    _answer(answer, result)
                except OSError as e:                # TMPDIR full: say why through the pipe
                    os.write(write_end, f"{type(e).__name__}: {e}".encode()[:PIPE_NOTE])
                    raise
                os.close(write_end)
                code = 0
            finally:
                os._exit(code)
        gc.unfreeze()
        os.close(write_end)
        self.pid, self._read_end, self._answer = pid, read_end, answer

    def result(self, timeout: float | None = None):
        """The child's return value, once it has ended; after `timeout` seconds without its
        answer the child is killed and EvaluationCrashed raised."""
        fd, self._read_end = self._read_end, None
        note = b""
        try:
            note = _wait_for_end(fd, timeout)
        except TimeoutError:
            os.kill(self.pid, signal.SIGKILL)
            self._answer.close()
            raise EvaluationCrashed(f"no answer within {timeout:.0f} s; stopped") from None
        finally:
            os.close(fd)
            _, status = os.waitpid(self.pid, 0)
        exitcode = os.waitstatus_to_exitcode(status)
        with self._answer as answer:
            written = answer.seek(0, os.SEEK_END)
            if not written and note:    # its answer could not be written: not a crash
                kind, _, message = note.decode("utf-8", "replace").partition(": ")
                raise ChildError(kind, message)
            if exitcode != 0 or not written:
                raise EvaluationCrashed(_signal_name(exitcode))
            answer.seek(0)
            enabled = gc.isenabled()
            gc.disable()                # unpickling many containers: no collections meanwhile
            try:                        # read as it is unpickled, not into one bytes first
                status_, payload = pickle.load(answer)
            except Exception:           # noqa: BLE001 - a truncated answer is a crash
                raise EvaluationCrashed(_signal_name(exitcode)) from None
            finally:
                if enabled:
                    gc.enable()
        if status_ == "ok":
            return payload
        raise ChildError(*payload)

    def cancel(self) -> None:
        """Stops the child if it still runs and reaps it. Idempotent."""
        if self._read_end is None:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.close(self._read_end)
        self._read_end = None
        os.waitpid(self.pid, 0)
        self._answer.close()


class Streamed:
    """The items of the generator function `fn(*args)`, made in a forked child (Forked) and sent
    through a pipe as they are made: iterating yields them in order while the child makes the
    next ones (the pipe's buffer between the two); `result` is then the generator's return
    value. Each item goes marshalled (ints, floats, texts, bytes, None, and lists, tuples and
    dicts of them: a fraction of pickle's cost for plain rows), else pickled. A child that
    raised or died raises ChildError or EvaluationCrashed from the iteration; `cancel()` stops
    it (idempotent: a consumer that stops early calls it). `point` as Forked's.

    `apart=False`: the same items and `result`, the generator run in this process (what a
    caller does when forking would cost more than it saves): one way to consume either."""

    READ = 1 << 20               # bytes of the pipe read at a time

    def __init__(self, fn, *args, point: str = "worker", apart: bool = True):
        self.result = None
        self._child = self._read_end = self._items = None
        if not apart:
            self._items = fn(*args)
            return
        read_end, write_end = os.pipe()
        try:
            self._child = Forked(_send_items, read_end, write_end, fn, args, point=point)
        except BaseException:
            os.close(read_end)
            os.close(write_end)
            raise
        os.close(write_end)
        self._read_end = read_end

    def __iter__(self):
        if self._child is None:
            self.result = yield from self._items
            return
        fd, self._read_end = self._read_end, None
        with os.fdopen(fd, "rb", buffering=self.READ) as pipe:
            while True:
                head = pipe.read(9)
                if len(head) < 9:
                    break                   # the child has ended (or died: result() says)
                size = int.from_bytes(head[1:], "little")
                data = pipe.read(size)
                if len(data) < size:
                    break
                yield marshal.loads(data) if head[:1] == b"m" else pickle.loads(data)
        self.result = self._child.result()

    def cancel(self) -> None:
        if self._child is None:
            self._items.close()
            return
        if self._read_end is not None:
            os.close(self._read_end)
            self._read_end = None
        self._child.cancel()


def _send_items(read_end: int, write_end: int, fn, args):
    """Streamed's child: each item of fn(*args) into the pipe, a kind, a length and the bytes;
    the generator's return value is the child's result."""
    os.close(read_end)
    items = fn(*args)
    with os.fdopen(write_end, "wb", buffering=Streamed.READ) as pipe:
        while True:
            try:
                item = next(items)
            except StopIteration as end:
                return end.value
            try:
                kind, data = b"m", marshal.dumps(item)
            except ValueError:
                kind, data = b"p", pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
            pipe.write(kind + len(data).to_bytes(8, "little"))
            pipe.write(data)


def _answer(file, result) -> None:
    """The child's result, pickled straight into its answer file (a 100,000-employee month's
    adjustments and exceptions pickle to tens of MB, which the child held as one bytes beside
    the objects, at its peak); a result that cannot be pickled is answered as the error it is,
    over whatever part of it was written. OSError (the file cannot be written) goes up."""
    try:
        pickle.dump(result, file, protocol=pickle.HIGHEST_PROTOCOL)
    except OSError:
        raise
    except BaseException as e:                      # noqa: BLE001 - e.g. unpicklable
        file.seek(0)
        file.truncate()
        pickle.dump(("error", (type(e).__name__, f"cannot return the result: {e}", "")), file)
    file.flush()


def _wait_for_end(fd: int, timeout: float | None) -> bytes:
    """Until the child closes its end of the pipe (it has written its answer, or died); what it
    wrote there, if anything (why its answer could not be written; at most PIPE_NOTE bytes
    kept); a TimeoutError after `timeout` seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    note = b""
    while True:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
        got = os.read(fd, 1 << 16)
        if not got:
            return note
        note = (note + got)[:PIPE_NOTE]

