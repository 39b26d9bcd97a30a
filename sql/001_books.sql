-- amends schema, version 1: books, accounts, periods, entries, postings,
-- resolutions of reservations, and the change log.
--
-- Every table is keyed by book_id first (see sql/README.md): a deployment
-- can distribute by book. Money is NUMERIC, dates are date, audit times are
-- timestamptz. The invariants are enforced here as well as in the C++ core,
-- so a client writing SQL directly can't corrupt the books:
--   * an entry's postings balance per currency (checked when its postings
--     are inserted, and at commit no entry may be left without them);
--   * committed entries, postings, resolutions and changes never change;
--   * an idempotency key is used once per book;
--   * closed periods take nothing, locked ones only with the override;
--   * balance limits hold, also with many sessions writing at once: every
--     write transaction first takes its book's row lock (amends.begin_write),
--     so the writes to one book are serialized and each sees the last.
--
-- Errors raised here use SQLSTATEs of class AM (see amends.error codes below).

CREATE SCHEMA IF NOT EXISTS amends;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'amends_app') THEN
    CREATE ROLE amends_app NOLOGIN;
  END IF;
END
$$;

CREATE TABLE amends.currencies (
  code        char(3)  PRIMARY KEY CHECK (code ~ '^[A-Z]{3}$'),
  numeric     smallint NOT NULL,
  minor_units smallint NOT NULL CHECK (minor_units BETWEEN 0 AND 4),
  name        text     NOT NULL
);
INSERT INTO amends.currencies (code, numeric, minor_units, name) VALUES
  ('AED', 784, 2, 'UAE Dirham'),
  ('AFN', 971, 2, 'Afghani'),
  ('ALL', 8, 2, 'Lek'),
  ('AMD', 51, 2, 'Armenian Dram'),
  ('AOA', 973, 2, 'Kwanza'),
  ('ARS', 32, 2, 'Argentine Peso'),
  ('AUD', 36, 2, 'Australian Dollar'),
  ('AWG', 533, 2, 'Aruban Florin'),
  ('AZN', 944, 2, 'Azerbaijan Manat'),
  ('BAM', 977, 2, 'Convertible Mark'),
  ('BBD', 52, 2, 'Barbados Dollar'),
  ('BDT', 50, 2, 'Taka'),
  ('BGN', 975, 2, 'Bulgarian Lev'),
  ('BHD', 48, 3, 'Bahraini Dinar'),
  ('BIF', 108, 0, 'Burundi Franc'),
  ('BMD', 60, 2, 'Bermudian Dollar'),
  ('BND', 96, 2, 'Brunei Dollar'),
  ('BOB', 68, 2, 'Boliviano'),
  ('BOV', 984, 2, 'Mvdol'),
  ('BRL', 986, 2, 'Brazilian Real'),
  ('BSD', 44, 2, 'Bahamian Dollar'),
  ('BTN', 64, 2, 'Ngultrum'),
  ('BWP', 72, 2, 'Pula'),
  ('BYN', 933, 2, 'Belarusian Ruble'),
  ('BZD', 84, 2, 'Belize Dollar'),
  ('CAD', 124, 2, 'Canadian Dollar'),
  ('CDF', 976, 2, 'Congolese Franc'),
  ('CHE', 947, 2, 'WIR Euro'),
  ('CHF', 756, 2, 'Swiss Franc'),
  ('CHW', 948, 2, 'WIR Franc'),
  ('CLF', 990, 4, 'Unidad de Fomento'),
  ('CLP', 152, 0, 'Chilean Peso'),
  ('CNY', 156, 2, 'Yuan Renminbi'),
  ('COP', 170, 2, 'Colombian Peso'),
  ('COU', 970, 2, 'Unidad de Valor Real'),
  ('CRC', 188, 2, 'Costa Rican Colon'),
  ('CUC', 931, 2, 'Peso Convertible'),
  ('CUP', 192, 2, 'Cuban Peso'),
  ('CVE', 132, 2, 'Cabo Verde Escudo'),
  ('CZK', 203, 2, 'Czech Koruna'),
  ('DJF', 262, 0, 'Djibouti Franc'),
  ('DKK', 208, 2, 'Danish Krone'),
  ('DOP', 214, 2, 'Dominican Peso'),
  ('DZD', 12, 2, 'Algerian Dinar'),
  ('EGP', 818, 2, 'Egyptian Pound'),
  ('ERN', 232, 2, 'Nakfa'),
  ('ETB', 230, 2, 'Ethiopian Birr'),
  ('EUR', 978, 2, 'Euro'),
  ('FJD', 242, 2, 'Fiji Dollar'),
  ('FKP', 238, 2, 'Falkland Islands Pound'),
  ('GBP', 826, 2, 'Pound Sterling'),
  ('GEL', 981, 2, 'Lari'),
  ('GHS', 936, 2, 'Ghana Cedi'),
  ('GIP', 292, 2, 'Gibraltar Pound'),
  ('GMD', 270, 2, 'Dalasi'),
  ('GNF', 324, 0, 'Guinean Franc'),
  ('GTQ', 320, 2, 'Quetzal'),
  ('GYD', 328, 2, 'Guyana Dollar'),
  ('HKD', 344, 2, 'Hong Kong Dollar'),
  ('HNL', 340, 2, 'Lempira'),
  ('HTG', 332, 2, 'Gourde'),
  ('HUF', 348, 2, 'Forint'),
  ('IDR', 360, 2, 'Rupiah'),
  ('ILS', 376, 2, 'New Israeli Sheqel'),
  ('INR', 356, 2, 'Indian Rupee'),
  ('IQD', 368, 3, 'Iraqi Dinar'),
  ('IRR', 364, 2, 'Iranian Rial'),
  ('ISK', 352, 0, 'Iceland Krona'),
  ('JMD', 388, 2, 'Jamaican Dollar'),
  ('JOD', 400, 3, 'Jordanian Dinar'),
  ('JPY', 392, 0, 'Yen'),
  ('KES', 404, 2, 'Kenyan Shilling'),
  ('KGS', 417, 2, 'Som'),
  ('KHR', 116, 2, 'Riel'),
  ('KMF', 174, 0, 'Comorian Franc'),
  ('KPW', 408, 2, 'North Korean Won'),
  ('KRW', 410, 0, 'Won'),
  ('KWD', 414, 3, 'Kuwaiti Dinar'),
  ('KYD', 136, 2, 'Cayman Islands Dollar'),
  ('KZT', 398, 2, 'Tenge'),
  ('LAK', 418, 2, 'Lao Kip'),
  ('LBP', 422, 2, 'Lebanese Pound'),
  ('LKR', 144, 2, 'Sri Lanka Rupee'),
  ('LRD', 430, 2, 'Liberian Dollar'),
  ('LSL', 426, 2, 'Loti'),
  ('LYD', 434, 3, 'Libyan Dinar'),
  ('MAD', 504, 2, 'Moroccan Dirham'),
  ('MDL', 498, 2, 'Moldovan Leu'),
  ('MGA', 969, 2, 'Malagasy Ariary'),
  ('MKD', 807, 2, 'Denar'),
  ('MMK', 104, 2, 'Kyat'),
  ('MNT', 496, 2, 'Tugrik'),
  ('MOP', 446, 2, 'Pataca'),
  ('MRU', 929, 2, 'Ouguiya'),
  ('MUR', 480, 2, 'Mauritius Rupee'),
  ('MVR', 462, 2, 'Rufiyaa'),
  ('MWK', 454, 2, 'Malawi Kwacha'),
  ('MXN', 484, 2, 'Mexican Peso'),
  ('MXV', 979, 2, 'Mexican Unidad de Inversion (UDI)'),
  ('MYR', 458, 2, 'Malaysian Ringgit'),
  ('MZN', 943, 2, 'Mozambique Metical'),
  ('NAD', 516, 2, 'Namibia Dollar'),
  ('NGN', 566, 2, 'Naira'),
  ('NIO', 558, 2, 'Cordoba Oro'),
  ('NOK', 578, 2, 'Norwegian Krone'),
  ('NPR', 524, 2, 'Nepalese Rupee'),
  ('NZD', 554, 2, 'New Zealand Dollar'),
  ('OMR', 512, 3, 'Rial Omani'),
  ('PAB', 590, 2, 'Balboa'),
  ('PEN', 604, 2, 'Sol'),
  ('PGK', 598, 2, 'Kina'),
  ('PHP', 608, 2, 'Philippine Peso'),
  ('PKR', 586, 2, 'Pakistan Rupee'),
  ('PLN', 985, 2, 'Zloty'),
  ('PYG', 600, 0, 'Guarani'),
  ('QAR', 634, 2, 'Qatari Rial'),
  ('RON', 946, 2, 'Romanian Leu'),
  ('RSD', 941, 2, 'Serbian Dinar'),
  ('RUB', 643, 2, 'Russian Ruble'),
  ('RWF', 646, 0, 'Rwanda Franc'),
  ('SAR', 682, 2, 'Saudi Riyal'),
  ('SBD', 90, 2, 'Solomon Islands Dollar'),
  ('SCR', 690, 2, 'Seychelles Rupee'),
  ('SDG', 938, 2, 'Sudanese Pound'),
  ('SEK', 752, 2, 'Swedish Krona'),
  ('SGD', 702, 2, 'Singapore Dollar'),
  ('SHP', 654, 2, 'Saint Helena Pound'),
  ('SLE', 925, 2, 'Leone'),
  ('SOS', 706, 2, 'Somali Shilling'),
  ('SRD', 968, 2, 'Surinam Dollar'),
  ('SSP', 728, 2, 'South Sudanese Pound'),
  ('STN', 930, 2, 'Dobra'),
  ('SVC', 222, 2, 'El Salvador Colon'),
  ('SYP', 760, 2, 'Syrian Pound'),
  ('SZL', 748, 2, 'Lilangeni'),
  ('THB', 764, 2, 'Baht'),
  ('TJS', 972, 2, 'Somoni'),
  ('TMT', 934, 2, 'Turkmenistan New Manat'),
  ('TND', 788, 3, 'Tunisian Dinar'),
  ('TOP', 776, 2, 'Pa’anga'),
  ('TRY', 949, 2, 'Turkish Lira'),
  ('TTD', 780, 2, 'Trinidad and Tobago Dollar'),
  ('TWD', 901, 2, 'New Taiwan Dollar'),
  ('TZS', 834, 2, 'Tanzanian Shilling'),
  ('UAH', 980, 2, 'Hryvnia'),
  ('UGX', 800, 0, 'Uganda Shilling'),
  ('USD', 840, 2, 'US Dollar'),
  ('USN', 997, 2, 'US Dollar (Next day)'),
  ('UYI', 940, 0, 'Uruguay Peso en Unidades Indexadas (UI)'),
  ('UYU', 858, 2, 'Peso Uruguayo'),
  ('UYW', 927, 4, 'Unidad Previsional'),
  ('UZS', 860, 2, 'Uzbekistan Sum'),
  ('VED', 926, 2, 'Bolívar Soberano'),
  ('VES', 928, 2, 'Bolívar Soberano'),
  ('VND', 704, 0, 'Dong'),
  ('VUV', 548, 0, 'Vatu'),
  ('WST', 882, 2, 'Tala'),
  ('XAD', 396, 2, 'Arab Accounting Dinar'),
  ('XAF', 950, 0, 'CFA Franc BEAC'),
  ('XCD', 951, 2, 'East Caribbean Dollar'),
  ('XCG', 532, 2, 'Caribbean Guilder'),
  ('XOF', 952, 0, 'CFA Franc BCEAO'),
  ('XPF', 953, 0, 'CFP Franc'),
  ('YER', 886, 2, 'Yemeni Rial'),
  ('ZAR', 710, 2, 'Rand'),
  ('ZMW', 967, 2, 'Zambian Kwacha'),
  ('ZWG', 924, 2, 'Zimbabwe Gold');

