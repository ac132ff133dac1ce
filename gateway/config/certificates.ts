// Certificate files the config names, read and checked at load: those of TLS listeners, and those of pools'
// upstream TLS (a CA, a client certificate). A file that cannot be read, a certificate that is not PEM, expired or
// not valid yet, and a key that is not the certificate's are config errors naming the key in the config, rather
// than handshakes that fail later for every client or request.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { X509Certificate, createHash, createPrivateKey, type KeyObject } from "node:crypto";
import type { Config } from "./schema.ts";
import { ConfigError, formatPath, type ProblemPath } from "./errors.ts";
import { compileSniRoutes, validateSniKey } from "../l4/sni.ts";
import type { PoolTls } from "../http/upstream-tls.ts";
import type { TlsClientLimits } from "../runtime/sockets.ts";

/** One certificate as a listener serves it. */
export interface ListenerCertificate {
  /** The certificate chain and its key, PEM. */
  cert: string;
  key: string;
  /** The DNS names of its subjectAltName (`*.example.com` for a wildcard), lowercase. */
  names: string[];
}

const READ_ERRORS: Record<string, string> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EISDIR: "is a directory",
};

/**
 * The certificates of every `listen` entry, in order (an empty list for a plain HTTP listener). Throws a
 * ConfigError listing every problem found. `now` is the time certificates must be valid at.
 */
export function loadListenerCertificates(config: Pick<Config, "listen">, dir: string, now = new Date()): ListenerCertificate[][] {
  const problems: string[] = [];
  const loaded = config.listen.map((entry, i) => {
    if (typeof entry === "string" || entry.tls === undefined) return [];
    const out: ListenerCertificate[] = [];
    entry.tls.certificates.forEach((files, j) => {
      const pair = readPair(files, dir, ["listen", i, "tls", "certificates", j], problems, now);
      if (pair) out.push({ cert: pair.cert, key: pair.key, names: dnsNames(pair.certificate) });
    });
    return out;
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return loaded;
}

/**
 * A certificate and its key read from `files` (relative to `dir`) and checked: readable, PEM, valid at `now`, the
 * key the certificate's. Problems are named by `at` + "cert" / "key"; undefined when there was one.
 */
function readPair(
  files: { cert: string; key: string },
  dir: string,
  at: ProblemPath,
  problems: string[],
  now: Date,
): { cert: string; key: string; certificate: X509Certificate } | undefined {
  const where = (key: string) => formatPath([...at, key]);
  const certText = readPem(files.cert, dir, where("cert"), problems);
  const keyText = readPem(files.key, dir, where("key"), problems);
  if (certText === undefined || keyText === undefined) return undefined;
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certText);
  } catch (error) {
    problems.push(`${where("cert")}: not a PEM certificate (${(error as Error).message}) (got ${JSON.stringify(files.cert)})`);
    return undefined;
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyText);
  } catch (error) {
    problems.push(`${where("key")}: not a PEM private key, or one protected by a passphrase (${(error as Error).message}) (got ${JSON.stringify(files.key)})`);
    return undefined;
  }
  const invalid = validityProblem(certificate, now);
  if (invalid) {
    problems.push(`${where("cert")}: ${invalid} (got ${JSON.stringify(files.cert)})`);
    return undefined;
  }
  if (!certificate.checkPrivateKey(key)) {
    problems.push(`${where("key")}: this key does not belong to the certificate ${JSON.stringify(files.cert)} (got ${JSON.stringify(files.key)})`);
    return undefined;
  }
  return { cert: certText, key: keyText, certificate };
}

/** Why `certificate` cannot be used at `now` (expired, not valid yet), or undefined. */
function validityProblem(certificate: X509Certificate, now: Date, what = "the certificate"): string | undefined {
  if (new Date(certificate.validTo).getTime() < now.getTime()) return `${what} expired on ${new Date(certificate.validTo).toISOString()}`;
  if (new Date(certificate.validFrom).getTime() > now.getTime()) return `${what} is not valid before ${new Date(certificate.validFrom).toISOString()}`;
  return undefined;
}

/** What loading the pools' upstream TLS found: the settings per pool, and what to warn about. */
export interface LoadedUpstreamTls {
  pools: Map<string, PoolTls>;
  /** `path: what`, for the log: settings allowed but unsafe (insecureSkipVerify). */
  warnings: string[];
}

/**
 * The `tls` of every HTTP pool, its files read and checked: a CA file that holds no certificate or an expired
 * one, a client certificate as listeners' are checked (readable, PEM, valid now, its key), and what the runtime's
 * TLS client cannot do (`limits`), are config errors naming the key. Throws a ConfigError listing every problem.
 */
