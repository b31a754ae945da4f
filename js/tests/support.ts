// What the Node and browser tests of the generated TypeScript clients share:
// HS256 tokens minted like prsm's (Node only), and a recorder that waits for
// a connection's messages and lifecycle events.

import type { ConnectionEvent } from "../../generated/prsm/prsm.js";

/** Something that reports messages and lifecycle events: any generated connection. */
export interface Observable<S> {
  onMessage(handler: (message: S) => void): () => void;
  onEvent(listener: (event: ConnectionEvent) => void): () => void;
}

/** A test failure with a readable message. */
export class Failure extends Error {
  override name = "Failure";
}

/** Fails with `message` unless `condition` holds. */
export function check(condition: boolean, message: string): asserts condition {
  if (!condition) {
    throw new Failure(message);
  }
}

/** Fails unless `actual` equals `expected` (as JSON). */
export function equal(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  check(a === e, `${what}: expected ${e}, got ${a}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Records everything a connection reports, and waits for what comes next:
 * each `message`/`event` call consumes the first unconsumed match.
 */
export class Recorder<S extends { type: string }> {
  readonly messages: S[] = [];
  readonly events: ConnectionEvent[] = [];
  readonly #takenMessages = new Set<number>();
  readonly #takenEvents = new Set<number>();
  #wake: Array<() => void> = [];

  constructor(readonly label: string, connection: Observable<S>) {
    connection.onMessage((message) => {
      this.messages.push(message);
      this.#notify();
    });
    connection.onEvent((event) => {
      this.events.push(event);
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = [];
    for (const w of wake) {
      w();
    }
  }

  async #until<T>(what: string, find: () => T | undefined, ms: number): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = find();
      if (found !== undefined) {
        return found;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Failure(
          `${this.label}: no ${what} within ${ms} ms; events: ${JSON.stringify(this.events)}; messages: ${JSON.stringify(this.messages)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next message of type `type`. */
  message<T extends S["type"]>(type: T, ms = 5000): Promise<Extract<S, { type: T }>> {
    return this.#until(`\`${type}\` message`, () => {
      const i = this.messages.findIndex((m, i) => m.type === type && !this.#takenMessages.has(i));
      if (i < 0) {
        return undefined;
      }
      this.#takenMessages.add(i);
      return this.messages[i] as Extract<S, { type: T }>;
    }, ms);
  }

  /** The next event of kind `kind` that satisfies `accept`. */
  event<K extends ConnectionEvent["kind"]>(
    kind: K,
    accept: (event: Extract<ConnectionEvent, { kind: K }>) => boolean = () => true,
    ms = 5000,
  ): Promise<Extract<ConnectionEvent, { kind: K }>> {
    return this.#until(`\`${kind}\` event`, () => {
      const i = this.events.findIndex(
        (e, i) => e.kind === kind && !this.#takenEvents.has(i) && accept(e as Extract<ConnectionEvent, { kind: K }>),
      );
      if (i < 0) {
        return undefined;
      }
      this.#takenEvents.add(i);
      return this.events[i] as Extract<ConnectionEvent, { kind: K }>;
    }, ms);
  }

  /** How many events of kind `kind` were seen. */
  count(kind: ConnectionEvent["kind"]): number {
    return this.events.filter((e) => e.kind === kind).length;
  }
}
