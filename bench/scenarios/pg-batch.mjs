// pg-batch: the batch scenario (one message to 500 recipients) on PostgreSQL, against the
// naive server's one multi-row INSERT. Target: rows/s ≥ 0.8×.
import batchScenario from './batch.mjs'

export default { ...batchScenario, name: 'pg-batch', groups: ['batch'] }
