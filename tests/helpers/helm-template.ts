// The part of Helm's template language the chart under deploy/helm/sluice uses, enough to render it in a test
// where the helm binary cannot be installed: text with `{{ }}` actions and their `-` whitespace trimming,
// comments, `define`/`include`, `if`/`else if`/`else`/`end`, pipelines of fields (.Values.a.b, .Release.Name,
// .Chart.AppVersion), string and number literals, and the functions below with Go template and Sprig meanings.
// Anything else is an error, so a template that drifts outside this subset fails the test instead of rendering
// something helm would not.
import { stringify } from "yaml";

type Node = string | { action: string } | { if: Array<{ cond: string | null; body: Node[] }> };

export interface ChartScope {
  Values: unknown;
  Release: { Name: string; Namespace: string; Service: string };
  Chart: { Name: string; Version: string; AppVersion: string };
}

/** Renders templates (file name → text) as `helm template` would: named templates of every file first. */
export function renderChart(files: Record<string, string>, scope: ChartScope): Record<string, string> {
  const defines = new Map<string, Node[]>();
  const bodies = new Map<string, Node[]>();
  for (const [name, text] of Object.entries(files)) bodies.set(name, parse(text, defines));
  const out: Record<string, string> = {};
  for (const [name, body] of bodies) if (!name.startsWith("_")) out[name] = run(body, scope, defines);
  return out;
}

/** Tokens: text, and actions with their trimming applied to the text around them. */
function lex(text: string): Array<string | { action: string }> {
  const parts: Array<string | { action: string }> = [];
  const pattern = /\{\{(-\s)?\s*([\s\S]*?)\s*(\s-)?\}\}/g;
  let at = 0;
  let trimNext = false;
  for (const m of text.matchAll(pattern)) {
    let before = text.slice(at, m.index);
    if (trimNext) before = before.replace(/^\s+/, "");
    if (m[1]) before = before.replace(/\s+$/, "");
    parts.push(before);
    if (!m[2]!.startsWith("/*")) parts.push({ action: m[2]! });
    trimNext = m[3] !== undefined;
    at = m.index! + m[0].length;
  }
  let rest = text.slice(at);
  if (trimNext) rest = rest.replace(/^\s+/, "");
  parts.push(rest);
  return parts;
}

function parse(text: string, defines: Map<string, Node[]>): Node[] {
  const root: Node[] = [];
  // What `end` closes: an if (its last branch's body is being filled) or a define.
  const stack: Array<{ kind: "if"; node: { if: Array<{ cond: string | null; body: Node[] }> } } | { kind: "define"; name: string; body: Node[] }> = [];
  const target = (): Node[] => {
    const top = stack.at(-1);
    if (!top) return root;
    return top.kind === "define" ? top.body : top.node.if.at(-1)!.body;
  };
  for (const part of lex(text)) {
    if (typeof part === "string") {
      if (part !== "") target().push(part);
      continue;
    }
    const action = part.action;
    let m: RegExpExecArray | null;
    if ((m = /^define\s+"([^"]+)"$/.exec(action))) stack.push({ kind: "define", name: m[1]!, body: [] });
    else if ((m = /^if\s+(.+)$/.exec(action))) {
      const node = { if: [{ cond: m[1]!, body: [] as Node[] }] };
      target().push(node);
      stack.push({ kind: "if", node });
    } else if ((m = /^else\s+if\s+(.+)$/.exec(action)) || action === "else") {
      const top = stack.at(-1);
      if (top?.kind !== "if") throw new Error(`template: else outside an if`);
      top.node.if.push({ cond: m ? m[1]! : null, body: [] });
    } else if (action === "end") {
      const top = stack.pop();
      if (!top) throw new Error("template: end without a block");
      if (top.kind === "define") defines.set(top.name, top.body);
    } else target().push({ action });
  }
  if (stack.length > 0) throw new Error("template: a block is not closed");
  return root;
}

