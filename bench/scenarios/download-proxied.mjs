// download-proxied: GET …/elements/0/content of an element whose URL is on the origin
// (TIM_DOWNLOAD_ALLOWED_HOSTS is the literal 127.0.0.1:<port>, the explicit opt-in for
// loopback), against the bare undici proxy of the same origin. Target ≥ 0.9×.
import { fileElementPath } from './common.mjs'

export default {
  name: 'download-proxied',
  groups: ['download'],
  servers: ['proxy', 'gateway'],
  needs: ['origin'],
  baseline: 'proxy',
  connections: 'downloadConnections',
  mbps: true,
  target: { ratio: 0.9 },
  prepare: (ctx) => fileElementPath(ctx, { file_elem_file_size: ctx.knobs.downloadBytes, file_elem_url: `${ctx.servers.origin.base}/download.bin` }),
  plan: (ctx, { server, prepared }) => ({ method: 'GET', items: [{ path: server.name === 'gateway' ? prepared : '/download.bin' }] }),
}
