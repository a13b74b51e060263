"""What an import produces: a typed ledger with its provenance, or the list of problems.

Errors are data (beancount's habit): the reader collects every problem it finds and returns
them; it raises only for bugs. The command line turns `problems` into `Sheet!Cell (column):
expected …, got …` lines and exit code 1.

A Problem is rendered in the language it was built for (`lang`): English
`Behaviours!E7 (points): expected a number, got 'abc'`, Chinese
`协同行为!E7（分值）：应为数字，实际为 'abc'` (each language's own punctuation). The sheet is always the sheet's own name in the file,
and cell references, ids and quoted values are the same in both languages (SPEC §7).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .spooled import SpooledRows, close_spooled


@dataclass(frozen=True)
class Problem:
    """One structural problem (SPEC §3.1). `sheet` is the sheet's own name in the workbook."""
    sheet: str | None          # None: the workbook as a whole
    cell: str | None           # "E7"; None for a whole sheet or column problem
    column: str | None         # canonical column name, when one is concerned
    expected: str              # what was expected, in the message language
    found: str                 # what was found (quoted value or description)
    # Added after the first five; defaults keep older constructors working.
    lang: str = "en"           # language of expected/found and of the rendering
    column_label: str | None = None   # the column as the message shows it (Chinese name in zh)
    kind: str = ""             # machine-readable kind: "blank", "type", "duplicate", "reference"…

    def location(self) -> str:
        """`Sheet!Cell (column)` (Chinese: `工作表!单元格（列）`), or the parts of it that apply."""
        where = ""
        if self.sheet is not None:
            where = f"{self.sheet}!{self.cell}" if self.cell else self.sheet
        label = self.column_label or self.column
        if label:
            where += f"（{label}）" if self.lang == "zh" else (f" ({label})" if where else f"({label})")
        return where

    def __str__(self) -> str:
        where = self.location()
        if self.lang == "zh":
            body = f"应为{self.expected}，实际为 {self.found}"
            return f"{where}：{body}" if where else body
        body = f"expected {self.expected}, got {self.found}"
        return f"{where}: {body}" if where else body


@dataclass
class Ledger:
    """A validated ledger: typed rows per canonical sheet name.

    rows["Employees"] is a sequence of dicts {"row": Excel row, column: typed value, ...}, held
    by column (importers.columns.ColumnRows: each row read is a new dict, equal to the row).
    The transaction sheets (importers.schema.TRANSACTION_SHEETS: the ratings and behaviours,
    nine in ten rows of a big ledger) are kept in files as they are typed: each is an
    importers.spooled.SpooledRows, sized and iterated as often as needed (the same dicts, a
    chunk at a time), until `close()`. Every sheet of importers.schema.SHEETS is present (empty
    when the sheet was absent).
    """
    file_name: str
    sha256: str
    rows: dict[str, list[dict] | SpooledRows]
    sheet_names: dict[str, str] = field(default_factory=dict)   # canonical -> name in the file
    lang: str = "en"                                              # "zh" when headers were Chinese
    warnings: list[str] = field(default_factory=list)
    format: str = ""                                              # "xlsx", "xls", "xlsb", "ods"
    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # sheet -> column -> "C"

    def count(self, sheet: str) -> int:
        return len(self.rows.get(sheet, ()))

    def close(self) -> None:
        """Gives back the files its transaction sheets are kept in (after it is stored)."""
        close_spooled(self.rows)


class LedgerRefused(Exception):
    """Raised by importers.read_ledger when the workbook has structural problems."""

    def __init__(self, problems: list[Problem], lang: str = "en"):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems
        self.lang = lang

    def __str__(self) -> str:
        head = (f"账簿被拒绝：{len(self.problems)} 个问题" if self.lang == "zh"
                else f"ledger refused: {len(self.problems)} problem(s)")
        return "\n".join([head, *(str(p) for p in self.problems)])
