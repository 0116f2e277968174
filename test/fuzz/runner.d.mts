// Types of runner.mjs (plain JavaScript over dist/, so that scripts/fuzz.mjs runs it without a TS loader).

export declare const FORMATS: readonly string[]
export declare const FAILURE_KINDS: readonly string[]

export interface FuzzCase {
  format: string
  seed: number
  /** the real input it was made from */
  source: string
  /** what was changed, precisely enough to redo by hand */
  mutation: string
  /** flip, truncate, length, time, counter, word, multi, … */
  mutationKind: string
  /** the mutant, written into the run's scratch folder */
  file: string
  size: number
}

export interface FuzzOutcome {
  outcome: 'ok' | 'bad-input' | 'failure'
  kind?: string
  message: string
}

export interface FuzzFailure extends FuzzCase {
  /** plain, skip-bad or cli */
  variant: string
  kind: string
  message: string
}

export type FormatStats = Record<string, number>

export interface FuzzRun {
  stats: Record<string, FormatStats>
  failures: FuzzFailure[]
  seconds: number
  maxRssMb: number
}

export interface FuzzOptions {
  /** the checkout whose dist/ and bin/run.js are fuzzed */
  root: string
  /** ../shared/data */
  dataDir: string
  seed?: number
  cases?: number
  formats?: readonly string[]
  /** every cliEvery-th mutant also through the CLI (0: never) */
  cliEvery?: number
  cliMax?: number
  timeoutMs?: number
  /** copy failing mutants here */
  keep?: string
  only?: {format: string; seed: number}[]
  /** first ingest every unmutated input: each must be ok (variant 'original' otherwise) */
  baseline?: boolean
  onCase?: (c: FuzzCase, outcomes: (FuzzOutcome & {variant: string})[]) => void
}

export declare function caseSeed(base: number, i: number): number
export declare function planCases(base: number, n: number, formats?: readonly string[]): {index: number; format: string; seed: number}[]
export declare function runFuzz(options: FuzzOptions): Promise<FuzzRun>
export declare function formatReport(run: FuzzRun): string
export declare function failureLine(f: FuzzFailure): string
export declare function failureClass(f: FuzzFailure): string
export declare function describeCases(options: Pick<FuzzOptions, 'root' | 'dataDir' | 'seed' | 'cases' | 'formats'>): Promise<{format: string; seed: number; source: string; mutation: string; sha256: string}[]>
