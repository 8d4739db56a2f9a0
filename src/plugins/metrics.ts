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

/** The few Prometheus series the gateway exports, kept in memory. */
export class Metrics {
  readonly #labels = new Map<string, Series>()
  readonly #requests = new Map<string, number>()
  readonly #latency = new Map<string, Histogram>()
  #messagesStored = 0

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
    out.push('# HELP timgate_messages_stored_total Messages written to the store since start.',
      '# TYPE timgate_messages_stored_total counter',
      `timgate_messages_stored_total ${this.#messagesStored}`,
      '# HELP process_resident_memory_bytes Resident memory size in bytes.',
      '# TYPE process_resident_memory_bytes gauge',
      `process_resident_memory_bytes ${process.memoryUsage.rss()}`)
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
