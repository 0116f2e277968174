/** Shared by the flow-file tests: temp files, store snapshots, and independent CSV sums. */
import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import type {FlowStore} from '../../../src/io/store/store.js'
import {SHARED_DATA, tempDir} from '../../helpers/cli.js'

export {SHARED_DATA, tempDir}

export function writeTemp(dir: string, name: string, text: string | Buffer): string {
  const file = path.join(dir, name)
  writeFileSync(file, text)
  return file
}

/** Row counts of every table an ingest writes: equal before and after a failed ingest. */
export async function storeSnapshot(store: FlowStore): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const t of ['flows', 'sources']) {
    const [r] = await store.all<{n: bigint}>(`SELECT count(*) AS n FROM ${t}`)
    out[t] = Number(r?.n ?? 0)
  }
  const extra = await store.all<{n: bigint}>(
    "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'flow_extra'",
  )
  if (Number(extra[0]?.n ?? 0) > 0) {
    const [r] = await store.all<{n: bigint}>('SELECT count(*) AS n FROM flow_extra')
    out.flow_extra = Number(r?.n ?? 0)
  }
  return out
}

/** Delimited text as header + rows of trimmed cells, read independently of flowscope's parser. */
export function readDelimited(file: string, delimiter: string, options: {comment?: string} = {}): {header: string[]; rows: string[][]} {
  const lines = readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l !== '' && !(options.comment !== undefined && l.startsWith(options.comment)))
  const [head, ...rest] = lines
  return {header: (head ?? '').split(delimiter).map((s) => s.trim()), rows: rest.map((l) => l.split(delimiter).map((s) => s.trim()))}
}

export function column(t: {header: string[]; rows: string[][]}, name: string): string[] {
  const i = t.header.indexOf(name)
  if (i < 0) throw new Error(`no column ${name} in ${t.header.join(',')}`)
  return t.rows.map((r) => r[i] ?? '')
}

export const num = (s: string | undefined): number => (s === undefined || s === '' ? 0 : Number(s))
export const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)

export async function totals(store: FlowStore, where = 'true'): Promise<{flows: number; packets: number; bytes: number}> {
  const [r] = await store.all<{flows: bigint; packets: bigint | null; bytes: bigint | null}>(
    `SELECT count(*) AS flows, sum(packets)::UBIGINT AS packets, sum(bytes)::UBIGINT AS bytes FROM flows WHERE ${where}`,
  )
  return {flows: Number(r?.flows ?? 0), packets: Number(r?.packets ?? 0), bytes: Number(r?.bytes ?? 0)}
}
