// deploy/kubernetes/: the manifests parse, and what they say about Sluice agrees with what Sluice does —
// the container ports are the config's listen and admin ports, the probes ask the admin listener's
// /readyz and /healthz, the config is mounted where --config points and passes `sluice check`, the grace
// period covers the preStop sleep and shutdownTimeout, the Service, PodDisruptionBudget and autoscaler
// find the Deployment's pods. Then the ConfigMap's config runs as the pod would run it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { parseAllDocuments } from "yaml";
import { cliPath, repoRoot, runCli, spawnCommand } from "./helpers/process.ts";
import { deadPort } from "./helpers/common.ts";
import { loadConfig } from "../gateway/config/load.ts";
import { listenAddress } from "../gateway/config/http-listeners.ts";
import { parseAddress } from "../gateway/config/address.ts";
import { balancerNames } from "../gateway/balancing/registry.ts";
import type { Config } from "../gateway/config/schema.ts";

const manifestDir = join(repoRoot, "deploy/kubernetes");
// The loose shape of a Kubernetes object: tests read fields by path and assert on them.
type K8s = any;

/** Every document of a YAML file as plain data; a YAML error fails the test with the file's name. */
function parseAllDocument(text: string, file: string): K8s[] {
  return parseAllDocuments(text).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join("; ")}`);
    return doc.toJS();
  });
}

const objects: K8s[] = readdirSync(manifestDir)
  .filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
  .flatMap((f) => parseAllDocument(readFileSync(join(manifestDir, f), "utf8"), f));
const one = (kind: string): K8s => {
  const found = objects.filter((o) => o.kind === kind);
  expect(found.length).toBe(1);
  return found[0];
};
const deployment = one("Deployment");
const configMap = one("ConfigMap");
const pod = deployment.spec.template.spec;
const container = pod.containers.find((c: K8s) => c.name === "sluice");
const args: string[] = container.args;
const configPath = args[args.indexOf("--config") + 1]!;
const tokenEnv = container.env.find((e: K8s) => e.valueFrom?.secretKeyRef)?.name as string;

// The ConfigMap's config file, written out as the volume would hold it, and loaded with the Secret's value set.
let dir: string;
let configFile: string;
let config: Config;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-k8s-"));
  configFile = join(dir, basename(configPath));
  await writeFile(configFile, configMap.data[basename(configPath)]);
  process.env[tokenEnv] = "test-token";
  try {
    config = (await loadConfig(configFile, { knownBalancers: balancerNames as string[] })).config;
  } finally {
    delete process.env[tokenEnv];
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function containerPort(nameOrNumber: string | number): number {
  if (typeof nameOrNumber === "number") return nameOrNumber;
  const port = container.ports.find((p: K8s) => p.name === nameOrNumber);
  expect(port).toBeDefined();
  return port.containerPort;
}

describe("the manifests", () => {
  test("every file parses, and kustomization.yaml lists each of them", () => {
    const files = readdirSync(manifestDir)
      .filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
      .sort();
    const kustomization = parseAllDocument(readFileSync(join(manifestDir, "kustomization.yaml"), "utf8"), "kustomization.yaml")[0];
    expect([...kustomization.resources].sort()).toEqual(files);
    expect(objects.map((o) => o.kind).sort()).toEqual(["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Service"]);
    for (const o of objects) expect(o.metadata.name).toMatch(/^sluice/);
  });

  test("the ConfigMap's config passes `sluice check` with the Secret's token in the environment, and needs it", async () => {
    const ok = spawnCommand([process.execPath, cliPath, "check", "--config", configFile], { env: { [tokenEnv]: "test-token" } });
    expect(await ok.proc.exited).toBe(0);
    await ok.outputEnded;
    expect(ok.output()).toBe("ok\n");
    // Without the Secret the admin listener (on the pod's address) has no token: refused, as it must be.
    const without = await runCli(["check", "--config", configFile]);
    expect(without.code).toBe(1);
    expect(without.out).toMatch(/^admin\.token: required/);
    const secretRef = container.env.find((e: K8s) => e.name === tokenEnv).valueFrom.secretKeyRef;
    expect(secretRef).toEqual({ name: "sluice-admin", key: "token" });
  });

  test("the container ports are the config's listen and admin ports", () => {
    const http = config.listen.map((l) => parseAddress(listenAddress(l))!);
    expect(http.map((a) => a.port)).toEqual([containerPort("http")]);
    expect(config.admin).not.toBe(false);
    const admin = parseAddress((config.admin as { listen: string }).listen)!;
    expect(admin.port).toBe(containerPort("admin"));
    // The kubelet probes the pod's address: a loopback admin listener would fail every probe.
    for (const a of [...http, admin]) expect(a.hostname).toBe("0.0.0.0");
    expect(config.workers).toBe(1);
  });

  test("readiness is /readyz and liveness /healthz, both on the admin port", () => {
    expect(container.readinessProbe.httpGet.path).toBe("/readyz");
    expect(containerPort(container.readinessProbe.httpGet.port)).toBe(9901);
    for (const probe of [container.livenessProbe, container.startupProbe]) {
      expect(probe.httpGet.path).toBe("/healthz");
      expect(containerPort(probe.httpGet.port)).toBe(9901);
    }
  });

  test("--config names a file of the ConfigMap, mounted as a whole directory (so updates arrive) and watched", async () => {
    const mount = container.volumeMounts.find((m: K8s) => m.mountPath === dirname(configPath));
    expect(mount).toBeDefined();
    expect(mount.subPath).toBeUndefined(); // a subPath mount never sees a ConfigMap update
    const volume = pod.volumes.find((v: K8s) => v.name === mount.name);
    expect(volume.configMap.name).toBe(configMap.metadata.name);
    expect(Object.keys(configMap.data)).toContain(basename(configPath));
    expect(args).toContain("--watch-config");
    // Every flag the Deployment passes is one the CLI knows.
    const help = await runCli(["--help"]);
    for (const flag of args.filter((a) => a.startsWith("--"))) expect(help.out).toContain(flag);
  });

  test("the grace period covers the preStop sleep and shutdownTimeout; SIGTERM is the stop signal", () => {
    const preStopSeconds = container.lifecycle.preStop.sleep.seconds as number;
    expect(container.lifecycle.preStop.exec).toBeUndefined(); // the image has no shell to run a command in
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStopSeconds + config.shutdownTimeout / 1000);
    // Kubernetes sends SIGTERM unless told otherwise; that is the signal Sluice drains on.
    expect(container.lifecycle.stopSignal ?? "SIGTERM").toBe("SIGTERM");
  });

  test("the image runs as the Deployment expects: sluice as the entrypoint, its user, its ports, SIGTERM", () => {
    const dockerfile = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
    const instruction = (name: string) => dockerfile.match(new RegExp(`^${name}\\s+(.+)$`, "m"))?.[1]?.trim();
    // The Deployment sets only `args`: they replace CMD and go to the ENTRYPOINT, which must be the binary.
    expect(container.command).toBeUndefined();
    expect(JSON.parse(instruction("ENTRYPOINT")!)).toEqual(["/usr/local/bin/sluice"]);
    expect(instruction("USER")).toBe(`${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`);
    expect(instruction("STOPSIGNAL") ?? "SIGTERM").toBe("SIGTERM");
    expect(instruction("EXPOSE")!.split(/\s+/).map(Number).sort()).toEqual(container.ports.map((p: K8s) => p.containerPort).sort());
  });

  test("non-root, read-only root filesystem, no privilege escalation", () => {
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(container.securityContext.capabilities.drop).toEqual(["ALL"]);
    expect(container.resources.requests.cpu).toBeDefined();
    expect(container.resources.limits.memory).toBeDefined();
  });

  test("the Service, PodDisruptionBudget and autoscaler all find the Deployment's pods", () => {
    const labels = deployment.spec.template.metadata.labels;
    const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    expect(selects(deployment.spec.selector.matchLabels)).toBe(true);

    const service = one("Service");
    expect(selects(service.spec.selector)).toBe(true);
    expect(service.spec.ports.map((p: K8s) => containerPort(p.targetPort))).toEqual([8080]);

    const pdb = one("PodDisruptionBudget");
    expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);

    const hpa = one("HorizontalPodAutoscaler");
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: deployment.apiVersion, kind: "Deployment", name: deployment.metadata.name });
    // At least two pods, or the PodDisruptionBudget would block every node drain.
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(pdb.spec.maxUnavailable).toBe(1);
  });
});

describe("the ConfigMap's config, run as the pod runs it", () => {
  test("the probe paths answer without a token, the rest of the admin listener needs it, SIGTERM exits 0", async () => {
    const [httpPort, adminPort] = [await deadPort(), await deadPort()];
    // The pod's addresses moved to free loopback ports: nothing else of the config changes.
    const source = configMap.data[basename(configPath)] as string;
    const local = join(dir, `local-${basename(configPath)}`);
    await writeFile(local, source.replace(`":8080"`, `"127.0.0.1:${httpPort}"`).replace(`":9901"`, `"127.0.0.1:${adminPort}"`));
    const gw = spawnCommand([process.execPath, cliPath, ...args.map((a) => (a === configPath ? local : a))], { env: { [tokenEnv]: "test-token" } });
    try {
      await gw.waitFor(/serving/);
      const admin = `http://127.0.0.1:${adminPort}`;
      expect((await fetch(`${admin}${container.readinessProbe.httpGet.path}`)).status).toBe(200);
      expect((await fetch(`${admin}${container.livenessProbe.httpGet.path}`)).status).toBe(200);
      expect((await fetch(`${admin}/status`)).status).toBe(401);
      expect((await fetch(`${admin}/status`, { headers: { authorization: "Bearer test-token" } })).status).toBe(200);
    } finally {
      expect(await gw.stop("SIGTERM")).toBe(0);
    }
  });
});
