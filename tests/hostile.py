"""Hostile files for the hardening tests (docs/workbooks.md §3, §4): each is built here, in
seconds, from a real ledger workbook, so that what is hostile about it is the only thing wrong.

* `whitespace_bomb`: a sheet that inflates to N GiB of spaces from a ~2 MB file. Its deflate
  stream is one full-flush block of 1 MiB of spaces repeated (a valid stream: a full flush
  resets the dictionary), so building a 2 GiB bomb costs a CRC pass, not a 2 GiB compression.
* `lying_bomb`: a part whose zip headers declare a size just above its compressed size while it
  really inflates to 1 GiB: it passes every check of the central directory.
* `entity_bomb` / `xxe`: billion laughs / an external entity in the Departments sheet.
* `far_cell`: a 5 KB file whose cells A1 and XFD1048576 make calamine ask for 512 GiB.
* `encrypted`: an OLE compound file holding `EncryptionInfo` and `EncryptedPackage` streams,
  the way Excel saves a password-protected workbook.
* `docx`, `random_bytes`, `empty`.
"""
from __future__ import annotations

import os
import struct
import zipfile
import zlib
from pathlib import Path

from reports.template import write_ledger

SHEET = "xl/worksheets/sheet1.xml"
HEAD = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
NS = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'


def base_ledger(path: Path) -> Path:
    from tests.ledgers import worked_example
    write_ledger(path, worked_example().build().rows, lang="en", guide=False)
    return path


def _first_sheet(src: Path) -> str:
    """The member of the Departments sheet: the first one when there is no guide sheet."""
    with zipfile.ZipFile(src) as z:
        assert b'name="Departments" sheetId="1"' in z.read("xl/workbook.xml")
    return SHEET


def _copy_except(src: Path, dst: Path, skip: str) -> zipfile.ZipFile:
    zout = zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(src) as zin:
        for info in zin.infolist():
            if info.filename != skip:
                zout.writestr(info, zin.read(info.filename))
    return zout


