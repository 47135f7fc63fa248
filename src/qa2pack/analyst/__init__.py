"""Tools for the analyst's own tree: the QA2 workspace, the demo and real CASA tables for it."""
