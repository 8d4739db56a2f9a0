/**
 * The error catalogue: every failure the gateway reports, with its TIM code and HTTP
 * status. Code throws these; one error handler (src/app.ts) renders `{code, desc}`.
 */
export class TimError extends Error {
  override name = 'TimError'
  constructor (readonly code: number, readonly statusCode: number, desc: string, options?: ErrorOptions) {
    super(desc, options)
  }
}

/** One row of the README's and the OpenAPI document's error table. */
export interface CatalogueEntry { code: number, status: number, when: string }

export const catalogue: CatalogueEntry[] = []

function entry<A extends unknown[]> (code: number, status: number, when: string, desc: (...args: A) => string) {
  catalogue.push({ code, status, when })
  return (...args: A) => new TimError(code, status, desc(...args))
}

const detail = (s: string) => s

export const Errors = {
  invalidJson: entry(6027, 400, 'the body is not valid JSON', (why: string) => `malformed JSON: ${why}`),
  invalidParameter: entry(6017, 400, 'a key is missing, of the wrong type or out of range (desc names it); invalid UTF-8', detail),
  invalidConversation: entry(6004, 400, 'the conversation ID is not c2c_<userID> or group_<groupID>', (id: string) => `invalid conversation ID "${id}": expected c2c_<userID> or group_<groupID>`),
  invalidIdentifier: entry(7003, 400, 'a UserID is not 1-32 bytes of printable ASCII', (what: string) => `invalid UserID ${what}: 1-32 bytes of printable ASCII`),
  invalidElem: entry(6016, 400, 'an element type that clients may not send (group tips 5, group report 8, friend change 10, profile change 11, unknown), or a second sound or file element', detail),
  messageTooLarge: entry(80002, 400, 'the element array plus message_cloud_custom_str is over 12 KB', (size: number) => `message body is ${size} bytes: the element array plus message_cloud_custom_str must be at most 12288 bytes`),
  bodyTooLarge: entry(80002, 413, 'the request body is over its limit (1 MiB; 16 MiB for import and batch send)', (limit: number) => `request body is over the limit of ${limit} bytes`),
  unsupportedMediaType: entry(6017, 415, 'a JSON endpoint was sent another Content-Type', (type: string) => `Content-Type must be application/json, got "${type}"`),
  sigMissing: entry(70002, 401, 'no UserSig: the Authorization header is missing or not "Bearer <UserSig>"', () => 'missing UserSig: send "Authorization: Bearer <UserSig>"'),
  sigMalformed: entry(70003, 401, 'the UserSig cannot be decoded', () => 'UserSig is malformed (not a TLSSigAPIv2 UserSig)'),
  sigExpired: entry(70001, 401, 'the UserSig has expired', () => 'UserSig has expired'),
  sigBadSignature: entry(70009, 401, 'the UserSig signature does not verify with the secret key', () => 'UserSig signature verification failed'),
  sigBadIdentifier: entry(70013, 401, 'the UserSig names an invalid identifier', () => 'UserSig identifier is not a valid UserID'),
  sigWrongApp: entry(70014, 401, 'the UserSig was made for another SDKAppID', () => 'UserSig was issued for another SDKAppID'),
  permissionDenied: entry(10007, 403, 'the caller may not do this (X-TIM-On-Behalf-Of from a non-admin, message_sender other than the caller, a group the caller is not in)', detail),
  groupNotFound: entry(10010, 404, 'the group does not exist', (groupId: string) => `group "${groupId}" does not exist`),
  groupIdInUse: entry(10021, 409, 'POST /groups with a group_id that is taken', (groupId: string) => `group ID "${groupId}" is already in use`),
  invalidGroupId: entry(10015, 400, 'a group ID is not 1-48 bytes of printable ASCII', (groupId: string) => `invalid group ID "${groupId}": 1-48 bytes of printable ASCII`),
  revokeTimeLimitC2C: entry(20016, 403, 'C2C: the sender\'s revoke window (TIM_REVOKE_WINDOW_S) has passed', (window: number) => `the revoke window of ${window} s has passed`),
  revokeTimeLimitGroup: entry(10031, 403, 'group: the sender\'s revoke window (TIM_REVOKE_WINDOW_S) has passed', (window: number) => `the revoke window of ${window} s has passed`),
  batchCount: entry(90011, 400, 'batch send to no recipient or to more than 500', (n: number) => `msg_batch_send_param_identifier_array must name 1-500 recipients, got ${n}`),
  idempotencyMismatch: entry(6017, 409, 'an Idempotency-Key reused with a different request', () => 'this Idempotency-Key was used with a different request'),
  idempotencyPending: entry(6015, 409, 'the first request with this Idempotency-Key has not finished', () => 'the first request with this Idempotency-Key is still in progress'),
  messageNotFound: entry(6021, 404, 'no message with that id or locator that the caller can see in this conversation', detail),
  routeNotFound: entry(6017, 404, 'no such endpoint', (method: string, url: string) => `no endpoint ${method} ${url}`),
  rateLimited: entry(9506, 429, 'more requests than TIM_RATE_LIMIT per second (bursts of twice that) from one identity; see Retry-After', (perSecond: number) => `rate limit exceeded: ${perSecond} requests per second per identity`),
  heavyBusy: entry(9506, 429, 'an import or batch send while the same identity has one in progress, or TIM_HEAVY_CONCURRENCY are in progress in all; refused before the body is read; see Retry-After',
    (ownInProgress: boolean) => ownInProgress
      ? 'one import or batch send at a time per identity: retry when the one in progress has finished'
      : 'the gateway is busy with other imports and batch sends: retry shortly'),
  tooManyStreams: entry(9507, 429, 'GET /events while the identity (or the user the admin acts for) has 10 streams open; see Retry-After',
    (max: number) => `too many event streams: at most ${max} at a time per identity; close one first`),
  downloadRateLimited: entry(9506, 429, 'more downloads than TIM_DOWNLOAD_RATE_LIMIT per second (bursts of twice that) from one identity; see Retry-After', (perSecond: number) => `download rate limit exceeded: ${perSecond} downloads per second per identity`),
  downloadsInProgress: entry(9507, 429, 'one identity already has TIM_DOWNLOAD_CONCURRENCY downloads in progress; see Retry-After', (max: number) => `too many downloads in progress: at most ${max} at a time per identity; retry when one has finished`),
  requestTimeout: entry(6012, 408, 'the request did not arrive in time: headers or a JSON body not within TIM_BODY_TIMEOUT_MS each, an upload not within 5 minutes; the connection is closed', (what: string) => `request timeout: ${what}`),
  malformedHttp: entry(6017, 400, 'the request is not valid HTTP/1.1; the connection is closed', (why: string) => `malformed HTTP request: ${why}`),
  headersTooLarge: entry(6017, 431, 'the request headers are over 16 KiB; the connection is closed', () => 'the request headers are too large: at most 16 KiB'),
  contentNotFound: entry(6021, 404, 'no upload, message element or element content by that id, index or URL that the caller may download', detail),
  mediaEmpty: entry(7006, 400, 'POST /media without a body', () => 'the upload is empty: send the file\'s bytes as the request body'),
  mediaTooLarge: entry(7005, 413, 'an upload over its limit: image/* and audio/* 28 MB, anything else TIM_MEDIA_MAX_BYTES', (limit: number, type: string) => `an upload of type "${type}" may be at most ${limit} bytes`),
  mediaType: entry(6017, 415, 'POST /media with a multipart/* or malformed Content-Type: send the file\'s bytes as the body, typed by Content-Type', detail),
  rangeNotSatisfiable: entry(6017, 416, 'a Range that starts beyond the end of the content (any start beyond 2^53 does)', (size: string) => `the requested range is not within the ${size} bytes of the content`),
  downloadRefused: entry(6010, 403, 'a remote URL the gateway will not fetch (redirects included): not http(s), host not in TIM_DOWNLOAD_ALLOWED_HOSTS, or a loopback, private, link-local, unspecified or cloud metadata address', (why: string) => `download refused: ${why}`),
  upstreamFailed: entry(6009, 502, 'the remote server answered 4xx/5xx, redirected more than 5 times, or announced a body over TIM_MEDIA_MAX_BYTES (after the answer has started, a failure aborts the connection instead)', (why: string) => `download failed: ${why}`),
  upstreamUnreachable: entry(6010, 502, 'the remote server could not be reached (DNS failure, connection refused or reset)', (why: string) => `download failed: ${why}`),
  upstreamTimeout: entry(6012, 504, 'the remote server did not connect or answer within TIM_DOWNLOAD_TIMEOUT_MS (a body that stalls or averages under 1 KiB/s over that window aborts the connection instead)', (why: string) => `download timed out: ${why}`),
  webhookUrlRefused: entry(6017, 400, 'POST /webhooks with a URL the gateway will not call: not http(s), host not in TIM_WEBHOOK_ALLOWED_HOSTS, or a loopback, private, link-local, unspecified or cloud metadata address',
    (why: string) => `webhook URL refused: ${why}`),
  webhookNotFound: entry(6021, 404, 'no webhook with that id', (id: string) => `no webhook "${id}"`),
  beforeSendTaken: entry(6017, 409, 'POST /webhooks for a second before-send webhook: delete the one registered first', (id: string) => `a before-send webhook is registered already ("${id}"): there may be one`),
  beforeSendRejected: entry(120001, 403, 'the before-send webhook rejected the message (its answer may carry another code and desc); nothing was stored',
    (desc: string) => desc),
  beforeSendInvalid: entry(6009, 502, 'the before-send webhook answered "modify" with elements that are not a valid message; nothing was stored',
    (why: string) => `the before-send webhook's modified message is invalid: ${why}`),
  storageFull: entry(6022, 507, 'the gateway\'s storage is full (its disk, or the database\'s); writes are refused until space comes back; see Retry-After and GET /health',
    (what: string) => `storage is full: ${what} cannot be written until space is freed; retry later`),
  databaseUnavailable: entry(6019, 503, 'the database does not answer (PostgreSQL unreachable or restarting); see Retry-After and GET /health',
    () => 'the database is unavailable: retry shortly'),
  mediaStorageUnavailable: entry(6019, 503, 'uploads are kept in object storage (TIM_S3_BUCKET) and it does not answer or refuses the gateway (unreachable, wrong credentials, no such bucket); see Retry-After',
    () => 'the media storage is unavailable: retry shortly'),
  internal: entry(6019, 500, 'an unexpected server fault (the log has the details under the request id)', () => 'internal error'),
  unavailable: entry(6019, 503, 'the server is shutting down', () => 'the server is shutting down'),
}
