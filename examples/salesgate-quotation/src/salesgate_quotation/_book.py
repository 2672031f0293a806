"""QuotationBook: quotations and customers by id from a JSON file, so an ERP may decide a quotation
by its number alone (``gate.decide("quotation", {"quotation": "QT-2026-0101"})``).

It stands for the adapter over your ERP: the hook that matters is :meth:`salesgate_load_document`,
which salesgate calls with the point's name and the id the caller passed; the customer the
quotation includes is then loaded by the quotation's ``customer_id``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from salesgate import AdapterError, Customer, hookimpl

SAMPLE = Path(__file__).parent / "sample" / "quotations.json"
"""A few quotations to two customers, in the format :class:`QuotationBook` reads."""


class QuotationBook:
    """``{"quotations": {id: {...}}, "customers": {id: {...}}}`` read once from ``file`` (UTF-8 JSON).

    Amounts are JSON strings (``"2800.00"``), as salesgate's facts are: read exactly, never as float.
    """

    def __init__(self, file: str | os.PathLike[str] = SAMPLE) -> None:
        path = Path(file)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            self._quotations: Mapping[str, Mapping[str, Any]] = data["quotations"]
            self._customers = {key: Customer.model_validate(value) for key, value in data["customers"].items()}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AdapterError(f"quotation book {path}: {type(exc).__name__}: {exc}") from exc

    @hookimpl
    def salesgate_load_document(self, point: str, document_id: str) -> Mapping[str, Any] | None:
        if point != "quotation":
            return None  # another point's documents: not ours
        return self._quotations.get(document_id)

    @hookimpl
    def salesgate_load_customer(self, customer_id: str) -> Customer | None:
        return self._customers.get(customer_id)
