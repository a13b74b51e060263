"""The `xietong` command line (SPEC §7): parse arguments, call the library, turn a known
failure into a clear message and an exit code. Nothing here computes anything.

Exit codes: 0 done (exceptions found are a normal result), 1 refused input or failed
verification (messages on stderr), 2 wrong usage (argparse).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

from importers.memory import gc_paused
from importers.lang import LANGS, Text
from xietong import api, i18n, words

PERIOD_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


# --------------------------------------------------------------------------- helpers

class Progress:
    """Phase, rows and rate on one terminal line; silent when stderr is not a terminal."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.start = time.monotonic()
        self.phase = None
        self.last = 0.0

    def __call__(self, phase: str, done: int, total: int | None, unit: str = "rows") -> None:
        """total None: not known yet (the evaluation's facts); the line ends when done >= total."""
        if not self.enabled:
            return
        now = time.monotonic()
        if phase != self.phase:
            self.phase, self.start = phase, now
        finished = total is not None and done >= total
        if now - self.last < 0.1 and not finished:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-6)
        count = f"{done:,}" if total is None else f"{done:,}/{total:,}"
        self.stream.write(f"\r{phase}: {count} {unit} ({rate:,.0f}/s)   ")
        if finished:
            self.stream.write("\n")
        self.stream.flush()


def _say(out, text: str) -> None:
    out.write(text + "\n")


# --------------------------------------------------------------------------- commands
# Each command: call the library, print what it returns. `db` is the command's database handle
# (closed by main), `lang` the language asked for (--lang / XIETONG_LANG) or None.

def cmd_template(args, db, lang, out) -> int:
    api.write_template(args.out, lang=lang)
    _say(out, i18n.t(lang, "template_written", path=args.out))
    return 0


def _import(args, db, lang, out, path: str) -> api.ImportResult:
    imported = api.import_ledger(db, path, args.period, lang=lang, progress=Progress(),
                                 force=getattr(args, "force", False))
    _imported(db, lang, out, imported)
    return imported


def _imported(db, lang, out, imported: api.ImportResult) -> None:
    _say(out, i18n.import_summary(lang or imported.lang, imported))
    # once the ledger's language is known: which database holds it (SPEC §10.6)
    _say(out, i18n.t(lang or imported.lang, "database", url=db.shown_url))


def cmd_import(args, db, lang, out) -> int:
    _import(args, db, lang, out, args.ledger)
    return 0


def _evaluate(args, db, lang, out, import_id: int | None = None,
              for_report: bool = False) -> api.RunResult:
    result = api.evaluate(db, args.period, policy=getattr(args, "policy", None), lang=lang,
                          progress=Progress(), import_id=import_id, for_report=for_report)
    _say(out, i18n.run_summary(lang, result))
    return result


def cmd_evaluate(args, db, lang, out) -> int:
    _evaluate(args, db, lang, out)
    return 0


def _report(args, db, lang, out, out_dir, formats, evaluated: api.RunResult | None = None,
            checkpoint: bool = False) -> api.ReportResult:
    written = api.report(db, args.period, out_dir, formats=formats, lang=lang,
                         evaluated=evaluated, checkpoint=checkpoint)
    for line in i18n.report_summary(written):
        _say(out, line)
    return written


def cmd_report(args, db, lang, out) -> int:
    _report(args, db, lang, out, args.out, args.format)
    return 0


def cmd_run(args, db, lang, out) -> int:
    _run(args, db, lang, out, args.ledger, args.out, args.format)
    return 0


def _run(args, db, lang, out, path: str, out_dir, formats) -> None:
    """A whole run (`run`, `demo`): the ledger imported and evaluated (the evaluation started
    while the import is stored: api.import_and_evaluate), and its reports written from what
    the evaluation read; the report's passed chain check becomes the checkpoint the next
    month's check starts from."""
    imported, evaluated = api.import_and_evaluate(
        db, path, args.period, lang=lang, progress=Progress(),
        force=getattr(args, "force", False), policy=getattr(args, "policy", None),
        on_import=lambda imported: _imported(db, lang, out, imported))
    lang = lang or imported.lang
    _say(out, i18n.run_summary(lang, evaluated))
    _report(args, db, lang, out, out_dir, formats, evaluated, checkpoint=True)


