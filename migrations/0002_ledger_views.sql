-- colt-orders schema 2: views for reading the ledger with the sqlite3 CLI, and the indexes that
-- keep `colt-orders status`, `list` and `prune` fast on a ledger of millions of rows.
--
--   SELECT * FROM ledger WHERE state = 'rejected' ORDER BY id DESC LIMIT 20;
--   SELECT * FROM ledger_summary;
--   SELECT * FROM ledger_latest_attempt WHERE request_id = 7;

-- (state, id): counts by state from the index alone, the oldest row of a state by id, and
-- `list --state X` in id order, a page at a time.
CREATE INDEX requests_state ON requests(state);
-- (state, updated_at): the latest rejections, and the terminal rows old enough to prune.
CREATE INDEX requests_state_updated ON requests(state, updated_at);

-- One readable row per request. Ages are whole seconds (age_s) and words (age: '3d 4h').
CREATE VIEW ledger AS
SELECT id, action, country,
       CASE WHEN range_end IS NULL OR range_end = range_start THEN range_start
            ELSE range_start || '..' || range_end END AS range,
       state, tracking_id, order_id, order_status, attempts, next_attempt_at, colt_code, last_error,
       created_at, updated_at,
       age_s,
       CASE WHEN age_s < 60 THEN age_s || 's'
            WHEN age_s < 3600 THEN (age_s / 60) || 'm ' || (age_s % 60) || 's'
            WHEN age_s < 86400 THEN (age_s / 3600) || 'h ' || (age_s % 3600 / 60) || 'm'
            ELSE (age_s / 86400) || 'd ' || (age_s % 86400 / 3600) || 'h' END AS age,
       since_update_s
FROM (SELECT r.*,
             CAST(round((julianday('now') - julianday(r.created_at)) * 86400) AS INTEGER) AS age_s,
             CAST(round((julianday('now') - julianday(r.updated_at)) * 86400) AS INTEGER) AS since_update_s
      FROM requests r);

-- Per state: how many rows, and the oldest one (lowest id: ids only grow) with its age.
CREATE VIEW ledger_summary AS
SELECT s.state, s.rows, s.oldest_id, r.created_at AS oldest_created_at,
       CAST(round((julianday('now') - julianday(r.created_at)) * 86400) AS INTEGER) AS oldest_age_s,
       s.state IN ('queued', 'submitting', 'retrying') AS waiting
FROM (SELECT state, count(*) AS rows, min(id) AS oldest_id FROM requests GROUP BY state) s
JOIN requests r ON r.id = s.oldest_id;

-- The latest HTTP attempt of each request that has one.
CREATE VIEW ledger_latest_attempt AS
SELECT a.request_id, r.state, a.attempt, a.tracking_id, a.started_at, a.ended_at, a.http_status, a.outcome,
       a.colt_code, a.colt_reason, a.colt_message, a.detail, a.duration_ms
FROM requests r
JOIN attempts a ON a.id = (SELECT max(id) FROM attempts WHERE request_id = r.id);
