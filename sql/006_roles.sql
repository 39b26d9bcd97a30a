-- amends schema, version 6: the roles, for least privilege.
--
-- Who may do what (see "Roles" in sql/README.md):
--   * the owner: the login that runs `amends db migrate` and owns schema
--     amends; the only one that changes the schema. Nobody else needs CREATE;
--   * amends_app (001): everyday work, every ledger, desk and reconciliation
--     operation amends makes; reads everything, inserts, and updates only the
--     columns amends moves; no DDL;
--   * amends_service: the role the HTTP service will log in through; today a
--     member of amends_app and nothing more;
--   * amends_admin: the role the administration of people, limits and budgets
--     will be given to; today a member of amends_app and nothing more;
--   * amends_auditor: read only, SELECT on every table and view of schema
--     amends (also those later migrations add), nothing else.
-- None of them can log in: logins are made per person or service and granted
-- one of them (CREATE ROLE clerk LOGIN IN ROLE amends_app).
--
-- Roles belong to the server, not to a database: a second database on the
-- same server finds them made, and a membership already granted is left as
-- it is.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'amends_service') THEN
    CREATE ROLE amends_service NOLOGIN;
    COMMENT ON ROLE amends_service IS 'amends: the HTTP service''s role; everyday work through amends_app';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'amends_admin') THEN
    CREATE ROLE amends_admin NOLOGIN;
    COMMENT ON ROLE amends_admin IS 'amends: administers people, limits and budgets; today everyday work through amends_app';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'amends_auditor') THEN
    CREATE ROLE amends_auditor NOLOGIN;
    COMMENT ON ROLE amends_auditor IS 'amends: reads every table of schema amends, writes nothing';
  END IF;
  IF NOT pg_has_role('amends_service', 'amends_app', 'MEMBER') THEN
    GRANT amends_app TO amends_service;
  END IF;
  IF NOT pg_has_role('amends_admin', 'amends_app', 'MEMBER') THEN
    GRANT amends_app TO amends_admin;
  END IF;
  -- PostgreSQL 15 no longer lets PUBLIC create in schema public; older
  -- servers do, which would give every login DDL there.
  IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public') THEN
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
  END IF;
END
$$;

-- Nobody but the owner creates in schema amends (PUBLIC never had it; said
-- here so it stays true).
REVOKE CREATE ON SCHEMA amends FROM PUBLIC;

-- The auditor reads: the tables and views there are, and those the owner
-- creates later (default privileges of the migrating role).
GRANT USAGE ON SCHEMA amends TO amends_auditor;
GRANT SELECT ON ALL TABLES IN SCHEMA amends TO amends_auditor;
ALTER DEFAULT PRIVILEGES IN SCHEMA amends GRANT SELECT ON TABLES TO amends_auditor;
