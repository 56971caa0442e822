-- Stop-and-search keys are derived, not stored.
--
-- The table keeps key_repeat instead of search_id, and the view stop_searches_keyed adds search_id:
-- 's' + md5 of what the row says in its stored values (force, the instant as microseconds since 1970,
-- the point to 17 significant digits, type, gender, age, ethnicities, legislation, object and outcome
-- as published), then '#n' from key_repeat for the later rows of a file that say the same, numbered in
-- the order of the rows' values. Before, the md5 was of the published text, computed and stored for
-- every row, which was a quarter of a stop-and-search load (a generated column would not help: DuckDB
-- evaluates it on every insert). Keys of rows already stored follow the new rule from here on.

CREATE TABLE stop_searches_0005 (
    force                     VARCHAR NOT NULL,
    month                     DATE NOT NULL,
    occurred_at               TIMESTAMPTZ,
    search_type               VARCHAR,
    part_of_operation         BOOLEAN,
    operation_name            VARCHAR,
    lon                       DOUBLE,
    lat                       DOUBLE,
    x                         DOUBLE,
    y                         DOUBLE,
    lsoa_code                 VARCHAR,
    borough_code              VARCHAR,
    bcu                       VARCHAR,
    gender                    VARCHAR,
    age_range                 VARCHAR,
    self_defined_ethnicity    VARCHAR,
    officer_defined_ethnicity VARCHAR,
    legislation               VARCHAR,
    object_of_search          VARCHAR,
    outcome                   VARCHAR,
    outcome_raw               VARCHAR,
    outcome_linked            BOOLEAN,
    removal_more_than_outer   BOOLEAN,
    source                    VARCHAR NOT NULL,
    batch_id                  INTEGER NOT NULL,
    key_repeat                INTEGER            -- 2, 3, ... for a file's later rows with the same key
);
INSERT INTO stop_searches_0005 BY NAME
SELECT * EXCLUDE (search_id, n), CASE WHEN n > 1 THEN n END AS key_repeat
FROM (
    SELECT *, row_number() OVER (
        PARTITION BY batch_id, force, occurred_at, lat, lon, coalesce(search_type, ''), coalesce(gender, ''),
            coalesce(age_range, ''), coalesce(self_defined_ethnicity, ''),
            coalesce(officer_defined_ethnicity, ''), coalesce(legislation, ''),
            coalesce(object_of_search, ''), coalesce(outcome_raw, '')
        ORDER BY force NULLS FIRST, month NULLS FIRST, occurred_at NULLS FIRST, search_type NULLS FIRST,
            part_of_operation NULLS FIRST, operation_name NULLS FIRST, lon NULLS FIRST, lat NULLS FIRST,
            gender NULLS FIRST, age_range NULLS FIRST, self_defined_ethnicity NULLS FIRST,
            officer_defined_ethnicity NULLS FIRST, legislation NULLS FIRST, object_of_search NULLS FIRST,
            outcome NULLS FIRST, outcome_raw NULLS FIRST, outcome_linked NULLS FIRST,
            removal_more_than_outer NULLS FIRST, rowid
    ) AS n
    FROM stop_searches
);
DROP TABLE stop_searches;
ALTER TABLE stop_searches_0005 RENAME TO stop_searches;

CREATE VIEW stop_searches_keyed AS
SELECT 's' || md5(concat_ws('|', force, coalesce(CAST(epoch_us(occurred_at) AS VARCHAR), ''),
           coalesce(printf('%.17g', lat), ''), coalesce(printf('%.17g', lon), ''), coalesce(search_type, ''),
           coalesce(gender, ''), coalesce(age_range, ''), coalesce(self_defined_ethnicity, ''),
           coalesce(officer_defined_ethnicity, ''), coalesce(legislation, ''), coalesce(object_of_search, ''),
           coalesce(outcome_raw, ''))) || coalesce('#' || key_repeat, '') AS search_id,
       * EXCLUDE (key_repeat)
FROM stop_searches;
