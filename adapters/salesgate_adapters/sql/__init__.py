"""The SQL adapter: facts from an ERP database (SQLite, PostgreSQL, MariaDB/MySQL), as a mapping file
declares them: ``Gate.from_path("rules/", adapter="sql", adapter_options={"url": ..., "mapping": "erpnext"})``.
The mapping format and the shipped mappings are documented in ``docs/adapters.md``.
"""

from __future__ import annotations

from .adapter import DEFAULT_URL_ENV, SqlAdapter
from .mapping import SHIPPED, ErpMapping, MappingError, load_mapping

__all__ = ["DEFAULT_URL_ENV", "SHIPPED", "ErpMapping", "MappingError", "SqlAdapter", "load_mapping"]
