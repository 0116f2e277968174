// Mutations, each deterministic from the rng it is given, each described in one line precise enough to
// redo it by hand (`u32be@5299=0x00000100 [IPFIX data set 256 record 2 IE 2]`): bit flips, truncation,
// length and count words set to 0/1/max (or off by one), timestamp words set to extremes, counters and
// sampling rates set to extremes, any aligned word of an export datagram set to an extreme; text edits
// of CSV/TSV/Zeek lines; values and columns of a Parquet file rewritten through DuckDB.
import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {gzipSync} from 'node:zlib'

const pick = (rng, xs) => xs[rng.int(xs.length)]

function weighted(rng, table) {
  const total = table.reduce((n, [, w]) => n + w, 0)
  let r = rng.next() * total
  for (const [v, w] of table) {
    r -= w
    if (r < 0) return v
  }
  return table[table.length - 1][0]
}

const hex = (v, size) => `0x${v.toString(16).padStart(size * 2, '0')}`

function readField(b, f) {
  let v = 0n
  for (let i = 0; i < f.size; i++) {
    const byte = BigInt(b[f.off + (f.le ? f.size - 1 - i : i)])
    v = (v << 8n) | byte
  }
  return v
}

function writeField(b, f, v) {
  const mask = (1n << BigInt(8 * f.size)) - 1n
  let x = ((v % (mask + 1n)) + (mask + 1n)) & mask
  for (let i = f.size - 1; i >= 0; i--) {
    b[f.off + (f.le ? f.size - 1 - i : i)] = Number(x & 0xffn)
    x >>= 8n
  }
}

function fieldLabel(f, v) {
  const w = f.size === 1 ? 'u8' : `u${8 * f.size}${f.le ? 'le' : 'be'}`
  return `${w}@${f.off}=${hex(v, f.size)} [${f.what}]`
}

/** The values a field of this kind and size is set to. */
function valuesFor(f, orig, rng) {
  const max = (1n << BigInt(8 * f.size)) - 1n
  const half = 1n << BigInt(8 * f.size - 1)
  switch (f.kind) {
    case 'length':
    case 'count':
      return weighted(rng, [
        [0n, 3],
        [1n, 3],
        [max, 3],
        [orig + 1n, 1],
        [orig - 1n, 1],
        [half, 1],
      ])
    case 'time':
      if (f.size === 4) return pick(rng, [0n, 0x7fffffffn, 0x80000000n, 0xffffffffn])
      if (f.size === 8) return pick(rng, [0n, 0x7fffffffn, 0xffffffffn, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, (orig & 0xffffffffn) | 0x7fffffff00000000n])
      return pick(rng, [0n, max, half])
    case 'counter':
      if (f.size === 8) return pick(rng, [0n, 1n, max, half, half - 1n, (orig & 0xffffffffn) | 0x0000010000000000n, 0x0000000100000000n])
      return pick(rng, [0n, 1n, max, half, 0x100n & max])
    case 'rate':
      return pick(rng, [0n, 1n, max, half])
    case 'tsresol':
      return pick(rng, [0n, 6n, 9n, 0x13n, 0x3fn, 0x7fn, 0x80n, 0x8an, 0xbfn, 0xffn])
    default:
      return pick(rng, [0n, 1n, max])
  }
}

const WORDS = [0, 1, 0x100, 0x7fffffff, 0x80000000, 0xffffffff]

function flipBits(out, rng, lo, hi) {
  const n = 1 + rng.int(3)
  const at = []
  for (let i = 0; i < n; i++) {
    const off = lo + rng.int(Math.max(1, hi - lo))
    const bit = rng.int(8)
    out[off] ^= 1 << bit
    at.push(`${off}.${bit}`)
  }
  return `flip bit${n > 1 ? 's' : ''} ${at.join(', ')} (byte.bit)`
}

