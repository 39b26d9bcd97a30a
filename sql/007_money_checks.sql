-- amends schema, version 7: the database refuses money nobody approved.
--
-- 002 checks that a request moves along its lifecycle; the C++ desk checks
-- what each move means. These checks hold the money of a move to what was
-- approved, also against a client writing SQL directly (as amends_app or
-- the owner):
--   * a request's terms (amount, currency, customer, kind, the content of
--     its current version, the granted and base amounts and whether it
--     draws on a budget) are frozen once approval started: they change only
--     in draft, submitted, validated or returned, where a request is amended
--     and resubmitted; its amount column always equals the amount its record
--     grants;
--   * a request becomes approved only with the evidence in its record: an
--     auto-approving route, or an approval chain whose every step is done
--     with at least one approval; one whose kind draws on a budget also
--     names its reservation, a pending entry of the book with idempotency
--     key "budget:<request id>" holding its base amount;
--   * a request becomes applied only when its entries (record entries, each
--     with idempotency key "request:<id>:<n>" and metadata request=<id>)
--     exist, their debits in its currency add up to its amount, and its
--     reservation, if any, was consumed;
--   * in a desk's book (one with a published policy), a budget account
--     ("Budget:...") takes postings only from an allocation
--     (described "Budget allocation ..." and announced by a budget_allocated
--     audit event in the same write), a request's reservation (key
--     "budget:<id>" of a request of the book) or the completion of one;
--   * a period closes only while no approved, unaccrued request of the book
--     belongs to it or an earlier period (Desk::close_period's rule),
--     checked at commit, so a close that accrues them first passes.
--
-- New SQLSTATEs (AM001-AM020 are 001's and 002's):
--   AM021 terms frozen            AM022 approval without evidence
--   AM023 apply mismatch          AM024 budget posting refused
--   AM025 period close refused

-- ------------------------------------------------------------------ requests

-- The service period of a request: its current version's, else its budget
-- period (the month it was created in), as the first day of the month.
CREATE FUNCTION amends.request_service_start(rec jsonb) RETURNS date
LANGUAGE sql IMMUTABLE AS $$
  SELECT (coalesce(rec->'versions'->-1->>'service_period', rec->>'budget_period') || '-01')::date
$$;

CREATE FUNCTION amends.request_money_checks() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  rec jsonb := NEW.record::jsonb;
  old_rec jsonb;
  granted numeric;
  into_approved boolean;
  draws boolean;
  res bigint;
  e amends.entries;
  held numeric;
  n integer;
  bad_entry text;
  debits numeric;
BEGIN
  -- The amount column is the record's granted amount.
  IF jsonb_typeof(rec->'amount') = 'object' THEN
    granted := (rec->'amount'->>'amount')::numeric;
    IF rec->'amount'->>'currency' IS DISTINCT FROM NEW.currency::text THEN
      PERFORM amends.fail('AM021', format('request %s: its currency column is %s but its record grants %s %s; write them together',
                                          NEW.request_id, NEW.currency, rec->'amount'->>'amount', rec->'amount'->>'currency'));
    END IF;
  END IF;
  IF NEW.amount IS DISTINCT FROM granted THEN
    PERFORM amends.fail('AM021', format('request %s: its amount column is %s but its record grants %s; write them together',
                                        NEW.request_id, coalesce(NEW.amount::text, 'nothing'), coalesce(granted::text, 'nothing')));
  END IF;

  IF TG_OP = 'UPDATE' THEN
    old_rec := OLD.record::jsonb;
    -- Frozen once approval started: amending happens before, or after a return.
    IF OLD.state NOT IN ('draft', 'submitted', 'validated', 'returned')
       AND ((NEW.amount, NEW.currency, NEW.customer, NEW.kind) IS DISTINCT FROM (OLD.amount, OLD.currency, OLD.customer, OLD.kind)
            OR rec->'versions'->-1 IS DISTINCT FROM old_rec->'versions'->-1
            OR rec->'amount' IS DISTINCT FROM old_rec->'amount'
            OR rec->'base_amount' IS DISTINCT FROM old_rec->'base_amount'
            OR rec->'draws_on_budget' IS DISTINCT FROM old_rec->'draws_on_budget') THEN
      PERFORM amends.fail('AM021', format('request %s is %s: its amount, currency, customer, kind and content are frozen once approval started; '
                                          'return it to the requester to amend it, or cancel it and file a new request',
                                          OLD.request_id, OLD.state));
    END IF;
    -- Its reservation stays the one it was approved with.
    IF OLD.state IN ('approved', 'applied') AND rec->'reservation' IS DISTINCT FROM old_rec->'reservation' THEN
      PERFORM amends.fail('AM021', format('request %s is %s: it keeps the reservation it was approved with (entry %s)',
                                          OLD.request_id, OLD.state, old_rec->>'reservation'));
    END IF;
  END IF;

  -- Approved (or past it, since one UPDATE may take several steps): with
  -- the evidence, and the budget reserved.
  into_approved := NEW.state IN ('approved', 'applied', 'reconciled')
                   AND (TG_OP = 'INSERT' OR OLD.state NOT IN ('approved', 'applied', 'reconciled'));
  IF into_approved THEN
    IF NOT (rec->'route'->>'outcome' IS NOT DISTINCT FROM 'auto_approved'
            OR (jsonb_typeof(rec->'chain') = 'object' AND jsonb_typeof(rec->'chain'->'steps') = 'array'
                AND jsonb_array_length(rec->'chain'->'steps') > 0
                AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(rec->'chain'->'steps') s
                                 WHERE (s->'done') IS DISTINCT FROM 'true'::jsonb
                                    OR jsonb_typeof(s->'approvals') IS DISTINCT FROM 'array'
                                    OR jsonb_array_length(s->'approvals') = 0))) THEN
      PERFORM amends.fail('AM022', format('request %s can''t be approved without the evidence in its record: a route that auto-approves it '
                                          '(route.outcome auto_approved) or an approval chain whose every step is done with an approval',
                                          NEW.request_id));
    END IF;
    -- Whether it draws on a budget is its policy's word, which the store
    -- writes into the record of a routed request; without a policy (or in
    -- a record of an older amends), every kind but refund does.
    draws := CASE WHEN NEW.policy_version IS NOT NULL AND jsonb_typeof(rec->'draws_on_budget') = 'boolean'
                  THEN (rec->>'draws_on_budget')::boolean ELSE NEW.kind <> 'refund' END;
    IF draws THEN
      res := coalesce((rec->>'reservation')::bigint, 0);
      IF res <> 0 THEN
        SELECT * INTO e FROM amends.entries WHERE book_id = NEW.book_id AND entry_id = res;
      END IF;
      IF res = 0 OR e.entry_id IS NULL THEN
        PERFORM amends.fail('AM022', format('request %s draws on a budget: it is approved with its reservation, a pending entry of book %s '
                                            'with idempotency key budget:%s; its record names %s',
                                            NEW.request_id, NEW.book_id, NEW.request_id,
                                            CASE WHEN res = 0 THEN 'none' ELSE format('entry %s, which the book has not', res) END));
      END IF;
      IF e.kind <> 'pending' OR e.idempotency_key IS DISTINCT FROM 'budget:' || NEW.request_id
         OR (NEW.state = 'approved' AND EXISTS (SELECT 1 FROM amends.entries c WHERE c.book_id = NEW.book_id AND c.completes = res))
         OR EXISTS (SELECT 1 FROM amends.resolutions s WHERE s.book_id = NEW.book_id AND s.entry_id = res) THEN
        PERFORM amends.fail('AM022', format('request %s: entry %s is not its open reservation (a pending entry with idempotency key budget:%s, '
                                            'neither posted nor voided)', NEW.request_id, res, NEW.request_id));
      END IF;
      SELECT sum(amount) FILTER (WHERE amount > 0) INTO held FROM amends.postings WHERE book_id = NEW.book_id AND entry_id = res;
      IF held IS DISTINCT FROM (rec->>'base_amount')::numeric THEN
        PERFORM amends.fail('AM022', format('request %s: its reservation %s holds %s, not its base amount %s',
                                            NEW.request_id, res, coalesce(held::text, 'nothing'), coalesce(rec->>'base_amount', 'none')));
      END IF;
    END IF;
  END IF;

  -- Applied: its entries posted what was approved, its reservation consumed.
  IF TG_OP = 'UPDATE' AND NEW.state IN ('applied', 'reconciled') AND OLD.state NOT IN ('applied', 'reconciled') THEN
    IF NEW.amount IS NULL OR jsonb_typeof(rec->'entries') IS DISTINCT FROM 'array' OR jsonb_array_length(rec->'entries') = 0 THEN
      PERFORM amends.fail('AM023', format('request %s is applied with its amount posted: its record names no entries', NEW.request_id));
    END IF;
    n := jsonb_array_length(rec->'entries');
    SELECT min(x.id::text) FILTER (WHERE e2.entry_id IS NULL OR e2.idempotency_key IS DISTINCT FROM 'request:' || NEW.request_id || ':' || x.n
                                   OR NOT e2.metadata @> jsonb_build_array(jsonb_build_array('request', NEW.request_id))),
           sum(p.debits)
      INTO bad_entry, debits
      FROM jsonb_array_elements_text(rec->'entries') WITH ORDINALITY AS x(id, n)
      LEFT JOIN amends.entries e2 ON e2.book_id = NEW.book_id AND e2.entry_id = x.id::bigint
      LEFT JOIN LATERAL (SELECT sum(q.amount) AS debits
                           FROM amends.postings q JOIN amends.accounts a ON a.book_id = q.book_id AND a.account_id = q.account_id
                          WHERE q.book_id = NEW.book_id AND q.entry_id = e2.entry_id AND q.amount > 0 AND a.currency = NEW.currency) p ON true;
    IF bad_entry IS NOT NULL THEN
      PERFORM amends.fail('AM023', format('request %s: entry %s is not one of its postings (an entry with idempotency key request:%s:<n> '
                                          'and metadata request=%s)', NEW.request_id, bad_entry, NEW.request_id, NEW.request_id));
    END IF;
    IF EXISTS (SELECT 1 FROM amends.entries WHERE book_id = NEW.book_id
                                              AND idempotency_key = 'request:' || NEW.request_id || ':' || (n + 1)) THEN
      PERFORM amends.fail('AM023', format('request %s: the book holds more entries for it than its record names (%s)', NEW.request_id, n));
    END IF;
    IF debits IS DISTINCT FROM NEW.amount THEN
      PERFORM amends.fail('AM023', format('request %s grants %s %s but its entries post %s %s; it is applied with what was approved',
                                          NEW.request_id, coalesce(rec->'amount'->>'amount', NEW.amount::text), NEW.currency,
                                          coalesce(debits, 0), NEW.currency));
    END IF;
    res := coalesce((rec->>'reservation')::bigint, 0);
    IF res <> 0 AND NOT EXISTS (SELECT 1 FROM amends.entries WHERE book_id = NEW.book_id AND completes = res) THEN
      PERFORM amends.fail('AM023', format('request %s: its reservation %s is consumed (posted) when it is applied', NEW.request_id, res));
    END IF;
  END IF;
  RETURN NEW;
