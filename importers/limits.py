"""Hardening limits for reading uploaded workbooks (SPEC §3.1 "too large"), in one place.

Every limit has a default sized for the largest legitimate ledger we know — the 100,000-employee
sample company (≈1M rows: a 28 MB file, 290 MB of XML unpacked, its biggest sheet 192 MB and
4.2M cells) — with at least twice that as headroom, while a decompression bomb is refused from
the zip directory in microseconds (its 2 GB sheet is over `max_part_mb`, and its ratio is far
over `max_ratio`). An operator may change a limit through the environment; nothing else reads
them. The numbers and their reasons are documented in docs/limits.md.

    XIETONG_MAX_FILE_MB=100 XIETONG_MAX_CELLS=10000000 xietong import big.xlsx --period 2026-11

Limits are not policy: they decide whether a file is read at all, never a score, so they are not
part of the policy file whose hash each run records.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields

MB = 2**20


@dataclass(frozen=True)
class Limits:
    max_file_mb: int = 100          # the upload itself (sample: 28 MB)
    max_members: int = 1_000        # parts in a zip package (sample: 22)
    max_part_mb: int = 512          # one XML part, unpacked (sample's biggest sheet: 192 MB)
    max_unpacked_mb: int = 1_024    # all parts together, unpacked (sample: 290 MB)
    max_ratio: int = 100            # unpacked / packed for a part over 1 MB (sample: ≤ 12x;
                                    # the bombs measured 180-1000x)
    max_cells: int = 10_000_000     # rows × columns of one sheet's used rectangle (sample: 4.2M)
    reader_memory_mb: int = 2_048   # address space the isolated reader may add to ours
    reader_timeout_s: int = 300     # wall-clock time of the isolated reader

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_mb * MB

    @property
    def max_part_bytes(self) -> int:
        return self.max_part_mb * MB

    @property
    def max_unpacked_bytes(self) -> int:
        return self.max_unpacked_mb * MB


DEFAULTS = Limits()


def env_name(field_name: str) -> str:
    return "XIETONG_" + field_name.upper()


def current(environ=None) -> Limits:
    """The limits in force: the defaults, each overridable by XIETONG_<NAME> (a positive integer).
    A malformed value is ignored rather than trusted: the default stays."""
    env = os.environ if environ is None else environ
    values = {}
    for f in fields(Limits):
        raw = env.get(env_name(f.name))
        if raw is None:
            continue
        try:
            v = int(raw.strip().replace("_", ""))
        except ValueError:
            continue
        if v > 0:
            values[f.name] = v
    return Limits(**values) if values else DEFAULTS
