"""Writing ledger workbooks: the empty template HR fills in, and filled ledgers from typed rows.

`write_template(path, lang)` is what `xietong template OUT.xlsx [--lang zh|en]` writes: a guide
sheet first (说明 / Guide: every sheet and column of the contract in `importers/schema.py`, what
to type, and which of the article's five mechanisms it feeds), then one sheet per ledger sheet
with its header row in that language, frozen, styled and sized for Chinese text, and dropdowns
on every enumeration column.

`write_ledger(path, rows, lang)` writes the same workbook with data: typed rows as the importer
produces them (canonical column names, Decimals, dates, canonical enum codes, str ids). Enum
codes are written in the language's spelling (ENUM_ZH in Chinese), dates as real Excel dates,
numbers as numbers and ids as text, so `read_ledger(write_ledger(rows))` gives `rows` back. A
template is a ledger with no rows: one code path, so the filled sample ledgers exercise exactly
what HR receives. Big ledgers (the benchmark writes 100k-1M rows) go through
`reports.workbook.BulkWriter`: openpyxl (write-only) lays out the workbook, the data rows are
streamed as XML (see that module for the measurements).

Why the guide sheet is called 说明 / Guide: it must never be taken for a ledger sheet (the reader
matches sheets by their English or Chinese name and only warns about others). The hidden sheet
`_lists` holds dropdown lists too long or too comma-laden for an inline list.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from importers.schema import ENUM_ZH, ENUMS, SHEETS, Column, Sheet
from reports.workbook import BulkWriter, fit_width, text_cell

LANGS = ("zh", "en")
GUIDE_TITLE = {"zh": "说明", "en": "Guide"}
LISTS_TITLE = "_lists"
# Dropdowns cover at least this many data rows (and 1000 more than a filled ledger has), so HR
# can keep typing below the last row without losing the lists.
MIN_VALIDATION_ROWS = 5000
SPARE_VALIDATION_ROWS = 1000
EXCEL_MAX_ROW = 1_048_576
# Excel documents 255 characters as the limit of an inline list formula; whether that counts
# characters or bytes varies by version, so count UTF-8 bytes and keep under it.
INLINE_LIST_LIMIT = 200
# Column widths are fitted to the header and to the first rows only: fitting a million rows
# would cost more than writing them, and the first rows are representative.
WIDTH_SAMPLE_ROWS = 200

_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", start_color="305496", end_color="305496")
_HEADER_ALIGN = Alignment(horizontal="center", vertical="center")
_HEADER_BORDER = Border(bottom=Side(style="thin", color="1F3864"))
_TITLE_FONT = Font(bold=True, size=14)
_SECTION_FILL = PatternFill("solid", start_color="D9E1F2", end_color="D9E1F2")
_WRAP = Alignment(wrap_text=True, vertical="top")

_WORDS = {
    "zh": {
        "title": "协同绩效台账（xietong）填写说明",
        "intro": (
            "每个考核月一本台账。每个工作表第 1 行是表头（中文或英文列名均可，列顺序可调整，多余的列会被忽略）；"
            "「部门」「员工」两个工作表必须有，其他工作表缺失表示当月没有此类数据。"
            "编号一律按文本填写（保留前导 0，区分大小写）；日期填 Excel 日期或 2026-11-03 这类年月日格式；"
            "比率填 0.92 或 92%；分值可带小数。带下拉箭头的列请从列表中选择。"
            "评价、协同行为等月度记录中的个别错误（如工号写错、缺少事实依据）不会阻止导入，会作为异常交 HR 或上级处理；"
            "主数据（部门、员工、项目、指标、互锁）出错则整本台账退回。"),
        "columns": ("工作表", "字段", "类型", "是否必填", "填写说明", "对应机制"),
        "sheet_row": "（整个工作表）",
        "sheet_required": "必须有此工作表",
        "sheet_optional": "可缺省",
        "kinds": {"master": "主数据", "transaction": "月度记录", "decision": "复核结论"},
        "required": "必填",
        "optional": "可空",
        "id": "编号（文本）",
        "text": "文本",
        "number": "数字",
        "ratio": "比率 0–1（可填 92%）",
        "date": "日期",
        "enum": "选项：",
        "default": "（空 = {}）",
        "key": "唯一键：",
        "behaviour_list": "下拉列表为默认政策中的行为清单；也可填行为代码（LEAD 等）",
        "enum_error_title": "请从下拉列表中选择",
        "enum_error": "可选值：{}",
    },
    "en": {
        "title": "Collaboration-performance ledger (xietong): how to fill it in",
        "intro": (
            "One ledger per month. Row 1 of every sheet is the header (English or Chinese column "
            "names; any column order; extra columns are ignored). Departments and Employees are "
            "required; a missing optional sheet means no rows of that kind this month. Type ids "
            "as text (leading zeros kept, case-sensitive); dates as Excel dates or year-first "
            "text such as 2026-11-03; ratios as 0.92 or 92%; points and scores may have "
            "decimals. Columns with a dropdown take a value from the list. A mistake in a "
            "monthly record (a wrong employee id, missing evidence) does not block the import: it "
            "becomes an exception for HR or a manager. A mistake in master data (departments, "
            "employees, projects, KPIs, interlocks) refuses the whole ledger."),
        "columns": ("Sheet", "Column", "Type", "Required", "What to enter", "Mechanism"),
        "sheet_row": "(whole sheet)",
        "sheet_required": "sheet required",
        "sheet_optional": "sheet optional",
        "kinds": {"master": "master data", "transaction": "monthly records",
                  "decision": "review decisions"},
        "required": "required",
        "optional": "optional",
        "id": "id (text)",
        "text": "text",
        "number": "number",
        "ratio": "ratio 0-1 ('92%' accepted)",
        "date": "date",
        "enum": "one of: ",
        "default": " (blank = {})",
        "key": "unique key: ",
        "behaviour_list": "The dropdown lists the default policy's catalog; Chinese names work too",
        "enum_error_title": "Choose from the list",
        "enum_error": "Allowed: {}",
    },
}


def write_template(path, lang: str = "zh") -> None:
    """Write an empty ledger workbook (guide, every sheet, headers, dropdowns) to `path`."""
    write_ledger(path, {}, lang)


def write_ledger(path, rows: Mapping[str, Sequence[Mapping]], lang: str = "zh", *,
                 guide: bool = True) -> None:
    """Write a ledger workbook in `lang` ("zh" or "en") holding `rows`.

    rows: canonical sheet name -> list of typed row dicts keyed by canonical column names (a
    "row" key, as the importer adds, is ignored; a missing key is a blank cell). Every sheet of
    SHEETS is written, in SHEETS order, whether it has rows or not; rows keep their order, so
    the i-th row of a sheet lands on Excel row i + 2.
    """
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    unknown = set(rows) - {s.name for s in SHEETS}
    if unknown:
        raise ValueError(f"unknown ledger sheet(s): {sorted(unknown)}")
    words = _WORDS[lang]
    wb = Workbook(write_only=True)
    bulk = BulkWriter(wb)
    lists = _ListSheet()
    if guide:
        _write_guide(wb.create_sheet(GUIDE_TITLE[lang]), lang)
    for sheet in SHEETS:
        data = rows.get(sheet.name) or ()
        if len(data) + 1 > EXCEL_MAX_ROW:
            raise ValueError(f"{sheet.name}: {len(data)} rows do not fit in one Excel sheet")
        ws = wb.create_sheet(sheet_title(sheet, lang))
        values = _RowValues(sheet, data, lang)
        _layout(ws, sheet, values, lang)
        last = min(EXCEL_MAX_ROW, max(MIN_VALIDATION_ROWS, len(values) + SPARE_VALIDATION_ROWS) + 1)
        for i, col in enumerate(sheet.columns, 1):
            items = _dropdown_items(col, lang)
            if items is None:
                continue
            dv = lists.validation(items, strict=col.kind == "enum", words=words)
            dv.add(f"{get_column_letter(i)}2:{get_column_letter(i)}{last}")
            ws.data_validations.append(dv)
        ws.append([text_cell(ws, h, font=_HEADER_FONT, fill=_HEADER_FILL,
                             alignment=_HEADER_ALIGN, border=_HEADER_BORDER)
                   for h in _headers(sheet, lang)])
        if values:
            bulk.add_rows(ws, values, ncols=len(sheet.columns))
    if lists.columns:
        ls = wb.create_sheet(LISTS_TITLE)
        ls.sheet_state = "hidden"             # lists only; the reader may warn about it
        depth = max(len(c) for c in lists.columns)
        for r in range(depth):
            ls.append([text_cell(ls, c[r]) if r < len(c) else None for c in lists.columns])
    bulk.save(path)


def sheet_title(sheet: Sheet, lang: str) -> str:
    """The sheet's name in a workbook written in `lang`."""
    return sheet.zh if lang == "zh" else sheet.name


