// The generated prsm client (generated/prsm/prsm.ts) under Node, against the
// running prsm example: every message type of the spec and every close code
// the example can reach, checking what the client does about each (stop with a
// typed error, refresh the token and reconnect, back off and reconnect), the
// in-band refresh, and the reconnect after a server restart.
//
// Run by generated/tests/typescript/node_prsm.rs, which starts prsm and passes
//   WSAUTH_WS_URL       ws://127.0.0.1:<port>
//   WSAUTH_SECRET       the HS256 secret
//   WSAUTH_RESTART_URL  GET it to make the test restart the server (1001)
// Exits non-zero with a message on the first failure.

import { createHmac } from "node:crypto";
import { type AddressInfo, createServer } from "node:net";

import {
  CloseCode,
  CloseError,
  type CloseOutcome,
  type TokenOptions,
  closeDecision,
  connectConversation,
  connectNotifications,
  connectWeb3,
} from "../../generated/prsm/prsm.js";
import { Recorder, check, equal, sleep } from "./support.js";

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

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString("base64url");
}

/** An HS256 token as prsm expects: sub, exp, iat, iss, aud, roles. */
function mint(sub: string, roles: string[], options: { expiresIn?: number; secret?: string } = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const header = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const claims = base64url(
    JSON.stringify({ sub, roles, iat: now, exp: now + (options.expiresIn ?? 600), iss: "prsm", aud: "prsm-ws" }),
  );
  const signature = createHmac("sha256", options.secret ?? secret).update(`${header}.${claims}`).digest();
  return `${header}.${claims}.${base64url(signature)}`;
}

const fast = { baseMs: 20, capMs: 200 };

/** A token provider that hands out `tokens` in turn (the last one forever) and counts its calls. */
function provider(...tokens: string[]): { (): Promise<string>; calls: number } {
  const next = async (): Promise<string> => {
    const token = tokens[Math.min(next.calls, tokens.length - 1)] ?? "";
    next.calls += 1;
    return token;
  };
  next.calls = 0;
  return next;
}

async function outcome(connection: { closed: Promise<CloseOutcome> }, ms = 8000): Promise<CloseOutcome> {
  const timeout = sleep(ms).then(() => null);
  const result = await Promise.race([connection.closed, timeout]);
  check(result !== null, `the connection did not end within ${ms} ms`);
  return result;
}

/** Expects the connection to stop with a CloseError. */
async function stopped(
  connection: { closed: Promise<CloseOutcome> },
  code: number,
  why: CloseError["why"],
  kind: string,
): Promise<CloseError> {
  const end = await outcome(connection);
  check(end.kind === "stopped", `expected a stop with ${code}, got ${JSON.stringify(end)}`);
  check(end.error instanceof CloseError, "the error is a CloseError");
  equal(end.error.code, code, "close code");
  equal(end.error.why, why, "why it stopped");
  check(end.error.kinds.some((k) => k === kind), `kinds ${JSON.stringify(end.error.kinds)} include ${kind}`);
  return end.error;
}

async function closes(connection: { close(): void; closed: Promise<CloseOutcome> }): Promise<void> {
  connection.close();
  const end = await outcome(connection);
  equal(end.kind, "closed", "outcome after close()");
}

const scenarios: Array<[string, () => Promise<void>]> = [];
function scenario(name: string, run: () => Promise<void>): void {
  scenarios.push([name, run]);
}

scenario("close codes map to the spec's actions", async () => {
  equal(CloseCode.AuthFailed, 4001, "CloseCode.AuthFailed");
  equal(closeDecision(4001).action, "refresh_token", "4001");
  equal(closeDecision(4003).action, "stop", "4003");
  equal(closeDecision(4008).action, "backoff", "4008");
  equal(closeDecision(1011).action, "backoff", "1011");
  equal(closeDecision(1006), { action: "backoff", kinds: [], known: false }, "1006");
  equal(closeDecision(4999), { action: "stop", kinds: [], known: false }, "4999");
});

