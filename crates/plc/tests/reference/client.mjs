// Drives a running PLC directory with the reference client (@did-plc/lib's Client) and
// checks the answers with the reference validator. Exits non-zero on the first mismatch.
//
//   bash crates/plc/tests/reference/client.sh    (starts `aerie plc`, runs this, stops it)
import { createRequire } from 'node:module'
import path from 'node:path'
import assert from 'node:assert/strict'

const dir = process.env.AERIE_PLC_REF_DIR ?? '/tmp/aerie-plc-ref'
const url = process.argv[2] ?? 'http://127.0.0.1:2582'
const require = createRequire(path.join(dir, 'package.json'))
const plc = require('@did-plc/lib')
const libRequire = createRequire(require.resolve('@did-plc/lib'))
const { Secp256k1Keypair } = libRequire('@atproto/crypto')

const client = new plc.Client(url)
const rotation = await Secp256k1Keypair.create()
const recovery = await Secp256k1Keypair.create()
const signing = await Secp256k1Keypair.create()

assert.ok((await client.health()).version)

const did = await client.createDid({
  signingKey: signing.did(),
  handle: 'alice.test',
  pds: 'https://pds.test',
  rotationKeys: [recovery.did(), rotation.did()],
  signer: rotation,
})
console.log('created', did)

const doc = await client.getDocument(did)
assert.equal(doc.id, did)
assert.deepEqual(doc.alsoKnownAs, ['at://alice.test'])
assert.equal(doc.service[0].serviceEndpoint, 'https://pds.test')

await client.updateHandle(did, rotation, 'bob.test')
await client.updatePds(did, rotation, 'https://pds2.test')
const data = await client.getDocumentData(did)
assert.deepEqual(data.alsoKnownAs, ['at://bob.test'])
assert.equal(data.services.atproto_pds.endpoint, 'https://pds2.test')
assert.deepEqual(data.rotationKeys, [recovery.did(), rotation.did()])

// A key that is not a rotation key is refused with a 400 and a message.
const attacker = await Secp256k1Keypair.create()
await assert.rejects(client.updateHandle(did, attacker, 'evil.test'), (err) => {
  assert.equal(err.status, 400)
  assert.match(err.data.message, /signature/)
  return true
})

// Recovery: the higher-priority key rewrites history back to the genesis.
const audit = await client.getAuditableLog(did)
assert.equal(audit.length, 3)
const genesis = audit[0].operation
const recoveryOp = await plc.updateHandleOp(genesis, recovery, 'recovered.test')
await client.sendOperation(did, recoveryOp)
const afterRecovery = await client.getAuditableLog(did)
assert.deepEqual(afterRecovery.map((e) => e.nullified), [false, true, true, false])

// The reference validator accepts the served log and derives the same state.
const ops = await client.getOperationLog(did)
const validated = await plc.validateOperationLog(did, ops)
assert.deepEqual(validated.alsoKnownAs, ['at://recovered.test'])
assert.deepEqual(await client.getLastOp(did), recoveryOp)

await client.tombstone(did, recovery)
await assert.rejects(client.getDocument(did), (err) => err.status === 410 || err.status === 404)
assert.equal(await plc.validateOperationLog(did, await client.getOperationLog(did)), null)

const exported = await client.export()
assert.ok(exported.some((e) => e.did === did))
console.log('reference client: all checks passed against', url)
