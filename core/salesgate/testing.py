"""salesgate's pytest plugin: a policy's YAML test cases as pytest items; fixtures and a contract for adapters.

Opt-in, like ``tox.pytest``: enable it with ``pytest -p salesgate.testing`` (or ``addopts = -p
salesgate.testing`` in your pytest configuration) or with ``pytest_plugins = ["salesgate.testing"]``
in the ``conftest.py`` at the root of your tests. salesgate declares no ``pytest11`` entry point,
so installing salesgate never changes anybody else's test run (not even by importing salesgate
into it), and ``import salesgate`` never imports this module (nor pytest).

Policy test cases
    With the plugin enabled, the ini option ``salesgate_rules = rules`` (one or more policy
    directories, relative to the ini file; or ``--salesgate-rules DIR``) makes every case of
    ``rules/tests/*.yaml`` a pytest item named after the case, located at its file:line, whose
    failure is the case's report (:meth:`salesgate.policy.testcases.CaseResult.report`).
    ``salesgate_backends = python durable`` (or ``--salesgate-backend NAME``, repeatable) runs
    each case on those backends (default: ``compiled``, the gate's default); with several, the
    item names end in ``[compiled]`` / ``[python]`` / ``[durable]``. ``salesgate_require_coverage = true`` adds a
    ``rule coverage`` item failing when a rule fires in no passing case; the rules no passing case
    fired are listed after every run in which all of a policy's cases ran. Without
    ``salesgate_rules`` no YAML file is collected. See docs/testing-rules.md.

Fixtures
    ``salesgate_seed_policy``   the seed policy shipped with salesgate, loaded once per session.
    ``salesgate_gate_factory``  builds Gates on that policy with the adapter you give it, and
                                closes them when the test ends.

The contract
    Subclass :class:`AdapterContract` in a ``Test*`` class, give it an ``adapter`` fixture and the
    ids your test data knows; every test method of the base class then runs against your adapter::

        from salesgate.testing import AdapterContract

        class TestMyAdapter(AdapterContract):
            adapter_name = "mine"                    # optional: also check registration by name
            known_customer_id = "C001"
            known_customer_name = "华东机电有限公司"
            known_skus = ("MOTOR-5.5", "VALVE-DN50")
            known_order_id = "SO-1001"

            @pytest.fixture
            def adapter(self): return MyAdapter(...)

            @pytest.fixture
            def adapter_options(self): return {...}  # what Gate(adapter="mine", adapter_options=...) needs

Importing this module builds nothing and registers nothing: the policy is loaded by the fixture.

The checks report through ``pytest.fail`` with a message saying which part of the contract
broke, so this module needs no assertion rewriting: PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import threading
import typing
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pluggy
import pytest
from pydantic import BaseModel

from . import hookspecs
from .engine import BACKEND_NAMES, DEFAULT_BACKEND, BackendName
from .errors import AdapterError, PolicyError, SalesgateError
from .gate import Gate, case_gate
from .hookspecs import REQUIRED_DATA_HOOKS
from .models import CreditExposure, Customer, Delivery, Order, Product, _Facts
from .plugins import installed_points
from .policy.compiler import Policy, load_policy
from .policy.testcases import (
    TESTS_DIR,
    CaseResult,
    TestCase,
    case_files,
    load_case_file,
    load_cases,
    run_all,
    run_case,
    uncovered,
)
from .seed import seed_policy_path

__all__ = [
    "AdapterContract",
    "GateFactory",
    "PolicyCaseFile",
    "PolicyCaseItem",
    "RuleCoverageItem",
    "adapter_only",
    "float_money",
    "refusing_float_money",
    "salesgate_gate_factory",
    "salesgate_seed_policy",
]

THREADS = 10


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def salesgate_seed_policy() -> Policy:
    """The seed policy shipped with salesgate (``rules/``), loaded and compiled once per session."""
    return load_policy(seed_policy_path())


class GateFactory:
    """Builds gates on one policy for one test; :meth:`close` closes them all (and so their adapters)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._gates: list[Gate] = []

    def __call__(
        self,
        adapter: str | object | None = None,
        /,
        *,
        policy: Policy | None = None,
        backend: BackendName = "python",
        entry_points: bool | None = None,
        **options: Any,
    ) -> Gate:
        """A gate reading facts through ``adapter``: a registered name (with its ``options``) or an instance.

        ``entry_points`` defaults to True for an adapter given by name, which may come from an
        installed package, and to False otherwise, so that other installed plugins cannot change
        what the test sees. Other ``options`` go to :class:`~salesgate.Gate` (``plugins``,
        ``disable_plugins``, ``failure_mode``, ``adapter_options`` for the adapter class).
        """
        if entry_points is None:
            entry_points = isinstance(adapter, str)
        gate = Gate(policy or self.policy, backend=backend, entry_points=entry_points, adapter=adapter, **options)
        self._gates.append(gate)
        return gate

    def close(self) -> None:
        while self._gates:
            self._gates.pop().close()


