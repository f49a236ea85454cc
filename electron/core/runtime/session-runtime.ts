import type { ReadOnlyMounts } from './mounts.js';
import type { EgressPath, EgressPathOptions, SessionEgress, SessionEgressOptions } from './session-egress.js';
import type { SessionUser } from './workspace.js';

/**
 * What the worker asks of whatever runs its sessions: one isolated, labelled, limited sandbox per
 * work item, its output streamed to the session log, and a way to find and remove what an earlier
 * process left. DockerRuntime (docker.ts) is the one there is; a Kubernetes runtime (each session a
 * Pod, deploy/kubernetes/README.md) would be a second, chosen in the composition root (outpost.ts)
 * without a change to worker/.
 */
export interface SessionRuntime {
  /** Throws (with the engine's words) when the runtime does not answer: nothing is claimed then. */
  ping(): Promise<void>;
  /** The image is here, or fetched; throws in words when it cannot be. Its id and labels (a cold start reads HANDOVER_LABEL). */
  ensureImage(image: string, signal?: AbortSignal): Promise<ImageInfo>;
  /** Create and start the session's sandbox; its output goes to spec.logFile from the first byte. */
  start(spec: ContainerSpec): Promise<RunningSession>;
  /** Every sandbox carrying this install's labels, running or not (startup recovery). */
  listOutpostContainers(installId: string): Promise<OutpostContainer[]>;
  /** Remove it, whatever its state; gone already is fine. */
  removeContainer(id: string): Promise<void>;
  /** CPU (percent of one core) and memory in use, or null once it is gone. */
  usage(id: string): Promise<{ cpuPercent: number; memoryBytes: number } | null>;
  /** The session's egress as its policy says: the network it joins and the proxy that decides each connection (Docker: a sidecar). */
  openEgress(opts: Omit<SessionEgressOptions, 'docker'>): Promise<SessionEgress>;
  /** The same before its item is known: a warm session's, bound to its item at the handover. */
  openEgressPath(opts: Omit<EgressPathOptions, 'docker'>): Promise<EgressPath>;
  /** The image's id and labels, or null when it is not here (the warm pool keeps only images that take a handover). */
  imageInfo(image: string): Promise<ImageInfo | null>;
  /** Start a sandbox with no item yet, its keeper waiting for one on stdin (worker/warm-pool.ts). */
  startWarm(spec: WarmSpec): Promise<WarmSession>;
  /**
   * Give every file of a finished session's workspace to `owner`, defused, with the runtime's own
   * privilege: for an Outpost that is not root, after a session that ran as root (workspace-reclaim.ts).
   * Throws in words when it could not.
   */
  reclaimWorkspace(dir: string, owner: SessionUser, labels: Record<string, string>): Promise<void>;
}

export interface ImageInfo {
  id: string;
  labels: Record<string, string>;
  /** Its entrypoint (labels.ts takesHandover: the keeper's, or none of it). */
  entrypoint: string[];
}

/** A warm sandbox: started before its item, handed the item's variables later, outside its environment. */
export interface WarmSession extends RunningSession {
  /** The item's variables, as one frame on the keeper's stdin (runtime/handover-frame.ts). */
  handOver(values: Record<string, string>): Promise<void>;
  rename(name: string): Promise<void>;
}

/** One started session sandbox. */
export interface RunningSession {
  readonly id: string;
  /** Its exit code; -1 when the runtime went away under it. */
  readonly exited: Promise<number>;
  /** What the engine warned of at create (a limit it cannot enforce); also the session log's first lines. */
  readonly warnings: readonly string[];
  output(): { stdout: string; stderr: string; truncated: boolean };
  /** SIGTERM, then SIGKILL after graceSeconds. */
  stop(graceSeconds: number): Promise<void>;
  kill(): Promise<void>;
  /** Remove it and wait for its log to be flushed. */
  remove(): Promise<void>;
}

export interface ContainerLimits {
  /** CPU cores, fractional allowed. */
  cpus?: number;
  memoryMb?: number;
  pids?: number;
  /** The session log's cap in MiB (CappedSink); DEFAULT_SESSION_LOG_LIMIT_BYTES unless set. */
  logMb?: number;
}

export interface ContainerSpec {
  image: string;
  name: string;
  labels: Record<string, string>;
  /** Exactly what the container's environment holds; the caller decides, nothing is inherited. */
  env: Record<string, string>;
  /**
   * The item's own variables, kept out of the environment: written as one frame on the container's
   * stdin right after start (an image whose entrypoint is the keeper, labels.ts takesHandover, reads
   * them there). The container's stdin stays open and closes with Outpost's attach (StdinOnce), and
   * the keeper then ends the container: a session outlives no Outpost.
   */
  handover?: Record<string, string>;
  workspaceDir: string;
  /** Who the session runs as (workspace.ts sessionUser): never uid 0 unless the profile allows it. */
  user: SessionUser;
  logFile: string;
  networkMode: string;
  limits: ContainerLimits;
  /** Replaces the image's command; the image's entrypoint stays. */
  cmd?: string[];
  /**
   * Host folders the session reads, judged (runtime/mounts.ts) by the runtime at the container's
   * create, each mounted by the real path judged then: one refused fails the start, in words.
   */
  readOnlyMounts?: ReadOnlyMounts;
  /** Also keep stdout and stderr apart in memory, up to this many bytes each. */
  captureBytes?: number;
  /** Written into the workspace, by name, before the container starts (e.g. the script it runs). */
  files?: Record<string, string>;
  /** The log file could not be written (a full disk): the session runs on, its output is lost. */
  onLogError?: (error: Error) => void;
}

/**
 * A warm sandbox's: no item yet, so no command, files or capture, and of an environment only what
 * points its tools at its egress proxy (no credential, nothing of the item's) (worker/warm-pool.ts).
 */
export type WarmSpec = Omit<ContainerSpec, 'env' | 'handover' | 'cmd' | 'files' | 'captureBytes'> & { egressEnv?: Record<string, string> };

export interface OutpostContainer {
  id: string;
  labels: Record<string, string>;
  running: boolean;
}
