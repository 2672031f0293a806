"""CsvAdapter: salesgate's data hooks answered from a directory of CSV files."""

from __future__ import annotations

import csv
import os
import threading
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from salesgate import AdapterError, CreditExposure, Customer, Decision, Delivery, Order, Product, hookimpl

from ._books import Books, read_books

DECISION_LOG_COLUMNS = ("decided_at", "hook", "subject", "outcome", "approvals", "rules", "policy", "failure")


class CsvAdapter:
    """Customers, products, receivables and orders from ``directory``, read and checked once.

    The directory holds ``customers.csv``, ``products.csv``, ``receivables.csv`` (open invoices:
    ``customer_id, amount, due_date``), ``orders.csv`` and ``order_lines.csv``, and optionally
    ``deliveries.csv`` (``order_id, sku, qty, delivered_on``: what a return is checked against);
    UTF-8, with columns named after salesgate's fact fields. A bad row raises :class:`~salesgate.AdapterError`
    with ``file:line`` when the adapter is built, so a gate never starts on broken books.

    Overdue days are counted on the company's calendar: ``today`` (a date, a timezone-aware
    datetime, or an ISO string of either) fixes the day, which tests and back-dated runs need;
    without it the day is taken from the clock at every exposure, in ``timezone`` (an IANA name
    like ``"Asia/Shanghai"``, default the machine's zone), into which an aware ``today`` is also
    converted. ``decision_log``, when given, is a CSV file every decision is appended to.

    Safe to share between threads: the books are immutable and :meth:`reload` swaps them whole.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        today: date | datetime | str | None = None,
        timezone: str | tzinfo | None = None,
        decision_log: str | os.PathLike[str] | None = None,
    ) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise AdapterError(f"csv adapter: {self.directory} is not a directory")
        self._zone = _zone(timezone)
        self._fixed_today = _fixed_day(today, self._zone)
        self._decision_log = Path(decision_log) if decision_log is not None else None
        self._log_lock = threading.Lock()
        self._books: Books = read_books(self.directory)

    def reload(self) -> None:
        """Read the files again. A hook running meanwhile sees the old books or the new, never a mix."""
        self._books = read_books(self.directory)

    def today(self) -> date:
        """The day overdue invoices are counted against."""
        if self._fixed_today is not None:
            return self._fixed_today
        return (datetime.now(self._zone) if self._zone else datetime.now().astimezone()).date()

    # -- salesgate's data hooks -------------------------------------------------------------------

    @hookimpl
    def salesgate_load_customer(self, customer_id: str) -> Customer | None:
        return self._books.customers.get(customer_id)

    @hookimpl
    def salesgate_load_exposure(self, customer_id: str) -> CreditExposure | None:
        return self._books.exposure(customer_id, self.today())

    @hookimpl
    def salesgate_load_products(self, skus: list[str]) -> list[Product] | None:
        products = self._books.products
        found = [products[sku] for sku in dict.fromkeys(skus) if sku in products]
        return found or None  # None lets another adapter answer

    @hookimpl
    def salesgate_load_order(self, order_id: str) -> Order | None:
        return self._books.orders.get(order_id)

    @hookimpl
    def salesgate_load_delivery(self, order_id: str, sku: str) -> Delivery | None:
        return self._books.deliveries.get((order_id, sku))

    @hookimpl
    def salesgate_record_decision(self, decision: Decision) -> None:
        if self._decision_log is None:
            return
        now = datetime.now(self._zone) if self._zone else datetime.now().astimezone()
        row = [now.isoformat(timespec="seconds"), decision.hook, decision.subject, decision.outcome.value,
               " ".join(decision.required_roles), " ".join(sorted({r.rule for r in decision.reasons})),
               f"{decision.policy.name}@{decision.policy.version}", decision.failure or ""]
        with self._log_lock, self._decision_log.open("a", encoding="utf-8", newline="") as log:
            writer = csv.writer(log)
            if log.tell() == 0:
                writer.writerow(DECISION_LOG_COLUMNS)
            writer.writerow(row)


def _zone(zone: str | tzinfo | None) -> tzinfo | None:
    if zone is None or isinstance(zone, tzinfo):
        return zone
    if zone.upper() == "UTC":
        return UTC  # needs no time zone database
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise AdapterError(f"csv adapter: unknown time zone {zone!r}; use an IANA name like 'Asia/Shanghai'") from None


def _fixed_day(today: date | datetime | str | None, zone: tzinfo | None) -> date | None:
    if isinstance(today, str):
        try:
            today = date.fromisoformat(today) if len(today) == 10 else datetime.fromisoformat(today)
        except ValueError:
            raise AdapterError(f"csv adapter: today={today!r} is not an ISO date (2026-11-23) or a date-time "
                               "with its offset (2026-11-23T09:00:00+08:00)") from None
    if isinstance(today, datetime):
        if today.utcoffset() is None:
            raise AdapterError(f"csv adapter: today={today.isoformat()!r} has no time zone, so its day is "
                               "ambiguous: pass an aware datetime or a date")
        return today.astimezone(zone).date() if zone else today.date()
    return today
