-- colt-orders schema 4: reconciliation with Colt's inventory, following orders to completion,
-- and a table that holds up against careless UPDATEs and DELETEs.
--
-- Two new states:
--   reconciling  an attempt's outcome is unknown (a timeout, a dropped connection, a 5xx or bad
--                answer after the request left, libcurl resending): before the row is sent again
--                or refused for good, Colt's inventory is read (next_attempt_at says when).
--   unresolved   the inventory did not settle it within retry.max_age: last_error and attention
--                say exactly what is known, and an operator must decide (retry --force, cancel).
-- and new columns: completed_at; checked_at and next_check_at (the inventory checks of an
-- in_progress row); lookups (inventory reads spent on reconciling); attention (why an operator
-- should look: stalled, an unexpected final status, unresolved).
--
-- SQLite cannot change a CHECK constraint in place, so `requests` is rebuilt (the migrator runs
-- this with foreign keys off and checks them before it commits); its triggers, indexes and views
-- are made again below, unchanged except where they name the new states.

DROP VIEW ledger;
DROP VIEW ledger_summary;
DROP VIEW ledger_latest_attempt;

CREATE TABLE requests_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Written by the operator.
    action           TEXT NOT NULL
        CONSTRAINT "requests.action must be 'return' or 'reactivate'"
        CHECK (action IN ('return', 'reactivate')),
    country          TEXT NOT NULL
        CONSTRAINT "requests.country must be one of GB DE ES FR AT BE NL IE IT SE DK PT CH CZ NO RO PL FI LU SK"
        CHECK (country IN ('GB','DE','ES','FR','AT','BE','NL','IE','IT','SE','DK','PT','CH','CZ','NO','RO','PL','FI','LU','SK')),
    range_start      TEXT NOT NULL
        CONSTRAINT "requests.range_start must be E.164: '+', a digit 1-9, then digits, 6 to 16 characters (e.g. '+442081324758', quoted)"
        CHECK (typeof(range_start) = 'text' AND length(range_start) BETWEEN 6 AND 16
               AND range_start GLOB '+[1-9]*' AND substr(range_start, 2) NOT GLOB '*[^0-9]*'),
    range_end        TEXT
        CONSTRAINT "requests.range_end must be E.164 like range_start, of the same length, and not before it (or NULL for a single number)"
        CHECK (range_end IS NULL OR (typeof(range_end) = 'text' AND length(range_end) = length(range_start)
               AND range_end GLOB '+[1-9]*' AND substr(range_end, 2) NOT GLOB '*[^0-9]*'
               AND range_end >= range_start)),
    service_profile  TEXT
        CONSTRAINT "requests.service_profile must be NULL or 1 to 64 printable characters without spaces"
        CHECK (service_profile IS NULL OR (typeof(service_profile) = 'text' AND length(service_profile) BETWEEN 1 AND 64
               AND service_profile NOT GLOB '*[^!-~]*')),
    tracking_id      TEXT
        CONSTRAINT "requests.tracking_id must be NULL or 1 to 255 characters from a-z A-Z 0-9 _ . ~ : @ -"
        CHECK (tracking_id IS NULL OR (typeof(tracking_id) = 'text' AND length(tracking_id) BETWEEN 1 AND 255
               AND tracking_id NOT GLOB '*[^a-zA-Z0-9_.~:@-]*')),
    -- Written by the daemon.
    state            TEXT NOT NULL DEFAULT 'queued'
        CONSTRAINT "requests.state must be one of queued submitting retrying reconciling in_progress completed rejected invalid failed cancelled unresolved"
        CHECK (state IN ('queued','submitting','retrying','reconciling','in_progress','completed','rejected','invalid','failed','cancelled','unresolved')),
    order_id         TEXT,
    order_status     TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,   -- attempts spent against the retry budget
    next_attempt_at  TEXT,                         -- when a retrying or reconciling row is due (ISO-8601 UTC)
    last_error       TEXT,                         -- the last thing that went wrong, in words
    colt_code        TEXT,                         -- Colt's error code, for rejected rows
    outcome_unknown  INTEGER NOT NULL DEFAULT 0,   -- 1 once an attempt under this tracking id may have created an order
    first_attempt_at TEXT,                         -- when the current tracking id was first sent
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    lookups          INTEGER NOT NULL DEFAULT 0,   -- inventory reads spent reconciling this tracking id
    completed_at     TEXT,                         -- when the daemon saw the order complete
    checked_at       TEXT,                         -- the last inventory check of an in_progress row
    next_check_at    TEXT,                         -- when an in_progress row is checked next
    attention        TEXT                          -- why an operator should look at this row; NULL: nothing
);

