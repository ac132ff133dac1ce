// The certificates of TLS listeners, read and checked at start: a file that cannot be read, a certificate that
// is not PEM, expired or not valid yet, and a key that is not the certificate's are config errors naming the
// key in the config, rather than handshakes that fail later for every client.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import type { Config } from "./schema.ts";
import { ConfigError, formatPath } from "./errors.ts";
import { compileSniRoutes, validateSniKey } from "../l4/sni.ts";

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
      const at = (key: string) => formatPath(["listen", i, "tls", "certificates", j, key]);
      const certText = readPem(files.cert, dir, at("cert"), problems);
      const keyText = readPem(files.key, dir, at("key"), problems);
      if (certText === undefined || keyText === undefined) return;
      let certificate: X509Certificate;
      try {
        certificate = new X509Certificate(certText);
      } catch (error) {
        problems.push(`${at("cert")}: not a PEM certificate (${(error as Error).message}) (got ${JSON.stringify(files.cert)})`);
        return;
      }
      let key: KeyObject;
      try {
        key = createPrivateKey(keyText);
      } catch (error) {
        problems.push(`${at("key")}: not a PEM private key, or one protected by a passphrase (${(error as Error).message}) (got ${JSON.stringify(files.key)})`);
        return;
      }
      if (new Date(certificate.validTo).getTime() < now.getTime()) {
        problems.push(`${at("cert")}: the certificate expired on ${new Date(certificate.validTo).toISOString()} (got ${JSON.stringify(files.cert)})`);
        return;
      }
      if (new Date(certificate.validFrom).getTime() > now.getTime()) {
        problems.push(`${at("cert")}: the certificate is not valid before ${new Date(certificate.validFrom).toISOString()} (got ${JSON.stringify(files.cert)})`);
        return;
      }
      if (!certificate.checkPrivateKey(key)) {
        problems.push(`${at("key")}: this key does not belong to the certificate ${JSON.stringify(files.cert)} (got ${JSON.stringify(files.key)})`);
        return;
      }
      out.push({ cert: certText, key: keyText, names: dnsNames(certificate) });
    });
    return out;
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return loaded;
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
