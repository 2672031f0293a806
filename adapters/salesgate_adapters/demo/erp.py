"""The demo ERP: a small trading company's database, built on the fly for ``salesgate demo``.

Its schema is what a small distributor's ERP keeps — customers, products, sales orders and their
lines, invoices, receipts (payments against invoices), deliveries and returns — and the shipped
mapping ``demo.yaml`` reads it like any production database: exposure is *computed* from invoices,
receipts and confirmed orders, a return is completed from the delivery it refers to. The rows come
from the demo company (``demo_company.json`` beside this module): its exposure figures become invoices and
receipts that add up to exactly those figures on the demo's as-of date.

The schema is SQLAlchemy Core, so the same demo ERP can be created on SQLite (in memory by
default), PostgreSQL or MariaDB: the tests run the demo mapping on all three.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from .company import (
    COMPANY_TZ,
    OPEN_ORDERS_AGE,
    ORDERED_BEFORE_DELIVERY,
    VISIT_TIME,
    DemoCompany,
    load_demo_company,
    visit_days,
)

GRADE_LABELS = {"A": "大客户", "B": "中小客户", "C": "潜在客户"}
"""How the demo ERP files customers (客户分类); ``demo.yaml`` translates the labels into grades."""

Money = sa.Numeric(18, 4)

PAID_LATE = 12
"""Days after its due date each customer's old invoice was paid in full: the average days paid late."""
DECLARED_COLUMNS: dict[str, dict[str, str]] = {
    "customers": {"tenure_years": "years_as_customer", "credit_assessed": "credit_assessed",
                  "grade_assessed_on": "grade_assessed_on",
                  "repayment_agreement_days_left": "agreement_days_left", "kind": "customer_kind",
                  "industry": "industry", "stage": "stage"},
    "products": {"make_or_buy": "sourcing", "restock_date": "restock_date"},
    "orders": {"requested_delivery_date": "delivery_date", "contract_signed": "contract_signed",
               "quotation": "is_quotation", "project_no": "project_no", "payment_received": "payment_received"},
}
"""Where the demo ERP keeps the seed policy's declared facts (``policy.yaml`` ``facts:``), by section and fact:
columns of its own, NULL where the books hold no value; ``demo.yaml`` reads them under ``declared:``."""
LABELS: dict[str, dict[str, str]] = {
    "kind": {"enterprise": "企业", "individual": "个人"},
    "stage": {"prospect": "潜在", "intent": "意向", "signed": "签约"},
    "make_or_buy": {"make": "自产", "buy": "外购"},
}
"""How the demo ERP files the declared facts that are choices (客户性质, 合作阶段, 自产/外购); ``demo.yaml``
translates the labels back."""

metadata = sa.MetaData()