def _headers(sheet: Sheet, lang: str) -> list[str]:
    return [c.zh if lang == "zh" else c.name for c in sheet.columns]


def enum_spelling(column: Column, code, lang: str):
    """How `code` of an enumeration column is written in `lang` (unknown values unchanged)."""
    if lang == "zh":
        return ENUM_ZH[column.enum].get(code, code)
    return code


class _RowValues:
    """The cell values of a sheet's rows, in column order, made lazily while they are written.

    Sized (the writer needs the row count for the `<dimension>` tag) but never materialised:
    a million rows of lists would double the memory a big ledger needs.
    """

    def __init__(self, sheet: Sheet, rows: Sequence[Mapping], lang: str):
        self.rows = rows
        self.names = [c.name for c in sheet.columns]
        self.enums = [(i, ENUM_ZH[c.enum]) for i, c in enumerate(sheet.columns)
                      if c.kind == "enum" and lang == "zh"]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._values(r) for r in self.rows[index]]
        return self._values(self.rows[index])

    def __iter__(self):
        return map(self._values, self.rows)

    def _values(self, row: Mapping) -> list:
        get = row.get
        values = [get(n) for n in self.names]
        for i, spelling in self.enums:
            v = values[i]
            if v is not None:
                values[i] = spelling.get(v, v)     # unknown spellings are written unchanged
        return values


