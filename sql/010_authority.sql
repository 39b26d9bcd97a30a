-- amends schema, version 10: the database judges authority.
--
-- 008 made the acting person the login's. These checks hold what that
-- person may do to the authority of the request's policy version, also
-- against a client writing SQL directly with the app's login, in every book
-- that is not a simulation (a simulation's names and clocks are the
-- caller's, so only the C++ desk judges them):
--   * a policy version carries its authority -- rules, roles, delegations,
--     exception roles -- as the C++ core compiles it from the policy text
--     (policies.authority; amends checks the two agree whenever it loads the
--     book), and is published only by an admin (a login holding
--     amends_admin), as that person, at the write's time;
--   * a request enters approval (pending_approval, or approved straight
--     away) only on the route its policy version gives it: the rule named is
--     the first that fits its kind, base amount and tier (an auto-approving
--     rule steps aside for a request with exception findings, as in the
--     core); an auto-approval only by an auto-approving rule and without
--     exception findings; an approval chain that starts with the rule's
--     steps, exactly, and adds only single steps for the roles that decide
--     exceptions or budget overruns;
--   * while it is pending approval, its route, its chain's steps and the
--     approvals already given never change;
--   * every approval added is by the acting person, dated by the write's
--     clock, for a role the step asks (the step's escalation role once the
--     step is due for escalation), held on that day under the policy version
--     (directly, or through a delegation whose window covers the day), by
--     someone who is not the requester and has not approved in the chain
--     before;
--   * a request becomes approved only when every step is complete: one
--     approval for an any_of step, one per role for an all_of step (or the
--     escalation role's, once escalated);
--   * a request is applied to the accounts its policy version names for its
--     kind (policies.authority->'accounts', from concessions::postings_for),
--     in every book;
--   * balance limits and account closures change only by an admin, each
--     change an audit event the database appends itself (account_changed),
--     and at most once per account in one write: a limit lifted, overdrawn
--     and restored in one transaction is refused (the core's write order
--     already refuses it: entries go to the database before the limits);
--   * the books' write state moves only inside amends' own functions (001
--     trusted a setting any login could set).
--
-- The record column becomes jsonb: the row checks read a request's record,
-- and its old record, once each without parsing text (about half of what
-- 007's checks cost per request).
--
-- Policy versions published before this migration have no authority: their
-- requests are judged by the C++ desk alone, as before.

ALTER TABLE amends.requests ALTER COLUMN record TYPE jsonb USING record::jsonb;

ALTER TABLE amends.policies ADD COLUMN authority jsonb;

-- ------------------------------------------------------------------ admins

CREATE FUNCTION amends.is_admin() RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT pg_has_role(session_user, 'amends_admin', 'MEMBER')
$$;

-- ------------------------------------------------------------------ the books' write state

CREATE OR REPLACE FUNCTION amends.guard_book() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM amends.fail('AM015', format('book %s can''t be deleted', OLD.book_id));
  END IF;
  IF NEW.book_id <> OLD.book_id OR NEW.name <> OLD.name OR NEW.base_currency <> OLD.base_currency
     OR NEW.fiscal_start_month <> OLD.fiscal_start_month OR NEW.created_at <> OLD.created_at THEN
    PERFORM amends.fail('AM015', format('book %s: its name, currency and calendar never change', OLD.book_id));
  END IF;
  -- Only amends' SECURITY DEFINER functions (begin_write, the posting
  -- triggers) move it: they run as the schema owner and set
  -- amends.in_begin_write, which any login can set, so the setting alone
  -- is no longer trusted.
  IF (NEW.version, NEW.last_entry_id, NEW.writer_xid, NEW.tx_first_entry, NEW.open_entries, NEW.tx_special)
       IS DISTINCT FROM (OLD.version, OLD.last_entry_id, OLD.writer_xid, OLD.tx_first_entry, OLD.open_entries, OLD.tx_special)
     AND NOT (amends.running_as_owner() AND current_setting('amends.in_begin_write', true) IS NOT DISTINCT FROM 'on') THEN
    PERFORM amends.fail('AM015', format('book %s: its write state is kept by amends.begin_write and the posting triggers', OLD.book_id));
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;

-- ------------------------------------------------------------------ policies

CREATE FUNCTION amends.policy_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  b amends.books;
  who text;
BEGIN
  IF jsonb_typeof(NEW.authority) IS DISTINCT FROM 'object' OR NEW.authority->>'version' IS DISTINCT FROM NEW.version
     OR jsonb_typeof(NEW.authority->'rules') IS DISTINCT FROM 'array' OR jsonb_typeof(NEW.authority->'roles') IS DISTINCT FROM 'object'
     OR jsonb_typeof(NEW.authority->'delegations') IS DISTINCT FROM 'array'
     OR jsonb_typeof(NEW.authority->'exception_roles') IS DISTINCT FROM 'array'
     OR jsonb_typeof(NEW.authority->'accounts') IS DISTINCT FROM 'object' THEN
    PERFORM amends.fail('AM017', format('policy %s of book %s is published with its authority (version, rules, roles, delegations, '
                                        'exception_roles, accounts) as amends compiles it from the policy text', NEW.version, NEW.book_id));
  END IF;
  IF (SELECT k.simulation FROM amends.books k WHERE k.book_id = NEW.book_id) THEN
    RETURN NEW;
  END IF;
  b := amends.writing(NEW.book_id);
  who := amends.acting_person(NEW.book_id);
  IF NOT amends.is_admin() THEN
    PERFORM amends.fail('AM027', format('login %s (%s) may not publish policy %s in book %s: who may approve what is set by an admin '
                                        '(a login holding amends_admin)', session_user, who, NEW.version, NEW.book_id));
  END IF;
  IF NEW.published_by IS DISTINCT FROM who THEN
    PERFORM amends.fail('AM026', format('policy %s is published as %s, but login %s acts as %s', NEW.version, NEW.published_by, session_user, who));
  END IF;
  IF NEW.published_at IS DISTINCT FROM b.tx_at THEN
    PERFORM amends.fail('AM027', format('policy %s is dated %s: in a book that is not a simulation it is dated by the database''s clock (%s)',
                                        NEW.version, NEW.published_at, b.tx_at));
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER authority BEFORE INSERT ON amends.policies FOR EACH ROW EXECUTE FUNCTION amends.policy_inserted();

-- ------------------------------------------------------------------ requests

-- Whether a rule of a policy's authority fits a request (policy::applies).
CREATE FUNCTION amends.rule_fits(p_rule jsonb, p_kind text, p_amount numeric, p_tier text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT p_rule->'kinds' ? p_kind
     AND (p_rule->>'over' IS NULL OR p_amount > (p_rule->>'over')::numeric)
     AND (p_rule->>'up_to' IS NULL OR p_amount <= (p_rule->>'up_to')::numeric)
     AND (jsonb_array_length(p_rule->'tiers') = 0 OR p_rule->'tiers' ? p_tier)
$$;

-- The people who hold a role on a day under a policy's authority
-- (Policy::people_for): each member, or the one their last delegation
-- covering the day names.
CREATE FUNCTION amends.role_holders(p_pol jsonb, p_role text, p_day date) RETURNS SETOF text
LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce((SELECT d.v->>'to'
                     FROM jsonb_array_elements(p_pol->'delegations') WITH ORDINALITY d(v, n)
                    WHERE d.v->>'from' = m.person AND p_day BETWEEN (d.v->>'start')::date AND (d.v->>'end')::date
                    ORDER BY d.n DESC LIMIT 1), m.person)
    FROM jsonb_array_elements_text(coalesce(p_pol->'roles'->p_role, '[]')) m(person)
$$;

-- The amount a record grants (NULL: none yet).
CREATE FUNCTION amends.granted_amount(rec jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN jsonb_typeof(rec->'amount') = 'object' THEN (rec->'amount'->>'amount')::numeric END
$$;

-- Whether a request's amount and currency columns differ from what its
-- record grants (they are written together).
CREATE FUNCTION amends.columns_differ_from_record(p_amount numeric, p_currency char(3), rec jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT p_amount IS DISTINCT FROM amends.granted_amount(rec)
      OR (jsonb_typeof(rec->'amount') = 'object' AND rec->'amount'->>'currency' IS DISTINCT FROM p_currency::text)
$$;

-- ------------------------------------------------------------------ requests, once per statement

-- Every check of a request insert or update -- 002's lifecycle, 005's
-- anchors, 007's money, 008's identity and the authority below -- runs once
-- per statement over its transition tables, not once per row: per row, the
-- statements the checks ran (some 25 per request updated) cost more than the
-- checks themselves, mostly in executor start-up. Only the refusal of DELETE
-- stays a row trigger.
DROP TRIGGER checks ON amends.requests;
CREATE TRIGGER checks BEFORE DELETE ON amends.requests FOR EACH ROW EXECUTE FUNCTION amends.request_change();
DROP TRIGGER anchor ON amends.requests;
DROP TRIGGER identity ON amends.requests;
DROP TRIGGER money_checks ON amends.requests;
DROP FUNCTION amends.request_anchor_change(), amends.request_identity(), amends.request_money_checks();

-- A request is created as a draft, with the amount its record grants (the
-- store inserts every new request so, then moves it to its state), under
-- the book's write lock, filed by the acting person (in a book that is not
-- a simulation), anchored, if at all, at an event of its own.
CREATE FUNCTION amends.requests_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  bk record;
  r record;
  who text;
BEGIN
  FOR bk IN SELECT DISTINCT n.book_id, b.simulation FROM new_rows n JOIN amends.books b ON b.book_id = n.book_id ORDER BY n.book_id LOOP
    PERFORM amends.writing(bk.book_id);
    SELECT n.request_id, n.state INTO r FROM new_rows n WHERE n.book_id = bk.book_id AND n.state <> 'draft' ORDER BY n.request_id LIMIT 1;
    IF FOUND THEN
      PERFORM amends.fail('AM019', format('request %s can''t start out %s: a request is created as a draft and moves along its lifecycle from there',
                                          r.request_id, r.state));
    END IF;
    IF NOT bk.simulation THEN
      who := amends.acting_person(bk.book_id);
      SELECT n.request_id, n.requester INTO r FROM new_rows n
       WHERE n.book_id = bk.book_id AND n.requester IS DISTINCT FROM who ORDER BY n.request_id LIMIT 1;
      IF FOUND THEN
        PERFORM amends.fail('AM026', format('request %s is filed as %s, but login %s acts as %s: a person files requests only as themself',
                                            r.request_id, r.requester, session_user, who));
      END IF;
    END IF;
  END LOOP;
  SELECT n.request_id, n.amount, n.currency, n.record->>'amount' AS granted INTO r
    FROM new_rows n
   WHERE amends.columns_differ_from_record(n.amount, n.currency, n.record)
   ORDER BY n.request_id LIMIT 1;
  IF FOUND THEN
    PERFORM amends.fail('AM021', format('request %s: its amount column is %s %s but its record grants %s; write them together',
                                        r.request_id, coalesce(r.amount::text, 'nothing'), r.currency, coalesce(r.granted, 'nothing')));
  END IF;
  SELECT n.request_id, n.audit_seq, n.audit_hash INTO r
    FROM new_rows n
   WHERE n.audit_seq IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM amends.audit_events e
                      WHERE e.book_id = n.book_id AND e.seq = n.audit_seq AND e.hash = n.audit_hash AND e.request_id = n.request_id)
   ORDER BY n.request_id LIMIT 1;
  IF FOUND THEN
    PERFORM amends.fail('AM018', format('request %s can''t be anchored at audit event %s with hash %s: the anchor is an event of the request already in the trail (append the events first)',
                                        r.request_id, r.audit_seq, encode(r.audit_hash, 'hex')));
  END IF;
  RETURN NULL;
END
$$;
ALTER FUNCTION amends.requests_inserted() SET jit = off;
CREATE TRIGGER checks_insert AFTER INSERT ON amends.requests REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION amends.requests_inserted();

-- Every update of requests, checked once per statement over all the rows it
-- changed (007 and 009 checked row by row; per row, the statements the
-- checks run cost more than the checks).
CREATE FUNCTION amends.requests_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  -- (A request's entries are looked up by key, in LATERAL subqueries fenced
  -- with OFFSET 0, as in 009, whatever the planner thinks of the book.)

  -- 002: under the write lock; a request keeps its book, id, kind,
  -- requester, customer and creation time (a changed id or book pairs with
  -- no old row); a final one never changes; changed_version only grows; a
  -- move follows the lifecycle.
  FOR r IN SELECT DISTINCT n.book_id FROM new_rows n ORDER BY n.book_id LOOP
    PERFORM amends.writing(r.book_id);
  END LOOP;
  SELECT n.request_id INTO r
    FROM new_rows n LEFT JOIN old_rows o ON o.book_id = n.book_id AND o.request_id = n.request_id
   WHERE o.request_id IS NULL OR (n.kind, n.requester, n.customer, n.created_at) IS DISTINCT FROM (o.kind, o.requester, o.customer, o.created_at)
   ORDER BY n.request_id LIMIT 1;
  IF FOUND THEN
    PERFORM amends.fail('AM015', format('request %s: its book, id, kind, requester, customer and creation time never change; '
                                        'cancel it and file a new request instead', r.request_id));
  END IF;
  SELECT o.request_id, o.state AS old_state, n.state, o.changed_version AS old_version, n.changed_version,
         o.state IN ('declined', 'reconciled', 'cancelled', 'expired') AS final,
         n.changed_version < o.changed_version AS backwards,
         (SELECT string_agg(l.to_state, ', ' ORDER BY l.steps, l.to_state) FROM amends.request_lifecycle l WHERE l.from_state = o.state) AS reachable
    INTO r
    FROM new_rows n JOIN old_rows o ON o.book_id = n.book_id AND o.request_id = n.request_id
   WHERE o.state IN ('declined', 'reconciled', 'cancelled', 'expired')
      OR n.changed_version < o.changed_version
      OR (n.state <> o.state
          AND NOT EXISTS (SELECT 1 FROM amends.request_lifecycle l WHERE l.from_state = o.state AND l.to_state = n.state))
   ORDER BY o.request_id LIMIT 1;
  IF FOUND THEN
    IF r.final THEN
      PERFORM amends.fail('AM019', format('request %s is %s, a final state: it takes no more changes; file a new request instead',
                                          r.request_id, r.old_state));
    ELSIF r.backwards THEN
      PERFORM amends.fail('AM017', format('request %s: changed_version only grows (it is %s; %s would go back); set it to the book''s version from amends.begin_write',
                                          r.request_id, r.old_version, r.changed_version));
    END IF;
    PERFORM amends.fail('AM019', format('request %s can''t go from %s to %s; from %s it can reach %s',
                                        r.request_id, r.old_state, r.state, r.old_state, coalesce(r.reachable, 'nothing')));
  END IF;
  -- 005: an anchor only moves forward, to an event of the request already in the trail.
  SELECT n.request_id, o.audit_seq AS old_seq, n.audit_seq, n.audit_hash,
         n.audit_seq IS NULL OR n.audit_seq < o.audit_seq AS back INTO r
    FROM new_rows n JOIN old_rows o ON o.book_id = n.book_id AND o.request_id = n.request_id
   WHERE (o.audit_seq IS NOT NULL AND (n.audit_seq IS NULL OR n.audit_seq < o.audit_seq))
      OR (n.audit_seq IS NOT NULL AND (n.audit_seq, n.audit_hash) IS DISTINCT FROM (o.audit_seq, o.audit_hash)
          AND NOT EXISTS (SELECT 1 FROM amends.audit_events e
                           WHERE e.book_id = n.book_id AND e.seq = n.audit_seq AND e.hash = n.audit_hash AND e.request_id = n.request_id))
   ORDER BY n.request_id LIMIT 1;
  IF FOUND THEN
    IF r.back AND r.old_seq IS NOT NULL THEN
      PERFORM amends.fail('AM018', format('request %s is anchored at audit event %s: its anchor only moves forward, to a later event of the request',
                                          r.request_id, r.old_seq));
    END IF;
    PERFORM amends.fail('AM018', format('request %s can''t be anchored at audit event %s with hash %s: the anchor is an event of the request already in the trail (append the events first)',
                                        r.request_id, r.audit_seq, encode(r.audit_hash, 'hex')));
  END IF;

  -- The amount column is the record's granted amount.
  SELECT n.request_id, n.amount, n.currency, n.record->>'amount' AS granted INTO r
    FROM new_rows n
   WHERE amends.columns_differ_from_record(n.amount, n.currency, n.record)
   ORDER BY n.request_id LIMIT 1;
  IF FOUND THEN
    PERFORM amends.fail('AM021', format('request %s: its amount column is %s %s but its record grants %s; write them together',
                                        r.request_id, coalesce(r.amount::text, 'nothing'), r.currency, coalesce(r.granted, 'nothing')));
  END IF;

  -- Frozen once approval started: amending happens before, or after a
  -- return. An approved or applied request keeps its reservation.
  SELECT n.request_id, o.state,
         o.state IN ('approved', 'applied') AND n.record->'reservation' IS DISTINCT FROM o.record->'reservation' AS reservation,
         o.record->>'reservation' AS old_reservation INTO r
    FROM new_rows n
    -- the old record out of its compressed form once, not once per ->
    JOIN (SELECT o0.book_id, o0.request_id, o0.state, o0.amount, o0.currency, o0.customer, o0.kind, o0.record || '{}' AS record
            FROM old_rows o0 WHERE o0.state NOT IN ('draft', 'submitted', 'validated', 'returned') OFFSET 0) o
      ON o.book_id = n.book_id AND o.request_id = n.request_id
   WHERE (o.state NOT IN ('draft', 'submitted', 'validated', 'returned')
          AND ((n.amount, n.currency, n.customer, n.kind) IS DISTINCT FROM (o.amount, o.currency, o.customer, o.kind)
               OR n.record->'versions'->-1 IS DISTINCT FROM o.record->'versions'->-1
               OR n.record->'amount' IS DISTINCT FROM o.record->'amount'
               OR n.record->'base_amount' IS DISTINCT FROM o.record->'base_amount'
               OR n.record->'draws_on_budget' IS DISTINCT FROM o.record->'draws_on_budget'))
      OR (o.state IN ('approved', 'applied') AND n.record->'reservation' IS DISTINCT FROM o.record->'reservation')
   ORDER BY n.request_id LIMIT 1;
  IF FOUND THEN
    IF r.reservation THEN
      PERFORM amends.fail('AM021', format('request %s is %s: it keeps the reservation it was approved with (entry %s)',
                                          r.request_id, r.state, r.old_reservation));
    END IF;
    PERFORM amends.fail('AM021', format('request %s is %s: its amount, currency, customer, kind and content are frozen once approval started; '
                                        'return it to the requester to amend it, or cancel it and file a new request', r.request_id, r.state));
  END IF;

  -- Authority, in books that are not simulations, under the request's
  -- policy version (when it was published with its authority). One query:
  -- each branch finds what breaks one rule, the first problem (by request,
  -- then rule) is reported.
  IF EXISTS (SELECT 1 FROM new_rows n JOIN amends.books b ON b.book_id = n.book_id
              WHERE NOT b.simulation AND n.policy_version IS NOT NULL
                AND n.state IN ('pending_approval', 'approved', 'applied', 'reconciled')) THEN
    WITH a AS MATERIALIZED (
      SELECT n.book_id, n.request_id, n.kind, n.state, n.requester, n.policy_version, n.record || '{}' AS rec, o.state AS old_state,
             o.record || '{}' AS old_rec, p.authority || '{}' AS pol, b.base_currency, (extract(epoch FROM b.tx_at) * 1000000)::bigint AS tx_micros,
             o.state = 'pending_approval' AS in_approval,
             o.state NOT IN ('pending_approval', 'approved', 'applied', 'reconciled') AS entering,
             CASE WHEN jsonb_typeof(n.record->'chain') = 'object' THEN n.record->'chain'->'steps' END AS steps
        FROM new_rows n JOIN old_rows o ON o.book_id = n.book_id AND o.request_id = n.request_id
        JOIN amends.books b ON b.book_id = n.book_id AND NOT b.simulation
        JOIN amends.policies p ON p.book_id = n.book_id AND p.version = n.policy_version AND p.authority IS NOT NULL
       WHERE n.state IN ('pending_approval', 'approved', 'applied', 'reconciled')),
    -- Pending approval: its route, its chain's steps and every approval
    -- given stay; a step starts once, at the write's time. Approved: its
    -- route and chain stay as they were.
    kept AS (
      SELECT a.request_id, 1 AS ord, 'AM022' AS state,
             format('request %s is %s: its route, the steps of its approval chain and every approval given stay as they are (%s changed)',
                    a.request_id, a.old_state, coalesce('step ' || s.k, 'the route or the chain')) AS message
        FROM a
        LEFT JOIN LATERAL (
          SELECT o.k FROM jsonb_array_elements(a.old_rec->'chain'->'steps') WITH ORDINALITY o(v, k)
           WHERE a.steps->(o.k::int - 1)->'step' IS DISTINCT FROM o.v->'step'
              OR ((a.steps->(o.k::int - 1)->>'started_at')::bigint IS DISTINCT FROM (o.v->>'started_at')::bigint
                  AND ((o.v->>'started_at')::bigint <> 0 OR (a.steps->(o.k::int - 1)->>'started_at')::bigint IS DISTINCT FROM a.tx_micros))
              OR EXISTS (SELECT 1 FROM jsonb_array_elements(o.v->'approvals') WITH ORDINALITY x(v, j)
                          WHERE a.steps->(o.k::int - 1)->'approvals'->(x.j::int - 1) IS DISTINCT FROM x.v)
           ORDER BY o.k LIMIT 1) s ON a.in_approval
       WHERE (a.in_approval
              AND (s.k IS NOT NULL OR a.rec->'route' IS DISTINCT FROM a.old_rec->'route'
                   OR jsonb_array_length(coalesce(a.steps, '[]')) <> jsonb_array_length(coalesce(a.old_rec->'chain'->'steps', '[]'))))
          OR (a.old_state IN ('approved', 'applied')
              AND (a.rec->'route' IS DISTINCT FROM a.old_rec->'route' OR a.rec->'chain' IS DISTINCT FROM a.old_rec->'chain'))),
    -- Entering approval: on the route its policy version gives it. The rule
    -- is policy::match's: the first that fits, an auto-approving one only
    -- without exceptions; else, with exceptions, the first auto-approving
    -- rule that fits.
    m AS (
      SELECT a.*, x.amount, x.tier, x.has_exc, f.v AS rule,
             CASE WHEN (f.v->>'auto_approve')::boolean THEN 0 ELSE coalesce(jsonb_array_length(f.v->'steps'), 0) END AS n_rule_steps
        FROM a
       CROSS JOIN LATERAL (SELECT (a.rec->>'base_amount')::numeric AS amount, a.rec->'versions'->-1->'customer'->>'tier' AS tier,
                                  EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(a.rec->'assessment'->'findings', '[]')) g
                                           WHERE g->>'severity' = 'exception') AS has_exc) x
        LEFT JOIN LATERAL (SELECT q.v FROM jsonb_array_elements(a.pol->'rules') WITH ORDINALITY q(v, k)
                            WHERE amends.rule_fits(q.v, a.kind, x.amount, x.tier)
                            ORDER BY ((q.v->>'auto_approve')::boolean AND x.has_exc), q.k LIMIT 1) f ON true
       WHERE a.entering),
    routed AS (
      SELECT m.*,
             CASE WHEN m.rec->'route'->>'policy_version' IS DISTINCT FROM m.policy_version THEN 'version'
                  WHEN m.rule IS NULL OR m.rec->'route'->>'rule' IS DISTINCT FROM m.rule->>'name' THEN 'rule'
                  WHEN m.rec->'route'->>'outcome' = 'auto_approved' THEN
                    CASE WHEN NOT (m.rule->>'auto_approve')::boolean OR m.has_exc OR m.steps IS NOT NULL THEN 'auto' END
                  WHEN m.rec->'route'->>'outcome' IS DISTINCT FROM 'needs_approval' OR m.steps IS NULL OR jsonb_array_length(m.steps) = 0
                       OR jsonb_array_length(m.steps) < m.n_rule_steps THEN 'steps'
                  ELSE (SELECT 'step ' || s.k
                          FROM jsonb_array_elements(m.steps) WITH ORDINALITY s(v, k)
                         WHERE CASE WHEN s.k <= m.n_rule_steps THEN s.v->'step' IS DISTINCT FROM m.rule->'steps'->(s.k::int - 1)
                                    ELSE NOT coalesce(s.v->'step'->'all_of' = 'false'::jsonb AND jsonb_array_length(s.v->'step'->'roles') = 1
                                                      AND m.pol->'exception_roles' ? (s.v->'step'->'roles'->>0)
                                                      AND s.v->'step'->'escalate_after_hours' = 'null'::jsonb
                                                      AND s.v->'step'->>'escalate_to' = '', false) END
                            OR s.v->'step' IS DISTINCT FROM m.rec->'route'->'steps'->(s.k::int - 1)
                         ORDER BY s.k LIMIT 1) END AS problem
        FROM m),
    route_problems AS (
      SELECT j.request_id, 2 AS ord, 'AM022' AS state,
             CASE j.problem
               WHEN 'version' THEN format('request %s is routed by policy %s, but its route names policy %s', j.request_id, j.policy_version,
                                          coalesce(j.rec->'route'->>'policy_version', 'none'))
               WHEN 'rule' THEN format('request %s (%s of %s %s, tier %s%s) is routed by %s, but policy %s routes it by %s',
                                       j.request_id, j.kind, j.amount, j.base_currency, coalesce(j.tier, 'none'),
                                       CASE WHEN j.has_exc THEN ', with exceptions' ELSE '' END,
                                       coalesce('rule "' || (j.rec->'route'->>'rule') || '"', 'no rule'), j.policy_version,
                                       coalesce('rule "' || (j.rule->>'name') || '"', 'no rule (it is blocked)'))
               WHEN 'auto' THEN format('request %s can''t be approved automatically: rule "%s" of policy %s %s', j.request_id,
                                       j.rule->>'name', j.policy_version,
                                       CASE WHEN j.steps IS NOT NULL THEN 'approves without an approval chain'
                                            WHEN j.has_exc THEN 'approves automatically only a request without exceptions'
                                            ELSE 'needs people' END)
               ELSE format('request %s: its approval chain (%s) is not the one policy %s gives it: the steps of rule "%s" (%s), '
                           'then a single step for each role that decides its exceptions or budget (%s)',
                           j.request_id, j.problem, j.policy_version, j.rule->>'name',
                           CASE WHEN (j.rule->>'auto_approve')::boolean THEN '[]' ELSE j.rule->>'steps' END, j.pol->'exception_roles')
             END AS message
        FROM routed j WHERE j.problem IS NOT NULL),
    -- The approvals this write adds: by the acting person, at the write's
    -- time, for a role the step asks and the person holds that day, by
    -- nobody who requested it or approved in the chain before.
    added AS MATERIALIZED (
      SELECT a.book_id, a.request_id, a.requester, a.rec, a.pol, a.policy_version, a.tx_micros, a.steps, s.k AS step_k, s.v AS st,
             x.j, x.v AS ap, (to_timestamp(a.tx_micros / 1000000.0) AT TIME ZONE 'UTC')::date AS day
        FROM a
       CROSS JOIN LATERAL jsonb_array_elements(coalesce(a.steps, '[]')) WITH ORDINALITY s(v, k)
       CROSS JOIN LATERAL jsonb_array_elements(s.v->'approvals') WITH ORDINALITY x(v, j)
       WHERE a.entering OR (a.in_approval AND x.j > jsonb_array_length(coalesce(a.old_rec->'chain'->'steps'->(s.k::int - 1)->'approvals', '[]')))),
    w AS MATERIALIZED (SELECT d.book_id, amends.acting_person(d.book_id) AS who FROM (SELECT DISTINCT book_id FROM added) d),
    approvals_judged AS (
      SELECT ad.*, w.who,
             CASE WHEN ad.ap->>'person' IS DISTINCT FROM w.who OR (ad.ap->>'at')::bigint IS DISTINCT FROM ad.tx_micros THEN 'impersonation'
                  WHEN w.who = ad.requester OR w.who = ad.rec->'chain'->>'requester' THEN 'own'
                  WHEN EXISTS (SELECT 1 FROM jsonb_array_elements(ad.steps) WITH ORDINALITY s2(v, k)
                                CROSS JOIN LATERAL jsonb_array_elements(s2.v->'approvals') WITH ORDINALITY x2(v, j)
                               WHERE (s2.k, x2.j) < (ad.step_k, ad.j) AND x2.v->>'person' = w.who) THEN 'twice'
                  WHEN NOT coalesce(ad.st->'step'->'roles' ? (ad.ap->>'role'), false)
                       AND NOT coalesce(ad.st->>'escalated' = 'true' AND ad.ap->>'role' = ad.st->'step'->>'escalate_to'
                                        AND ad.tx_micros >= (ad.st->>'started_at')::bigint
                                                            + (ad.st->'step'->>'escalate_after_hours')::bigint * 3600000000, false) THEN 'role'
                  WHEN NOT EXISTS (SELECT 1 FROM amends.role_holders(ad.pol, ad.ap->>'role', ad.day) h WHERE h = w.who) THEN 'holder'
             END AS problem
        FROM added ad JOIN w ON w.book_id = ad.book_id),
    approval_problems AS (
      SELECT j.request_id, 3 AS ord, CASE WHEN j.problem = 'impersonation' THEN 'AM026' ELSE 'AM027' END AS state,
             CASE j.problem
               WHEN 'impersonation' THEN format('request %s: an approval is recorded as %s at %s, but login %s acts as %s at %s: '
                                                'a person approves only as themself, when they do',
                                                j.request_id, j.ap->>'person', j.ap->>'at', session_user, j.who, j.tx_micros)
               WHEN 'own' THEN format('request %s: %s requested it; nobody approves their own request', j.request_id, j.who)
               WHEN 'twice' THEN format('request %s: %s has approved in this chain already; another person approves this step', j.request_id, j.who)
               WHEN 'role' THEN format('request %s: step %s asks for %s%s, not %s', j.request_id, j.step_k, j.st->'step'->'roles',
                                       CASE WHEN j.st->'step'->>'escalate_to' <> ''
                                            THEN format(' (or %s once escalated after %s hours)', j.st->'step'->>'escalate_to',
                                                        j.st->'step'->>'escalate_after_hours') ELSE '' END,
                                       j.ap->>'role')
               ELSE format('request %s: %s does not hold the role %s on %s under policy %s (its holders that day: %s)',
                           j.request_id, j.who, j.ap->>'role', j.day, j.policy_version,
                           coalesce((SELECT string_agg(h, ', ') FROM amends.role_holders(j.pol, j.ap->>'role', j.day) h), 'none'))
             END AS message
        FROM approvals_judged j WHERE j.problem IS NOT NULL),
    -- Approved: every step complete (one approval for an any_of step, one
    -- per role for an all_of step, or the escalation role's once escalated).
    incomplete AS (
      SELECT a.request_id, 4 AS ord, 'AM022' AS state,
             format('request %s can''t be approved: step %s of its approval chain is not complete', a.request_id, s.k) AS message
        FROM a CROSS JOIN LATERAL jsonb_array_elements(a.steps) WITH ORDINALITY s(v, k)
       WHERE a.old_state NOT IN ('approved', 'applied', 'reconciled') AND a.state IN ('approved', 'applied', 'reconciled')
         AND NOT (EXISTS (SELECT 1 FROM jsonb_array_elements(s.v->'approvals') x
                           WHERE s.v->>'escalated' = 'true' AND x->>'role' = s.v->'step'->>'escalate_to')
                  OR CASE WHEN s.v->'step'->>'all_of' = 'true'
                          THEN NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(s.v->'step'->'roles') want(role)
                                            WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(s.v->'approvals') x
                                                               WHERE x->>'role' = want.role))
                          ELSE jsonb_array_length(s.v->'approvals') > 0 END))
    SELECT p.request_id, p.state, p.message INTO r
      FROM (SELECT * FROM kept UNION ALL SELECT * FROM route_problems UNION ALL SELECT * FROM approval_problems
            UNION ALL SELECT * FROM incomplete) p
     ORDER BY p.request_id, p.ord LIMIT 1;
    IF FOUND THEN
      PERFORM amends.fail(r.state, r.message);
    END IF;
  END IF;

  -- Approved (or past it, since one UPDATE may take several steps): with
  -- the evidence, and the budget reserved.
  SELECT n.request_id INTO r
    FROM new_rows n JOIN old_rows o ON o.book_id = n.book_id AND o.request_id = n.request_id
   WHERE n.state IN ('approved', 'applied', 'reconciled') AND o.state NOT IN ('approved', 'applied', 'reconciled')
     AND NOT (n.record->'route'->>'outcome' IS NOT DISTINCT FROM 'auto_approved'
              OR (jsonb_typeof(n.record->'chain') = 'object' AND jsonb_typeof(n.record->'chain'->'steps') = 'array'
                  AND jsonb_array_length(n.record->'chain'->'steps') > 0
                  AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(n.record->'chain'->'steps') s
                                   WHERE (s->'done') IS DISTINCT FROM 'true'::jsonb
                                      OR jsonb_typeof(s->'approvals') IS DISTINCT FROM 'array'
                                      OR jsonb_array_length(s->'approvals') = 0)))
   ORDER BY n.request_id LIMIT 1;
  IF FOUND THEN
    PERFORM amends.fail('AM022', format('request %s can''t be approved without the evidence in its record: a route that auto-approves it '
                                        '(route.outcome auto_approved) or an approval chain whose every step is done with an approval',
                                        r.request_id));
  END IF;
  -- Whether it draws on a budget is its policy's word, which the store
  -- writes into the record of a routed request; without a policy (or in a
  -- record of an older amends), every kind but refund does.
  SELECT n.request_id, n.book_id, n.state, x.res, e.entry_id, e.kind, e.idempotency_key, e.completed, e.resolved, e.held,
         n.record->>'base_amount' AS base_amount INTO r
    FROM new_rows n JOIN old_rows o ON o.book_id = n.book_id AND o.request_id = n.request_id
   CROSS JOIN LATERAL (SELECT coalesce((n.record->>'reservation')::bigint, 0) AS res) x
    LEFT JOIN LATERAL (SELECT ent.entry_id, ent.kind, ent.idempotency_key,
                              EXISTS (SELECT 1 FROM amends.entries c WHERE c.book_id = ent.book_id AND c.completes = ent.entry_id) AS completed,
                              EXISTS (SELECT 1 FROM amends.resolutions s WHERE s.book_id = ent.book_id AND s.entry_id = ent.entry_id) AS resolved,
                              (SELECT sum(q.amount) FILTER (WHERE q.amount > 0) FROM amends.postings q
                                WHERE q.book_id = ent.book_id AND q.entry_id = ent.entry_id) AS held
                         FROM amends.entries ent WHERE ent.book_id = n.book_id AND ent.entry_id = x.res OFFSET 0) e ON true
   WHERE n.state IN ('approved', 'applied', 'reconciled') AND o.state NOT IN ('approved', 'applied', 'reconciled')
     AND CASE WHEN n.policy_version IS NOT NULL AND jsonb_typeof(n.record->'draws_on_budget') = 'boolean'
              THEN (n.record->>'draws_on_budget')::boolean ELSE n.kind <> 'refund' END
     AND (e.entry_id IS NULL OR e.kind <> 'pending' OR e.idempotency_key IS DISTINCT FROM 'budget:' || n.request_id
          OR (n.state = 'approved' AND e.completed) OR e.resolved OR e.held IS DISTINCT FROM (n.record->>'base_amount')::numeric)
   ORDER BY n.request_id LIMIT 1;
  IF FOUND THEN
    IF r.entry_id IS NULL THEN
      PERFORM amends.fail('AM022', format('request %s draws on a budget: it is approved with its reservation, a pending entry of book %s '
                                          'with idempotency key budget:%s; its record names %s', r.request_id, r.book_id, r.request_id,
                                          CASE WHEN r.res = 0 THEN 'none' ELSE format('entry %s, which the book has not', r.res) END));
    ELSIF r.kind <> 'pending' OR r.idempotency_key IS DISTINCT FROM 'budget:' || r.request_id OR (r.state = 'approved' AND r.completed)
          OR r.resolved THEN
      PERFORM amends.fail('AM022', format('request %s: entry %s is not its open reservation (a pending entry with idempotency key budget:%s, '
                                          'neither posted nor voided)', r.request_id, r.res, r.request_id));
    END IF;
    PERFORM amends.fail('AM022', format('request %s: its reservation %s holds %s, not its base amount %s',
                                        r.request_id, r.res, coalesce(r.held::text, 'nothing'), coalesce(r.base_amount, 'none')));
  END IF;

  -- Applied: its entries posted what was approved, its reservation consumed.
  SELECT n.request_id, n.amount, n.currency, n.record->'amount'->>'amount' AS granted, x.n_entries, x.res, t.bad_entry, t.debits,
         t.wrong_account, x.debit_account, x.credit_account, n.policy_version,
         EXISTS (SELECT 1 FROM amends.entries m WHERE m.book_id = n.book_id
                                                  AND m.idempotency_key = 'request:' || n.request_id || ':' || (x.n_entries + 1)) AS more,
         x.res <> 0 AND NOT EXISTS (SELECT 1 FROM amends.entries c WHERE c.book_id = n.book_id AND c.completes = x.res) AS unconsumed
    INTO r
    FROM new_rows n JOIN old_rows o ON o.book_id = n.book_id AND o.request_id = n.request_id
   CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(n.record->'entries') = 'array' THEN jsonb_array_length(n.record->'entries') ELSE 0 END AS n_entries,
                              coalesce((n.record->>'reservation')::bigint, 0) AS res,
                              -- the accounts its policy version names for its kind (none for a policy published before 010)
                              replace(pa.accounts->>0, '{customer}', n.customer) AS debit_account,
                              replace(pa.accounts->>1, '{customer}', n.customer) AS credit_account
                         FROM (SELECT (SELECT p.authority->'accounts'->n.kind FROM amends.policies p
                                        WHERE p.book_id = n.book_id AND p.version = n.policy_version) AS accounts) pa) x
   CROSS JOIN LATERAL (
     SELECT min(y.id::text) FILTER (WHERE e2.entry_id IS NULL OR e2.idempotency_key IS DISTINCT FROM 'request:' || n.request_id || ':' || y.k
                                    OR NOT e2.metadata @> jsonb_build_array(jsonb_build_array('request', n.request_id))) AS bad_entry,
            sum(p.debits) AS debits, min(p.wrong_account) AS wrong_account
       FROM jsonb_array_elements_text(CASE WHEN x.n_entries > 0 THEN n.record->'entries' ELSE '[]' END) WITH ORDINALITY AS y(id, k)
       LEFT JOIN LATERAL (SELECT ent.entry_id, ent.idempotency_key, ent.metadata FROM amends.entries ent
                           WHERE ent.book_id = n.book_id AND ent.entry_id = y.id::bigint OFFSET 0) e2 ON true
       LEFT JOIN LATERAL (SELECT sum(q.amount) FILTER (WHERE q.amount > 0 AND acc.currency = n.currency) AS debits,
                                 min(acc.name) FILTER (WHERE x.debit_account IS NOT NULL
                                                         AND acc.name IS DISTINCT FROM CASE WHEN q.amount > 0 THEN x.debit_account
                                                                                            ELSE x.credit_account END) AS wrong_account
                            FROM amends.postings q
                           CROSS JOIN LATERAL (SELECT a.name, a.currency FROM amends.accounts a
                                                WHERE a.book_id = q.book_id AND a.account_id = q.account_id OFFSET 0) acc
                           WHERE q.book_id = n.book_id AND q.entry_id = e2.entry_id
                          OFFSET 0) p ON true) t
   WHERE n.state IN ('applied', 'reconciled') AND o.state NOT IN ('applied', 'reconciled')
     AND (n.amount IS NULL OR x.n_entries = 0 OR t.bad_entry IS NOT NULL OR t.debits IS DISTINCT FROM n.amount OR t.wrong_account IS NOT NULL
          OR EXISTS (SELECT 1 FROM amends.entries m WHERE m.book_id = n.book_id
                                                      AND m.idempotency_key = 'request:' || n.request_id || ':' || (x.n_entries + 1))
          OR (x.res <> 0 AND NOT EXISTS (SELECT 1 FROM amends.entries c WHERE c.book_id = n.book_id AND c.completes = x.res)))
   ORDER BY n.request_id LIMIT 1;
  IF FOUND THEN
    IF r.amount IS NULL OR r.n_entries = 0 THEN
      PERFORM amends.fail('AM023', format('request %s is applied with its amount posted: its record names no entries', r.request_id));
    ELSIF r.bad_entry IS NOT NULL THEN
      PERFORM amends.fail('AM023', format('request %s: entry %s is not one of its postings (an entry with idempotency key request:%s:<n> '
                                          'and metadata request=%s)', r.request_id, r.bad_entry, r.request_id, r.request_id));
    ELSIF r.more THEN
      PERFORM amends.fail('AM023', format('request %s: the book holds more entries for it than its record names (%s)', r.request_id, r.n_entries));
    ELSIF r.wrong_account IS NOT NULL THEN
      PERFORM amends.fail('AM023', format('request %s posts to %s, but policy %s applies it to %s (debit) and %s (credit) only',
                                          r.request_id, r.wrong_account, r.policy_version, r.debit_account, r.credit_account));
    ELSIF r.debits IS DISTINCT FROM r.amount THEN
      PERFORM amends.fail('AM023', format('request %s grants %s %s but its entries post %s %s; it is applied with what was approved',
                                          r.request_id, coalesce(r.granted, r.amount::text), r.currency, coalesce(r.debits, 0), r.currency));
    END IF;
    PERFORM amends.fail('AM023', format('request %s: its reservation %s is consumed (posted) when it is applied', r.request_id, r.res));
  END IF;
  RETURN NULL;
