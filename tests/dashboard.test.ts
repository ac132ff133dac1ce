// GET / on the admin listener: the HTML dashboard. Rendered on the server (pools, servers with their states,
// routes, listeners, TCP figures, every config string escaped), then in a real browser — Debian's headless
// chromium — where its script reloads /status and re-renders, and its buttons drain and enable servers.
// With an admin token, the page needs it too (as a Bearer header or ?token=) and passes it on to /status.
import { afterAll, beforeAll, describe, expect, spyOn, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway } from "../gateway/gateway.ts";
import type { ConfigInput } from "../gateway/config/schema.ts";
import { startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";
import { reaches } from "./helpers/common.ts";
import { chromium, withPage } from "./helpers/chromium.ts";

/** A server id and a route name that would break the page (or run script) if not escaped. */
const HOSTILE_ID = `<img src=x onerror="document.title='pwned'">&'`;
const HOSTILE_ROUTE = `</td><script>document.title='pwned'</script>`;

let a: Upstream;
let b: Upstream;

function config(admin: { listen: string; token?: string }): ConfigInput {
  return {
    listen: "127.0.0.1:0",
    admin,
    accessLog: false,
    pools: {
      web: {
        servers: [
          { url: a.url, id: "web-a" },
          { url: b.url, id: "web-b", down: true },
        ],
      },
      odd: { servers: [{ url: a.url, id: HOSTILE_ID }] },
      db: { mode: "tcp", servers: [{ address: `127.0.0.1:${a.port}`, id: "db-1" }] },
    },
    routes: [
      { name: "odd-route", match: { path: "/odd/*" }, pool: "odd" },
      { name: HOSTILE_ROUTE, match: { path: "/moved" }, redirect: { to: "/elsewhere" } },
      { name: "site", pool: "web" },
    ],
    tcp: [{ listen: "127.0.0.1:0", pool: "db" }],
  };
}

/** The `<tr>` of a server in the dashboard's HTML, by (escaped) id. */
function row(html: string, id: string): string {
  const at = html.indexOf(`<span class="id">${id}</span>`);
  if (at < 0) throw new Error(`no row for server ${id}`);
  return html.slice(html.lastIndexOf("<tr", at), html.indexOf("</tr>", at));
}

const stateOf = (html: string, id: string) => /data-state="(\w+)"/.exec(row(html, id))?.[1];

/** One HTTP/1.0 request through the TCP listener, so that its figures are not all zero. */
function throughTcp(address: string): Promise<string> {
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => socket.write("GET / HTTP/1.0\r\nHost: x\r\n\r\n"));
    let got = "";
    socket.on("data", (d) => (got += d));
    socket.on("end", () => resolve(got));
    socket.on("error", reject);
  });
}

/** The DOM after the page's script ran: virtual time lets its 2 s refresh fire (and /status answer) at once. */
const liveDom = (url: string) => chromium(["--dump-dom", "--virtual-time-budget=3000"], url);

beforeAll(() => {
  a = startUpstream("a");
  b = startUpstream("b");
});
afterAll(async () => {
  await a.stop();
  await b.stop();
});

