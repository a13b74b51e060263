"""xietong 协同: HR ledger workbooks → audited collaboration-performance adjustments.

The package is the library first (xietong.api, re-exported here), with the faces on it: the
command line (xietong.cli) and the desk (xietong.desk, `xietong serve`). See
xietong/api/__init__.py for an example.
"""
from xietong.api import (Database, DecisionsResult, ImportResult, PeriodStatus, PolicyCheck,
                         Refused, ReportResult, RunResult, SummaryResult, VerifyResult,
                         check_policy, evaluate, firings, import_and_evaluate, import_ledger,
                         ledger_rows, open_database, record_decisions, report, status, summary,
                         verify, write_sample_ledger, write_template)

__all__ = ["Database", "DecisionsResult", "ImportResult", "PeriodStatus", "PolicyCheck", "Refused",
           "ReportResult", "RunResult", "SummaryResult", "VerifyResult", "check_policy",
           "evaluate", "firings", "import_and_evaluate", "import_ledger", "ledger_rows",
           "open_database", "record_decisions", "report", "status", "summary", "verify",
           "write_sample_ledger", "write_template"]
