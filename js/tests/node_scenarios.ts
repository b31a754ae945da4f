// The topic scenarios every generated client passes
// (generated/tests/scenarios/topics.json, whose `about` says what each step
// means), through the generated prsm client (generated/prsm/prsm.ts) under
// Node, against the running prsm example over real sockets. The Rust client
// runs the same file (generated/tests/clients/scenarios.rs).
//
// Run once per scenario by generated/tests/typescript/node_scenarios.rs,
// which starts a fresh prsm with the file's conversations and passes
//   WSAUTH_SCENARIOS  the file's path
//   WSAUTH_SCENARIO   the scenario's name
//   WSAUTH_WS_URL     ws://127.0.0.1:<port>
//   WSAUTH_SECRET     the HS256 secret
// Exits non-zero with the failing step on the first failure.

import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";

import {
  type ConnectionEvent,
  type ConversationSubscription,
  type ConversationTopicMessage,
  type ConversationTopicParams,
  type NotificationsConnection,
  type PresenceEvent,
  type TopicEndReason,
  TopicRefusedError,
  connectNotifications,
} from "../../generated/prsm/prsm.js";
import { check, sleep } from "./support.js";

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`${name} is not set`);
  }
  return value;
}

const baseUrl = env("WSAUTH_WS_URL");
const secret = env("WSAUTH_SECRET");

/** How long any one event may take (the Rust side waits as long). */
const WAIT_MS = 10000;

/** An HS256 token as prsm expects (as node_e2e.ts mints them). */
function mint(sub: string, roles: string[]): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (data: string | Buffer) => Buffer.from(data).toString("base64url");
  const header = part(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const claims = part(JSON.stringify({ sub, roles, iat: now, exp: now + 600, iss: "prsm", aud: "prsm-ws" }));
  const signature = createHmac("sha256", secret).update(`${header}.${claims}`).digest();
  return `${header}.${claims}.${part(signature)}`;
}

/** The socket the runtime sees, as far as cutting it goes. */
interface RawSocket {
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  close(): void;
}

type RawSocketConstructor = new (url: string, protocols?: string | string[]) => RawSocket;

/** Where nothing listens: attempts made while the network is cut fail there. */
const UNREACHABLE = "ws://127.0.0.1:1/";

/**
 * One actor's network: Node's WebSocket, which a step can cut (the open
 * socket drops without a word, as a network failure does: the runtime sees
 * an abnormal closure, 1006, and every attempt fails until `restore`).
 */
class Network {
  #down = false;
  readonly #sockets: RawSocket[] = [];
  readonly WebSocket: RawSocketConstructor;

  constructor() {
    const Base = (globalThis as unknown as { WebSocket: RawSocketConstructor }).WebSocket;
    const network = this;
    this.WebSocket = class extends Base {
      constructor(url: string, protocols?: string | string[]) {
        super(network.#down ? UNREACHABLE : url, protocols);
        network.#sockets.push(this);
      }
    };
  }

  cut(): void {
    this.#down = true;
    for (const socket of this.#sockets.splice(0)) {
      const onclose = socket.onclose;
      socket.onclose = null;
      socket.onmessage = null;
      socket.close();
      onclose?.({ code: 1006, reason: "" });
    }
  }

  restore(): void {
    this.#down = false;
  }
}

/** A connected user: its connection, subscriptions and what it saw. */
class Actor {
  readonly network = new Network();
  readonly subscriptions = new Map<string, ConversationSubscription>();
  /** Topic events not consumed by a `receive` step yet, as the file writes them. */
  readonly events: unknown[] = [];
  readonly lifecycle: ConnectionEvent[] = [];
  readonly connection: NotificationsConnection;

  constructor(user: string, roles: string[]) {
    this.connection = connectNotifications(
      { user_id: user },
      {
        baseUrl,
        token: async () => mint(user, roles),
        backoff: { baseMs: 50, capMs: 200 },
        WebSocket: this.network.WebSocket,
      },
    );
    this.connection.onEvent((event) => this.lifecycle.push(event));
  }

  readonly handlers = {
    onMessage: (message: ConversationTopicMessage, publication: { offset: number }) => {
      this.events.push({ publication: { offset: publication.offset, message } });
    },
    onPresence: (event: PresenceEvent) => {
      this.events.push({ [event.kind]: event.subject });
    },
    onHistoryLost: () => {
      this.events.push({ history_lost: {} });
    },
    onEnded: (reason: TopicEndReason) => {
      this.events.push({ ended: reason });
    },
  };