def cmd_decisions(args, db, lang, out) -> int:
    done = api.record_decisions(db, args.file, args.period, lang=lang, supersede=args.supersede)
    _say(out, i18n.t(done.lang, "decisions_done", path=args.file, n=len(done.changes),
                     same=done.unchanged, period=args.period))
    for c in done.changes:
        _say(out, i18n.t(done.lang, "decision_change", rid=c.review_id, kind=c.kind,
                         subject=c.subject_id, by=c.reviewer_id,
                         old=i18n.t(done.lang, f"decision_{c.old or 'open'}"),
                         new=i18n.t(done.lang, f"decision_{c.new}")))
    return 0


def cmd_verify(args, db, lang, out) -> int:
    result = api.verify(db, args.period, lang=lang)
    if not result.ok:
        raise api.Refused([i18n.t(lang, "verify_bad", problem=result.problem)])
    _say(out, i18n.t(lang, "verify_ok", n=result.checked))
    if result.head_seq:
        _say(out, i18n.t(lang, "verify_head", seq=result.head_seq, hash=result.head_hash))
    if result.checkpoint_seq:
        _say(out, i18n.t(lang, "verify_checkpoint", seq=result.checkpoint_seq,
                         upto=result.head_seq))
    elif result.checkpoint_error:
        _say(out, i18n.t(lang, "verify_no_checkpoint", error=result.checkpoint_error))
    return 0


def cmd_status(args, db, lang, out) -> int:
    for line in i18n.status_lines(lang, api.status(db, args.period)):
        _say(out, line)
    return 0


def cmd_close(args, db, lang, out) -> int:
    event = api.close_period(db, args.period, reason=args.reason,
                             with_open_reviews=args.with_open_reviews, lang=lang)
    _say(out, i18n.t(lang, "period_closed", period=args.period, by=event.by,
                     at=event.at.strftime("%Y-%m-%d %H:%M"), n=event.open_reviews))
    return 0


def cmd_reopen(args, db, lang, out) -> int:
    event = api.reopen_period(db, args.period, reason=args.reason, lang=lang)
    _say(out, i18n.t(lang, "period_reopened", period=args.period, by=event.by,
                     at=event.at.strftime("%Y-%m-%d %H:%M"), reason=event.reason))
    return 0


def cmd_summary(args, db, lang, out) -> int:
    done = api.summary(db, year=args.year, quarter=args.quarter, out_dir=args.out,
                       formats=args.format, lang=lang)
    for line in i18n.summary_lines(done):
        _say(out, line)
    return 0


def cmd_policy_check(args, db, lang, out) -> int:
    checked = api.check_policy(args.file, strict=args.strict,
                               db=db if args.period else None, period=args.period, lang=lang)
    for w in checked.warnings:
        _say(out, i18n.t(lang, "policy_warning", text=w.message(lang)))
    if checked.errors:
        raise api.Refused([i18n.t(lang, "policy_error", text=e.message(lang))
                           for e in checked.errors])
    _say(out, i18n.t(lang, "policy_ok", path=args.file or "rules/policy.toml",
                     n=len(checked.warnings)))
    return 0


def cmd_whatif(args, db, lang, out) -> int:
    name, months = api.whatif_months(period=args.period, quarter=args.quarter, year=args.year)
    done = api.whatif(db, args.policy, months, args.out, range_name=name, lang=lang,
                      progress=Progress())
    from reports.whatif import range_text
    _say(out, i18n.t(lang, "whatif_done", range=range_text(lang, done.range), path=args.policy,
                     sha=done.policy_sha256[:12], n=len(done.months)))
    for s in done.skipped:
        _say(out, i18n.t(lang, f"whatif_{s['reason']}", period=s["period"]))
        for line in s["lines"]:
            _say(out, f"  {line}")
    for path in done.files:
        _say(out, i18n.t(lang, "whatif_written", path=path))
    if not done.largest:
        _say(out, i18n.t(lang, "whatif_none"))
        return 0
    _say(out, i18n.t(lang, "whatif_largest", n=len(done.largest)))
    none = i18n.t(lang, "whatif_no_figure")
    for c in done.largest:
        _say(out, i18n.t(lang, "whatif_change", period=c.period, id=c.subject_id, name=c.name,
                         kind=i18n.t(lang, f"whatif_{c.subject_type}"),
                         current=none if c.current is None else f"{c.current:.2f}",
                         alternative=none if c.alternative is None else f"{c.alternative:.2f}",
                         difference=f"{c.difference:+.2f}"))
    return 0


