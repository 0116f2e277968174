/**
 * Small numeric helpers shared by the estimators and the benchmark: the normal distribution, the
 * `Estimate` shape every estimator returns, and a seed mixer for deriving per-trial seeds.
 */
import {fmix32} from '../core/index.js'

/** two-sided 95% normal quantile */
export const Z95 = 1.959963984540054

/** A point estimate with its standard error and a 95% confidence interval. */
export interface Estimate {
  estimate: number
  stderr: number
  ci95: [number, number]
}

/**
 * Normal-approximation interval `estimate ± 1.96·stderr`; the lower end is raised to `floor` (a total
 * is never below what the sample itself saw, a count never below 0).
 */
export function normalEstimate(estimate: number, variance: number, floor = 0): Estimate {
  const stderr = variance > 0 && Number.isFinite(variance) ? Math.sqrt(variance) : 0
  const lo = Math.max(floor, estimate - Z95 * stderr)
  const hi = Math.max(lo, estimate + Z95 * stderr)
  return {estimate, stderr, ci95: [lo, hi]}
}

/** Standard normal CDF Φ(x). */
export function normalCdf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN
  if (x === Infinity) return 1
  if (x === -Infinity) return 0
  return 0.5 * erfc(-x / Math.SQRT2)
}

/**
 * Complementary error function, Numerical Recipes' `erfcc` Chebyshev fit (fractional error < 1.2e-7
 * everywhere): plenty for confidences that are printed with two digits.
 */
export function erfc(x: number): number {
  const z = Math.abs(x)
  const t = 1 / (1 + 0.5 * z)
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    )
  return x >= 0 ? r : 2 - r
}

/** 32-bit hash of a string (FNV-1a, finalised): stable names → seed words. */
export function hashString(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return fmix32(h >>> 0)
}

/**
 * Seed for one trial, derived from the base seed and what identifies the trial (not from its position
 * in a loop): adding a rate or a sampler to a sweep leaves every other trial's seed unchanged.
 */
export function deriveSeed(baseSeed: number, ...parts: number[]): number {
  let h = fmix32((baseSeed >>> 0) ^ 0x5bd1e995)
  for (const p of parts) {
    // split non-integers (rates such as 1/256 given as 256 are integers; 0.5 is not) into two words
    const hi = Math.floor(p / 4294967296)
    const lo = p - hi * 4294967296
    h = fmix32((h ^ (lo >>> 0)) + 0x9e3779b9)
    h = fmix32((h ^ (hi >>> 0) ^ Math.round((p % 1) * 1e9)) + 0x7f4a7c15)
  }
  return h
}