@pytest.fixture
def salesgate_gate_factory(salesgate_seed_policy: Policy) -> Iterator[GateFactory]:
    """``salesgate_gate_factory(adapter, **options)`` → a Gate on the seed policy (Python backend)."""
    factory = GateFactory(salesgate_seed_policy)
    yield factory
    factory.close()


# -- the contract ---------------------------------------------------------------------------------


def _expect(ok: bool, message: str) -> None:
    __tracebackhide__ = True  # a failure points at the contract's check, not at this helper
    if not ok:
        pytest.fail(message)


def _holds(annotation: Any, wanted: type) -> bool:
    """Whether ``annotation`` is ``wanted`` or holds it (``Money | None``, ``Annotated[Decimal, ...]``)."""
    return annotation is wanted or any(_holds(arg, wanted) for arg in typing.get_args(annotation))


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    """The fact models inside ``annotation`` (``list[OrderLine]`` → ``[OrderLine]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _nested_models(arg)]


def float_money(model: type[BaseModel], data: Any, where: str = "") -> list[str]:
    """The Decimal fields (money, rates) that ``data``, the input of ``model``, gives as a ``float``,
    nested models included, each as ``path given as the float value``."""
    found: list[str] = []
    if not isinstance(data, Mapping):
        return found
    for name, value in data.items():
        field = model.model_fields.get(name) if isinstance(name, str) else None
        if field is None:
            continue
        if type(value) is float and _holds(field.annotation, Decimal):
            found.append(f"{where}{name} given as the float {value!r}")
        for nested in _nested_models(field.annotation):
            if isinstance(value, list | tuple):
                for index, item in enumerate(value):
                    found += float_money(nested, item, f"{where}{name}[{index}].")
            else:
                found += float_money(nested, value, f"{where}{name}.")
    return found


def _refuse_float_money(model: type[BaseModel], data: Any) -> None:
    problems = float_money(model, data)
    if problems:
        raise TypeError(f"{model.__name__}: {'; '.join(problems)}: read money as a Decimal (NUMERIC, or the "
                        "text), never through float")


class _FloatMoneyGuard:
    """Wraps the fact models' constructor and ``model_validate`` while at least one block is open.

    The wrapping is process-wide (a model class is one object), so blocks opened by several threads
    at once (the contract's ten-thread test) share it: the first in wraps, the last out unwraps.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open = 0

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._lock:
            if not self._open:
                self._wrap()
            self._open += 1
        try:
            yield
        finally:
            with self._lock:
                self._open -= 1
                if not self._open:
                    facts: Any = _Facts
                    del facts.__init__
                    del facts.model_validate

    @staticmethod
    def _wrap() -> None:
        facts: Any = _Facts
        original_init, original_validate = BaseModel.__init__, vars(BaseModel)["model_validate"].__func__

        def checking_init(self: BaseModel, /, **data: Any) -> None:
            _refuse_float_money(type(self), data)
            original_init(self, **data)

        def checking_validate(cls: type[BaseModel], obj: Any, *args: Any, **kwargs: Any) -> Any:
            _refuse_float_money(cls, obj)
            return original_validate(cls, obj, *args, **kwargs)

        facts.__init__ = checking_init
        facts.model_validate = classmethod(checking_validate)


_FLOAT_MONEY_GUARD = _FloatMoneyGuard()


def refusing_float_money() -> typing.ContextManager[None]:
    """While the block runs, building a fact model with money given as a ``float`` raises TypeError.

    A gate accepts a float from an ERP (the Decimal of its repr, what the sender meant), so a model
    cannot tell afterwards that an adapter read money through float, rounding it wrongly on the way.
    The contract calls the adapter's data hooks inside this block: the fact models' constructor and
    ``model_validate`` are wrapped while a block is open (production pays nothing), in every thread
    of the process, since a class is shared.
    """
    return _FLOAT_MONEY_GUARD.hold()


def _call(pm: pluggy.PluginManager, hook: str, *, context: str = "", **kwargs: Any) -> Any:
    """Call one of the adapter's hooks; an exception fails the test with the call that raised it.

    Inside the call a fact model refuses money given as a float, which it otherwise accepts from
    an ERP: that is how the contract sees an adapter reading money through float."""
    __tracebackhide__ = True
    caller = getattr(pm.hook, hook)
    if caller.spec is not None and "as_of" in caller.spec.argnames and "as_of" not in kwargs:
        kwargs["as_of"] = None  # as a decision the caller gave no day: the adapter counts to its own today
    try:
        with refusing_float_money():  # money read through float fails here, not silently in production
            return caller(**kwargs)
    except Exception as exc:
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if k != "as_of")
        pytest.fail(f"{context}{hook}({args}) raised {type(exc).__name__}: {exc}")