export function loadUpstreamTls(config: Pick<Config, "pools">, dir: string, limits: TlsClientLimits = {}, now = new Date()): LoadedUpstreamTls {
  const problems: string[] = [];
  const warnings: string[] = [];
  const pools = new Map<string, PoolTls>();
  for (const [name, pool] of Object.entries(config.pools)) {
    if (pool.mode !== "http" || pool.tls === undefined) continue;
    const tls = pool.tls;
    const at = (...key: string[]) => formatPath(["pools", name, "tls", ...key]);
    const httpsServers = pool.servers.filter((s) => "url" in s && s.url.startsWith("https:"));
    if (httpsServers.length === 0) {
      problems.push(`${at()}: no server of this pool is https://, and tls applies to https:// servers only`);
      continue;
    }
    const before = problems.length;
    let ca: string | undefined;
    if (tls.ca !== undefined) ca = readCaBundle(tls.ca, dir, at("ca"), problems, now);
    let clientCertificate: { cert: string; key: string } | undefined;
    if (tls.cert !== undefined && tls.key !== undefined) {
      const pair = readPair({ cert: tls.cert, key: tls.key }, dir, ["pools", name, "tls"], problems, now);
      if (pair) clientCertificate = { cert: pair.cert, key: pair.key };
      const otherName = httpsServers.some(
        (s) => "url" in s && (s.resolve === true || (tls.serverName !== undefined && tls.serverName.toLowerCase() !== new URL(s.url).hostname)),
      );
      if (limits.clientCertificateWithOtherName && otherName)
        problems.push(`${at("cert")}: ${limits.clientCertificateWithOtherName} (got ${JSON.stringify(tls.cert)})`);
    }
    if (tls.insecureSkipVerify) {
      if (limits.skipVerify) problems.push(`${at("insecureSkipVerify")}: ${limits.skipVerify} (got true)`);
      else warnings.push(`${at("insecureSkipVerify")}: the certificates of this pool's servers are not verified: anyone on the path can pose as them`);
    }
    if (problems.length > before) continue;
    const settings = { ca, clientCertificate, serverName: tls.serverName?.toLowerCase(), verify: !tls.insecureSkipVerify };
    pools.set(name, { ...settings, digest: createHash("sha256").update(JSON.stringify(settings)).digest("hex").slice(0, 16) });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { pools, warnings };
}

/** A file of CA certificates, PEM: every one in it must parse and be valid at `now`. */
function readCaBundle(file: string, dir: string, shown: string, problems: string[], now: Date): string | undefined {
  const text = readPem(file, dir, shown, problems);
  if (text === undefined) return undefined;
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    problems.push(`${shown}: no PEM certificate in the file (got ${JSON.stringify(file)})`);
    return undefined;
  }
  for (const [i, block] of blocks.entries()) {
    const which = blocks.length > 1 ? `certificate ${i + 1} of the file` : "the CA certificate";
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(block);
    } catch (error) {
      problems.push(`${shown}: ${which} is not a valid certificate (${(error as Error).message}) (got ${JSON.stringify(file)})`);
      return undefined;
    }
    const invalid = validityProblem(certificate, now, `${which} (${certificate.subject.replace(/\n/g, ", ")})`);
    if (invalid) {
      problems.push(`${shown}: ${invalid} (got ${JSON.stringify(file)})`);
      return undefined;
    }
  }
  return text;
}

function readPem(file: string, dir: string, shown: string, problems: string[]): string | undefined {
  try {
    return readFileSync(resolve(dir, file), "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    problems.push(`${shown}: cannot read the file (${READ_ERRORS[code] ?? (code || (error as Error).message)}) (got ${JSON.stringify(file)})`);
    return undefined;
  }
}

/** `DNS:a.example, DNS:*.b.example, IP Address:…` → the DNS names. */
function dnsNames(certificate: X509Certificate): string[] {
  return (certificate.subjectAltName ?? "")
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part.startsWith("DNS:"))
    .map((part) => part.slice(4).toLowerCase());
}

/**
 * Which of a listener's certificates a client naming `serverName` gets (an index): the first certificate
 * with that exact name, else the one with the longest matching wildcard, else the first certificate (also
 * for clients that send no name). A name on two certificates goes to the first.
 */
export function certificateChooser(certificates: ListenerCertificate[]): (serverName: string) => number {
  const table: Record<string, string> = { "*": "0" };
  certificates.forEach((certificate, index) => {
    for (const name of certificate.names) {
      // The SNI table's rules: a name it would refuse (a wildcard inside a label) is one no client matches here.
      if (name !== "*" && validateSniKey(name) === undefined && !(name in table)) table[name] = String(index);
    }
  });
  const lookup = compileSniRoutes(table);
  return (serverName) => Number(lookup(serverName) ?? 0);
}
