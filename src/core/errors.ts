/**
 * Domain errors shared by every layer. Layers throw these (never oclif errors); the base command maps
 * `exitCode` to the process exit status and renders `message` plus `hint`.
 */

export const EXIT = {ok: 0, failure: 1, usage: 2, badInput: 3, detections: 4} as const

export type ErrorCode =
  | 'CAPTURE_FORMAT'
  | 'BAD_INPUT'
  | 'USAGE'
  | 'NOT_FOUND'
  | 'STORE'
  | 'STORE_LOCKED'
  | 'INTERNAL'

export interface FlowscopeErrorOptions {
  cause?: unknown
  hint?: string
}

export class FlowscopeError extends Error {
  readonly code: ErrorCode
  readonly exitCode: number
  readonly hint: string | undefined

  constructor(code: ErrorCode, message: string, exitCode: number, options: FlowscopeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = new.target.name
    this.code = code
    this.exitCode = exitCode
    this.hint = options.hint
  }
}

/** Malformed capture or flow-export bytes: names the file and the byte offset where decoding failed. */
export class CaptureFormatError extends FlowscopeError {
  readonly file: string
  readonly offset: number

  constructor(file: string, offset: number, detail: string, options: FlowscopeErrorOptions = {}) {
    super('CAPTURE_FORMAT', `${file}: byte offset ${offset}: ${detail}`, EXIT.badInput, {
      hint: options.hint ?? 'flowscope reads pcap and pcapng; a damaged capture can be read past its bad records with --skip-bad',
      ...(options.cause === undefined ? {} : {cause: options.cause}),
    })
    this.file = file
    this.offset = offset
  }
}

/** Bad input data that is not a byte-level capture problem (a CSV row, a missing file). */
export class InputDataError extends FlowscopeError {
  constructor(message: string, options: FlowscopeErrorOptions = {}) {
    super('BAD_INPUT', message, EXIT.badInput, options)
  }
}

export class UsageError extends FlowscopeError {
  constructor(message: string, options: FlowscopeErrorOptions = {}) {
    super('USAGE', message, EXIT.usage, options)
  }
}

export class StoreError extends FlowscopeError {
  constructor(message: string, options: FlowscopeErrorOptions = {}) {
    super('STORE', message, EXIT.failure, options)
  }
}

export class StoreLockedError extends FlowscopeError {
  constructor(path: string, options: FlowscopeErrorOptions = {}) {
    super('STORE_LOCKED', `${path}: the store is in use by another flowscope process`, EXIT.failure, {
      hint: 'wait for the other run to finish, or use another --db',
      ...options,
    })
  }
}
