// The generated client's runtime under Node against a fake WebSocket, for what
// a real server cannot show quickly or at all: timers the host would clamp
// (delays past 2^31 - 1 ms fire at once), user callbacks that throw, and a
// token provider that never settles. The runtime reads its timers through
// `globalThis` at each call, so this script records every delay it asks for.
//
// Run by generated/tests/typescript/node_runtime.rs; prints `ok - <name>` per
// scenario and `<n> scenarios passed`, and exits non-zero on the first failure.

import { type CloseOutcome, connectNotifications } from "../../generated/prsm/prsm.js";
import { connectStatus } from "../../generated/mcp-status/mcp-status.js";
import { Failure, Recorder, check, equal, sleep } from "./support.js";

/** The longest delay a host timer honours. */
const MAX_DELAY_MS = 2147483647;

// ---------------------------------------------------------------------------
// Recorded timers
// ---------------------------------------------------------------------------

interface Timer {
  readonly kind: "timeout" | "interval";
  readonly ms: number;
  readonly callback: () => void;
}

/** Every timer asked for since the last `timers.length = 0`. */
const timers: Timer[] = [];
const hostSetTimeout = globalThis.setTimeout;
const hostSetInterval = globalThis.setInterval;
globalThis.setTimeout = ((callback: () => void, ms?: number) => {
  timers.push({ kind: "timeout", ms: ms ?? 0, callback });
  return hostSetTimeout(callback, ms);
}) as typeof setTimeout;
globalThis.setInterval = ((callback: () => void, ms?: number) => {
  timers.push({ kind: "interval", ms: ms ?? 0, callback });
  return hostSetInterval(callback, ms);
}) as typeof setInterval;

function checkNoOverflow(): void {
  const over = timers.filter((t) => !(t.ms <= MAX_DELAY_MS));
  check(over.length === 0, `timers past 2^31 - 1 ms (the host fires them at once): ${JSON.stringify(over)}`);
}

// ---------------------------------------------------------------------------
// Errors the runtime reports (user callbacks that threw)
// ---------------------------------------------------------------------------

/** What the test's own callbacks throw. */
class Boom extends Error {
  override name = "Boom";
}

const reported: Boom[] = [];
const unexpected: unknown[] = [];
process.on("uncaughtException", (error) => {
  if (error instanceof Boom) {
    reported.push(error);
  } else {
    unexpected.push(error);
  }
});
process.on("unhandledRejection", (reason) => {
  unexpected.push(reason);
});

// ---------------------------------------------------------------------------
// The fake WebSocket
// ---------------------------------------------------------------------------

/** Runs `f` as a socket event: later, and a throw is the host's to report. */
function dispatch(f: () => void): void {
  hostSetTimeout(f, 0);
}

class FakeSocket {
  binaryType = "blob";
  readyState = 0;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  /** Frames the client sent. */
  readonly sent: string[] = [];

  constructor(
    readonly url: string,
    readonly protocols?: string | string[],
  ) {}

  send(data: string): void {
    check(this.readyState === 1, "send on an open socket only");
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    if (this.readyState >= 2) {
      return;
    }
    const wasOpen = this.readyState === 1;
    this.readyState = 2;
    dispatch(() => {
      this.readyState = 3;
      this.onclose?.({ code: wasOpen ? (code ?? 1005) : 1006, reason: reason ?? "" });
    });
  }

  /** The server accepts the connection. */
  accept(): void {
    this.readyState = 1;
    dispatch(() => this.onopen?.({}));
  }

  /** The server sends `frame` as JSON text. */
  deliver(frame: unknown): void {
    dispatch(() => this.onmessage?.({ data: JSON.stringify(frame) }));
  }

  /**
   * The connection cannot be made, reported as Node's WebSocket (undici)
   * does: an error event, no close event, the socket left CONNECTING.
   */
  failWithoutClose(): void {
    dispatch(() => this.onerror?.({}));
  }

  /** The connection ends with `code` from the server's (or the network's) side. */
  drop(code: number, reason = ""): void {
    this.readyState = 3;
    dispatch(() => this.onclose?.({ code, reason }));
  }

  /** The frames sent whose text is `text`, or whose JSON `type` is `text`. */
  count(text: string): number {
    return this.sent.filter((s) => s === text || s.includes(`"type":"${text}"`)).length;
  }
}

/** A fresh fake WebSocket class and the sockets it made. */
function fakeWebSocket(): { WebSocket: typeof FakeSocket; sockets: FakeSocket[] } {
  const sockets: FakeSocket[] = [];
  class WebSocket extends FakeSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(this);
    }
  }
  return { WebSocket, sockets };
}

