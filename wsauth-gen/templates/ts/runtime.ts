{% raw %}

// ---------------------------------------------------------------------------
// The connection runtime: the same in every generated module, so that each
// module stands alone (no npm dependency). Private names start with
// `__wsauth` (or `#`), so names from the spec cannot collide with them.
// ---------------------------------------------------------------------------

/** What the client does when the server closes with a code. */
export type ClientAction = "refresh_token" | "backoff" | "stop";

/**
 * A token, or a function that returns one (called before every connection
 * attempt and before every in-band refresh, so it can hand out fresh ones).
 */
export type Token = string | TokenProvider;

/** Returns a current token. */
export type TokenProvider = () => string | Promise<string>;

/**
 * A WebSocket constructor: `globalThis.WebSocket` (browsers, Node 22+, Node 20
 * with `--experimental-websocket`) or the `ws` package's `WebSocket`.
 */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => unknown;

/** Reconnection delays: exponential backoff with full jitter. */
export interface BackoffOptions {
  /** First delay ceiling, in milliseconds (default {% endraw %}{{ wire.backoff_base_ms }}{% raw %}). */
  baseMs?: number;
  /** Largest delay ceiling, in milliseconds (default {% endraw %}{{ wire.backoff_cap_ms }}{% raw %}; at most 2^31 - 1, what a timer can wait). */
  capMs?: number;
  /** Source of randomness in [0, 1) (default `Math.random`; used instead when this one throws). */
  random?: () => number;
  /**
   * How long an admitted connection must stay open to start the backoff
   * from `baseMs` again, in milliseconds (default {% endraw %}{{ wire.backoff_stable_ms }}{% raw %}): a server that
   * admits and then fails every connection at once is not retried at the
   * base delay forever.
   */
  stableMs?: number;
}

/** Options every endpoint takes. */
export interface ConnectOptions {
  /** `ws(s)://host[:port]` (`http(s)://` is accepted); default: the spec's first server. */
  baseUrl?: string;
  /** The WebSocket implementation (default `globalThis.WebSocket`). */
  WebSocket?: WebSocketConstructor;
  /** Reconnection delays. */
  backoff?: BackoffOptions;
  /** Set to `false` to never reconnect: a close that would reconnect stops instead. */
  reconnect?: boolean;
  /**
   * Heartbeat period in milliseconds, where the endpoint declares one
   * (default: the spec's ping interval). Clamped to {% endraw %}{{ wire.min_heartbeat_ms }}{% raw %} ms at least (a
   * smaller value, 0 included, would ping without pause) and 2^31 - 1 ms
   * at most (what a timer can wait).
   */
  heartbeatIntervalMs?: number;
  /**
   * How long one connection attempt may take, in milliseconds (default
   * {% endraw %}{{ wire.connect_timeout_ms }}{% raw %}; 0 for no limit): asking the token provider and opening the
   * socket, together (as the Rust client's `connect_timeout`). An attempt
   * that takes longer (a
   * provider that never settles, a server that accepts the TCP connection
   * and never answers) counts as a network failure (1006). At most
   * 2^31 - 1 ms (what a timer can wait).
   */
  connectTimeoutMs?: number;
}

/** Options of an endpoint that requires a token. */
export interface TokenOptions extends ConnectOptions {
  /** The token, or a provider of fresh ones. */
  token: Token;
}

/** Options of an endpoint that verifies a token when one is given. */
export interface OptionalTokenOptions extends ConnectOptions {
  /** The token, or a provider of fresh ones; without one the connection is anonymous. */
  token?: Token;
}

/** Why a connection stopped with an error. */
export type StopReason =
  /** The spec says `stop` for this code. */
  | "stop"
  /** The code is in no catalogue and is not a transient one. */
  | "unknown_code"
  /** A reconnect with a fresh token was refused again with a `refresh_token` code. */
  | "refresh_failed"
  /** The close asked for a reconnect and `reconnect: false` was set. */
  | "no_reconnect";

/** The typed error a connection stops with. */
export class CloseError extends Error {
  /** The close code. */
  readonly code: number;
  /** The close reason the server gave. */
  readonly reason: string;
  /** The failure kinds the spec maps to this code (empty when it maps none). */
  readonly kinds: readonly FailureKind[];
  /** What the catalogue says to do for this code, if it lists it. */
  readonly action: ClientAction | null;
  /** Why the client stopped. */
  readonly why: StopReason;

  constructor(code: number, reason: string, kinds: readonly FailureKind[], action: ClientAction | null, why: StopReason) {
    super("connection closed with " + String(code) + (reason === "" ? "" : " (" + reason + ")"));
    this.name = "CloseError";
    this.code = code;
    this.reason = reason;
    this.kinds = kinds;
    this.action = action;
    this.why = why;
  }
}

