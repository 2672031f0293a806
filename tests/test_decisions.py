"""How several plugins' decisions combine, and what a decision looks like on the wire.

The precedence is a documented function (:func:`salesgate.decisions.combine`): the most severe
outcome wins, approvals are the union in ladder order, pricing adjustments are re-applied in
priority order with floors last. None of it may depend on the order the decisions arrive in.
"""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesgate import Approval, Decision, Gate, Notification, Outcome, PolicyRef, Reason, TraceEntry, combine
from salesgate.decisions import (
    Contribution,
    CreditResult,
    PriceAdjustment,
    PricedLine,
    PriceStop,
    PricingResult,
    apply_adjustments,
    merge,
)
from salesgate.models import OrderFacts
from salesgate.money import round_money
from salesgate.plugins import stamp
from salesgate.prices import changed_price, line_price, run_price_steps

LADDER = ("sales_rep", "sales_manager", "finance", "general_manager")
POLICY = PolicyRef(name="p", version="1", hash="0123456789abcdef")
RULES = ["r1", "r2", "r3", "r4"]


def decision(outcome: Outcome = Outcome.allow, **fields: Any) -> Decision:
    return Decision(hook="order_approval", subject="SO-1", outcome=outcome, policy=POLICY, backend="python", **fields)


def reason(rule: str, outcome: Outcome = Outcome.warn, **fields: Any) -> Reason:
    return Reason(rule=rule, outcome=outcome, message=fields.pop("message", f"{rule} fired"), **fields)


# -- outcomes -------------------------------------------------------------------------------------------

def test_outcomes_rank_from_allow_to_block() -> None:
    assert [o.value for o in sorted(Outcome, key=lambda o: o.rank)] == [
        "allow", "warn", "require_approval", "block"]
    assert [o.rank for o in (Outcome.allow, Outcome.warn, Outcome.require_approval, Outcome.block)] == [0, 1, 2, 3]


def test_outcome_is_its_string_value() -> None:
    assert Outcome("require_approval") is Outcome.require_approval
    assert Outcome.block == "block"


@pytest.mark.parametrize("outcomes", [
    ["allow", "block", "warn"],
    ["block", "allow"],
    ["warn", "require_approval", "allow", "warn"],
    ["allow", "allow"],
])
def test_most_severe_outcome_wins(outcomes: list[str]) -> None:
    combined = combine([decision(Outcome(o)) for o in outcomes], LADDER)
    assert combined.outcome == max((Outcome(o) for o in outcomes), key=lambda o: o.rank)


def test_combine_needs_at_least_one_decision() -> None:
    with pytest.raises(ValueError, match="nothing to combine"):
        combine([], LADDER)


def test_single_decision_is_returned_as_it_is() -> None:
    only = decision(Outcome.warn, reasons=[reason("r2"), reason("r1")])
    assert combine([only], LADDER) is only


# -- approvals, reasons, notifications, failures ----------------------------------------------------------

def test_approvals_are_united_in_ladder_order_with_unknown_roles_after_by_name() -> None:
    a = decision(Outcome.require_approval, approvals=[
        Approval(role="general_manager", rules=["large-order"]), Approval(role="zz_auditor", rules=["acme"])])
    b = decision(Outcome.require_approval, approvals=[
        Approval(role="legal", rules=["contract"]), Approval(role="sales_manager", rules=["large-order"]),
        Approval(role="general_manager", rules=["acme-big"])])
    combined = combine([a, b], LADDER)
    assert [(x.role, x.rules) for x in combined.approvals] == [
        ("sales_manager", ["large-order"]),
        ("general_manager", ["acme-big", "large-order"]),
        ("legal", ["contract"]),
        ("zz_auditor", ["acme"]),
    ]
    assert combined.required_roles == ["sales_manager", "general_manager", "legal", "zz_auditor"]


def test_same_role_from_the_same_rule_is_listed_once() -> None:
    a = decision(approvals=[Approval(role="finance", rules=["r1"])])
    b = decision(approvals=[Approval(role="finance", rules=["r1"])])
    assert combine([a, b], LADDER).approvals == [Approval(role="finance", rules=["r1"])]