def cmd_demo(args, db, lang, out) -> int:
    out_dir = Path(args.out)
    ledger = api.write_sample_ledger(out_dir / f"ledger-{args.period}.xlsx",
                                     employees=args.employees, period=args.period,
                                     seed=args.seed, lang=lang)
    _say(out, i18n.t(lang, "demo_ledger", path=ledger, n=args.employees))
    _run(args, db, lang, out, str(ledger), out_dir, set(api.FORMATS))
    _demo_accounts(db, lang, out, out_dir, args.period)
    return 0


def _demo_accounts(db, lang, out, out_dir: Path, period: str) -> None:
    serve = f"xietong serve --db {db.shown_url} --data {out_dir / 'desk'}"
    _say(out, words.w(lang, "demo_accounts", serve=serve))
    for role, username, password, employee in api.demo_accounts(db, period, lang=lang):
        # each language's brackets (the one-language rule covers punctuation too)
        who = ((f"（工号 {employee}）" if lang == "zh" else f" (employee {employee})")
               if employee else "")
        _say(out, words.w(lang, "demo_account", role=role, username=username, password=password,
                          who=who))


def _read_password(args, lang, username: str) -> str:
    """The password from standard input (--password-stdin: its first line), else asked twice
    at a terminal."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise api.Refused([words.w(lang, "password_needed")])
    import getpass
    first = getpass.getpass(words.w(lang, "password_prompt", username=username))
    if getpass.getpass(words.w(lang, "password_again")) != first:
        raise api.Refused([words.w(lang, "password_mismatch")])
    return first


def cmd_user_add(args, db, lang, out) -> int:
    password = _read_password(args, lang, args.username)
    a = api.add_account(db, args.username, args.role, password, employee_id=args.employee,
                        name=args.name, email=args.email, lang=lang)
    _say(out, words.w(lang, "user_added", username=a.username, role=a.role))
    return 0


def cmd_user_disable(args, db, lang, out) -> int:
    api.disable_account(db, args.username, lang=lang)
    _say(out, words.w(lang, "user_disabled", username=args.username))
    return 0


def cmd_user_passwd(args, db, lang, out) -> int:
    password = _read_password(args, lang, args.username)
    api.set_account_password(db, args.username, password, lang=lang)
    _say(out, words.w(lang, "user_passwd", username=args.username))
    return 0


def cmd_user_list(args, db, lang, out) -> int:
    found = api.accounts(db)
    if not found:
        _say(out, words.w(lang, "user_none"))
    for a, disabled in found:
        parts = [f"{a.username:<16}", f"{a.role:<8}", a.employee_id or "-", a.name or "-",
                 a.email or "-"]
        if disabled:
            parts.append(words.w(lang, "user_disabled_mark"))
        _say(out, "  ".join(parts))
    return 0


def cmd_notify(args, db, lang, out) -> int:
    import tempfile
    with tempfile.TemporaryDirectory(prefix="xietong-notify-") as work:
        done = api.notify(db, args.period, smtp_url=os.environ.get("XIETONG_SMTP"),
                          mail_from=os.environ.get("XIETONG_MAIL_FROM"),
                          desk_url=os.environ.get("XIETONG_DESK_URL"), work_dir=work, lang=lang)
    shown = done.sent or done.would_send
    if not (shown or done.without_address):
        _say(out, words.w(lang, "notify_nobody", period=args.period))
    elif done.sent:
        _say(out, words.w(lang, "notify_sent", n=len(done.sent), period=args.period))
    elif not os.environ.get("XIETONG_SMTP"):
        _say(out, words.w(lang, "notify_would", n=len(done.would_send), period=args.period))
    for n in shown:
        _say(out, words.w(lang, "notify_line", who=n.assignee_id, name=n.name, email=n.email,
                          n=n.open_items))
    if done.without_address:
        _say(out, words.w(lang, "notify_missing"))
        for n in done.without_address:
            _say(out, words.w(lang, "notify_missing_line", who=n.assignee_id, name=n.name,
                              n=n.open_items))
    # without an SMTP server nothing was sent: that is not done (SPEC §12)
    return 1 if not os.environ.get("XIETONG_SMTP") and (shown or done.without_address) else 0


def cmd_serve(args, db, lang, out) -> int:
    from xietong.desk.app import serve
    db.close()
    return serve(db.url, host=args.host, port=args.port, data_dir=args.data,
                 root_path=args.root_path, out=out)


# --------------------------------------------------------------------------- parser

# The command line's own words: help texts in both languages (argparse's own words, such as
# "usage:" and its error messages, are translated by _ArgparseWords below).
HELP: dict[str, Text] = {
    "description": Text(zh="协同 xietong：把人力资源部门的台账工作簿变成可审计的协同绩效调整分",
                        en="协同 xietong: HR ledger workbooks → audited collaboration-performance "
                           "adjustments"),
    "db": Text(zh="数据库 URL（默认：$XIETONG_DB，否则 sqlite:///xietong.db）",
               en="database URL (default: $XIETONG_DB or sqlite:///xietong.db)"),
    "lang": Text(zh="消息与报告的语言（默认：$XIETONG_LANG，否则台账的语言）",
                 en="language of messages and labels (default: $XIETONG_LANG, else the ledger's)"),
    "commands": Text(zh="命令", en="COMMAND"),
    "template": Text(zh="生成空白台账工作簿", en="write an empty ledger workbook"),
    "import": Text(zh="校验并导入台账工作簿", en="validate and store a ledger workbook"),
    "evaluate": Text(zh="对当前台账执行规则并保存评估结果",
                     en="fire the rules on the active ledger, store the run"),
    "report": Text(zh="生成最新一次评估的报告", en="write the latest run's reports"),
    "run": Text(zh="导入 + 评估 + 报告", en="import + evaluate + report"),
    "decisions": Text(zh="记录交回的复核清单中的结论",
                      en="record the decisions of a returned review workbook"),
    "verify": Text(zh="审计链防篡改校验", en="tamper check of the audit chain"),
    "force": Text(zh="即使台账看起来属于另一个考核期也导入（导入记录会注明）",
                  en="import even when the ledger looks like another period's (the import "
                     "record says so)"),
    "supersede": Text(zh="（HR）记录来自较早发放副本的结论，即使它推翻了其后记录的结论",
                      en="(HR) record decisions from an earlier-issued copy even where they undo a "
                         "decision recorded since"),
    "status": Text(zh="数据库中各考核期的情况", en="what the database holds, per period"),
    "policy": Text(zh="政策文件工具", en="policy file tools"),
    "close": Text(zh="关闭考核期：结果定稿，不再接受导入、评估和复核结论",
                  en="close a period: its figures become final; no import, evaluation or "
                     "decision any more"),
    "reopen": Text(zh="重新开放已关闭的考核期（须说明原因）",
                   en="reopen a closed period (a reason is required)"),
    "close_reason": Text(zh="关闭的原因", en="why the period is closed"),
    "reopen_reason": Text(zh="重新开放的原因（必填）", en="why the period is reopened (required)"),
    "with_open_reviews": Text(zh="即使还有待复核事项也关闭（会列出这些事项）",
                              en="close even with review items still open (they are listed)"),
    "policy_check": Text(zh="校验政策文件（错误与超出原文区间的警告）",
                         en="validate a policy file (errors and band warnings)"),
    "policy_period": Text(zh="同时检查该考核期当前台账的关联矩阵：总上限缩放后的有效权重低于原文区间时警告",
                          en="also check that period's Linkage rows: warn where a weight after "
                             "total_cap falls below the article's band"),
    "whatif": Text(zh="试算：在另一政策下重新计算已保存的台账与复核结论，不写入任何数据",
                   en="evaluate the stored ledgers and decisions under another policy, storing "
                      "nothing"),
    "whatif_policy": Text(zh="替代政策 TOML 文件", en="the alternative policy TOML"),
    "strict": Text(zh="超出原文区间的警告也视为错误",
                   en="warnings outside the article's bands are errors"),
    "demo": Text(zh="示例公司走完整个流程", en="sample company through the whole pipeline"),
    "period": Text(zh="考核期 YYYY-MM", en="YYYY-MM"),
    "policy_file": Text(zh="政策 TOML 文件（默认：rules/policy.toml）",
                        en="policy TOML (default: rules/policy.toml)"),
    "out_dir": Text(zh="输出文件夹", en="output folder"),
    "demo_out": Text(zh="输出文件夹（默认：demo-out）", en="output folder (default: demo-out)"),
    "format": Text(zh="逗号分隔：xlsx,html,json（默认：全部）",
                   en="comma-separated: xlsx,html,json (default: all)"),
    "user": Text(zh="工作台账号", en="desk accounts"),
    "user_add": Text(zh="创建账号（密码在终端输入，或 --password-stdin）",
                     en="create an account (password typed at a terminal, or --password-stdin)"),
    "user_disable": Text(zh="停用账号", en="disable an account"),
    "user_passwd": Text(zh="设置新密码", en="set a new password"),
    "user_list": Text(zh="列出账号", en="list the accounts"),
    "role": Text(zh="角色：hr、auditor（审计）或 manager（管理者）",
                 en="role: hr, auditor or manager"),
    "employee": Text(zh="管理者的工号", en="the manager's employee id"),
    "name": Text(zh="姓名", en="the person's name"),
    "email": Text(zh="邮箱地址（通知用）", en="e-mail address (for notifications)"),
    "password_stdin": Text(zh="从标准输入的第一行读入密码", en="read the password from standard input's first line"),
    "notify": Text(zh="给有待复核事项的复核人发邮件（XIETONG_SMTP、XIETONG_MAIL_FROM、XIETONG_DESK_URL）",
                   en="e-mail every assignee with open items (XIETONG_SMTP, XIETONG_MAIL_FROM, "
                      "XIETONG_DESK_URL)"),
    "serve": Text(zh="启动工作台（网页与 JSON 接口）", en="serve the desk (pages and JSON API)"),
    "host": Text(zh="监听地址（默认 127.0.0.1）", en="address to listen on (default 127.0.0.1)"),
    "port": Text(zh="端口（默认 8000）", en="port (default 8000)"),
    "data": Text(zh="工作台的数据目录：报告、任务进度、密钥（默认：$XIETONG_DESK_DATA，否则 ./xietong-desk）",
                 en="the desk's data directory: reports, job progress, secret key (default: "
                    "$XIETONG_DESK_DATA, else ./xietong-desk)"),
    "root_path": Text(zh="反向代理下的路径前缀，如 /xietong", en="path prefix behind a reverse proxy, e.g. /xietong"),
    "summary": Text(zh="季度或年度汇总：各月最终得分、各机制调整、均值、逐月周边反馈",
                    en="a quarter's or a year's figures: monthly finals, each mechanism, means, "
                       "feedback by month"),
    "year": Text(zh="年度 YYYY", en="a year, YYYY"),
    "quarter": Text(zh="季度 YYYY-Q1…Q4", en="a quarter, YYYY-Q1…Q4"),
    "bad_year": Text(zh="应为 YYYY，实际为 {value!r}", en="expected YYYY, got {value!r}"),
    "bad_quarter": Text(zh="应为 YYYY-Q1 至 YYYY-Q4，实际为 {value!r}",
                        en="expected YYYY-Q1 to YYYY-Q4, got {value!r}"),
    "bad_period": Text(zh="应为 YYYY-MM，实际为 {value!r}", en="expected YYYY-MM, got {value!r}"),
    "bad_formats": Text(zh="应为 xlsx、html、json 中的格式，实际为 {value!r}",
                        en="expected formats among xlsx,html,json, got {value!r}"),
}

# argparse words its usage lines, help headings and errors through gettext; these are their
# Chinese forms, keyed by argparse's own English message ids.
_ARGPARSE_ZH = {
    "usage: ": "用法：",
    "positional arguments": "位置参数",
    "options": "选项",
    "show this help message and exit": "显示此帮助并退出",
    "%(prog)s: error: %(message)s\n": "%(prog)s：错误：%(message)s\n",
    "argument %(argument_name)s: %(message)s": "参数 %(argument_name)s：%(message)s",
    "the following arguments are required: %s": "缺少必需的参数：%s",
    "unrecognized arguments: %s": "无法识别的参数：%s",
    "invalid choice: %(value)r (choose from %(choices)s)": "无效的选项 %(value)r（可选：%(choices)s）",
    "expected one argument": "需要一个值",
    "expected at least one argument": "至少需要一个值",
    "expected at most one argument": "至多一个值",
    "expected %s argument": "需要 %s 个值",
    "expected %s arguments": "需要 %s 个值",
    "ambiguous option: %(option)s could match %(matches)s": "有歧义的选项 %(option)s，可匹配 %(matches)s",
    "invalid %(type)s value: %(value)r": "无效的 %(type)s 值 %(value)r",
    "not allowed with argument %s": "不能与参数 %s 同时使用",
    "one of the arguments %s is required": "须提供参数 %s 之一",
    "ignored explicit argument %r": "忽略了参数值 %r",
}


class _ArgparseWords:
    """While a Chinese command line is parsed (and its help or usage error printed), argparse's
    gettext hooks give the Chinese words. argparse looks its `_` and `ngettext` up at each call,
    so they are swapped for the parse and put back after (the command line is one thread)."""

    def __init__(self, lang: str):
        self.lang = lang

    def __enter__(self):
        self.saved = argparse._, argparse.ngettext
        if self.lang == "zh":
            argparse._ = lambda text: _ARGPARSE_ZH.get(text, text)
            argparse.ngettext = lambda one, many, n: _ARGPARSE_ZH.get(one if n == 1 else many,
                                                                      one if n == 1 else many)
        return self

    def __exit__(self, *exc):
        argparse._, argparse.ngettext = self.saved


def build_parser(lang: str = "en") -> argparse.ArgumentParser:
    def h(key: str) -> str:
        return HELP[key].pick(lang)

    def period(value: str) -> str:
        if not PERIOD_RE.match(value or ""):
            raise argparse.ArgumentTypeError(HELP["bad_period"].format(lang, value=value))
        return value

    def formats(value: str) -> set[str]:
        got = {f.strip() for f in value.split(",") if f.strip()}
        if not got or got - set(api.FORMATS):
            raise argparse.ArgumentTypeError(HELP["bad_formats"].format(lang, value=value))
        return got

    def year(value: str) -> str:
        if not re.match(r"^\d{4}$", value or ""):
            raise argparse.ArgumentTypeError(HELP["bad_year"].format(lang, value=value))
        return value

    def quarter(value: str) -> str:
        if not re.match(r"^\d{4}-Q[1-4]$", value or ""):
            raise argparse.ArgumentTypeError(HELP["bad_quarter"].format(lang, value=value))
        return value

    class Parser(argparse.ArgumentParser):
        """An ArgumentParser whose value placeholders speak the command line's language (its
        subcommands' parsers are of the same class)."""

        def add_argument(self, *names, **kw):
            dest = kw.get("dest") or names[-1].lstrip("-").replace("-", "_")
            word = _PLACEHOLDERS_ZH.get(dest) if lang == "zh" else None
            if (word is not None and kw.get("nargs") != 0 and "choices" not in kw
                    and kw.get("action") in (None, "store")):
                shown = kw.get("metavar")
                if isinstance(shown, str) and "." in shown:
                    word += shown[shown.index("."):]            # OUT.xlsx → 输出.xlsx
                kw["metavar"] = word
            return super().add_argument(*names, **kw)

    common = Parser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS, help=h("db"))
    common.add_argument("--lang", choices=("zh", "en"), default=argparse.SUPPRESS, help=h("lang"))

    p = Parser(prog="xietong", parents=[common], description=h("description"))
    sub = p.add_subparsers(dest="command", required=True, metavar=h("commands"))

    def command(name: str, func, help_key: str | None = None, parent=sub):
        s = parent.add_parser(name, parents=[common], help=h(help_key or name),
                              description=h(help_key or name))
        s.set_defaults(func=func)
        return s

    s = command("template", cmd_template)
    s.add_argument("out", metavar="OUT.xlsx")

    s = command("import", cmd_import)
    s.add_argument("ledger", metavar="LEDGER")
    s.add_argument("--period", required=True, type=period, help=h("period"))
    s.add_argument("--force", action="store_true", help=h("force"))

    s = command("evaluate", cmd_evaluate)
    s.add_argument("--period", required=True, type=period, help=h("period"))
    s.add_argument("--policy", default=None, help=h("policy_file"))

    s = command("report", cmd_report)
    s.add_argument("--period", required=True, type=period, help=h("period"))
    s.add_argument("--out", required=True, help=h("out_dir"))
    s.add_argument("--format", type=formats, default=set(api.FORMATS), help=h("format"))

    s = command("run", cmd_run)
    s.add_argument("ledger", metavar="LEDGER")
    s.add_argument("--period", required=True, type=period, help=h("period"))
    s.add_argument("--force", action="store_true", help=h("force"))
    s.add_argument("--out", required=True, help=h("out_dir"))
    s.add_argument("--policy", default=None, help=h("policy_file"))
    s.add_argument("--format", type=formats, default=set(api.FORMATS), help=h("format"))

    s = command("decisions", cmd_decisions)
    s.add_argument("file", metavar="FILE")
    s.add_argument("--period", required=True, type=period, help=h("period"))
    s.add_argument("--supersede", action="store_true", help=h("supersede"))

    s = command("verify", cmd_verify)
    s.add_argument("--period", type=period, default=None, help=h("period"))

    s = command("status", cmd_status)
    s.add_argument("--period", type=period, default=None, help=h("period"))

    s = command("close", cmd_close)
    s.add_argument("--period", required=True, type=period, help=h("period"))
    s.add_argument("--reason", default=None, help=h("close_reason"))
    s.add_argument("--with-open-reviews", action="store_true", help=h("with_open_reviews"))

    s = command("reopen", cmd_reopen)
    s.add_argument("--period", required=True, type=period, help=h("period"))
    s.add_argument("--reason", required=True, help=h("reopen_reason"))

    s = command("summary", cmd_summary)
    which = s.add_mutually_exclusive_group(required=True)
    which.add_argument("--year", type=year, default=None, help=h("year"))
    which.add_argument("--quarter", type=quarter, default=None, help=h("quarter"))
    s.add_argument("--out", required=True, help=h("out_dir"))
    s.add_argument("--format", type=formats, default=set(api.FORMATS), help=h("format"))

    s = command("policy", None)
    psub = s.add_subparsers(dest="policy_command", required=True, metavar=h("commands"))
    c = command("check", cmd_policy_check, "policy_check", psub)
    c.add_argument("file", nargs="?", default=None, metavar="FILE")
    c.add_argument("--strict", action="store_true", help=h("strict"))
    c.add_argument("--period", type=period, default=None, help=h("policy_period"))

    s = command("whatif", cmd_whatif)
    s.add_argument("--policy", required=True, metavar="ALT.toml", help=h("whatif_policy"))
    which = s.add_mutually_exclusive_group(required=True)
    which.add_argument("--period", type=period, default=None, help=h("period"))
    which.add_argument("--quarter", type=quarter, default=None, help=h("quarter"))
    which.add_argument("--year", type=year, default=None, help=h("year"))
    s.add_argument("--out", required=True, help=h("out_dir"))

    s = command("user", None)
    usub = s.add_subparsers(dest="user_command", required=True, metavar=h("commands"))
    c = command("add", cmd_user_add, "user_add", usub)
    c.add_argument("username", metavar="USERNAME")
    c.add_argument("--role", required=True, choices=("hr", "auditor", "manager"), help=h("role"))
    c.add_argument("--employee", default=None, metavar="ID", help=h("employee"))
    c.add_argument("--name", default=None, help=h("name"))
    c.add_argument("--email", default=None, metavar="ADDR", help=h("email"))
    c.add_argument("--password-stdin", action="store_true", help=h("password_stdin"))
    c = command("disable", cmd_user_disable, "user_disable", usub)
    c.add_argument("username", metavar="USERNAME")
    c = command("passwd", cmd_user_passwd, "user_passwd", usub)
    c.add_argument("username", metavar="USERNAME")
    c.add_argument("--password-stdin", action="store_true", help=h("password_stdin"))
    command("list", cmd_user_list, "user_list", usub)

    s = command("notify", cmd_notify)
    s.add_argument("--period", required=True, type=period, help=h("period"))

    s = command("serve", cmd_serve)
    s.add_argument("--host", default="127.0.0.1", help=h("host"))
    s.add_argument("--port", type=int, default=8000, help=h("port"))
    s.add_argument("--data", default=os.environ.get("XIETONG_DESK_DATA") or "xietong-desk",
                   help=h("data"))
    s.add_argument("--root-path", default=os.environ.get("XIETONG_ROOT_PATH", ""),
                   help=h("root_path"))

    s = command("demo", cmd_demo)
    s.add_argument("--out", default="demo-out", help=h("demo_out"))
    s.add_argument("--employees", type=int, default=200, help=argparse.SUPPRESS)
    s.add_argument("--seed", type=int, default=7, help=argparse.SUPPRESS)
    s.add_argument("--period", type=period, default="2026-11", help=argparse.SUPPRESS)
    return p