async function until(what: string, condition: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Failure(`no ${what} within ${ms} ms`);
    }
    await sleep(5);
  }
}

/** A JWT-shaped token (unsigned: the client only reads `exp`) expiring `seconds` from now. */
function token(seconds: number): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const exp = Math.floor(Date.now() / 1000) + seconds;
  return `${part({ alg: "HS256", typ: "JWT" })}.${part({ sub: "alice", exp })}.c2ln`;
}

/** A provider handing out `make()` and counting its calls. */
function provider(make: () => string | Promise<string>): { (): Promise<string>; calls: number } {
  const next = async (): Promise<string> => {
    next.calls += 1;
    return make();
  };
  next.calls = 0;
  return next;
}

async function outcome(connection: { closed: Promise<CloseOutcome> }, ms = 3000): Promise<CloseOutcome> {
  const result = await Promise.race([connection.closed, sleep(ms).then(() => null)]);
  check(result !== null, `the connection did not end within ${ms} ms`);
  return result;
}

const DAY_S = 24 * 3600;
const welcome = { type: "connected", user_id: "alice", endpoint: "notifications", server_time: "2025-01-01T00:00:00Z" };

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

const scenarios: Array<[string, () => Promise<void>]> = [];
function scenario(name: string, run: () => Promise<void>): void {
  scenarios.push([name, run]);
}

scenario("a token 40 days from expiry: no refresh now, a capped timer that only schedules again", async () => {
  timers.length = 0;
  const { WebSocket, sockets } = fakeWebSocket();
  const tokens = provider(() => token(40 * DAY_S));
  const alice = connectNotifications({ user_id: "alice" }, { baseUrl: "ws://fake", token: tokens, WebSocket });
  const seen = new Recorder("far expiry", alice);
  await until("socket", () => sockets.length === 1);
  const socket = sockets[0]!;
  socket.accept();
  socket.deliver(welcome);
  await seen.event("established");
  await sleep(100);
  checkNoOverflow();
  equal([socket.count("wsauth.refresh"), seen.count("refreshing"), tokens.calls], [0, 0, 1], "refreshes, provider calls");
  const capped = timers.filter((t) => t.kind === "timeout" && t.ms === MAX_DELAY_MS);
  equal(capped.length, 1, "one capped refresh timer");
  // When it fires, exp is still more than 2^31 - 1 ms away: it waits again.
  timers.length = 0;
  capped[0]!.callback();
  await sleep(50);
  equal([socket.count("wsauth.refresh"), tokens.calls], [0, 1], "after the capped timer: refreshes, provider calls");
  equal(timers.filter((t) => t.ms === MAX_DELAY_MS).length, 1, "the capped timer set again");
  // `wsauth.refreshed` schedules from the current token: the same wait, no storm.
  socket.deliver({ type: "wsauth.refreshed", exp: Math.floor(Date.now() / 1000) + 40 * DAY_S });
  await seen.event("refreshed");
  await sleep(100);
  checkNoOverflow();
  equal([socket.count("wsauth.refresh"), tokens.calls], [0, 1], "after wsauth.refreshed: refreshes, provider calls");
  alice.close();
  equal((await outcome(alice)).kind, "closed", "outcome");
});

scenario("a token 10 days from expiry: its refresh timer is the real wait", async () => {
  timers.length = 0;
  const { WebSocket, sockets } = fakeWebSocket();
  const alice = connectNotifications({ user_id: "alice" }, { baseUrl: "ws://fake", token: async () => token(10 * DAY_S), WebSocket });
  const seen = new Recorder("near expiry", alice);
  await until("socket", () => sockets.length === 1);
  sockets[0]!.accept();
  await seen.event("open");
  const wait = timers.filter((t) => t.kind === "timeout" && t.ms > 24 * 3600 * 1000);
  equal(wait.length, 1, "one refresh timer");
  // The later of exp - 30 s and 80 % of the life left.
  const expected = 10 * DAY_S * 1000 - 30000;
  check(Math.abs(wait[0]!.ms - expected) < 5000, `refresh in ${wait[0]!.ms} ms, about ${expected}`);
  alice.close();
  await outcome(alice);
});

