import { createHmac, randomBytes } from 'node:crypto'

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the secret is
 * `whsec_<base64 key>`, the signature `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`.
 */
const PREFIX = 'whsec_'
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
/** Key lengths accepted in a given secret (the spec recommends 24 to 64 bytes). */
const MIN_KEY = 16
const MAX_KEY = 64

/** A new secret: 32 random bytes. */
export const newSecret = (): string => `${PREFIX}${randomBytes(32).toString('base64')}`

/** The key of a `whsec_` secret, or why it is not one. */
export function secretKey (secret: string): Buffer | string {
  if (!secret.startsWith(PREFIX)) return `secret must be ${PREFIX}<base64 key>`
  const b64 = secret.slice(PREFIX.length)
  if (!BASE64.test(b64)) return 'secret must be whsec_ followed by standard base64'
  const key = Buffer.from(b64, 'base64')
  if (key.length < MIN_KEY || key.length > MAX_KEY) return `secret key must be ${MIN_KEY}-${MAX_KEY} bytes, got ${key.length}`
  return key
}

/** The three headers of a signed request. */
export function signedHeaders (key: Buffer, id: string, timestamp: number, body: string): Record<string, string> {
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64')
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': `v1,${signature}`,
  }
}