END
$$;
-- The planner's estimates for functions over jsonb arrays are far above what
-- they cost here, enough to make it JIT-compile these queries (two seconds a
-- statement): never.
ALTER FUNCTION amends.requests_updated() SET jit = off;
CREATE TRIGGER money_checks_update AFTER UPDATE ON amends.requests REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION amends.requests_updated();

-- ------------------------------------------------------------------ budget postings, by key

-- 007's check of postings to budget accounts, with each posting's entry
-- (and the entry it completes) and account looked up by key: 007 joined
-- them to the whole book, which a growing book made slower every write.
CREATE OR REPLACE FUNCTION amends.budget_postings_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  bk record;
  r record;
  budget_ids integer[];
BEGIN
  FOR bk IN SELECT DISTINCT book_id FROM new_postings LOOP
    IF NOT EXISTS (SELECT 1 FROM amends.policies WHERE book_id = bk.book_id) THEN
      CONTINUE;  -- not a desk's book
    END IF;
    SELECT array_agg(account_id) INTO budget_ids FROM amends.accounts WHERE book_id = bk.book_id AND name LIKE 'Budget:%';
    IF budget_ids IS NULL THEN
      CONTINUE;
    END IF;
    SELECT p.entry_id, x.name INTO r
      FROM (SELECT DISTINCT n.entry_id, n.account_id FROM new_postings n
             WHERE n.book_id = bk.book_id AND n.account_id = ANY (budget_ids)) p
     CROSS JOIN LATERAL (SELECT e.kind, e.reverses, e.completes, e.description, e.idempotency_key,
                                (SELECT o.idempotency_key FROM amends.entries o WHERE o.book_id = bk.book_id AND o.entry_id = e.completes) AS completed_key,
                                (SELECT a.name FROM amends.accounts a WHERE a.book_id = bk.book_id AND a.account_id = p.account_id) AS name
                           FROM amends.entries e WHERE e.book_id = bk.book_id AND e.entry_id = p.entry_id OFFSET 0) x
     WHERE NOT ((x.kind = 'posted' AND x.reverses IS NULL AND x.completes IS NULL AND x.description LIKE 'Budget allocation %')
                OR (x.kind = 'pending' AND x.idempotency_key LIKE 'budget:_%')
                OR (x.completes IS NOT NULL AND x.completed_key LIKE 'budget:_%'))
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

