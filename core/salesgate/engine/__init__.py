"""Backends that decide which compiled rules match a set of facts.

Two implementations of one small interface (:class:`~salesgate.engine.base.Backend`):
``durable`` (durable-rules, the default for live decisions) and ``python`` (the pure-Python
evaluator: explanations, bulk work, fallback). Everything durable-rules-specific lives in
:mod:`salesgate.engine.durable`.
"""