scenario("heartbeat intervals: 0 is raised to 1000 ms, one past 2^31 - 1 ms is capped", async () => {
  for (const [asked, used] of [
    [0, 1000],
    [-5, 1000],
    [10, 1000],
    [1e12, MAX_DELAY_MS],
  ] as const) {
    timers.length = 0;
    const { WebSocket, sockets } = fakeWebSocket();
    const status = connectStatus({ baseUrl: "ws://fake", token: "t", WebSocket, heartbeatIntervalMs: asked });
    const seen = new Recorder(`heartbeat ${asked}`, status);
    await until("socket", () => sockets.length === 1);
    sockets[0]!.accept();
    await seen.event("open");
    await sleep(100);
    checkNoOverflow();
    equal(sockets[0]!.count("ping"), 0, `pings within 100 ms with heartbeatIntervalMs ${asked}`);
    equal(timers.filter((t) => t.kind === "interval").map((t) => t.ms), [used], `heartbeat interval for ${asked}`);
    status.close();
    await outcome(status);
  }
  // The spec's interval when none is given.
  timers.length = 0;
  const { WebSocket, sockets } = fakeWebSocket();
  const status = connectStatus({ baseUrl: "ws://fake", token: "t", WebSocket });
  const seen = new Recorder("heartbeat default", status);
  await until("socket", () => sockets.length === 1);
  sockets[0]!.accept();
  await seen.event("open");
  equal(timers.filter((t) => t.kind === "interval").map((t) => t.ms), [20000], "the spec's interval");
  status.close();
  await outcome(status);
});

scenario("a backoff cap past 2^31 - 1 ms waits instead of reconnecting at once", async () => {
  timers.length = 0;
  const { WebSocket, sockets } = fakeWebSocket();
  const alice = connectNotifications(
    { user_id: "alice" },
    { baseUrl: "ws://fake", token: "t", WebSocket, backoff: { baseMs: 1e12, capMs: 1e12, random: () => 0.5 } },
  );
  const seen = new Recorder("long backoff", alice);
  await until("socket", () => sockets.length === 1);
  sockets[0]!.drop(1006);
  const again = await seen.event("reconnecting");
  check(again.delayMs <= MAX_DELAY_MS, `delay ${again.delayMs} within what a timer can wait`);
  await sleep(150);
  checkNoOverflow();
  equal([sockets.length, seen.count("connecting")], [1, 1], "no second attempt yet");
  alice.close();
  equal((await outcome(alice)).kind, "closed", "outcome");
});

scenario("listeners and handlers that throw: reported, and the client still reconnects and ends", async () => {
  reported.length = 0;
  const { WebSocket, sockets } = fakeWebSocket();
  const alice = connectNotifications(
    { user_id: "alice" },
    { baseUrl: "ws://fake", token: async () => "t", WebSocket, backoff: { baseMs: 10, capMs: 10 } },
  );
  // Registered first, so a throw would keep the recorder from seeing anything.
  alice.onEvent((event) => {
    throw new Boom(`listener on ${event.kind}`);
  });
  alice.on("connected", () => {
    throw new Boom("handler of connected");
  });
  alice.onMessage(() => {
    throw new Boom("message handler");
  });
  const seen = new Recorder("throwing", alice);
  await until("socket", () => sockets.length === 1);
  sockets[0]!.accept();
  sockets[0]!.deliver(welcome);
  await seen.message("connected");
  await seen.event("established");
  sockets[0]!.drop(1006);
  await seen.event("close", (e) => e.code === 1006);
  await seen.event("connecting", (e) => e.attempt === 2);
  await until("second socket", () => sockets.length === 2);
  sockets[1]!.accept();
  await seen.event("open");
  alice.close();
  const end = await outcome(alice);
  equal(end, { kind: "closed", code: 1000, reason: "" }, "outcome");
  await sleep(20);
  for (const what of ["listener on connecting", "listener on close", "listener on stopped", "handler of connected", "message handler"]) {
    check(reported.some((e) => e.message === what), `reported: ${what} (got ${reported.map((e) => e.message).join(", ")})`);
  }
});

scenario("a token provider that never settles: the attempt times out as 1006 and backs off", async () => {
  const { WebSocket, sockets } = fakeWebSocket();
  const hanging = provider(() => new Promise<string>(() => {}));
  const alice = connectNotifications(
    { user_id: "alice" },
    { baseUrl: "ws://fake", token: hanging, WebSocket, connectTimeoutMs: 100, backoff: { baseMs: 10, capMs: 10 } },
  );
  const seen = new Recorder("hanging provider", alice);
  const started = Date.now();
  const close = await seen.event("close");
  equal([close.code, close.action], [1006, "backoff"], "a timed-out provider");
  check(Date.now() - started >= 90, "not before the timeout");
  await seen.event("connecting", (e) => e.attempt === 2);
  await until("a second provider call", () => hanging.calls === 2);
  equal(sockets.length, 0, "no socket without a token");
  alice.close();
  equal((await outcome(alice)).kind, "closed", "closed while waiting for the provider");

  // Slow the first time only: the second attempt connects.
  const { WebSocket: Second, sockets: secondSockets } = fakeWebSocket();
  let calls = 0;
  const once = () => (calls++ === 0 ? new Promise<string>(() => {}) : Promise.resolve("t"));
  const bob = connectNotifications(
    { user_id: "bob" },
    { baseUrl: "ws://fake", token: once, WebSocket: Second, connectTimeoutMs: 100, backoff: { baseMs: 10, capMs: 10 } },
  );
  const bobSeen = new Recorder("slow once", bob);
  await until("a socket", () => secondSockets.length === 1);
  secondSockets[0]!.accept();
  secondSockets[0]!.deliver({ ...welcome, user_id: "bob" });
  await bobSeen.event("established");
  equal(bobSeen.count("close"), 1, "one timed-out attempt before");
  bob.close();
  equal((await outcome(bob)).kind, "closed", "outcome");

  // Without reconnecting, the timeout stops the connection.
  const carol = connectNotifications(
    { user_id: "carol" },
    { baseUrl: "ws://fake", token: () => new Promise<string>(() => {}), WebSocket, connectTimeoutMs: 50, reconnect: false },
  );
  const end = await outcome(carol);
  check(end.kind === "stopped" && end.error.code === 1006 && end.error.why === "no_reconnect", `outcome ${JSON.stringify(end)}`);
});