CREATE TABLE amends.books (
  book_id            integer     PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY,
  name               text        NOT NULL UNIQUE CHECK (name <> ''),
  base_currency      char(3)     NOT NULL REFERENCES amends.currencies,
  fiscal_start_month smallint    NOT NULL DEFAULT 1 CHECK (fiscal_start_month BETWEEN 1 AND 12),
  created_at         timestamptz NOT NULL DEFAULT now(),
  -- Write state, changed only by amends.begin_write and the triggers below.
  version            bigint      NOT NULL DEFAULT 0,  -- one per write transaction
  last_entry_id      bigint      NOT NULL DEFAULT 0,  -- entry ids are dense: 1, 2, 3, ...
  writer_xid         xid8,                            -- the transaction that holds the write
  tx_first_entry     bigint      NOT NULL DEFAULT 1,  -- first entry id of that transaction
  open_entries       bigint      NOT NULL DEFAULT 0,  -- its entries still without their postings
  tx_special         boolean     NOT NULL DEFAULT false  -- it wrote reservations, reversals or completions
);

-- One row per write transaction: who, when, what, and the client's token
-- (an in-doubt commit is resolved by looking the token up).
CREATE TABLE amends.changes (
  book_id      integer     NOT NULL REFERENCES amends.books,
  version      bigint      NOT NULL,
  operation    text        NOT NULL,
  token        text,
  db_user      text        NOT NULL DEFAULT session_user,              -- who logged in
  db_role      text        NOT NULL DEFAULT current_setting('role'),  -- the role set for the session (SET ROLE), or none
  committed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (book_id, version)
);
CREATE UNIQUE INDEX changes_token ON amends.changes (book_id, token) WHERE token IS NOT NULL;