def _is_money(value: object) -> bool:
    return type(value) is Decimal and value.is_finite() and value >= 0


def _has_chinese(text: str) -> bool:
    return any(unicodedata.name(ch, "").startswith("CJK UNIFIED IDEOGRAPH") for ch in text)


def adapter_only(adapter: object) -> pluggy.PluginManager:
    """A plugin manager holding nothing but ``adapter``: its answers, unmixed with anyone else's."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    try:
        pm.register(adapter, name="adapter")
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        pytest.fail(f"the adapter does not match salesgate's hook specifications: {exc}")
    return pm


class AdapterContract:
    """What every salesgate adapter must do, as tests: subclass it in a ``Test*`` class.

    Provide an ``adapter`` fixture returning a fresh adapter over test data, and set the ids that
    data holds: ``known_customer_id`` (with its exact ``known_customer_name``, which must contain
    Chinese characters), ``known_skus`` and ``known_order_id`` (an order the adapter loads by id,
    whose customer it knows). ``unknown_customer_id``, ``unknown_sku`` and ``unknown_order_id``
    have defaults no ERP uses; override them if yours does. Set ``adapter_name`` and an
    ``adapter_options`` fixture to also check that ``Gate(adapter=name, adapter_options=...)`` finds the adapter.
    An adapter that implements the optional ``salesgate_load_delivery`` (returns) sets
    ``known_delivery`` to the ``(order id, sku)`` of a delivery its data holds.

    A gate closes its adapter when it is closed, which the gate factory does after each test: keep
    the ``adapter`` fixture function-scoped (the default).
    """

    known_customer_id: ClassVar[str]
    known_customer_name: ClassVar[str]
    known_skus: ClassVar[Sequence[str]]
    known_order_id: ClassVar[str]
    unknown_customer_id: ClassVar[str] = "salesgate-contract-no-such-customer"
    unknown_sku: ClassVar[str] = "SALESGATE-CONTRACT-NO-SUCH-SKU"
    unknown_order_id: ClassVar[str] = "salesgate-contract-no-such-order"
    adapter_name: ClassVar[str | None] = None
    known_delivery: ClassVar[tuple[str, str] | None] = None

    @pytest.fixture
    def adapter(self) -> object:
        pytest.fail(f"{type(self).__name__} must define an `adapter` fixture returning the adapter under test")

    @pytest.fixture
    def adapter_options(self) -> Mapping[str, Any]:
        return {}

    def _setting(self, name: str) -> Any:
        value = getattr(self, name, None)
        if value is None or (isinstance(value, Sequence) and not value):
            pytest.fail(f"{type(self).__name__} must set {name!r}: see salesgate.testing.AdapterContract")
        return value

    # -- the data hooks, one at a time, through a plugin manager holding only the adapter ---------

    def test_implements_every_data_hook(self, adapter: object) -> None:
        pm = adapter_only(adapter)
        missing = [name for name in REQUIRED_DATA_HOOKS if not getattr(pm.hook, name).get_hookimpls()]
        _expect(not missing, f"the adapter does not implement {', '.join(missing)}")

    def test_known_customer_loads_with_its_id(self, adapter: object) -> None:
        customer_id = self._setting("known_customer_id")
        customer = _call(adapter_only(adapter), "salesgate_load_customer", customer_id=customer_id)
        _expect(isinstance(customer, Customer),
                f"salesgate_load_customer({customer_id!r}) returned {customer!r}; expected a salesgate.Customer")
        _expect(customer.id == customer_id,
                f"salesgate_load_customer({customer_id!r}) returned customer {customer.id!r}")

    def test_unknown_customer_is_none_not_an_error(self, adapter: object) -> None:
        customer_id = self._setting("unknown_customer_id")
        customer = _call(adapter_only(adapter), "salesgate_load_customer", customer_id=customer_id,
                         context="an adapter returns None for a customer it does not know, so that another "
                                 "adapter may answer; ")
        _expect(customer is None, f"salesgate_load_customer({customer_id!r}) returned {customer!r}; expected None")

    def test_exposure_is_non_negative_decimal_money(self, adapter: object) -> None:
        customer_id = self._setting("known_customer_id")
        exposure = _call(adapter_only(adapter), "salesgate_load_exposure", customer_id=customer_id)
        _expect(isinstance(exposure, CreditExposure),
                f"salesgate_load_exposure({customer_id!r}) returned {exposure!r}; expected a CreditExposure")
        for field in ("open_receivables", "open_orders", "overdue_amount"):
            value = getattr(exposure, field)
            _expect(_is_money(value), f"exposure.{field} is {value!r}; expected a finite Decimal >= 0")
        _expect(type(exposure.max_overdue_days) is int and exposure.max_overdue_days >= 0,
                f"exposure.max_overdue_days is {exposure.max_overdue_days!r}; expected an int >= 0")
        _expect(exposure.overdue_amount <= exposure.open_receivables,
                f"exposure.overdue_amount {exposure.overdue_amount} exceeds open_receivables "
                f"{exposure.open_receivables}: the overdue amount is part of the receivables")

    def test_unknown_customer_has_no_exposure(self, adapter: object) -> None:
        customer_id = self._setting("unknown_customer_id")
        exposure = _call(adapter_only(adapter), "salesgate_load_exposure", customer_id=customer_id)
        _expect(exposure is None or exposure == CreditExposure(),
                f"salesgate_load_exposure({customer_id!r}) returned {exposure!r} for an unknown customer; "
                "expected None (or a zero exposure)")

    def test_products_are_exactly_the_requested_skus_with_decimal_prices(self, adapter: object) -> None:
        known = self._setting("known_skus")
        _expect(not isinstance(known, str), f"known_skus must be a list or tuple of skus, not the string {known!r}")
        skus = list(known)
        pm = adapter_only(adapter)
        products = _call(pm, "salesgate_load_products", skus=[*skus, self.unknown_sku])
        _expect(isinstance(products, list) and all(isinstance(p, Product) for p in products),
                f"salesgate_load_products returned {products!r}; expected a list of salesgate.Product")
        found = [p.sku for p in products]
        _expect(sorted(found) == sorted(skus),
                f"asked for {[*skus, self.unknown_sku]}, got {found}: expected each known sku once "
                "and unknown skus left out")
        for product in products:
            for field in ("list_price", "cost"):
                value = getattr(product, field)
                _expect(_is_money(value), f"product {product.sku!r} {field} is {value!r}; expected a Decimal >= 0")
        first = _call(pm, "salesgate_load_products", skus=skus[:1])
        _expect(first is not None and [p.sku for p in first] == skus[:1],
                f"asked for {skus[:1]}, got {[p.sku for p in first or []]}: return only the skus asked for")

    def test_unknown_skus_are_none_or_empty(self, adapter: object) -> None:
        products = _call(adapter_only(adapter), "salesgate_load_products", skus=[self.unknown_sku])
        _expect(not products, f"asked for the unknown sku {self.unknown_sku!r}, got {products!r}; expected None or []")

    def test_known_order_loads_with_a_customer_the_adapter_knows(self, adapter: object) -> None:
        order_id = self._setting("known_order_id")
        pm = adapter_only(adapter)
        order = _call(pm, "salesgate_load_order", order_id=order_id)
        _expect(isinstance(order, Order), f"salesgate_load_order({order_id!r}) returned {order!r}; expected an Order")
        _expect(order.id == order_id, f"salesgate_load_order({order_id!r}) returned order {order.id!r}")
        customer = _call(pm, "salesgate_load_customer", customer_id=order.customer_id,
                         context=f"order {order_id!r} is for customer {order.customer_id!r}, but ")
        _expect(isinstance(customer, Customer),
                f"order {order_id!r} is for customer {order.customer_id!r}, whom the adapter does not know")
        for line in order.lines:
            _expect(_is_money(line.unit_price), f"order {order_id!r} line {line.line_no} unit_price is "
                                                f"{line.unit_price!r}; expected a Decimal >= 0")

    def test_unknown_order_is_none(self, adapter: object) -> None:
        order = _call(adapter_only(adapter), "salesgate_load_order", order_id=self.unknown_order_id)
        _expect(order is None, f"salesgate_load_order({self.unknown_order_id!r}) returned {order!r}; expected None")

    def test_records_decisions_without_error(self, adapter: object, salesgate_gate_factory: GateFactory) -> None:
        gate = salesgate_gate_factory(adapter)
        order = {"order": self._setting("known_order_id")}
        available: dict[str, Any] = {"decision": gate.approve_order(order),
                                     "facts": gate.facts_for("order_approval", order)}
        pm = adapter_only(adapter)
        spec = pm.hook.salesgate_record_decision.spec
        arguments = spec.argnames if spec is not None else ("decision",)
        _call(pm, "salesgate_record_decision", **{name: available[name] for name in arguments if name in available})

    def _known_delivery(self, pm: pluggy.PluginManager) -> tuple[str, str]:
        if not pm.hook.salesgate_load_delivery.get_hookimpls():
            pytest.skip("the adapter does not implement salesgate_load_delivery (optional: returns by order and date)")
        key = self.known_delivery
        if key is None:
            pytest.skip("set known_delivery = (order id, sku) of a delivery the adapter knows")
        return key

    def test_known_delivery_loads_for_its_order_and_sku(self, adapter: object) -> None:
        pm = adapter_only(adapter)
        order_id, sku = self._known_delivery(pm)
        delivery = _call(pm, "salesgate_load_delivery", order_id=order_id, sku=sku)
        _expect(isinstance(delivery, Delivery),
                f"salesgate_load_delivery({order_id!r}, {sku!r}) returned {delivery!r}; expected a Delivery")
        _expect((delivery.order_id, delivery.sku) == (order_id, sku),
                f"salesgate_load_delivery({order_id!r}, {sku!r}) returned the delivery of "
                f"{delivery.sku!r} on {delivery.order_id!r}")
        _expect(_is_money(delivery.unit_price), f"delivery unit_price is {delivery.unit_price!r}; expected a Decimal")
        _expect(delivery.already_returned_qty <= delivery.delivered_qty,
                f"delivery says {delivery.already_returned_qty} returned of {delivery.delivered_qty} delivered")
        if delivery.customer_id is not None:
            customer = _call(pm, "salesgate_load_customer", customer_id=delivery.customer_id)
            _expect(isinstance(customer, Customer),
                    f"the delivery is for customer {delivery.customer_id!r}, whom the adapter does not know")

    def test_unknown_delivery_is_none(self, adapter: object) -> None:
        pm = adapter_only(adapter)
        self._known_delivery(pm)
        delivery = _call(pm, "salesgate_load_delivery", order_id=self.unknown_order_id, sku=self.unknown_sku)
        _expect(delivery is None, f"salesgate_load_delivery of an unknown order returned {delivery!r}; expected None")

    # -- through a real gate ----------------------------------------------------------------------

    def test_decides_a_return_given_by_order_and_date_through_a_gate(
        self, adapter: object, salesgate_gate_factory: GateFactory
    ) -> None:
        pm = adapter_only(adapter)
        order_id, sku = self._known_delivery(pm)
        delivery = _call(pm, "salesgate_load_delivery", order_id=order_id, sku=sku)
        request = {"id": "SALESGATE-CONTRACT-RETURN", "reason": "defect", "original_order_id": order_id, "sku": sku,
                   "qty": 1, "requested_on": delivery.delivered_on.isoformat(),
                   "customer_id": delivery.customer_id or self._setting("known_customer_id")}
        decision = salesgate_gate_factory(adapter).handle_return({"return": request})
        _expect(decision.failure is None, f"a return of {sku!r} on order {order_id!r} read through the adapter "
                                          f"failed: {decision.failure}")

    def test_decides_an_order_given_by_id_through_a_gate(
        self, adapter: object, salesgate_gate_factory: GateFactory
    ) -> None:
        order_id = self._setting("known_order_id")
        gate = salesgate_gate_factory(adapter)
        for decide in (gate.approve_order, gate.check_credit, gate.price_order):
            decision = decide({"order": order_id})
            _expect(decision.failure is None,
                    f"{decision.hook} of order {order_id!r} read through the adapter failed: {decision.failure}")
            _expect(decision.subject == order_id, f"{decision.hook} decided {decision.subject!r}, not {order_id!r}")

    def test_is_found_by_name_through_a_gate(
        self, adapter: object, adapter_options: Mapping[str, Any], salesgate_gate_factory: GateFactory
    ) -> None:
        if self.adapter_name is None:
            pytest.skip("set adapter_name (and an adapter_options fixture) to check Gate(adapter=name, ...)")
        problem = ""
        try:
            gate = salesgate_gate_factory(self.adapter_name, adapter_options=dict(adapter_options))
        except AdapterError as exc:
            problem = f"Gate(adapter={self.adapter_name!r}, adapter_options=...) failed: {exc}"
            if str(exc).startswith("unknown adapter"):
                problem += (". Adapters named in Gate(adapter=...) are registered by installed packages' "
                            "'salesgate' entry points: install yours (pip install -e .) first")
        _expect(not problem, problem)  # failed outside the handler: one traceback, not a chain of two
        _expect(type(gate.adapter) is type(adapter),
                f"Gate(adapter={self.adapter_name!r}) built {type(gate.adapter).__name__}, "
                f"not {type(adapter).__name__}")
        decision = gate.approve_order({"order": self._setting("known_order_id")})
        _expect(decision.failure is None, f"order approval through adapter={self.adapter_name!r} failed: "
                                          f"{decision.failure}")

    def test_chinese_text_round_trips(self, adapter: object, salesgate_gate_factory: GateFactory) -> None:
        customer_id = self._setting("known_customer_id")
        name = self._setting("known_customer_name")
        _expect(_has_chinese(name), f"known_customer_name {name!r} has no Chinese characters: pick a customer "
                                    "whose name has some, or the contract cannot check they survive")
        customer = _call(adapter_only(adapter), "salesgate_load_customer", customer_id=customer_id)
        _expect(isinstance(customer, Customer) and customer.name == name,
                f"customer {customer_id!r} is named {getattr(customer, 'name', None)!r}, expected {name!r}: "
                "read your source as UTF-8 (a GBK file read as UTF-8, or the reverse, garbles names)")
        # an adapter reading a policy's declared facts returns a subclass carrying them: round-trip that class
        _expect(type(customer).model_validate_json(customer.model_dump_json()) == customer,
                f"customer {customer_id!r} does not survive a JSON round trip")
        through_gate = salesgate_gate_factory(adapter).hooks.load_customer(customer_id)
        _expect(through_gate is not None and through_gate.name == name,
                f"through a gate, customer {customer_id!r} is named {getattr(through_gate, 'name', None)!r}")

    def test_ten_threads_loading_the_same_customer_agree(self, adapter: object) -> None:
        customer_id = self._setting("known_customer_id")
        pm = adapter_only(adapter)
        expected = (_call(pm, "salesgate_load_customer", customer_id=customer_id),
                    _call(pm, "salesgate_load_exposure", customer_id=customer_id))
        start = threading.Barrier(THREADS)

        def load() -> list[tuple[Any, Any]]:
            start.wait(timeout=30)  # all threads call the adapter at once
            return [(_call(pm, "salesgate_load_customer", customer_id=customer_id),
                     _call(pm, "salesgate_load_exposure", customer_id=customer_id)) for _ in range(20)]

        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            futures = [pool.submit(load) for _ in range(THREADS)]
            results = [result for future in futures for result in future.result(timeout=120)]
        wrong = [r for r in results if r != expected]
        _expect(not wrong, f"{len(wrong)} of {len(results)} concurrent loads of customer {customer_id!r} "
                           f"differ from a single-threaded load, e.g. {wrong[:1]!r}")


# -- a policy's YAML test cases as pytest items ---------------------------------------------------

RULES_INI = "salesgate_rules"
BACKENDS_INI = "salesgate_backends"
COVERAGE_INI = "salesgate_require_coverage"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(RULES_INI, type="paths", default=[],
                  help="salesgate: policy directories whose tests/*.yaml cases are collected as tests")
    parser.addini(BACKENDS_INI, type="args", default=[DEFAULT_BACKEND],
                  help=f"salesgate: backends to run policy test cases on ({', '.join(BACKEND_NAMES)}; "
                       f"default {DEFAULT_BACKEND})")
    parser.addini(COVERAGE_INI, type="bool", default=False,
                  help="salesgate: add a test that fails when a rule fires in no passing case")
    group = parser.getgroup("salesgate", "salesgate policy test cases")
    group.addoption("--salesgate-rules", action="append", metavar="DIR", dest="salesgate_rules",
                    help=f"collect the cases of this policy directory (adds to the {RULES_INI} ini option)")
    group.addoption("--salesgate-backend", action="append", choices=BACKEND_NAMES, dest="salesgate_backend",
                    help=f"run policy test cases on this backend (repeat for several; overrides {BACKENDS_INI})")


class _Problem(Exception):
    """A failure reported as its message alone: a case's diff, an invalid policy, a missing backend."""


