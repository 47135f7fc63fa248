"""The delivery layout and what is done to a finished package: tar splitting, verifying, delivering."""
