-- Projection "batch_lines" (version 1): every line of every payroll batch,
-- from its reservation on, in the status its payments shard gives it, and
-- each batch's totals by status and kind — what the desk lists when a
-- finance officer reviews a batch, before approval and after the bank's
-- return, one page at a time.
-- Runs with search_path set to the target schema; names are unqualified.
CREATE TABLE batch_lines (
    reference TEXT COLLATE "C" PRIMARY KEY,
    batch_id  TEXT COLLATE "C" NOT NULL,
    person_id TEXT COLLATE "C" NOT NULL,
    kind      TEXT          NOT NULL,
    period    DATE          NOT NULL CHECK (extract(day FROM period) = 1), -- first of the month paid for
    amount    NUMERIC(14,2) NOT NULL CHECK (amount >= 0),
    township  TEXT          NOT NULL,
    -- As in the payments shard (domain.LineMove).
    status    TEXT          NOT NULL CHECK (status IN ('reserved', 'released', 'issued', 'settled', 'failed', 'reversed'))
);
CREATE INDEX batch_lines_batch ON batch_lines (batch_id, reference);
-- The lines a reviewer should look at (batchLineExceptional).
CREATE INDEX batch_lines_exceptions ON batch_lines (batch_id, reference)
    WHERE kind <> 'regular' OR status IN ('released', 'failed', 'reversed');

-- A batch's lines by status and kind; a row exists while it counts a line.
CREATE TABLE batch_line_totals (
    batch_id TEXT COLLATE "C" NOT NULL,
    status   TEXT          NOT NULL,
    kind     TEXT          NOT NULL,
    lines    INT           NOT NULL, -- a row is deleted when it reaches 0
    amount   NUMERIC(14,2) NOT NULL,
    PRIMARY KEY (batch_id, status, kind)
);
