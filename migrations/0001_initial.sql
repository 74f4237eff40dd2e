-- colt-orders schema 1: the request queue and ledger (one row per order) and the attempts journal.
-- Operators insert rows with the sqlite3 CLI; every check below names the column it guards, so a
-- bad row is refused at INSERT time with a message that says what to fix.

CREATE TABLE requests (
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
        CONSTRAINT "requests.state must be one of queued submitting retrying in_progress completed rejected invalid failed cancelled"
        CHECK (state IN ('queued','submitting','retrying','in_progress','completed','rejected','invalid','failed','cancelled')),
    order_id         TEXT,
    order_status     TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,   -- attempts spent against the retry budget
    next_attempt_at  TEXT,                         -- when a retrying row is due (ISO-8601 UTC)
    last_error       TEXT,                         -- the last thing that went wrong, in words
    colt_code        TEXT,                         -- Colt's error code, for rejected rows
    outcome_unknown  INTEGER NOT NULL DEFAULT 0,   -- 1 once an attempt under this tracking id may have created an order
    first_attempt_at TEXT,                         -- when the current tracking id was first sent
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Invariant 2: no two rows share a tracking id (NULLs, not yet assigned, do not collide).
CREATE UNIQUE INDEX requests_tracking_id ON requests(tracking_id);
-- The queue: queued rows in id order, retrying rows by due time, and the rows still waiting
-- for Colt, scanned in id order for overlapping ranges (invariant 3).
CREATE INDEX requests_queued ON requests(id) WHERE state = 'queued';
CREATE INDEX requests_retrying_due ON requests(next_attempt_at) WHERE state = 'retrying';
CREATE INDEX requests_waiting ON requests(id, range_start, range_end)
    WHERE state IN ('queued', 'submitting', 'retrying');

-- New rows start queued; the daemon owns the state. A tracking id used before, even by a row
-- since retried under a new one, is never accepted again.
CREATE TRIGGER requests_insert_checks BEFORE INSERT ON requests
BEGIN
    SELECT RAISE(ABORT, 'requests.state: leave it out; new rows start as ''queued'' and the daemon sets the state')
        WHERE NEW.state IS NOT 'queued';
    SELECT RAISE(ABORT, 'requests.tracking_id: already used by an earlier attempt; leave tracking_id NULL and the daemon makes one')
        WHERE NEW.tracking_id IS NOT NULL
          AND EXISTS (SELECT 1 FROM attempts WHERE attempts.tracking_id = NEW.tracking_id);
END;

-- range_end defaults to range_start.
CREATE TRIGGER requests_default_range_end AFTER INSERT ON requests
    WHEN NEW.range_end IS NULL
BEGIN
    UPDATE requests SET range_end = range_start WHERE id = NEW.id;
END;

-- What an order asks for cannot change once it may have reached Colt.
CREATE TRIGGER requests_order_fields_frozen BEFORE UPDATE OF action, country, range_start, range_end, service_profile ON requests
    WHEN OLD.state <> 'queued'
BEGIN
    SELECT RAISE(ABORT, 'requests: action, country, range and service_profile cannot change once a row has left ''queued''; cancel it and insert a new row');
END;

-- The journal: one row per HTTP attempt, what we sent and what Colt said.
CREATE TABLE attempts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id    INTEGER NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
    attempt       INTEGER NOT NULL,        -- the request's attempt number (a 401 retried at once shares it)
    tracking_id   TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    ended_at      TEXT,                    -- NULL while in flight
    http_status   INTEGER,
    outcome       TEXT,                    -- accepted, rejected, unauthorized, throttled, server_error, not_sent,
                                           -- timeout, connection_lost, bad_response, interrupted, reconciled
    colt_code     TEXT,
    colt_reason   TEXT,
    colt_message  TEXT,
    detail        TEXT,                    -- the outcome in words
    response_body TEXT,                    -- at most 4 KiB of what Colt answered
    duration_ms   INTEGER
);
CREATE INDEX attempts_request ON attempts(request_id, id);
CREATE INDEX attempts_tracking_id ON attempts(tracking_id);

-- Append-only: a finished attempt never changes.
CREATE TRIGGER attempts_append_only BEFORE UPDATE ON attempts
    WHEN OLD.ended_at IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'attempts is an append-only journal: a finished attempt cannot change');
END;
