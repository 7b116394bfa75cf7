// @vitest-environment jsdom
import { act } from "react";
import { createRoot } from "react-dom/client";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RowMenu } from "./RowMenu";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

afterEach(() => {
  document.body.innerHTML = "";
});

describe("RowMenu", () => {
  it("shows an item that cannot be used now as disabled, with its reason, and does nothing when chosen", async () => {
    const share = vi.fn();
    const rename = vi.fn();
    const host = document.body.appendChild(document.createElement("div"));
    const root = createRoot(host);
    await act(async () =>
      root.render(
        <RowMenu
          label="Options for Trip"
          items={[
            { label: "Rename", onSelect: rename },
            { label: "Share link…", onSelect: share, disabledReason: "Sign in to share a link" },
          ]}
        />,
      ),
    );
    await act(async () => host.querySelector<HTMLButtonElement>(".row-menu-button")!.click());

    const item = [...host.querySelectorAll<HTMLButtonElement>("[role=menuitem]")].find((el) => el.textContent?.startsWith("Share link…"))!;
    expect(item.getAttribute("aria-disabled")).toBe("true");
    expect(document.getElementById(item.getAttribute("aria-describedby")!)?.textContent).toBe("Sign in to share a link");
    await act(async () => item.click());
    expect(share).not.toHaveBeenCalled();
    // The menu stays open on the disabled item; the usable one still works.
    const renameItem = [...host.querySelectorAll<HTMLButtonElement>("[role=menuitem]")].find((el) => el.textContent === "Rename")!;
    expect(renameItem.hasAttribute("aria-disabled")).toBe(false);
    await act(async () => renameItem.click());
    expect(rename).toHaveBeenCalledOnce();
    await act(async () => root.unmount());
  });
});