def test_reasons_sort_by_severity_then_rule() -> None:
    a = decision(Outcome.warn, reasons=[reason("b-warn", Outcome.warn), reason("z-block", Outcome.block)])
    b = decision(Outcome.require_approval, reasons=[reason("a-warn", Outcome.warn),
                                                    reason("m-approve", Outcome.require_approval)])
    assert [r.rule for r in combine([a, b], LADDER).reasons] == ["z-block", "m-approve", "a-warn", "b-warn"]


def test_failures_are_joined_and_kept() -> None:
    combined = combine([decision(failure="b broke"), decision(), decision(failure="a broke")], LADDER)
    assert combined.failure == "a broke; b broke"
    assert combine([decision(), decision()], LADDER).failure is None


# -- order independence (property) ------------------------------------------------------------------------

ROLES = [*LADDER, "legal", "acme_auditor"]
outcomes = st.sampled_from(list(Outcome))
# Few distinct values, so reasons that tie on (severity, rule, line) are common.
reasons = st.builds(
    Reason, rule=st.sampled_from(RULES[:2]), outcome=st.sampled_from([Outcome.warn, Outcome.block]),
    message=st.sampled_from(["m", "客户已冻结"]), translations=st.just({}), line_no=st.sampled_from([None, 1]),
    plugin=st.sampled_from(["rules", "acme"]),
)
approvals = st.builds(Approval, role=st.sampled_from(ROLES), rules=st.lists(st.sampled_from(RULES), min_size=1,
                                                                             max_size=2, unique=True))
notifications = st.builds(Notification, role=st.sampled_from(ROLES), rule=st.sampled_from(RULES),
                          message=st.sampled_from(["a", "b", "知悉"]))
decisions = st.builds(
    decision,
    outcome=outcomes,
    approvals=st.lists(approvals, max_size=3, unique_by=lambda a: a.role),
    reasons=st.lists(reasons, max_size=3),
    notifications=st.lists(notifications, max_size=2),
    failure=st.one_of(st.none(), st.sampled_from(["x failed", "y failed"])),
)


def _without_trace(d: Decision) -> dict[str, Any]:
    # The trace is concatenated in the order given; the hook facade hands decisions over in
    # plugin-name order (tested in test_plugins.py), so that order is fixed before combine runs.
    return d.model_dump(mode="json", exclude={"trace"})


@given(data=st.data(), items=st.lists(decisions, min_size=1, max_size=5))
def test_combine_does_not_depend_on_the_order_of_decisions(data: st.DataObject, items: list[Decision]) -> None:
    shuffled = data.draw(st.permutations(items))
    assert _without_trace(combine(shuffled, LADDER)) == _without_trace(combine(items, LADDER))


@given(items=st.lists(decisions, min_size=2, max_size=5))
def test_combined_decision_follows_the_written_precedence(items: list[Decision]) -> None:
    combined = combine(items, LADDER)
    assert combined.outcome.rank == max(d.outcome.rank for d in items)
    wanted = {a.role for d in items for a in d.approvals}
    position = {role: i for i, role in enumerate(LADDER)}
    assert combined.required_roles == sorted(wanted, key=lambda r: (position.get(r, len(LADDER)), r))
    for approval in combined.approvals:
        assert approval.rules == sorted({r for d in items for a in d.approvals if a.role == approval.role
                                         for r in a.rules})
    assert sorted(combined.reasons, key=lambda r: r.model_dump_json()) == sorted(
        (r for d in items for r in d.reasons), key=lambda r: r.model_dump_json())
    ranks = [-r.outcome.rank for r in combined.reasons]
    assert ranks == sorted(ranks)


# -- pricing ----------------------------------------------------------------------------------------------

def adjustment(rule: str, kind: str, value: str, priority: int) -> PriceAdjustment:
    return PriceAdjustment.model_validate({"rule": rule, "kind": kind, "value": Decimal(value), "priority": priority,
                                           "price_before": Decimal(0), "price_after": Decimal(0)})


def pricing_decision(adjustments: list[PriceAdjustment], list_price: str | None = "100") -> Decision:
    line = PricedLine(line_no=1, sku="P1", qty=3, list_price=Decimal(list_price) if list_price else None,
                      requested_unit_price=Decimal("90.00"), policy_price=Decimal("0"), adjustments=adjustments)
    return decision().model_copy(update={
        "hook": "pricing",
        "pricing": PricingResult(lines=[line], policy_total=Decimal(0), requested_total=Decimal(0))})