/** One mutation of a capture (pcap, pcapng, export captures). */
export function mutateCapture(src, rng) {
  const {bytes, structure} = src
  const out = new Uint8Array(bytes)
  const fields = structure.fields
  const byKind = (kinds) => fields.filter((f) => kinds.includes(f.kind) && f.off + f.size <= out.length)
  const payloads = structure.payloads.filter((p) => p.proto !== null && p.len >= 4)
  const areas = payloads.length > 0 ? payloads : structure.packets.filter((p) => p.len >= 4)
  const kinds = [
    ['flip', 2],
    ['truncate', 1],
    ['length', 4],
    ['time', 3],
    ['counter', byKind(['counter', 'rate']).length > 0 ? 3 : 0],
    ['tsresol', byKind(['tsresol']).length > 0 ? 1 : 0],
    ['word', areas.length > 0 ? 3 : 0],
    ['multi', 1],
  ]
  const one = (kind) => {
    switch (kind) {
      case 'flip': {
        const a = areas.length > 0 && rng.next() < 0.6 ? pick(rng, areas) : undefined
        return a ? flipBits(out, rng, a.off, a.off + a.len) : flipBits(out, rng, 0, out.length)
      }
      case 'truncate': {
        const at = rng.int(out.length)
        return {truncate: at, text: `truncate to ${at} of ${out.length} bytes`}
      }
      case 'length':
      case 'time':
      case 'counter':
      case 'tsresol': {
        const list = byKind(kind === 'length' ? ['length', 'count'] : kind === 'counter' ? ['counter', 'rate'] : [kind])
        if (list.length === 0) return one('flip')
        const f = pick(rng, list)
        const v = valuesFor(f, readField(out, f), rng)
        writeField(out, f, v)
        return fieldLabel(f, ((v % (1n << BigInt(8 * f.size))) + (1n << BigInt(8 * f.size))) % (1n << BigInt(8 * f.size)))
      }
      case 'word': {
        // aligned to the payload's words mostly; sometimes at any byte, straddling two fields
        const a = pick(rng, areas)
        const aligned = rng.next() < 0.7
        const off = aligned ? a.off + 4 * rng.int(Math.floor(a.len / 4)) : a.off + rng.int(a.len - 3)
        const v = pick(rng, WORDS)
        new DataView(out.buffer).setUint32(off, v >>> 0, false)
        return `u32be@${off}=${hex(v, 4)} [${aligned ? `word ${(off - a.off) / 4}` : `bytes ${off - a.off}..${off - a.off + 3}`} of the ${a.proto ?? 'packet'} payload at ${a.off}]`
      }
      default:
        throw new Error(kind)
    }
  }
  const kind = weighted(rng, kinds)
  const parts = []
  let truncate
  const apply = (k) => {
    const r = one(k)
    if (typeof r === 'string') parts.push(r)
    else {
      truncate = truncate === undefined ? r.truncate : Math.min(truncate, r.truncate)
      parts.push(r.text)
    }
  }
  if (kind === 'multi') {
    const n = 2 + rng.int(2)
    for (let i = 0; i < n; i++) apply(weighted(rng, kinds.filter(([k]) => k !== 'multi' && k !== 'truncate')))
  } else apply(kind)
  return {kind, bytes: truncate === undefined ? out : out.subarray(0, truncate), mutation: parts.join('; ')}
}

// ---------------------------------------------------------------------------------------------------
// text flow files

const TIME_TEXT = [
  '1969-12-31 23:59:59',
  '1970-01-01 00:00:00',
  '2199-12-31 23:59:59',
  '2200-01-01 00:00:00',
  '9999-12-31 23:59:59.999999',
  '294247-01-10 04:00:54',
  '0000-00-00 00:00:00',
  '2023-02-30 25:61:61',
  '-1',
  '0',
  '4102444800',
  '99999999999',
  '9999999999999999999',
  '1e308',
  'NaN',
  '',
  '2019/04/04 16:24:47.672448',
  '2019/13/45 99:99:99',
]
const NUM_TEXT = ['', '-1', '0', '1.5', 'NaN', 'inf', '1e308', '1e19', '65536', '256', '4294967296', '281474976710657', '72057594037927937', '9223372036854775807', '9223372036854775808', '18446744073709551616', '-9223372036854775809', '99999999999999999999999', '0x10', ' 7 ', 'abc']
const ANY_TEXT = [
  ...NUM_TEXT,
  '"unterminated',
  '""',
  '=HYPERLINK("http://x","y")',
  '\u001b[31mred\u001b[0m',
  '\u202e',
  'x'.repeat(10_000),
  '999.1.1.1',
  '1.2.3',
  '::ffff:1.2.3.4',
  'fe80::1%eth0',
  '-',
  '(empty)',
  '\\N',
]

