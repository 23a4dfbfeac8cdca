"""An order's money and progress as Stripe events and the fulfilment steps move them: the
orders made from a payment's own cart, the Stripe ids linked to an order, its payment
status (which only moves forward), what was paid and refunded, and its fulfilment status.

Every function is a write function (connection first, no commit) for the store's single
writer; `fulfilment/` decides when to call them and holds no SQL for `orders`.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from core.cart import Cart
from core.payments import PaymentFacts, moves_forward
from store import orders


def find_order(conn: duckdb.DuckDBPyConnection, facts: PaymentFacts) -> str | None:
    """The order a payment is about, by our order id or any of its Stripe ids."""
    for column, value in (
        ("order_id", facts.order_id),
        ("checkout_session_id", facts.checkout_session_id),
        ("payment_intent_id", facts.payment_intent_id),
        ("subscription_id", facts.subscription_id),
    ):
        if value:
            row = conn.execute(
                f"SELECT order_id FROM orders WHERE {column} = ?", [value]
            ).fetchone()
            if row:
                return row[0]
    return None


# --- orders made from a payment's metadata -------------------------------------------------


def insert_metadata_order(
    conn: duckdb.DuckDBPyConnection, order_id: str, cart: Cart | None, facts: PaymentFacts,
    problems: list[str], now: datetime,
) -> None:  # fmt: skip
    """A pending order for a payment taken outside our checkout, from the cart in its
    metadata, with its students and items; without a cart, an order that needs attention
    for `problems`."""
    conn.execute(
        "INSERT INTO orders (order_id, source, mode, payment_status, fulfillment_status,"
        " customer_email, customer_name, currency, amount_total, kinds, attention_reason,"
        " created_at, updated_at, customer_phone)"
        " VALUES (?, 'metadata', ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            order_id,
            cart.mode if cart else "payment",
            "waiting" if cart else "needs_attention",
            cart.customer.email if cart else facts.email,
            cart.customer.name if cart else facts.name,
            (cart.currency if cart else facts.currency) or "aud",
            cart.amount_total if cart else (facts.amount or 0),
            orders.kinds_of(cart) if cart else None,
            "; ".join(problems) or None,
            now,
            now,
            (cart.customer.phone if cart else None) or facts.phone,
        ],
    )
    if cart is not None:
        student_ids = orders.insert_students(conn, order_id, cart)
        for item in cart.items:
            orders.insert_item(
                conn,
                order_id,
                f"{order_id}:{item.position}",
                item,
                student_ids[orders.student_key(item)],
                now,
            )


def insert_unusable_payment_orders(
    conn: duckdb.DuckDBPyConnection, made: list[tuple[str, PaymentFacts, str]], now: datetime
) -> None:
    """`insert_metadata_order` without a cart, `link` and `record_payment` for many
    (order id, facts, problems) at once: payments without a usable cart, each recorded as
    paid on an order that needs attention for its problems (amount and currency given:
    checked by the caller, fulfilment.bulk_payments.record_unusable_payments)."""
    conn.execute(
        "INSERT INTO orders (order_id, source, mode, payment_status, fulfillment_status,"
        " customer_email, customer_name, currency, amount_total, amount_paid,"
        " attention_reason, checkout_session_id, payment_intent_id, stripe_customer_id,"
        " paid_at, created_at, updated_at)"
        " SELECT unnest(?), 'metadata', 'payment', 'paid', 'needs_attention', unnest(?),"
        " unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), unnest(?),"
        " unnest(?), ?, ?, ?",
        [
            [order_id for order_id, _, _ in made],
            [facts.email for _, facts, _ in made],
            [facts.name for _, facts, _ in made],
            [facts.currency for _, facts, _ in made],
            [facts.amount for _, facts, _ in made],
            [facts.amount for _, facts, _ in made],
            [problems for _, _, problems in made],
            [facts.checkout_session_id for _, facts, _ in made],
            [facts.payment_intent_id for _, facts, _ in made],
            [facts.customer_id for _, facts, _ in made],
            now, now, now,
        ],
    )  # fmt: skip


def insert_paid_metadata_orders(
    conn: duckdb.DuckDBPyConnection, made: list[tuple[str, PaymentFacts, Cart]], now: datetime
) -> None:
    """`insert_metadata_order` and `record_payment` for many (order id, facts, cart) at
    once, in three statements: carts that parse, paid their total (checked by the caller)."""
    conn.execute(
        "INSERT INTO orders (order_id, source, mode, payment_status, fulfillment_status,"
        " customer_email, customer_name, currency, amount_total, amount_paid, kinds,"
        " checkout_session_id, payment_intent_id, stripe_customer_id, paid_at, created_at,"
        " updated_at, customer_phone)"
        " SELECT unnest(?), 'metadata', 'payment', 'paid', 'in_progress', unnest(?), unnest(?),"
        " unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), ?, ?, ?,"
        " unnest(?)",
        [
            [order_id for order_id, _, _ in made],
            [cart.customer.email for _, _, cart in made],
            [cart.customer.name for _, _, cart in made],
            [cart.currency or "aud" for _, _, cart in made],
            [cart.amount_total for _, _, cart in made],
            [facts.amount for _, facts, _ in made],  # the cart's total: checked by the caller
            [orders.kinds_of(cart) for _, _, cart in made],
            [facts.checkout_session_id for _, facts, _ in made],
            [facts.payment_intent_id for _, facts, _ in made],
            [facts.customer_id for _, facts, _ in made],
            now, now, now,
            [cart.customer.phone or facts.phone for _, facts, cart in made],
        ],
    )  # fmt: skip
    students, items = [], []
    for order_id, _, cart in made:
        student_ids: dict[str, str] = {}
        for item in cart.items:
            key = orders.student_key(item)
            if key not in student_ids:
                student_ids[key] = orders.new_id("stu")
                s = item.student
                students.append(
                    (student_ids[key], order_id, s.name, s.age, s.date_of_birth, s.notes)
                )
            items.append(
                (f"{order_id}:{item.position}", order_id, item.position, item.product_id,
                 item.kind, item.date, item.session,
                 item.start_time.strftime("%H:%M") if item.start_time else None,
                 student_ids[key], item.unit_amount)
            )  # fmt: skip
    conn.execute(
        "INSERT INTO students (student_id, order_id, name, age, date_of_birth, notes)"
        " SELECT unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), unnest(?)",
        [list(column) for column in zip(*students, strict=True)],
    )
    conn.execute(
        "INSERT INTO order_items (order_item_id, order_id, position, product_id, kind,"
        " item_date, session, start_time, student_id, unit_amount, created_at)"
        " SELECT unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), unnest(?),"
        " unnest(?), unnest(?), unnest(?), ?",
        [*(list(column) for column in zip(*items, strict=True)), now],
    )


# --- the Stripe ids of an order's payment --------------------------------------------------


def link(conn: duckdb.DuckDBPyConnection, order_id: str, facts: PaymentFacts) -> None:
    """Remember every Stripe id of the order's payment, so later events find it."""
    conn.execute(
        "UPDATE orders SET checkout_session_id = coalesce(checkout_session_id, ?),"
        " payment_intent_id = coalesce(payment_intent_id, ?),"
        " subscription_id = coalesce(subscription_id, ?),"
        " stripe_customer_id = coalesce(stripe_customer_id, ?),"
        " customer_phone = coalesce(customer_phone, ?) WHERE order_id = ?",
        [
            facts.checkout_session_id,
            facts.payment_intent_id,
            facts.subscription_id,
            facts.customer_id,
            facts.phone,  # the cart's mobile wins; Stripe's is used when the cart had none
            order_id,
        ],
    )