def test_adjustments_are_reapplied_in_priority_order_with_floors_last() -> None:
    markup = adjustment("distributor-region", "markup", "0.10", 10)
    discount = adjustment("grade-a", "discount", "0.05", 20)
    floor = adjustment("cost-floor", "floor", "104", 1)
    add = adjustment("freight", "add", "2.50", 5)
    combined = combine([pricing_decision([discount, floor]), pricing_decision([markup, add])], LADDER)
    assert combined.pricing is not None
    line = combined.pricing.lines[0]
    assert [(a.rule, a.price_before, a.price_after) for a in line.adjustments] == [
        ("freight", Decimal("100"), Decimal("102.50")),
        ("distributor-region", Decimal("102.50"), Decimal("112.750")),
        ("grade-a", Decimal("112.750"), Decimal("107.11250")),
        ("cost-floor", Decimal("107.11250"), Decimal("107.11250")),
    ]
    assert line.policy_price == Decimal("107.11")
    assert combined.pricing.policy_total == Decimal("321.33")
    assert combined.pricing.requested_total == Decimal("270.00")


def test_floor_raises_the_price_even_when_its_priority_is_first() -> None:
    floor = adjustment("cost-floor", "floor", "99", 1)
    discount = adjustment("grade-a", "discount", "0.05", 20)
    line = combine([pricing_decision([floor]), pricing_decision([discount])], LADDER).pricing.lines[0]  # type: ignore[union-attr]
    assert [a.kind for a in line.adjustments] == ["discount", "floor"]
    assert line.policy_price == Decimal("99.00")


def test_set_price_replaces_the_price_where_its_priority_puts_it() -> None:
    set_price = adjustment("contract-price", "set", "80", 15)
    markup = adjustment("region", "markup", "0.10", 10)
    discount = adjustment("grade", "discount", "0.50", 20)
    line = combine([pricing_decision([markup, discount]), pricing_decision([set_price])], LADDER).pricing.lines[0]  # type: ignore[union-attr]
    assert [(a.kind, a.price_after) for a in line.adjustments] == [
        ("markup", Decimal("110.00")), ("set", Decimal("80")), ("discount", Decimal("40.00"))]


def stopped_line(adjustments: list[PriceAdjustment], stop: PriceStop | None) -> Decision:
    priced = pricing_decision(adjustments)
    assert priced.pricing is not None
    line = priced.pricing.lines[0].model_copy(update={"stopped_by": stop})
    return priced.model_copy(update={"pricing": priced.pricing.model_copy(update={"lines": [line]})})


def test_a_stop_in_one_plugins_pricing_is_honoured_after_combining_with_anothers() -> None:
    """Regression: combine re-applied every adjustment, so a rule that stopped a line in one
    plugin's pricing was overtaken by another plugin's later markup."""
    contract = adjustment("contract-price", "set", "80", 5)
    cost_floor = adjustment("cost-floor", "floor", "70", 1)
    late_markup = adjustment("distributor-region", "markup", "0.10", 10)
    late_floor = adjustment("minimum-margin", "floor", "95", 20)
    company = stopped_line([contract, cost_floor], PriceStop(rule="contract-price", priority=5))
    other = pricing_decision([late_markup, late_floor])
    for order in ([company, other], [other, company]):
        line = combine(order, LADDER).pricing.lines[0]  # type: ignore[union-attr]
        assert [(a.rule, a.price_after) for a in line.adjustments] == [
            ("contract-price", Decimal("80")), ("cost-floor", Decimal("80"))]
        assert line.policy_price == Decimal("80.00")
        assert line.stopped_by == PriceStop(rule="contract-price", priority=5)
    # Without the stop, the later markup and floor apply: the stop is what made the difference.
    free = combine([pricing_decision([contract, cost_floor]), other], LADDER).pricing.lines[0]  # type: ignore[union-attr]
    assert free.policy_price == Decimal("95.00")


