-- colt-orders schema 5: indexes for the operator's web page (and anyone at the sqlite3 prompt),
-- so its searches and plots stay fast on a ledger of millions of rows. No table changes.

-- Search by a number that lies inside a range. A number N lies in [range_start, range_end]
-- exactly when range_start <= N <= range_end; an index on range_start alone cannot bound that
-- scan (any earlier start might begin a huge range). So rows are indexed by their span's
-- number of digits first: a row whose span (range_end - range_start) has D digits starts at
-- most 10^D - 1 numbers below N, and the search seeks each D's short stretch of the index.
-- The expression is repeated word for word by Ledger.search (SQLite matches it literally).
--
--   -- which rows hold +442071234567?
--   SELECT id, range_start, range_end, state FROM requests
--   WHERE range_start <= '+442071234567' AND coalesce(range_end, range_start) >= '+442071234567'
--     AND length(range_start) = length('+442071234567');
CREATE INDEX requests_number_search ON requests(
    length(CAST(CAST(substr(coalesce(range_end, range_start), 2) AS INTEGER) - CAST(substr(range_start, 2) AS INTEGER) AS TEXT)),
    range_start);

-- Rows by age (the page's age filter), and orders completed per hour with their time to completion.
CREATE INDEX requests_created ON requests(created_at);
CREATE INDEX requests_completed ON requests(completed_at, first_attempt_at) WHERE completed_at IS NOT NULL;

-- Orders Colt accepted, per hour.
CREATE INDEX attempts_accepted ON attempts(ended_at) WHERE outcome = 'accepted';

-- The rows that need an operator: few, but found among millions. The stalled and unexpected
-- counts read this index alone, and ledger_attention (made again below, its columns and rows
-- unchanged) seeks these rows and the reconciling and unresolved ones by index instead of
-- reading the whole table.
CREATE INDEX requests_attention ON requests(state) WHERE attention IS NOT NULL;

DROP VIEW ledger_attention;
CREATE VIEW ledger_attention AS
SELECT id, action, country,
       CASE WHEN range_end IS NULL OR range_end = range_start THEN range_start
            ELSE range_start || '..' || range_end END AS range,
       state, tracking_id, order_id, order_status,
       CASE WHEN state = 'reconciling' THEN 'awaiting reconciliation: ' || coalesce(last_error, 'an attempt''s outcome is unknown')
            WHEN state = 'unresolved' THEN coalesce(attention, last_error)
            ELSE attention END AS reason,
       lookups, next_attempt_at, checked_at, updated_at
FROM requests
WHERE id IN (SELECT id FROM requests WHERE state IN ('reconciling', 'unresolved')
             UNION ALL SELECT id FROM requests WHERE attention IS NOT NULL);
