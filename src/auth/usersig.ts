import { createHmac, timingSafeEqual } from 'node:crypto'
import { deflateSync, inflateSync } from 'node:zlib'
import { Errors } from '../errors.js'
import { isUserId } from '../messages/ids.js'

/**
 * TLSSigAPIv2 UserSigs, as Tencent's generators make them: zlib-deflated JSON,
 * base64 with `+`→`*`, `/`→`-`, `=`→`_`, signed with HMAC-SHA256 over
 * identifier, sdkappid, time and expire (and userbuf when present).
 */

interface SigDoc {
  'TLS.ver': string
  'TLS.identifier': string
  'TLS.sdkappid': number
  'TLS.time': number
  'TLS.expire': number
  'TLS.sig': string
  'TLS.userbuf'?: string
}

export interface VerifiedSig {
  identifier: string
  /** Unix seconds after which the UserSig is refused. */
  expiresAt: number
}

function signature (key: string, doc: Omit<SigDoc, 'TLS.sig' | 'TLS.ver'>): string {
  let content = `TLS.identifier:${doc['TLS.identifier']}\nTLS.sdkappid:${doc['TLS.sdkappid']}\n` +
    `TLS.time:${doc['TLS.time']}\nTLS.expire:${doc['TLS.expire']}\n`
  if (doc['TLS.userbuf'] !== undefined) content += `TLS.userbuf:${doc['TLS.userbuf']}\n`
  return createHmac('sha256', key).update(content).digest('base64')
}

const toTencentBase64 = (b64: string) => b64.replace(/\+/g, '*').replace(/\//g, '-').replace(/=/g, '_')
const fromTencentBase64 = (s: string) => s.replace(/_/g, '=').replace(/-/g, '/').replace(/\*/g, '+')

export function signUserSig (sdkAppId: number, key: string, identifier: string, expireSeconds: number, now = Math.floor(Date.now() / 1000)): string {
  const doc: Omit<SigDoc, 'TLS.sig'> = {
    'TLS.ver': '2.0',
    'TLS.identifier': identifier,
    'TLS.sdkappid': sdkAppId,
    'TLS.time': now,
    'TLS.expire': expireSeconds,
  }
  const full: SigDoc = { ...doc, 'TLS.sig': signature(key, doc) }
  return toTencentBase64(deflateSync(Buffer.from(JSON.stringify(full))).toString('base64'))
}

function decode (userSig: string): SigDoc {
  // Padding ('_' for '=') only at the end: base64 decoding would ignore whatever follows it.
  if (!/^[A-Za-z0-9*-]+_{0,2}$/.test(userSig) || userSig.length > 4096) throw Errors.sigMalformed()
  let doc: unknown
  try {
    const raw = Buffer.from(fromTencentBase64(userSig), 'base64')
    const { buffer, engine } = inflateSync(raw, { maxOutputLength: 16384, info: true }) as unknown as { buffer: Buffer, engine: { bytesWritten: number } }
    // Bytes after the deflate stream would make many strings of one UserSig.
    if (engine.bytesWritten !== raw.length) throw Errors.sigMalformed()
    doc = JSON.parse(buffer.toString('utf8'))
  } catch {
    throw Errors.sigMalformed()
  }
  const d = doc as Partial<SigDoc> | null
  if (d === null || typeof d !== 'object' ||
      typeof d['TLS.identifier'] !== 'string' || typeof d['TLS.sig'] !== 'string' ||
      !Number.isSafeInteger(d['TLS.sdkappid']) || !Number.isSafeInteger(d['TLS.time']) ||
      !Number.isSafeInteger(d['TLS.expire']) ||
      (d['TLS.userbuf'] !== undefined && typeof d['TLS.userbuf'] !== 'string')) {
    throw Errors.sigMalformed()
  }
  return d as SigDoc
}

/** Verifies a UserSig or throws the 401 TimError that says why. */
export function verifyUserSig (sdkAppId: number, key: string, userSig: string, now = Math.floor(Date.now() / 1000)): VerifiedSig {
  const doc = decode(userSig)
  const expected = Buffer.from(signature(key, doc))
  const given = Buffer.from(doc['TLS.sig'])
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    // A correct signature for another app id is still "wrong app", which is the more useful answer.
    throw doc['TLS.sdkappid'] !== sdkAppId ? Errors.sigWrongApp() : Errors.sigBadSignature()
  }
  if (doc['TLS.sdkappid'] !== sdkAppId) throw Errors.sigWrongApp()
  if (!isUserId(doc['TLS.identifier'])) throw Errors.sigBadIdentifier()
  const expiresAt = doc['TLS.time'] + doc['TLS.expire']
  if (expiresAt < now) throw Errors.sigExpired()
  return { identifier: doc['TLS.identifier'], expiresAt }
}
