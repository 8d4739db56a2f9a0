// pg-import: the import scenario (1000 messages a request, each into a fresh conversation)
// on PostgreSQL, against the naive server's one multi-row INSERT. Target: rows/s ≥ 0.8×.
import importScenario from './import.mjs'

export default { ...importScenario, name: 'pg-import', groups: ['import'] }
