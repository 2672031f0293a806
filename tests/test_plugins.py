"""Plugins: registering, disabling, failing to load, combining, and the contract of every hook.

The meta-tests at the end fail when a hook is added without a documented spec, without a section
in docs/plugins.md, or without a test here.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import inspect
import json
import logging
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from pydantic import BaseModel, ConfigDict, Field

from salesgate import (
    AdapterError,
    Approval,
    Bilingual,
    Combine,
    CreditExposure,
    Customer,
    Decision,
    Delivery,
    FactsError,
    FieldType,
    Gate,
    Notification,
    Order,
    OrderFacts,
    Origin,
    Outcome,
    OutputSpec,
    PluginError,
    Policy,
    Product,
    Reason,
    ReturnFacts,
    TraceEntry,
    hookimpl,
    hookspecs,
    load_policy,
)
from salesgate.cli import cli, find_plugin_commands, plugin_commands
from salesgate.context import DecisionContext
from salesgate.decisions import (
    Contribution,
    CreditResult,
    PriceAdjustment,
    PricedLine,
    PricingResult,
    ReturnResult,
)
from salesgate.defaults import DEFAULT_COMMANDS
from salesgate.plugins import DISABLE_ENV, build_plugin_manager
from salesgate.seed import seed_policy_path

ROOT = Path(__file__).resolve().parents[1]

ORDER: dict[str, Any] = {
    "order": {"id": "SO-1", "customer_id": "C-1", "order_date": "2026-11-23",
              "lines": [{"line_no": 1, "sku": "P-1", "qty": 2, "unit_price": "300.00"}]},
    "customer": {"id": "C-1", "name": "华东机电有限公司", "status": "blocked", "credit_limit": "1000"},
    "products": [{"sku": "P-1", "list_price": "300.00", "cost": "100.00", "stock": 10}],
}


@pytest.fixture(scope="module")
def seed() -> Policy:
    return load_policy(seed_policy_path())


@pytest.fixture(autouse=True)
def _no_env_disables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DISABLE_ENV, raising=False)


def make_gate(policy: Policy, **options: Any) -> Gate:
    options.setdefault("entry_points", False)
    return Gate(policy, backend="python", **options)


# -- third-party plugins --------------------------------------------------------------------------------

class LegalReview:
    """A company plugin: contracts over 500 need legal, whatever the YAML policy says."""

    @hookimpl
    def salesgate_order_approval(self, facts: OrderFacts, context: DecisionContext) -> Decision | None:
        if facts.order.total <= 500:
            return None
        return Decision(
            hook="order_approval", subject=facts.order.id, outcome=Outcome.require_approval,
            approvals=[Approval(role="legal", rules=["acme-legal-review"])],
            reasons=[Reason(rule="acme-legal-review", outcome=Outcome.require_approval,
                            message="合同金额超过 500 元需法务审核", plugin="acme")],
            policy=context.policy_ref, backend=context.backend.name,
            trace=[TraceEntry(rule="acme-legal-review", ruleset="acme", file="acme.py", line=1, fired=True)],
        )


class Auditor:
    """Another company plugin: every order needs an (unknown to the ladder) auditor and is warned."""

    @hookimpl
    def salesgate_order_approval(self, facts: OrderFacts, context: DecisionContext) -> Decision | None:
        return Decision(
            hook="order_approval", subject=facts.order.id, outcome=Outcome.warn,
            approvals=[Approval(role="auditor", rules=["acme-audit"])],
            reasons=[Reason(rule="acme-audit", outcome=Outcome.warn, message="audit sample", plugin="acme-audit")],
            policy=context.policy_ref, backend=context.backend.name,
            trace=[TraceEntry(rule="acme-audit", ruleset="acme", file="audit.py", line=7, fired=True)],
        )


def test_third_party_plugin_adds_a_reason_and_an_approval(seed: Policy) -> None:
    decision = make_gate(seed, plugins=[LegalReview()]).approve_order(ORDER)
    assert decision.outcome is Outcome.block  # the policy's blocked-customer rule is more severe
    assert decision.required_roles == ["legal"]
    assert [(r.rule, r.plugin) for r in decision.reasons] == [("blocked-customer", "rules"),
                                                               ("acme-legal-review", "acme")]
    assert "test_plugins.LegalReview" in make_gate(seed, plugins=[LegalReview()]).hooks.plugin_names()


def test_plugin_abstaining_changes_nothing(seed: Policy) -> None:
    small = json.loads(json.dumps(ORDER))
    small["order"]["lines"][0]["qty"] = 1
    alone = make_gate(seed).approve_order(small)
    assert make_gate(seed, plugins=[LegalReview()]).approve_order(small) == alone


def test_results_do_not_depend_on_plugin_registration_order(seed: Policy) -> None:
    one = make_gate(seed, plugins=[LegalReview(), Auditor()]).approve_order(ORDER, explain=True)
    other = make_gate(seed, plugins=[Auditor(), LegalReview()]).approve_order(ORDER, explain=True)
    assert one.model_dump_json() == other.model_dump_json()
    assert one.required_roles == ["legal", "auditor"]  # ladder roles first, then the others by name
    # trace entries follow plugin names: "rules" < "test_plugins.Auditor" < "test_plugins.LegalReview"
    assert [t.rule for t in one.trace][-2:] == ["acme-audit", "acme-legal-review"]


class CashFlowWatch:
    """Adds its own credit figures' verdict: more than 500 open receivables is worth a warning."""

    @hookimpl
    def salesgate_credit_check(self, facts: OrderFacts, context: DecisionContext) -> Decision | None:
        if facts.exposure.open_receivables <= 500:
            return None
        return Decision(hook="credit_check", subject=facts.order.id, outcome=Outcome.warn,
                        reasons=[Reason(rule="acme-cash-flow", outcome=Outcome.warn, message="应收偏高",
                                        plugin="acme")],
                        policy=context.policy_ref, backend=context.backend.name)


class QualityDesk:
    """Every defect return goes to the quality department as well."""

    @hookimpl
    def salesgate_return_handling(self, facts: ReturnFacts, context: DecisionContext) -> Decision | None:
        if facts.return_request.reason != "defect":
            return None
        return Decision(hook="return_handling", subject=facts.return_request.id, outcome=Outcome.allow,
                        notifications=[Notification(role="quality", rule="acme-quality", message="质量问题")],
                        policy=context.policy_ref, backend=context.backend.name)


def test_third_party_plugins_join_every_decision_hook(seed: Policy) -> None:
    gate = make_gate(seed, plugins=[CashFlowWatch(), QualityDesk()])
    order = {**ORDER, "exposure": {"open_receivables": "600"}}
    credit = gate.check_credit(order)
    assert [r.rule for r in credit.reasons] == ["over-limit-no-plan", "acme-cash-flow"]
    assert credit.credit is not None
    assert credit.credit.exposure == 1200
    returned = gate.handle_return({
        "return": {"id": "RT-1", "customer_id": "C-1", "reason": "defect", "original_order_id": "SO-0",
                   "sku": "P-1", "qty": 1, "unit_price": "300", "delivered_qty": 2, "days_since_delivery": 3},
        "customer": {"id": "C-1", "name": "华东机电有限公司"},
    })
    assert [(n.role, n.rule) for n in returned.notifications] == [("quality", "acme-quality"),
                                                                   ("sales_manager", "quick-defect-return")]
    assert returned.returns is not None
    assert returned.returns.refund_amount == 300


def test_a_plugin_registered_or_removed_on_a_running_gate_takes_part_from_the_next_decision(seed: Policy) -> None:
    gate = make_gate(seed)
    assert "legal" not in gate.approve_order(ORDER).required_roles
    review = LegalReview()
    gate.hooks.pm.register(review, name="acme-legal")
    assert "legal" in gate.approve_order(ORDER).required_roles
    gate.hooks.pm.unregister(review)
    assert "legal" not in gate.approve_order(ORDER).required_roles


def test_the_same_plugin_cannot_be_passed_twice(seed: Policy) -> None:
    plugin = LegalReview()
    with pytest.raises(PluginError, match=re.escape("plugin 'test_plugins.LegalReview' is already registered")):
        make_gate(seed, plugins=[plugin, plugin])


def test_module_plugin_is_named_after_its_module(seed: Policy) -> None:
    import salesgate_plugins.audit as audit_module

    gate = make_gate(seed, plugins=[audit_module], disable_plugins=["audit"])
    assert "salesgate_plugins.audit" in gate.hooks.plugin_names()


class Nonsense:
    @hookimpl
    def salesgate_nonsense(self) -> None:
        """Not a salesgate hook."""


def test_plugin_implementing_an_unknown_hook_is_refused(seed: Policy) -> None:
    with pytest.raises(PluginError) as info:
        make_gate(seed, plugins=[Nonsense()])
    assert "plugin 'test_plugins.Nonsense' implements an unknown hook" in str(info.value)
    assert "salesgate_nonsense" in str(info.value)


