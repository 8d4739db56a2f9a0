// Small statistics and formatting for the benchmark's output.

export const MB = 1024 * 1024
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
export const fmt = (n, digits = 0) => Number.isFinite(n) ? n.toFixed(digits) : '-'
/** A signed percentage: `+3.2 %`. */
export const pct = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(1)} %`

/** The p-th percentile (0–100) of numbers sorted ascending; undefined for none. */
export const percentile = (sorted, p) => sorted.length === 0 ? undefined : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p / 100) - 1))]

/** Lines of a table: the first two columns left-aligned, the others right-aligned. */
export function formatTable (head, rows, leftColumns = 2) {
  const table = [head, ...rows].map(r => r.map(c => String(c ?? '')))
  const widths = head.map((_, i) => Math.max(...table.map(row => row[i].length)))
  const line = (row) => row.map((c, i) => i < leftColumns || i === row.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join('  ').trimEnd()
  return [line(table[0]), line(widths.map(w => '-'.repeat(w))), ...table.slice(1).map(line)]
}

/** Sizes like 10k or 1m as numbers, and back. */
export function parseSize (s) {
  const m = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(s.trim())
  if (m === null) throw new Error(`"${s}" is not a size like 10k or 1m`)
  return Math.round(Number(m[1]) * { '': 1, k: 1e3, m: 1e6 }[m[2].toLowerCase()])
}
export const sizeLabel = (n) => n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}m` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}k` : String(n)
