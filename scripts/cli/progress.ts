/**
 * Progress of an import on stderr: a bar redrawn in place when stderr is a terminal, else
 * a plain line every PLAIN_EVERY_MS (logs, CI). Notes (retries, warnings) are whole lines.
 */

const PLAIN_EVERY_MS = 5_000
const REDRAW_MS = 250

export const count = (n: number): string => n.toLocaleString('en-US')

/** Seconds as "2.5 s", "42 s", "3 min 5 s", "1 h 2 min". */
export function duration (seconds: number): string {
  if (seconds < 10) return `${Math.max(0, seconds).toFixed(1)} s`
  const s = Math.round(seconds)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
}

export class Progress {
  readonly #out: NodeJS.WritableStream & { isTTY?: boolean, columns?: number }
  readonly #tty: boolean
  readonly #total: number
  readonly #doneBefore: number
  readonly #started = Date.now()
  #done: number
  #status = ''
  #lastPlain = 0
  #drawn = false
  #timer: NodeJS.Timeout | undefined

  /** `total` messages, `doneBefore` of them acknowledged by an earlier run. */
  constructor (out: NodeJS.WritableStream & { isTTY?: boolean, columns?: number }, total: number, doneBefore: number) {
    this.#out = out
    this.#tty = out.isTTY === true
    this.#total = total
    this.#doneBefore = doneBefore
    this.#done = doneBefore
    if (this.#tty) {
      this.#timer = setInterval(() => this.#draw(), REDRAW_MS)
      this.#timer.unref()
    }
  }

  /** Messages acknowledged so far (earlier runs included). */
  update (done: number): void {
    this.#done = done
    this.#status = ''
    if (this.#tty) this.#draw()
    else if (Date.now() - this.#lastPlain >= PLAIN_EVERY_MS || done === this.#total) {
      this.#lastPlain = Date.now()
      this.#out.write(`timgate import: ${this.#line()}\n`)
    }
  }

  /** A transient state shown after the numbers on the bar (waiting for a retry). */
  status (text: string): void {
    this.#status = text
    if (this.#tty) this.#draw()
  }

  /** A whole line, above the bar. */
  note (line: string): void {
    this.#clear()
    this.#out.write(`timgate import: ${line}\n`)
    if (this.#tty) this.#draw()
  }

  /** Removes the bar for good. */
  finish (): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    this.#clear()
  }

  /** Messages per second in this run, if any were acknowledged. */
  rate (): number | undefined {
    const seconds = (Date.now() - this.#started) / 1000
    const done = this.#done - this.#doneBefore
    return done > 0 && seconds > 0 ? done / seconds : undefined
  }

  #line (): string {
    const percent = this.#total === 0 ? 100 : Math.floor(this.#done * 100 / this.#total)
    const rate = this.rate()
    const eta = rate === undefined ? 'ETA -' : `ETA ${duration((this.#total - this.#done) / rate)}`
    return `${count(this.#done)}/${count(this.#total)} messages (${percent}%), ${rate === undefined ? '- msg/s' : `${count(Math.round(rate))} msg/s`}, ${eta}` +
      (this.#status === '' ? '' : ` - ${this.#status}`)
  }

  #draw (): void {
    if (this.#timer === undefined) return
    const width = 24
    const filled = this.#total === 0 ? width : Math.floor(this.#done * width / this.#total)
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`
    const text = `${bar} ${this.#line()}`
    const columns = (this.#out.columns ?? 0) > 20 ? this.#out.columns! : 100
    this.#out.write(`\r${text.slice(0, Math.max(10, columns - 1))}\x1b[K`)
    this.#drawn = true
  }

  #clear (): void {
    if (this.#drawn) this.#out.write('\r\x1b[K')
    this.#drawn = false
  }
}
