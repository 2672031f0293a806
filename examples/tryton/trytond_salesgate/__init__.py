"""Tryton module ``salesgate``: Tryton's sales workflow asks salesgate before quotes, confirmations,
prices and returns.

Registered through ``tryton.cfg`` (the ``[register]`` section; Tryton 8.2 deprecates a ``register()``
function) and found through the ``trytond.modules`` entry point ``salesgate``.
"""
