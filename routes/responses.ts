import type { FastifyReply } from 'fastify'
import type { Static, TSchema } from 'typebox'
import { catalogue, Errors } from '../src/errors.js'
import { jsonArrayInSlices } from '../src/slices.js'
import { ErrorBody } from '../src/messages/schemas.js'

/** What each error status means in general; its codes come from the catalogue. */
const MEANING: Record<number, string> = {
  400: 'invalid request',
  401: 'missing, malformed, wrongly signed, wrong-app or expired UserSig',
  403: 'not allowed for the caller; revoke window passed; a remote download target refused; rejected by the before-send webhook (its code)',
  404: 'unknown message, anchor, content, group or webhook',
  408: 'the request did not arrive within TIM_BODY_TIMEOUT_MS; the connection is closed',
  409: 'Idempotency-Key reused with another request or still in progress; group ID taken; a second before-send webhook',
  413: 'request body or upload too large',
  415: 'Content-Type is not application/json, or a multipart upload',
  416: 'the Range starts beyond the end of the content; Content-Range: bytes */size',
  502: 'the remote server of an element URL failed or could not be reached; the before-send webhook\'s modified message is invalid',
  504: 'the remote server of an element URL timed out',
}

/** "invalid request (6004, 6016, …)": the meaning of `status` and every catalogue code answered with it. */
const why = (status: number): string => status === 429
  // The request rate limit alone: the download routes have limits of their own (downloadLimited).
  ? `over TIM_RATE_LIMIT for this identity (${Errors.rateLimited(0).code}); see Retry-After`
  : `${MEANING[status] ?? 'error'} (${[...new Set(catalogue.filter(e => e.status === status).map(e => e.code))].sort((a, b) => a - b).join(', ')})`

/**
 * The error responses of a route: `{code, desc}` under each status it can answer. A
 * route that takes a UserSig (401) is rate limited too (429); one that reads a JSON body
 * (415) may time out receiving it (408).
 */
export function errors (...statuses: number[]) {
  const all = [...statuses, ...(statuses.includes(401) ? [429] : []), ...(statuses.includes(415) ? [408] : [])]
  return Object.fromEntries(all.map(s => [s, { ...ErrorBody, description: why(s) }]))
}

/** The 429 of the download routes (`config.download`): two limits of their own besides the request rate. */
export const downloadLimited = {
  ...ErrorBody,
  description: 'over TIM_RATE_LIMIT or TIM_DOWNLOAD_RATE_LIMIT for this identity (9506), or TIM_DOWNLOAD_CONCURRENCY downloads of this identity already in progress (9507); see Retry-After',
}

/**
 * Answers a large array (an import's 1000 Messages, a batch's 500 results) serialized in
 * slices, not in one piece: each item is a view the service built key by key, so plain
 * JSON (or `serialize`, that answers the same) says exactly what the route's response schema does.
 */
export async function sendJsonArray<T> (reply: FastifyReply, items: readonly T[], serialize?: (item: T) => string): Promise<FastifyReply> {
  const body = await jsonArrayInSlices(items, serialize)
  return reply.type('application/json; charset=utf-8').header('content-length', body.length).send(body)
}

/**
 * `schema` with one example: the value of "Try it out" on /docs and of the document's
 * examples. Typed by the schema, so an example that stops fitting it fails to compile.
 */
export const example = <T extends TSchema>(schema: T, value: Static<T>): T => ({ ...schema, examples: [value] })

/** The examples' conversation and message: a message of user1 to user2 (`npm run usersig -- user1`). */
export const EXAMPLE_CONVERSATION = 'c2c_user2'
export const EXAMPLE_MSG_ID = '1-1767225600-12345'
export const exampleText = (text: string) => ({ message_elem_array: [{ elem_type: 0, text_elem_content: text }] })
