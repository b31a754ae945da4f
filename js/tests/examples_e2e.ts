// The generated TypeScript clients of songnodes, shipvox, reflections and
// mcp-status under Node, each against its running example: connect with a
// token, receive the welcome (or first message), send every message type the
// endpoint accepts and check the typed replies, and see the client act on the
// spec's close codes (a `stop` surfaced as a typed CloseError, a
// `refresh_token` answered by asking the token provider again, a `backoff`
// reconnect, a normal close).
//
// Run by generated/tests/typescript/node_examples.rs as
//   node --experimental-websocket out/js/tests/examples_e2e.js <example>
// with
//   WSAUTH_WS_URL    ws://127.0.0.1:<port>
//   WSAUTH_HTTP_URL  http://127.0.0.1:<port> (shipvox's POST /token, mcp-status's test hook)
//   WSAUTH_SECRET    the example's HS256 secret
// and, for reflections, WSAUTH_EXPECTED (JSON: the seeded tokens of entry 1
// and the tokens the failing entry streams before it fails).
// Exits non-zero with a message on the first failure.

import { createHmac } from "node:crypto";

import * as mcp from "../../generated/mcp-status/mcp-status.js";
import * as reflections from "../../generated/reflections/reflections.js";
import * as shipvox from "../../generated/shipvox/shipvox.js";
import * as songnodes from "../../generated/songnodes/songnodes.js";
import { Recorder, check, equal, sleep } from "./support.js";

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`${name} is not set`);
  }
  return value;
}

const example = process.argv[2] ?? "";
const baseUrl = env("WSAUTH_WS_URL");
const httpUrl = env("WSAUTH_HTTP_URL");
const secret = env("WSAUTH_SECRET");

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString("base64url");
}

/**
 * An HS256 token as the running example expects: sub, exp, iat, iss = the
 * example's name, aud = `<name>-ws`, and `extra` claims (`roles` or `role`).
 */
function mint(sub: string, extra: Record<string, unknown>, expiresIn = 600): string {
  const now = Math.floor(Date.now() / 1000);
  const iat = expiresIn < 0 ? now + expiresIn - 60 : now;
  const header = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const claims = base64url(
    JSON.stringify({ sub, iat, exp: now + expiresIn, iss: example, aud: `${example}-ws`, ...extra }),
  );
  const signature = createHmac("sha256", secret).update(`${header}.${claims}`).digest();
  return `${header}.${claims}.${base64url(signature)}`;
}

const fast = { baseMs: 20, capMs: 100 };

/** A token provider that hands out `tokens` in turn (the last one forever) and counts its calls. */
function provider(...tokens: Array<string | (() => Promise<string>)>): { (): Promise<string>; calls: number } {
  const next = async (): Promise<string> => {
    const token = tokens[Math.min(next.calls, tokens.length - 1)] ?? "";
    next.calls += 1;
    return typeof token === "string" ? token : token();
  };
  next.calls = 0;
  return next;
}

/** What every generated connection has, whatever its module. */
interface Ending<E> {
  close(): void;
  closed: Promise<{ kind: "closed"; code: number; reason: string } | { kind: "stopped"; error: E } | { kind: "failed"; error: unknown }>;
}

type Outcome<E> = Awaited<Ending<E>["closed"]>;

async function outcome<E>(connection: Ending<E>, ms = 8000): Promise<Outcome<E>> {
  const timeout = sleep(ms).then(() => null);
  const result = await Promise.race([connection.closed, timeout]);
  check(result !== null, `the connection did not end within ${ms} ms`);
  return result;
}

/** The fields every module's CloseError has. */
interface AnyCloseError {
  readonly code: number;
  readonly reason: string;
  readonly kinds: readonly string[];
  readonly action: string | null;
  readonly why: string;
}

