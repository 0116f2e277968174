/**
 * Extra columns of flow files (labels, attack classes, application ids …) live in a side table,
 * `flow_extra`, one row per source record that had any non-empty extra value, as a JSON object of
 * the file's column names to the values as written (text). `flows` stays the one narrow table every
 * layer scans, and its appender keeps its fixed column order.
 *
 * `flows` rows have no stable id (DuckDB's rowid changes when deletes are vacuumed), so a record is
 * tied to its flows by the record's key: source, start time, protocol and endpoints. Its forward flow
 * has the key as written, its reverse flow (bidirectional formats) the endpoints swapped — ICMP
 * reverse flows have ports 0, as ingest writes them. `flows_with_extra` does that join; read a label
 * with `SELECT extra->>'Label' FROM flows_with_extra WHERE …`. Two records of one source with the same
 * key (same start time, endpoints and protocol) cannot be told apart: each of their flows then
 * matches both records.
 */

export const FLOW_EXTRA_TABLE = 'flow_extra'
export const FLOWS_WITH_EXTRA_VIEW = 'flows_with_extra'

export const FLOW_EXTRA_SQL = `
CREATE TABLE IF NOT EXISTS ${FLOW_EXTRA_TABLE} (
  source_id INTEGER NOT NULL,
  row_no    BIGINT NOT NULL,
  ts_start  TIMESTAMP NOT NULL,
  src_addr  UHUGEINT NOT NULL,
  dst_addr  UHUGEINT NOT NULL,
  src_port  USMALLINT NOT NULL,
  dst_port  USMALLINT NOT NULL,
  proto     UTINYINT NOT NULL,
  extra     JSON NOT NULL
);
CREATE VIEW IF NOT EXISTS ${FLOWS_WITH_EXTRA_VIEW} AS
SELECT f.*, e.row_no, e.extra
FROM flows f
JOIN ${FLOW_EXTRA_TABLE} e
  ON e.source_id = f.source_id AND e.ts_start = f.ts_start AND e.proto = f.proto
 AND least(e.src_addr, e.dst_addr) = least(f.src_addr, f.dst_addr)
 AND greatest(e.src_addr, e.dst_addr) = greatest(f.src_addr, f.dst_addr)
WHERE (f.src_addr = e.src_addr AND f.dst_addr = e.dst_addr AND f.src_port = e.src_port AND f.dst_port = e.dst_port)
   OR (f.src_addr = e.dst_addr AND f.dst_addr = e.src_addr
       AND f.src_port = CASE WHEN e.proto IN (1, 58) THEN 0 ELSE e.dst_port END
       AND f.dst_port = CASE WHEN e.proto IN (1, 58) THEN 0 ELSE e.src_port END);
`
