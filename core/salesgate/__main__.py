"""``python -m salesgate``: the same command as the ``salesgate`` console script."""

from .cli import main

if __name__ == "__main__":
    main()
