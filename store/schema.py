"""The schema, as numbered migrations applied once each at start.

Conventions, kept to the SQL that DuckDB and PostgreSQL share:
- ids are text made by the application (random and unguessable where customers see them);
- every timestamp is a naive UTC `TIMESTAMP` passed in by the caller (never the database's
  clock, whose time zone handling differs between the two);
- money is `BIGINT` cents next to a `currency`;
- exactly-once effects rest on the primary and unique keys below, not on checks in Python;
- no foreign keys: DuckDB refuses updates of rows that a foreign key points at;
- `{compressed}` marks a large text column: DuckDB stores it with zstd, which it folds
  into the file four times faster than its default string compression (the checkpoint
  that the webhook's commits wait behind); PostgreSQL would use its own TOAST.

A released migration is never edited; a change is a new entry at the end of MIGRATIONS.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from store import inbox_archive

_V1 = """
CREATE TABLE webhook_inbox (
    event_id        VARCHAR PRIMARY KEY,          -- Stripe's evt_… id: a redelivery stores nothing
    type            VARCHAR NOT NULL,
    object_id       VARCHAR,
    livemode        BOOLEAN NOT NULL,
    api_version     VARCHAR,
    created_at      TIMESTAMP NOT NULL,           -- Stripe's `created` (one-second resolution)
    payload         VARCHAR {compressed} NOT NULL, -- the raw body exactly as signed
    received_at     TIMESTAMP NOT NULL,
    status          VARCHAR NOT NULL
        CHECK (status IN ('received', 'processing', 'processed', 'failed', 'ignored')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP,
    last_error      VARCHAR,
    processed_at    TIMESTAMP
);

CREATE TABLE orders (
    order_id            VARCHAR PRIMARY KEY,
    source              VARCHAR NOT NULL CHECK (source IN ('checkout', 'metadata')),
    mode                VARCHAR NOT NULL CHECK (mode IN ('payment', 'subscription')),
    payment_status      VARCHAR NOT NULL CHECK (payment_status IN ('pending', 'paid', 'failed',
                            'expired', 'partially_refunded', 'refunded', 'disputed')),
    fulfillment_status  VARCHAR NOT NULL CHECK (fulfillment_status IN ('waiting', 'in_progress',
                            'fulfilled', 'needs_attention', 'cancelled')),
    customer_email      VARCHAR,
    customer_name       VARCHAR,
    currency            VARCHAR NOT NULL,
    amount_total        BIGINT NOT NULL,
    amount_paid         BIGINT NOT NULL DEFAULT 0,
    amount_refunded     BIGINT NOT NULL DEFAULT 0,
    checkout_session_id VARCHAR UNIQUE,
    payment_intent_id   VARCHAR UNIQUE,
    subscription_id     VARCHAR UNIQUE,
    stripe_customer_id  VARCHAR,
    attention_reason    VARCHAR,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    paid_at             TIMESTAMP,
    expires_at          TIMESTAMP
);

CREATE TABLE students (
    student_id    VARCHAR PRIMARY KEY,
    order_id      VARCHAR NOT NULL,
    name          VARCHAR NOT NULL,
    age           INTEGER,
    date_of_birth DATE,
    notes         VARCHAR                         -- personal data: never sent to Stripe or Slack
);

CREATE TABLE order_items (
    order_item_id VARCHAR PRIMARY KEY,
    order_id      VARCHAR NOT NULL,
    position      INTEGER NOT NULL,
    product_id    VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL CHECK (kind IN ('camp', 'party', 'ignite')),
    item_date     DATE,
    session       VARCHAR,
    start_time    VARCHAR,
    student_id    VARCHAR NOT NULL,
    unit_amount   BIGINT NOT NULL,
    UNIQUE (order_id, position)
);

CREATE TABLE recurring_templates (
    template_id      VARCHAR PRIMARY KEY,
    product_id       VARCHAR NOT NULL UNIQUE,
    rrule            VARCHAR NOT NULL,            -- RFC 5545 RRULE in the local time zone
    timezone         VARCHAR NOT NULL,
    first_start      TIMESTAMP NOT NULL,          -- local wall-clock start of the first class
    duration_minutes INTEGER NOT NULL,
    until_date       DATE NOT NULL,
    excluded_dates   VARCHAR NOT NULL,            -- JSON array of YYYY-MM-DD
    uid              VARCHAR NOT NULL UNIQUE,
    sequence         INTEGER NOT NULL DEFAULT 0,
    updated_at       TIMESTAMP NOT NULL
);

CREATE TABLE events (
    event_id    VARCHAR PRIMARY KEY,
    -- camp:<product>:<date>:<session>, party:<venue>:<room>:<date>:<HH:MM>,
    -- ignite:<product>:<date> (core/schedule.py makes them)
    slot_key    VARCHAR NOT NULL UNIQUE,
    kind        VARCHAR NOT NULL CHECK (kind IN ('camp', 'party', 'ignite')),
    product_id  VARCHAR NOT NULL,
    title       VARCHAR NOT NULL,
    venue_id    VARCHAR NOT NULL,
    room_id     VARCHAR NOT NULL,
    starts_at   TIMESTAMP NOT NULL,
    ends_at     TIMESTAMP NOT NULL,
    capacity    INTEGER NOT NULL,
    status      VARCHAR NOT NULL CHECK (status IN ('scheduled', 'cancelled')),
    template_id VARCHAR,
    uid         VARCHAR NOT NULL UNIQUE,          -- stable iCalendar UID
    sequence    INTEGER NOT NULL DEFAULT 0,       -- iCalendar SEQUENCE, raised on each change
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    CHECK (starts_at < ends_at)
);

CREATE TABLE enrolments (
    enrolment_id          VARCHAR PRIMARY KEY,
    order_id              VARCHAR NOT NULL,
    order_item_id         VARCHAR NOT NULL UNIQUE,
    student_id            VARCHAR NOT NULL,
    product_id            VARCHAR NOT NULL,
    subscription_id       VARCHAR,
    status                VARCHAR NOT NULL
        CHECK (status IN ('pending', 'active', 'past_due', 'ended')),
    current_period_start  TIMESTAMP,
    current_period_end    TIMESTAMP,
    started_at            TIMESTAMP,
    ended_at              TIMESTAMP,
    updated_at            TIMESTAMP NOT NULL
);

CREATE TABLE enrolment_periods (
    invoice_id    VARCHAR PRIMARY KEY,            -- one paid Stripe invoice books one period once
    enrolment_id  VARCHAR NOT NULL,
    period_start  TIMESTAMP NOT NULL,
    period_end    TIMESTAMP NOT NULL,
    amount_paid   BIGINT NOT NULL,
    paid_at       TIMESTAMP NOT NULL
);

CREATE TABLE bookings (
    booking_id    VARCHAR PRIMARY KEY,
    order_id      VARCHAR NOT NULL,
    order_item_id VARCHAR NOT NULL,
    student_id    VARCHAR NOT NULL,
    event_id      VARCHAR NOT NULL,
    enrolment_id  VARCHAR,
    status        VARCHAR NOT NULL CHECK (status IN ('confirmed', 'cancelled', 'conflict')),
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    UNIQUE (order_item_id, event_id)              -- one student in one event once
);

CREATE TABLE holds (
    hold_id       VARCHAR PRIMARY KEY,
    order_id      VARCHAR NOT NULL,
    order_item_id VARCHAR NOT NULL UNIQUE,
    resource_key  VARCHAR NOT NULL,               -- what is scarce: a camp day, a room slot
    seats         INTEGER NOT NULL CHECK (seats > 0),
    status        VARCHAR NOT NULL CHECK (status IN ('active', 'converted', 'released')),
    expires_at    TIMESTAMP NOT NULL,
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE fulfilment_steps (
    order_id        VARCHAR NOT NULL,
    step            VARCHAR NOT NULL CHECK (step IN ('record_payment', 'create_bookings',
                        'schedule_events', 'send_confirmation', 'notify_staff')),
    status          VARCHAR NOT NULL
        CHECK (status IN ('pending', 'running', 'done', 'failed', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP,
    last_error      VARCHAR,
    updated_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP,
    PRIMARY KEY (order_id, step)
);

CREATE TABLE outbox (
    message_id      VARCHAR PRIMARY KEY,
    dedupe_key      VARCHAR NOT NULL UNIQUE,      -- confirmation:<order>, reminder:<booking>, …
    channel         VARCHAR NOT NULL CHECK (channel IN ('email', 'slack')),
    order_id        VARCHAR,
    recipient       VARCHAR,
    payload         VARCHAR NOT NULL,             -- JSON: what the sender needs to send it
    status          VARCHAR NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP,
    last_error      VARCHAR,
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP
);

CREATE TABLE error_log (
    error_id        VARCHAR PRIMARY KEY,
    dedupe_key      VARCHAR UNIQUE,               -- one entry (and one alert) per repeated cause
    category        VARCHAR NOT NULL
        CHECK (category IN ('payment', 'calendar', 'email', 'booking', 'system')),
    severity        VARCHAR NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    message         VARCHAR NOT NULL,
    context         VARCHAR,                      -- JSON
    order_id        VARCHAR,
    stripe_event_id VARCHAR,
    step            VARCHAR,
    created_at      TIMESTAMP NOT NULL,
    resolved_at     TIMESTAMP,
    resolved_by     VARCHAR
);

CREATE TABLE sidecar_heartbeat (
    id      INTEGER PRIMARY KEY,
    beat_at TIMESTAMP NOT NULL
);
"""

# What the portable DDL above leaves to each database: the only dialect branch of the
# migrations. PostgreSQL compresses large values itself (TOAST). The work several sidecars
# claim (v16) is found through partial indexes on PostgreSQL, which would otherwise scan
# every row ever received at each claim; DuckDB skips row groups by their min/max instead,
# and an index there would slow every insert of the webhook's acknowledgement. Each index's
# condition names a column the claim states (`IS NOT NULL`) and no other statement does:
# before the planner has statistics (a new or fast-growing table), statements that look
# rows up by id otherwise chose the small-looking partial index and scanned all of it
# (two sidecars fulfilled 200 orders/s instead of 450 in `python -m bench postgres`).
DUCKDB_DIALECT = {
    "compressed": "USING COMPRESSION zstd", "due_indexes": "", "place_indexes": "",
    "archive_indexes": "",
    # v18: the inbox made again without the events finished before the archive's horizon
    # (`archive_before`, from the migration's `now`), which go to the archive.
    "archive_move": """;
CREATE TABLE webhook_inbox_v18 (
    event_id        VARCHAR PRIMARY KEY,
    type            VARCHAR NOT NULL,
    object_id       VARCHAR,
    livemode        BOOLEAN NOT NULL,
    api_version     VARCHAR,
    created_at      TIMESTAMP NOT NULL,
    payload         VARCHAR USING COMPRESSION zstd NOT NULL,
    received_at     TIMESTAMP NOT NULL,
    status          VARCHAR NOT NULL
        CHECK (status IN ('received', 'processing', 'processed', 'failed', 'ignored')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP,
    last_error      VARCHAR,
    processed_at    TIMESTAMP,
    order_id        VARCHAR,
    not_ours        BOOLEAN,
    waiting_for     VARCHAR,
    claimed_by      VARCHAR
);
INSERT INTO webhook_inbox_archive ({inbox_columns}, archived_at)
SELECT {inbox_columns}, TIMESTAMP '{archive_now}' FROM webhook_inbox
WHERE status IN ('processed', 'ignored') AND received_at < TIMESTAMP '{archive_before}';
INSERT INTO webhook_inbox_v18 ({inbox_columns})
SELECT {inbox_columns} FROM webhook_inbox
WHERE NOT (status IN ('processed', 'ignored') AND received_at < TIMESTAMP '{archive_before}');
DROP TABLE webhook_inbox;
ALTER TABLE webhook_inbox_v18 RENAME TO webhook_inbox
""",
}  # fmt: skip
POSTGRES_DIALECT = {
    "compressed": "",
    # v17: a checkout counts the places taken on its camp day or room slot (`places_used`
    # in store/orders.py); without an index PostgreSQL reads every hold ever made to do so.
    # DuckDB's scan of one column's row groups is fast enough and an index there costs
    # memory at every insert (docs/benchmarks.md).
    "place_indexes": "CREATE INDEX holds_by_resource ON holds (resource_key, status)",
    "due_indexes": """;
CREATE INDEX webhook_inbox_due ON webhook_inbox (created_at, received_at, event_id)
    WHERE status = 'received' AND created_at IS NOT NULL;
CREATE INDEX fulfilment_steps_due ON fulfilment_steps (next_attempt_at, order_id)
    WHERE status = 'pending' AND next_attempt_at IS NOT NULL;
CREATE INDEX outbox_due ON outbox (next_attempt_at, message_id)
    WHERE status = 'pending' AND next_attempt_at IS NOT NULL
""",
    # v18: PostgreSQL moves nothing to the inbox's archive, but a DuckDB file copied up
    # (`tinkertank db copy`) brings its archived events: found by id and by order.
    "archive_indexes": """;
CREATE INDEX webhook_inbox_archive_event ON webhook_inbox_archive (event_id);
CREATE INDEX webhook_inbox_archive_order ON webhook_inbox_archive (order_id, received_at)
""",
    "archive_move": "",
}

# Subscription events arrive in any order; an enrolment keeps the `created` time of the
# event its status came from, and an older event does not overwrite it.
_V2 = """
ALTER TABLE enrolments ADD COLUMN status_event_created TIMESTAMP;
"""

# Communication and staff work (issues 4 and 5):
# - an order's calendar sequence: what a customer's copy of an event adds to the event's own
#   SEQUENCE, raised on each cancellation, so a cancelling .ics replaces the one they have
#   (an event is shared by every family booked into it; the cancellation is theirs alone);
# - support tickets from customers, rate-limited per address by (email, created_at);
# - the daily summary, stored once per business day, posted to Slack at most once.
_V3 = """
ALTER TABLE orders ADD COLUMN calendar_sequence INTEGER DEFAULT 0;

CREATE TABLE support_tickets (
    ticket_id   VARCHAR PRIMARY KEY,              -- the reference customers quote: TT-…
    order_id    VARCHAR,
    email       VARCHAR NOT NULL,                 -- lower-cased
    category    VARCHAR NOT NULL,
    message     VARCHAR NOT NULL,
    status      VARCHAR NOT NULL CHECK (status IN ('open', 'in_progress', 'resolved')),
    staff_note  VARCHAR,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP
);

CREATE TABLE daily_summaries (
    summary_date DATE PRIMARY KEY,                -- a day in the business time zone
    figures      VARCHAR NOT NULL,                -- JSON (core/summary.py)
    computed_at  TIMESTAMP NOT NULL,
    posted_at    TIMESTAMP,
    post_count   INTEGER NOT NULL DEFAULT 0
);
"""

# A support ticket keeps the order reference exactly as the customer gave it (ord_, cs_ or
# pi_ id); `order_id` is set only when that names an order of theirs (same email), so a
# mistyped or someone else's reference is kept without being linked. And the optional name.
_V4 = """
ALTER TABLE support_tickets ADD COLUMN order_reference VARCHAR;
ALTER TABLE support_tickets ADD COLUMN name VARCHAR;
"""

# Refunds as a ledger: the order keeps only the running total Stripe reports, and the daily
# summary needs when each refund was recorded. One row per rise of that total; a redelivery
# (the same total again) adds nothing. Refunds recorded before this migration are carried
# over at the order's last update.
_V5 = """
CREATE TABLE refunds (
    refund_key      VARCHAR PRIMARY KEY,          -- <order_id>:<amount_refunded after it>
    order_id        VARCHAR NOT NULL,
    amount          BIGINT NOT NULL,              -- this refund: the rise in amount_refunded
    currency        VARCHAR NOT NULL,
    stripe_event_id VARCHAR,
    refunded_at     TIMESTAMP NOT NULL
);

INSERT INTO refunds (refund_key, order_id, amount, currency, stripe_event_id, refunded_at)
SELECT order_id || ':' || CAST(amount_refunded AS VARCHAR), order_id, amount_refunded, currency,
       NULL, updated_at
FROM orders WHERE amount_refunded > 0;
"""

# Staff API (issue 5):
# - which order an applied Stripe event was about, so an order's page lists its events
#   (refunds, disputes and invoices name a charge or invoice, not the order);
# - when an order item was made (its order's created_at) and when a fulfilment step was
#   (its order's paid_at; updated_at moves on): the rows of an order in tables without a
#   time fixed at insert. With a million orders, finding one order's rows by order_id alone
#   reads the whole table (a composite key does not serve a lookup by its first column);
#   with a time bound DuckDB skips every row group outside it (zonemaps: the tables grow in
#   time order). An index on order_id would serve too, but DuckDB keeps an ART index in
#   memory once read and never evicts it: 60-100 MB per index at this size (measured with
#   `python -m bench million`, where such indexes ran the store out of memory);
# - what an order is of (`kinds`: "camp", "camp,party" …, fixed when it is placed), so the
#   order list shows and filters it without reading the items;
# (Its refunds ledger is the analysts' one, v5.)
_V6 = """
ALTER TABLE webhook_inbox ADD COLUMN order_id VARCHAR;

ALTER TABLE order_items ADD COLUMN created_at TIMESTAMP;

UPDATE order_items SET created_at = o.created_at FROM orders o
WHERE o.order_id = order_items.order_id;

ALTER TABLE fulfilment_steps ADD COLUMN created_at TIMESTAMP;

UPDATE fulfilment_steps SET created_at = coalesce(o.paid_at, fulfilment_steps.updated_at)
FROM orders o WHERE o.order_id = fulfilment_steps.order_id;

ALTER TABLE orders ADD COLUMN kinds VARCHAR;

UPDATE orders SET kinds = k.kinds
FROM (SELECT order_id, string_agg(DISTINCT kind, ',' ORDER BY kind) AS kinds
      FROM order_items GROUP BY order_id) k
WHERE k.order_id = orders.order_id;

UPDATE webhook_inbox SET order_id = o.order_id FROM orders o
WHERE webhook_inbox.object_id IN (o.checkout_session_id, o.payment_intent_id, o.subscription_id)
"""

# v7, abuse limits (docs/security.md):
# - support tickets are capped per mailbox (`email_key`, core/validation.address_key), so
#   `+tag` and Gmail dot variants of one address share one cap;
# - a checkout order records whom its holds count against: the mailbox (`hold_email`) and
#   the client address (`hold_client`), so that the next checkout's limits are counted in
#   the same write that takes its places.
_V7 = """
ALTER TABLE support_tickets ADD COLUMN email_key VARCHAR;

UPDATE support_tickets SET email_key = lower(email);

ALTER TABLE orders ADD COLUMN hold_email VARCHAR;

ALTER TABLE orders ADD COLUMN hold_client VARCHAR
"""

# v8, text messages (docs/operations.md, SMS):
# - an order keeps the parent's mobile in E.164 (`customer_phone`), from the cart or Stripe;
# - the outbox takes the `sms` channel and a `skipped` status (a text not sent on purpose,
#   the reason in `last_error`). DuckDB cannot alter a CHECK, so the table is rebuilt with
#   the same columns and keys;
# - `sms_opt_outs`: one row per number that texted STOP (or START again after it).
_V8 = """
ALTER TABLE orders ADD COLUMN customer_phone VARCHAR;

CREATE TABLE outbox_v8 (
    message_id      VARCHAR PRIMARY KEY,
    dedupe_key      VARCHAR NOT NULL UNIQUE,
    channel         VARCHAR NOT NULL CHECK (channel IN ('email', 'slack', 'sms')),
    order_id        VARCHAR,
    recipient       VARCHAR,
    payload         VARCHAR NOT NULL,
    status          VARCHAR NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP,
    last_error      VARCHAR,
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP
);

INSERT INTO outbox_v8 (message_id, dedupe_key, channel, order_id, recipient, payload, status,
    attempts, next_attempt_at, last_error, created_at, sent_at)
SELECT message_id, dedupe_key, channel, order_id, recipient, payload, status, attempts,
    next_attempt_at, last_error, created_at, sent_at FROM outbox;

DROP TABLE outbox;

ALTER TABLE outbox_v8 RENAME TO outbox;

CREATE TABLE sms_opt_outs (
    phone       VARCHAR PRIMARY KEY,              -- E.164
    opted_out   BOOLEAN NOT NULL,                 -- STOP: true; START again: false
    keyword     VARCHAR NOT NULL,                 -- the word they texted
    updated_at  TIMESTAMP NOT NULL
)
"""

# v9, check-in and check-out at the door (docs/operations.md, Check-in):
# - each child's emergency contacts and the adults allowed to collect them, as the parent gave
#   them at checkout: JSON lists of {"name", "phone"} (personal data, never sent to Stripe);
# - `attendance`: one row per booking (a booking is one child in one event, and an event is
#   one day's session), made by the check-in, so a double tap checks a child in once; the
#   check-out fills its columns once. Undo clears a check-out, or removes a check-in that has
#   no check-out. Who collected the child is one of the adults named at checkout or the
#   parent, or someone else with the staff member's reason (`collection_override`).
_V9 = """
ALTER TABLE students ADD COLUMN emergency_contacts VARCHAR;

ALTER TABLE students ADD COLUMN authorised_collectors VARCHAR;

CREATE TABLE attendance (
    booking_id          VARCHAR PRIMARY KEY,      -- one check-in per child per event
    event_id            VARCHAR NOT NULL,
    student_id          VARCHAR NOT NULL,
    checked_in_at       TIMESTAMP NOT NULL,
    checked_in_by       VARCHAR NOT NULL,
    checked_out_at      TIMESTAMP,
    checked_out_by      VARCHAR,
    collected_by        VARCHAR,
    collection_override VARCHAR                   -- why staff let someone not named collect
)
"""


# v11, staff add bookings, repair orders, and run a waitlist (issue 12, items 3 and 5):
# - a booking staff took by phone: how it is paid (cash, voucher, a free place, or a Stripe
#   Checkout link emailed to the parent), what was taken, by whom. Its order is an ordinary
#   order (orders.source stays 'checkout': v1's CHECK on that column cannot be widened in
#   DuckDB without rebuilding the table); this row is what makes it a staff booking.
#   `request_key` makes a double submit one booking;
# - an order repaired by attaching the cart it should have had (one row per order: a
#   second repair of the same order is refused by the key);
# - the waitlist: one entry per family (mailbox) per event (`event_key`, the resources a
#   place of it can take: core/waitlist.py), in staff's order (`position`), with the cart it
#   wants (JSON, as the storefront sent it) and, once offered, the order that holds a place
#   for it until `offer_expires_at`.
_V11 = """
CREATE TABLE staff_bookings (
    order_id    VARCHAR PRIMARY KEY,
    method      VARCHAR NOT NULL
        CHECK (method IN ('cash', 'voucher', 'free_place', 'checkout_link')),
    amount      BIGINT NOT NULL,                  -- taken (cash, voucher) or to pay (link)
    currency    VARCHAR NOT NULL,
    reference   VARCHAR,                          -- a voucher code, a receipt number
    request_key VARCHAR UNIQUE,                   -- the caller's, so a double submit books once
    created_by  VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE order_repairs (
    order_id    VARCHAR PRIMARY KEY,
    repaired_by VARCHAR NOT NULL,
    repaired_at TIMESTAMP NOT NULL
);

CREATE TABLE waitlist (
    entry_id         VARCHAR PRIMARY KEY,
    event_key        VARCHAR NOT NULL,
    label            VARCHAR NOT NULL,            -- "Robotics Bootcamp on Mon 4 Jan 2027"
    position         INTEGER NOT NULL,            -- staff's order within the event
    email            VARCHAR NOT NULL,
    email_key        VARCHAR NOT NULL,            -- core/validation.address_key
    client           VARCHAR,                     -- the client address (sidecar/clients.py)
    cart             VARCHAR NOT NULL,            -- JSON: the checkout body it was added with
    status           VARCHAR NOT NULL
        CHECK (status IN ('waiting', 'offered', 'converted', 'lapsed', 'removed')),
    order_id         VARCHAR UNIQUE,              -- the offer's order, holding the place
    offered_at       TIMESTAMP,
    offer_expires_at TIMESTAMP,
    closed_at        TIMESTAMP,                   -- converted, lapsed or removed
    closed_reason    VARCHAR,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    UNIQUE (event_key, email_key)
);
"""

# v10, staff actions (issue 12: refund, cancel, move, capacity):
# - every staff action once, by its request key (a double click is one action), with who
#   did it, when and why, for the order's timeline;
# - a staff refund is written before Stripe is asked (and removed if Stripe cannot be
#   reached), so the `charge.refunded` it causes always finds which items it was for; an
#   item is refunded once (`staff_refund_items.order_item_id`);
# - a capacity override per resource (a camp day, a party room slot, an Ignite class);
# - the credit a family keeps on an order when staff cancel without a refund.
_V10 = """
CREATE TABLE staff_actions (
    action_id   VARCHAR PRIMARY KEY,
    request_key VARCHAR NOT NULL UNIQUE,          -- one action per request, however often sent
    order_id    VARCHAR,
    action      VARCHAR NOT NULL
        CHECK (action IN ('refund', 'cancel', 'move', 'end_subscription', 'capacity')),
    actor       VARCHAR NOT NULL,
    reason      VARCHAR NOT NULL,
    details     VARCHAR NOT NULL,                 -- JSON
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE staff_refunds (
    refund_key  VARCHAR PRIMARY KEY,              -- the Stripe idempotency key
    order_id    VARCHAR NOT NULL,
    amount      BIGINT NOT NULL CHECK (amount > 0),
    currency    VARCHAR NOT NULL,
    items       VARCHAR NOT NULL,                 -- JSON list of order item ids; [] = money only
    status      VARCHAR NOT NULL CHECK (status IN ('requested', 'applied')),
    refund_id   VARCHAR UNIQUE,                   -- Stripe's re_… once it answered
    reason      VARCHAR NOT NULL,
    actor       VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    applied_at  TIMESTAMP
);

CREATE TABLE staff_refund_items (
    order_item_id VARCHAR PRIMARY KEY,            -- an item is refunded once
    refund_key    VARCHAR NOT NULL
);

CREATE TABLE capacity_overrides (
    resource_key VARCHAR PRIMARY KEY,             -- a camp day, a party room slot, a class
    capacity     INTEGER NOT NULL CHECK (capacity >= 0),
    reason       VARCHAR NOT NULL,
    actor        VARCHAR NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);

ALTER TABLE orders ADD COLUMN credit_amount BIGINT DEFAULT 0
"""

# v13, messages staff send and families refuse (issue 13):
# - a staff message to every family booked on an event (a heatwave closure): who sent what,
#   when, and one row per family it went to; the unique key (event, message, family's
#   address) and the outbox key `roster:<event>:<message>:<email>` make a double submit
#   send one email per family;
# - addresses that opted out of reminders (List-Unsubscribe, RFC 8058); a reminder to one
#   is marked `skipped` in the outbox (v8's status), the reason in `last_error`;
# - staff replies to support tickets, as the ticket's history.
_V13 = """
CREATE TABLE roster_messages (
    message_id  VARCHAR NOT NULL,                 -- the sending form's id: a resubmit is the same
    event_id    VARCHAR NOT NULL,
    template    VARCHAR,                          -- core/messages/roster.py, or NULL (own text)
    subject     VARCHAR NOT NULL,
    body        VARCHAR NOT NULL,
    channels    VARCHAR NOT NULL,                 -- 'email' (SMS: being built)
    sent_by     VARCHAR NOT NULL,
    families    INTEGER NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (event_id, message_id)
);

CREATE TABLE roster_message_families (
    event_id    VARCHAR NOT NULL,
    message_id  VARCHAR NOT NULL,
    email       VARCHAR NOT NULL,                 -- lower-cased
    order_id    VARCHAR,
    channel     VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (event_id, message_id, email, channel)
);

CREATE TABLE email_optouts (
    email       VARCHAR NOT NULL,                 -- lower-cased
    list        VARCHAR NOT NULL,                 -- 'reminders'
    opted_out_at TIMESTAMP NOT NULL,
    PRIMARY KEY (email, list)
);

CREATE TABLE ticket_replies (
    reply_id    VARCHAR PRIMARY KEY,              -- the reply form's id: a resubmit is the same
    ticket_id   VARCHAR NOT NULL,
    body        VARCHAR NOT NULL,
    status      VARCHAR NOT NULL,                 -- the ticket's status after it
    sent_by     VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
"""


# v12, payments that are not bookings, events that wait, one alert for a flood (issue 16):
# - `not_ours`: an ignored event of a payment, invoice or subscription that carries no marker
#   of TinkerTank's (STRIPE_ACCOUNT_MODE=shared), counted and listed apart;
# - `waiting_for`: the Stripe id (payment, subscription, customer) a deferred event waits
#   for, so that it is woken when an order with that id is recorded;
# - grouped error-log entries: problems that come in floods (payments without a usable cart,
#   unknown orders) add to one entry of their `group_kind` (`occurrences`, `last_seen_at`).
_V12 = """
ALTER TABLE webhook_inbox ADD COLUMN not_ours BOOLEAN;

ALTER TABLE webhook_inbox ADD COLUMN waiting_for VARCHAR;

ALTER TABLE error_log ADD COLUMN group_kind VARCHAR;

ALTER TABLE error_log ADD COLUMN occurrences INTEGER;

ALTER TABLE error_log ADD COLUMN last_seen_at TIMESTAMP
"""


# v14, named staff (docs/security.md, Staff sign-in): accounts with a role and an Argon2id
# password hash; sessions kept by the SHA-256 of their token, expiring and revocable; and
# failed sign-ins counted per account and per client address ("account:<name>",
# "client:<address>"), so a lockout holds across sessions and restarts.
_V14 = """
CREATE TABLE staff_accounts (
    name          VARCHAR PRIMARY KEY,
    role          VARCHAR NOT NULL CHECK (role IN ('analyst', 'staff', 'admin')),
    password_hash VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    disabled_at   TIMESTAMP
);

CREATE TABLE staff_sessions (
    token_hash  VARCHAR PRIMARY KEY,
    name        VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    revoked_at  TIMESTAMP
);

CREATE TABLE login_throttle (
    subject       VARCHAR PRIMARY KEY,
    failures      INTEGER NOT NULL,
    window_start  TIMESTAMP NOT NULL,
    locked_until  TIMESTAMP
)
"""

# v15 (issue 12, staff acting):
# - a staff refund of an Ignite order names the invoice and the payment it refunds;
# - every change to a staff account, with who made it;
# - credit kept on an order can pay for a booking staff take: staff_bookings' methods gain
#   'credit' (reference: the order whose credit paid), and staff_actions' actions 'credit'
#   (recorded on that order). A CHECK cannot be altered in DuckDB: both tables are made
#   again with their rows.
_V15 = """
ALTER TABLE staff_refunds ADD COLUMN payment_intent_id VARCHAR;  -- an Ignite invoice's payment
ALTER TABLE staff_refunds ADD COLUMN invoice_id VARCHAR;         -- NULL: the order's own payment

CREATE TABLE staff_bookings_v15 (
    order_id    VARCHAR PRIMARY KEY,
    method      VARCHAR NOT NULL
        CHECK (method IN ('cash', 'voucher', 'free_place', 'checkout_link', 'credit')),
    amount      BIGINT NOT NULL,                  -- taken (cash, voucher, credit) or to pay (link)
    currency    VARCHAR NOT NULL,
    reference   VARCHAR,                          -- a voucher code, a receipt, the credit's order
    request_key VARCHAR UNIQUE,                   -- the caller's, so a double submit books once
    created_by  VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
INSERT INTO staff_bookings_v15 (order_id, method, amount, currency, reference, request_key,
                                created_by, created_at)
SELECT order_id, method, amount, currency, reference, request_key, created_by, created_at
FROM staff_bookings;
DROP TABLE staff_bookings;
ALTER TABLE staff_bookings_v15 RENAME TO staff_bookings;

CREATE TABLE staff_actions_v15 (
    action_id   VARCHAR PRIMARY KEY,
    request_key VARCHAR NOT NULL UNIQUE,          -- one action per request, however often sent
    order_id    VARCHAR,
    action      VARCHAR NOT NULL
        CHECK (action IN ('refund', 'cancel', 'move', 'end_subscription', 'capacity', 'credit')),
    actor       VARCHAR NOT NULL,
    reason      VARCHAR NOT NULL,
    details     VARCHAR NOT NULL,                 -- JSON
    created_at  TIMESTAMP NOT NULL
);
INSERT INTO staff_actions_v15 (action_id, request_key, order_id, action, actor, reason, details,
                               created_at)
SELECT action_id, request_key, order_id, action, actor, reason, details, created_at
FROM staff_actions;
DROP TABLE staff_actions;
ALTER TABLE staff_actions_v15 RENAME TO staff_actions;

CREATE TABLE staff_account_changes (
    change_id   VARCHAR PRIMARY KEY,
    name        VARCHAR NOT NULL,                 -- the account changed
    what        VARCHAR NOT NULL
        CHECK (what IN ('add', 'role', 'disable', 'enable', 'password', 'oidc_sign_in')),
    old_value   VARCHAR,
    new_value   VARCHAR,
    actor       VARCHAR NOT NULL,                 -- who changed it (an admin, or "machine")
    created_at  TIMESTAMP NOT NULL
)
"""

# v16, several sidecars on one PostgreSQL database (issue 14; store/locks.py): who claimed
# an event, a step or a message (the claiming sidecar's PostgreSQL application_name), so
# that work claimed by a sidecar whose connections are gone is due again at once, and the
# partial indexes the claims use on PostgreSQL (`due_indexes` above; none on DuckDB).
_V16 = """
ALTER TABLE webhook_inbox ADD COLUMN claimed_by VARCHAR;

ALTER TABLE fulfilment_steps ADD COLUMN claimed_by VARCHAR;

ALTER TABLE outbox ADD COLUMN claimed_by VARCHAR
{due_indexes}
"""

# v17: holds looked up by the place they take, on PostgreSQL (`place_indexes` above).
_V17 = """
{place_indexes}
"""

# v18, the inbox's archive (store/inbox_archive.py): events finished more than 35 days ago
# (received then) move out of `webhook_inbox`, whose primary key on `event_id` then holds a
# few weeks of ids instead of every event ever received. Stripe resends an event for at most
# 30 days, so a redelivery still meets the key; one created before that is looked for here.
# No key here: on DuckDB an index on millions of random ids loads into memory as soon as
# inserts or lookups touch it (about 100 MB for two million events). On PostgreSQL, whose
# B-tree indexes stay on disk, nothing is moved and the archive stays empty.
# On DuckDB the events already finished before the archive's horizon move in the migration
# (`archive_move`): the inbox is made again with the rest, so that its key is built from
# weeks of ids at once. Deleting them in batches from the old table instead would load its
# whole index first, beyond the store's memory limit on a big database (tried: DuckDB's
# fatal out-of-memory at two million events and 200 MB).
_V18 = """
CREATE TABLE webhook_inbox_archive (
    event_id        VARCHAR NOT NULL,
    type            VARCHAR NOT NULL,
    object_id       VARCHAR,
    livemode        BOOLEAN NOT NULL,
    api_version     VARCHAR,
    created_at      TIMESTAMP NOT NULL,
    payload         VARCHAR {compressed} NOT NULL,
    received_at     TIMESTAMP NOT NULL,
    status          VARCHAR NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at TIMESTAMP,
    last_error      VARCHAR,
    processed_at    TIMESTAMP,
    order_id        VARCHAR,
    not_ours        BOOLEAN,
    waiting_for     VARCHAR,
    claimed_by      VARCHAR,
    archived_at     TIMESTAMP NOT NULL
)
{archive_indexes}
{archive_move}
"""

# v19 (issues 12 and 16): which invoice a PaymentIntent paid, asked of Stripe once per
# PaymentIntent (store/payment_invoices.py). An event that waits on a payment nothing of
# ours names (an invoice's PaymentIntent: no metadata, only a customer) wants a lookup; the
# lookup pass (runtime/invoice_lookups.py) asks Stripe outside any transaction and keeps
# the answer here, once: the invoice (NULL: none), its subscription, whether it carries a
# marker of ours, and, once matched, the order whose invoice it paid.
_V19 = """
CREATE TABLE payment_invoices (
    payment_intent_id VARCHAR PRIMARY KEY,
    status            VARCHAR NOT NULL CHECK (status IN ('wanted', 'answered', 'failed')),
    invoice_id        VARCHAR,             -- answered: the invoice it paid; NULL: none
    subscription_id   VARCHAR,             -- the invoice's subscription, if any
    marked            BOOLEAN,             -- the invoice carries a marker of ours
    order_id          VARCHAR,             -- the order whose invoice it paid, once matched
    wanted_at         TIMESTAMP NOT NULL,  -- when an event first needed it
    asked_at          TIMESTAMP,           -- when Stripe answered
    attempts          INTEGER NOT NULL,    -- asks that Stripe did not answer
    next_attempt_at   TIMESTAMP,           -- wanted: when to ask (again)
    last_error        VARCHAR,
    claimed_by        VARCHAR              -- the sidecar asking (store/locks.py)
)
"""

# v20 (issue 12, staff acting):
# - an Ignite enrolment is charged again by every invoice of its subscription, so an item is
#   refunded once per payment it was charged on: staff_refund_items is keyed by the item and
#   the invoice ('' for the order's own payment). A primary key cannot be altered in DuckDB:
#   the table is made again with its rows;
# - one request at a time ends a subscription, across sidecars (store/subscription_endings.py):
#   a row per subscription, claimed before Stripe is asked and completed or released after.
_V20 = """
CREATE TABLE staff_refund_items_v20 (
    order_item_id VARCHAR NOT NULL,
    invoice_id    VARCHAR NOT NULL,               -- '' : the order's own payment
    refund_key    VARCHAR NOT NULL,
    PRIMARY KEY (order_item_id, invoice_id)       -- an item is refunded once per payment
);
INSERT INTO staff_refund_items_v20 (order_item_id, invoice_id, refund_key)
SELECT i.order_item_id, coalesce(r.invoice_id, ''), i.refund_key
FROM staff_refund_items i LEFT JOIN staff_refunds r ON r.refund_key = i.refund_key;
DROP TABLE staff_refund_items;
ALTER TABLE staff_refund_items_v20 RENAME TO staff_refund_items;

CREATE TABLE subscription_endings (
    subscription_id VARCHAR PRIMARY KEY,          -- one request at a time ends it
    request_key     VARCHAR NOT NULL,             -- end_subscription:<subscription>:<when>
    status          VARCHAR NOT NULL CHECK (status IN ('claimed', 'done')),
    claim_id        VARCHAR NOT NULL,             -- this claim's, so only it completes it
    claimed_by      VARCHAR NOT NULL,             -- the claiming process (store/locks.py)
    actor           VARCHAR NOT NULL,
    claimed_at      TIMESTAMP NOT NULL,
    done_at         TIMESTAMP
)
"""

MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "initial schema", _V1),
    (2, "enrolment status ordering", _V2),
    (3, "calendar sequence, support tickets, daily summaries", _V3),
    (4, "support ticket order reference and name", _V4),
    (5, "refunds ledger", _V5),
    (6, "inbox events' orders, item and step times, order kinds", _V6),
    (7, "abuse limits: mailbox and client of holds and tickets", _V7),
    (8, "text messages: parents' mobiles, the sms channel, opt-outs", _V8),
    (9, "check-in and check-out, emergency contacts and collectors", _V9),
    (10, "staff actions: audit, refunds by item, capacity overrides, credit", _V10),
    (11, "staff bookings, order repairs, waitlist", _V11),
    (12, "payments not ours, waiting events, grouped error entries", _V12),
    (13, "roster messages, reminder opt-outs, ticket replies", _V13),
    (14, "staff accounts, sessions and sign-in limits", _V14),
    (15, "Ignite invoice refunds, staff account changes, bookings paid with credit", _V15),
    (16, "claims of several sidecars", _V16),
    (17, "holds found by their place on PostgreSQL", _V17),
    (18, "the inbox's archive", _V18),
    (19, "which invoice a payment paid, asked of Stripe once", _V19),
    (20, "staff refunds per invoice, subscription endings claimed", _V20),
]


def _statements(script: str) -> list[str]:
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def migrate(conn: duckdb.DuckDBPyConnection, now: datetime) -> list[int]:
    """Apply every migration not yet applied, each in its own transaction; idempotent.
    `conn` is DuckDB's, or PostgreSQL's through `store/postgres.py` (POSTGRES_DIALECT)."""
    postgresql = getattr(conn, "dialect", None) == "postgresql"
    dialect = {
        **(POSTGRES_DIALECT if postgresql else DUCKDB_DIALECT),
        "inbox_columns": ", ".join(inbox_archive.COLUMNS),
        "archive_now": f"{now:%Y-%m-%d %H:%M:%S}",
        "archive_before": f"{now - inbox_archive.ARCHIVE_AFTER:%Y-%m-%d %H:%M:%S}",
    }
    dialect["archive_move"] = dialect["archive_move"].format(**dialect)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations").fetchall()}
    done = []
    for version, name, script in MIGRATIONS:
        if version in applied:
            continue
        conn.execute("BEGIN TRANSACTION")
        try:
            for statement in _statements(script.format(**dialect)):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                [version, name, now],
            )
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
        done.append(version)
    return done