describe("dashboard without a token", () => {
  let gw: Gateway;
  let tcpAddress: string;
  beforeAll(async () => {
    gw = await startGateway({ config: config({ listen: "127.0.0.1:0" }) });
    for (let i = 0; i < 3; i++) expect(await (await fetch(`${gw.url}/x`)).text()).toBe("a");
    tcpAddress = gw.listeners().find((l) => l.kind === "tcp")!.address;
    expect(await throughTcp(tcpAddress)).toContain("200 OK");
  });
  afterAll(() => gw.stop(0));

  test("GET / is rendered on the server: pools, servers and states, routes, listeners, TCP figures", async () => {
    const res = await fetch(`${gw.adminUrl}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=UTF-8");
    expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const html = await res.text();
    expect(html).toContain('<main id="dash" data-source="server">');
    for (const pool of ["web", "odd", "db"]) expect(html).toContain(`<section class="card pool" data-pool="${pool}">`);
    expect(html).toContain("round-robin");
    expect(stateOf(html, "web-a")).toBe("up");
    expect(stateOf(html, "web-b")).toBe("disabled");
    expect(stateOf(html, "db-1")).toBe("up");
    expect(row(html, "web-a")).toContain(a.url.replace("http://", ""));
    expect(row(html, "web-a")).toMatch(/<td class="num">3<\/td>/); // requests
    // Buttons for the admin actions that would change something.
    const buttons = (id: string) => [...row(html, id).matchAll(/data-pool="web" data-id="[^"]+" data-action="(\w+)"/g)].map((m) => m[1]);
    expect(buttons("web-a")).toEqual(["drain", "disable"]);
    expect(buttons("web-b")).toEqual(["drain", "enable"]);
    for (const route of ["odd-route", "site"]) expect(html).toContain(`<span class="id">${route}</span>`);
    for (const l of gw.listeners()) expect(html).toContain(`<span class="target">${l.address}</span>`);
    const tcp = html.slice(html.indexOf("<h2>TCP listeners</h2>"));
    expect(tcp).toContain(`<span class="target">${tcpAddress}</span></td><td>db</td>`);
    expect(tcp).toMatch(/<td class="num">\d+<\/td><td class="num">1<\/td>/); // active, accepted
    expect(html.slice(0, html.indexOf("</main>"))).not.toContain("UDP listeners");
    expect(html).toMatch(/id="uptime">\d+s</);
    // The charts (tests/dashboard-charts.test.ts) sit between the summary and the pools, drawn already.
    expect(html).toMatch(/<\/div><\/div><div id="charts" data-source="server"[^>]*><section class="card" id="http-charts">/);
    expect(html.indexOf('id="charts"')).toBeLessThan(html.indexOf('<section class="card pool"'));
    expect(html).toContain('<g class="server" data-pool="web" data-id="web-b">');
  });

  test("every config string is escaped", async () => {
    const html = await (await fetch(`${gw.adminUrl}/`)).text();
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<script>document");
    expect(stateOf(html, "&#60;img src=x onerror=&#34;document.title=&#39;pwned&#39;&#34;&#62;&#38;&#39;")).toBe("up");
    expect(html).toContain("&#60;/td&#62;&#60;script&#62;document.title=&#39;pwned&#39;&#60;/script&#62;");
  });

  test("in a browser: a screenshot of the page (SLUICE_DASHBOARD_SCREENSHOT=file.png keeps it)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-shot-"));
    try {
      const file = process.env.SLUICE_DASHBOARD_SCREENSHOT || join(dir, "dashboard.png");
      await chromium([`--screenshot=${file}`], `${gw.adminUrl}/`);
      const png = readFileSync(file);
      expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      expect(png.readUInt32BE(16)).toBe(1280); // IHDR width
      expect(png.length).toBeGreaterThan(20_000); // a rendered page, not a blank one
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);

  test("in a browser: the script reloads /status and re-renders the servers with their states", async () => {
    const dom = await liveDom(`${gw.adminUrl}/`);
    expect(dom).toContain('data-source="live"');
    expect(dom).toMatch(/id="note" class="note">live · updated /);
    expect(dom).toContain("<title>Sluice admin</title>"); // no injected script changed it
    expect(stateOf(dom, "web-a")).toBe("up");
    expect(stateOf(dom, "web-b")).toBe("disabled");
    expect(stateOf(dom, "db-1")).toBe("up");
    expect(dom).toContain('<span class="id">site</span>');
    expect(dom).toContain("TCP listeners");
    expect(dom).not.toContain("<img"); // re-rendered from /status, still escaped
  }, 40_000);

  test("in a browser: the buttons drain and enable a server, and the page shows it", async () => {
    const adminState = async (id: string) => {
      const status = (await (await fetch(`${gw.adminUrl}/status`)).json()) as { pools: Record<string, { servers: Array<{ id: string; adminState: string }> }> };
      return Object.values(status.pools)
        .flatMap((p) => p.servers)
        .find((s) => s.id === id)!.adminState;
    };
    const lines: string[] = [];
    const logged = spyOn(console, "error").mockImplementation((line) => void lines.push(String(line))); // the admin's change log
    await withPage(`${gw.adminUrl}/`, async ({ evaluate }) => {
      // Wait for the dashboard itself (the tab starts on a blank page, whose readyState is "complete" too).
      expect(await reaches(true, async () => await evaluate(`document.readyState === "complete" && document.getElementById("dash") !== null`))).toBe(true);
      // The page asks before draining or disabling: say yes.
      await evaluate("window.confirm = () => true");
      const click = (id: string, action: string) =>
        evaluate(`[...document.querySelectorAll("button[data-action=${action}]")].find((b) => b.dataset.id === ${JSON.stringify(id)}).click()`);
      const shownState = (id: string) =>
        evaluate(
          `[...document.querySelectorAll("tr")].find((tr) => tr.querySelector(".id")?.textContent === ${JSON.stringify(id)})?.querySelector("[data-state]").dataset.state`,
        );

      await click("web-a", "drain");
      expect(await reaches("drain", () => adminState("web-a"))).toBe("drain");
      expect(await reaches("drain", () => shownState("web-a"))).toBe("drain");
      await click("web-a", "enable");
      expect(await reaches("up", () => adminState("web-a"))).toBe("up");
      expect(await reaches("up", () => shownState("web-a"))).toBe("up");
      // An id that needs escaping in HTML and in the URL.
      await click(HOSTILE_ID, "disable");
      expect(await reaches("disabled", () => shownState(HOSTILE_ID))).toBe("disabled");
      await click(HOSTILE_ID, "enable");
      expect(await reaches("up", () => shownState(HOSTILE_ID))).toBe("up");
      expect(await evaluate("document.getElementById('note').className")).toBe("note");
    }).finally(() => logged.mockRestore());
    expect(lines).toContain(`sluice: admin: pool "web" server "web-a": drain (admin state up -> drain)`);
  }, 40_000);
});

describe("dashboard with a token", () => {
  const TOKEN = "d4sh-t0ken";
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ config: config({ listen: "127.0.0.1:0", token: TOKEN }) });
  });
  afterAll(() => gw.stop(0));

  test("GET / needs the token, as a Bearer header or ?token= (which only the page takes)", async () => {
    const none = await fetch(`${gw.adminUrl}/`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    expect(await none.text()).not.toContain("web-a");
    expect((await fetch(`${gw.adminUrl}/?token=nope`)).status).toBe(401);
    expect((await fetch(`${gw.adminUrl}/`, { headers: { authorization: "Bearer nope" } })).status).toBe(401);
    const header = await fetch(`${gw.adminUrl}/`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(header.status).toBe(200);
    expect(await header.text()).toContain("web-a");
    const query = await fetch(`${gw.adminUrl}/?token=${TOKEN}`);
    expect(query.status).toBe(200);
    expect(query.headers.get("referrer-policy")).toBe("no-referrer");
    expect(stateOf(await query.text(), "web-b")).toBe("disabled");
    expect((await fetch(`${gw.adminUrl}/status?token=${TOKEN}`)).status).toBe(401);
  });

  test("in a browser: the page opened with ?token= passes it on to /status and /history", async () => {
    // Virtual time long enough for the charts' 5 s redraw from /history too.
    const dom = await chromium(["--dump-dom", "--virtual-time-budget=6000"], `${gw.adminUrl}/?token=${TOKEN}`);
    expect(dom).toContain('<main id="dash" data-source="live">');
    expect(dom).toMatch(/<div id="charts" data-source="live"/);
    expect(dom).toContain('id="note" class="note"'); // no refresh failed
    expect(stateOf(dom, "web-a")).toBe("up");
    expect(stateOf(dom, "web-b")).toBe("disabled");
  }, 40_000);
});