const COUNTER_COL = /pkt|byte|packets|bytes|^ibyt$|^ipkt$|^obyt$|^opkt$|_bytes$|_pkts$/i
const TIME_COL = /^(StartTime|LastTime|ts|te|first|last|stime|ltime|ts_start|ts_end)$/i
const DUR_COL = /^(dur|td|duration)$/i
const PORT_COL = /port|^sp$|^dp$|_p$/i

/** One mutation of a delimited text flow file (binetflow, nfdump CSV, Zeek conn.log). */
export function mutateText(bytes, rng) {
  const text = Buffer.from(bytes).toString('latin1')
  const lines = text.split('\n')
  const zeek = /^#separator/.test(text)
  const first = lines.findIndex((l) => l.length > 0 && !l.startsWith('#'))
  const headerIndex = zeek ? lines.findIndex((l) => l.startsWith('#fields')) : first
  const delim = zeek || (lines[headerIndex] ?? '').includes('\t') ? '\t' : ','
  const header = (lines[headerIndex] ?? '').replace(/\r$/, '').split(delim)
  if (zeek) header.shift()
  const data = []
  for (let i = 0; i < lines.length; i++) if (i !== headerIndex && lines[i].length > 0 && !lines[i].startsWith('#')) data.push(i)
  const col = (re) => header.map((h, i) => (re.test(h.trim()) ? i : -1)).filter((i) => i >= 0)
  const setField = (li, ci, value) => {
    const cells = lines[li].replace(/\r$/, '').split(delim)
    cells[ci] = value
    lines[li] = cells.join(delim)
  }
  const join = () => new Uint8Array(Buffer.from(lines.join('\n'), 'latin1'))
  const kind = weighted(rng, [
    ['time', 3],
    ['counter', 3],
    ['duration', 1],
    ['port', 1],
    ['value', 3],
    ['cells', 2],
    ['header', 2],
    ['bytes', 2],
    ['truncate', 1],
    ['lines', 1],
  ])
  const li = data.length > 0 ? pick(rng, data) : headerIndex
  const lineNo = li + 1
  switch (kind) {
    case 'time':
    case 'counter':
    case 'duration':
    case 'port': {
      const re = {time: TIME_COL, counter: COUNTER_COL, duration: DUR_COL, port: PORT_COL}[kind]
      const cols = col(re)
      const ci = cols.length > 0 ? pick(rng, cols) : rng.int(Math.max(1, header.length))
      const v = kind === 'time' ? pick(rng, TIME_TEXT) : pick(rng, NUM_TEXT)
      setField(li, ci, v)
      return {kind, bytes: join(), mutation: `line ${lineNo} column ${ci + 1} (${header[ci] ?? '?'}) = ${JSON.stringify(v.length > 40 ? `${v.slice(0, 10)}…(${v.length} chars)` : v)}`}
    }
    case 'value': {
      const ci = rng.int(Math.max(1, header.length))
      const v = pick(rng, ANY_TEXT)
      setField(li, ci, v)
      return {kind, bytes: join(), mutation: `line ${lineNo} column ${ci + 1} (${header[ci] ?? '?'}) = ${JSON.stringify(v.length > 40 ? `${v.slice(0, 10)}…(${v.length} chars)` : v)}`}
    }
    case 'cells': {
      const cells = lines[li].split(delim)
      let what = pick(rng, ['drop', 'add', 'many'])
      if (what === 'drop' && cells.length < 2) what = 'add'
      const at = rng.int(cells.length + (what === 'drop' ? 0 : 1))
      if (what === 'drop') cells.splice(at, 1)
      else if (what === 'many') cells.push(...Array.from({length: 50}, () => '1'))
      else cells.splice(at, 0, '1')
      lines[li] = cells.join(delim)
      return {kind, bytes: join(), mutation: `line ${lineNo}: ${what === 'drop' ? `cell ${at + 1} removed` : what === 'many' ? '50 cells "1" appended' : `a cell "1" inserted before cell ${at + 1}`}`}
    }
    case 'header': {
      const what = pick(rng, ['rename', 'duplicate', 'drop-line', 'empty-name', 'drop-column'])
      const hl = lines[headerIndex].replace(/\r$/, '').split(delim)
      const off = zeek ? 1 : 0
      const ci = off + rng.int(Math.max(1, hl.length - off))
      if (what === 'rename') hl[ci] = 'Xyz'
      else if (what === 'duplicate') hl[ci] = hl[off + ((ci - off + 1) % Math.max(1, hl.length - off))]
      else if (what === 'empty-name') hl[ci] = ''
      else if (what === 'drop-column') hl.splice(ci, 1)
      if (what === 'drop-line') lines.splice(headerIndex, 1)
      else lines[headerIndex] = hl.join(delim)
      return {kind, bytes: join(), mutation: `header line ${headerIndex + 1}: ${what}${what === 'drop-line' ? '' : ` column ${ci + 1}`}`}
    }
    case 'bytes': {
      const what = pick(rng, ['bom', 'nul', 'cr', 'flip', 'high'])
      const b = Buffer.from(lines.join('\n'), 'latin1')
      if (what === 'bom') return {kind, bytes: new Uint8Array(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b])), mutation: 'UTF-8 BOM prepended'}
      const at = rng.int(b.length)
      if (what === 'nul' || what === 'cr' || what === 'high') {
        const ins = what === 'nul' ? 0 : what === 'cr' ? 13 : 0x80 + rng.int(128)
        return {kind, bytes: new Uint8Array(Buffer.concat([b.subarray(0, at), Buffer.from([ins]), b.subarray(at)])), mutation: `byte ${hex(ins, 1)} inserted at ${at}`}
      }
      const out = new Uint8Array(b)
      return {kind, bytes: out, mutation: flipBits(out, rng, 0, out.length)}
    }
    case 'truncate': {
      const at = rng.int(bytes.length)
      return {kind, bytes: bytes.subarray(0, at), mutation: `truncate to ${at} of ${bytes.length} bytes`}
    }
    case 'lines': {
      const what = pick(rng, ['empty', 'header-only', 'blank-lines', 'repeat'])
      if (what === 'empty') return {kind, bytes: new Uint8Array(0), mutation: 'empty file'}
      if (what === 'header-only') return {kind, bytes: new Uint8Array(Buffer.from(`${lines.slice(0, headerIndex + 1).join('\n')}\n`, 'latin1')), mutation: 'header lines only'}
      if (what === 'blank-lines') {
        lines.splice(li, 0, '', '', delim.repeat(3))
        return {kind, bytes: join(), mutation: `blank lines and a line of delimiters before line ${lineNo}`}
      }
      lines.splice(li, 0, ...Array.from({length: 2000}, () => lines[li]))
      return {kind, bytes: join(), mutation: `line ${lineNo} repeated 2000 times`}
    }
    default:
      throw new Error(kind)
  }
}

