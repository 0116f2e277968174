/**
 * The CLI's contract in one reviewable file: every command's flags (as the built CLI declares them)
 * and the keys of its `--json` result (as its schema promises them; the e2e tests validate real output
 * against those schemas). A renamed flag, a changed type, default or relationship, or a renamed result
 * key changes `__snapshots__/contract.json` and shows in review.
 *
 * After an intended change, regenerate it with: npx vitest run test/e2e/contract.e2e.test.ts -u
 */
import {readFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {Config} from '@oclif/core'
import {describe, expect, it} from 'vitest'

import {commandSchema, resultKeys, schemaFile, schemaFiles} from '../helpers/contract.js'
import {ROOT, runCli} from '../helpers/cli.js'
import {validate} from '../helpers/json-schema.js'

interface ManifestFlag {
  name: string
  type: 'boolean' | 'option'
  char?: string
  required?: boolean
  options?: string[]
  default?: unknown
  multiple?: boolean
  allowNo?: boolean
  env?: string
  exclusive?: string[]
  dependsOn?: string[]
  exactlyOne?: string[]
  relationships?: unknown[]
  helpGroup?: string
}
interface ManifestCommand {
  id: string
  strict?: boolean
  enableJsonFlag?: boolean
  examples?: unknown[]
  flags: Record<string, ManifestFlag>
  args: Record<string, {name: string; required?: boolean; options?: string[]}>
}

const manifest = JSON.parse(readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, ManifestCommand>}
/** command ids as users type them (`stream put`), sorted */
const COMMANDS = Object.keys(manifest.commands).map((id) => id.replaceAll(':', ' ')).sort()
const entry = (id: string): ManifestCommand => manifest.commands[id.replaceAll(' ', ':')]!

/**
 * What an option flag's value becomes once parsed, found by parsing probe inputs with the flag's own
 * parser: `string` for Flags.string, `number` for Flags.integer and numeric custom flags, `date` for
 * times. The manifest says only "option", so a flag turned from a string into a number would not show.
 */
async function valueType(flag: {parse?: (input: string, ctx: unknown, opts: unknown) => Promise<unknown>; options?: readonly string[]}): Promise<string> {
  if (flag.options) return 'option'
  if (!flag.parse) return 'string'
  for (const probe of ['12', '24', '100', '1/100', 'store', 'udp://127.0.0.1:1', '3']) {
    try {
      const v = await flag.parse(probe, {}, flag)
      return v instanceof Date ? 'date' : Array.isArray(v) ? 'array' : typeof v
    } catch {
      // the next probe
    }
  }
  return 'custom'
}

/** Defaults that depend on the machine, written as what they are. */
function normaliseDefault(name: string, value: unknown): unknown {
  if ((name === 'workers' || name === 'threads') && value === os.availableParallelism()) return '<os.availableParallelism()>'
  return value
}

async function contract(): Promise<Record<string, unknown>> {
  const config = await Config.load({root: ROOT})
  const out: Record<string, unknown> = {}
  for (const id of COMMANDS) {
    const m = entry(id)
    const loaded = (await config.findCommand(id.replaceAll(' ', ':'))!.load()) as unknown as {
      flags?: Record<string, Parameters<typeof valueType>[0]>
      baseFlags?: Record<string, Parameters<typeof valueType>[0]>
    }
    const classFlags = {...loaded.baseFlags, ...loaded.flags}
    const flags: Record<string, unknown> = {}
    for (const name of Object.keys(m.flags).sort()) {
      const f = m.flags[name]!
      const declared = classFlags[name]
      const d: Record<string, unknown> = {type: f.type === 'boolean' ? 'boolean' : declared ? await valueType(declared) : 'string'}
      if (f.char) d.char = f.char
      if (f.required) d.required = true
      if (f.options) d.options = f.options
      if (f.default !== undefined) d.default = normaliseDefault(name, f.default)
      if (f.multiple) d.multiple = true
      if (f.allowNo) d.allowNo = true
      if (f.env) d.env = f.env
      for (const k of ['exclusive', 'dependsOn', 'exactlyOne'] as const) if (f[k]?.length) d[k] = [...f[k]!].sort()
      if (f.relationships?.length) d.relationships = f.relationships
      flags[name] = d
    }
    const args = Object.values(m.args).map((a) => ({name: a.name, ...(a.required ? {required: true} : {}), ...(a.options ? {options: a.options} : {})}))
    out[id] = {
      strict: m.strict !== false,
      json: m.enableJsonFlag === true,
      schema: `schemas/${schemaFile(id)}`,
      args,
      flags,
      result: resultKeys(commandSchema(id)),
    }
  }
  return out
}

describe('the CLI contract', () => {
  it('every command has --json and a schema; every schema is a command', () => {
    expect(COMMANDS).toHaveLength(19)
    for (const id of COMMANDS) expect(entry(id).enableJsonFlag, id).toBe(true)
    expect(schemaFiles()).toEqual(COMMANDS.map(schemaFile).sort())
  })

  it("matches __snapshots__/contract.json: each command's flags and result keys", async () => {
    await expect(`${JSON.stringify(await contract(), null, 2)}\n`).toMatchFileSnapshot('__snapshots__/contract.json')
  })

  it('every schema accepts the error envelope and rejects a result that is not its own', () => {
    const error = {status: 3, result: null, warnings: ['w'], error: {name: 'CaptureFormatError', code: 'BAD_CAPTURE', message: 'bad', file: '/x.pcap', offset: 24}}
    for (const id of COMMANDS) {
      const schema = commandSchema(id)
      expect(validate(schema, error), id).toEqual([])
      expect(validate(schema, {...error, error: {...error.error, where: 'x'}}), id).toEqual(["$.error: unexpected property 'where'"])
      expect(validate(schema, {status: 0, result: {renamed: 1}, warnings: []}).length, id).toBeGreaterThan(0)
      expect(validate(schema, {status: 0, result: null}), id).toEqual(["$: missing required 'warnings'"])
    }
  })
})

describe('--help', () => {
  it('every command has examples in the manifest', () => {
    for (const id of COMMANDS) expect(entry(id).examples?.length ?? 0, id).toBeGreaterThan(0)
  })

  it('every command prints its usage with an EXAMPLES section and the --json flag', () => {
    for (const id of COMMANDS) {
      const r = runCli([...id.split(' '), '--help'])
      expect(r.code, `${id}: ${r.stderr}`).toBe(0)
      expect(r.stdout, id).toMatch(/^USAGE\n {2}\$ flowscope /m)
      expect(r.stdout, id).toMatch(/^EXAMPLES\n/m)
      expect(r.stdout, id).toMatch(/^ {2}\$ flowscope /m)
      expect(r.stdout, id).toMatch(/--json/)
    }
  })
})
