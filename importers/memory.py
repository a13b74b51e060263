"""Pausing Python's cyclic garbage collector around the phases that build millions of acyclic
objects (reading a ledger, generating a sample company, evaluating): the collector would walk
every object built so far again and again as they pile up, and find nothing to free.

Measured: a 10,000-employee evaluation spent 3.4 s of 17 s in 16 full collections; building a
100,000-employee sample company was 12x slower per row than 10,000 with the collector on.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager


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
