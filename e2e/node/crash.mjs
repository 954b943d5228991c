// Client side of the crash test (issue 6, part 8): write under load with the
// official client, let the server be killed (SIGKILL) mid-write, restart it, and
// check that every acknowledged write is there and every repo verifies.
//
// usage: node crash.mjs load   PDS_URL --journal FILE [--accounts N] [--writes N]
//                              [--admin-password P] [--invite-code C]
//        node crash.mjs verify PDS_URL --journal FILE [--plc URL]
//
// load: creates N accounts, then each writes sequentially (one write in flight per
// account, all accounts concurrently) until --writes per account are done or the
// server stops answering. Before a write it appends an "intent" line to the journal,
// after the server acknowledges it an "ack" line; a write without an ack may or may
// not have been applied. Exits 0 once every account has stopped (done, or connection
// lost), 1 if the server refused a write with an error answer.
// verify: for every account, getRepo is verified with @atproto/repo against the
// account's signing key (PLC directory if --plc, else getRecommendedDidCredentials),
// and its records must equal the acknowledged state, except that the one
// unacknowledged write per account may be applied entirely or not at all.
// exit: 0 ok, 1 verification failed, 2 usage, 4 server unreachable.
import fs from 'node:fs'
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { cborToLexRecord, cidForRecord, readCarWithRoot, verifyRepoCar } from '@atproto/repo'
import { basicAuth, pinnedAgent, plcDocument, signingKeyOf } from './common.mjs'

const COLLECTION = 'com.example.aerie.crash'
const USAGE = `usage: node crash.mjs load PDS_URL --journal FILE [--accounts N] [--writes N] [--admin-password P] [--invite-code C]
       node crash.mjs verify PDS_URL --journal FILE [--plc URL]`

