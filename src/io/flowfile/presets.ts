/**
 * Column presets for the public flow-file schemas, and the `--map` mapping. A preset binds flowscope's
 * flow fields (FLOW_FIELDS) to file columns; `map` overrides single bindings. Every binding is a VARCHAR
 * SQL expression over the raw columns, parsed afterwards by the field's own parser, so a preset that
 * needs arithmetic (Zeek ICMP type/code, CICFlowMeter flag counters) stays a small expression.
 */
import {InputDataError, UsageError} from '../../core/index.js'
import type {SniffedFile} from './sniff.js'
import {sqlString} from '../../core/index.js'
import type {EpochUnit} from './sql.js'

export const FLOW_FILE_PRESETS = ['nprobe', 'cicflowmeter', 'argus', 'nfdump', 'zeek', 'flowscope'] as const
export type PresetName = (typeof FLOW_FILE_PRESETS)[number]

/**
 * The flow fields a file column can feed. `packets`/`bytes` are the record's source→destination
 * direction; `rev_*` the reverse direction of a bidirectional record (a second, swapped flow);
 * `total_*` a bidirectional total from which the reverse is derived (Argus TotPkts/TotBytes).
 */
export const FLOW_FIELDS = [
  'ts_start',
  'ts_end',
  'duration',
  'src_ip',
  'dst_ip',
  'src_port',
  'dst_port',
  'proto',
  'tcp_flags',
  'rev_tcp_flags',
  'packets',
  'bytes',
  'rev_packets',
  'rev_bytes',
  'total_packets',
  'total_bytes',
  'exporter',
  'sampling_rate',
] as const
export type FlowField = (typeof FLOW_FIELDS)[number]

/** Units a `map` entry may name after a colon: times (`ts_start=FIRST:ms`) and durations (`duration=Dur:s`). */
export const TIME_UNITS = ['auto', 's', 'ms', 'us', 'ns', 'text'] as const
export type TimeUnit = (typeof TIME_UNITS)[number]
export const DURATION_UNITS = ['s', 'ms', 'us', 'ns'] as const

export interface Binding {
  /** VARCHAR SQL expression over the raw columns */
  sql: string
  /** the file column(s) named in error messages */
  label: string
  /** file columns this binding reads (so they are not kept as extra columns) */
  columns: string[]
  /** time unit (ts_start/ts_end) or duration unit */
  unit?: string
}

export type Bindings = Partial<Record<FlowField, Binding>>

/** Column lookup over a file's header: case-insensitive, surrounding and repeated spaces ignored. */
export class Columns {
  private readonly byNorm = new Map<string, number>()

  constructor(
    readonly names: readonly string[],
    private readonly ref: (index: number) => string,
  ) {
    names.forEach((n, i) => {
      const key = normColumn(n)
      if (!this.byNorm.has(key)) this.byNorm.set(key, i)
    })
  }

  index(name: string): number | undefined {
    return this.byNorm.get(normColumn(name))
  }

  has(...candidates: string[]): boolean {
    return candidates.some((c) => this.index(c) !== undefined)
  }

  /** The first candidate present, as a column binding. */
  find(...candidates: string[]): Binding | undefined {
    for (const c of candidates) {
      const i = this.index(c)
      if (i !== undefined) return {sql: this.ref(i), label: this.names[i]!, columns: [this.names[i]!]}
    }
    return undefined
  }
}

export function normColumn(name: string): string {
  return name.trim().toLowerCase().replace(/\s+/g, ' ')
}

type FieldSpec = {columns: string[]; unit?: string} | {derive: (c: Columns) => Binding | undefined}

interface PresetSpec {
  /** auto-detection: each group needs one of its columns present */
  signature: string[][]
  fields: Partial<Record<FlowField, FieldSpec>>
  /** columns recomputed from others (or the store's own), not kept as extra columns */
  ignore?: string[]
  /** which container the preset's files come in, for the `format` recorded in `sources` */
  summary: string
}

function combine(parts: (Binding | undefined)[], sql: (refs: string[]) => string): Binding | undefined {
  if (parts.some((p) => p === undefined)) return undefined
  const ps = parts as Binding[]
  return {sql: sql(ps.map((p) => p.sql)), label: ps.map((p) => p.label).join('/'), columns: ps.flatMap((p) => p.columns)}
}