INSERT INTO requests_new (id, action, country, range_start, range_end, service_profile, tracking_id, state, order_id,
                          order_status, attempts, next_attempt_at, last_error, colt_code, outcome_unknown,
                          first_attempt_at, created_at, updated_at, next_check_at)
SELECT id, action, country, range_start, range_end, service_profile, tracking_id,
       CASE WHEN state = 'retrying' AND outcome_unknown = 1 THEN 'reconciling' ELSE state END,
       order_id, order_status, attempts, next_attempt_at, last_error, colt_code, outcome_unknown,
       first_attempt_at, created_at, updated_at,
       CASE WHEN state = 'in_progress' THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END
FROM requests;

-- AUTOINCREMENT's high-water mark goes along: an id is never used twice, pruned rows' included.
DELETE FROM sqlite_sequence WHERE name = 'requests_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'requests_new', seq FROM sqlite_sequence WHERE name = 'requests';

DROP TABLE requests;
ALTER TABLE requests_new RENAME TO requests;

-- Invariant 2: no two rows share a tracking id (NULLs, not yet assigned, do not collide).
CREATE UNIQUE INDEX requests_tracking_id ON requests(tracking_id);
-- The queue: queued rows in id order, retrying and reconciling rows by due time, and the rows
-- still waiting for Colt, scanned in id order for overlapping ranges (invariant 3).
CREATE INDEX requests_queued ON requests(id) WHERE state = 'queued';
CREATE INDEX requests_due ON requests(next_attempt_at) WHERE state IN ('retrying', 'reconciling');
CREATE INDEX requests_waiting ON requests(id, range_start, range_end)
    WHERE state IN ('queued', 'submitting', 'retrying', 'reconciling');
-- Orders followed to completion, by the time of their next check (invariant 10).
CREATE INDEX requests_tracking ON requests(next_check_at) WHERE state = 'in_progress';
-- Which row holds an order (invariant 9: an order another row holds is never adopted).
CREATE INDEX requests_order_id ON requests(order_id) WHERE order_id IS NOT NULL;
CREATE INDEX requests_state ON requests(state);
CREATE INDEX requests_state_updated ON requests(state, updated_at);

-- Every tracking id ever sent, kept when its attempts are pruned: a tracking id Colt has seen
-- is never given to another request (invariant 2), pruning or not.
CREATE TABLE sent_tracking_ids (
    tracking_id   TEXT PRIMARY KEY,
    first_sent_at TEXT NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO sent_tracking_ids (tracking_id, first_sent_at)
    SELECT tracking_id, min(started_at) FROM attempts GROUP BY tracking_id;
CREATE TRIGGER attempts_remember_tracking_id AFTER INSERT ON attempts
BEGIN
    INSERT OR IGNORE INTO sent_tracking_ids (tracking_id, first_sent_at) VALUES (NEW.tracking_id, NEW.started_at);
END;
CREATE TRIGGER sent_tracking_ids_kept BEFORE DELETE ON sent_tracking_ids
BEGIN
    SELECT RAISE(ABORT, 'sent_tracking_ids keeps every tracking id ever sent to Colt, so that none is used twice: its rows cannot be deleted');
END;
CREATE TRIGGER sent_tracking_ids_unchanged BEFORE UPDATE ON sent_tracking_ids
BEGIN
    SELECT RAISE(ABORT, 'sent_tracking_ids keeps every tracking id ever sent to Colt, so that none is used twice: its rows cannot change');
END;

CREATE TRIGGER requests_insert_checks BEFORE INSERT ON requests
BEGIN
    -- INSERT OR REPLACE would delete the row it replaces without a DELETE trigger firing.
    SELECT RAISE(ABORT, 'requests.id: a row with this id exists; leave id out (INSERT OR REPLACE cannot replace a request)')
        WHERE NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM requests WHERE id = NEW.id);
    SELECT RAISE(ABORT, 'requests.state: leave it out; new rows start as ''queued'' and the daemon sets the state')
        WHERE NEW.state IS NOT 'queued';
    SELECT RAISE(ABORT, 'requests.tracking_id: already used by an earlier attempt; leave tracking_id NULL and the daemon makes one')
        WHERE NEW.tracking_id IS NOT NULL
          AND EXISTS (SELECT 1 FROM sent_tracking_ids WHERE tracking_id = NEW.tracking_id);
