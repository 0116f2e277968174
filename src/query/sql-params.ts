import {type DuckDBType, type DuckDBValue} from '@duckdb/node-api'
import {UsageError} from '../core/index.js'

/**
 * A statement ready for `connection.run(sql, params, types)` (or `stream`, `runAndReadAll`, …).
 * Every value that came from the user travels in `params` under a `$name` placeholder; `types` pins
 * each parameter's DuckDB type. The types are not optional decoration: `@duckdb/node-api` binds an
 * untyped JS bigint as HUGEINT (signed), so an IPv6 address ≥ 2^127 (ff00::/8, fe80::/10, …) would
 * overflow instead of comparing against the UHUGEINT address columns.
 */
export interface SqlQuery {
  sql: string
  params: Record<string, DuckDBValue>
  types: Record<string, DuckDBType>
}

/** Enrichments a query may need that the store does not have yet. */
export const ENRICHMENTS = ['asn'] as const
export type Enrichment = (typeof ENRICHMENTS)[number]

const ENRICHMENT_USES: Record<Enrichment, string> = {
  asn: "'as' filters and the srcas/dstas keys need the ASN enrichment (src_as/dst_as columns)",
}

/**
 * Throw a usage error when a query needs an enrichment the store does not have, before DuckDB
 * fails with a bare "column src_as not found". `available` lists what the store provides.
 */
export function requireEnrichments(needs: readonly Enrichment[], available: readonly Enrichment[] = []): void {
  const missing = needs.filter((n) => !available.includes(n))
  if (missing.length === 0) return
  throw new UsageError(`${missing.map((m) => ENRICHMENT_USES[m]).join('; ')}, which this store does not have yet`, {
    hint: 'drop the as term / key for now; ASN enrichment is on the roadmap',
  })
}

/**
 * Collects parameters while SQL text is generated. Names are `$<prefix><n>`, so two bags with
 * different prefixes never collide when their fragments are combined in one statement.
 */
export class ParamBag {
  readonly params: Record<string, DuckDBValue> = {}
  readonly types: Record<string, DuckDBType> = {}
  private count = 0

  constructor(private readonly prefix: string) {
    if (!/^[a-z]+$/.test(prefix)) throw new Error(`bad parameter prefix ${prefix}`)
  }

  /** Register a value and return its placeholder (`$f3`). */
  add(value: DuckDBValue, type: DuckDBType): string {
    this.count++
    const name = `${this.prefix}${this.count}`
    this.params[name] = value
    this.types[name] = type
    return `$${name}`
  }

  /** Copy another bag's parameters into this one (their names stay as they are). */
  absorb(other: {params: Record<string, DuckDBValue>; types: Record<string, DuckDBType>}): void {
    for (const [k, v] of Object.entries(other.params)) {
      if (Object.hasOwn(this.params, k)) throw new Error(`parameter ${k} bound twice`)
      this.params[k] = v
      const t = other.types[k]
      if (t !== undefined) this.types[k] = t
    }
  }
}
