"""The durable-rules backend: one regression test per hazard it must contain.

Stages are built straight from IR nodes and facts by hand, so these tests depend on nothing but
the engine interface. Where the pure-Python evaluator is the reference, both backends get the
same stage and facts. Tests that could hang or crash the interpreter if a containment broke run
in a subprocess with a timeout, so they fail instead of taking the test run down with them.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from salesgate.engine.durable import DurableBackend
from salesgate.engine.durable import sessions as durable_module
from salesgate.engine.durable.encoding import scaled
from salesgate.engine.durable.limits import ALTERNATIVE_BUDGET, fnv1_32
from salesgate.engine.python import PythonBackend
from salesgate.errors import EngineError
from salesgate.facts import FactSet, FactValues
from salesgate.policy.ir import (
    Always,
    And,
    Arith,
    Compare,
    CompareOp,
    Cond,
    Const,
    IsNone,
    Kind,
    Or,
    Quantified,
    Ref,
)
from salesgate.policy.stages import EngineRule, Match, Scope, Stage
from salesgate.vocabulary import VOCABULARY, FactInfo

ROOT = Path(__file__).resolve().parents[1]
VOCAB = VOCABULARY["order_approval"]
OPS: tuple[CompareOp, ...] = ("<", "<=", ">", ">=", "==", "!=")
N = Kind.number


# -- building blocks ---------------------------------------------------------------------------------

def num(path: str, item: bool = False) -> Ref:
    return Ref(path, N, item)


def const(value: Any, kind: Kind = N) -> Const:
    return Const(value, kind)


def rule(rule_id: str, cond: Cond, scope: Scope = "order", priority: int = 0) -> EngineRule:
    return EngineRule(rule_id, priority, scope, cond)


def stage(*rules: EngineRule, name: str = "test", vocabulary: Any = VOCAB) -> Stage:
    return Stage(name, tuple(rules), vocabulary)


def order(root: FactValues | None = None, lines: Sequence[FactValues] = ()) -> FactSet:
    """A FactSet shaped like ``facts.order_factset`` makes it: items are root + line values."""
    values: FactValues = {"order.total": Decimal("100"), "customer.region": "华东"}
    values.update(root or {})
    values["order.lines"] = list(lines)
    return FactSet(values, tuple({**values, **line} for line in lines), tuple(range(1, len(lines) + 1)))


@pytest.fixture
def build() -> Iterator[Callable[..., DurableBackend]]:
    """Make backends that are closed after the test."""
    made: list[DurableBackend] = []

    def make(*stages: Stage) -> DurableBackend:
        backend = DurableBackend(list(stages))
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


def both(build: Callable[..., DurableBackend], st: Stage, facts: FactSet) -> frozenset[Match]:
    """Durable's matches, checked against the Python evaluator's."""
    got = build(st).match(st.name, facts)
    assert got == PythonBackend([st]).match(st.name, facts)
    return got


def run_isolated(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run code in a fresh interpreter: a hang becomes a timeout, a segfault a return code."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("core", "plugins", "adapters"))}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout, env=env,
        check=False,
    )


# -- the Host: threads, isolation, sessions ----------------------------------------------------------

def test_no_background_threads_are_started(build: Callable[..., DurableBackend]) -> None:
    before = set(threading.enumerate())
    backend = build(stage(rule("big", Compare(">", num("order.total"), const(50)))))
    assert backend.match("test", order()) == {("big", None)}
    assert set(threading.enumerate()) == before


def test_two_backends_do_not_share_state(build: Callable[..., DurableBackend]) -> None:
    low = build(stage(rule("over", Compare(">", num("order.total"), const(10)))))
    high = build(stage(rule("over", Compare(">", num("order.total"), const(1000)))))
    facts = order({"order.total": Decimal("500")})
    for _ in range(3):
        assert low.match("test", facts) == {("over", None)}
        assert high.match("test", facts) == frozenset()
    low.close()
    assert high.match("test", order({"order.total": Decimal("5000")})) == {("over", None)}
    with pytest.raises(EngineError, match="closed"):
        low.match("test", facts)


def test_more_than_1024_decisions_do_not_exhaust_sessions(build: Callable[..., DurableBackend]) -> None:
    backend = build(stage(
        rule("big", Compare(">", num("order.total"), const(1500))),
        rule("qty", Quantified("any", "order.lines", Compare(">", num("line.qty", True), const(5)))),
        rule("line", Compare(">", num("line.qty"), const(5)), scope="line"),
    ))
    for i in range(3000):
        facts = order({"order.total": Decimal(i)}, [{"line.qty": i % 10}])
        expected = {("big", None)} if i > 1500 else set()
        if i % 10 > 5:
            expected |= {("qty", None), ("line", 0)}
        assert backend.match("test", facts) == expected, i


def test_session_where_nothing_matches_is_deleted_safely() -> None:
    """durable frees uninitialised pointers when a session in which no action ran is deleted.

    Reproduced with 1,000 unmatched facts after these imports; the backend's sentinel rule on
    the session's state fact makes an action run in every session.
    """
    done = run_isolated("""
        import copy, datetime, threading  # the heap layout that made durable crash here
        from decimal import Decimal
        from salesgate.policy.stages import EngineRule, Stage
        from salesgate.engine.durable import DurableBackend
        from salesgate.facts import FactSet
        from salesgate.policy.ir import Compare, Const, Kind, Ref
        from salesgate.vocabulary import VOCABULARY
        rule = EngineRule("never", 0, "order", Compare(">", Ref("order.total", Kind.number), Const(10**9, Kind.number)))
        backend = DurableBackend([Stage("s", (rule,), VOCABULARY["order_approval"])])
        for i in range(3000):
            assert backend.match("s", FactSet({"order.total": Decimal(i)})) == frozenset()
        print("ok")
    """)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


def test_every_ruleset_has_the_session_sentinel(build: Callable[..., DurableBackend]) -> None:
    backend = build(stage(rule("a", Always()), rule("b", Always(), scope="line")))
    definitions = backend.rulesets("test")
    assert len(definitions) == 2
    for definition in definitions.values():
        assert {"all": [{"m": {"$s": 1}}]} in definition.values()


def test_failed_assert_closes_its_session_and_the_backend_stays_usable(
    build: Callable[..., DurableBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = build(stage(rule("big", Compare(">", num("order.total"), const(50)))))
    real = durable_module._durable_c
    payloads: list[str] = []

    class Failing:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def assert_fact(self, handle: int, payload: str) -> Any:
            payloads.append(payload)
            if '"id":"o"' in payload:
                raise real.error("Could not assert fact, error code: 303")
            return real.assert_fact(handle, payload)

    monkeypatch.setattr(durable_module, "_durable_c", Failing())
    with pytest.raises(EngineError, match="too many alternatives matched at once"):
        backend.match("test", order())
    assert any('"id":"open"' in p for p in payloads)  # the opener ran before delete_state
    monkeypatch.setattr(durable_module, "_durable_c", real)
    for _ in range(50):
        assert backend.match("test", order()) == {("big", None)}


def test_concurrent_matches_from_threads_are_correct(build: Callable[..., DurableBackend]) -> None:
    st = stage(
        rule("big", Compare(">", num("order.total"), const(500))),
        rule("odd", Compare("==", num("order.line_count"), const(1))),
        rule("qty", Compare(">=", num("line.qty"), const(3)), scope="line"),
    )
    backend, reference = build(st), PythonBackend([st])

    def facts(thread: int, i: int) -> FactSet:
        lines = [{"line.qty": (thread + i + j) % 5} for j in range(i % 3)]
        return order({"order.total": Decimal(thread * 100 + i), "order.line_count": len(lines)}, lines)

    failures: list[str] = []

    def work(thread: int) -> None:
        for i in range(500):
            f = facts(thread, i)
            got, expected = backend.match("test", f), reference.match("test", f)
            if got != expected:
                failures.append(f"thread {thread} call {i}: {sorted(got, key=str)} != {sorted(expected, key=str)}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_a_backend_dropped_without_close_frees_its_rulesets(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Gate never closed leaked durable's C memory (about 10 MB a large policy) for the process's life."""
    deleted: list[int] = []
    real = durable_module._durable_c.delete_ruleset

    def counting(handle: int) -> None:
        deleted.append(handle)
        real(handle)

    monkeypatch.setattr(durable_module._durable_c, "delete_ruleset", counting)
    backend = DurableBackend([stage(rule("a", Compare(">", num("order.total"), const(1))))])
    handles = list(backend._handles)
    assert handles
    del backend
    gc.collect()
    assert sorted(deleted) == sorted(handles)
    closed = DurableBackend([stage(rule("a", Compare(">", num("order.total"), const(1))))])
    closed.close()
    deleted.clear()
    del closed
    gc.collect()
    assert deleted == []  # close() deleted them already: nothing twice


