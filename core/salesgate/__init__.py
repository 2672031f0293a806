"""salesgate: company sales policy as YAML rules, enforced inside your ERP.

The public surface is re-exported here; everything else is an implementation detail.
"""

from __future__ import annotations

from typing import Final, TypeAlias

from .context import DecisionContext, PolicyVerdict
from .decisions import (
    Approval,
    Contribution,
    CreditResult,
    Decision,
    Notification,
    Outcome,
    PolicyRef,
    PriceAdjustment,
    PricedLine,
    PriceStop,
    PricingResult,
    Reason,
    ReturnResult,
    TraceEntry,
    combine,
)
from .documents import Bilingual, Combine, FieldType, OutputSpec
from .engine import BackendName
from .errors import (
    AdapterError,
    ApprovalError,
    EngineError,
    FactsError,
    PluginError,
    PolicyError,
    PolicyProblem,
    ReservationError,
    SalesgateError,
    StoreError,
)
from .gate import Gate, GateClosedError
from .hookspecs import hookimpl, hookspec
from .models import (
    CreditExposure,
    Customer,
    Delivery,
    Money,
    Order,
    OrderFacts,
    OrderLine,
    Product,
    ReturnFacts,
    ReturnRequest,
)
from .plugins import Hooks
from .points import DecisionPoint
from .pointspecs import DECISION_POINTS, Origin, PointSpec
from .policy.compiler import Policy, load_policy
from .ports import ApprovalRequests, CountedOrders, CreditReservations, Decide, DecisionLog, Store
from .records import (
    ApprovalRequest,
    ApprovalStatus,
    AuditEntry,
    AuditReport,
    RecordedDecision,
    Reservation,
    ReserveResult,
    RoleMember,
)
from .redaction import redact
from .reload import PolicyReloader, ReloadResult
from .seed import seed_policy_path
from .simulation import simulate
from .workflow import ApprovalRules

__version__ = "0.1.0"

# Deprecated aliases, kept so code written against the old names keeps working: the same objects
# as DecisionPoint and DECISION_POINTS ("hook" now means only a pluggy hook).
Hook: TypeAlias = DecisionPoint
HOOKS: Final = DECISION_POINTS

__all__ = [
    "DECISION_POINTS",
    "HOOKS",
    "AdapterError",
    "Approval",
    "ApprovalError",
    "ApprovalRequest",
    "ApprovalRequests",
    "ApprovalRules",
    "ApprovalStatus",
    "AuditEntry",
    "AuditReport",
    "BackendName",
    "Bilingual",
    "Combine",
    "Contribution",
    "CountedOrders",
    "CreditExposure",
    "CreditReservations",
    "CreditResult",
    "Customer",
    "Decide",
    "Decision",
    "DecisionContext",
    "DecisionLog",
    "DecisionPoint",
    "Delivery",
    "EngineError",
    "FactsError",
    "FieldType",
    "Gate",
    "GateClosedError",
    "Hook",
    "Hooks",
    "Money",
    "Notification",
    "Order",
    "OrderFacts",
    "OrderLine",
    "Origin",
    "Outcome",
    "OutputSpec",
    "PluginError",
    "PointSpec",
    "Policy",
    "PolicyError",
    "PolicyProblem",
    "PolicyRef",
    "PolicyReloader",
    "PolicyVerdict",
    "PriceAdjustment",
    "PriceStop",
    "PricedLine",
    "PricingResult",
    "Product",
    "Reason",
    "RecordedDecision",
    "ReloadResult",
    "Reservation",
    "ReservationError",
    "ReserveResult",
    "ReturnFacts",
    "ReturnRequest",
    "ReturnResult",
    "RoleMember",
    "SalesgateError",
    "Store",
    "StoreError",
    "TraceEntry",
    "__version__",
    "combine",
    "hookimpl",
    "hookspec",
    "load_policy",
    "redact",
    "seed_policy_path",
    "simulate",
]
