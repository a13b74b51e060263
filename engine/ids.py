"""Message identity in durable_rules: the 32-bit FNV-1a hash the engine files messages under,
and the space of live ids of one engine state, which keeps them unique by that hash.

The engine stores a message, and finds a state (sid), by a 32-bit FNV-1a hash of its id alone:
a new message whose id hash is already taken in its state is rejected as "already observed",
and two distinct rows of a ledger would be taken for one (docs/engine.md §3, §4). So every
message gets an explicit ASCII id made here, never derived from user data, and unique by hash
among the messages live in its state.
"""
from __future__ import annotations

from typing import Iterable

FNV_OFFSET = 0x811c9dc5
FNV_PRIME = 16777619


def fnv1a32(s: str) -> int:
    """The engine's 32-bit hash of message ids and sids, for ASCII strings (the C code XORs
    *signed* chars, so bytes >= 0x80 hash differently there: engine ids are kept ASCII)."""
    h = FNV_OFFSET
    for b in s.encode('ascii'):
        h = ((h ^ b) * FNV_PRIME) & 0xffffffff
    return h


def message_id_base(counter: int) -> str:
    """The engine id proposed for the counter-th message of an evaluation: short ASCII, never
    derived from user data (identical rows must both be processed, docs/engine.md §4)."""
    return f'f{counter:x}'


class HashSpace:
    """The ids live in one engine state, kept unique by `fnv1a32`. A colliding candidate is
    re-keyed deterministically (`base~1`, `base~2`...).

    Hashing is the per-message cost here, so the space keeps the FNV state of the last prefix
    it hashed: the counter ids f1, f2, ... of an evaluation differ mostly in their last
    character, and hashing one then takes one step instead of one per character."""

    __slots__ = ('live', '_prefix', '_prefix_hash')

    def __init__(self, reserved: Iterable[str] = ()):
        self.live = {fnv1a32(r) for r in reserved}
        self._prefix = ''
        self._prefix_hash = FNV_OFFSET

    def hash(self, s: str) -> int:
        """fnv1a32(s), from the cached state of s's prefix when it is the last one hashed."""
        if not s:
            return FNV_OFFSET
        prefix = s[:-1]
        if prefix != self._prefix:
            self._prefix, self._prefix_hash = prefix, fnv1a32(prefix)
        return ((self._prefix_hash ^ ord(s[-1])) * FNV_PRIME) & 0xffffffff

    def claim(self, base: str) -> tuple[str, int]:
        """Claims `base` or its first free re-keying; returns it with its hash."""
        if not base.isascii():
            raise ValueError(f'engine ids must be ASCII, got {base!r}')
        cand, n = base, 0
        h = self.hash(cand)
        while h in self.live:
            n += 1
            cand = f'{base}~{n}'
            h = fnv1a32(cand)
        self.live.add(h)
        return cand, h

    def release(self, h: int) -> None:
        """Frees the id of hash `h` (its message was retracted)."""
        self.live.discard(h)
