/** Tencent's own UserSig generator (CommonJS, no types of its own). */
declare module 'tls-sig-api-v2' {
  export class Api {
    constructor (sdkappid: number, key: string)
    /** A UserSig of `userid`, valid for `expire` seconds from now (Date.now()). */
    genUserSig (userid: string, expire: number): string
  }
  const TLSSigAPIv2: { Api: typeof Api }
  export default TLSSigAPIv2
}

/** An S3-protocol server in-process (test/fixtures/s3.ts); no types of its own. */
declare module 's3rver' {
  import type { AddressInfo } from 'node:net'
  export interface S3rverOptions {
    address?: string
    port?: number
    silent?: boolean
    directory: string
    configureBuckets?: Array<{ name: string }>
  }
  export default class S3rver {
    constructor (options: S3rverOptions)
    run (): Promise<AddressInfo>
    close (): Promise<void>
  }
}
