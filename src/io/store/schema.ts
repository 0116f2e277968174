/**
 * The store's tables (design §2). One DuckDB file; `flows` holds one row per unidirectional flow
 * record. Addresses are kept twice: as text (`src_ip`, RFC 5952 for IPv6) for people and tools, and as
 * a 128-bit number (`src_addr`, IPv4 mapped into ::ffff:0:0/96) for CIDR ranges and prefix buckets.
 * The texts are stored dictionary-compressed: left to choose, DuckDB also tries FSST on every row
 * group, which cost ~15% of an ingest's DuckDB time for 5% less space, and grouping by a dictionary
 * string is faster. (Computing the texts from `src_addr` on read instead was measured too: ten times
 * slower queries.)
 */
export const SCHEMA_VERSION = 2

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS meta (
  key VARCHAR PRIMARY KEY,
  value VARCHAR
);
CREATE SEQUENCE IF NOT EXISTS source_id_seq START 1;
CREATE TABLE IF NOT EXISTS sources (
  source_id     INTEGER PRIMARY KEY,
  path          VARCHAR NOT NULL,
  size          UBIGINT NOT NULL,
  sha256        VARCHAR,              -- identity of derived sources (samples, streams); of files in schema 1
  blake3        VARCHAR,              -- content identity of an ingested file (b3sum), schema 2 on
  format        VARCHAR NOT NULL,
  network       VARCHAR NOT NULL,
  packets       UBIGINT NOT NULL,
  flows         UBIGINT NOT NULL,
  bytes         UBIGINT NOT NULL,
  skipped       UBIGINT NOT NULL,
  ts_first      TIMESTAMP,
  ts_last       TIMESTAMP,
  sampling_rate UINTEGER NOT NULL DEFAULT 1,
  parent_source INTEGER,
  ingested_at   TIMESTAMP NOT NULL,
  content       VARCHAR NOT NULL DEFAULT 'packets',
  head_sha256   VARCHAR,
  UNIQUE (sha256, network),
  UNIQUE (blake3, network)
);
CREATE TABLE IF NOT EXISTS flows (
  network       VARCHAR NOT NULL,
  exporter      VARCHAR,
  ts_start      TIMESTAMP NOT NULL,
  ts_end        TIMESTAMP NOT NULL,
  src_ip        VARCHAR NOT NULL USING COMPRESSION dictionary,
  dst_ip        VARCHAR NOT NULL USING COMPRESSION dictionary,
  src_port      USMALLINT NOT NULL,
  dst_port      USMALLINT NOT NULL,
  proto         UTINYINT NOT NULL,
  tcp_flags     UTINYINT NOT NULL,
  packets       UBIGINT NOT NULL,
  bytes         UBIGINT NOT NULL,
  sampling_rate UINTEGER NOT NULL,
  source_id     INTEGER NOT NULL,
  family        UTINYINT NOT NULL,
  src_addr      UHUGEINT NOT NULL,
  dst_addr      UHUGEINT NOT NULL,
  src_as        UINTEGER,
  dst_as        UINTEGER
);
CREATE SEQUENCE IF NOT EXISTS run_id_seq START 1;
CREATE TABLE IF NOT EXISTS runs (
  run_id        INTEGER PRIMARY KEY,
  kind          VARCHAR NOT NULL,      -- analyze | stream | sample | bench-sampling | train
  status        VARCHAR NOT NULL,      -- ok | failed | partial
  network       VARCHAR,
  started_at    TIMESTAMP NOT NULL,
  finished_at   TIMESTAMP,
  wall_s        DOUBLE,
  cpu_user_s    DOUBLE,                -- controller plus workers
  cpu_system_s  DOUBLE,
  peak_rss_mb   DOUBLE,                -- largest single process
  peak_rss_total_mb DOUBLE,            -- sum over processes of their peaks
  addresses     UBIGINT,
  addresses_per_s DOUBLE,
  addresses_per_cpu_s DOUBLE,
  buckets       UBIGINT,
  map_hits      UBIGINT,
  map_misses    UBIGINT,
  reuse_ratio   DOUBLE,
  failures      UBIGINT,
  detections    UBIGINT,
  details       JSON                   -- everything else: parameters, per-worker figures, failed buckets
);
CREATE TABLE IF NOT EXISTS detections (
  network       VARCHAR NOT NULL,
  address       VARCHAR NOT NULL,
  window_start  TIMESTAMP NOT NULL,
  window_end    TIMESTAMP NOT NULL,
  model         VARCHAR NOT NULL,      -- model id: name and content hash
  pass          VARCHAR NOT NULL,      -- first | post | stream
  score         DOUBLE NOT NULL,
  threshold     DOUBLE NOT NULL,
  attack_type   VARCHAR NOT NULL,      -- scan | flood | amplification | brute_force | beaconing | exfiltration | unknown
  top_features  JSON NOT NULL,         -- [{name, value, z}] the features that drove the score
  asn           UINTEGER,
  as_name       VARCHAR,
  run_id        INTEGER,
  detected_at   TIMESTAMP NOT NULL,
  incident_id   VARCHAR,               -- the incident it belongs to (incidents.ts); NULL until one is built
  PRIMARY KEY (network, address, window_start, model, pass)
);
CREATE TABLE IF NOT EXISTS incidents (
  incident_id   VARCHAR PRIMARY KEY,   -- hash of network|entity|attack_type|first window start (incident-merge.ts)
  network       VARCHAR NOT NULL,
  entity        VARCHAR NOT NULL,      -- the address
  role          VARCHAR,               -- victim | attacker | scanner | reflector | …; NULL for now
  attack_type   VARCHAR NOT NULL,
  first_seen    TIMESTAMP NOT NULL,    -- earliest window start
  last_seen     TIMESTAMP NOT NULL,    -- latest window end
  windows       UINTEGER NOT NULL,     -- distinct windows of its detections
  peak_score    DOUBLE NOT NULL,
  severity      UTINYINT NOT NULL,     -- 1..5 from the peak score over its threshold (SEVERITY_BANDS)
  confidence    VARCHAR,               -- NULL for now
  counterparts  JSON,                  -- NULL for now
  evidence      JSON,                  -- the peak window: times, model, pass, threshold, top_features
  status        VARCHAR NOT NULL,      -- open | closed (by the idle time)
  run_id        INTEGER                -- the run that first built it
);
CREATE TABLE IF NOT EXISTS estimates (
  run_id        INTEGER,
  source_id     INTEGER,
  sampler       VARCHAR NOT NULL,
  rate          DOUBLE NOT NULL,       -- 1/N
  metric        VARCHAR NOT NULL,      -- e.g. total_bytes, total_packets, tcp_flows, rmse_bytes, coverage_bytes
  key           VARCHAR,               -- host, port… for per-key estimates; NULL for totals
  estimate      DOUBLE,
  stderr        DOUBLE,
  ci_low        DOUBLE,
  ci_high       DOUBLE,
  truth         DOUBLE,
  created_at    TIMESTAMP NOT NULL
);
`

/** Columns added after the first schema: stores made by an older flowscope get them on open. */
export const MIGRATIONS_SQL = `
ALTER TABLE flows ADD COLUMN IF NOT EXISTS src_as UINTEGER;
ALTER TABLE flows ADD COLUMN IF NOT EXISTS dst_as UINTEGER;
ALTER TABLE sources ADD COLUMN IF NOT EXISTS content VARCHAR DEFAULT 'packets';
ALTER TABLE sources ADD COLUMN IF NOT EXISTS head_sha256 VARCHAR;
ALTER TABLE detections ADD COLUMN IF NOT EXISTS incident_id VARCHAR;
`

/**
 * Schema 1 → 2: files are identified by BLAKE3 (content-hash.ts) instead of SHA-256. Sources a schema-1
 * store recorded keep their SHA-256 (an ingest of the same file still finds them, ingest.ts
 * `findSource`); new ones leave it NULL.
 */
export const MIGRATION_V2_SQL = `
ALTER TABLE sources ADD COLUMN IF NOT EXISTS blake3 VARCHAR;
ALTER TABLE sources ALTER COLUMN sha256 DROP NOT NULL;
`

/** Column order of `flows`, as the appender writes it. */
export const FLOW_COLUMNS = [
  'network',
  'exporter',
  'ts_start',
  'ts_end',
  'src_ip',
  'dst_ip',
  'src_port',
  'dst_port',
  'proto',
  'tcp_flags',
  'packets',
  'bytes',
  'sampling_rate',
  'source_id',
  'family',
  'src_addr',
  'dst_addr',
  'src_as',
  'dst_as',
] as const
