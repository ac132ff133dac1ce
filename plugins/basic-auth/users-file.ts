// `usersFile`: users in the htpasswd format Apache and nginx read, one `name:hash` per line (bcrypt hashes only);
// blank lines and lines starting with # are skipped. Every bad line is reported with its number.
import { HOW_TO_HASH, hashProblem } from "./bcrypt-hash.ts";

export function parseUsersFile(text: string): Map<string, string> {
  const users = new Map<string, string>();
  const problems: string[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const colon = line.indexOf(":");
    if (colon <= 0) {
      problems.push(`line ${i + 1}: expected name:hash`);
      continue;
    }
    const name = line.slice(0, colon);
    const problem = hashProblem(line.slice(colon + 1));
    if (problem) problems.push(`line ${i + 1}: ${problem}`);
    else if (users.has(name)) problems.push(`line ${i + 1}: user ${name} is listed twice`);
    else users.set(name, line.slice(colon + 1));
  }
  if (problems.length > 0) throw new Error(`${problems.join("; ")} (${HOW_TO_HASH})`);
  return users;
}
