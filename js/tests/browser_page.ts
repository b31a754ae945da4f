// Runs in Chromium, loaded by the page generated/tests/typescript/browser.rs serves from
// the prsm server's own origin: the generated prsm client with the browser's
// own WebSocket. `js/tests/browser.ts` calls `wsauthBrowserScenario` through
// playwright and checks what it returns.

import { CloseError, connectConversation, connectWeb3 } from "../../generated/prsm/prsm.js";
import { Recorder } from "./support.js";

/** What the driver passes in. */
interface Input {
  /** `http://127.0.0.1:<port>`: the page's origin, turned into `ws://` by the client. */
  baseUrl: string;
  /** A valid token for alice. */
  alice: string;
}

/** What the driver checks. */
interface Output {
  welcome: { user_id: string; endpoint: string };
  answer: string;
  tokens: number;
  balanceToken: string;
  forbidden: { kind: string; code?: number; reason?: string; why?: string; kinds?: readonly string[]; isCloseError?: boolean };
}

async function scenario(input: Input): Promise<Output> {
  const token = (): string => input.alice;
  // Subprotocol token: the page's own origin, which prsm allows.
  const alice = connectConversation({ user_id: "alice", conversation_id: 1 }, { baseUrl: input.baseUrl, token });
  const seen = new Recorder("conversation", alice);
  const welcome = await seen.message("connected");
  alice.sendSendMessage({ text: "hello from chromium" });
  const parts: string[] = [];
  const done = await seen.message("ai_done");
  for (let i = 0; i < done.tokens; i += 1) {
    parts.push((await seen.message("ai_token")).token);
  }
  alice.close();
  await alice.closed;

  // Query token on web3.
  const wallet = connectWeb3({ user_id: "alice" }, { baseUrl: input.baseUrl, token: input.alice });
  const walletSeen = new Recorder("web3", wallet);
  await walletSeen.message("connected");
  wallet.sendSubscribeWallet({ address: "0x52908400098527886E0F7030069857D2E4169EE7" });
  const balance = await walletSeen.message("balance_update");
  wallet.close();
  await wallet.closed;

  // Bob's conversation: 4003 forbidden, the client stops with a typed error.
  const intruder = connectConversation({ user_id: "alice", conversation_id: 2 }, { baseUrl: input.baseUrl, token });
  const end = await intruder.closed;
  const forbidden =
    end.kind === "stopped"
      ? {
          kind: end.kind,
          code: end.error.code,
          reason: end.error.reason,
          why: end.error.why,
          kinds: end.error.kinds,
          isCloseError: end.error instanceof CloseError,
        }
      : { kind: end.kind };
  return {
    welcome: { user_id: welcome.user_id, endpoint: welcome.endpoint },
    answer: parts.join(""),
    tokens: done.tokens,
    balanceToken: balance.token,
    forbidden,
  };
}

(globalThis as unknown as { wsauthBrowserScenario: (input: Input) => Promise<Output> }).wsauthBrowserScenario = scenario;
