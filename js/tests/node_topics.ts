// The generated prsm client's topics (generated/prsm/prsm.ts) under Node,
// against the running prsm example over real sockets: subscribe (allowed,
// refused by a check), a typed publication, publish refused by permission,
// presence, unsubscribe, the resubscribe with recovery after a dropped socket
// (the missed publications replayed in order), and the typed "history lost"
// after a server restart (a new broker: a new epoch).
//
// Run by generated/tests/typescript/node_topics.rs, which starts prsm with
// conversation 1 shared by alice, bob and mod (a moderator: reads, cannot
// post) and passes
//   WSAUTH_WS_URL       ws://127.0.0.1:<port>
//   WSAUTH_SECRET       the HS256 secret
//   WSAUTH_RESTART_URL  GET it to make the test restart the server (1001)
// Exits non-zero with a message on the first failure.

import { createHmac } from "node:crypto";

import {
  type ConversationSubscription,
  type ConversationTopicMessage,
  type NotificationsConnection,
  type PresenceEvent,
  type TopicEndReason,
  TopicRefusedError,
  connectNotifications,
} from "../../generated/prsm/prsm.js";
import { check, equal, sleep } from "./support.js";

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`${name} is not set`);
  }
  return value;
}

const baseUrl = env("WSAUTH_WS_URL");
const secret = env("WSAUTH_SECRET");
const restartUrl = env("WSAUTH_RESTART_URL");

/** An HS256 token as prsm expects (as node_e2e.ts mints them). */
function mint(sub: string, roles: string[]): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (data: string | Buffer) => Buffer.from(data).toString("base64url");
  const header = part(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const claims = part(JSON.stringify({ sub, roles, iat: now, exp: now + 600, iss: "prsm", aud: "prsm-ws" }));
  const signature = createHmac("sha256", secret).update(`${header}.${claims}`).digest();
  return `${header}.${claims}.${part(signature)}`;
}

/** The socket the runtime sees, as far as dropping it goes. */
interface RawSocket {
  send(data: string): void;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  close(): void;
}

type RawSocketConstructor = new (url: string, protocols?: string | string[]) => RawSocket;

/**
 * Node's WebSocket, remembering every socket it opens so a test can drop
 * one as a network failure would: closed without a word to the runtime,
 * which then sees an abnormal closure (1006) and reconnects.
 */
function droppable(): { WebSocket: RawSocketConstructor; drop(): void } {
  const Base = (globalThis as unknown as { WebSocket: RawSocketConstructor }).WebSocket;
  const sockets: RawSocket[] = [];
  class Tracked extends Base {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(this);
    }

    override send(data: string): void {
      trace.push("sent " + data);
      super.send(data);
    }
  }
  return {
    WebSocket: Tracked,
    drop() {
      const socket = sockets[sockets.length - 1];
      check(socket !== undefined, "no socket to drop");
      const onclose = socket.onclose;
      socket.onclose = null;
      socket.onmessage = null;
      socket.close();
      onclose?.({ code: 1006, reason: "" });
    },
  };
}

/** Everything a subscription's handlers saw. */
class Seen {
  readonly messages: Array<{ message: ConversationTopicMessage; offset: number }> = [];
  readonly presence: PresenceEvent[] = [];
  readonly historyLost: Array<{ epoch: string; offset: number }> = [];
  readonly ended: TopicEndReason[] = [];

  readonly handlers = {
    onMessage: (message: ConversationTopicMessage, publication: { offset: number }) => {
      this.messages.push({ message, offset: publication.offset });
    },
    onPresence: (event: PresenceEvent) => {
      this.presence.push(event);
    },
    onHistoryLost: (lost: { epoch: string; offset: number }) => {
      this.historyLost.push(lost);
    },
    onEnded: (reason: TopicEndReason) => {
      this.ended.push(reason);
    },
  };
}

async function until(what: string, done: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    check(Date.now() < deadline, `no ${what} within ${ms} ms`);
    await sleep(10);
  }
}

function connect(user: string, roles: string[], options: { WebSocket?: RawSocketConstructor; backoffMs?: number } = {}): NotificationsConnection {
  const backoffMs = options.backoffMs ?? 20;
  return connectNotifications(
    { user_id: user },
    {
      baseUrl,
      token: async () => mint(user, roles),
      // A fixed delay, so a test can act while the client is away.
      backoff: { baseMs: backoffMs, capMs: backoffMs, random: () => 0.999 },
      ...(options.WebSocket === undefined ? {} : { WebSocket: options.WebSocket }),
    },
  );
}

/** Expects `promise` to reject with a TopicRefusedError of `error`. */
async function refused(promise: Promise<unknown>, error: TopicRefusedError["error"], what: string): Promise<void> {
  try {
    await promise;
  } catch (e) {
    check(e instanceof TopicRefusedError, `${what}: expected a TopicRefusedError, got ${String(e)}`);
    equal(e.error, error, `${what}: refusal`);
    return;
  }
  throw new Error(`${what}: expected a refusal, it succeeded`);
}

function texts(seen: Seen): string[] {
  return seen.messages.map(({ message }) => (message.type === "send_message" ? message.text : message.type));
}

