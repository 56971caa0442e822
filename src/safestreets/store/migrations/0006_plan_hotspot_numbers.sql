-- One number per hot spot in a plan, used everywhere the plan is shown (visits, patrol cards and their
-- maps, the exports, the briefing): its rank in the plan's hot spot list, the most expected harm first
-- (ties by unit id). Plans stored before get their numbers by the same rule.
ALTER TABLE plan_hotspots ADD COLUMN hotspot INTEGER;

UPDATE plan_hotspots AS h SET hotspot = r.n
FROM (
    SELECT plan_id, unit_id, row_number() OVER (PARTITION BY plan_id ORDER BY harm DESC, unit_id) AS n
    FROM (SELECT plan_id, unit_id, max(harm_week) AS harm FROM plan_hotspots GROUP BY plan_id, unit_id)
) AS r
WHERE h.plan_id = r.plan_id AND h.unit_id = r.unit_id;
