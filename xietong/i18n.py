"""Messages of the command line in Chinese and English (SPEC §7: `--lang`, `XIETONG_LANG`, else
the ledger's header language). Cell references, ids and quoted values are never translated."""
from __future__ import annotations

import unicodedata

from importers.lang import Text
from importers.schema import SHEETS

MESSAGES: dict[str, Text] = {
    "template_written": Text(
        zh="模板已生成：{path}",
        en="Template written: {path}"),
    "file_missing": Text(
        zh="{path}：应为台账工作簿，实际文件不存在",
        en="{path}: expected a ledger workbook, got no such file"),
    "refused_header": Text(
        zh="{path}：台账被拒绝，共 {n} 个问题：",
        en="{path}: the ledger was refused, {n} problem(s):"),
    "review_refused_header": Text(
        zh="{path}：复核清单被拒绝，共 {n} 个问题：",
        en="{path}: the review workbook was refused, {n} problem(s):"),
    "review_file_missing": Text(
        zh="{path}：应为复核清单工作簿，实际文件不存在",
        en="{path}: expected a review workbook, got no such file"),
    "not_review_workbook": Text(
        zh="{path}：不是复核清单：其中没有“复核结论”（Reviews）工作表。台账请用 `xietong import` 导入",
        en="{path}: not a review workbook: it has no Reviews (复核结论) sheet. A ledger is imported "
           "with `xietong import`"),
    "no_decision_in_file": Text(
        zh="{path}：不是交回的复核清单：其“复核结论”工作表中没有任何结论（空白模板，或复核结论页为空的台账）",
        en="{path}: not a returned review workbook: its Reviews sheet holds no decision (a "
           "template, or a ledger whose Reviews sheet is empty)"),
    "review_other_period": Text(
        zh="{path}：这是 {stamped} 的复核清单（运行记录 #{run}），不属于 {period}",
        en="{path}: this is a review workbook of {stamped} (run #{run}), not of {period}"),
    "nothing_recorded": Text(
        zh="未记录任何结论。",
        en="Nothing was recorded."),
    "decision_change": Text(
        zh="  {rid}（{kind}，{subject}）：{old} → {new}，复核人 {by}",
        en="  {rid} ({kind}, {subject}): {old} → {new}, by {by}"),
    "decision_open": Text(zh="待复核", en="open"),
    "decision_confirm": Text(zh="维持", en="confirm"),
    "decision_overturn": Text(zh="撤销", en="overturn"),
    "nothing_stored": Text(
        zh="未写入任何数据。",
        en="Nothing was stored."),
    "import_stored": Text(
        zh="已导入 {path}（{period}）：导入记录 #{id}，SHA-256 {sha}",
        en="Imported {path} for {period}: import #{id}, sha256 {sha}"),
    "import_unchanged": Text(
        zh="{path} 已是 {period} 的当前台账（导入记录 #{id}）：无任何变更。",
        en="{path} is already the active ledger of {period} (import #{id}): nothing changed."),
    "import_reactivated": Text(
        zh="{path} 此前已导入 {period}（导入记录 #{id}），现重新设为当前台账。",
        en="{path} was imported for {period} before (import #{id}); it is the active "
           "ledger again."),
    "import_replaces": Text(
        zh="它取代导入记录 #{prev} 成为本期当前台账（原记录保留备查）。",
        en="It replaces import #{prev} as the period's active ledger (kept for audit)."),
    "rows_header": Text(
        zh="各工作表行数：",
        en="Rows per sheet:"),
    "rows_total": Text(
        zh="合计",
        en="total"),
    "warnings_header": Text(
        zh="警告：",
        en="Warnings:"),
    "verify_ok": Text(
        zh="审计链校验通过：{n} 条记录，未发现篡改。",
        en="Audit chain verified: {n} records, no change found."),
    "verify_head": Text(
        zh="链头：第 {seq} 条，SHA-256 {hash}（请记录：之后的校验须能到达此处）。",
        en="Chain head: link {seq}, sha256 {hash} (note it down: a later verify must reach it)."),
    "verify_checkpoint": Text(
        zh="已写入检查点（审计链第 {seq} 条）：完整校验截至第 {upto} 条；此后的运行与报告从此处起增量校验。",
        en="Checkpoint written (chain link {seq}): full verification up to link {upto}; runs "
           "and reports verify incrementally from there."),
    "verify_no_checkpoint": Text(
        zh="未能写入检查点（{error}）：此后的运行与报告仍从上一个检查点起校验。",
        en="No checkpoint was written ({error}): runs and reports still verify from the "
           "previous one."),
    "database_busy": Text(
        zh="数据库 {url} 正忙：另一个 xietong 命令占用写锁已超过 {s} 秒。未写入任何数据；请待其结束后重试（等待时长由 "
           "`XIETONG_LOCK_TIMEOUT` 设置）。",
        en="the database {url} is busy: another xietong command has held its write lock "
           "for over {s} s. Nothing was stored; run the command again when it has finished "
           "(XIETONG_LOCK_TIMEOUT sets the wait)."),
    "database_error": Text(
        zh="无法使用数据库 {url}：{error}。未写入任何数据。",
        en="the database {url} cannot be used: {error}. Nothing was stored."),
    "database_driver": Text(
        zh="{url} 需要 PostgreSQL 驱动：`pip install 'xietong[pg]'`（psycopg 3）。",
        en="{url} needs the PostgreSQL driver: pip install 'xietong[pg]' (psycopg 3)."),
    "verify_bad": Text(
        zh="审计链校验失败：{problem}",
        en="Audit chain verification FAILED: {problem}"),
    "policy_ok": Text(
        zh="政策文件 {path}：无错误，{n} 个警告。",
        en="Policy {path}: no errors, {n} warning(s)."),
    "policy_warning": Text(
        zh="警告：{text}",
        en="warning: {text}"),
    "policy_error": Text(
        zh="错误：{text}",
        en="error: {text}"),
    # what-if (SPEC §11.6)
    "whatif_done": Text(
        zh="试算 {range}（政策 {path}，SHA-256 {sha}）：已试算 {n} 个月，未写入任何数据。",
        en="What-if of {range} under {path} (policy sha256 {sha}): {n} month(s) evaluated, "
           "nothing stored."),
    "whatif_no_import": Text(
        zh="{period}：没有导入台账，已跳过",
        en="{period}: no ledger imported, skipped"),
    "whatif_refused": Text(
        zh="{period}：在该政策下台账中的复核结论被拒绝，已跳过：",
        en="{period}: its ledger's Reviews rows are refused under this policy, skipped:"),
    "whatif_written": Text(
        zh="已写入：{path}",
        en="Written: {path}"),
    "whatif_largest": Text(
        zh="最终分变化最大的 {n} 项：",
        en="The {n} largest changes of a final:"),
    "whatif_change": Text(
        zh="  {period} {kind} {id} {name}：{current} → {alternative}（{difference}）",
        en="  {period} {kind} {id} {name}: {current} → {alternative} ({difference})"),
    "whatif_none": Text(
        zh="没有任何最终分发生变化。",
        en="No final changes."),
    "whatif_department": Text(zh="部门", en="department"),
    "whatif_employee": Text(zh="员工", en="employee"),
    "whatif_no_figure": Text(zh="无", en="none"),
    "demo_ledger": Text(
        zh="示例公司台账（{n} 名员工）：{path}",
        en="Sample company ledger ({n} employees): {path}"),
    "import_store_crashed": Text(
        zh="生成待保存台账行的进程异常结束（{error}），未写入任何数据",
        en="the process making the ledger's rows to store ended abruptly ({error}); nothing "
           "was stored"),
    "import_store_failed": Text(
        zh="台账未能保存，未写入任何数据：{error}",
        en="the ledger could not be stored and nothing was stored: {error}"),
    "evaluation_failed": Text(
        zh="评估失败，未写入任何数据：{error}",
        en="the evaluation failed and nothing was stored: {error}"),
    "decisions_done": Text(
        zh="{path}：已记录 {period} 复核结论 {n} 条，{same} 条无变化。下次运行 `xietong evaluate --period "
           "{period}` 时生效。",
        en="{path}: {n} decision(s) recorded for {period}, {same} unchanged. The next "
           "`xietong evaluate --period {period}` applies them."),
    "no_database": Text(
        zh="{url} 处没有 xietong 数据库：请先导入台账（`xietong import 台账文件 --period 考核期`），或用 --db 指定数据库",
        en="there is no xietong database at {url}: import a ledger first (xietong import LEDGER --period YYYY-MM), or name the database with --db"),
    "verify_nothing": Text(
        zh="无可校验的内容：数据库 {url} 中没有任何导入的台账",
        en="nothing to verify: the database {url} holds no imported ledger"),
    "verify_nothing_period": Text(
        zh="无可校验的内容：{period} 没有导入过台账（数据库 {url}）",
        en="nothing to verify: no ledger was ever imported for {period} (database {url})"),
    "database": Text(
        zh="数据库：{url}",
        en="Database: {url}"),
    "status_empty": Text(
        zh="尚未导入任何台账。",
        en="No ledger imported yet."),
    "status_period": Text(
        zh="{period}：",
        en="{period}:"),
    "status_import": Text(
        zh="  当前台账：导入记录 #{id} {file}（SHA-256 {sha}），{at} UTC",
        en="  active ledger: import #{id} {file} (sha256 {sha}), {at} UTC"),
    "status_no_run": Text(
        zh="  尚未评估",
        en="  not evaluated yet"),
    "status_run": Text(
        zh="  最新评估：运行记录 #{id}，{at} UTC：调整 {adjustments:,} 项，异常 {exceptions:,} 项，复核 待决 "
           "{open:,} / 已决 {decided:,}",
        en="  latest run #{id}, {at} UTC: {adjustments:,} adjustments, {exceptions:,} "
           "exceptions, reviews {open:,} open / {decided:,} decided"),
    "status_run_stale": Text(
        zh="  最新评估：运行记录 #{id}，{at} UTC（已过期：之后有新的导入或复核结论）：调整 {adjustments:,} 项，异常 "
           "{exceptions:,} 项，复核 待决 {open:,} / 已决 {decided:,}",
        en="  latest run #{id}, {at} UTC (out of date: a newer import or decision): "
           "{adjustments:,} adjustments, {exceptions:,} exceptions, reviews {open:,} open "
           "/ {decided:,} decided"),
    "run_done": Text(
        zh="已评估 {period}：运行记录 #{id}，规则触发 {firings:,} 次，调整 {adjustments:,} 项，异常 "
           "{exceptions:,} 项（待复核 {reviews:,} 项，未决 {open:,} 项）。",
        en="Evaluated {period}: run #{id}, {firings:,} firings, {adjustments:,} "
           "adjustments, {exceptions:,} exceptions ({reviews:,} to review, {open:,} open)."),
    "run_hashes": Text(
        zh="  台账 SHA-256 {sha}  政策 SHA-256 {policy}  规则版本 {rules}",
        en="  ledger sha256 {sha}  policy sha256 {policy}  rules version {rules}"),
    "run_decisions": Text(
        zh="  已记录台账复核结论 {n} 条。",
        en="  {n} decision(s) from the ledger's Reviews sheet recorded."),
    # reports (reports/*.py): where each report is and what it shows
    "reports_header": Text(
        zh="报告已写入 {dir}：",
        en="Reports in {dir}:"),
    "report_failed": Text(
        zh="无法在 {dir} 写入报告：{error}",
        en="Could not write the reports in {dir}: {error}"),
    "report_statement": Text(
        zh="{d:,} 个部门、{e:,} 名员工的得分：基础分、各机制调整、最终得分、未计入说明、复核事项、图表",
        en="scores of {d:,} departments and {e:,} employees: base, each mechanism, "
           "final, why not, reviews, chart"),
    "report_trace_xlsx": Text(
        zh="审计追踪：{n:,} 次规则触发及其来源行与引用值、运行哈希；审计链{chain}",
        en="audit trace: {n:,} rule firings with their source rows and cited values, "
           "the run's hashes; audit chain {chain}"),
    "report_trace_html": Text(
        zh="同一审计追踪的单文件网页（无需联网），可按对象、规则、机制、工作表筛选",
        en="the same trace as one offline web page, filterable by subject, rule, "
           "mechanism and sheet"),
    "report_reviews": Text(
        zh="{k:,} 份复核清单，每位复核人一份：复核事项 {r:,} 项，{open}；HR.xlsx 列出全部清单，另列 "
           "{j:,} 项驳回与提示",
        en="{k:,} review workbook(s), one per assignee: {r:,} review item(s), {open}; HR.xlsx "
           "lists them all and {j:,} rejection(s) and notice(s)"),
    "report_reviews_no_hr": Text(
        zh="{k:,} 份复核清单，每位复核人一份：复核事项 {r:,} 项，{open}；HR.xlsx 列出全部清单",
        en="{k:,} review workbook(s), one per assignee: {r:,} review item(s), {open}; HR.xlsx "
           "lists them all"),
    "report_reviews_open": Text(
        zh="其中 {n:,} 项待复核",
        en="{n:,} still open"),
    "report_reviews_all_decided": Text(
        zh="均已有结论",
        en="every one decided"),
    "report_reviews_none": Text(
        zh="本期没有异常，无复核清单",
        en="no exception this period: no review workbook"),
    "report_feedback": Text(
        zh="{n:,} 份被评部门反馈：各维度统计、评价说明与评价人部门、周边与责任矩阵调整分的计算",
        en="{n:,} feedback workbook(s), one per rated department: statistics per dimension, "
           "comments with the rater's department, how its points were computed"),
    "summary_no_run": Text(
        zh="{range}（{first} 至 {last}）没有任何评估结果：请先对其中的月份运行 `xietong evaluate --period YYYY-MM`",
        en="no month of {range} ({first} to {last}) has a run: evaluate its months first "
           "(`xietong evaluate --period YYYY-MM`)"),
    "summary_done": Text(
        zh="{range}汇总：{d:,} 个部门、{e:,} 名员工，{n} 个月（定稿 {final}，暂定 {provisional}，缺失 {missing}）。",
        en="Summary of {range}: {d:,} departments, {e:,} employees over {n} months ({final} "
           "final, {provisional} provisional, {missing} missing)."),
    "summary_month": Text(
        zh="  {period}  {state}{detail}",
        en="  {period}  {state}{detail}"),
    "summary_month_run": Text(zh="（运行记录 #{run}，待复核 {open} 项）", en=" (run #{run}, {open} open review(s))"),
    "summary_state_missing": Text(zh="缺失：没有评估", en="missing: no run"),
    "summary_state_provisional": Text(zh="暂定：未关闭", en="provisional: open"),
    "summary_state_final": Text(zh="定稿：已关闭", en="final: closed"),
    "summary_files": Text(zh="汇总已写入 {dir}：", en="Summary in {dir}:"),
    "summary_xlsx": Text(
        zh="部门与员工的月度得分及均值、各机制逐月调整、逐月周边反馈、各部门月度最终得分折线图",
        en="monthly scores and means of departments and employees, each mechanism by month, "
           "feedback by month, a line chart of the departments' monthly finals"),
    "summary_html": Text(zh="同一汇总的单文件网页（无需联网）", en="the same summary as one offline web page"),
    "summary_json": Text(zh="机器可读的汇总", en="the summary, machine-readable"),
    "report_json": Text(
        zh="机器可读的得分、调整、异常与规则触发",
        en="machine-readable scores, adjustments, exceptions and trace"),
    "period_closed": Text(
        zh="已关闭 {period}（{at} UTC，{by}）：结果定稿；关闭时待复核事项 {n} 项。",
        en="Closed {period} at {at} UTC by {by}: its figures are final; {n} review item(s) "
           "were still open."),
    "period_reopened": Text(
        zh="已重新开放 {period}（{at} UTC，{by}，原因：{reason}）。",
        en="Reopened {period} at {at} UTC by {by} ({reason})."),
    "status_closed": Text(
        zh="  已关闭：{at} UTC，{by}{why}（结果为定稿）",
        en="  closed at {at} UTC by {by}{why} (final)"),
    "status_open_period": Text(zh="  未关闭（结果为暂定）", en="  open (provisional)"),
    "report_manifest": Text(
        zh="本次报告的 {n:,} 个文件及其 SHA-256",
        en="the {n:,} files of this report with their SHA-256"),
    "report_removed": Text(
        zh="；已删除上次报告中本次未生成的 {n:,} 个文件：{files}",
        en="; removed {n:,} file(s) of the earlier report that this one does not write: {files}"),
    "report_other_period": Text(
        zh="{dir} 中已有 {other} 的报告（manifest.json）：请把 {period} 的报告写入另一个文件夹",
        en="{dir} holds the report of {other} (manifest.json): write {period}'s into another folder"),
    "chain_ok_short": Text(
        zh="校验通过",
        en="verified"),
    "chain_ok_since_short": Text(
        zh="校验通过（截至第 {seq} 条于 {at} 完整校验，其后为增量校验）",
        en="verified (full up to link {seq} at {at}, incremental since)"),
    "chain_ok_since_run_short": Text(
        zh="校验通过（截至第 {seq} 条于 {at} 校验，为运行记录 #{run} 校验时写入的检查点，其后为增量校验）",
        en="verified (up to link {seq} at {at}, checkpoint of run {run}'s check, incremental "
           "since)"),
    "report_checkpoint": Text(
        zh="已写入检查点（审计链第 {seq} 条）：审计链校验通过，下次运行从此处起增量校验。",
        en="Checkpoint written (chain link {seq}): the chain check passed; the next run "
           "verifies incrementally from there."),
    "report_no_checkpoint": Text(
        zh="未能写入检查点（{error}）：下次运行仍从上一个检查点起校验；报告不受影响。",
        en="No checkpoint was written ({error}): the next run still verifies from the previous "
           "one; the reports stand."),
    "chain_bad_short": Text(
        zh="校验失败",
        en="verification FAILED"),
    "report_stale": Text(
        zh="注意：{period} 的最新评估（运行记录 #{id}）早于本期最新的台账导入或复核结论；请先运行 `xietong evaluate "
           "--period {period}` 再生成报告",
        en="warning: the latest run of {period} (run #{id}) is older than the period's "
           "newest import or decision; run `xietong evaluate --period {period}` for "
           "current reports"),
}


