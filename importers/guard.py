"""Keep hostile or odd files from crashing the process, and find what calamine hides.

calamine (Rust) aborts the whole process, uncatchably, when an allocation fails: a 4.7 KB .xlsx
with cells A1 and XFD1048576 asks for 512 GiB (docs/workbooks.md §4a), a crafted
`<sst uniqueCount=…>` asks for whatever it says, and the corpus's `OOM_alloc*.xls` do the same
through BIFF records. Two defences, chosen per format so that the common case stays fast:

* every zip package: `check_zip` reads only the central directory (declared sizes are binding:
  both zip readers refuse to inflate past them, and `read_member` inflates 1 MB at a time, never
  past them), and `check_xml_prologs` refuses a DTD or entity declaration in any XML part.
  The limits come from importers/limits.py (docs/limits.md).
* .xlsx/.xlsm: cheap checks before calamine touches a part, then calamine in-process.
  `scan_sheet_xml` inflates each sheet that will be read, in pieces cut where rows end, and bounds
  the rectangle calamine will allocate, from the cell references alone (for the usual sheet one
  regex pass vouches for every cell: ~0.1 s with the inflating for 100k rows, against ~0.7 s
  for calamine's own parse; calamine holds the GIL while it parses, so a thread would not
  overlap the two).
  The bound is exact only when every cell is written `<c r="…"` (Excel, LibreOffice, openpyxl,
  xlsxwriter all do); otherwise the answer is "unsure" and the file goes to the child process
  below. The same scan records error cells (`t="e"`), which calamine returns as '' like blanks.
* .xls, .xlsb, .ods, and any .xlsx the scan is unsure about: calamine runs in a forked child with
  an address-space limit (RLIMIT_AS) and a timeout; an abort or a hang becomes a clean problem.
  The child returns plain Python rows (pickled), which costs ~25 % more than in-process.

Error values in .ods are found by scanning content.xml (`calcext:value-type="error"`). In .xls and
.xlsb they are not: calamine gives '' and we have no cheap way to see them, so the importer warns
that errors cannot be told from blanks there (a blank required cell is still refused; an error
in an optional cell passes as blank). An error literal typed as text is caught in every format.
"""
from __future__ import annotations

import io
import os
import posixpath
import re
import resource
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from . import limits as _limits

# --- hardening limits (SPEC §3.1 "too large"): defaults and overrides in importers/limits.py ----
_LIMITS = _limits.current()
MAX_FILE_BYTES = _LIMITS.max_file_bytes      # the upload
MAX_MEMBERS = _LIMITS.max_members
MAX_MEMBER_BYTES = _LIMITS.max_part_bytes    # one XML part, uncompressed
MAX_TOTAL_BYTES = _LIMITS.max_unpacked_bytes # the whole package, uncompressed
MAX_RATIO = _LIMITS.max_ratio                # real sheets compress 6-12x; the bombs 180-1000x
MAX_CELLS = _LIMITS.max_cells                # rows x columns of one sheet's used rectangle
                                             # (calamine: ~32 B per cell of it, plus Python's lists)
CHILD_MEMORY = _LIMITS.reader_memory_mb * 2**20   # address space the isolated parser may add
CHILD_TIMEOUT = _LIMITS.reader_timeout_s          # seconds
XML_HEAD = 64 * 1024                         # where an XML part's prolog must end
SCAN_WINDOW = 8 * 2**20                      # the common sheet scan holds one piece this large


class Refusal(Exception):
    """A file the importer will not read: (key, args) for importers.messages.workbook_problem."""

    def __init__(self, key: str, *args):
        super().__init__(key, *args)
        self.key = key
        self.args_ = args


def refuse_if_too_large(sheet: str, rows: int, columns: int) -> None:
    """Refusal("sheet_too_large") when a sheet's rectangle is over MAX_CELLS: the scan's bound
    before calamine reads it, and calamine's own range (whole or slice by slice) as it does."""
    if rows * columns > MAX_CELLS:
        raise Refusal("sheet_too_large", sheet, rows, columns, MAX_CELLS)


