{% raw %}

// ---------------------------------------------------------------------------
// Topics: subscriptions to the server's fan-out instances, the same in every
// module like the connection runtime. A connection keeps its subscriptions
// across reconnects: as each new socket opens, every one is sent again with
// `since` (the last publication it saw), so the server replays what was
// missed, or says it cannot (`onHistoryLost`: the app reloads).
// ---------------------------------------------------------------------------

/** Why the server refused a topic request or ended a subscription (wsauth-spec's `wire::TopicRefusal`). */
export type TopicRefusal = {% endraw %}{{ wire.topic_refusals }}{% raw %};

/** Why a subscription ended on the server's side: a re-check failed (a {@link TopicRefusal}), or the server left it (`server`). */
export type TopicEndReason = TopicRefusal | "server";

/** The server refused a topic request; the connection stays open. */
export class TopicRefusedError extends Error {
  /** Why, as the server says it. */
  readonly error: TopicRefusal;
  /** The request refused (`wsauth.subscribe`, `wsauth.publish`, ...). */
  readonly request: string;
  /** The topic asked for. */
  readonly topic: string;
  /** The instance's params, as the server echoed them. */
  readonly params: unknown;

  constructor(error: TopicRefusal, request: string, topic: string, params: unknown) {
    super(request + " on `" + topic + "` refused: " + error);
    this.name = "TopicRefusedError";
    this.error = error;
    this.request = request;
    this.topic = topic;
    this.params = params;
  }
}

/**
 * A topic request that got no answer: the socket closed first
 * (`disconnected`; a publication may or may not have been accepted), or
 * the subscription was unsubscribed before the server answered it
 * (`cancelled`).
 */
export class TopicRequestError extends Error {
  /** What ended the request. */
  readonly why: "disconnected" | "cancelled";

  constructor(why: "disconnected" | "cancelled") {
    super(why === "disconnected" ? "the connection closed before the server answered" : "unsubscribed before the server answered");
    this.name = "TopicRequestError";
    this.why = why;
  }
}

/** A subject's first connection joined the instance, or its last one left. */
export type PresenceEvent = { kind: "joined"; subject: string } | { kind: "left"; subject: string };

/** What a subscription calls; `M` is the union of the topic's messages. */
export interface TopicHandlers<M> {
  /** A message published on the instance (the replayed ones too, after a reconnect), in offset order. */
  onMessage?: (message: M, publication: { offset: number }) => void;
  /**
   * After a reconnect, the server could not replay what was published
   * since `lost` (a new instance life, or older than its history keeps,
   * or a topic without history): reload the state. The subscription holds.
   */
  onHistoryLost?: (lost: { epoch: string; offset: number }) => void;
  /** The server ended the subscription (a resubscribe refused, a re-check after a token refresh failed, or the server left it). */
  onEnded?: (reason: TopicEndReason) => void;
}

/** What a subscription to a topic with presence calls besides. */
export interface PresenceHandlers {
  /** Someone else joined or left the instance. */
  onPresence?: (event: PresenceEvent) => void;
}

/** A subscription to one topic instance; `P` is the topic's params. */
export interface TopicSubscription<P> {
  /** The topic's name. */
  readonly topic: string;
  /** The instance's params. */
  readonly params: Readonly<P>;
  /** Whether it still holds (`false` once unsubscribed, ended by the server, or the connection ended). */
  readonly active: boolean;
  /** The instance life the last answer came from. */
  readonly epoch: string;
  /** The last publication seen (the instance's latest when subscribing, 0 before the first). */
  readonly offset: number;
  /** Leaves the instance: resolves once the server confirms (at once when no socket is open). */
  unsubscribe(): Promise<void>;
}

/** A subscription to a topic clients may publish on. */
export interface PublishingSubscription<M> {
  /** Publishes `message` on the instance: resolves with its offset, or rejects with a {@link TopicRefusedError} or {@link TopicRequestError}. */
  publish(message: M): Promise<number>;
}

/** A subscription to a topic with presence. */
export interface PresenceSubscription {
  /** Who is subscribed (subjects, sorted), as the events so far tell. */
  readonly present: readonly string[];
  /** Asks the server who is subscribed now. */
  presence(): Promise<readonly string[]>;
}

/** A topic as the runtime needs it (generated below). */
interface __WsauthTopicDescriptor {
  readonly name: string;
  readonly messages: readonly string[];
  /** Open messages flow on it too (the declared types they never use), or `null`. */
  readonly open: { readonly declared: readonly string[] } | null;
}

