"""Workbook -> validated ledger facts (SPEC §3). No database, no rules: see importers/ledger.py."""
from .ledger import read_ledger
from .result import Ledger, LedgerRefused, Problem

__all__ = ["read_ledger", "Ledger", "LedgerRefused", "Problem"]