const CIC_FLAGS: [number, string[]][] = [
  [0x01, ['FIN Flag Count', 'FIN Flag Cnt']],
  [0x02, ['SYN Flag Count', 'SYN Flag Cnt']],
  [0x04, ['RST Flag Count', 'RST Flag Cnt']],
  [0x08, ['PSH Flag Count', 'PSH Flag Cnt']],
  [0x10, ['ACK Flag Count', 'ACK Flag Cnt']],
  [0x20, ['URG Flag Count', 'URG Flag Cnt']],
  [0x40, ['ECE Flag Count', 'ECE Flag Cnt']],
  // CICFlowMeter's "CWE" is CWR misspelt
  [0x80, ['CWE Flag Count', 'CWR Flag Count', 'CWE Flag Cnt', 'CWR Flag Cnt']],
]

/** OR of the flags whose per-flow counter is positive (the counters cover both directions). */
function cicFlags(c: Columns): Binding | undefined {
  const present = CIC_FLAGS.map(([bit, names]) => ({bit, b: c.find(...names)})).filter((x) => x.b !== undefined)
  if (present.length === 0) return undefined
  const terms = present.map(({bit, b}) => `(CASE WHEN TRY_CAST(${b!.sql} AS DOUBLE) > 0 THEN ${bit} ELSE 0 END)`)
  // the counters say more than the OR of them: they stay as extra columns (columns: [])
  return {sql: `CAST(${terms.join(' | ')} AS VARCHAR)`, label: 'flag counters', columns: []}
}

/**
 * Zeek `history`: upper case letters are the originator's packets, lower case the responder's
 * (S SYN, H SYN+ACK, A ACK, D data — which carries ACK, F FIN, R RST, Q a SYN with FIN or RST).
 * Flags are therefore a lower bound: PSH and URG are not in the history.
 */
function zeekFlags(c: Columns, originator: boolean): Binding | undefined {
  const h = c.find('history')
  if (!h) return undefined
  const letters: [string, number][] = [
    ['S', 0x02],
    ['H', 0x12],
    ['A', 0x10],
    ['D', 0x10],
    ['F', 0x01],
    ['R', 0x04],
    ['Q', 0x02],
  ]
  const terms = letters.map(([l, bit]) => `(CASE WHEN contains(${h.sql}, ${sqlString(originator ? l : l.toLowerCase())}) THEN ${bit} ELSE 0 END)`)
  // the history says more than the flags (order, retransmissions): it stays an extra column
  return {sql: `CAST(coalesce(${terms.join(' | ')}, 0) AS VARCHAR)`, label: h.label, columns: []}
}

const zeekIcmp = (proto: string): string => `lower(trim(${proto})) IN ('icmp', 'icmp6', 'ipv6-icmp')`

