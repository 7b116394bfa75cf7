import { useEffect, useRef, useState } from "react";

/** How long Undo stays offered; paused while the pointer or focus is on the toast. */
const UNDO_MS = 10_000;

/** "Deleted …  Undo": a polite status, so it is announced without taking focus away. */
export function UndoToast({ title, onUndo, onDismiss }: { title: string; onUndo: () => void; onDismiss: () => void }) {
  const [held, setHeld] = useState(false);
  const dismiss = useRef(onDismiss);
  dismiss.current = onDismiss;
  useEffect(() => {
    if (held) return;
    const timer = setTimeout(() => dismiss.current(), UNDO_MS);
    return () => clearTimeout(timer);
  }, [held]);
  return (
    <div
      className="toast"
      role="status"
      data-testid="undo-toast"
      onMouseEnter={() => setHeld(true)}
      onMouseLeave={() => setHeld(false)}
      onFocus={() => setHeld(true)}
      onBlur={() => setHeld(false)}
    >
      <span className="toast-text">
        Deleted “{title}”.
      </span>
      <button type="button" className="toast-action" onClick={onUndo}>
        Undo
      </button>
      <button type="button" className="toast-close" onClick={onDismiss} aria-label="Dismiss">
        <span aria-hidden="true">×</span>
      </button>
    </div>
  );
}
