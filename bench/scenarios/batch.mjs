// batch: POST /messages/batch of one text message to 500 recipients, against the naive
// server's rows in one transaction. Target: rows/s ≥ 0.8× the naive's.
import { batchPlan, bulkScenario, users } from './common.mjs'

export default bulkScenario({ name: 'batch', rowsPerRequest: 500, plan: batchPlan(users('r', 500, 3)) })
