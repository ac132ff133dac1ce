// The bodies of the downloads with a Content-Length: sparse files, all hole, that read as zeros. A 1 GiB one
// takes no disk blocks, yet the upstream can send it with sendfile. On a file system without holes the file
// would really take its size, so that is refused rather than filling a disk.
import { closeSync, ftruncateSync, openSync, readSync, rmSync, statSync } from "node:fs";

/** Most a sparse file may take on disk: a few blocks of metadata at most, never its contents. */
const MAX_ALLOCATED_BYTES = 1024 * 1024;

export function makeSparseFile(path: string, bytes: number): void {
  const fd = openSync(path, "w");
  try {
    ftruncateSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
  const stat = statSync(path);
  // st_blocks counts 512-byte units whatever the file system's block size.
  const allocated = stat.blocks * 512;
  if (stat.size !== bytes || allocated > MAX_ALLOCATED_BYTES) {
    rmSync(path, { force: true });
    throw new Error(
      `${path}: a sparse file of ${bytes} bytes took ${allocated} bytes on disk (size ${stat.size}); put the temp dir on a file system with holes (TMPDIR=…)`,
    );
  }
}

/** Read the file once, so that its pages are in the page cache before the first timed run: otherwise the
 *  first transfer of it would also pay for filling them (reading a hole still fills a page with zeros). */
export function readThrough(path: string): void {
  const buffer = new Uint8Array(1024 * 1024);
  const fd = openSync(path, "r");
  try {
    while (readSync(fd, buffer, 0, buffer.length, null) > 0);
  } finally {
    closeSync(fd);
  }
}
