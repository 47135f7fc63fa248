"""``python -m qa2pack`` runs the command line."""

import sys

if __name__ == "__main__":
    from .cli import main

    sys.exit(main())
