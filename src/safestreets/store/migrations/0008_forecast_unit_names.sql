-- A forecast unit's name, for people: a grid cell's most common police.uk street ("Bishopsgate, City of
-- London"), an area's own name ("City of London 001A"). Named when the forecast is stored
-- (geo/names.py); runs stored before have none, and are named when read. (0007 is left for a change
-- made alongside this one.)
ALTER TABLE forecasts ADD COLUMN name VARCHAR;
