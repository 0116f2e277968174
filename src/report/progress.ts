import cliProgress from 'cli-progress'

import {visible} from './escape.js'

export interface Progress {
  update(done: number, total?: number): void
  stop(): void
}

const NOOP: Progress = {update: () => {}, stop: () => {}}

/**
 * A progress bar on stderr, or nothing when stderr is not a terminal (cron, pipes, --json): the bar
 * must never mix into results on stdout.
 */
export function createProgress(enabled: boolean, label: string, total: number, unit = 'MB', scale = 1e6): Progress {
  if (!enabled) return NOOP
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      // the label may name a file: shown, never acted on by the terminal (and no `{…}` of the format)
      format: `${visible(label).replace(/[{}]/g, '')} [{bar}] {percentage}% | {value}/{total} ${unit} | eta {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 20,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  )
  bar.start(Math.max(1, Math.round(total / scale)), 0)
  return {
    update: (done, newTotal) => {
      if (newTotal !== undefined) bar.setTotal(Math.max(1, Math.round(newTotal / scale)))
      bar.update(Math.round(done / scale))
    },
    stop: () => bar.stop(),
  }
}