def test_a_stop_without_changes_of_its_own_still_ends_the_line() -> None:
    """The seed policy's unknown-product rule stops a line without changing its price itself."""
    markup = adjustment("distributor-region", "markup", "0.10", 10)
    stopper = stopped_line([], PriceStop(rule="unknown-product", priority=0))
    line = combine([stopper, pricing_decision([markup])], LADDER).pricing.lines[0]  # type: ignore[union-attr]
    assert line.adjustments == []
    assert line.policy_price == Decimal("100.00")


def test_the_price_algebra_stops_changes_and_later_floors_then_applies_earlier_floors() -> None:
    seen: list[tuple[str, str, Decimal]] = []
    price = run_price_steps(Decimal("100"), [
        ([("markup", Decimal("0.10"), "a")], [(Decimal("50"), "a")], False),
        ([("set", Decimal("90"), "b")], [], True),
        ([("add", Decimal("5"), "c")], [(Decimal("200"), "c")], False),
    ], lambda tag, kind, value, before, after: seen.append((tag, kind, after)))
    assert price == Decimal("90")
    assert seen == [("a", "markup", Decimal("110.00")), ("b", "set", Decimal("90")), ("a", "floor", Decimal("90"))]
    assert changed_price(Decimal("10"), "discount", Decimal("0.25")) == Decimal("7.50")
    with pytest.raises(ValueError, match="unknown price change 'rebate'"):
        changed_price(Decimal("10"), "rebate", Decimal("1"))


def test_the_changes_the_algebra_made_are_the_five_values_observe_sees_one_after_the_other() -> None:
    seen: list[Any] = []
    made: list[Any] = []
    steps = [([("markup", Decimal("0.10"), "a")], [(Decimal("500"), "a")], False),
             ([("add", Decimal("-5"), "b")], [], False)]
    price = run_price_steps(Decimal("100"), steps, lambda *change: seen.extend(change), made)
    assert price == Decimal("500")
    assert made == seen == ["a", "markup", Decimal("0.10"), Decimal("100"), Decimal("110.00"),
                            "b", "add", Decimal("-5"), Decimal("110.00"), Decimal("105.00"),
                            "a", "floor", Decimal("500"), Decimal("105.00"), Decimal("500")]


_CHANGES = st.lists(st.one_of(
    st.tuples(st.sampled_from(["markup", "discount"]),
              st.decimals(min_value=-3, max_value=3, places=4, allow_nan=False, allow_infinity=False)),
    st.tuples(st.sampled_from(["add", "set"]),
              st.decimals(min_value=-10**15, max_value=10**15, places=2, allow_nan=False, allow_infinity=False))),
    min_size=1, max_size=8)


@given(changes=_CHANGES, share=st.fractions(min_value=0, max_value=1), stop=st.integers(min_value=0, max_value=8))
def test_no_base_below_a_plans_safe_bound_takes_a_price_out_of_range(changes: list[tuple[str, Decimal]],
                                                                      share: Any, stop: int) -> None:
    """Pricing checks a line's prices against the ceiling only for a base at or above the bound its rules
    allow (``_safe_below``): below it, no change can make a price the check would refuse."""
    from salesgate.policy.limits import PRICE_CEILING
    from salesgate.policy.verdict import _safe_below

    steps = [(((kind, value, None),), (), at == stop) for at, (kind, value) in enumerate(changes)]
    safe = _safe_below(steps)
    assert safe >= 0
    top = Decimal("99999999999999.9999") if safe.is_infinite() else safe
    base = round_money(top * Decimal(share.numerator) / Decimal(share.denominator))
    if base >= safe:
        return
    made: list[Any] = []
    run_price_steps(base, steps, None, made)
    assert all(-PRICE_CEILING < price < PRICE_CEILING for price in made[4::5])


def test_a_plans_safe_bound_is_just_below_what_its_changes_allow() -> None:
    from salesgate.policy.limits import PRICE_CEILING
    from salesgate.policy.verdict import _safe_below

    doubled = _safe_below([((("markup", Decimal("1"), None),), (), False)])
    assert PRICE_CEILING / 2 * Decimal("0.999998") < doubled < PRICE_CEILING / 2
    assert _safe_below([((("set", Decimal("5"), None), ("discount", Decimal("0.5"), None)), (), False)]).is_infinite()
    assert _safe_below([((("add", PRICE_CEILING, None),), (), False)]) == 0
    assert _safe_below([((), ((PRICE_CEILING, None),), False)]) == 0