scenario("notifications: welcome, then the pending notifications (subprotocol token)", async () => {
  const alice = connectNotifications({ user_id: "alice" }, { baseUrl, token: mint("alice", ["user"]) });
  const seen = new Recorder("notifications", alice);
  const welcome = await seen.message("connected");
  equal([welcome.user_id, welcome.endpoint], ["alice", "notifications"], "welcome");
  check(!Number.isNaN(Date.parse(welcome.server_time)), `server_time ${welcome.server_time}`);
  const first = await seen.message("notification");
  const second = await seen.message("notification");
  equal([first.id, second.id], [1, 2], "notification ids");
  equal(first.body, "Signed in as alice.", "notification body");
  await closes(alice);
});

scenario("conversation: subscribe, send_message streams ai_token then ai_done, typing both ways, error reply", async () => {
  const alice = connectConversation({ user_id: "alice", conversation_id: 1 }, { baseUrl, token: mint("alice", ["user"]) });
  const seen = new Recorder("conversation", alice);
  await seen.message("connected");
  check(alice.sendSubscribeConversation(), "subscribe_conversation sent");
  check(alice.sendSubscribeConversation({ since: 0 }), "subscribe_conversation since sent");
  check(alice.sendSendMessage({ text: "hello world" }), "send_message sent");
  const tokens: string[] = [];
  for (let i = 0; i < 4; i += 1) {
    const token = await seen.message("ai_token");
    equal(token.index, i, "ai_token index");
    tokens.push(token.token);
  }
  equal(tokens.join(""), "You said: hello world", "the streamed answer");
  const done = await seen.message("ai_done");
  equal(done.tokens, 4, "ai_done.tokens");
  check(alice.sendTyping({ user_id: "someone-else", active: true }), "typing sent");
  const typing = await seen.message("typing");
  equal([typing.user_id, typing.active], ["alice", true], "typing relayed with the real subject");
  check(alice.sendSendMessage({ text: "" }), "empty send_message sent");
  const error = await seen.message("error");
  equal(error.code, "invalid_message", "error code");
  await closes(alice);
});

scenario("conversation: a moderator may read but not post (error forbidden, still open)", async () => {
  const mod = connectConversation({ user_id: "mod", conversation_id: 1 }, { baseUrl, token: mint("mod", ["moderator"]) });
  const seen = new Recorder("moderator", mod);
  await seen.message("connected");
  mod.sendSendMessage({ text: "may I?" });
  const error = await seen.message("error");
  equal([error.code, error.message], ["forbidden", "forbidden"], "error");
  mod.sendTyping({ user_id: "mod", active: false });
  equal((await seen.message("typing")).active, false, "still open: typing relayed");
  await closes(mod);
});

scenario("web3: subscribe_wallet gives balance_update and transaction (query token); a bad address an error", async () => {
  const address = "0x52908400098527886E0F7030069857D2E4169EE7";
  const alice = connectWeb3({ user_id: "alice" }, { baseUrl, token: async () => mint("alice", ["user"]) });
  const seen = new Recorder("web3", alice);
  equal((await seen.message("connected")).endpoint, "web3", "welcome endpoint");
  alice.sendSubscribeWallet({ address });
  const balance = await seen.message("balance_update");
  equal([balance.address, balance.token], [address, "ETH"], "balance_update");
  const transaction = await seen.message("transaction");
  equal([transaction.to, transaction.status], [address, "confirmed"], "transaction");
  alice.sendSubscribeWallet({ address: "0x1234" });
  equal((await seen.message("error")).code, "invalid_message", "error code");
  await closes(alice);
});

scenario("4001 without a token: one reconnect with a fresh token, then stop (no loop)", async () => {
  const anonymous = connectWeb3({ user_id: "alice" }, { baseUrl } as TokenOptions);
  const seen = new Recorder("no token", anonymous);
  const error = await stopped(anonymous, 4001, "refresh_failed", "auth_required");
  equal(error.reason, "authentication required", "reason");
  equal(seen.count("connecting"), 2, "attempts");
  equal((await seen.event("reconnecting")).action, "refresh_token", "reconnect action");
});

scenario("4001 with an invalid token: the provider is asked again, then stop", async () => {
  const bad = provider(mint("alice", ["user"], { secret: "another-secret-0123456789-0123456789" }));
  const alice = connectConversation({ user_id: "alice", conversation_id: 1 }, { baseUrl, token: bad });
  await stopped(alice, 4001, "refresh_failed", "auth_failed");
  equal(bad.calls, 2, "provider calls");
});

