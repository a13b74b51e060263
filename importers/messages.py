"""The words of import problems and warnings, in English and Chinese (SPEC §3.1, §7).

A problem is found as a key plus arguments (`importers.normalize.Bad`, or the checks in
`importers.ledger`) and worded here once the message language is known. Every function returns
(expected, found); `Problem.__str__` puts them into `expected …, got …` or `应为…，实际为 …`.
Quoted values (`show`), ids and cell references are identical in both languages.
"""
from __future__ import annotations

from decimal import Decimal

from .normalize import show


def _num(d: Decimal) -> str:
    return format(d.normalize(), "f") if isinstance(d, Decimal) else str(d)


def _names(names, lang: str, limit: int = 12) -> str:
    items = [show(n) for n in names[:limit]]
    if len(names) > limit:
        items.append("…")
    return ("、" if lang == "zh" else ", ").join(items)


def _range_text(col, lang: str) -> str:
    """The bounds of a number or ratio column, worded."""
    lo, hi = col.min, col.max
    ratio = col.kind == "ratio"
    if lang == "zh":
        what = "比率" if ratio else "数字"
        if lo is not None and hi is not None:
            text = f" {_num(lo)} 到 {_num(hi)} 之间的{what}"
        elif lo is not None and col.min_exclusive:
            text = f"大于 {_num(lo)} 的{what}"
        elif lo is not None:
            text = f"不小于 {_num(lo)} 的{what}"
        else:
            text = f"不大于 {_num(hi)} 的{what}"
        return text + ("（如 0.92 或 '92%'）" if ratio else "")
    what = "a ratio" if ratio else "a number"
    if lo is not None and hi is not None:
        text = f"{what} from {_num(lo)} to {_num(hi)}"
    elif lo is not None and col.min_exclusive:
        text = f"{what} greater than {_num(lo)}"
    elif lo is not None:
        text = f"{what} of at least {_num(lo)}"
    else:
        text = f"{what} of at most {_num(hi)}"
    return text + (" (such as 0.92 or '92%')" if ratio else "")


def cell_problem(key: str, args: tuple, col, lang: str) -> tuple[str, str]:
    """(expected, found) for a problem in one cell of column `col` (an importers.schema.Column)."""
    zh = lang == "zh"
    v = args[0] if args else None
    if key == "blank":
        return ("非空值", "空单元格") if zh else ("a value", "a blank cell")
    if key == "error":
        if zh:
            return "有效值", (f"错误值 {v}" if v else "错误值")
        return "a value", (f"the error value {v}" if v else "an error value")
    if key == "number":
        return ("数字" if zh else "a number", show(v))
    if key == "number_pct":
        return ("数字（百分号只能用于比率列）" if zh else "a number (% is only allowed in ratio columns)",
                show(v))
    if key == "ratio":
        return ("比率（如 0.92 或 '92%'）" if zh else "a ratio (such as 0.92 or '92%')", show(v))
    if key == "range":
        return _range_text(col, lang), show(v)
    if key == "id_type":
        return ("编号（文本或整数）" if zh else "an id (text or a whole number)", show(v))
    if key == "control":
        return ("不含控制字符的文本" if zh else "text without control characters", show(v))
    if key == "id_length":
        return ("不超过 255 个字符的编号" if zh else "an id of at most 255 characters",
                f"{len(v.strip())} 个字符" if zh else f"{len(v.strip())} characters")
    if key == "id_long":
        return ("以文本保存的编号（这么长的数字已丢失精度）" if zh else
                "an id stored as text (a number this long has already lost digits)", show(v))
    if key == "date":
        return ("日期（Excel 日期或年份在前的文本，如 2026-11-03）" if zh else
                "a date (an Excel date or year-first text such as 2026-11-03)", show(v))
    if key == "date_day_first":
        return ("年份在前的日期，如 2026-11-03（日在前的写法有歧义）" if zh else
                "a year-first date such as 2026-11-03 (day-first dates are ambiguous)", show(v))
    if key == "date_invalid":
        return ("真实存在的日期" if zh else "a real calendar date", show(v))
    if key == "enum":
        listed = args[1]
        return ((f"以下之一：{'、'.join(listed)}" if zh else f"one of {', '.join(listed)}"),
                show(v))
    if key == "reserved":
        return ("保留字 'HR' 以外的工号" if zh else "an employee id other than the reserved 'HR'",
                show(v))
    if key == "duplicate":
        shown, first_cell, what = args
        return ((f"唯一的{what}", f"{shown} 重复（首次出现于 {first_cell}）") if zh else
                (f"a unique {what}", f"{shown} again (first at {first_cell})"))
    if key == "reference":
        _, target_sheet, target_label = args
        return ((f"「{target_sheet}」表中存在的{target_label}" if zh else
                 f"an id listed in {target_sheet} ({target_label})"), show(v))
    if key == "self_manager":
        return (("他人的工号（不能是本人）", f"{show(v)}（本人）") if zh else
                ("another employee's id (not the employee's own)", f"{show(v)} (the employee himself)"))
    if key == "cycle":
        ids, cells = args
        chain = " → ".join(show(i) for i in ids)
        return (("能到达最高层的上级链", f"循环 {chain}（{'、'.join(cells)}）") if zh else
                ("a manager chain that ends at the top", f"a cycle {chain} ({', '.join(cells)})"))
    raise KeyError(key)     # a bug, not user data