let parsed
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      journal: { type: 'string' },
      accounts: { type: 'string', default: '4' },
      writes: { type: 'string', default: '1000000' },
      plc: { type: 'string', default: process.env.AERIE_E2E_PLC_URL || undefined },
      'admin-password': { type: 'string', default: process.env.AERIE_E2E_ADMIN_PASSWORD || undefined },
      'invite-code': { type: 'string', default: process.env.AERIE_E2E_INVITE_CODE || undefined },
    },
  })
} catch (err) {
  console.error(`${err.message}\n${USAGE}`)
  process.exit(2)
}
const [mode, url] = parsed.positionals
const opts = parsed.values
if (!['load', 'verify'].includes(mode) || !url || !opts.journal || parsed.positionals.length !== 2) {
  console.error(USAGE)
  process.exit(2)
}
const PDS = new URL(url)
const rand = (n) => Array.from(randomBytes(n), (b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join('')

/** True for errors that mean "no answer from the server" rather than an XRPC error. */
const isConnectionError = (err) => typeof err?.status !== 'number' || err.status === 1

if (mode === 'load') process.exit(await load())
process.exit(await verify())

async function load() {
  const accounts = Number.parseInt(opts.accounts, 10)
  const writes = Number.parseInt(opts.writes, 10)
  if (!(accounts >= 1 && accounts <= 100) || !(writes >= 1)) {
    console.error('--accounts must be 1..100 and --writes >= 1')
    return 2
  }
  // Each line is appended with one write(2): a line is in the journal only once it is complete.
  const journal = (entry) => fs.appendFileSync(opts.journal, `${JSON.stringify(entry)}\n`)
  const anon = pinnedAgent(PDS)
  let server
  try {
    server = (await anon.com.atproto.server.describeServer()).data
  } catch (err) {
    console.error(`crash.mjs: server unreachable at ${PDS.origin}: ${err.message}`)
    return 4
  }
  const domain = server.availableUserDomains[0].startsWith('.') ? server.availableUserDomains[0] : `.${server.availableUserDomains[0]}`
  const agents = []
  for (let i = 0; i < accounts; i++) {
    let inviteCode = opts['invite-code']
    if (opts['admin-password']) {
      const { data } = await anon.com.atproto.server.createInviteCode({ useCount: 1 }, { headers: { authorization: basicAuth('admin', opts['admin-password']) } })
      inviteCode = data.code
    }
    const agent = pinnedAgent(PDS)
    const handle = `crash-${rand(8)}${domain}`
    const password = `pw-${rand(16)}`
    await agent.createAccount({ handle, email: `${handle}@example.com`, password, inviteCode })
    journal({ t: 'account', did: agent.session.did, handle, password })
    agents.push(agent)
  }
  console.log(`crash.mjs: ${accounts} accounts created; writing (journal ${opts.journal})`)
  const results = await Promise.all(agents.map((agent) => writeLoop(agent, writes, journal)))
  const counts = results.map((r) => r.acked)
  console.log(`crash.mjs: ${counts.reduce((a, b) => a + b, 0)} writes acknowledged (${counts.join(', ')} per account)`)
  // A write the server answered with an error (not a dropped connection) is a server bug.
  return results.some((r) => r.refused) ? 1 : 0
}

async function writeLoop(agent, writes, journal) {
  const did = agent.session.did
  const live = [] // rkeys that exist after the acknowledged writes
  let acked = 0
  for (let seq = 0; seq < writes; seq++) {
    // A mix: single creates, deletes of live records, and 3-op applyWrites batches.
    const roll = randomBytes(1)[0] / 256
    let ops
    if (live.length >= 3 && roll < 0.2) {
      ops = [{ action: 'delete', rkey: live[Math.floor((randomBytes(1)[0] / 256) * live.length)] }]
    } else if (roll < 0.35) {
      ops = [0, 1, 2].map((i) => ({ action: 'create', rkey: `s${seq}-${i}`, value: { $type: COLLECTION, seq, i, at: new Date().toISOString() } }))
    } else {
      ops = [{ action: 'create', rkey: `s${seq}`, value: { $type: COLLECTION, seq, at: new Date().toISOString() } }]
    }
    for (const op of ops) if (op.value) op.cid = (await cidForRecord(op.value)).toString()
    journal({ t: 'intent', did, seq, ops })
    let res
    try {
      if (ops.length === 1 && ops[0].action === 'create') {
        res = (await agent.com.atproto.repo.createRecord({ repo: did, collection: COLLECTION, rkey: ops[0].rkey, record: ops[0].value })).data
      } else if (ops.length === 1) {
        res = (await agent.com.atproto.repo.deleteRecord({ repo: did, collection: COLLECTION, rkey: ops[0].rkey })).data
      } else {
        res = (
          await agent.com.atproto.repo.applyWrites({
            repo: did,
            writes: ops.map((op) => ({ $type: 'com.atproto.repo.applyWrites#create', collection: COLLECTION, rkey: op.rkey, value: op.value })),
          })
        ).data
      }
    } catch (err) {
      if (isConnectionError(err)) return { acked, refused: false }
      console.error(`crash.mjs: ${did} write ${seq} refused: ${err.status} ${err.error}: ${err.message}`)
      return { acked, refused: true }
    }
    journal({ t: 'ack', did, seq, rev: res?.commit?.rev })
    acked++
    for (const op of ops) {
      if (op.action === 'create') live.push(op.rkey)
      else live.splice(live.indexOf(op.rkey), 1)
    }
  }
  return { acked, refused: false }
}

async function verify() {
  let lines
  try {
    lines = fs.readFileSync(opts.journal, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
  } catch (err) {
    console.error(`crash.mjs: cannot read the journal ${opts.journal}: ${err.message}`)
    return 2
  }
  const accounts = new Map()
  for (const e of lines) {
    if (e.t === 'account') accounts.set(e.did, { ...e, state: new Map(), pending: null, lastRev: null, acks: 0 })
    const a = accounts.get(e.did)
    if (e.t === 'intent') a.pending = e
    if (e.t === 'ack') {
      if (!a.pending || a.pending.seq !== e.seq) throw new Error(`journal: ack ${e.seq} without its intent for ${e.did}`)
      for (const op of a.pending.ops) {
        if (op.action === 'create') a.state.set(op.rkey, op.cid)
        else a.state.delete(op.rkey)
      }
      a.pending = null
      a.lastRev = e.rev ?? a.lastRev
      a.acks++
    }
  }
  try {
    await fetch(new URL('/xrpc/_health', PDS))
  } catch (err) {
    console.error(`crash.mjs: server unreachable at ${PDS.origin}: ${err.cause?.message ?? err.message}`)
    return 4
  }
  let failures = 0
  let checkedWrites = 0
  for (const a of accounts.values()) {
    try {
      checkedWrites += a.acks
      await verifyAccount(a)
      console.log(`ok   ${a.did}: ${a.acks} acknowledged writes present, ${a.state.size} records, repo verifies${a.pending ? ` (last write unacknowledged: ${a.applied ? 'applied' : 'not applied'})` : ''}`)
    } catch (err) {
      failures++
      console.log(`FAIL ${a.did}: ${err.message}`)
    }
  }
  console.log(`crash.mjs verify: ${accounts.size - failures} accounts passed, ${failures} failed; ${checkedWrites} acknowledged writes checked`)
  return failures ? 1 : 0
}

async function verifyAccount(a) {
  const agent = pinnedAgent(PDS)
  await agent.login({ identifier: a.did, password: a.password })
  let key
  if (opts.plc) {
    key = signingKeyOf(await plcDocument(opts.plc, a.did))
  } else {
    key = (await agent.com.atproto.identity.getRecommendedDidCredentials()).data.verificationMethods?.atproto
  }
  const { data: car } = await agent.com.atproto.sync.getRepo({ did: a.did })
  const verified = await verifyRepoCar(car, a.did, key)
  const { blocks } = await readCarWithRoot(car)
  const got = new Map()
  for (const c of verified.creates) {
    if (c.collection !== COLLECTION) continue
    got.set(c.rkey, c.cid.toString())
    cborToLexRecord(blocks.get(c.cid)) // the record block is there and decodes
  }
  if (a.lastRev && verified.commit.rev < a.lastRev) {
    throw new Error(`repo rev ${verified.commit.rev} is older than the last acknowledged ${a.lastRev}`)
  }
  const before = a.state
  const after = new Map(before)
  if (a.pending) {
    for (const op of a.pending.ops) {
      if (op.action === 'create') after.set(op.rkey, op.cid)
      else after.delete(op.rkey)
    }
  }
  const same = (x, y) => x.size === y.size && [...x].every(([k, v]) => y.get(k) === v)
  if (same(got, before)) {
    a.applied = false
    return
  }
  if (a.pending && same(got, after)) {
    a.applied = true
    return
  }
  const missing = [...before].filter(([k, v]) => got.get(k) !== v && after.get(k) !== got.get(k)).map(([k]) => k)
  const extra = [...got.keys()].filter((k) => !before.has(k) && !after.has(k))
  throw new Error(`records differ from the acknowledged state: missing or changed ${JSON.stringify(missing.slice(0, 10))}, unexpected ${JSON.stringify(extra.slice(0, 10))} (${got.size} in repo, ${before.size} acknowledged)`)
}
