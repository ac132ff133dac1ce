// Which precompressed sibling (file.br, file.gz) a client accepts, from its Accept-Encoding: brotli is
// preferred to gzip at equal quality, an explicit q=0 refuses a coding, and "*" stands for codings not named.
export interface Precompressed {
  /** The Content-Encoding value. */
  encoding: "br" | "gzip";
  /** The file-name suffix of the sibling. */
  suffix: ".br" | ".gz";
}

const BR: Precompressed = { encoding: "br", suffix: ".br" };
const GZIP: Precompressed = { encoding: "gzip", suffix: ".gz" };

/** The precompressed codings the client accepts, most preferred first (empty when none). */
export function acceptedPrecompressed(acceptEncoding: string | null): Precompressed[] {
  if (acceptEncoding === null || acceptEncoding.trim() === "") return [];
  let br: number | undefined;
  let gzip: number | undefined;
  let star: number | undefined;
  for (const item of acceptEncoding.split(",")) {
    const [coding = "", ...params] = item.split(";");
    const name = coding.trim().toLowerCase();
    let q = 1;
    for (const p of params) {
      const [k, v] = p.split("=");
      if (k?.trim().toLowerCase() === "q") {
        const n = Number(v?.trim());
        q = Number.isFinite(n) ? n : 0;
      }
    }
    if (name === "br") br = q;
    else if (name === "gzip" || name === "x-gzip") gzip = Math.max(gzip ?? 0, q);
    else if (name === "*") star = q;
  }
  const qBr = br ?? star ?? 0;
  const qGzip = gzip ?? star ?? 0;
  const out: [number, Precompressed][] = [];
  if (qBr > 0) out.push([qBr, BR]);
  if (qGzip > 0) out.push([qGzip, GZIP]);
  return out.sort((a, b) => b[0] - a[0]).map(([, p]) => p); // stable: br stays first on a tie
}
