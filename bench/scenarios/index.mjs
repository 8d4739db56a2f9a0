// The scenarios of each suite, in the order they run. Adding one: a file in this folder
// that exports a scenario (see bench/README.md, "Adding a scenario"), and its name here.
import batch from './batch.mjs'
import downloadProxied from './download-proxied.mjs'
import downloadStored from './download-stored.mjs'
import find from './find.mjs'
import history from './history.mjs'
import importMessages from './import.mjs'
import pgBatch from './pg-batch.mjs'
import pgHistory from './pg-history.mjs'
import pgImport from './pg-import.mjs'
import pgSend from './pg-send.mjs'
import read from './read.mjs'
import revoke from './revoke.mjs'
import sendC2c from './send-c2c.mjs'
import sendGroup from './send-group.mjs'
import singleDownload from './single-download.mjs'
import starvation from './starvation.mjs'
import events from './events.mjs'
import webhooks from './webhooks.mjs'
import conversations from './conversations.mjs'
import search from './search.mjs'

/** `npm run bench`: the gateway on SQLite. */
export const sqlite = [sendC2c, sendGroup, find, read, importMessages, batch, revoke, downloadStored, downloadProxied, history, starvation, events, webhooks, conversations, search]

/** `npm run bench:pg`: the gateway on PostgreSQL. */
export const pg = [pgSend, pgHistory, pgImport, pgBatch]

/** `npm run bench:download`: one large file, one download at a time. */
export const download = [singleDownload]