  /** Waits for a lifecycle event of `kind` after the first `seen` ones. */
  async lifecycleEvent(kind: ConnectionEvent["kind"], seen: number): Promise<number> {
    await until(`a ${kind} event`, () => this.lifecycle.slice(seen).some((e) => e.kind === kind));
    return this.lifecycle.length;
  }

  subscription(params: object): ConversationSubscription {
    const subscription = this.subscriptions.get(JSON.stringify(params));
    check(subscription !== undefined, "the TypeScript client sends this through a subscription it holds; there is none");
    return subscription;
  }
}

async function until(what: string, done: () => boolean, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    check(Date.now() < deadline, `no ${what} within ${ms} ms`);
    await sleep(10);
  }
}

/** `value` with every object's keys sorted, so JSON compares as values. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(canonical);
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, v]) => [k, canonical(v)]));
  }
  return value;
}

function same(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(canonical(actual));
  const e = JSON.stringify(canonical(expected));
  check(a === e, `${what}: expected ${e}, got ${a}`);
}

/** The answer to a request, as the file writes answers. */
async function answer<T>(request: () => Promise<T>, shape: (value: T) => unknown): Promise<unknown> {
  try {
    return shape(await request());
  } catch (e) {
    if (e instanceof TopicRefusedError) {
      return { refused: e.error };
    }
    throw e;
  }
}

type Step = Record<string, unknown> & { as?: string };

async function run(step: Step, actors: Map<string, Actor>): Promise<void> {
  const actor = (name: unknown): Actor => {
    const found = actors.get(String(name));
    check(found !== undefined, `${String(name)} has not connected`);
    return found;
  };
  if ("connect" in step) {
    const user = String(step.connect);
    const created = new Actor(user, step.roles as string[]);
    actors.set(user, created);
    await created.lifecycleEvent("established", 0);
  } else if ("subscribe" in step) {
    const who = actor(step.as);
    const params = step.subscribe as ConversationTopicParams;
    same(
      await answer(
        () => who.connection.subscribeConversation(params, who.handlers),
        (subscription) => {
          who.subscriptions.set(JSON.stringify(params), subscription);
          return { offset: subscription.offset, present: subscription.present };
        },
      ),
      step.expect,
      "the answer",
    );
  } else if ("unsubscribe" in step) {
    const subscription = actor(step.as).subscription(step.unsubscribe as object);
    same(await answer(() => subscription.unsubscribe(), () => "ok"), step.expect, "the answer");
  } else if ("presence" in step) {
    const subscription = actor(step.as).subscription(step.presence as object);
    same(await answer(() => subscription.presence(), (present) => ({ present })), step.expect, "the answer");
  } else if ("publish" in step) {
    const subscription = actor(step.as).subscription(step.publish as object);
    const message = step.message as ConversationTopicMessage;
    same(await answer(() => subscription.publish(message), (offset) => ({ offset })), step.expect, "the answer");
  } else if ("receive" in step) {
    const who = actor(step.as);
    await until("topic event", () => who.events.length > 0);
    same(who.events.shift(), step.receive, "the next topic event");
  } else if ("quiet" in step) {
    const who = actor(step.as);
    await sleep(Number(step.quiet));
    same(who.events, [], "topic events");
  } else if ("cut" in step) {
    const who = actor(step.cut);
    const seen = who.lifecycle.length;
    who.network.cut();
    await who.lifecycleEvent("reconnecting", seen);
  } else if ("restore" in step) {
    const who = actor(step.restore);
    const seen = who.lifecycle.length;
    who.network.restore();
    await who.lifecycleEvent("established", seen);
  } else {
    throw new Error("a step with no action this runner knows");
  }
}

async function main(): Promise<void> {
  const file = JSON.parse(readFileSync(env("WSAUTH_SCENARIOS"), "utf8")) as {
    scenarios: Array<{ name: string; steps: Step[] }>;
  };
  const name = env("WSAUTH_SCENARIO");
  const scenario = file.scenarios.find((s) => s.name === name);
  check(scenario !== undefined, `no scenario named ${name}`);
  const actors = new Map<string, Actor>();
  for (const [index, step] of scenario.steps.entries()) {
    try {
      await run(step, actors);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new Error(`${name}, step ${index + 1}: ${JSON.stringify(step)}: ${why}`);
    }
  }
  for (const actor of actors.values()) {
    actor.connection.close();
  }
  console.log(`ok - ${name}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
