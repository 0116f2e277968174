/**
 * The `--json` contract of every command: its envelope validates against
 * `schemas/<command-id-with-dashes>.schema.json`, and its exit code is the envelope's status.
 */
import {readdirSync} from 'node:fs'

import {expect} from 'vitest'

import type {CliRun} from './cli.js'
import {loadSchema, SCHEMAS, validate} from './json-schema.js'
import type {Schema} from './json-schema.js'

/** `stream put` → `stream-put.schema.json` (the manifest spells it `stream:put`). */
export function schemaFile(commandId: string): string {
  return `${commandId.replaceAll(/[ :]/g, '-')}.schema.json`
}

export function commandSchema(commandId: string): Schema {
  return loadSchema(schemaFile(commandId))
}

/** Every schema file under schemas/. */
export function schemaFiles(): string[] {
  return readdirSync(SCHEMAS).filter((f) => f.endsWith('.schema.json')).sort()
}

/**
 * Asserts that a CLI run printed the `--json` envelope of `commandId` (valid against its schema) and
 * exited with the envelope's status. Returns the envelope's result.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- callers read arbitrary result shapes
export function expectContract(commandId: string, run: CliRun): any {
  expect(run.json, `${commandId} --json printed no JSON envelope; stderr: ${run.stderr}`).toBeDefined()
  expect(validate(commandSchema(commandId), run.json), `${commandId} --json against schemas/${schemaFile(commandId)}`).toEqual([])
  expect(run.code, run.stderr).toBe(run.json!.status)
  return run.json!.result
}

/**
 * The keys a schema promises, one `path: type` line each (`files[].blake3: string`), following refs
 * inside the file; a ref to another schema file is listed as that ref (it has its own listing).
 * Alternatives (`anyOf`) of the result are listed under their definition name.
 */
export function resultKeys(schema: Schema): Record<string, string[]> {
  const defs = (schema.$defs ?? {}) as Record<string, Schema>
  const result = (schema.properties as Record<string, Schema>).result!
  const out: Record<string, string[]> = {}
  for (const alt of alternatives(result, defs)) {
    const lines: string[] = []
    walk(alt.schema, defs, '', lines, new Set())
    out[alt.name] = lines
  }
  return out
}

function alternatives(s: Schema, defs: Record<string, Schema>): {name: string; schema: Schema}[] {
  if (Array.isArray(s.anyOf)) return (s.anyOf as Schema[]).flatMap((a) => alternatives(a, defs)).filter((a) => a.schema.type !== 'null')
  if (typeof s.$ref === 'string' && s.$ref.startsWith('#/$defs/')) {
    const name = s.$ref.slice('#/$defs/'.length)
    const target = defs[name]!
    return Array.isArray(target.anyOf) ? alternatives(target, defs) : [{name, schema: target}]
  }
  return [{name: 'result', schema: s}]
}

function typeOf(s: Schema, defs: Record<string, Schema>, seen: Set<string>): {text: string; object?: Schema; items?: Schema} {
  if (typeof s.$ref === 'string') {
    if (!s.$ref.startsWith('#/$defs/')) return {text: `see ${s.$ref}`}
    const name = s.$ref.slice('#/$defs/'.length)
    if (name === 'time') return {text: 'time'}
    if (seen.has(name)) return {text: `see #/$defs/${name}`}
    return typeOf(defs[name]!, defs, new Set([...seen, name]))
  }
  if (Array.isArray(s.anyOf)) {
    const parts = (s.anyOf as Schema[]).map((a) => typeOf(a, defs, seen))
    const object = parts.find((p) => p.object)?.object
    const items = parts.find((p) => p.items)?.items
    return {text: parts.map((p) => p.text).join(' | '), ...(object ? {object} : {}), ...(items ? {items} : {})}
  }
  if ('const' in s) return {text: JSON.stringify(s.const)}
  if (Array.isArray(s.enum)) return {text: (s.enum as unknown[]).map((e) => JSON.stringify(e)).join(' | ')}
  const types = Array.isArray(s.type) ? (s.type as string[]) : s.type === undefined ? ['any'] : [s.type as string]
  const text = types.map((t) => (t === 'array' ? 'array' : t)).join(' | ')
  if (types.includes('object') && s.properties) return {text, object: s}
  if (types.includes('object') && typeof s.additionalProperties === 'object') return {text: `map of ${typeOf(s.additionalProperties as Schema, defs, seen).text}`}
  if (types.includes('array') && s.items) {
    const inner = typeOf(s.items as Schema, defs, seen)
    return {text: inner.object ? 'array' : `array of ${inner.text}`, ...(inner.object ? {items: s.items as Schema} : {})}
  }
  return {text}
}

function walk(s: Schema, defs: Record<string, Schema>, prefix: string, lines: string[], seen: Set<string>): void {
  const t = typeOf(s, defs, seen)
  if (t.items) {
    walk(t.items, defs, `${prefix}[]`, lines, seen)
    return
  }
  if (!t.object) return
  const required = new Set((t.object.required ?? []) as string[])
  for (const [k, v] of Object.entries(t.object.properties as Record<string, Schema>)) {
    const path = prefix === '' ? k : `${prefix}.${k}`
    const vt = typeOf(v, defs, seen)
    lines.push(`${path}${required.has(k) ? '' : '?'}: ${vt.text}`)
    walk(v, defs, path, lines, seen)
  }
}