def test_close_is_idempotent_and_unknown_stages_are_errors(build: Callable[..., DurableBackend]) -> None:
    backend = build(stage(rule("a", Always())))
    with pytest.raises(EngineError, match="unknown stage 'nope'"):
        backend.match("nope", order())
    backend.close()
    backend.close()


# -- types and exactness -----------------------------------------------------------------------------

def test_string_fact_never_compares_lexicographically_with_number(build: Callable[..., DurableBackend]) -> None:
    backend = build(stage(rule("big", Compare(">", num("order.total"), const(100000)))))
    for text in ("99999", "abc", "1e9"):
        with pytest.raises(EngineError, match=r"order\.total"):
            backend.match("test", order({"order.total": text}))
    for wrong in (99999.5, True):
        with pytest.raises(EngineError, match=r"order\.total"):
            backend.match("test", order({"order.total": wrong}))
    definition = next(iter(backend.rulesets("test").values()))
    rule_json = json.dumps([v for k, v in definition.items() if k != "s"])
    assert '"$gt": {"order__total": 1000000000}' in rule_json  # 100000 × 10^4, an integer


def test_money_tie_at_limit_is_exact(build: Callable[..., DurableBackend]) -> None:
    assert 33120.19 + 4050.55 + 1548.86 > 38719.60  # the float hazard this test guards against
    exposure = Arith("+", Arith("+", num("exposure.open_receivables"), num("exposure.open_orders"), N),
                     num("order.total"), N)
    st = stage(*(rule(f"exposure {op} limit", Compare(op, exposure, num("customer.credit_limit"))) for op in OPS),
               rule("total vs limit", Compare(">", num("exposure.total"), num("customer.credit_limit"))))
    facts = order({"exposure.open_receivables": Decimal("33120.19"), "exposure.open_orders": Decimal("4050.55"),
                   "order.total": Decimal("1548.86"), "customer.credit_limit": Decimal("38719.60"),
                   "exposure.total": Decimal("38719.6000")})
    assert {r for r, _ in both(build, st, facts)} == {"exposure <= limit", "exposure >= limit", "exposure == limit"}


