"""The analyses, each written once as SQL that DuckDB and Spark SQL both run.

A query is a list of steps (temporary views, each selecting from the ones before; a step marked
``True`` is computed once and kept, because later steps read it more than once) and one or more final
selects with a full ``ORDER BY``, so both engines return the same rows in the same order. Parameters are
numbers checked by the caller and formatted in; names and lists go in as tables, never as text. The
dialect-neutral subset used: ``CASE``, ``CAST``, ``FLOOR``, ``ABS``, ``LEAST``, ``ROUND``, ``COALESCE``,
``LAG``/``LEAD``/``ROW_NUMBER``/running ``SUM`` windows, ``MIN_BY``/``MAX_BY``, ``COUNT(DISTINCT)``,
``UNION ALL``. The one exception, epoch seconds, comes from the engine's function map (``{epoch}``,
``{local_epoch}``).

Input tables: ``anpr_reads(vehicle, read_at, camera_id)``, ``anpr_cameras(camera_id, ..., area_code)``
and ``anpr_metro(area_code)`` (the areas that make up the metropolitan area).
"""

from __future__ import annotations

# Every read with its camera's area, whole UTC seconds ``t`` and local wall-clock seconds ``lt``.
BASE = """
SELECT r.vehicle, r.camera_id, r.read_at, {epoch} AS t, {local_epoch} AS lt, c.area_code,
       CASE WHEN m.area_code IS NULL THEN 0 ELSE 1 END AS metro
FROM anpr_reads r
JOIN anpr_cameras c ON c.camera_id = r.camera_id
LEFT JOIN anpr_metro m ON m.area_code = c.area_code
"""

# --- journeys: a gap longer than gap_s between two reads of a vehicle ends a trip ---------------------

JOURNEY_STEPS = [
    (
        "anpr_j1",
        """
SELECT vehicle, camera_id, read_at, t, area_code,
       ROW_NUMBER() OVER (PARTITION BY vehicle ORDER BY read_at, camera_id) AS seq,
       t - LAG(t) OVER (PARTITION BY vehicle ORDER BY read_at, camera_id) AS gap
FROM anpr_r
""",
    ),
    (
        "anpr_j2",
        """
SELECT vehicle, camera_id, read_at, t, area_code, seq,
       SUM(CASE WHEN gap IS NULL OR gap > {gap_s} THEN 1 ELSE 0 END)
           OVER (PARTITION BY vehicle ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS trip
FROM anpr_j1
""",
    ),
    (
        "anpr_journeys",
        """
SELECT vehicle, trip, MIN(read_at) AS start_at, MAX(read_at) AS end_at, MAX(t) - MIN(t) AS duration_s,
       COUNT(*) AS n_reads, COUNT(DISTINCT camera_id) AS n_cameras,
       MIN_BY(camera_id, seq) AS origin_camera, MAX_BY(camera_id, seq) AS destination_camera,
       MIN_BY(area_code, seq) AS origin_area, MAX_BY(area_code, seq) AS destination_area
FROM anpr_j2
GROUP BY vehicle, trip
""",
        True,
    ),
]
JOURNEYS = "SELECT * FROM anpr_journeys ORDER BY vehicle, trip"

FLOWS = """
SELECT origin_area, destination_area, COUNT(*) AS trips, COUNT(DISTINCT vehicle) AS vehicles,
       AVG(CAST(duration_s AS DOUBLE)) / 60.0 AS mean_minutes
FROM anpr_journeys
GROUP BY origin_area, destination_area
ORDER BY trips DESC, origin_area, destination_area
"""

# --- county lines: runs of reads outside the metro area, bounded by metro reads on both sides ----------

