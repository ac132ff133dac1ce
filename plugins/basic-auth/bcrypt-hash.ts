// What a stored password must look like: a bcrypt hash ($2a$, $2b$ or $2y$, cost 4–31, 22 characters of salt and
// 31 of hash). Plain passwords, MD5 ($apr1$), SHA-1 ({SHA}) and crypt(3) lines are refused: they are either not
// hashes or too fast to resist guessing once the file leaks.

const BCRYPT = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;

/** How users make a hash that passes, said once after the problems. */
export const HOW_TO_HASH = "make bcrypt hashes with htpasswd -nbB USER PASSWORD";

/** What is wrong with a stored hash, in a few words, or undefined for a bcrypt one. */
export function hashProblem(hash: string): string | undefined {
  if (BCRYPT.test(hash)) return undefined;
  if (hash.startsWith("$argon2")) return "argon2 hashes are not supported, only bcrypt";
  if (/^(\$apr1\$|\$1\$|\{SHA\}|\$5\$|\$6\$)/i.test(hash)) return "MD5, SHA and crypt hashes are refused (too fast to guess against), only bcrypt";
  return "not a bcrypt hash (store hashes, never passwords)";
}

/** The cost (log2 rounds) of a valid bcrypt hash. */
export function costOf(hash: string): number {
  return Number(hash.slice(4, 6));
}
