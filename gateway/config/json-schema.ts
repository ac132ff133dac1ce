// The JSON Schema of a config file (`sluice schema`, shipped as sluice.schema.json), generated from the one zod
// schema so the two never disagree on a key. It describes what a file may contain — the input side: durations
// and sizes as numbers or strings, defaults optional — for editors to complete and check as one types.
//
// Draft-07, the newest draft editors fully support (VS Code's JSON support is partial beyond it). What JSON Schema
// cannot say stays with the gateway (`sluice check`): references between sections, addresses, regexes that compile.
import { z } from "zod";
import { configSchema, durationSchema, pluginRefSchema, sizeSchema } from "./schema.ts";
import { builtinPlugins } from "../plugin/builtins.ts";
import { DURATION_PATTERN } from "./duration.ts";

type JsonSchema = Record<string, unknown>;

/** The `format`s draft-07 defines. */
const STANDARD_FORMATS = new Set([
  "date-time",
  "date",
  "time",
  "email",
  "idn-email",
  "hostname",
  "idn-hostname",
  "ipv4",
  "ipv6",
  "uri",
  "uri-reference",
  "iri",
  "iri-reference",
  "uri-template",
  "json-pointer",
  "relative-json-pointer",
  "regex",
]);
type ZodDef = Record<string, unknown> & { type: string };

/** The shipped copy, at the top of the package, that a config's `"$schema"` can point at. */
export const SCHEMA_FILE = "sluice.schema.json";

/** What parseSize (size.ts) reads from a string, spelled without the `i` flag, which JSON Schema patterns lack. */
export const SIZE_PATTERN = "^\\s*\\d+(\\.\\d+)?\\s*([bB]|[kKmMgG][bB]?)?\\s*$";

const DURATION_JSON: JsonSchema = {
  anyOf: [
    { type: "number", minimum: 0, description: "milliseconds" },
    { type: "string", pattern: DURATION_PATTERN, description: 'units d, h, m, s, ms, largest first: "500ms", "2s", "1m30s", "1h"' },
  ],
};

const SIZE_JSON: JsonSchema = {
  anyOf: [
    { type: "integer", minimum: 0, description: "bytes" },
    { type: "string", pattern: SIZE_PATTERN, description: 'bytes, or a number with kb, mb or gb: "16kb", "8mb"' },
  ],
};

/** The JSON Schema of a config file, as an object. Async: the built-in plugins are loaded for their options' schemas. */
export async function configJsonSchema(): Promise<JsonSchema> {
  // Plugin lists are at the top and in every route: their items are defined once.
  const generated = toJson(configSchema, (zodSchema) => (zodSchema === pluginRefSchema ? { $ref: "#/definitions/plugin" } : undefined));
  addExclusiveKeys(generated);
  const { $schema, ...rest } = generated;
  return {
    $schema,
    title: "Sluice config",
    description:
      "A Sluice gateway config file (sluice.config.json). `sluice check --config FILE` checks what a schema cannot: references between sections, addresses, patterns, plugin options.",
    ...rest,
    definitions: { plugin: pluginRefJson(await builtinOptionSchemas()) },
  };
}

/** The schema as `sluice schema` prints it and the shipped file holds it. */
export async function configJsonSchemaText(): Promise<string> {
  return `${JSON.stringify(await configJsonSchema(), null, 2)}\n`;
}

/** A zod schema's input side as draft-07 JSON Schema; `instead` may stand in for any schema inside it. */
function toJson(schema: z.ZodType, instead: (zodSchema: unknown) => JsonSchema | undefined = () => undefined): JsonSchema {
  return z.toJSONSchema(schema, {
    target: "draft-07",
    io: "input",
    // A transform (plugin refs written as a name) or a refinement has no JSON Schema: its input side stands for it.
    unrepresentable: "any",
    override: ({ zodSchema, jsonSchema }) => {
      const def = zodSchema._zod.def as ZodDef;
      const replace = (with_: JsonSchema) => {
        for (const key of Object.keys(jsonSchema)) delete (jsonSchema as JsonSchema)[key];
        Object.assign(jsonSchema, structuredClone(with_));
      };
      const own = instead(zodSchema);
      if (own) replace(own);
      // Durations and sizes (and their refined copies, which share the input union) say what their strings read.
      else if (isPipeFrom(def, durationSchema)) replace(DURATION_JSON);
      else if (isPipeFrom(def, sizeSchema)) replace(SIZE_JSON);
      // A key that must be left out (an srv server's `resolve`): any value is wrong.
      else if (def.type === "undefined") replace({ not: {} });
      // zod leaves out a default in front of a transform (its value is the output): ours are valid input too.
      if (def.type === "default" && jsonSchema.default === undefined) {
        const value = def.defaultValue;
        const inner = (def.innerType as { _zod: { def: ZodDef } })._zod.def;
        // Shown as one would write it: "10s" rather than 10000.
        if (typeof value === "number" && isPipeFrom(inner, durationSchema)) (jsonSchema as JsonSchema).default = writtenDuration(value);
        else if (typeof value === "number" && isPipeFrom(inner, sizeSchema)) (jsonSchema as JsonSchema).default = writtenSize(value);
        else if (value !== undefined && value !== null && typeof value !== "function") (jsonSchema as JsonSchema).default = value;
      }
      // zod names its string checks as formats ("starts_with"); editors and validators know only the standard ones.
      if (typeof jsonSchema.format === "string" && !STANDARD_FORMATS.has(jsonSchema.format)) delete jsonSchema.format;
    },
  }) as JsonSchema;
}

