"""Many qa2pack runs at once, on Dask: a JOBS file of command lines, a ledger of what finished.

``jobs`` reads and checks the JOBS file and decides what to run (pure); ``ledger`` records each
finished line as it finishes; ``task`` is what a Dask worker runs (the CLI's own ``main``, in
process); ``engine`` finds the workers (a local cluster, a running scheduler, or a Slurm or
HTCondor site) and drives the lines through them; ``writers`` write JOBS files for the usual
archive chores.
"""
