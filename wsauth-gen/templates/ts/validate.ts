{% raw %}

// ---------------------------------------------------------------------------
// Payload checks: every message from the server is checked against its
// schema in the spec (types, required fields, no undeclared fields, and the
// constraints) before a handler sees it, as the Rust client decodes into its
// typed enum. One that fails is an `invalid` event, like a frame that is not
// JSON; the connection stays open.
// ---------------------------------------------------------------------------

/** A payload schema as the client checks it (generated from the spec). */
type __WsauthSchema =
  | { readonly kind: "object"; readonly fields: readonly __WsauthField[] }
  | {
      readonly kind: "string";
      readonly values?: readonly string[];
      readonly minLength?: number;
      readonly maxLength?: number;
      readonly format?: "date-time" | "date" | "uuid";
      readonly pattern?: string;
    }
  | { readonly kind: "integer" | "number"; readonly minimum?: number; readonly maximum?: number }
  | { readonly kind: "array"; readonly items: __WsauthSchema; readonly minItems?: number; readonly maxItems?: number }
  | { readonly kind: "boolean" | "any" }
  | { readonly kind: "ref"; readonly name: string };

/** A field of an object schema. */
interface __WsauthField {
  readonly name: string;
  readonly required: boolean;
  readonly schema: __WsauthSchema;
}

/** Nesting followed before a message is taken as invalid (the server's JSON parser stops at 128). */
const __wsauthMaxDepth = 128;

/**
 * Compiled patterns, by source; `null` for one this host cannot compile (the
 * spec's patterns are Rust `regex` syntax, checked by the server; a construct
 * JavaScript lacks leaves the pattern unchecked here rather than refusing
 * every message).
 */
const __wsauthPatterns = new Map<string, RegExp | null>();

function __wsauthPattern(source: string): RegExp | null {
  let compiled = __wsauthPatterns.get(source);
  if (compiled === undefined) {
    try {
      compiled = new RegExp(source, "u");
    } catch {
      compiled = null;
    }
    __wsauthPatterns.set(source, compiled);
  }
  return compiled;
}

/** Length in Unicode code points, as JSON Schema counts (a surrogate pair is one). */
function __wsauthLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
      }
    }
    n++;
  }
  return n;
}

/** `YYYY-MM-DD` naming a day that exists. */
function __wsauthDate(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (m === null) {
    return false;
  }
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  return days !== undefined && day >= 1 && day <= days;
}

/** RFC 3339 `date-time`, as the server checks it. */
function __wsauthDateTime(text: string): boolean {
  const m = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/.exec(text);
  if (m === null || !__wsauthDate(m[1] ?? "")) {
    return false;
  }
  const within = (group: string | undefined, max: number) => group === undefined || Number(group) <= max;
  return within(m[2], 23) && within(m[3], 59) && within(m[4], 60) && within(m[5], 23) && within(m[6], 59);
}

function __wsauthFormat(format: "date-time" | "date" | "uuid", text: string): boolean {
  switch (format) {
    case "uuid":
      return /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(text);
    case "date":
      return __wsauthDate(text);
    case "date-time":
      return __wsauthDateTime(text);
  }
}

function __wsauthBounds(schema: { readonly minimum?: number; readonly maximum?: number }, n: number): boolean {
  return (schema.minimum === undefined || n >= schema.minimum) && (schema.maximum === undefined || n <= schema.maximum);
}

/**
 * Whether `value` satisfies `schema`. `frame`: `value` is the whole message,
 * whose `type` sits beside the payload's fields. `null` never stands in for
 * a value: an optional field is left out.
 */
function __wsauthValid(schema: __WsauthSchema, value: unknown, frame: boolean, depth: number): boolean {
  if (depth > __wsauthMaxDepth) {
    return false;
  }
  switch (schema.kind) {
    case "any":
      return true;
    case "ref": {
      const target = __wsauthSchemas.get(schema.name);
      return target !== undefined && __wsauthValid(target, value, frame, depth + 1);
    }
    case "boolean":
      return typeof value === "boolean";
    case "integer":
      return typeof value === "number" && Number.isInteger(value) && __wsauthBounds(schema, value);
    case "number":
      return typeof value === "number" && Number.isFinite(value) && __wsauthBounds(schema, value);
    case "string": {
      if (typeof value !== "string") {
        return false;
      }
      if (schema.values !== undefined && !schema.values.includes(value)) {
        return false;
      }
      if (schema.minLength !== undefined || schema.maxLength !== undefined) {
        const length = __wsauthLength(value);
        if ((schema.minLength !== undefined && length < schema.minLength) || (schema.maxLength !== undefined && length > schema.maxLength)) {
          return false;
        }
      }
      if (schema.format !== undefined && !__wsauthFormat(schema.format, value)) {
        return false;
      }
      const pattern = schema.pattern === undefined ? null : __wsauthPattern(schema.pattern);
      return pattern === null || pattern.test(value);
    }
    case "array":
      return (
        Array.isArray(value) &&
        (schema.minItems === undefined || value.length >= schema.minItems) &&
        (schema.maxItems === undefined || value.length <= schema.maxItems) &&
        value.every((item: unknown) => __wsauthValid(schema.items, item, false, depth + 1))
      );
    case "object": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return false;
      }
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        if (!(frame && key === "type") && !schema.fields.some((f) => f.name === key)) {
          return false;
        }
      }
      return schema.fields.every((field) =>
        Object.prototype.hasOwnProperty.call(record, field.name)
          ? __wsauthValid(field.schema, record[field.name], false, depth + 1)
          : !field.required,
      );
    }
  }
}
{% endraw %}

/** The spec's named schemas. */
const __wsauthSchemas: ReadonlyMap<string, __WsauthSchema> = new Map<string, __WsauthSchema>([
{%- for entry in checked_schemas %}
  [{{ entry.name }}, {{ entry.schema }}],
{%- endfor %}
]);

/** The payload schema of every message a server sends, by `type`. */
const __wsauthPayloads: ReadonlyMap<string, __WsauthSchema> = new Map<string, __WsauthSchema>([
{%- for entry in checked_payloads %}
  [{{ entry.name }}, {{ entry.schema }}],
{%- endfor %}
]);
