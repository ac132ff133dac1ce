// The tools around a config, as an operator uses them: `sluice check` telling every problem in one run,
// `sluice schema` and the shipped JSON Schema (checked with a real validator), durations like "1m30s", and
// `sluice --help` / `sluice help CMD` naming every flag, signal, environment variable and exit code.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import Ajv from "ajv";
import { repoRoot, runCli, spawnCommand, cliPath } from "./helpers/process.ts";
import { DURATION_PATTERN, parseDuration } from "../gateway/config/duration.ts";
import { parseSize } from "../gateway/config/size.ts";
import { configJsonSchema, configJsonSchemaText, SCHEMA_FILE, SIZE_PATTERN } from "../gateway/config/json-schema.ts";
import { inspectConfig, validateConfig } from "../gateway/config/validate.ts";
import { COMMANDS, ENVIRONMENT } from "../gateway/cli-help.ts";
import { ConfigError } from "../gateway/config/errors.ts";

const BALANCERS = ["round-robin", "least-conn"];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-tooling-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeConfig(name: string, config: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(config, null, 2));
  return path;
}

/** stdout alone of a CLI run (runCli mixes in stderr). */
async function cliStdout(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = spawnCommand([process.execPath, cliPath, ...args]);
  const code = await p.proc.exited;
  await p.outputEnded;
  return { code, stdout: p.stdout(), stderr: p.output().replace(p.stdout(), "") };
}

