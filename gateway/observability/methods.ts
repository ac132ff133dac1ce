// Request methods as a metric label: the registered ones by name, anything else as "OTHER", so that a client
// inventing methods cannot grow the number of series. An index, so that counting needs no string handling.

export const METHOD_LABELS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "OTHER"] as const;

const OTHER = METHOD_LABELS.length - 1;

/** The index of a method's label in METHOD_LABELS. */
export function methodIndex(method: string): number {
  switch (method) {
    case "GET":
      return 0;
    case "HEAD":
      return 1;
    case "POST":
      return 2;
    case "PUT":
      return 3;
    case "DELETE":
      return 4;
    case "PATCH":
      return 5;
    case "OPTIONS":
      return 6;
    case "TRACE":
      return 7;
    case "CONNECT":
      return 8;
    default:
      return OTHER;
  }
}
