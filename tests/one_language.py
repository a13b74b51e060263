"""The checker of SPEC §10.5 for tests/test_one_language.py: every word a person reads in a
Chinese output is Chinese, and in an English output English — except ids, rule ids, `Sheet!Cell`
references, hashes and values quoted from the ledger.

`Checker(lang, quoted, ids)` finds the foreign words of a text:

* in a Chinese text, every run of Latin letters (`accepted`, `HR`, `C=1.1`'s `C`);
* in an English text, every Chinese character or full-width punctuation mark (`采纳`, `：`);

after taking out, in this order, what SPEC lets stand in either language:

1. values quoted from the ledger (or from a policy file being checked), as whole strings:
   `quoted`, every text value of the ledgers the outputs were made from;
2. the shapes of things that are not words (`SHAPES`): `Sheet!Cell` and `Sheet!row`
   references, hexadecimal hashes (8 or more digits), ISO dates and times (an ISO time is
   `SHAPES`' only letter T), file names and paths, database URLs, command-line options
   (`--period`), code to type in backticks, and the command `xietong <subcommand>`;
3. ids, one token at a time: `ids` (employees, departments, review ids, rule ids, exception
   kinds, behaviour codes, policy keys, ...) and the explicit `ALLOWED` words, which is all the
   allow-list there is.

Nothing else is allowed: a planted `accepted` in a Chinese cell is found
(tests/test_one_language.py proves it).

Where the words are read from (`texts_of_xlsx`, `texts_of_html`): every text a person can see
in a workbook — cells, sheet names, drop-down lists and their messages, chart texts, comments,
headers and footers — and every text node of trace.html: the page's own, and every text its
script can put on the page (the data it renders).
"""
from __future__ import annotations

import argparse
import json
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

# The only words allowed in either language that are neither ids nor quoted values: the name of
# the hash (as SHA-256 prints beside every hash), the time zone of every time, the policy
# file's format, the reserved assignee HR (an id, SPEC §3), and the names of the program and of
# the spreadsheet program the ledger comes from (which have no Chinese names).
ALLOWED = frozenset({"SHA-256", "UTC", "TOML", "HR", "xietong", "Excel"})



def _subcommands() -> tuple[str, ...]:
    """The command line's subcommands (`xietong serve`, ...), from its own parser."""
    from xietong.cli import build_parser
    return tuple(sorted(name for a in build_parser("en")._actions
                        if isinstance(a, argparse._SubParsersAction) for name in a.choices))


SUBCOMMANDS = _subcommands()

# Text that is no word in any language (step 1). ASCII classes only: a Chinese word next to a
# slash or a "!" must still be seen.
_A, _Z = r"(?<![A-Za-z0-9_])", r"(?![A-Za-z0-9_])"      # ASCII word edges (a Chinese
#                                                       character is no edge for \b)
SHAPES = re.compile("|".join([
    r"`[^`\n]*`",                                              # code to type
    r"[^\s!:;,，；：（）()\[\]]+![A-Z]{0,3}\$?[0-9]+",          # Sheet!E4, 周边评价!17
    _A + r"[a-z][a-z0-9+]*://[^\s'\"，。；：）)]*",               # sqlite:////tmp/x.db
    _A + r"--[a-z][a-z-]*",                                     # --period
    _A + rf"xietong (?:{'|'.join(SUBCOMMANDS)})(?: check)?" + _Z,   # xietong decisions
    _A + r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9:.]+(?:[+-][0-9]{2}:[0-9]{2}|Z)?)?(?![0-9])",
    _A + r"[0-9a-f]{8,64}" + _Z,                                # hashes
    _A + r"(?:~|\.{1,2})?/[A-Za-z0-9_.+~/-]*",                 # paths: /tmp/x/y.xlsx
    _A + r"[A-Za-z0-9_.+~-]+/(?![A-Za-z0-9_])",                  # a folder: reviews/
    _A + r"(?:[A-Za-z0-9_.+~-]+/)*[A-Za-z0-9_.+~-]+\.(?:xlsx|xls|xlsb|ods|json|html|db|toml)"
    + _Z,                                                       # files: rules/policy.toml
]))

