import type {PacketTable} from '../../src/sampling/index.js'
import {buildPacketTable} from '../../src/sampling/index.js'

/** A reader of captures as packet tables that reads each file once (the sampled copies of one capture share it). */
export function packetTableCache(): (file: string) => Promise<PacketTable> {
  const tables = new Map<string, PacketTable>()
  return async (file) => {
    const known = tables.get(file)
    if (known) return known
    const {table} = await buildPacketTable(file, {})
    tables.set(file, table)
    return table
  }
}
