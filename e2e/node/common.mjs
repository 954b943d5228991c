// Pieces shared by journey.mjs and crash.mjs.
import { AtpAgent } from '@atproto/api'
import { P256_JWT_ALG, SECP256K1_JWT_ALG, formatDidKey, multibaseToBytes, parseMultikey } from '@atproto/crypto'

/**
 * A fetch that sends every request to `pds`. The official client switches to the
 * PDS named in the account's DID document (for example http://localhost:PORT or
 * https://<hostname>); a test must keep talking to the server under test.
 * `redirected` collects the origins the client asked for instead.
 */
export function pinnedFetch(pds, { redirected = new Set(), verbose = false } = {}) {
  return async (input, init) => {
    const req = input instanceof Request ? input : new Request(input, init)
    const url = new URL(req.url)
    if (url.origin !== pds.origin) {
      redirected.add(url.origin)
      url.protocol = pds.protocol
      url.host = pds.host
    }
    if (verbose) console.log(`  -> ${req.method} ${url.pathname}${url.search}`)
    const body = req.body === null ? undefined : await req.arrayBuffer()
    return fetch(url, { method: req.method, headers: req.headers, body, redirect: 'manual' })
  }
}

/** An AtpAgent whose requests all go to `pds` (see pinnedFetch). */
export function pinnedAgent(pds, opts) {
  return new AtpAgent({ service: pds.href, fetch: pinnedFetch(pds, opts) })
}

/**
 * The account's repo signing key as a did:key, from a DID document. Documents carry
 * it as a Multikey (current PLC directory) or in the legacy form (type
 * EcdsaSecp256k1VerificationKey2019 / EcdsaSecp256r1VerificationKey2019 with bare key
 * bytes, as @did-plc/lib 0.0.4 still writes). Throws on anything else.
 */
export function signingKeyOf(doc) {
  const vm = doc?.verificationMethod?.find((m) => m.id === '#atproto' || m.id === `${doc.id}#atproto`)
  if (!vm?.publicKeyMultibase) {
    throw new Error(`DID document has no #atproto key: ${JSON.stringify(doc?.verificationMethod)}`)
  }
  const legacyAlg = { EcdsaSecp256k1VerificationKey2019: SECP256K1_JWT_ALG, EcdsaSecp256r1VerificationKey2019: P256_JWT_ALG }[vm.type]
  if (legacyAlg) return formatDidKey(legacyAlg, multibaseToBytes(vm.publicKeyMultibase))
  if (vm.type !== 'Multikey') throw new Error(`unknown verification method type ${vm.type}`)
  parseMultikey(vm.publicKeyMultibase) // throws on an unsupported key
  return `did:key:${vm.publicKeyMultibase}`
}

/** The DID document of `did` from a PLC directory. */
export async function plcDocument(plcUrl, did) {
  const res = await fetch(new URL(`/${did}`, plcUrl))
  if (res.status !== 200) throw new Error(`PLC directory ${plcUrl} answered ${res.status} for ${did}`)
  return res.json()
}

export const basicAuth = (user, pass) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`