def run_summary(lang, run) -> str:
    """What `evaluate` tells: the run's counts and hashes (run: xietong.api.RunResult)."""
    lines = [t(lang, "run_done", period=run.period, id=run.run_id, firings=run.firings,
               adjustments=run.adjustments, exceptions=run.exceptions, reviews=run.reviews,
               open=run.open_reviews),
             t(lang, "run_hashes", sha=run.file_sha256[:12], policy=run.policy_sha256[:12],
               rules=run.rules_version[:12])]
    if run.decisions_recorded:
        lines.append(t(lang, "run_decisions", n=run.decisions_recorded))
    return "\n".join(lines)


def report_summary(r) -> list[str]:
    """Where each report is and what it shows (r: xietong.api.ReportResult)."""
    lang, formats = r.lang, r.formats
    out: list[str] = []
    if r.stale:
        out.append(t(lang, "report_stale", period=r.period, id=r.run_id))
    lines: list[tuple[str, str]] = []
    if "xlsx" in formats:
        lines.append(("statement.xlsx", t(lang, "report_statement", d=r.departments,
                                          e=r.employees)))
        if r.chain and r.chain.ok and r.chain.since_seq:
            # a run's checkpoint is not a full verify: say whose check it was
            key = "chain_ok_since_short" if r.chain.since_run is None else "chain_ok_since_run_short"
            chain_word = t(lang, key, seq=r.chain.since_seq, run=r.chain.since_run,
                           at=r.chain.since_at.isoformat(timespec="seconds"))
        else:
            chain_word = t(lang, "chain_ok_short" if r.chain and r.chain.ok else "chain_bad_short")
        lines.append(("trace.xlsx", t(lang, "report_trace_xlsx", n=r.firings, chain=chain_word)))
    if "html" in formats:
        lines.append(("trace.html", t(lang, "report_trace_html")))
    if "xlsx" in formats:
        key = "report_reviews" if r.rejections else "report_reviews_no_hr"
        still = (t(lang, "report_reviews_open", n=r.open_reviews) if r.open_reviews
                 else t(lang, "report_reviews_all_decided"))
        lines.append(("reviews/", t(lang, key, k=r.review_workbooks, r=r.reviews, j=r.rejections,
                                    open=still)
                      if r.review_workbooks else t(lang, "report_reviews_none")))
        if r.feedback:
            lines.append(("feedback/", t(lang, "report_feedback", n=r.feedback)))
    if "json" in formats:
        lines.append((", ".join(p.name for p in r.files["json"]), t(lang, "report_json")))
    lines.append(("manifest.json", t(lang, "report_manifest", n=len(r.written) - 1)
                  + (t(lang, "report_removed", n=len(r.removed), files=", ".join(r.removed))
                     if r.removed else "")))
    out.append(t(lang, "reports_header", dir=r.out_dir))
    width = max((len(name) for name, _ in lines if len(name) < 24), default=0)
    out += [f"  {name.ljust(width)}  {what}" for name, what in lines]
    if r.chain is not None and not r.chain.ok:
        out.append(t(lang, "verify_bad", problem=r.chain.problem))
    if r.checkpoint_seq:
        out.append(t(lang, "report_checkpoint", seq=r.checkpoint_seq))
    elif r.checkpoint_error:
        out.append(t(lang, "report_no_checkpoint", error=r.checkpoint_error))
    return out


