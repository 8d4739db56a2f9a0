import { ErrorBody } from '../src/messages/schemas.js'

const WHY: Record<number, string> = {
  400: 'invalid request (6004, 6016, 6017, 6027, 7003, 80002)',
  401: 'missing, malformed, wrongly signed, wrong-app or expired UserSig (7000x)',
  403: 'not allowed for the caller (10007)',
  404: 'unknown message, anchor or group (6021, 10010)',
  409: 'Idempotency-Key reused with another request (6017) or still in progress (6015); group ID taken (10021)',
  413: 'request body too large (80002)',
  415: 'Content-Type is not application/json (6017)',
  416: 'the Range starts beyond the end of the content (6017); Content-Range: bytes */size',
  502: 'the remote server of an element URL answered 4xx/5xx (6009) or could not be reached (6010)',
  504: 'the remote server of an element URL timed out (6012)',
}

/** The error responses of a route: `{code, desc}` under each status it can answer. */
export function errors (...statuses: Array<keyof typeof WHY>) {
  return Object.fromEntries(statuses.map(s => [s, { ...ErrorBody, description: WHY[s] }]))
}