CREATE TABLE amends.accounts (
  book_id         integer  NOT NULL REFERENCES amends.books,
  account_id      integer  NOT NULL CHECK (account_id >= 0),  -- dense per book; NULL at insert takes the next
  name            text     NOT NULL,
  currency        char(3)  NOT NULL REFERENCES amends.currencies,
  type            text     NOT NULL CHECK (type IN ('asset', 'liability', 'equity', 'revenue', 'contra_revenue', 'expense', 'memo')),
  dimensions      jsonb    NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(dimensions) = 'object'),
  min_normal      numeric,
  max_normal      numeric,
  closed          boolean  NOT NULL DEFAULT false,
  -- Running totals in the account's currency, kept by the posting triggers.
  posted          numeric  NOT NULL DEFAULT 0,
  pending_debits  numeric  NOT NULL DEFAULT 0 CHECK (pending_debits >= 0),
  pending_credits numeric  NOT NULL DEFAULT 0 CHECK (pending_credits >= 0),
  version         bigint   NOT NULL DEFAULT 0,  -- the write that last changed closed or the limits
  PRIMARY KEY (book_id, account_id),
  UNIQUE (book_id, name, currency),
  CHECK (name ~ '^[^:\t\n\r;]+(:[^:\t\n\r;]+)*$' AND name !~ '(^|:) | (:|$)|  ')
);

CREATE TABLE amends.periods (
  book_id      integer NOT NULL REFERENCES amends.books,
  period_start date    NOT NULL CHECK (extract(day FROM period_start) = 1),
  state        text    NOT NULL CHECK (state IN ('open', 'locked', 'closed')),
  version      bigint  NOT NULL DEFAULT 0,
  PRIMARY KEY (book_id, period_start)
);