def summary_lines(r) -> list[str]:
    """What `summary` tells: the range, each month's state, the files (r: api.SummaryResult)."""
    from reports.summary import range_text
    lang = r.lang
    states = [m["state"] for m in r.months]
    out = [t(lang, "summary_done", range=range_text(lang, r.range), d=len(r.departments),
             e=len(r.employees),
             n=len(r.months), final=states.count("final"),
             provisional=states.count("provisional"), missing=states.count("missing"))]
    for m in r.months:
        detail = "" if m["state"] == "missing" else t(lang, "summary_month_run", run=m["run_id"],
                                                      open=m["open_reviews"])
        out.append(t(lang, "summary_month", period=m["period"],
                     state=t(lang, f"summary_state_{m['state']}"), detail=detail))
    if r.files:
        out.append(t(lang, "summary_files", dir=r.out_dir))
        names = {"xlsx": ("summary.xlsx", "summary_xlsx"), "html": ("summary.html", "summary_html"),
                 "json": ("summary.json", "summary_json")}
        for fmt in ("xlsx", "html", "json"):
            if fmt in r.files:
                name, key = names[fmt]
                out.append(f"  {name}  {t(lang, key)}")
    return out


def status_lines(lang, periods) -> list[str]:
    """`xietong status`: one block per period (periods: PeriodStatus list)."""
    out = []
    if not periods:
        out.append(t(lang, "status_empty"))
    for p in periods:
        out.append(t(lang, "status_period", period=p.period))
        imp = p.active_import
        if imp is not None:
            out.append(t(lang, "status_import", id=imp["import_id"], file=imp["file_name"],
                         sha=imp["sha256"][:16], at=imp["imported_at"].strftime("%Y-%m-%d %H:%M")))
        if p.closed:
            why = (f"（{p.closed['reason']}）" if lang == "zh" else f" ({p.closed['reason']})"
                   ) if p.closed["reason"] else ""
            out.append(t(lang, "status_closed", at=p.closed["at"].strftime("%Y-%m-%d %H:%M"),
                         by=p.closed["by"], why=why))
        else:
            out.append(t(lang, "status_open_period"))
        run = p.latest_run
        if run is None:
            out.append(t(lang, "status_no_run"))
        else:
            key = "status_run_stale" if run["out_of_date"] else "status_run"
            out.append(t(lang, key, id=run["run_id"],
                         at=run["finished_at"].strftime("%Y-%m-%d %H:%M"),
                         adjustments=p.adjustments, exceptions=p.exceptions,
                         open=p.reviews_open, decided=p.reviews_decided))
    return out


