// One large download of the streaming benchmark, by curl (on the load core when pinned): a sparse file the
// upstream serves with a Content-Length, or the same number of bytes generated and sent chunked. The rate is
// curl's own: bytes over the whole request, connect included. A download that gets another status or another
// byte count than asked for is a failure, never a rate.
import { basename } from "node:path";
import { runLoadTool } from "./load-tool.ts";
import { pinned } from "./pinning.ts";

export type DownloadKind = "download" | "chunked";

/** A sparse file in the directory the upstream serves from, and its size. */
export interface TransferFile {
  path: string;
  bytes: number;
}

export interface TransferResult {
  bytes: number;
  seconds: number;
  bytesPerSec: number;
  /** Why the transfer does not count, if it does not. */
  error: string | undefined;
}

/** Slower than this and a transfer is given up: far below any proxy's rate, it bounds a run. */
const SLOWEST_BYTES_PER_SEC = 16 * 1024 * 1024;

/** How long a transfer of `bytes` may take at most, in seconds. */
export function maxTransferSeconds(bytes: number): number {
  return Math.ceil(30 + bytes / SLOWEST_BYTES_PER_SEC);
}

/** One download of `file.bytes` through 127.0.0.1:port. */
export async function runDownload(kind: DownloadKind, port: number, file: TransferFile, cpus: string | null): Promise<TransferResult> {
  const bytes = file.bytes;
  const maxSeconds = maxTransferSeconds(bytes);
  const path = kind === "download" ? `/files/${basename(file.path)}` : `/chunked?bytes=${bytes}`;
  const args = [
    "-sS",
    "--max-time",
    String(maxSeconds),
    "-o",
    "/dev/null",
    "-w",
    "%{http_code} %{size_download} %{time_total}",
    `http://127.0.0.1:${port}${path}`,
  ];
  // curl's own --max-time ends it first; the kill is for a curl that does not.
  const { code, stdout: out, stderr: err } = await runLoadTool(...pinned(cpus, "curl", args), (maxSeconds + 5) * 1000);
  const [status, got, seconds] = out.trim().split(" ").map(Number) as [number, number, number];
  let error: string | undefined;
  if (code !== 0) error = `curl exited ${code}: ${err.trim() || out.trim()}`;
  else if (status !== 200) error = `status ${status}`;
  else if (got !== bytes) error = `got ${got} bytes, not ${bytes}`;
  return { bytes: error ? 0 : bytes, seconds, bytesPerSec: error ? NaN : bytes / seconds, error };
}
