// download-stored: GET …/elements/0/content of a stored upload of BENCH_DOWNLOAD_BYTES,
// against a direct fetch of the same file from the origin. Target ≥ 0.9×.
import { fileElementPath, upload } from './common.mjs'

export default {
  name: 'download-stored',
  groups: ['download'],
  servers: ['origin', 'gateway'],
  baseline: 'origin',
  connections: 'downloadConnections',
  mbps: true,
  target: { ratio: 0.9 },
  async prepare (ctx) {
    const { id } = await upload(ctx, ctx.servers.origin.file, ctx.knobs.downloadBytes)
    return fileElementPath(ctx, { file_elem_file_size: ctx.knobs.downloadBytes, file_elem_file_id: id })
  },
  plan: (ctx, { server, prepared }) => ({ method: 'GET', items: [{ path: server.name === 'gateway' ? prepared : '/download.bin' }] }),
}
