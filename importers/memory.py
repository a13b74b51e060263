"""Building millions of ledger objects cheaply: the cyclic collector paused (time), and rows that
share their keys (memory).

`gc_paused`: Python's cyclic garbage collector paused around the phases that build millions of
acyclic objects (reading a ledger, generating a sample company, evaluating): the collector
would walk every object built so far again and again as they pile up, and find nothing to free.
Measured: a 10,000-employee evaluation spent 3.4 s of 17 s in 16 full collections; building a
100,000-employee sample company was 12x slower per row than 10,000 with the collector on.

`row_maker`: ledger rows as dicts that share one table of keys per sheet.

`give_back_free_memory`: the heap's free pages handed back to the system before a fork.
"""
from __future__ import annotations

import ctypes
import gc
from contextlib import contextmanager
from functools import lru_cache
from keyword import iskeyword


@contextmanager
def gc_paused():
    """The cyclic collector off inside the block, as it was after it. Reference counting still
    frees everything that is not in a cycle; what the block builds holds no cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@lru_cache(maxsize=None)
def row_maker(keys: tuple[str, ...]):
    """A class whose instances' `__dict__` is a ledger row: `row_maker(keys)(*values).__dict__`
    equals `dict(zip(keys, values))`, in the same order.

    A dict built anew holds its own table of keys (281 bytes for a rating row, before its
    values). CPython shares one table among the attribute dicts of a class's instances
    (key-sharing dictionaries, PEP 412) when their attributes are set in the same order, as the
    compiled `__init__` here sets them: 153 bytes. The row is a plain `dict` all the same —
    equal, ordered, JSON-able, mutable (a key added later may give that row a table of its
    own; either way it behaves as a dict).
    The keys are the schema's column names (identifiers, never user text), compiled into the
    `__init__`: a call is faster than dict(zip(keys, values)). One class per tuple of keys, made
    once (a new class per call would pile up while the collector is paused).
    """
    assert all(k.isascii() and k.isidentifier() and not iskeyword(k) and not k.startswith("__")
               for k in keys)           # ASCII: Python would NFKC-normalise a compiled name
    args = [f"v{i}" for i in range(len(keys))]
    src = (f"def __init__(self, {', '.join(args)}):\n"
           + "".join(f"    self.{k} = {v}\n" for k, v in zip(keys, args)))
    namespace: dict = {}
    exec(src, namespace)                                # noqa: S102 - see the docstring
    return type("LedgerRow", (), {"__init__": namespace["__init__"]})


def give_back_free_memory() -> None:
    """Asks the C library to hand the heap's free pages back to the system (glibc's
    malloc_trim; nothing elsewhere). Called before the evaluation's child is forked: an import
    leaves freed memory resident in the process's heap (after a 100,000-employee import: 167 MB
    resident, 109 MB after this), and a forked child starts with every resident page of its
    parent. (A full collection first freed 5 MB more, and cost a long-lived process with a big
    heap — the desk, the test suite — far more time than this.)"""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's malloc_trim among the symbols this process has loaded, or None (another C
    library). (ctypes.util.find_library would run ldconfig in a subprocess to find libc.)"""
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:
        return None
