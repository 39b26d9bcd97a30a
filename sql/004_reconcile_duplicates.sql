-- amends schema, version 4: billing ids that come more than once.
--
-- A billing id seen again with the same content is an identical_duplicate
-- (the first counts); seen with different content, every row of it is a
-- conflicting_duplicate, and so is a ledger item those rows leave in doubt.
-- Their proposed corrections: check_repeated_id (was it issued twice?) and
-- resolve_conflicting_id (which content does billing hold?). The checks of
-- 003_reconciliation.sql are replaced by ones that know them.

ALTER TABLE amends.reconciliation_items DROP CONSTRAINT reconciliation_items_outcome_check;
ALTER TABLE amends.reconciliation_items ADD CONSTRAINT reconciliation_items_outcome_check
  CHECK (outcome IN ('matched', 'amount_mismatch', 'missing_in_billing', 'missing_in_ledger', 'duplicate',
                     'identical_duplicate', 'conflicting_duplicate', 'status_problem', 'not_applicable'));

ALTER TABLE amends.reconciliation_corrections DROP CONSTRAINT reconciliation_corrections_action_check;
ALTER TABLE amends.reconciliation_corrections ADD CONSTRAINT reconciliation_corrections_action_check
  CHECK (action IN ('apply_in_billing', 'investigate_unauthorised', 'reverse_refund', 'reissue_or_reverse',
                    'void_duplicate', 'adjust', 'check_repeated_id', 'resolve_conflicting_id'));
