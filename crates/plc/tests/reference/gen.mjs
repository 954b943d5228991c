// Regenerates the reference vectors in ../reference.rs with the did:plc reference library.
//
//   bash crates/plc/tests/reference/gen.sh
//
// Keys are fixed, and secp256k1 signing in @atproto/crypto is deterministic (RFC 6979,
// low-S), so every operation, CID and DID printed here is reproducible byte for byte.
// (P-256 signing in that version goes through WebCrypto, which is randomised, so a P-256
// key only appears as a rotation key, never as a signer.)
import { createRequire } from 'node:module'
import path from 'node:path'

const dir = process.env.AERIE_PLC_REF_DIR ?? '/tmp/aerie-plc-ref'
const require = createRequire(path.join(dir, 'package.json'))
const plc = require('@did-plc/lib')
const libRequire = createRequire(require.resolve('@did-plc/lib'))
const { Secp256k1Keypair } = libRequire('@atproto/crypto')
const { cidForCbor } = libRequire('@atproto/common')

const hex = (byte) => byte.repeat(32)
const rotationK = await Secp256k1Keypair.import(hex('01'))
// A P-256 key from the atproto interop fixtures (crypto/w3c_didkey_P256.json).
const rotationP = 'did:key:zDnaeTiq1PdzvZXUaMdezchcMJQpBdH2VN4pgrrEhMCCbmwSb'
const signing = await Secp256k1Keypair.import(hex('03'))

const out = {}
const entry = async (op) => ({ op, cid: (await cidForCbor(op)).toString() })

const { op: genesis, did } = await plc.createOp({
  signingKey: signing.did(),
  handle: 'alice.test',
  pds: 'https://pds.test',
  rotationKeys: [rotationK.did(), rotationP],
  signer: rotationK,
})
out.did = did
out.genesis = await entry(genesis)
const handle = await plc.updateHandleOp(genesis, rotationK, 'bob.test')
out.handle = await entry(handle)
const tomb = await plc.tombstoneOp(await cidForCbor(handle), rotationK)
out.tombstone = await entry(tomb)

// Check the reference itself accepts the chain it built.
const indexed = []
for (const op of [genesis, handle, tomb]) {
  await plc.assureValidNextOp(did, indexed, op)
  indexed.push({ did, operation: op, cid: await cidForCbor(op), nullified: false, createdAt: new Date() })
}

const legacy = await plc.deprecatedSignCreate(
  {
    type: 'create',
    signingKey: signing.did(),
    recoveryKey: rotationK.did(),
    handle: 'old.test',
    service: 'https://pds.test',
    prev: null,
  },
  signing,
)
out.legacy = await entry(legacy)
out.legacyDid = await plc.didForCreateOp(legacy)
await plc.assureValidNextOp(out.legacyDid, [], legacy)

console.log(JSON.stringify(out, null, 2))