END
$$;
-- After 002's "checks" (triggers fire in name order): the lifecycle first.
CREATE TRIGGER money_checks BEFORE INSERT OR UPDATE ON amends.requests FOR EACH ROW
  EXECUTE FUNCTION amends.request_money_checks();

-- ------------------------------------------------------------------ budget accounts

CREATE INDEX accounts_budget ON amends.accounts (book_id, account_id) WHERE name LIKE 'Budget:%';
CREATE INDEX audit_events_budget_allocated ON amends.audit_events (book_id, seq) WHERE event = 'budget_allocated';

-- Each statement's postings to budget accounts: from an allocation, a
-- reservation or its completion. What needs rows written later in the same
-- write (the audit event, the request) is checked at commit, below.
CREATE FUNCTION amends.budget_postings_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  bk record;
  r record;
  budget_ids integer[];
BEGIN
  FOR bk IN SELECT DISTINCT book_id FROM new_postings LOOP
    IF NOT EXISTS (SELECT 1 FROM amends.policies WHERE book_id = bk.book_id) THEN
      CONTINUE;  -- not a desk's book (a budget book of its own, amends.budgets, keeps its budgets itself)
    END IF;
    SELECT array_agg(account_id) INTO budget_ids FROM amends.accounts WHERE book_id = bk.book_id AND name LIKE 'Budget:%';
    IF budget_ids IS NULL THEN
      CONTINUE;
    END IF;
    SELECT e.entry_id, a.name INTO r
      FROM (SELECT DISTINCT n.entry_id, n.account_id FROM new_postings n JOIN unnest(budget_ids) AS b(id) ON n.account_id = b.id
             WHERE n.book_id = bk.book_id) p
      JOIN amends.entries e ON e.book_id = bk.book_id AND e.entry_id = p.entry_id
      JOIN amends.accounts a ON a.book_id = bk.book_id AND a.account_id = p.account_id
      LEFT JOIN amends.entries o ON o.book_id = bk.book_id AND o.entry_id = e.completes
     WHERE NOT ((e.kind = 'posted' AND e.reverses IS NULL AND e.completes IS NULL AND e.description LIKE 'Budget allocation %')
                OR (e.kind = 'pending' AND e.idempotency_key LIKE 'budget:_%')
                OR (e.completes IS NOT NULL AND o.idempotency_key LIKE 'budget:_%'))
     LIMIT 1;
    IF FOUND THEN
      PERFORM amends.fail('AM024', format('entry %s posts to the budget account %s: a budget moves only by an allocation (amends budget allocate), '
                                          'a request''s reservation (idempotency key budget:<request id>) or its completion',
                                          r.entry_id, r.name));
    END IF;
  END LOOP;
  RETURN NULL;
