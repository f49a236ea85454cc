import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { V1Deployment, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { DRAIN_SECONDS, GRACE_SECONDS, manifests } from '../../deploy/kubernetes/manifests.js';
import { render, YAML_FILE } from '../../deploy/kubernetes/render.js';
import { STOP_MARGIN_SECONDS } from '../../electron/core/cli/service-unit.js';

const deployment = manifests.find((m) => m.kind === 'Deployment') as V1Deployment;
const pod = deployment.spec!.template.spec!;
const worker = pod.containers.find((c) => c.name === 'worker')!;
const flag = (name: string) => worker.args![worker.args!.indexOf(name) + 1];

/** The manifests are typed objects (tsc checks them); these check what a type cannot. */
describe('the Kubernetes manifests', () => {
  it('the checked-in YAML is what manifests.ts renders (npm run render:kubernetes)', () => {
    assert.equal(readFileSync(YAML_FILE, 'utf8'), render());
  });

  it('gives the worker its drain and grace before SIGKILL, the key as a read-only file only, and one disruption at a time', () => {
    assert.equal(flag('--drain-seconds'), String(DRAIN_SECONDS));
    assert.equal(flag('--grace-seconds'), String(GRACE_SECONDS));
    assert.equal(pod.terminationGracePeriodSeconds, DRAIN_SECONDS + GRACE_SECONDS + STOP_MARGIN_SECONDS);
    const keyMount = worker.volumeMounts!.find((m) => m.name === 'environment-key')!;
    assert.equal(keyMount.readOnly, true);
    assert.equal(flag('--environment-key-file'), `${keyMount.mountPath}/environment-key`);
    assert.equal(pod.volumes!.find((v) => v.name === 'environment-key')!.secret!.defaultMode, 0o440);
    assert.ok(!(worker.env ?? []).some((e) => /KEY/i.test(e.name) || e.valueFrom?.secretKeyRef), 'the key is not a variable');
    assert.ok(!(worker.envFrom ?? []).some((e) => e.secretRef), 'no Secret becomes variables');
    const budget = manifests.find((m) => m.kind === 'PodDisruptionBudget') as V1PodDisruptionBudget;
    assert.deepEqual(budget.spec!.selector!.matchLabels, deployment.spec!.selector.matchLabels);
    assert.equal(budget.spec!.maxUnavailable, 1);
  });

  it('mounts the data folder at the same path in the worker and its engine, and asks for resources', () => {
    const engine = pod.initContainers!.find((c) => c.name === 'docker')!;
    assert.equal(engine.restartPolicy, 'Always', 'a native sidecar: it outlives the worker\'s drain');
    const dataPath = (c: typeof worker) => c.volumeMounts!.find((m) => m.name === 'data')!.mountPath;
    assert.equal(dataPath(engine), dataPath(worker));
    // Inside the mount: the worker makes its data folder 0700, which it cannot do to the emptyDir itself (root's).
    assert.ok(flag('--data-dir')!.startsWith(`${dataPath(worker)}/`), flag('--data-dir'));
    for (const c of [worker, engine]) assert.ok(c.resources?.requests?.['cpu'] && c.resources.requests['memory'], `${c.name} requests CPU and memory`);
    assert.equal(worker.securityContext!.runAsNonRoot, true);
    assert.equal(worker.securityContext!.allowPrivilegeEscalation, false);
  });
});
