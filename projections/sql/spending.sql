-- Projection "spending" (version 3): finance's per-program totals.
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
-- year rather than per month keeps the table a fraction of the size (a
-- person is paid in most months, nearly always in one township), which is
-- what lets a rebuild write it in a fraction of the time. Rows whose counts
-- fall to zero are kept (a payment issued and failed leaves one), so the
-- table does not depend on how the log was split into batches. The key
-- leads with program and year, so a payroll run's writes land in one
-- region of the index, then the person: a person's townships sit together,
-- and the runner reads them together to count the person once in a month
-- or a year however many townships paid them.
CREATE TABLE spending_persons (
    program     TEXT COLLATE "C" NOT NULL,
    fiscal_year INT              NOT NULL,
    person_id   TEXT COLLATE "C" NOT NULL,
    township    TEXT COLLATE "C" NOT NULL,
    n           INT[]            NOT NULL CHECK (cardinality(n) = 12),
    PRIMARY KEY (program, fiscal_year, person_id, township)
);

-- Distinct persons counted per program and fiscal year in the reports'
-- groups: a month of every township (month 1 to 12, township ''), a
-- township's year (month 0) and the whole year (month 0, township ''). A
-- person paid in two townships counts once in the month and the year. The
-- row of a group exists once a payment touched it, even if its persons
-- fall back to 0. (A month's persons in one township are spending.persons.)
CREATE TABLE spending_groups (
    program     TEXT COLLATE "C" NOT NULL,
    fiscal_year INT              NOT NULL,
    month       SMALLINT         NOT NULL CHECK (month BETWEEN 0 AND 12),
    township    TEXT COLLATE "C" NOT NULL,
    persons     INT              NOT NULL,
    PRIMARY KEY (program, fiscal_year, month, township)
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
