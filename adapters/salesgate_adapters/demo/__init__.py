"""The demo company behind ``salesgate demo``: a small distributor of industrial equipment.

Its books (:mod:`.company`, from ``demo_company.json``) are loaded into a database built on the fly
(:mod:`.erp`: orders, invoices, receipts, deliveries, returns; SQLite by default) and read back
through the ``sql`` adapter and its ``demo`` mapping: the demo gate takes the code path of a
production ERP. :mod:`.commands` adds ``salesgate demo``.
"""

from __future__ import annotations

from salesgate import BackendName, Gate, Policy, load_policy, seed_policy_path
from salesgate.engine import DEFAULT_BACKEND

from .company import AS_OF, DemoCompany, DemoResult, load_demo_company, results_by_hook, return_request, run_demo
from .erp import create_demo_erp


def demo_gate(company: DemoCompany, *, backend: BackendName = DEFAULT_BACKEND, policy: Policy | None = None) -> Gate:
    """A gate on the seed policy (or ``policy``) reading the demo company's ERP database through the
    ``sql`` adapter and the ``demo`` mapping: the code path of a production database."""
    policy = policy or load_policy(seed_policy_path())
    erp = create_demo_erp(company.for_policy(policy))
    return Gate(policy, backend=backend, adapter="sql", adapter_options={"engine": erp, "mapping": "demo"},
                today=company.as_of)  # the demo never ages: its decisions are made as of the books' day


__all__ = [
    "AS_OF",
    "DemoCompany",
    "DemoResult",
    "create_demo_erp",
    "demo_gate",
    "load_demo_company",
    "results_by_hook",
    "return_request",
    "run_demo",
]
