/**
 * When a flow record ends, by default (nfpcapd's and softflowd's defaults): after 15 s without a packet
 * (idle), or once it has lasted 1800 s (active; the packet that crosses it starts the next record).
 * Capture ingest, the sampling ground truth and the `ingest` flags all take these.
 */
export const DEFAULT_IDLE_TIMEOUT_SEC = 15
export const DEFAULT_ACTIVE_TIMEOUT_SEC = 1800

export const DEFAULT_IDLE_TIMEOUT_MICROS = DEFAULT_IDLE_TIMEOUT_SEC * 1e6
export const DEFAULT_ACTIVE_TIMEOUT_MICROS = DEFAULT_ACTIVE_TIMEOUT_SEC * 1e6