def _layout(ws, sheet: Sheet, values: list[list], lang: str) -> None:
    # Write-only sheets drop panes and widths set after the first append (docs/workbooks.md §5).
    ws.freeze_panes = "A2"
    sample = values[:WIDTH_SAMPLE_ROWS]
    for i, (col, header) in enumerate(zip(sheet.columns, _headers(sheet, lang))):
        texts = [header]
        if col.kind == "date":
            texts.append("2026-11-03")
        elif col.kind == "enum":
            texts.extend(_dropdown_items(col, lang) or ())
        texts.extend(_shown(r[i]) for r in sample)
        # Bold headers and the dropdown arrow need a little more than the text itself.
        ws.column_dimensions[get_column_letter(i + 1)].width = fit_width(texts, 10, 50) + 2


def _shown(v) -> str | None:
    if v is None:
        return None
    return str(v)


def _dropdown_items(col: Column, lang: str) -> list[str] | None:
    if col.kind == "enum":
        codes = list(ENUMS[col.enum])
        return [ENUM_ZH[col.enum][c] for c in codes] if lang == "zh" else codes
    if col.name == "behaviour_code":
        catalog = _default_catalog()
        return [e.zh if lang == "zh" else e.code for e in catalog]
    return None


def _default_catalog():
    """The shipped policy's behaviour catalog, offered as suggestions in the template.

    Imported here, not at module level: the importers know workbooks, and only this one
    convenience (a dropdown of the listed behaviours) needs the policy.
    """
    from rules.policy import load_policy
    return load_policy().behaviour.entries