async function main(): Promise<void> {
  const network = droppable();
  const alice = connect("alice", ["user"], { WebSocket: network.WebSocket, backoffMs: 1000 });
  const bob = connect("bob", ["user"]);
  const mod = connect("mod", ["moderator"]);
  alice.onEvent((event) => trace.push(JSON.stringify(event)));

  // Subscribe, allowed: the promise resolves with the live subscription.
  const aliceSeen = new Seen();
  const aliceSub: ConversationSubscription = await alice.subscribeConversation({ conversation_id: 1 }, aliceSeen.handlers);
  check(aliceSub.active, "alice's subscription is active");
  equal(aliceSub.offset, 0, "a new instance's offset");
  equal(aliceSub.present, ["alice"], "present after subscribing");
  console.log("ok - subscribe allowed");

  // Subscribe, refused by the `conversation_access` check (typed refusals).
  await refused(alice.subscribeConversation({ conversation_id: 2 }), "forbidden", "conversation 2 is bob's");
  await refused(alice.subscribeConversation({ conversation_id: 9 }), "not_found", "no conversation 9");
  console.log("ok - subscribe refused");

  // Presence: bob joins.
  const bobSeen = new Seen();
  const bobSub = await bob.subscribeConversation({ conversation_id: 1 }, bobSeen.handlers);
  await until("presence event", () => aliceSeen.presence.length > 0);
  equal(aliceSeen.presence, [{ kind: "joined", subject: "bob" }], "alice sees bob join");
  equal(await aliceSub.presence(), ["alice", "bob"], "presence query");
  console.log("ok - presence");

  // A publication, typed: bob publishes, alice's handler gets a SendMessageMessage.
  const offset = await bobSub.publish({ type: "send_message", text: "hello" });
  equal(offset, 1, "the first publication's offset");
  await until("publication", () => aliceSeen.messages.length > 0);
  const first = aliceSeen.messages[0];
  check(first !== undefined && first.message.type === "send_message", "a send_message publication");
  equal(first.message.text, "hello", "the publication's text");
  equal(first.offset, 1, "the publication's offset");
  console.log("ok - publication received typed");

  // Publish refused by permission: a moderator reads but may not post.
  const modSub = await mod.subscribeConversation({ conversation_id: 1 });
  await refused(modSub.publish({ type: "typing", user_id: "mod", active: true }), "forbidden", "moderator publishes");
  console.log("ok - publish refused");

  // Resubscribe with recovery: alice's socket drops; bob publishes twice
  // while she is away; she reconnects, resubscribes from offset 1 and gets
  // both, in order, without "history lost".
  await until("bob's own publication", () => bobSeen.messages.length > 0);
  network.drop();
  equal(await bobSub.publish({ type: "send_message", text: "while away 1" }), 2, "offset 2");
  equal(await bobSub.publish({ type: "send_message", text: "while away 2" }), 3, "offset 3");
  await until("replayed publications", () => aliceSeen.messages.length >= 3);
  equal(texts(aliceSeen), ["hello", "while away 1", "while away 2"], "alice's publications");
  equal(aliceSeen.messages.map((m) => m.offset), [1, 2, 3], "alice's offsets");
  equal(aliceSeen.historyLost, [], "history kept");
  equal(aliceSub.offset, 3, "alice's last offset");
  check(aliceSub.active, "alice's subscription survived the reconnect");
  console.log("ok - resubscribe with recovery");

  // Unsubscribe: confirmed, presence tells, and nothing more reaches bob.
  await bobSub.unsubscribe();
  check(!bobSub.active, "bob's subscription ended");
  await until("bob leaving", () => aliceSeen.presence.some((e) => e.kind === "left" && e.subject === "bob"));
  const bobBefore = bobSeen.messages.length;
  await aliceSub.publish({ type: "send_message", text: "bob is gone" });
  await until("alice's publication", () => aliceSeen.messages.length >= 4);
  await sleep(200);
  equal(bobSeen.messages.length, bobBefore, "nothing after unsubscribe");
  console.log("ok - unsubscribe");

  // History lost: the server restarts (1001), its broker is new, so the
  // resubscribe's epoch is unknown and the handler is told.
  const response = await fetch(restartUrl);
  check(response.ok, "restart requested");
  await until("history lost", () => aliceSeen.historyLost.length > 0, 15000);
  equal(aliceSeen.historyLost[0]?.offset, 4, "lost after offset 4");
  check(aliceSub.active, "the subscription holds after history lost");
  equal(aliceSub.offset, 0, "the new instance's offset");
  console.log("ok - history lost");

  for (const connection of [alice, bob, mod]) {
    connection.close();
  }
  check(!aliceSub.active || (await alice.closed).kind === "closed", "closed");
  equal(aliceSeen.ended, [], "no server-side end");
}

/** Alice's lifecycle events, shown when the test times out. */
const trace: string[] = [];

// A request the server never answers would leave a promise pending forever.
const watchdog = setTimeout(() => {
  console.error("node_topics: timed out; alice's events: " + trace.join("\n"));
  process.exit(1);
}, 40000);

main().then(
  () => {
    clearTimeout(watchdog);
    process.exit(0);
  },
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
