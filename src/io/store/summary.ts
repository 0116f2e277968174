import type {FlowStore} from './store.js'

export interface StoreSummary {
  db: string
  sources: number
  networks: string[]
  flows: number
  packets: number
  bytes: number
  tsFirst: string | null
  tsLast: string | null
  byProto: {proto: number; flows: number; packets: number; bytes: number}[]
  topSources: {ip: string; flows: number; packets: number; bytes: number}[]
}

/** What is in the store: sources, networks, time span, totals, protocol mix and the top talkers. */
export async function summarizeStore(store: FlowStore, options: {network?: string; top?: number} = {}): Promise<StoreSummary> {
  const where = options.network === undefined ? '' : 'WHERE network = $net'
  const params = options.network === undefined ? {} : {net: options.network}
  const [totals] = await store.all<{flows: bigint; packets: bigint | null; bytes: bigint | null; first: string | null; last: string | null}>(
    `SELECT count(*) AS flows, sum(packets)::HUGEINT AS packets, sum(bytes)::HUGEINT AS bytes,
            strftime(min(ts_start), '%Y-%m-%dT%H:%M:%S.%fZ') AS first, strftime(max(ts_end), '%Y-%m-%dT%H:%M:%S.%fZ') AS last
       FROM flows ${where}`,
    params,
  )
  const sources = await store.all<{n: bigint}>(
    `SELECT count(*) AS n FROM sources ${options.network === undefined ? '' : 'WHERE network = $net'}`,
    params,
  )
  const networks = await store.all<{network: string}>('SELECT DISTINCT network FROM sources ORDER BY 1')
  const byProto = await store.all<{proto: number; flows: bigint; packets: bigint; bytes: bigint}>(
    `SELECT proto, count(*) AS flows, sum(packets)::HUGEINT AS packets, sum(bytes)::HUGEINT AS bytes
       FROM flows ${where} GROUP BY proto ORDER BY bytes DESC`,
    params,
  )
  const top = await store.all<{ip: string; flows: bigint; packets: bigint; bytes: bigint}>(
    `SELECT src_ip AS ip, count(*) AS flows, sum(packets)::HUGEINT AS packets, sum(bytes)::HUGEINT AS bytes
       FROM flows ${where} GROUP BY src_ip ORDER BY bytes DESC, ip LIMIT ${Math.max(1, Math.floor(options.top ?? 10))}`,
    params,
  )
  return {
    db: store.path,
    sources: Number(sources[0]?.n ?? 0),
    networks: networks.map((r) => r.network),
    flows: Number(totals?.flows ?? 0),
    packets: Number(totals?.packets ?? 0),
    bytes: Number(totals?.bytes ?? 0),
    tsFirst: totals?.first ?? null,
    tsLast: totals?.last ?? null,
    byProto: byProto.map((r) => ({proto: r.proto, flows: Number(r.flows), packets: Number(r.packets), bytes: Number(r.bytes)})),
    topSources: top.map((r) => ({ip: r.ip, flows: Number(r.flows), packets: Number(r.packets), bytes: Number(r.bytes)})),
  }
}