class FactsOnly:
    """Takes only the argument it needs, as hookspecs.py allows: no context."""

    @hookimpl
    def salesgate_order_approval(self, facts: OrderFacts) -> Decision | None:
        return None if facts.order.total <= 500 else Decision.model_validate({
            "hook": "order_approval", "subject": facts.order.id, "outcome": "warn",
            "reasons": [{"rule": "facts-only", "outcome": "warn", "message": "big", "plugin": "facts_only"}],
            "policy": {"name": "acme", "version": "1", "hash": "-"}, "backend": "python"})

    @hookimpl
    def salesgate_credit_figures(self) -> None:
        return None


def test_a_hook_implementation_may_take_any_subset_of_the_hooks_arguments(seed: Policy) -> None:
    gate = make_gate(seed, plugins=[FactsOnly()])
    decision = gate.approve_order(ORDER)
    assert decision.failure is None
    assert "facts-only" in [r.rule for r in decision.reasons]
    assert gate.check_credit(ORDER).failure is None


class Misspelt:
    @hookimpl
    def salesgate_order_approval(self, fact: OrderFacts, context: DecisionContext) -> None:
        """'fact' is not an argument of the hook."""


def test_a_hook_implementation_with_an_unknown_argument_stops_the_gate_naming_the_plugin(
        seed: Policy, entry_points: list[FakeEntryPoint]) -> None:
    with pytest.raises(PluginError, match=r"plugin 'test_plugins.Misspelt' does not fit salesgate's hooks: .*"
                                          r"\{'fact'\}"):
        make_gate(seed, plugins=[Misspelt()])
    entry_points.append(FakeEntryPoint("acme_typo", loaded=Misspelt))
    with pytest.raises(PluginError, match=r"plugin 'acme_typo' does not fit salesgate's hooks: .* Fix or uninstall "
                                          r"it, or disable it with SALESGATE_DISABLE_PLUGINS=acme_typo"):
        make_gate(seed, entry_points=True)


class Unmarked:
    def salesgate_order_approval(self, facts: OrderFacts, context: DecisionContext) -> None:
        """Looks like a hook implementation, but has no @hookimpl: pluggy never calls it."""


def test_a_method_named_like_a_hook_without_hookimpl_is_named_in_a_warning(
        seed: Policy, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="salesgate.plugins"):
        make_gate(seed, plugins=[Unmarked()])
    assert [r.getMessage() for r in caplog.records] == [
        "plugin 'test_plugins.Unmarked': salesgate_order_approval has no @hookimpl and will never be called"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="salesgate.plugins"):
        make_gate(seed, plugins=[LegalReview()])
    assert caplog.records == []


# -- built-in plugins and disabling -------------------------------------------------------------------------

def test_builtin_plugins_are_ordinary_named_plugins(seed: Policy) -> None:
    assert make_gate(seed).hooks.plugin_names() == ["adapters", "audit", "credit", "rules"]


def test_disable_plugins_leaves_a_builtin_out(seed: Policy, caplog: pytest.LogCaptureFixture) -> None:
    gate = make_gate(seed, disable_plugins=["audit"])
    assert gate.hooks.plugin_names() == ["adapters", "credit", "rules"]
    with caplog.at_level(logging.INFO, logger="salesgate.audit"):
        gate.approve_order(ORDER)
    assert not [r for r in caplog.records if r.name == "salesgate.audit"]


def test_environment_variable_disables_plugins(seed: Policy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DISABLE_ENV, " audit, credit ")
    gate = make_gate(seed)
    assert gate.hooks.plugin_names() == ["adapters", "rules"]
    decision = gate.check_credit(ORDER)
    assert decision.credit is None  # the credit plugin contributes the exposure figures
    assert decision.failure is None


def test_disabling_the_rules_plugin_fails_safely(seed: Policy) -> None:
    decision = make_gate(seed, disable_plugins=["rules"]).approve_order(ORDER)
    assert decision.outcome is Outcome.block
    assert decision.failure == "no plugin answered salesgate_order_approval: is the 'rules' plugin disabled?"


# -- contributions: plugins contribute, the facade stamps -------------------------------------------------

RETURN: dict[str, Any] = {
    "return": {"id": "RT-1", "customer_id": "C-1", "reason": "defect", "original_order_id": "SO-0",
               "sku": "P-1", "qty": 1, "unit_price": "300", "delivered_qty": 2, "days_since_delivery": 3},
    "customer": {"id": "C-1", "name": "华东机电有限公司"},
}


class HouseRules:
    """A company that decides everything itself, instead of the YAML policy."""

    @hookimpl
    def salesgate_order_approval(self, facts: OrderFacts, context: DecisionContext) -> Contribution:
        return Contribution(outcome=Outcome.require_approval, approvals=["general_manager"],
                            reasons=[Reason(rule="house-approval", outcome=Outcome.require_approval,
                                            message="every order goes to the boss", plugin="rules")])

    @hookimpl
    def salesgate_credit_check(self, facts: OrderFacts, context: DecisionContext) -> Contribution:
        over = facts.exposure.total + facts.order.total > facts.customer.credit_limit
        return Contribution(outcome=Outcome.block if over else Outcome.allow,
                            reasons=[Reason(rule="house-limit", outcome=Outcome.block, message="over")] if over else [])

    @hookimpl
    def salesgate_pricing(self, facts: OrderFacts, context: DecisionContext) -> Contribution:
        lines = [PricedLine(line_no=line.line_no, sku=line.sku, qty=line.qty, list_price=None,
                            requested_unit_price=line.unit_price, policy_price=line.unit_price)
                 for line in facts.order.lines]
        total = sum((line.policy_amount for line in lines), Decimal(0))
        return Contribution(pricing=PricingResult(lines=lines, policy_total=total, requested_total=total))

    @hookimpl
    def salesgate_return_handling(self, facts: ReturnFacts, context: DecisionContext) -> Contribution:
        amount = facts.return_request.amount
        return Contribution(outcome=Outcome.warn, notifications=[Notification(role="quality", rule="house-returns",
                                                                              message="look at it")],
                            returns=ReturnResult(amount=amount, refund_rate=Decimal(1), restocking_fee=Decimal(0),
                                                 refund_amount=amount))


@pytest.mark.parametrize("hook", ["order_approval", "credit_check", "pricing", "return_handling"])
def test_a_company_plugin_replaces_the_rules_plugin_at_every_decision_point(seed: Policy, hook: str) -> None:
    gate = make_gate(seed, disable_plugins=["rules"], plugins=[HouseRules()])
    decision = gate.decide(hook, RETURN if hook == "return_handling" else ORDER)  # type: ignore[arg-type]
    assert decision.failure is None
    assert (decision.hook, decision.policy, decision.backend) == (hook, seed.ref, "python")
    assert decision.subject == ("RT-1" if hook == "return_handling" else "SO-1")
    assert decision.trace == []  # no policy rule ran: the rules plugin is gone
    assert all(reason.plugin == "test_plugins.HouseRules" for reason in decision.reasons)
    if hook == "order_approval":  # the policy would block this blocked customer; the company asks the boss
        assert (decision.outcome, decision.required_roles) == (Outcome.require_approval, ["general_manager"])
        assert [r.rule for r in decision.reasons] == ["house-approval"]
    elif hook == "credit_check":  # 600 of 1000: within the limit; the default credit figures still show
        assert decision.outcome is Outcome.allow
        assert decision.credit is not None
        assert decision.credit.available == Decimal("400.00")
    elif hook == "pricing":
        assert decision.outcome is Outcome.allow
        assert decision.pricing is not None
        assert [line.policy_price for line in decision.pricing.lines] == [Decimal("300.00")]
    else:
        assert decision.outcome is Outcome.warn
        assert [n.rule for n in decision.notifications] == ["house-returns"]
        assert decision.returns is not None
        assert decision.returns.refund_amount == Decimal("300")


def test_a_reason_a_plugin_labels_with_another_plugins_name_shows_its_own(seed: Policy) -> None:
    """The facade stamps the contributing plugin's name on every reason of a Contribution, and on a
    Decision's reasons whose label is not the plugin's to give (another plugin's name, or none)."""
    class Impostor:
        @hookimpl
        def salesgate_order_approval(self, facts: OrderFacts, context: DecisionContext) -> Decision:
            return Decision(hook="order_approval", subject=facts.order.id, outcome=Outcome.warn,
                            reasons=[Reason(rule="own", outcome=Outcome.warn, message="m", plugin="rules"),
                                     Reason(rule="unlabelled", outcome=Outcome.warn, message="m")],
                            policy=context.policy_ref, backend=context.backend.name)

    decision = make_gate(seed, plugins=[Impostor()]).approve_order(ORDER)
    labels = {r.rule: r.plugin for r in decision.reasons}
    assert labels["own"] == labels["unlabelled"] == f"test_plugins.{Impostor.__qualname__}"
    assert labels["blocked-customer"] == "rules"
    company = make_gate(seed, disable_plugins=["rules"], plugins=[HouseRules()]).approve_order(ORDER)
    assert [r.plugin for r in company.reasons] == ["test_plugins.HouseRules"]  # it wrote plugin="rules"


