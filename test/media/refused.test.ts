import t from 'tap'
import { build } from '../helper.js'
import { fileElem, origin, sendElems } from '../fixtures/media.js'

t.test('when an element URL names a forbidden address in any spelling, then 403 naming why, and nothing is contacted', async t => {
  const o = await origin(t, (_req, res) => res.end('must not be reached'))
  const p = o.port
  // Names only: no entry opts any literal IP in.
  const g = await build(t, { TIM_DOWNLOAD_ALLOWED_HOSTS: `localhost:${p},cdn.example.com` })
  const forms: Array<[string, RegExp]> = [
    [`http://127.0.0.1:${p}/`, /127\.0\.0\.1:\d+ is a loopback address/],
    [`http://2130706433:${p}/`, /loopback/],
    [`http://0x7f000001:${p}/`, /loopback/],
    [`http://0177.0.0.1:${p}/`, /loopback/],
    [`http://127.1:${p}/`, /loopback/],
    [`http://0x7f.1:${p}/`, /loopback/],
    [`http://[::1]:${p}/`, /\[::1\]:\d+ is a loopback address/],
    [`http://[::ffff:127.0.0.1]:${p}/`, /IPv4-mapped loopback/],
    [`http://[::ffff:7f00:1]:${p}/`, /IPv4-mapped loopback/],
    [`http://[0:0:0:0:0:ffff:7f00:1]:${p}/`, /IPv4-mapped loopback/],
    [`http://[::127.0.0.1]:${p}/`, /IPv4-compatible loopback/],
    [`http://0.0.0.0:${p}/`, /unspecified/],
    [`http://0:${p}/`, /unspecified/],
    [`http://[::]:${p}/`, /unspecified/],
    ['http://169.254.169.254/latest/meta-data/', /cloud metadata/],
    ['http://[fd00:ec2::254]/latest/meta-data/', /cloud metadata/],
    ['http://100.100.100.200/latest/meta-data/', /cloud metadata/],
    ['http://[::ffff:169.254.169.254]/', /IPv4-mapped cloud metadata/],
    ['http://10.0.0.1/', /private/],
    ['http://172.16.0.1/', /private/],
    ['http://172.31.255.255/', /private/],
    ['http://192.168.1.1/', /private/],
    ['http://[fc00::1]/', /private/],
    ['http://[fd12:3456::1]/', /private/],
    ['http://[::ffff:10.0.0.1]/', /IPv4-mapped private/],
    ['http://[64:ff9b::a00:1]/', /NAT64 private/],
    ['http://[2002:c0a8:101::1]/', /6to4 private/],
    ['http://169.254.1.1/', /link-local/],
    ['http://[fe80::1]/', /link-local/],
    ['http://100.64.0.1/', /carrier-grade NAT/],
    ['http://224.0.0.1/', /multicast/],
    ['http://255.255.255.255/', /reserved/],
  ]
  for (const [url, why] of forms) {
    await sendElems(g, 'alice', 'bob', [fileElem({ url })])
    const res = await g.app.inject({ method: 'POST', url: '/downloads', headers: g.as('bob'), payload: { msg_download_elem_param_url: url } })
    t.equal(res.statusCode, 403, url)
    t.equal(res.json().code, 6010, url)
    t.match(res.json().desc, why, url)
  }
  t.equal(o.requests.length, 0, 'the origin behind the loopback forms was never contacted')
})

t.test('when an element URL is not http(s), not absolute or not allow-listed, then 403 before any connection', async t => {
  const g = await build(t, { TIM_DOWNLOAD_ALLOWED_HOSTS: 'cdn.example.com,files.example.com:8443' })
  const cases: Array<[string, RegExp]> = [
    ['ftp://cdn.example.com/a.pdf', /scheme "ftp:" is not allowed/],
    ['file:///etc/passwd', /scheme "file:" is not allowed/],
    ['gopher://cdn.example.com/', /scheme "gopher:"/],
    ['data:text/plain,hello', /scheme "data:"/],
    ['javascript:alert(1)', /scheme "javascript:"/],
    ['//cdn.example.com/a.pdf', /not an absolute URL/],
    ['/media/not-an-upload', /not an absolute URL/],
    ['http://evil.example.org/a.pdf', /evil\.example\.org is not in TIM_DOWNLOAD_ALLOWED_HOSTS/],
    ['http://cdn.example.com.evil.example.org/a.pdf', /not in TIM_DOWNLOAD_ALLOWED_HOSTS/],
    ['http://cdn.example.com:8080/a.pdf', /cdn\.example\.com:8080 is not in/],
    ['https://files.example.com/a.pdf', /files\.example\.com is not in/],
    ['http://8.8.8.8/a.pdf', /8\.8\.8\.8 is not in/],
  ]
  for (const [url, why] of cases) {
    await sendElems(g, 'alice', 'bob', [fileElem({ url })])
    const res = await g.app.inject({ method: 'POST', url: '/downloads', headers: g.as('bob'), payload: { msg_download_elem_param_url: url } })
    t.equal(res.statusCode, 403, url)
    t.equal(res.json().code, 6010, url)
    t.match(res.json().desc, why, url)
  }
})