/** Expects `connection` to stop with an instance of `type` (the module's CloseError) and these fields. */
async function stopped<E extends AnyCloseError>(
  connection: Ending<E>,
  type: abstract new (...args: never[]) => E,
  expected: { code: number; reason: string; why: string; kind: string },
): Promise<E> {
  const end = await outcome(connection);
  check(end.kind === "stopped", `expected a stop with ${expected.code}, got ${JSON.stringify(end)}`);
  check(end.error instanceof type, "the error is the module's CloseError");
  equal([end.error.code, end.error.reason, end.error.why], [expected.code, expected.reason, expected.why], "close");
  check(
    end.error.kinds.includes(expected.kind),
    `kinds ${JSON.stringify(end.error.kinds)} include ${expected.kind}`,
  );
  return end.error;
}

async function closes<E>(connection: Ending<E>): Promise<void> {
  connection.close();
  const end = await outcome(connection);
  equal(end.kind, "closed", "outcome after close()");
}

const scenarios: Array<[string, () => Promise<void>]> = [];
function scenario(name: string, run: () => Promise<void>): void {
  scenarios.push([name, run]);
}

// ---------------------------------------------------------------------------
// songnodes
// ---------------------------------------------------------------------------

const ALICE_PLAYLIST = "6f1c2b7e-3d4a-4e5f-8a9b-0c1d2e3f4a5b";
const BOB_PLAYLIST = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";

