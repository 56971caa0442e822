-- Patrol plans: one run per plan, the hot spots each team patrols, and every timed visit.
CREATE SEQUENCE plan_run_seq START 1;

CREATE TABLE plan_runs (
    plan_id          INTEGER PRIMARY KEY DEFAULT nextval('plan_run_seq'),
    created_at       TIMESTAMPTZ NOT NULL,
    week_start       DATE NOT NULL,
    forecast_run_id  INTEGER,           -- the risk surface the plan used
    solver           VARCHAR NOT NULL,  -- milp | heuristic
    status           VARCHAR NOT NULL,
    objective        DOUBLE NOT NULL,   -- expected harm prevented per week (dosage model)
    bound            DOUBLE NOT NULL,   -- upper bound on the objective
    gap              DOUBLE NOT NULL,
    seconds          DOUBLE NOT NULL,
    params           JSON NOT NULL      -- rules, resources, shift shares, data, version
);

CREATE TABLE plan_hotspots (
    plan_id          INTEGER NOT NULL,
    team_id          VARCHAR NOT NULL,
    home             VARCHAR NOT NULL,  -- the team's BCU, or * for the citywide pool
    bcu              VARCHAR NOT NULL,  -- where it patrols
    shift            VARCHAR NOT NULL,
    stop             INTEGER NOT NULL,  -- walking order within the team's area
    unit_id          VARCHAR NOT NULL,
    neighbourhood    VARCHAR,           -- the area the multi-week cap counts against
    visits_per_day   INTEGER NOT NULL,
    harm_week        DOUBLE NOT NULL,   -- expected harm in the unit this week (all shifts)
    x                DOUBLE,
    y                DOUBLE
);

CREATE TABLE plan_visits (
    plan_id    INTEGER NOT NULL,
    team_id    VARCHAR NOT NULL,
    day        DATE NOT NULL,
    seq        INTEGER NOT NULL,
    unit_id    VARCHAR NOT NULL,
    starts_at  TIMESTAMP NOT NULL,  -- local clock time
    ends_at    TIMESTAMP NOT NULL
);