def test_number_with_more_than_four_decimals_is_refused_naming_the_fact(
    build: Callable[..., DurableBackend],
) -> None:
    backend = build(stage(rule("big", Compare(">", num("order.total"), const(1)))))
    with pytest.raises(EngineError, match=r"order\.total = Decimal\('1\.00001'\)"):
        backend.match("test", order({"order.total": Decimal("1.00001")}))
    assert backend.match("test", order({"order.total": Decimal("1.00010000")})) == {("big", None)}
    assert scaled(Decimal("1.5")) == 15000
    assert scaled(7) == 70000
    assert scaled(Decimal("1e-5")) is None
    assert scaled(Decimal("NaN")) is None
    assert scaled(10**20) is None


def test_constant_with_more_than_four_decimals_is_compared_exactly(build: Callable[..., DurableBackend]) -> None:
    st = stage(*(rule(op, Compare(op, num("order.total"), const(Decimal("0.00005")))) for op in OPS))
    assert {r for r, _ in both(build, st, order({"order.total": Decimal("0.0001")}))} == {">", ">=", "!="}
    assert {r for r, _ in both(build, st, order({"order.total": Decimal("0")}))} == {"<", "<=", "!="}


def test_bool_fact_must_be_a_bool(build: Callable[..., DurableBackend]) -> None:
    backend = build(stage(rule("g", Compare("==", Ref("order.guarantee", Kind.bool), const(True, Kind.bool)))))
    assert backend.match("test", order({"order.guarantee": True})) == {("g", None)}
    assert backend.match("test", order({"order.guarantee": False})) == frozenset()
    with pytest.raises(EngineError, match=r"order\.guarantee"):
        backend.match("test", order({"order.guarantee": 1}))  # durable would take 1 for true