# --- what is this file? -----------------------------------------------------------------

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def read_upload(path) -> bytes:
    """The bytes of an uploaded file, refused before reading when it is too large or is not a
    regular file (a FIFO or /dev/zero would never end). OSError (missing, a directory,
    unreadable) is the caller's to word."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)   # a FIFO must not block the open
    with open(fd, "rb", closefd=True) as f:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(st.st_mode):
            raise Refusal("not_regular")
        if st.st_size > MAX_FILE_BYTES:
            raise Refusal("too_large", _mb(st.st_size), _mb(MAX_FILE_BYTES))
        data = f.read(MAX_FILE_BYTES + 1)       # the file may grow while we read it
    if len(data) > MAX_FILE_BYTES:
        raise Refusal("too_large", _mb(len(data)), _mb(MAX_FILE_BYTES))
    return data


_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError,
               RuntimeError, KeyError)


def read_member(z: zipfile.ZipFile, name: str, limit: int | None = None) -> bytearray:
    """One zip part, inflated 1 MB at a time, never past its declared size nor `limit`.

    Not `z.read()`: that asks zlib for up to 2 GB in one call, so a part that declares 1 MB and
    inflates to 1 GB (a "lying" bomb) costs 2 GB of memory before zipfile's CRC check fails.
    Each megabyte is copied into one buffer of the declared size as it comes (a bytearray:
    the scans and decoders read it as they read bytes): the pieces joined at the end held the
    part twice, 400 MB for the 100,000-employee ledger's ratings sheet.
    """
    try:
        info = z.getinfo(name)
        if limit is not None and info.file_size > limit:
            raise Refusal("unsafe", f"{name}: {_mb(info.file_size)} unpacked", f"{_mb(limit)} per part")
        out, size = bytearray(info.file_size), 0
        with z.open(info) as f:
            while chunk := f.read(2**20):
                if size + len(chunk) > info.file_size:  # zipfile stops there itself; belt and braces
                    raise Refusal("unsafe", f"{name}: larger than its declared size", "honest sizes")
                out[size:size + len(chunk)] = chunk
                size += len(chunk)
        del out[size:]                  # shorter than declared: zipfile's CRC check has spoken
        return out
    except _ZIP_ERRORS as e:
        raise Refusal("corrupt", f"{name}: {type(e).__name__}: {e}"[:200]) from None


ROW_END = b"</row>"


def member_windows(z: zipfile.ZipFile, name: str, size: int) -> Iterator[bytearray]:
    """One worksheet part, inflated, in pieces that each end just after a `</row>`: the last
    row end within `size` bytes, or if none, the first one after (the last piece ends where the
    part ends). Guarded as `read_member` is: never past the declared size, and any damage is
    Refusal("corrupt"). Only the piece being cut, and the megabyte being inflated, are held."""
    try:
        info = z.getinfo(name)
        buf, inflated, looked = bytearray(), 0, 0
        with z.open(info) as f:
            while chunk := f.read(2**20):
                inflated += len(chunk)
                if inflated > info.file_size:
                    raise Refusal("unsafe", f"{name}: larger than its declared size", "honest sizes")
                buf += chunk
                while len(buf) >= size:
                    cut = buf.rfind(ROW_END, 0, size)
                    if cut < 0:
                        # a row longer than `size`: its end, looked for once per byte
                        cut = buf.find(ROW_END, looked)
                        if cut < 0:
                            looked = max(0, len(buf) - len(ROW_END) + 1)
                            break
                    cut += len(ROW_END)
                    yield buf[:cut]
                    del buf[:cut]
                    looked = 0
        if buf:
            yield buf
    except _ZIP_ERRORS as e:
        raise Refusal("corrupt", f"{name}: {type(e).__name__}: {e}"[:200]) from None


def _read_head(z: zipfile.ZipFile, info: zipfile.ZipInfo, n: int) -> bytes:
    try:
        with z.open(info) as f:
            return f.read(n)
    except _ZIP_ERRORS as e:
        raise Refusal("corrupt", f"{info.filename}: {type(e).__name__}: {e}"[:200]) from None


_ROOT_TAG = re.compile(rb"<[A-Za-z_]")


def check_xml_prologs(z: zipfile.ZipFile) -> None:
    """Refuse a package whose XML parts declare a DTD or entities (billion laughs, XXE).

    No spreadsheet program writes `<!DOCTYPE` into a workbook, and no reader should be asked
    to judge one: calamine refuses entities only when it meets them, sheet by sheet, with a
    message about the sheet rather than the file; ElementTree would expand internal ones. The
    prolog ends at the root element, so only each part's first 64 KB is inflated.
    """
    for info in z.infolist():
        low = info.filename.lower()
        if info.is_dir() or not low.endswith((".xml", ".rels")):
            continue
        head = _read_head(z, info, XML_HEAD)
        if head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in head[:4]:
            enc = "utf-16-le" if head[:2] == b"\xff\xfe" or head[1:2] == b"\x00" else "utf-16-be"
            head = head.decode(enc, "replace").encode("utf-8", "replace")
        root = _ROOT_TAG.search(head)
        prolog = head[:root.start()] if root else head
        if b"<!DOCTYPE" in prolog or b"<!ENTITY" in prolog:
            raise Refusal("dtd", info.filename)
        if root is None and len(head) >= XML_HEAD:
            raise Refusal("unsafe", f"{info.filename}: no root element in its first 64 KB",
                          "an XML prolog under 64 KB")


def sniff(data: bytes) -> str:
    """The workbook format from the bytes ("xlsx", "xlsb", "xls", "ods"), or Refusal."""
    if not data:
        raise Refusal("empty")
    if len(data) > MAX_FILE_BYTES:
        raise Refusal("too_large", _mb(len(data)), _mb(MAX_FILE_BYTES))
    head = data[:8]
    if head == OLE_MAGIC:
        # An OLE compound file: .xls, or an encrypted OOXML package, or a Word/PowerPoint file.
        # Directory entry names are UTF-16; looking for them in the bytes is crude but cheap
        # and only decides which message to give.
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise Refusal("encrypted")
        if "WordDocument".encode("utf-16-le") in data:
            raise Refusal("word")
        if "PowerPoint Document".encode("utf-16-le") in data:
            raise Refusal("powerpoint")
        return "xls"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return _sniff_zip(data)
    start = data[:512].removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if start.startswith((b"<html", b"<!doctype", b"<table")):
        raise Refusal("html")
    if start.startswith(b"<?xml"):
        raise Refusal("xml")
    if _looks_like_text(data[:4096]):
        raise Refusal("text")
    raise Refusal("unknown")


def _looks_like_text(sample: bytes) -> bool:
    for enc in ("utf-8", "gb18030"):
        for cut in range(4):                    # the sample may end inside a character
            try:
                text = sample[:len(sample) - cut].decode(enc)
            except UnicodeDecodeError:
                continue
            return all(c.isprintable() or c in "\r\n\t" for c in text)
    return False


def _sniff_zip(data: bytes) -> str:
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise Refusal("corrupt", f"zip: {e}") from None
    names = {n.replace("\\", "/").lower(): n for n in z.namelist()}
    check_zip(z)
    fmt = _zip_format(z, names)
    check_xml_prologs(z)
    return fmt


def _zip_format(z: zipfile.ZipFile, names: dict[str, str]) -> str:
    if "mimetype" in names:
        mime = _read_head(z, z.getinfo(names["mimetype"]), 200).strip()
        if mime == _ODS_MIME or mime.startswith(_ODS_MIME + b"-"):
            manifest = names.get("meta-inf/manifest.xml")
            if manifest and b"encryption-data" in read_member(z, manifest, 16 * 2**20):
                raise Refusal("encrypted")
            return "ods"
        if mime.startswith(b"application/vnd.oasis.opendocument"):
            raise Refusal("odf_other")
    if "xl/workbook.bin" in names:
        return "xlsb"
    if "xl/workbook.xml" in names or any(n.endswith("workbook.xml") for n in names):
        return "xlsx"
    if any(n.endswith("workbook.bin") for n in names):
        return "xlsb"
    if "content.xml" in names:
        return "ods"                            # an ODS without mimetype: let calamine judge
    if any(n.startswith("word/") for n in names):
        raise Refusal("word")
    if any(n.startswith("ppt/") for n in names):
        raise Refusal("powerpoint")
    raise Refusal("zip")


def check_zip(z: zipfile.ZipFile) -> None:
    """Refuse bombs from the central directory alone (microseconds, docs/workbooks.md §4a)."""
    infos = z.infolist()
    if len(infos) > MAX_MEMBERS:
        raise Refusal("unsafe", f"{len(infos)} zip members", f"{MAX_MEMBERS} members")
    total = 0
    for i in infos:
        if i.flag_bits & 0x1:
            raise Refusal("encrypted")
        if i.compress_size > i.file_size + 1024:    # deflate never grows data that much
            raise Refusal("unsafe", f"{i.filename}: declared size {i.file_size} < compressed "
                          f"size {i.compress_size}", "honest sizes")
        if i.file_size > MAX_MEMBER_BYTES:
            raise Refusal("unsafe", f"{i.filename}: {_mb(i.file_size)} unpacked",
                          f"{_mb(MAX_MEMBER_BYTES)} per part")
        if i.file_size > 2**20 and i.file_size > MAX_RATIO * max(i.compress_size, 1):
            raise Refusal("unsafe", f"{i.filename}: compressed {i.file_size // max(i.compress_size, 1)}"
                          "x", f"ratio {MAX_RATIO}x")
        total += i.file_size
    if total > MAX_TOTAL_BYTES:
        raise Refusal("unsafe", f"{_mb(total)} unpacked", f"{_mb(MAX_TOTAL_BYTES)} in all")


# --- .xlsx: where each sheet lives, and whether calamine may read it in-process ---------------

def _lower_names(z: zipfile.ZipFile) -> dict[str, str]:
    return {n.replace("\\", "/").lower(): n for n in z.namelist()}


_ATTR = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_TAG = re.compile(r"<(?:[\w.-]+:)?(sheet|Relationship)\s([^>]*)>")


def _attrs(s: str) -> dict[str, str]:
    out = {}
    for k, v1, v2 in _ATTR.findall(s):
        out[k.split(":")[-1]] = v1 or v2       # r:id, or any other prefix for it
    return out


def _unescape(s: str) -> str:
    import html
    return html.unescape(s)


def xlsx_sheet_parts(z: zipfile.ZipFile) -> dict[str, str] | None:
    """Sheet name -> zip member of its XML, read the way calamine reads it; None if unsure.

    Parsed with a regex rather than an XML parser: the parts are small, and a regex cannot be
    made to expand entities.
    """
    names = _lower_names(z)
    try:
        rels = read_member(z, names["_rels/.rels"], 16 * 2**20).decode("utf-8", "replace")
        wb_target = None
        for m in _TAG.finditer(rels):
            a = _attrs(m.group(2))
            if a.get("Type", "").endswith("/officeDocument"):
                wb_target = a.get("Target", "").lstrip("/")
        wb_target = wb_target or "xl/workbook.xml"
        wb_key = posixpath.normpath(wb_target).lower()
        wb_xml = read_member(z, names[wb_key], 64 * 2**20).decode("utf-8", "replace")
        base = posixpath.dirname(wb_key)
        rels_key = posixpath.join(base, "_rels", posixpath.basename(wb_key) + ".rels")
        wb_rels = read_member(z, names[rels_key], 16 * 2**20).decode("utf-8", "replace")
    except (Refusal, KeyError, zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError):
        return None                             # the isolated reader will judge it
    targets = {}
    for m in _TAG.finditer(wb_rels):
        if m.group(1) == "Relationship":
            a = _attrs(m.group(2))
            t = a.get("Target", "")
            key = t.lstrip("/") if t.startswith("/") else posixpath.join(base, t)
            targets[a.get("Id")] = posixpath.normpath(key).lower()
    parts = {}
    for m in _TAG.finditer(wb_xml):
        if m.group(1) == "sheet":
            a = _attrs(m.group(2))
            member = names.get(targets.get(a.get("id"), ""))
            if "name" in a and member:
                parts[_unescape(a["name"])] = member
    return parts


_SST_COUNT = re.compile(rb"""uniqueCount\s*=\s*["']\s*(\d+)""")


