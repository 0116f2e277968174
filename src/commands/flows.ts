import {Args, Flags} from '@oclif/core'

import {buildFlowsQuery, FLOW_ORDERS} from '../query/index.js'
import type {JsonRow} from '../query/index.js'
import {openStoreForQuery, QueryCommand} from '../query-command.js'
import type {RowsResult} from '../query-command.js'
import {humanBytes} from '../report/index.js'
import {timeFlag, networkFlag} from '../flag-types.js'

const TABLE_LIMIT = 100

export default class Flows extends QueryCommand<typeof Flows> {
  static summary = 'List flow records, filtered with nfdump-style expressions.'
  static description = `FILTER is a subset of nfdump's filter syntax: proto tcp|udp|icmp|N, [src|dst] ip|host A, [src|dst] net CIDR, [src|dst] port [op] N (and ranges N-M, lists 'in [ … ]'), flags SA, packets|bytes|duration|pps|bps|bpp [op] N with k/M/G suffixes, network NAME, exporter A, sampled, inet/inet6, and/or/not with parentheses. The whole filter grammar: src/query/FILTERS.md.

Sampled records (sampling_rate > 1) carry scaled estimates (packets_scaled, bytes_scaled). The table shows the first ${TABLE_LIMIT} rows unless --limit says otherwise; --ndjson and --csv stream every row.`

  static examples = [
    {description: 'SSH flows into one subnet', command: "<%= config.bin %> <%= command.id %> 'proto tcp and dst port 22 and dst net 10.1.0.0/16'"},
    {description: 'The 20 biggest flows of the last day', command: '<%= config.bin %> <%= command.id %> --since 24h --order bytes --limit 20'},
    {description: 'Stream every IPv6 flow to another tool', command: "<%= config.bin %> <%= command.id %> 'inet6' --ndjson | jq .dst_ip"},
  ]

  static strict = false
  // no filter means every flow: oclif would otherwise read a missing argument from a non-terminal stdin
  static args = {filter: Args.string({description: 'filter expression (nfdump syntax); the words may also be given unquoted', ignoreStdin: true})}

  static flags = {
    ...QueryCommand.outputFlags,
    since: timeFlag({summary: 'Flows active at or after this time (24h, 7d or ISO 8601).'}),
    until: timeFlag({summary: 'Flows that started before this time.'}),
    network: networkFlag({summary: 'Only this network (tenant).'}),
    limit: Flags.integer({summary: `At most this many rows (table default ${TABLE_LIMIT}; streams default all).`, min: 1}),
    order: Flags.option({summary: 'Sort by.', options: FLOW_ORDERS, default: 'ts' as const})(),
    asc: Flags.boolean({summary: 'Ascending order (default: descending except for ts).', exclusive: ['desc']}),
    desc: Flags.boolean({summary: 'Descending order.', exclusive: ['asc']}),
  }

  async run(): Promise<RowsResult | {columns: string[]; rowsWritten: number}> {
    const f = this.flags
    const filter = this.positional.join(' ').trim()
    const streaming = f.ndjson || f.csv || this.jsonEnabled()
    const limit = f.limit ?? (streaming ? undefined : TABLE_LIMIT)
    const q = buildFlowsQuery({
      ...(filter ? {filter} : {}),
      ...(f.since ? {since: f.since} : {}),
      ...(f.until ? {until: f.until} : {}),
      ...(f.network ? {network: f.network} : {}),
      ...(limit === undefined ? {} : {limit}),
      order: f.order,
      ...(f.asc ? {desc: false} : f.desc ? {desc: true} : {}),
    })
    for (const w of q.warnings) this.note(w)
    const store = await openStoreForQuery(f.db, q.needs, (n) => this.info(`looked up the ASNs of ${n} flows (once per flow)`), {onBadFlows: (m) => this.note(m)})
    try {
      return await this.emitRows(store, q, () => [
        {header: 'start', value: (r: JsonRow) => String(r.ts_start).replace('T', ' ').slice(0, 23)},
        {header: 'dur ms', value: (r) => r.duration_ms as number, align: 'right'},
        {header: 'proto', value: (r) => r.proto_name as string},
        {header: 'src', value: (r) => endpoint(r.src_ip, r.src_port)},
        {header: 'dst', value: (r) => endpoint(r.dst_ip, r.dst_port)},
        {header: 'flags', value: (r) => r.flags as string},
        {header: 'packets', value: (r) => r.packets as number, align: 'right'},
        {header: 'bytes', value: (r) => humanBytes(Number(r.bytes)), align: 'right'},
        {header: '1-in-N', value: (r) => r.sampling_rate as number, align: 'right'},
      ])
    } finally {
      await store.close()
    }
  }
}

function endpoint(ip: unknown, port: unknown): string {
  const a = String(ip)
  return a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`
}
