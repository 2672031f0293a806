"""The compiled backend's model matchers (``CompiledBackend.match_models``, salesgate/readers.py) match exactly
what its FactSet functions match on the flattened facts: on random conditions, on the whole seed policy at every
built-in point (the policy's own models with declared and history facts, missing products, missing declared
facts, no lines, policy prices), without flattening anything; and they say None where only a FactSet will do."""

from __future__ import annotations

import ast
import dataclasses
import functools
import random
import sys
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import salesgate.facts as facts_module
from fixtures.strategies import order_facts, return_facts
from salesgate import OrderFacts, ReturnFacts, load_policy, seed_policy_path
from salesgate.engine.compiled import CompiledBackend
from salesgate.facts import order_factset, return_factset, with_policy_prices
from salesgate.models import Customer
from salesgate.policy.codegen import GeneratedCodeRefused, check, generate_model_stage
from salesgate.policy.compiler import Policy
from salesgate.policy.ir import Aggregate, Arith, Compare, Cond, Const, IsNone, Kind, Or, Quantified, Ref, walk_refs
from salesgate.policy.stages import EngineRule, Stage
from salesgate.readers import order_readers, return_readers
from salesgate.vocabulary import VOCABULARY
from test_codegen_safety import _only_generated_tokens, hostile_text
from test_differential import conditions, days

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench import build_workload

VOCAB = VOCABULARY["order_approval"]
ORDER_POINTS = {"order_approval": "order_approval", "credit_check": "credit_check", "pricing.adjust": "pricing",
                "pricing.check": "pricing"}


def _reads(conds: list[Cond]) -> frozenset[str]:
    """What rules with these conditions read, as Policy.fact_reads has it (the lines, for line-scope rules)."""
    return frozenset(ref.path for cond in conds for ref in walk_refs(cond)) | {"order.lines"}


def _has_aggregate(cond: Any) -> bool:
    if isinstance(cond, Aggregate):
        return True
    if dataclasses.is_dataclass(cond):
        return any(_has_aggregate(getattr(cond, f.name)) for f in dataclasses.fields(cond))
    if isinstance(cond, tuple):
        return any(_has_aggregate(item) for item in cond)
    return False


# -- random conditions, both scopes -----------------------------------------------------------------

@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conds=st.lists(st.tuples(conditions, st.sampled_from(["order", "line"])), min_size=1, max_size=5),
       facts=order_facts(), today=days)
def test_random_conditions_match_on_the_models_as_on_the_flattened_facts(conds: list[tuple[Cond, Any]],
                                                                          facts: OrderFacts, today: date) -> None:
    rules = tuple(EngineRule(f"r{i}", i, scope, cond) for i, (cond, scope) in enumerate(conds))
    stage = Stage("order_approval", rules, VOCAB)
    backend = CompiledBackend([stage])
    paths = _reads([cond for cond, _ in conds])
    found = backend.match_models("order_approval", facts, today)
    if any(_has_aggregate(cond) for cond, _ in conds):
        assert found is None  # aggregates run as the evaluator's closures over dicts
        return
    assert found is not None
    assert found == backend.match("order_approval", order_factset(facts, paths=paths, today=today))
    assert found == backend.match("order_approval", order_factset(facts, today=today))  # the shipped models: full too
    # every rule it can index, indexed: the group's own test functions read the models as well
    generated = generate_model_stage(stage, order_readers(*_SHIPPED_PARTS), index_from=1)
    assert generated is not None
    module, extras = generated
    function = module.build()
    by_sku = {product.sku: product for product in facts.products} if "products" in extras else None
    assert frozenset(function(facts, facts.order.lines, today, None, by_sku)) == found


_SHIPPED_PARTS = OrderFacts.model_fields["customer"].annotation, OrderFacts.model_fields["order"].annotation, \
    OrderFacts.model_fields["exposure"].annotation, *facts_module._element_types(OrderFacts)