def check_shared_strings(z: zipfile.ZipFile) -> bool:
    """False when sharedStrings' uniqueCount is more than the part could hold.

    calamine reserves `uniqueCount` strings up front (xlsx/mod.rs `strings.reserve(n)`); an
    honest part spends at least 5 bytes (`<si/>`) per string.
    """
    for low, name in _lower_names(z).items():
        if low.endswith("sharedstrings.xml"):
            info = z.getinfo(name)
            head = _read_head(z, info, 64 * 1024)
            m = _SST_COUNT.search(head)
            if m and int(m.group(1)) > max(1000, info.file_size // 5):
                return False
    return True


# Cell references that need a look: two letters or more, or six digits or more. Every other
# reference is at most column Z and row 99,999. The literal `<c r="` prefix makes the regex fast.
_BIG_REF = re.compile(rb'<c r="([A-Za-z]{2,}[0-9]*|[A-Za-z]*[0-9]{6,})["]')
# A self-closing cell, strictly written (values without < or >), holds no value.
_BIG_EMPTY = re.compile(rb'<c r="(?:[A-Za-z]{2,}[0-9]*|[A-Za-z]*[0-9]{6,})"'
                        rb'(?:\s+[\w:.-]+\s*=\s*"[^"<>]*")*\s*/>')
_REF = re.compile(rb'<c r="([A-Za-z]+)([0-9]+)"')
_ERR_VALUE = re.compile(rb"<v>([^<]*)</v>")
_PREFIXED_CELL = re.compile(rb":(?:c|row)[\s/>]")
_RLESS_CELL = re.compile(rb'<c(?! r=")[\s/>]')


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


@dataclass
class SheetScan:
    sure: bool                          # False: the bound below could not be trusted
    max_row: int = 0
    max_col: int = 0
    errors: dict[tuple[int, int], str] = field(default_factory=dict)   # (row0, col0) -> '#N/A'


def scan_sheet_xml(z: zipfile.ZipFile, member: str) -> SheetScan:
    """Bound the cell rectangle of one worksheet part and find its error cells.

    Measured on a 100k-row sheet (35 MB of XML): inflate 0.10 s, each regex pass 0.015-0.08 s.
    The sheets every spreadsheet program writes take `_scan_common` (one regex pass per cell,
    plus a literal search for prefixes and for error cells); anything else takes
    `_scan_general`, which gives the same answer for those sheets too (tests pin this).
    """
    scan = _scan_common_windows(member_windows(z, member, SCAN_WINDOW))
    return scan if scan is not None else _scan_general(read_member(z, member))


# The common sheet in one pass: every cell element starts `<c r="`, and its reference is one
# letter and at most five (or six) digits. Where neither pattern matches, _RLESS_CELL cannot
# match either (each `<c` + space is followed by ` r="`), nor can _RARE_REF (one letter, then
# at most six digits, then the quote), so the general path's first three passes would find
# nothing but the coarse bound and _max_row6. (The digits are possessive, `{1,5}+`: giving
# one back could only leave a digit where the quote must be, so the answer is the same and sre
# saves its backtracking state, ~20 % of the pass.)
_SMALL_CELLS = re.compile(rb'<c(?! r="[A-Za-z][0-9]{1,5}+")[\s/>]')
_ROW6_CELLS = re.compile(rb'<c(?! r="[A-Za-z][0-9]{1,6}+")[\s/>]')


def _scan_common(x: bytes) -> SheetScan | None:
    """`_scan_general(x)` for a sheet whose cells all look like `<c r="B12…"`, in fewer passes;
    None for any other sheet, and for one the limits might refuse (the general path decides)."""
    return _scan_common_windows([x])


def _scan_common_windows(windows: Iterable[bytes]) -> SheetScan | None:
    """`_scan_common` of a sheet given in pieces, each ending where a row ends (`</row>`,
    `member_windows`): no cell is cut, so every pass below reads each piece alone and the
    pieces' answers combine (each is a maximum, or a union, over the cells) into the whole
    part's answer. Only one piece is held at a time."""
    has_cells = False
    max_row6, max_col, errors = 0, 0, {}
    for x in windows:
        if _PREFIXED_CELL.search(x):
            return None
        has_cells = has_cells or x.find(b'<c r="') >= 0
        m = _SMALL_CELLS.search(x)
        if m is not None:
            # From the first cell the stricter test rejects, six digits may appear (rows
            # 100,000-999,999: a big ledger), whose maximum _max_row6 finds without a Python
            # step per cell; anything else is not a common sheet.
            if _ROW6_CELLS.search(x, m.start()) is not None:
                return None
            max_row6 = max(max_row6, _max_row6(x))
        # the real last column, needed only when the coarse bound (Z) is over the limit below;
        # found now, as the piece will not be read again
        max_col = max(max_col, _last_letter_col(x))
        errors.update(_scan_errors_fast(x))
    max_row = max(99_999, max_row6) if has_cells else 0
    if max_row * 26 > MAX_CELLS and has_cells:
        if max_row * max_col > MAX_CELLS:
            return None
        return SheetScan(sure=True, max_row=max_row, max_col=max_col, errors=errors)
    return SheetScan(sure=True, max_row=max_row, max_col=26 if has_cells else 0, errors=errors)


def _scan_general(x: bytes) -> SheetScan:
    """scan_sheet_xml for any sheet XML."""
    if _RLESS_CELL.search(x) or _PREFIXED_CELL.search(x):
        # A cell without a leading r="…" (its position is implied by its neighbours) or a
        # namespace prefix: the references alone do not bound the sheet. The child reads it.
        return SheetScan(sure=False, errors=_scan_errors_slow(x))
    has_cells = x.find(b'<c r="') >= 0
    max_row = 99_999 if has_cells else 0
    max_col = 26 if has_cells else 0
    bounds = _bound_refs(x, max_row, max_col, skip_empty=False)
    if bounds is None:
        return SheetScan(sure=False)
    if bounds[0] * bounds[1] > MAX_CELLS and bounds[1] == 26:
        # A big ledger sheet (693k rows x the coarse Z) lands here: its real last column comes
        # first, being cheap. Accepting here implies the passes below would accept too.
        col = _last_letter_col(x)
        if bounds[0] * col <= MAX_CELLS:
            return SheetScan(sure=True, max_row=bounds[0], max_col=col,
                             errors=_scan_errors_fast(x))
    if bounds[0] * bounds[1] > MAX_CELLS:
        # Styled but empty cells (`<c r="XFD1048576" s="3"/>`, Gnumeric writes whole rows of
        # them) do not count for calamine; look again without them.
        bounds = _bound_refs(x, max_row, max_col, skip_empty=True)
        if bounds is None:
            return SheetScan(sure=False)
    max_row, max_col = bounds
    if max_row * max_col > MAX_CELLS and max_col == 26:
        # The coarse column bound (Z) was too generous: find the real last single-letter column.
        max_col = _last_letter_col(x)
    return SheetScan(sure=True, max_row=max_row, max_col=max_col, errors=_scan_errors_fast(x))


def _last_letter_col(x: bytes) -> int:
    """The last column (1-26) any `<c r="L…` names (1 if none). The sheet's last cell proposes
    one; a regex pass looks for a later letter until none is left, so it usually takes two
    passes (a Python `in` per letter took 20 scans of a 200 MB part: 7 s)."""
    pos = x.rfind(b'<c r="')
    last = x[pos + 6:pos + 7].upper() if pos >= 0 else b""
    best = last[0] - 64 if len(last) == 1 and 65 <= last[0] <= 90 else 0
    while best < 26:
        m = re.search(b'<c r="[%c-Z%c-z]' % (65 + best, 97 + best), x)
        if m is None:
            break
        best = x[m.end() - 1:m.end()].upper()[0] - 64
    return max(best, 1)


# _BIG_REF, split for speed: the references that need a look one by one (two letters or more,
# seven digits or more, digits without a letter: rare), and the single-letter six-digit ones —
# every cell of rows 100,000-999,999, millions in a big ledger — whose maximum needs no Python
# step per cell (_max_row6). The union is exactly _BIG_REF.
_RARE_REF = re.compile(rb'<c r="([A-Za-z]{2,}[0-9]*|[A-Za-z]*[0-9]{7,}|[0-9]{6})["]')
_ROW6_REF = re.compile(rb'<c r="[A-Za-z]([0-9]{6})"')


def _max_row6(x: bytes) -> int:
    """The largest row of a single-letter six-digit reference (0 if none). Rows are written in
    order, so the last one proposes it; one regex pass then proves that none is larger (a file
    written out of order falls back to collecting them all)."""
    pos, cand = len(x), None
    for _ in range(64):
        pos = x.rfind(b'<c r="', 0, pos)
        if pos < 0:
            break
        m = _ROW6_REF.match(x, pos)
        if m:
            cand = m.group(1)
            break
    if cand is not None:
        alts = [re.escape(cand[:i]) + b"[%c-9]" % (cand[i] + 1) + b"[0-9]{%d}" % (5 - i)
                for i in range(6) if cand[i] < 57]
        if not alts or re.search(rb'<c r="[A-Za-z](?:' + b"|".join(alts) + rb')"', x) is None:
            return int(cand)
    found = _ROW6_REF.findall(x)
    return int(max(found)) if found else 0


def _bound_refs(x: bytes, max_row: int, max_col: int, skip_empty: bool):
    """(max_row, max_col) over the big references, or None for a malformed one."""
    if not skip_empty:
        bounds = _bound_each(x, max_row, max_col, _RARE_REF, ())
        return bounds and (max(bounds[0], _max_row6(x)), bounds[1])
    return _bound_each(x, max_row, max_col, _BIG_REF,
                       {m.start() for m in _BIG_EMPTY.finditer(x)})


def _bound_each(x: bytes, max_row: int, max_col: int, pattern, empty):
    for m in pattern.finditer(x):
        if m.start() in empty:
            continue
        ref = re.fullmatch(rb"([A-Za-z]*)([0-9]*)", m.group(1))
        if not ref or not ref.group(1) or not ref.group(2):
            return None
        max_col = max(max_col, _col_number(ref.group(1)))
        max_row = max(max_row, int(ref.group(2)))
    return max_row, max_col


def _scan_errors_fast(x: bytes) -> dict[tuple[int, int], str]:
    """Error cells, when every cell starts `<c r="…"` (so each t="e" has its reference). Two
    cells with one reference (a malformed sheet): the later in the sheet wins, whichever quotes
    they use — as when the sheet is scanned in pieces (`_scan_common_windows`)."""
    hits: list[tuple[int, tuple[int, int], str]] = []     # (where, cell, code)
    for needle in (b't="e"', b"t='e'"):
        if needle[2] == 39 and b"'" not in x:
            continue                            # no single quote at all (one memchr, not a search)
        pos = x.find(needle)
        while pos >= 0:
            start = x.rfind(b"<", 0, pos)
            m = _REF.match(x, start)
            gt = x.find(b">", start)
            if m and gt > pos:
                if x[gt - 1] == 47:             # <c … t="e"/>: no value (not the next cell's)
                    code = ""
                else:
                    end = x.find(b"</c>", gt)
                    v = _ERR_VALUE.search(x, gt, end if end > 0 else gt + 200)
                    code = v.group(1).decode("utf-8", "replace").strip() if v else ""
                hits.append((pos, (int(m.group(2)) - 1, _col_number(m.group(1)) - 1), code))
            pos = x.find(needle, pos + 1)
    hits.sort()                                 # in sheet order (the positions differ)
    return {cell: code for _, cell, code in hits}


def _scan_errors_slow(x: bytes) -> dict[tuple[int, int], str]:
    """Error cells by replaying calamine's position rules (cells_reader.rs) over the XML."""
    import xml.etree.ElementTree as ET
    if b"<!DOCTYPE" in x or b"<!ENTITY" in x:
        return {}                               # calamine refuses entities anyway
    found: dict[tuple[int, int], str] = {}
    row = col = 0
    try:
        for event, el in ET.iterparse(io.BytesIO(x), events=("start", "end")):
            tag = el.tag.rsplit("}", 1)[-1].split(":")[-1]
            if tag == "row":
                if event == "start":
                    r = el.get("r")
                    if r and r.isdigit():
                        row = int(r) - 1
                else:
                    row, col = row + 1, 0
                    el.clear()
            elif tag == "c" and event == "end":
                ref = el.get("r")
                m = re.fullmatch(r"([A-Za-z]+)([0-9]+)", ref or "")
                pos = (int(m.group(2)) - 1, _col_number(m.group(1).encode()) - 1) if m else (row, col)
                col = pos[1] + 1
                if el.get("t") == "e":
                    v = next((c.text for c in el if c.tag.rsplit("}", 1)[-1] == "v"), "") or ""
                    found[pos] = v.strip()
    except ET.ParseError:
        pass                                    # calamine will say what is wrong with it
    return found


# --- .ods: error cells --------------------------------------------------------------------

_T = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_CALCEXT_TYPE = "{urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0}value-type"
_MAX_REPEAT = 1_048_576


def ods_error_cells(data: bytes) -> dict[str, dict[tuple[int, int], str]]:
    """Sheet name -> {(row0, col0): '#DIV/0!'} for cells LibreOffice marked as errors."""
    import xml.etree.ElementTree as ET
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        name = _lower_names(z).get("content.xml")
        if not name:
            return {}
        x = read_member(z, name)
    except Exception:                           # noqa: BLE001 - calamine reports the damage
        return {}
    if b"value-type=\"error\"" not in x and b"value-type='error'" not in x:
        return {}                               # the common case: no error cell at all
    if b"<!DOCTYPE" in x or b"<!ENTITY" in x:
        return {}
    out: dict[str, dict[tuple[int, int], str]] = {}
    sheet = None
    row = col = 0
    try:
        for event, el in ET.iterparse(io.BytesIO(x), events=("start", "end")):
            tag = el.tag
            if tag == _T + "table" and event == "start":
                sheet, row = el.get(_T + "name"), 0
            elif tag == _T + "table-row":
                if event == "start":
                    col = 0
                else:
                    row += min(int(el.get(_T + "number-rows-repeated", "1") or 1), _MAX_REPEAT)
                    el.clear()
            elif tag in (_T + "table-cell", _T + "covered-table-cell") and event == "end":
                if el.get(_CALCEXT_TYPE) == "error" and sheet is not None:
                    text = "".join(el.itertext()).strip()
                    out.setdefault(sheet, {})[(row, col)] = text
                col += min(int(el.get(_T + "number-columns-repeated", "1") or 1), _MAX_REPEAT)
    except (ET.ParseError, ValueError):
        pass
    return out


# --- isolation ----------------------------------------------------------------------------

def _vm_size() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def _die_with_parent(parent_pid: int) -> None:
    """Linux: the kernel SIGKILLs this forked reader when its parent dies (a killed import must
    not leave an orphan parsing on, holding the parent's pipes open)."""
    try:
        import ctypes
        import signal
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:
        os._exit(1)


def _child(conn, other_end, parent_pid, fn, args, limit):
    _die_with_parent(parent_pid)
    other_end.close()                           # else a write to a full pipe could block forever
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):
        pass
    try:                                        # a Rust abort prints a backtrace: not for users
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
    except OSError:
        pass
    import faulthandler                         # nor a Python one (pytest enables it)
    faulthandler.disable()
    try:
        result = ("ok", fn(*args))
    except Refusal as e:
        result = ("refusal", (e.key, e.args_))
    except BaseException as e:                  # noqa: BLE001 - incl. pyo3 PanicException
        result = ("error", f"{type(e).__name__}: {e}")
    try:
        conn.send(result)
    except BaseException as e:                  # noqa: BLE001 - e.g. MemoryError while pickling
        try:
            conn.send(("error", f"{type(e).__name__}: {e}"))
        except BaseException:                   # noqa: BLE001
            pass
    conn.close()


def run_isolated(fn, *args, timeout: float = CHILD_TIMEOUT, memory: int = CHILD_MEMORY):
    """fn(*args) in a forked child with an address-space cap; its result, or Refusal.

    fork (not spawn) so that fn needs no pickling and starts in microseconds; only the result
    crosses the pipe. A Rust abort, an OOM kill or a hang end as Refusal("crashed"/"timeout").
    """
    import multiprocessing as mp                # only here: the common .xlsx path never forks
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    limit = (_vm_size() + memory) if _vm_size() else memory
    p = ctx.Process(target=_child, args=(child, parent, os.getpid(), fn, args, limit), daemon=True)
    p.start()
    child.close()
    try:
        if not parent.poll(timeout):
            p.kill()
            p.join()
            raise Refusal("timeout", timeout)
        try:
            status, payload = parent.recv()
        except (EOFError, OSError):
            p.join()
            raise Refusal("crashed", p.exitcode) from None
    finally:
        parent.close()
    p.join()
    if status == "ok":
        return payload
    if status == "refusal":
        raise Refusal(payload[0], *payload[1])
    raise Refusal("corrupt", payload[:200])
