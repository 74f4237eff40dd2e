# Sourced by the ledger benchmarks: build_ledger DB ROWS fills a migrated database with ROWS
# requests in one sqlite3 run (a recursive CTE, not one process per row), every row taken
# through the state changes the schema allows, as the daemon would:
#   80% completed, 5% in_progress, 4% rejected, 3% cancelled, 2% failed, 1% invalid,
#   3% queued, 2% retrying;
# every row but the queued and invalid ones has one attempt, and every completed one its numbers'
# final status in order_numbers. Rows were created 15 s apart, the
# newest now (1,000,000 rows reach back ~174 days); completed orders took a minute to ~2 days,
# and none completes later than now.
build_ledger() {
    local db=$1 rows=$2
    sqlite3 -bail "$db" >/dev/null <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
INSERT INTO requests (action, country, range_start, range_end, service_profile, created_at, updated_at)
SELECT CASE WHEN i % 7 = 0 THEN 'reactivate' ELSE 'return' END,
       CASE i % 5 WHEN 0 THEN 'DE' WHEN 1 THEN 'FR' ELSE 'GB' END,
       '+4420' || printf('%08d', i), CASE WHEN i % 10 = 0 THEN '+4420' || printf('%08d', i + 9) END, 'ANH',
       strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || (($rows - i) * 15) || ' seconds'),
       strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || (($rows - i) * 15) || ' seconds')
FROM n;
UPDATE requests SET state = 'submitting', tracking_id = 'co-bench-' || id, first_attempt_at = created_at
    WHERE id % 100 < 94 OR id % 100 >= 98;
INSERT INTO attempts (request_id, attempt, tracking_id, started_at, ended_at, http_status, outcome, detail, duration_ms)
SELECT id, 1, tracking_id, created_at, strftime('%Y-%m-%dT%H:%M:%fZ', created_at, '+1 seconds'),
       CASE WHEN id % 100 BETWEEN 85 AND 88 THEN 409 WHEN id % 100 < 85 THEN 202 ELSE 503 END,
       CASE WHEN id % 100 BETWEEN 85 AND 88 THEN 'rejected' WHEN id % 100 < 85 THEN 'accepted' ELSE 'server_error' END,
       'bench', 40
FROM requests WHERE state = 'submitting';
UPDATE requests SET state = 'in_progress', attempts = 1, order_id = 'ORD-' || id, order_status = 'In progress',
    next_check_at = '2099-01-01T00:00:00.000Z' WHERE id % 100 < 85;
UPDATE requests SET state = 'completed', order_status = 'Completed',
    completed_at = strftime('%Y-%m-%dT%H:%M:%fZ', created_at,
                            '+' || (60 + (id * 7919) % max(1, min(180000, ($rows - id) * 15 - 60))) || ' seconds'),
    next_check_at = NULL WHERE id % 100 < 80;
UPDATE requests SET updated_at = completed_at WHERE state = 'completed';
INSERT INTO order_numbers (request_id, first_number, last_number, numbers, status, order_id, order_status, expected, checked_at)
SELECT id, range_start, range_end, CAST(substr(range_end, 2) AS INTEGER) - CAST(substr(range_start, 2) AS INTEGER) + 1,
       'Deactivated', order_id, order_status, 1, completed_at
FROM requests WHERE state = 'completed';
UPDATE requests SET state = 'rejected', attempts = 1, colt_code = 'NUMBER_NOT_ELIGIBLE',
    last_error = 'HTTP 409 from Colt: NUMBER_NOT_ELIGIBLE: the number is not in a state that allows this order'
    WHERE id % 100 BETWEEN 85 AND 88;
UPDATE requests SET state = 'failed', attempts = 1, last_error = 'HTTP 503 from Colt; 12 attempts spent'
    WHERE id % 100 BETWEEN 92 AND 93;
UPDATE requests SET state = 'retrying', attempts = 1, last_error = 'HTTP 503 from Colt',
    next_attempt_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+1 hour') WHERE state = 'submitting';
UPDATE requests SET state = 'cancelled', next_attempt_at = NULL WHERE id % 100 BETWEEN 89 AND 91;
UPDATE requests SET state = 'invalid', last_error = 'bench: not a valid range' WHERE id % 100 = 94;
COMMIT;
SQL
}
