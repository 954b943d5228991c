"""The Python atproto SDK's firehose client against a PDS's subscribeRepos.

usage: python firehose.py WS_XRPC_URL COUNT
  WS_XRPC_URL  e.g. ws://127.0.0.1:2583/xrpc (the SDK does not add /xrpc itself)
  COUNT        stop after this many frames

Replays from cursor 0; every frame is parsed with parse_subscribe_repos_message and each
#commit's blocks are decoded as a CAR (records as DAG-CBOR). Prints one JSON object:
{"frames": [{"seq", "type", "did", "ops": [{"action", "path", "cid"}], "record_types"}],
 "errors": [...]}. Exit 0 when COUNT frames decoded without error, 1 otherwise.
"""

import json
import sys
import threading

from atproto import CAR, FirehoseSubscribeReposClient, firehose_models, models, parse_subscribe_repos_message


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    base_uri, want = sys.argv[1], int(sys.argv[2])
    frames: list = []
    errors: list = []
    client = FirehoseSubscribeReposClient(
        models.ComAtprotoSyncSubscribeRepos.Params(cursor=0), base_uri=base_uri
    )

    def on_message(message: firehose_models.MessageFrame) -> None:
        try:
            msg = parse_subscribe_repos_message(message)
            entry = {"seq": getattr(msg, "seq", None), "type": message.type}
            if isinstance(msg, models.ComAtprotoSyncSubscribeRepos.Commit):
                car = CAR.from_bytes(msg.blocks)
                entry["did"] = msg.repo
                entry["ops"] = [
                    {"action": op.action, "path": op.path, "cid": str(op.cid) if op.cid else None}
                    for op in msg.ops
                ]
                # Every created/updated record's block is in the CAR and decodes.
                entry["record_types"] = [
                    car.blocks[op.cid].get("$type") if op.cid in car.blocks else None
                    for op in msg.ops
                    if op.cid is not None
                ]
            elif hasattr(msg, "did"):
                entry["did"] = msg.did
            frames.append(entry)
        except Exception as e:  # reported, and the run fails
            errors.append(f"{type(e).__name__}: {e}")
        if len(frames) >= want or errors:
            client.stop()

    def on_error(e: BaseException) -> None:
        errors.append(f"{type(e).__name__}: {e}")
        client.stop()

    # Bounded: a server that never sends the last frame fails here instead of hanging.
    timer = threading.Timer(60, lambda: (errors.append("timed out"), client.stop()))
    timer.start()
    client.start(on_message, on_error)
    timer.cancel()
    print(json.dumps({"frames": frames, "errors": errors}))
    return 0 if not errors and len(frames) >= want else 1


if __name__ == "__main__":
    sys.exit(main())