function songnodesScenarios(): void {
  scenario("songnodes: close codes map to the spec's actions", async () => {
    equal(songnodes.closeDecision(4001).action, "refresh_token", "4001");
    equal(songnodes.closeDecision(4002).action, "stop", "4002");
    equal(songnodes.closeDecision(1008).action, "stop", "1008");
  });

  scenario("songnodes: a user and a guest exchange every message", async () => {
    const alice = songnodes.connectUser({ user_id: "alice" }, { baseUrl, token: mint("alice", { roles: ["user"] }) });
    const seen = new Recorder("alice", alice);
    const welcome = await seen.message("welcome");
    equal(welcome, {
      type: "welcome",
      authenticated: true,
      user_id: "alice",
      permissions: ["graph.read", "graph.search", "playlist.write"],
    }, "user welcome");
    await seen.event("established");

    const guest = songnodes.connectAnonymous({ baseUrl });
    const guestSeen = new Recorder("guest", guest);
    const guestWelcome = await guestSeen.message("welcome");
    equal(
      [guestWelcome.authenticated, guestWelcome.user_id, guestWelcome.permissions],
      [false, undefined, ["graph.read"]],
      "anonymous welcome",
    );
    check(guest.sendSubscribe({ channel: "tracks" }), "guest subscribe sent");
    equal((await guestSeen.message("graph_update")).nodes.length, 5, "tracks channel nodes");
    check(guest.sendSearch({ query: "daft" }), "guest search sent");
    const refused = await guestSeen.message("error");
    equal([refused.code, refused.message], ["forbidden", "forbidden"], "guest search refused in-band");

    check(alice.sendSubscribe({ channel: "graph" }), "subscribe sent");
    const graph = await seen.message("graph_update");
    equal([graph.nodes.length, graph.edges.length], [10, 12], "graph channel");
    check(alice.sendSearch({ query: "kraft", limit: 5 }), "search sent");
    const results = await seen.message("search_results");
    equal([results.query, results.nodes[0]?.id], ["kraft", "artist:kraftwerk"], "search_results");
    check(alice.sendAddToPlaylist({ playlist_id: ALICE_PLAYLIST, track_id: "track:computer-love" }), "add sent");
    const updated = await seen.message("playlist_updated");
    equal([updated.playlist_id, updated.tracks], [ALICE_PLAYLIST, 2], "playlist_updated");
    equal((await seen.message("graph_update")).nodes[0]?.weight, 1, "alice sees the new weight");
    equal((await guestSeen.message("graph_update")).nodes[0]?.id, "track:computer-love", "the guest sees it too");
    check(alice.sendAddToPlaylist({ playlist_id: BOB_PLAYLIST, track_id: "track:computer-love" }), "foreign add sent");
    equal((await seen.message("error")).code, "forbidden", "bob's playlist is forbidden");
    check(alice.isOpen, "still open after an in-band error");
    await closes(alice);
    await closes(guest);
  });

  scenario("songnodes: subjects with @, : and + bind to the path", async () => {
    // The users start_songnodes adds (generated/tests/support/examples.rs).
    for (const subject of ["alice+ws@example.com", "urn:user:1", "o'brien!(ops)@example.com"]) {
      const client = songnodes.connectUser({ user_id: subject }, { baseUrl, token: mint(subject, { roles: ["user"] }) });
      const seen = new Recorder(subject, client);
      const welcome = await seen.message("welcome");
      equal([welcome.authenticated, welcome.user_id], [true, subject], `${subject}: welcome`);
      await closes(client);
    }
  });

  scenario("songnodes: refusals stop with a typed CloseError", async () => {
    const cases: Array<[string, string, string[], number, string, string]> = [
      ["alice", "bob", ["user"], 1008, "Unauthorized: User ID mismatch", "subject_mismatch"],
      ["mallory", "mallory", ["user"], 1008, "Authentication failed", "user_inactive"],
      ["alice", "alice", [], 4003, "forbidden", "forbidden"],
    ];
    for (const [subject, user, roles, code, reason, kind] of cases) {
      const token = provider(mint(subject, { roles }));
      const connection = songnodes.connectUser({ user_id: user }, { baseUrl, token, backoff: fast });
      const seen = new Recorder(`${subject} on ${user}`, connection);
      const error = await stopped(connection, songnodes.CloseError, { code, reason, why: "stop", kind });
      equal(error.action, "stop", "the catalogue's action");
      equal(token.calls, 1, `${subject} on ${user}: no second attempt`);
      equal(seen.count("reconnecting"), 0, "no reconnection");
    }
  });

  scenario("songnodes: an invalid token closes 1008 and stops, as SongNodes' document states", async () => {
    const token = provider("not-a-jwt", mint("alice", { roles: ["user"] }));
    const alice = songnodes.connectUser({ user_id: "alice" }, { baseUrl, token, backoff: fast });
    const seen = new Recorder("invalid", alice);
    await stopped(alice, songnodes.CloseError, {
      code: 1008,
      reason: "Authentication failed",
      why: "stop",
      kind: "auth_failed",
    });
    equal(token.calls, 1, "the provider was asked once");
    equal(seen.count("reconnecting"), 0, "no reconnection");
  });
}

// ---------------------------------------------------------------------------
// shipvox
// ---------------------------------------------------------------------------

