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
