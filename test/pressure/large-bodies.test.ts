import t from 'tap'
import { build, text } from '../helper.js'

/**
 * Bodies over 256 KiB that are JSON arrays are parsed element by element and validated item
 * by item, in slices (src/plugins/json-body.ts): they must mean exactly what they mean
 * parsed whole, and fail with exactly the same errors.
 */
const IMPORT = '/conversations/c2c_bob/messages/import'
/** A message of about 12 KB of tricky but valid JSON: escapes, brackets and commas inside strings, non-ASCII. */
const tricky = (i: number) => ({
  message_elem_array: [
    { elem_type: 0, text_elem_content: `#${i} "quoted" \\ back\\\\slash ] } [ { , ünïcödé 你好 😀 ${'x'.repeat(11_000)}` },
    { elem_type: 3, custom_elem_data: '{"nested":[1,2,{"a":"]"}]}' },
  ],
  message_rand: i,
})
const big = <T = ReturnType<typeof tricky>>(n: number, f: (i: number) => T = tricky as (i: number) => T) => Array.from({ length: n }, (_, i) => f(i))
const raw = (g: Awaited<ReturnType<typeof build>>, body: string) => g.app.inject({
  method: 'POST', url: IMPORT, headers: { ...g.as('alice'), 'content-type': 'application/json' }, payload: body,
})

t.test('when a large import body is valid, then every message is stored as sent, whatever its whitespace', async t => {
  const g = await build(t)
  const messages = big(60)
  const body = ` \n[\n ${messages.map(m => JSON.stringify(m, null, 1)).join(' ,\r\n\t')} \n] \n`
  t.ok(body.length > 256 * 1024, 'over the slicing threshold')
  const res = await raw(g, body)
  t.equal(res.statusCode, 200, res.body)
  const stored = res.json() as Array<{ message_elem_array: unknown[], message_rand: number }>
  t.equal(stored.length, 60)
  t.same(stored.map(m => m.message_elem_array), messages.map(m => m.message_elem_array), 'element by element, byte for byte')
  t.same(stored.map(m => m.message_rand), messages.map(m => m.message_rand))
})

t.test('when a large body is malformed, then the error is the one the whole body gets', async t => {
  const g = await build(t)
  const good = JSON.stringify(big(30))
  const cases = [
    good.slice(0, -1),
    `${good.slice(0, -1)},]`,
    `${good}x`,
    `[,${good.slice(1)}`,
    `${good.slice(0, 100)}"unterminated`,
    good.replace('"message_rand":5}', '"message_rand":5]'),
    `{"not":"an array","pad":"${'y'.repeat(300_000)}"`,
  ]
  for (const body of cases) {
    let expected: string
    try {
      JSON.parse(body)
      expected = 'parses'
    } catch (err) {
      expected = `malformed JSON: ${(err as Error).message}`
    }
    const res = await raw(g, body)
    t.equal(res.statusCode, 400, body.slice(-20))
    t.same(res.json(), { code: 6027, desc: expected })
  }
  t.same((await g.call('alice', 'GET', '/conversations/c2c_bob/messages')).json(), [], 'nothing was stored')
})

t.test('when an element of a large body carries __proto__ or constructor keys, then they are removed as in small bodies', async t => {
  const g = await build(t)
  const messages = big(30).map(m => JSON.stringify(m))
  messages[7] = messages[7]!.replace('{', '{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}},')
  const res = await raw(g, `[${messages.join(',')}]`)
  t.equal(res.statusCode, 200, res.body)
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})

t.test('when an item of a large array is invalid, then 400 names it by index, as a small array does', async t => {
  const g = await build(t)
  const messages = big(100)
  ;(messages[70]!.message_elem_array[0] as Record<string, unknown>).text_elem_content = 5
  const res = await g.call('alice', 'POST', IMPORT, messages)
  t.equal(res.statusCode, 400)
  t.same(res.json(), { code: 6017, desc: '[70].message_elem_array[0].text_elem_content must be string' })
  const small = await g.call('alice', 'POST', IMPORT, [text('a'), { message_elem_array: [{ elem_type: 0, text_elem_content: 5 }] }])
  t.same(small.json(), { code: 6017, desc: '[1].message_elem_array[0].text_elem_content must be string' })
  const tooMany = await g.call('alice', 'POST', IMPORT, big(1001, i => text(`m${i}`, { message_rand: i })))
  t.same(tooMany.json(), { code: 6017, desc: 'body must NOT have more than 1000 items' })
  t.same((await g.call('alice', 'GET', '/conversations/c2c_bob/messages')).json(), [], 'nothing was stored')
})

t.test('when unknown keys come in a large array, then they are dropped, as in small ones', async t => {
  const g = await build(t)
  const res = await g.call('alice', 'POST', IMPORT, big(70, i => ({ ...tricky(i), not_a_key: 1, message_elem_array: [{ elem_type: 0, text_elem_content: 'x', junk: true }] })))
  t.equal(res.statusCode, 200)
  const [first] = res.json() as Array<Record<string, unknown>>
  t.equal(first!.not_a_key, undefined)
  t.same(first!.message_elem_array, [{ elem_type: 0, text_elem_content: 'x' }])
})

t.test('when a large array is answered, then its pieces join to exactly JSON.stringify of it, each piece bounded', async t => {
  const { jsonArrayInSlices, PIECE_BYTES } = await import('../../src/slices.js')
  const big = { text: '你好'.repeat(5000), n: 1 }
  const huge = 'x'.repeat(PIECE_BYTES * 2)
  for (const items of [[], [1], ['a', { b: [null, true] }], [1, huge, 2], Array.from({ length: 1000 }, (_, i) => ({ ...big, n: i }))]) {
    const body = await jsonArrayInSlices<unknown>(items)
    t.equal(body.bytes().toString('utf8'), JSON.stringify(items), `${items.length} items`)
    t.equal(body.length, Buffer.byteLength(JSON.stringify(items)), 'its length is its bytes')
    const longest = Math.max(...body.pieces.map(p => p.length))
    // An item larger than a piece has a piece of its own.
    const bound = Math.max(PIECE_BYTES, ...items.map(i => Buffer.byteLength(JSON.stringify(i))))
    t.ok(longest <= bound, `pieces of at most ${bound} bytes (longest ${longest})`)
    // Its items are under half a piece each: a piece that takes no more is at least half full.
    if (items.length === 1000) t.ok(body.pieces.length <= Math.ceil(body.length / (PIECE_BYTES / 2)), `pieces at least half full (${body.pieces.length})`)
  }
  const streamed: Buffer[] = []
  for await (const chunk of await jsonArrayInSlices([1, 2, 3])) streamed.push(chunk as Buffer)
  t.equal(Buffer.concat(streamed).toString(), '[1,2,3]', 'streamed whole')
})
