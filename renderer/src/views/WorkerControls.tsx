import { useState } from 'react';
import type { Channel } from '../../../shared/contract.js';
import type { WorkerState } from '../../../shared/states.js';
import { call } from '../api.js';

const LABEL: Record<WorkerState['status'], string> = {
  off: 'Off',
  starting: 'Starting…',
  online: 'Online',
  paused: 'Paused',
  draining: 'Draining',
  stopping: 'Stopping…',
  error: 'Error',
};

/** The worker's state in words, and the switch: on, pause / resume, off (drains running sessions). */
export function WorkerControls({ state, served, onError }: { state: WorkerState; served: string; onError: (message: string) => void }) {
  const [busy, setBusy] = useState(false);
  const run = (channel: Channel, arg?: unknown) => {
    setBusy(true);
    call(channel, arg as never)
      .catch((e: Error) => onError(e.message))
      .finally(() => setBusy(false));
  };
  const detail =
    state.status === 'online' ?
      state.blockedBy === 'full' ? `${state.active} running · full`
      : state.blockedBy === 'docker-unavailable' ? 'Docker is not reachable'
      : state.blockedBy === 'asleep' ? `${state.active} running · asleep`
      : state.blockedBy === 'on-battery' ? `${state.active} running · paused on battery`
      : `${state.active} running`
    : state.status === 'starting' ? (state.detail ?? '')
    : state.status === 'draining' ? `waiting for ${state.active} to finish`
    : state.status === 'error' ? state.message
    : '';
  const on = state.status === 'online' || state.status === 'paused' || state.status === 'starting';
  return (
    <div className="worker">
      <span className={`pill ${state.status}`} data-testid="worker-status" title={served}>
        {LABEL[state.status]}
      </span>
      {detail && <span className="worker-detail">{detail}</span>}
      {(state.status === 'online' || state.status === 'starting') && (
        <button disabled={busy} onClick={() => run('worker.pause')}>
          Pause
        </button>
      )}
      {state.status === 'paused' && (
        <button disabled={busy} onClick={() => run('worker.resume')}>
          Resume
        </button>
      )}
      <button
        className={on ? 'switch on' : 'switch'}
        role="switch"
        aria-checked={on}
        aria-label="Worker"
        disabled={busy || state.status === 'stopping' || state.status === 'draining'}
        onClick={() => (on ? run('worker.stop', { mode: 'drain' }) : run('worker.start'))}
      >
        {on ? 'Turn off' : 'Turn on'}
      </button>
    </div>
  );
}
