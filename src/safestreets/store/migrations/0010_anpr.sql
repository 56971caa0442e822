-- ANPR (issue 19): cameras, reads under a keyed pseudonym, and the sealed plates behind the pseudonyms.
-- Plates are never stored in clear here: `vehicle` is a keyed hash (HMAC-SHA256, first 16 bytes, hex) made
-- with a key kept outside this file; `anpr_plates.sealed` is the plate encrypted with a key derived from the
-- same secret, opened only by an audited reveal. Rows a load sets aside go to `rejects` with their batch
-- (kind anpr-reads or anpr-cameras), as crime loads do.

CREATE TABLE anpr_cameras (
    camera_id  VARCHAR PRIMARY KEY,
    lon        DOUBLE NOT NULL,
    lat        DOUBLE NOT NULL,
    x          DOUBLE,            -- metres in the workspace CRS
    y          DOUBLE,
    road       VARCHAR,
    direction  VARCHAR,
    name       VARCHAR,
    area_code  VARCHAR,           -- as the cameras file gives it, else the loaded borough (or LSOA) it is in
    batch_id   INTEGER NOT NULL
);

CREATE TABLE anpr_reads (
    vehicle     VARCHAR NOT NULL,    -- the plate's pseudonym
    read_at     TIMESTAMPTZ NOT NULL,
    camera_id   VARCHAR NOT NULL,
    direction   VARCHAR,
    confidence  DOUBLE,              -- 0 to 1, NULL when the export gives none
    batch_id    INTEGER NOT NULL
);

CREATE TABLE anpr_plates (
    vehicle  VARCHAR PRIMARY KEY,
    sealed   BLOB NOT NULL             -- secretbox(nonce || ciphertext) of the normalised plate
);
