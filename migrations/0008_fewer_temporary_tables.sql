-- colt-orders schema 8: fewer temporary tables on every write the daemon makes to a request.
--
-- SQLite evaluates `x IN ('a', 'b', 'c')`, a list of three constants or more, by building a
-- temporary b-tree of the constants each time the expression runs (two or fewer it compares
-- one by one). A drain's profile showed those b-trees, about a dozen for each UPDATE of a
-- request, as the largest single cost of the daemon's SQL: zeroed pages, a pager opened and
-- closed for each. They came from two places, both changed here and nothing else:
--
-- 1. requests_waiting, an index whose WHERE is such a list. SQLite evaluates a partial index's
--    WHERE for the old and the new row of every UPDATE. No query uses it: since schema 2 the
--    overlap check seeks requests_state (state, then id) instead. It is dropped.
-- 2. requests_daemon_columns, the trigger that keeps the state machine. Each list of three or
--    more states is spelled as the comparisons it stands for: `s = 'a' OR s = 'b' OR ...` and
--    `s <> 'a' AND s <> 'b' AND ...`, which give the same true, false or NULL for every value
--    of s, NULL included. Its messages and its rules are schema 7's, word for word.
--
-- (The CHECK on requests.state is such a list too; changing it would mean rebuilding the
-- table, so it stays: one temporary b-tree for each UPDATE that sets the state.)

DROP INDEX IF EXISTS requests_waiting;

DROP TRIGGER requests_daemon_columns;

-- States move only along the daemon's and the commands' transitions:
--   queued      -> submitting (claimed), invalid, cancelled (colt-orders cancel)
--   submitting  -> in_progress, completed, retrying, reconciling, rejected, failed, unresolved;
--                  and back to queued, with its tracking id, only while no journal row at all
--                  carries that id: a claim taken back before anything was sent
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
        WHERE (OLD.state = 'completed' OR OLD.state = 'invalid' OR OLD.state = 'cancelled') AND NEW.state IS NOT OLD.state;
    SELECT RAISE(ABORT, 'requests.state: a row becomes in_progress or completed only when Colt accepts it, which the daemon records; to give up on a row use colt-orders cancel ID, to send it again colt-orders retry ID')
        WHERE NEW.state IN ('in_progress', 'completed') AND (OLD.state <> 'submitting' AND OLD.state <> 'in_progress' AND OLD.state <> 'completed');
    SELECT RAISE(ABORT, 'requests.state: this change is not one the daemon or colt-orders makes; use colt-orders cancel ID or colt-orders retry ID')
        WHERE NEW.state IS NOT OLD.state AND NOT (
              (OLD.state = 'queued' AND (NEW.state = 'submitting' OR NEW.state = 'invalid' OR NEW.state = 'cancelled'))
           OR (OLD.state = 'submitting' AND (NEW.state = 'in_progress' OR NEW.state = 'completed' OR NEW.state = 'retrying' OR NEW.state = 'reconciling' OR NEW.state = 'rejected' OR NEW.state = 'failed' OR NEW.state = 'unresolved'))
           OR (OLD.state = 'submitting' AND NEW.state = 'queued' AND NOT EXISTS (SELECT 1 FROM attempts WHERE request_id = OLD.id AND tracking_id = OLD.tracking_id))
           OR (OLD.state = 'retrying' AND (NEW.state = 'submitting' OR NEW.state = 'invalid' OR NEW.state = 'cancelled'))
           OR (OLD.state = 'reconciling' AND NEW.state = 'submitting')
           OR (OLD.state = 'in_progress' AND NEW.state = 'completed')
           OR ((OLD.state = 'rejected' OR OLD.state = 'failed' OR OLD.state = 'unresolved') AND NEW.state = 'queued')
           OR (OLD.state = 'unresolved' AND NEW.state = 'cancelled'));
    SELECT RAISE(ABORT, 'requests.outcome_unknown: an attempt''s outcome was unknown, so Colt may hold an order; only colt-orders retry --force ID (a new tracking id) clears it, once you have checked with Colt')
        WHERE OLD.outcome_unknown = 1 AND NEW.outcome_unknown IS NOT 1 AND NOT (NEW.state = 'queued' AND (OLD.state = 'rejected' OR OLD.state = 'failed' OR OLD.state = 'unresolved'));
    SELECT RAISE(ABORT, 'requests.outcome_unknown: a reconciling row is one whose outcome is unknown (1)')
        WHERE NEW.state = 'reconciling' AND NEW.outcome_unknown IS NOT 1;
    SELECT RAISE(ABORT, 'requests.order_id: an in_progress row must keep the order id Colt gave it')
        WHERE NEW.state = 'in_progress' AND NEW.order_id IS NULL AND NEW.attention IS NULL;
    SELECT RAISE(ABORT, 'requests.order_id: cannot change once Colt gave it')
        WHERE OLD.state IN ('in_progress', 'completed') AND OLD.order_id IS NOT NULL AND NEW.order_id IS NOT OLD.order_id;
    SELECT RAISE(ABORT, 'requests.state: a row goes back to queued only through colt-orders retry ID, which gives a rejected, failed or unresolved row a new tracking id')
        WHERE NEW.state = 'queued' AND OLD.state <> 'queued'
          AND (NEW.tracking_id IS OLD.tracking_id OR NEW.tracking_id IS NULL)
          AND NOT (OLD.state = 'submitting' AND NEW.tracking_id IS OLD.tracking_id
                   AND NOT EXISTS (SELECT 1 FROM attempts WHERE request_id = OLD.id AND tracking_id = OLD.tracking_id));
    SELECT RAISE(ABORT, 'requests.tracking_id: cannot change once sent, every attempt for a row sends the same one; colt-orders retry ID gives a rejected, failed or unresolved row a new one')
        WHERE NEW.tracking_id IS NOT OLD.tracking_id AND OLD.tracking_id IS NOT NULL
          AND EXISTS (SELECT 1 FROM sent_tracking_ids WHERE tracking_id = OLD.tracking_id)
          AND NOT (NEW.state = 'queued' AND (OLD.state = 'rejected' OR OLD.state = 'failed' OR OLD.state = 'unresolved'));
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