END
$$;
CREATE TRIGGER money_checks AFTER INSERT ON amends.postings REFERENCING NEW TABLE AS new_postings
  FOR EACH STATEMENT EXECUTE FUNCTION amends.budget_postings_inserted();

-- At commit: an allocation was announced by its audit event; a reservation
-- is a request's.
CREATE FUNCTION amends.budget_entry_at_commit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM amends.policies WHERE book_id = NEW.book_id) THEN
    RETURN NULL;  -- not a desk's book
  END IF;
  IF NOT EXISTS (SELECT 1 FROM amends.postings p JOIN amends.accounts a ON a.book_id = p.book_id AND a.account_id = p.account_id
                  WHERE p.book_id = NEW.book_id AND p.entry_id = NEW.entry_id AND a.name LIKE 'Budget:%') THEN
    RETURN NULL;  -- it touches no budget
  END IF;
  IF NEW.kind = 'pending' THEN
    IF NOT EXISTS (SELECT 1 FROM amends.requests WHERE book_id = NEW.book_id AND request_id = substr(NEW.idempotency_key, 8)) THEN
      PERFORM amends.fail('AM024', format('reservation %s (%s) names no request of book %s: a budget is reserved only for a request',
                                          NEW.entry_id, NEW.idempotency_key, NEW.book_id));
    END IF;
  ELSIF NOT EXISTS (SELECT 1 FROM amends.audit_events
                     WHERE book_id = NEW.book_id AND event = 'budget_allocated'
                       AND CASE WHEN event = 'budget_allocated' AND details LIKE '{%' THEN details::jsonb->>'entry' END
                           = NEW.entry_id::text) THEN
    PERFORM amends.fail('AM024', format('budget allocation %s has no budget_allocated audit event: an allocation is recorded in the audit trail '
                                        'in the same write (amends budget allocate)', NEW.entry_id));
  END IF;
  RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER budget_at_commit AFTER INSERT ON amends.entries DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (NEW.description LIKE 'Budget allocation %' OR NEW.idempotency_key LIKE 'budget:%')
  EXECUTE FUNCTION amends.budget_entry_at_commit();

