"""Turn a scanned tree into a plan (pure): member numbering, placement, checks, README drawing."""