def link_many(conn: duckdb.DuckDBPyConnection, facts_of: dict[str, PaymentFacts]) -> None:
    """`link` for many orders (order id -> the facts of its payment) in one statement."""
    conn.execute(
        "UPDATE orders SET checkout_session_id = coalesce(orders.checkout_session_id, n.cs),"
        " payment_intent_id = coalesce(orders.payment_intent_id, n.pi),"
        " subscription_id = coalesce(orders.subscription_id, n.sub),"
        " stripe_customer_id = coalesce(orders.stripe_customer_id, n.cus),"
        " customer_phone = coalesce(orders.customer_phone, n.phone)"
        " FROM (SELECT unnest(?) AS id, unnest(?) AS cs, unnest(?) AS pi, unnest(?) AS sub,"
        " unnest(?) AS cus, unnest(?) AS phone) n WHERE orders.order_id = n.id",
        [
            list(facts_of),
            [f.checkout_session_id for f in facts_of.values()],
            [f.payment_intent_id for f in facts_of.values()],
            [f.subscription_id for f in facts_of.values()],
            [f.customer_id for f in facts_of.values()],
            [f.phone for f in facts_of.values()],
        ],
    )


# --- payment -------------------------------------------------------------------------------


def payment_status(conn: duckdb.DuckDBPyConnection, order_id: str) -> str:
    return conn.execute(
        "SELECT payment_status FROM orders WHERE order_id = ?", [order_id]
    ).fetchone()[0]


