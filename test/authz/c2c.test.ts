import t from 'tap'
import { runMatrix } from '../fixtures/authz-matrix.js'

// The authorization matrix (test/fixtures/authz-matrix.ts) for the C2C participant, a C2C non-participant and a non-member.
runMatrix(t, 'c2c')