COUNTY_LINES_STEPS = [
    (
        "anpr_c1",
        """
SELECT vehicle, camera_id, read_at, t, lt, area_code, metro,
       ROW_NUMBER() OVER (PARTITION BY vehicle ORDER BY read_at, camera_id) AS seq,
       LAG(t) OVER (PARTITION BY vehicle ORDER BY read_at, camera_id) AS prev_t,
       LEAD(t) OVER (PARTITION BY vehicle ORDER BY read_at, camera_id) AS next_t,
       LAG(metro) OVER (PARTITION BY vehicle ORDER BY read_at, camera_id) AS prev_m,
       LEAD(metro) OVER (PARTITION BY vehicle ORDER BY read_at, camera_id) AS next_m
FROM anpr_r
""",
    ),
    (
        "anpr_c2",
        """
SELECT vehicle, camera_id, read_at, t, lt, area_code, seq, prev_t, next_t, prev_m, next_m,
       seq - ROW_NUMBER() OVER (PARTITION BY vehicle, metro ORDER BY seq) AS grp
FROM anpr_c1
WHERE metro = 0
""",
    ),
    (
        "anpr_c3",
        """
SELECT vehicle, read_at, t, lt, area_code, seq, prev_t, next_t, prev_m, next_m, grp,
       t - LAG(t) OVER (PARTITION BY vehicle, grp ORDER BY seq) AS run_gap,
       LAG(area_code) OVER (PARTITION BY vehicle, grp ORDER BY seq) AS run_prev_area,
       CASE WHEN (lt % 86400) < {night_end_s} OR (lt % 86400) >= {night_start_s} THEN CAST(1 AS DOUBLE) ELSE CAST(0 AS DOUBLE) END
           AS unusual
FROM anpr_c2
""",
    ),
    (
        "anpr_excursions",
        """
SELECT vehicle, grp AS excursion, MIN(read_at) AS first_away_at, MAX(read_at) AS last_away_at,
       COUNT(*) AS n_reads,
       MAX(CASE WHEN prev_m = 1 THEN t - prev_t END) AS out_s,
       MAX(CASE WHEN next_m = 1 THEN next_t - t END) AS back_s,
       COALESCE(MAX(run_gap), 0) AS dwell_s,
       MAX_BY(COALESCE(run_prev_area, area_code), COALESCE(run_gap, 0) * 100000000 + seq) AS far_area,
       AVG(unusual) AS unusual_share,
       CAST(FLOOR((FLOOR(MIN(lt) / 86400.0) + 3) / 7.0) AS BIGINT) AS week
FROM anpr_c3
GROUP BY vehicle, grp
""",
    ),
    (
        "anpr_c4",
        """
SELECT *,
       CASE WHEN out_s IS NOT NULL AND back_s IS NOT NULL AND out_s <= {max_leg_s} AND back_s <= {max_leg_s}
            THEN 1 ELSE 0 END AS is_return,
       CASE WHEN out_s IS NOT NULL AND back_s IS NOT NULL AND out_s <= {max_leg_s} AND back_s <= {max_leg_s}
                 AND dwell_s <= {max_dwell_s} THEN 1 ELSE 0 END AS is_short
FROM anpr_excursions
""",
    ),
    (
        "anpr_c_span",
        """
SELECT CAST(FLOOR((MAX(lt) - MIN(lt)) / 604800.0) AS BIGINT) + 1 AS span_weeks FROM anpr_r
""",
    ),
    (
        "anpr_c_vehicle",
        """
SELECT vehicle, CAST(SUM(is_return) AS BIGINT) AS returns, CAST(SUM(is_short) AS BIGINT) AS short_returns,
       COUNT(DISTINCT CASE WHEN is_short = 1 THEN far_area END) AS towns,
       AVG(CASE WHEN is_short = 1 THEN CAST(dwell_s AS DOUBLE) END) / 60.0 AS mean_dwell_min,
       AVG(CASE WHEN is_short = 1 THEN unusual_share END) AS unusual_share,
       COUNT(DISTINCT CASE WHEN is_short = 1 THEN week END) AS active_weeks
FROM anpr_c4
GROUP BY vehicle
HAVING SUM(is_short) >= 1
""",
    ),
    (
        "anpr_county_lines",
        """
SELECT v.vehicle, v.returns, v.short_returns, v.towns, v.mean_dwell_min, v.unusual_share, v.active_weeks,
       s.span_weeks,
       ROUND(CAST(v.short_returns AS DOUBLE) / s.span_weeks, 6) AS per_week,
       ROUND(LEAST(CAST(v.active_weeks AS DOUBLE) / s.span_weeks, CAST(1 AS DOUBLE)), 6) AS regularity,
       ROUND(CAST(v.short_returns AS DOUBLE) / v.returns, 6) AS short_share,
       {w_repeat} * LEAST(CAST(v.short_returns AS DOUBLE) / s.span_weeks / {per_week_full}, CAST(1 AS DOUBLE))
             + {w_unusual} * LEAST(v.unusual_share / {unusual_full}, CAST(1 AS DOUBLE))
             + {w_regular} * LEAST(CAST(v.active_weeks AS DOUBLE) / s.span_weeks, CAST(1 AS DOUBLE))
             + {w_short} * CAST(v.short_returns AS DOUBLE) / v.returns AS score
FROM anpr_c_vehicle v CROSS JOIN anpr_c_span s
""",
    ),
]
COUNTY_LINES = """
SELECT *, CASE WHEN short_returns >= {min_returns} AND per_week >= {min_per_week}
                    AND unusual_share >= {min_unusual} AND score >= {threshold}
               THEN TRUE ELSE FALSE END AS flagged
FROM anpr_county_lines
ORDER BY score DESC, vehicle
"""
COUNTY_LINES_EVIDENCE = """
SELECT e.vehicle, e.excursion, e.first_away_at, e.last_away_at, e.n_reads, e.far_area,
       ROUND(CAST(e.dwell_s AS DOUBLE) / 60.0, 3) AS dwell_min, e.out_s, e.back_s, e.unusual_share, e.week,
       e.is_short
FROM anpr_c4 e
JOIN anpr_county_lines v ON v.vehicle = e.vehicle
WHERE e.is_return = 1 AND v.short_returns >= {min_returns} AND v.per_week >= {min_per_week}
      AND v.unusual_share >= {min_unusual} AND v.score >= {threshold}
ORDER BY e.vehicle, e.first_away_at
"""

