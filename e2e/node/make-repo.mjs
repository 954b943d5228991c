// Builds repositories with the official @atproto/repo, signed with @atproto/crypto keys
// (one secp256k1, one P-256), for crates/aerie/tests/official_repo_interop.rs.
//
//   node e2e/node/make-repo.mjs OUTDIR [N]      (N records created in total, default 300)
//
// For each curve, OUTDIR/<k256|p256>/ gets:
//   repo.car       the full repo as getRepo exports it (@atproto/repo's getFullRepo)
//   expected.json  {did, key, wrongKey, commit, rev, data, counts: {collection: n},
//                   records: [{uri, cid, value}] sorted by path, values by @atproto/lex-json lexToJson}
//   slice-NNN.car  the #commit blocks of every commit after the first, as the official PDS
//                  sends them (formatSeqCommit: newBlocks + relevantBlocks; root = the commit)
//   slices.json    [{file, commit, rev, since, data, prevData, ops: [{action, path, cid, prev}]}]
// OUTDIR/moved/ holds one more case (secp256k1): a commit that deletes a like and creates
// the same record under a new key. slice.car and slice.json as above, plus recordCid and
// recordInSlice (whether the created record's block made it into the event's blocks).
// Records span several collections: posts with facets, embeds and langs, likes and reposts
// (strongRefs), follows, a profile with a blob ref, a record with bytes and a link, unicode
// text and keys of every allowed rkey character class; later commits update and delete.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { P256Keypair, Secp256k1Keypair } from '@atproto/crypto'
// The official atproto JSON form (links as {$link}, bytes as unpadded {$bytes}); pinned by
// package-lock.json as a dependency of @atproto/api.
import { lexToJson } from '@atproto/lex-json'
import { BlockMap, MemoryBlockstore, Repo, WriteOpAction, blocksToCarFile, getFullRepo } from '@atproto/repo'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'

const [outDir, nArg] = process.argv.slice(2)
if (!outDir) {
  console.error('usage: node make-repo.mjs OUTDIR [N]')
  process.exit(2)
}
const N = Number(nArg ?? 300)
if (!Number.isInteger(N) || N < 20) {
  console.error('N must be an integer >= 20')
  process.exit(2)
}

// Deterministic pseudo-randomness, so a failure can be reproduced with the same N.
let seed = 0x2545f491
function rand(n) {
  seed ^= seed << 13
  seed ^= seed >>> 17
  seed ^= seed << 5
  return (seed >>> 0) % n
}
const pick = (xs) => xs[rand(xs.length)]

// TIDs: 53-bit microsecond timestamp + 10-bit clock id, base32-sortable, 13 characters.
const S32 = '234567abcdefghijklmnopqrstuvwxyz'
let tidClock = 1_700_000_000_000_000n
function nextTid() {
  tidClock += BigInt(1 + rand(1_000_000))
  let v = (tidClock << 10n) | BigInt(rand(1024))
  let s = ''
  for (let i = 0; i < 13; i++) {
    s = S32[Number(v & 31n)] + s
    v >>= 5n
  }
  return s
}

const TEXTS = [
  'hello world',
  'Grüße aus Köln — naïve café',
  '日本語のテキスト、絵文字 🦅🏔️ と 👩‍👩‍👧‍👦',
  'עברית ومعها العربية mixed RTL',
  'e\u0301 (NFD) vs \u00e9 (NFC)',
  'tabs\tand\nnewlines\r\n"quotes" \\ backslash',
  'zero width\u200bjoiner and \ufeff BOM',
  '𝕬𝖊𝖗𝖎𝖊 astral plane 𐍈',
  '',
]
const did = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
const rawCid = (label) => CID.create(1, 0x55, sha256.digest(new TextEncoder().encode(label)))

function facetText() {
  const text = `${pick(TEXTS)} @alice.test #aerie https://example.com/ü`
  const bytes = Buffer.from(text, 'utf8')
  const at = bytes.indexOf('@alice.test')
  const tag = bytes.indexOf('#aerie')
  const link = bytes.indexOf('https://')
  return {
    text,
    facets: [
      { index: { byteStart: at, byteEnd: at + 11 }, features: [{ $type: 'app.bsky.richtext.facet#mention', did }] },
      { index: { byteStart: tag, byteEnd: tag + 6 }, features: [{ $type: 'app.bsky.richtext.facet#tag', tag: 'aerie' }] },
      {
        index: { byteStart: link, byteEnd: bytes.length },
        features: [{ $type: 'app.bsky.richtext.facet#link', uri: 'https://example.com/ü' }],
      },
    ],
  }
}