def test_a_line_price_is_never_below_zero_and_rounds_half_up_to_the_cent() -> None:
    assert line_price(Decimal("-50")) == Decimal("0.00")
    assert line_price(Decimal("10.005")) == Decimal("10.01")
    assert line_price(Decimal("962.967500")) == Decimal("962.97")


def test_order_totals_add_the_lines_rounded_amounts() -> None:
    """Each line's amount is rounded before adding: 3 × 0.335 = 1.005 is 1.01 a line, so two lines
    total 2.02 (what the lines show), not 2.01 (their exact 2.010 rounded)."""
    lines = [PricedLine(line_no=n, sku="P1", qty=3, list_price=None, requested_unit_price=Decimal("0.335"),
                        policy_price=Decimal("0.335")) for n in (1, 2)]
    result = PricingResult.from_lines(lines)
    assert (result.policy_total, result.requested_total) == (Decimal("2.02"), Decimal("2.02"))
    assert result.lines == lines
    assert result.policy_total == sum((line.policy_amount for line in lines), Decimal(0))


def test_stopped_by_stays_out_of_the_decisions_json() -> None:
    """Decisions on the wire are unchanged by it (golden files, decision logs)."""
    line = stopped_line([], PriceStop(rule="unknown-product", priority=0)).pricing.lines[0]  # type: ignore[union-attr]
    assert "stopped_by" not in line.model_dump_json()


def test_a_contribution_takes_role_names_for_approvals() -> None:
    contribution = Contribution(outcome=Outcome.require_approval, approvals=["legal"])
    assert contribution.approvals == [Approval(role="legal", rules=[])]


def test_line_without_list_price_keeps_the_base_it_was_priced_from() -> None:
    """Regression: combining re-based such lines on the requested price after the line discount."""
    gate = Gate.default(backend="python", entry_points=False)
    facts = OrderFacts.model_validate({
        "order": {"id": "SO-1", "customer_id": "C1", "order_date": "2026-11-23",
                  "lines": [{"line_no": 1, "sku": "UNKNOWN", "qty": 10, "unit_price": "100", "discount": "0.1"},
                            {"line_no": 2, "sku": "FREE", "qty": 1, "unit_price": "5"}]},
        "customer": {"id": "C1", "name": "华东机电", "grade": "A"},
        "products": [{"sku": "FREE", "list_price": "0"}],
    })
    context = gate._loaded.contexts[0]
    alone = gate.price_order(facts)
    with_another_plugin = combine([alone, stamp(Contribution(), "other", "pricing", "SO-1", context)],
                                  gate.policy.roles)
    assert with_another_plugin.pricing == alone.pricing
    # The seed policy's unknown-product rule stops every adjustment of line 1: its policy price is
    # its base, the requested 100 before the line discount (re-basing would give 90.00).
    assert [line.policy_price for line in alone.pricing.lines] == [Decimal("100.00"), Decimal("0.00")]  # type: ignore[union-attr]


def test_a_plugin_that_knows_no_list_price_never_hides_anothers() -> None:
    """Regression: the list price and base came from whichever plugin's name sorted first."""
    knows = pricing_decision([adjustment("grade-a", "discount", "0.05", 20)])
    knows_not = pricing_decision([], list_price=None)
    for order in ([knows_not, knows], [knows, knows_not]):
        line = combine(order, LADDER).pricing.lines[0]  # type: ignore[union-attr]
        assert (line.list_price, line.policy_price) == (Decimal("100"), Decimal("95.00"))


def test_combined_adjustments_never_price_a_line_below_zero() -> None:
    """As the rules plugin prices a line alone: an add of -150 on a list price of 100 is 0.00, not -50.00."""
    line = combine([pricing_decision([adjustment("rebate", "add", "-150", 10)]), pricing_decision([])],
                   LADDER).pricing.lines[0]  # type: ignore[union-attr]
    assert line.adjustments[-1].price_after == Decimal("-50")
    assert line.policy_price == Decimal("0.00")


prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10000"), places=2)
adjustments = st.lists(
    st.tuples(st.sampled_from(["markup", "discount", "add", "set", "floor"]),
              st.decimals(min_value=0, max_value=1, places=2), st.integers(0, 50)),
    max_size=6,
)


