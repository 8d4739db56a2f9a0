import { isIPv4, isIPv6 } from 'node:net'

/**
 * Which IP addresses a remote fetch must never connect to (CONTRACT §6 Download), and
 * why. Addresses are compared as bytes, so every spelling of one address (IPv4-mapped,
 * compressed or not) lands on the same rule.
 */

interface Rule { bytes: number[], bits: number, why: string }

const v4 = (cidr: string, why: string): Rule => {
  const [addr = '', bits = '32'] = cidr.split('/')
  return { bytes: addr.split('.').map(Number), bits: Number(bits), why }
}
const v6 = (cidr: string, why: string): Rule => {
  const [addr = '', bits = '128'] = cidr.split('/')
  return { bytes: ipv6Bytes(addr)!, bits: Number(bits), why }
}

/** Most specific first: the first match names the reason. */
const V4_RULES: Rule[] = [
  v4('169.254.169.254/32', 'cloud metadata'),
  v4('100.100.100.200/32', 'cloud metadata'),
  v4('0.0.0.0/8', 'unspecified'),
  v4('127.0.0.0/8', 'loopback'),
  v4('10.0.0.0/8', 'private'),
  v4('172.16.0.0/12', 'private'),
  v4('192.168.0.0/16', 'private'),
  v4('169.254.0.0/16', 'link-local'),
  v4('100.64.0.0/10', 'carrier-grade NAT'),
  v4('192.0.0.0/24', 'reserved'),
  v4('198.18.0.0/15', 'reserved'),
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved'),
]

const V6_RULES: Rule[] = [
  v6('fd00:ec2::254/128', 'cloud metadata'),
  v6('::/128', 'unspecified'),
  v6('::1/128', 'loopback'),
  v6('64:ff9b:1::/48', 'private'),
  v6('fc00::/7', 'private'),
  v6('fec0::/10', 'private'),
  v6('fe80::/10', 'link-local'),
  v6('ff00::/8', 'multicast'),
  v6('100::/64', 'reserved'),
]

/** IPv6 ranges that carry an IPv4 address: the IPv4 rules apply to it. */
const EMBEDDING: Array<{ rule: Rule, at: number, form: string }> = [
  { rule: v6('::ffff:0:0/96', ''), at: 12, form: 'IPv4-mapped' },
  { rule: v6('::/96', ''), at: 12, form: 'IPv4-compatible' },
  { rule: v6('64:ff9b::/96', ''), at: 12, form: 'NAT64' },
  { rule: v6('2002::/16', ''), at: 2, form: '6to4' },
]

function matches (bytes: number[], rule: Rule): boolean {
  let bits = rule.bits
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff
    if (((bytes[i] ?? 0) & mask) !== ((rule.bytes[i] ?? 0) & mask)) return false
  }
  return true
}

/** The 16 bytes of an IPv6 address (a zone id is ignored), or undefined when it is not one. */
export function ipv6Bytes (address: string): number[] | undefined {
  const addr = address.replace(/%.*$/, '')
  if (!isIPv6(addr)) return undefined
  let text = addr
  const tail: number[] = []
  const dotted = /:(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (dotted !== null) {
    tail.push(...dotted[1]!.split('.').map(Number))
    text = text.slice(0, dotted.index + 1) + '0:0'
  }
  const [head = '', rest] = text.split('::')
  const groups = (s: string) => s === '' ? [] : s.split(':').map(g => parseInt(g, 16))
  const left = groups(head)
  const right = rest === undefined ? [] : groups(rest)
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right]
  const bytes = all.flatMap(g => [g >> 8, g & 0xff])
  if (tail.length === 4) bytes.splice(12, 4, ...tail)
  return bytes
}

/**
 * Why `address` (an IP literal as a resolver returns it) must not be connected to, e.g.
 * "loopback" or "IPv4-mapped private"; undefined when it is an ordinary public address.
 */
export function forbiddenReason (address: string): string | undefined {
  if (isIPv4(address)) {
    const bytes = address.split('.').map(Number)
    return V4_RULES.find(r => matches(bytes, r))?.why
  }
  const bytes = ipv6Bytes(address)
  if (bytes === undefined) return 'not an IP address'
  for (const { rule, at, form } of EMBEDDING) {
    if (!matches(bytes, rule)) continue
    // ::/96 also holds :: and ::1, which have their own names below.
    if (form === 'IPv4-compatible' && bytes.slice(12, 15).every(b => b === 0) && bytes[15]! <= 1) break
    const why = forbiddenReason(bytes.slice(at, at + 4).join('.'))
    return why === undefined ? undefined : `${form} ${why}`
  }
  return V6_RULES.find(r => matches(bytes, r))?.why
}