END;

CREATE TRIGGER requests_default_range_end AFTER INSERT ON requests
    WHEN NEW.range_end IS NULL
BEGIN
    UPDATE requests SET range_end = range_start WHERE id = NEW.id;
END;

CREATE TRIGGER requests_order_fields_frozen BEFORE UPDATE OF action, country, range_start, range_end, service_profile ON requests
    WHEN OLD.state <> 'queued'
BEGIN
    SELECT RAISE(ABORT, 'requests: action, country, range and service_profile cannot change once a row has left ''queued''; cancel it and insert a new row');
END;

-- The operator's columns hold plain ASCII text. (SQLite's length() and GLOB stop at a NUL byte,
-- and a BLOB or a number compares unlike text, so each would slip past the CHECKs or the overlap
-- rule; a look-alike character, a full-width '＋' or a non-Latin digit, is named as such.)
CREATE TRIGGER requests_text_insert BEFORE INSERT ON requests
BEGIN
    SELECT RAISE(ABORT, 'requests.action must be text (quoted), not a number or a BLOB') WHERE typeof(NEW.action) NOT IN ('text', 'null');
    SELECT RAISE(ABORT, 'requests.country must be text (quoted), not a number or a BLOB') WHERE typeof(NEW.country) NOT IN ('text', 'null');
    SELECT RAISE(ABORT, 'requests.range_start must be text (quoted, e.g. ''+442081324758''), not a number or a BLOB') WHERE typeof(NEW.range_start) NOT IN ('text', 'null');
    SELECT RAISE(ABORT, 'requests.range_end must be text (quoted, e.g. ''+442081324758''), not a number or a BLOB') WHERE typeof(NEW.range_end) NOT IN ('text', 'null');
    SELECT RAISE(ABORT, 'requests.service_profile must be text (quoted), not a number or a BLOB') WHERE typeof(NEW.service_profile) NOT IN ('text', 'null');
    SELECT RAISE(ABORT, 'requests.tracking_id must be text (quoted), not a number or a BLOB') WHERE typeof(NEW.tracking_id) NOT IN ('text', 'null');
    SELECT RAISE(ABORT, 'requests.action must not contain a NUL byte') WHERE instr(CAST(NEW.action AS BLOB), X'00') > 0;
    SELECT RAISE(ABORT, 'requests.country must not contain a NUL byte') WHERE instr(CAST(NEW.country AS BLOB), X'00') > 0;
    SELECT RAISE(ABORT, 'requests.range_start must not contain a NUL byte') WHERE instr(CAST(NEW.range_start AS BLOB), X'00') > 0;
    SELECT RAISE(ABORT, 'requests.range_end must not contain a NUL byte') WHERE instr(CAST(NEW.range_end AS BLOB), X'00') > 0;
    SELECT RAISE(ABORT, 'requests.service_profile must not contain a NUL byte') WHERE instr(CAST(NEW.service_profile AS BLOB), X'00') > 0;
    SELECT RAISE(ABORT, 'requests.tracking_id must not contain a NUL byte') WHERE instr(CAST(NEW.tracking_id AS BLOB), X'00') > 0;
    SELECT RAISE(ABORT, 'requests.action must be plain ASCII: it holds a character outside ASCII') WHERE length(CAST(NEW.action AS BLOB)) <> length(NEW.action);
    SELECT RAISE(ABORT, 'requests.country must be plain ASCII: it holds a character outside ASCII (a look-alike letter?)') WHERE length(CAST(NEW.country AS BLOB)) <> length(NEW.country);
    SELECT RAISE(ABORT, 'requests.range_start must be plain ASCII ''+'' and digits: it holds a character outside ASCII (a look-alike such as a full-width ''＋'' or a non-Latin digit?)') WHERE length(CAST(NEW.range_start AS BLOB)) <> length(NEW.range_start);
    SELECT RAISE(ABORT, 'requests.range_end must be plain ASCII ''+'' and digits: it holds a character outside ASCII (a look-alike such as a full-width ''＋'' or a non-Latin digit?)') WHERE length(CAST(NEW.range_end AS BLOB)) <> length(NEW.range_end);
    SELECT RAISE(ABORT, 'requests.service_profile must be plain ASCII: it holds a character outside ASCII') WHERE length(CAST(NEW.service_profile AS BLOB)) <> length(NEW.service_profile);
    SELECT RAISE(ABORT, 'requests.tracking_id must be plain ASCII: it holds a character outside ASCII') WHERE length(CAST(NEW.tracking_id AS BLOB)) <> length(NEW.tracking_id);
