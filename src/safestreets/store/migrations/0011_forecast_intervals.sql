-- Predictive intervals of each unit's forecast count (forecast/intervals.py): whole counts, at the level
-- stored in the run's provenance (provenance.intervals.level, 0.8 by default), with the command units' and
-- the city's totals there too. Runs stored before have none (NULL).
ALTER TABLE forecasts ADD COLUMN count_lower DOUBLE;
ALTER TABLE forecasts ADD COLUMN count_upper DOUBLE;