def test_a_line_rule_reads_each_line_model_and_an_order_rule_any_line() -> None:
    qty = Ref("line.qty", Kind.number)
    stage = Stage("order_approval", (
        EngineRule("big-line", 0, "line", Compare(">", qty, Const(10, Kind.number))),
        EngineRule("any-unknown", 1, "order", Quantified("any", "order.lines", IsNone(
            Ref("line.product.stock", Kind.number, True), False))),
        EngineRule("no-product", 2, "line", IsNone(Ref("line.product.name", Kind.text), False)),
    ), VOCAB)
    facts = OrderFacts.model_validate({
        "order": {"id": "SO-1", "customer_id": "C1", "order_date": "2026-11-23", "lines": [
            {"line_no": 7, "sku": "P0", "qty": 5, "unit_price": "10"},
            {"line_no": 3, "sku": "P9", "qty": 50, "unit_price": "10"}]},
        "customer": {"id": "C1", "name": "C"}, "products": [{"sku": "P0", "list_price": "10"}]})
    backend = CompiledBackend([stage])
    assert backend.match_models("order_approval", facts, None) == {("big-line", 1), ("any-unknown", None),
                                                                  ("no-product", 1)}


# -- the seed policy ---------------------------------------------------------------------------------

@functools.cache
def _seed() -> tuple[Policy, CompiledBackend]:
    policy = load_policy(seed_policy_path())
    return policy, CompiledBackend(policy.stages())


@functools.cache
def _workload() -> Any:
    return build_workload(120, 11, True, True, policy=_seed()[0])


