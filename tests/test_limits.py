"""The hardening limits (importers/limits.py, docs/limits.md): overridable through the
environment, and roomy enough for the largest legitimate ledger we know.

The 100,000-employee sample company takes half a minute to write and a minute to import, too
long for every CI run; its sizes grow linearly with the employees, so the 10,000-employee one is
measured here and scaled by ten, and every limit must still leave 1.5x headroom over it. With
XIETONG_SLOW_TESTS=1 the real 100,000-employee ledger is imported as well.
"""
from __future__ import annotations

import io
import os
import zipfile

import pytest

from importers import guard, limits, read_ledger
from xietong.sample import write_sample_ledger

PERIOD = "2026-11"


def test_defaults_and_environment_overrides():
    assert limits.current({}) == limits.DEFAULTS
    got = limits.current({"XIETONG_MAX_FILE_MB": "20", "XIETONG_MAX_CELLS": "1_000",
                          "XIETONG_MAX_RATIO": "abc", "XIETONG_MAX_PART_MB": "-5"})
    assert (got.max_file_mb, got.max_cells) == (20, 1000)
    assert (got.max_ratio, got.max_part_mb) == (limits.DEFAULTS.max_ratio, limits.DEFAULTS.max_part_mb)
    assert got.max_file_bytes == 20 * 2**20


@pytest.fixture(scope="module")
def sample_10k(tmp_path_factory):
    path = tmp_path_factory.mktemp("sample") / "sample-10k.xlsx"
    write_sample_ledger(path, employees=10_000, period=PERIOD, seed=7, lang="zh")
    return path


def test_the_100k_sample_fits_the_default_limits_with_room(sample_10k):
    scale, room = 10, 1.5
    data = sample_10k.read_bytes()
    assert guard.sniff(data) == "xlsx"          # passes check_zip and the XML prologs as it is
    L = limits.DEFAULTS
    z = zipfile.ZipFile(io.BytesIO(data))
    infos = z.infolist()
    assert len(data) * scale * room < L.max_file_bytes
    assert len(infos) * room < L.max_members
    assert max(i.file_size for i in infos) * scale * room < L.max_part_bytes
    assert sum(i.file_size for i in infos) * scale * room < L.max_unpacked_bytes
    assert max(i.file_size / max(i.compress_size, 1) for i in infos if i.file_size > 2**20) * room \
        < L.max_ratio
    from python_calamine import CalamineWorkbook
    wb = CalamineWorkbook.from_path(str(sample_10k))
    cells = 0
    for name, member in guard.xlsx_sheet_parts(z).items():
        scan = guard.scan_sheet_xml(z, member)   # the guard's bound (coarse for small sheets)
        assert scan.sure and scan.max_row * scan.max_col <= L.max_cells
        end = wb.get_sheet_by_name(name).end     # the real extent, which grows with the company
        if end is not None:
            cells = max(cells, (end[0] + 1) * (end[1] + 1))
    assert cells * scale * room < L.max_cells
    assert len(read_ledger(sample_10k).rows["InternalRatings"]) > 50_000


@pytest.mark.skipif(not os.environ.get("XIETONG_SLOW_TESTS"), reason="set XIETONG_SLOW_TESTS=1 (about 2 minutes)")
def test_the_100k_sample_imports(tmp_path, db_url):
    from xietong.cli import main
    path = tmp_path / "sample-100k.xlsx"
    write_sample_ledger(path, employees=100_000, period=PERIOD, seed=7, lang="zh")
    out, err = io.StringIO(), io.StringIO()
    assert main(["import", str(path), "--period", PERIOD, "--db", db_url], out, err) == 0, err.getvalue()
