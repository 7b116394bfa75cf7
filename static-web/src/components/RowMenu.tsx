import { useEffect, useId, useRef, useState, type KeyboardEvent } from "react";

export interface MenuItem {
  label: string;
  onSelect: () => void;
  danger?: boolean;
  /** Why the item cannot be used now: it is shown disabled (still focusable, as the menu pattern asks) with this reason. */
  disabledReason?: string;
}

/**
 * A "…" menu button (WAI-ARIA menu button pattern): Enter/Space/↓ open it on the first item, ↑ on the
 * last; arrows, Home/End move; Esc or Tab closes it, Esc returning focus to the button. The menu opens
 * below the button, over the list, so nothing under the pointer moves.
 */
export function RowMenu({ label, items }: { label: string; items: MenuItem[] }) {
  const [open, setOpen] = useState<false | "first" | "last">(false);
  const button = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLDivElement>(null);
  const id = useId();

  useEffect(() => {
    if (!open) return;
    const entries = menu.current?.querySelectorAll<HTMLElement>("[role=menuitem]");
    entries?.[open === "first" ? 0 : entries.length - 1]?.focus();
    const onPointer = (e: PointerEvent) => {
      if (!menu.current?.contains(e.target as Node) && !button.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("pointerdown", onPointer);
    return () => document.removeEventListener("pointerdown", onPointer);
  }, [open]);

  const close = (refocus: boolean) => {
    setOpen(false);
    if (refocus) button.current?.focus();
  };

  const onMenuKey = (e: KeyboardEvent<HTMLDivElement>) => {
    const entries = [...(menu.current?.querySelectorAll<HTMLElement>("[role=menuitem]") ?? [])];
    const at = entries.indexOf(document.activeElement as HTMLElement);
    const move = (to: number) => entries[(to + entries.length) % entries.length]?.focus();
    switch (e.key) {
      case "ArrowDown":
        move(at + 1);
        break;
      case "ArrowUp":
        move(at - 1);
        break;
      case "Home":
        move(0);
        break;
      case "End":
        move(entries.length - 1);
        break;
      case "Escape":
        // Esc closes the menu only: it must not also stop a reply or close the drawer.
        e.stopPropagation();
        e.nativeEvent.stopImmediatePropagation();
        close(true);
        break;
      case "Tab":
        close(false);
        return;
      default:
        return;
    }
    e.preventDefault();
  };

  return (
    <div className="row-menu">
      <button
        ref={button}
        type="button"
        className="row-menu-button"
        aria-label={label}
        aria-haspopup="menu"
        aria-expanded={open !== false}
        aria-controls={open ? id : undefined}
        onClick={() => setOpen((o) => (o ? false : "first"))}
        onKeyDown={(e) => {
          if (e.key === "ArrowDown" || e.key === "ArrowUp") {
            e.preventDefault();
            setOpen(e.key === "ArrowDown" ? "first" : "last");
          }
        }}
      >
        <span aria-hidden="true">…</span>
      </button>
      {open && (
        <div ref={menu} id={id} className="menu-popup" role="menu" aria-label={label} onKeyDown={onMenuKey}>
          {items.map((item) => (
            <button
              key={item.label}
              type="button"
              role="menuitem"
              tabIndex={-1}
              className={item.danger ? "menu-item danger" : "menu-item"}
              aria-disabled={item.disabledReason ? true : undefined}
              aria-describedby={item.disabledReason ? `${id}-${item.label.replace(/\W+/g, "")}-why` : undefined}
              onClick={() => {
                if (item.disabledReason) return;
                close(false);
                item.onSelect();
              }}
            >
              {item.label}
              {item.disabledReason && (
                <span className="menu-item-reason" id={`${id}-${item.label.replace(/\W+/g, "")}-why`}>
                  {item.disabledReason}
                </span>
              )}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}
