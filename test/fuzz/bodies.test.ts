import t from 'tap'
import fc from 'fast-check'
import { conversation, endpoint, fuzz, json, jsonHeaders, mutate, mutation, runs } from '../fixtures/fuzz.js'

// Fuzzing of the writing endpoints' JSON (test/fixtures/fuzz.ts): random values, and valid bodies mutated.
t.test('when writing endpoints get random JSON values, then every answer is < 500 with {code, desc} and a refusal writes nothing', async t => {
  await fuzz(t, 'random JSON', fc.tuple(endpoint, conversation, fc.jsonValue({ maxDepth: 5 })),
    ([e, c, v]) => ({ method: 'POST', url: e.url(c), payload: json(v), headers: jsonHeaders }), runs(400))
})

t.test('when valid bodies get wrong types, missing and extra keys, then every answer is < 500 with {code, desc} and a refusal writes nothing', async t => {
  await fuzz(t, 'mutated bodies', fc.tuple(endpoint, conversation, fc.array(mutation, { minLength: 1, maxLength: 4 })),
    ([e, c, ms], fx) => ({ method: 'POST', url: e.url(c), payload: json(mutate(e.body(fx), ms)), headers: jsonHeaders }), runs(600))
})
