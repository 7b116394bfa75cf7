import { useEffect, useRef } from "react";

const mac = typeof navigator !== "undefined" && /Mac|iPhone|iPad/.test(navigator.platform);
export const MOD = mac ? "⌘" : "Ctrl";

export const SHORTCUTS: [string, string][] = [
  [`${MOD} + Shift + O`, "New chat"],
  [`${MOD} + K`, "Search chats"],
  ["Shift + Esc", "Focus the message box"],
  ["Esc", "Stop the reply in this chat"],
  ["Enter / Shift + Enter", "Send / new line"],
  ["?", "Show these shortcuts"],
];

/** A modal <dialog>: the browser traps focus and closes it on Esc; focus returns to where it was. */
export function ShortcutsDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const el = dialog.current;
    if (!el) return;
    if (open && !el.open) {
      const before = document.activeElement as HTMLElement | null;
      el.showModal();
      return () => {
        if (el.open) el.close();
        before?.focus();
      };
    }
  }, [open]);
  return (
    <dialog ref={dialog} className="shortcuts" aria-labelledby="shortcuts-title" onClose={onClose}>
      <h2 id="shortcuts-title">Keyboard shortcuts</h2>
      <table>
        <tbody>
          {SHORTCUTS.map(([keys, what]) => (
            <tr key={what}>
              <th scope="row">
                <kbd>{keys}</kbd>
              </th>
              <td>{what}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <button type="button" className="action primary" onClick={onClose} autoFocus>
        Close
      </button>
    </dialog>
  );
}
