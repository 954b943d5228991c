// End-to-end journey of the official TypeScript clients (@atproto/api, @atproto/repo)
// against a PDS: signup, sessions, record CRUD and paging, repo export verified
// with @atproto/repo, and the error answers the clients rely on.
//
// usage: node journey.mjs PDS_URL [--plc URL] [--admin-password P] [--invite-code C]
//                         [--jwt-secret S] [--posts N] [--firehose] [--reference] [--keep-going] [--verbose]
// env (same meaning as the flags): AERIE_E2E_PLC_URL, AERIE_E2E_ADMIN_PASSWORD,
//   AERIE_E2E_INVITE_CODE, AERIE_E2E_JWT_SECRET, AERIE_E2E_REFERENCE=1, AERIE_E2E_FIREHOSE=1
// --firehose (needs --plc): also replay com.atproto.sync.subscribeRepos from cursor 0
//   with @atproto/sync (which verifies each commit against the key in the PLC directory)
//   and check that the account's events rebuild its records.
// --reference: the server is the official TypeScript PDS; checks where Aerie is meant
//   to answer better than it (see e2e/README.md) report the difference instead of failing.
// exit: 0 all checks passed, 1 a check failed, 2 usage, 4 server unreachable.
// Runs on Node >= 22 (scripts/install-e2e provides it).
import { createHmac, randomBytes } from 'node:crypto'
import http from 'node:http'
import { parseArgs } from 'node:util'
import { Secp256k1Keypair } from '@atproto/crypto'
import { IdResolver } from '@atproto/identity'
import {
  MST,
  MemoryBlockstore,
  Repo,
  cborToLexRecord,
  cidForRecord,
  readCar,
  readCarWithRoot,
  verifyProofs,
  verifyRecords,
  verifyRepoCar,
} from '@atproto/repo'
import { Firehose } from '@atproto/sync'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { basicAuth as basic, pinnedAgent, plcDocument, signingKeyOf } from './common.mjs'

const EXIT_FAILED = 1
const EXIT_USAGE = 2
const EXIT_UNREACHABLE = 4

const USAGE = 'usage: node journey.mjs PDS_URL [--plc URL] [--admin-password P] [--invite-code C] [--jwt-secret S] [--posts N] [--firehose] [--reference] [--keep-going] [--verbose]'
let parsed
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      plc: { type: 'string', default: process.env.AERIE_E2E_PLC_URL || undefined },
      'admin-password': { type: 'string', default: process.env.AERIE_E2E_ADMIN_PASSWORD || undefined },
      'invite-code': { type: 'string', default: process.env.AERIE_E2E_INVITE_CODE || undefined },
      'jwt-secret': { type: 'string', default: process.env.AERIE_E2E_JWT_SECRET || undefined },
      posts: { type: 'string', default: '7' },
      firehose: { type: 'boolean', default: ['1', 'true'].includes(process.env.AERIE_E2E_FIREHOSE ?? '') },
      reference: { type: 'boolean', default: ['1', 'true'].includes(process.env.AERIE_E2E_REFERENCE ?? '') },
      'keep-going': { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
    },
  })
} catch (err) {
  console.error(`${err.message}\n${USAGE}`)
  process.exit(EXIT_USAGE)
}
const opts = parsed.values
if (parsed.positionals.length !== 1) {
  console.error(USAGE)
  process.exit(EXIT_USAGE)
}
let PDS
try {
  PDS = new URL(parsed.positionals[0])
} catch {
  console.error(`not a URL: ${parsed.positionals[0]}\n${USAGE}`)
  process.exit(EXIT_USAGE)
}
const POSTS = Number.parseInt(opts.posts, 10)
// The journey edits, deletes and rewrites posts 1 to 4.
if (!(POSTS >= 5 && POSTS <= 100)) {
  console.error('--posts must be between 5 and 100')
  process.exit(EXIT_USAGE)
}

// ---------------------------------------------------------------- reporting

class CheckFailed extends Error {}
let passed = 0
let failed = 0
let skipped = 0
let deviations = 0

const summary = () => {
  const extra = [skipped && `${skipped} skipped`, deviations && `${deviations} known reference deviations`].filter(Boolean)
  return `journey.mjs: ${passed} passed, ${failed} failed${extra.length ? ` (${extra.join(', ')})` : ''}`
}

async function check(name, fn) {
  try {
    await fn()
    passed++
    console.log(`ok   ${name}`)
    return true
  } catch (err) {
    failed++
    const detail = err instanceof CheckFailed ? err.message : `unexpected ${describeError(err)}`
    console.log(`FAIL ${name}: ${detail}`)
    if (opts.verbose && !(err instanceof CheckFailed)) console.log(err)
    if (!opts['keep-going']) {
      console.log(summary())
      process.exit(EXIT_FAILED)
    }
    return false
  }
}

/**
 * A check of behaviour the issue asks of Aerie where the official PDS answers
 * differently. Against the reference (--reference) a failure is reported, not counted.
 */
async function strict(name, fn) {
  if (!opts.reference) return check(name, fn)
  try {
    await fn()
    passed++
    console.log(`ok   ${name}`)
  } catch (err) {
    deviations++
    const detail = err instanceof CheckFailed ? err.message : describeError(err)
    console.log(`dev  ${name}: the reference answers differently: ${detail}`)
  }
}

function skip(name, reason) {
  skipped++
  console.log(`skip ${name}: ${reason}`)
}

/** Records a behaviour worth knowing that the journey does not assert. */
function note(text) {
  console.log(`note ${text}`)
}

function describeError(err) {
  if (err && typeof err.status === 'number' && 'error' in err) {
    return `XRPC ${err.status} ${err.error}: ${err.message}`
  }
  return err?.stack ?? String(err)
}

function assert(cond, what) {
  if (!cond) throw new CheckFailed(what)
}

function assertEq(actual, expected, what) {
  const a = canonical(actual)
  const e = canonical(expected)
  if (a !== e) throw new CheckFailed(`${what}: expected ${e}, got ${a}`)
}

/** JSON with sorted keys; CIDs as {$link} and bytes as {$bytes}, like the lexicon JSON form. */
function canonical(v) {
  return JSON.stringify(toPlain(v))
}

function toPlain(v) {
  if (v === null || v === undefined || typeof v !== 'object') return v
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('base64').replace(/=+$/, '') }
  if (typeof v.toString === 'function' && v['/'] !== undefined && v.multihash !== undefined) {
    return { $link: v.toString() }
  }
  // @atproto/api hands blobs back as BlobRef objects; their JSON is the lexicon form.
  if (v.constructor?.name === 'BlobRef' && typeof v.toJSON === 'function') return toPlain(v.toJSON())
  if (Array.isArray(v)) return v.map(toPlain)
  const out = {}
  for (const k of Object.keys(v).sort()) out[k] = toPlain(v[k])
  return out
}

