"""Files qa2pack reads and writes whole: the checksum manifest, FITS summaries, atomic small files."""
