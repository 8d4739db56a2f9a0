import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { join } from 'node:path'
import { MessageService } from '../messages/service.js'
import { GroupService } from '../groups/service.js'
import type { Uploads } from '../media/uploads.js'
import { FileUploads } from '../media/file-uploads.js'
import type { S3Settings } from '../media/s3-uploads.js'
import { DownloadService } from '../media/download.js'
import { IdempotencyKeys } from '../idempotency/keys.js'
import { msgIdsIn } from '../messages/recorded.js'
import { EventHub } from '../events/hub.js'
import { StreamProcess, type StreamerSettings } from '../events/stream-process.js'
import { ConversationService } from '../conversations/service.js'
import { SearchService } from '../search/service.js'

declare module 'fastify' {
  interface FastifyInstance {
    messages: MessageService
    conversations: ConversationService
    groups: GroupService
    /** Uploaded media (POST /media): under <dataDir>/media, or in the bucket of TIM_S3_BUCKET. */
    uploads: Uploads
    downloads: DownloadService
    idempotency: IdempotencyKeys
    /** This process's fan-out of the event log to its streams. */
    hub: EventHub
    /** The event stream process (TIM_EVENTS_PROCESS), which serves the streams when it runs. */
    streamProcess: StreamProcess | undefined
    messageSearch: SearchService
  }
}

export interface ServicesOptions {
  dataDir: string
  revokeWindowS: number
  /** TIM_MEDIA_MAX_BYTES: the largest upload that is not an image or a sound. */
  mediaMaxBytes: number
  /** The gateway's secret key (conversation list cursors are signed with a key derived from it). */
  secretKey: string
  /** TIM_S3_BUCKET and its settings: uploads in object storage, their records in the store. */
  s3?: S3Settings | undefined
  /** Unix seconds now, for tests of time rules. */
  now?: () => number
  onStored?: (count: number) => void
  /** TIM_EVENTS_PROCESS: the streams are served by a process of their own, opened with these settings. */
  streamProcess?: StreamerSettings | undefined
}

const unixNow = () => Math.floor(Date.now() / 1000)

/** Where uploads go: the bucket when there is one, else the data dir. */
async function mediaStorage (app: FastifyInstance, opts: ServicesOptions): Promise<Uploads> {
  if (opts.s3 === undefined) return new FileUploads(join(opts.dataDir, 'media'), opts.mediaMaxBytes)
  // The AWS SDK loads only for a gateway that uses it.
  const { S3Uploads, s3Client } = await import('../media/s3-uploads.js')
  const client = s3Client(opts.s3)
  app.addHook('onClose', async () => { client.destroy() })
  return new S3Uploads({
    client,
    bucket: opts.s3.bucket,
    records: app.store.uploads,
    maxBytes: opts.mediaMaxBytes,
    onLeftover: (key, err) => app.log.warn({ err, key }, 'an upload that was not kept could not be removed from the bucket'),
  })
}

/** What the gateway means, over the store: one instance of each service for the app's life. */
export default fp<ServicesOptions>(async (app, opts) => {
  const now = opts.now ?? unixNow
  const idempotency = new IdempotencyKeys({ store: app.store.idempotency, now, carried: msgIdsIn })
  const uploads = await mediaStorage(app, opts)
  // The hub renders with the message service's views, and hears its online messages.
  const messages: MessageService = new MessageService({
    messages: app.store.messages,
    groups: app.store.groups,
    recorded: idempotency,
    media: uploads,
    revokeWindowS: opts.revokeWindowS,
    now,
    onOnline: (m, recipients) => {
      hub.online(m, recipients)
      streamProcess?.online(m, recipients)
    },
    ...(app.hasDecorator('beforeSend') && { beforeSend: (sender, m, original, recipients) => app.beforeSend.call(sender, m, original, recipients) }),
    ...(opts.onStored !== undefined && { onStored: opts.onStored }),
  })
  const hub = new EventHub({
    events: app.store.events,
    messages: app.store.messages,
    view: (m, viewer, readPoints) => messages.viewWith(m, viewer, readPoints),
    onError: (err) => app.log.warn({ err }, 'reading the event log failed; trying again at the next event'),
  })
  const streamProcess = opts.streamProcess === undefined ? undefined : new StreamProcess(opts.streamProcess, app.log)
  app.decorate('hub', hub)
  app.decorate('streamProcess', streamProcess)
  app.decorate('idempotency', idempotency)
  app.decorate('uploads', uploads)
  app.decorate('messages', messages)
  app.decorate('conversations', new ConversationService({ store: app.store.conversations, messages, secret: opts.secretKey }))
  app.decorate('groups', new GroupService(app.store.groups, messages))
  app.decorate('messageSearch', new SearchService(app.store.search, app.store.messages, messages))
  app.decorate('downloads', new DownloadService(messages, app.store.messages, uploads))
}, { name: 'timgate-services', dependencies: ['timgate-store'] })