def _variants(facts: Any, rng: random.Random) -> Iterator[Any]:
    """The facts, and the same with products missing, declared facts missing, or no lines at all."""
    yield facts
    yield facts.model_copy(update={"products": rng.sample(facts.products, k=len(facts.products) // 2)})
    declared = {name: None for name in type(facts.customer).model_fields if name not in Customer.model_fields}
    yield facts.model_copy(update={"customer": facts.customer.model_copy(update=declared)})
    order_declared = {name: None for name in type(facts.order).model_fields
                      if name not in OrderFacts.model_fields["order"].annotation.model_fields}
    yield facts.model_copy(update={"order": facts.order.model_copy(update=order_declared)})
    yield facts.model_copy(update={"order": facts.order.model_copy(update={"lines": []})})  # built without validation


@pytest.mark.parametrize("stage", sorted(ORDER_POINTS))
def test_the_seed_policy_matches_orders_on_its_own_models_as_on_the_flattened_facts(stage: str) -> None:
    policy, backend = _seed()
    reads = policy.fact_reads.get(ORDER_POINTS[stage], frozenset())
    more = reads | frozenset(policy.vocabulary[ORDER_POINTS[stage]])  # any paths holding the reads will do
    rng = random.Random(stage)  # noqa: S311 - reproducible facts, not secrets
    checked = fired = 0
    for facts in _workload().orders:
        assert type(facts) is not OrderFacts  # the policy's extension: its declared and history facts
        for variant in _variants(facts, rng):
            today = rng.choice([None, variant.order.order_date, date(2026, 12, 31)])
            prices = None
            if stage == "pricing.check":
                prices = {line.line_no: Decimal(rng.randint(0, 5000)) / 4 for line in variant.order.lines
                          if rng.random() < 0.8}  # a line without a policy price reads it missing
            found = backend.match_models(stage, variant, today, prices)
            assert found is not None
            for paths in (reads, more):
                flattened = order_factset(variant, prices, paths=paths, today=today)
                assert found == backend.match(stage, flattened), (stage, variant)
            if prices is not None:  # as the Gate checks prices: added to the factset pricing flattened
                flattened = with_policy_prices(order_factset(variant, paths=reads, today=today), prices)
                assert found == backend.match(stage, flattened)
            checked += 1
            fired += bool(found)
    assert checked >= 500
    assert fired > checked // 10  # the facts do fire rules: the comparison is not of empty sets


@settings(max_examples=200, deadline=None)
@given(facts=order_facts(), today=days)
def test_the_seed_policy_matches_shipped_orders_on_the_models_as_on_the_flattened_facts(facts: OrderFacts,
                                                                                         today: date) -> None:
    policy, backend = _seed()
    prices = {line.line_no: line.unit_price for line in facts.order.lines[1:]}
    for stage, point in ORDER_POINTS.items():
        for given_prices in ((None, prices) if stage == "pricing.check" else (None,)):
            found = backend.match_models(stage, facts, today, given_prices)
            assert found is not None
            for paths in (policy.fact_reads.get(point, frozenset()), None):
                assert found == backend.match(stage, order_factset(facts, given_prices, paths=paths, today=today))


def test_the_seed_policy_matches_returns_on_the_models_as_on_the_flattened_facts() -> None:
    policy, backend = _seed()
    reads = policy.fact_reads["return_handling"]
    fired = 0
    for facts in _workload().returns:
        for today in (None, date(2026, 11, 23)):
            found = backend.match_models("return_handling", facts, today)
            assert found is not None
            assert found == backend.match("return_handling", return_factset(facts, paths=reads, today=today))
            fired += bool(found)
    assert fired


@settings(max_examples=100, deadline=None)
@given(facts=return_facts(), today=days)
def test_shipped_returns_match_on_the_models_as_on_the_flattened_facts(facts: ReturnFacts, today: date) -> None:
    _, backend = _seed()
    assert backend.match_models("return_handling", facts, today) == \
        backend.match("return_handling", return_factset(facts, today=today))


def test_the_models_are_read_without_flattening_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = load_policy(seed_policy_path())
    orders, returns = _workload().orders[:20], _workload().returns[:20]
    expected = CompiledBackend(policy.stages())
    wanted = {(stage, id(facts)): expected.match_models(stage, facts, date(2026, 11, 23))
              for stage in ORDER_POINTS for facts in orders}
    wanted.update({("return_handling", id(facts)): expected.match_models("return_handling", facts, date(2026, 11, 23))
                   for facts in returns})

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("flattened")

    for name in ("order_factset", "return_factset", "document_factset", "with_policy_prices", "_projected",
                 "_prefixed"):
        monkeypatch.setattr(facts_module, name, refuse)
    backend = CompiledBackend(policy.stages())  # its model matchers generated with nothing to flatten
    assert all(found is not None for found in wanted.values())
    assert {(stage, id(facts)): backend.match_models(stage, facts, date(2026, 11, 23))
            for stage in ORDER_POINTS for facts in orders} | \
        {("return_handling", id(facts)): backend.match_models("return_handling", facts, date(2026, 11, 23))
         for facts in returns} == wanted


def _same_value(read: Any, flattened: Any) -> bool:
    """Equal, of the same type, and written alike (a Decimal's exponent included)."""
    return type(read) is type(flattened) and repr(read) == repr(flattened)


def _readers_of(facts: Any) -> Any:
    if isinstance(facts, ReturnFacts):
        return return_readers(type(facts.customer), type(facts.return_request))
    if type(facts) is OrderFacts:
        return order_readers(*_SHIPPED_PARTS)
    return order_readers(type(facts.customer), type(facts.order), type(facts.exposure),
                         *facts_module._element_types(type(facts)))


def _check_every_reader(facts: Any, today: date | None, prices: dict[int, Decimal] | None) -> int:
    """Each reader's value against the flattening's, for every path it reads; the number of values compared."""
    readers = _readers_of(facts)
    paths = frozenset(readers.paths) | {"order.lines"}
    if isinstance(facts, ReturnFacts):
        flattened = [return_factset(facts, paths=paths, today=today)]
        lines: list[Any] = []
    else:
        flattened = [order_factset(facts, prices, paths=paths, today=today)]
        if type(facts) is OrderFacts:
            flattened.append(order_factset(facts, prices, today=today))  # the full flattening: the same values
        lines = list(facts.order.lines)
    extras = {"products": {product.sku: product for product in getattr(facts, "products", ())}, "prices": prices}
    compared = 0
    for factset in flattened:
        for path, reader in readers.paths.items():
            if not reader.line:
                assert _same_value(reader.read(facts), factset.root.get(path)), path
                compared += 1
                continue
            for line, item in zip(lines, factset.items, strict=True):
                read = reader.read(line) if reader.extra is None else reader.read(line, extras[reader.extra])
                assert _same_value(read, item.get(path)), (path, line)
                compared += 1
    return compared


def test_every_reader_reads_the_value_the_flattening_holds() -> None:
    rng = random.Random(5)  # noqa: S311 - reproducible facts, not secrets
    compared = 0
    for facts in _workload().orders[:60]:
        for variant in _variants(facts, rng):
            prices = {line.line_no: Decimal(rng.randint(0, 9999)) / 8 for line in variant.order.lines[1:]}
            compared += _check_every_reader(variant, variant.order.order_date, rng.choice([None, prices]))
    for claim in _workload().returns[:60]:
        compared += _check_every_reader(claim, date(2026, 11, 23), None)
    assert compared > 10_000


@settings(max_examples=100, deadline=None)
@given(facts=order_facts(), claim=return_facts(), today=st.none() | days)
def test_every_reader_reads_the_value_the_flattening_holds_on_the_shipped_models(facts: OrderFacts,
                                                                                 claim: ReturnFacts,
                                                                                 today: date | None) -> None:
    _check_every_reader(facts, today, {line.line_no: line.unit_price / 3 for line in facts.order.lines[:-1]})
    _check_every_reader(facts, today, None)
    _check_every_reader(claim, today, None)


# -- None: only a FactSet will do --------------------------------------------------------------------

def _order() -> OrderFacts:
    return OrderFacts.model_validate({
        "order": {"id": "SO-1", "customer_id": "C1", "order_date": "2026-11-23",
                  "lines": [{"line_no": 1, "sku": "P0", "qty": 5, "unit_price": "10"}]},
        "customer": {"id": "C1", "name": "C"}})


def test_a_stage_with_an_aggregate_is_matched_on_a_factset() -> None:
    total = Aggregate("sum", "order.lines", "line", Ref("line.qty", Kind.number, True), None, Kind.number)
    stage = Stage("order_approval", (EngineRule("many", 0, "order", Compare(">", total, Const(1, Kind.number))),
                                     EngineRule("plain", 1, "order", Compare(">", Ref("order.total", Kind.number),
                                                                            Const(1, Kind.number)))), VOCAB)
    backend = CompiledBackend([stage])
    assert backend.match_models("order_approval", _order(), None) is None
    assert backend.match("order_approval", order_factset(_order())) == {("many", None), ("plain", None)}


def test_a_stage_with_a_rule_on_the_evaluator_is_matched_on_a_factset() -> None:
    chain: Any = Ref("order.total", Kind.number)
    for _ in range(99):  # nests the generated code past Python's parser: the rule runs on the evaluator
        chain = Arith("+", chain, Ref("order.total", Kind.number), Kind.number)
    stage = Stage("order_approval", (EngineRule("deep", 0, "order", Compare(">", chain, Const(1, Kind.number))),),
                  VOCAB)
    backend = CompiledBackend([stage])
    assert [fallback.rule for fallback in backend.fallbacks] == ["deep"]
    assert backend.match_models("order_approval", _order(), None) is None


@pytest.mark.parametrize("path", ["order.created_at", "order.lines", "no.such.fact", "customer"])
def test_a_fact_without_a_reader_is_matched_on_a_factset(path: str) -> None:
    stage = Stage("order_approval", (EngineRule("r", 0, "order", Compare("==", Ref(path, Kind.text),
                                                                         Const("x", Kind.text))),), VOCAB)
    assert CompiledBackend([stage]).match_models("order_approval", _order(), None) is None


def test_facts_of_another_point_or_a_declared_document_are_matched_on_a_factset() -> None:
    policy, backend = _seed()
    order, claim = _workload().orders[0], _workload().returns[0]
    assert backend.match_models("return_handling", order, None) is None
    assert backend.match_models("order_approval", claim, None) is None
    assert backend.match_models("no-such-stage", order, None) is None
    declared = next(name for name, spec in policy.points.items() if name not in ORDER_POINTS.values()
                    and name != "return_handling" and spec.document is not None)
    document = policy.points[declared].document.model_construct()
    assert backend.match_models(declared, document, None) is None


def test_parts_of_other_classes_than_the_model_declares_are_matched_on_a_factset() -> None:
    _, backend = _seed()
    facts = _workload().orders[0]
    shipped = Customer.model_validate(facts.customer.model_dump(include=set(Customer.model_fields)))
    assert backend.match_models("credit_check", facts, None) is not None
    assert backend.match_models("credit_check", facts.model_copy(update={"customer": shipped}), None) is None


# -- safety: nothing a policy writes enters a model matcher's source ----------------------------------

@settings(max_examples=100, deadline=None)
@given(ids=st.lists(hostile_text, min_size=3, max_size=3, unique=True), value=hostile_text,
       listed=st.lists(hostile_text, min_size=8, max_size=12, unique=True), scope=st.sampled_from(["order", "line"]))
def test_hostile_rule_text_is_only_ever_data_in_a_model_matcher(ids: list[str], value: str, listed: list[str],
                                                                scope: Any) -> None:
    region = Ref("customer.region", Kind.text)
    rules = (
        EngineRule(ids[0], 0, scope, Compare("==", region, Const(value, Kind.text))),
        EngineRule(ids[1], 1, scope, Or(tuple(Compare("==", region, Const(v, Kind.text)) for v in listed))),
        EngineRule(ids[2], 2, scope, Quantified("any", "order.lines", Compare(
            "!=", Ref("line.sku", Kind.text, True), Const(value, Kind.text)))),
    )
    stage = Stage("order_approval", rules, VOCAB)
    generated = generate_model_stage(stage, order_readers(*_SHIPPED_PARTS), index_from=1)
    assert generated is not None
    _only_generated_tokens(generated[0].source.replace("today", "root").replace("prices", "root")
                           .replace("products", "root"))
    facts = _order().model_copy(update={"customer": _order().customer.model_copy(update={"region": value})})
    found = CompiledBackend([stage]).match_models("order_approval", facts, None)
    assert (ids[0], 0 if scope == "line" else None) in (found or ())
    assert found == CompiledBackend([stage]).match("order_approval", order_factset(facts))


@pytest.mark.parametrize("path", ["__class__", "customer.__class__", "customer.__dict__", "__import__('os')",
                                  "order.lines.__len__", "line.__class__.__subclasses__"])
def test_a_hostile_fact_path_has_no_reader(path: str) -> None:
    stage = Stage("order_approval", (EngineRule("r", 0, "line", Compare("==", Ref(path, Kind.text),
                                                                        Const("x", Kind.text))),), VOCAB)
    assert generate_model_stage(stage, order_readers(*_SHIPPED_PARTS)) is None
    request = ReturnFacts.model_fields["return_request"].annotation
    assert generate_model_stage(stage, return_readers(Customer, request)) is None


def _model_module() -> Any:
    generated = generate_model_stage(_seed_stages()["order_approval"], order_readers(*_SHIPPED_PARTS), index_from=1)
    assert generated is not None
    return generated[0]


@functools.cache
def _seed_stages() -> dict[str, Stage]:
    return {stage.name: stage for stage in load_policy(seed_policy_path()).stages()}


MODEL_TAMPERED = {
    "an unknown parameter": lambda s: s.replace("(root, items, today, prices, products):",
                                                "(root, items, today, prices, products, os):"),
    "a dunder attribute of a model": lambda s: s.replace("    fired = []", "    fired = root.__class__"),
    "an attribute of a model": lambda s: s.replace("    fired = []", "    fired = []\n    v0 = root.customer"),
    "an attribute of a parameter": lambda s: s.replace("    fired = []", "    fired = []\n    v0 = products.get"),
    "a call of a parameter": lambda s: s.replace("    fired = []", "    fired = []\n    v0 = prices(root)"),
    "a string literal": lambda s: s.replace("    fired = []", "    fired = []\n    v0 = k0(root, 'sku')"),
    "a default argument": lambda s: s.replace("products):", "products=k0):"),
}


@pytest.mark.parametrize("tamper", sorted(MODEL_TAMPERED))
def test_a_tampered_model_matcher_is_refused_by_the_whitelist(tamper: str) -> None:
    generated = _model_module()
    source = MODEL_TAMPERED[tamper](generated.source)
    assert source != generated.source
    with pytest.raises(GeneratedCodeRefused):
        dataclasses.replace(generated, source=source).build()


def test_only_a_model_matcher_may_take_the_models_parameters() -> None:
    generated = _model_module()
    names = frozenset(generated.constants) | generated.defined
    tree = ast.parse(generated.source)
    check(tree, names, generated.parameters)
    with pytest.raises(GeneratedCodeRefused, match="'today' is not allowed"):
        check(tree, names)  # the FactSet functions' whitelist
    with pytest.raises(GeneratedCodeRefused, match="not one the generator uses"):
        check(tree, names, generated.parameters | {"os"})
    assert generated.build().__globals__["__builtins__"] == {}