/** A message on a topic, as the runtime handles it (the generated types narrow it). */
interface __WsauthTopicMessage {
  readonly type: string;
}

/** A topic frame from the server (shapes in wsauth-spec's `wire`). */
interface __WsauthTopicFrame {
  readonly type: string;
  readonly [field: string]: unknown;
}

type __WsauthHandlers = TopicHandlers<__WsauthTopicMessage> & PresenceHandlers;

/** The framework's topic words (wsauth-spec's `wire`). */
const __wsauthTopicWire = {
  subscribe: {% endraw %}{{ wire.subscribe }}{% raw %},
  subscribed: {% endraw %}{{ wire.subscribed }}{% raw %},
  unsubscribe: {% endraw %}{{ wire.unsubscribe }}{% raw %},
  unsubscribed: {% endraw %}{{ wire.unsubscribed }}{% raw %},
  publish: {% endraw %}{{ wire.publish }}{% raw %},
  published: {% endraw %}{{ wire.published }}{% raw %},
  publication: {% endraw %}{{ wire.publication }}{% raw %},
  presence: {% endraw %}{{ wire.presence }}{% raw %},
  refused: {% endraw %}{{ wire.refused }}{% raw %},
  refusals: [{% endraw %}{{ wire.topic_refusal_list }}{% raw %}] as readonly string[],
} as const;

/** The topic frames a server sends. */
const __wsauthTopicFrames: readonly string[] = [
  __wsauthTopicWire.subscribed,
  __wsauthTopicWire.unsubscribed,
  __wsauthTopicWire.published,
  __wsauthTopicWire.publication,
  __wsauthTopicWire.presence,
  __wsauthTopicWire.refused,
];

/** One instance's identity: the topic and its params, whatever their order. */
function __wsauthTopicKey(topic: unknown, params: unknown): string {
  const entries = typeof params === "object" && params !== null ? Object.entries(params) : [];
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([topic, entries]);
}

function __wsauthRefusal(word: unknown): TopicRefusal {
  return typeof word === "string" && __wsauthTopicWire.refusals.includes(word) ? (word as TopicRefusal) : "server_error";
}

/** A request waiting for its answer, by `id`. */
interface __WsauthPending {
  answer(frame: __WsauthTopicFrame): void;
  fail(error: Error): void;
}

/** One subscription: the handle the app holds, kept across reconnects. */
class __WsauthSubscription {
  readonly topic: string;
  readonly params: object;
  readonly key: string;
  readonly #topics: __WsauthTopics;
  readonly #descriptor: __WsauthTopicDescriptor;
  readonly #handlers: __WsauthHandlers;
  active = true;
  epoch = "";
  offset = 0;
  /** Whether the server has answered once (later subscribes carry `since`). */
  answered = false;
  present: string[] = [];
  /** The first subscribe's promise, until the server answers it. */
  waiting: { resolve: (subscription: __WsauthSubscription) => void; reject: (error: Error) => void } | null = null;

  constructor(topics: __WsauthTopics, descriptor: __WsauthTopicDescriptor, params: object, handlers: __WsauthHandlers) {
    this.#topics = topics;
    this.#descriptor = descriptor;
    this.#handlers = handlers;
    this.topic = descriptor.name;
    this.params = params;
    this.key = __wsauthTopicKey(descriptor.name, params);
  }

  unsubscribe(): Promise<void> {
    return this.#topics.unsubscribe(this);
  }

  async publish(message: __WsauthTopicMessage): Promise<number> {
    const frame = await this.#topics.request({ type: __wsauthTopicWire.publish, topic: this.topic, params: this.params, message });
    return typeof frame["offset"] === "number" ? frame["offset"] : 0;
  }

  async presence(): Promise<readonly string[]> {
    const frame = await this.#topics.request({ type: __wsauthTopicWire.presence, topic: this.topic, params: this.params });
    const present = frame["present"];
    this.present = Array.isArray(present) ? present.filter((s): s is string => typeof s === "string") : [];
    return this.present;
  }