/** Runs `fn` and expects it to fail with the given HTTP status and XRPC error name. */
async function expectError(fn, status, errorName, what) {
  let res
  try {
    res = await fn()
  } catch (err) {
    if (typeof err?.status !== 'number') throw err
    // Bare calls see the body: every error answer is JSON {"error", "message"}.
    if (err instanceof RawError) {
      assert(
        typeof err.json?.error === 'string' && typeof err.json?.message === 'string',
        `${what}: the ${err.status} answer is not JSON {error, message}: ${JSON.stringify(err.json) ?? 'not JSON'}`,
      )
    }
    const statuses = Array.isArray(status) ? status : [status]
    const names = Array.isArray(errorName) ? errorName : [errorName]
    assert(
      statuses.includes(err.status) && (errorName === undefined || names.includes(err.error)),
      `${what}: expected ${statuses.join('/')} ${errorName === undefined ? '' : names.join('/')}, got ${err.status} ${err.error}: ${err.message}`,
    )
    return err
  }
  throw new CheckFailed(`${what}: expected ${status} ${errorName ?? ''}, but the call succeeded (${canonical(res?.data ?? res?.json ?? null).slice(0, 200)})`)
}

// ---------------------------------------------------------------- HTTP

const redirectedOrigins = new Set()
const newAgent = () => pinnedAgent(PDS, { redirected: redirectedOrigins, verbose: opts.verbose })

class RawError extends Error {
  constructor(status, json, text) {
    super(json?.message ?? text.slice(0, 200))
    this.status = status
    this.error = json?.error
    this.json = json
  }
}

/** A bare XRPC call, for answers the client library would hide or retry. */
async function raw(method, nsid, { params, body, token, auth, headers = {} } = {}) {
  const url = new URL(`/xrpc/${nsid}`, PDS)
  for (const [k, v] of Object.entries(params ?? {})) {
    for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item))
  }
  const h = { ...headers }
  if (token) h.authorization = `Bearer ${token}`
  if (auth) h.authorization = auth
  let payload
  if (body !== undefined) {
    h['content-type'] ??= 'application/json'
    payload = typeof body === 'string' ? body : JSON.stringify(body)
  }
  if (opts.verbose) console.log(`  -> raw ${method} ${url.pathname}${url.search}`)
  const res = await fetch(url, { method, headers: h, body: payload, redirect: 'manual' })
  const bytes = new Uint8Array(await res.arrayBuffer())
  const text = Buffer.from(bytes).toString('utf8')
  let json
  if ((res.headers.get('content-type') ?? '').includes('json')) {
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
  }
  if (!res.ok) throw new RawError(res.status, json, text)
  return { status: res.status, headers: res.headers, json, bytes }
}

function decodeJwt(token) {
  const parts = String(token).split('.')
  assert(parts.length === 3, `a JWT has three parts, got ${parts.length}`)
  const dec = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'))
  return { header: dec(parts[0]), payload: dec(parts[1]) }
}

/** An HS256 token signed like the reference PDS does (the secret's UTF-8 bytes are the key). */
function signHs256(header, payload, secret) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const input = `${enc(header)}.${enc(payload)}`
  return `${input}.${createHmac('sha256', Buffer.from(secret, 'utf8')).update(input).digest('base64url')}`
}

const TID_RE = /^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$/
const rand = (n) => {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
  return Array.from(randomBytes(n), (b) => alphabet[b % alphabet.length]).join('')
}

// ---------------------------------------------------------------- the journey

const ctx = {
  expected: new Map(), // "collection/rkey" -> { value, cid }
  revs: [],
}
const key = (collection, rkey) => `${collection}/${rkey}`
const rkeyOf = (uri) => uri.split('/').pop()

function recordWrite(commit) {
  if (!commit) return
  assert(typeof commit.rev === 'string' && TID_RE.test(commit.rev), `commit.rev is a TID, got ${commit.rev}`)
  const last = ctx.revs.at(-1)
  assert(last === undefined || commit.rev > last, `commit revs increase: ${commit.rev} after ${last}`)
  ctx.revs.push(commit.rev)
  ctx.lastCommit = commit
}

console.log(`journey.mjs against ${PDS.origin} (node ${process.version})`)

try {
  const res = await fetch(new URL('/xrpc/_health', PDS))
  const body = await res.json().catch(() => null)
  await check('GET /xrpc/_health answers {version}', () => {
    assert(res.status === 200, `status ${res.status}`)
    assert(typeof body?.version === 'string', `body ${JSON.stringify(body)}`)
  })
} catch (err) {
  console.log(`FAIL server unreachable at ${PDS.origin}: ${err.cause?.message ?? err.message}`)
  console.log(summary())
  process.exit(EXIT_UNREACHABLE)
}

const agent = newAgent()

await check('describeServer names the service DID and handle domains', async () => {
  const { data } = await agent.com.atproto.server.describeServer()
  assert(typeof data.did === 'string' && data.did.startsWith('did:'), `did ${data.did}`)
  assert(Array.isArray(data.availableUserDomains) && data.availableUserDomains.length > 0, 'availableUserDomains is empty')
  ctx.server = data
})

if (opts['admin-password']) {
  await check('createInviteCode with admin basic auth', async () => {
    await expectError(
      () => raw('POST', 'com.atproto.server.createInviteCode', { body: { useCount: 1 }, auth: basic('admin', `${opts['admin-password']}-wrong`) }),
      401,
      'AuthenticationRequired',
      'wrong admin password',
    )
    const { data } = await agent.com.atproto.server.createInviteCode(
      { useCount: 1 },
      { headers: { authorization: basic('admin', opts['admin-password']) } },
    )
    assert(typeof data.code === 'string' && data.code.length > 0, `code ${data.code}`)
    ctx.inviteCode = data.code
  })
} else if (opts['invite-code']) {
  ctx.inviteCode = opts['invite-code']
}

if (!ctx.server) {
  console.log('cannot go on without describeServer')
  console.log(summary())
  process.exit(EXIT_FAILED)
}
const domain = ctx.server.availableUserDomains[0].startsWith('.')
  ? ctx.server.availableUserDomains[0]
  : `.${ctx.server.availableUserDomains[0]}`
const account = {
  handle: `e2e-${rand(10)}${domain}`,
  email: `e2e-${rand(10)}@example.com`,
  password: `pw-${rand(20)}`,
}

await check('createAccount returns a did:plc, the handle and tokens', async () => {
  if (ctx.server.inviteCodeRequired && !ctx.inviteCode) {
    throw new CheckFailed('the server requires an invite code: pass --admin-password or --invite-code')
  }
  const res = await agent.createAccount({ ...account, inviteCode: ctx.inviteCode })
  const d = res.data
  assert(/^did:plc:[a-z2-7]{24}$/.test(d.did), `did ${d.did}`)
  assertEq(d.handle, account.handle, 'handle')
  ctx.did = d.did
  ctx.createDidDoc = d.didDoc
  ctx.firstTokens = { access: d.accessJwt, refresh: d.refreshJwt }
  if (!d.didDoc) note('createAccount returned no didDoc')
})

