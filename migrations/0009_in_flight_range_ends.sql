-- colt-orders schema 9: the overlap check finds the rows in flight by where their ranges end.
--
-- Before a row is sent, the daemon checks that no other row whose range overlaps it is waiting
-- for Colt (invariant 3): one NOT EXISTS for each state that waits. For `submitting` rows (in
-- flight, or claimed a window ahead), and for `retrying` and `reconciling` ones, that NOT EXISTS
-- sought requests_state by id and then read every such row: about 64 rows for each row claimed
-- in a drain with 32 in flight (BENCHMARKS.md, 2026-12-08).
--
-- Two ranges overlap when each starts before the other ends. These indexes hold the rows of one
-- state each, by where their range ends, so the check seeks straight to the rows that end at or
-- after the candidate's start: none at all in the common case, where rows are queued in the
-- order of their numbers, and never more than those of the state in any order. Each is partial
-- on one state (`state = '...'`, the form a query's own `o.state = '...'` matches), so a row is
-- in one only while it is in that state. The end is CAST to text so that the index, like the
-- column it is compared with, has text affinity, without which SQLite cannot seek it. For the
-- text the table's checks allow, the CAST changes nothing; a BLOB range (the checks bypassed)
-- is never in these states: a claim makes such a row invalid, and a range cannot change once
-- its row has left queued.

CREATE INDEX requests_submitting_ends ON requests(CAST(coalesce(range_end, range_start) AS TEXT)) WHERE state = 'submitting';
CREATE INDEX requests_retrying_ends ON requests(CAST(coalesce(range_end, range_start) AS TEXT)) WHERE state = 'retrying';
CREATE INDEX requests_reconciling_ends ON requests(CAST(coalesce(range_end, range_start) AS TEXT)) WHERE state = 'reconciling';