def test_a_payload_contributed_to_another_decision_point_names_the_plugin(seed: Policy) -> None:
    class Misplaced:
        @hookimpl
        def salesgate_order_approval(self, facts: OrderFacts, context: DecisionContext) -> Contribution:
            return Contribution(returns=ReturnResult(amount=Decimal(1), refund_rate=Decimal(1),
                                                     restocking_fee=Decimal(0), refund_amount=Decimal(1)))

    decision = make_gate(seed, plugins=[Misplaced()]).approve_order(ORDER)
    assert decision.outcome is Outcome.block
    assert decision.failure == (f"plugin 'test_plugins.{Misplaced.__qualname__}' contributed returns to "
                                "salesgate_order_approval; only salesgate_return_handling carries returns: "
                                "leave it None there")


FAKE_POLICY = {"name": "fake", "version": "9", "hash": "ffff"}


def _deciding(**fields: Any) -> type:
    """A plugin answering the order approval with a full Decision built from ``fields``."""
    class Deciding:
        @hookimpl
        def salesgate_order_approval(self, facts: OrderFacts, context: DecisionContext) -> Decision:
            return Decision.model_validate({"hook": "order_approval", "subject": facts.order.id, "outcome": "warn",
                                            "policy": FAKE_POLICY, "backend": "durable", **fields})

    return Deciding


def test_a_decision_a_plugin_returns_gets_the_policy_and_backend_from_the_gate(seed: Policy) -> None:
    """Before: a plugin named to sort before 'rules' returned policy=FAKE, backend="durable", and
    the combined decision said so (combine took them from the first decision)."""
    gate = make_gate(seed)
    gate.hooks.pm.register(_deciding()(), name="__main__.Liar")
    decision = gate.approve_order(ORDER)
    assert decision.failure is None
    assert (decision.subject, decision.policy, decision.backend) == ("SO-1", seed.ref, "python")


@pytest.mark.parametrize(("fields", "says"), [
    ({"subject": "SO-OTHER"}, "returned a Decision on 'SO-OTHER' from salesgate_order_approval, which decides 'SO-1'"),
    ({"failure": "I say so"}, "set failure on the Decision it returned from salesgate_order_approval"),
    ({"returns": {"amount": "1", "refund_rate": "1", "restocking_fee": "0", "refund_amount": "1"}},
     "contributed returns to salesgate_order_approval; only salesgate_return_handling carries returns"),
])
def test_a_decision_a_plugin_returns_cannot_claim_what_only_salesgate_sets(
        seed: Policy, fields: dict[str, Any], says: str) -> None:
    """Before: a Decision on another order, with its own ``failure``, or with another decision
    point's payload went through unchanged (outcome allow, failure "I say so")."""
    gate = make_gate(seed)
    gate.hooks.pm.register(_deciding(**fields)(), name="__main__.Liar")
    decision = gate.approve_order(ORDER)
    assert (decision.subject, decision.outcome) == ("SO-1", Outcome.block)  # the failure mode: closed
    assert decision.failure is not None
    assert decision.failure.startswith("plugin '__main__.Liar' ")
    assert says in decision.failure


@pytest.mark.parametrize("label", ["rules", "credit", "audit", "adapters", "store", "store_commands", "salesgate",
                                   "test_plugins.LegalReview"])
def test_a_decision_cannot_label_its_reasons_with_a_built_in_or_another_plugins_name(seed: Policy, label: str) -> None:
    """Before: with ``rules`` disabled, a reason labelled "rules" stayed "rules" (only registered
    names were refused). A label is the plugin's own short name, never another's."""
    reasons = [{"rule": "own", "outcome": "warn", "message": "m", "plugin": label},
               {"rule": "short", "outcome": "warn", "message": "m", "plugin": "acme"}]
    gate = make_gate(seed, disable_plugins=["rules", "credit", "audit"],
                     plugins=[_deciding(reasons=reasons)(), LegalReview()])
    decision = gate.approve_order(ORDER)
    assert decision.failure is None
    labels = {reason.rule: reason.plugin for reason in decision.reasons}
    assert labels["own"] == "test_plugins._deciding.<locals>.Deciding"
    assert labels["short"] == "acme"  # a label of its own choosing stays


def test_the_context_names_the_policy_and_asks_it_for_its_verdict(seed: Policy) -> None:
    seen: list[DecisionContext] = []

    class Reader:
        @hookimpl
        def salesgate_order_approval(self, facts: OrderFacts, context: DecisionContext) -> Contribution:
            seen.append(context)
            verdict = context.verdict("order_approval", facts)
            return Contribution(outcome=verdict.outcome, reasons=verdict.reasons, approvals=verdict.approvals)

    gate = make_gate(seed, disable_plugins=["rules"], plugins=[Reader()])
    decision = gate.approve_order(ORDER)
    assert decision.outcome is Outcome.block  # the policy's blocked-customer rule, through the company plugin
    reader = f"test_plugins.{Reader.__qualname__}"
    assert [(r.rule, r.plugin) for r in decision.reasons] == [("blocked-customer", reader)]
    [context] = seen
    assert (context.policy_ref, context.roles, context.backend.name, context.explain) == (
        seed.ref, seed.roles, "python", False)
    assert not hasattr(context, "policy")  # the compiled policy stays the core's


def test_a_stop_in_the_policy_survives_another_plugins_pricing(seed: Policy) -> None:
    """Two pricing plugins: the seed policy's unknown-product rule stops the line (no markup may
    apply), and a company plugin's later markup on that line is not applied when they combine."""
    class Surcharge:
        @hookimpl
        def salesgate_pricing(self, facts: OrderFacts, context: DecisionContext) -> Contribution:
            lines = []
            for line in facts.order.lines:
                markup = PriceAdjustment(rule="acme-surcharge", kind="markup", value=Decimal("0.5"), priority=50,
                                         price_before=line.unit_price, price_after=line.unit_price * Decimal("1.5"))
                lines.append(PricedLine(line_no=line.line_no, sku=line.sku, qty=line.qty, list_price=None,
                                        requested_unit_price=line.unit_price,
                                        policy_price=markup.price_after, adjustments=[markup]))
            return Contribution(pricing=PricingResult(lines=lines, policy_total=Decimal(0),
                                                      requested_total=Decimal(0)))

    order = json.loads(json.dumps(ORDER))
    order["customer"]["status"] = "active"
    order["order"]["lines"].append({"line_no": 2, "sku": "UNKNOWN", "qty": 1, "unit_price": "100"})
    decision = make_gate(seed, plugins=[Surcharge()]).price_order(order)
    assert decision.pricing is not None
    known, unknown = decision.pricing.lines
    assert [a.rule for a in known.adjustments][-1] == "acme-surcharge"
    assert unknown.adjustments == []  # stopped by unknown-product before the surcharge's priority
    assert unknown.policy_price == Decimal("100.00")


# -- pluggy's call-order options ------------------------------------------------------------------------------

class Wrapping:
    @hookimpl(wrapper=True)
    def salesgate_order_approval(self, facts: OrderFacts, context: DecisionContext) -> Any:
        return (yield)


class OldStyleWrapping:
    @hookimpl(hookwrapper=True)
    def salesgate_order_approval(self, facts: OrderFacts, context: DecisionContext) -> Any:
        yield


class First:
    @hookimpl(tryfirst=True)
    def salesgate_credit_check(self, facts: OrderFacts, context: DecisionContext) -> None:
        return None


class Last:
    @hookimpl(trylast=True)
    def salesgate_return_handling(self, facts: ReturnFacts, context: DecisionContext) -> None:
        return None


class WrappingRecorder:
    @hookimpl(wrapper=True)
    def salesgate_record_decision(self, decision: Decision) -> Any:
        return (yield)


@pytest.mark.parametrize(("plugin", "option", "hook"), [
    (Wrapping(), "wrapper=True", "salesgate_order_approval"),
    (OldStyleWrapping(), "hookwrapper=True", "salesgate_order_approval"),
    (First(), "tryfirst=True", "salesgate_credit_check"),
    (Last(), "trylast=True", "salesgate_return_handling"),
    (WrappingRecorder(), "wrapper=True", "salesgate_record_decision"),
])
def test_call_order_options_the_facade_cannot_honour_are_refused_when_the_plugin_registers(
        seed: Policy, plugin: object, option: str, hook: str) -> None:
    """Before: a wrapper blocked every order (its generator is no Decision) and tryfirst/trylast
    were silently ignored. Now the gate does not start, and says why and what to do."""
    with pytest.raises(PluginError) as caught:
        make_gate(seed, plugins=[plugin])
    message = str(caught.value)
    assert f"@hookimpl({option})" in message
    assert hook in message
    assert type(plugin).__name__ in message
    assert "docs/plugins.md" in message


def test_a_call_order_option_on_a_plugin_registered_later_is_refused_at_its_first_call(seed: Policy) -> None:
    gate = make_gate(seed)
    gate.hooks.pm.register(Wrapping(), name="late")
    decision = gate.approve_order(ORDER)
    assert decision.failure is not None
    assert "@hookimpl(wrapper=True)" in decision.failure