LATIN_WORD = re.compile(r"[A-Za-z0-9_.\-]*[A-Za-z][A-Za-z0-9_.\-]*")
CHINESE = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]+")


def _tokens(text: str) -> list[str]:
    """The Latin words of a text, without the dots and dashes that end a sentence or a range."""
    return [t.strip(".-") for t in LATIN_WORD.findall(text) if t.strip(".-")]


class Checker:
    """foreign(text) -> the foreign words of `text` in an output of language `lang`."""

    def __init__(self, lang: str, quoted, ids=()):
        self.lang = lang
        self.ids = set(ids) | ALLOWED
        pieces = _tokens if lang == "zh" else CHINESE.findall
        self._pieces = pieces
        # a foreign piece -> the quoted values that hold it
        index: dict[str, list[str]] = {}
        for v in {str(q) for q in quoted if q is not None and str(q).strip()}:
            for piece in set(pieces(v)):
                index.setdefault(piece, []).append(v)
        self._index = index
        self._patterns: dict[str, re.Pattern] = {}
        # an English text's Chinese runs may join two quoted values: look them up by character
        self._by_char: dict[str, list[str]] = {}
        if lang != "zh":
            for vs in self._index.values():
                for v in vs:
                    for ch in set("".join(CHINESE.findall(v))):
                        self._by_char.setdefault(ch, []).append(v)

    def foreign(self, text: str) -> list[str]:
        if not text:
            return []
        text = str(text)
        found = self._pieces(text)
        if not found:
            return []
        # quoted values first (OA-2026-11-8840 is no date), the longest first (方案可执行性
        # before 方案可执行)
        for v in sorted({v for piece in set(found) for v in self._index.get(piece, ())},
                        key=len, reverse=True):
            if v in text:
                text = self._cut(v, text)
        text = SHAPES.sub(" ", text)
        if self.lang == "zh":
            return [t for t in _tokens(text) if t not in self.ids]
        left = CHINESE.findall(text)
        if left:
            for v in sorted({v for run in left for ch in run for v in self._by_char.get(ch, ())},
                            key=len, reverse=True):
                if v in text:
                    text = self._cut(v, text)
            left = CHINESE.findall(text)
        return left

    def _cut(self, value: str, text: str) -> str:
        """`text` without `value`, where it stands as itself: a quoted id "M" is not taken out
        of RATING_EXTREME (a value's ASCII letter or digit at an edge needs no ASCII letter or
        digit beside it)."""
        pattern = self._patterns.get(value)
        if pattern is None:
            head = _A if value[0].isascii() and value[0].isalnum() else ""
            tail = _Z if value[-1].isascii() and value[-1].isalnum() else ""
            pattern = self._patterns[value] = re.compile(head + re.escape(value) + tail)
        return pattern.sub(" ", text)

    def scan(self, named_texts) -> list[tuple[str, str, list[str]]]:
        """[(where, text, its foreign words)] for every (where, text) that has any."""
        out = []
        for where, text in named_texts:
            bad = self.foreign(text)
            if bad:
                out.append((where, text, bad))
        return out


# ----------------------------------------------------------------------------- workbooks

_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
       "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
       "c": "http://schemas.openxmlformats.org/drawingml/2006/chart"}
_M = "{%s}" % _NS["m"]
_HEADER_CODES = re.compile(r'&(?:"[^"]*"|[0-9]+|[A-Za-z])')    # &P, &N, &"Arial,Bold", &12


def _text_of(el) -> str:
    return "".join(t.text or "" for t in el.iter(f"{_M}t"))


