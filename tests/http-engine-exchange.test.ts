// The exchange suite (http-engine-exchange.case.ts) against the gateway on Bun, in this process.
import { exchangeCases } from "./http-engine-exchange.case.ts";

exchangeCases("bun");
