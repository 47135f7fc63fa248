"""``python -m qa2pack`` runs the command line."""

if __name__ == "__main__":
    from .cli import run_and_exit

    run_and_exit()