await check('session tokens look like the reference ones (HS256 at+jwt 2 h, refresh+jwt 90 days)', () => {
  const a = decodeJwt(ctx.firstTokens.access)
  const r = decodeJwt(ctx.firstTokens.refresh)
  assertEq([a.header.alg, a.header.typ], ['HS256', 'at+jwt'], 'access token alg, typ')
  assertEq([r.header.alg, r.header.typ], ['HS256', 'refresh+jwt'], 'refresh token alg, typ')
  assertEq(a.payload.scope, 'com.atproto.access', 'access scope')
  assertEq(r.payload.scope, 'com.atproto.refresh', 'refresh scope')
  assertEq(a.payload.sub, ctx.did, 'access sub')
  assertEq(r.payload.sub, ctx.did, 'refresh sub')
  assertEq(a.payload.aud, ctx.server.did, 'access aud (the service DID)')
  assert(typeof r.payload.jti === 'string' && r.payload.jti.length > 0, 'refresh token has a jti')
  assertEq(a.payload.exp - a.payload.iat, 2 * 3600, 'access lifetime (s)')
  assertEq(r.payload.exp - r.payload.iat, 90 * 24 * 3600, 'refresh lifetime (s)')
  ctx.accessClaims = a.payload
})

await strict('createAccount refuses a taken handle: 400 HandleNotAvailable', () =>
  expectError(
    () => newAgent().createAccount({ handle: account.handle, email: `x${account.email}`, password: account.password, inviteCode: ctx.inviteCode }),
    400,
    'HandleNotAvailable',
    'taken handle',
  ),
)

await check('createAccount refuses a handle outside the service domains', async () => {
  await expectError(
    () => newAgent().createAccount({ handle: `e2e-${rand(8)}.not-served.example`, email: `y${account.email}`, password: account.password, inviteCode: ctx.inviteCode }),
    400,
    ['InvalidHandle', 'UnsupportedDomain'],
    'foreign handle domain',
  )
})

await check('the account signing key agrees across the DID document sources', async () => {
  const sources = {}
  if (ctx.createDidDoc) sources.createAccount = signingKeyOf(ctx.createDidDoc)
  const { data: creds } = await agent.com.atproto.identity.getRecommendedDidCredentials()
  sources.getRecommendedDidCredentials = creds.verificationMethods?.atproto
  assert(
    Array.isArray(creds.alsoKnownAs) && creds.alsoKnownAs.includes(`at://${account.handle}`),
    `recommended alsoKnownAs ${JSON.stringify(creds.alsoKnownAs)}`,
  )
  if (opts.plc) {
    const doc = await plcDocument(opts.plc, ctx.did)
    sources.plcDirectory = signingKeyOf(doc)
    assert(doc.alsoKnownAs?.includes(`at://${account.handle}`), `PLC alsoKnownAs ${JSON.stringify(doc.alsoKnownAs)}`)
    ctx.plcDoc = doc
    const pds = doc.service?.find((s) => s.id === '#atproto_pds' || s.id === `${ctx.did}#atproto_pds`)
    assert(pds?.type === 'AtprotoPersonalDataServer', `PLC #atproto_pds service ${JSON.stringify(pds)}`)
    if (new URL(pds.serviceEndpoint).origin !== PDS.origin) {
      note(`the DID document names ${pds.serviceEndpoint} as the PDS, the journey talks to ${PDS.origin}`)
    }
  }
  for (const [src, k] of Object.entries(sources)) {
    assert(typeof k === 'string' && k.startsWith('did:key:z'), `${src}: signing key ${k}`)
  }
  const distinct = new Set(Object.values(sources))
  assert(distinct.size === 1, `signing keys differ: ${JSON.stringify(sources)}`)
  ctx.signingKey = [...distinct][0]
  ctx.signingKeySource = Object.keys(sources).join(' = ')
})


const session = newAgent()
await check('createSession by handle, by email and by DID', async () => {
  for (const identifier of [account.handle, account.email, ctx.did]) {
    const a = newAgent()
    const { data } = await a.login({ identifier, password: account.password })
    assertEq(data.did, ctx.did, `did after login as ${identifier}`)
    assertEq(data.handle, account.handle, `handle after login as ${identifier}`)
  }
  const { data } = await session.login({ identifier: account.handle, password: account.password })
  assertEq(data.email, account.email, 'email in createSession')
  if (data.didDoc) note('createSession returned a didDoc')
})

await check('getSession reports the account', async () => {
  const { data } = await session.com.atproto.server.getSession()
  assertEq([data.did, data.handle, data.email], [ctx.did, account.handle, account.email], 'did, handle, email')
  assert(data.active !== false, 'account is active')
})

// An access token has no jti: one issued in the same second as the last is the same string.
await check('refreshSession rotates the refresh token and the new access token works', async () => {
  const before = { ...session.session }
  await session.sessionManager.refreshSession()
  const after = session.session
  assert(after.refreshJwt !== before.refreshJwt, 'new refresh token')
  assertEq(decodeJwt(after.refreshJwt).header.typ, 'refresh+jwt', 'new refresh token type')
  const { json } = await raw('GET', 'com.atproto.server.getSession', { token: after.accessJwt })
  assertEq(json?.did, ctx.did, 'getSession with the new token')
  ctx.oldRefresh = before.refreshJwt
})

if (ctx.oldRefresh) {
  // The reference keeps a rotated refresh token usable for a grace period; not asserted.
  try {
    await raw('POST', 'com.atproto.server.refreshSession', { token: ctx.oldRefresh })
    note('a rotated-out refresh token is still accepted once more (grace period)')
  } catch (err) {
    note(`a rotated-out refresh token is refused: ${err.status} ${err.error}`)
  }
}

// Records: posts (TID keys), a profile (literal key "self"), and a collection no
// lexicon describes (free-form keys).
const repo = session.com.atproto.repo
const POST = 'app.bsky.feed.post'
const NOTE = 'com.example.aerie.note'
const base = Date.parse('2026-01-01T00:00:00.000Z')
const post = (i, text = `aerie e2e post ${i}`) => ({
  $type: POST,
  text,
  createdAt: new Date(base + i * 1000).toISOString(),
  langs: ['en'],
})

await check(`createRecord x${POSTS} (${POST}) returns TID keys, the record CID and increasing revs`, async () => {
  ctx.posts = []
  for (let i = 0; i < POSTS; i++) {
    const value = post(i)
    const { data } = await repo.createRecord({ repo: ctx.did, collection: POST, record: value })
    const rkey = rkeyOf(data.uri)
    assertEq(data.uri, `at://${ctx.did}/${POST}/${rkey}`, 'uri')
    assert(TID_RE.test(rkey), `rkey ${rkey} is a TID`)
    assertEq(data.cid, (await cidForRecord(value)).toString(), `cid of post ${i}`)
    assert(
      data.validationStatus === undefined || ['valid', 'unknown'].includes(data.validationStatus),
      `validationStatus ${data.validationStatus}`,
    )
    recordWrite(data.commit)
    ctx.expected.set(key(POST, rkey), { value, cid: data.cid })
    ctx.posts.push(rkey)
  }
  assert(new Set(ctx.posts).size === POSTS, 'record keys are distinct')
  ctx.revAfterPosts = ctx.revs.at(-1)
})

