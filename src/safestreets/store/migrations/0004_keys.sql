-- Keys cost less to store.
--
-- events.event_id becomes derived: the Crime ID, unless the row needs a key of its own (no Crime ID,
-- or a Crime ID repeated within a file: id#2, id#3), which is kept in event_key. Before, every Crime
-- ID was stored twice. Stored keys are random hex, which compression barely shrinks but spends most
-- of a load's storing time on, so they are stored uncompressed.

CREATE TABLE events_0004 (
    event_id      VARCHAR GENERATED ALWAYS AS (coalesce(event_key, crime_id)) VIRTUAL,  -- stable key
    event_key     VARCHAR USING COMPRESSION uncompressed,  -- the key where it is not the Crime ID
    crime_id      VARCHAR,
    force         VARCHAR NOT NULL,
    month         DATE NOT NULL,
    occurred_at   TIMESTAMPTZ,
    crime_type    VARCHAR NOT NULL,
    harm          DOUBLE,
    lon           DOUBLE,
    lat           DOUBLE,
    x             DOUBLE,
    y             DOUBLE,
    location      VARCHAR,
    lsoa_code     VARCHAR,
    lsoa_name     VARCHAR,
    borough_code  VARCHAR,
    bcu           VARCHAR,
    outcome       VARCHAR,
    context       VARCHAR,
    source        VARCHAR NOT NULL,
    batch_id      INTEGER NOT NULL
);
INSERT INTO events_0004 BY NAME
SELECT * EXCLUDE (event_id), CASE WHEN event_id IS DISTINCT FROM crime_id THEN event_id END AS event_key
FROM events;
DROP TABLE events;
ALTER TABLE events_0004 RENAME TO events;

CREATE TABLE stop_searches_0004 (
    search_id                 VARCHAR NOT NULL USING COMPRESSION uncompressed,
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
    batch_id                  INTEGER NOT NULL
);
INSERT INTO stop_searches_0004 SELECT * FROM stop_searches;
DROP TABLE stop_searches;
ALTER TABLE stop_searches_0004 RENAME TO stop_searches;