class _Session:
    """Per test run: the configured policy directories, their loaded policies and the gates cases run on."""

    def __init__(self, config: pytest.Config) -> None:
        configured = [Path(p) for p in config.getini(RULES_INI)]
        configured += [config.invocation_params.dir / p for p in config.getoption("salesgate_rules") or ()]
        self.directories = [p.resolve() for p in configured]
        backends = config.getoption("salesgate_backend") or config.getini(BACKENDS_INI) or [DEFAULT_BACKEND]
        unknown = [b for b in backends if b not in BACKEND_NAMES]
        if unknown:
            raise pytest.UsageError(f"{BACKENDS_INI}: unknown backend {unknown[0]!r}: use {', '.join(BACKEND_NAMES)}")
        self.backends: list[BackendName] = list(dict.fromkeys(backends))
        self.require_coverage = bool(config.getini(COVERAGE_INI))
        self.here = config.invocation_params.dir
        self._policies: dict[Path, Policy | PolicyError] = {}
        self._gates: dict[tuple[Path, BackendName], Gate | _Problem] = {}
        self.results: dict[tuple[Path, BackendName], dict[str, CaseResult]] = {}

    def shown(self, path: Path) -> str:
        """``path`` as people read it in reports: relative to where pytest was started, if inside it."""
        try:
            return str(path.relative_to(self.here)) if Path.cwd() == self.here else str(path)
        except ValueError:
            return str(path)

    def owner(self, file_path: Path) -> Path | None:
        """The configured policy directory ``file_path`` is a test file of, if any."""
        if file_path.suffix not in (".yaml", ".yml") or file_path.parent.name != TESTS_DIR:
            return None
        directory = file_path.parent.parent.resolve()
        return directory if directory in self.directories else None

    def policy(self, directory: Path) -> Policy:
        if directory not in self._policies:
            try:
                self._policies[directory] = load_policy(self.shown(directory), points=installed_points())
            except PolicyError as exc:
                self._policies[directory] = exc
        loaded = self._policies[directory]
        if isinstance(loaded, PolicyError):
            raise _Problem(_problems_text(loaded, f"policy {self.shown(directory)} is invalid"))
        return loaded

    def gate(self, directory: Path, backend: BackendName) -> Gate:
        key = (directory, backend)
        if key not in self._gates:
            policy = self.policy(directory)
            try:
                self._gates[key] = case_gate(policy, backend)
            except ImportError as exc:
                self._gates[key] = _Problem(f"the {backend} backend is not available ({exc}): "
                                            f"set {BACKENDS_INI} = python")
            except SalesgateError as exc:
                self._gates[key] = _Problem(f"the {backend} backend refused policy {self.shown(directory)}: {exc}")
        built = self._gates[key]
        if isinstance(built, _Problem):
            raise built
        return built

    def record(self, directory: Path, backend: BackendName, result: CaseResult) -> None:
        self.results.setdefault((directory, backend), {})[result.case.id] = result

    def close(self) -> None:
        for built in self._gates.values():
            if isinstance(built, Gate):
                built.close()
        self._gates.clear()


