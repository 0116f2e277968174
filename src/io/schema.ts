/**
 * The store's tables (design §2). One DuckDB file; `flows` holds one row per unidirectional flow
 * record. Addresses are kept twice: as text (`src_ip`, RFC 5952 for IPv6) for people and tools, and as
 * a 128-bit number (`src_addr`, IPv4 mapped into ::ffff:0:0/96) for CIDR ranges and prefix buckets.
 */
export const SCHEMA_VERSION = 1

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
  sha256        VARCHAR NOT NULL,
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
  UNIQUE (sha256, network)
);
CREATE TABLE IF NOT EXISTS flows (
  network       VARCHAR NOT NULL,
  exporter      VARCHAR,
  ts_start      TIMESTAMP NOT NULL,
  ts_end        TIMESTAMP NOT NULL,
  src_ip        VARCHAR NOT NULL,
  dst_ip        VARCHAR NOT NULL,
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
`

/** Columns added after the first schema: stores made by an older flowscope get them on open. */
export const MIGRATIONS_SQL = `
ALTER TABLE flows ADD COLUMN IF NOT EXISTS src_as UINTEGER;
ALTER TABLE flows ADD COLUMN IF NOT EXISTS dst_as UINTEGER;
ALTER TABLE sources ADD COLUMN IF NOT EXISTS content VARCHAR DEFAULT 'packets';
ALTER TABLE sources ADD COLUMN IF NOT EXISTS head_sha256 VARCHAR;
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