@given(data=st.data(), base=prices, raw=adjustments, groups=st.integers(1, 3))
def test_pricing_combines_the_same_however_adjustments_are_split_between_plugins(
    data: st.DataObject, base: Decimal, raw: list[tuple[str, Decimal, int]], groups: int,
) -> None:
    adjs = [adjustment(f"r{i}", kind, str(value * 100 if kind in ("add", "set", "floor") else value), prio)
            for i, (kind, value, prio) in enumerate(raw)]
    owners = data.draw(st.lists(st.integers(0, groups - 1), min_size=len(adjs), max_size=len(adjs)))
    split = [pricing_decision([a for a, o in zip(adjs, owners, strict=True) if o == g], str(base))
             for g in range(groups)]
    combined = combine([*split, decision().model_copy(update={"hook": "pricing"})], LADDER)
    expected = apply_adjustments(base, adjs)
    line = combined.pricing.lines[0]  # type: ignore[union-attr]
    assert line.adjustments == expected
    assert [a.kind == "floor" for a in line.adjustments] == sorted(a.kind == "floor" for a in adjs)
    # Policy prices round half up to the cent (0.005 → 0.01), not the Decimal default half-even.
    assert line.policy_price == round_money(expected[-1].price_after if expected else base)
    shuffled = data.draw(st.permutations(split))
    assert combine([*shuffled, decision()], LADDER).pricing == combined.pricing


# -- the decision on the wire ------------------------------------------------------------------------------

def test_json_round_trip_keeps_money_exact() -> None:
    original = decision(Outcome.require_approval).model_copy(update={
        "hook": "pricing",
        "pricing": PricingResult(
            lines=[PricedLine(line_no=1, sku="P1", qty=7, list_price=Decimal("1013.6500"),
                              requested_unit_price=Decimal("0.10"), policy_price=Decimal("962.97"),
                              adjustments=[PriceAdjustment(rule="grade-a", kind="discount", value=Decimal("0.05"),
                                                           priority=20, price_before=Decimal("1013.6500"),
                                                           price_after=Decimal("962.967500"))])],
            policy_total=Decimal("6740.79"), requested_total=Decimal("0.70")),
        "reasons": [reason("below-policy-price", Outcome.require_approval, message="报价低于政策价格",
                           translations={"en": "Price below the policy price"}, line_no=1)],
    })
    data = original.model_dump(mode="json")
    assert data["pricing"]["lines"][0]["adjustments"][0]["price_after"] == "962.967500"
    again = Decision.model_validate(data)
    assert again == original
    assert str(again.pricing.lines[0].list_price) == "1013.6500"  # type: ignore[union-attr]
    assert Decision.model_validate_json(original.model_dump_json()) == original


def test_real_decision_survives_a_json_round_trip() -> None:
    gate = Gate.default(backend="python", entry_points=False)
    order = {
        "order": {"id": "SO-7", "customer_id": "C1", "order_date": "2026-11-23",
                  "lines": [{"line_no": 1, "sku": "P1", "qty": 120, "unit_price": "1013.65", "discount": "0.05"}]},
        "customer": {"id": "C1", "name": "华东机电", "grade": "B", "region_has_distributor": True,
                     "credit_limit": "50000.00"},
        "products": [{"sku": "P1", "list_price": "1013.65", "cost": "700", "stock": 50}],
        "exposure": {"open_receivables": "33120.19", "overdue_amount": "0.01"},
    }
    for made in (gate.price_order(order), gate.check_credit(order), gate.approve_order(order)):
        data = made.model_dump(mode="json")
        again = Decision.model_validate(data)
        assert again.model_dump(mode="json") == data
        # Typed money comes back as the same Decimal; trace values are Any and come back as JSON text.
        assert again.model_dump(exclude={"trace"}) == made.model_dump(exclude={"trace"})


def test_trace_entry_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match="extra"):
        TraceEntry(rule="r", ruleset="s", file="f", line=1, fired=True, colour="red")  # type: ignore[call-arg]


