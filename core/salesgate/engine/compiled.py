"""The compiled backend: each stage matched by one Python function generated from the checked IR.

The functions come from :mod:`salesgate.policy.codegen` (generated, checked against a whitelist and
compiled once per policy load; never from rule text). They answer exactly what the python backend
answers, faster: facts read once into locals, conditions as plain Python expressions, and the rules
of large stages (decision tables) looked up by index instead of tested one by one. A rule the
generator does not handle runs on the evaluator's closure, and :attr:`CompiledBackend.fallbacks`
(``salesgate validate``) names it.

Each stage of a built-in point also has a second function, generated the same way on first use for each
class of facts model, that reads the validated models themselves through :mod:`salesgate.readers`
(:meth:`CompiledBackend.match_models`): flattening an order into a FactSet cost more than matching it.
A stage it cannot match on the models (an aggregate, a rule on the evaluator, a declared point's
document) says so with None, and is matched on a FactSet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Final

from pydantic import BaseModel

from ..facts import FactSet, _element_types
from ..models import CreditExposure, Customer, Order, OrderFacts, OrderLine, Product, ReturnFacts
from ..policy.codegen import (
    Fallback,
    GeneratedCodeRefused,
    ModelFunction,
    StageFunction,
    compile_stages,
    generate_model_stage,
)
from ..policy.stages import Match, Stage, stages_by_name
from ..readers import order_readers, return_readers

ORDER_STAGES: Final = frozenset({"order_approval", "credit_check", "pricing.adjust", "pricing.check"})
"""The stages matched on an order's facts (:func:`salesgate.facts.order_factset`)."""
RETURN_STAGES: Final = frozenset({"return_handling"})
"""The stages matched on a return's facts (:func:`salesgate.facts.return_factset`)."""
_MAX_MATCHERS: Final = 256
"""Model matchers kept, at most (a stage per class of facts model: a policy has few); beyond, they start anew."""

_ModelMatcher = Callable[[Any, "date | None", "Mapping[int, Decimal] | None"], "frozenset[Match] | None"]


def _declared(kind: type[BaseModel], name: str) -> type[BaseModel]:
    """The class a facts model declares for its part ``name``."""
    annotation = kind.model_fields[name].annotation
    if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):  # pragma: no cover - models' own
        raise TypeError(f"{kind.__name__}.{name} is not a model")
    return annotation


class CompiledBackend:
    """Matches stages with generated functions. Stateless after construction (the aggregates' memo is
    swapped whole, as in the evaluator; model matchers are generated once and only added), so thread-safe."""

    name = "compiled"

    def __init__(self, stages: Sequence[Stage]) -> None:
        by_name = stages_by_name(stages)
        compiled = compile_stages(tuple(by_name.values()))
        self._functions: Mapping[str, StageFunction] = compiled.functions
        self.fallbacks: tuple[Fallback, ...] = compiled.fallbacks
        """The rules that run on the evaluator's closures instead of generated code (none, normally)."""
        fallen = {fallback.stage for fallback in self.fallbacks}
        self._stages: Mapping[str, Stage] = {name: stage for name, stage in by_name.items() if name not in fallen}
        self._model_matchers: dict[tuple[Any, ...], _ModelMatcher | None] = {}

    def match(self, stage: str, facts: FactSet) -> frozenset[Match]:
        return frozenset(self._functions[stage](facts.root, facts.items))

    def match_models(self, stage: str, facts: BaseModel, today: date | None,
                     policy_prices: Mapping[int, Decimal] | None = None) -> frozenset[Match] | None:
        """The matches of ``stage`` read straight from the fact models, or None when this stage can only be
        matched on a FactSet (then the caller flattens and calls match()).

        Equal to ``match(stage, order_factset(facts, policy_prices, paths=P, today=today))`` for an order's
        facts (``return_factset`` for a return's), for any ``P`` holding what the stage's rules read and
        ``order.lines`` when it has line-scope rules (as :attr:`Policy.fact_reads` does)."""
        key = (stage, type(facts))
        try:
            matcher = self._model_matchers[key]
        except KeyError:
            matcher = self._model_matcher(stage, facts)
            if len(self._model_matchers) >= _MAX_MATCHERS:
                self._model_matchers = {}
            self._model_matchers[key] = matcher
        if matcher is None:
            return None
        return matcher(facts, today, policy_prices)

    def _model_matcher(self, stage: str, facts: BaseModel) -> _ModelMatcher | None:
        """The matcher of ``stage`` on facts of ``facts``' class, or None (see :meth:`match_models`)."""
        found = self._stages.get(stage)
        if found is None:
            return None
        kind = type(facts)
        parts: tuple[type[BaseModel], ...]
        if isinstance(facts, OrderFacts) and stage in ORDER_STAGES:
            if kind is OrderFacts:  # flattened as the shipped classes, whatever its parts' classes
                parts = (Customer, Order, CreditExposure, OrderLine, Product)
            else:  # flattened as its parts' classes: read as the classes it declares, and only facts of those
                line_type, product_type = _element_types(kind)
                parts = (*(_declared(kind, name) for name in ("customer", "order", "exposure")),
                         line_type, product_type)
            readers = order_readers(*parts)
        elif isinstance(facts, ReturnFacts) and stage in RETURN_STAGES:
            parts = (_declared(kind, "customer"), _declared(kind, "return_request"))
            readers = return_readers(*parts)
        else:
            return None  # a declared point's document, or a stage of another point
        generated = generate_model_stage(found, readers)
        if generated is None:
            return None
        module, extras = generated
        try:
            function: ModelFunction = module.build()
        except (GeneratedCodeRefused, SyntaxError, RecursionError, MemoryError, ValueError):
            return None  # matched on a FactSet, by generate_stage's function (which was not refused)
        products = "products" in extras
        if readers.lines is None:
            customer_type, request_type = parts

            def match_return(facts: Any, today: date | None, prices: Mapping[int, Decimal] | None
                             ) -> frozenset[Match] | None:
                if type(facts.customer) is not customer_type or type(facts.return_request) is not request_type:
                    return None  # parts of other classes than declared: flattened as their own classes
                return frozenset(function(facts, (), today, prices, None))

            return match_return
        customer_type, order_type, exposure_type = parts[:3]
        shipped = kind is OrderFacts

        def match_order(facts: Any, today: date | None, prices: Mapping[int, Decimal] | None
                        ) -> frozenset[Match] | None:
            if not shipped and (type(facts.customer) is not customer_type or type(facts.order) is not order_type
                                or type(facts.exposure) is not exposure_type):
                return None  # parts of other classes than declared: flattened as their own classes
            by_sku = {product.sku: product for product in facts.products} if products else None
            return frozenset(function(facts, facts.order.lines, today, prices, by_sku))

        return match_order

    def close(self) -> None:
        """Nothing to release."""
