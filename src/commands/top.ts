import {Args, Flags} from '@oclif/core'

import {buildTopQuery, TOP_KEYS, TOP_ORDERS} from '../query/index.js'
import type {JsonRow} from '../query/index.js'
import {openStoreForQuery, QueryCommand} from '../query-command.js'
import type {RowsResult} from '../query-command.js'
import {humanBytes, humanCount} from '../report/index.js'
import {timeFlag, networkFlag} from '../flag-types.js'

export default class Top extends QueryCommand<typeof Top> {
  static summary = 'Top-N statistics like nfdump -s: by address, port, protocol or network.'
  static description = `KEY is one of ${TOP_KEYS.join(', ')}; ip and port count both directions (as nfdump -s ip does, so shares add up to 200%). Rows are ordered --by flows, packets, bytes, pps, bps or bpp.

Sampled records (sampling_rate > 1) are scaled to estimates: every row has the raw sampled figures, the scaled ones (*_scaled) and, where any record of the group was sampled, a 95% interval (*_ci_low, *_ci_high) under independent 1-in-N packet sampling; estimate_kind says how a row was extrapolated.`

  static examples = [
    {description: 'Top 10 source addresses by bytes', command: '<%= config.bin %> <%= command.id %> srcip'},
    {description: 'Top destination ports of TCP traffic by flows', command: "<%= config.bin %> <%= command.id %> dstport 'proto tcp' --by flows -n 20"},
    {description: 'Busiest /16 source networks, as CSV', command: '<%= config.bin %> <%= command.id %> srcnet --prefix-v4 16 --csv'},
  ]

  static strict = false
  static args = {
    key: Args.string({description: 'what to group by', required: true, options: [...TOP_KEYS]}),
    // no filter means every flow: oclif would otherwise read a missing argument from a non-terminal stdin
    filter: Args.string({description: 'filter expression (nfdump syntax)', ignoreStdin: true}),
  }

  static flags = {
    ...QueryCommand.outputFlags,
    by: Flags.option({summary: 'Order rows by.', options: TOP_ORDERS, default: 'bytes' as const})(),
    n: Flags.integer({char: 'n', summary: 'Number of rows.', default: 10, min: 1}),
    since: timeFlag({summary: 'Flows active at or after this time (24h, 7d or ISO 8601).'}),
    until: timeFlag({summary: 'Flows that started before this time.'}),
    network: networkFlag({summary: 'Only this network (tenant).'}),
    'prefix-v4': Flags.integer({summary: 'Prefix length of IPv4 networks for srcnet/dstnet.', default: 24, min: 0, max: 32}),
    'prefix-v6': Flags.integer({summary: 'Prefix length of IPv6 networks for srcnet/dstnet.', default: 64, min: 0, max: 128}),
  }

  async run(): Promise<RowsResult | {columns: string[]; rowsWritten: number}> {
    const f = this.flags
    const [key, ...rest] = this.positional
    const filter = rest.join(' ').trim()
    const q = buildTopQuery({
      key: key as (typeof TOP_KEYS)[number],
      by: f.by,
      n: f.n,
      ...(filter ? {filter} : {}),
      ...(f.since ? {since: f.since} : {}),
      ...(f.until ? {until: f.until} : {}),
      ...(f.network ? {network: f.network} : {}),
      prefixV4: f['prefix-v4'],
      prefixV6: f['prefix-v6'],
    })
    for (const w of q.warnings) this.note(w)
    const store = await openStoreForQuery(f.db, q.needs, (n) => this.info(`looked up the ASNs of ${n} flows (once per flow)`), {onBadFlows: (m) => this.note(m)})
    try {
      const hook = q.postProcess ? (row: JsonRow): JsonRow => q.postProcess!(row) as JsonRow : undefined
      return await this.emitRows(
        store,
        q,
        () => [
          {header: String(key), value: (r: JsonRow) => String(r.key)},
          {header: 'flows', value: (r) => scaled(r, 'flows'), align: 'right'},
          {header: 'flows %', value: (r) => pct(r.flows_pct), align: 'right'},
          {header: 'packets', value: (r) => scaled(r, 'packets'), align: 'right'},
          {header: 'packets %', value: (r) => pct(r.packets_pct), align: 'right'},
          {header: 'bytes', value: (r) => humanBytes(Number(r.bytes_scaled)) + ciText(r, 'bytes', true), align: 'right'},
          {header: 'bytes %', value: (r) => pct(r.bytes_pct), align: 'right'},
          {header: 'bps', value: (r) => humanCount(Number(r.bps)), align: 'right'},
          {header: 'bpp', value: (r) => Math.round(Number(r.bpp)), align: 'right'},
        ],
        hook,
      )
    } finally {
      await store.close()
    }
  }
}

function pct(v: unknown): string {
  return `${Number(v ?? 0).toFixed(1)}`
}

function scaled(r: JsonRow, what: 'flows' | 'packets'): string {
  return String(Math.round(Number(r[`${what}_scaled`]))) + ciText(r, what, false)
}

function ciText(r: JsonRow, what: string, bytes: boolean): string {
  const lo = r[`${what}_ci_low`]
  const hi = r[`${what}_ci_high`]
  if (lo === null || lo === undefined || hi === null || hi === undefined) return ''
  const f = (x: unknown): string => (bytes ? humanBytes(Number(x)) : String(Math.round(Number(x))))
  return ` [${f(lo)}, ${f(hi)}]`
}
