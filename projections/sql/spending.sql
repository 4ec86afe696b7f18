-- Projection "spending" (version 2): finance's per-program totals.
-- Runs with search_path set to the target schema; names are unqualified.
-- Text keys use COLLATE "C": byte-order comparisons make index upserts
-- markedly cheaper than locale-aware ones, and reports sort by code anyway.

-- Net payments per program, month of payment (paid_on, first of the month)
-- and township: issued payments minus failed and reversed ones.
CREATE TABLE spending (
    program     TEXT COLLATE "C" NOT NULL,
    month       DATE             NOT NULL,
    township    TEXT COLLATE "C" NOT NULL,
    amount_paid NUMERIC(16,2)    NOT NULL,
    payments    INT              NOT NULL,
    persons     INT              NOT NULL, -- rows of spending_persons with n[month] > 0
    PRIMARY KEY (program, month, township)
);

-- Net count of counted payments per person, program, fiscal year and
-- township, one count per month of payment: n[1] is January, n[12]
-- December. A person counts in the spending row of (program, month,
-- township) while that month's count is above zero. One row per person and
-- year rather than per month keeps the table a twelfth of the size (a
-- person is paid in most months, nearly always in one township), which is
-- what lets a rebuild write it in a fraction of the time. Rows whose counts
-- fall to zero are kept (a payment issued and failed leaves one), so the
-- table does not depend on how the log was split into batches. The key
-- leads with program and year, so a payroll run's writes land in one
-- region of the index.
CREATE TABLE spending_persons (
    program     TEXT COLLATE "C" NOT NULL,
    fiscal_year INT              NOT NULL,
    township    TEXT COLLATE "C" NOT NULL,
    person_id   TEXT COLLATE "C" NOT NULL,
    n           INT[]            NOT NULL CHECK (cardinality(n) = 12),
    PRIMARY KEY (program, fiscal_year, township, person_id)
);

-- Budget per program and fiscal (calendar) year. spent is the sum of
-- spending.amount_paid of that program over the year's months; the row is
-- created by the first payment or allocation, whichever comes first.
CREATE TABLE budgets (
    program     TEXT COLLATE "C" NOT NULL,
    fiscal_year INT              NOT NULL,
    allocated   NUMERIC(16,2)    NOT NULL,
    spent       NUMERIC(16,2)    NOT NULL,
    remaining   NUMERIC(16,2)    GENERATED ALWAYS AS (allocated - spent) STORED,
    PRIMARY KEY (program, fiscal_year)
);