scenario("a socket that only reports an error while connecting: backs off at once, not after the connect timeout", async () => {
  const { WebSocket, sockets } = fakeWebSocket();
  const alice = connectNotifications(
    { user_id: "alice" },
    { baseUrl: "ws://fake", token: () => "t", WebSocket, connectTimeoutMs: 10000, backoff: { baseMs: 10, capMs: 10 } },
  );
  const seen = new Recorder("error without close", alice);
  await until("a socket", () => sockets.length === 1);
  const started = Date.now();
  sockets[0]!.failWithoutClose();
  const close = await seen.event("close");
  equal([close.code, close.action], [1006, "backoff"], "an attempt that failed to connect");
  check(Date.now() - started < 1000, "long before the connect timeout");
  // The next attempt connects; the first socket's late close, if it came, changes nothing.
  await until("a second socket", () => sockets.length === 2);
  sockets[0]!.drop(1006);
  sockets[1]!.accept();
  sockets[1]!.deliver(welcome);
  await seen.event("established");
  equal(seen.count("close"), 1, "one failed attempt");
  alice.close();
  equal((await outcome(alice)).kind, "closed", "outcome");
});

scenario("server messages that break their schema: invalid events, never delivered", async () => {
  const { WebSocket, sockets } = fakeWebSocket();
  const alice = connectNotifications({ user_id: "alice" }, { baseUrl: "ws://fake", token: "t", WebSocket });
  const seen = new Recorder("payload checks", alice);
  await until("socket", () => sockets.length === 1);
  const socket = sockets[0]!;
  socket.accept();
  // A welcome whose `server_time` is no RFC 3339 date-time still admits the
  // connection (by its type, as in the Rust client), but is not delivered.
  socket.deliver({ ...welcome, server_time: "2025-02-30T00:00:00Z" });
  await seen.event("established");
  await seen.event("invalid");
  // `notification`: `id` an integer, `title` at most 200 characters
  // (counted in code points: 200 emoji are 400 UTF-16 units), `body` optional.
  const note = (fields: Record<string, unknown>) => ({ type: "notification", id: 1, title: "t", ...fields });
  const bad = [
    note({ title: "x".repeat(201) }),
    note({ title: "😀".repeat(201) }),
    note({ id: 1.5 }),
    note({ id: "1" }),
    note({ body: null }),
    note({ extra: true }),
    { type: "notification", title: "no id" },
  ];
  for (const frame of bad) {
    socket.deliver(frame);
  }
  socket.deliver(note({ id: 2, title: "😀".repeat(200) }));
  socket.deliver(note({ id: 3, title: "x".repeat(200), body: "b" }));
  const second = await seen.message("notification");
  const third = await seen.message("notification");
  equal([second.id, third.id], [2, 3], "only the messages that match their schema are delivered");
  equal(seen.messages.length, 2, "nothing else was delivered");
  equal(seen.count("invalid"), 1 + bad.length, "one invalid event per broken message");
  alice.close();
  equal((await outcome(alice)).kind, "closed", "outcome");
});

// An argument runs only the scenarios whose name contains it.
const only = process.argv[2];
let passed = 0;
for (const [name, run] of scenarios) {
  if (only !== undefined && !name.includes(only)) {
    continue;
  }
  const started = Date.now();
  try {
    await run();
    check(unexpected.length === 0, `unexpected errors: ${unexpected.map(String).join("; ")}`);
    passed += 1;
    console.log(`ok - ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    console.log(`FAIL - ${name}: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    process.exit(1);
  }
}
console.log(`${passed} scenarios passed`);
process.exit(0);
