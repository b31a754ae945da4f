// The generated songnodes client (generated/songnodes/songnodes.ts) under
// Node, against a server that sends messages breaking their schema: each is
// an `invalid` event and never reaches a handler; the valid message after
// them does, on the same connection.
//
// Run by generated/tests/typescript/node_payloads.rs, which passes
//   WSAUTH_WS_URL   ws://127.0.0.1:<port>
//   WSAUTH_BROKEN   how many broken messages the server sends
// Exits non-zero with a message on the first failure.

import { connectAnonymous } from "../../generated/songnodes/songnodes.js";
import { Recorder, check, equal } from "./support.js";

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`${name} is not set`);
  }
  return value;
}

const broken = Number(env("WSAUTH_BROKEN"));
const guest = connectAnonymous({ baseUrl: env("WSAUTH_WS_URL"), reconnect: false });
const seen = new Recorder("anonymous", guest);
try {
  await seen.message("welcome");
  const update = await seen.message("graph_update");
  equal(update.nodes.map((n) => n.id), ["last"], "the valid update, and only it, delivered");
  equal(
    seen.messages.map((m) => m.type),
    ["welcome", "graph_update"],
    "nothing else delivered",
  );
  const invalid = seen.events.filter((e) => e.kind === "invalid");
  equal(invalid.length, broken, "one invalid event per broken message");
  check(
    invalid.every((e) => e.kind === "invalid" && e.data.startsWith('{"type":')),
    "each invalid event carries the frame",
  );
  check(seen.count("close") === 0, "the connection stays open");
  guest.close();
  await guest.closed;
  console.log("ok - invalid server messages refused");
  process.exit(0);
} catch (error) {
  console.log(`FAIL - ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exit(1);
}
