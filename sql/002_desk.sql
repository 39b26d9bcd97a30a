-- amends schema, version 2: the concession desk of a book: approval
-- policies, exchange rates, the charges refunds tie to, concession requests
-- and their lifecycle, the hash-chained audit trail, and the outbox of
-- customer notifications.
--
-- Keyed by book_id first like every table of 001 (see sql/README.md). What
-- the database enforces here, also against a client writing SQL directly:
--   * policies, exchange rates, charges and audit events are insert-only
--     (UPDATE, DELETE and TRUNCATE refused, also for the owner);
--   * a request keeps its identity, moves only along the lifecycle
--     (request_lifecycle), and in a final state never changes again;
--   * the audit trail is one unbroken chain per book: dense seq, each event
--     linking to the hash of the one before, each hash the sha256 of the
--     event's canonical form (the C++ core's requests::canonical), times
--     never going backwards;
--   * an outbox message is written with the state change it announces and
--     afterwards only marked sent, once;
--   * requests, audit events and outbox messages are written only by a
--     transaction holding the book's write lock (amends.begin_write), which
--     serializes them per book and makes the dense numbering race-free.
--
-- New SQLSTATEs (AM001-AM017 are 001's, see amends.fail there):
--   AM018 audit chain broken      AM019 illegal request transition
--   AM020 outbox refused
-- and, as in 001: AM015 immutable, AM016 no write lock, AM017 invalid argument.
--
-- None of the functions here is SECURITY DEFINER: the triggers only read and
-- refuse, so they run with the rights of whoever writes.

-- ------------------------------------------------------------------ policies

-- Approval policy files (TOML), one row per published version. A request
-- names the version it was routed by; that text must stay what it was.
CREATE TABLE amends.policies (
  book_id      integer     NOT NULL REFERENCES amends.books,
  version      text        NOT NULL CHECK (version <> ''),
  body         text        NOT NULL,
  published_at timestamptz NOT NULL,
  published_by text        NOT NULL,
  PRIMARY KEY (book_id, version)
);

-- ------------------------------------------------------------------ exchange rates

-- 1 unit of currency = rate units of the book's base currency, on day.
-- Amounts converted with a rate must be reproducible: a rate is never
-- corrected in place.
CREATE TABLE amends.fx_rates (
  book_id  integer NOT NULL REFERENCES amends.books,
  currency char(3) NOT NULL REFERENCES amends.currencies,
  day      date    NOT NULL,
  rate     numeric NOT NULL CHECK (rate > 0),
  PRIMARY KEY (book_id, currency, day)
);

-- ------------------------------------------------------------------ charges

-- The original transactions, imported from billing: what refunds tie to.
CREATE TABLE amends.charges (
  book_id   integer NOT NULL REFERENCES amends.books,
  charge_id text    NOT NULL CHECK (charge_id <> ''),
  customer  text    NOT NULL,
  amount    numeric NOT NULL CHECK (amount > 0),
  currency  char(3) NOT NULL REFERENCES amends.currencies,
  day       date    NOT NULL,
  refunded  numeric NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= amount),
  PRIMARY KEY (book_id, charge_id)
);

-- ------------------------------------------------------------------ requests

CREATE TABLE amends.requests (
  book_id         integer     NOT NULL REFERENCES amends.books,
  -- Not empty: '' in audit_events.request_id means "about no request".
  request_id      text        NOT NULL CHECK (request_id <> ''),
  kind            text        NOT NULL CHECK (kind IN ('goodwill', 'service_credit', 'refund', 'retention_offer')),
  state           text        NOT NULL CHECK (state IN ('draft', 'submitted', 'validated', 'pending_approval', 'approved',
                                                        'declined', 'returned', 'applied', 'reconciled', 'cancelled',
                                                        'expired')),
  customer        text        NOT NULL,
  requester       text        NOT NULL,
  team            text        NOT NULL,
  amount          numeric,            -- NULL: computed (service credits, retention offers)
  currency        char(3)     NOT NULL REFERENCES amends.currencies,
  policy_version  text,               -- the policy it was routed by, once routed
  changed_version bigint      NOT NULL,  -- the book version (amends.changes) of its last change
  record          json        NOT NULL,  -- the whole request: versions, history
  created_at      timestamptz NOT NULL,
  PRIMARY KEY (book_id, request_id),
  FOREIGN KEY (book_id, policy_version) REFERENCES amends.policies (book_id, version)
);
-- Catching up: "every request changed after version N".
CREATE INDEX requests_changed_version ON amends.requests (book_id, changed_version);

