// import: POST …/messages/import of 1000 messages, each request into a fresh conversation,
// against the naive server's rows in one transaction. Target: rows/s ≥ 0.8× the naive's.
import { bulkScenario, importPlan } from './common.mjs'

export default bulkScenario({ name: 'import', rowsPerRequest: 1000, plan: importPlan() })
