"""salesgate-csv-adapter: salesgate's facts from CSV files, and the template for writing an adapter.

An adapter is a class whose methods implement salesgate's data hooks (``salesgate_load_customer``,
``_exposure``, ``_products``, ``_order``, ``_delivery`` and ``salesgate_record_decision``). This package registers
it under the name ``"csv"`` through :class:`CsvAdapters`, the plugin its entry point names, so
that ``Gate.from_path("rules/", adapter="csv", adapter_options={"directory": "books/"})`` finds it once
installed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from salesgate import hookimpl

from ._adapter import CsvAdapter

__all__ = ["SAMPLE_DIRECTORY", "CsvAdapter", "CsvAdapters"]

SAMPLE_DIRECTORY = Path(__file__).parent / "sample"
"""Small sample books (a trading company with Chinese customer and product names), day 2026-11-23."""


class CsvAdapters:
    """The plugin the ``salesgate`` entry point names: it registers adapter classes, nothing else."""

    @hookimpl
    def salesgate_register_adapters(self, register: Callable[[str, type], None]) -> None:
        register("csv", CsvAdapter)