def sheet_problem(key: str, args: tuple, lang: str) -> tuple[str, str]:
    """(expected, found) for a problem of a sheet or of a header row."""
    zh = lang == "zh"
    if key == "missing_sheet":
        en, zh_name, present = args
        found = (f"没有该工作表（文件中的工作表：{_names(present, lang)}）" if present else "没有任何工作表") \
            if zh else (f"no such sheet (sheets in the file: {_names(present, lang)})" if present
                        else "no sheet at all")
        return (f"名为 {zh_name} 或 {en} 的工作表" if zh else f"a sheet named {en} or {zh_name}"), found
    if key == "duplicate_sheet":
        en, zh_name, names = args
        return ((f"只有一个 {zh_name}（{en}）工作表", _names(names, lang)) if zh else
                (f"one sheet for {en} ({zh_name})", " and ".join(show(n) for n in names)))
    if key == "unreadable_sheet":
        return ("可读取的工作表" if zh else "a readable worksheet", args[0])
    if key == "missing_column":
        en, zh_name, headers = args
        found = (f"表头 {_names(headers, lang)}" if headers else "空的表头行") if zh else \
            (f"headers {_names(headers, lang)}" if headers else "an empty header row")
        return (f"名为 {zh_name} 或 {en} 的列" if zh else f"a column headed {en} or {zh_name}"), found
    if key == "duplicate_column":
        label, header, other_header, other_cell = args
        return ((f"只有一个{label}列", f"{show(header)} 与 {other_cell} 的 {show(other_header)} 重复")
                if zh else
                (f"one {label} column", f"{show(header)} besides {show(other_header)} at {other_cell}"))
    raise KeyError(key)