const PRESETS: Record<PresetName, PresetSpec> = {
  // nProbe / NetFlow field names as the NF-* NIDS data sets (UQ) use them; v1 has no times
  nprobe: {
    signature: [['IPV4_SRC_ADDR', 'IPV6_SRC_ADDR'], ['L4_SRC_PORT'], ['IN_BYTES'], ['IN_PKTS']],
    summary: 'nProbe/NetFlow field names',
    fields: {
      ts_start: {columns: ['FLOW_START_MILLISECONDS'], unit: 'ms'},
      ts_end: {columns: ['FLOW_END_MILLISECONDS'], unit: 'ms'},
      duration: {columns: ['FLOW_DURATION_MILLISECONDS'], unit: 'ms'},
      src_ip: {
        derive: (c) => {
          const v4 = c.find('IPV4_SRC_ADDR')
          const v6 = c.find('IPV6_SRC_ADDR')
          if (v4 && v6) return combine([v6, v4], ([a, b]) => `CASE WHEN nullif(trim(${a}), '') IS NOT NULL AND trim(${a}) <> '::' THEN ${a} ELSE ${b} END`)
          return v4 ?? v6
        },
      },
      dst_ip: {
        derive: (c) => {
          const v4 = c.find('IPV4_DST_ADDR')
          const v6 = c.find('IPV6_DST_ADDR')
          if (v4 && v6) return combine([v6, v4], ([a, b]) => `CASE WHEN nullif(trim(${a}), '') IS NOT NULL AND trim(${a}) <> '::' THEN ${a} ELSE ${b} END`)
          return v4 ?? v6
        },
      },
      src_port: {columns: ['L4_SRC_PORT']},
      dst_port: {columns: ['L4_DST_PORT']},
      proto: {columns: ['PROTOCOL']},
      tcp_flags: {columns: ['CLIENT_TCP_FLAGS', 'TCP_FLAGS']},
      rev_tcp_flags: {columns: ['SERVER_TCP_FLAGS', 'TCP_FLAGS']},
      packets: {columns: ['IN_PKTS']},
      bytes: {columns: ['IN_BYTES']},
      rev_packets: {columns: ['OUT_PKTS']},
      rev_bytes: {columns: ['OUT_BYTES']},
    },
  },
  cicflowmeter: {
    signature: [['Flow Duration'], ['Total Fwd Packets', 'Tot Fwd Pkts', 'Total Fwd Packet'], ['Src IP', 'Source IP']],
    summary: 'CICFlowMeter',
    fields: {
      ts_start: {columns: ['Timestamp'], unit: 'auto'},
      duration: {columns: ['Flow Duration'], unit: 'us'},
      src_ip: {columns: ['Src IP', 'Source IP']},
      dst_ip: {columns: ['Dst IP', 'Destination IP']},
      src_port: {columns: ['Src Port', 'Source Port']},
      dst_port: {columns: ['Dst Port', 'Destination Port']},
      proto: {columns: ['Protocol']},
      tcp_flags: {derive: cicFlags},
      rev_tcp_flags: {derive: cicFlags},
      packets: {columns: ['Total Fwd Packets', 'Tot Fwd Pkts', 'Total Fwd Packet']},
      rev_packets: {columns: ['Total Backward Packets', 'Tot Bwd Pkts', 'Total Bwd packets']},
      bytes: {columns: ['Total Length of Fwd Packets', 'TotLen Fwd Pkts', 'Total Length of Fwd Packet']},
      rev_bytes: {columns: ['Total Length of Bwd Packets', 'TotLen Bwd Pkts', 'Total Length of Bwd Packet']},
    },
  },
  argus: {
    signature: [['SrcAddr'], ['DstAddr'], ['TotBytes'], ['StartTime']],
    summary: 'Argus binetflow',
    fields: {
      ts_start: {columns: ['StartTime', 'stime'], unit: 'auto'},
      ts_end: {columns: ['LastTime', 'ltime'], unit: 'auto'},
      duration: {columns: ['Dur'], unit: 's'},
      src_ip: {columns: ['SrcAddr', 'saddr']},
      dst_ip: {columns: ['DstAddr', 'daddr']},
      src_port: {columns: ['Sport']},
      dst_port: {columns: ['Dport']},
      proto: {columns: ['Proto']},
      packets: {columns: ['SrcPkts', 'spkts']},
      bytes: {columns: ['SrcBytes', 'sbytes']},
      rev_packets: {columns: ['DstPkts', 'dpkts']},
      rev_bytes: {columns: ['DstBytes', 'dbytes']},
      total_packets: {columns: ['TotPkts', 'pkts']},
      total_bytes: {columns: ['TotBytes', 'bytes']},
    },
  },
  nfdump: {
    signature: [['ts'], ['te'], ['sa'], ['da'], ['ipkt'], ['ibyt']],
    summary: 'nfdump -o csv',
    ignore: ['td'],
    fields: {
      ts_start: {columns: ['ts'], unit: 'auto'},
      ts_end: {columns: ['te'], unit: 'auto'},
      src_ip: {columns: ['sa']},
      dst_ip: {columns: ['da']},
      src_port: {columns: ['sp']},
      dst_port: {columns: ['dp']},
      proto: {columns: ['pr']},
      tcp_flags: {columns: ['flg']},
      packets: {columns: ['ipkt']},
      bytes: {columns: ['ibyt']},
      rev_packets: {columns: ['opkt']},
      rev_bytes: {columns: ['obyt']},
      exporter: {columns: ['ra']},
    },
  },
  zeek: {
    signature: [['id.orig_h'], ['id.resp_h'], ['ts']],
    summary: 'Zeek conn.log',
    fields: {
      ts_start: {columns: ['ts'], unit: 's'},
      duration: {columns: ['duration'], unit: 's'},
      src_ip: {columns: ['id.orig_h']},
      dst_ip: {columns: ['id.resp_h']},
      // Zeek puts ICMP type in orig_p and code in resp_p; flowscope uses the NetFlow convention
      // (source port 0, destination port type·256 + code) like pcap ingest
      src_port: {
        derive: (c) => combine([c.find('id.orig_p'), c.find('proto')], ([p, pr]) => `CASE WHEN ${zeekIcmp(pr!)} THEN '0' ELSE ${p} END`),
      },
      dst_port: {
        derive: (c) =>
          combine(
            [c.find('id.resp_p'), c.find('id.orig_p'), c.find('proto')],
            ([r, o, pr]) => `CASE WHEN ${zeekIcmp(pr!)} THEN CAST(fs_num(${o}) * 256 + fs_num(${r}) AS VARCHAR) ELSE ${r} END`,
          ),
      },
      proto: {columns: ['proto']},
      tcp_flags: {derive: (c) => zeekFlags(c, true)},
      rev_tcp_flags: {derive: (c) => zeekFlags(c, false)},
      packets: {columns: ['orig_pkts']},
      bytes: {columns: ['orig_ip_bytes']},
      rev_packets: {columns: ['resp_pkts']},
      rev_bytes: {columns: ['resp_ip_bytes']},
    },
  },
  // flowscope's own Parquet/Arrow export and `flows` query output read back
  flowscope: {
    signature: [['ts_start'], ['src_ip'], ['dst_ip'], ['packets'], ['bytes']],
    summary: 'flowscope export',
    ignore: [
      'network',
      'source_id',
      'family',
      'src_addr',
      'dst_addr',
      'date',
      'hour',
      'duration_ms',
      'proto_name',
      'flags',
      'packets_scaled',
      'bytes_scaled',
      'pps',
      'bps',
      'bpp',
    ],
    fields: {
      ts_start: {columns: ['ts_start'], unit: 'auto'},
      ts_end: {columns: ['ts_end'], unit: 'auto'},
      src_ip: {columns: ['src_ip']},
      dst_ip: {columns: ['dst_ip']},
      src_port: {columns: ['src_port']},
      dst_port: {columns: ['dst_port']},
      proto: {columns: ['proto']},
      tcp_flags: {columns: ['tcp_flags']},
      packets: {columns: ['packets']},
      bytes: {columns: ['bytes']},
      exporter: {columns: ['exporter']},
      sampling_rate: {columns: ['sampling_rate']},
    },
  },
}

