// Certificates for HTTPS listener tests, made by openssl in a temporary directory: a CA and leaves signed by it,
// and curl trusting that CA (curl's own answer parsing, not ours, reads what the gateway sent).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const INSTALL = "apt-get install -y openssl curl";

export interface TestCertificates {
  readonly dir: string;
  readonly ca: string;
  /** The PEM files of a leaf made by `leaf`. */
  files(name: string): { cert: string; key: string };
  /** A leaf certificate for `san` (e.g. "DNS:a.test"), signed by the CA. */
  leaf(name: string, san: string): Promise<void>;
  remove(): Promise<void>;
}

/** Run a command to its end: exit code, and stdout with stderr after it. */
export async function run(cmd: string[], input = ""): Promise<{ code: number; out: string; stdout: string }> {
  let proc;
  try {
    proc = Bun.spawn(cmd, { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  } catch {
    throw new Error(`${cmd[0]} is missing: ${INSTALL}`);
  }
  proc.stdin.write(input);
  proc.stdin.end();
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code: await proc.exited, out: out + err, stdout: out };
}

async function openssl(args: string[]): Promise<void> {
  const made = await run(["openssl", ...args]);
  if (made.code !== 0) throw new Error(`openssl ${args[0]} failed (${INSTALL}): ${made.out}`);
}

/** `openssl req` making a new P-256 key, unencrypted, into `keyFile`, for the subject `subject`. */
function newEcKey(keyFile: string, subject: string): string[] {
  return ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", subject, "-keyout", keyFile];
}

/** A self-signed certificate (no CA) for the DNS name `name`, a day's validity: its PEM files, written into `dir`. */
export async function selfSigned(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await openssl([...newEcKey(key, `/CN=${name}`), "-x509", "-days", "1", "-addext", `subjectAltName=DNS:${name}`, "-out", cert]);
  return { cert, key };
}

export async function makeCertificates(prefix: string): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const ca = join(dir, "ca.pem");
  await openssl([...newEcKey(join(dir, "ca.key"), "/CN=Sluice test CA"), "-x509", "-days", "2", "-out", ca]);
  const files = (name: string) => ({ cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) });
  return {
    dir,
    ca,
    files,
    async leaf(name, san) {
      const { cert, key } = files(name);
      const csr = join(dir, `${name}.csr`);
      const ext = join(dir, `${name}.ext`);
      await Bun.write(ext, `subjectAltName=${san}\n`);
      await openssl([...newEcKey(key, `/CN=${name}`), "-out", csr]);
      await openssl(["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", join(dir, "ca.key"), "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", cert]);
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** What `curl -i` reports: the status and header fields of the last answer (lower-case names, repeats kept), and its body. */
export interface CurlAnswer {
  code: number;
  status: number;
  fields: Array<[string, string]>;
  body: string;
  out: string;
}

/** The values of every field named `name` (lower-case) in `answer`. */
export function fieldValues(answer: { fields: Array<[string, string]> }, name: string): string[] {
  return answer.fields.filter(([n]) => n === name).map(([, v]) => v);
}

/** curl with `args`, its answer heads included (-i): the last head's status and fields. */
export async function curlHeads(args: string[]): Promise<CurlAnswer> {
  const { code, stdout, out } = await run(["curl", "-sS", "-i", "--max-time", "5", ...args]);
  // With -L there is one head per answer: the last one is the answer that ends it.
  const heads = [...stdout.matchAll(/^HTTP\/[\d.]+ (\d{3})[^\r\n]*\r\n((?:[^\r\n]+\r\n)*)\r\n/gm)];
  const last = heads.at(-1);
  const fields = (last?.[2] ?? "")
    .split("\r\n")
    .filter(Boolean)
    .map((line): [string, string] => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
    });
  const body = last ? stdout.slice(last.index! + last[0].length) : "";
  return { code, status: Number(last?.[1] ?? 0), fields, body, out };
}