function post(i, posts) {
  const rec = { $type: 'app.bsky.feed.post', text: pick(TEXTS), createdAt: new Date(1_700_000_000_000 + i * 1000).toISOString() }
  switch (i % 5) {
    case 1:
      Object.assign(rec, facetText(), { langs: ['en', 'ja'] })
      break
    case 2:
      rec.embed = {
        $type: 'app.bsky.embed.external',
        external: { uri: 'https://example.com/a?b=c', title: pick(TEXTS), description: 'd', thumb: { $type: 'blob', ref: rawCid(`thumb${i}`), mimeType: 'image/jpeg', size: 1000 + i } },
      }
      break
    case 3:
      if (posts.length) {
        const parent = pick(posts)
        rec.reply = { root: parent, parent }
        rec.embed = {
          $type: 'app.bsky.embed.images',
          images: [
            { alt: pick(TEXTS), image: { $type: 'blob', ref: rawCid(`img${i}a`), mimeType: 'image/png', size: 4096 }, aspectRatio: { width: 4, height: 3 } },
            { alt: '', image: { $type: 'blob', ref: rawCid(`img${i}b`), mimeType: 'image/webp', size: 1 } },
          ],
        }
      }
      break
    case 4:
      if (posts.length) rec.embed = { $type: 'app.bsky.embed.record', record: pick(posts) }
      rec.labels = { $type: 'com.atproto.label.defs#selfLabels', values: [{ val: 'nudity' }] }
      break
  }
  return rec
}

// Non-TID record keys using every character class the rkey syntax allows.
const ODD_KEYS = ['self', 'a', 'Zz-_.:~09', 'x'.repeat(64), '3jzfcijpj2z2a', 'aerie.test:key~1']

