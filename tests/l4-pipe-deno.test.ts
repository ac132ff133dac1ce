// The TCP pipe suite (l4-pipe.case.ts) against listeners running on Deno (deno-sockets.ts): the same cases
// the Bun adapter passes.
import { pipeCases } from "./l4-pipe.case.ts";

pipeCases("deno");