/** How a connection ended for good. */
export type CloseOutcome =
  /** Closed normally: by `close()`, or by the server with 1000. */
  | { kind: "closed"; code: number; reason: string }
  /** Stopped on a close code, with a typed error. */
  | { kind: "stopped"; error: CloseError }
  /** Could not connect at all (no WebSocket, the token provider failed, a bad URL). */
  | { kind: "failed"; error: unknown };

/** What a close code makes the client do. */
export interface CloseDecision {
  /** The action, or `closed` for a normal closure. */
  action: ClientAction | "closed";
  /** The failure kinds the spec maps to the code. */
  kinds: readonly FailureKind[];
  /** Whether the code is in the spec's catalogue. */
  known: boolean;
}

/** Lifecycle events, for logs, UIs and tests. */
export type ConnectionEvent =
  /** An attempt starts (1 for the first connection). */
  | { kind: "connecting"; attempt: number }
  /** The socket opened (the server may still refuse and close it). */
  | { kind: "open" }
  /** The server admitted the connection: its welcome (or first message) arrived. */
  | { kind: "established" }
  /** A fresh token was sent in-band. */
  | { kind: "refreshing" }
  /** The server accepted the in-band token; it now expires at `exp` (unix seconds). */
  | { kind: "refreshed"; exp: number }
  /** The token provider failed during an in-band refresh (the server will close at `exp`). */
  | { kind: "refresh_error"; error: unknown }
  /** The socket closed, and what the client does about it. */
  | { kind: "close"; code: number; reason: string; action: ClientAction | "closed"; kinds: readonly FailureKind[] }
  /** A new attempt is scheduled. */
  | { kind: "reconnecting"; action: "refresh_token" | "backoff"; delayMs: number; attempt: number }
  /** The server answered the text heartbeat. */
  | { kind: "pong" }
  /** A frame that is not a message this endpoint may receive. */
  | { kind: "invalid"; data: string }
  /** The connection ended for good. */
  | { kind: "stopped"; outcome: CloseOutcome };

/** What a close code makes the client do, per the spec's catalogue. */
export function closeDecision(code: number): CloseDecision {
  const rule = __wsauthCloseRules[code];
  if (code === __wsauthWire.normalClose) {
    // A normal closure (the handler finished: `completed`) ends the
    // connection without an error, whatever the catalogue's action.
    return { action: "closed", kinds: rule?.kinds ?? [], known: rule !== undefined };
  }
  if (rule !== undefined) {
    return { action: rule.action, kinds: rule.kinds, known: true };
  }
  if (__wsauthWire.retryUnknownCodes.includes(code)) {
    return { action: "backoff", kinds: [], known: false };
  }
  return { action: "stop", kinds: [], known: false };
}

interface __WsauthCloseRule {
  readonly action: ClientAction;
  readonly kinds: readonly FailureKind[];
}

/** How an endpoint's token travels (internal: read by {@link Connection}). */
export type TokenTransport =
  | { readonly kind: "subprotocol"; readonly marker: string }
  | { readonly kind: "query"; readonly name: string }
  | { readonly kind: "header" }
  | { readonly kind: "cookie" }
  | { readonly kind: "none" };

/** What {@link Connection} needs to know about an endpoint (internal: generated below). */
export interface EndpointDescriptor {
  readonly name: string;
  readonly transport: TokenTransport;
  readonly welcome: string | null;
  readonly sends: readonly string[];
  readonly raw: boolean;
  readonly refresh: boolean;
  readonly heartbeat: { readonly ping: string; readonly pong: string; readonly intervalMs: number } | null;
  /** Open messages (types the spec does not declare): which way they may flow, and the declared types they never use. */
  readonly open: { readonly receives: boolean; readonly sends: boolean; readonly declared: readonly string[] } | null;
}

/**
 * An open message: a JSON object whose `type` is none of the spec's messages
 * (nor `wsauth.`), with any other fields. Only endpoints whose spec allows
 * them (`open`) send or receive these; modules with such endpoints export
 * it as `OpenMessage`.
 */
interface __WsauthOpenMessage {
  readonly type: string;
  readonly [field: string]: unknown;
}

/** Whether `type` may be an open message's on `open`'s endpoint. */
function __wsauthIsOpenType(open: { readonly declared: readonly string[] }, type: string): boolean {
  return !type.startsWith("wsauth.") && !open.declared.includes(type);
}

