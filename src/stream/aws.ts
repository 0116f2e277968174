/**
 * AWS plumbing shared by the producer, the consumer and the lease table: client factories with the
 * HTTP/1.1 handler, a send with a hard timeout, error classification and jittered backoff.
 */
import {DynamoDBClient} from '@aws-sdk/client-dynamodb'
import {KinesisClient} from '@aws-sdk/client-kinesis'
import {NodeHttpHandler} from '@smithy/node-http-handler'

import {StreamError} from './stream-error.js'

export const LOCAL_REGION = 'us-east-1'
export const LOCAL_CREDENTIALS = {accessKeyId: 'local', secretAccessKey: 'local'} as const

export interface AwsClientOptions {
  /**
   * endpoint URL; a loopback one (kinesalite, dynalite on 127.0.0.1 / localhost) gets static local
   * credentials and us-east-1, any other keeps the SDK's credential chain
   */
  endpoint?: string
  /** region; without it (and without an endpoint) the SDK's default region chain */
  region?: string
  /** socket-level request timeout, ms (default 10 s) */
  requestTimeoutMs?: number
  /** connection timeout, ms (default 3 s) */
  connectionTimeoutMs?: number
  /** SDK retry attempts (default: the SDK's own, 3) */
  maxAttempts?: number
}

/*
 * On Node < 22 the SDK warns that its releases after the first week of January 2027 need Node >= 22.
 * It is left on (the user should know; AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true is the
 * SDK's own switch): the SDK prints it once per process, however many clients are made, since every
 * client shares one @aws-sdk/core. On Node >= 22 there is no warning.
 */
function clientConfig(options: AwsClientOptions) {
  // The default handler negotiates HTTP/2 on https endpoints and fails against the local servers;
  // the HTTP/1.1 handler with explicit timeouts works everywhere.
  const requestHandler = new NodeHttpHandler({
    requestTimeout: options.requestTimeoutMs ?? 10_000,
    connectionTimeout: options.connectionTimeoutMs ?? 3_000,
  })
  const local = options.endpoint !== undefined && isLoopbackEndpoint(options.endpoint)
  const region = options.region ?? (local ? LOCAL_REGION : undefined)
  return {
    requestHandler,
    ...(options.maxAttempts === undefined ? {} : {maxAttempts: options.maxAttempts}),
    ...(options.endpoint === undefined ? {} : {endpoint: options.endpoint}),
    ...(region === undefined ? {} : {region}),
    ...(local ? {credentials: LOCAL_CREDENTIALS} : {}),
  }
}

/** http(s)://127.x.x.x, localhost or [::1]. */
export function isLoopbackEndpoint(endpoint: string): boolean {
  try {
    const host = new URL(endpoint).hostname
    return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
  } catch {
    return false
  }
}

export function createKinesisClient(options: AwsClientOptions = {}): KinesisClient {
  return new KinesisClient(clientConfig(options))
}

export function createDynamoClient(options: AwsClientOptions = {}): DynamoDBClient {
  return new DynamoDBClient(clientConfig(options))
}

/** A request that did not answer within its time limit (the socket may still be open). */
export class RequestTimeoutError extends StreamError {
  constructor(
    readonly operation: string,
    readonly timeoutMs: number,
  ) {
    super(`${operation}: no answer within ${timeoutMs} ms`, {hint: 'check the endpoint and the network; the request is retried'})
  }
}

/** Thrown (as the abort reason) when the caller's signal stops an operation. */
export class StoppedError extends Error {
  constructor() {
    super('stopped')
    this.name = 'StoppedError'
  }
}

/**
 * Runs `send` with a hard time limit: the request is aborted and `RequestTimeoutError` thrown when it
 * takes longer than `timeoutMs` — even when the SDK itself would wait (kinesalite never answers
 * GetShardIterator AT_TIMESTAMP past the last record). `signal` stops it early with `StoppedError`.
 */
export async function sendWithTimeout<T>(
  operation: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  send: (abortSignal: AbortSignal) => Promise<T>,
): Promise<T> {
  if (signal?.aborted) throw new StoppedError()
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  try {
    return await new Promise<T>((resolve, reject) => {
      timer = setTimeout(() => {
        const error = new RequestTimeoutError(operation, timeoutMs)
        controller.abort(error)
        reject(error)
      }, timeoutMs)
      onAbort = () => {
        controller.abort(new StoppedError())
        reject(new StoppedError())
      }
      signal?.addEventListener('abort', onAbort, {once: true})
      send(controller.signal).then(resolve, reject)
    })
  } finally {
    clearTimeout(timer)
    if (onAbort) signal?.removeEventListener('abort', onAbort)
  }
}

export function errorName(error: unknown): string {
  if (error && typeof error === 'object' && 'name' in error && typeof error.name === 'string') return error.name
  return ''
}

const THROTTLE_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'ThrottlingException',
  'Throttling',
  'RequestLimitExceeded',
  'KMSThrottlingException',
])

/** Kinesis/DynamoDB said "too fast": back off and try again. */
export function isThrottle(error: unknown): boolean {
  return THROTTLE_NAMES.has(errorName(error))
}

/** Worth another try after a pause: throttling, timeouts, network failures, 5xx. */
export function isTransient(error: unknown): boolean {
  if (isThrottle(error) || error instanceof RequestTimeoutError) return true
  const name = errorName(error)
  if (['TimeoutError', 'RequestTimeout', 'InternalFailure', 'InternalServerError', 'ServiceUnavailable', 'KMSInternalException'].includes(name)) return true
  const code = (error as {code?: unknown} | undefined)?.code
  if (typeof code === 'string' && ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) return true
  const status = (error as {$metadata?: {httpStatusCode?: number}} | undefined)?.$metadata?.httpStatusCode
  return typeof status === 'number' && status >= 500
}

export function isStopped(error: unknown, signal?: AbortSignal): boolean {
  return error instanceof StoppedError || (signal?.aborted === true && errorName(error) === 'AbortError')
}

export interface Backoff {
  /** first delay, ms */
  baseMs: number
  /** largest delay, ms */
  maxMs: number
}

export const DEFAULT_BACKOFF: Backoff = {baseMs: 100, maxMs: 5_000}

/**
 * "Full jitter" exponential backoff (a uniform delay in [0, min(max, base·2^attempt)]): spreads the
 * retries of many clients so they do not hit the throttled shard in lockstep.
 */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number): number {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(attempt, 30))
  return Math.max(1, Math.floor(random() * ceiling))
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, {once: true})
  })
}
