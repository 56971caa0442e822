-- Impact evaluations, near-repeat (Knox) tables and fairness audits, kept so the briefing, the dashboard
-- and the transparency record read them back instead of recomputing.
CREATE SEQUENCE impact_result_seq START 1;

CREATE TABLE impact_results (
    result_id   INTEGER PRIMARY KEY DEFAULT nextval('impact_result_seq'),
    created_at  TIMESTAMPTZ NOT NULL,
    kind        VARCHAR NOT NULL,   -- evaluation | near-repeat | fairness
    label       VARCHAR,            -- what it is about (an area, a target, a plan)
    data_batch  INTEGER,            -- the latest load when computed
    params      JSON NOT NULL,      -- the inputs that made it
    result      JSON NOT NULL       -- the result as its to_dict() gives it
);