def t(lang: str | None, key: str, **kw) -> str:
    return MESSAGES[key].format(lang, **kw)


def sheet_label(lang: str, sheet_name: str) -> str:
    for s in SHEETS:
        if s.name == sheet_name:
            return s.zh if lang == "zh" else s.name
    return sheet_name


def _width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def import_summary(lang, imported) -> str:
    """What `import` tells: the import record, rows per sheet, warnings (xietong.api.ImportResult)."""
    key = {"stored": "import_stored", "unchanged": "import_unchanged",
           "reactivated": "import_reactivated"}[imported.status]
    lines = [t(lang, key, path=imported.path, period=imported.period, id=imported.import_id,
               sha=imported.file_sha256[:16])]
    if imported.status != "unchanged" and imported.previous_import_id:
        lines.append(t(lang, "import_replaces", prev=imported.previous_import_id))
    lines.append(t(lang, "rows_header"))
    labels = [sheet_label(lang, s.name) for s in SHEETS] + [t(lang, "rows_total")]
    counts = [imported.rows_per_sheet.get(s.name, 0) for s in SHEETS]
    counts.append(sum(counts))
    width = max(_width(x) for x in labels) + 2
    for label, n in zip(labels, counts):
        lines.append(f"  {label}{' ' * (width - _width(label))}{n:>9,}")
    if imported.warnings:
        lines.append(t(lang, "warnings_header"))
        lines += [f"  {w}" for w in imported.warnings]
    return "\n".join(lines)
