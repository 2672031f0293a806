"""The issue's "done when", end to end: point salesgate at an ERP database on PostgreSQL or MariaDB
(and SQLite) with a mapping, and get decisions, credit reservations and a decision log.

Each run builds the demo ERP in a namespace of its own (tests/fixtures/databases.py: a PostgreSQL
schema, a MariaDB database, dropped afterwards), migrates salesgate's tables next to it, and drives a
gate the way the README's "Connecting to your ERP database" does. The README's snippets themselves run
in ``test_readme_erp_section_runs_as_written`` (against an ERPNext-shaped SQLite database).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from fixtures.databases import KINDS, ScratchDatabase, isolated_database
from fixtures.erp_schemas import FIXTURES
from salesgate import Gate, Outcome
from salesgate.seed import seed_policy_path
from salesgate_adapters.demo import AS_OF, load_demo_company, return_request
from salesgate_adapters.demo.erp import create_demo_erp
from salesgate_adapters.store import Store, canonical_json

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(params=KINDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ScratchDatabase]:
    with isolated_database(request.param, tmp_path) as db:
        yield db


def test_decisions_reservations_and_decision_log_on_an_erp_database(database: ScratchDatabase) -> None:
    company = load_demo_company()
    create_demo_erp(company, database.engine)
    store = Store(database.url)
    store.upgrade()
    try:
        with Gate.from_path(seed_policy_path(), adapter="sql", url=database.url, mapping="demo", today=AS_OF,
                            store=store, timeout=10, failure_mode="closed") as gate:
            # 1. an order by id: order, customer, products and exposure come from the ERP
            approval = gate.approve_order({"order": "SO-1001"})
            # 2. a new order, checked and held; the ERP commits it; confirmed
            order = {"order": {"id": "SO-E2E-1", "customer_id": "C006", "order_date": AS_OF.isoformat(),
                               "lines": [{"line_no": 1, "sku": "MOTOR-5.5", "qty": 5, "unit_price": "2660"}]}}
            credit = gate.check_credit(order, reserve=True)
            held = store.reservation("SO-E2E-1")
            confirmed = gate.confirm_reservation("SO-E2E-1")
            # 3. a partial return, completed from the delivery on the original order
            request = company.returns[0]
            returned = gate.handle_return({"return": return_request(request, AS_OF)})
            facts = {hook: gate.facts_for(hook, given) for hook, given in (
                ("order_approval", {"order": "SO-1001"}),
                ("return_handling", {"return": return_request(request, AS_OF)}))}
            policy_hash = gate.policy.hash

        assert approval.failure is None
        assert approval.outcome is Outcome.require_approval
        assert approval.required_roles == ["sales_manager", "general_manager"]

        assert credit.failure is None
        assert credit.outcome is Outcome.allow
        assert credit.credit is not None
        assert credit.credit.exposure == Decimal("35000") + Decimal("12000") + Decimal("13300")  # ERP + this order
        assert credit.credit.available == Decimal("400000") - credit.credit.exposure
        assert held is not None
        assert (held.status, held.amount, held.customer_id) == ("reserved", Decimal("13300"), "C006")
        assert confirmed is not None
        assert confirmed.status == "confirmed"
        assert store.reserved_amount("C006") == 0

        assert returned.failure is None
        assert returned.subject == request.id
        assert returned.returns is not None
        assert returned.returns.amount == request.unit_price * request.qty

        # the decision log: one row per decision, with policy hash, inputs digest and outcome
        logged = {(r.hook, r.subject): r for r in store.decisions()}
        assert set(logged) == {("order_approval", "SO-1001"), ("credit_check", "SO-E2E-1"),
                               ("return_handling", request.id)}
        for (hook, subject), made in [(("order_approval", "SO-1001"), approval),
                                      (("credit_check", "SO-E2E-1"), credit),
                                      (("return_handling", request.id), returned)]:
            record = logged[(hook, subject)]
            assert record.decision.policy.hash == policy_hash
            assert record.decision.outcome is made.outcome
            assert record.inputs_digest is not None
            assert re.fullmatch(r"[0-9a-f]{64}", record.inputs_digest)
        for hook, subject in (("order_approval", "SO-1001"), ("return_handling", request.id)):
            expected = hashlib.sha256(canonical_json(facts[hook]).encode()).hexdigest()
            assert logged[(hook, subject)].inputs_digest == expected
        assert held.decision_id == logged[("credit_check", "SO-E2E-1")].id
        with store.engine.connect() as conn:
            rows = conn.execute(text("SELECT hook, subject, outcome, policy_hash FROM salesgate_decisions "
                                     "ORDER BY decided_at")).all()
        assert sorted(tuple(r) for r in rows) == sorted([
            ("order_approval", "SO-1001", "require_approval", policy_hash),
            ("credit_check", "SO-E2E-1", "allow", policy_hash),
            ("return_handling", request.id, returned.outcome.value, policy_hash)])

        # approval requests: one pending request per role, in ladder order
        requests = store.approval_requests("SO-1001")
        assert [(r.role, r.status, r.position) for r in requests] == [
            ("sales_manager", "pending", 1), ("general_manager", "pending", 2)]
        assert {r.decision_id for r in requests} == {logged[("order_approval", "SO-1001")].id}
    finally:
        store.close()


# -- the README's section runs as written ---------------------------------------------------------------------------


def readme_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Connecting to your ERP database\n(.*?)(?=^## )", readme, re.S | re.M)
    assert match, "README.md has no section 'Connecting to your ERP database'"
    return match.group(1)


def test_readme_erp_section_runs_as_written(tmp_path: Path) -> None:
    """Every snippet of the section, in order, against an ERPNext-shaped SQLite database."""
    section = readme_section()
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
    assert [kind for kind, _ in blocks].count("python") >= 1
    assert [kind for kind, _ in blocks].count("bash") >= 1
    erp = FIXTURES["erpnext"]()
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'erp.db'}"
    engine = sa.create_engine(url)
    erp.create(engine)
    engine.dispose()
    env = {**os.environ, "SALESGATE_DATABASE_URL": url,
           "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("core", "plugins", "adapters"))}
    env.pop("SALESGATE_TIMEOUT", None)
    for kind, code in blocks:
        if kind == "bash":
            for line in code.splitlines():
                command = line.split("#", 1)[0].strip()
                if not command.startswith("salesgate "):
                    continue
                args = command.split()[1:]
                result = subprocess.run([sys.executable, "-m", "salesgate", *args], cwd=ROOT, env=env,
                                        capture_output=True, text=True, check=False)
                assert result.returncode == 0, (command, result.stdout, result.stderr)
        elif kind == "python":
            result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                                    text=True, check=False)
            assert result.returncode == 0, (code, result.stdout, result.stderr)
    check = Store(url)
    try:
        logged = {(r.hook, r.subject) for r in check.decisions()}
        assert {("order_approval", "SAL-ORD-0001"), ("credit_check", "SAL-ORD-0042")} <= logged
        reservation = check.reservation("SAL-ORD-0042")
        assert reservation is not None
        assert reservation.status in ("confirmed", "cancelled")
    finally:
        check.close()
