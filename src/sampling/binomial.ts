/**
 * Exact binomial variates for thinning flow records.
 *
 * - n·min(p, 1−p) < 10: inversion by sequential search from 0 (Kachitvichyanukul & Schmeiser's BINV),
 *   expected cost O(n·p);
 * - otherwise: BTRD, Hörmann's transformed rejection with decomposition ("The generation of binomial
 *   random variates", J. Statist. Comput. Simul. 46, 1993), O(1) expected whatever n is.
 * Both are exact (no normal approximation), so thinned totals have exactly the binomial mean and
 * variance a real 1-in-N packet sampler would give.
 */
import type {Rng} from '../core/index.js'

/** Binomial(n, p) for integer n ≥ 0 and p in [0, 1]. */
export function binomial(n: number, p: number, rng: Rng): number {
  if (n <= 0 || p <= 0) return 0
  if (p >= 1) return n
  if (p > 0.5) return n - binomial(n, 1 - p, rng)
  if (n * p < 10) return binomialInversion(n, p, rng)
  return binomialBtrd(n, p, rng)
}

function binomialInversion(n: number, p: number, rng: Rng): number {
  const q = 1 - p
  const s = p / q
  let f = Math.pow(q, n)
  let u = rng.next()
  let k = 0
  while (u > f) {
    u -= f
    k++
    if (k > n) return n // rounding left a sliver of probability past n
    f *= ((n + 1 - k) / k) * s
  }
  return k
}

/** Stirling-series correction fc(k) = ln k! − [(k + ½) ln(k + 1) − (k + 1) + ½ ln 2π]. */
const FC_TABLE = [
  0.08106146679532726, 0.04134069595540929, 0.02767792568499834, 0.02079067210376509, 0.01664469118982119,
  0.01387612882307075, 0.01189670994589177, 0.01041126526197209, 0.009255462182712733, 0.008330563433362871,
]

function fc(k: number): number {
  if (k < 10) return FC_TABLE[k]!
  const r = 1 / (k + 1)
  const r2 = r * r
  return (1 / 12 - (1 / 360 - r2 / 1260) * r2) * r
}

/** BTRD for n·p ≥ 10, p ≤ ½ (steps numbered as in Hörmann 1993). */
function binomialBtrd(n: number, p: number, rng: Rng): number {
  // 0. set-up
  const m = Math.floor((n + 1) * p)
  const r = p / (1 - p)
  const nr = (n + 1) * r
  const npq = n * p * (1 - p)
  const sqrtNpq = Math.sqrt(npq)
  const b = 1.15 + 2.53 * sqrtNpq
  const a = -0.0873 + 0.0248 * b + 0.01 * p
  const c = n * p + 0.5
  const alpha = (2.83 + 5.1 / b) * sqrtNpq
  const vr = 0.92 - 4.2 / b
  const urvr = 0.86 * vr
  for (;;) {
    // 1. the central region: accept immediately
    let v = rng.next()
    let u: number
    if (v <= urvr) {
      u = v / vr - 0.43
      return Math.floor(((2 * a) / (0.5 - Math.abs(u)) + b) * u + c)
    }
    // 2. the rest of the hat
    if (v >= vr) {
      u = rng.next() - 0.5
    } else {
      u = v / vr - 0.93
      u = Math.sign(u) * 0.5 - u
      v = rng.next() * vr
    }
    // 3.0
    const us = 0.5 - Math.abs(u)
    const k = Math.floor(((2 * a) / us + b) * u + c)
    if (k < 0 || k > n) continue
    v = (v * alpha) / (a / (us * us) + b)
    const km = Math.abs(k - m)
    if (km <= 15) {
      // 3.1 recursive evaluation of f(k)/f(m)
      let f = 1
      if (m < k) {
        for (let i = m + 1; i <= k; i++) f *= nr / i - r
      } else if (m > k) {
        for (let i = k + 1; i <= m; i++) v *= nr / i - r
      }
      if (v <= f) return k
      continue
    }
    // 3.2 squeeze on log scale
    v = Math.log(v)
    const rho = (km / npq) * (((km / 3 + 0.625) * km + 1 / 6) / npq + 0.5)
    const t = (-km * km) / (2 * npq)
    if (v < t - rho) return k
    if (v > t + rho) continue
    // 3.3 / 3.4 final acceptance test with Stirling corrections
    const nm = n - m + 1
    const h = (m + 0.5) * Math.log((m + 1) / (r * nm)) + fc(m) + fc(n - m)
    const nk = n - k + 1
    if (v <= h + (n + 1) * Math.log(nm / nk) + (k + 0.5) * Math.log((nk * r) / (k + 1)) - fc(k) - fc(n - k)) return k
  }
}