-- The lifecycle: every (from_state, to_state) a request may move by in one
-- write, with the fewest single steps it takes. One transaction may move a
-- request several steps (submitted -> validated -> pending_approval ->
-- approved) and the table sees only where it started and where it ended, so
-- this is the transitive closure of the single steps below. It is also the
-- closure of the C++ core's requests::next_state, whose single steps differ
-- a little (it declines, returns and expires straight from submitted and
-- validated, and approves only from pending_approval) but reach the same
-- states.
CREATE TABLE amends.request_lifecycle (
  from_state text     NOT NULL,
  to_state   text     NOT NULL,
  steps      smallint NOT NULL CHECK (steps >= 1),
  PRIMARY KEY (from_state, to_state),
  CHECK (from_state <> to_state)
);
WITH RECURSIVE step (from_state, to_state) AS (
  VALUES ('draft', 'submitted'),
         ('submitted', 'validated'),
         ('validated', 'pending_approval'),
         ('validated', 'approved'),          -- auto-approval
         ('validated', 'declined'),          -- refused by validation
         ('pending_approval', 'approved'),
         ('pending_approval', 'declined'),
         ('pending_approval', 'returned'),
         ('pending_approval', 'expired'),
         ('returned', 'submitted'),          -- resubmitted after amending
         ('approved', 'applied'),
         ('applied', 'reconciled'),
         ('draft', 'cancelled'), ('submitted', 'cancelled'), ('validated', 'cancelled'),
         ('pending_approval', 'cancelled'), ('returned', 'cancelled'), ('approved', 'cancelled'),
         ('approved', 'expired'), ('returned', 'expired')
), reach (from_state, to_state, steps) AS (
  SELECT from_state, to_state, 1 FROM step
  UNION
  SELECT r.from_state, s.to_state, r.steps + 1
    FROM reach r JOIN step s ON s.from_state = r.to_state
   WHERE r.steps < 11  -- there are 11 states: no shortest path is longer
)
INSERT INTO amends.request_lifecycle (from_state, to_state, steps)
SELECT from_state, to_state, min(steps) FROM reach WHERE from_state <> to_state GROUP BY from_state, to_state;

-- ------------------------------------------------------------------ the audit trail

-- Append-only and hash-chained: each event's hash covers the hash of the
-- event before it, so changing, removing or reordering any event breaks every
-- later hash, which anyone holding a copy of a later hash can check.
CREATE TABLE amends.audit_events (
  -- The book is checked once per statement by the insert trigger
  -- (amends.writing), not by a foreign key: a per-row key check costs a
  -- COPY of 400,000 events 1.5 s of its 3.7 (books are never deleted).
  book_id    integer NOT NULL,
  seq        bigint  NOT NULL CHECK (seq >= 1),  -- 1, 2, 3, ... per book
  at_micros  bigint  NOT NULL,                   -- microseconds since 1970-01-01 UTC
  actor      text    NOT NULL CHECK (actor <> ''),
  request_id text    NOT NULL DEFAULT '',
  event      text    NOT NULL CHECK (event <> ''),
  details    text    NOT NULL DEFAULT '',
  previous   bytea   NOT NULL CHECK (octet_length(previous) = 32),  -- hash of event seq - 1; zeros for seq 1
  hash       bytea   NOT NULL CHECK (octet_length(hash) = 32),      -- amends.audit_hash of the fields above
  PRIMARY KEY (book_id, seq)
);

-- The bytes an event's hash covers: a tag, then every field as
-- "<length in UTF-8 bytes>:<value>;" (integers in decimal, previous in
-- lowercase hex). Byte for byte the C++ core's requests::canonical, in a
-- database of any encoding. A plain SQL expression, so the planner inlines
-- it into the set-wise check of a bulk insert; the explicit ::text casts
-- matter (integer || text looks the output function up on every call: four
-- times slower).
CREATE FUNCTION amends.audit_canonical(p_seq bigint, p_at_micros bigint, p_actor text, p_request_id text, p_event text,
                                       p_details text, p_previous bytea)
RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT convert_to('amends-audit-v1;'
    || length(p_seq::text)::text || ':' || p_seq::text || ';'
    || length(p_at_micros::text)::text || ':' || p_at_micros::text || ';'
    || octet_length(convert_to(p_actor, 'UTF8'))::text || ':' || p_actor || ';'
    || octet_length(convert_to(p_request_id, 'UTF8'))::text || ':' || p_request_id || ';'
    || octet_length(convert_to(p_event, 'UTF8'))::text || ':' || p_event || ';'
    || octet_length(convert_to(p_details, 'UTF8'))::text || ':' || p_details || ';'
    || (2 * octet_length(p_previous))::text || ':' || encode(p_previous, 'hex') || ';', 'UTF8')
$$;

CREATE FUNCTION amends.audit_hash(p_seq bigint, p_at_micros bigint, p_actor text, p_request_id text, p_event text,
                                  p_details text, p_previous bytea)
RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT sha256(amends.audit_canonical(p_seq, p_at_micros, p_actor, p_request_id, p_event, p_details, p_previous))
$$;

-- The trail with readable times and hashes.
CREATE VIEW amends.audit_log AS
SELECT book_id, seq,
       timestamptz '1970-01-01 00:00:00+00' + at_micros * interval '1 microsecond' AS at,
       actor, request_id, event, details,
       encode(previous, 'hex') AS previous, encode(hash, 'hex') AS hash
  FROM amends.audit_events;

-- ------------------------------------------------------------------ the outbox

-- Customer notifications, written in the transaction that makes the state
-- change they announce (so one is never lost nor sent for a change that
-- rolled back); an integration sends them and sets sent_at.
CREATE TABLE amends.outbox (
  book_id    integer     NOT NULL REFERENCES amends.books,
  message_id bigint      NOT NULL CHECK (message_id >= 1),  -- 1, 2, 3, ... per book
  request_id text        NOT NULL,
  event      text        NOT NULL CHECK (event IN ('applied', 'declined')),
  customer   text        NOT NULL,
  subject    text        NOT NULL,
  body       text        NOT NULL,
  created_at timestamptz NOT NULL,
  sent_at    timestamptz,
  PRIMARY KEY (book_id, message_id),
  FOREIGN KEY (book_id, request_id) REFERENCES amends.requests
);
-- What the integration polls for.
CREATE INDEX outbox_unsent ON amends.outbox (book_id, message_id) WHERE sent_at IS NULL;

-- ------------------------------------------------------------------ immutability

-- Like 001's amends.refuse_change, with a hint per table (the trigger's
-- argument) saying what to do instead. Statement-level: refused even when no
-- row matches, so a client learns at once that the table takes no changes.
CREATE FUNCTION amends.refuse_desk_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM amends.fail('AM015', format('%s rows are immutable: %s is refused; %s', TG_TABLE_NAME, lower(TG_OP), TG_ARGV[0]));
  RETURN NULL;
END
$$;

CREATE TRIGGER immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON amends.policies FOR EACH STATEMENT
  EXECUTE FUNCTION amends.refuse_desk_change('publish a new policy version instead');
CREATE TRIGGER immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON amends.fx_rates FOR EACH STATEMENT
  EXECUTE FUNCTION amends.refuse_desk_change('amounts converted with a rate must stay reproducible; a recorded rate is never corrected');
CREATE TRIGGER immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON amends.charges FOR EACH STATEMENT
  EXECUTE FUNCTION amends.refuse_desk_change('a charge is what billing recorded; import a new charge instead');
CREATE TRIGGER immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON amends.audit_events FOR EACH STATEMENT
  EXECUTE FUNCTION amends.refuse_desk_change('the audit trail is append-only; append an event that records the correction');
CREATE TRIGGER immutable BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON amends.request_lifecycle FOR EACH STATEMENT
  EXECUTE FUNCTION amends.refuse_desk_change('the lifecycle changes only by a migration');
