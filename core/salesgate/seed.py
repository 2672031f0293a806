"""Where the seed policy is: inside the installed package, or ``rules/`` in a source checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def seed_policy_path() -> Path:
    """The directory of the shipped seed policy (``rules/`` of the salesgate distribution)."""
    packaged = Path(str(resources.files("salesgate"))) / "seed_rules"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "rules"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(  # pragma: no cover - only a broken install gets here
        "the seed policy is missing from this salesgate installation; reinstall salesgate"
    )