def test_dates_and_day_arithmetic_are_exact(build: Callable[..., DurableBackend]) -> None:
    order_date = Ref("order.order_date", Kind.date)
    st = stage(
        rule("due after", Compare(">", Arith("+", order_date, const(30), Kind.date),
                                  const(date(2026, 12, 1), Kind.date))),
        rule("days", Compare(">=", Arith("-", const(date(2026, 12, 31), Kind.date), order_date, N), const(30))),
        rule("after", Compare(">", order_date, const(date(2026, 11, 1), Kind.date))),
    )
    assert {r for r, _ in both(build, st, order({"order.order_date": date(2026, 11, 1)}))} == {"days"}  # ties
    assert {r for r, _ in both(build, st, order({"order.order_date": date(2026, 12, 2)}))} == {"after", "due after"}


def test_division_by_zero_reads_as_missing(build: Callable[..., DurableBackend]) -> None:
    ratio = Arith("/", num("order.total"), num("customer.credit_limit"), N)
    st = stage(*(rule(op, Compare(op, ratio, const(1))) for op in OPS))
    assert both(build, st, order({"customer.credit_limit": Decimal(0)})) == frozenset()
    assert {r for r, _ in both(build, st, order({"customer.credit_limit": Decimal(50)}))} == {">", ">=", "!="}


# -- semantics the IR defines ------------------------------------------------------------------------

def test_missing_optional_value_never_matches_comparisons(build: Callable[..., DurableBackend]) -> None:
    draft, terms = num("order.draft_term_days"), num("order.payment_terms_days")
    stock = num("line.product.stock", True)
    shapes: dict[str, Callable[[CompareOp], Cond]] = {
        "const": lambda op: Compare(op, draft, const(30)),
        "missing left": lambda op: Compare(op, draft, terms),
        "missing right": lambda op: Compare(op, terms, draft),  # durable's $m on a missing field is true
        "arith": lambda op: Compare(op, Arith("*", draft, const(2), N), terms),
        "text": lambda op: Compare("==" if op == "==" else "!=", Ref("order.special_requirements", Kind.text),
                                   const("加急", Kind.text)),
        "item missing": lambda op: Quantified("any", "order.lines", Compare(op, stock, const(10))),
        "outer missing": lambda op: Quantified("any", "order.lines", Compare(op, num("line.qty", True), draft)),
        "line scope": lambda op: Compare(op, num("line.product.stock"), num("line.qty")),
    }
    rules = [rule(f"{name} {op}", make(op), "line" if name == "line scope" else "order")
             for name, make in shapes.items() for op in OPS]
    st = stage(*rules)
    missing = order({"order.payment_terms_days": 30, "order.draft_term_days": None},
                    [{"line.qty": 30, "line.product.stock": None}])
    assert both(build, st, missing) == frozenset()
    present = order({"order.payment_terms_days": 30, "order.draft_term_days": 30, "order.special_requirements": "x"},
                    [{"line.qty": 30, "line.product.stock": 30}])
    fired = {r for r, _ in both(build, st, present)}
    assert {r.rsplit(" ", 1)[0] for r in fired} == set(shapes)  # every shape can fire: the test can fail


def test_is_none_tests_presence(build: Callable[..., DurableBackend]) -> None:
    draft = num("order.draft_term_days")
    st = stage(rule("absent", IsNone(draft, False)), rule("present", IsNone(draft, True)),
               rule("any stock unknown", Quantified("any", "order.lines", IsNone(num("line.product.stock", True),
                                                                                 False))))
    assert {r for r, _ in both(build, st, order({"order.draft_term_days": None}, [{"line.qty": 1}]))} == {
        "absent", "any stock unknown"}
    assert {r for r, _ in both(build, st, order({"order.draft_term_days": 0},
                                                [{"line.product.stock": 0}]))} == {"present"}


