"""Messages of the command line in Chinese and English (SPEC §7: `--lang`, `XIETONG_LANG`, else
the ledger's header language). Cell references, ids and quoted values are never translated."""
from __future__ import annotations

from importers.schema import SHEETS

MESSAGES = {
    "template_written": {"en": "Template written: {path}", "zh": "模板已生成：{path}"},
    "file_missing": {"en": "{path}: expected a ledger workbook, got no such file",
                     "zh": "{path}：应为台账工作簿，实际文件不存在"},
    "refused_header": {"en": "{path}: the ledger was refused, {n} problem(s):",
                       "zh": "{path}：台账被拒绝，共 {n} 个问题："},
    "nothing_stored": {"en": "Nothing was stored.", "zh": "未写入任何数据。"},
    "import_stored": {"en": "Imported {path} for {period}: import #{id}, sha256 {sha}",
                      "zh": "已导入 {path}（{period}）：导入记录 #{id}，sha256 {sha}"},
    "import_unchanged": {"en": "{path} is already the active ledger of {period} (import #{id}): nothing changed.",
                         "zh": "{path} 已是 {period} 的当前台账（导入记录 #{id}）：无任何变更。"},
    "import_reactivated": {"en": "{path} was imported for {period} before (import #{id}); it is the active ledger again.",
                           "zh": "{path} 此前已导入 {period}（导入记录 #{id}），现重新设为当前台账。"},
    "import_replaces": {"en": "It replaces import #{prev} as the period's active ledger (kept for audit).",
                        "zh": "它取代导入记录 #{prev} 成为本期当前台账（原记录保留备查）。"},
    "rows_header": {"en": "Rows per sheet:", "zh": "各工作表行数："},
    "rows_total": {"en": "total", "zh": "合计"},
    "warnings_header": {"en": "Warnings:", "zh": "警告："},
    "verify_ok": {"en": "Audit chain verified: {n} records, no change found.",
                  "zh": "审计链校验通过：{n} 条记录，未发现篡改。"},
    "verify_bad": {"en": "Audit chain verification FAILED: {problem}",
                   "zh": "审计链校验失败：{problem}"},
    "policy_ok": {"en": "Policy {path}: no errors, {n} warning(s).",
                  "zh": "政策文件 {path}：无错误，{n} 个警告。"},
    "policy_warning": {"en": "warning: {text}", "zh": "警告：{text}"},
    "policy_error": {"en": "error: {text}", "zh": "错误：{text}"},
    "demo_ledger": {"en": "Sample company ledger ({n} employees): {path}",
                    "zh": "示例公司台账（{n} 名员工）：{path}"},
    "demo_db": {"en": "Database: {url}", "zh": "数据库：{url}"},
}


def t(lang: str | None, key: str, **kw) -> str:
    lang = lang if lang in ("zh", "en") else "en"
    return MESSAGES[key][lang].format(**kw)


def sheet_label(lang: str, sheet_name: str) -> str:
    for s in SHEETS:
        if s.name == sheet_name:
            return s.zh if lang == "zh" else s.name
    return sheet_name


def import_summary(lang, path, period, ledger, outcome) -> str:
    key = {"stored": "import_stored", "unchanged": "import_unchanged",
           "reactivated": "import_reactivated"}[outcome.status]
    lines = [t(lang, key, path=path, period=period, id=outcome.import_id, sha=ledger.sha256[:16])]
    if outcome.status != "unchanged" and outcome.previous_import_id:
        lines.append(t(lang, "import_replaces", prev=outcome.previous_import_id))
    lines.append(t(lang, "rows_header"))
    width = max(len(sheet_label(lang, s.name)) for s in SHEETS) + 2
    for s in SHEETS:
        label = sheet_label(lang, s.name)
        pad = width - len(label) - (sum(1 for ch in label if ord(ch) > 0x2E80))
        lines.append(f"  {label}{' ' * max(pad, 1)}{outcome.rows_per_sheet.get(s.name, 0):>9,}")
    lines.append(f"  {t(lang, 'rows_total')}{' ' * max(width - len(t(lang, 'rows_total')) - (2 if lang == 'zh' else 0), 1)}"
                 f"{sum(outcome.rows_per_sheet.values()):>9,}")
    if ledger.warnings:
        lines.append(t(lang, "warnings_header"))
        lines += [f"  {w}" for w in ledger.warnings]
    return "\n".join(lines)
