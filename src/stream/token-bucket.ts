/**
 * Token bucket pacing: `rate` tokens per second, at most `burst` saved up. `take(n)` waits until n
 * tokens are there, so a producer calling it before each send never exceeds the rate over any
 * interval longer than burst/rate.
 */
import {sleep as realSleep} from './aws.js'

export interface TokenBucketOptions {
  /** tokens per second */
  rate: number
  /** most tokens saved up (default: one second's worth, at least 1) */
  burst?: number
  /** ms clock (default performance.now) */
  now?: () => number
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
}

export class TokenBucket {
  private readonly rate: number
  private readonly burst: number
  private readonly now: () => number
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>
  private tokens: number
  private last: number

  constructor(options: TokenBucketOptions) {
    if (!(options.rate > 0)) throw new RangeError(`rate must be positive, got ${options.rate}`)
    this.rate = options.rate
    this.burst = Math.max(1, options.burst ?? options.rate)
    this.now = options.now ?? (() => performance.now())
    this.sleep = options.sleep ?? realSleep
    // start empty: the first second is paced like every other
    this.tokens = 0
    this.last = this.now()
  }

  private refill(): void {
    const t = this.now()
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.rate) / 1000)
    this.last = t
  }

  /** Waits for `n` tokens (taken in burst-sized parts when n is larger than the burst). */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    let left = n
    while (left > 0 && !signal?.aborted) {
      const part = Math.min(left, this.burst)
      this.refill()
      if (this.tokens >= part) {
        this.tokens -= part
        left -= part
        continue
      }
      await this.sleep(Math.ceil(((part - this.tokens) * 1000) / this.rate), signal)
    }
  }
}
