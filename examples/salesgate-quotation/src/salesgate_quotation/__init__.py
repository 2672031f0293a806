"""salesgate-quotation: a decision point declared by a plugin, with a pydantic model as its document.

Installed, its entry point (``quotation = "salesgate_quotation:QuotationPlugin"``) declares the
``quotation`` point; a policy decides there with rule files that say ``point: quotation``, and the
ERP asks ``gate.decide("quotation", {"quotation": {...}, "customer": {...}})``, or by number alone
through the ``quotation_book`` adapter (or your ERP's, implementing ``salesgate_load_document``).
"""

from __future__ import annotations

from ._book import SAMPLE, QuotationBook
from ._document import Quotation, QuotationFacts, QuotationLine
from ._plugin import OUTPUTS, POINT, QuotationPlugin

__all__ = ["OUTPUTS", "POINT", "SAMPLE", "Quotation", "QuotationBook", "QuotationFacts", "QuotationLine",
           "QuotationPlugin"]