# The placeholders help and usage lines show for an argument's value, in Chinese (English keeps
# argparse's own: the option's name in capitals). _Parser puts them in as arguments are added.
_PLACEHOLDERS_ZH = {
    "db": "数据库URL", "period": "考核期", "out": "输出", "policy": "政策文件",
    "format": "格式", "ledger": "台账文件", "file": "文件", "reason": "原因", "username": "用户名",
    "employee": "工号", "name": "姓名", "email": "邮箱", "role": "角色", "host": "地址",
    "port": "端口", "data": "数据目录", "year": "年份", "quarter": "季度",
}


# How each command chooses its language (SPEC §10.5): a command that reads a ledger speaks the
# ledger's unless asked; the template and the demo speak Chinese unless asked; every other
# command speaks the language of the period's active import, else of the newest import.
_READS_A_LEDGER = {"import", "run"}
_CHINESE_BY_DEFAULT = {"template", "demo"}
_NO_DATABASE = {"template", "policy"}
_QUIET = {"serve"}               # says which database itself, once it listens


def _option(argv: list[str], name: str) -> str | None:
    """The value of `--name VALUE` or `--name=VALUE` in argv, before argparse has run."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.partition("=")[2]
    return None


def _asked_language(argv: list[str]) -> str | None:
    for lang in (_option(argv, "--lang"), os.environ.get("XIETONG_LANG")):
        if lang in LANGS:
            return lang
    return None


def main(argv: list[str] | None = None, out=None, err=None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    argv = sys.argv[1:] if argv is None else list(argv)
    asked = _asked_language(argv)
    # Help and usage errors come before any command: they speak the language asked for, else
    # that of the database the command would use (when there is one), else English.
    early = asked
    if early is None:
        try:
            with api.open_database(_option(argv, "--db")) as probe:
                early = api.database_language(probe)
        except Exception:                   # noqa: BLE001 - no usable database: English
            early = None
    with _ArgparseWords(early or "en"):
        args = build_parser(early or "en").parse_args(argv)
    url = getattr(args, "db", None)
    if url is None and args.command == "demo":
        # the demo keeps its database inside its output folder unless --db says otherwise
        Path(args.out).mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{(Path(args.out) / 'xietong.db').resolve()}"
    db = api.open_database(url)
    lang = asked
    try:
        if lang is None and args.command in _CHINESE_BY_DEFAULT:
            lang = "zh"
        elif lang is None and args.command not in _READS_A_LEDGER:
            lang = (api.database_language(db, getattr(args, "period", None))
                    if args.command not in _NO_DATABASE else early) or "en"
        if args.command not in _NO_DATABASE | _READS_A_LEDGER | _QUIET | {"demo"} \
                or (args.command == "policy" and getattr(args, "period", None)):
            _say(out, i18n.t(lang, "database", url=db.shown_url))
        # A command builds millions of short-lived, acyclic objects (rows, firings, report
        # cells): the cyclic collector paused, as in importers.memory (2.7 s of a 52-s
        # 10,000-employee run went to collections that freed nothing). It runs again after.
        with gc_paused():
            return args.func(args, db, lang, out)
    except api.Refused as refused:
        for line in refused.lines:
            err.write(line + "\n")
        return 1
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return 130
    except BrokenPipeError:
        # `xietong … | head`: the reader left; say nothing more (and not on a closed stdout:
        # the interpreter's last flush of it would complain on stderr)
        if out is sys.stdout:
            sys.stderr = open(os.devnull, "w")
        return 0
    except Exception as e:                  # noqa: BLE001 - only database trouble is worded here
        lines = api.database_problem(e, db, lang)
        if lines is None:
            raise
        for line in lines:
            err.write(line + "\n")
        return 1
    finally:
        db.close()


if __name__ == "__main__":
    sys.exit(main())
