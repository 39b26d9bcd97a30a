-- amends schema, version 8: who acts is the authenticated login, and when
-- is the database's clock.
--
-- Until now an audit event's actor was whatever name the client wrote and
-- its time whatever clock the client had. Here:
--   * people are records of the book (amends.people: the name key of
--     amends::names, a display name, roles, teams), and every PostgreSQL
--     login that acts in a book is bound to one of them (amends.logins);
--   * the acting person of a write is amends.acting_person(book): the
--     person bound to session_user or, for a login of the role
--     amends_service, the person it names in the transaction-local setting
--     amends.on_behalf_of, which no other login may set;
--   * in a book that is not a simulation, every audit event is written by
--     the acting person (or by amends itself, "amends" and "policy:<rule>",
--     as the consequence of that person's action), at the time the write
--     took the book's write lock (amends.books.tx_at, the database's clock:
--     see begin_write below), and records the login that wrote it;
--   * a book created as a simulation (the tour, tests, what-if notebooks)
--     keeps caller-supplied names and clocks, and each of its events says
--     so (audit_events.simulated). Whether a book is a simulation is fixed
--     when it is created;
--   * people and logins change only through amends.add_person and
--     amends.bind_login, by a login holding amends_admin (or, once, by the
--     creator of a new book: its first person), and each change is an
--     audit event those functions write themselves.
--
-- New SQLSTATEs: AM026 impersonation (an event written as someone other
-- than the acting person), AM027 not authorised (no person bound, the
-- on-behalf setting used by a login that is not the service, a person
-- managed by a login that is not an admin).

-- ------------------------------------------------------------------ books

-- Books made before this migration were run with caller-chosen names and
-- clocks; they are not simulations: from now on their writes are
-- authenticated like any book's.
ALTER TABLE amends.books
  ADD COLUMN simulation boolean NOT NULL DEFAULT false,
  ADD COLUMN tx_at timestamptz;  -- when the current (last) write took the write lock

-- The schema owner: SECURITY DEFINER functions run as it.
CREATE FUNCTION amends.running_as_owner() RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT pg_has_role(current_user, (SELECT nspowner FROM pg_namespace WHERE nspname = 'amends'), 'USAGE')
$$;

CREATE FUNCTION amends.guard_book_identity() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.simulation IS DISTINCT FROM OLD.simulation THEN
    PERFORM amends.fail('AM015', format('book %s %s a simulation, and stays what it was created as',
                                        OLD.name, CASE WHEN OLD.simulation THEN 'is' ELSE 'is not' END));
  END IF;
  IF NEW.tx_at IS DISTINCT FROM OLD.tx_at AND NOT amends.running_as_owner() THEN
    PERFORM amends.fail('AM015', format('book %s: the time of its write is the database''s clock, set by amends.begin_write', OLD.name));
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER guard_identity BEFORE UPDATE ON amends.books FOR EACH ROW EXECUTE FUNCTION amends.guard_book_identity();