function run(nodes: Node[], dot: unknown, defines: Map<string, Node[]>): string {
  let out = "";
  for (const node of nodes) {
    if (typeof node === "string") out += node;
    else if ("action" in node) out += show(pipeline(node.action, dot, defines));
    else {
      const branch = node.if.find((b) => b.cond === null || truthy(pipeline(b.cond, dot, defines)));
      if (branch) out += run(branch.body, dot, defines);
    }
  }
  return out;
}

function show(value: unknown): string {
  if (value === undefined || value === null) throw new Error("template: a value is missing (helm would print <no value>)");
  return typeof value === "string" ? value : String(value);
}

/** Go templates' truth: false, 0, nil and empty strings, lists and maps are false. */
function truthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === "") return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object") return Object.keys(value).length > 0;
  return true;
}

/** Split at top-level occurrences of `separator` (outside quotes and parentheses). */
function splitTop(text: string, separator: RegExp): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === "\\") i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (depth === 0 && separator.test(c)) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.map((s) => s.trim()).filter((s) => s !== "");
}

function pipeline(text: string, dot: unknown, defines: Map<string, Node[]>): unknown {
  let value: unknown;
  splitTop(text, /\|/).forEach((command, i) => {
    const words = splitTop(command, /\s/);
    const piped = i === 0 ? [] : [value];
    value =
      words.length === 1 && !(words[0]! in FUNCTIONS) && i === 0
        ? operand(words[0]!, dot, defines)
        : call(words[0]!, [...words.slice(1).map((w) => operand(w, dot, defines)), ...piped], defines);
  });
  return value;
}

function operand(word: string, dot: unknown, defines: Map<string, Node[]>): unknown {
  if (word.startsWith('"')) return JSON.parse(word);
  if (/^-?\d+$/.test(word)) return Number(word);
  if (word === "true" || word === "false") return word === "true";
  if (word.startsWith("(") && word.endsWith(")")) return pipeline(word.slice(1, -1), dot, defines);
  if (word === ".") return dot;
  if (word.startsWith(".")) {
    let value: unknown = dot;
    for (const key of word.slice(1).split(".")) value = value === null || value === undefined ? undefined : (value as Record<string, unknown>)[key];
    return value;
  }
  if (word in FUNCTIONS) return call(word, [], defines);
  throw new Error(`template: not understood: ${word}`);
}

const FUNCTIONS: Record<string, true> = {
  include: true,
  nindent: true,
  indent: true,
  toYaml: true,
  quote: true,
  default: true,
  not: true,
  trunc: true,
  trimSuffix: true,
  contains: true,
  printf: true,
  eq: true,
};

function call(name: string, args: unknown[], defines: Map<string, Node[]>): unknown {
  const str = (v: unknown) => (v === undefined || v === null ? "" : String(v));
  switch (name) {
    case "include": {
      const body = defines.get(str(args[0]));
      if (!body) throw new Error(`template: no template named ${str(args[0])}`);
      return run(body, args[1], defines);
    }
    case "indent":
      return str(args[1])
        .split("\n")
        .map((line) => " ".repeat(Number(args[0])) + line)
        .join("\n");
    case "nindent":
      return (
        "\n" +
        str(args[1])
          .split("\n")
          .map((line) => " ".repeat(Number(args[0])) + line)
          .join("\n")
      );
    case "toYaml":
      return stringify(args[0]).replace(/\n$/, "");
    case "quote":
      return JSON.stringify(str(args[0]));
    case "default":
      return truthy(args[1]) ? args[1] : args[0];
    case "not":
      return !truthy(args[0]);
    case "trunc":
      return str(args[1]).slice(0, Number(args[0]));
    case "trimSuffix":
      return str(args[1]).endsWith(str(args[0])) ? str(args[1]).slice(0, -str(args[0]).length) : str(args[1]);
    case "contains":
      return str(args[1]).includes(str(args[0]));
    case "printf": {
      let k = 1;
      return str(args[0]).replace(/%[sd]/g, () => str(args[k++]));
    }
    case "eq":
      return args.slice(1).some((other) => other === args[0]);
    default:
      throw new Error(`template: no function ${name}`);
  }
}
