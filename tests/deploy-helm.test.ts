// deploy/helm/sluice: Chart.yaml and values.yaml parse, every .Values key the templates read is in values.yaml,
// and the chart rendered with its defaults for a release named "sluice" gives the very objects of
// deploy/kubernetes/ (checked against the gateway by deploy-kubernetes.test.ts), plus Helm's usual labels and
// the image tagged with the chart's appVersion. Other values render what they say: replicas without the
// autoscaler, a Secret when the token is given, names from another release. The helm binary is not
// installable here: the templates are rendered by tests/helpers/helm-template.ts, which refuses anything
// outside the part of the language the chart uses.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { repoRoot } from "./helpers/process.ts";
import { renderChart, type ChartScope } from "./helpers/helm-template.ts";

type K8s = any;
const chartDir = join(repoRoot, "deploy/helm/sluice");
const manifestDir = join(repoRoot, "deploy/kubernetes");

const chart = parse(readFileSync(join(chartDir, "Chart.yaml"), "utf8"));
const values = parse(readFileSync(join(chartDir, "values.yaml"), "utf8"));
const templates = Object.fromEntries(readdirSync(join(chartDir, "templates")).map((f) => [f, readFileSync(join(chartDir, "templates", f), "utf8")]));

function documents(text: string, file: string): K8s[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join("; ")}`);
    const object = doc.toJS();
    return object === null ? [] : [object];
  });
}

/** Deep merge of `over` onto `base` (objects merge, anything else replaces), as `--set` / `-f` do. */
function merged(base: K8s, over: K8s): K8s {
  if (typeof base !== "object" || base === null || typeof over !== "object" || over === null || Array.isArray(over)) return over;
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? merged(base[k], v) : v;
  return out;
}

/** The chart's objects for `release` with `overrides` on top of values.yaml. */
function render(release = "sluice", overrides: K8s = {}): K8s[] {
  const scope: ChartScope = {
    Values: merged(values, overrides),
    Release: { Name: release, Namespace: "default", Service: "Helm" },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
  };
  return Object.entries(renderChart(templates, scope)).flatMap(([file, text]) => documents(text, file));
}

/** Helm's bookkeeping labels (release, version, chart) taken off, so that objects compare with the plain manifests. */
function withoutHelmLabels(object: K8s): K8s {
  if (Array.isArray(object)) return object.map(withoutHelmLabels);
  if (typeof object !== "object" || object === null) return object;
  const out: K8s = {};
  for (const [k, v] of Object.entries(object)) {
    if (["app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart"].includes(k)) continue;
    out[k] = withoutHelmLabels(v);
  }
  return out;
}

const byKind = (objects: K8s[]) => Object.fromEntries(objects.map((o) => [o.kind, o]));

describe("the Helm chart", () => {
  test("Chart.yaml: apiVersion v2, named sluice, appVersion the package's version", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8"));
    expect(chart.apiVersion).toBe("v2");
    expect(chart.name).toBe("sluice");
    expect(chart.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(chart.appVersion).toBe(pkg.version);
  });

  test("every .Values key a template reads is in values.yaml", () => {
    const missing: string[] = [];
    for (const [file, text] of Object.entries(templates)) {
      for (const [, path] of text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
        let at: K8s = values;
        for (const key of path!.slice(1).split(".")) {
          if (typeof at !== "object" || at === null || !(key in at)) {
            missing.push(`${file}: .Values${path}`);
            break;
          }
          at = at[key];
        }
      }
    }
    expect(missing).toEqual([]);
  });

  test("with its defaults, release sluice: the objects of deploy/kubernetes/, with the image tagged appVersion", () => {
    const manifests = readdirSync(manifestDir)
      .filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
      .flatMap((f) => documents(readFileSync(join(manifestDir, f), "utf8"), f));
    const rendered = render();
    expect(rendered.map((o) => o.kind).sort()).toEqual(manifests.map((o) => o.kind).sort());
    const deployment = rendered.find((o) => o.kind === "Deployment");
    expect(deployment.spec.template.spec.containers[0].image).toBe(`sluice:${chart.appVersion}`);
    deployment.spec.template.spec.containers[0].image = "sluice:latest"; // the manifests' placeholder
    const expected = byKind(manifests);
    for (const object of rendered)
      expect({ kind: object.kind, object: withoutHelmLabels(object) }).toEqual({ kind: object.kind, object: expected[object.kind] });
    // Helm's labels are there, and the pods are selected by release as well as by name.
    expect(deployment.metadata.labels).toMatchObject({
      "app.kubernetes.io/instance": "sluice",
      "app.kubernetes.io/managed-by": "Helm",
      "helm.sh/chart": `sluice-${chart.version}`,
    });
    expect(deployment.spec.selector.matchLabels).toEqual({ "app.kubernetes.io/name": "sluice", "app.kubernetes.io/instance": "sluice" });
  });

  test("another release, no autoscaler, no disruption budget, a token given, a ClusterIP Service", () => {
    const objects = byKind(
      render("edge", {
        autoscaling: { enabled: false },
        replicaCount: 3,
        podDisruptionBudget: { enabled: false },
        adminToken: { value: "s3cret" },
        service: { type: "ClusterIP" },
        image: { repository: "registry.example/sluice", tag: "1.2.3" },
        resources: { requests: { cpu: "1" } },
      }),
    );
    expect(Object.keys(objects).sort()).toEqual(["ConfigMap", "Deployment", "Secret", "Service"]);
    const { Deployment: deployment, Secret: secret, Service: service, ConfigMap: configMap } = objects;
    expect(deployment.metadata.name).toBe("edge-sluice");
    expect(deployment.spec.replicas).toBe(3);
    const container = deployment.spec.template.spec.containers[0];
    expect(container.image).toBe("registry.example/sluice:1.2.3");
    expect(container.resources).toEqual({ requests: { cpu: "1", memory: "128Mi" }, limits: { memory: "512Mi" } });
    expect(deployment.spec.template.spec.volumes[0].configMap.name).toBe(configMap.metadata.name);
    expect(configMap.metadata.name).toBe("edge-sluice-config");
    // The Secret the container reads its token from, with the token.
    const ref = container.env.find((e: K8s) => e.name === "SLUICE_ADMIN_TOKEN").valueFrom.secretKeyRef;
    expect(secret.metadata.name).toBe(ref.name);
    expect(secret.stringData[ref.key]).toBe("s3cret");
    expect(service.spec.type).toBe("ClusterIP");
    expect(service.spec.externalTrafficPolicy).toBeUndefined(); // only for LoadBalancer and NodePort
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(configMap.data["sluice.config.ts"]).toBe(values.config);
  });

  test("fullnameOverride names every object", () => {
    const names = render("edge", { fullnameOverride: "gw" })
      .map((o) => o.metadata.name)
      .sort();
    expect(names).toEqual(["gw", "gw", "gw", "gw", "gw-config"]); // Deployment, Service, autoscaler, budget; the ConfigMap
  });
});