scenario("4001 with an expired token: refresh_token, provider called, reconnected", async () => {
  const tokens = provider(mint("alice", ["user"], { expiresIn: -120 }), mint("alice", ["user"]));
  const alice = connectConversation({ user_id: "alice", conversation_id: 1 }, { baseUrl, token: tokens });
  const seen = new Recorder("expired", alice);
  const close = await seen.event("close");
  equal([close.code, close.action], [4001, "refresh_token"], "first close");
  equal((await seen.event("reconnecting")).action, "refresh_token", "reconnect");
  await seen.message("connected");
  await seen.event("established");
  equal(tokens.calls, 2, "provider calls");
  await closes(alice);
});

scenario("4001 for an inactive user: the provider is asked again, then stop", async () => {
  const mallory = provider(mint("mallory", ["user"]));
  const inactive = connectNotifications({ user_id: "mallory" }, { baseUrl, token: mallory });
  const error = await stopped(inactive, 4001, "refresh_failed", "user_inactive");
  equal(error.reason, "user not found or inactive", "reason");
  equal(mallory.calls, 2, "provider calls");
});

scenario("4003: subject mismatch, forbidden conversation, unknown conversation, missing permission", async () => {
  const cases: Array<[string, { closed: Promise<CloseOutcome> }, string]> = [
    ["subject mismatch", connectNotifications({ user_id: "bob" }, { baseUrl, token: mint("alice", ["user"]) }), "subject_mismatch"],
    ["forbidden", connectConversation({ user_id: "alice", conversation_id: 2 }, { baseUrl, token: mint("alice", ["user"]) }), "forbidden"],
    ["not found", connectConversation({ user_id: "alice", conversation_id: 99 }, { baseUrl, token: mint("alice", ["user"]) }), "not_found"],
    ["no permission", connectWeb3({ user_id: "mod" }, { baseUrl, token: mint("mod", ["moderator"]) }), "forbidden"],
  ];
  for (const [name, connection, kind] of cases) {
    const error = await stopped(connection, CloseCode.Forbidden, "stop", kind);
    equal([error.reason, error.action], ["forbidden", "stop"], name);
  }
});

scenario("4008: the eleventh connection backs off and gets in once a slot frees", async () => {
  const token = mint("admin", ["admin"]);
  const ten = [];
  for (let i = 0; i < 10; i += 1) {
    const connection = connectNotifications({ user_id: "admin" }, { baseUrl, token });
    const seen = new Recorder(`admin ${i}`, connection);
    await seen.message("connected");
    ten.push(connection);
  }
  const eleventh = connectNotifications({ user_id: "admin" }, { baseUrl, token, backoff: fast });
  const seen = new Recorder("eleventh", eleventh);
  const close = await seen.event("close");
  equal([close.code, close.action, close.kinds], [4008, "backoff", ["too_many_connections"]], "close");
  const again = await seen.event("reconnecting");
  equal(again.action, "backoff", "reconnect action");
  check(again.delayMs >= 0 && again.delayMs <= fast.baseMs, `first delay ${again.delayMs} within the base`);
  await closes(ten[0]!);
  await seen.message("connected", 5000);
  await seen.event("established");
  for (const connection of [...ten.slice(1), eleventh]) {
    await closes(connection);
  }
});

scenario("1011 when the store fails: backoff and reconnect attempts", async () => {
  const alice = connectConversation({ user_id: "alice", conversation_id: 13 }, { baseUrl, token: mint("alice", ["user"]), backoff: fast });
  const seen = new Recorder("server error", alice);
  const close = await seen.event("close");
  equal([close.code, close.action, close.kinds], [1011, "backoff", ["server_error"]], "close");
  await seen.event("reconnecting", (e) => e.action === "backoff");
  await seen.event("close", (e) => e.code === 1011);
  check(seen.count("connecting") >= 2, "reconnected");
  await closes(alice);
});

scenario("1009 on an oversized message: stop with a typed error", async () => {
  const alice = connectConversation({ user_id: "alice", conversation_id: 1 }, { baseUrl, token: mint("alice", ["user"]) });
  const seen = new Recorder("too big", alice);
  await seen.message("connected");
  alice.sendSendMessage({ text: "x".repeat(70_000) });
  await stopped(alice, 1009, "stop", "message_too_big");
});