_SESSION = pytest.StashKey[_Session]()


def _problems_text(exc: PolicyError, summary: str) -> str:
    count = len(exc.problems)
    return "\n".join([*(str(p) for p in exc.problems), f"{summary}: {count} problem{'s' if count != 1 else ''}"])


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    session = _Session(config)
    if session.directories:
        config.stash[_SESSION] = session
        config.add_cleanup(session.close)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    session = parent.config.stash.get(_SESSION, None)
    if session is None or session.owner(file_path) is None:
        return None
    return PolicyCaseFile.from_parent(parent, path=file_path)


class PolicyCaseFile(pytest.File):
    """A ``<policy>/tests/*.yaml`` file of a configured policy directory: one item per case and backend."""

    def collect(self) -> Iterator[pytest.Item]:
        session = self.config.stash[_SESSION]
        directory = session.owner(self.path)
        if directory is None:  # pragma: no cover - pytest_collect_file only builds files it owns
            return
        try:
            cases = load_case_file(self.path, session.shown(self.path), session.policy(directory))
        except _Problem as exc:
            raise self.CollectError(str(exc)) from None
        except PolicyError as exc:
            raise self.CollectError(_problems_text(exc, f"test file {session.shown(self.path)} is invalid")) from None
        several = len(session.backends) > 1
        for case in cases:
            for backend in session.backends:
                yield PolicyCaseItem.from_parent(self, name=f"{case.name}[{backend}]" if several else case.name,
                                                 case=case, backend=backend, directory=directory)
        if session.require_coverage and self.path == case_files(directory)[-1]:
            for backend in session.backends:
                yield RuleCoverageItem.from_parent(self, name=f"rule coverage[{backend}]" if several
                                                   else "rule coverage", backend=backend, directory=directory)