def test_a_recorder_registered_later_with_a_refused_option_is_logged_and_skipped(
        seed: Policy, caplog: pytest.LogCaptureFixture) -> None:
    """Before: approve_order raised the PluginError. Recorders never change the decision nor raise."""
    recorded: list[str] = []

    class Recorder:
        @hookimpl
        def salesgate_record_decision(self, decision: Decision) -> None:
            recorded.append(decision.subject)

    gate = make_gate(seed, plugins=[Recorder()])
    expected = gate.approve_order(ORDER)
    gate.hooks.pm.register(WrappingRecorder(), name="late-recorder")
    with caplog.at_level(logging.ERROR, logger="salesgate.plugins"):
        decision = gate.approve_order(ORDER)
        gate.approve_order(ORDER)
    assert decision == expected
    assert recorded == ["SO-1"] * 3  # the other recorders still run
    messages = [r.getMessage() for r in caplog.records if r.name == "salesgate.plugins"]
    assert len(messages) == 1  # once, not at every decision
    assert "'late-recorder'" in messages[0]
    assert "@hookimpl(wrapper=True)" in messages[0]


@pytest.mark.parametrize(("hook", "says"), [
    ("salesgate_order_approval", "Return what the plugin adds (a Contribution"),
    ("salesgate_credit_figures", "Return a CreditResult from a plain @hookimpl"),
    ("salesgate_record_decision", "Record the decision from a plain @hookimpl"),
])
def test_a_refused_wrapper_is_told_the_reason_of_its_own_hook(seed: Policy, hook: str, says: str) -> None:
    """Before: every facade-called hook was told it is "combined by a fixed precedence" and to
    return a Contribution, which is wrong for the recorders and the credit figures."""
    def wrap(self: object, **arguments: Any) -> Any:
        return (yield)

    wrap.__signature__ = inspect.signature(getattr(hookspecs, hook))  # type: ignore[attr-defined]
    plugin = type("Wrapper", (), {hook: hookimpl(wrapper=True)(wrap)})()
    with pytest.raises(PluginError) as caught:
        make_gate(seed, plugins=[plugin])
    assert says in str(caught.value)
    if hook != "salesgate_order_approval":
        assert "Contribution" not in str(caught.value)
        assert "precedence" not in str(caught.value)


def test_a_refused_option_on_an_entry_point_plugin_says_how_to_disable_it(
        seed: Policy, entry_points: list[FakeEntryPoint]) -> None:
    entry_points.append(FakeEntryPoint("acme_first", loaded=First))
    with pytest.raises(PluginError) as caught:
        make_gate(seed, entry_points=True)
    assert "@hookimpl(tryfirst=True)" in str(caught.value)
    assert f"{DISABLE_ENV}=acme_first" in str(caught.value)
    with pytest.raises(PluginError) as passed:
        make_gate(seed, plugins=[First()])
    assert DISABLE_ENV not in str(passed.value)  # a plugin passed in is not disabled by name


def test_call_order_options_work_on_the_data_hooks_which_pluggy_calls(seed: Policy) -> None:
    class Fallback:
        @hookimpl(trylast=True)
        def salesgate_load_customer(self, customer_id: str) -> Customer:
            return Customer(id=customer_id, name="fallback")

    class Preferred:
        @hookimpl(tryfirst=True)
        def salesgate_load_customer(self, customer_id: str) -> Customer:
            return Customer(id=customer_id, name="preferred")

    for plugins in ([Fallback(), Preferred()], [Preferred(), Fallback()]):
        gate = make_gate(seed, plugins=plugins)
        customer = gate.hooks.load_customer("C-9")
        assert customer is not None
        assert customer.name == "preferred"


# -- entry points --------------------------------------------------------------------------------------------

