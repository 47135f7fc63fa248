"""``python -m qa2pack`` runs the command line."""

import sys

from .cli import main

if __name__ == "__main__":  # a spawned helper process imports this module too: run only when started
    sys.exit(main())
