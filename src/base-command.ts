import {Command, Errors, Flags, Interfaces} from '@oclif/core'

import {EXIT, FlowscopeError, redactCredentials, terminalMessage} from './core/index.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

/** The `--json` envelope every command prints: one shape for success and failure. */
export interface JsonEnvelope<R> {
  status: number
  result: R | null
  warnings: string[]
  error?: {name: string; code: string; message: string; hint?: string; file?: string; offset?: number}
}

export const DEFAULT_DB = './flowscope.duckdb'

/** `--seed`: shared by every command that draws random numbers. */
export const seedFlag = Flags.integer({
  summary: 'Seed for every random choice; the same seed reproduces the same run.',
  default: 1,
  min: 0,
})

/**
 * Base of every flowscope command: owns the `--json` envelope `{status, result, warnings}`, the
 * shared flags, warning collection and the one mapping from errors to exit codes (0 ok, 1 failure,
 * 2 usage, 3 bad input data). Layers throw `FlowscopeError`s and never see oclif.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static enableJsonFlag = true

  static baseFlags = {
    db: Flags.string({
      summary: 'DuckDB store file.',
      default: DEFAULT_DB,
      env: 'FLOWSCOPE_DB',
      helpGroup: 'GLOBAL',
    }),
    'log-level': Flags.option({
      summary: 'How much to say on stderr.',
      options: ['error', 'warn', 'info', 'debug'] as const,
      default: 'info' as const,
      helpGroup: 'GLOBAL',
    })(),
  }

  protected flags!: BaseFlags<T>
  protected args!: BaseArgs<T>
  /** every positional argument, for commands with `strict = false` (variadic file lists) */
  protected positional: string[] = []
  private readonly collectedWarnings: string[] = []
  /** the exit status of a run that succeeded (4 with --fail-on detections), also in the envelope */
  private successStatus: number = EXIT.ok

  public override async init(): Promise<void> {
    await super.init()
    const {args, flags, raw} = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (this.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    })
    this.flags = flags as BaseFlags<T>
    this.args = args as BaseArgs<T>
    // from the raw tokens, in the order given: oclif's `argv` moves repeats of the first argument next to it
    this.positional = raw.filter((t) => t.type === 'arg').map((t) => String(t.input))
  }

  /** Collect a warning for the JSON envelope and print it on stderr for people (credentials redacted, control characters shown). */
  protected note(message: string): void {
    this.collectedWarnings.push(redactCredentials(message))
    if (!this.jsonEnabled() && this.flags?.['log-level'] !== 'error') process.stderr.write(`warning: ${terminalMessage(message)}\n`)
  }

  /** Informational line on stderr (never on stdout, which belongs to results), made safe for a terminal. */
  protected info(message: string): void {
    const level = this.flags?.['log-level'] ?? 'info'
    if (level === 'info' || level === 'debug') process.stderr.write(`${terminalMessage(message)}\n`)
  }

  /** Human output on stdout, suppressed under --json. */
  protected out(text: string): void {
    if (!this.jsonEnabled()) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
  }

  /** Progress bars only for people watching a terminal. */
  protected get showProgress(): boolean {
    return Boolean(process.stderr.isTTY) && !this.jsonEnabled() && this.flags?.['log-level'] !== 'error'
  }

  /** Ends a successful run with a non-zero status a scheduler acts on (not an error: the result stands). */
  protected exitSucceededWith(status: number): void {
    this.successStatus = status
    process.exitCode = status
  }

  protected override toSuccessJson(result: unknown): JsonEnvelope<unknown> {
    return {status: this.successStatus, result, warnings: this.collectedWarnings}
  }

  protected override toErrorJson(err: unknown): JsonEnvelope<null> {
    const mapped = mapError(err)
    return {status: mapped.exitCode, result: null, warnings: this.collectedWarnings, error: mapped.error}
  }

  protected override logJson(json: unknown): void {
    process.stdout.write(`${JSON.stringify(json, jsonReplacer, 2)}\n`)
  }

  public override async catch(err: Error & {exitCode?: number}): Promise<void> {
    const mapped = mapError(err)
    process.exitCode = mapped.exitCode
    if (this.jsonEnabled()) {
      this.logJson(this.toErrorJson(err))
      return
    }
    let text = `Error: ${mapped.error.message}`
    if (mapped.error.hint) text += `\nHint: ${mapped.error.hint}`
    if (mapped.exitCode === EXIT.failure && !(err instanceof FlowscopeError) && this.flags?.['log-level'] === 'debug' && err.stack) {
      text += `\n${err.stack}`
    }
    process.stderr.write(`${terminalMessage(text)}\n`)
  }
}

interface MappedError {
  exitCode: number
  error: NonNullable<JsonEnvelope<null>['error']>
}

export function mapError(err: unknown): MappedError {
  if (err instanceof FlowscopeError) {
    const e: MappedError['error'] = {name: err.name, code: err.code, message: redactCredentials(err.message)}
    if (err.hint) e.hint = redactCredentials(err.hint)
    const located = err as FlowscopeError & {file?: string; offset?: number}
    if (typeof located.file === 'string') e.file = located.file
    if (typeof located.offset === 'number') e.offset = located.offset
    return {exitCode: err.exitCode, error: e}
  }
  if (err instanceof Errors.CLIError) {
    // oclif's own parse and usage errors (unknown flag, missing argument, bad option) exit 2
    const exit = err.oclif?.exit ?? EXIT.usage
    const message = err.message.replace(/^Error: /, '')
    return {
      exitCode: exit === 0 ? EXIT.ok : exit,
      error: {name: err.name, code: exit === EXIT.usage ? 'USAGE' : 'FAILURE', message, hint: 'see --help'},
    }
  }
  const e = err instanceof Error ? err : new Error(String(err))
  if ((e as NodeJS.ErrnoException).code === 'EPIPE') return {exitCode: EXIT.ok, error: {name: e.name, code: 'EPIPE', message: e.message}}
  return {exitCode: EXIT.failure, error: {name: e.name, code: 'INTERNAL', message: redactCredentials(e.message)}}
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString()
  return value
}
