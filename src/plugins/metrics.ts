import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

/** Latency buckets in seconds. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

interface Histogram { counts: number[], sum: number, count: number }
/** The label texts of one route's series: its histogram's, and its counter's with the status. */
interface Series { key: string, withStatus: string }

/** A series of one value, with its HELP and TYPE lines. */
const series = (name: string, type: 'counter' | 'gauge', help: string, value: number): string[] =>
  [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`]

/** The event streams open now (here and in the stream process) and, with TIM_EVENTS_PROCESS, that process's state. */
type EventStreamsReading = { open: number, process: { up: boolean, restarts: number } | undefined }

/** The few Prometheus series the gateway exports, kept in memory. */
export class Metrics {
  readonly #labels = new Map<string, Series>()
  readonly #requests = new Map<string, number>()
  readonly #latency = new Map<string, Histogram>()
  #messagesStored = 0
  readonly #deliveries = new Map<string, number>([['ok', 0], ['failed', 0], ['timeout', 0]])
  #retries = 0
  #dropped = 0
  #pending = 0
  #oldestPendingS = 0
  readonly #beforeSend = new Map<string, number>([['ok', 0], ['rejected', 0], ['modified', 0], ['failed', 0], ['timeout', 0]])
  #heavyWorking = 0
  #heavyWaiting = 0
  #streams: () => EventStreamsReading = () => ({ open: 0, process: undefined })

  request (method: string, route: string, status: number, seconds: number): void {
    // Keyed by the raw strings first: the escaped label text is built once per series.
    const id = `${method} ${route} ${status}`
    const { key, withStatus } = this.#labels.get(id) ?? this.#label(id, method, route, status)
    this.#requests.set(withStatus, (this.#requests.get(withStatus) ?? 0) + 1)
    let h = this.#latency.get(key)
    if (h === undefined) {
      h = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 }
      this.#latency.set(key, h)
    }
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) h.counts[i]!++
    h.sum += seconds
    h.count++
  }

  #label (id: string, method: string, route: string, status: number): Series {
    const key = `method="${label(method)}",route="${label(route)}"`
    const series = { key, withStatus: `${key},status="${status}"` }
    this.#labels.set(id, series)
    return series
  }

  messagesStored (n: number): void {
    this.#messagesStored += n
  }

  /** A webhook delivery attempt's result: ok (2xx), failed (another answer, a connection error), timeout. */
  webhookDelivery (result: 'ok' | 'failed' | 'timeout', retried: boolean): void {
    this.#deliveries.set(result, this.#deliveries.get(result)! + 1)
    if (retried) this.#retries++
  }

  webhookDropped (): void {
    this.#dropped++
  }

  /** The deliveries owed now, and the age of the oldest one's event. */
  webhookBacklog (pending: number, oldestAgeS: number): void {
    this.#pending = pending
    this.#oldestPendingS = oldestAgeS
  }

  beforeSend (result: 'ok' | 'rejected' | 'modified' | 'failed' | 'timeout'): void {
    this.#beforeSend.set(result, this.#beforeSend.get(result)! + 1)
  }

  /** Where the event streams are counted when /metrics is read (src/plugins/events.ts). */
  eventStreams (read: () => EventStreamsReading): void {
    this.#streams = read
  }

  /** Heavy requests (imports, batch sends) worked on now, and those waiting their turn (src/plugins/heavy-requests.ts). */
  heavyTurns (working: number, waiting: number): void {
    this.#heavyWorking = working
    this.#heavyWaiting = waiting
  }

  /** The Prometheus text exposition format, version 0.0.4. */
  render (): string {
    const out: string[] = [
      '# HELP timgate_http_requests_total HTTP requests answered, by route and status.',
      '# TYPE timgate_http_requests_total counter',
    ]
    for (const [labels, n] of this.#requests) out.push(`timgate_http_requests_total{${labels}} ${n}`)
    out.push('# HELP timgate_http_request_duration_seconds Time to answer a request, by route.',
      '# TYPE timgate_http_request_duration_seconds histogram')
    for (const [labels, h] of this.#latency) {
      BUCKETS.forEach((b, i) => out.push(`timgate_http_request_duration_seconds_bucket{${labels},le="${b}"} ${h.counts[i]}`))
      out.push(`timgate_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${h.count}`,
        `timgate_http_request_duration_seconds_sum{${labels}} ${h.sum}`,
        `timgate_http_request_duration_seconds_count{${labels}} ${h.count}`)
    }
    out.push(...series('timgate_messages_stored_total', 'counter', 'Messages written to the store since start.', this.#messagesStored),
      '# HELP timgate_webhook_deliveries_total Webhook delivery attempts, by result (ok: a 2xx; failed: another answer or a connection error; timeout).',
      '# TYPE timgate_webhook_deliveries_total counter',
      ...[...this.#deliveries].map(([result, n]) => `timgate_webhook_deliveries_total{result="${result}"} ${n}`),
      ...series('timgate_webhook_retries_total', 'counter', 'Webhook delivery attempts that were retries of a failed one.', this.#retries),
      ...series('timgate_webhook_dropped_total', 'counter', 'Webhook deliveries given up after failing for 24 h.', this.#dropped),
      ...series('timgate_webhook_pending', 'gauge', 'Webhook deliveries owed (all webhooks, all replicas).', this.#pending),
      ...series('timgate_webhook_oldest_pending_seconds', 'gauge', 'Age of the oldest owed webhook delivery\'s event (0 when none is owed).', this.#oldestPendingS),
      '# HELP timgate_before_send_total Before-send calls, by result (ok: allowed; rejected; modified; failed: an error or a non-2xx, stored as is; timeout: stored as is).',
      '# TYPE timgate_before_send_total counter',
      ...[...this.#beforeSend].map(([result, n]) => `timgate_before_send_total{result="${result}"} ${n}`),
      ...series('timgate_heavy_requests_working', 'gauge', 'Imports and batch sends worked on now (at most 4 at once).', this.#heavyWorking),
      ...series('timgate_heavy_requests_waiting', 'gauge', 'Imports and batch sends admitted and waiting their turn, their bodies not yet read.', this.#heavyWaiting),
      ...series('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', process.memoryUsage.rss()))
    const streams = this.#streams()
    out.push(...series('timgate_event_streams', 'gauge', 'Event streams (GET /events) open now, in this gateway and its event stream process.', streams.open))
    if (streams.process !== undefined) {
      out.push(...series('timgate_event_stream_process_up', 'gauge', 'Whether the event stream process (TIM_EVENTS_PROCESS) serves the streams now (0: starting, or started again after it died).', streams.process.up ? 1 : 0),
        ...series('timgate_event_stream_process_restarts_total', 'counter', 'Times the event stream process died and was started again.', streams.process.restarts))
    }
    return out.join('\n') + '\n'
  }
}

/** Counts every answered request by its route pattern (never the raw URL: bounded cardinality). */
export default fp(async (app) => {
  const metrics = new Metrics()
  app.decorate('metrics', metrics)
  app.addHook('onResponse', (request, reply, done) => {
    metrics.request(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000)
    done()
  })
}, { name: 'timgate-metrics' })
