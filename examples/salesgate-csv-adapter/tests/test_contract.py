"""The adapter contract from salesgate.testing, run against CsvAdapter: copy this file first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from salesgate_csv_adapter import SAMPLE_DIRECTORY, CsvAdapter

from salesgate.testing import AdapterContract


class TestCsvAdapterContract(AdapterContract):
    adapter_name = "csv"  # needs the package installed (pip install -e .): the name comes from its entry point
    known_customer_id = "K001"
    known_customer_name = "华东机电有限公司"
    known_skus = ("MOTOR-5.5", "VALVE-DN50")
    known_order_id = "SO-2001"
    known_delivery = ("SO-1801", "MOTOR-5.5")  # salesgate_load_delivery is optional; this adapter has it

    @pytest.fixture
    def adapter_options(self) -> Mapping[str, Any]:
        return {"directory": SAMPLE_DIRECTORY, "today": "2026-11-23"}

    @pytest.fixture
    def adapter(self, adapter_options: Mapping[str, Any]) -> CsvAdapter:
        return CsvAdapter(**adapter_options)