class _PolicyItem(pytest.Item):
    def __init__(self, *, backend: BackendName, directory: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.backend = backend
        self.directory = directory

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, _Problem):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)


class PolicyCaseItem(_PolicyItem):
    """One YAML test case on one backend; a failure is the case's report, expected against got."""

    def __init__(self, *, case: TestCase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        session = self.config.stash[_SESSION]
        result = run_case(session.gate(self.directory, self.backend), self.case)
        session.record(self.directory, self.backend, result)
        if not result.passed:
            raise _Problem(result.report() + f"\n  (backend: {self.backend})")

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, f"{self.case.where}: {self.case.name}"


class RuleCoverageItem(_PolicyItem):
    """Fails when a rule of the policy fires in no passing case (``salesgate_require_coverage = true``)."""

    def runtest(self) -> None:
        session = self.config.stash[_SESSION]
        gate = session.gate(self.directory, self.backend)
        try:
            cases = load_cases(session.shown(self.directory), gate.policy)
        except PolicyError as exc:
            raise _Problem(_problems_text(exc, "test cases are invalid")) from None
        text = _coverage_text(gate.policy, run_all(gate, cases))
        if text is not None:
            raise _Problem(text)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"rule coverage of {self.config.stash[_SESSION].shown(self.directory)}"


def _coverage_text(policy: Policy, results: Sequence[CaseResult]) -> str | None:
    """The rules no passing case fires, one per line with its file:line; None when every rule fires."""
    missing = uncovered(policy, results)
    if not missing:
        return None
    lines = [f"{len(policy.rules) - len(missing)} of {len(policy.rules)} rules fire in a passing case; "
             "no passing case fires:"]
    return "\n".join(lines + [f"  {rule.file}:{rule.line}: {rule.id} ({rule.hook})" for rule in missing])


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """After the run: per policy and backend, the rules no passing case fired (when every case ran)."""
    session = config.stash.get(_SESSION, None)
    if session is None or not session.results:
        return
    lines: list[str] = []
    for (directory, backend), results in session.results.items():
        shown = f"{session.shown(directory)} ({backend})"
        try:
            every = {case.id for case in load_cases(directory, session.policy(directory))}
        except (PolicyError, _Problem):
            continue
        if not every <= results.keys():
            lines.append(f"{shown}: coverage not computed, {len(results)} of {len(every)} cases ran")
            continue
        policy = session.policy(directory)
        text = _coverage_text(policy, list(results.values()))
        lines.append(f"{shown}: every rule ({len(policy.rules)}) fires in a passing case" if text is None
                     else f"{shown}: {text}")
    terminalreporter.write_sep("-", "salesgate rule coverage")
    for line in lines:
        terminalreporter.write_line(line)
