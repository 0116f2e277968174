/**
 * Stores poisoned on purpose, as a flowscope that did not check its records left them (issue #20):
 * the rows are INSERTed directly, so the tests keep working once ingest refuses such records.
 */
import {copyFileSync, openSync, writeSync, closeSync} from 'node:fs'
import path from 'node:path'

import {FlowStore} from '../../../src/io/store/store.js'
import {SHARED_DATA} from '../../helpers/cli.js'

/** network, ts_start, ts_end, src_ip, dst_ip, src_port, dst_port, proto, packets, bytes, sampling_rate */
type Row = [string, string, string, string, string, number, number, number, string, string, number]

const SYNTHETIC: Row[] = [
  ['lab', "TIMESTAMP '2026-07-09 12:00:00'", "TIMESTAMP '2026-07-09 12:00:05'", '10.0.0.1', '10.0.0.2', 40000, 443, 6, '10', '1500', 1],
  ['lab', "TIMESTAMP '2026-07-09 12:01:00'", "TIMESTAMP '2026-07-09 12:01:01'", '10.0.0.2', '10.0.0.1', 443, 40000, 6, '8', '9000', 1],
  // packets beyond every sum a query can take
  ['lab', "TIMESTAMP '2026-07-09 12:02:00'", "TIMESTAMP '2026-07-09 12:02:01'", '10.0.0.3', '10.0.0.1', 53, 53, 17, '16602433577848307712', '100', 1],
  // a start in the year 290255 BC (a nanosecond timestamp read as microseconds and mutated)
  ['lab', "TIMESTAMP '290255-03-01 (BC) 00:00:00'", "TIMESTAMP '2026-07-09 12:03:00'", '10.0.0.4', '10.0.0.1', 1, 2, 17, '1', '64', 1],
  // an end before its start
  ['lab', "TIMESTAMP '2026-07-09 12:05:00'", "TIMESTAMP '2026-07-01 00:00:00'", '10.0.0.5', '10.0.0.1', 1, 2, 17, '1', '64', 1],
]

/**
 * The 9 flows today's flowscope stores from `pmacct-flowexport/112-traffic-00.pcap` with bytes
 * 5299..5302 set to 00 00 01 00 (an IPFIX length word): 2 good, 7 bad (packets up to 1.66e19, ends
 * before starts).
 */
const IPFIX_REPRO: Row[] = [
  ['lab', "TIMESTAMP '2026-07-09 12:34:59.673'", "TIMESTAMP '2026-07-09 12:34:59.673'", '169.254.0.1', '169.254.0.0', 62987, 179, 6, '1', '1610612740', 1],
  ['lab', "TIMESTAMP '2026-07-09 12:35:17.796'", "TIMESTAMP '2026-07-09 12:35:23.533'", '169.254.0.1', '169.254.0.0', 53871, 179, 6, '3', '1610612743', 1],
  ['lab', "TIMESTAMP '2026-07-09 12:35:21.217'", "TIMESTAMP '2026-07-01 12:07:31.879'", '0.0.0.120', '169.254.0.1', 10572, 22745, 0, '8935141686472867840', '1', 1],
  ['lab', "TIMESTAMP '2026-07-01 12:07:31.879'", "TIMESTAMP '2026-07-01 12:07:32.053'", '0.0.0.0', '0.0.0.120', 10572, 25062, 0, '9513854214850215936', '195', 1],
  ['lab', "TIMESTAMP '2026-07-01 12:07:32.05'", "TIMESTAMP '2026-08-03 12:20:47.527'", '0.0.0.3', '0.0.0.0', 0, 0, 0, '2786177426370592768', '1622016', 1],
  ['lab', "TIMESTAMP '2026-08-03 12:20:47.527'", "TIMESTAMP '2026-08-03 12:20:47.528'", '0.0.0.0', '0.0.0.2', 0, 169, 0, '16602433577848307712', '2097158', 1],
  ['lab', "TIMESTAMP '2026-08-03 12:20:47.528'", "TIMESTAMP '2026-07-01 12:07:31.999'", '123.0.0.6', '0.0.0.0', 43518, 0, 0, '2319630579653915136', '0', 1],
  ['lab', "TIMESTAMP '2026-07-01 12:07:31.999'", "TIMESTAMP '2026-07-01 12:07:31.879'", '132.8.0.0', '127.0.0.6', 43518, 1, 0, '120799165368', '0', 1],
  ['lab', "TIMESTAMP '2026-07-01 12:07:31.879'", "TIMESTAMP '2026-07-01 12:07:31.881'", '38.170.125.155', '132.8.0.0', 0, 120, 0, '72057594037927968', '0', 1],
]

export const SYNTHETIC_BAD = 3
export const IPFIX_REPRO_BAD = 7
export const IPFIX_REPRO_FILE = path.join(SHARED_DATA, 'pmacct-flowexport/112-traffic-00.pcap')

async function insert(db: string, sourcePath: string, rows: Row[], tsFirst: string, tsLast: string): Promise<void> {
  const store = await FlowStore.open(db)
  try {
    await store.run(
      `INSERT INTO sources (source_id, path, size, blake3, format, network, packets, flows, bytes, skipped, ts_first, ts_last, sampling_rate, ingested_at, content)
       VALUES (1, $path, 1000, 'b3-poisoned', 'pcap', 'lab', 21, ${rows.length}, 1000, 0, ${tsFirst}, ${tsLast}, 1, TIMESTAMP '2026-12-01 00:00:00', 'flow-export')`,
      {path: sourcePath},
    )
    const values = rows
      .map(
        ([net, t0, t1, src, dst, sp, dp, proto, packets, bytes, rate]) =>
          `('${net}', '2001:db8:90::1', ${t0}, ${t1}, '${src}', '${dst}', ${sp}, ${dp}, ${proto}, 0, ${packets}, ${bytes}, ${rate}, 1, 4, 0, 0, NULL, NULL)`,
      )
      .join(',\n')
    await store.run(`INSERT INTO flows VALUES ${values}`)
  } finally {
    await store.close()
  }
}

/** A store with 2 good and 3 bad flows (huge packets, a start in 290255 BC, an end before its start). */
export async function poisonSynthetic(db: string): Promise<void> {
  await insert(db, '/captures/synthetic.pcap', SYNTHETIC, "TIMESTAMP '290255-03-01 (BC) 00:00:00'", "TIMESTAMP '2026-07-09 12:05:00'")
}

/**
 * A store as today's flowscope leaves it after ingesting the mutated IPFIX capture, which is written
 * to `dir` (the source's path). Needs ../shared/data.
 */
export async function poisonLikeIpfixRepro(db: string, dir: string): Promise<string> {
  const file = path.join(dir, '112-traffic-00-mutated.pcap')
  copyFileSync(IPFIX_REPRO_FILE, file)
  const fd = openSync(file, 'r+')
  writeSync(fd, Buffer.from([0x00, 0x00, 0x01, 0x00]), 0, 4, 5299)
  closeSync(fd)
  await insert(db, file, IPFIX_REPRO, "TIMESTAMP '2026-07-01 12:07:31.879'", "TIMESTAMP '2026-08-03 12:20:47.528'")
  return file
}
