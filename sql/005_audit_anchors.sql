-- amends schema, version 5: anchors that pin the audit trail down.
--
-- A hash chain shows that an event was changed, but not that events were
-- cut off its end, that it was wiped, or that a correctly hashed event was
-- added: what is left still chains. Two anchors outside the trail say what
-- it must contain:
--   * amends.audit_heads: per book, the seq and hash of the trail's last
--     event. It follows every append (a trigger moves it), and a head that
--     is not the trail's last event is refused, so a tail cut, a wipe or an
--     event appended past it shows against the head;
--   * amends.requests.audit_seq / audit_hash: the audit event that produced
--     the request's current state, the request's last event, written in the
--     transaction that writes the request. A request whose events were
--     removed, rewritten, or added to behind its back shows against it.
-- Requests written before this migration have no anchor (NULL: not
-- anchored); every book with events gets its head here.
-- `amends audit verify` (store::verify_audit) checks the chain against both.
-- A superuser can still rewrite trail and anchors together; a signed
-- checkpoint kept outside the database (`amends audit checkpoint`) catches
-- that.

ALTER TABLE amends.requests
  ADD COLUMN audit_seq  bigint,
  ADD COLUMN audit_hash bytea,
  ADD CONSTRAINT requests_audit_anchor_check
    CHECK ((audit_seq IS NULL) = (audit_hash IS NULL) AND (audit_seq IS NULL OR audit_seq >= 1)
           AND (audit_hash IS NULL OR octet_length(audit_hash) = 32));

CREATE TABLE amends.audit_heads (
  book_id integer NOT NULL REFERENCES amends.books,
  seq     bigint  NOT NULL CHECK (seq >= 1),                        -- the last event's seq
  hash    bytea   NOT NULL CHECK (octet_length(hash) = 32),         -- and its hash
  PRIMARY KEY (book_id)
);

INSERT INTO amends.audit_heads (book_id, seq, hash)
SELECT DISTINCT ON (book_id) book_id, seq, hash FROM amends.audit_events ORDER BY book_id, seq DESC;

-- A head is the last event of its book's trail, moves only forward, and is
-- never removed.
CREATE FUNCTION amends.audit_head_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  b amends.books;
  last_seq bigint;
  last_hash bytea;
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM amends.fail('AM015', format('the audit head of book %s can''t be deleted: it moves with the trail', OLD.book_id));
  END IF;
  b := amends.writing(NEW.book_id);
  IF TG_OP = 'UPDATE' AND NEW.book_id <> OLD.book_id THEN
    PERFORM amends.fail('AM015', format('the audit head of book %s stays with its book', OLD.book_id));
  END IF;
  SELECT e.seq, e.hash INTO last_seq, last_hash
    FROM amends.audit_events e WHERE e.book_id = NEW.book_id ORDER BY e.seq DESC LIMIT 1;
  IF last_seq IS NULL OR NEW.seq <> last_seq OR NEW.hash <> last_hash THEN
    PERFORM amends.fail('AM018', format('the audit head of book %s must be the last event of its trail (%s), not event %s with hash %s',
                                        NEW.book_id,
                                        CASE WHEN last_seq IS NULL THEN 'the trail is empty'
                                             ELSE format('event %s, hash %s', last_seq, encode(last_hash, 'hex')) END,
                                        NEW.seq, encode(NEW.hash, 'hex')));
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.seq < OLD.seq THEN
    PERFORM amends.fail('AM018', format('the audit head of book %s only moves forward: it is at event %s, not %s',
                                        NEW.book_id, OLD.seq, NEW.seq));
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER checks BEFORE INSERT OR UPDATE OR DELETE ON amends.audit_heads FOR EACH ROW
  EXECUTE FUNCTION amends.audit_head_change();
CREATE TRIGGER immutable_truncate BEFORE TRUNCATE ON amends.audit_heads FOR EACH STATEMENT
  EXECUTE FUNCTION amends.refuse_desk_change('the audit head moves with the trail');

-- Every append moves the head to the last event appended (after 002's
-- `checks` has verified the chain: triggers fire in name order).
CREATE FUNCTION amends.audit_head_follows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO amends.audit_heads AS h (book_id, seq, hash)
  SELECT DISTINCT ON (n.book_id) n.book_id, n.seq, n.hash FROM new_events n ORDER BY n.book_id, n.seq DESC
  ON CONFLICT (book_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash
   WHERE (h.seq, h.hash) IS DISTINCT FROM (excluded.seq, excluded.hash);
  RETURN NULL;
END
$$;
CREATE TRIGGER head AFTER INSERT ON amends.audit_events REFERENCING NEW TABLE AS new_events
  FOR EACH STATEMENT EXECUTE FUNCTION amends.audit_head_follows();

-- A request's anchor is an event of that request (appended before the
-- request is written), never goes back, and once set is never cleared.
CREATE FUNCTION amends.request_anchor_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.audit_seq IS NOT NULL AND (NEW.audit_seq IS NULL OR NEW.audit_seq < OLD.audit_seq) THEN
    PERFORM amends.fail('AM018', format('request %s is anchored at audit event %s: its anchor only moves forward, to a later event of the request',
                                        OLD.request_id, OLD.audit_seq));
  END IF;
  IF NEW.audit_seq IS NOT NULL
     AND (TG_OP = 'INSERT' OR (NEW.audit_seq, NEW.audit_hash) IS DISTINCT FROM (OLD.audit_seq, OLD.audit_hash))
     AND NOT EXISTS (SELECT 1 FROM amends.audit_events e
                      WHERE e.book_id = NEW.book_id AND e.seq = NEW.audit_seq AND e.hash = NEW.audit_hash
                        AND e.request_id = NEW.request_id) THEN
    PERFORM amends.fail('AM018', format('request %s can''t be anchored at audit event %s with hash %s: the anchor is an event of the request already in the trail (append the events first)',
                                        NEW.request_id, NEW.audit_seq, encode(NEW.audit_hash, 'hex')));
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER anchor BEFORE INSERT OR UPDATE OF audit_seq, audit_hash ON amends.requests FOR EACH ROW
  EXECUTE FUNCTION amends.request_anchor_change();

-- ------------------------------------------------------------------ privileges

REVOKE ALL ON amends.audit_heads FROM PUBLIC;
GRANT SELECT, INSERT ON amends.audit_heads TO amends_app;
GRANT UPDATE (seq, hash) ON amends.audit_heads TO amends_app;
GRANT UPDATE (audit_seq, audit_hash) ON amends.requests TO amends_app;
REVOKE ALL ON FUNCTION amends.audit_head_change(), amends.audit_head_follows(), amends.request_anchor_change() FROM PUBLIC;
