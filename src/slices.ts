import { setImmediate as nextTurn } from 'node:timers/promises'

/**
 * Long work on the event loop in slices (CONTRACT §12: one client's large request must
 * not hold up the others'): call `await slices.next()` between the pieces of a loop, and
 * the loop gives the event loop back once `budgetMs` of work has passed since it last did.
 */
export interface Slices { next (): Promise<void> | undefined }

/** The work of one slice: a few milliseconds keeps every other request's wait short. */
export const SLICE_MS = 4

export function slices (budgetMs = SLICE_MS): Slices {
  let since = performance.now()
  return {
    next () {
      if (performance.now() - since < budgetMs) return undefined
      return nextTurn().then(() => { since = performance.now() })
    },
  }
}

/** `items` mapped by `fn`, in slices. */
export async function mapInSlices<T, R> (items: readonly T[], fn: (item: T, index: number) => R): Promise<R[]> {
  const s = slices()
  const out: R[] = new Array(items.length)
  for (let i = 0; i < items.length; i++) {
    out[i] = fn(items[i]!, i)
    await s.next()
  }
  return out
}

/** A JSON array of `items`, each serialized by `serialize` (JSON.stringify by default), in slices. */
export async function jsonArrayInSlices<T> (items: readonly T[], serialize: (item: T) => string = JSON.stringify): Promise<string> {
  return `[${(await mapInSlices(items, serialize)).join(',')}]`
}