def advance_payment_status(
    conn: duckdb.DuckDBPyConnection, order_id: str, status: str, now: datetime
) -> bool:
    """Set the payment status if that moves it forward (core.payments.moves_forward)."""
    if not moves_forward(payment_status(conn, order_id), status):
        return False
    conn.execute(
        "UPDATE orders SET payment_status = ?, updated_at = ? WHERE order_id = ?",
        [status, now, order_id],
    )
    return True


def money(conn: duckdb.DuckDBPyConnection, order_id: str) -> tuple[int, str]:
    """The order's total and currency, which a payment must match."""
    return conn.execute(
        "SELECT amount_total, currency FROM orders WHERE order_id = ?", [order_id]
    ).fetchone()


def record_payment(
    conn: duckdb.DuckDBPyConnection, order_id: str, paid: int, problem: str | None,
    now: datetime,
) -> bool:  # fmt: skip
    """What was paid, and when; the order moves on to its steps, or, with a `problem`
    (another amount or currency), needs attention. Whether it needs attention now."""
    conn.execute(
        "UPDATE orders SET amount_paid = ?, paid_at = ?, fulfillment_status ="
        " CASE WHEN ? AND fulfillment_status IN ('waiting', 'in_progress')"
        " THEN 'needs_attention' WHEN fulfillment_status = 'waiting' THEN 'in_progress'"
        " ELSE fulfillment_status END,"
        " attention_reason = CASE WHEN ?"
        " THEN concat_ws('; ', attention_reason, CAST(? AS VARCHAR))"
        " ELSE attention_reason END WHERE order_id = ?",
        [paid, now, problem is not None, problem is not None, problem, order_id],
    )
    return conn.execute(
        "SELECT fulfillment_status = 'needs_attention' FROM orders WHERE order_id = ?",
        [order_id],
    ).fetchone()[0]


def record_payments(
    conn: duckdb.DuckDBPyConnection, paid_of: dict[str, int | None], now: datetime
) -> list[str]:
    """Many orders paid (order id -> what Stripe says was paid, their total), in one
    statement: those not paid before; the others change nothing (state only moves forward)."""
    return [
        row[0]
        for row in conn.execute(
            "UPDATE orders SET payment_status = 'paid', paid_at = ?, updated_at = ?,"
            " amount_paid = n.paid, fulfillment_status = CASE fulfillment_status"
            " WHEN 'waiting' THEN 'in_progress' ELSE fulfillment_status END"
            " FROM (SELECT unnest(?) AS id, unnest(?) AS paid) n WHERE orders.order_id = n.id"
            " AND payment_status IN ('pending', 'failed', 'expired') RETURNING orders.order_id",
            [now, now, list(paid_of), list(paid_of.values())],
        ).fetchall()
    ]


