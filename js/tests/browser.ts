// Drives Debian's Chromium (playwright-core) to the page generated/tests/typescript/browser.rs
// serves from the prsm server, runs `wsauthBrowserScenario` (browser_page.ts)
// there and checks its result and that the console stayed free of errors.
//
// Environment: WSAUTH_PAGE_URL (the page), WSAUTH_SECRET (HS256), CHROMIUM (the
// browser's path). Exits non-zero with a message on failure.

import { createHmac } from "node:crypto";

import { chromium } from "playwright-core";

import { check, equal } from "./support.js";

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`${name} is not set`);
  }
  return value;
}

function mint(sub: string, roles: string[], secret: string): string {
  const b64 = (data: string | Buffer): string => Buffer.from(data).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const header = b64(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const claims = b64(JSON.stringify({ sub, roles, iat: now, exp: now + 600, iss: "prsm", aud: "prsm-ws" }));
  return `${header}.${claims}.${b64(createHmac("sha256", secret).update(`${header}.${claims}`).digest())}`;
}

const pageUrl = env("WSAUTH_PAGE_URL");
const secret = env("WSAUTH_SECRET");
const browser = await chromium.launch({
  executablePath: env("CHROMIUM"),
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
let failed = false;
try {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  await page.goto(pageUrl);
  await page.waitForFunction(() => "wsauthBrowserScenario" in globalThis, undefined, { timeout: 10000 });
  const origin = new URL(pageUrl).origin;
  const input = { baseUrl: origin, alice: mint("alice", ["user"], secret) };
  const result = await page.evaluate(
    (arg) =>
      (globalThis as unknown as { wsauthBrowserScenario: (a: typeof arg) => Promise<unknown> }).wsauthBrowserScenario(arg),
    input,
  );
  console.log(JSON.stringify(result));
  const r = result as {
    welcome: unknown;
    answer: string;
    tokens: number;
    balanceToken: string;
    forbidden: unknown;
  };
  equal(r.welcome, { user_id: "alice", endpoint: "conversation" }, "welcome");
  equal(r.answer, "You said: hello from chromium", "streamed answer");
  equal(r.tokens, 5, "ai_done.tokens");
  equal(r.balanceToken, "ETH", "balance_update.token");
  equal(
    r.forbidden,
    {
      kind: "stopped",
      code: 4003,
      reason: "forbidden",
      why: "stop",
      kinds: ["subject_mismatch", "forbidden", "not_found", "origin_rejected"],
      isCloseError: true,
    },
    "forbidden conversation",
  );
  check(problems.length === 0, `the console has errors:\n${problems.join("\n")}`);
  console.log("ok - chromium: welcome, send_message, 4003 forbidden stops with a CloseError, no console errors");
} catch (error) {
  failed = true;
  console.log(`FAIL - chromium: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