await check('createRecord with an explicit key in an undescribed collection', async () => {
  const value = { $type: NOTE, body: 'first note', n: 1, tags: ['a', 'b'], nested: { ok: true } }
  const { data } = await repo.createRecord({ repo: ctx.did, collection: NOTE, rkey: 'note-1', record: value })
  assertEq(data.uri, `at://${ctx.did}/${NOTE}/note-1`, 'uri')
  assertEq(data.cid, (await cidForRecord(value)).toString(), 'cid')
  if (data.validationStatus !== undefined) assertEq(data.validationStatus, 'unknown', 'validationStatus')
  recordWrite(data.commit)
  ctx.expected.set(key(NOTE, 'note-1'), { value, cid: data.cid })
})

await check('putRecord creates and then replaces app.bsky.actor.profile/self', async () => {
  const first = { $type: 'app.bsky.actor.profile', displayName: 'Aerie E2E', description: 'created by putRecord' }
  const r1 = await repo.putRecord({ repo: ctx.did, collection: 'app.bsky.actor.profile', rkey: 'self', record: first })
  assertEq(r1.data.cid, (await cidForRecord(first)).toString(), 'cid after create')
  recordWrite(r1.data.commit)
  const second = { ...first, description: 'replaced by putRecord' }
  const r2 = await repo.putRecord({ repo: ctx.did, collection: 'app.bsky.actor.profile', rkey: 'self', record: second, swapRecord: r1.data.cid })
  assertEq(r2.data.cid, (await cidForRecord(second)).toString(), 'cid after update')
  recordWrite(r2.data.commit)
  ctx.expected.set(key('app.bsky.actor.profile', 'self'), { value: second, cid: r2.data.cid })
})

// A 1x1 PNG; random bytes after IEND make each run's blobs distinct without
// changing what the bytes sniff as.
const PNG_1X1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP438AAAAQBAYDFKhhdAAAAAElFTkSuQmCC', 'base64')
const png = () => new Uint8Array(Buffer.concat([PNG_1X1, randomBytes(16)]))
const rawCid = async (bytes) => CID.createV1(0x55, await sha256.digest(bytes)).toString()

let blobsServed = true
try {
  await raw('POST', 'com.atproto.repo.uploadBlob', { token: session.session.accessJwt, body: '', headers: { 'content-type': 'image/png' } })
} catch (err) {
  if (err.status === 501) blobsServed = false
}
if (!blobsServed) {
  skip('uploadBlob, avatar, getBlob, listBlobs', 'the server answers 501 for uploadBlob')
} else {
  await check('uploadBlob, a profile avatar, getBlob and listBlobs', async () => {
    const bytes = png()
    const { data } = await repo.uploadBlob(bytes, { encoding: 'image/png' })
    const blob = { $type: 'blob', ref: { $link: await rawCid(bytes) }, mimeType: 'image/png', size: bytes.length }
    assertEq(data.blob, blob, 'uploadBlob blob ref (raw-codec CID of the bytes)')
    const prev = ctx.expected.get(key('app.bsky.actor.profile', 'self'))
    const value = { ...prev.value, avatar: blob }
    const res = await repo.putRecord({ repo: ctx.did, collection: 'app.bsky.actor.profile', rkey: 'self', record: value })
    recordWrite(res.data.commit)
    ctx.expected.set(key('app.bsky.actor.profile', 'self'), { value, cid: res.data.cid })
    const got = await raw('GET', 'com.atproto.sync.getBlob', { params: { did: ctx.did, cid: blob.ref.$link } })
    assertEq(Buffer.from(got.bytes).toString('base64'), Buffer.from(bytes).toString('base64'), 'getBlob bytes')
    const { data: listed } = await session.com.atproto.sync.listBlobs({ did: ctx.did })
    assert(listed.cids.includes(blob.ref.$link), `listBlobs ${JSON.stringify(listed.cids)}`)
    // An uploaded blob that no record references is not served.
    const orphan = png()
    const { data: up } = await repo.uploadBlob(orphan, { encoding: 'image/png' })
    const orphanCid = await rawCid(orphan)
    assertEq(up.blob, { $type: 'blob', ref: { $link: orphanCid }, mimeType: 'image/png', size: orphan.length }, 'second blob ref')
    await expectError(() => raw('GET', 'com.atproto.sync.getBlob', { params: { did: ctx.did, cid: orphanCid } }), 400, ['InvalidRequest', 'BlobNotFound'], 'getBlob of an unreferenced blob')
  })
}

await check('preferences: setAdultContentEnabled through the agent, read back by getPreferences', async () => {
  // The agent reads the preferences, changes one and writes them all back.
  await session.setAdultContentEnabled(true)
  const prefs = await session.getPreferences()
  assertEq(prefs.moderationPrefs.adultContentEnabled, true, 'adultContentEnabled after the put')
  await session.setAdultContentEnabled(false)
  const { data } = await session.app.bsky.actor.getPreferences()
  const adult = data.preferences.filter((p) => p.$type === 'app.bsky.actor.defs#adultContentPref')
  assertEq(adult.map((p) => p.enabled), [false], 'one adultContentPref, now false')
})

await check('putRecord edits an existing post', async () => {
  const rkey = ctx.posts[1]
  const value = post(1, 'aerie e2e post 1, edited')
  const { data } = await repo.putRecord({ repo: ctx.did, collection: POST, rkey, record: value })
  assertEq(data.cid, (await cidForRecord(value)).toString(), 'cid')
  recordWrite(data.commit)
  ctx.expected.set(key(POST, rkey), { value, cid: data.cid })
})

await check('getRecord returns every record as written, with its CID', async () => {
  for (const [k, { value, cid }] of ctx.expected) {
    const [collection, rkey] = k.split('/')
    const { data } = await repo.getRecord({ repo: ctx.did, collection, rkey })
    assertEq(data.uri, `at://${ctx.did}/${k}`, `uri of ${k}`)
    assertEq(data.cid, cid, `cid of ${k}`)
    assertEq(data.value, value, `value of ${k}`)
  }
  const [k, { cid }] = [...ctx.expected][0]
  const [collection, rkey] = k.split('/')
  const { data } = await repo.getRecord({ repo: account.handle, collection, rkey, cid })
  assertEq(data.cid, cid, 'getRecord by handle with the current cid')
})

async function listAll(collection, { limit, reverse }) {
  const pages = []
  let cursor
  for (let i = 0; i < 200; i++) {
    const { data } = await repo.listRecords({ repo: ctx.did, collection, limit, reverse, cursor })
    pages.push(data.records)
    assert(data.records.length <= limit, `page of ${data.records.length} > limit ${limit}`)
    if (!data.cursor || data.records.length === 0) return pages
    assert(data.cursor !== cursor, 'cursor advances')
    cursor = data.cursor
  }
  throw new CheckFailed('listRecords never ended (200 pages)')
}