  /** The server's `wsauth.subscribed`. */
  subscribed(frame: __WsauthTopicFrame): void {
    const epoch = typeof frame["epoch"] === "string" ? frame["epoch"] : "";
    const offset = typeof frame["offset"] === "number" ? frame["offset"] : 0;
    if (frame["recovered"] !== true) {
      // No `since` (the first answer), or history lost: start from here.
      if (frame["recovered"] === false && this.#handlers.onHistoryLost !== undefined) {
        __wsauthCall(this.#handlers.onHistoryLost, { epoch: this.epoch, offset: this.offset });
      }
      this.epoch = epoch;
      this.offset = offset;
    }
    // Recovered: the missed publications follow and advance `offset`.
    this.answered = true;
    const present = frame["present"];
    if (Array.isArray(present)) {
      this.present = present.filter((s): s is string => typeof s === "string");
    }
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.resolve(this);
  }

  /** A publication on the instance; `false` when it is not one the topic carries. */
  publication(frame: __WsauthTopicFrame): boolean {
    const offset = frame["offset"];
    const message = frame["message"];
    if (
      typeof offset !== "number" ||
      typeof message !== "object" ||
      message === null ||
      !("type" in message) ||
      typeof message.type !== "string" ||
      !(
        this.#descriptor.messages.includes(message.type) ||
        (this.#descriptor.open !== null && __wsauthIsOpenType(this.#descriptor.open, message.type))
      )
    ) {
      return false;
    }
    const schema = __wsauthPayloads.get(message.type);
    if (schema !== undefined && !__wsauthValid(schema, message, true, 0)) {
      return false;
    }
    if (offset <= this.offset) {
      // Seen already (replayed twice).
      return true;
    }
    this.offset = offset;
    if (this.#handlers.onMessage !== undefined) {
      const handler = this.#handlers.onMessage;
      __wsauthCall((m: __WsauthTopicMessage) => handler(m, { offset }), message as __WsauthTopicMessage);
    }
    return true;
  }

  /** A presence event. */
  presenceEvent(frame: __WsauthTopicFrame): void {
    const joined = frame["joined"];
    const left = frame["left"];
    let event: PresenceEvent;
    if (typeof joined === "string") {
      this.present = [...new Set([...this.present, joined])].sort();
      event = { kind: "joined", subject: joined };
    } else if (typeof left === "string") {
      this.present = this.present.filter((s) => s !== left);
      event = { kind: "left", subject: left };
    } else {
      return;
    }
    if (this.#handlers.onPresence !== undefined) {
      __wsauthCall(this.#handlers.onPresence, event);
    }
  }

  /** The subscription ended: by the server (`reason`), or with the connection (`error`, for a first subscribe still waiting). */
  end(reason: TopicEndReason | null, error: Error): void {
    this.active = false;
    const waiting = this.waiting;
    this.waiting = null;
    if (waiting !== null) {
      waiting.reject(error);
    } else if (reason !== null && this.#handlers.onEnded !== undefined) {
      __wsauthCall(this.#handlers.onEnded, reason);
    }
  }
}

/** A connection's subscriptions and topic requests in flight. */
class __WsauthTopics {
  readonly #subscriptions = new Map<string, __WsauthSubscription>();
  readonly #pending = new Map<number, __WsauthPending>();
  #nextId = 0;
  /** Sends a frame on the open socket; `null` while none is. */
  #send: ((text: string) => boolean) | null = null;

  subscribe(descriptor: __WsauthTopicDescriptor, params: object, handlers: __WsauthHandlers): Promise<__WsauthSubscription> {
    const subscription = new __WsauthSubscription(this, descriptor, params, handlers);
    if (this.#subscriptions.has(subscription.key)) {
      return Promise.reject(new RangeError("already subscribed to `" + descriptor.name + "` " + JSON.stringify(params)));
    }
    this.#subscriptions.set(subscription.key, subscription);
    const answered = new Promise<__WsauthSubscription>((resolve, reject) => {
      subscription.waiting = { resolve, reject };
    });
    this.#sendSubscribe(subscription);
    return answered;
  }

  unsubscribe(subscription: __WsauthSubscription): Promise<void> {
    if (this.#subscriptions.get(subscription.key) !== subscription) {
      return Promise.resolve();
    }
    this.#subscriptions.delete(subscription.key);
    subscription.end(null, new TopicRequestError("cancelled"));
    if (this.#send === null) {
      // The server forgot it with the socket.
      return Promise.resolve();
    }
    return this.request({ type: __wsauthTopicWire.unsubscribe, topic: subscription.topic, params: subscription.params }).then(
      () => undefined,
      (error: unknown) => {
        // Not subscribed (the server ended it meanwhile) or the socket
        // closed: either way the instance is left.
        if (!(error instanceof TopicRefusedError) && !(error instanceof TopicRequestError)) {
          throw error;
        }
      },
    );
  }

  /** Sends a request and waits for the answer with its `id`. */
  request(frame: { readonly type: string; readonly [field: string]: unknown }): Promise<__WsauthTopicFrame> {
    return new Promise((resolve, reject) => {
      const id = this.#sendRequest(frame, { answer: resolve, fail: reject });
      if (id === null) {
        reject(new TopicRequestError("disconnected"));
      }
    });
  }

  /** A socket opened: every subscription is sent (again), with `since` once answered before. */
  opened(send: (text: string) => boolean): void {
    this.#send = send;
    for (const subscription of [...this.#subscriptions.values()]) {
      this.#sendSubscribe(subscription);
    }
  }

  /** The socket closed: the requests in flight get no answer (subscriptions wait for the next socket). */
  lost(): void {
    this.#send = null;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const request of pending) {
      request.fail(new TopicRequestError("disconnected"));
    }
  }

  /** The connection ended for good: so does every subscription. */
  ended(): void {
    this.lost();
    const subscriptions = [...this.#subscriptions.values()];
    this.#subscriptions.clear();
    for (const subscription of subscriptions) {
      subscription.end(null, new TopicRequestError("disconnected"));
    }
  }

  /** Handles a topic frame: `false` when `frame` is not one, `"invalid"` when it is malformed. */
  receive(frame: __WsauthTopicFrame): boolean | "invalid" {
    const wire = __wsauthTopicWire;
    if (!__wsauthTopicFrames.includes(frame.type)) {
      // The endpoint's own messages may carry an `id` of their own.
      return false;
    }
    const id = frame["id"];
    const pending = typeof id === "number" ? this.#pending.get(id) : undefined;
    if (pending !== undefined && typeof id === "number") {
      this.#pending.delete(id);
    }
    switch (frame.type) {
      case wire.subscribed:
      case wire.published:
        pending?.answer(frame);
        return pending !== undefined || "invalid";
      case wire.refused: {
        const refusal = __wsauthRefusal(frame["error"]);
        const topic = typeof frame["topic"] === "string" ? frame["topic"] : "";
        pending?.fail(new TopicRefusedError(refusal, String(frame["request"]), topic, frame["params"]));
        return pending !== undefined || "invalid";
      }
      case wire.unsubscribed:
        if (pending !== undefined) {
          pending.answer(frame);
          return true;
        }
        return this.#ended(frame);
      case wire.presence: {
        if (pending !== undefined) {
          pending.answer(frame);
          return true;
        }
        const subscription = this.#subscriptions.get(__wsauthTopicKey(frame["topic"], frame["params"]));
        subscription?.presenceEvent(frame);
        return true;
      }
      case wire.publication: {
        const subscription = this.#subscriptions.get(__wsauthTopicKey(frame["topic"], frame["params"]));
        // One for an instance just left may still come: ignored.
        return subscription === undefined || subscription.publication(frame) || "invalid";
      }
      default:
        return "invalid";
    }
  }

  /** The server ended a subscription. */
  #ended(frame: __WsauthTopicFrame): true {
    const key = __wsauthTopicKey(frame["topic"], frame["params"]);
    const subscription = this.#subscriptions.get(key);
    if (subscription !== undefined) {
      this.#subscriptions.delete(key);
      const reason = frame["reason"];
      subscription.end(reason === "server" ? "server" : __wsauthRefusal(reason), new TopicRequestError("disconnected"));
    }
    return true;
  }

  #sendSubscribe(subscription: __WsauthSubscription): void {
    const since = subscription.answered ? { epoch: subscription.epoch, offset: subscription.offset } : undefined;
    const frame = { type: __wsauthTopicWire.subscribe, topic: subscription.topic, params: subscription.params, since };
    this.#sendRequest(frame, {
      answer: (answer) => {
        if (this.#subscriptions.get(subscription.key) === subscription) {
          subscription.subscribed(answer);
        }
      },
      fail: (error) => {
        if (error instanceof TopicRefusedError && this.#subscriptions.get(subscription.key) === subscription) {
          this.#subscriptions.delete(subscription.key);
          subscription.end(error.error, error);
        }
        // Disconnected: sent again on the next socket.
      },
    });
  }

  /** Sends `frame` with a fresh `id`, answered through `pending`; `null` when no socket is open. */
  #sendRequest(frame: { readonly [field: string]: unknown }, pending: __WsauthPending): number | null {
    const send = this.#send;
    if (send === null) {
      return null;
    }
    this.#nextId += 1;
    const id = this.#nextId;
    if (!send(JSON.stringify({ ...frame, id }))) {
      return null;
    }
    this.#pending.set(id, pending);
    return id;
  }
}
{% endraw %}