def test_all_over_empty_list_is_true_any_is_false(build: Callable[..., DurableBackend]) -> None:
    positive = Compare(">", num("line.qty", True), const(0))
    st = stage(rule("all", Quantified("all", "order.lines", positive)),
               rule("any", Quantified("any", "order.lines", positive)))
    assert both(build, st, order(lines=[])) == {("all", None)}
    assert both(build, st, FactSet({"order.lines": None})) == {("all", None)}
    assert both(build, st, FactSet({})) == {("all", None)}
    assert both(build, st, order(lines=[{"line.qty": 0}, {"line.qty": 2}])) == {("any", None)}
    assert both(build, st, order(lines=[{"line.qty": 1}, {"line.qty": 2}])) == {("all", None), ("any", None)}
    assert both(build, st, order(lines=[{"line.qty": 1}, {}])) == {("any", None)}  # a missing qty is not > 0


def test_chinese_text_equality(build: Callable[..., DurableBackend]) -> None:
    region = Ref("customer.region", Kind.text)
    name = Ref("line.product.name", Kind.text)
    st = stage(rule("east", Compare("==", region, const("华东", Kind.text))),
               rule("not east", Compare("!=", region, const("华东", Kind.text))),
               rule("quoted", Compare("==", region, const('华"东\\', Kind.text))),
               rule("screw", Compare("==", name, const("螺丝钉", Kind.text)), scope="line"),
               rule("any screw", Quantified("any", "order.lines",
                                            Compare("==", Ref("line.product.name", Kind.text, True),
                                                    const("螺丝钉", Kind.text)))))
    lines = [{"line.product.name": "螺丝"}, {"line.product.name": "螺丝钉"}]
    assert both(build, st, order({"customer.region": "华东"}, lines)) == {("east", None), ("screw", 1),
                                                                         ("any screw", None)}
    assert both(build, st, order({"customer.region": "华东 "})) == {("not east", None)}
    assert both(build, st, order({"customer.region": '华"东\\'})) == {("not east", None), ("quoted", None)}


def test_text_that_is_not_valid_unicode_is_refused_naming_the_fact(build: Callable[..., DurableBackend]) -> None:
    """JSON may carry a lone surrogate ("\\ud800"); durable failed with 'pyAssertFact Invalid argument'."""
    region = Ref("customer.region", Kind.text)
    backend = build(stage(rule("east", Compare("==", region, const("华东", Kind.text)))))
    with pytest.raises(EngineError, match=r"fact customer\.region = 'R\\ud800' cannot be matched exactly: expected "
                                          r"valid Unicode text \(it holds a lone surrogate\)"):
        backend.match("test", order({"customer.region": "R\ud800"}))
    assert backend.match("test", order({"customer.region": "华东"})) == {("east", None)}  # still usable


def test_fact_to_fact_comparisons(build: Callable[..., DurableBackend]) -> None:
    st = stage(*(rule(f"total {op} limit", Compare(op, num("order.total"), num("customer.credit_limit")))
                 for op in OPS),
               *(rule(f"price {op} order", Quantified("any", "order.lines",
                                                        Compare(op, num("line.unit_price", True), num("order.total"))))
                 for op in OPS),
               rule("qty > stock", Quantified("any", "order.lines", Compare(">", num("line.qty", True),
                                                                            num("line.product.stock", True)))))
    for total, limit in ((5, 5), (4, 5), (6, 5)):
        facts = order({"order.total": Decimal(total), "customer.credit_limit": Decimal(limit)},
                      [{"line.unit_price": Decimal(5), "line.qty": 3, "line.product.stock": 2}])
        both(build, st, facts)


