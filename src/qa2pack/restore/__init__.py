"""Make delivered data ready for scriptForPI.py: safe unpacking, then the restore preparation."""
