// How the gateway speaks TLS to a pool's https:// servers: the pool's settings as read from its files
// (config/certificates.ts), and each server's own from them — the name it is asked by (SNI) and checked against,
// and the key of the idle connections it may be lent (upstream-pool.ts): a connection made with other settings,
// or without TLS, is never lent for it.
import { isIP } from "node:net";
import type { TlsClientSettings } from "../runtime/sockets.ts";

/** A pool's `tls`, its files read. */
export interface PoolTls {
  /** PEM CA certificates (`tls.ca`); undefined: the runtime's trusted roots. */
  readonly ca: string | undefined;
  readonly clientCertificate: { readonly cert: string; readonly key: string } | undefined;
  /** `tls.serverName`: every server of the pool is asked by this name. */
  readonly serverName: string | undefined;
  /** False with `insecureSkipVerify: true`. */
  readonly verify: boolean;
  /** A digest of all of the above: two pools with the same settings may share connections. */
  readonly digest: string;
}

/** An https:// server of a pool without `tls`: the runtime's trusted roots, the URL's host as the name. */
export const DEFAULT_POOL_TLS: PoolTls = { ca: undefined, clientCertificate: undefined, serverName: undefined, verify: true, digest: "default" };

/** One server's TLS: the runtime's settings, and the name of its idle list. */
export interface UpstreamTls extends TlsClientSettings {
  /** Names the server's idle connections: the settings' digest, the name and the address. */
  readonly connectionKey: string;
}

/** HTTP/1.1 only: the engine speaks nothing else upstream. */
const ALPN: readonly string[] = ["http/1.1"];

/**
 * The TLS of one https:// server of a pool: asked by `tls.serverName`, else by the URL's host (`urlHost`, the
 * DNS name even when the server is one address it resolved to); an IP address is asked by no name at all (RFC
 * 6066) and its certificate must hold that address.
 */
export function serverTls(pool: PoolTls, urlHost: string, hostPort: string): UpstreamTls {
  const serverName = pool.serverName ?? (isIP(urlHost) === 0 ? urlHost.toLowerCase() : undefined);
  return {
    serverName,
    ca: pool.ca,
    clientCertificate: pool.clientCertificate,
    verify: pool.verify,
    alpn: ALPN,
    connectionKey: `tls ${pool.digest} ${serverName ?? ""} ${hostPort}`,
  };
}
