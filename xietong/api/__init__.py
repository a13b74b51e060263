"""The library under every face of xietong: what the command line, the desk and a Python user
call. Each function takes a database handle and plain arguments and returns a result object;
nothing here prints, reads arguments or exits. A refused input raises `Refused`, whose `lines`
are already worded in the user's language (and whose `problems`, for a refused workbook, are
the structured `importers.Problem`s: sheet, cell, column, expected, found).

    import xietong

    with xietong.open_database("sqlite:///hr.db") as db:
        imported = xietong.import_ledger(db, "ledger-2026-11.xlsx", "2026-11")
        run = xietong.evaluate(db, "2026-11")
        written = xietong.report(db, "2026-11", "out/2026-11")
        year = xietong.summary(db, quarter="2026-Q4", out_dir="out/2026-Q4")   # SPEC §11.2
        for firing in xietong.firings(db, "2026-11"):      # an iterator: millions in a big month
            ...

Results that can be large (firings, ledger rows) are iterators, so that reading them in
batches from the database later changes no signature.
"""
from __future__ import annotations

# The package's modules from the ground up (docs/architecture.md, "The library"): each imports
# only modules above it in this list. Every name a caller uses is handed on here.
from xietong.api.base import (Conflict, Database, database_language, database_problem, FORMATS,
                              Locked, NotFound, open_database, Progress, Refused, _engine)
from xietong.api.month import (ChainStatus, evaluate, import_and_evaluate, import_ledger,
                               ImportResult, load_policy_or_refuse, MANIFEST, report,
                               ReportResult, RunResult, _run_rows)
from xietong.api.audit import (close_period, firings, ledger_rows, period_is_closed, period_state,
                               PeriodStatus, refuse_if_closed, reopen_period, status, verify,
                               VerifyResult)
from xietong.api.reviewing import (decide, decisions, DecisionsResult, moved_reviews,
                                   record_decisions, review_item, review_workbook, ReviewPage,
                                   reviews)
from xietong.api.what_if import (whatif, whatif_months, WhatIfChange, WhatIfResult)
from xietong.api.files import (check_policy, PolicyCheck, write_sample_ledger, write_template)
from xietong.api.year import (summary, summary_file, summary_page, summary_range, SummaryPage,
                              SummaryResult)
from xietong.api.feedback import (feedback_departments, feedback_of, feedback_workbook)
from xietong.api.access import (accounts, add_account, demo_accounts, disable_account, may,
                                session_actor, set_account_language, set_account_password, sign_in)
from xietong.api.desk import (index_trace, job, jobs_of, Notice, notify, NotifyResult, period_names,
                              periods, runs, scores, start_evaluation, trace_page)

__all__ = ["accounts", "add_account", "ChainStatus", "check_policy", "close_period", "Conflict",
           "Database", "database_language", "database_problem", "decide", "decisions",
           "DecisionsResult", "demo_accounts", "disable_account", "evaluate",
           "feedback_departments", "feedback_of", "feedback_workbook", "firings", "FORMATS",
           "import_and_evaluate", "import_ledger", "ImportResult", "index_trace", "job",
           "jobs_of", "ledger_rows", "load_policy_or_refuse", "Locked", "MANIFEST", "may",
           "moved_reviews", "NotFound", "Notice", "notify", "NotifyResult", "open_database",
           "period_is_closed", "period_names", "period_state", "periods", "PeriodStatus", "PolicyCheck", "Progress", "record_decisions",
           "refuse_if_closed", "Refused", "reopen_period", "report", "ReportResult", "review_item",
           "review_workbook", "ReviewPage", "reviews", "RunResult", "runs", "scores",
           "session_actor", "set_account_language", "set_account_password", "sign_in",
           "start_evaluation", "status", "summary", "summary_file", "summary_page", "summary_range",
           "SummaryPage", "SummaryResult", "trace_page", "verify", "VerifyResult", "whatif",
           "whatif_months", "WhatIfChange", "WhatIfResult", "write_sample_ledger", "write_template"]