/** The options schema of every built-in plugin whose options are a zod schema, by the name `use` takes. */
async function builtinOptionSchemas(): Promise<Map<string, JsonSchema>> {
  const schemas = new Map<string, JsonSchema>();
  for (const [name, load] of Object.entries(builtinPlugins)) {
    const options = ((await load()) as { options?: unknown }).options;
    if (options instanceof z.ZodType) {
      // The built-in plugins read a number-or-string value only as a duration (parseDuration, each its own schema).
      const { $schema: _, ...json } = toJson(options, (schema) => (readsNumberOrString(schema) ? DURATION_JSON : undefined));
      schemas.set(name, json);
    }
  }
  return schemas;
}

/**
 * A plugin reference: a name, or `{ use, options }`. Editors offer the built-in names for `use`, and the
 * options of the built-in one named (if/then: the options schema applies when `use` is its name).
 */
function pluginRefJson(options: Map<string, JsonSchema>): JsonSchema {
  const names = [...options.keys()];
  const use = (description: string): JsonSchema => ({
    description,
    anyOf: [
      { type: "string", enum: names },
      { type: "string", minLength: 1 },
    ],
  });
  return {
    anyOf: [
      use("A built-in plugin's name, a plugin file (relative to the config file) or a package"),
      {
        type: "object",
        properties: {
          use: use("A built-in plugin's name, a plugin file (relative to the config file) or a package"),
          options: { description: "The plugin's options, checked by the plugin" },
        },
        required: ["use"],
        additionalProperties: false,
        allOf: names.map((name) => ({
          if: { properties: { use: { const: name } }, required: ["use"] },
          // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword, never awaited
          then: { properties: { options: options.get(name)! } },
        })),
      },
    ],
  };
}

/** Milliseconds as a config would write them: 90000 → "1m30s", 0 → "0s", 1500 → "1s500ms". */
function writtenDuration(ms: number): string {
  const units: [string, number][] = [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
    ["ms", 1],
  ];
  let rest = ms;
  let text = "";
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) text += `${n}${unit}`;
    rest -= n * size;
  }
  return text || "0s";
}

/** Bytes as a config would write them: 4194304 → "4mb", 1536 → "1536". */
function writtenSize(bytes: number): string {
  for (const [unit, size] of [
    ["gb", 1024 ** 3],
    ["mb", 1024 ** 2],
    ["kb", 1024],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}

/** A transform of a number or a string (a duration or a size, read by the transform). */
function readsNumberOrString(schema: unknown): boolean {
  const def = (schema as { _zod: { def: ZodDef } })._zod.def;
  if (def.type !== "pipe") return false;
  const input = (def.in as { _zod: { def: ZodDef } })._zod.def;
  const options = (input.options ?? []) as { _zod: { def: ZodDef } }[];
  return (
    input.type === "union" &&
    options.length === 2 &&
    options
      .map((o) => o._zod.def.type)
      .sort()
      .join() === "number,string"
  );
}

function isPipeFrom(def: ZodDef, schema: { _zod: { def: unknown } }): boolean {
  return def.type === "pipe" && def.in === (schema._zod.def as ZodDef).in;
}

/**
 * The "exactly one of" rules the zod schema holds in refinements, which JSON Schema can say too: a route has one
 * action, a tcp listener one of pool or sni. Added where the generated schema has them, or the build fails (the test).
 */
function addExclusiveKeys(schema: JsonSchema): void {
  const items = (key: string) => {
    const found = (schema.properties as Record<string, JsonSchema>)[key]?.items as JsonSchema | undefined;
    if (found?.type !== "object") throw new Error(`json-schema: no object items under ${key}`);
    return found;
  };
  items("routes").oneOf = [{ required: ["pool"] }, { required: ["static"] }, { required: ["redirect"] }];
  items("tcp").oneOf = [{ required: ["pool"] }, { required: ["sni"] }];
}