END;

CREATE TRIGGER requests_text_update BEFORE UPDATE OF action, country, range_start, range_end, service_profile, tracking_id ON requests
BEGIN
    SELECT RAISE(ABORT, 'requests.range_start must be text (quoted, e.g. ''+442081324758''), not a number or a BLOB') WHERE typeof(NEW.range_start) NOT IN ('text', 'null');
    SELECT RAISE(ABORT, 'requests.range_end must be text (quoted, e.g. ''+442081324758''), not a number or a BLOB') WHERE typeof(NEW.range_end) NOT IN ('text', 'null');
    SELECT RAISE(ABORT, 'requests.tracking_id must be text (quoted), not a number or a BLOB') WHERE typeof(NEW.tracking_id) NOT IN ('text', 'null');
    SELECT RAISE(ABORT, 'requests.action must not contain a NUL byte') WHERE instr(CAST(NEW.action AS BLOB), X'00') > 0;
    SELECT RAISE(ABORT, 'requests.country must not contain a NUL byte') WHERE instr(CAST(NEW.country AS BLOB), X'00') > 0;
    SELECT RAISE(ABORT, 'requests.range_start must not contain a NUL byte') WHERE instr(CAST(NEW.range_start AS BLOB), X'00') > 0;
    SELECT RAISE(ABORT, 'requests.range_end must not contain a NUL byte') WHERE instr(CAST(NEW.range_end AS BLOB), X'00') > 0;
    SELECT RAISE(ABORT, 'requests.service_profile must not contain a NUL byte') WHERE instr(CAST(NEW.service_profile AS BLOB), X'00') > 0;
    SELECT RAISE(ABORT, 'requests.tracking_id must not contain a NUL byte') WHERE instr(CAST(NEW.tracking_id AS BLOB), X'00') > 0;
    SELECT RAISE(ABORT, 'requests.range_start must be plain ASCII ''+'' and digits: it holds a character outside ASCII (a look-alike such as a full-width ''＋'' or a non-Latin digit?)') WHERE length(CAST(NEW.range_start AS BLOB)) <> length(NEW.range_start);
    SELECT RAISE(ABORT, 'requests.range_end must be plain ASCII ''+'' and digits: it holds a character outside ASCII (a look-alike such as a full-width ''＋'' or a non-Latin digit?)') WHERE length(CAST(NEW.range_end AS BLOB)) <> length(NEW.range_end);
    SELECT RAISE(ABORT, 'requests.tracking_id must be plain ASCII: it holds a character outside ASCII') WHERE length(CAST(NEW.tracking_id AS BLOB)) <> length(NEW.tracking_id);
END;

-- The daemon's columns follow the daemon's transitions, so that an operator's UPDATE through
-- sqlite3 cannot put a row where the daemon would mishandle it: send an accepted order again,
-- take a queued row for accepted, lose an order id or a tracking id, or stop a row for ever.
-- The daemon and the colt-orders commands make exactly these transitions.
CREATE TRIGGER requests_id_fixed BEFORE UPDATE OF id ON requests
BEGIN
    SELECT RAISE(ABORT, 'requests.id cannot change: the journal and Colt''s orders refer to it');
END;