def record_refund(
    conn: duckdb.DuckDBPyConnection, order_id: str, amount_refunded: int, event_id: str,
    now: datetime,
) -> None:  # fmt: skip
    """Raise the order's refunded total to Stripe's running `amount_refunded`, with a row in
    the refunds ledger for the rise (none for a redelivery or an older, smaller total)."""
    conn.execute(
        "INSERT INTO refunds (refund_key, order_id, amount, currency, stripe_event_id,"
        " refunded_at) SELECT order_id || ':' || CAST(? AS VARCHAR), order_id,"
        " ? - amount_refunded, currency, ?, ? FROM orders"
        # The total only rises, so a rise is new: its key cannot be in the ledger yet.
        " WHERE order_id = ? AND amount_refunded < ?",
        [amount_refunded, amount_refunded, event_id, now, order_id, amount_refunded],
    )
    conn.execute(
        "UPDATE orders SET amount_refunded = greatest(amount_refunded, ?) WHERE order_id = ?",
        [amount_refunded, order_id],
    )


def refunded_of_payment(
    conn: duckdb.DuckDBPyConnection, order_id: str, payment_intent_id: str
) -> int:
    """Stripe's refunded total of an Ignite invoice's payment, as the ledger has it (the
    `<order>:<payment>:<total>` rows `record_invoice_refund` writes)."""
    prefix = f"{order_id}:{payment_intent_id}:"
    (total,) = conn.execute(
        "SELECT coalesce(sum(amount), 0) FROM refunds WHERE order_id = ?"
        " AND left(refund_key, ?) = ?",
        [order_id, len(prefix), prefix],
    ).fetchone()
    return total


def record_invoice_refund(
    conn: duckdb.DuckDBPyConnection, order_id: str, payment_intent_id: str,
    amount_refunded: int, event_id: str, now: datetime,
) -> int:  # fmt: skip
    """An Ignite invoice's payment refunded: Stripe's running `amount_refunded` is that
    payment's, not the order's, so the ledger keeps it per payment
    (`<order>:<payment>:<total>`) and the order's refunded total rises by the rise. The
    rise; 0 for a redelivery or an older, smaller total."""
    rise = amount_refunded - refunded_of_payment(conn, order_id, payment_intent_id)
    if rise <= 0:
        return 0
    conn.execute(
        "INSERT INTO refunds (refund_key, order_id, amount, currency, stripe_event_id,"
        " refunded_at) SELECT ?, order_id, ?, currency, ?, ? FROM orders WHERE order_id = ?",
        [f"{order_id}:{payment_intent_id}:{amount_refunded}", rise, event_id, now, order_id],
    )
    conn.execute(
        "UPDATE orders SET amount_refunded = amount_refunded + ? WHERE order_id = ?",
        [rise, order_id],
    )
    return rise


def next_calendar_sequence(
    conn: duckdb.DuckDBPyConnection, order_id: str
) -> tuple[int, str | None] | None:
    """Raise the order's calendar sequence (schema v3): its new value and the customer's
    email, or None for no such order."""
    return conn.execute(
        "UPDATE orders SET calendar_sequence = coalesce(calendar_sequence, 0) + 1"
        " WHERE order_id = ? RETURNING calendar_sequence, customer_email",
        [order_id],
    ).fetchone()


# --- fulfilment status ---------------------------------------------------------------------


def cancel(conn: duckdb.DuckDBPyConnection, order_id: str, now: datetime) -> None:
    conn.execute(
        "UPDATE orders SET fulfillment_status = 'cancelled', updated_at = ? WHERE order_id = ?",
        [now, order_id],
    )


def needs_attention(
    conn: duckdb.DuckDBPyConnection, order_id: str, now: datetime, *,
    when: tuple[str, ...] = ("in_progress",), reason: str | None = None,
) -> None:  # fmt: skip
    """Flag the order for staff, if its fulfilment status is one of `when`, adding `reason`
    to why it needs attention."""
    conn.execute(
        "UPDATE orders SET fulfillment_status = 'needs_attention', updated_at = ?,"
        " attention_reason = CASE WHEN ? IS NULL THEN attention_reason"
        " ELSE concat_ws('; ', attention_reason, CAST(? AS VARCHAR)) END"
        " WHERE order_id = ? AND fulfillment_status IN (SELECT unnest(?))",
        [now, reason, reason, order_id, list(when)],
    )


