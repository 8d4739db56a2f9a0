import t from 'tap'
import { runMatrix } from '../fixtures/authz-matrix.js'

// The authorization matrix (test/fixtures/authz-matrix.ts) for a group's member, admin and owner.
runMatrix(t, 'group')