customers = sa.Table(
    "customers", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("region", sa.String(64), nullable=False, server_default=""),
    sa.Column("region_has_distributor", sa.Boolean, nullable=False),
    sa.Column("is_distributor", sa.Boolean, nullable=False),
    sa.Column("credit_limit", Money, nullable=False),
    sa.Column("credit_rating", sa.String(16), nullable=False),
    sa.Column("payment_terms_days", sa.Integer, nullable=False),
    sa.Column("has_repayment_plan", sa.Boolean, nullable=False),
    sa.Column("has_repayment_agreement", sa.Boolean, nullable=False),
    sa.Column("years_as_customer", sa.Integer),
    sa.Column("credit_assessed", sa.Boolean),
    sa.Column("grade_assessed_on", sa.Date),  # when the credit grade was last assessed
    sa.Column("agreement_days_left", sa.Integer),  # to the date of the written repayment agreement
    sa.Column("customer_kind", sa.String(16)),
    sa.Column("industry", sa.String(64)),
    sa.Column("stage", sa.String(16)),
    sa.Column("stage_since", sa.Date),  # the day the customer reached its stage (潜在, 意向, 签约)
    mysql_charset="utf8mb4",
)
products = sa.Table(
    "products", metadata,
    sa.Column("sku", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("list_price", Money, nullable=False),
    sa.Column("cost", Money, nullable=False),
    sa.Column("on_hand", sa.Integer, nullable=False),
    sa.Column("sourcing", sa.String(16)),
    sa.Column("restock_date", sa.Date),
    mysql_charset="utf8mb4",
)
sales_orders = sa.Table(
    "sales_orders", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("customer_id", sa.String(32), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # draft, confirmed, completed, cancelled
    sa.Column("order_date", sa.Date, nullable=False),
    sa.Column("created_at", sa.DateTime),  # UTC
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("written_confirmation", sa.Boolean, nullable=False),
    sa.Column("payment_method", sa.String(32), nullable=False),
    sa.Column("draft_term_days", sa.Integer),
    sa.Column("payment_terms_days", sa.Integer, nullable=False),
    sa.Column("guarantee", sa.Boolean, nullable=False),
    sa.Column("special_requirements", sa.Text),
    sa.Column("total", Money, nullable=False),
    sa.Column("invoiced_amount", Money, nullable=False),
    sa.Column("delivery_date", sa.Date),  # requested by the customer
    sa.Column("contract_signed", sa.Boolean),
    sa.Column("is_quotation", sa.Boolean),
    sa.Column("project_no", sa.String(32)),
    sa.Column("payment_received", sa.Boolean),
    mysql_charset="utf8mb4",
)
sales_order_lines = sa.Table(
    "sales_order_lines", metadata,
    sa.Column("order_id", sa.String(32), sa.ForeignKey("sales_orders.id"), primary_key=True),
    sa.Column("line_no", sa.Integer, primary_key=True),
    # No foreign key to products: like many ERPs, a line may carry an item typed in by the rep that
    # the product master does not have (demo order SO-1010); the seed policy blocks such a line.
    sa.Column("sku", sa.String(64), nullable=False),
    sa.Column("qty", sa.Integer, nullable=False),
    sa.Column("unit_price", Money, nullable=False),
    sa.Column("discount", sa.Numeric(6, 4), nullable=False),
    mysql_charset="utf8mb4",
)
invoices = sa.Table(
    "invoices", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("customer_id", sa.String(32), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("order_id", sa.String(32), sa.ForeignKey("sales_orders.id")),
    sa.Column("status", sa.String(16), nullable=False),  # posted, cancelled
    sa.Column("invoice_date", sa.Date, nullable=False),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("amount", Money, nullable=False),
    mysql_charset="utf8mb4",
)
receipts = sa.Table(
    "receipts", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("customer_id", sa.String(32), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("invoice_id", sa.String(32), sa.ForeignKey("invoices.id"), nullable=False),
    sa.Column("received_on", sa.Date, nullable=False),
    sa.Column("amount", Money, nullable=False),
    mysql_charset="utf8mb4",
)
deliveries = sa.Table(
    "deliveries", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("order_id", sa.String(32), sa.ForeignKey("sales_orders.id"), nullable=False),
    # No foreign key to products: like many ERPs, a line may carry an item typed in by the rep that
    # the product master does not have (demo order SO-1010); the seed policy blocks such a line.
    sa.Column("sku", sa.String(64), nullable=False),
    sa.Column("qty", sa.Integer, nullable=False),
    sa.Column("delivered_on", sa.Date, nullable=False),
    sa.Column("invoice_id", sa.String(32), sa.ForeignKey("invoices.id")),
    mysql_charset="utf8mb4",
)
returns = sa.Table(
    "returns", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("customer_id", sa.String(32), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("original_order_id", sa.String(32), sa.ForeignKey("sales_orders.id"), nullable=False),
    # No foreign key to products: like many ERPs, a line may carry an item typed in by the rep that
    # the product master does not have (demo order SO-1010); the seed policy blocks such a line.
    sa.Column("sku", sa.String(64), nullable=False),
    sa.Column("qty", sa.Integer, nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(16), nullable=False),
    sa.Column("claimed_amount", Money),
    sa.Column("requested_on", sa.Date, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # requested, completed, refused
    mysql_charset="utf8mb4",
)

customer_contacts = sa.Table(
    "customer_contacts", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.String(32), sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("rep", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # visit, call, mail
    sa.Column("contacted_at", sa.DateTime, nullable=False),  # UTC
    mysql_charset="utf8mb4",
)
"""The follow-up log (客户跟进记录): every visit, call or mail of a rep to a customer."""

def demo_engine(url: str = "sqlite://") -> Engine:
    """An engine for the demo ERP; an in-memory SQLite database is shared by all threads."""
    if url in ("sqlite://", "sqlite:///:memory:"):
        return sa.create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    return sa.create_engine(url)


def create_demo_erp(company: DemoCompany, engine: Engine | None = None) -> Engine:
    """Create the demo ERP's tables in ``engine`` (default: a new in-memory SQLite database) and fill them."""
    engine = engine if engine is not None else demo_engine()
    metadata.create_all(engine)
    documents, document_rows = document_tables(company.documents)
    documents.create_all(engine)
    with engine.begin() as connection:
        for table, rows in [*_rows(company).items(), *document_rows.items()]:
            if rows:
                connection.execute(table.insert(), rows)
    return engine


def drop_demo_erp(engine: Engine, company: DemoCompany | None = None) -> None:
    """Drop the demo ERP's tables (tests on shared database servers clean up after themselves)."""
    if company is None:
        company = load_demo_company()
    document_tables(company.documents)[0].drop_all(engine)
    metadata.drop_all(engine)


# -- the documents of declared decision points ------------------------------------------------------------------

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def document_tables(documents: Mapping[str, Sequence[Mapping[str, Any]]]) -> tuple[
        sa.MetaData, dict[sa.Table, list[dict[str, Any]]]]:
    """The tables holding the demo documents of declared decision points, and their rows.

    One table per point, named after it, whose columns are the document's fields (so the ``demo`` mapping
    reads a document with ``SELECT * FROM <point> WHERE id = :id``), and one per list field
    (``<point>_<field>``: ``document_id``, ``position`` and the element's fields). Column types follow the
    values: true/false, whole numbers, amounts (exact, 6 places), dates (``YYYY-MM-DD``) and text.
    """
    tables = sa.MetaData()
    rows: dict[sa.Table, list[dict[str, Any]]] = {}
    for point, items in documents.items():
        scalars = [{k: v for k, v in d.items() if not isinstance(v, list)} for d in items]
        head = sa.Table(point, tables, *_columns(scalars, key="id"), mysql_charset="utf8mb4")
        rows[head] = [{column.name: _stored(d.get(column.name)) for column in head.columns} for d in scalars]
        lists = sorted({k for d in items for k, v in d.items() if isinstance(v, list)})
        for field in lists:
            elements = [(d["id"], n, e) for d in items for n, e in enumerate(d.get(field) or [], start=1)]
            table = sa.Table(f"{point}_{field}", tables, sa.Column("document_id", sa.String(64), nullable=False),
                             sa.Column("position", sa.Integer, nullable=False),
                             *_columns([e for _, _, e in elements]), mysql_charset="utf8mb4")
            rows[table] = [{"document_id": doc_id, "position": n,
                            **{c.name: _stored(e.get(c.name)) for c in table.columns if c.name not in ("document_id",
                                                                                                     "position")}}
                           for doc_id, n, e in elements]
    return tables, rows


def _columns(rows: Sequence[Mapping[str, Any]], key: str | None = None) -> list[sa.Column[Any]]:
    names = list(dict.fromkeys(name for row in rows for name in row))
    return [sa.Column(name, _type([row[name] for row in rows if row.get(name) is not None]), primary_key=name == key)
            for name in names]


def _type(values: Sequence[Any]) -> sa.types.TypeEngine[Any]:
    if values and all(isinstance(v, bool) for v in values):
        return sa.Boolean()
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return sa.Integer()
    if values and all(isinstance(v, int | Decimal) and not isinstance(v, bool) for v in values):
        return sa.Numeric(18, 6)
    if values and all(isinstance(v, str) and _DATE.match(v) for v in values):
        return sa.Date()
    return sa.String(200)


def _stored(value: Any) -> Any:
    if isinstance(value, str) and _DATE.match(value):
        return date.fromisoformat(value)
    return value


def _rows(company: DemoCompany) -> dict[sa.Table, list[dict[str, Any]]]:
    as_of = company.as_of
    rows: dict[sa.Table, list[dict[str, Any]]] = {t: [] for t in metadata.sorted_tables}
    for c in company.customers.values():
        rows[customers].append({
            "id": c.id, "name": c.name, "category": GRADE_LABELS[c.grade.value], "status": c.status.value,
            "region": c.region, "region_has_distributor": c.region_has_distributor,
            "is_distributor": c.is_distributor, "credit_limit": c.credit_limit,
            "credit_rating": c.credit_rating.value, "payment_terms_days": c.payment_terms_days,
            "has_repayment_plan": c.has_repayment_plan, "has_repayment_agreement": c.has_repayment_agreement,
            **_declared(company, "customers", c.id),
        })
    for p in company.products.values():
        rows[products].append({"sku": p.sku, "name": p.name, "list_price": p.list_price, "cost": p.cost,
                               "on_hand": p.stock, **_declared(company, "products", p.sku)})
    for o in company.orders:  # the pending orders salesgate decides
        rows[sales_orders].append(_order(o.id, o.customer_id, "draft", o.order_date, o.total, Decimal(0), {
            "created_at": o.created_at.astimezone(UTC).replace(tzinfo=None) if o.created_at else None,
            "currency": o.currency, "channel": o.channel.value, "written_confirmation": o.written_confirmation,
            "payment_method": o.payment_method.value, "draft_term_days": o.draft_term_days,
            "payment_terms_days": o.payment_terms_days, "guarantee": o.guarantee,
            "special_requirements": o.special_requirements, **_declared(company, "orders", o.id),
        }))
        rows[sales_order_lines].extend(
            {"order_id": o.id, "line_no": ln.line_no, "sku": ln.sku, "qty": ln.qty, "unit_price": ln.unit_price,
             "discount": ln.discount} for ln in o.lines)
    first_sku = next(iter(company.products))
    for n, (customer_id, exposure) in enumerate(sorted(company.exposures.items()), start=1):
        if exposure.open_orders:  # confirmed, not yet invoiced
            order_id = f"SO-08{n:02d}"
            ordered = as_of - timedelta(days=OPEN_ORDERS_AGE)
            rows[sales_orders].append(_order(order_id, customer_id, "confirmed", ordered,
                                             exposure.open_orders, Decimal(0)))
            rows[sales_order_lines].append({"order_id": order_id, "line_no": 1, "sku": first_sku, "qty": 1,
                                            "unit_price": exposure.open_orders, "discount": Decimal(0)})
        rows[invoices].extend(_receivables(customer_id, exposure.open_receivables, exposure.overdue_amount,
                                           exposure.max_overdue_days, as_of, rows[receipts]))
    history_rows(company, rows)
    for n, r in enumerate(company.returns, start=1):
        delivered_on = as_of - timedelta(days=r.days_since_delivery)
        value = r.unit_price * r.delivered_qty
        rows[sales_orders].append(_order(r.original_order_id, r.customer_id, "completed",
                                         delivered_on - timedelta(days=ORDERED_BEFORE_DELIVERY), value, value))
        rows[sales_order_lines].append({"order_id": r.original_order_id, "line_no": 1, "sku": r.sku,
                                        "qty": r.delivered_qty, "unit_price": r.unit_price, "discount": Decimal(0)})
        if r.invoice_id:
            rows[invoices].append(_invoice(r.invoice_id, r.customer_id, delivered_on, delivered_on + timedelta(30),
                                           value, r.original_order_id))
            rows[receipts].append(_receipt(f"RC-{r.invoice_id}", r.customer_id, r.invoice_id,
                                           delivered_on + timedelta(days=25), value))
        rows[deliveries].append({"id": f"DN-{n:04d}", "order_id": r.original_order_id, "sku": r.sku,
                                 "qty": r.delivered_qty, "delivered_on": delivered_on, "invoice_id": r.invoice_id})
        if r.already_returned_qty:
            rows[returns].append(_return(f"{r.id}-EARLIER", r.customer_id, r.original_order_id, r.sku,
                                         r.already_returned_qty, "return", "other", None,
                                         delivered_on + timedelta(days=2), "completed"))
        rows[returns].append(_return(r.id, r.customer_id, r.original_order_id, r.sku, r.qty, r.type.value,
                                     r.reason.value, r.claimed_amount, as_of, "requested"))
    return rows


def history_rows(company: DemoCompany, rows: dict[sa.Table, list[dict[str, Any]]]) -> None:
    """Add the books' history to ``rows``: closed orders (archived sales, each with one line), the contact log
    (a month's visits spread over its days, at 10:00 in the company's time zone) and the day each customer
    reached its stage."""
    history = company.history
    for o in history.get("closed_orders", []):
        total = Decimal(str(o["total"]))
        rows[sales_orders].append(_order(o["id"], o["customer_id"], "closed", date.fromisoformat(o["order_date"]),
                                         total, total))
        rows[sales_order_lines].append({"order_id": o["id"], "line_no": 1, "sku": next(iter(company.products)),
                                        "qty": 1, "unit_price": total, "discount": Decimal(0)})
    contacts = rows[customer_contacts]
    for c in history.get("contacts", []):
        contacts.append({"id": len(contacts) + 1, "customer_id": c["customer_id"], "rep": c["rep"], "kind": c["kind"],
                         "contacted_at": datetime.fromisoformat(c["at"]).astimezone(UTC).replace(tzinfo=None)})
    for m in history.get("visit_months", []):
        for day in visit_days(m["month"], int(m["visits"])):
            at = datetime.combine(day, VISIT_TIME, COMPANY_TZ)
            contacts.append({"id": len(contacts) + 1, "customer_id": m["customer_id"], "rep": m["rep"],
                             "kind": "visit", "contacted_at": at.astimezone(UTC).replace(tzinfo=None)})
    since = history.get("stage_since", {})
    for row in rows[customers]:
        row["stage_since"] = date.fromisoformat(since[row["id"]]) if row["id"] in since else None


def _declared(company: DemoCompany, section: str, key: str) -> dict[str, Any]:
    """The row's declared-fact columns: the books' values (labels for choices, dates as dates), NULL for the rest."""
    columns = DECLARED_COLUMNS[section]
    values = company.declared.get(section, {}).get(key, {})
    unknown = sorted(set(values) - set(columns))
    if unknown:
        raise ValueError(f"demo company: {section} {key!r} holds {', '.join(unknown)}, which the demo ERP has no "
                         f"column for; it keeps {', '.join(columns)}")
    row = dict.fromkeys(columns.values())
    for fact, value in values.items():
        row[columns[fact]] = _stored(LABELS[fact][value] if fact in LABELS and value is not None else value)
    return row


def _order(order_id: str, customer_id: str, status: str, order_date: date, total: Decimal, invoiced: Decimal,
           terms: dict[str, Any] | None = None) -> dict[str, Any]:
    defaults = {"created_at": None, "currency": "CNY", "channel": "written", "written_confirmation": False,
                "payment_method": "credit", "draft_term_days": None, "payment_terms_days": 30, "guarantee": False,
                "special_requirements": None, **dict.fromkeys(DECLARED_COLUMNS["orders"].values())}
    return {"id": order_id, "customer_id": customer_id, "status": status, "order_date": order_date,
            "total": total, "invoiced_amount": invoiced, **defaults, **(terms or {})}


def _invoice(invoice_id: str, customer_id: str, invoice_date: date, due_date: date, amount: Decimal,
             order_id: str | None = None) -> dict[str, Any]:
    return {"id": invoice_id, "customer_id": customer_id, "order_id": order_id, "status": "posted",
            "invoice_date": invoice_date, "due_date": due_date, "amount": amount}


def _receipt(receipt_id: str, customer_id: str, invoice_id: str, received_on: date, amount: Decimal) -> dict[str, Any]:
    return {"id": receipt_id, "customer_id": customer_id, "invoice_id": invoice_id, "received_on": received_on,
            "amount": amount}


def _return(return_id: str, customer_id: str, order_id: str, sku: str, qty: int, kind: str, reason: str,
            claimed: Decimal | None, requested_on: date, status: str) -> dict[str, Any]:
    return {"id": return_id, "customer_id": customer_id, "original_order_id": order_id, "sku": sku, "qty": qty,
            "type": kind, "reason": reason, "claimed_amount": claimed, "requested_on": requested_on,
            "status": status}


def _receivables(customer_id: str, open_amount: Decimal, overdue: Decimal, overdue_days: int, as_of: date,
                 receipts_out: list[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """Invoices whose unpaid parts add up to the open and overdue amounts, each with some history:
    an old invoice paid in full (PAID_LATE days after its due date), a partly paid overdue one, and one not
    yet due."""
    if overdue and overdue_days <= 0:
        raise ValueError(f"customer {customer_id}: an overdue amount needs overdue days")
    if open_amount == 0:
        return []
    paid_date = as_of - timedelta(days=90)
    due_date = paid_date - timedelta(days=PAID_LATE)
    made = [_invoice(f"INV-{customer_id}-1", customer_id, due_date - timedelta(30), due_date, Decimal(5000))]
    receipts_out.append(_receipt(f"RC-{customer_id}-1", customer_id, made[0]["id"], paid_date, Decimal(5000)))
    if overdue:
        due = as_of - timedelta(days=overdue_days)
        made.append(_invoice(f"INV-{customer_id}-2", customer_id, due - timedelta(30), due, overdue + 1000))
        receipts_out.append(_receipt(f"RC-{customer_id}-2", customer_id, made[-1]["id"], due, Decimal(1000)))
    if open_amount > overdue:
        made.append(_invoice(f"INV-{customer_id}-3", customer_id, as_of - timedelta(days=5),
                             as_of + timedelta(days=25), open_amount - overdue))
    return made
