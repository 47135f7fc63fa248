"""Carry a plan out safely: preflight, locks, the executor, the journal, the ticket, progress and reports."""
