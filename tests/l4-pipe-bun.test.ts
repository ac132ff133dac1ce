// The TCP pipe suite (l4-pipe.case.ts) against listeners running on Bun (bun-sockets.ts).
import { pipeCases } from "./l4-pipe.case.ts";

pipeCases("bun");