class FakeEntryPoint:
    """Stands in for importlib.metadata.EntryPoint (name, value, dist, load)."""

    def __init__(self, name: str, loaded: Any = None, error: Exception | None = None) -> None:
        self.name, self.value, self.group = name, f"{name}_pkg.plugin", "salesgate"
        self.dist = None
        self._loaded, self._error = loaded, error

    def load(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._loaded


@pytest.fixture
def entry_points(monkeypatch: pytest.MonkeyPatch) -> list[FakeEntryPoint]:
    installed: list[FakeEntryPoint] = []

    def fake(*, group: str) -> list[FakeEntryPoint]:
        return installed if group == "salesgate" else []

    monkeypatch.setattr("salesgate.plugins.importlib.metadata.entry_points", fake)
    return installed


def test_entry_point_plugin_is_loaded_under_its_name(seed: Policy, entry_points: list[FakeEntryPoint]) -> None:
    entry_points.append(FakeEntryPoint("acme_legal", loaded=LegalReview))  # a class is instantiated
    gate = make_gate(seed, entry_points=True)
    assert "acme_legal" in gate.hooks.plugin_names()
    assert gate.approve_order(ORDER).required_roles == ["legal"]


def test_broken_entry_point_stops_the_gate_and_says_how_to_disable_it(
    seed: Policy, entry_points: list[FakeEntryPoint],
) -> None:
    entry_points.append(FakeEntryPoint("acme_broken", error=ImportError("No module named 'acme_db'")))
    with pytest.raises(PluginError) as info:
        make_gate(seed, entry_points=True)
    assert str(info.value) == (
        "plugin 'acme_broken' failed to load from 'acme_broken_pkg.plugin': ImportError: No module named 'acme_db'. "
        "Fix or uninstall it, or disable it with SALESGATE_DISABLE_PLUGINS=acme_broken")


def test_broken_entry_point_can_be_disabled(seed: Policy, entry_points: list[FakeEntryPoint],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    entry_points.append(FakeEntryPoint("acme_broken", error=RuntimeError("boom")))
    assert "acme_broken" not in make_gate(seed, entry_points=True, disable_plugins=["acme_broken"]).hooks.plugin_names()
    monkeypatch.setenv(DISABLE_ENV, "acme_broken")
    assert make_gate(seed, entry_points=True).approve_order(ORDER).failure is None


def test_a_plugin_passed_while_its_entry_point_registers_it_is_refused(
        seed: Policy, entry_points: list[FakeEntryPoint]) -> None:
    entry_points.append(FakeEntryPoint("acme_legal", loaded=LegalReview))
    with pytest.raises(PluginError, match=r"plugin 'test_plugins\.LegalReview' is already registered as 'acme_legal'"):
        make_gate(seed, entry_points=True, plugins=[LegalReview()])


def test_entry_point_cannot_take_a_builtin_name(seed: Policy, entry_points: list[FakeEntryPoint]) -> None:
    entry_points.append(FakeEntryPoint("audit", loaded=Auditor))
    expected = "plugin name 'audit' from entry point 'audit_pkg.plugin' is already registered"
    with pytest.raises(PluginError, match=re.escape(expected)):
        make_gate(seed, entry_points=True)


def test_real_entry_point_objects_are_accepted(seed: Policy, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.metadata.EntryPoint(name="acme_missing", value="acme_missing_pkg.plugin", group="salesgate")
    monkeypatch.setattr("salesgate.plugins.importlib.metadata.entry_points", lambda *, group: [real])
    with pytest.raises(PluginError, match=r"plugin 'acme_missing' failed to load .*ModuleNotFoundError"):
        make_gate(seed, entry_points=True)


# -- data hooks (adapters) ------------------------------------------------------------------------------------

class ErpAdapter:
    """Answers the data hooks for customer C-1 and order SO-1, like an adapter over an ERP."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, Any]] = []

    @hookimpl
    def salesgate_load_customer(self, customer_id: str) -> Customer | None:
        self.asked.append(("customer", customer_id))
        return Customer.model_validate(ORDER["customer"]) if customer_id == "C-1" else None

    @hookimpl
    def salesgate_load_exposure(self, customer_id: str) -> CreditExposure | None:
        self.asked.append(("exposure", customer_id))
        return CreditExposure.model_validate({"open_receivables": "900", "overdue_amount": "100",
                                              "max_overdue_days": 120})

    @hookimpl
    def salesgate_load_products(self, skus: list[str]) -> list[Product] | None:
        self.asked.append(("products", skus))
        return [Product.model_validate(p) for p in ORDER["products"] if p["sku"] in skus]

    @hookimpl
    def salesgate_load_order(self, order_id: str) -> Order | None:
        self.asked.append(("order", order_id))
        return Order.model_validate(ORDER["order"]) if order_id == "SO-1" else None

    @hookimpl
    def salesgate_load_delivery(self, order_id: str, sku: str) -> Delivery | None:
        self.asked.append(("delivery", (order_id, sku)))
        if (order_id, sku) != ("SO-1", "P-1"):
            return None
        return Delivery(order_id="SO-1", sku="P-1", customer_id="C-1", delivered_qty=2, unit_price=Decimal("300"),
                        delivered_on=date(2026, 11, 3), already_returned_qty=1)


def test_adapter_fills_in_what_the_caller_left_out(seed: Policy) -> None:
    adapter = ErpAdapter()
    gate = make_gate(seed, plugins=[adapter])
    decision = gate.check_credit({"order": "SO-1"})
    assert adapter.asked == [("order", "SO-1"), ("customer", "C-1"), ("exposure", "C-1"), ("products", ["P-1"])]
    assert decision.credit is not None
    assert decision.credit.exposure == 1500
    assert {"over-limit-no-plan", "long-overdue", "any-overdue"} <= set(decision.fired)
    assert gate.approve_order({"order": ORDER["order"]}).fired == ["blocked-customer"]


PARTIAL_RETURN: dict[str, Any] = {
    "id": "RT-1", "customer_id": "C-1", "type": "return", "reason": "defect", "original_order_id": "SO-1",
    "sku": "P-1", "qty": 1, "requested_on": "2026-11-23",
}


def test_adapter_completes_a_return_from_its_delivery(seed: Policy) -> None:
    adapter = ErpAdapter()
    gate = make_gate(seed, plugins=[adapter])
    facts = gate.facts_for("return_handling", {"return": PARTIAL_RETURN})
    assert isinstance(facts, ReturnFacts)
    request = facts.return_request
    assert (request.unit_price, request.delivered_qty, request.already_returned_qty) == (300, 2, 1)
    assert request.days_since_delivery == 20
    assert adapter.asked == [("delivery", ("SO-1", "P-1")), ("customer", "C-1")]
    assert gate.handle_return({"return": PARTIAL_RETURN}).failure is None


def test_facts_the_caller_passed_are_not_asked_for(seed: Policy) -> None:
    adapter = ErpAdapter()
    make_gate(seed, plugins=[adapter]).approve_order({**ORDER, "exposure": {}})
    assert adapter.asked == []


class WrongCustomer:
    @hookimpl
    def salesgate_load_customer(self, customer_id: str) -> Any:
        return {"id": customer_id}


def test_adapter_returning_the_wrong_type_is_a_plugin_error(seed: Policy) -> None:
    decision = make_gate(seed, plugins=[WrongCustomer()]).approve_order({"order": ORDER["order"]})
    assert decision.outcome == "block"  # an adapter breaking its contract fails closed, it never raises
    assert decision.failure == "salesgate_load_customer returned dict; expected Customer or None"


class SqlAdapter:
    pass


class OtherSqlAdapter:
    pass


class RegistersSql:
    @hookimpl
    def salesgate_register_adapters(self, register: Any) -> None:
        register("acme-sql", SqlAdapter)


class RegistersOtherSql:
    @hookimpl
    def salesgate_register_adapters(self, register: Any) -> None:
        register("acme-sql", OtherSqlAdapter)


def test_adapters_register_by_name_and_a_duplicate_names_both_classes(seed: Policy) -> None:
    registered = make_gate(seed, plugins=[RegistersSql()]).hooks.register_adapters()
    assert registered["acme-sql"] is SqlAdapter
    assert set(registered) == {"acme-sql", "memory", "sql"}  # memory and sql: the built-in adapters plugin
    gate = make_gate(seed, plugins=[RegistersSql(), RegistersOtherSql()])
    with pytest.raises(PluginError) as info:
        gate.hooks.register_adapters()
    assert "adapter name 'acme-sql' is registered twice" in str(info.value)
    assert "test_plugins.SqlAdapter" in str(info.value)
    assert "test_plugins.OtherSqlAdapter" in str(info.value)


class Files:
    def __init__(self, path: str = ".") -> None:
        self.path = path


class RegistersFiles:
    """An entry-point plugin named like the adapter it registers, as most are."""

    @hookimpl
    def salesgate_register_adapters(self, register: Any) -> None:
        register("acme_files", Files)


def test_an_adapter_named_in_the_disable_variable_is_refused_as_disabled(
    seed: Policy, entry_points: list[FakeEntryPoint], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SALESGATE_DISABLE_PLUGINS=x then adapter="x": the adapter is off and the error says why, whether x names
    the adapter (sql) or the plugin that registers it (its entry point was never imported)."""
    entry_points.append(FakeEntryPoint("acme_files", loaded=RegistersFiles))
    monkeypatch.setenv(DISABLE_ENV, "acme_files,sql")
    for name in ("acme_files", "sql"):
        with pytest.raises(AdapterError) as info:
            make_gate(seed, entry_points=True, adapter=name,
                      adapter_options={"url": "sqlite://"} if name == "sql" else {})
        assert str(info.value) == (f"adapter {name!r} is disabled (SALESGATE_DISABLE_PLUGINS=acme_files,sql): "
                                   f"remove {name!r} from it to use the adapter")
    assert "sql" not in make_gate(seed).hooks.register_adapters()


def test_an_adapter_whose_builtin_plugin_is_disabled_names_that_plugin(seed: Policy) -> None:
    with pytest.raises(AdapterError) as info:
        make_gate(seed, disable_plugins=["adapters"], adapter="sql", adapter_options={"url": "sqlite://"})
    assert str(info.value) == ("adapter 'sql' is registered by the built-in plugin 'adapters', which is disabled "
                               "(disable_plugins=['adapters']): remove 'adapters' from it to use the adapter")


def test_an_unknown_adapter_lists_the_disabled_plugins_that_may_register_it(
    seed: Policy, entry_points: list[FakeEntryPoint],
) -> None:
    entry_points.append(FakeEntryPoint("acme_csv", loaded=RegistersFiles))
    with pytest.raises(AdapterError) as info:
        make_gate(seed, entry_points=True, disable_plugins=["acme_csv"], adapter="csv")
    assert str(info.value) == ("unknown adapter 'csv': installed adapters are memory, sql; disabled plugins, which "
                               "may register it: acme_csv")


def test_disable_plugins_given_as_one_string_is_refused(seed: Policy) -> None:
    with pytest.raises(TypeError, match=r"disable_plugins takes a list of names, got the string 'audit': "
                                        r"disable_plugins=\['audit'\]"):
        make_gate(seed, disable_plugins="audit")


class Recorder:
    def __init__(self) -> None:
        self.decisions: list[Decision] = []

    @hookimpl
    def salesgate_record_decision(self, decision: Decision) -> None:
        self.decisions.append(decision)


def test_every_decision_is_recorded_once(seed: Policy) -> None:
    recorder = Recorder()
    gate = make_gate(seed, plugins=[recorder])
    made = [gate.approve_order(ORDER), gate.check_credit(ORDER), gate.price_order(ORDER)]
    assert recorder.decisions == made


class FactsRecorder:
    def __init__(self) -> None:
        self.facts: list[OrderFacts | ReturnFacts | None] = []

    @hookimpl
    def salesgate_record_decision(self, decision: Decision, facts: OrderFacts | ReturnFacts | None) -> None:
        self.facts.append(facts)


def test_recorders_may_take_the_facts_decided_on(seed: Policy) -> None:
    recorder = FactsRecorder()
    gate = make_gate(seed, plugins=[recorder, WrongCustomer()])
    gate.approve_order(ORDER)
    gate.approve_order({"order": ORDER["order"]})  # the adapter breaks: a fallback, decided on no facts
    assert isinstance(recorder.facts[0], OrderFacts)
    assert recorder.facts[0].customer.name == "华东机电有限公司"
    assert recorder.facts[1] is None


class CountsConfirmedOrders:
    """An ERP in which order SO-A is confirmed already: its open orders count it."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, list[str]]] = []

    @hookimpl
    def salesgate_load_counted_orders(self, customer_id: str, order_ids: list[str]) -> list[str] | None:
        self.asked.append((customer_id, order_ids))
        return [order_id for order_id in order_ids if order_id == "SO-A"]


def test_a_reservation_the_erp_already_counts_does_not_count_twice(seed: Policy, tmp_path: Path) -> None:
    from salesgate_adapters.store import Store

    store = Store(f"sqlite:///{tmp_path / 'salesgate.db'}")
    store.upgrade()
    erp = CountsConfirmedOrders()
    gate = make_gate(seed, plugins=[erp], store=store)

    def order(order_id: str) -> dict[str, Any]:  # 600 against a limit of 1000
        return {**ORDER, "order": {**ORDER["order"], "id": order_id}}

    assert gate.check_credit(order("SO-A"), reserve=True).outcome is Outcome.allow
    assert erp.asked == []  # nothing was held yet: nothing to ask about
    second = gate.check_credit(order("SO-B"), reserve=True)
    assert erp.asked == [("C-1", ["SO-A"])]
    assert second.outcome is Outcome.allow  # 600 held for SO-A would have made it 1200 > 1000
    assert second.credit is not None
    assert second.credit.exposure == 600
    confirmed = store.reservation("SO-A")
    assert confirmed is not None
    assert confirmed.status == "confirmed"
    gate.close()


def test_plugins_receive_frozen_facts(seed: Policy) -> None:
    class Meddler:
        @hookimpl
        def salesgate_pricing(self, facts: OrderFacts, context: DecisionContext) -> Decision | None:
            facts.customer.grade = "A"  # type: ignore[misc,assignment]
            return None

    decision = make_gate(seed, plugins=[Meddler()]).price_order(ORDER)
    assert decision.failure is not None
    assert "frozen" in decision.failure.lower()


# -- audit ----------------------------------------------------------------------------------------------------

def test_audit_plugin_logs_one_json_line_with_chinese_unescaped(seed: Policy,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="salesgate.audit"):
        decision = make_gate(seed).approve_order(ORDER)
    lines = [r.getMessage() for r in caplog.records if r.name == "salesgate.audit"]
    assert len(lines) == 1
    assert "客户已冻结，禁止下单" in lines[0]
    assert "\\u" not in lines[0]
    logged = json.loads(lines[0])
    assert logged["outcome"] == "block"
    assert logged["subject"] == decision.subject
    assert logged["policy"]["hash"] == decision.policy.hash
    assert "trace" not in logged  # the trace can hold customer data


# -- the documentation's example ------------------------------------------------------------------------------

def test_the_plugin_example_in_the_docs_works(seed: Policy, tmp_path: Path) -> None:
    docs = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    example = docs.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "acme_watch_list.py").write_text(example, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("acme_watch_list", tmp_path / "acme_watch_list.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    decision = make_gate(seed, plugins=[module.LegalWatchList()]).approve_order(ORDER)
    assert decision.failure is None
    assert decision.required_roles == ["legal"]
    assert "acme-watch-list" in [r.rule for r in decision.reasons]


# -- credit figures ----------------------------------------------------------------------------------


class NettedExposure:
    """A company that nets its customers' deposits against exposure: figures of its own."""

    def __init__(self, deposit: str = "250") -> None:
        self.deposit = Decimal(deposit)

    @hookimpl
    def salesgate_credit_figures(self, facts: OrderFacts, context: DecisionContext) -> CreditResult | None:
        exposure = facts.exposure.total + facts.order.total - self.deposit
        limit = facts.customer.credit_limit
        return CreditResult(exposure=exposure, limit=limit, available=limit - exposure,
                            overdue_amount=facts.exposure.overdue_amount,
                            max_overdue_days=facts.exposure.max_overdue_days)


def test_the_credit_plugin_shows_exposure_limit_and_available_on_credit_checks(seed: Policy) -> None:
    decision = make_gate(seed).check_credit(ORDER)
    assert decision.credit is not None
    assert (decision.credit.exposure, decision.credit.limit, decision.credit.available) == (
        Decimal("600.00"), Decimal("1000"), Decimal("400.00"))
    assert make_gate(seed, disable_plugins=["credit"]).check_credit(ORDER).credit is None


def test_a_company_plugins_credit_figures_replace_the_built_in_ones(seed: Policy) -> None:
    decision = make_gate(seed, plugins=[NettedExposure()]).check_credit(ORDER)
    assert decision.credit is not None
    assert (decision.credit.exposure, decision.credit.available) == (Decimal("350.00"), Decimal("650.00"))
    assert decision.outcome is make_gate(seed).check_credit(ORDER).outcome  # figures never decide


def test_the_credit_figures_example_in_the_docs_works_with_the_current_field_name(seed: Policy) -> None:
    """docs/plugins.md's NettedExposure, run as written (``deposits`` is the company's own function)."""
    docs = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    [example] = [b for b in re.findall(r"```python\n(.*?)```", docs, re.S) if "salesgate_credit_figures" in b]
    assert "CreditResult(exposure=" not in example  # the deprecated alias of exposure_after_order
    namespace: dict[str, Any] = {"hookimpl": hookimpl, "CreditResult": CreditResult,
                                 "deposits": lambda customer_id: Decimal("250")}
    exec(example, namespace)  # noqa: S102 - the documentation's own example, run as documented
    decision = make_gate(seed, plugins=[namespace["NettedExposure"]()]).check_credit(ORDER)
    assert decision.credit is not None
    assert (decision.credit.exposure_after_order, decision.credit.available) == (Decimal("350.00"), Decimal("650.00"))


def test_two_company_plugins_computing_credit_figures_fail_closed_naming_both(seed: Policy) -> None:
    second = NettedExposure("1")
    second.__class__ = type("OtherNetting", (NettedExposure,), {})
    decision = make_gate(seed, plugins=[NettedExposure(), second]).check_credit(ORDER)
    assert decision.outcome is Outcome.block
    assert decision.failure is not None
    assert "NettedExposure" in decision.failure
    assert "OtherNetting" in decision.failure


def test_the_built_in_credit_figures_are_a_default_by_trylast_not_by_name(seed: Policy) -> None:
    """Any plugin's figures marked trylast are a default, the built-in ones included; figures
    without it replace them, whatever the plugins are called."""
    class CompanyDefault(NettedExposure):
        @hookimpl(trylast=True)
        def salesgate_credit_figures(self, facts: OrderFacts, context: DecisionContext) -> CreditResult | None:
            return NettedExposure.salesgate_credit_figures(self, facts, context)

    gate = make_gate(seed)
    [builtin] = gate.hooks.pm.hook.salesgate_credit_figures.get_hookimpls()
    assert (builtin.plugin_name, builtin.trylast) == ("credit", True)
    # Without the built-in, a company default is the figures; NettedExposure's replace it.
    alone = make_gate(seed, disable_plugins=["credit"], plugins=[CompanyDefault("100")]).check_credit(ORDER)
    assert alone.credit is not None
    assert alone.credit.exposure_after_order == Decimal("500.00")
    both = make_gate(seed, disable_plugins=["credit"],
                     plugins=[CompanyDefault("100"), NettedExposure()]).check_credit(ORDER)
    assert both.failure is None
    assert both.credit is not None
    assert both.credit.exposure_after_order == Decimal("350.00")


def test_credit_figures_of_the_wrong_type_are_a_plugin_error(seed: Policy) -> None:
    class Broken:
        @hookimpl
        def salesgate_credit_figures(self, facts: OrderFacts, context: DecisionContext) -> Any:
            return {"exposure": "1"}

    decision = make_gate(seed, plugins=[Broken()]).check_credit(ORDER)
    assert decision.failure is not None
    assert "expected a CreditResult" in decision.failure


@pytest.mark.parametrize("alone", [True, False], ids=["alone", "beside-the-built-in"])
def test_credit_figures_that_are_a_contribution_are_a_plugin_error_naming_the_plugin(seed: Policy, alone: bool) -> None:
    """Before, a Contribution (what a decision hook returns) passed as credit figures and broke the Decision."""
    class Confused:
        @hookimpl
        def salesgate_credit_figures(self, facts: OrderFacts, context: DecisionContext) -> Any:
            return Contribution(outcome=Outcome.allow)

    gate = make_gate(seed, plugins=[Confused()], disable_plugins=["credit"] if alone else [])
    decision = gate.check_credit(ORDER)
    assert decision.outcome is Outcome.block
    assert decision.failure is not None
    assert "returned Contribution from salesgate_credit_figures; expected a CreditResult or None" in decision.failure


def test_a_credit_figures_plugin_that_raises_alone_is_named_in_the_failure(seed: Policy) -> None:
    class Raising:
        @hookimpl
        def salesgate_credit_figures(self, facts: OrderFacts, context: DecisionContext) -> Any:
            raise ZeroDivisionError("no limit today")

    decision = make_gate(seed, plugins=[Raising()], disable_plugins=["credit"]).check_credit(ORDER)
    assert decision.failure is not None
    assert "failed in salesgate_credit_figures: ZeroDivisionError: no limit today" in decision.failure


# -- commands plugins add to the salesgate command ------------------------------------------------------------


class AddsHello:
    @hookimpl
    def salesgate_register_commands(self, cli: click.Group) -> None:
        @cli.command()
        def hello() -> None:
            """Say hello from a plugin."""
            click.echo("hello from a plugin")


class AddsDb:
    @hookimpl
    def salesgate_register_commands(self, cli: click.Group) -> None:
        cli.add_command(click.Command("db"))


class FailsToAddCommands:
    @hookimpl
    def salesgate_register_commands(self, cli: click.Group) -> None:
        raise RuntimeError("no click today")


def test_a_plugin_adds_a_command_beside_the_built_in_ones() -> None:
    commands = plugin_commands(plugins=[AddsHello()])
    assert {"hello", "db", "approvals", "audit", "demo"} <= set(commands)
    result = CliRunner().invoke(commands["hello"], [])
    assert result.exit_code == 0, result.output
    assert result.output == "hello from a plugin\n"


def test_a_command_name_taken_twice_names_both_owners() -> None:
    with pytest.raises(PluginError) as by_core:
        plugin_commands(taken={"hello"}, plugins=[AddsHello()])
    assert str(by_core.value) == ("command 'hello' is added twice: by 'salesgate' and by plugin "
                                  "'test_plugins.AddsHello'; disable one with SALESGATE_DISABLE_PLUGINS")
    with pytest.raises(PluginError) as by_plugin:
        plugin_commands(plugins=[AddsDb()])
    assert "command 'db' is added twice: by 'store_commands' and by plugin 'test_plugins.AddsDb'" in str(
        by_plugin.value)


def test_a_plugin_failing_to_add_commands_is_named() -> None:
    with pytest.raises(PluginError, match=r"^plugin 'test_plugins.FailsToAddCommands' failed in "
                                          r"salesgate_register_commands: RuntimeError: no click today$"):
        plugin_commands(plugins=[FailsToAddCommands()])


def test_the_built_in_commands_can_be_disabled_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DISABLE_ENV, "demo_commands")
    assert "demo" not in plugin_commands()
    assert "db" in plugin_commands()


class OrdersCommands:
    """A command provider the tests mark with each of pluggy's call-order options in turn."""

    def salesgate_register_commands(self, cli: click.Group) -> Any:
        cli.add_command(click.Command("ordered"))


class WrapsCommands:
    @hookimpl(wrapper=True)
    def salesgate_register_commands(self, cli: click.Group) -> Any:
        cli.add_command(click.Command("wrapped"))
        return (yield)


class CommandsAndATryfirstDecision(AddsHello):
    """Adds a command, and marks a decision hook with an option the gate refuses."""

    @hookimpl(tryfirst=True)
    def salesgate_order_approval(self, facts: OrderFacts, context: DecisionContext) -> Contribution | None:
        return None


class CommandsAndAMisspeltHook(AddsHello):
    """Adds a command, and implements a hook that does not exist."""

    @hookimpl
    def salesgate_nonsense(self) -> None:
        return None


@pytest.mark.parametrize("option", ["hookwrapper", "tryfirst", "trylast"])
def test_a_call_order_option_on_the_commands_hook_is_refused(option: str) -> None:
    plugin = type(f"Orders{option.title()}", (OrdersCommands,), {
        "salesgate_register_commands": hookimpl(**{option: True})(OrdersCommands.salesgate_register_commands)})()
    found = find_plugin_commands(plugins=[plugin])
    assert "ordered" not in found.commands
    [failure] = found.failures
    assert failure.problem == (
        f"plugin 'test_plugins.Orders{option.title()}' implements salesgate_register_commands with "
        f"@hookimpl({option}=True), which salesgate does not support there: every plugin's commands are added, "
        f"each plugin in a group of its own, so there is no call to wrap or to order. Remove {option}=True; "
        f"see docs/plugins.md#hook-order-and-wrappers")
    with pytest.raises(PluginError, match=rf"@hookimpl\({option}=True\)"):
        plugin_commands(plugins=[plugin])


def test_a_new_style_wrapper_on_the_commands_hook_is_refused_not_run() -> None:
    found = find_plugin_commands(plugins=[WrapsCommands()])
    assert "wrapped" not in found.commands
    assert [failure.plugin for failure in found.failures] == ["test_plugins.WrapsCommands"]
    assert "@hookimpl(wrapper=True), which salesgate does not support there" in found.failures[0].problem
    assert found.failures[0].explained().endswith("Or disable it with SALESGATE_DISABLE_PLUGINS="
                                                  "test_plugins.WrapsCommands")


def test_a_failing_command_provider_leaves_out_only_its_own_commands() -> None:
    found = find_plugin_commands(plugins=[FailsToAddCommands(), AddsHello()])
    assert {"hello", "db", "approvals", "audit", "demo"} <= set(found.commands)
    [failure] = found.failures
    assert failure.plugin == "test_plugins.FailsToAddCommands"
    assert failure.explained() == (
        "plugin 'test_plugins.FailsToAddCommands' failed in salesgate_register_commands: RuntimeError: no click "
        "today. Fix or uninstall it, or disable it with SALESGATE_DISABLE_PLUGINS=test_plugins.FailsToAddCommands")


def test_a_provider_adding_a_taken_name_is_left_out_whole() -> None:
    found = find_plugin_commands(plugins=[AddsDb()])
    assert found.commands["db"].name == "db"
    assert found.commands["db"].help  # the store's db group, not the plugin's empty command
    [failure] = found.failures
    assert (failure.plugin, failure.commands) == ("test_plugins.AddsDb", frozenset({"db"}))
    assert found.missing("db").startswith("command 'db' is not available: command 'db' is added twice")


@pytest.mark.parametrize(("plugin", "refusal"), [(CommandsAndATryfirstDecision, "with @hookimpl(tryfirst=True)"),
                                                  (CommandsAndAMisspeltHook, "unknown hook 'salesgate_nonsense'")])
def test_a_decision_plugins_problems_are_the_gates_not_the_commands(seed: Policy, plugin: type, refusal: str) -> None:
    with pytest.raises(PluginError, match=re.escape(refusal)):
        make_gate(seed, plugins=[plugin()])
    found = find_plugin_commands(plugins=[plugin()])
    assert found.failures == ()
    assert {"hello", "db"} <= set(found.commands)


def test_salesgate_help_lists_the_healthy_commands_and_warns_of_a_failing_provider(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(DEFAULT_COMMANDS, "zz_broken", "test_plugins:FailsToAddCommands")
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    listed = {line.split()[0] for line in result.stdout.split("Commands:\n", 1)[1].splitlines()}
    assert {"approvals", "audit", "db", "decide", "demo", "validate"} <= listed
    assert result.stderr == ("warning: leaving out the commands of plugin 'zz_broken': plugin 'zz_broken' failed in "
                             "salesgate_register_commands: RuntimeError: no click today. Fix or uninstall it, or "
                             "disable it with SALESGATE_DISABLE_PLUGINS=zz_broken\n")


def test_an_unknown_command_beside_a_failing_provider_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(DEFAULT_COMMANDS, "zz_broken", "test_plugins:FailsToAddCommands")
    result = CliRunner().invoke(cli, ["hello"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no command 'hello', and some plugins failed to add their commands "
                                    "(one may have added it): plugin 'zz_broken' failed")
    assert "SALESGATE_DISABLE_PLUGINS=zz_broken" in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    db = CliRunner().invoke(cli, ["db", "--help"])
    assert db.exit_code == 0, db.output
    assert "upgrade" in db.stdout
    assert db.stderr.startswith("warning: leaving out the commands of plugin 'zz_broken'")


def test_a_wrapper_on_the_commands_hook_is_refused_by_salesgate_help(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(DEFAULT_COMMANDS, "zz_wraps", "test_plugins:WrapsCommands")
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    assert "wrapped" not in result.stdout
    assert result.stderr.startswith("warning: leaving out the commands of plugin 'zz_wraps': plugin 'zz_wraps' "
                                    "implements salesgate_register_commands with @hookimpl(wrapper=True)")
    assert CliRunner().invoke(cli, ["wrapped"]).exit_code == 2


# -- decision points a plugin declares ------------------------------------------------------------------------

class _SampleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    customer_id: str
    value: Decimal = Field(description="What the samples are worth.")


class _SampleFacts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sample: _SampleRequest
    customer: Customer


class _SamplePoint:
    """Declares sample_request with its own pydantic model, loads samples by id, and adds a note."""

    @hookimpl
    def salesgate_register_points(self, register: Any) -> None:
        register(name="sample_request", document=_SampleFacts, subject="sample.id",
                 title={"zh": "样品申请", "en": "Sample request"},
                 description={"zh": "免费样品申请", "en": "A request for free samples"},
                 outputs=[OutputSpec("deposit", FieldType.percent, Bilingual("押金", "Deposit"), Combine.max)])

    @hookimpl
    def salesgate_load_document(self, point: str, document_id: str) -> dict[str, Any] | None:
        if point == "sample_request" and document_id == "S-7":
            return {"id": "S-7", "customer_id": "C-1", "value": "8000"}
        return None

    @hookimpl
    def salesgate_load_customer(self, customer_id: str) -> Customer | None:
        return Customer(id=customer_id, name="华东机电") if customer_id == "C-1" else None

    @hookimpl
    def salesgate_decide(self, point: str, facts: Any, context: DecisionContext) -> Contribution | None:
        if point != "sample_request":
            return None
        return Contribution(notifications=[{"role": "sales_manager", "rule": "samples", "message": "样品已申请"}],
                            outputs={"courier": "SF"} if facts.sample.value > 9000 else {})


def _sample_policy(tmp_path: Path) -> Path:
    (tmp_path / "policy.yaml").write_text("name: p\nversion: '1'\nroles: [sales_manager, general_manager]\n",
                                          encoding="utf-8")
    (tmp_path / "samples.yaml").write_text(
        "ruleset: samples\nhook: sample_request\nversion: '1'\nrules:\n"
        "  - id: big-sample\n    when: sample.value > 5000\n"
        "    then: {require: [sales_manager], message: 样品超过五千元, set: {deposit: 20%}}\n", encoding="utf-8")
    return tmp_path


def test_a_plugin_declares_a_point_its_model_validates_and_the_policy_decides_at(tmp_path: Path) -> None:
    gate = Gate.from_path(_sample_policy(tmp_path), backend="python", plugins=[_SamplePoint()], entry_points=False)
    spec = gate.policy.points["sample_request"]
    assert (spec.origin, spec.source, spec.hook) == (Origin.plugin, "test_plugins._SamplePoint", "salesgate_decide")
    decision = gate.decide("sample_request", {"sample": "S-7"})  # loaded by id, the customer by its id
    assert (decision.hook, decision.subject, decision.outcome) == ("sample_request", "S-7", Outcome.require_approval)
    assert decision.required_roles == ["sales_manager"]
    assert decision.outputs == {"deposit": Decimal("0.2")}  # the rules plugin's, combined with the plugin's note
    assert [n.rule for n in decision.notifications] == ["samples"]
    with pytest.raises(FactsError, match="no sample 'S-8'"):
        gate.decide("sample_request", {"sample": "S-8"})
    # An output the point does not declare is the plugin's error: the failure mode answers, naming it.
    failed = gate.decide("sample_request", {"sample": {"id": "S-9", "customer_id": "C-1", "value": "9500"}})
    assert failed.outcome is Outcome.block
    assert "set output courier at sample_request, which is not declared there (it declares deposit)" in (
        failed.failure or "")


def test_an_output_several_plugins_set_combines_as_the_point_declares(tmp_path: Path) -> None:
    class Deposit:
        """Asks a 10% deposit on every sample: combine max keeps the rules' 20% above 5,000."""

        @hookimpl
        def salesgate_decide(self, point: str) -> Contribution | None:
            return Contribution(outputs={"deposit": Decimal("0.1")}) if point == "sample_request" else None

    gate = Gate.from_path(_sample_policy(tmp_path), backend="python", plugins=[_SamplePoint(), Deposit()],
                          entry_points=False)
    big = {"sample": {"id": "S-1", "customer_id": "C-1", "value": "6000"}}
    small = {"sample": {"id": "S-2", "customer_id": "C-1", "value": "100"}}
    assert gate.decide("sample_request", big).outputs == {"deposit": Decimal("0.2")}
    assert gate.decide("sample_request", small).outputs == {"deposit": Decimal("0.1")}


class _VisitHistory:
    """Computes the visit plan's history facts from a little book of visits, as an ERP adapter would."""

    def __init__(self, answer: Any = None) -> None:
        self.asked: list[tuple[str, dict[str, Any], list[str], date | None]] = []
        self.answer = answer

    @hookimpl
    def salesgate_load_history(self, document: str, keys: dict[str, Any], facts: list[Any],
                               as_of: date | None) -> Any:
        self.asked.append((document, dict(keys), [f.path for f in facts], as_of))
        if self.answer is not None:
            return self.answer
        visits = {"王芳": 38, "李雷": 61}
        if document == "visits":
            start, end = facts[0].bounds(date(2026, 12, 5))
            assert (start, end) == (date(2026, 11, 1), date(2026, 12, 1))  # "1 month": all of November
            return {"rep_visits_last_month": visits.get(keys["rep"])}
        return {"days_since_last_follow_up": 75} if keys["customer_id"] == "C-1" else None


def _visit_policy(tmp_path: Path) -> Path:
    (tmp_path / "policy.yaml").write_text(
        "name: p\nversion: '1'\nroles: [sales_manager]\nfacts:\n  customer.days_since_last_follow_up:\n"
        "    type: integer\n    window: all\n    description: {zh: 未跟进天数, en: Days since followed up}\n",
        encoding="utf-8")
    (tmp_path / "points").mkdir()
    (tmp_path / "points" / "visit_plan.yaml").write_text(
        "point: visit_plan\ntitle: {zh: 拜访计划, en: Visit plan}\ndescription: {zh: 月度拜访计划, en: A visit plan}\n"
        "document: visits\nincludes: [customer]\nfields:\n  id: {type: text, description: {zh: 编号, en: Number}}\n"
        "  rep: {type: text, description: {zh: 销售人员, en: Rep}}\n"
        "  customer_id: {type: text, description: {zh: 客户, en: Customer}}\n"
        "  rep_visits_last_month:\n    type: integer\n    window: 1 month\n"
        "    description: {zh: 上月拜访次数, en: Visits the rep made last month}\n", encoding="utf-8")
    (tmp_path / "visits.yaml").write_text(
        "ruleset: visits\nhook: visit_plan\nversion: '1'\nrules:\n"
        "  - id: few-visits\n    when: visits.rep_visits_last_month < 40\n    then: {warn: 上月拜访不足 40 次}\n"
        "  - id: not-followed-up\n    when: customer.days_since_last_follow_up > 60\n"
        "    then: {warn: 客户超过 60 天未跟进}\n",
        encoding="utf-8")
    return tmp_path


def test_an_adapter_computes_the_history_facts_of_a_declared_points_document(tmp_path: Path) -> None:
    history = _VisitHistory()
    gate = Gate.from_path(_visit_policy(tmp_path), backend="python", plugins=[_SamplePoint(), history],
                          entry_points=False)
    decision = gate.decide("visit_plan", {"visits": {"id": "V-1", "rep": "王芳", "customer_id": "C-1"}})
    assert sorted(r.rule for r in decision.reasons) == ["few-visits", "not-followed-up"]
    assert sorted(history.asked) == [
        ("customer", {"id": "C-1", "name": "华东机电", "customer_id": "C-1", **_customer_keys()},
         ["customer.days_since_last_follow_up"], None),
        ("visits", {"id": "V-1", "rep": "王芳", "customer_id": "C-1", "visits_id": "V-1"},
         ["visits.rep_visits_last_month"], None)]
    busy = gate.decide("visit_plan", {"visits": {"id": "V-2", "rep": "李雷", "customer_id": "C-1",
                                                 "rep_visits_last_month": 12}})  # sent: wins, not asked
    assert [r.rule for r in busy.reasons] == ["few-visits", "not-followed-up"]
    assert [asked[0] for asked in history.asked[2:]] == ["customer"]


def test_a_history_answer_that_is_not_a_dict_is_the_plugins_error(tmp_path: Path) -> None:
    gate = Gate.from_path(_visit_policy(tmp_path), backend="python", plugins=[_SamplePoint(), _VisitHistory([1])],
                          entry_points=False)
    decision = gate.decide("visit_plan", {"visits": {"id": "V-1", "rep": "王芳", "customer_id": "C-1"}})
    assert decision.outcome is Outcome.block
    assert "salesgate_load_history returned list; expected a dict {fact name: value} or None" in (
        decision.failure or "")


def _customer_keys() -> dict[str, Any]:
    """The single values a shipped Customer has besides id and name, as history keys carry them."""
    customer = Customer(id="C-1", name="华东机电").model_dump()
    return {name: value.value if hasattr(value, "value") else value for name, value in customer.items()
            if name not in ("id", "name")}


def test_a_plugin_cannot_declare_a_built_in_point() -> None:
    class Clash:
        @hookimpl
        def salesgate_register_points(self, register: Any) -> None:
            register(name="pricing", document=_SampleFacts, subject="sample.id", title={"zh": "x", "en": "x"},
                     description={"zh": "x", "en": "x"})

    with pytest.raises(PluginError, match="declares point 'pricing', which is built in"):
        Gate.from_path(seed_policy_path(), backend="python", plugins=[Clash()], entry_points=False)


# -- meta-tests: every hook is specified, documented and tested ---------------------------------------------

HOOKSPECS = sorted(
    name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("salesgate_") and hasattr(fn, "salesgate_spec")
)


def test_there_are_hookspecs() -> None:
    assert len(HOOKSPECS) >= 10


@pytest.mark.parametrize("name", HOOKSPECS)
def test_every_hookspec_is_documented_in_its_docstring(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert ":param" in doc or "Return" in doc, name
    assert "Added in" in doc, name


@pytest.mark.parametrize("name", HOOKSPECS)
def test_every_hookspec_has_a_section_in_the_plugin_docs(name: str) -> None:
    assert name in (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", HOOKSPECS)
def test_every_hookspec_is_exercised_by_these_tests(name: str) -> None:
    source = Path(__file__).read_text(encoding="utf-8").split("# -- meta-tests", 1)[0]
    assert f"def {name}(" in source, f"no plugin in tests/test_plugins.py implements {name}"


def test_every_hookspec_argument_is_typed_and_has_no_default() -> None:
    for name in HOOKSPECS:
        for param in inspect.signature(getattr(hookspecs, name)).parameters.values():
            assert param.default is inspect.Parameter.empty, (name, param.name)
            assert param.annotation is not inspect.Parameter.empty, (name, param.name)


def test_a_fresh_plugin_manager_has_every_hookspec() -> None:
    pm = build_plugin_manager(entry_points=False)
    assert sorted(n for n in dir(pm.hook) if n.startswith("salesgate_")) == HOOKSPECS


def test_data_hooks_are_derived_once_from_the_hookspecs() -> None:
    from salesgate import plugins, testing

    assert sorted(hookspecs.DATA_HOOKS) == [name for name in HOOKSPECS if name.startswith("salesgate_load_")]
    assert set(hookspecs.REQUIRED_DATA_HOOKS) == set(hookspecs.DATA_HOOKS) - hookspecs.OPTIONAL_DATA_HOOKS
    assert hookspecs.REQUIRED_DATA_HOOKS == ("salesgate_load_customer", "salesgate_load_exposure",
                                             "salesgate_load_products", "salesgate_load_order")
    assert plugins.DATA_HOOKS is hookspecs.DATA_HOOKS
    assert testing.REQUIRED_DATA_HOOKS is hookspecs.REQUIRED_DATA_HOOKS
