"""Adapter plugins: where a gate's facts come from when the caller passes only ids.

An adapter is an ordinary plugin implementing the data hooks of :mod:`salesgate.hookspecs`
(``salesgate_load_customer``, ``salesgate_load_exposure``, ``salesgate_load_products``,
``salesgate_load_order``, ``salesgate_record_decision``). ``MemoryAdapter`` keeps everything in
memory: it drives ``salesgate demo`` and is the template for an adapter over a real ERP.
"""

from __future__ import annotations

from .memory import MemoryAdapter

__all__ = ["MemoryAdapter"]