credit_figures = st.builds(CreditResult, exposure_after_order=st.sampled_from([Decimal("10"), Decimal("900.50")]),
                           limit=st.just(Decimal("1000")), available=st.just(Decimal("0")),
                           overdue_amount=st.just(Decimal("0")), max_overdue_days=st.just(0))
payload_only = st.builds(decision, credit=st.one_of(st.none(), credit_figures))


@given(data=st.data(), main=decisions, companions=st.lists(payload_only, min_size=1, max_size=3))
def test_a_decision_with_figure_only_companions_combines_as_the_general_merge_does(
        data: st.DataObject, main: Decision, companions: list[Decision]) -> None:
    items = data.draw(st.permutations([main, *companions]))
    quick = combine(items, LADDER)
    general = merge(items, LADDER)
    assert quick == general
    assert quick.model_fields_set == general.model_fields_set
    assert list(quick.model_dump()) == list(general.model_dump())


def test_credit_figures_say_they_include_the_order_and_still_read_under_the_old_name() -> None:
    figures = CreditResult(exposure_after_order=Decimal("150099.00"), limit=Decimal("200000"),
                           available=Decimal("49901.00"), overdue_amount=Decimal("0"), max_overdue_days=0)
    dumped = figures.model_dump(mode="json")
    assert dumped["exposure_after_order"] == dumped["exposure"] == "150099.00"  # old name kept for JSON readers
    assert CreditResult.model_validate(dumped) == figures  # a decision logged with both names reads back
    logged_by_0_2 = {k: v for k, v in dumped.items() if k != "exposure_after_order"}
    assert CreditResult.model_validate(logged_by_0_2) == figures
    assert figures.exposure == figures.exposure_after_order


@pytest.fixture(scope="module")
def seed_gate() -> Iterator[Gate]:
    """One gate on the seed policy for the tests of shared and lazily built parts (loading it takes time)."""
    with Gate.default(backend="python", entry_points=False) as gate:
        yield gate


def _blocked_order() -> dict[str, Any]:
    return {"order": {"id": "SO-1", "customer_id": "C1", "order_date": "2026-11-23",
                      "lines": [{"line_no": 1, "sku": "P1", "qty": 10, "unit_price": "12000"}]},
            "customer": {"id": "C1", "name": "华东", "status": "blocked", "credit_limit": "50000"}}


def test_decisions_share_the_policys_reasons_but_none_can_change_another_through_them(seed_gate: Gate) -> None:
    """The policy builds each of its reasons and approvals once and every decision holds them: what a caller
    does to one decision's lists changes no other, and what would (a reason's translations, an approval's
    rules) refuses to change."""
    first, second = (seed_gate.approve_order(_blocked_order()) for _ in range(2))
    assert first.reasons
    assert first.approvals
    assert first == second
    before = second.model_dump_json()
    first.reasons.append(first.reasons[0])
    first.approvals.clear()
    with pytest.raises(TypeError, match="shared by every decision"):
        first.reasons[0].translations["en"] = "changed"
    with pytest.raises(TypeError, match="shared by every decision"):
        second.approvals[0].rules.append("mine")
    assert second.model_dump_json() == before == seed_gate.approve_order(_blocked_order()).model_dump_json()


def test_the_fields_set_of_a_shared_reason_refuses_changes_so_no_decision_changes_anothers_dump(
        seed_gate: Gate) -> None:
    """A reason the policy shares holds one set of the fields it was given (``model_fields_set``, what
    ``exclude_unset`` dumps): were it a plain set, taking ``message`` out of it through one decision took the
    message out of every other decision's ``model_dump(exclude_unset=True)``. It refuses, as translations do;
    a copy of the reason holds a plain set of its own."""
    first, second = (seed_gate.approve_order(_blocked_order()) for _ in range(2))
    assert first.reasons[0] is second.reasons[0]
    before = second.model_dump(exclude_unset=True)
    with pytest.raises(TypeError, match="cannot be changed"):
        first.reasons[0].model_fields_set.discard("message")
    assert second.model_dump(exclude_unset=True) == before
    assert "message" in before["reasons"][0]
    copied = copy.copy(first.reasons[0])
    assert type(copied.model_fields_set) is set
    copied.model_fields_set.discard("message")
    assert second.model_dump(exclude_unset=True) == before