def test_always_fires_once_per_fact_of_its_scope(build: Callable[..., DurableBackend]) -> None:
    st = stage(rule("order", Always()), rule("line", Always(), scope="line"),
               rule("any line", Quantified("any", "order.lines", Always())),
               rule("either", Or((Always(), Compare(">", num("order.total"), const(1))))))
    assert both(build, st, order(lines=[{}, {}])) == {("order", None), ("line", 0), ("line", 1), ("any line", None),
                                                     ("either", None)}
    assert both(build, st, order()) == {("order", None), ("either", None)}


def test_line_scope_rule_reports_item_index(build: Callable[..., DurableBackend]) -> None:
    st = stage(rule("big line", Compare(">", num("line.amount"), num("order.total")), scope="line"),
               rule("order total", Compare(">", num("order.total"), const(10))))
    lines = [{"line.amount": Decimal(v)} for v in (5, 500, 50, 5000)]
    assert both(build, st, order({"order.total": Decimal(100)}, lines)) == {
        ("big line", 1), ("big line", 3), ("order total", None)}


def test_batch_partial_match_hazard_is_avoided(build: Callable[..., DurableBackend]) -> None:
    """In a batch, one unmatched fact hid the others' actions until the next call."""
    backend = build(stage(rule("many", Compare(">", num("line.qty"), const(100)), scope="line")))
    lines = [{"line.qty": q} for q in (5, 150, 7, 200, 1)]
    assert backend.match("test", order(lines=lines)) == {("many", 1), ("many", 3)}
    assert backend.match("test", order(lines=[{"line.qty": 1}])) == frozenset()  # nothing left over


def test_or_alternatives_that_match_together_report_the_rule_once(build: Callable[..., DurableBackend]) -> None:
    either = Or((Compare(">", num("order.total"), const(1)), Compare(">", num("order.total"), const(2))))
    assert both(build, stage(rule("either", either)), order()) == {("either", None)}


# -- size and naming limits --------------------------------------------------------------------------

def test_dollar_in_rule_id_is_rejected() -> None:
    with pytest.raises(EngineError, match=r"rule id 'limit\$state'"):
        DurableBackend([stage(rule("limit$state", Always()))])
    with pytest.raises(EngineError, match=r"stage name 'x\$flow'"):
        DurableBackend([stage(rule("a", Always()), name="x$flow")])


def test_more_than_64_rules_matching_at_once_still_match(build: Callable[..., DurableBackend]) -> None:
    """durable's alpha stack holds 64 nodes: 65 matching thresholds in one ruleset fail (303)."""
    st = stage(*(rule(f"over {i}", Compare(">", num("order.total"), const(i))) for i in range(100)))
    backend = build(st)
    assert len(backend.rulesets("test")) >= 100 // ALTERNATIVE_BUDGET + 1
    assert len(backend.match("test", order({"order.total": Decimal(10**6)}))) == 100
    assert backend.match("test", order({"order.total": Decimal(1)})) == {("over 0", None)}


def test_stage_with_600_rules_is_sharded_and_matches() -> None:
    done = run_isolated("""
        import json
        from decimal import Decimal
        from salesgate.policy.stages import EngineRule, Stage
        from salesgate.engine.durable import DurableBackend
        from salesgate.facts import FactSet
        from salesgate.policy.ir import Compare, Const, Kind, Ref
        from salesgate.vocabulary import VOCABULARY
        total = Ref("order.total", Kind.number)
        rules = tuple(EngineRule(f"r{i}", i, "order", Compare(">", total, Const(i, Kind.number))) for i in range(600))
        lines = tuple(EngineRule(f"l{i}", i, "line", Compare("==", Ref("line.qty", Kind.number), Const(i, Kind.number)))
                      for i in range(600))
        backend = DurableBackend([Stage("big", rules + lines, VOCABULARY["order_approval"])])
        facts = FactSet({"order.total": Decimal(300)}, ({"line.qty": 7}, {"line.qty": 599}))
        found = backend.match("big", facts)
        print(json.dumps([len(backend.rulesets("big")), len(found), sorted(r for r, i in found if i is not None)]))
    """)
    assert done.returncode == 0, done.stderr[-2000:]
    rulesets, found, line_hits = json.loads(done.stdout)
    assert rulesets >= 2 * 600 // ALTERNATIVE_BUDGET
    assert found == 300 + 2
    assert line_hits == ["l599", "l7"]