async function checkListing(what) {
  const want = [...ctx.expected.keys()].filter((k) => k.startsWith(`${POST}/`)).map((k) => k.split('/')[1])
  const desc = [...want].sort().reverse()
  const pagesDefault = await listAll(POST, { limit: 2 })
  const pagesReverse = await listAll(POST, { limit: 3, reverse: true })
  const flat = (pages) => pages.flat()
  const keysOf = (records) => records.map((r) => rkeyOf(r.uri))
  assertEq(keysOf(flat(pagesDefault)), desc, `${what}: listRecords limit=2 pages, newest first`)
  assertEq(keysOf(flat(pagesReverse)), [...desc].reverse(), `${what}: listRecords limit=3 reverse=true pages, oldest first`)
  assert(pagesDefault.length >= Math.ceil(desc.length / 2), `${what}: ${pagesDefault.length} pages for ${desc.length} records`)
  for (const r of flat(pagesDefault)) {
    const exp = ctx.expected.get(key(POST, rkeyOf(r.uri)))
    assertEq([r.cid, r.value], [exp.cid, exp.value], `${what}: listed ${r.uri}`)
  }
}

await check('listRecords pages with cursor, newest first, and reverse=true oldest first', () => checkListing('after creates'))

await check('deleteRecord removes a post: getRecord answers 400 RecordNotFound', async () => {
  const rkey = ctx.posts[2]
  const { data } = await repo.deleteRecord({ repo: ctx.did, collection: POST, rkey })
  recordWrite(data?.commit)
  ctx.expected.delete(key(POST, rkey))
  ctx.deleted = rkey
  await expectError(() => repo.getRecord({ repo: ctx.did, collection: POST, rkey }), 400, 'RecordNotFound', 'getRecord of the deleted post')
})

if (ctx.deleted) {
  try {
    const { data } = await repo.deleteRecord({ repo: ctx.did, collection: POST, rkey: ctx.deleted })
    note(`deleting an absent record succeeds${data?.commit ? ' with a new commit' : ' without a commit'}`)
    if (data?.commit) recordWrite(data.commit)
  } catch (err) {
    note(`deleting an absent record: ${err.status} ${err.error}`)
  }
}

await check('applyWrites: create, create with key, update and delete in one commit', async () => {
  const created = post(POSTS, 'created by applyWrites')
  const note2 = { $type: NOTE, body: 'second note' }
  const updatedRkey = ctx.posts[3]
  const updated = post(3, 'updated by applyWrites')
  const deletedRkey = ctx.posts[4]
  const { data } = await repo.applyWrites({
    repo: ctx.did,
    writes: [
      { $type: 'com.atproto.repo.applyWrites#create', collection: POST, value: created },
      { $type: 'com.atproto.repo.applyWrites#create', collection: NOTE, rkey: 'note-2', value: note2 },
      { $type: 'com.atproto.repo.applyWrites#update', collection: POST, rkey: updatedRkey, value: updated },
      { $type: 'com.atproto.repo.applyWrites#delete', collection: POST, rkey: deletedRkey },
    ],
  })
  assert(Array.isArray(data.results) && data.results.length === 4, `results ${JSON.stringify(data.results)}`)
  const types = data.results.map((r) => r.$type)
  assertEq(
    types,
    ['com.atproto.repo.applyWrites#createResult', 'com.atproto.repo.applyWrites#createResult', 'com.atproto.repo.applyWrites#updateResult', 'com.atproto.repo.applyWrites#deleteResult'],
    'result types',
  )
  const [c1, c2, u] = data.results
  const newRkey = rkeyOf(c1.uri)
  assert(TID_RE.test(newRkey), `generated rkey ${newRkey}`)
  assertEq(c1.cid, (await cidForRecord(created)).toString(), 'created cid')
  assertEq(c2.uri, `at://${ctx.did}/${NOTE}/note-2`, 'keyed create uri')
  assertEq(u.cid, (await cidForRecord(updated)).toString(), 'updated cid')
  recordWrite(data.commit)
  ctx.expected.set(key(POST, newRkey), { value: created, cid: c1.cid })
  ctx.expected.set(key(NOTE, 'note-2'), { value: note2, cid: c2.cid })
  ctx.expected.set(key(POST, updatedRkey), { value: updated, cid: u.cid })
  ctx.expected.delete(key(POST, deletedRkey))
  for (const [k, { cid }] of ctx.expected) {
    const [collection, rkey] = k.split('/')
    const { data: got } = await repo.getRecord({ repo: ctx.did, collection, rkey })
    assertEq(got.cid, cid, `cid of ${k} after applyWrites`)
  }
  await expectError(() => repo.getRecord({ repo: ctx.did, collection: POST, rkey: deletedRkey }), 400, 'RecordNotFound', 'deleted by applyWrites')
})

await check('listRecords reflects deletes and applyWrites', () => checkListing('after deletes'))

await check('applyWrites is all-or-nothing: a failing op leaves the repo unchanged', async () => {
  const { data: before } = await session.com.atproto.sync.getLatestCommit({ did: ctx.did })
  await expectError(
    () =>
      repo.applyWrites({
        repo: ctx.did,
        writes: [
          { $type: 'com.atproto.repo.applyWrites#create', collection: NOTE, rkey: 'note-never', value: { $type: NOTE, body: 'must not exist' } },
          { $type: 'com.atproto.repo.applyWrites#update', collection: NOTE, rkey: 'note-1', value: { $type: NOTE, body: 'swap' } },
        ],
        swapCommit: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm',
      }),
    400,
    'InvalidSwap',
    'applyWrites with a stale swapCommit',
  )
  const { data: after } = await session.com.atproto.sync.getLatestCommit({ did: ctx.did })
  assertEq(after, before, 'latest commit after the refused applyWrites')
  await expectError(() => repo.getRecord({ repo: ctx.did, collection: NOTE, rkey: 'note-never' }), 400, 'RecordNotFound', 'partial write')
})