CREATE TRIGGER immutable_truncate BEFORE TRUNCATE ON amends.requests FOR EACH STATEMENT
  EXECUTE FUNCTION amends.refuse_desk_change('cancel a request instead');
CREATE TRIGGER immutable_truncate BEFORE TRUNCATE ON amends.outbox FOR EACH STATEMENT
  EXECUTE FUNCTION amends.refuse_desk_change('a message stays once written; an integration marks it sent');

-- ------------------------------------------------------------------ exchange-rate checks

CREATE FUNCTION amends.fx_rates_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  SELECT n.book_id, n.currency INTO r
    FROM new_rates n JOIN amends.books b ON b.book_id = n.book_id
   WHERE n.currency = b.base_currency
   LIMIT 1;
  IF FOUND THEN
    PERFORM amends.fail('AM017', format('%s is the base currency of book %s: its rate is 1 by definition and is not recorded',
                                        r.currency, r.book_id));
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER checks AFTER INSERT ON amends.fx_rates REFERENCING NEW TABLE AS new_rates
  FOR EACH STATEMENT EXECUTE FUNCTION amends.fx_rates_inserted();

-- ------------------------------------------------------------------ request checks

CREATE FUNCTION amends.request_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  b amends.books;
  reachable text;
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM amends.fail('AM015', format('request %s can''t be deleted; cancel it instead', OLD.request_id));
  END IF;
  IF TG_OP = 'INSERT' THEN
    b := amends.writing(NEW.book_id);
    IF NEW.state IN ('applied', 'reconciled') THEN
      PERFORM amends.fail('AM019', format('request %s can''t start out %s: a request is applied once approved, by moving it there',
                                          NEW.request_id, NEW.state));
    END IF;
    RETURN NEW;
  END IF;

  b := amends.writing(OLD.book_id);
  IF (NEW.book_id, NEW.request_id, NEW.kind, NEW.requester, NEW.customer, NEW.created_at)
       IS DISTINCT FROM (OLD.book_id, OLD.request_id, OLD.kind, OLD.requester, OLD.customer, OLD.created_at) THEN
    PERFORM amends.fail('AM015', format('request %s: its book, id, kind, requester, customer and creation time never change; '
                                        'cancel it and file a new request instead', OLD.request_id));
  END IF;
  IF OLD.state IN ('declined', 'reconciled', 'cancelled', 'expired') THEN
    PERFORM amends.fail('AM019', format('request %s is %s, a final state: it takes no more changes; file a new request instead',
                                        OLD.request_id, OLD.state));
  END IF;
  IF NEW.changed_version < OLD.changed_version THEN
    PERFORM amends.fail('AM017', format('request %s: changed_version only grows (it is %s; %s would go back); set it to the book''s version from amends.begin_write',
                                        OLD.request_id, OLD.changed_version, NEW.changed_version));
  END IF;
  IF NEW.state <> OLD.state
     AND NOT EXISTS (SELECT 1 FROM amends.request_lifecycle WHERE from_state = OLD.state AND to_state = NEW.state) THEN
    SELECT string_agg(to_state, ', ' ORDER BY steps, to_state) INTO reachable
      FROM amends.request_lifecycle WHERE from_state = OLD.state;
    PERFORM amends.fail('AM019', format('request %s can''t go from %s to %s; from %s it can reach %s',
                                        OLD.request_id, OLD.state, NEW.state, OLD.state, coalesce(reachable, 'nothing')));
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER checks BEFORE INSERT OR UPDATE OR DELETE ON amends.requests FOR EACH ROW EXECUTE FUNCTION amends.request_change();

-- ------------------------------------------------------------------ audit checks

-- One check per statement, set-wise, so that a COPY of a few hundred
-- thousand events costs a sort and a hash per row, not a lookup per row.
CREATE FUNCTION amends.audit_events_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  bk record;
  r record;
  b amends.books;
  last_seq bigint;
  last_hash bytea;
  last_at bigint;
  broken boolean;
  old_work_mem text;
