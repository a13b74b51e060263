"""The desk (SPEC §12)."""
