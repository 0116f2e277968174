/**
 * When a flow record ends, by default (nfpcapd's and softflowd's defaults): after 15 s without a packet
 * (idle), or once it has lasted 1800 s (active; the packet that crosses it starts the next record).
 * Capture ingest, the sampling ground truth and the `ingest` flags all take these.
 */
export const DEFAULT_IDLE_TIMEOUT_SEC = 15
export const DEFAULT_ACTIVE_TIMEOUT_SEC = 1800

export const DEFAULT_IDLE_TIMEOUT_MICROS = DEFAULT_IDLE_TIMEOUT_SEC * 1e6
export const DEFAULT_ACTIVE_TIMEOUT_MICROS = DEFAULT_ACTIVE_TIMEOUT_SEC * 1e6

/** The timeouts a flow meter takes (capture ingest, the sampling flow records and ground truth). */
export interface FlowTimeoutOptions {
  /** end a flow after this long without packets, µs (default 15 s) */
  idleTimeoutMicros?: number
  /** end a flow that has lasted this long, µs (default 1800 s) */
  activeTimeoutMicros?: number
}

/** `options`' timeouts, the defaults where one is left out. */
export function flowTimeouts(options: FlowTimeoutOptions): Required<FlowTimeoutOptions> {
  return {
    idleTimeoutMicros: options.idleTimeoutMicros ?? DEFAULT_IDLE_TIMEOUT_MICROS,
    activeTimeoutMicros: options.activeTimeoutMicros ?? DEFAULT_ACTIVE_TIMEOUT_MICROS,
  }
}