scenario("in-band refresh keeps a connection past exp; without it the server closes with 4001", async () => {
  const fresh = provider(mint("alice", ["user"], { expiresIn: 3 }), mint("alice", ["user"], { expiresIn: 600 }));
  const refreshing = connectConversation({ user_id: "alice", conversation_id: 1 }, { baseUrl, token: fresh });
  const kept = new Recorder("refreshing", refreshing);
  // A fixed string cannot be refreshed: the server closes it at exp.
  const expiring = connectConversation({ user_id: "alice", conversation_id: 1 }, { baseUrl, token: mint("alice", ["user"], { expiresIn: 3 }) });
  const lost = new Recorder("expiring", expiring);
  await kept.message("connected");
  await lost.message("connected");
  await kept.event("refreshing", () => true, 4000);
  const refreshed = await kept.event("refreshed", () => true, 4000);
  check(refreshed.exp >= Date.now() / 1000 + 590, `refreshed exp ${refreshed.exp}`);
  equal(fresh.calls, 2, "provider calls");
  const expired = await lost.event("close", () => true, 12000);
  equal([expired.code, expired.reason, expired.action], [4001, "token expired", "refresh_token"], "expiry close");
  await stopped(expiring, 4001, "refresh_failed", "auth_failed");
  // Past the first token's exp (and the server's leeway), the refreshed one still serves.
  refreshing.sendTyping({ user_id: "alice", active: true });
  equal((await kept.message("typing")).user_id, "alice", "typing after exp");
  equal(kept.count("close"), 0, "the refreshed connection never closed");
  await closes(refreshing);
});

scenario("a server that accepts and never answers: the attempt times out as 1006 and backs off", async () => {
  const silent = createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const { port } = silent.address() as AddressInfo;
  try {
    const started = Date.now();
    const alice = connectConversation(
      { user_id: "alice", conversation_id: 1 },
      { baseUrl: `ws://127.0.0.1:${port}`, token: mint("alice", ["user"]), connectTimeoutMs: 300, backoff: { baseMs: 50, capMs: 50 } },
    );
    const seen = new Recorder("silent", alice);
    const close = await seen.event("close", () => true, 5000);
    equal([close.code, close.action], [1006, "backoff"], "a timed-out attempt");
    check(Date.now() - started >= 290, "not before the timeout");
    equal(seen.count("open"), 0, "never opened");
    await seen.event("connecting", (e) => e.attempt === 2, 5000);
    let refused: unknown = null;
    try {
      alice.close(1001);
    } catch (error) {
      refused = error;
    }
    check(refused instanceof RangeError, `close(1001) is refused: ${String(refused)}`);
    // Closing while it connects ends the connection at once.
    alice.close();
    const ended = await Promise.race([alice.closed, sleep(5000).then(() => "still waiting after 5000 ms")]);
    equal(ended, { kind: "closed", code: 1000, reason: "" }, "closed while connecting");
  } finally {
    silent.close();
  }
});

scenario("server restart: 1001 going away, backoff, reconnect", async () => {
  const tokens = provider(mint("alice", ["user"]));
  const alice = connectConversation(
    { user_id: "alice", conversation_id: 1 },
    // An attempt that lands while the server restarts is retried, not waited on.
    { baseUrl, token: tokens, backoff: { baseMs: 100, capMs: 500 }, connectTimeoutMs: 3000 },
  );
  const seen = new Recorder("restart", alice);
  await seen.message("connected");
  const response = await fetch(restartUrl);
  check(response.ok, `restart request: ${response.status}`);
  const close = await seen.event("close", () => true, 10000);
  equal([close.code, close.action], [1001, "backoff"], "close on shutdown");
  equal((await seen.event("reconnecting")).action, "backoff", "reconnect action");
  await seen.message("connected", 15000);
  check(tokens.calls >= 2, "a token for each attempt");
  alice.sendTyping({ user_id: "alice", active: true });
  await seen.message("typing");
  await closes(alice);
});

let failed = false;
for (const [name, run] of scenarios) {
  const started = Date.now();
  try {
    await run();
    console.log(`ok - ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    failed = true;
    console.log(`FAIL - ${name}: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    break;
  }
}
process.exit(failed ? 1 : 0);