-- States move only along the daemon's and the commands' transitions:
--   queued      -> submitting (claimed), invalid, cancelled (colt-orders cancel)
--   submitting  -> in_progress, completed, retrying, reconciling, rejected, failed, unresolved
--   retrying    -> submitting, invalid, cancelled
--   reconciling -> submitting
--   in_progress -> completed
--   rejected, failed, unresolved -> queued (colt-orders retry, a new tracking id); unresolved -> cancelled
--   completed, invalid, cancelled: final
CREATE TRIGGER requests_daemon_columns BEFORE UPDATE OF state, order_id, tracking_id, next_attempt_at, next_check_at, outcome_unknown ON requests
BEGIN
    SELECT RAISE(ABORT, 'requests.state: Colt accepted this row''s order, so it stays in_progress until the daemon sees it completed; another state would send the order again or lose it. Nothing to do: the daemon follows it (colt-orders show ID)')
        WHERE OLD.state = 'in_progress' AND NEW.state NOT IN ('in_progress', 'completed');
    SELECT RAISE(ABORT, 'requests.state: completed, invalid and cancelled are final; queue a new row instead')
        WHERE OLD.state IN ('completed', 'invalid', 'cancelled') AND NEW.state IS NOT OLD.state;
    SELECT RAISE(ABORT, 'requests.state: a row becomes in_progress or completed only when Colt accepts it, which the daemon records; to give up on a row use colt-orders cancel ID, to send it again colt-orders retry ID')
        WHERE NEW.state IN ('in_progress', 'completed') AND OLD.state NOT IN ('submitting', 'in_progress', 'completed');
    SELECT RAISE(ABORT, 'requests.state: this change is not one the daemon or colt-orders makes; use colt-orders cancel ID or colt-orders retry ID')
        WHERE NEW.state IS NOT OLD.state AND NOT (
              (OLD.state = 'queued' AND NEW.state IN ('submitting', 'invalid', 'cancelled'))
           OR (OLD.state = 'submitting' AND NEW.state IN ('in_progress', 'completed', 'retrying', 'reconciling', 'rejected', 'failed', 'unresolved'))
           OR (OLD.state = 'retrying' AND NEW.state IN ('submitting', 'invalid', 'cancelled'))
           OR (OLD.state = 'reconciling' AND NEW.state = 'submitting')
           OR (OLD.state = 'in_progress' AND NEW.state = 'completed')
           OR (OLD.state IN ('rejected', 'failed', 'unresolved') AND NEW.state = 'queued')
           OR (OLD.state = 'unresolved' AND NEW.state = 'cancelled'));
    SELECT RAISE(ABORT, 'requests.outcome_unknown: an attempt''s outcome was unknown, so Colt may hold an order; only colt-orders retry --force ID (a new tracking id) clears it, once you have checked with Colt')
        WHERE OLD.outcome_unknown = 1 AND NEW.outcome_unknown IS NOT 1 AND NOT (NEW.state = 'queued' AND OLD.state IN ('rejected', 'failed', 'unresolved'));
    SELECT RAISE(ABORT, 'requests.outcome_unknown: a reconciling row is one whose outcome is unknown (1)')
        WHERE NEW.state = 'reconciling' AND NEW.outcome_unknown IS NOT 1;
    SELECT RAISE(ABORT, 'requests.order_id: an in_progress row must keep the order id Colt gave it')
        WHERE NEW.state = 'in_progress' AND NEW.order_id IS NULL AND NEW.attention IS NULL;
    SELECT RAISE(ABORT, 'requests.order_id: cannot change once Colt gave it')
        WHERE OLD.state IN ('in_progress', 'completed') AND OLD.order_id IS NOT NULL AND NEW.order_id IS NOT OLD.order_id;
    SELECT RAISE(ABORT, 'requests.state: a row goes back to queued only through colt-orders retry ID, which gives a rejected, failed or unresolved row a new tracking id')
        WHERE NEW.state = 'queued' AND OLD.state <> 'queued'
          AND (NEW.tracking_id IS OLD.tracking_id OR NEW.tracking_id IS NULL);
    SELECT RAISE(ABORT, 'requests.tracking_id: cannot change once sent, every attempt for a row sends the same one; colt-orders retry ID gives a rejected, failed or unresolved row a new one')
        WHERE NEW.tracking_id IS NOT OLD.tracking_id AND OLD.tracking_id IS NOT NULL
          AND EXISTS (SELECT 1 FROM sent_tracking_ids WHERE tracking_id = OLD.tracking_id)
          AND NOT (NEW.state = 'queued' AND OLD.state IN ('rejected', 'failed', 'unresolved'));
    SELECT RAISE(ABORT, 'requests.tracking_id: already used by an earlier attempt; leave tracking_id NULL and the daemon makes one')
        WHERE NEW.tracking_id IS NOT OLD.tracking_id AND NEW.tracking_id IS NOT NULL
          AND EXISTS (SELECT 1 FROM sent_tracking_ids WHERE tracking_id = NEW.tracking_id);
    SELECT RAISE(ABORT, 'requests.next_attempt_at: a retrying or reconciling row needs a time here written as the daemon writes it (e.g. ''2026-12-01T10:00:00.000Z''), or it would wait for ever; to send it now use colt-orders retry ID, to stop it colt-orders cancel ID')
        WHERE NEW.state IN ('retrying', 'reconciling')
          AND (NEW.next_attempt_at IS NULL OR NEW.next_attempt_at IS NOT strftime('%Y-%m-%dT%H:%M:%fZ', NEW.next_attempt_at));
    SELECT RAISE(ABORT, 'requests.next_check_at: an in_progress row needs a time here written as the daemon writes it (e.g. ''2026-12-01T10:00:00.000Z''), or it would never be checked again')
        WHERE NEW.state = 'in_progress' AND NOT coalesce(NEW.attention LIKE 'not followed%', 0)
          AND (NEW.next_check_at IS NULL OR NEW.next_check_at IS NOT strftime('%Y-%m-%dT%H:%M:%fZ', NEW.next_check_at));
