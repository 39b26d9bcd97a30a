-- amends schema, version 3: reconciliation runs against the billing system.
--
-- A run records what was compared (the source, the period, the parameters,
-- a SHA-256 of both inputs), what came out (a summary, one row per item on
-- each side with its outcome and reason) and the corrections it proposes for
-- a person to decide. Runs are written in the book's write transaction
-- that also moves the matched requests to `reconciled`, and never change
-- afterwards; the same inputs give the same checksum, and a book holds one
-- run per checksum, so rerunning duplicates nothing. A proposed correction
-- is decided once (approved or rejected); it is never posted by amends.

CREATE TABLE amends.reconciliation_runs (
  book_id        integer     NOT NULL REFERENCES amends.books,
  run_id         bigint      NOT NULL CHECK (run_id >= 1),
  source         text        NOT NULL CHECK (source <> ''),
  period_first   date        NOT NULL,
  period_last    date        NOT NULL CHECK (period_last >= period_first),
  parameters     json        NOT NULL,
  inputs_sha256  text        NOT NULL CHECK (inputs_sha256 ~ '^[0-9a-f]{64}$'),
  summary        json        NOT NULL,
  exceptions     bigint      NOT NULL CHECK (exceptions >= 0),
  created_at     timestamptz NOT NULL,
  created_by     text        NOT NULL CHECK (created_by <> ''),
  PRIMARY KEY (book_id, run_id),
  UNIQUE (book_id, inputs_sha256)
);

CREATE TABLE amends.reconciliation_items (
  book_id          integer NOT NULL,
  run_id           bigint  NOT NULL,
  side             text    NOT NULL CHECK (side IN ('ledger', 'billing')),
  position         bigint  NOT NULL CHECK (position >= 0),
  item_id          text    NOT NULL,
  customer         text    NOT NULL,
  currency         char(3) NOT NULL,
  amount_minor     bigint  NOT NULL,
  day              date    NOT NULL,
  outcome          text    NOT NULL CHECK (outcome IN ('matched', 'amount_mismatch', 'missing_in_billing',
                                                      'missing_in_ledger', 'duplicate', 'status_problem',
                                                      'not_applicable')),
  matched_by       text    NOT NULL,
  counterpart      text    NOT NULL,
  difference_minor bigint  NOT NULL,
  reason           text    NOT NULL,
  PRIMARY KEY (book_id, run_id, side, position),
  FOREIGN KEY (book_id, run_id) REFERENCES amends.reconciliation_runs
);

CREATE TABLE amends.reconciliation_corrections (
  book_id       integer     NOT NULL,
  run_id        bigint      NOT NULL,
  correction_id integer     NOT NULL CHECK (correction_id >= 1),
  action        text        NOT NULL CHECK (action IN ('apply_in_billing', 'investigate_unauthorised', 'reverse_refund',
                                                       'reissue_or_reverse', 'void_duplicate', 'adjust')),
  request_id    text        NOT NULL,
  billing_id    text        NOT NULL,
  amount_minor  bigint      NOT NULL,
  currency      char(3)     NOT NULL,
  reason        text        NOT NULL,
  status        text        NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'approved', 'rejected')),
  decided_by    text,
  decided_at    timestamptz,
  PRIMARY KEY (book_id, run_id, correction_id),
  FOREIGN KEY (book_id, run_id) REFERENCES amends.reconciliation_runs,
  CHECK ((status = 'proposed') = (decided_by IS NULL AND decided_at IS NULL))
);

-- Runs and their items are written under the book's write lock and never change.
CREATE FUNCTION amends.reconciliation_written() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  bk record;
BEGIN
  FOR bk IN SELECT DISTINCT book_id FROM new_rows LOOP
    PERFORM amends.writing(bk.book_id);
  END LOOP;
  RETURN NULL;
END
$$;
CREATE TRIGGER written AFTER INSERT ON amends.reconciliation_runs REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION amends.reconciliation_written();
CREATE TRIGGER written AFTER INSERT ON amends.reconciliation_items REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION amends.reconciliation_written();
CREATE TRIGGER written AFTER INSERT ON amends.reconciliation_corrections REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION amends.reconciliation_written();

CREATE TRIGGER immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON amends.reconciliation_runs FOR EACH STATEMENT
  EXECUTE FUNCTION amends.refuse_desk_change('a run records what was found; run the reconciliation again instead');
CREATE TRIGGER immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON amends.reconciliation_items FOR EACH STATEMENT
  EXECUTE FUNCTION amends.refuse_desk_change('a run records what was found; run the reconciliation again instead');
CREATE TRIGGER immutable_truncate BEFORE TRUNCATE ON amends.reconciliation_corrections FOR EACH STATEMENT
  EXECUTE FUNCTION amends.refuse_desk_change('a proposed correction is decided, never removed');

-- A correction is decided once: status, decided_by and decided_at, from proposed.
CREATE FUNCTION amends.correction_decided() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM amends.fail('AM015', 'a proposed correction is never deleted; reject it instead');
  END IF;
  IF OLD.status <> 'proposed' THEN
    PERFORM amends.fail('AM015', format('correction %s of run %s was %s already', OLD.correction_id, OLD.run_id, OLD.status));
  END IF;
  IF (NEW.book_id, NEW.run_id, NEW.correction_id, NEW.action, NEW.request_id, NEW.billing_id, NEW.amount_minor,
      NEW.currency, NEW.reason) IS DISTINCT FROM
     (OLD.book_id, OLD.run_id, OLD.correction_id, OLD.action, OLD.request_id, OLD.billing_id, OLD.amount_minor,
      OLD.currency, OLD.reason) THEN
    PERFORM amends.fail('AM015', 'a proposed correction only gets its decision');
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER decided BEFORE UPDATE OR DELETE ON amends.reconciliation_corrections FOR EACH ROW
  EXECUTE FUNCTION amends.correction_decided();

REVOKE ALL ON amends.reconciliation_runs, amends.reconciliation_items, amends.reconciliation_corrections FROM PUBLIC;
GRANT SELECT, INSERT ON amends.reconciliation_runs, amends.reconciliation_items, amends.reconciliation_corrections TO amends_app;
GRANT UPDATE (status, decided_by, decided_at) ON amends.reconciliation_corrections TO amends_app;
REVOKE ALL ON FUNCTION amends.reconciliation_written(), amends.correction_decided() FROM PUBLIC;