def test_rules_over_durables_size_limits_are_lifted_and_stay_exact(build: Callable[..., DurableBackend]) -> None:
    """``or`` is expanded into alternatives (six two-way ors are 64; over 512 hang durable), and a
    rule may hold at most 15 and/or groups (error 113): such rules are computed in Python."""
    total, limit = num("order.total"), num("customer.credit_limit")
    wide = And(tuple(Or((Compare(">", total, const(i)), Compare("<", limit, const(-i)))) for i in range(6)))
    huge = Or(tuple(Compare("==", total, const(i)) for i in range(600)))
    grouped = Or(tuple(And((Compare(">", total, const(i)), Compare("<", limit, const(i)))) for i in range(15)))
    small = Or((Compare(">", total, const(3)), Compare("<", limit, const(0))))
    st = stage(rule("wide", wide), rule("huge", huge), rule("grouped", grouped), rule("small", small))
    assert build(st).lifted("test") == {"wide", "huge", "grouped"}
    for t, lim in ((0, 0), (2, 1), (5, -1), (599, 700), (600, -700)):
        both(build, st, order({"order.total": Decimal(t), "customer.credit_limit": Decimal(lim)}))


def test_rules_whose_message_would_exceed_durables_field_limit_are_split_or_lifted(
        build: Callable[..., DurableBackend]) -> None:
    """Each arithmetic comparison is one computed field of the message; durable-rules takes 250.
    40 rules of 7 such comparisons (280 fields) loaded as one ruleset were refused, so a policy that
    validated did not load on the default backend: they are split into rulesets that fit, and a rule
    that alone needs more than 250 fields is lifted."""
    total, limit = num("order.total"), num("customer.credit_limit")

    def over(k: int) -> Compare:
        return Compare(">", total, Arith("-", limit, const(k), N))

    many = stage(*(rule(f"r{i}", And(tuple(over(i * 100 + k) for k in range(7))), priority=i) for i in range(40)))
    backend = build(many)
    assert len(backend.rulesets("test")) >= 2
    assert backend.lifted("test") == set()
    huge = stage(rule("huge", And(tuple(over(k) for k in range(260)))), rule("small", over(5)), name="huge")
    assert build(huge).lifted("huge") == {"huge"}
    for t, lim in ((0, 0), (100000, 100000), (100000, 100500), (100000, 104000), (5, 0), (300, 0)):
        facts = order({"order.total": Decimal(t), "customer.credit_limit": Decimal(lim)})
        both(build, many, facts)
        both(build, huge, facts)


def test_or_inside_any_and_all_is_exact(build: Callable[..., DurableBackend]) -> None:
    """durable's $or inside $iany/$iall is wrong when its branches read different fields."""
    qty, stock = num("line.qty", True), num("line.product.stock", True)
    low_or_negative = Or((Compare("<", qty, const(5)), Compare("<", stock, const(0))))
    nested = And((Compare(">", qty, const(0)), low_or_negative))
    st = stage(rule("any", Quantified("any", "order.lines", low_or_negative)),
               rule("all", Quantified("all", "order.lines", low_or_negative)),
               rule("any nested", Quantified("any", "order.lines", nested)),
               rule("all nested", Quantified("all", "order.lines", nested)))
    every = {"any", "all", "any nested", "all nested"}
    assert {r for r, _ in both(build, st, order(lines=[{"line.qty": 1, "line.product.stock": 10}]))} == every
    assert {r for r, _ in both(build, st, order(lines=[{"line.qty": 9, "line.product.stock": -1}]))} == every
    assert both(build, st, order(lines=[{"line.qty": 9, "line.product.stock": 10}])) == frozenset()
    assert {r for r, _ in both(build, st, order(lines=[{"line.qty": 1}, {"line.qty": 9}]))} == {"any", "any nested"}


