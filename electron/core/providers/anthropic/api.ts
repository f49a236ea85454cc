import Anthropic from '@anthropic-ai/sdk';
import { isStatus } from '@anthropic-ai/sdk/lib/environments/index';
import { z } from 'zod';
import { controlPlaneId } from '../../../../shared/ids.js';
import type { WorkItem } from '../control-plane.js';

/**
 * A bounded wait per request: a control plane that never answers must not hold a claim, an ack,
 * a stop or a view for the SDK's default 10 minutes.
 */
export const REQUEST_TIMEOUT_MS = 15_000;

// Boundary check of what the control plane sends; the SDK types it but does not validate it.
// Every id will name a folder, a label or a container: each must be a control-plane id (DESIGN §4).
export const workSchema = z.object({
  id: controlPlaneId,
  environment_id: controlPlaneId,
  data: z.object({ type: z.enum(['session', 'healthcheck']), id: controlPlaneId }),
  secret: z.string().nullish(),
});

const heartbeatSchema = z.object({
  last_heartbeat: z.string(),
  lease_extended: z.boolean(),
  state: z.string(),
  ttl_seconds: z.number(),
});

export interface HeartbeatReply {
  lastHeartbeat: string;
  leaseExtended: boolean;
  state: string;
  ttlSeconds: number;
}

/** The calls that speak for one item: its heartbeat and its stop, with whatever credential the client carries. */
export class ItemChannel {
  constructor(
    private readonly client: Anthropic,
    private readonly work: Pick<WorkItem, 'id' | 'environmentId'>,
  ) {}

  async heartbeat(expectedLastHeartbeat: string, signal: AbortSignal): Promise<HeartbeatReply> {
    const raw: unknown = await this.client.beta.environments.work.heartbeat(
      this.work.id,
      { environment_id: this.work.environmentId, expected_last_heartbeat: expectedLastHeartbeat },
      { signal, maxRetries: 0 },
    );
    const reply = heartbeatSchema.parse(raw);
    return { lastHeartbeat: reply.last_heartbeat, leaseExtended: reply.lease_extended, state: reply.state, ttlSeconds: reply.ttl_seconds };
  }

  /** Force-stop the item; 409 means it is already stopped, which is what we wanted. */
  async forceStop(): Promise<void> {
    try {
      await this.client.beta.environments.work.stop(this.work.id, { environment_id: this.work.environmentId, force: true });
    } catch (e) {
      if (!isStatus(e, 409)) throw e;
    }
  }
}

/** Words for an API failure: status, the API's error type and message. Never includes request headers. */
export function describeApiError(e: unknown): string {
  if (e instanceof Anthropic.APIError) {
    const body = e.error as { error?: { type?: string; message?: string } } | undefined;
    const detail = body?.error?.message ?? e.message;
    const type = body?.error?.type;
    return e.status ? `${e.status}${type ? ` ${type}` : ''}: ${detail}` : detail;
  }
  return e instanceof Error ? e.message : String(e);
}
