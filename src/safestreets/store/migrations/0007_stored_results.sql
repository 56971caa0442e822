-- Results worth keeping, so the briefing reads them instead of computing them again: the backtest behind a
-- forecast, emerging hot spot classifications and hub rankings. A classification or ranking records the
-- store's latest load when it was made (data_batch): a later load makes it stale.

-- The backtest a forecast rests on: auto's (scores, reason, the summary table), or one run later for a
-- model chosen by hand (computed_by says which). One per forecast run.
CREATE TABLE forecast_backtests (
    run_id       INTEGER PRIMARY KEY,   -- the forecast run
    computed_by  VARCHAR NOT NULL,      -- forecast (auto chose the model by it) | brief (for a model chosen by hand)
    model        VARCHAR NOT NULL,      -- the model the forecast used
    reason       VARCHAR,
    scores       JSON,                  -- mean hit rate per model
    summary      JSON NOT NULL,         -- the summary table's rows (model, coverage, hit rate and interval, PAI, PEI)
    params       JSON NOT NULL,         -- origins, horizon, coverages
    created_at   TIMESTAMPTZ NOT NULL
);

-- Runs stored before kept auto's choice in their provenance.
INSERT INTO forecast_backtests
SELECT run_id, 'forecast', model, provenance->>'$.auto.reason', provenance->'$.auto.scores',
       provenance->'$.auto.summary', '{}', created_at
FROM forecast_runs
WHERE json_exists(provenance, '$.auto.summary');

CREATE SEQUENCE emerging_run_seq START 1;

CREATE TABLE emerging_runs (
    emerging_id      INTEGER PRIMARY KEY DEFAULT nextval('emerging_run_seq'),
    created_at       TIMESTAMPTZ NOT NULL,
    forecast_run_id  INTEGER NOT NULL,  -- whose units, target, source and cut-off
    params_key       VARCHAR NOT NULL,  -- digest of the method's parameters (periods, alpha, ...)
    periods          INTEGER NOT NULL,
    window_label     VARCHAR NOT NULL,  -- the periods covered, e.g. 2023-01 to 2023-12
    data_batch       INTEGER,           -- the latest load when classified
    params           JSON NOT NULL
);

CREATE TABLE emerging_units (
    emerging_id         INTEGER NOT NULL,
    pos                 INTEGER NOT NULL,  -- the unit's place in the classified units (orders ties)
    unit_id             VARCHAR NOT NULL,
    bcu                 VARCHAR,
    category            VARCHAR NOT NULL,
    hot_share           DOUBLE,
    trend_z             DOUBLE,
    trend_p             DOUBLE,
    last_count          DOUBLE,            -- events in the final period
    mean_count          DOUBLE,            -- mean per period before it
    last_nearby         DOUBLE,            -- the unit and its neighbours, final period
    mean_nearby_before  DOUBLE,
    last_gi_z           DOUBLE,
    x                   DOUBLE,
    y                   DOUBLE,
    PRIMARY KEY (emerging_id, unit_id)
);

CREATE SEQUENCE hub_ranking_seq START 1;

CREATE TABLE hub_rankings (
    ranking_id       INTEGER PRIMARY KEY DEFAULT nextval('hub_ranking_seq'),
    created_at       TIMESTAMPTZ NOT NULL,
    forecast_run_id  INTEGER,           -- the risk surface the scores read (NULL: none was stored)
    params_key       VARCHAR NOT NULL,  -- digest of the ranking's parameters
    budget           INTEGER NOT NULL,
    data_batch       INTEGER,
    params           JSON NOT NULL,
    notes            JSON NOT NULL,
    provenance       JSON NOT NULL
);

CREATE TABLE hub_scores (
    ranking_id                          INTEGER NOT NULL,
    rank                                BIGINT NOT NULL,
    place_id                            VARCHAR NOT NULL,
    name                                VARCHAR,
    kind                                VARCHAR,
    x                                   DOUBLE,
    y                                   DOUBLE,
    lon                                 DOUBLE,
    lat                                 DOUBLE,
    forecast_harm                       DOUBLE,
    forecast_harm_rank                  BIGINT,
    recent_violence                     BIGINT,
    weapon_searches                     BIGINT,
    weapon_search_hits                  BIGINT,
    possession_of_weapons_police_found  BIGINT,
    score                               DOUBLE,
    busiest                             VARCHAR,
    reasons                             VARCHAR
);

CREATE TABLE hub_deployments (
    ranking_id  INTEGER NOT NULL,
    deployment  BIGINT NOT NULL,
    place_id    VARCHAR NOT NULL,
    name        VARCHAR,
    kind        VARCHAR,
    day         VARCHAR,            -- empty: month-only data, no day or time
    "start"     VARCHAR,
    "end"       VARCHAR,
    hub_rank    BIGINT,
    hub_score   DOUBLE,
    slot_share  DOUBLE,
    value       DOUBLE,
    x           DOUBLE,
    y           DOUBLE,
    reasons     VARCHAR
);