def test_a_copy_of_a_shared_reason_or_approval_is_the_callers_own_to_change(seed_gate: Gate) -> None:
    """A copy (``copy``, ``deepcopy``, pickling, ``dict(...)``) holds an ordinary dict or list again, equal."""
    decision = seed_gate.approve_order(_blocked_order())
    for copied in (copy.deepcopy(decision), pickle.loads(pickle.dumps(decision)),  # noqa: S301 - our own bytes
                   decision.model_copy(deep=True)):
        assert copied == decision
        reason, approval = copied.reasons[0], copied.approvals[0]
        assert type(reason.translations) is dict
        assert type(approval.rules) is list
        reason.translations["en"] = "changed"
        approval.rules.append("mine")
    translations = dict(decision.reasons[0].translations)
    translations["en"] = "changed"
    assert copy.copy(decision.reasons[0].translations) == decision.reasons[0].translations != translations
    assert json.loads(decision.model_dump_json())["reasons"][0]["translations"] == decision.reasons[0].translations


def test_the_fields_set_priced_lines_share_refuses_changes_and_a_copy_is_the_callers_own(seed_gate: Gate) -> None:
    """Every priced line (every model assembled with all its fields) holds its class's one set of field names,
    not a set of its own: changing it would change every other line's, so it refuses; what copying, pickling
    and ``model_copy`` give holds a plain set, equal."""
    order = {"order": {"id": "SO-8", "customer_id": "C1", "order_date": "2026-11-23", "lines": [
        {"line_no": n, "sku": "P1", "qty": 1, "unit_price": "10"} for n in (1, 2)]},
        "customer": {"id": "C1", "name": "华东", "credit_limit": "50000"}}
    pricing = seed_gate.price_order(order).pricing
    assert pricing is not None
    first, second = pricing.lines
    assert first.model_fields_set is second.model_fields_set
    assert first.model_fields_set == set(PricedLine.model_fields)
    with pytest.raises(TypeError, match="cannot be changed"):
        first.model_fields_set.add("extra")
    for copied in (copy.copy(first), copy.deepcopy(first), pickle.loads(pickle.dumps(first)),  # noqa: S301
                   first.model_copy(update={"qty": 2})):
        assert type(copied.model_fields_set) is set
        assert copied.model_fields_set == first.model_fields_set
        copied.model_fields_set.add("mine")
    assert "mine" not in second.model_fields_set
    assert first.model_dump(exclude_unset=True) == first.model_dump()


def test_a_priced_lines_adjustments_are_built_once_when_first_read(seed_gate: Gate,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Pricing keeps each change it made and builds the adjustments when something reads them, once: the
    same adjustments, read as a list, in JSON and after pickling, as an eager build."""
    from salesgate.policy import verdict

    built: list[int] = []
    adjustments_made = verdict.adjustments_made

    def counting(changes: Any) -> list[PriceAdjustment]:
        built.append(len(changes))
        return adjustments_made(changes)

    monkeypatch.setattr(verdict, "adjustments_made", counting)
    order = {"order": {"id": "SO-7", "customer_id": "C1", "order_date": "2026-11-23",
                       "lines": [{"line_no": 1, "sku": "P1", "qty": 120, "unit_price": "1013.65"}]},
             "customer": {"id": "C1", "name": "华东机电", "grade": "B", "region_has_distributor": True,
                          "credit_limit": "50000.00"},
             "products": [{"sku": "P1", "list_price": "1013.65", "cost": "700", "stock": 500}]}
    line = seed_gate.price_order(order).pricing.lines[0]  # type: ignore[union-attr]
    assert built == []
    adjustments = list(line.adjustments)
    assert built == [len(adjustments)]
    assert adjustments
    assert all(type(adjustment) is PriceAdjustment for adjustment in adjustments)
    assert line_price(adjustments[-1].price_after) == line.policy_price
    assert line.adjustments == adjustments
    assert line.adjustments[0] == adjustments[0]
    assert json.loads(line.model_dump_json())["adjustments"] == [a.model_dump(mode="json") for a in adjustments]
    assert pickle.loads(pickle.dumps(line)) == line  # noqa: S301 - our own bytes
    assert PricedLine.model_validate(line.model_dump()) == line
    assert built == [len(adjustments)]