BEGIN
  FOR bk IN SELECT book_id, count(*) AS n, min(seq) AS first_seq, max(seq) AS last_seq
              FROM new_events GROUP BY book_id ORDER BY book_id LOOP
    b := amends.writing(bk.book_id);

    -- Dense: the new events continue the chain, seq after seq (the primary
    -- key rules out repeats). The chain so far ends at last_seq.
    SELECT e.seq, e.hash, e.at_micros INTO last_seq, last_hash, last_at
      FROM amends.audit_events e
     WHERE e.book_id = bk.book_id AND e.seq < bk.first_seq
     ORDER BY e.seq DESC LIMIT 1;
    last_seq := coalesce(last_seq, 0);
    IF bk.first_seq <> last_seq + 1 OR bk.last_seq <> last_seq + bk.n THEN
      PERFORM amends.fail('AM018', format('audit events of book %s are numbered densely: after event %s this insert must use seq %s to %s, not %s to %s',
                                          bk.book_id, last_seq, last_seq + 1, last_seq + bk.n, bk.first_seq, bk.last_seq));
    END IF;
    IF last_seq = 0 THEN
      last_hash := decode(repeat('00', 32), 'hex');
    END IF;

    old_work_mem := NULL;
    IF bk.n > 10000 THEN
      -- Room to sort the events by seq in memory.
      old_work_mem := current_setting('work_mem');
      PERFORM set_config('work_mem', '256MB', true);
    END IF;
    -- Each event links to the one before (the last of the chain for the
    -- first), is not earlier than it, and carries the hash of its fields.
    SELECT x.seq, x.problem, x.prev_at, x.at_micros INTO r
      FROM (SELECT n.seq, n.at_micros, coalesce(lag(n.at_micros) OVER w, last_at) AS prev_at,
                   CASE WHEN n.previous <> coalesce(lag(n.hash) OVER w, last_hash) THEN 'previous'
                        WHEN n.at_micros < coalesce(lag(n.at_micros) OVER w, last_at) THEN 'time'
                        WHEN n.hash <> amends.audit_hash(n.seq, n.at_micros, n.actor, n.request_id, n.event, n.details, n.previous)
                          THEN 'hash'
                   END AS problem
              FROM new_events n
             WHERE n.book_id = bk.book_id
            WINDOW w AS (ORDER BY n.seq)) x
     WHERE x.problem IS NOT NULL
     ORDER BY x.seq
     LIMIT 1;
    broken := FOUND;
    IF old_work_mem IS NOT NULL THEN
      PERFORM set_config('work_mem', old_work_mem, true);
    END IF;
    IF broken THEN
      IF r.problem = 'previous' THEN
        PERFORM amends.fail('AM018', format('audit event %s of book %s does not link to event %s: its previous must be that event''s hash%s',
                                            r.seq, bk.book_id, r.seq - 1,
                                            CASE WHEN r.seq = 1 THEN ' (32 zero bytes for the first event)' ELSE '' END));
      ELSIF r.problem = 'time' THEN
        PERFORM amends.fail('AM018', format('audit event %s of book %s is at %s micros, before event %s (%s): events are appended in time order',
                                            r.seq, bk.book_id, r.at_micros, r.seq - 1, r.prev_at));
      ELSE
        PERFORM amends.fail('AM018', format('audit event %s of book %s: its hash is not the sha256 of its canonical form; compute it as amends.audit_hash(seq, at_micros, actor, request_id, event, details, previous)',
                                            r.seq, bk.book_id));
      END IF;
    END IF;
  END LOOP;
  RETURN NULL;
END
$$;
CREATE TRIGGER checks AFTER INSERT ON amends.audit_events REFERENCING NEW TABLE AS new_events
  FOR EACH STATEMENT EXECUTE FUNCTION amends.audit_events_inserted();

-- ------------------------------------------------------------------ outbox checks

CREATE FUNCTION amends.outbox_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  bk record;
  r record;
  b amends.books;
  last_id bigint;
