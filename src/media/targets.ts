import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { isIP, type LookupFunction } from 'node:net'
import { Errors } from '../errors.js'
import { forbiddenReason } from './address.js'

/**
 * Where remote element URLs may be fetched from (CONTRACT §6 Download): the
 * TIM_DOWNLOAD_ALLOWED_HOSTS entries, and the address rules of ./address.ts.
 *
 * A bare `host` entry matches the default port of the URL's scheme only (80 for http,
 * 443 for https); any other port must be named (`host:8443`). That is the safer reading:
 * allowing a CDN's name should not open every service its machines listen on.
 */

interface Entry { host: string, port: number | undefined }

const defaultPort = (url: URL) => url.protocol === 'https:' ? 443 : 80
const portOf = (url: URL) => url.port === '' ? defaultPort(url) : Number(url.port)
/** A URL's hostname without the brackets of an IPv6 literal. */
const bare = (hostname: string) => hostname.replace(/^\[(.*)\]$/, '$1')

/** A host the way the WHATWG URL parser writes it (lower case, punycode, IPv4 dotted), so entries and URLs compare alike. */
function canonicalHost (host: string): string {
  return bare(new URL(`http://${host}/`).hostname)
}

function parseEntry (entry: string): Entry {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry)
  return { host: canonicalHost(m?.[1] ?? entry), port: m?.[2] === undefined ? undefined : Number(m[2]) }
}

/** Thrown at connect time by the guarded lookup; a download answers 403 with its message, a webhook delivery fails. */
export class ForbiddenAddressError extends Error {
  override name = 'ForbiddenAddressError'
  readonly code = 'ERR_TIMGATE_FORBIDDEN_ADDRESS'
}

/** How a guard names its allow-list and what it throws: the download proxy's by default. */
export interface GuardOptions {
  /** The variable of the allow-list, named in refusals. */
  variable: string
  refuse: (why: string) => Error
}

const DOWNLOADS: GuardOptions = { variable: 'TIM_DOWNLOAD_ALLOWED_HOSTS', refuse: Errors.downloadRefused }

/** Absolute URLs remembered as passed (a guard's answer for one never changes). */
const PASSED_KEPT = 256

export class TargetGuard {
  readonly #entries: Entry[]
  readonly #options: GuardOptions
  readonly #passed = new Map<string, URL>()

  constructor (allowedHosts: readonly string[], options: GuardOptions = DOWNLOADS) {
    this.#entries = allowedHosts.map(parseEntry)
    this.#options = options
  }

  /** An entry names the URL's host, and its port (or the scheme's default port for a bare host). */
  #named (url: URL): boolean {
    const host = bare(url.hostname)
    const port = portOf(url)
    return this.#entries.some(e => e.host === host && (e.port === undefined ? port === defaultPort(url) : e.port === port))
  }

  /**
   * The URL to fetch for `raw` (absolute, or relative to `base` for a redirect's
   * Location), or a 403 naming why not. A literal IP host that is loopback, private,
   * link-local, unspecified or metadata passes only when an entry is that IP (the
   * explicit opt-in); host names are checked again, resolved, by guardedLookup.
   */
  check (raw: string, base?: URL): URL {
    if (base !== undefined) return this.#judge(raw, base)
    // Webhooks check their few URLs again at every attempt: a URL passed once passes again.
    let url = this.#passed.get(raw)
    if (url === undefined) {
      url = this.#judge(raw)
      if (this.#passed.size >= PASSED_KEPT) this.#passed.clear()
      this.#passed.set(raw, url)
    }
    return url
  }

  #judge (raw: string, base?: URL): URL {
    const refuse = this.#options.refuse
    let url: URL
    try {
      url = new URL(raw, base)
    } catch {
      throw refuse(`"${raw.slice(0, 200)}" is not an absolute URL`)
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw refuse(`the URL scheme "${url.protocol}" is not allowed: only http and https are fetched`)
    }
    const host = bare(url.hostname)
    const named = this.#named(url)
    const where = `${url.hostname}${url.port === '' ? '' : `:${url.port}`}`
    if (isIP(host) !== 0) {
      const why = forbiddenReason(host)
      if (why !== undefined && !named) throw refuse(`${where} is a ${why} address; only an allow-list entry naming that IP opens it`)
    }
    if (!named) throw refuse(`${where} is not in ${this.#options.variable}`)
    return url
  }
}

/**
 * dns.lookup for the upstream dispatcher's sockets: every address a name resolves to
 * must be public, or the connection is refused before it is made. Checking at connect
 * time (not before the request) is what stops DNS rebinding. Literal IPs never reach
 * it (net.connect skips lookup for them); TargetGuard.check has judged those.
 */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err !== null) return callback(err, '', 0)
    const bad = addresses.find(a => forbiddenReason(a.address) !== undefined)
    if (bad !== undefined) {
      return callback(new ForbiddenAddressError(`"${hostname}" resolves to ${bad.address}, a ${forbiddenReason(bad.address)!} address`), '', 0)
    }
    if (options.all === true) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses)
    const [first] = addresses
    if (first === undefined) return callback(Object.assign(new Error(`no address for "${hostname}"`), { code: 'ENOTFOUND' }), '', 0)
    callback(null, first.address, first.family)
  })
}