-- begin_write, as in 001, and it also stamps the write with the database's
-- clock once the write lock is held: the later of clock_timestamp() and
-- the book's previous write time. Taken after the lock, not at the start
-- of the transaction (transaction_timestamp()), so that a write that waited
-- for the lock is never dated before the write it waited for; the audit
-- trail's times then never go backwards. tx_micros is that time in
-- microseconds since 1970, the at_micros of every event the write appends.
DROP FUNCTION amends.begin_write(integer, text, text);
CREATE FUNCTION amends.begin_write(p_book integer, p_operation text, p_token text DEFAULT NULL,
                                   OUT version bigint, OUT previous_version bigint,
                                   OUT last_entry_id bigint, OUT account_count integer, OUT tx_micros bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, amends AS $$
DECLARE
  b amends.books;
  at timestamptz;
BEGIN
  SELECT * INTO b FROM amends.books WHERE book_id = p_book FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM amends.fail('AM017', format('there is no book %s', p_book));
  END IF;
  IF b.writer_xid IS NOT DISTINCT FROM pg_current_xact_id() THEN
    version := b.version; previous_version := b.version - 1;
    last_entry_id := b.last_entry_id;
    account_count := (SELECT coalesce(max(a.account_id) + 1, 0) FROM amends.accounts a WHERE a.book_id = p_book);
    tx_micros := (extract(epoch FROM b.tx_at) * 1000000)::bigint;
    RETURN;
  END IF;
  at := date_trunc('microseconds', greatest(clock_timestamp(), b.tx_at));
  PERFORM set_config('amends.in_begin_write', 'on', true);
  UPDATE amends.books AS k
     SET version = k.version + 1, writer_xid = pg_current_xact_id(), tx_first_entry = k.last_entry_id + 1, open_entries = 0,
         tx_special = false, tx_at = at
   WHERE k.book_id = p_book;
  PERFORM set_config('amends.in_begin_write', 'off', true);
  INSERT INTO amends.changes (book_id, version, operation, token) VALUES (p_book, b.version + 1, p_operation, p_token);
  version := b.version + 1; previous_version := b.version;
  last_entry_id := b.last_entry_id;
  account_count := (SELECT coalesce(max(a.account_id) + 1, 0) FROM amends.accounts a WHERE a.book_id = p_book);
  tx_micros := (extract(epoch FROM at) * 1000000)::bigint;
END
$$;

-- ------------------------------------------------------------------ people

CREATE TABLE amends.people (
  book_id      integer     NOT NULL REFERENCES amends.books,
  -- The name key (amends::names::normalise): what every comparison uses.
  person       text        NOT NULL CHECK (person <> '' AND person = btrim(person)),
  display_name text        NOT NULL CHECK (display_name <> ''),
  roles        text[]      NOT NULL DEFAULT '{}',
  teams        text[]      NOT NULL DEFAULT '{}',
  active       boolean     NOT NULL DEFAULT true,
  added_at     timestamptz NOT NULL,
  PRIMARY KEY (book_id, person)
);

-- Each login that acts in a book is one person of it.
CREATE TABLE amends.logins (
  book_id  integer     NOT NULL,
  login    name        NOT NULL,
  person   text        NOT NULL,
  bound_at timestamptz NOT NULL,
  PRIMARY KEY (book_id, login),
  FOREIGN KEY (book_id, person) REFERENCES amends.people
);

-- Written only by the functions below (owner rights); nobody deletes.
CREATE TRIGGER immutable_truncate BEFORE TRUNCATE ON amends.people FOR EACH STATEMENT
  EXECUTE FUNCTION amends.refuse_desk_change('a person stays on record; deactivate them instead');
CREATE TRIGGER immutable_truncate BEFORE TRUNCATE ON amends.logins FOR EACH STATEMENT
  EXECUTE FUNCTION amends.refuse_desk_change('rebind the login instead');

-- Whether session_user is the amends service (and not a superuser, which
-- is a member of every role).
CREATE FUNCTION amends.is_service() RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT NOT r.rolsuper AND pg_has_role(session_user, 'amends_service', 'MEMBER')
    FROM pg_roles r WHERE r.rolname = session_user
$$;

-- The person the current write acts as, in book p_book.
CREATE FUNCTION amends.acting_person(p_book integer) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, amends AS $$
DECLARE
  on_behalf text := nullif(current_setting('amends.on_behalf_of', true), '');
  who text;
  is_active boolean;
BEGIN
  IF amends.is_service() THEN
    IF on_behalf IS NULL THEN
      PERFORM amends.fail('AM027', format('login %s is the amends service: it names the person it acts for in the transaction-local '
                                          'setting amends.on_behalf_of (SELECT set_config(''amends.on_behalf_of'', ''<person>'', true))',
                                          session_user));
    END IF;
    who := on_behalf;
  ELSE
    IF on_behalf IS NOT NULL THEN
      PERFORM amends.fail('AM027', format('login %s may not act on behalf of %s: only a login of the role amends_service sets '
                                          'amends.on_behalf_of; every other login acts as the person it is bound to',
                                          session_user, on_behalf));
    END IF;
    SELECT l.person INTO who FROM amends.logins l WHERE l.book_id = p_book AND l.login = session_user;
    IF who IS NULL THEN
      PERFORM amends.fail('AM027', format('login %s is bound to no person of book %s: an admin binds it (amends people bind %s PERSON)',
                                          session_user, p_book, session_user));
    END IF;
  END IF;
  SELECT p.active INTO is_active FROM amends.people p WHERE p.book_id = p_book AND p.person = who;
  IF is_active IS NULL THEN
    PERFORM amends.fail('AM027', format('%s is not a person of book %s: an admin adds them (amends people add)', who, p_book));
  ELSIF NOT is_active THEN
    PERFORM amends.fail('AM027', format('%s is no longer active in book %s and can''t act in it', who, p_book));
  END IF;
  RETURN who;
END
$$;

-- ------------------------------------------------------------------ the audit trail

-- Who wrote each event (the login; for the service, the service's login,
-- with the person it acted for as actor), and whether its book is a
-- simulation. Events written before this migration have no login.
ALTER TABLE amends.audit_events
  ADD COLUMN login name,
  ADD COLUMN simulated boolean NOT NULL DEFAULT false;
ALTER TABLE amends.audit_events ALTER COLUMN login SET DEFAULT session_user;

-- The events amends itself writes as the consequence of a person's action
-- (as "amends"; an auto-approval as "policy:<rule>"): Desk::system_event.
CREATE FUNCTION amends.system_event(p_actor text, p_event text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_actor LIKE 'policy:%' THEN p_event = 'approved'
              WHEN p_actor = 'amends' THEN p_event IN ('validated', 'refused', 'flagged', 'declined', 'incomplete', 'routed',
                                                       'blocked', 'budget_escalated', 'over_budget', 'reserved', 'notified',
                                                       'expired', 'escalated')
              ELSE false END
$$;

-- Checked once per statement, after 002's chain check (triggers fire in
-- name order: checks, head, identity, money_checks).
CREATE FUNCTION amends.audit_identity() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  bk record;
  r record;
  who text;
  write_micros bigint;
BEGIN
  FOR bk IN SELECT DISTINCT n.book_id, b.simulation, b.tx_at FROM new_events n JOIN amends.books b ON b.book_id = n.book_id LOOP
    SELECT n.seq, n.login, n.simulated INTO r FROM new_events n
     WHERE n.book_id = bk.book_id AND (n.login IS DISTINCT FROM session_user OR n.simulated <> bk.simulation)
     ORDER BY n.seq LIMIT 1;
    IF FOUND THEN
      PERFORM amends.fail('AM027', format('audit event %s of book %s: it records the login that writes it (%s, not %s) and that the book %s a simulation',
                                          r.seq, bk.book_id, session_user, coalesce(r.login::text, 'none'),
                                          CASE WHEN bk.simulation THEN 'is' ELSE 'is not' END));
    END IF;
    CONTINUE WHEN bk.simulation;
    who := amends.acting_person(bk.book_id);
    SELECT n.seq, n.actor INTO r FROM new_events n
     WHERE n.book_id = bk.book_id AND n.actor <> who
       AND NOT amends.system_event(n.actor, n.event)
     ORDER BY n.seq LIMIT 1;
    IF FOUND THEN
      PERFORM amends.fail('AM026', format('audit event %s of book %s is written as %s, but login %s acts as %s: a person acts only as themself',
                                          r.seq, bk.book_id, r.actor, session_user, who));
    END IF;
    write_micros := (extract(epoch FROM bk.tx_at) * 1000000)::bigint;
    SELECT n.seq, n.at_micros INTO r FROM new_events n
     WHERE n.book_id = bk.book_id AND n.at_micros IS DISTINCT FROM write_micros
     ORDER BY n.seq LIMIT 1;
    IF FOUND THEN
      PERFORM amends.fail('AM027', format('audit event %s of book %s is dated %s micros: in a book that is not a simulation, decisions are '
                                          'dated by the database''s clock when the write took the write lock (%s)',
                                          r.seq, bk.book_id, r.at_micros, coalesce(write_micros::text, 'no write lock')));
    END IF;
  END LOOP;
  RETURN NULL;
END
$$;
CREATE TRIGGER identity AFTER INSERT ON amends.audit_events REFERENCING NEW TABLE AS new_events
  FOR EACH STATEMENT EXECUTE FUNCTION amends.audit_identity();

-- A request of a book that is not a simulation is filed by the acting
-- person: its requester is that person's key.
CREATE FUNCTION amends.request_identity() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  who text;
BEGIN
  IF (SELECT simulation FROM amends.books WHERE book_id = NEW.book_id) THEN
    RETURN NEW;
  END IF;
  who := amends.acting_person(NEW.book_id);
  IF NEW.requester IS DISTINCT FROM who THEN
    PERFORM amends.fail('AM026', format('request %s is filed as %s, but login %s acts as %s: a person files requests only as themself',
                                        NEW.request_id, NEW.requester, session_user, who));
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER identity BEFORE INSERT ON amends.requests FOR EACH ROW EXECUTE FUNCTION amends.request_identity();

-- An event appended by the database itself (people and logins): next in
-- the chain, at the write's time (in a simulation, never before the
-- trail's last event), by the acting person.
CREATE FUNCTION amends.append_event(p_book integer, p_actor text, p_event text, p_details jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  b amends.books;
  h amends.audit_heads;
  last_at bigint;
  v_at bigint;
  prev bytea;
  v_seq bigint;
BEGIN
  b := amends.writing(p_book);
  SELECT * INTO h FROM amends.audit_heads WHERE book_id = p_book;
  v_seq := coalesce(h.seq, 0) + 1;
  prev := coalesce(h.hash, decode(repeat('00', 32), 'hex'));
  SELECT e.at_micros INTO last_at FROM amends.audit_events e WHERE e.book_id = p_book AND e.seq = h.seq;
  v_at := (extract(epoch FROM b.tx_at) * 1000000)::bigint;
  IF b.simulation THEN
    v_at := greatest(v_at, coalesce(last_at, v_at));
  END IF;
  INSERT INTO amends.audit_events (book_id, seq, at_micros, actor, request_id, event, details, previous, hash, simulated)
  VALUES (p_book, v_seq, v_at, p_actor, '', p_event, p_details::text, prev,
          amends.audit_hash(v_seq, v_at, p_actor, '', p_event, p_details::text, prev), b.simulation);
  RETURN v_seq;
END
$$;

-- Who may manage the people of a book: a login holding amends_admin (a
-- superuser holds every role); and, in a new book -- no person, no audit
-- event yet -- whoever adds its first person, bound to their own login.
CREATE FUNCTION amends.require_admin(p_book integer, p_what text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT pg_has_role(session_user, 'amends_admin', 'MEMBER') THEN
    PERFORM amends.fail('AM027', format('login %s may not %s in book %s: that needs the role amends_admin', session_user, p_what, p_book));
  END IF;
END
$$;

-- Adds a person, or changes their display name, roles, teams or whether
-- they are active; with p_login, also binds that login to them.
CREATE FUNCTION amends.add_person(p_book integer, p_person text, p_display_name text, p_roles text[], p_teams text[],
                                  p_active boolean DEFAULT true, p_login name DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, amends AS $$
DECLARE
  b amends.books;
  first boolean;
  actor text;
  before amends.people;
BEGIN
  PERFORM amends.begin_write(p_book, 'add_person');
  b := amends.writing(p_book);
  first := NOT EXISTS (SELECT 1 FROM amends.people WHERE book_id = p_book)
           AND NOT EXISTS (SELECT 1 FROM amends.audit_heads WHERE book_id = p_book);
  IF first THEN
    IF p_login IS DISTINCT FROM session_user AND NOT pg_has_role(session_user, 'amends_admin', 'MEMBER') THEN
      PERFORM amends.fail('AM027', format('the first person of book %s is the one who sets it up, bound to their own login (%s), '
                                          'or one an admin adds', p_book, session_user));
    END IF;
  ELSE
    PERFORM amends.require_admin(p_book, 'manage people');
  END IF;
  IF p_person IS NULL OR p_person = '' OR p_display_name IS NULL OR p_display_name = '' THEN
    PERFORM amends.fail('AM017', 'a person has a name key and a display name');
  END IF;
  SELECT * INTO before FROM amends.people WHERE book_id = p_book AND person = p_person;
  INSERT INTO amends.people AS p (book_id, person, display_name, roles, teams, active, added_at)
  VALUES (p_book, p_person, p_display_name, coalesce(p_roles, '{}'), coalesce(p_teams, '{}'), coalesce(p_active, true), b.tx_at)
  ON CONFLICT (book_id, person) DO UPDATE
     SET display_name = excluded.display_name, roles = excluded.roles, teams = excluded.teams, active = excluded.active;
  IF p_login IS NOT NULL THEN
    INSERT INTO amends.logins AS l (book_id, login, person, bound_at) VALUES (p_book, p_login, p_person, b.tx_at)
    ON CONFLICT (book_id, login) DO UPDATE SET person = excluded.person, bound_at = excluded.bound_at;
  END IF;
  actor := CASE WHEN b.simulation THEN coalesce((SELECT person FROM amends.logins WHERE book_id = p_book AND login = session_user),
                                                 session_user::text)
                ELSE amends.acting_person(p_book) END;
  PERFORM amends.append_event(p_book, actor, CASE WHEN before.person IS NULL THEN 'person_added' ELSE 'person_changed' END,
                              jsonb_build_object('person', p_person, 'display_name', p_display_name, 'roles', to_jsonb(coalesce(p_roles, '{}')),
                                                 'teams', to_jsonb(coalesce(p_teams, '{}')), 'active', coalesce(p_active, true))
                              || CASE WHEN p_login IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('login', p_login) END
                              || CASE WHEN before.person IS NULL THEN '{}'::jsonb
                                      ELSE jsonb_build_object('before', jsonb_build_object('display_name', before.display_name,
                                                              'roles', to_jsonb(before.roles), 'teams', to_jsonb(before.teams),
                                                              'active', before.active)) END);
END
$$;

-- Binds a login to a person of the book (moving it from the one it was
-- bound to, if any).
CREATE FUNCTION amends.bind_login(p_book integer, p_login name, p_person text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, amends AS $$
DECLARE
  b amends.books;
  was text;
BEGIN
  PERFORM amends.begin_write(p_book, 'bind_login');
  b := amends.writing(p_book);
  PERFORM amends.require_admin(p_book, 'bind logins');
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_login) THEN
    PERFORM amends.fail('AM017', format('there is no login %s on this server: create it first (CREATE ROLE %s LOGIN IN ROLE amends_app)',
                                        p_login, p_login));
  END IF;
  IF NOT EXISTS (SELECT 1 FROM amends.people WHERE book_id = p_book AND person = p_person) THEN
    PERFORM amends.fail('AM017', format('%s is not a person of book %s: add them first (amends people add)', p_person, p_book));
  END IF;
  SELECT person INTO was FROM amends.logins WHERE book_id = p_book AND login = p_login;
  INSERT INTO amends.logins AS l (book_id, login, person, bound_at) VALUES (p_book, p_login, p_person, b.tx_at)
  ON CONFLICT (book_id, login) DO UPDATE SET person = excluded.person, bound_at = excluded.bound_at;
  PERFORM amends.append_event(p_book,
                              CASE WHEN b.simulation THEN coalesce((SELECT person FROM amends.logins WHERE book_id = p_book AND login = session_user),
                                                                   session_user::text)
                                   ELSE amends.acting_person(p_book) END,
                              'login_bound', jsonb_build_object('login', p_login, 'person', p_person)
                                             || CASE WHEN was IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('was', was) END);
END
$$;

-- ------------------------------------------------------------------ privileges

REVOKE ALL ON amends.people, amends.logins FROM PUBLIC;
GRANT SELECT ON amends.people, amends.logins TO amends_app, amends_auditor;
GRANT INSERT (name, base_currency, fiscal_start_month, simulation) ON amends.books TO amends_app;
REVOKE ALL ON FUNCTION amends.system_event(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION amends.system_event(text, text) TO amends_app;
REVOKE ALL ON FUNCTION amends.begin_write(integer, text, text), amends.running_as_owner(), amends.guard_book_identity(),
                       amends.is_service(), amends.acting_person(integer), amends.audit_identity(), amends.request_identity(),
                       amends.append_event(integer, text, text, jsonb), amends.require_admin(integer, text),
                       amends.add_person(integer, text, text, text[], text[], boolean, name),
                       amends.bind_login(integer, name, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION amends.begin_write(integer, text, text), amends.running_as_owner(), amends.is_service(),
                          amends.acting_person(integer), amends.add_person(integer, text, text, text[], text[], boolean, name),
                          amends.bind_login(integer, name, text) TO amends_app;
-- The auditor opens books read-only, which asks who it is.
GRANT EXECUTE ON FUNCTION amends.is_service() TO amends_auditor;