CREATE TABLE amends.entries (
  book_id         integer     NOT NULL,  -- the book is checked by the insert trigger (amends.writing)
  entry_id        bigint      NOT NULL CHECK (entry_id >= 1),
  date            date        NOT NULL,
  kind            text        NOT NULL DEFAULT 'posted' CHECK (kind IN ('posted', 'pending')),
  description     text        NOT NULL DEFAULT '',
  idempotency_key text        CHECK (idempotency_key <> ''),
  metadata        jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(metadata) = 'array'),
  posting_count   smallint    NOT NULL CHECK (posting_count BETWEEN 1 AND 1024),
  reverses        bigint,
  completes       bigint,
  expires_on      date,
  reason          text,
  period_override boolean     NOT NULL DEFAULT false,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (book_id, entry_id),
  FOREIGN KEY (book_id, reverses) REFERENCES amends.entries,
  FOREIGN KEY (book_id, completes) REFERENCES amends.entries,
  CHECK (expires_on IS NULL OR (kind = 'pending' AND expires_on > date)),
  CHECK (kind = 'posted' OR (reverses IS NULL AND completes IS NULL)),
  CHECK (reverses IS NULL OR completes IS NULL),
  CHECK (reverses IS NULL OR (reason IS NOT NULL AND reason <> ''))
);
CREATE UNIQUE INDEX entries_idempotency_key ON amends.entries (book_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX entries_reverses ON amends.entries (book_id, reverses) WHERE reverses IS NOT NULL;
CREATE UNIQUE INDEX entries_completes ON amends.entries (book_id, completes) WHERE completes IS NOT NULL;

CREATE TABLE amends.postings (
  book_id    integer  NOT NULL,
  entry_id   bigint   NOT NULL,
  line       smallint NOT NULL CHECK (line >= 1),
  account_id integer  NOT NULL,
  amount     numeric  NOT NULL CHECK (amount <> 0),
  PRIMARY KEY (book_id, entry_id, line)
  -- The entry and the account a posting names are checked set-wise by the
  -- insert trigger (one join per statement, not one lookup per row); they
  -- can't go away later: entries and accounts are never deleted.
);

-- How a reservation ended when no entry completed it: voided or expired.
CREATE TABLE amends.resolutions (
  book_id    integer     NOT NULL,
  entry_id   bigint      NOT NULL,
  kind       text        NOT NULL CHECK (kind IN ('voided', 'expired')),
  on_date    date        NOT NULL,
  reason     text        NOT NULL CHECK (reason <> ''),
  version    bigint      NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (book_id, entry_id),
  FOREIGN KEY (book_id, entry_id) REFERENCES amends.entries
);
CREATE INDEX resolutions_version ON amends.resolutions (book_id, version);
CREATE INDEX accounts_version ON amends.accounts (book_id, version);
CREATE INDEX periods_version ON amends.periods (book_id, version);

-- ------------------------------------------------------------------ errors

-- Raises with an amends SQLSTATE; the C++ store maps these to its errors.
--   AM001 unbalanced          AM002 invalid entry        AM003 unknown account
--   AM004 account closed      AM005 currency mismatch    AM006 amount too precise
--   AM007 period closed       AM008 period locked        AM009 period transition
--   AM010 balance limit       AM011 idempotency conflict AM012 entry not found
--   AM013 already reversed    AM014 pending state        AM015 immutable
--   AM016 no write lock       AM017 invalid argument
CREATE FUNCTION amends.fail(code text, message text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message;
END
$$;

-- ------------------------------------------------------------------ the write lock

-- Every write to a book starts here: it takes the book's row lock until the
-- transaction ends, bumps its version and records the change. Called again
-- in the same transaction it returns the same version.
CREATE FUNCTION amends.begin_write(p_book integer, p_operation text, p_token text DEFAULT NULL,
                                   OUT version bigint, OUT previous_version bigint,
                                   OUT last_entry_id bigint, OUT account_count integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, amends AS $$
DECLARE
  b amends.books;
BEGIN
  SELECT * INTO b FROM amends.books WHERE book_id = p_book FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM amends.fail('AM017', format('there is no book %s', p_book));
  END IF;
  IF b.writer_xid IS NOT DISTINCT FROM pg_current_xact_id() THEN
    version := b.version; previous_version := b.version - 1;
    last_entry_id := b.last_entry_id;
    account_count := (SELECT coalesce(max(a.account_id) + 1, 0) FROM amends.accounts a WHERE a.book_id = p_book);
    RETURN;
  END IF;
  PERFORM set_config('amends.in_begin_write', 'on', true);
  UPDATE amends.books AS k
     SET version = k.version + 1, writer_xid = pg_current_xact_id(), tx_first_entry = k.last_entry_id + 1, open_entries = 0,
         tx_special = false
   WHERE k.book_id = p_book;
  PERFORM set_config('amends.in_begin_write', 'off', true);
  INSERT INTO amends.changes (book_id, version, operation, token) VALUES (p_book, b.version + 1, p_operation, p_token);
  version := b.version + 1; previous_version := b.version;
  last_entry_id := b.last_entry_id;
  account_count := (SELECT coalesce(max(a.account_id) + 1, 0) FROM amends.accounts a WHERE a.book_id = p_book);
END
$$;

-- The book row of the current write transaction, or an error.
CREATE FUNCTION amends.writing(p_book integer) RETURNS amends.books
LANGUAGE plpgsql AS $$
DECLARE
  b amends.books;
BEGIN
  SELECT * INTO b FROM amends.books WHERE book_id = p_book;
  IF NOT FOUND THEN
    PERFORM amends.fail('AM017', format('there is no book %s', p_book));
  END IF;
  IF b.writer_xid IS DISTINCT FROM pg_current_xact_id() THEN
    PERFORM amends.fail('AM016', format('writes to book %s need its write lock: call amends.begin_write(%s, ''what'') first in the transaction', p_book, p_book));
  END IF;
  RETURN b;
END
$$;

-- ------------------------------------------------------------------ immutability

CREATE FUNCTION amends.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM amends.fail('AM015', format('%s rows are immutable: %s is refused; post a reversal or a new entry instead',
                                      TG_TABLE_NAME, lower(TG_OP)));
  RETURN NULL;
END
$$;

CREATE TRIGGER immutable BEFORE UPDATE OR DELETE ON amends.entries FOR EACH ROW EXECUTE FUNCTION amends.refuse_change();
CREATE TRIGGER immutable BEFORE UPDATE OR DELETE ON amends.postings FOR EACH ROW EXECUTE FUNCTION amends.refuse_change();
CREATE TRIGGER immutable BEFORE UPDATE OR DELETE ON amends.resolutions FOR EACH ROW EXECUTE FUNCTION amends.refuse_change();
CREATE TRIGGER immutable BEFORE UPDATE OR DELETE ON amends.changes FOR EACH ROW EXECUTE FUNCTION amends.refuse_change();
CREATE TRIGGER immutable_truncate BEFORE TRUNCATE ON amends.entries FOR EACH STATEMENT EXECUTE FUNCTION amends.refuse_change();
CREATE TRIGGER immutable_truncate BEFORE TRUNCATE ON amends.postings FOR EACH STATEMENT EXECUTE FUNCTION amends.refuse_change();
CREATE TRIGGER immutable_truncate BEFORE TRUNCATE ON amends.resolutions FOR EACH STATEMENT EXECUTE FUNCTION amends.refuse_change();
CREATE TRIGGER immutable_truncate BEFORE TRUNCATE ON amends.changes FOR EACH STATEMENT EXECUTE FUNCTION amends.refuse_change();
CREATE TRIGGER immutable_truncate BEFORE TRUNCATE ON amends.accounts FOR EACH STATEMENT EXECUTE FUNCTION amends.refuse_change();
CREATE TRIGGER immutable_truncate BEFORE TRUNCATE ON amends.books FOR EACH STATEMENT EXECUTE FUNCTION amends.refuse_change();
CREATE TRIGGER immutable_truncate BEFORE TRUNCATE ON amends.periods FOR EACH STATEMENT EXECUTE FUNCTION amends.refuse_change();

-- Books: the write state moves only through begin_write and the triggers.
CREATE FUNCTION amends.guard_book() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM amends.fail('AM015', format('book %s can''t be deleted', OLD.book_id));
  END IF;
  IF NEW.book_id <> OLD.book_id OR NEW.name <> OLD.name OR NEW.base_currency <> OLD.base_currency
     OR NEW.fiscal_start_month <> OLD.fiscal_start_month OR NEW.created_at <> OLD.created_at THEN
    PERFORM amends.fail('AM015', format('book %s: its name, currency and calendar never change', OLD.book_id));
  END IF;
  IF (NEW.version, NEW.last_entry_id, NEW.writer_xid, NEW.tx_first_entry, NEW.open_entries, NEW.tx_special)
       IS DISTINCT FROM (OLD.version, OLD.last_entry_id, OLD.writer_xid, OLD.tx_first_entry, OLD.open_entries, OLD.tx_special)
     AND current_setting('amends.in_begin_write', true) IS DISTINCT FROM 'on' THEN
    PERFORM amends.fail('AM015', format('book %s: its write state is kept by amends.begin_write and the posting triggers', OLD.book_id));
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
CREATE TRIGGER guard BEFORE UPDATE OR DELETE ON amends.books FOR EACH ROW EXECUTE FUNCTION amends.guard_book();

-- A new book starts with a clean write state.
CREATE FUNCTION amends.new_book() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.version, NEW.last_entry_id, NEW.writer_xid, NEW.tx_first_entry, NEW.open_entries, NEW.tx_special)
     IS DISTINCT FROM (0::bigint, 0::bigint, NULL::xid8, 1::bigint, 0::bigint, false) THEN
    PERFORM amends.fail('AM017', format('book %s must start with the default write state', NEW.name));
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER fresh BEFORE INSERT ON amends.books FOR EACH ROW EXECUTE FUNCTION amends.new_book();

-- At commit, every entry of the write must have its postings.
CREATE FUNCTION amends.check_complete() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  open_now bigint;
BEGIN
  -- NEW is the row as this update left it; the count that matters is the one at commit.
  SELECT open_entries INTO open_now FROM amends.books WHERE book_id = NEW.book_id;
  IF open_now <> 0 THEN
    PERFORM amends.fail('AM001', format('book %s: %s entries of this transaction have no postings; an entry is committed with its balanced postings or not at all',
                                        NEW.book_id, open_now));
  END IF;
  RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER complete_at_commit AFTER UPDATE ON amends.books
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION amends.check_complete();

-- ------------------------------------------------------------------ accounts

CREATE FUNCTION amends.accounts_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, amends AS $$
DECLARE
  bk record;
  r record;
  b amends.books;
  bad boolean;
BEGIN
  FOR bk IN SELECT DISTINCT book_id FROM new_accounts ORDER BY book_id LOOP
    b := amends.writing(bk.book_id);
    -- Ids are 0, 1, 2, ... with no gap (the primary key rules out repeats).
    SELECT count(*) AS n, max(account_id) AS last_id INTO r FROM amends.accounts WHERE book_id = b.book_id;
    IF r.n <> r.last_id + 1 THEN
      PERFORM amends.fail('AM017', format('account ids of book %s are dense: %s accounts must have ids 0 to %s, but the largest is %s',
                                          b.book_id, r.n, r.n - 1, r.last_id));
    END IF;
  END LOOP;
  -- Many new accounts: one hash join against the book's accounts. (A nested
  -- loop can pick the (book_id, version) index and read every account of
  -- the book once per new one while the statistics still think it small.)
  IF (SELECT count(*) FROM new_accounts) > 100 THEN
    PERFORM set_config('enable_nestloop', 'off', true);
  END IF;
  SELECT n.name, n.currency, n.type, a.type AS other_type,
         (n.posted <> 0 OR n.pending_debits <> 0 OR n.pending_credits <> 0 OR n.closed) AS not_fresh,
         (min_scale(n.min_normal) > c.minor_units OR min_scale(n.max_normal) > c.minor_units) AS too_fine,
         n.min_normal > n.max_normal AS crossed, c.minor_units INTO r
    FROM new_accounts n
    JOIN amends.currencies c ON c.code = n.currency
    LEFT JOIN amends.accounts a ON a.book_id = n.book_id AND a.name = n.name AND a.type <> n.type
   WHERE a.account_id IS NOT NULL OR n.posted <> 0 OR n.pending_debits <> 0 OR n.pending_credits <> 0 OR n.closed
      OR min_scale(n.min_normal) > c.minor_units OR min_scale(n.max_normal) > c.minor_units OR n.min_normal > n.max_normal
   LIMIT 1;
  bad := FOUND;
  PERFORM set_config('enable_nestloop', 'on', true);
  IF bad THEN
    IF r.other_type IS NOT NULL THEN
      PERFORM amends.fail('AM017', format('account %s is a %s account in another currency; it can''t be a %s account in %s', r.name, r.other_type, r.type, r.currency));
    ELSIF r.not_fresh THEN
      PERFORM amends.fail('AM017', format('account %s must open with zero balances and not closed', r.name));
    ELSIF r.too_fine THEN
      PERFORM amends.fail('AM006', format('the limits of %s are finer than %s''s %s minor digits', r.name, r.currency, r.minor_units));
    ELSE
      PERFORM amends.fail('AM017', format('account %s: its minimum is above its maximum', r.name));
    END IF;
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION amends.check_limit_precision(a amends.accounts) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  places smallint;
BEGIN
  SELECT minor_units INTO places FROM amends.currencies WHERE code = a.currency;
  IF a.min_normal IS NOT NULL AND a.min_normal <> round(a.min_normal, places) OR
     a.max_normal IS NOT NULL AND a.max_normal <> round(a.max_normal, places) THEN
    PERFORM amends.fail('AM006', format('the limits of %s are finer than %s''s %s minor digits', a.name, a.currency, places));
  END IF;
  IF a.min_normal IS NOT NULL AND a.max_normal IS NOT NULL AND a.min_normal > a.max_normal THEN
    PERFORM amends.fail('AM017', format('account %s: minimum %s above maximum %s', a.name, a.min_normal, a.max_normal));
  END IF;
END
$$;

CREATE FUNCTION amends.account_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  b amends.books;
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM amends.fail('AM015', format('account %s can''t be deleted; close it instead', OLD.name));
  END IF;
  IF (NEW.book_id, NEW.account_id, NEW.name, NEW.currency, NEW.type) IS DISTINCT FROM (OLD.book_id, OLD.account_id, OLD.name, OLD.currency, OLD.type) THEN
    PERFORM amends.fail('AM015', format('account %s: its id, name, currency and type never change', OLD.name));
  END IF;
  IF pg_trigger_depth() < 2 AND (NEW.posted, NEW.pending_debits, NEW.pending_credits) IS DISTINCT FROM (OLD.posted, OLD.pending_debits, OLD.pending_credits) THEN
    PERFORM amends.fail('AM015', format('account %s: balances change only by posting', OLD.name));
  END IF;
  IF pg_trigger_depth() >= 2 THEN
    RETURN NEW;  -- the posting triggers moving the running totals
  END IF;
  IF (NEW.closed, NEW.min_normal, NEW.max_normal, NEW.dimensions) IS DISTINCT FROM (OLD.closed, OLD.min_normal, OLD.max_normal, OLD.dimensions) THEN
    b := amends.writing(NEW.book_id);
    IF OLD.closed AND NOT NEW.closed THEN
      PERFORM amends.fail('AM004', format('account %s is closed; it can''t be reopened', OLD.name));
    END IF;
    IF NEW.closed AND NOT OLD.closed AND (NEW.posted <> 0 OR NEW.pending_debits <> 0 OR NEW.pending_credits <> 0) THEN
      PERFORM amends.fail('AM017', format('account %s still holds %s %s posted and open reservations; it can be closed only at zero', OLD.name, NEW.posted, NEW.currency));
    END IF;
    IF NEW.dimensions IS DISTINCT FROM OLD.dimensions THEN
      PERFORM amends.fail('AM015', format('account %s: its dimensions never change', OLD.name));
    END IF;
    PERFORM amends.check_limit_precision(NEW);
    NEW.version := b.version;
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER insert_checks AFTER INSERT ON amends.accounts REFERENCING NEW TABLE AS new_accounts
  FOR EACH STATEMENT EXECUTE FUNCTION amends.accounts_inserted();
-- The posting triggers move the running totals of many accounts at once;
-- this check runs only for the changes that are not theirs.
CREATE TRIGGER update_checks BEFORE UPDATE ON amends.accounts FOR EACH ROW
  WHEN (pg_trigger_depth() < 1 OR (OLD.book_id, OLD.account_id, OLD.name, OLD.currency, OLD.type, OLD.closed, OLD.min_normal, OLD.max_normal, OLD.dimensions)
        IS DISTINCT FROM (NEW.book_id, NEW.account_id, NEW.name, NEW.currency, NEW.type, NEW.closed, NEW.min_normal, NEW.max_normal, NEW.dimensions))
  EXECUTE FUNCTION amends.account_update();
CREATE TRIGGER delete_checks BEFORE DELETE ON amends.accounts FOR EACH ROW EXECUTE FUNCTION amends.account_update();

-- ------------------------------------------------------------------ periods

CREATE FUNCTION amends.period_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  b amends.books;
  old_state text := 'open';
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM amends.fail('AM015', format('period rows can''t be deleted; set the period''s state instead', ''));
  END IF;
  b := amends.writing(NEW.book_id);
  IF TG_OP = 'UPDATE' THEN
    IF (NEW.book_id, NEW.period_start) IS DISTINCT FROM (OLD.book_id, OLD.period_start) THEN
      PERFORM amends.fail('AM015', 'a period row keeps its book and month');
    END IF;
    old_state := OLD.state;
  END IF;
  IF old_state = 'closed' AND NEW.state <> 'closed' THEN
    PERFORM amends.fail('AM009', format('period %s is closed; it can''t be %s', to_char(NEW.period_start, 'YYYY-MM'),
                                        CASE NEW.state WHEN 'open' THEN 'reopened' ELSE 'locked' END));
  END IF;
  NEW.version := b.version;
  RETURN NEW;
END
$$;
CREATE TRIGGER transitions BEFORE INSERT OR UPDATE OR DELETE ON amends.periods FOR EACH ROW EXECUTE FUNCTION amends.period_change();

-- ------------------------------------------------------------------ entries

CREATE FUNCTION amends.entries_inserted() RETURNS trigger
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
    FROM new_entries n JOIN amends.entries o ON o.book_id = n.book_id AND o.entry_id = n.reverses
   WHERE o.kind <> 'posted' OR o.reverses IS NOT NULL OR n.date < o.date OR o.entry_id >= n.entry_id
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
    FROM new_entries n JOIN amends.entries o ON o.book_id = n.book_id AND o.entry_id = n.completes
   WHERE o.kind <> 'pending' OR n.date < o.date OR (o.expires_on IS NOT NULL AND n.date >= o.expires_on)
      OR EXISTS (SELECT 1 FROM amends.resolutions s WHERE s.book_id = o.book_id AND s.entry_id = o.entry_id)
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
CREATE TRIGGER checks AFTER INSERT ON amends.entries REFERENCING NEW TABLE AS new_entries
  FOR EACH STATEMENT EXECUTE FUNCTION amends.entries_inserted();

-- ------------------------------------------------------------------ postings

-- Applies per-account changes to the running totals, in account order (the
-- lock order), and refuses any that would take a limited account past its
-- limit in the direction it is moving (the C++ core's rule).
CREATE FUNCTION amends.apply_deltas(p_book integer, ids integer[], d_posted numeric[], d_debits numeric[], d_credits numeric[])
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, amends AS $$
DECLARE
  r record;
BEGIN
  IF ids IS NULL OR cardinality(ids) = 0 THEN
    RETURN;
  END IF;
  -- The lock order: account id, ascending.
  PERFORM 1 FROM amends.accounts WHERE book_id = p_book AND account_id = ANY (ids) ORDER BY account_id FOR UPDATE;
  SELECT * INTO r FROM (
    SELECT a.name, a.currency, a.min_normal, a.max_normal,
           CASE WHEN s = 1 THEN p0 - pc0 ELSE -p0 - pd0 END AS low0,
           CASE WHEN s = 1 THEN p1 - pc1 ELSE -p1 - pd1 END AS low1,
           CASE WHEN s = 1 THEN p0 + pd0 ELSE -p0 + pc0 END AS high0,
           CASE WHEN s = 1 THEN p1 + pd1 ELSE -p1 + pc1 END AS high1,
           pd1, pc1
      FROM (SELECT a.*, CASE WHEN a.type IN ('asset', 'expense', 'contra_revenue', 'memo') THEN 1 ELSE -1 END AS s,
                   a.posted AS p0, a.pending_debits AS pd0, a.pending_credits AS pc0,
                   a.posted + d.dp AS p1, a.pending_debits + d.dd AS pd1, a.pending_credits + d.dc AS pc1
              FROM amends.accounts a
              JOIN unnest(ids, d_posted, d_debits, d_credits) AS d(id, dp, dd, dc) ON a.account_id = d.id
             WHERE a.book_id = p_book AND (a.min_normal IS NOT NULL OR a.max_normal IS NOT NULL OR d.dd < 0 OR d.dc < 0)) a
  ) x
  WHERE (min_normal IS NOT NULL AND low1 < min_normal AND low1 < low0)
     OR (max_normal IS NOT NULL AND high1 > max_normal AND high1 > high0)
     OR pd1 < 0 OR pc1 < 0
  LIMIT 1;
  IF FOUND THEN
    IF r.pd1 < 0 OR r.pc1 < 0 THEN
      PERFORM amends.fail('AM014', format('account %s: reservations released twice', r.name));
    ELSIF r.min_normal IS NOT NULL AND r.low1 < r.min_normal AND r.low1 < r.low0 THEN
      PERFORM amends.fail('AM010', format('this would take %s to %s %s (its normal balance, counting open reservations), below its limit of %s',
                                          r.name, r.low1, r.currency, r.min_normal));
    ELSE
      PERFORM amends.fail('AM010', format('this would take %s to %s %s (its normal balance, counting open reservations), above its limit of %s',
                                          r.name, r.high1, r.currency, r.max_normal));
    END IF;
  END IF;
  UPDATE amends.accounts a
     SET posted = a.posted + d.dp, pending_debits = a.pending_debits + d.dd, pending_credits = a.pending_credits + d.dc
    FROM unnest(ids, d_posted, d_debits, d_credits) AS d(id, dp, dd, dc)
   WHERE a.book_id = p_book AND a.account_id = d.id;
END
$$;

CREATE FUNCTION amends.postings_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, amends AS $$
DECLARE
  bk record;
  r record;
  b amends.books;
  ids integer[];
  dp numeric[];
  dd numeric[];
  dc numeric[];
  unknown_id integer;
  closed_name text;
  fine_name text;
  v_several boolean;
  fine_ids integer[];
  currency_of smallint[];
  v_entries bigint;
  bad_count bigint;
  bad_entry bigint;
  v_multi boolean;
  declared smallint;
BEGIN
  FOR bk IN SELECT book_id, count(*) AS n FROM new_postings GROUP BY book_id ORDER BY book_id LOOP
    b := amends.writing(bk.book_id);
    IF bk.n > 500 THEN
      -- A bulk insert: hash the joins and aggregates in memory.
      PERFORM set_config('enable_nestloop', 'off', true);
      PERFORM set_config('work_mem', '512MB', true);
    END IF;

    -- The accounts the postings name: known, open, amounts in their minor
    -- units; and (for ordinary entries) how much each account moves.
    SELECT array_agg(t.account_id ORDER BY t.account_id), array_agg(t.total ORDER BY t.account_id),
           min(t.account_id) FILTER (WHERE a.account_id IS NULL),
           min(a.name) FILTER (WHERE a.closed),
           array_agg(t.account_id) FILTER (WHERE t.places > c.minor_units),
           count(DISTINCT a.currency) > 1
      INTO ids, dp, unknown_id, closed_name, fine_ids, v_several
      FROM (SELECT account_id, sum(amount) AS total, max(scale(amount)) AS places
              FROM new_postings WHERE book_id = b.book_id GROUP BY account_id) t
      LEFT JOIN amends.accounts a ON a.book_id = b.book_id AND a.account_id = t.account_id
      LEFT JOIN amends.currencies c ON c.code = a.currency;
    IF unknown_id IS NOT NULL THEN
      PERFORM amends.fail('AM003', format('a posting names account %s, which book %s does not have', unknown_id, b.book_id));
    ELSIF closed_name IS NOT NULL THEN
      PERFORM amends.fail('AM004', format('account %s is closed; it takes no postings', closed_name));
    END IF;
    IF fine_ids IS NOT NULL THEN
      -- Written with more digits than the currency has: are any of them not zeros?
      SELECT a.name INTO fine_name
        FROM new_postings n
        JOIN amends.accounts a ON a.book_id = n.book_id AND a.account_id = n.account_id
        JOIN amends.currencies c ON c.code = a.currency
       WHERE n.book_id = b.book_id AND n.account_id = ANY (fine_ids) AND min_scale(n.amount) > c.minor_units
       LIMIT 1;
      IF fine_name IS NOT NULL THEN
        PERFORM amends.fail('AM006', format('a posting to %s is finer than its currency''s minor unit', fine_name));
      END IF;
    END IF;
    IF v_several THEN
      -- Each account's currency by id (ids are dense), for the per-entry check.
      SELECT array_agg(c.numeric ORDER BY a.account_id) INTO currency_of
        FROM amends.accounts a JOIN amends.currencies c ON c.code = a.currency WHERE a.book_id = b.book_id;
    END IF;

    -- Sorted aggregation: postings arrive in entry order, and a hash table of
    -- a million groups costs twice as much.
    IF bk.n > 500 THEN
      PERFORM set_config('enable_hashagg', 'off', true);
    END IF;
    -- The entries: each of this transaction, with all of its lines in this
    -- statement, balanced (per currency: entries in one currency by their
    -- sum here, entries in several by the exact check below).
    SELECT count(*), count(*) FILTER (WHERE bad), min(entry_id) FILTER (WHERE bad), coalesce(bool_or(multi), false)
      INTO v_entries, bad_count, bad_entry, v_multi
      FROM (SELECT p.entry_id, p.c1 <> p.c2 AS multi,
                   (e.entry_id IS NULL OR p.n <> e.posting_count OR p.f <> 1 OR p.l <> e.posting_count
                    OR (p.c1 = p.c2 AND p.total <> 0)) AS bad
              FROM (SELECT n.entry_id, count(*) AS n, min(n.line) AS f, max(n.line) AS l, sum(n.amount) AS total,
                           min(currency_of[n.account_id + 1]) AS c1, max(currency_of[n.account_id + 1]) AS c2
                      FROM new_postings n
                     WHERE n.book_id = b.book_id AND v_several
                     GROUP BY n.entry_id
                    UNION ALL
                    SELECT entry_id, count(*), min(line), max(line), sum(amount), 0, 0
                      FROM new_postings
                     WHERE book_id = b.book_id AND NOT v_several
                     GROUP BY entry_id) p
              LEFT JOIN (SELECT entry_id, posting_count FROM amends.entries
                          WHERE book_id = b.book_id AND entry_id >= b.tx_first_entry) e ON e.entry_id = p.entry_id) x;
    PERFORM set_config('enable_hashagg', 'on', true);
    IF bad_count > 0 THEN
      SELECT count(*) AS n, min(line) AS first_line, max(line) AS last_line, sum(amount) AS total INTO r
        FROM new_postings WHERE book_id = b.book_id AND entry_id = bad_entry;
      SELECT posting_count INTO declared FROM amends.entries
       WHERE book_id = b.book_id AND entry_id = bad_entry AND entry_id >= b.tx_first_entry;
      IF declared IS NULL THEN
        IF EXISTS (SELECT 1 FROM amends.entries WHERE book_id = b.book_id AND entry_id = bad_entry) THEN
          PERFORM amends.fail('AM015', format('entry %s is committed; its postings never change', bad_entry));
        END IF;
        PERFORM amends.fail('AM012', format('there is no entry %s in book %s for these postings', bad_entry, b.book_id));
      ELSIF r.n <> declared OR r.first_line <> 1 OR r.last_line <> declared THEN
        PERFORM amends.fail('AM001', format('entry %s has %s postings (lines %s to %s); it declares %s, and they are inserted together in one statement',
                                            bad_entry, r.n, r.first_line, r.last_line, declared));
      END IF;
      PERFORM amends.fail('AM001', format('entry %s does not balance: its postings sum to %s', bad_entry, r.total));
    END IF;
    IF v_multi THEN
      SELECT n.entry_id, a.currency, sum(n.amount) AS total INTO r
        FROM new_postings n JOIN amends.accounts a ON a.book_id = n.book_id AND a.account_id = n.account_id
       WHERE n.book_id = b.book_id
       GROUP BY n.entry_id, a.currency HAVING sum(n.amount) <> 0
       LIMIT 1;
      IF FOUND THEN
        PERFORM amends.fail('AM001', format('entry %s does not balance: its %s postings sum to %s', r.entry_id, r.currency, r.total));
      END IF;
    END IF;

    IF b.tx_special THEN
      -- Reversals and completions look up the entries they name, one by
      -- one through the primary keys: a hash join would read the whole book.
      PERFORM set_config('enable_nestloop', 'on', true);
      -- A reversal mirrors its entry line by line.
      SELECT n.entry_id, e.reverses INTO r
        FROM new_postings n
        JOIN amends.entries e ON e.book_id = n.book_id AND e.entry_id = n.entry_id AND e.entry_id >= b.tx_first_entry
        LEFT JOIN amends.postings o ON o.book_id = n.book_id AND o.entry_id = e.reverses AND o.line = n.line
       WHERE n.book_id = b.book_id AND e.reverses IS NOT NULL
         AND (o.entry_id IS NULL OR o.account_id <> n.account_id OR o.amount <> -n.amount
              OR e.posting_count <> (SELECT posting_count FROM amends.entries x WHERE x.book_id = e.book_id AND x.entry_id = e.reverses))
       LIMIT 1;
      IF FOUND THEN
        PERFORM amends.fail('AM002', format('entry %s must mirror entry %s line by line to reverse it', r.entry_id, r.reverses));
      END IF;

      -- A completion posts no more than was reserved, per account and side.
      SELECT c.entry_id, c.completes, c.account_id INTO r
        FROM (SELECT e.entry_id, e.completes, n.account_id, sign(n.amount) AS side, sum(n.amount) AS amount
                FROM new_postings n
                JOIN amends.entries e ON e.book_id = n.book_id AND e.entry_id = n.entry_id AND e.entry_id >= b.tx_first_entry
               WHERE n.book_id = b.book_id AND e.completes IS NOT NULL
               GROUP BY e.entry_id, e.completes, n.account_id, sign(n.amount)) c
        LEFT JOIN LATERAL (SELECT sum(o.amount) AS amount FROM amends.postings o
                            WHERE o.book_id = b.book_id AND o.entry_id = c.completes AND o.account_id = c.account_id
                              AND sign(o.amount) = c.side) p ON true
       WHERE p.amount IS NULL OR abs(c.amount) > abs(p.amount)
       LIMIT 1;
      IF FOUND THEN
        PERFORM amends.fail('AM002', format('entry %s posts more to account %s than reservation %s holds', r.entry_id, r.account_id, r.completes));
      END IF;

      -- Running totals: posted entries move posted; reservations move the
      -- pending sides; a completion releases its reservation.
      WITH moves AS (
        SELECT n.account_id,
               CASE WHEN e.kind = 'posted' THEN n.amount ELSE 0 END AS d_posted,
               CASE WHEN e.kind = 'pending' AND n.amount > 0 THEN n.amount ELSE 0 END AS d_debits,
               CASE WHEN e.kind = 'pending' AND n.amount < 0 THEN -n.amount ELSE 0 END AS d_credits
          FROM new_postings n
          JOIN (SELECT entry_id, kind FROM amends.entries WHERE book_id = b.book_id AND entry_id >= b.tx_first_entry) e
            ON e.entry_id = n.entry_id
         WHERE n.book_id = b.book_id
        UNION ALL
        SELECT o.account_id, 0,
               CASE WHEN o.amount > 0 THEN -o.amount ELSE 0 END,
               CASE WHEN o.amount < 0 THEN o.amount ELSE 0 END
          FROM amends.postings o
         WHERE o.book_id = b.book_id
           AND o.entry_id IN (SELECT e.completes FROM amends.entries e
                               WHERE e.book_id = b.book_id AND e.entry_id >= b.tx_first_entry AND e.completes IS NOT NULL
                                 AND e.entry_id IN (SELECT entry_id FROM new_postings))
      ), s AS (
        SELECT account_id, sum(d_posted) AS d_posted, sum(d_debits) AS d_debits, sum(d_credits) AS d_credits
          FROM moves GROUP BY account_id
      )
      SELECT array_agg(account_id ORDER BY account_id), array_agg(d_posted ORDER BY account_id),
             array_agg(d_debits ORDER BY account_id), array_agg(d_credits ORDER BY account_id)
        INTO ids, dp, dd, dc FROM s;
    ELSE
      -- Ordinary entries only: posted totals move by the sums found above.
      SELECT array_agg(0::numeric), array_agg(0::numeric) INTO dd, dc FROM unnest(ids);
    END IF;
    PERFORM set_config('enable_nestloop', 'on', true);
    PERFORM amends.apply_deltas(b.book_id, ids, dp, dd, dc);

    PERFORM set_config('amends.in_begin_write', 'on', true);
    UPDATE amends.books
       SET open_entries = open_entries - v_entries
     WHERE book_id = b.book_id;
    PERFORM set_config('amends.in_begin_write', 'off', true);
  END LOOP;
  RETURN NULL;
END
$$;
CREATE TRIGGER checks AFTER INSERT ON amends.postings REFERENCING NEW TABLE AS new_postings
  FOR EACH STATEMENT EXECUTE FUNCTION amends.postings_inserted();

-- ------------------------------------------------------------------ resolutions

CREATE FUNCTION amends.resolution_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, amends AS $$
DECLARE
  b amends.books;
  e amends.entries;
  ids integer[];
  dp numeric[];
  dd numeric[];
  dc numeric[];
BEGIN
  b := amends.writing(NEW.book_id);
  SELECT * INTO e FROM amends.entries WHERE book_id = NEW.book_id AND entry_id = NEW.entry_id;
  IF NOT FOUND THEN
    PERFORM amends.fail('AM012', format('there is no entry %s', NEW.entry_id));
  END IF;
  IF e.kind <> 'pending' THEN
    PERFORM amends.fail('AM014', format('entry %s is not a reservation', NEW.entry_id));
  END IF;
  IF EXISTS (SELECT 1 FROM amends.entries WHERE book_id = NEW.book_id AND completes = NEW.entry_id) THEN
    PERFORM amends.fail('AM014', format('reservation %s was already posted', NEW.entry_id));
  END IF;
  IF NOT EXISTS (SELECT 1 FROM amends.postings WHERE book_id = NEW.book_id AND entry_id = NEW.entry_id) THEN
    PERFORM amends.fail('AM014', format('reservation %s has no postings yet; it can be resolved once they are written', NEW.entry_id));
  END IF;
  IF NEW.on_date < e.date THEN
    PERFORM amends.fail('AM002', format('reservation %s of %s can''t be %s on %s', NEW.entry_id, e.date, NEW.kind, NEW.on_date));
  END IF;
  IF NEW.kind = 'expired' AND (e.expires_on IS NULL OR NEW.on_date <> e.expires_on) THEN
    PERFORM amends.fail('AM014', format('reservation %s expires %s; it can''t have expired on %s', NEW.entry_id, coalesce(e.expires_on::text, 'never'), NEW.on_date));
  END IF;
  SELECT array_agg(account_id ORDER BY account_id), array_agg(0::numeric ORDER BY account_id),
         array_agg(d_debits ORDER BY account_id), array_agg(d_credits ORDER BY account_id)
    INTO ids, dp, dd, dc
    FROM (SELECT account_id, sum(CASE WHEN amount > 0 THEN -amount ELSE 0 END) AS d_debits,
                 sum(CASE WHEN amount < 0 THEN amount ELSE 0 END) AS d_credits
            FROM amends.postings WHERE book_id = NEW.book_id AND entry_id = NEW.entry_id GROUP BY account_id) s;
  PERFORM amends.apply_deltas(NEW.book_id, ids, dp, dd, dc);
  NEW.version := b.version;
  RETURN NEW;
END
$$;
CREATE TRIGGER checks BEFORE INSERT ON amends.resolutions FOR EACH ROW EXECUTE FUNCTION amends.resolution_insert();

-- ------------------------------------------------------------------ privileges

-- The application role: it reads everything and writes only through inserts
-- (and the few account and period changes amends makes); it can't update or
-- delete an entry, a posting, a resolution or the change log.
REVOKE ALL ON ALL TABLES IN SCHEMA amends FROM PUBLIC;
GRANT USAGE ON SCHEMA amends TO amends_app;
GRANT SELECT ON ALL TABLES IN SCHEMA amends TO amends_app;
GRANT INSERT ON amends.accounts, amends.periods, amends.entries, amends.postings, amends.resolutions TO amends_app;
GRANT INSERT (name, base_currency, fiscal_start_month) ON amends.books TO amends_app;
GRANT UPDATE (closed, min_normal, max_normal) ON amends.accounts TO amends_app;
GRANT UPDATE (state) ON amends.periods TO amends_app;
-- Functions: begin_write for every writer; the helpers the non-definer
-- triggers call; nothing else (apply_deltas moves balances: owner only).
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA amends FROM PUBLIC;
GRANT EXECUTE ON FUNCTION amends.begin_write(integer, text, text), amends.fail(text, text), amends.writing(integer),
                          amends.new_book(),
                          amends.check_limit_precision(amends.accounts) TO amends_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA amends TO amends_app;