BEGIN
  FOR bk IN SELECT book_id, count(*) AS n, min(message_id) AS first_id, max(message_id) AS last_id
              FROM new_messages GROUP BY book_id ORDER BY book_id LOOP
    b := amends.writing(bk.book_id);
    SELECT coalesce(max(o.message_id), 0) INTO last_id
      FROM amends.outbox o WHERE o.book_id = bk.book_id AND o.message_id < bk.first_id;
    IF bk.first_id <> last_id + 1 OR bk.last_id <> last_id + bk.n THEN
      PERFORM amends.fail('AM020', format('outbox messages of book %s are numbered densely: this insert must use message ids %s to %s, not %s to %s',
                                          bk.book_id, last_id + 1, last_id + bk.n, bk.first_id, bk.last_id));
    END IF;
  END LOOP;
  -- A message announces the state its request is in.
  SELECT n.message_id, n.event, n.request_id, q.state INTO r
    FROM new_messages n JOIN amends.requests q ON q.book_id = n.book_id AND q.request_id = n.request_id
   WHERE NOT (n.event = 'applied' AND q.state IN ('applied', 'reconciled') OR n.event = 'declined' AND q.state = 'declined')
   LIMIT 1;
  IF FOUND THEN
    PERFORM amends.fail('AM020', format('outbox message %s says request %s was %s, but the request is %s: write the message in the transaction that moves the request there, after moving it',
                                        r.message_id, r.request_id, r.event, r.state));
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER insert_checks AFTER INSERT ON amends.outbox REFERENCING NEW TABLE AS new_messages
  FOR EACH STATEMENT EXECUTE FUNCTION amends.outbox_inserted();

-- Marking a message sent is the one change, and it happens once. It needs
-- no write lock: the integration that sends does not write the book.
CREATE FUNCTION amends.outbox_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM amends.fail('AM015', format('outbox message %s can''t be deleted; an integration marks it sent by setting sent_at', OLD.message_id));
  END IF;
  IF (NEW.book_id, NEW.message_id, NEW.request_id, NEW.event, NEW.customer, NEW.subject, NEW.body, NEW.created_at)
       IS DISTINCT FROM (OLD.book_id, OLD.message_id, OLD.request_id, OLD.event, OLD.customer, OLD.subject, OLD.body, OLD.created_at) THEN
    PERFORM amends.fail('AM015', format('outbox message %s: only sent_at changes; a correction is a new message', OLD.message_id));
  END IF;
  IF OLD.sent_at IS NOT NULL AND NEW.sent_at IS DISTINCT FROM OLD.sent_at THEN
    PERFORM amends.fail('AM020', format('outbox message %s was already sent at %s; sent_at is set once', OLD.message_id, OLD.sent_at));
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER update_checks BEFORE UPDATE OR DELETE ON amends.outbox FOR EACH ROW EXECUTE FUNCTION amends.outbox_change();

-- ------------------------------------------------------------------ privileges

-- The application role reads everything, inserts into the six desk tables,
-- and updates only a request's moving parts and a message's sent_at. It can't
-- update or delete policies, rates, charges or audit events at all.
REVOKE ALL ON amends.policies, amends.fx_rates, amends.charges, amends.requests, amends.request_lifecycle,
              amends.audit_events, amends.audit_log, amends.outbox FROM PUBLIC;
GRANT SELECT ON amends.policies, amends.fx_rates, amends.charges, amends.requests, amends.request_lifecycle,
                amends.audit_events, amends.audit_log, amends.outbox TO amends_app;
GRANT INSERT ON amends.policies, amends.fx_rates, amends.charges, amends.requests, amends.audit_events,
                amends.outbox TO amends_app;
GRANT UPDATE (state, amount, currency, policy_version, changed_version, record) ON amends.requests TO amends_app;
GRANT UPDATE (sent_at) ON amends.outbox TO amends_app;
-- Functions are created executable by PUBLIC; as in 001, only what the app
-- calls: the canonical form and hash of an audit event (the insert check
-- calls them with the writer's rights). Trigger functions need no grant.
REVOKE ALL ON FUNCTION amends.audit_canonical(bigint, bigint, text, text, text, text, bytea),
                       amends.audit_hash(bigint, bigint, text, text, text, text, bytea),
                       amends.refuse_desk_change(), amends.fx_rates_inserted(), amends.request_change(),
                       amends.audit_events_inserted(), amends.outbox_inserted(), amends.outbox_change() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION amends.audit_canonical(bigint, bigint, text, text, text, text, bytea),
                          amends.audit_hash(bigint, bigint, text, text, text, text, bytea) TO amends_app;
