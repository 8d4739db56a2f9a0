import t from 'tap'
import { runMatrix } from '../fixtures/authz-matrix.js'

// The authorization matrix (test/fixtures/authz-matrix.ts) for forged and expired UserSigs.
runMatrix(t, 'forged')
