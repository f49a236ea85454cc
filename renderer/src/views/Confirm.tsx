import { useEffect, useRef } from 'react';

/** A modal question with a safe default: Escape or Cancel does nothing. */
export function Confirm({ title, body, action, onConfirm, onCancel }: { title: string; body: string; action: string; onConfirm: () => void; onCancel: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return (
    <dialog ref={ref} className="confirm" onCancel={onCancel} aria-label={title}>
      <h2>{title}</h2>
      <p>{body}</p>
      <div className="row">
        <button autoFocus onClick={onCancel}>
          Cancel
        </button>
        <button className="danger primary" onClick={onConfirm}>
          {action}
        </button>
      </div>
    </dialog>
  );
}
