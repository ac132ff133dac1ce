// Content-Type from the file extension: a compact table of what web servers commonly serve. Text types carry
// charset=utf-8; anything unknown is application/octet-stream.
import { extname } from "node:path";

const UTF8 = "; charset=utf-8";

const TYPES: Readonly<Record<string, string>> = {
  // text and documents
  html: "text/html" + UTF8,
  htm: "text/html" + UTF8,
  css: "text/css" + UTF8,
  js: "text/javascript" + UTF8,
  mjs: "text/javascript" + UTF8,
  cjs: "text/javascript" + UTF8,
  json: "application/json" + UTF8,
  map: "application/json" + UTF8,
  webmanifest: "application/manifest+json" + UTF8,
  jsonld: "application/ld+json" + UTF8,
  txt: "text/plain" + UTF8,
  md: "text/markdown" + UTF8,
  csv: "text/csv" + UTF8,
  xml: "application/xml" + UTF8,
  rss: "application/rss+xml" + UTF8,
  atom: "application/atom+xml" + UTF8,
  svg: "image/svg+xml" + UTF8,
  ics: "text/calendar" + UTF8,
  vtt: "text/vtt" + UTF8,
  yaml: "application/yaml" + UTF8,
  yml: "application/yaml" + UTF8,
  pdf: "application/pdf",
  wasm: "application/wasm",
  // images
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  avif: "image/avif",
  ico: "image/x-icon",
  bmp: "image/bmp",
  // fonts
  woff: "font/woff",
  woff2: "font/woff2",
  ttf: "font/ttf",
  otf: "font/otf",
  // audio and video
  mp4: "video/mp4",
  webm: "video/webm",
  ogv: "video/ogg",
  mp3: "audio/mpeg",
  ogg: "audio/ogg",
  wav: "audio/wav",
  m4a: "audio/mp4",
  flac: "audio/flac",
  // archives
  zip: "application/zip",
  gz: "application/gzip",
  br: "application/octet-stream",
  tar: "application/x-tar",
};

/** The Content-Type for a file name, by its extension (case-insensitive). */
export function contentTypeFor(fileName: string): string {
  const ext = extname(fileName).slice(1).toLowerCase();
  return TYPES[ext] ?? "application/octet-stream";
}