await check('swapRecord and swapCommit mismatches answer 400 InvalidSwap', async () => {
  const rkey = ctx.posts[0]
  await expectError(
    () => repo.putRecord({ repo: ctx.did, collection: POST, rkey, record: post(0, 'never'), swapRecord: ctx.expected.get(key(NOTE, 'note-1')).cid }),
    400,
    'InvalidSwap',
    'putRecord with a wrong swapRecord',
  )
  await expectError(
    () => repo.deleteRecord({ repo: ctx.did, collection: POST, rkey, swapCommit: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm' }),
    400,
    'InvalidSwap',
    'deleteRecord with a stale swapCommit',
  )
})

await strict('createRecord over an existing key is a clean 4xx', async () => {
  const existing = await expectError(
    () => repo.createRecord({ repo: ctx.did, collection: NOTE, rkey: 'note-1', record: { $type: NOTE, body: 'dup' } }),
    [400, 409],
    undefined,
    'createRecord over an existing key',
  )
  note(`createRecord over an existing key: ${existing.status} ${existing.error}: ${existing.message}`)
  const { data } = await repo.getRecord({ repo: ctx.did, collection: NOTE, rkey: 'note-1' })
  assertEq(data.cid, ctx.expected.get(key(NOTE, 'note-1')).cid, 'the existing record is unchanged')
})

await check('bad writes are clean 400s: non-TID post key, $type mismatch, bad NSID', async () => {
  await expectError(
    () => repo.createRecord({ repo: ctx.did, collection: POST, rkey: 'not-a-tid', record: post(99) }),
    400,
    'InvalidRequest',
    'post with a non-TID rkey',
  )
  await expectError(
    () => repo.createRecord({ repo: ctx.did, collection: NOTE, record: { $type: 'com.example.aerie.other', body: 'x' } }),
    400,
    'InvalidRequest',
    '$type that is not the collection',
  )
  await expectError(
    () => raw('POST', 'com.atproto.repo.createRecord', { token: session.session.accessJwt, body: { repo: ctx.did, collection: 'not an nsid', record: { $type: 'not an nsid' } } }),
    400,
    'InvalidRequest',
    'invalid collection NSID',
  )
})

await check('describeRepo lists the collections written', async () => {
  const { data } = await repo.describeRepo({ repo: ctx.did })
  assertEq([data.did, data.handle], [ctx.did, account.handle], 'did, handle')
  const want = [...new Set([...ctx.expected.keys()].map((k) => k.split('/')[0]))].sort()
  assertEq([...data.collections].sort(), want, 'collections')
  assert(data.didDoc?.id === ctx.did, `didDoc.id ${data.didDoc?.id}`)
  if (data.handleIsCorrect !== true) note(`describeRepo handleIsCorrect=${data.handleIsCorrect}`)
})

const sync = session.com.atproto.sync

await check('sync.getLatestCommit names the last write', async () => {
  const { data } = await sync.getLatestCommit({ did: ctx.did })
  assertEq([data.cid, data.rev], [ctx.lastCommit.cid, ctx.lastCommit.rev], 'cid, rev')
  ctx.head = data
})

await check('sync.getRepo: the CAR verifies with @atproto/repo and holds exactly the journey records', async () => {
  assert(ctx.signingKey, 'no signing key (identity check failed)')
  const { data: car } = await sync.getRepo({ did: ctx.did })
  assert(car instanceof Uint8Array && car.length > 0, 'CAR bytes')
  ctx.car = car
  // readCar checks that every block hashes to its CID.
  const { root, blocks } = await readCarWithRoot(car)
  assertEq(root.toString(), ctx.head.cid, 'CAR root is the latest commit')
  const verified = await verifyRepoCar(car, ctx.did, ctx.signingKey)
  assertEq(verified.commit.rev, ctx.head.rev, 'commit rev')
  const got = new Map(verified.creates.map((c) => [key(c.collection, c.rkey), c]))
  assertEq([...got.keys()].sort(), [...ctx.expected.keys()].sort(), 'record paths in the repo')
  for (const [k, { value, cid }] of ctx.expected) {
    assertEq(got.get(k).cid.toString(), cid, `cid of ${k}`)
    const bytes = blocks.get(got.get(k).cid)
    assert(bytes, `the CAR lacks the record block of ${k}`)
    assertEq(cborToLexRecord(bytes), value, `content of ${k}`)
  }
  // The MST must be the canonical one: rebuilding it from the same entries gives the same root.
  const loaded = await Repo.load(new MemoryBlockstore(blocks), root)
  assertEq(loaded.commit.version, 3, 'commit version')
  assertEq(loaded.commit.did, ctx.did, 'commit did')
  let mst = await MST.create(new MemoryBlockstore())
  for (const c of verified.creates) mst = await mst.add(key(c.collection, c.rkey), c.cid)
  assertEq((await mst.getPointer()).toString(), loaded.commit.data.toString(), 'MST root rebuilt from the records')
  ctx.commitData = loaded.commit
})

await check('sync.getRepo does not verify against another key (the check can fail)', async () => {
  assert(ctx.car, 'no CAR')
  const other = (await Secp256k1Keypair.create()).did()
  let threw = false
  try {
    await verifyRepoCar(ctx.car, ctx.did, other)
  } catch {
    threw = true
  }
  assert(threw, 'the repo verified against a random key')
})

await check('sync.getRepo with since returns a newer-blocks CAR rooted at the head', async () => {
  const { data: car } = await sync.getRepo({ did: ctx.did, since: ctx.revAfterPosts })
  const { root, blocks } = await readCarWithRoot(car)
  assertEq(root.toString(), ctx.head.cid, 'root')
  const full = await readCar(ctx.car)
  assert(blocks.size > 0 && blocks.size < full.blocks.size, `since CAR has ${blocks.size} blocks, full has ${full.blocks.size}`)
  assert(blocks.has(root), 'the head commit block is included')
})

await check('sync.getRecord proves presence, with the commit signature', async () => {
  const rkey = ctx.posts[0]
  const { value, cid } = ctx.expected.get(key(POST, rkey))
  const { data: proof } = await sync.getRecord({ did: ctx.did, collection: POST, rkey })
  const records = await verifyRecords(proof, ctx.did, ctx.signingKey)
  const found = records.find((r) => r.collection === POST && r.rkey === rkey)
  assert(found, `proof CAR lacks ${POST}/${rkey}`)
  assertEq(found.record, value, 'record in the proof')
  const { verified } = await verifyProofs(proof, [{ collection: POST, rkey, cid: (await cidForRecord(value)) }], ctx.did, ctx.signingKey)
  assertEq(verified.length, 1, `proof verifies ${cid}`)
})

await check('sync.getRecord for a deleted record: a proof of absence or 400 RecordNotFound', async () => {
  try {
    const { data: proof } = await sync.getRecord({ did: ctx.did, collection: POST, rkey: ctx.deleted })
    const { verified } = await verifyProofs(proof, [{ collection: POST, rkey: ctx.deleted, cid: null }], ctx.did, ctx.signingKey)
    assertEq(verified.length, 1, 'absence proof verifies')
    note('sync.getRecord of a deleted record answers a proof of absence')
  } catch (err) {
    if (err instanceof CheckFailed) throw err
    assert(err.status === 400 && err.error === 'RecordNotFound', `expected a proof or 400 RecordNotFound, got ${describeError(err)}`)
    note('sync.getRecord of a deleted record answers 400 RecordNotFound')
  }
})

await check('sync.getBlocks returns the requested blocks', async () => {
  const recordCid = ctx.expected.get(key(NOTE, 'note-1')).cid
  const { data: car } = await sync.getBlocks({ did: ctx.did, cids: [ctx.head.cid, recordCid] })
  const { blocks } = await readCar(car)
  const cids = []
  for (const [cid] of blocks) cids.push(cid.toString())
  assertEq(cids.sort(), [ctx.head.cid, recordCid].sort(), 'block CIDs')
})

await check('sync.getRepoStatus and sync.listRepos report the account', async () => {
  const { data: st } = await sync.getRepoStatus({ did: ctx.did })
  assertEq([st.did, st.active, st.rev], [ctx.did, true, ctx.head.rev], 'getRepoStatus did, active, rev')
  let cursor
  let mine
  for (let i = 0; i < 100 && !mine; i++) {
    const { data } = await sync.listRepos({ limit: 100, cursor })
    mine = data.repos.find((r) => r.did === ctx.did)
    if (!data.cursor || data.repos.length === 0) break
    cursor = data.cursor
  }
  assert(mine, 'listRepos does not list the account')
  assertEq([mine.head, mine.rev, mine.active], [ctx.head.cid, ctx.head.rev, true], 'listRepos head, rev, active')
})

await check('deprecated sync.getHead and sync.getCheckout name the head', async () => {
  const head = await raw('GET', 'com.atproto.sync.getHead', { params: { did: ctx.did } })
  assertEq(head.json?.root, ctx.head.cid, 'getHead root')
  const checkout = await raw('GET', 'com.atproto.sync.getCheckout', { params: { did: ctx.did } })
  const { root } = await readCarWithRoot(checkout.bytes)
  assertEq(root.toString(), ctx.head.cid, 'getCheckout CAR root')
})

if (opts['admin-password']) {
  await check('createInviteCodes (admin) and getAccountInviteCodes', async () => {
    const res = await raw('POST', 'com.atproto.server.createInviteCodes', {
      body: { codeCount: 2, useCount: 1 },
      auth: basic('admin', opts['admin-password']),
    })
    const codes = res.json?.codes?.flatMap((c) => c.codes) ?? []
    assert(codes.length === 2 && codes.every((c) => typeof c === 'string'), `codes ${JSON.stringify(res.json)}`)
    const { data } = await session.com.atproto.server.getAccountInviteCodes()
    assert(Array.isArray(data.codes), `getAccountInviteCodes ${JSON.stringify(data)}`)
  })
}

// ---------------------------------------------------------------- identity

/** GET with an explicit Host header (fetch does not let one set it). */
function getWithHost(path, host) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: PDS.hostname, port: PDS.port || (PDS.protocol === 'https:' ? 443 : 80), path, method: 'GET', headers: { host } },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode, body }))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