/** `POST /token` with the password grant (form-encoded); the access token. */
async function signIn(user: string): Promise<string> {
  const response = await fetch(`${httpUrl}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "password", username: user, password: "password" }).toString(),
  });
  const text = await response.text();
  check(response.ok, `sign-in of ${user}: ${response.status} ${text}`);
  const body: unknown = JSON.parse(text);
  check(
    typeof body === "object" && body !== null && "access_token" in body && typeof body.access_token === "string",
    `no access_token in ${text}`,
  );
  return body.access_token;
}

function shipvoxScenarios(): void {
  scenario("shipvox: two clients with tokens from POST /token share the broadcast", async () => {
    const alice = shipvox.connectBroadcast({ baseUrl, token: () => signIn("alice") });
    const aliceSeen = new Recorder("alice", alice);
    const first = await aliceSeen.message("connected");
    equal([first.user_id, first.listeners], ["alice", 1], "alice's welcome");
    const bob = shipvox.connectBroadcast({ baseUrl, token: await signIn("bob") });
    const bobSeen = new Recorder("bob", bob);
    const second = await bobSeen.message("connected");
    equal([second.user_id, second.listeners], ["bob", 2], "bob's welcome");
    check(bob.sendSay({ text: "Ship it." }), "say sent");
    const toAlice = await aliceSeen.message("relayed");
    const toBob = await bobSeen.message("relayed");
    for (const relayed of [toAlice, toBob]) {
      equal([relayed.from, relayed.text], ["bob", "Ship it."], "relayed");
      check(relayed.at.endsWith("Z"), `at ${relayed.at}`);
      equal(relayed.request_id.length, 36, "request_id is a UUID");
    }
    equal(toAlice.request_id, toBob.request_id, "one broadcast, one request id");
    await closes(alice);
    await closes(bob);
  });

  scenario("shipvox: an open message reaches every client, stamped by the server", async () => {
    const nextOpen = (connection: shipvox.BroadcastConnection): Promise<shipvox.OpenMessage> =>
      Promise.race([
        new Promise<shipvox.OpenMessage>((resolve) => {
          const off = connection.onOpen((message) => {
            off();
            resolve(message);
          });
        }),
        sleep(5000).then((): never => {
          throw new Error("no open message within 5000 ms");
        }),
      ]);
    const alice = shipvox.connectBroadcast({ baseUrl, token: () => signIn("alice") });
    const aliceSeen = new Recorder("alice", alice);
    await aliceSeen.message("connected");
    const bob = shipvox.connectBroadcast({ baseUrl, token: await signIn("bob") });
    await new Recorder("bob", bob).message("connected");
    const toAlice = nextOpen(alice);
    const toBob = nextOpen(bob);
    check(bob.sendOpen({ type: "test", payload: { message: "Hello" }, user: "mallory" }), "open message sent");
    const [a, b] = await Promise.all([toAlice, toBob]);
    for (const relayed of [a, b]) {
      equal([relayed.type, relayed["user"]], ["test", "bob"], "stamped with the sender, over what it wrote");
      equal(JSON.stringify(relayed["payload"]), JSON.stringify({ message: "Hello" }), "payload kept");
      check(typeof relayed["timestamp"] === "number", `timestamp ${String(relayed["timestamp"])}`);
      check(typeof relayed["requestId"] === "string", `requestId ${String(relayed["requestId"])}`);
    }
    equal(a["requestId"], b["requestId"], "one broadcast, one request id");
    equal(aliceSeen.messages.length, 1, "open messages never reach onMessage (only the welcome did)");
    let refused = "";
    try {
      bob.sendOpen({ type: "relayed", text: "forged" });
    } catch (error) {
      refused = error instanceof RangeError ? "RangeError" : String(error);
    }
    equal(refused, "RangeError", "a declared type is not an open message");
    await closes(alice);
    await closes(bob);
  });

  scenario("shipvox: an inactive user stops with 4002", async () => {
    const mallory = shipvox.connectBroadcast({ baseUrl, token: mint("mallory", { roles: ["user"] }), backoff: fast });
    const seen = new Recorder("mallory", mallory);
    const error = await stopped(mallory, shipvox.CloseError, {
      code: 4002,
      reason: "user inactive",
      why: "stop",
      kind: "user_inactive",
    });
    equal(error.kinds, ["user_inactive"], "kinds");
    equal(seen.count("reconnecting"), 0, "no reconnection");
  });

  scenario("shipvox: an expired token is replaced by signing in again", async () => {
    const token = provider(mint("bob", { roles: ["user"] }, -60), () => signIn("bob"));
    const bob = shipvox.connectBroadcast({ baseUrl, token });
    const seen = new Recorder("bob", bob);
    const close = await seen.event("close");
    equal([close.code, close.action], [1008, "refresh_token"], "close (the ShipVox document's 1008)");
    equal((await seen.event("reconnecting")).delayMs, 0, "reconnect at once");
    equal((await seen.message("connected")).user_id, "bob", "welcomed after signing in");
    equal(token.calls, 2, "one token per connection");
    await closes(bob);
  });
}

// ---------------------------------------------------------------------------
// reflections
// ---------------------------------------------------------------------------

interface Expected {
  entry1: string[];
  failingEntry: number;
  failingPartial: string[];
}

function reflectionScenarios(): void {
  const expected = JSON.parse(env("WSAUTH_EXPECTED")) as Expected;
  const alice = (): string => mint("alice", { roles: ["user"] });

  /** Collects the text frames of `connection`: one token each (the endpoint's frames are raw). */
  function tokensOf(connection: reflections.ReflectionConnection): string[] {
    const tokens: string[] = [];
    connection.onData((data) => {
      check(typeof data === "string", "a text frame");
      tokens.push(data as string);
    });
    return tokens;
  }

  scenario("reflections: the streamed tokens, then the normal close", async () => {
    const connection = reflections.connectReflection({ entry_id: 1 }, { baseUrl, token: alice() });
    const tokens = tokensOf(connection);
    const seen = new Recorder("entry 1", connection);
    const end = await outcome(connection);
    equal(end, { kind: "closed", code: 1000, reason: "done" }, "outcome");
    equal(tokens, expected.entry1, "the whole reflection");
    const close = await seen.event("close");
    equal([close.action, close.kinds], ["closed", ["completed"]], "the close event");
    equal(seen.count("reconnecting"), 0, "no reconnection");
    equal(reflections.closeDecision(1000), { action: "closed", kinds: ["completed"], known: true }, "1000");
  });

  scenario("reflections: refusals stop with a typed CloseError", async () => {
    const cases: Array<[string, number, number, string, string]> = [
      ["bob", 1, 4003, "forbidden", "forbidden"],
      ["alice", 99, 4004, "entry not found", "not_found"],
      ["mallory", 1, 4002, "user inactive", "user_inactive"],
    ];
    for (const [user, entry, code, reason, kind] of cases) {
      const connection = reflections.connectReflection(
        { entry_id: entry },
        { baseUrl, token: mint(user, { roles: ["user"] }), backoff: fast },
      );
      await stopped(connection, reflections.CloseError, { code, reason, why: "stop", kind });
    }
  });

  scenario("reflections: an invalid token refreshes once, then stops", async () => {
    const token = provider("not-a-jwt", alice());
    const connection = reflections.connectReflection({ entry_id: 1 }, { baseUrl, token });
    const seen = new Recorder("refresh", connection);
    const tokens = tokensOf(connection);
    const close = await seen.event("close");
    equal([close.code, close.action], [4001, "refresh_token"], "close");
    const end = await outcome(connection);
    equal(end.kind, "closed", "the fresh token streams the reflection to its end");
    equal(tokens, expected.entry1, "every token after the refresh");
    equal(token.calls, 2, "the provider was asked twice");

    const bad = provider("not-a-jwt");
    const stoppedAgain = reflections.connectReflection({ entry_id: 1 }, { baseUrl, token: bad });
    await stopped(stoppedAgain, reflections.CloseError, {
      code: 4001,
      reason: "invalid or expired token",
      why: "refresh_failed",
      kind: "auth_failed",
    });
    equal(bad.calls, 2, "one refresh, no loop");
  });

  scenario("reflections: a failing generation closes 1011 and the client backs off and streams again", async () => {
    const connection = reflections.connectReflection(
      { entry_id: expected.failingEntry },
      { baseUrl, token: alice(), backoff: fast },
    );
    const seen = new Recorder("failing entry", connection);
    const tokens = tokensOf(connection);
    const firstClose = await seen.event("close");
    equal(
      [firstClose.code, firstClose.reason, firstClose.action, firstClose.kinds],
      [1011, "server error", "backoff", ["server_error"]],
      "the first close",
    );
    const again = await seen.event("reconnecting");
    equal(again.action, "backoff", "reconnect action");
    check(again.delayMs <= fast.baseMs, `first delay ${again.delayMs} ms within the base`);
    await seen.event("close", (e) => e.code === 1011);
    const partial = expected.failingPartial.length;
    check(tokens.length >= 2 * partial, "both attempts streamed their tokens");
    equal(tokens.slice(0, partial), expected.failingPartial, "the first attempt's tokens");
    equal(tokens.slice(partial, 2 * partial), expected.failingPartial, "the second attempt's tokens");
    await closes(connection);

    // Without reconnection the same close is a typed stop.
    const once = reflections.connectReflection(
      { entry_id: expected.failingEntry },
      { baseUrl, token: alice(), reconnect: false },
    );
    await stopped(once, reflections.CloseError, {
      code: 1011,
      reason: "server error",
      why: "no_reconnect",
      kind: "server_error",
    });
  });
}

// ---------------------------------------------------------------------------
// mcp-status
// ---------------------------------------------------------------------------

function mcpScenarios(): void {
  scenario("mcp-status: initial_status, the text heartbeat, then the board's changes", async () => {
    const dev = mcp.connectStatus({ baseUrl, token: mint("dev", { role: "developer" }), heartbeatIntervalMs: 30 });
    const seen = new Recorder("developer", dev);
    const initial = await seen.message("initial_status");
    equal(initial.mcps.map((s) => s.name), ["filesystem", "github", "postgres", "slack"], "initial_status");
    await seen.event("pong");
    await seen.event("pong");
    equal(seen.count("invalid"), 0, "the pong is not a message");
    const hook = await fetch(`${httpUrl}/__test/postgres-down`);
    check(hook.ok, `the test hook: ${hook.status}`);
    const change = await seen.message("mcp_status_change");
    equal([change.mcp_id, change.old_status, change.new_status], ["postgres", "degraded", "down"], "mcp_status_change");
    check(!Number.isNaN(Date.parse(change.at)), `at ${change.at}`);
    const health = await seen.message("health_event");
    equal([health.mcp_id, health.level, health.message], ["postgres", "critical", "replica lag"], "health_event");
    await closes(dev);
  });

  scenario("mcp-status: every refusal is 1008 stop, a typed CloseError, no refresh", async () => {
    // The spec maps even bad tokens to 1008 `stop`: there is no
    // refresh_token code in this catalogue, so the provider is asked once.
    equal(mcp.closeDecision(1008).action, "stop", "1008");
    const cases: Array<[string, string, string]> = [
      ["a user", mint("alice", { role: "user" }), "Insufficient permissions: role not authorized"],
      ["an invalid token", "not-a-jwt", "Authentication failed: Invalid or expired token"],
      ["an inactive user", mint("mallory", { role: "admin" }), "user inactive"],
    ];
    for (const [label, value, reason] of cases) {
      const token = provider(value);
      const connection = mcp.connectStatus({ baseUrl, token, backoff: fast });
      const seen = new Recorder(label, connection);
      const error = await stopped(connection, mcp.CloseError, { code: 1008, reason, why: "stop", kind: "forbidden" });
      equal(error.kinds.length, 7, `${label}: every kind sharing 1008`);
      equal(token.calls, 1, `${label}: the provider was asked once`);
      equal(seen.count("reconnecting"), 0, `${label}: no reconnection`);
    }
  });
}

const examples: Record<string, () => void> = {
  songnodes: songnodesScenarios,
  shipvox: shipvoxScenarios,
  reflections: reflectionScenarios,
  "mcp-status": mcpScenarios,
};

async function main(): Promise<void> {
  const register = examples[example];
  check(register !== undefined, `unknown example \`${example}\` (one of ${Object.keys(examples).join(", ")})`);
  register();
  for (const [name, run] of scenarios) {
    await run();
    console.log(`ok - ${name}`);
  }
  console.log(`${example}: ${scenarios.length} scenarios passed`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