interface __WsauthSocket {
  binaryType: string;
  send(data: string | ArrayBuffer | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  readonly readyState: number;
}

type __WsauthSocketConstructor = new (url: string, protocols?: string | string[], options?: unknown) => __WsauthSocket;

interface __WsauthGlobals {
  readonly WebSocket?: unknown;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
  queueMicrotask(callback: () => void): void;
  atob(data: string): string;
}

// The host's timers, WebSocket and base64 decoder, read through globalThis so
// that the module needs neither the DOM nor the Node type definitions.
const __wsauthGlobal = globalThis as unknown as __WsauthGlobals;

const __wsauthOpen = 1;

/** The framework's wire words and the client defaults (wsauth-spec's `wire`, shared with the Rust client). */
const __wsauthWire = {
  refresh: {% endraw %}{{ wire.refresh }}{% raw %},
  refreshed: {% endraw %}{{ wire.refreshed }}{% raw %},
  normalClose: {% endraw %}{{ wire.normal_close }}{% raw %},
  abnormalClose: {% endraw %}{{ wire.abnormal_close }}{% raw %},
  backoffBaseMs: {% endraw %}{{ wire.backoff_base_ms }}{% raw %},
  backoffCapMs: {% endraw %}{{ wire.backoff_cap_ms }}{% raw %},
  backoffStableMs: {% endraw %}{{ wire.backoff_stable_ms }}{% raw %},
  connectTimeoutMs: {% endraw %}{{ wire.connect_timeout_ms }}{% raw %},
  minHeartbeatMs: {% endraw %}{{ wire.min_heartbeat_ms }}{% raw %},
  refreshLeadMs: {% endraw %}{{ wire.refresh_lead_ms }}{% raw %},
  refreshAt: {% endraw %}{{ wire.refresh_at }}{% raw %},
  refreshTooLateMs: {% endraw %}{{ wire.refresh_too_late_ms }}{% raw %},
  retryUnknownCodes: [{% endraw %}{{ wire.retry_unknown_codes }}{% raw %}] as readonly number[],
} as const;

/**
 * The longest delay host timers honour: browsers and Node fire a longer one
 * (2^31 ms, about 24.8 days, and up) at once.
 */
const __wsauthMaxDelayMs = 2147483647;

/** `ms` as a delay a timer honours: from 0 (NaN too) to {@link __wsauthMaxDelayMs}. */
function __wsauthDelay(ms: number): number {
  return ms > 0 ? Math.min(ms, __wsauthMaxDelayMs) : 0;
}

/** A heartbeat period: from {@link __wsauthWire.minHeartbeatMs} (NaN too) to {@link __wsauthMaxDelayMs}. */
function __wsauthHeartbeatMs(ms: number): number {
  return ms >= __wsauthWire.minHeartbeatMs ? Math.min(ms, __wsauthMaxDelayMs) : __wsauthWire.minHeartbeatMs;
}

/**
 * Reports an error thrown by the application's code (a listener, a
 * handler) the way hosts report an event listener's: rethrown on its own,
 * outside the connection's state changes, which go on unaffected.
 */
function __wsauthReport(error: unknown): void {
  __wsauthGlobal.queueMicrotask(() => {
    throw error;
  });
}

/** Calls the application's `callback` with `arg`; a throw is reported, not propagated. */
function __wsauthCall<A>(callback: (arg: A) => void, arg: A): void {
  try {
    callback(arg);
  } catch (error) {
    __wsauthReport(error);
  }
}

/** What an attempt's token is when the provider took longer than the attempt may. */
const __wsauthTimedOut: unique symbol = Symbol("wsauth.timedOut");

/** The `exp` claim of a JWT (unix seconds), read without verifying it: only to schedule a refresh. */
function __wsauthTokenExp(token: string): number | null {
  const part = token.split(".")[1];
  if (part === undefined) {
    return null;
  }
  try {
    const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".slice((base64.length + 3) % 4);
    const claims: unknown = JSON.parse(__wsauthGlobal.atob(padded));
    if (typeof claims === "object" && claims !== null && "exp" in claims && typeof claims.exp === "number") {
      return claims.exp;
    }
  } catch {
    // Not a JWT: no refresh is scheduled.
  }
  return null;
}

/** `ws(s)://` from `ws(s)://` or `http(s)://`, without a trailing slash. */
function __wsauthBase(url: string): string {
  const trimmed = url.replace(/\/+$/, "");
  if (trimmed.startsWith("https://")) {
    return "wss://" + trimmed.slice("https://".length);
  }
  if (trimmed.startsWith("http://")) {
    return "ws://" + trimmed.slice("http://".length);
  }
  return trimmed;
}

/**
 * A live connection to one endpoint: reconnects, refreshes its token and
 * dispatches messages as the spec says. `S` is what the server may send, `C`
 * what the client may send. Create one with the endpoint's `connect...`
 * function.
 */
export class Connection<S extends { type: string }, C extends { type: string }> {
  /** Resolves once the connection has ended for good. */
  readonly closed: Promise<CloseOutcome>;