await check('resolveHandle and /.well-known/atproto-did resolve the hosted handle', async () => {
  const { data } = await agent.com.atproto.identity.resolveHandle({ handle: account.handle })
  assertEq(data.did, ctx.did, 'resolveHandle')
  await expectError(
    () => agent.com.atproto.identity.resolveHandle({ handle: `nobody-${rand(8)}${domain}` }),
    400,
    'HandleNotFound',
    'resolveHandle of an unknown handle',
  )
  if (PDS.protocol === 'http:') {
    const wk = await getWithHost('/.well-known/atproto-did', account.handle)
    assertEq([wk.status, wk.body.trim()], [200, ctx.did], '/.well-known/atproto-did with Host: <handle>')
    const unknown = await getWithHost('/.well-known/atproto-did', `nobody-${rand(8)}${domain}`)
    assertEq(unknown.status, 404, '/.well-known/atproto-did for an unknown handle')
  }
})

await check('updateHandle moves the handle (resolveHandle, getSession, describeRepo, PLC)', async () => {
  const next = `e2e-${rand(10)}${domain}`
  await session.com.atproto.identity.updateHandle({ handle: next })
  const { data: resolved } = await agent.com.atproto.identity.resolveHandle({ handle: next })
  assertEq(resolved.did, ctx.did, 'resolveHandle of the new handle')
  await expectError(
    () => agent.com.atproto.identity.resolveHandle({ handle: account.handle }),
    400,
    'HandleNotFound',
    'resolveHandle of the old handle',
  )
  const { data: sess } = await session.com.atproto.server.getSession()
  assertEq(sess.handle, next, 'getSession handle')
  const { data: desc } = await repo.describeRepo({ repo: ctx.did })
  assertEq(desc.handle, next, 'describeRepo handle')
  if (opts.plc) {
    const doc = await plcDocument(opts.plc, ctx.did)
    assertEq(doc.alsoKnownAs, [`at://${next}`], 'PLC alsoKnownAs after updateHandle')
  }
  account.handle = next
  await expectError(
    () => session.com.atproto.identity.updateHandle({ handle: `e2e-${rand(8)}.not-served.example` }),
    400,
    undefined,
    'updateHandle to a foreign handle that does not resolve',
  )
})

// ---------------------------------------------------------------- error answers

await check('wrong password: 401 AuthenticationRequired', () =>
  expectError(() => newAgent().login({ identifier: account.handle, password: `${account.password}x` }), 401, 'AuthenticationRequired', 'createSession'),
)

await check('missing record: 400 RecordNotFound', () =>
  expectError(() => repo.getRecord({ repo: ctx.did, collection: POST, rkey: '2222222222222' }), 400, 'RecordNotFound', 'getRecord'),
)

await check('no token on a write: 401 AuthMissing', () =>
  expectError(
    () => raw('POST', 'com.atproto.repo.createRecord', { body: { repo: ctx.did, collection: NOTE, record: { $type: NOTE } } }),
    401,
    'AuthMissing',
    'createRecord without authorization',
  ),
)