describe("sluice check: every problem in one run", () => {
  test("a config broken in five ways gets all five lines, shapes and references together", async () => {
    const path = await writeConfig("five.json", {
      $schema: "./sluice.schema.json",
      limits: { idleTimeout: "30s1m" }, // 1: a duration with its units the wrong way round
      pools: {
        app: { servers: [{ url: "http://127.0.0.1:9001", wieght: 2 }] }, // 2: a typo in a key (this pool's shape is wrong)
        db: { mode: "tcp", servers: [{ address: "127.0.0.1:5432" }] },
      },
      routes: [
        // 3: a regex that does not compile; 4: a pool that does not exist; 5: a plugin file that does not exist
        { match: { path: "~^/(unclosed" }, pool: "ap", plugins: ["./no-such-plugin.ts"] },
      ],
    });
    const { code, out } = await runCli(["check", "--config", path]);
    expect(code).toBe(1);
    const lines = out.trim().split("\n");
    expect(lines).toEqual([
      'limits.idleTimeout: not a duration: write each unit once, largest first, like "1h30m" or "2m0.5s" (got "30s1m")',
      'pools.app.servers[0].wieght: unknown key (got 2) — did you mean "weight"?',
      expect.stringMatching(/^routes\[0\]\.match\.path: not a valid regular expression: .+ \(got "~\^\/\(unclosed"\)$/),
      'routes[0].pool: no such pool (got "ap") — did you mean "app"?',
      expect.stringMatching(/^routes\[0\]\.plugins\[0\]\.use: cannot load plugin .*\(got "\.\/no-such-plugin\.ts"\)$/),
    ]);
  });

  test("a pool whose shape is wrong still counts as a pool, with its mode: no made-up reference problems", () => {
    const { problems } = inspectConfig(
      {
        pools: {
          web: { servers: [{ url: "not a url" }] },
          db: { mode: "tcp", servers: "none" },
        },
        routes: [{ pool: "web" }, { pool: "db" }],
        tcp: [{ listen: ":5432", pool: "db" }],
      },
      BALANCERS,
    );
    expect(problems).toEqual([
      'pools.web.servers[0].url: not an upstream URL: use "http://host:port" or "https://host:port" (got "not a url")',
      'pools.db.servers: expected an array of objects (got "none")',
      // The tcp pool that did not parse is still known as a tcp pool: the route pointing at it is told so.
      'routes[1].pool: "db" is a tcp pool; a route needs an http pool (got "db")',
    ]);
  });

  test("a route with a broken field keeps its other fields checked; a route that cannot parse says only its own problem", () => {
    const { problems } = inspectConfig(
      {
        listen: ["127.0.0.1:8080", "127.0.0.1:8080"],
        pools: { app: { servers: [{ url: "http://127.0.0.1:9001" }] } },
        routes: [
          { match: { methods: "G E T" }, pool: "apx" }, // the match is broken; the pool is still looked up
          { pool: "app", redirect: { to: "/x" } }, // two actions: the route as a whole is wrong
          { match: { headers: { "x-v": "~[" } }, pool: "app" },
        ],
        tcp: [{ listen: "127.0.0.1:8080", pool: "app", maxConns: -1 }],
      },
      BALANCERS,
    );
    expect(problems).toEqual([
      'listen[1]: address already used by listen[0] (got "127.0.0.1:8080")',
      'routes[0].match.methods: not an HTTP method (got "G E T")',
      'routes[0].pool: no such pool (got "apx") — did you mean "app"?',
      'routes[1]: a route takes only one of pool, static or redirect (has pool, redirect) (got {"pool":"app","redirect":{"to":"/x"}})',
      expect.stringMatching(/^routes\[2\]\.match\.headers\.x-v: not a valid regular expression: .+ \(got "~\["\)$/),
      'tcp[0].listen: address already used by listen[0] (got "127.0.0.1:8080")',
      'tcp[0].pool: "app" is an http pool; a tcp listener needs a pool with mode "tcp" (got "app")',
      "tcp[0].maxConns: must be at least 0 (got -1)",
    ]);
  });

  test("a broken admin section or a config that is not an object says that, and nothing made up", () => {
    expect(inspectConfig({ admin: { listen: "0.0.0.0:9901", tokn: "x" } }, BALANCERS).problems).toEqual([
      'admin.tokn: unknown key (got "x") — did you mean "token"?',
      "admin.token: required when admin.listen is not a loopback address (got nothing)",
    ]);
    expect(inspectConfig([], BALANCERS).problems).toEqual(["config: expected an object (got [])"]);
    // A broken admin address stands in as the default one, which is no clash with a listener on it.
    const pools = { db: { mode: "tcp", servers: [{ address: "127.0.0.1:5432" }] } };
    expect(inspectConfig({ admin: { listen: "nine" }, pools, tcp: [{ listen: "127.0.0.1:9901", pool: "db" }] }, BALANCERS).problems).toEqual([
      'admin.listen: not an address: use "host:port" or ":port" (got "nine")',
    ]);
    // Pools written as a list: no pool can be looked up, so no route is told its pool does not exist.
    expect(inspectConfig({ pools: [{ servers: [] }], routes: [{ pool: "app" }], tcp: [{ listen: ":5432", sni: { "*": "db" } }] }, BALANCERS).problems).toEqual([
      'pools: expected an object (got [{"servers":[]}])',
    ]);
    expect(inspectConfig({ admin: "yes", listen: ":9901" }, BALANCERS).problems).toEqual(['admin: expected false or an object (got "yes")']);
  });

  test("validateConfig throws the same lines; a valid config is unchanged by the salvage path", () => {
    const input = { pools: { app: { servers: [{ url: "http://127.0.0.1:9001" }] } }, routes: [{ pool: "app" }, { pool: "nope" }] };
    expect(() => validateConfig(input, BALANCERS)).toThrow(ConfigError);
    try {
      validateConfig(input, BALANCERS);
    } catch (e) {
      expect((e as ConfigError).problems).toEqual(['routes[1].pool: no such pool (got "nope")']);
    }
    const good = inspectConfig({ ...input, routes: [{ pool: "app" }] }, BALANCERS);
    expect(good.problems).toEqual([]);
    expect(good.config?.routes).toHaveLength(1);
  });

  test('"$schema" is accepted and ignored', async () => {
    const path = await writeConfig("with-schema.json", { $schema: "./sluice.schema.json", routes: [{ redirect: { to: "/x" } }] });
    expect(await runCli(["check", "--config", path])).toEqual({ code: 0, out: "ok\n" });
  });
});