# --- co-travel: pairs of reads at one camera within window_s seconds ---------------------------------

CO_TRAVEL_STEPS = [
    (
        # Vehicles numbered in name order: pairs are grouped on two integers, not two long pseudonyms.
        "anpr_t_vid",
        """
SELECT vehicle, ROW_NUMBER() OVER (ORDER BY vehicle) AS vid FROM (SELECT DISTINCT vehicle FROM anpr_r) v
""",
        True,
    ),
    (
        "anpr_t1",
        """
SELECT i.vid, r.camera_id, r.t, CAST(FLOOR(r.lt / 86400.0) AS BIGINT) AS day,
       CAST(FLOOR(r.t / {window_f}) AS BIGINT) AS b
FROM anpr_r r JOIN anpr_t_vid i ON i.vehicle = r.vehicle
""",
    ),
    (
        # Each read in its own time bucket and both neighbours: an equi-join on (camera, bucket) then
        # finds every pair of reads within the window exactly once.
        "anpr_t2",
        """
SELECT vid, camera_id, t, b - 1 AS jb FROM anpr_t1
UNION ALL SELECT vid, camera_id, t, b AS jb FROM anpr_t1
UNION ALL SELECT vid, camera_id, t, b + 1 AS jb FROM anpr_t1
""",
    ),
    (
        "anpr_t_hits",
        """
SELECT a.vid AS vid_a, b.vid AS vid_b, a.camera_id, a.t AS t_a, b.t AS t_b, a.day
FROM anpr_t1 a JOIN anpr_t2 b ON a.camera_id = b.camera_id AND a.b = b.jb
WHERE a.vid < b.vid AND ABS(a.t - b.t) <= {window_s}
""",
    ),
    (
        # Most pairs meet once by chance; keeping only those that met on min_days days first keeps the
        # distinct counts below small.
        "anpr_t_candidates",
        """
SELECT vid_a, vid_b FROM (SELECT DISTINCT vid_a, vid_b, day FROM anpr_t_hits) d
GROUP BY vid_a, vid_b HAVING COUNT(*) >= {min_days}
""",
        True,
    ),
    (
        "anpr_t_pairs",
        """
SELECT h.vid_a, h.vid_b, MIN(va.vehicle) AS vehicle_a, MIN(vb.vehicle) AS vehicle_b, COUNT(*) AS hits,
       COUNT(DISTINCT h.camera_id) AS cameras, COUNT(DISTINCT h.day) AS days,
       AVG(CAST(ABS(h.t_a - h.t_b) AS DOUBLE)) AS mean_gap_s
FROM anpr_t_hits h
JOIN anpr_t_candidates c ON c.vid_a = h.vid_a AND c.vid_b = h.vid_b
JOIN anpr_t_vid va ON va.vid = h.vid_a
JOIN anpr_t_vid vb ON vb.vid = h.vid_b
GROUP BY h.vid_a, h.vid_b
HAVING COUNT(DISTINCT h.camera_id) >= {min_cameras}
""",
        True,
    ),
    (
        "anpr_t_hour",
        """
SELECT i.vid, r.camera_id, CAST(FLOOR((r.lt % 86400) / 3600.0) AS BIGINT) AS hod, COUNT(*) AS n
FROM anpr_r r JOIN anpr_t_vid i ON i.vehicle = r.vehicle
GROUP BY i.vid, r.camera_id, CAST(FLOOR((r.lt % 86400) / 3600.0) AS BIGINT)
""",
        True,
    ),
    ("anpr_t_days", "SELECT CAST(FLOOR((MAX(lt) - MIN(lt)) / 86400.0) AS BIGINT) + 1 AS n_days FROM anpr_r", True),
    (
        # Chance: each vehicle keeps its own habits (how often it passes each camera at each hour of the
        # day) but the two are independent. A read of b at camera c in the hour of a's read falls on a's
        # day with probability 1 / n_days and anywhere in that hour, so the pair lands within the window
        # with probability (2w + 1) / 3,600 / n_days.
        "anpr_t_expected",
        """
SELECT p.vid_a, p.vid_b,
       SUM(CAST(ha.n * hb.n AS DOUBLE)) AS shared
FROM anpr_t_pairs p
JOIN anpr_t_hour ha ON ha.vid = p.vid_a
JOIN anpr_t_hour hb ON hb.vid = p.vid_b AND hb.camera_id = ha.camera_id AND hb.hod = ha.hod
GROUP BY p.vid_a, p.vid_b
""",
    ),
]
CO_TRAVEL = """
SELECT p.vehicle_a, p.vehicle_b, p.hits, p.cameras, p.days, p.mean_gap_s,
       ROUND(e.shared * {window_span} / 3600.0 / d.n_days, 6) AS expected
FROM anpr_t_pairs p JOIN anpr_t_expected e ON e.vid_a = p.vid_a AND e.vid_b = p.vid_b
CROSS JOIN anpr_t_days d
ORDER BY p.vehicle_a, p.vehicle_b
"""
CO_TRAVEL_EVIDENCE = """
SELECT p.vehicle_a, p.vehicle_b, h.camera_id, h.t_a, h.t_b, h.day
FROM anpr_t_hits h
JOIN anpr_t_pairs p ON p.vid_a = h.vid_a AND p.vid_b = h.vid_b
ORDER BY p.vehicle_a, p.vehicle_b, h.t_a, h.camera_id, h.t_b
"""