  readonly #endpoint: EndpointDescriptor;
  readonly #path: string;
  readonly #options: OptionalTokenOptions;
  readonly #heartbeatMs: number;
  readonly #handlers = new Map<string, Set<(message: S) => void>>();
  readonly #messageHandlers = new Set<(message: S) => void>();
  readonly #openHandlers = new Set<(message: __WsauthOpenMessage) => void>();
  readonly #dataHandlers = new Set<(data: string | ArrayBuffer) => void>();
  readonly #eventListeners = new Set<(event: ConnectionEvent) => void>();
{% endraw %}{%- if has_topics %}{% raw %}  readonly #topics = new __WsauthTopics();
{% endraw %}{%- endif %}{% raw %}  #resolveClosed: (outcome: CloseOutcome) => void = () => {};
  #socket: __WsauthSocket | null = null;
  #token: string | null = null;
  #attempt = 0;
  #backoffAttempts = 0;
  #refreshRetry = false;
  #established = false;
  #establishedAt = 0;
  #userClose: { code: number; reason: string } | null = null;
  #done = false;
  #reconnectTimer: unknown = null;
  #refreshTimer: unknown = null;
  #heartbeatTimer: unknown = null;
  #openTimer: unknown = null;
  /** When the current attempt's `connectTimeoutMs` runs out (`Date.now()` ms), or `null` for no limit. */
  #attemptDeadline: number | null = null;

