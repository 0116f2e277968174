/** SQL pieces the report's readers (detections, flows, incidents, runs) share: WHERE clauses from optional filters, ISO times. */

export interface Where {
  where: string
  params: Record<string, unknown>
}

/** A condition of a WHERE clause and its one named parameter: `[sql, name, value]`, left out when value is undefined. */
export type Condition = readonly [sql: string, name: string, value: unknown]

/** The conditions that apply, joined by AND (`TRUE` when none does), with their parameters. */
export function whereOf(conditions: readonly Condition[], always: readonly string[] = []): Where {
  const parts: string[] = []
  const params: Record<string, unknown> = {}
  for (const [sql, name, value] of conditions) {
    if (value === undefined) continue
    parts.push(sql)
    params[name] = value
  }
  parts.push(...always)
  return {where: parts.length === 0 ? 'TRUE' : parts.join(' AND '), params}
}

/** An instant as µs since the epoch, as `make_timestamp` takes it. */
export function epochUs(d: Date | undefined): bigint | undefined {
  return d ? BigInt(d.getTime()) * 1000n : undefined
}

/** A TIMESTAMP column as ISO 8601 text with milliseconds and `Z`. */
export function iso(column: string): string {
  return `strftime(${column}, '%Y-%m-%dT%H:%M:%S.%gZ')`
}
