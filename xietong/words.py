"""The desk's words, and the messages of the library functions and commands it brought
(accounts, jobs, notifications), in Chinese and English (SPEC §10.5): `w(lang, key, **values)`.
Ids, usernames, hashes, `Sheet!Cell` references and quoted values go into the placeholders and
are never translated."""
from __future__ import annotations

from importers.lang import Text

WORDS: dict[str, Text] = {
    # ------------------------------------------------------------------ accounts
    "account_password_short": Text(zh="密码至少需要 {n} 个字符", en="a password needs at least {n} characters"),
    "account_username_bad": Text(
        zh="用户名应由字母、数字和 . _ - @ 组成（至多 64 个字符），实际为 '{username}'",
        en="expected a username of letters, digits and . _ - @ (at most 64), got '{username}'"),
    "account_role_bad": Text(zh="角色应为 hr、auditor 或 manager，实际为 '{role}'",
                             en="expected the role hr, auditor or manager, got '{role}'"),
    "account_manager_needs_employee": Text(zh="管理者账号需要 --employee 工号",
                                           en="a manager account needs --employee ID"),
    "account_email_bad": Text(zh="邮箱地址应包含 @，实际为 '{email}'",
                              en="expected an e-mail address with @, got '{email}'"),
    "account_username_taken": Text(zh="用户名 '{username}' 已存在", en="the username '{username}' is taken"),
    "account_username_unknown": Text(zh="没有用户名为 '{username}' 的账号",
                                     en="no account has the username '{username}'"),
    "account_locked": Text(zh="登录失败次数过多：该用户名已锁定至 {until}",
                           en="too many failed sign-ins: this username is locked until {until}"),
    "account_sign_in_failed": Text(zh="用户名或密码不正确", en="wrong username or password"),
    "user_added": Text(zh="已创建账号 {username}（{role}）", en="Account {username} ({role}) created"),
    "user_disabled": Text(zh="已停用账号 {username}，其会话已失效",
                          en="Account {username} disabled; its sessions have ended"),
    "user_passwd": Text(zh="已为 {username} 设置新密码，其旧会话已失效",
                        en="New password set for {username}; its earlier sessions have ended"),
    "user_none": Text(zh="还没有账号：用 `xietong user add` 创建", en="No accounts yet: `xietong user add` creates one"),
    "user_disabled_mark": Text(zh="（已停用）", en="(disabled)"),
    "password_prompt": Text(zh="{username} 的密码：", en="Password for {username}: "),
    "password_again": Text(zh="再输入一次：", en="Again: "),
    "password_mismatch": Text(zh="两次输入的密码不一致", en="the two passwords differ"),
    "password_needed": Text(zh="需要密码：用 --password-stdin 从标准输入读入，或在终端中输入",
                            en="a password is needed: --password-stdin reads it from standard input, "
                               "or type it at a terminal"),
    "demo_accounts": Text(zh="演示账号（打开工作台：{serve}）：", en="Demo accounts (open the desk: {serve}):"),
    "demo_account": Text(zh="  {role:<8} 用户名 {username:<10} 密码 {password}{who}",
                         en="  {role:<8} username {username:<10} password {password}{who}"),
    # ------------------------------------------------------------------ items, decisions, runs
    "no_such_item": Text(zh="{period} 没有复核事项 {rid}", en="{period} has no review item {rid}"),
    "no_feedback": Text(zh="{period} 的最新评估中，部门 {dept} 没有收到评价",
                        en="in the latest run of {period}, department {dept} received no rating"),
    "bad_range": Text(zh="汇总区间应为年份（2026）或季度（2026-Q4），实际为 {value}",
                      en="expected a year (2026) or a quarter (2026-Q4), got {value}"),
    "decision_bad": Text(zh="结论应为 confirm（维持）或 overturn（撤销），实际为 '{value}'",
                         en="expected the decision confirm or overturn, got '{value}'"),
    "no_items_for": Text(zh="{period} 没有分配给 {who} 的复核事项", en="{period} has no review items for {who}"),
    "not_yours": Text(zh="{where}：'{rid}' 不是分配给 {who} 的复核事项，或复核人不是 {who}",
                      en="{where}: '{rid}' is not an item assigned to {who}, or is not decided as {who}"),
    "no_such_run": Text(zh="没有运行记录 #{run}", en="there is no run #{run}"),
    "no_such_job": Text(zh="没有任务 #{job}", en="there is no job #{job}"),
    "no_such_period": Text(zh="没有考核期 {period}", en="there is no period {period}"),
    # ------------------------------------------------------------------ jobs
    "job_busy": Text(
        zh="{period} 的评估已在进行中（任务 #{job}，由 {who} 于 {since} 发起）：请等待其完成后再评估",
        en="an evaluation of {period} is already under way (job #{job}, asked by {who} at {since}): "
           "wait for it to finish"),
    "job_died": Text(zh="评估进程意外结束（{how}）：未写入任何数据，请重新评估",
                     en="the evaluation's process ended unexpectedly ({how}): nothing was stored; "
                        "evaluate again"),
    "job_orphaned": Text(zh="工作台在评估进行中停止：未写入任何数据，请重新评估",
                         en="the desk stopped while the evaluation ran: nothing was stored; evaluate again"),
    "job_desk_stopped": Text(zh="工作台在评估进行中停止：评估已中止，未写入任何数据，请重新评估",
                             en="the desk stopped while the evaluation ran: it was stopped and nothing "
                                "was stored; evaluate again"),
    "job_done": Text(zh="评估完成：运行记录 #{run}，{adjustments} 项调整，{reviews} 项复核（{open} 项待复核）",
                     en="Evaluated: run #{run}, {adjustments} adjustments, {reviews} review items "
                        "({open} open)"),
    # ------------------------------------------------------------------ notifications
    "mail_from_missing": Text(zh="需要发件地址：请设置 XIETONG_MAIL_FROM",
                              en="a sender address is needed: set XIETONG_MAIL_FROM"),
    "mail_subject": Text(zh="协同绩效 {period}：{n} 项待您复核", en="Collaboration performance {period}: {n} item(s) to review"),
    "mail_body": Text(
        zh="{name}，您好：\n\n{period} 有 {n} 项异常待您复核。附件是您的复核清单：填写“结论”（维持/撤销）"
           "和“复核说明”后交回 HR，或直接在工作台中处理：\n\n{link}\n\n—— 协同 xietong",
        en="Dear {name},\n\n{n} item(s) of {period} wait for your review. Your review workbook is "
           "attached: fill in the decision (confirm/overturn) and a comment and return it to HR, or "
           "decide in the desk:\n\n{link}\n\n— xietong"),
    "mail_no_link": Text(zh="（工作台地址未配置：请向 HR 询问）", en="(the desk's address is not configured: ask HR)"),
    "mail_failed": Text(zh="邮件发送失败：{error}", en="could not send the e-mail: {error}"),
    "notify_sent": Text(zh="已发送 {n} 封邮件（{period}）：", en="{n} e-mail(s) sent for {period}:"),
    "notify_would": Text(zh="未设置 XIETONG_SMTP：未发送任何邮件。将会发送 {n} 封（{period}）：",
                         en="XIETONG_SMTP is not set: nothing was sent. It would send {n} e-mail(s) for {period}:"),
    "notify_line": Text(zh="  {who}（{name}）<{email}>：{n} 项待复核", en="  {who} ({name}) <{email}>: {n} open item(s)"),
    "notify_missing": Text(zh="以下复核人没有邮箱地址（请为其创建带 --email 的账号，或另行通知）：",
                           en="These assignees have no e-mail address (give them an account with --email, "
                              "or tell them otherwise):"),
    "notify_missing_line": Text(zh="  {who}（{name}）：{n} 项待复核", en="  {who} ({name}): {n} open item(s)"),
    "notify_nobody": Text(zh="{period} 没有待复核事项：无需通知", en="{period} has no open items: nobody to notify"),
}


def w(lang: str | None, key: str, **values) -> str:
    return WORDS[key].format(lang, **values)
