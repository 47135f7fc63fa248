"""ALMA Science Pipeline output: staging a run, its processing requests and its manifest."""