await check('garbage, tampered and wrong-type tokens: 400 InvalidToken', async () => {
  await expectError(() => raw('GET', 'com.atproto.server.getSession', { token: 'not.a.jwt' }), 400, 'InvalidToken', 'garbage token')
  const [h, , s] = session.session.accessJwt.split('.')
  const forged = Buffer.from(JSON.stringify({ ...ctx.accessClaims, sub: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa' })).toString('base64url')
  await expectError(() => raw('GET', 'com.atproto.server.getSession', { token: `${h}.${forged}.${s}` }), 400, 'InvalidToken', 'token with a changed payload')
  await expectError(() => raw('GET', 'com.atproto.server.getSession', { token: session.session.refreshJwt }), 400, 'InvalidToken', 'refresh token used as access token')
  await expectError(() => raw('POST', 'com.atproto.server.refreshSession', { token: session.session.accessJwt }), 400, 'InvalidToken', 'access token used as refresh token')
})

if (opts['jwt-secret']) {
  await check('expired access token: 400 ExpiredToken', async () => {
    const now = Math.floor(Date.now() / 1000)
    const claims = { ...decodeJwt(session.session.accessJwt).payload, iat: now - 3 * 3600, exp: now - 3600 }
    const expired = signHs256({ typ: 'at+jwt', alg: 'HS256' }, claims, opts['jwt-secret'])
    const fresh = signHs256({ typ: 'at+jwt', alg: 'HS256' }, { ...claims, iat: now, exp: now + 600 }, opts['jwt-secret'])
    // The same secret must yield a token the server accepts, or the expiry test proves nothing.
    const ok = await raw('GET', 'com.atproto.server.getSession', { token: fresh })
    assertEq(ok.json?.did, ctx.did, 'a token signed with --jwt-secret is accepted (is the secret right?)')
    await expectError(() => raw('GET', 'com.atproto.server.getSession', { token: expired }), 400, 'ExpiredToken', 'expired token')
  })
} else {
  skip('expired access token: 400 ExpiredToken', 'needs the server JWT secret (--jwt-secret / AERIE_E2E_JWT_SECRET)')
}

await strict('unknown method: 501 MethodNotImplemented', () =>
  expectError(() => raw('GET', 'com.atproto.aerie.noSuchMethod', { token: session.session.accessJwt }), 501, 'MethodNotImplemented', 'unknown com.atproto method'),
)

await check('parameter bounds: listRecords limit 0 and 101, listRepos limit 1001 are 400 InvalidRequest', async () => {
  for (const limit of [0, 101]) {
    await expectError(
      () => raw('GET', 'com.atproto.repo.listRecords', { params: { repo: ctx.did, collection: POST, limit } }),
      400,
      'InvalidRequest',
      `listRecords limit=${limit}`,
    )
  }
  await expectError(() => raw('GET', 'com.atproto.sync.listRepos', { params: { limit: 1001 } }), 400, 'InvalidRequest', 'listRepos limit=1001')
})

await check('wrong HTTP method: 400 InvalidRequest', async () => {
  await expectError(() => raw('GET', 'com.atproto.repo.createRecord', { token: session.session.accessJwt }), 400, 'InvalidRequest', 'GET on a procedure')
  await expectError(
    () => raw('POST', 'com.atproto.repo.listRecords', { params: { repo: ctx.did, collection: POST } }),
    400,
    'InvalidRequest',
    'POST on a query',
  )
})

await strict('malformed JSON body: 400 InvalidRequest', () =>
  expectError(() => raw('POST', 'com.atproto.repo.createRecord', { token: session.session.accessJwt, body: '{bad' }), 400, 'InvalidRequest', 'malformed JSON'),
)

await check('getRecord with a cid that is not the current one: 400 RecordNotFound', () =>
  expectError(
    () => repo.getRecord({ repo: ctx.did, collection: NOTE, rkey: 'note-1', cid: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm' }),
    400,
    'RecordNotFound',
    'getRecord with a stale cid',
  ),
)

await check('unknown repo: 400 RepoNotFound from sync and describeRepo, 400 from getRecord', async () => {
  const nobody = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa'
  await expectError(() => raw('GET', 'com.atproto.sync.getRepo', { params: { did: nobody } }), 400, 'RepoNotFound', 'getRepo')
  await expectError(() => raw('GET', 'com.atproto.sync.getLatestCommit', { params: { did: nobody } }), 400, 'RepoNotFound', 'getLatestCommit')
  await expectError(() => raw('GET', 'com.atproto.repo.describeRepo', { params: { repo: nobody } }), 400, 'RepoNotFound', 'describeRepo')
  // The reference answers InvalidRequest "Could not locate record" here.
  await expectError(
    () => raw('GET', 'com.atproto.repo.getRecord', { params: { repo: nobody, collection: POST, rkey: '2222222222222' } }),
    400,
    ['InvalidRequest', 'RepoNotFound', 'RecordNotFound'],
    'getRecord',
  )
})

const bigBody = () =>
  raw('POST', 'com.atproto.repo.createRecord', {
    token: session.session.accessJwt,
    body: { repo: ctx.did, collection: NOTE, record: { $type: NOTE, body: 'x'.repeat(2_000_000) } },
  })
await check('a 2 MB JSON body is refused with 413', () => expectError(bigBody, 413, undefined, '2 MB createRecord'))
await strict('a 2 MB JSON body is 413 PayloadTooLarge', () => expectError(bigBody, 413, 'PayloadTooLarge', '2 MB createRecord'))

await check('deleteSession revokes the refresh token', async () => {
  const a = newAgent()
  await a.login({ identifier: account.handle, password: account.password })
  const refresh = a.session.refreshJwt
  await raw('POST', 'com.atproto.server.deleteSession', { token: refresh })
  const err = await expectError(
    () => raw('POST', 'com.atproto.server.refreshSession', { token: refresh }),
    400,
    ['ExpiredToken', 'InvalidToken'],
    'refreshSession with a revoked refresh token',
  )
  note(`a revoked refresh token answers ${err.status} ${err.error}: ${err.message}`)
})

if (opts.firehose && !opts.plc) {
  skip('subscribeRepos replay', '@atproto/sync resolves every DID it sees: needs --plc')
} else if (opts.firehose) {
  await check('subscribeRepos replay: #identity, #account, commits that rebuild the records', async () => {
    const events = []
    const errors = []
    const service = `${PDS.protocol === 'https:' ? 'wss' : 'ws'}://${PDS.host}`
    let wake
    const done = new Promise((resolve) => (wake = resolve))
    const firehose = new Firehose({
      service,
      // The default fetch refuses plain-http and loopback URLs (SSRF protection); a
      // local PLC directory is both.
      idResolver: new IdResolver({ plcUrl: opts.plc, fetch: globalThis.fetch }),
      getCursor: () => 0,
      unauthenticatedHandles: true,
      handleEvent: (evt) => {
        if (evt.did !== ctx.did) return
        events.push(evt)
        if ((evt.event === 'create' || evt.event === 'update' || evt.event === 'delete') && evt.rev === ctx.head.rev) wake()
      },
      onError: (err) => {
        errors.push(err)
        if (errors.length >= 3) wake()
      },
    })
    firehose.start()
    // Bounded wait: a server that never sends the last commit fails here instead of hanging.
    const timer = setTimeout(wake, 30_000)
    await done
    clearTimeout(timer)
    await firehose.destroy()
    assert(errors.length === 0, `firehose errors: ${errors.map((e) => `${e.name}: ${e.message} ${e.cause?.message ?? ''}`).join('; ')}`)
    const kinds = events.map((e) => e.event)
    assert(kinds.includes('identity') && kinds.includes('account'), `events: ${kinds.join(',')}`)
    const account = events.find((e) => e.event === 'account')
    assert(account.active === true, 'the #account event says active')
    const seqs = events.map((e) => e.seq)
    assert(seqs.every((q, i) => i === 0 || q >= seqs[i - 1]), 'seq numbers do not decrease')
    const state = new Map()
    for (const e of events) {
      if (e.event === 'create' || e.event === 'update') state.set(key(e.collection, e.rkey), e.cid.toString())
      if (e.event === 'delete') state.delete(key(e.collection, e.rkey))
    }
    const want = new Map([...ctx.expected].map(([k, v]) => [k, v.cid]))
    assertEq([...state].sort(), [...want].sort(), 'records rebuilt from the commit events')
    note(`subscribeRepos: ${events.length} events for the account (${kinds.join(', ')}); commits verified against the PLC key`)
  })
}

if (redirectedOrigins.size > 0) {
  note(`the client wanted to switch to ${[...redirectedOrigins].join(', ')} (DID document PDS endpoint); requests stayed pinned to ${PDS.origin}`)
}
console.log(`account ${account.handle} ${ctx.did}; signing key from ${ctx.signingKeySource}; ${ctx.expected.size} records at rev ${ctx.head?.rev}`)
console.log(summary())
process.exit(failed > 0 ? EXIT_FAILED : 0)