class _ListSheet:
    """Builds data validations: short lists inline, long ones on the hidden `_lists` sheet."""

    def __init__(self):
        self.columns: list[list[str]] = []
        self._ranges: dict[tuple[str, ...], str] = {}

    def validation(self, items: list[str], strict: bool, words: dict) -> DataValidation:
        inline = ",".join(items)
        if (len(inline.encode("utf-8")) <= INLINE_LIST_LIMIT
                and not any("," in i or '"' in i for i in items)):
            formula = f'"{inline}"'
        else:
            formula = self._range(items)
        # Enumerations warn rather than stop: the reader accepts more spellings than the list
        # shows (★★★, 3, high, 中台 ...), and HR pasting those must not be blocked. A free-text
        # column with suggestions (behaviour_code) shows no error at all.
        return DataValidation(
            type="list", formula1=formula, allow_blank=True, showDropDown=False,
            showErrorMessage=strict, errorStyle="warning",
            errorTitle=words["enum_error_title"],
            error=words["enum_error"].format(" / ".join(items))[:255])

    def _range(self, items: list[str]) -> str:
        key = tuple(items)
        if key not in self._ranges:
            self.columns.append(list(items))
            col = get_column_letter(len(self.columns))
            self._ranges[key] = f"{quote_sheetname(LISTS_TITLE)}!${col}$1:${col}${len(items)}"
        return self._ranges[key]


# ----------------------------------------------------------------------------- the guide

def _write_guide(ws, lang: str) -> None:
    words = _WORDS[lang]
    widths = (16, 18, 26, 12, 56, 44)
    for i, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.freeze_panes = "A5"
    ws.append([text_cell(ws, words["title"], font=_TITLE_FONT)])
    ws.append([text_cell(ws, words["intro"], alignment=_WRAP)])
    ws.append([])
    ws.append([text_cell(ws, h, font=_HEADER_FONT, fill=_HEADER_FILL, alignment=_HEADER_ALIGN)
               for h in words["columns"]])
    for sheet in SHEETS:
        title = sheet_title(sheet, lang)
        other = sheet.name if lang == "zh" else sheet.zh
        mechanism = sheet.mechanism_zh if lang == "zh" else sheet.mechanism_en
        presence = words["sheet_required"] if sheet.required else words["sheet_optional"]
        key = ", ".join(_col_title(sheet.column(k), lang) for k in sheet.key)
        ws.append([text_cell(ws, v, fill=_SECTION_FILL, font=Font(bold=True), alignment=_WRAP)
                   for v in (f"{title} ({other})", words["sheet_row"],
                             words["kinds"][sheet.kind], presence,
                             f"{words['key']}{key}", mechanism)])
        for col in sheet.columns:
            help_text = col.help_zh if lang == "zh" else col.help_en
            if col.name == "behaviour_code":
                help_text = f"{help_text}. {words['behaviour_list']}" if lang == "en" \
                    else f"{help_text}。{words['behaviour_list']}"
            other_col = col.name if lang == "zh" else col.zh
            ws.append([text_cell(ws, v, alignment=_WRAP) for v in (
                title, f"{_col_title(col, lang)} ({other_col})", _type_text(col, lang),
                words["optional"] if col.optional else words["required"], help_text,
                mechanism)])


def _col_title(col: Column, lang: str) -> str:
    return col.zh if lang == "zh" else col.name


def _type_text(col: Column, lang: str) -> str:
    words = _WORDS[lang]
    if col.kind == "enum":
        text = words["enum"] + " / ".join(_dropdown_items(col, lang))
        if col.default:
            text += words["default"].format(enum_spelling(col, col.default, lang))
        return text
    text = words[col.kind]
    if col.kind == "number" and (col.min is not None or col.max is not None):
        text += " " + _range_text(col)
    return text


def _range_text(col: Column) -> str:
    if col.min is not None and col.max is not None:
        return f"{col.min}–{col.max}"
    if col.min is not None:
        return f"> {col.min}" if col.min_exclusive else f"≥ {col.min}"
    return f"≤ {col.max}"

