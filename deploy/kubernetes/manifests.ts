/**
 * The worker on Kubernetes, as typed objects (tsc checks every field against the API's own types);
 * render.ts writes them to outpost-worker.yaml. Each pod is a worker and its own Docker engine (a
 * DinD sidecar): the sessions live and die with their pod. The trade-off against the node's socket is
 * in README.md beside this file. No cluster runs on the build machines: these are checked by type and by the
 * test that the YAML is what this file renders, not by a cluster.
 */
import type { KubernetesObject, V1ConfigMap, V1Deployment, V1Namespace, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { STOP_MARGIN_SECONDS } from '../../electron/core/cli/service-unit.js';
import { WORKER_DATA_DIR, WORKER_IMAGE, WORKER_UID } from '../../electron/core/runtime/worker-image.js';

export const NAMESPACE = 'outpost';
const NAME = 'outpost-worker';
const LABELS = { 'app.kubernetes.io/name': NAME, 'app.kubernetes.io/part-of': 'outpost' };
export const DRAIN_SECONDS = 30;
export const GRACE_SECONDS = 10;
const MAX_SESSIONS = 2;
/** The pod's own engine's socket, in a folder both containers mount. */
const SOCKET_DIR = '/run/outpost-docker';
const KEY_DIR = '/run/secrets/outpost';

const namespace: V1Namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE, labels: LABELS } };

/** What a user edits: the environment to serve. The key is a Secret of its own (kubectl create secret, never in this file). */
const config: V1ConfigMap = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: NAME, namespace: NAMESPACE, labels: LABELS },
  data: { OUTPOST_BASE_URL: 'https://api.anthropic.com', OUTPOST_ENVIRONMENT_ID: 'env_REPLACE_ME' },
};

const deployment: V1Deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: NAME, namespace: NAMESPACE, labels: LABELS },
  spec: {
    replicas: 3,
    selector: { matchLabels: LABELS },
    // One pod at a time leaves, and drains first: the queue is the distributor, so fewer workers only means slower.
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } },
    template: {
      metadata: { labels: LABELS },
      spec: {
        // SIGTERM starts the drain; the kubelet waits this long before SIGKILL: the same rule as the systemd unit's TimeoutStopSec.
        terminationGracePeriodSeconds: DRAIN_SECONDS + GRACE_SECONDS + STOP_MARGIN_SECONDS,
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        // The key's file and the data folder readable by the worker's group.
        securityContext: { fsGroup: WORKER_UID, seccompProfile: { type: 'RuntimeDefault' } },
        initContainers: [
          {
            // A native sidecar (restartPolicy Always, Kubernetes 1.29+): started before the worker, stopped after it has drained.
            name: 'docker',
            image: 'docker:27-dind',
            restartPolicy: 'Always',
            args: [`--host=unix://${SOCKET_DIR}/docker.sock`, `--group=${WORKER_UID}`],
            env: [{ name: 'DOCKER_TLS_CERTDIR', value: '' }],
            // DinD needs it: the price of an engine per pod (README.md).
            securityContext: { privileged: true },
            startupProbe: { exec: { command: ['docker', '-H', `unix://${SOCKET_DIR}/docker.sock`, 'version'] }, periodSeconds: 2, failureThreshold: 60 },
            // Sessions' CPU and memory are the engine's: max sessions × the per-session limits.
            resources: { requests: { cpu: '2', memory: '4Gi' }, limits: { cpu: String(2 * MAX_SESSIONS), memory: `${4 * MAX_SESSIONS + 1}Gi` } },
            volumeMounts: [
              { name: 'docker-socket', mountPath: SOCKET_DIR },
              { name: 'docker-data', mountPath: '/var/lib/docker' },
              // The same path as in the worker: a session's workspace is bind-mounted by the path the worker names.
              { name: 'data', mountPath: WORKER_DATA_DIR },
            ],
          },
        ],
        containers: [
          {
            name: 'worker',
            image: `${WORKER_IMAGE}:latest`,
            imagePullPolicy: 'IfNotPresent',
            // $(VAR) is expanded by the kubelet from env below; the key is a file, never an argument or a variable.
            args: [
              '--base-url', '$(OUTPOST_BASE_URL)',
              '--environment-id', '$(OUTPOST_ENVIRONMENT_ID)',
              '--environment-key-file', `${KEY_DIR}/environment-key`,
              // A folder the worker makes (and owns, 0700) inside the emptyDir, which is root's.
              '--data-dir', `${WORKER_DATA_DIR}/data`,
              '--max-sessions', String(MAX_SESSIONS),
              '--drain-seconds', String(DRAIN_SECONDS),
              '--grace-seconds', String(GRACE_SECONDS),
              '--log-format', 'json',
            ],
            envFrom: [{ configMapRef: { name: NAME } }],
            env: [{ name: 'DOCKER_HOST', value: `unix://${SOCKET_DIR}/docker.sock` }],
            securityContext: {
              runAsNonRoot: true,
              runAsUser: WORKER_UID,
              runAsGroup: WORKER_UID,
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              capabilities: { drop: ['ALL'] },
            },
            resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } },
            volumeMounts: [
              { name: 'docker-socket', mountPath: SOCKET_DIR },
              { name: 'data', mountPath: WORKER_DATA_DIR },
              { name: 'environment-key', mountPath: KEY_DIR, readOnly: true },
              { name: 'tmp', mountPath: '/tmp' },
            ],
          },
        ],
        volumes: [
          { name: 'docker-socket', emptyDir: {} },
          { name: 'docker-data', emptyDir: {} },
          { name: 'data', emptyDir: {} },
          { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
          // 0440 with fsGroup: the worker's group reads it, nobody else in the pod.
          { name: 'environment-key', secret: { secretName: 'outpost-environment-key', defaultMode: 0o440, items: [{ key: 'environment-key', path: 'environment-key' }] } },
        ],
      },
    },
  },
};

/** A voluntary disruption (a node drain, an upgrade) takes one worker at a time, each given its drain. */
const budget: V1PodDisruptionBudget = {
  apiVersion: 'policy/v1',
  kind: 'PodDisruptionBudget',
  metadata: { name: NAME, namespace: NAMESPACE, labels: LABELS },
  spec: { maxUnavailable: 1, selector: { matchLabels: LABELS } },
};

export const manifests: KubernetesObject[] = [namespace, config, deployment, budget];