  /** Use the endpoint's `connect...` function instead. */
  constructor(endpoint: EndpointDescriptor, path: string, options: OptionalTokenOptions) {
    this.#endpoint = endpoint;
    this.#path = path;
    this.#options = options;
    this.#heartbeatMs = __wsauthHeartbeatMs(options.heartbeatIntervalMs ?? endpoint.heartbeat?.intervalMs ?? __wsauthWire.minHeartbeatMs);
    this.closed = new Promise<CloseOutcome>((resolve) => {
      this.#resolveClosed = resolve;
    });
    // Start after the caller has attached its handlers.
    void Promise.resolve().then(() => this.#start());
  }

  /** The endpoint's name in the spec. */
  get endpoint(): string {
    return this.#endpoint.name;
  }

  /** Whether a socket is open and may send. */
  get isOpen(): boolean {
    return this.#socket !== null && this.#socket.readyState === __wsauthOpen;
  }

  /** Calls `handler` with every message of type `type`; returns a function that removes it. */
  on<T extends S["type"]>(type: T, handler: (message: Extract<S, { type: T }>) => void): () => void {
    const set = this.#handlers.get(type) ?? new Set<(message: S) => void>();
    this.#handlers.set(type, set);
    const stored = handler as unknown as (message: S) => void;
    set.add(stored);
    return () => {
      set.delete(stored);
    };
  }

  /** Calls `handler` with every message (switch on `message.type`); returns a function that removes it. */
  onMessage(handler: (message: S) => void): () => void {
    this.#messageHandlers.add(handler);
    return () => {
      this.#messageHandlers.delete(handler);
    };
  }

  /** Calls `listener` with every lifecycle event; returns a function that removes it. */
  onEvent(listener: (event: ConnectionEvent) => void): () => void {
    this.#eventListeners.add(listener);
    return () => {
      this.#eventListeners.delete(listener);
    };
  }

  /** Sends a message; `false` when no socket is open (it is dropped). */
  send(message: C): boolean {
    return this.__wsauthSendData(JSON.stringify(message));
  }

  /**
   * Closes the connection for good (default code 1000). Throws a
   * `RangeError` for a code other than 1000 or 3000-4999, and the socket's
   * error for a reason over 123 bytes; the connection is then unchanged.
   */
  close(code: number = __wsauthWire.normalClose, reason = ""): void {
    if (this.#done || this.#userClose !== null) {
      return;
    }
    if (code !== __wsauthWire.normalClose && (code < 3000 || code > 4999 || !Number.isInteger(code))) {
      throw new RangeError("a close code is 1000 or 3000-4999, not " + String(code));
    }
    const socket = this.#socket;
    if (socket !== null && socket.readyState === __wsauthOpen) {
      // Ends when the server answers the close (the socket's close event).
      this.#userClose = { code, reason };
      try {
        socket.close(code, reason);
      } catch (error) {
        // A reason over 123 bytes: nothing changed.
        this.#userClose = null;
        throw error;
      }
      this.#clearTimers();
      return;
    }
    // Not open yet: abandon the attempt now (no close frame is sent); some
    // implementations (Node's) fire no close event for a socket closed
    // while it connects, and its events are ignored from here on.
    this.#userClose = { code, reason };
    this.#socket = null;
    try {
      socket?.close();
    } catch {
      // Already closing: nothing to abandon.
    }
    this.#finish({ kind: "closed", code, reason });
  }

{% endraw %}{%- if has_topics %}{% raw %}  /**
   * Subscribes to a topic instance (endpoints that list topics): `T` is the
   * topic's subscription type, `M` the union of its messages. Sent once a
   * socket is open, and again on every reconnect.
   */
  protected __wsauthSubscribe<T, M extends { type: string }>(
    topic: __WsauthTopicDescriptor,
    params: object,
    handlers: TopicHandlers<M> & PresenceHandlers,
  ): Promise<T> {
    if (this.#done) {
      return Promise.reject(new TopicRequestError("disconnected"));
    }
    // The runtime checks each message's `type` against the topic before a
    // handler sees it, so the handlers' message type holds.
    const loose = handlers as unknown as __WsauthHandlers;
    return this.#topics.subscribe(topic, params, loose) as unknown as Promise<T>;
  }

{% endraw %}{%- endif %}{% raw %}  /** Sends a raw frame (raw endpoints). */
  protected __wsauthSendData(data: string | ArrayBuffer | ArrayBufferView): boolean {
    const socket = this.#socket;
    if (socket === null || socket.readyState !== __wsauthOpen) {
      return false;
    }
    socket.send(data);
    return true;
  }

  /** Sends an open message (endpoints whose spec lets clients send them). */
  protected __wsauthSendOpen(message: __WsauthOpenMessage): boolean {
    const open = this.#endpoint.open;
    if (open === null || !open.receives) {
      throw new RangeError("`" + this.#endpoint.name + "` does not receive open messages");
    }
    if (typeof message.type !== "string" || !__wsauthIsOpenType(open, message.type)) {
      throw new RangeError("`" + String(message.type) + "` is not an open message type: declared and `wsauth.` types are not");
    }
    return this.__wsauthSendData(JSON.stringify(message));
  }

  /** Registers an open message handler (endpoints whose spec sends them). */
  protected __wsauthOnOpen(handler: (message: __WsauthOpenMessage) => void): () => void {
    this.#openHandlers.add(handler);
    return () => {
      this.#openHandlers.delete(handler);
    };
  }

  /** Hands an open message to its handlers (never to `on`/`onMessage`, whose types are the declared messages). */
  #deliverOpen(message: __WsauthOpenMessage): void {
    if (this.#endpoint.welcome === null) {
      this.#establish();
    }
    for (const handler of [...this.#openHandlers]) {
      __wsauthCall(handler, message);
    }
  }

  /** Registers a raw frame handler (raw endpoints). */
  protected __wsauthOnData(handler: (data: string | ArrayBuffer) => void): () => void {
    this.#dataHandlers.add(handler);
    return () => {
      this.#dataHandlers.delete(handler);
    };
  }

  #emit(event: ConnectionEvent): void {
    for (const listener of [...this.#eventListeners]) {
      __wsauthCall(listener, event);
    }
  }

  #clearTimers(): void {
    if (this.#reconnectTimer !== null) {
      __wsauthGlobal.clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = null;
    }
    this.#stopSocketTimers();
  }

  #stopSocketTimers(): void {
    if (this.#openTimer !== null) {
      __wsauthGlobal.clearTimeout(this.#openTimer);
      this.#openTimer = null;
    }
    if (this.#refreshTimer !== null) {
      __wsauthGlobal.clearTimeout(this.#refreshTimer);
      this.#refreshTimer = null;
    }
    if (this.#heartbeatTimer !== null) {
      __wsauthGlobal.clearInterval(this.#heartbeatTimer);
      this.#heartbeatTimer = null;
    }
  }

  #finish(outcome: CloseOutcome): void {
    if (this.#done) {
      return;
    }
    this.#done = true;
    this.#clearTimers();
    this.#socket = null;
{% endraw %}{%- if has_topics %}{% raw %}    this.#topics.ended();
{% endraw %}{%- endif %}{% raw %}    this.#emit({ kind: "stopped", outcome });
    this.#resolveClosed(outcome);
  }

  async #currentToken(): Promise<string | null> {
    const token = this.#options.token;
    if (token === undefined || this.#endpoint.transport.kind === "none") {
      return null;
    }
    return typeof token === "string" ? token : await token();
  }

  /** How long an attempt may wait for the provider, then for the socket to open; `null` for no limit. */
  #connectTimeoutMs(): number | null {
    // 0 or a non-finite value: no limit.
    const ms = this.#options.connectTimeoutMs ?? __wsauthWire.connectTimeoutMs;
    return ms > 0 && Number.isFinite(ms) ? __wsauthDelay(ms) : null;
  }