def texts_of_xlsx(path: Path):
    """(where, text) of every text a person can see in the workbook at `path`."""
    path = Path(path)
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        shared = []
        if "xl/sharedStrings.xml" in names:
            root = ElementTree.fromstring(z.read("xl/sharedStrings.xml"))
            shared = [_text_of(si) for si in root.findall("m:si", _NS)]
        wb = ElementTree.fromstring(z.read("xl/workbook.xml"))
        for s in wb.iter(f"{_M}sheet"):
            if s.get("state") not in ("hidden", "veryHidden"):     # the tabs a person sees
                yield f"{path.name}: sheet name", s.get("name")
        for name in sorted(n for n in names if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)):
            where = f"{path.name}:{name}"
            for _, el in ElementTree.iterparse(z.open(name)):
                tag = el.tag
                if tag == f"{_M}c":
                    kind, ref = el.get("t"), el.get("r")
                    if kind == "s":
                        v = el.find("m:v", _NS)
                        if v is not None and v.text is not None:
                            yield f"{where}!{ref}", shared[int(v.text)]
                    elif kind == "inlineStr":
                        yield f"{where}!{ref}", _text_of(el)
                    el.clear()
                elif tag == f"{_M}dataValidation":
                    for attr in ("prompt", "promptTitle", "error", "errorTitle"):
                        if el.get(attr):
                            yield f"{where} drop-down {attr}", el.get(attr)
                    f1 = el.find("m:formula1", _NS)
                    if f1 is not None and f1.text and f1.text.startswith('"'):
                        yield f"{where} drop-down list", f1.text.strip('"')
                elif tag in (f"{_M}oddHeader", f"{_M}oddFooter", f"{_M}evenHeader",
                             f"{_M}evenFooter", f"{_M}firstHeader", f"{_M}firstFooter"):
                    yield f"{where} header/footer", _HEADER_CODES.sub(" ", el.text or "")
        for name in names:
            if name.startswith("xl/charts/chart") or name.startswith("xl/comments"):
                root = ElementTree.fromstring(z.read(name))
                for el in root.iter():
                    if el.tag in (f"{{{_NS['a']}}}t", f"{_M}t", f"{{{_NS['c']}}}v") and el.text:
                        yield f"{path.name}:{name}", el.text


# ----------------------------------------------------------------------------- trace.html

class _PageText(HTMLParser):
    """The text nodes of a page outside <script> and <style>."""

    def __init__(self):
        super().__init__()
        self.texts: list[str] = []
        self.data_json = ""
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs):
        self._in.append(tag if tag != "script" or ("id", "data") not in attrs else "data")

    def handle_endtag(self, tag):
        if self._in:
            self._in.pop()

    def handle_data(self, data):
        where = self._in[-1] if self._in else ""
        if where == "data":
            self.data_json += data
        elif where not in ("script", "style") and data.strip():
            self.texts.append(data)


def texts_of_html(path: Path):
    """(where, text) of every text node trace.html shows: the page's own, and every text its
    script puts on the page from its data (reports/assets/trace.js: labels, mechanism, result
    and rule names, sheet names, the run table, each firing's subject, points, kind, review
    id, status, assignee and explanation, each cited row, the why-not table). The script's
    own literals are signs only (": ", " · ", "… +", "✕")."""
    page = _PageText()
    page.feed(Path(path).read_text("utf-8"))
    name = Path(path).name
    for t in page.texts:
        yield f"{name} page", t
    d = json.loads(page.data_json)
    for k, v in d["labels"].items():                  # "第 {p} / {n} 页": the script fills in
        yield f"{name} label {k}", re.sub(r"\{[a-z]+\}", "0", v)      # the numbers
    for _, word in d["mechanisms"]:
        yield f"{name} mechanism", word
    for word in d["results"]:
        yield f"{name} result", word
    for rule, description in d["rules"]:
        yield f"{name} rule", rule
        yield f"{name} rule description", description
    for s in d["sheets"]:
        yield f"{name} sheet", s
    for k, v, _ in d["run"]:
        yield f"{name} run", k
        yield f"{name} run", str(v)
    for f in d["firings"]:
        for i in (3, 6, 7, 8, 9, 10, 11):
            if f[i] is not None:
                yield f"{name} firing {f[0]}", str(f[i])
    for s in d["sources"]:
        yield f"{name} cited row", s[2]
    for row in d["why_not"]:
        for v in row:
            yield f"{name} why not", str(v)
