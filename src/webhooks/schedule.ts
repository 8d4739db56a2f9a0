/**
 * When a failed delivery is tried again (CONTRACT §8): the first retry within 10 s of the
 * failure, the second within 60 s of the first failure, then growing delays up to an hour,
 * each ±20 % at random (so that the receivers of many failed deliveries are not hit at once),
 * for at least 24 h.
 */
const DELAYS_MS = [5_000, 30_000, 120_000, 600_000, 1_800_000]
export const MAX_DELAY_MS = 3_600_000
/** A delivery failing for this long is dropped at its next failure. */
export const GIVE_UP_AFTER_MS = 24 * 3_600_000
/** The jitter: a delay is its base times 0.8 to 1.2. */
const JITTER = 0.2

/** The delay after the `failures`-th failed attempt (1, 2, …); `random` in [0, 1). */
export function retryDelayMs (failures: number, random: number): number {
  const base = DELAYS_MS[failures - 1] ?? MAX_DELAY_MS
  return Math.min(MAX_DELAY_MS, Math.round(base * (1 - JITTER + 2 * JITTER * random)))
}
