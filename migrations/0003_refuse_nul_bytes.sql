-- SQLite's length() and GLOB stop at a NUL byte, so text such as '+442081324758' || char(0) || 'x'
-- passed the CHECKs of 0001. These triggers refuse any NUL in the operator's columns, naming the
-- column: length() in characters must equal the length in bytes (all these columns are ASCII).

CREATE TRIGGER requests_no_nul_insert BEFORE INSERT ON requests
BEGIN
    SELECT RAISE(ABORT, 'requests.action must not contain a NUL byte') WHERE length(CAST(NEW.action AS BLOB)) <> length(NEW.action);
    SELECT RAISE(ABORT, 'requests.country must not contain a NUL byte') WHERE length(CAST(NEW.country AS BLOB)) <> length(NEW.country);
    SELECT RAISE(ABORT, 'requests.range_start must not contain a NUL byte') WHERE length(CAST(NEW.range_start AS BLOB)) <> length(NEW.range_start);
    SELECT RAISE(ABORT, 'requests.range_end must not contain a NUL byte') WHERE length(CAST(NEW.range_end AS BLOB)) <> length(NEW.range_end);
    SELECT RAISE(ABORT, 'requests.service_profile must not contain a NUL byte') WHERE length(CAST(NEW.service_profile AS BLOB)) <> length(NEW.service_profile);
    SELECT RAISE(ABORT, 'requests.tracking_id must not contain a NUL byte') WHERE length(CAST(NEW.tracking_id AS BLOB)) <> length(NEW.tracking_id);
END;

CREATE TRIGGER requests_no_nul_update BEFORE UPDATE OF action, country, range_start, range_end, service_profile, tracking_id ON requests
BEGIN
    SELECT RAISE(ABORT, 'requests.action must not contain a NUL byte') WHERE length(CAST(NEW.action AS BLOB)) <> length(NEW.action);
    SELECT RAISE(ABORT, 'requests.country must not contain a NUL byte') WHERE length(CAST(NEW.country AS BLOB)) <> length(NEW.country);
    SELECT RAISE(ABORT, 'requests.range_start must not contain a NUL byte') WHERE length(CAST(NEW.range_start AS BLOB)) <> length(NEW.range_start);
    SELECT RAISE(ABORT, 'requests.range_end must not contain a NUL byte') WHERE length(CAST(NEW.range_end AS BLOB)) <> length(NEW.range_end);
    SELECT RAISE(ABORT, 'requests.service_profile must not contain a NUL byte') WHERE length(CAST(NEW.service_profile AS BLOB)) <> length(NEW.service_profile);
    SELECT RAISE(ABORT, 'requests.tracking_id must not contain a NUL byte') WHERE length(CAST(NEW.tracking_id AS BLOB)) <> length(NEW.tracking_id);
END;