async function build(label, keypair) {
  const key = keypair.did()
  const storage = new MemoryBlockstore()
  const profile = {
    $type: 'app.bsky.actor.profile',
    displayName: '🦅 Aerie テスト',
    description: pick(TEXTS),
    avatar: { $type: 'blob', ref: rawCid(`avatar-${label}`), mimeType: 'image/png', size: 12345 },
    banner: { $type: 'blob', ref: rawCid(`banner-${label}`), mimeType: 'image/jpeg', size: 2 ** 31 },
  }
  let repo = await Repo.create(storage, did, keypair, [
    { action: WriteOpAction.Create, collection: 'app.bsky.actor.profile', rkey: 'self', record: profile },
  ])
  const live = new Map([['app.bsky.actor.profile/self', { collection: 'app.bsky.actor.profile', rkey: 'self' }]])
  const posts = [] // strongRefs of posts created so far
  const slices = []
  let created = 1
  let commitNo = 0
  const dir = join(outDir, label)
  mkdirSync(dir, { recursive: true })

  const newRecord = async (i) => {
    const kind = i % 10
    let collection
    let rkey = nextTid()
    let record
    if (kind < 5) {
      collection = 'app.bsky.feed.post'
      record = post(i, posts)
    } else if (kind < 7 && posts.length) {
      collection = 'app.bsky.feed.like'
      record = { $type: collection, subject: pick(posts), createdAt: new Date(1_704_164_645_678 + i).toISOString() }
    } else if (kind === 7 && posts.length) {
      collection = 'app.bsky.feed.repost'
      record = { $type: collection, subject: pick(posts), createdAt: `2024-01-02T03:04:${String(i % 60).padStart(2, '0')}Z`, via: { n: i } }
    } else if (kind === 8) {
      collection = 'app.bsky.graph.follow'
      record = { $type: collection, subject: `did:plc:${String(i).padStart(24, 'a').slice(0, 24)}`, createdAt: '2024-12-31T23:59:59.999Z', n: i }
    } else {
      // A collection nobody describes, with the data model's other types: bytes, links,
      // nested arrays, null, booleans and extreme safe integers.
      collection = 'com.example.aerie.misc'
      if (i < ODD_KEYS.length * 10 && ODD_KEYS[Math.floor(i / 10)]) rkey = ODD_KEYS[Math.floor(i / 10)]
      record = {
        $type: collection,
        bytes: new Uint8Array([0, 1, 2, 253, 254, 255, i & 255]),
        empty: new Uint8Array([]),
        link: CID.create(1, 0x71, sha256.digest(new TextEncoder().encode(`link${i}`))),
        nested: { a: [1, [2, [3, { deep: null }]]], b: true, c: false, '': 'empty key', 'ü🦅': 'unicode key' },
        ints: [0, -1, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 32, -(2 ** 32) - 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER],
        text: pick(TEXTS),
      }
    }
    return { collection, rkey, record }
  }

  const commit = async (writes) => {
    const prevData = repo.commit.data
    const before = new Map()
    for (const w of writes) {
      if (w.action !== WriteOpAction.Create) before.set(`${w.collection}/${w.rkey}`, await repo.data.get(`${w.collection}/${w.rkey}`))
    }
    const data = await repo.formatCommit(writes, keypair)
    const ops = []
    for (const w of writes) {
      const path = `${w.collection}/${w.rkey}`
      const cid = w.action === WriteOpAction.Delete ? null : (await storageCidOf(data, w.record)).toString()
      const prev = w.action === WriteOpAction.Create ? null : before.get(path).toString()
      ops.push({ action: w.action, path, cid, prev })
    }
    const car = await blocksToCarFile(data.cid, eventBlocks(data))
    repo = await repo.applyCommit(data)
    commitNo += 1
    const file = `slice-${String(commitNo).padStart(3, '0')}.car`
    writeFileSync(join(dir, file), car)
    slices.push({ file, commit: data.cid.toString(), rev: data.rev, since: data.since, data: repo.commit.data.toString(), prevData: prevData.toString(), ops })
  }

  while (created < N) {
    const writes = []
    const batch = Math.min(N - created, 1 + rand(12))
    for (let j = 0; j < batch; j++) {
      const w = await newRecord(created)
      const path = `${w.collection}/${w.rkey}`
      if (live.has(path) || writes.some((x) => `${x.collection}/${x.rkey}` === path)) {
        w.rkey = nextTid()
      }
      writes.push({ action: WriteOpAction.Create, ...w })
      created += 1
    }
    // Later commits also update and delete earlier records.
    const touched = new Set(writes.map((w) => `${w.collection}/${w.rkey}`))
    if (commitNo >= 2) {
      const paths = [...live.keys()].filter((p) => !touched.has(p))
      if (paths.length > 4 && rand(2) === 0) {
        const p = pick(paths)
        touched.add(p)
        const { collection, rkey } = live.get(p)
        const old = await repo.getRecord(collection, rkey)
        writes.push({ action: WriteOpAction.Update, collection, rkey, record: { ...old, updated: `rev ${commitNo} ✓` } })
      }
      const rest = paths.filter((p) => !touched.has(p) && p !== 'app.bsky.actor.profile/self')
      if (rest.length > 4 && rand(3) === 0) {
        const p = pick(rest)
        const { collection, rkey } = live.get(p)
        writes.push({ action: WriteOpAction.Delete, collection, rkey })
        live.delete(p)
        const i = posts.findIndex((s) => s.uri === `at://${did}/${p}`)
        if (i >= 0) posts.splice(i, 1)
      }
    }
    await commit(writes)
    for (const w of writes) {
      if (w.action !== WriteOpAction.Create) continue
      const path = `${w.collection}/${w.rkey}`
      live.set(path, { collection: w.collection, rkey: w.rkey })
      if (w.collection === 'app.bsky.feed.post') {
        posts.push({ uri: `at://${did}/${path}`, cid: (await repo.data.get(path)).toString() })
      }
    }
  }
  // The profile is updated last: a change to the only non-TID key in its collection.
  const prof = await repo.getRecord('app.bsky.actor.profile', 'self')
  await commit([{ action: WriteOpAction.Update, collection: 'app.bsky.actor.profile', rkey: 'self', record: { ...prof, displayName: 'Aerie ✓' } }])

  const chunks = []
  for await (const chunk of getFullRepo(storage, repo.cid)) chunks.push(chunk)
  writeFileSync(join(dir, 'repo.car'), Buffer.concat(chunks))

  const records = []
  const counts = {}
  for await (const r of repo.walkRecords()) {
    records.push({ uri: `at://${did}/${r.collection}/${r.rkey}`, cid: r.cid.toString(), value: lexToJson(r.record) })
    counts[r.collection] = (counts[r.collection] ?? 0) + 1
  }
  const wrong = label === 'k256' ? await Secp256k1Keypair.create() : await P256Keypair.create()
  const expected = { did, key, wrongKey: wrong.did(), commit: repo.cid.toString(), rev: repo.commit.rev, data: repo.commit.data.toString(), counts, records }
  writeFileSync(join(dir, 'expected.json'), JSON.stringify(expected, null, 1))
  writeFileSync(join(dir, 'slices.json'), JSON.stringify(slices, null, 1))
  console.log(`${label}: ${records.length} records, ${slices.length} later commits, commit ${repo.cid} rev ${repo.commit.rev}`)
}

