// The official @atproto/sync Firehose consumer against a PDS's subscribeRepos.
//
// usage: node firehose.mjs WS_SERVICE PLC_URL COUNT
//   WS_SERVICE  e.g. ws://127.0.0.1:2583 (the consumer appends /xrpc/com.atproto.sync.subscribeRepos)
//   PLC_URL     PLC directory used to resolve each DID's signing key; use http://localhost:PORT,
//               the reference resolver refuses IP-address URLs
//   COUNT       stop after this many commit ops (create/update/delete)
//
// Replays from cursor 0 with commit verification ON (the default: signature against the DID's
// #atproto key, and the ops proven by inverting them on the MST in the event's blocks). Prints
// one JSON object: { ops: [{seq, did, action, path, cid}], kinds: [..], errors: [..] }.
// Exit 0 when COUNT ops arrived without any error, 1 otherwise, 2 on bad usage.
import { IdResolver } from '@atproto/identity'
import { Firehose } from '@atproto/sync'

const [service, plcUrl, countArg] = process.argv.slice(2)
const want = Number(countArg)
if (!service || !plcUrl || !Number.isInteger(want) || want < 0) {
  console.error('usage: node firehose.mjs WS_SERVICE PLC_URL COUNT')
  process.exit(2)
}

const ops = []
const kinds = []
const errors = []
let wake
const done = new Promise((resolve) => (wake = resolve))
const firehose = new Firehose({
  service,
  // The default fetch refuses plain-http and loopback URLs (SSRF protection); a local PLC
  // directory is both.
  idResolver: new IdResolver({ plcUrl, fetch: globalThis.fetch }),
  getCursor: () => 0,
  unauthenticatedHandles: true,
  handleEvent: (evt) => {
    kinds.push({ seq: evt.seq, kind: evt.event, did: evt.did })
    if (evt.event === 'create' || evt.event === 'update' || evt.event === 'delete') {
      ops.push({
        seq: evt.seq,
        did: evt.did,
        action: evt.event,
        path: `${evt.collection}/${evt.rkey}`,
        cid: evt.event === 'delete' ? null : evt.cid.toString(),
      })
      if (ops.length >= want) wake()
    }
  },
  onError: (err) => {
    errors.push(`${err.name}: ${err.message} ${err.cause?.message ?? ''}`.trim())
    wake()
  },
})
firehose.start()
// Bounded: a server that never sends the last commit fails here instead of hanging.
const timer = setTimeout(() => {
  errors.push(`timed out with ${ops.length} of ${want} ops`)
  wake()
}, 60_000)
if (want === 0) wake()
await done
clearTimeout(timer)
await firehose.destroy()
console.log(JSON.stringify({ ops, kinds, errors }))
process.exit(errors.length === 0 && ops.length >= want ? 0 : 1)