/** A gzip flow file: bytes of the gzip stream mutated, or the text mutated and compressed again. */
export function mutateGzip(bytes, text, rng) {
  const kind = weighted(rng, [
    ['text', 3],
    ['flip', 2],
    ['truncate', 2],
    ['header', 1],
  ])
  if (kind === 'text') {
    const m = mutateText(text, rng)
    return {kind, bytes: new Uint8Array(gzipSync(m.bytes)), mutation: `gzip of: ${m.mutation}`}
  }
  const out = new Uint8Array(bytes)
  if (kind === 'truncate') {
    const at = rng.int(out.length)
    return {kind, bytes: out.subarray(0, at), mutation: `truncate the gzip to ${at} of ${out.length} bytes`}
  }
  if (kind === 'header') {
    const off = 2 + rng.int(8)
    out[off] = pick(rng, [0, 0xff, out[off] ^ 0x80])
    return {kind, bytes: out, mutation: `gzip header byte ${off} = ${hex(out[off], 1)}`}
  }
  return {kind, bytes: out, mutation: `gzip: ${flipBits(out, rng, 10, out.length)}`}
}

// ---------------------------------------------------------------------------------------------------
// Parquet

const PQ_TS = [
  "TIMESTAMP '294247-01-10 04:00:54'",
  "TIMESTAMP '1969-12-31 23:59:59'",
  "TIMESTAMP '1900-01-01 00:00:00'",
  "TIMESTAMP '2200-01-01 00:00:00'",
  "TIMESTAMP '2199-12-31 23:59:59'",
  "TIMESTAMP '0001-01-01 00:00:00'",
  "'infinity'::TIMESTAMP",
  "'-infinity'::TIMESTAMP",
  'NULL',
]
const PQ_INT64 = ['-1', '0', '9223372036854775807', '(-9223372036854775807 - 1)', '281474976710657', '72057594037927937', '4294967296', 'NULL']
const PQ_INT32 = ['-1', '65536', '256', '2147483647', '(-2147483647 - 1)', 'NULL']
const PQ_TEXT = ["''", "'not an address'", "'999.1.1.1'", "'::ffff:1.2.3.4'", "'1.2.3.4' || chr(27) || '[31m'", 'NULL', "'=cmd|'' /C calc''!A0'"]

