-- Census 2021 TS021 populations by area and broad ethnic group, loaded by the user
-- (`safestreets stopsearch population`): the denominators of stop-and-search disproportionality.
-- `level` is the table's geography (lad | msoa); `borough_code` is the loaded borough each area lies in
-- (the area itself for a local authority, the borough named by the MSOA's name for an MSOA). A re-load of a
-- level replaces that level's rows.
CREATE TABLE population_ethnicity (
    level         VARCHAR NOT NULL,
    area_code     VARCHAR NOT NULL,
    area_name     VARCHAR,
    borough_code  VARCHAR NOT NULL,
    ethnic_group  VARCHAR NOT NULL,
    population    BIGINT NOT NULL,
    source        VARCHAR NOT NULL,
    loaded_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (level, area_code, ethnic_group)
);