/** Detection order: the most specific signatures first (nfdump's `ts` also appears in Zeek logs). */
const DETECT_ORDER: readonly PresetName[] = ['zeek', 'flowscope', 'nprobe', 'cicflowmeter', 'argus', 'nfdump']

/** The preset whose signature columns a header has, if any. */
export function detectPreset(columns: Columns, container: SniffedFile['container']): PresetName | undefined {
  if (container === 'zeek') return 'zeek'
  return DETECT_ORDER.find((name) => PRESETS[name].signature.every((group) => columns.has(...group)))
}

export function presetSummary(name: PresetName): string {
  return PRESETS[name].summary
}

export interface MappingPlan {
  preset: PresetName | undefined
  bindings: Bindings
  /** columns kept as extra data: (name as written, key used in the JSON object) */
  extra: {index: number; key: string}[]
  /** true when the file has no start time and the synthetic clock is used */
  syntheticTime: boolean
}

function parseMapValue(field: FlowField, value: string, columns: Columns): Binding {
  let column = value
  let unit: string | undefined
  if (columns.index(value) === undefined) {
    const colon = value.lastIndexOf(':')
    if (colon > 0) {
      column = value.slice(0, colon)
      unit = value.slice(colon + 1).trim().toLowerCase()
    }
  }
  const b = columns.find(column)
  if (!b) {
    throw new UsageError(`--map ${field}=${value}: the file has no column "${column}"`, {
      hint: `its columns are: ${columns.names.join(', ')}`,
    })
  }
  if (unit !== undefined) {
    const allowed: readonly string[] = field === 'ts_start' || field === 'ts_end' ? TIME_UNITS : field === 'duration' ? DURATION_UNITS : []
    if (!allowed.includes(unit)) {
      throw new UsageError(
        allowed.length === 0
          ? `--map ${field}=${value}: ${field} takes no unit`
          : `--map ${field}=${value}: unit "${unit}" is not one of ${allowed.join(', ')}`,
      )
    }
  }
  return {...b, ...(unit === undefined ? {} : {unit})}
}