describe("durations", () => {
  const table: [unknown, number | null][] = [
    ["1m30s", 90_000],
    ["1h30m", 5_400_000],
    ["2m0.5s", 120_500],
    ["1d12h", 129_600_000],
    ["1h1m1s1ms", 3_661_001],
    ["2m500ms", 120_500],
    ["1m 30s", 90_000],
    [" 90s ", 90_000],
    ["5ms", 5],
    ["1.5m", 90_000],
    ["0s", 0],
    [1500, 1500],
    ["30s1m", null],
    ["1m1m", null],
    ["1h30", null],
    ["m30s", null],
    ["1m30x", null],
    ["1 m 30", null],
    ["1m-30s", null],
    ["", null],
    ["s", null],
  ];
  test.each(table)("%p → %p ms", (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  test("every duration key of the config takes them, and a bad one is a clear line", () => {
    const config = validateConfig(
      {
        shutdownTimeout: "1m30s",
        limits: { headerTimeout: "2m0.5s" },
        pools: { app: { servers: [{ url: "http://127.0.0.1:9001", failTimeout: "1h30m" }], timeouts: { connect: "1s500ms" } } },
      },
      BALANCERS,
    );
    expect(config.shutdownTimeout).toBe(90_000);
    expect(config.limits.headerTimeout).toBe(120_500);
    const pool = config.pools.app!;
    expect(pool.servers[0]!.failTimeout).toBe(5_400_000);
    expect(pool.mode === "http" && pool.timeouts.connect).toBe(1_500);
    expect(inspectConfig({ shutdownTimeout: "90s1m" }, BALANCERS).problems).toEqual([
      'shutdownTimeout: not a duration: write each unit once, largest first, like "1h30m" or "2m0.5s" (got "90s1m")',
    ]);
    expect(inspectConfig({ shutdownTimeout: "soon" }, BALANCERS).problems).toEqual([
      'shutdownTimeout: not a duration: use milliseconds or a number with ms, s, m, h or d, like "2s" (got "soon")',
    ]);
  });

  test("the JSON Schema's duration and size patterns accept exactly what the gateway accepts", () => {
    const duration = new RegExp(DURATION_PATTERN);
    for (const [input] of table) if (typeof input === "string") expect([input, duration.test(input)]).toEqual([input, parseDuration(input) !== null]);
    const size = new RegExp(SIZE_PATTERN);
    for (const input of ["512", "16kb", "16K", "8MB", "1.5gb", " 2 mb ", "1b", "lots", "8 tb", "kb", "-1kb", ""]) {
      expect([input, size.test(input)]).toEqual([input, parseSize(input) !== null]);
    }
  });
});

describe("the JSON Schema", () => {
  let schemaFile: string;
  beforeAll(async () => {
    schemaFile = await readFile(join(repoRoot, SCHEMA_FILE), "utf8");
  });

  function validator() {
    const ajv = new Ajv({ allErrors: true });
    ajv.addFormat("uri", (text: string) => URL.canParse(text));
    return ajv.compile(JSON.parse(schemaFile));
  }

  test("`sluice schema` prints exactly the shipped file (regenerate: sluice schema > sluice.schema.json)", async () => {
    const { code, stdout } = await cliStdout(["schema"]);
    expect(code).toBe(0);
    expect(stdout).toBe(await configJsonSchemaText());
    expect(stdout).toBe(schemaFile);
  });

  test("is draft-07 with a description on every top-level key, and durations take numbers or strings", async () => {
    const schema = (await configJsonSchema()) as { $schema: string; properties: Record<string, { description?: string }> };
    expect(schema.$schema).toBe("http://json-schema.org/draft-07/schema#");
    for (const [key, property] of Object.entries(schema.properties)) expect([key, typeof property.description]).toEqual([key, "string"]);
    const validate = validator();
    expect(validate({ shutdownTimeout: 5000, limits: { idleTimeout: "1m30s", maxBodySize: "8mb" } })).toBe(true);
    expect(validate({ shutdownTimeout: "30s1m" })).toBe(false);
  });

  test("every default it shows is a value its own key accepts (durations and sizes written as one would)", () => {
    const root = JSON.parse(schemaFile);
    const ajv = new Ajv({ strict: false });
    ajv.addFormat("uri", (text: string) => URL.canParse(text));
    const checked: string[] = [];
    const walk = (node: unknown, at: string) => {
      if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${at}/${i}`));
      if (node === null || typeof node !== "object") return;
      const { default: value, ...rest } = node as Record<string, unknown>;
      if (value !== undefined) {
        const ok = ajv.validate({ ...rest, definitions: root.definitions }, value);
        expect([at, ok]).toEqual([at, true]);
        checked.push(at);
      }
      for (const [key, child] of Object.entries(rest)) if (key !== "default") walk(child, `${at}/${key}`);
    };
    walk(root, "#");
    expect(checked.length).toBeGreaterThan(50);
    expect(root.properties.shutdownTimeout.default).toBe("10s");
    expect(root.properties.limits.properties.maxBodySize.default).toBe("128mb");
  });

  test("every example and deployment config validates against it", async () => {
    const validate = validator();
    const files = [
      ...(await readdir(join(repoRoot, "examples"))).filter((f) => f.endsWith(".json")).map((f) => join(repoRoot, "examples", f)),
      ...(await readdir(join(repoRoot, "deploy"), { recursive: true })).filter((f) => f.endsWith("sluice.config.json")).map((f) => join(repoRoot, "deploy", f)),
    ];
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) {
      const ok = validate(JSON.parse(await readFile(file, "utf8")));
      expect([relative(repoRoot, file), ok, validate.errors ?? null]).toEqual([relative(repoRoot, file), true, null]);
    }
    // The TypeScript example too, as the object it exports.
    const ts = (await import(join(repoRoot, "examples/sluice.config.ts"))).default;
    expect(validate(JSON.parse(JSON.stringify(ts)))).toBe(true);
  });

  test("knows the built-in plugins' options: a typo in one is marked, a plugin file's options are its own business", () => {
    const validate = validator();
    const good = {
      plugins: [
        "request-id",
        { use: "cors", options: { origins: ["https://app.example.com"], credentials: true } },
        { use: "./mine.ts", options: { anything: 1 } },
      ],
    };
    expect([validate(good), validate.errors ?? null]).toEqual([true, null]);
    const typo = { routes: [{ pool: "app", plugins: [{ use: "cors", options: { origins: "*", credentails: true } }] }] };
    expect(validate(typo)).toBe(false);
    expect(validate.errors!.map((e) => `${e.instancePath} ${e.keyword}`)).toContain("/routes/0/plugins/0/options additionalProperties");
    expect(validate({ plugins: [{ use: "rate-limit", options: { limit: "many", window: "1m" } }] })).toBe(false);
    expect(validate.errors!.map((e) => e.instancePath)).toContain("/plugins/0/options/limit");
  });

  test("a broken config fails it, at the keys that are wrong", async () => {
    const validate = validator();
    const example = JSON.parse(await readFile(join(repoRoot, "examples/sluice.config.json"), "utf8"));
    const broken = { ...example, routes: [{ pool: "app", redirect: { to: "/" } }], workers: 0, listn: ":8080" };
    expect(validate(broken)).toBe(false);
    const where = new Set(validate.errors!.map((e) => `${e.instancePath} ${e.keyword}`));
    expect(where).toContain(" additionalProperties"); // listn
    expect(where).toContain("/workers minimum");
    expect(where).toContain("/routes/0 oneOf"); // pool and redirect at once
  });
});

describe("sluice --help and sluice help CMD", () => {
  let help: string;
  beforeAll(async () => {
    const run = await cliStdout(["--help"]);
    expect(run.code).toBe(0);
    help = run.stdout;
  });

  test("names every environment variable the gateway's source reads", async () => {
    const names = new Set<string>();
    const sources = (await readdir(join(repoRoot, "gateway"), { recursive: true })).filter((f) => f.endsWith(".ts"));
    for (const file of sources) {
      const text = await readFile(join(repoRoot, "gateway", file), "utf8");
      for (const m of text.matchAll(/\b((?:SLUICE|OTEL)_[A-Z0-9_]*[A-Z0-9])\b/g)) names.add(m[1]!);
      for (const m of text.matchAll(/(?:\benv\(\s*"|process\.env\.|process\.env\[\s*"|\benv\.)([A-Z][A-Z0-9_]+)/g)) names.add(m[1]!);
      // A name kept in a constant first: `const CHANNEL_ENV = "SLUICE_CHANNEL"`.
      for (const m of text.matchAll(/\b[A-Z0-9_]*ENV\s*=\s*"([A-Z][A-Z0-9_]+)"/g)) names.add(m[1]!);
    }
    expect(names.size).toBeGreaterThan(10);
    expect([...names].filter((name) => !help.includes(name))).toEqual([]);
    // `sluice help run` says them too.
    const run = await cliStdout(["help", "run"]);
    expect([...names].filter((name) => !run.stdout.includes(name))).toEqual([]);
  });

  test("names every signal the gateway handles, every flag and every exit code", async () => {
    const cli = await readFile(cliPath, "utf8");
    const signals = [...cli.matchAll(/onSignal\("(SIG[A-Z0-9]+)"/g)].map((m) => m[1]!);
    expect(signals).toEqual(expect.arrayContaining(["SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1"]));
    for (const signal of signals) expect(help).toContain(signal);
    for (const flag of ["--config PATH", "-c,", "--workers N|auto", "--watch-config", "--url URL", "--help", "--version"]) expect(help).toContain(flag);
    for (const code of ["0", "1", "2"]) expect(help).toMatch(new RegExp(`^  ${code}  \\S`, "m"));
    for (const command of COMMANDS) expect(help).toMatch(new RegExp(`^  ${command.name} +\\S`, "m"));
    expect(ENVIRONMENT.length).toBeGreaterThan(5);
    expect(help.split("\n").filter((line) => line.length > 100)).toEqual([]); // fits a terminal
  });

  test.each(COMMANDS.map((c) => [c.name]))("sluice help %s and sluice %s --help say its usage, flags and exit codes", async (name) => {
    const a = await cliStdout(["help", name]);
    const b = await cliStdout([name, "--help"]);
    expect(a.code).toBe(0);
    expect(b).toEqual(a);
    expect(a.stdout).toContain(`Usage: sluice ${name}`);
    for (const flag of COMMANDS.find((c) => c.name === name)!.flags) expect(a.stdout).toContain(`--${flag.name}`);
    expect(a.stdout).toContain("Exit codes:");
  });

  test("an unknown command or flag gets a did-you-mean and exit code 2", async () => {
    const cases: [string[], RegExp][] = [
      [["chekc"], /^sluice: unknown command "chekc" — did you mean "check"\?$/m],
      [["scheme"], /did you mean "schema"\?/],
      [["check", "--confg", "x.json"], /^sluice: unknown flag --confg — did you mean --config\?$/m],
      [["--wokers", "2"], /did you mean --workers\?/],
      [["-config", "x.json"], /did you mean --config\?/],
      [["check", "--url", "http://x"], /--url is not a flag of check \(it is one of health\)/],
      [["help", "chek"], /help: no command "chek" — did you mean "check"\?/],
      [["check", "--config"], /--config needs a value/],
      [["check", "extra.json"], /check: unexpected argument "extra\.json" \(a config file goes after --config\)/],
      [["--workers", "0"], /--workers: expected a whole number of at least 1 or "auto" \(got 0\)/],
      [["--colour"], /^sluice: unknown flag --colour$/m],
    ];
    for (const [args, message] of cases) {
      const { code, out } = await runCli(args);
      expect([args, code]).toEqual([args, 2]);
      expect(out).toMatch(message);
      expect(out).toContain('Run "sluice --help"');
    }
  });
});

describe("on Deno, with the permissions of `deno task check`", () => {
  const deno = [join(repoRoot, "node_modules/.bin/deno"), "run", "--allow-read", "--allow-env", "--allow-sys", cliPath];

  async function denoCli(args: string[]): Promise<{ code: number; stdout: string; out: string }> {
    const p = spawnCommand([...deno, ...args]);
    const code = await p.proc.exited;
    await p.outputEnded;
    return { code, stdout: p.stdout(), out: p.output() };
  }

  test("check tells every problem in one run, schema prints the shipped file, a typo gets its did-you-mean", async () => {
    const path = await writeConfig("deno-broken.json", {
      limits: { idleTimeout: "30s1m" },
      pools: { app: { servers: [{ url: "http://127.0.0.1:9001", wieght: 2 }] } },
      routes: [{ pool: "ap" }],
    });
    const check = await denoCli(["check", "--config", path]);
    expect(check.code).toBe(1);
    expect(check.stdout.trim().split("\n")).toEqual([
      'limits.idleTimeout: not a duration: write each unit once, largest first, like "1h30m" or "2m0.5s" (got "30s1m")',
      'pools.app.servers[0].wieght: unknown key (got 2) — did you mean "weight"?',
      'routes[0].pool: no such pool (got "ap") — did you mean "app"?',
    ]);
    const schema = await denoCli(["schema"]);
    expect(schema.code).toBe(0);
    expect(schema.stdout).toBe(await readFile(join(repoRoot, SCHEMA_FILE), "utf8"));
    const typo = await denoCli(["chekc"]);
    expect(typo.code).toBe(2);
    expect(typo.out).toContain('unknown command "chekc" — did you mean "check"?');
  }, 20_000);
});