def _add_raw(z: zipfile.ZipFile, name: str, raw: bytes, crc: int, size: int,
             declared: int | None = None) -> None:
    """Append a member whose deflate stream is `raw` (already compressed), declaring
    `declared` (default: the real size) as its uncompressed size."""
    info = zipfile.ZipInfo(name, date_time=(2026, 11, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.CRC = crc
    info.compress_size = len(raw)
    info.file_size = size if declared is None else declared
    info.header_offset = z.fp.tell()
    info.flag_bits = 0
    info.create_system = 3
    z.fp.write(info.FileHeader(zip64=info.file_size > 0xFFFFFFFF))
    z.fp.write(raw)
    z.start_dir = z.fp.tell()
    z.filelist.append(info)
    z.NameToInfo[name] = info
    z._didModify = True


def _repeated_deflate(prefix: bytes, chunk: bytes, times: int, suffix: bytes):
    """(deflate stream, crc, size) of prefix + chunk*times + suffix, compressed in O(chunk)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    c2 = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c2.compress(chunk) + c2.flush(zlib.Z_FULL_FLUSH)
    c3 = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = c3.compress(suffix) + c3.flush(zlib.Z_FINISH)
    crc = zlib.crc32(prefix)
    for _ in range(times):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(suffix, crc)
    return head + block * times + tail, crc & 0xFFFFFFFF, len(prefix) + len(chunk) * times + len(suffix)


def whitespace_bomb(path: Path, gib: float = 2.0) -> Path:
    src = base_ledger(path.with_suffix(".base.xlsx"))
    member = _first_sheet(src)
    prefix = HEAD + NS + b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>dept_id</t></is></c></row>'
    raw, crc, size = _repeated_deflate(prefix, b" " * 2**20, int(gib * 1024), b"</sheetData></worksheet>")
    with _copy_except(src, path, member) as z:
        _add_raw(z, member, raw, crc, size)
    return path


def lying_bomb(path: Path, gib: float = 1.0) -> Path:
    src = base_ledger(path.with_suffix(".base.xlsx"))
    member = _first_sheet(src)
    prefix = HEAD + NS + b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>dept_id</t></is></c></row>'
    raw, crc, size = _repeated_deflate(prefix, b" " * 2**20, int(gib * 1024), b"</sheetData></worksheet>")
    with _copy_except(src, path, member) as z:
        _add_raw(z, member, raw, crc, size, declared=len(raw) + 1)
    return path


def _patched_sheet(path: Path, xml: bytes) -> Path:
    src = base_ledger(path.with_suffix(".base.xlsx"))
    member = _first_sheet(src)
    with _copy_except(src, path, member) as z:
        z.writestr(member, xml)
    return path


def entity_bomb(path: Path) -> Path:
    ents = b'<!ENTITY lol "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10))
    return _patched_sheet(path, b'<?xml version="1.0"?>\n<!DOCTYPE worksheet [' + ents + b"]>" + NS
                          + b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is>'
                            b"</c></row></sheetData></worksheet>")


def xxe(path: Path) -> Path:
    return _patched_sheet(path, b'<?xml version="1.0"?>\n<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM '
                          b'"file:///etc/hostname">]>' + NS + b'<sheetData><row r="1"><c r="A1" '
                          b't="inlineStr"><is><t>&xxe;</t></is></c></row></sheetData></worksheet>')


def far_cell(path: Path) -> Path:
    return _patched_sheet(path, HEAD + NS + b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is>'
                          b'<t>dept_id</t></is></c></row><row r="1048576"><c r="XFD1048576"><v>2</v>'
                          b"</c></row></sheetData></worksheet>")


def encrypted(path: Path) -> Path:
    """A minimal OLE compound file laid out like Excel's password-protected .xlsx: a root entry
    and the streams EncryptionInfo and EncryptedPackage (content random)."""
    sector = 512
    streams = {"EncryptionInfo": os.urandom(200), "EncryptedPackage": os.urandom(3000)}
    # layout: sector 0 = FAT, 1 = directory, then each stream in whole sectors (no mini stream:
    # the cutoff is lowered to 0 so that every stream lives in the FAT)
    data_sectors, chains, nxt = [], {}, 2
    for name, body in streams.items():
        n = (len(body) + sector - 1) // sector
        chains[name] = (nxt, len(body))
        data_sectors.append(body.ljust(n * sector, b"\0"))
        nxt += n
    fat = [0xFFFFFFFD, 0xFFFFFFFE]                      # FAT sector, directory (one sector)
    for name, body in streams.items():
        start, size = chains[name]
        n = (size + sector - 1) // sector
        fat += [start + i + 1 for i in range(n - 1)] + [0xFFFFFFFE]
    fat += [0xFFFFFFFF] * (sector // 4 - len(fat))

    def entry(name: str, typ: int, child: int, left: int, right: int, start: int, size: int) -> bytes:
        n = (name + "\0").encode("utf-16-le") if name else b""
        return (n.ljust(64, b"\0") + struct.pack("<HBB", len(n), typ, 1)
                + struct.pack("<III", left, right, child) + b"\0" * 16 + b"\0" * 4 + b"\0" * 16
                + struct.pack("<IIII", start, size, 0, 0)[:8] + b"\0" * 0).ljust(128, b"\0")

    root = entry("Root Entry", 5, 1, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFE, 0)
    info = entry("EncryptionInfo", 2, 0xFFFFFFFF, 0xFFFFFFFF, 2, *chains["EncryptionInfo"])
    package = entry("EncryptedPackage", 2, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, *chains["EncryptedPackage"])
    directory = (root + info + package).ljust(sector, b"\0")
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16
              + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
              + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 0, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0))
    difat = struct.pack("<I", 0) + struct.pack("<I", 0xFFFFFFFF) * 108
    header = (header + difat).ljust(sector, b"\0")
    path.write_bytes(header + struct.pack("<%dI" % len(fat), *fat) + directory + b"".join(data_sectors))
    return path


def docx(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/content-types"/>')
        z.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships/>')
        z.writestr("word/document.xml", '<?xml version="1.0"?><w:document xmlns:w="http://schemas.'
                   'openxmlformats.org/wordprocessingml/2006/main"><w:body/></w:document>')
    return path


def random_bytes(path: Path, n: int = 256 * 1024) -> Path:
    import random
    rnd = random.Random(6)
    data = bytes(rnd.getrandbits(8) for _ in range(n))
    path.write_bytes(b"\x8b\x02" + data)    # no magic of any format at the start
    return path


def empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path
