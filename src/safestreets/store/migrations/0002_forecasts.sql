-- Risk surfaces: one run per forecast, one row per unit. A run records everything that made it.
CREATE SEQUENCE forecast_run_seq START 1;

CREATE TABLE forecast_runs (
    run_id        INTEGER PRIMARY KEY DEFAULT nextval('forecast_run_seq'),
    created_at    TIMESTAMPTZ NOT NULL,
    target        VARCHAR NOT NULL,
    police_found  BOOLEAN NOT NULL,   -- the target includes crime found by police activity
    model         VARCHAR NOT NULL,
    horizon       VARCHAR NOT NULL,
    window_start  TIMESTAMP NOT NULL,
    window_end    TIMESTAMP NOT NULL,
    units_kind    VARCHAR NOT NULL,
    cell_size     DOUBLE,
    rank_by       VARCHAR NOT NULL,   -- count or harm
    reason        VARCHAR,            -- why auto chose the model
    provenance    JSON NOT NULL       -- data, parameters, units, version
);

CREATE TABLE forecasts (
    run_id          INTEGER NOT NULL,
    unit_id         VARCHAR NOT NULL,
    bcu             VARCHAR,
    rank            INTEGER NOT NULL,  -- 1 = riskiest by the run's rank_by, per unit of land
    expected_count  DOUBLE NOT NULL,
    expected_harm   DOUBLE NOT NULL,
    area_m2         DOUBLE NOT NULL,
    x               DOUBLE,            -- a point inside the unit (workspace CRS)
    y               DOUBLE,
    geometry        BLOB,              -- WKB in the workspace CRS
    PRIMARY KEY (run_id, unit_id)
);
