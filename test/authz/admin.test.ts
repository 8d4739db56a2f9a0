import t from 'tap'
import { runMatrix } from '../fixtures/authz-matrix.js'

// The authorization matrix (test/fixtures/authz-matrix.ts) for the app admin (on its own and on behalf of a non-member)
// and a non-admin using X-TIM-On-Behalf-Of.
runMatrix(t, 'admin')
