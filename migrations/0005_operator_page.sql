-- colt-orders schema 5: for the operator's web page (and anyone at the sqlite3 prompt), so its
-- searches and plots stay fast on a ledger of millions of rows: indexes, hourly totals kept by
-- triggers, and ledger_attention made to seek by index. The requests table is unchanged.

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

-- Rows by age: the page's "less than N old" filter finds the lowest id it can show here.
CREATE INDEX requests_created ON requests(created_at);

-- The order a run of numbers carried, for a search by order id.
CREATE INDEX order_numbers_order_id ON order_numbers(order_id) WHERE order_id IS NOT NULL;

-- Orders accepted and completed per hour (UTC, '2026-12-01T13'), and how long completed orders
-- took from their first send, kept by the triggers below as the attempts and rows are written,
-- so the page's plots read a few hundred rows however many orders a week holds. History: the
-- rows stay when the requests are pruned.
--
--   SELECT * FROM hourly_orders ORDER BY hour DESC LIMIT 24;
CREATE TABLE hourly_orders (
    hour      TEXT PRIMARY KEY,
    accepted  INTEGER NOT NULL DEFAULT 0,   -- attempts Colt answered with an order
    completed INTEGER NOT NULL DEFAULT 0    -- rows that became completed
) WITHOUT ROWID;

-- bin: how long from first_attempt_at to completed_at, in steps of about 1.5x; bin 0 is under
-- 10 s, then 10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 450, 600, 900, 1200, 1800, 2700, 3600,
-- 5400, 7200, 10800, 14400, 21600, 28800, 43200, 64800, 86400, 129600, 172800, 259200, 345600,
-- 432000, 604800, 1209600, 2592000 s and more (CompletionTimes.bins in the code).
CREATE TABLE hourly_completion_times (
    hour   TEXT NOT NULL,
    bin    INTEGER NOT NULL,
    orders INTEGER NOT NULL,
    PRIMARY KEY (hour, bin)
) WITHOUT ROWID;

INSERT INTO hourly_orders (hour, accepted)
SELECT substr(ended_at, 1, 13), count(*) FROM attempts WHERE outcome = 'accepted' AND ended_at IS NOT NULL GROUP BY 1;
INSERT INTO hourly_orders (hour, completed)
SELECT substr(completed_at, 1, 13), count(*) FROM requests WHERE state = 'completed' AND completed_at IS NOT NULL GROUP BY 1
ON CONFLICT (hour) DO UPDATE SET completed = excluded.completed;
WITH durations AS MATERIALIZED (
    SELECT substr(completed_at, 1, 13) AS hour, (julianday(completed_at) - julianday(first_attempt_at)) * 86400 AS s
    FROM requests WHERE state = 'completed' AND completed_at IS NOT NULL AND first_attempt_at IS NOT NULL)
INSERT INTO hourly_completion_times (hour, bin, orders)
SELECT hour, CASE WHEN s < 10 THEN 0 WHEN s < 20 THEN 1 WHEN s < 30 THEN 2 WHEN s < 45 THEN 3
                WHEN s < 60 THEN 4 WHEN s < 90 THEN 5 WHEN s < 120 THEN 6 WHEN s < 180 THEN 7
                WHEN s < 240 THEN 8 WHEN s < 300 THEN 9 WHEN s < 450 THEN 10
                WHEN s < 600 THEN 11 WHEN s < 900 THEN 12 WHEN s < 1200 THEN 13
                WHEN s < 1800 THEN 14 WHEN s < 2700 THEN 15 WHEN s < 3600 THEN 16
                WHEN s < 5400 THEN 17 WHEN s < 7200 THEN 18 WHEN s < 10800 THEN 19
                WHEN s < 14400 THEN 20 WHEN s < 21600 THEN 21 WHEN s < 28800 THEN 22
                WHEN s < 43200 THEN 23 WHEN s < 64800 THEN 24 WHEN s < 86400 THEN 25
                WHEN s < 129600 THEN 26 WHEN s < 172800 THEN 27 WHEN s < 259200 THEN 28
                WHEN s < 345600 THEN 29 WHEN s < 432000 THEN 30 WHEN s < 604800 THEN 31
                WHEN s < 1209600 THEN 32 WHEN s < 2592000 THEN 33 ELSE 34 END, count(*)
FROM durations WHERE true GROUP BY 1, 2;

CREATE TRIGGER attempts_count_accepted_insert AFTER INSERT ON attempts
    WHEN NEW.outcome = 'accepted' AND NEW.ended_at IS NOT NULL
BEGIN
    INSERT INTO hourly_orders (hour, accepted) VALUES (substr(NEW.ended_at, 1, 13), 1)
    ON CONFLICT (hour) DO UPDATE SET accepted = accepted + 1;
END;
CREATE TRIGGER attempts_count_accepted AFTER UPDATE OF outcome ON attempts
    WHEN NEW.outcome = 'accepted' AND OLD.outcome IS NOT 'accepted' AND NEW.ended_at IS NOT NULL
BEGIN
    INSERT INTO hourly_orders (hour, accepted) VALUES (substr(NEW.ended_at, 1, 13), 1)
    ON CONFLICT (hour) DO UPDATE SET accepted = accepted + 1;
END;
CREATE TRIGGER requests_count_completed AFTER UPDATE OF state ON requests
    WHEN NEW.state = 'completed' AND OLD.state <> 'completed' AND NEW.completed_at IS NOT NULL
BEGIN
    INSERT INTO hourly_orders (hour, completed) VALUES (substr(NEW.completed_at, 1, 13), 1)
    ON CONFLICT (hour) DO UPDATE SET completed = completed + 1;
    INSERT INTO hourly_completion_times (hour, bin, orders)
    SELECT substr(NEW.completed_at, 1, 13), CASE WHEN s < 10 THEN 0 WHEN s < 20 THEN 1 WHEN s < 30 THEN 2 WHEN s < 45 THEN 3
                WHEN s < 60 THEN 4 WHEN s < 90 THEN 5 WHEN s < 120 THEN 6 WHEN s < 180 THEN 7
                WHEN s < 240 THEN 8 WHEN s < 300 THEN 9 WHEN s < 450 THEN 10
                WHEN s < 600 THEN 11 WHEN s < 900 THEN 12 WHEN s < 1200 THEN 13
                WHEN s < 1800 THEN 14 WHEN s < 2700 THEN 15 WHEN s < 3600 THEN 16
                WHEN s < 5400 THEN 17 WHEN s < 7200 THEN 18 WHEN s < 10800 THEN 19
                WHEN s < 14400 THEN 20 WHEN s < 21600 THEN 21 WHEN s < 28800 THEN 22
                WHEN s < 43200 THEN 23 WHEN s < 64800 THEN 24 WHEN s < 86400 THEN 25
                WHEN s < 129600 THEN 26 WHEN s < 172800 THEN 27 WHEN s < 259200 THEN 28
                WHEN s < 345600 THEN 29 WHEN s < 432000 THEN 30 WHEN s < 604800 THEN 31
                WHEN s < 1209600 THEN 32 WHEN s < 2592000 THEN 33 ELSE 34 END, 1
    FROM (SELECT (julianday(NEW.completed_at) - julianday(NEW.first_attempt_at)) * 86400 AS s)
    WHERE NEW.first_attempt_at IS NOT NULL
    ON CONFLICT (hour, bin) DO UPDATE SET orders = orders + 1;
END;

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