def workbook_problem(key: str, args: tuple, lang: str) -> tuple[str, str]:
    """(expected, found) for a file that is not a readable workbook at all."""
    zh = lang == "zh"
    exp = ("可读取的工作簿（.xlsx、.xlsm、.xls、.xlsb 或 .ods）" if zh else
           "a readable workbook (.xlsx, .xlsm, .xls, .xlsb or .ods)")
    a = args[0] if args else ""
    found = {
        "no_file": (f"文件 {a!r} 不存在", f"no file at {a!r}"),
        "not_a_file": (f"{a!r} 是文件夹", f"{a!r}, which is a directory"),
        "io_error": (f"无法读取的文件（{a}）", f"a file that cannot be read ({a})"),
        "empty": ("空文件", "an empty file"),
        "not_regular": ("不是普通文件（设备或管道）", "something that is not a regular file (a device or a pipe)"),
        "dtd": (f"声明了 DTD 或实体（<!DOCTYPE>）的 XML 部件 {a}：电子表格程序从不写入它，可能是恶意文件",
                f"an XML part declaring a DTD or entities (<!DOCTYPE>) in {a}: no spreadsheet program "
                "writes one, so the file was not read"),
        "encrypted": ("加密（设有密码）的工作簿：请去掉密码后另存", "an encrypted (password-protected) workbook: "
                      "remove the password and save it again"),
        "word": ("Word 文档", "a Word document"),
        "powerpoint": ("PowerPoint 演示文稿", "a PowerPoint presentation"),
        "odf_other": ("非表格的 OpenDocument 文档", "an OpenDocument file that is not a spreadsheet"),
        "zip": ("不是工作簿的 zip 压缩包", "a zip archive that is not a workbook"),
        "html": ("以 Excel 扩展名保存的网页（HTML）：请另存为 .xlsx", "an HTML page saved with an Excel name: "
                 "save it as .xlsx"),
        "xml": ("XML 文件（Excel 2003 XML？）：请另存为 .xlsx", "an XML file (Excel 2003 XML?): "
                "save it as .xlsx"),
        "text": ("文本文件（CSV？）：请另存为 .xlsx", "a text file (CSV?): save it as .xlsx"),
        "unknown": ("无法识别的数据", "data that is not a spreadsheet"),
        "corrupt": (f"损坏的工作簿（{a}）", f"a damaged workbook ({a})"),
        "crashed": (f"使读取程序崩溃的文件（退出码 {a}：文件过大或已损坏）",
                    f"a file that crashed the reader (exit code {a}: too large or malformed)"),
        "timeout": (f"{a} 秒内无法读完的文件", f"a file that could not be read within {a} s"),
    }
    if key == "too_large":
        size, limit = args
        return ((f"不超过 {limit} 的工作簿", f"{size}") if zh else
                (f"a workbook of at most {limit}", f"{size}"))
    if key == "unsafe":
        what, limit = args
        return ((f"解压后不超过安全上限的工作簿（{limit}）", what) if zh else
                (f"a workbook within the safety limits ({limit})", what))
    if key == "sheet_too_large":
        sheet, rows, cols, limit = args
        return ((f"每个工作表不超过 {limit:,} 个单元格", f"{show(sheet)} 占 {rows:,} 行 × {cols:,} 列")
                if zh else
                (f"at most {limit:,} cells per sheet", f"{show(sheet)} spanning {rows:,} rows × {cols:,} columns"))
    zh_text, en_text = found[key]
    return exp, (zh_text if zh else en_text)


def warning(key: str, args: tuple, lang: str) -> str:
    zh = lang == "zh"
    if key == "extra_columns":
        sheet, cols = args      # cols: [(header, cell)]
        listed = ("、" if zh else ", ").join(f"{show(h)} ({c})" for h, c in cols)
        return (f"{sheet}：已忽略多余的列 {listed}" if zh else
                f"{sheet}: extra columns ignored: {listed}")
    if key == "extra_sheets":
        return (f"已忽略多余的工作表 {_names(args[0], lang, 50)}" if zh else
                f"extra sheets ignored: {_names(args[0], lang, 50)}")
    if key == "hidden_sheet":
        return (f"{args[0]}：该工作表是隐藏的，仍按账簿工作表读取" if zh else
                f"{args[0]}: the sheet is hidden; it was read as a ledger sheet")
    if key == "errors_unchecked":
        return (f"无法在 .{args[0]} 文件中识别错误值（#N/A 等），它们被当作空单元格处理" if zh else
                f"error values (#N/A, …) cannot be told from blank cells in .{args[0]} files; "
                "they were treated as blank")
    raise KeyError(key)
