import { ErrorBody } from '../src/messages/schemas.js'

const WHY: Record<number, string> = {
  400: 'invalid request (6004, 6016, 6017, 6027, 7003, 7006, 10015, 80002, 90011)',
  401: 'missing, malformed, wrongly signed, wrong-app or expired UserSig (70001, 70002, 70003, 70009, 70013, 70014)',
  403: 'not allowed for the caller (10007); revoke window passed (20016 C2C, 10031 group); a remote download target refused (6010)',
  404: 'unknown message, anchor or group (6021, 10010)',
  408: 'the JSON body did not arrive within TIM_BODY_TIMEOUT_MS of the headers (6012); the connection is closed',
  409: 'Idempotency-Key reused with another request (6017) or still in progress (6015); group ID taken (10021)',
  413: 'request body too large (80002); upload too large (7005)',
  429: 'over TIM_RATE_LIMIT for this identity (9506); see Retry-After',
  415: 'Content-Type is not application/json, or a multipart upload (6017)',
  416: 'the Range starts beyond the end of the content (6017); Content-Range: bytes */size',
  502: 'the remote server of an element URL answered 4xx/5xx (6009) or could not be reached (6010)',
  504: 'the remote server of an element URL timed out (6012)',
}

/**
 * The error responses of a route: `{code, desc}` under each status it can answer. A
 * route that takes a UserSig (401) is rate limited too (429); one that reads a JSON body
 * (415) may time out receiving it (408).
 */
export function errors (...statuses: Array<keyof typeof WHY>) {
  const all = [...statuses, ...(statuses.includes(401) ? [429] : []), ...(statuses.includes(415) ? [408] : [])]
  return Object.fromEntries(all.map(s => [s, { ...ErrorBody, description: WHY[s] }]))
}

/** The 429 of the download routes (`config.download`): two limits of their own besides the request rate. */
export const downloadLimited = {
  ...ErrorBody,
  description: 'over TIM_RATE_LIMIT or TIM_DOWNLOAD_RATE_LIMIT for this identity (9506), or TIM_DOWNLOAD_CONCURRENCY downloads of this identity already in progress (9507); see Retry-After',
}
