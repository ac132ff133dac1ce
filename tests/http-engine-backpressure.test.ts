// The backpressure suite (http-engine-backpressure.case.ts) against the gateway on Bun, in a process of its own.
import { backpressureCases } from "./http-engine-backpressure.case.ts";

backpressureCases("bun");