-- ------------------------------------------------------------------ reversals and completions, by key

-- 001's entry checks, with the entry a new one reverses or completes looked
-- up by key (LATERAL, fenced with OFFSET 0): 001 joined them, and in a book
-- of 300,000 entries the planner read every entry for each write's
-- completions (31 ms a write of 1,000 requests, growing with the book).
CREATE OR REPLACE FUNCTION amends.entries_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, amends AS $$
DECLARE
  r record;
  b amends.books;
  any_special boolean := false;
BEGIN
  FOR r IN SELECT book_id, count(*) AS n, min(entry_id) AS first_id, max(entry_id) AS last_id,
                  bool_or(kind = 'pending' OR reverses IS NOT NULL OR completes IS NOT NULL) AS special
             FROM new_entries GROUP BY book_id ORDER BY book_id LOOP
    b := amends.writing(r.book_id);
    IF r.first_id <> b.last_entry_id + 1 OR r.last_id <> b.last_entry_id + r.n THEN
      PERFORM amends.fail('AM017', format('entry ids of book %s are dense: this insert must use %s to %s, not %s to %s',
                                          r.book_id, b.last_entry_id + 1, b.last_entry_id + r.n, r.first_id, r.last_id));
    END IF;
    PERFORM set_config('amends.in_begin_write', 'on', true);
    UPDATE amends.books SET last_entry_id = r.last_id, open_entries = open_entries + r.n, tx_special = tx_special OR r.special
     WHERE book_id = r.book_id;
    PERFORM set_config('amends.in_begin_write', 'off', true);
    any_special := any_special OR r.special;
  END LOOP;

  -- Periods: closed takes nothing; locked only with the override.
  SELECT n.entry_id, n.date, p.state, n.period_override INTO r
    FROM new_entries n
    JOIN amends.periods p ON p.book_id = n.book_id AND p.period_start = date_trunc('month', n.date)::date
   WHERE p.state = 'closed' OR (p.state = 'locked' AND NOT n.period_override)
   LIMIT 1;
  IF FOUND THEN
    IF r.state = 'closed' THEN
      PERFORM amends.fail('AM007', format('period %s is closed; entry %s dated %s can''t be posted', to_char(r.date, 'YYYY-MM'), r.entry_id, r.date));
    ELSE
      PERFORM amends.fail('AM008', format('period %s is locked; entry %s dated %s needs the override (period_override = true)', to_char(r.date, 'YYYY-MM'), r.entry_id, r.date));
    END IF;
  END IF;

  IF NOT any_special THEN
    RETURN NULL;  -- no reservations, reversals or completions: nothing more to check
  END IF;

  -- Reversals: of a posted entry that is not itself a reversal, not before it.
  SELECT n.entry_id, n.reverses, o.kind, o.reverses AS o_reverses, o.date AS o_date, n.date INTO r
    FROM new_entries n
    CROSS JOIN LATERAL (SELECT e.* FROM amends.entries e WHERE e.book_id = n.book_id AND e.entry_id = n.reverses OFFSET 0) o
   WHERE n.reverses IS NOT NULL AND (o.kind <> 'posted' OR o.reverses IS NOT NULL OR n.date < o.date OR o.entry_id >= n.entry_id)
   LIMIT 1;
  IF FOUND THEN
    IF r.kind <> 'posted' THEN
      PERFORM amends.fail('AM014', format('entry %s is a reservation; void it instead of reversing it', r.reverses));
    ELSIF r.o_reverses IS NOT NULL THEN
      PERFORM amends.fail('AM002', format('entry %s is itself a reversal; it can''t be reversed', r.reverses));
    ELSE
      PERFORM amends.fail('AM002', format('entry %s dated %s can''t reverse entry %s dated %s', r.entry_id, r.date, r.reverses, r.o_date));
    END IF;
  END IF;

  -- Completions: of an open reservation, not before it, before its expiry.
  SELECT n.entry_id, n.completes, o.kind, o.date AS o_date, o.expires_on, n.date,
         EXISTS (SELECT 1 FROM amends.resolutions s WHERE s.book_id = o.book_id AND s.entry_id = o.entry_id) AS resolved INTO r
    FROM new_entries n
    CROSS JOIN LATERAL (SELECT e.* FROM amends.entries e WHERE e.book_id = n.book_id AND e.entry_id = n.completes OFFSET 0) o
   WHERE n.completes IS NOT NULL
     AND (o.kind <> 'pending' OR n.date < o.date OR (o.expires_on IS NOT NULL AND n.date >= o.expires_on)
          OR EXISTS (SELECT 1 FROM amends.resolutions s WHERE s.book_id = o.book_id AND s.entry_id = o.entry_id))
   LIMIT 1;
  IF FOUND THEN
    IF r.kind <> 'pending' THEN
      PERFORM amends.fail('AM014', format('entry %s is not a reservation; only a reservation can be completed', r.completes));
    ELSIF r.resolved THEN
      PERFORM amends.fail('AM014', format('reservation %s was already voided or expired', r.completes));
    ELSE
      PERFORM amends.fail('AM014', format('reservation %s (%s, expiring %s) can''t be posted on %s', r.completes, r.o_date, coalesce(r.expires_on::text, 'never'), r.date));
    END IF;
  END IF;
  RETURN NULL;