// The blocks of the #commit event the official PDS would emit for `data`.
function eventBlocks(data) {
  const m = new BlockMap()
  m.addMap(data.newBlocks)
  m.addMap(data.relevantBlocks)
  return m
}

// A record moved to a new key in one commit: its CID is both deleted and created, and
// @atproto/repo's DataDiff cancels the two, so the block is not "new".
async function moved(keypair) {
  const storage = new MemoryBlockstore()
  const like = { $type: 'app.bsky.feed.like', subject: { uri: `at://${did}/app.bsky.feed.post/3jzfcijpj2z2a`, cid: rawCid('x').toString() }, createdAt: '2024-01-02T03:04:05.678Z' }
  let repo = await Repo.create(storage, did, keypair, [{ action: WriteOpAction.Create, collection: 'app.bsky.feed.like', rkey: '3jzfcijpj2z2a', record: like }])
  const prevData = repo.commit.data
  const old = await repo.data.get('app.bsky.feed.like/3jzfcijpj2z2a')
  const writes = [
    { action: WriteOpAction.Delete, collection: 'app.bsky.feed.like', rkey: '3jzfcijpj2z2a' },
    { action: WriteOpAction.Create, collection: 'app.bsky.feed.like', rkey: '3kaaaaaaaaaa2', record: like },
  ]
  const data = await repo.formatCommit(writes, keypair)
  const blocks = eventBlocks(data)
  const dir = join(outDir, 'moved')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'slice.car'), await blocksToCarFile(data.cid, blocks))
  repo = await repo.applyCommit(data)
  const ops = [
    { action: 'delete', path: 'app.bsky.feed.like/3jzfcijpj2z2a', cid: null, prev: old.toString() },
    { action: 'create', path: 'app.bsky.feed.like/3kaaaaaaaaaa2', cid: old.toString(), prev: null },
  ]
  const slice = { file: 'slice.car', did, key: keypair.did(), commit: data.cid.toString(), rev: data.rev, since: data.since, data: repo.commit.data.toString(), prevData: prevData.toString(), ops, recordCid: old.toString(), recordInSlice: blocks.has(old) }
  writeFileSync(join(dir, 'slice.json'), JSON.stringify(slice, null, 1))
  console.log(`moved: record block in the event: ${slice.recordInSlice}`)
}

// The CID @atproto/repo gave a written record: the leaf block in the commit whose bytes
// decode to it is found by re-encoding through the same BlockMap it used.
async function storageCidOf(data, record) {
  const m = new BlockMap()
  const cid = await m.add(record)
  if (!data.newBlocks.has(cid) && !data.relevantBlocks.has(cid)) {
    throw new Error(`record block ${cid} is not in the commit's blocks`)
  }
  return cid
}

const seedKey = (label) => createHash('sha256').update(`aerie interop ${label}`).digest()
await build('k256', await Secp256k1Keypair.import(seedKey('k256')))
await build('p256', await P256Keypair.import(seedKey('p256')))
await moved(await Secp256k1Keypair.import(seedKey('k256')))