END;

-- A row Colt may be working on is never deleted (its order would be in no ledger).
CREATE TRIGGER requests_delete_settled_only BEFORE DELETE ON requests
    WHEN OLD.state NOT IN ('completed', 'rejected', 'invalid', 'failed', 'cancelled')
BEGIN
    SELECT RAISE(ABORT, 'requests: only settled rows (completed, rejected, invalid, failed, cancelled) can be deleted: Colt may be working on this one. Stop it with colt-orders cancel ID, and remove settled rows with colt-orders prune');
END;

-- The evidence behind a reconciliation or completion decision: what Colt's inventory showed
-- (statuses and orders, as compact JSON), beside the words in `detail`.
ALTER TABLE attempts ADD COLUMN evidence TEXT;

-- What Colt's inventory last showed for each number of a request, in runs of consecutive numbers
-- that showed the same: written when the daemon reconciles a row and when its order completes
-- (the numbers' final statuses). `expected` is 1 when the status is one the action leads to.
--
--   SELECT * FROM order_numbers WHERE request_id = 7;
--   SELECT * FROM order_numbers WHERE expected = 0;      -- numbers that ended somewhere unexpected
CREATE TABLE order_numbers (
    request_id   INTEGER NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
    first_number TEXT NOT NULL,
    last_number  TEXT NOT NULL,
    numbers      INTEGER NOT NULL,
    status       TEXT,              -- Colt's word; NULL when the answer gave none (or left the numbers out)
    order_id     TEXT,              -- the order the numbers carried, if the answer named one
    order_status TEXT,              -- that order's status, if the answer gave one
    expected     INTEGER NOT NULL,  -- 1: the status is one the action leads to
    checked_at   TEXT NOT NULL,
    PRIMARY KEY (request_id, first_number)
) WITHOUT ROWID;

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
       since_update_s,
       completed_at, checked_at, next_check_at, lookups, attention
FROM (SELECT r.*,
             CAST(round((julianday('now') - julianday(r.created_at)) * 86400) AS INTEGER) AS age_s,
             CAST(round((julianday('now') - julianday(r.updated_at)) * 86400) AS INTEGER) AS since_update_s
      FROM requests r);

-- Per state: how many rows, and the oldest one (lowest id: ids only grow) with its age.
CREATE VIEW ledger_summary AS
SELECT s.state, s.rows, s.oldest_id, r.created_at AS oldest_created_at,
       CAST(round((julianday('now') - julianday(r.created_at)) * 86400) AS INTEGER) AS oldest_age_s,
       s.state IN ('queued', 'submitting', 'retrying', 'reconciling') AS waiting
FROM (SELECT state, count(*) AS rows, min(id) AS oldest_id FROM requests GROUP BY state) s
JOIN requests r ON r.id = s.oldest_id;

-- The latest journal entry of each request that has one.
CREATE VIEW ledger_latest_attempt AS
SELECT a.request_id, r.state, a.attempt, a.tracking_id, a.started_at, a.ended_at, a.http_status, a.outcome,
       a.colt_code, a.colt_reason, a.colt_message, a.detail, a.duration_ms
FROM requests r
JOIN attempts a ON a.id = (SELECT max(id) FROM attempts WHERE request_id = r.id);

-- The rows an operator should look at, and why: awaiting reconciliation, unresolved, stalled,
-- or an order whose numbers ended in an unexpected status.
--
--   SELECT * FROM ledger_attention;
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
WHERE state IN ('reconciling', 'unresolved') OR attention IS NOT NULL;