END
$$;

-- ------------------------------------------------------------------ balance limits and closures

-- Runs after 001's update_checks (name order), which refused what may not
-- change at all.
-- SECURITY DEFINER for append_event (which the app may not call): who acts
-- is still session_user's person.
CREATE FUNCTION amends.account_authority() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, amends AS $$
DECLARE
  b amends.books;
  who text;
BEGIN
  b := amends.writing(NEW.book_id);
  IF OLD.version = b.version THEN
    PERFORM amends.fail('AM010', format('account %s: its limits or closure changed already in this write; they change once per write, '
                                        'so that a limit lifted and restored around postings is refused', OLD.name));
  END IF;
  IF b.simulation THEN
    who := coalesce((SELECT l.person FROM amends.logins l WHERE l.book_id = NEW.book_id AND l.login = session_user), session_user::text);
  ELSE
    who := amends.acting_person(NEW.book_id);
    IF NOT amends.is_admin() THEN
      PERFORM amends.fail('AM027', format('login %s (%s) may not %s account %s: balance limits and closures are changed by an admin '
                                          '(a login holding amends_admin)', session_user, who,
                                          CASE WHEN NEW.closed AND NOT OLD.closed THEN 'close' ELSE 'change the limits of' END, OLD.name));
    END IF;
  END IF;
  PERFORM amends.append_event(NEW.book_id, who, 'account_changed',
                              jsonb_build_object('account', NEW.name, 'currency', NEW.currency,
                                                 'closed', NEW.closed, 'min_normal', NEW.min_normal::text, 'max_normal', NEW.max_normal::text,
                                                 'was', jsonb_build_object('closed', OLD.closed, 'min_normal', OLD.min_normal::text,
                                                                           'max_normal', OLD.max_normal::text)));
  RETURN NEW;
END
$$;
CREATE TRIGGER update_checks_authority BEFORE UPDATE ON amends.accounts FOR EACH ROW
  WHEN ((OLD.closed, OLD.min_normal, OLD.max_normal) IS DISTINCT FROM (NEW.closed, NEW.min_normal, NEW.max_normal))
  EXECUTE FUNCTION amends.account_authority();

-- ------------------------------------------------------------------ privileges

-- Trigger functions need no EXECUTE to fire; the app gets none on them (it
-- could otherwise attach the definer one to a table of its own).
REVOKE ALL ON FUNCTION amends.is_admin(), amends.policy_inserted(), amends.rule_fits(jsonb, text, numeric, text),
  amends.role_holders(jsonb, text, date), amends.granted_amount(jsonb), amends.columns_differ_from_record(numeric, char(3), jsonb),
  amends.requests_inserted(), amends.requests_updated(),
  amends.account_authority() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION amends.is_admin(), amends.rule_fits(jsonb, text, numeric, text), amends.role_holders(jsonb, text, date),
  amends.granted_amount(jsonb), amends.columns_differ_from_record(numeric, char(3), jsonb) TO amends_app;
GRANT EXECUTE ON FUNCTION amends.is_admin() TO amends_auditor;
