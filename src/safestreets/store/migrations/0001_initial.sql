-- The first schema. Coordinates: lon/lat are WGS84 as published; x/y are metres in the workspace CRS
-- (settings.crs, EPSG:27700 by default). Times are instants (TIMESTAMPTZ), shown in settings.timezone.

CREATE TABLE settings (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

CREATE SEQUENCE batch_ids START 1;

-- One row per load: every row in every other table traces to its source through batch_id.
CREATE TABLE batches (
    batch_id          INTEGER PRIMARY KEY,
    kind              VARCHAR NOT NULL,   -- street | outcomes | stop-and-search | force-records | areas | places
    source            VARCHAR NOT NULL,   -- file path ("archive.zip::member" for a zip member) or URL
    sha256            VARCHAR,            -- of the uncompressed bytes read, or of the API answer
    force             VARCHAR,
    months            VARCHAR[],
    params            JSON,               -- filters and options that shaped the load
    rows_read         BIGINT NOT NULL,
    rows_loaded       BIGINT NOT NULL,
    rows_rejected     BIGINT NOT NULL,
    rows_filtered     BIGINT NOT NULL,    -- read but outside the --force/--months filters
    rows_no_location  BIGINT NOT NULL,
    rows_replaced     BIGINT NOT NULL,    -- rows of earlier batches this load replaced
    software_version  VARCHAR NOT NULL,
    loaded_at         TIMESTAMPTZ NOT NULL
);

-- The canonical events table: one row per recorded crime, whatever the source.
CREATE TABLE events (
    event_id      VARCHAR NOT NULL,   -- stable key: the Crime ID, or a hash for rows without one
    crime_id      VARCHAR,            -- as published; NULL for anti-social behaviour and old rows
    force         VARCHAR NOT NULL,   -- police.uk force id, e.g. metropolitan
    month         DATE NOT NULL,      -- first day of the month
    occurred_at   TIMESTAMPTZ,        -- NULL for month-only data (police.uk street files)
    crime_type    VARCHAR NOT NULL,   -- one of the 14 police.uk types
    harm          DOUBLE,             -- default harm weight of the type (Cambridge Crime Harm Index days)
    lon           DOUBLE,
    lat           DOUBLE,
    x             DOUBLE,
    y             DOUBLE,
    location      VARCHAR,
    lsoa_code     VARCHAR,            -- as published, else from the point where LSOAs are loaded
    lsoa_name     VARCHAR,
    borough_code  VARCHAR,            -- assigned from loaded areas
    bcu           VARCHAR,            -- assigned from loaded areas
    outcome       VARCHAR,            -- last outcome category, normalised to current wording
    context       VARCHAR,
    source        VARCHAR NOT NULL,   -- police.uk | police.uk-api | force-records
    batch_id      INTEGER NOT NULL
);

CREATE TABLE outcomes (
    crime_id      VARCHAR,
    force         VARCHAR NOT NULL,
    month         DATE NOT NULL,
    lon           DOUBLE,
    lat           DOUBLE,
    x             DOUBLE,
    y             DOUBLE,
    location      VARCHAR,
    lsoa_code     VARCHAR,
    lsoa_name     VARCHAR,
    borough_code  VARCHAR,
    bcu           VARCHAR,
    outcome_type  VARCHAR NOT NULL,   -- normalised to current wording
    outcome_raw   VARCHAR NOT NULL,   -- as published
    source        VARCHAR NOT NULL,
    batch_id      INTEGER NOT NULL
);

CREATE TABLE stop_searches (
    search_id                 VARCHAR NOT NULL,  -- stable hash key (the files carry no id)
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
    outcome                   VARCHAR,           -- normalised to current wording
    outcome_raw               VARCHAR,           -- as published
    outcome_linked            BOOLEAN,
    removal_more_than_outer   BOOLEAN,
    source                    VARCHAR NOT NULL,
    batch_id                  INTEGER NOT NULL
);

-- Areas of every kind (lsoa11, lsoa21, msoa21, ward, borough, bcu, neighbourhood, ...).
CREATE TABLE areas (
    code        VARCHAR NOT NULL,
    name        VARCHAR,
    kind        VARCHAR NOT NULL,
    parent      VARCHAR,        -- code of the enclosing area (LSOA -> borough -> BCU)
    geometry    BLOB,           -- WKB in the workspace CRS; NULL for a lookup-only area
    xmin        DOUBLE,
    ymin        DOUBLE,
    xmax        DOUBLE,
    ymax        DOUBLE,
    area_m2     DOUBLE,
    population  DOUBLE,
    batch_id    INTEGER NOT NULL,
    PRIMARY KEY (kind, code)
);

-- Places that shape risk or tactics: stations, night-time economy, open spaces.
CREATE TABLE places (
    place_id    VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,
    name        VARCHAR,
    lon         DOUBLE,
    lat         DOUBLE,
    x           DOUBLE,
    y           DOUBLE,
    attributes  JSON,
    batch_id    INTEGER NOT NULL
);

-- Rows a --skip-bad-rows load set aside, with the reason.
CREATE TABLE rejects (
    batch_id     INTEGER NOT NULL,
    row_number   BIGINT,
    column_name  VARCHAR,
    value        VARCHAR,
    reason       VARCHAR NOT NULL
);
