import {readFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

/**
 * A small JSON Schema (2020-12) validator for the subset the repository's schemas use: `type` (one or
 * several), `properties`, `required`, `additionalProperties` (`false` or a schema for every other
 * key), `items`, `minItems`/`maxItems`, `enum`, `const`, `minimum`/`maximum`, `pattern`, `anyOf` and
 * `$ref` to a definition of the same schema (`#/$defs/…`) or of a sibling schema file
 * (`ingest.schema.json#/$defs/…`, resolved in `schemas/`). An unknown keyword is an error, so a
 * schema cannot silently rely on something this does not check.
 */
export type Schema = {[k: string]: unknown}

const KNOWN = new Set([
  '$schema', '$id', '$defs', 'title', 'description', '$ref', 'type', 'properties', 'required', 'additionalProperties',
  'items', 'minItems', 'maxItems', 'enum', 'const', 'minimum', 'maximum', 'pattern', 'anyOf',
])

export const SCHEMAS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../schemas')

/** `schemas/<name>`, parsed. */
export function loadSchema(name: string): Schema {
  return JSON.parse(readFileSync(path.join(SCHEMAS, name), 'utf8')) as Schema
}

export function validate(schema: Schema, value: unknown): string[] {
  const errors: string[] = []
  check(schema, schema, value, '$', errors)
  return errors
}

function check(root: Schema, s: Schema, v: unknown, at: string, errors: string[]): void {
  for (const k of Object.keys(s)) if (!KNOWN.has(k)) throw new Error(`schema keyword not supported by the test validator: ${k}`)
  if (typeof s.$ref === 'string') {
    const m = /^([a-z0-9-]+\.schema\.json)?#\/\$defs\/(.+)$/.exec(s.$ref)
    const base = m?.[1] === undefined ? root : loadSchema(m[1])
    const target = m ? (base.$defs as Record<string, Schema> | undefined)?.[m[2]!] : undefined
    if (!target) throw new Error(`unresolved $ref ${s.$ref}`)
    check(base, target, v, at, errors)
  }
  if (Array.isArray(s.anyOf)) {
    const tries = (s.anyOf as Schema[]).map((alt) => {
      const sub: string[] = []
      check(root, alt, v, at, sub)
      return sub
    })
    if (!tries.some((t) => t.length === 0)) {
      // report the alternative that got furthest into the value (the deepest first error)
      const depth = (t: string[]): number => (t[0] ?? '').split(':')[0]!.length
      errors.push(...tries.reduce((a, b) => (depth(b) > depth(a) ? b : a)))
    }
  }
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string]
    if (!types.some((t) => hasType(v, t))) {
      errors.push(`${at}: expected ${types.join('|')}, got ${v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v}`)
      return
    }
  }
  if (Array.isArray(s.enum) && !(s.enum as unknown[]).some((e) => e === v)) errors.push(`${at}: ${JSON.stringify(v)} not in enum`)
  if ('const' in s && s.const !== v) errors.push(`${at}: expected ${JSON.stringify(s.const)}`)
  if (typeof v === 'number') {
    if (typeof s.minimum === 'number' && v < s.minimum) errors.push(`${at}: ${v} < minimum ${s.minimum}`)
    if (typeof s.maximum === 'number' && v > s.maximum) errors.push(`${at}: ${v} > maximum ${s.maximum}`)
  }
  if (typeof v === 'string' && typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(v)) errors.push(`${at}: '${v}' does not match ${s.pattern}`)
  if (Array.isArray(v) && typeof s.minItems === 'number' && v.length < s.minItems) errors.push(`${at}: ${v.length} items < minItems ${s.minItems}`)
  if (Array.isArray(v) && typeof s.maxItems === 'number' && v.length > s.maxItems) errors.push(`${at}: ${v.length} items > maxItems ${s.maxItems}`)
  if (Array.isArray(v) && s.items !== undefined) v.forEach((item, i) => check(root, s.items as Schema, item, `${at}[${i}]`, errors))
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>
    const props = (s.properties ?? {}) as Record<string, Schema>
    for (const r of (s.required ?? []) as string[]) if (!(r in o)) errors.push(`${at}: missing required '${r}'`)
    for (const [k, val] of Object.entries(o)) {
      if (props[k]) check(root, props[k], val, `${at}.${k}`, errors)
      else if (s.additionalProperties === false) errors.push(`${at}: unexpected property '${k}'`)
      else if (typeof s.additionalProperties === 'object' && s.additionalProperties !== null) check(root, s.additionalProperties as Schema, val, `${at}.${k}`, errors)
    }
  }
}

function hasType(v: unknown, t: string): boolean {
  switch (t) {
    case 'null':
      return v === null
    case 'string':
      return typeof v === 'string'
    case 'number':
      return typeof v === 'number' && Number.isFinite(v)
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v)
    case 'boolean':
      return typeof v === 'boolean'
    case 'array':
      return Array.isArray(v)
    case 'object':
      return v !== null && typeof v === 'object' && !Array.isArray(v)
    default:
      throw new Error(`unknown type ${t}`)
  }
}