  /**
   * The token for an attempt, or {@link __wsauthTimedOut} when the provider
   * takes longer than `connectTimeoutMs` (its answer is then ignored).
   */
  #attemptToken(): Promise<string | null | typeof __wsauthTimedOut> {
    const token = this.#currentToken();
    const limit = this.#connectTimeoutMs();
    this.#attemptDeadline = limit === null ? null : Date.now() + limit;
    if (limit === null) {
      return token;
    }
    return new Promise((resolve, reject) => {
      const timer = __wsauthGlobal.setTimeout(() => {
        if (this.#openTimer === timer) {
          this.#openTimer = null;
        }
        resolve(__wsauthTimedOut);
      }, limit);
      this.#openTimer = timer;
      const settle = () => {
        if (this.#openTimer === timer) {
          __wsauthGlobal.clearTimeout(timer);
          this.#openTimer = null;
        }
      };
      token.then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(error);
        },
      );
    });
  }

  /** Ends the connection if the user closed it; whether it did. */
  #endIfUserClosed(): boolean {
    const userClose = this.#userClose;
    if (userClose === null) {
      return false;
    }
    this.#finish({ kind: "closed", code: userClose.code, reason: userClose.reason });
    return true;
  }

  /** Starts an attempt; whatever goes wrong in it ends the connection rather than escaping as a rejection. */
  #start(): void {
    this.#connect().catch((error: unknown) => {
      const socket = this.#socket;
      this.#socket = null;
      try {
        socket?.close();
      } catch {
        // Already closing.
      }
      this.#finish({ kind: "failed", error });
    });
  }

  async #connect(): Promise<void> {
    this.#reconnectTimer = null;
    if (this.#done || this.#endIfUserClosed()) {
      return;
    }
    this.#attempt += 1;
    this.#established = false;
    this.#emit({ kind: "connecting", attempt: this.#attempt });
    let socket: __WsauthSocket;
    try {
      const token = await this.#attemptToken();
      if (this.#done || this.#endIfUserClosed()) {
        return;
      }
      if (token === __wsauthTimedOut) {
        // Like an attempt that never opens: a network failure.
        this.#decide(__wsauthWire.abnormalClose, "");
        return;
      }
      this.#token = token;
      socket = this.#open(token);
    } catch (error) {
      this.#finish({ kind: "failed", error });
      return;
    }
    this.#socket = socket;
    socket.binaryType = "arraybuffer";
    socket.onopen = () => this.#opened(socket);
    socket.onmessage = (event) => this.#received(socket, event.data);
    socket.onerror = () => {
      // Browsers follow with a close event (1006 when the network failed).
      // Node's WebSocket (undici) does not when the socket never opened: it
      // would sit in CONNECTING until the connect timeout.
      if (socket.readyState !== __wsauthOpen) {
        this.#abandon(socket);
      }
    };
    socket.onclose = (event) => this.#closedWith(socket, event.code, event.reason);
    // One budget for the whole attempt, as in the Rust client: the socket
    // gets what the provider left.
    const deadline = this.#attemptDeadline;
    if (deadline !== null) {
      const limit = __wsauthDelay(deadline - Date.now());
      this.#openTimer = __wsauthGlobal.setTimeout(() => {
        this.#openTimer = null;
        if (socket.readyState !== __wsauthOpen) {
          this.#abandon(socket);
        }
      }, limit);
    }
  }

  #open(token: string | null): __WsauthSocket {
    const Ctor = (this.#options.WebSocket ?? __wsauthGlobal.WebSocket) as __WsauthSocketConstructor | undefined;
    if (typeof Ctor !== "function") {
      throw new Error("no WebSocket implementation: pass `WebSocket` in the options (e.g. the `ws` package's)");
    }
    let url = __wsauthBase(this.#options.baseUrl ?? __wsauthDefaultBaseUrl) + this.#path;
    const transport = this.#endpoint.transport;
    if (token !== null && transport.kind === "subprotocol") {
      return new Ctor(url, [transport.marker, transport.marker + ".bearer." + token]);
    }
    if (token !== null && transport.kind === "query") {
      url += (url.includes("?") ? "&" : "?") + encodeURIComponent(transport.name) + "=" + encodeURIComponent(token);
      return new Ctor(url);
    }
    if (token !== null && transport.kind === "header") {
      // Browsers cannot set headers; the `ws` package takes them as a third argument.
      return new Ctor(url, [], { headers: { Authorization: "Bearer " + token } });
    }
    return new Ctor(url);
  }

  #opened(socket: __WsauthSocket): void {
    if (socket !== this.#socket) {
      return;
    }
    if (this.#openTimer !== null) {
      __wsauthGlobal.clearTimeout(this.#openTimer);
      this.#openTimer = null;
    }
    this.#emit({ kind: "open" });
    const heartbeat = this.#endpoint.heartbeat;
    if (heartbeat !== null) {
      this.#heartbeatTimer = __wsauthGlobal.setInterval(() => {
        if (socket.readyState === __wsauthOpen) {
          socket.send(heartbeat.ping);
        }
      }, this.#heartbeatMs);
    }
    this.#scheduleRefresh(this.#token);
{% endraw %}{%- if has_topics %}{% raw %}    this.#topics.opened((text) => this.__wsauthSendData(text));
{% endraw %}{%- endif %}{% raw %}  }

  #establish(): void {
    if (this.#established) {
      return;
    }
    this.#established = true;
    this.#establishedAt = Date.now();
    this.#refreshRetry = false;
    this.#emit({ kind: "established" });
  }

  #received(socket: __WsauthSocket, data: unknown): void {
    if (socket !== this.#socket) {
      return;
    }
    if (this.#endpoint.raw) {
      this.#establish();
      if (typeof data === "string" || data instanceof ArrayBuffer) {
        for (const handler of [...this.#dataHandlers]) {
          __wsauthCall(handler, data);
        }
      }
      return;
    }
    if (typeof data !== "string") {
      this.#emit({ kind: "invalid", data: "(binary frame)" });
      return;
    }
    const heartbeat = this.#endpoint.heartbeat;
    if (heartbeat !== null && data === heartbeat.pong) {
      this.#emit({ kind: "pong" });
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      this.#emit({ kind: "invalid", data });
      return;
    }
    if (typeof parsed !== "object" || parsed === null || !("type" in parsed) || typeof parsed.type !== "string") {
      this.#emit({ kind: "invalid", data });
      return;
    }
    if (this.#endpoint.refresh && parsed.type === __wsauthWire.refreshed) {
      const exp = "exp" in parsed && typeof parsed.exp === "number" ? parsed.exp : 0;
      this.#emit({ kind: "refreshed", exp });
      this.#scheduleRefresh(this.#token);
      return;
    }
{% endraw %}{%- if has_topics %}{% raw %}    const topicFrame = this.#topics.receive(parsed as __WsauthTopicFrame);
    if (topicFrame !== false) {
      if (topicFrame === "invalid") {
        this.#emit({ kind: "invalid", data });
      }
      return;
    }
{% endraw %}{%- endif %}{% raw %}    if (!this.#endpoint.sends.includes(parsed.type)) {
      const open = this.#endpoint.open;
      if (open !== null && open.sends && __wsauthIsOpenType(open, parsed.type)) {
        this.#deliverOpen(parsed as __WsauthOpenMessage);
      } else {
        this.#emit({ kind: "invalid", data });
      }
      return;
    }
    if (this.#endpoint.welcome === null || parsed.type === this.#endpoint.welcome) {
      this.#establish();
    }
    // Admitted by its type, as in the Rust client; delivered only if it
    // matches its schema.
    const schema = __wsauthPayloads.get(parsed.type);
    if (schema !== undefined && !__wsauthValid(schema, parsed, true, 0)) {
      this.#emit({ kind: "invalid", data });
      return;
    }
    const message = parsed as S;
    for (const handler of [...(this.#handlers.get(message.type) ?? [])]) {
      __wsauthCall(handler, message);
    }
    for (const handler of [...this.#messageHandlers]) {
      __wsauthCall(handler, message);
    }
  }

  /** Schedules the in-band refresh of `token`: at the later of exp - 30 s and 80 % of its remaining life. */
  #scheduleRefresh(token: string | null): void {
    if (this.#refreshTimer !== null) {
      __wsauthGlobal.clearTimeout(this.#refreshTimer);
      this.#refreshTimer = null;
    }
    if (!this.#endpoint.refresh || token === null || typeof this.#options.token !== "function") {
      return;
    }
    const exp = __wsauthTokenExp(token);
    if (exp === null) {
      return;
    }
    const now = Date.now();
    const remaining = exp * 1000 - now;
    if (remaining <= __wsauthWire.refreshTooLateMs) {
      return;
    }
    const at = Math.max(exp * 1000 - __wsauthWire.refreshLeadMs, now + __wsauthWire.refreshAt * remaining);
    const wait = at - now;
    this.#refreshTimer = __wsauthGlobal.setTimeout(() => {
      this.#refreshTimer = null;
      if (wait > __wsauthMaxDelayMs) {
        // Further than a timer can wait (a client clock weeks slow): wait
        // again from here rather than refresh now.
        this.#scheduleRefresh(this.#token);
      } else {
        this.#refresh().catch((error: unknown) => this.#emit({ kind: "refresh_error", error }));
      }
    }, __wsauthDelay(wait));
  }

  async #refresh(): Promise<void> {
    const socket = this.#socket;
    if (socket === null) {
      return;
    }
    let fresh: string | null;
    try {
      fresh = await this.#currentToken();
    } catch (error) {
      this.#emit({ kind: "refresh_error", error });
      return;
    }
    if (fresh === null || socket !== this.#socket || socket.readyState !== __wsauthOpen) {
      return;
    }
    this.#token = fresh;
    this.#emit({ kind: "refreshing" });
    socket.send(JSON.stringify({ type: __wsauthWire.refresh, token: fresh }));
  }

  /**
   * Ends an attempt whose socket never opened as the network failure it is
   * (1006); the socket's own close event, if it ever comes, is then ignored.
   */
  #abandon(socket: __WsauthSocket): void {
    if (socket !== this.#socket) {
      return;
    }
    this.#closedWith(socket, __wsauthWire.abnormalClose, "");
    try {
      socket.close();
    } catch {
      // Already closing.
    }
  }

  #closedWith(socket: __WsauthSocket, code: number, reason: string): void {
    if (socket !== this.#socket) {
      return;
    }
    this.#socket = null;
    this.#decide(code, reason);
  }

  /** Acts on an attempt's end with `code` (its socket, if any, already dropped). */
  #decide(code: number, reason: string): void {
    this.#stopSocketTimers();
{% endraw %}{%- if has_topics %}{% raw %}    this.#topics.lost();
{% endraw %}{%- endif %}{% raw %}    if (this.#userClose !== null) {
      this.#emit({ kind: "close", code, reason, action: "closed", kinds: [] });
      this.#finish({ kind: "closed", code, reason });
      return;
    }
    const decision = closeDecision(code);
    this.#emit({ kind: "close", code, reason, action: decision.action, kinds: decision.kinds });
    const rule = decision.known && decision.action !== "closed" ? decision.action : null;
    const stop = (why: StopReason) =>
      this.#finish({ kind: "stopped", error: new CloseError(code, reason, decision.kinds, rule, why) });
    switch (decision.action) {
      case "closed":
        this.#finish({ kind: "closed", code, reason });
        return;
      case "stop":
        stop(decision.known ? "stop" : "unknown_code");
        return;
      case "refresh_token":
        if (this.#options.reconnect === false) {
          stop("no_reconnect");
        } else if (this.#refreshRetry) {
          stop("refresh_failed");
        } else {
          this.#refreshRetry = true;
          this.#emit({ kind: "reconnecting", action: "refresh_token", delayMs: 0, attempt: this.#attempt + 1 });
          this.#start();
        }
        return;
      case "backoff": {
        if (this.#options.reconnect === false) {
          stop("no_reconnect");
          return;
        }
        const backoff = this.#options.backoff ?? {};
        if (this.#established && Date.now() - this.#establishedAt >= (backoff.stableMs ?? __wsauthWire.backoffStableMs)) {
          this.#backoffAttempts = 0;
        }
        const base = backoff.baseMs ?? __wsauthWire.backoffBaseMs;
        const cap = backoff.capMs ?? __wsauthWire.backoffCapMs;
        const random = backoff.random ?? Math.random;
        let draw: number;
        try {
          draw = random();
        } catch (error) {
          __wsauthReport(error);
          draw = Math.random();
        }
        const ceiling = Math.min(cap, base * 2 ** this.#backoffAttempts, __wsauthMaxDelayMs);
        this.#backoffAttempts += 1;
        const delayMs = __wsauthDelay(Math.floor(draw * ceiling));
        this.#emit({ kind: "reconnecting", action: "backoff", delayMs, attempt: this.#attempt + 1 });
        this.#reconnectTimer = __wsauthGlobal.setTimeout(() => this.#start(), delayMs);
        return;
      }
    }
  }
}
{% endraw %}