def resume(conn: duckdb.DuckDBPyConnection, order_id: str, now: datetime) -> None:
    """Staff retried a failed step: the order is in progress again."""
    conn.execute(
        "UPDATE orders SET fulfillment_status = 'in_progress', updated_at = ?"
        " WHERE order_id = ? AND fulfillment_status = 'needs_attention'",
        [now, order_id],
    )


def fulfilled(conn: duckdb.DuckDBPyConnection, order_ids: list[str], now: datetime) -> None:
    """The last step done: these orders are fulfilled (those still in progress)."""
    conn.execute(
        "UPDATE orders SET fulfillment_status = 'fulfilled', updated_at = ?"
        " WHERE order_id IN (SELECT unnest(?)) AND fulfillment_status = 'in_progress'",
        [now, order_ids],
    )


def repaired(
    conn: duckdb.DuckDBPyConnection, order_id: str, cart: Cart, by: str, now: datetime
) -> None:
    """Staff attached the cart a payment came without: its students and items, what it is
    of, and its customer where the payment named none; the order goes on to its steps
    (in progress if paid, else waiting for its payment)."""
    # Items carry their order's created_at (v6), which is how an order's items are found.
    (made,) = conn.execute(
        "SELECT created_at FROM orders WHERE order_id = ?", [order_id]
    ).fetchone()
    student_ids = orders.insert_students(conn, order_id, cart)
    for item in cart.items:
        orders.insert_item(
            conn, order_id, f"{order_id}:{item.position}", item,
            student_ids[orders.student_key(item)], made,
        )  # fmt: skip
    conn.execute(
        "UPDATE orders SET kinds = ?, customer_email = coalesce(customer_email, ?),"
        " customer_name = coalesce(nullif(customer_name, ''), ?),"
        " fulfillment_status = CASE WHEN paid_at IS NULL THEN 'waiting' ELSE 'in_progress' END,"
        " attention_reason = concat_ws('; ', attention_reason, CAST(? AS VARCHAR)),"
        " updated_at = ?"
        " WHERE order_id = ?",
        [orders.kinds_of(cart), cart.customer.email, cart.customer.name,
         f"repaired by {by}: cart attached", now, order_id],
    )  # fmt: skip


def credit_of(conn: duckdb.DuckDBPyConnection, order_id: str) -> tuple[int, str] | None:
    """(credit in cents, currency) of an order, or None for no such order."""
    row = conn.execute(
        "SELECT coalesce(credit_amount, 0), currency FROM orders WHERE order_id = ?", [order_id]
    ).fetchone()
    return (row[0], row[1]) if row else None


def customer_email(conn: duckdb.DuckDBPyConnection, order_id: str) -> str | None:
    """The email of the family an order is for (whose credit it holds)."""
    row = conn.execute(
        "SELECT customer_email FROM orders WHERE order_id = ?", [order_id]
    ).fetchone()
    return row[0] if row else None


def spend_credit(
    conn: duckdb.DuckDBPyConnection, order_id: str, amount: int, now: datetime
) -> int | None:
    """`amount` cents of the order's credit spent, only if that much is left: what is left
    then, or None (nothing spent)."""
    row = conn.execute(
        "UPDATE orders SET credit_amount = credit_amount - ?, updated_at = ?"
        " WHERE order_id = ? AND coalesce(credit_amount, 0) >= ? RETURNING credit_amount",
        [amount, now, order_id, amount],
    ).fetchone()
    return row[0] if row else None


def add_credit(conn: duckdb.DuckDBPyConnection, order_id: str, amount: int, now: datetime) -> None:
    """Staff cancelled without a refund: the family keeps `amount` cents as credit (v10)."""
    conn.execute(
        "UPDATE orders SET credit_amount = coalesce(credit_amount, 0) + ?, updated_at = ?"
        " WHERE order_id = ?",
        [amount, now, order_id],
    )