def test_field_names_with_the_same_durable_hash_are_rejected() -> None:
    """durable identifies properties by a 32-bit FNV-1 hash: these two names are one field to it."""
    assert fnv1_32("f6059") == fnv1_32("f264602")
    vocabulary = {p: FactInfo(p, N, "") for p in ("f6059", "f264602")}
    both_read = And((Compare(">", num("f6059"), const(1)), Compare(">", num("f264602"), const(1))))
    with pytest.raises(EngineError, match="cannot tell fields 'f6059' and 'f264602' apart"):
        DurableBackend([stage(rule("r", both_read), vocabulary=vocabulary)])


def test_a_rule_reading_more_fields_than_durable_takes_is_lifted_not_refused() -> None:
    """durable-rules takes at most 250 fields per message (element): a rule reading 260 element
    fields is matched by the Python evaluator inside the backend, so the policy still loads."""
    vocabulary: dict[str, FactInfo] = {"o.items": FactInfo("o.items", Kind.list, "", element="i")}
    vocabulary.update({f"i.f{n}": FactInfo(f"i.f{n}", N, "") for n in range(260)})
    wide = And(tuple(Compare(">", num(f"i.f{n}", True), const(0)) for n in range(260)))
    st = stage(rule("wide", Quantified("any", "o.items", wide)), vocabulary=vocabulary)
    backend = DurableBackend([st])
    try:
        assert backend.lifted("test") == {"wide"}
        for value in (0, 1):
            items = [{f"i.f{n}": Decimal(1) for n in range(260)} | {"i.f7": Decimal(value)}]
            facts = FactSet({"o.items": items})
            assert backend.match("test", facts) == PythonBackend([st]).match("test", facts)
            assert bool(backend.match("test", facts)) is bool(value)
    finally:
        backend.close()


def test_unknown_fact_path_or_kind_is_rejected() -> None:
    with pytest.raises(EngineError, match=r"'order\.totl', which is not in the stage's vocabulary"):
        DurableBackend([stage(rule("typo", Compare(">", num("order.totl"), const(1))))])
    with pytest.raises(EngineError, match=r"reads 'order\.total' as text, but it is number"):
        DurableBackend([stage(rule("kind", Compare("==", Ref("order.total", Kind.text), const("1", Kind.text))))])



def test_a_condition_deeper_than_python_recurses_is_an_engine_error_not_a_recursion_error() -> None:
    """The checker keeps conditions within 100 operators; a stage built by hand past Python's stack
    (a 600-term chain was enough) is refused with an EngineError that names the limits."""
    chain: Any = num("order.total")
    for _ in range(3_000):
        chain = Arith("+", chain, num("order.total"), N)
    with pytest.raises(EngineError, match="nested too deeply for the durable backend"):
        DurableBackend([stage(rule("deep", Compare(">", chain, const(1))))])


# -- actions -----------------------------------------------------------------------------------------

def test_action_exception_fails_the_match(
    build: Callable[..., DurableBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = build(stage(rule("a", Compare(">", num("order.total"), const(1))),
                          rule("b", Compare(">", num("line.qty"), const(1)), scope="line")))
    facts = order(lines=[{"line.qty": 5}])

    def boom(self: Any, rule_id: str, item: int | None) -> None:
        raise RuntimeError(f"collector broke on {rule_id}")

    monkeypatch.setattr(durable_module._Collector, "add", boom)
    with pytest.raises(EngineError, match="collector broke on a") as caught:
        backend.match("test", facts)
    assert isinstance(caught.value.__cause__, RuntimeError)
    monkeypatch.undo()
    assert backend.match("test", facts) == {("a", None), ("b", 0)}


def test_durable_json_holds_action_names_and_priorities_only(build: Callable[..., DurableBackend]) -> None:
    backend = build(stage(rule("late", Compare(">", num("order.total"), const(1)), priority=7)))
    definition = next(iter(backend.rulesets("test").values()))
    json.dumps(definition)  # plain JSON: no functions, no Decimals
    (name,) = (k for k in definition if k != "s")
    assert name.startswith("r")
    assert definition[name]["pri"] == 7
    with pytest.raises(EngineError, match="unknown action"):
        backend._host.get_action("nope")