/**
 * Resolve a file's header to bindings: the preset's (given or detected), then `map` on top. Every
 * column not bound and not derived is kept as extra data under its header name (duplicates get
 * `.1`, `.2` as pandas names them).
 */
export function planMapping(
  file: string,
  columns: Columns,
  container: SniffedFile['container'],
  preset: PresetName | undefined,
  map: Record<string, string> | undefined,
): MappingPlan {
  const chosen = preset ?? detectPreset(columns, container)
  const bindings: Bindings = {}
  if (chosen) {
    const spec = PRESETS[chosen]
    for (const field of FLOW_FIELDS) {
      const f = spec.fields[field]
      if (!f) continue
      const b = 'derive' in f ? f.derive(columns) : columns.find(...f.columns)
      if (b) bindings[field] = 'columns' in f && f.unit !== undefined ? {...b, unit: f.unit} : b
    }
  }
  for (const [key, value] of Object.entries(map ?? {})) {
    if (!(FLOW_FIELDS as readonly string[]).includes(key)) {
      throw new UsageError(`--map ${key}=${value}: "${key}" is not a flow field`, {hint: `map one of: ${FLOW_FIELDS.join(', ')}`})
    }
    const field = key as FlowField
    const b = parseMapValue(field, value, columns)
    const defaultUnit = field === 'duration' ? 's' : field === 'ts_start' || field === 'ts_end' ? 'auto' : undefined
    bindings[field] = b.unit === undefined && defaultUnit !== undefined ? {...b, unit: defaultUnit} : b
  }
  const missing: string[] = []
  if (!bindings.src_ip) missing.push('src_ip')
  if (!bindings.dst_ip) missing.push('dst_ip')
  if (!bindings.packets && !bindings.total_packets) missing.push('packets')
  if (!bindings.bytes && !bindings.total_bytes) missing.push('bytes')
  if (missing.length > 0) {
    const what = chosen ? `the ${chosen} preset finds no column for ${missing.join(', ')}` : 'no preset matches its header'
    const hint = `give --preset (${FLOW_FILE_PRESETS.join(', ')}) or --map ${missing.map((m) => `${m}=COLUMN`).join(',')}; its columns are: ${columns.names.join(', ')}`
    // the flags given do not fit the file: a usage error; a file nothing was said about that is not a
    // flow file flowscope knows: bad input, like any other unreadable file (exit 3)
    if (preset !== undefined || map !== undefined) throw new UsageError(`${file}: ${what}`, {hint})
    throw new InputDataError(`${file}: ${container === 'parquet' ? 'its schema' : 'line 1 (header)'}: ${what}`, {hint})
  }
  const used = new Set<string>()
  for (const b of Object.values(bindings)) for (const c of b.columns) used.add(normColumn(c))
  for (const c of (chosen ? PRESETS[chosen].ignore : undefined) ?? []) used.add(normColumn(c))
  const extra: MappingPlan['extra'] = []
  const keys = new Set<string>()
  columns.names.forEach((name, index) => {
    if (used.has(normColumn(name))) return
    let key = name
    for (let n = 1; keys.has(key); n++) key = `${name}.${n}`
    keys.add(key)
    extra.push({index, key})
  })
  return {preset: chosen, bindings, extra, syntheticTime: !bindings.ts_start && !(bindings.ts_end && bindings.duration)}
}

/** Unit of a time binding, defaulting to auto-detection. */
export function timeUnit(b: Binding): EpochUnit | 'text' | 'auto' {
  return (b.unit ?? 'auto') as EpochUnit | 'text' | 'auto'
}

export function durationUnit(b: Binding): EpochUnit {
  return (b.unit ?? 's') as EpochUnit
}
