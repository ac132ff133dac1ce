// The routing module's public surface: build a view per request, compile a table per config, match.
//   const table = compileRouteTable(config.routes.map((route) => ({ route, value: handlerFor(route) })));
//   const m = table.match(RequestView.fromRequest(req));   // undefined → 404
export { RequestView, normaliseHost } from "./view.ts";
export type { HeaderLookup } from "./view.ts";
export { RouteMatch, RouteTableError, checkRoutes, compileRouteTable } from "./table.ts";
export type { CompiledRoute, RouteEntry, RouteProblem, RouteTable, RouteTableOptions } from "./table.ts";
export type { Matcher } from "./matcher.ts";
export { PatternError } from "./matcher.ts";
export type { Params } from "./path.ts";
export type { PathRewriter } from "./rewrite.ts";
export { compilePathRewrite, compileRewrite, compileStripPrefix } from "./rewrite.ts";
export type { CompiledRedirect } from "./redirect.ts";
export { compileRedirect } from "./redirect.ts";
export { browserBits, describeBrowser } from "./browser.ts";
export type { BrowserClass, BrowserFamily } from "./browser.ts";
