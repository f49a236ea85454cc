import { ErrorLine } from './ErrorLine.js';
import { call, saveFile, usePolled } from '../api.js';
import { bytes } from '../format.js';

/** A finished session's /workspace: every file, each one downloadable, until retention removes it. */
export function Workspace({ workId, environmentId, back }: { workId: string; environmentId: string; back: () => void }) {
  const files = usePolled(() => call('workspace.list', { environmentId, workId }), 60_000, [environmentId, workId]);
  const download = (path: string) =>
    call('workspace.read', { environmentId, workId, path }).then(
      ({ base64 }) => saveFile(path.split('/').pop()!, [Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))]),
      (e: Error) => alert(e.message),
    );
  return (
    <section>
      <div className="section-head">
        <button onClick={back}>← Back</button>
        <h1>
          Files of <code>{workId}</code>
        </h1>
      </div>
      <ErrorLine message={files.error} />
      {files.value?.length === 0 && <p className="empty">The workspace is empty, or retention has removed it.</p>}
      {files.value && files.value.length > 0 && (
        <table className="grid" aria-label="Workspace files">
          <thead>
            <tr>
              <th>Path</th>
              <th>Size</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {files.value.map((f) => (
              <tr key={f.path}>
                <td style={{ paddingLeft: `${0.75 + (f.path.split('/').length - 1) * 1.25}rem` }}>
                  <code>{f.directory ? `${f.path.split('/').pop()}/` : f.path.split('/').pop()}</code>
                </td>
                <td>{f.directory ? '' : bytes(f.size)}</td>
                <td className="actions">{!f.directory && <button onClick={() => void download(f.path)}>Download</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