-- A budget_allocated event announces an allocation of its own write: one
-- can't be written ahead for an entry to come.
CREATE FUNCTION amends.budget_events_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  SELECT n.seq, n.details INTO r
    FROM new_events n
    JOIN amends.books b ON b.book_id = n.book_id
    LEFT JOIN amends.entries e ON e.book_id = n.book_id
                              AND e.entry_id = CASE WHEN n.event = 'budget_allocated' AND n.details LIKE '{%'
                                                         AND n.details::jsonb->>'entry' ~ '^[0-9]{1,18}$'
                                                    THEN (n.details::jsonb->>'entry')::bigint END
   WHERE n.event = 'budget_allocated'
     AND (e.entry_id IS NULL OR e.entry_id < b.tx_first_entry OR e.description NOT LIKE 'Budget allocation %')
   LIMIT 1;
  IF FOUND THEN
    PERFORM amends.fail('AM024', format('audit event %s announces a budget allocation that is not an allocation entry of this write: %s',
                                        r.seq, r.details));
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER money_checks AFTER INSERT ON amends.audit_events REFERENCING NEW TABLE AS new_events
  FOR EACH STATEMENT EXECUTE FUNCTION amends.budget_events_inserted();

-- ------------------------------------------------------------------ period close

-- At commit, so that a close which accrues its requests first (the desk
-- writes the accrued records after the period) passes.
CREATE FUNCTION amends.period_close_at_commit() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  stranded text;
  n bigint;
BEGIN
  IF (SELECT state FROM amends.periods WHERE book_id = NEW.book_id AND period_start = NEW.period_start) <> 'closed' THEN
    RETURN NULL;
  END IF;
  SELECT count(*), string_agg(request_id, ', ' ORDER BY request_id) INTO n, stranded
    FROM (SELECT request_id, record::jsonb AS rec FROM amends.requests WHERE book_id = NEW.book_id AND state = 'approved') q
   WHERE (q.rec->'accrued') IS DISTINCT FROM 'true'::jsonb
     AND (amends.request_service_start(q.rec) <= NEW.period_start
          OR (q.rec->>'budget_period' || '-01')::date <= NEW.period_start);
  IF n > 0 THEN
    PERFORM amends.fail('AM025', format('closing %s would strand %s approved, unapplied request(s) and their budget reservations: %s; '
                                        'apply them, or close with accrual (amends period close --accrue) to post them into %s',
                                        to_char(NEW.period_start, 'YYYY-MM'), n, stranded, to_char(NEW.period_start, 'YYYY-MM')));
  END IF;
  RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER close_at_commit AFTER INSERT OR UPDATE ON amends.periods DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (NEW.state = 'closed')
  EXECUTE FUNCTION amends.period_close_at_commit();

-- ------------------------------------------------------------------ privileges

REVOKE ALL ON FUNCTION amends.request_service_start(jsonb), amends.request_money_checks(), amends.budget_postings_inserted(),
                       amends.budget_entry_at_commit(), amends.budget_events_inserted(), amends.period_close_at_commit()
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION amends.request_service_start(jsonb) TO amends_app;
