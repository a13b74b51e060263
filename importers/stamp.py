"""The stamp on a review workbook (SPEC §10.3): which run it was written from, for which period
and assignee, and when it was issued. reports/ writes it as the workbook's custom document
properties (and a visible info line); `xietong decisions` reads it back here, so that a decision
returned from an outdated copy cannot silently undo a newer one.

Custom properties survive Excel, WPS and LibreOffice re-saving an .xlsx. A workbook without the
stamp (re-typed by hand, converted to another format) is still accepted; its decisions are then
taken as they come, as before.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from xml.etree import ElementTree

# property name -> what it holds; reports/reviews.py writes exactly these
RUN, PERIOD, ASSIGNEE, ISSUED_AT = ("xietong_run", "xietong_period", "xietong_assignee",
                                    "xietong_issued_at")
_CUSTOM = "docProps/custom.xml"
_MAX_BYTES = 65_536                   # a stamp is a few hundred bytes; anything bigger is not ours


@dataclass(frozen=True)
class Stamp:
    run_id: int
    period: str
    assignee: str
    issued_at: datetime               # UTC


def read_stamp(path) -> Stamp | None:
    """The workbook's stamp, or None when it has none (or it is not an .xlsx zip)."""
    try:
        with zipfile.ZipFile(path) as z:
            info = z.getinfo(_CUSTOM)
            if info.file_size > _MAX_BYTES:
                return None
            text = z.read(info)
    except (KeyError, OSError, zipfile.BadZipFile):
        return None
    if b"<!DOCTYPE" in text or b"<!ENTITY" in text:     # never expand entities of a user's file
        return None
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return None
    values = {}
    for prop in root:
        name = prop.get("name")
        if name in (RUN, PERIOD, ASSIGNEE, ISSUED_AT) and len(prop):
            values[name] = (prop[0].text or "").strip()
    try:
        issued = datetime.fromisoformat(values[ISSUED_AT].replace("Z", "+00:00"))
        return Stamp(int(values[RUN]), values[PERIOD], values[ASSIGNEE],
                     issued if issued.tzinfo else issued.replace(tzinfo=timezone.utc))
    except (KeyError, ValueError):
        return None