/**
 * One mutation of a Parquet flow file: a value or a column rewritten through DuckDB (`db` is a
 * scratch FlowStore), or bytes flipped, or the file truncated. `work` is a scratch folder.
 */
export async function mutateParquet(bytes, rng, db, work) {
  const kind = weighted(rng, [
    ['value', 6],
    ['column', 2],
    ['flip', 1],
    ['truncate', 1],
  ])
  if (kind === 'flip') {
    const out = new Uint8Array(bytes)
    return {kind, bytes: out, mutation: flipBits(out, rng, 0, out.length)}
  }
  if (kind === 'truncate') {
    const at = rng.int(bytes.length)
    return {kind, bytes: bytes.subarray(0, at), mutation: `truncate to ${at} of ${bytes.length} bytes`}
  }
  const src = path.join(work, 'pq-src.parquet')
  const dst = path.join(work, 'pq-dst.parquet')
  writeFileSync(src, bytes)
  await db.run('DROP TABLE IF EXISTS t')
  await db.run(`CREATE TABLE t AS SELECT * FROM read_parquet('${src}')`)
  const cols = await db.all("SELECT column_name AS name, data_type AS type FROM information_schema.columns WHERE table_name = 't' ORDER BY ordinal_position")
  const [{n}] = await db.all('SELECT count(*)::INTEGER AS n FROM t')
  const row = rng.int(Math.max(1, n))
  let mutation
  if (kind === 'value') {
    const wanted = pick(rng, ['ts_start', 'ts_end', 'packets', 'bytes', 'sampling_rate', 'any', 'any'])
    const c = cols.find((x) => x.name === wanted) ?? pick(rng, cols)
    const values = c.type.startsWith('TIMESTAMP') ? PQ_TS : c.type === 'BIGINT' ? PQ_INT64 : c.type === 'INTEGER' ? PQ_INT32 : c.type === 'VARCHAR' ? PQ_TEXT : ['NULL']
    let v = pick(rng, values)
    if (c.name === 'ts_end' && rng.next() < 0.3) v = 'ts_start - INTERVAL 1 second'
    if (c.name === 'ts_end' && rng.next() < 0.2) v = 'ts_start + INTERVAL 400 days'
    await db.run(`UPDATE t SET "${c.name}" = ${v} WHERE rowid = ${row}`)
    mutation = `row ${row + 1} ${c.name} (${c.type}) = ${v}`
  } else {
    const c = pick(rng, cols)
    const what = pick(rng, ['drop', 'text'])
    if (what === 'drop') await db.run(`ALTER TABLE t DROP COLUMN "${c.name}"`)
    else {
      await db.run(`ALTER TABLE t ALTER "${c.name}" TYPE VARCHAR`)
      await db.run(`UPDATE t SET "${c.name}" = 'abc' WHERE rowid = ${row}`)
    }
    mutation = what === 'drop' ? `column ${c.name} dropped` : `column ${c.name} made VARCHAR, row ${row + 1} = 'abc'`
  }
  await db.run(`COPY t TO '${dst}' (FORMAT PARQUET)`)
  return {kind, bytes: new Uint8Array(readFileSync(dst)), mutation}
}
